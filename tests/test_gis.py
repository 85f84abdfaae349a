"""GIS in and out on the Toulouse fixture: study area, exclusions and hotspots from GeoJSON
(WGS84 and named CRSs) land where pyproj puts them; GeoTIFF maps read back with rasterio carry
the network's CRS, put a site's pixel at its lat/lon and hold the in-memory map's values;
best-server regions read back as WGS84 polygons that hold their cells' raster points; bad files
and impossible requests are one line (exit 2)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import CellsimError, ScenarioError
from cellsim.network.demand import PROFILES
from cellsim.scenario import load_scenario_file
from cellsim.viz.gis import export_map
from cellsim.viz.maps import evaluate_plan, kind_values
from tests.geo_fixture import SITES, write_network
from tests.test_cli import error_line, run_cli

rasterio = pytest.importorskip("rasterio")

#: The study area: a lon/lat box around the four sites; the Garonne's bank as an exclusion;
#: a gaussian hotspot at the Capitole and a uniform one at Compans-Caffarelli.
AREA_BOX = (1.425, 43.590, 1.468, 43.619)
WATER_BOX = (1.426, 43.591, 1.434, 43.600)
CAPITOLE = (1.4437, 43.6045)
COMPANS_BOX = (1.432, 43.608, 1.438, 43.612)


def _ring(box: tuple[float, float, float, float]) -> list[list[float]]:
    x0, y0, x1, y1 = box
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def _collection(*features: dict, crs: str | None = None) -> dict:
    doc: dict = {"type": "FeatureCollection", "features": list(features)}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return doc


def _polygon(ring: list[list[float]], **props: object) -> dict:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip


def _point(lonlat: tuple[float, float], **props: object) -> dict:
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Point", "coordinates": list(lonlat)}}  # fmt: skip


def _geo_network(folder: Path, area: dict | None = None, water: dict | None = None,
                 hotspots: dict | None = None, resolution_m: float = 50) -> Path:  # fmt: skip
    """The fixture network with GeoJSON area, exclusions and hotspots (defaults above)."""
    net = write_network(folder)
    docs = {
        "area.geojson": area or _collection(_polygon(_ring(AREA_BOX), name="centre")),
        "water.geojson": water or _collection(_polygon(_ring(WATER_BOX), name="Garonne")),
        "hot.geojson": hotspots
        or _collection(
            _point(CAPITOLE, name="Capitole", density=20, sigma_m=150, profile="evening", fid=7),
            _polygon(_ring(COMPANS_BOX), name="Compans", density=5, profile="business"),
        ),
    }
    for name, doc in docs.items():
        (folder / name).write_text(json.dumps(doc), encoding="utf-8")
    net.write_text(
        net.read_text().replace(
            "[area]\nresolution_m = 100\nmargin_m = 300\n",
            f'[area]\nresolution_m = {resolution_m}\nfile = "area.geojson"\n'
            'exclusions_file = "water.geojson"\n[demand]\nhotspots_file = "hot.geojson"\n',
        )
    )
    return net


@pytest.fixture(scope="module")
def geo_env(tmp_path_factory: pytest.TempPathFactory) -> TiltEnv:
    return TiltEnv(str(_geo_network(tmp_path_factory.mktemp("gis") / "net")))


def _to_local(env: TiltEnv, lonlat: np.ndarray) -> np.ndarray:
    """WGS84 → the network's local metres, independently of cellsim's reader."""
    geo = env.sim.raster.geo
    assert geo is not None
    fwd = Transformer.from_crs("EPSG:4326", geo.crs, always_xy=True)
    x, y = fwd.transform(lonlat[:, 0], lonlat[:, 1])
    return np.column_stack([x, y]) - np.asarray(geo.origin_m)


def _local_box(env: TiltEnv, box: tuple[float, float, float, float]) -> shapely.Polygon:
    return shapely.Polygon(_to_local(env, np.asarray(_ring(box), float)))


# -- GeoJSON in ---------------------------------------------------------------------------------


def test_area_exclusions_and_hotspots_land_where_pyproj_puts_them(geo_env):
    raster, demand = geo_env.sim.raster, geo_env.sim.demand
    area, water = _local_box(geo_env, AREA_BOX), _local_box(geo_env, WATER_BOX)
    expected = area.difference(water)
    assert raster.area.symmetric_difference(expected).area < 1e-6 * expected.area
    x, y = raster.xy_m.T
    assert shapely.contains_xy(area, x, y).all()
    assert not shapely.contains_xy(water, x, y).any()
    assert len(raster.exclusions) == 1
    # every raster cell whose centre is in the area and not in the water is a receiver point
    assert raster.n_points == pytest.approx(expected.area / raster.resolution_m**2, rel=0.02)
    assert demand.names == ("base", "Capitole", "Compans")
    capitole = _to_local(geo_env, np.array([CAPITOLE]))[0]
    peak = raster.xy_m[np.argmax(demand.maps[1])]
    assert np.abs(peak - capitole).max() <= raster.resolution_m / 2 + 1e-6
    compans = shapely.contains_xy(_local_box(geo_env, COMPANS_BOX), x, y)
    np.testing.assert_array_equal(demand.maps[2] > 0, compans)
    np.testing.assert_array_equal(demand.profiles[1], PROFILES["evening"])
    np.testing.assert_array_equal(demand.profiles[2], PROFILES["business"])


def test_a_named_crs_gives_the_same_area(tmp_path, geo_env):
    """The area written in the network's own UTM zone (as QGIS saves a projected layer) is the
    WGS84 area exactly; in Lambert-93 it is the same box to within the curvature of its edges."""
    geo = geo_env.sim.raster.geo
    assert geo is not None
    ring = np.asarray(_ring(AREA_BOX), float)
    for crs, tol_m2 in (("urn:ogc:def:crs:EPSG::32631", 1e-3), ("EPSG:2154", 5e3)):
        to = Transformer.from_crs("EPSG:4326", crs.replace("urn:ogc:def:crs:EPSG::", "EPSG:"),
                                  always_xy=True)  # fmt: skip
        projected = np.column_stack(to.transform(ring[:, 0], ring[:, 1])).tolist()
        net = _geo_network(tmp_path / crs.replace(":", "_"),
                           area=_collection(_polygon(projected), crs=crs))  # fmt: skip
        env = TiltEnv(str(net))
        diff = env.sim.raster.area.symmetric_difference(geo_env.sim.raster.area).area
        assert diff < tol_m2
        assert env.sim.raster.geo == geo


def _features_error(tmp_path: Path, which: str, doc: object) -> str:
    """The one-line error of the fixture network with `which` GeoJSON file replaced."""
    net = _geo_network(tmp_path / "n")
    (tmp_path / "n" / which).write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(ScenarioError) as info:
        TiltEnv(str(net))
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "n" / which) in message
    return message


BOX = _ring(AREA_BOX)


@pytest.mark.parametrize(
    ("which", "doc", "expected"),
    [
        ("area.geojson", '{"type": "FeatureCollection", "features": [', "invalid JSON"),
        ("area.geojson", {"type": "Topology"}, 'type = "Topology": allowed a GeoJSON'),
        ("area.geojson", _collection(), "features = []: allowed at least one feature"),
        ("area.geojson",
         _collection({"type": "Feature", "geometry": {"type": "LineString", "coordinates": BOX}}),
         'features[0].geometry.type = "LineString": allowed Polygon, MultiPolygon'),
        ("area.geojson", _collection(_polygon([[200.0, 43.6], *BOX[1:4], [200.0, 43.6]])),
         "features[0].geometry.coordinates: [200, 43.6]: allowed [longitude"),
        ("area.geojson", _collection(_polygon([[y, x] for x, y in BOX])),
         "km from the network's sites: allowed features within 500 km"),
        ("water.geojson",
         _collection(_polygon(_ring(WATER_BOX)),
                     _polygon([[1.43, 43.60], [1.44, 43.61], [1.44, 43.60], [1.43, 43.61],
                               [1.43, 43.60]])),
         "features[1].geometry: invalid Polygon (Self-intersection"),
        ("water.geojson", _collection(_polygon([[1.43, 43.6], [1.44]])),
         "features[0].geometry.coordinates = "),
        ("area.geojson", _collection(_polygon(BOX), crs="EPSG:bogus"),
         'crs = {"type": "name"'),
        ("hot.geojson", _collection(_point(CAPITOLE, density=2)),
         "features[0].properties.sigma_m is missing"),
        ("hot.geojson", _collection(_point(CAPITOLE, sigma_m=100, density=-1)),
         "features[0].properties.density = -1: Input should be greater than or equal to 0"),
        ("hot.geojson", _collection(_point(CAPITOLE, sigma_m=100, densty=3)),
         "features[0].properties.densty: unknown hotspot property (did you mean 'density'?)"),
        ("hot.geojson", _collection(_point(CAPITOLE, sigma_m=100, profile="weekend")),
         "features[0].properties.profile = \"weekend\""),
        ("hot.geojson", _collection(_polygon(_ring((1.50, 43.65, 1.51, 43.66)))),
         "features[0].geometry: no raster point"),
    ],
)  # fmt: skip
def test_a_bad_file_is_one_line_naming_file_feature_field_and_value(tmp_path, which, doc, expected):
    assert expected in _features_error(tmp_path, which, doc)


def test_geojson_needs_a_geo_referenced_network_and_one_area(tmp_path, capsys):
    hex_file = tmp_path / "hex.toml"
    hex_file.write_text('name = "h"\nextends = "hex7"\n[area]\nfile = "a.geojson"\n')
    code, _, err = run_cli(capsys, "scenarios", "validate", str(hex_file))
    line = error_line(code, err)
    assert "area.file = 'a.geojson': GeoJSON needs a geo-referenced network" in line
    both = _geo_network(tmp_path / "n")
    polygon = "[area]\npolygon = [[0, 0], [1, 0], [0, 1]]\n"
    both.write_text(both.read_text().replace("[area]\n", polygon))
    code, _, err = run_cli(capsys, "scenarios", "validate", str(both))
    line = error_line(code, err)
    assert "give the study area as area.polygon (local metres) or as area.file" in line


def test_a_child_scenario_finds_its_parents_geojson(tmp_path):
    net = _geo_network(tmp_path / "n")
    child = tmp_path / "elsewhere" / "child.toml"
    child.parent.mkdir()
    child.write_text(f'name = "child"\nextends = "{net}"\n')
    scenario = load_scenario_file(child)
    assert Path(scenario.area.file or "").parent == net.parent
    assert Path(scenario.demand.hotspots_file or "").is_file()


# -- maps out -----------------------------------------------------------------------------------


def _site_lonlat(k: int) -> tuple[float, float]:
    _, lat, lon, _ = SITES[k]
    return lon, lat


@pytest.mark.parametrize("kind", ["sinr", "rsrp", "throughput", "coverage", "demand", "server"])
def test_a_geotiff_opens_at_the_right_place_with_the_maps_values(geo_env, tmp_path, kind):
    sim = geo_env.sim
    tilt = sim.layout.cells.tilt_deg.copy()
    out = export_map(sim, tilt, 11.0, kind, tmp_path / f"{kind}.tif", "test")
    expected = kind_values(sim, evaluate_plan(sim, tilt, 11.0), 11.0, kind)
    geo, raster = sim.raster.geo, sim.raster
    assert geo is not None
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == int(geo.crs.split(":")[1])
        assert (src.height, src.width) == raster.shape
        assert src.res == (raster.resolution_m, raster.resolution_m)
        image = src.read(1)
        # values: the in-memory map, nodata outside the area
        np.testing.assert_allclose(image[raster.row, raster.col], expected.astype(image.dtype))
        outside = np.ones(raster.shape, bool)
        outside[raster.row, raster.col] = False
        nodata = src.nodata
        assert (np.isnan(image[outside]) if np.isnan(nodata) else image[outside] == nodata).all()
        # georeferencing: each site's lat/lon falls in the pixel of its local position, whose
        # centre is within a pixel's half-diagonal of it on the ellipsoid
        to_crs = Transformer.from_crs("EPSG:4326", src.crs.to_wkt(), always_xy=True)
        back = Transformer.from_crs(src.crs.to_wkt(), "EPSG:4326", always_xy=True)
        x_min, _, _, y_max = raster.extent_m
        res = raster.resolution_m
        for k in range(len(SITES)):
            lon, lat = _site_lonlat(k)
            row, col = src.index(*to_crs.transform(lon, lat))
            local = sim.layout.sites_xy_m[k]
            assert (row, col) == (int((y_max - local[1]) // res), int((local[0] - x_min) // res))
            clon, clat = back.transform(*src.xy(row, col))
            _, _, dist_m = Geod(ellps="WGS84").inv(lon, lat, clon, clat)
            assert dist_m <= res / np.sqrt(2) + 0.01
        tags = src.tags()
        assert tags["kind"] == kind and tags["scenario"] == "toulouse" and tags["time"] == "11:00"
        if kind == "server":
            assert src.tags(1)["CELL_4"] == sim.layout.cells.name[4]


def test_best_server_regions_are_wgs84_polygons_holding_their_points(geo_env, tmp_path):
    sim = geo_env.sim
    tilt = sim.layout.cells.tilt_deg.copy()
    out = export_map(sim, tilt, 11.0, "server", tmp_path / "regions.geojson", "test")
    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection" and "crs" not in doc  # RFC 7946: WGS84 only
    serving = evaluate_plan(sim, tilt, 11.0).state.serving_cell[: sim.raster.n_points]
    assert geo_env.sim.raster.geo is not None
    lonlat = geo_env.sim.raster.geo.to_lonlat_deg(sim.raster.xy_m)
    served = set(np.unique(serving).tolist())
    assert {f["properties"]["cell_index"] for f in doc["features"]} == served
    total_km2 = 0.0
    for feat in doc["features"]:
        props = feat["properties"]
        c = props["cell_index"]
        assert props["cell"] == sim.layout.cells.name[c]
        assert props["site"] == SITES[int(sim.layout.cells.site[c])][0]
        assert props["n_points"] == int(np.sum(serving == c))
        geom = shapely.geometry.shape(feat["geometry"])
        assert geom.is_valid
        assert all(p.exterior.is_ccw for p in shapely.get_parts(geom))  # right-hand rule
        mine = lonlat[serving == c]
        # centres of its pixels lie inside its region, no other cell's centre does
        assert shapely.contains_xy(geom, mine[:, 0], mine[:, 1]).all()
        others = lonlat[serving != c]
        assert not shapely.contains_xy(geom, others[:, 0], others[:, 1]).any()
        total_km2 += props["area_km2"]
    assert total_km2 == pytest.approx(sim.raster.n_points * sim.raster.pixel_area_km2, rel=1e-6)


def test_impossible_gis_maps_are_one_line(tmp_path, capsys, geo_env, monkeypatch):
    code, _, err = run_cli(capsys, "map", "--scenario", "hex7", "--out", str(tmp_path / "x.tif"))
    assert "a GIS map needs a geo-referenced network" in error_line(code, err)
    net = str(geo_env.scenario.source_file)
    code, _, err = run_cli(capsys, "map", "--scenario", net, "--kind", "sinr",
                           "--out", str(tmp_path / "r.geojson"))  # fmt: skip
    line = error_line(code, err)
    assert "a .geojson map holds best-server regions: allowed --kind server" in line
    code, _, err = run_cli(capsys, "map", "--scenario", net, "--compare", "hold", "rule-son",
                           "--out", str(tmp_path / "c.tif"))  # fmt: skip
    assert "a comparison is a figure" in error_line(code, err)
    monkeypatch.setitem(sys.modules, "rasterio", None)  # the geo extra not installed
    with pytest.raises(CellsimError, match=r"pip install 'cellsim\[geo\]'"):
        export_map(geo_env.sim, geo_env.sim.layout.cells.tilt_deg, 11.0, "sinr",
                   tmp_path / "y.tif", "t")  # fmt: skip


def test_cli_writes_both_gis_files(tmp_path, capsys, geo_env):
    net = str(geo_env.scenario.source_file)
    for name, extra in (("regions.geojson", []), ("sinr.tif", ["--kind", "sinr"])):
        code, out, err = run_cli(capsys, "map", "--scenario", net, "--out", str(tmp_path / name),
                                 "--time", "18:00", *extra)  # fmt: skip
        assert code == 0, err
        assert f"map written to {tmp_path / name}" in out
    doc = json.loads((tmp_path / "regions.geojson").read_text())
    assert doc["name"].endswith("best server at 18:00")
    with rasterio.open(tmp_path / "sinr.tif") as src:
        assert src.tags()["time"] == "18:00"


def test_the_cli_reports_a_bad_feature_in_one_line(tmp_path, capsys):
    net = _geo_network(tmp_path / "n")
    bad = _collection(_point(CAPITOLE, sigma_m=100), _point((43.6, 1.44), sigma_m=100))
    (tmp_path / "n" / "hot.geojson").write_text(json.dumps(bad))
    code, _, err = run_cli(capsys, "scenarios", "validate", str(net))
    line = error_line(code, err)
    assert f"{tmp_path / 'n' / 'hot.geojson'}: features[1].geometry: lies" in line


def test_the_readme_example_validates(capsys):
    """docs/examples/toulouse is what the README's GIS commands run on."""
    example = Path(__file__).parents[1] / "docs" / "examples" / "toulouse" / "toulouse.toml"
    code, out, err = run_cli(capsys, "scenarios", "validate", str(example))
    assert code == 0, err
    assert out.strip().endswith("ok (toulouse)")
