"""Study area and raster: membership checked independently (shapely predicates on the configured
polygons, or the lattice hexagons of layout.py), counts against area / resolution², pixel
indices against the grid extent, and one-line errors that name the field."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely

from cellsim.errors import ScenarioError
from cellsim.network.area import MAX_RASTER_POINTS, build_raster, hexagon, study_area
from cellsim.network.build import build_layout, build_radio_setup
from cellsim.network.demand import build_demand
from cellsim.network.layout import hexagon_contains
from cellsim.scenario import Scenario, load_scenario, parse_scenario

SQRT3 = math.sqrt(3.0)
NEW_BUILTINS = ["hex7", "case1", "rural", "stadium", "outage", "city"]
CITY_POLYGON = [[0, 0], [2000, 0], [2000, 1500], [0, 1500]]


def make(**sections) -> Scenario:
    """A validated scenario from sections (dicts), UMa unless given."""
    data = {"name": "t", "pathloss": {"model": "uma"}, **sections}
    return parse_scenario(data, "t.toml")


def raster_of(scenario: Scenario):
    layout = build_layout(scenario)
    return layout, build_raster(scenario, layout)


def error_of(scenario: Scenario) -> str:
    with pytest.raises(ScenarioError) as info:
        raster_of(scenario)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message
    return message


def grid_centres(raster) -> tuple[np.ndarray, np.ndarray]:
    """Every cell centre of the raster's image grid, from its extent and shape alone."""
    x0, x1, y0, y1 = raster.extent_m
    rows, cols = raster.shape
    xs = x0 + (np.arange(cols) + 0.5) * (x1 - x0) / cols
    ys = y1 - (np.arange(rows) + 0.5) * (y1 - y0) / rows
    return np.meshgrid(xs, ys)


def inside_independent(polygon: list, holes: list[list], xy: np.ndarray) -> np.ndarray:
    """Point membership with shapely's predicate API (not contains_xy), from the config lists."""
    area = shapely.Polygon(polygon)
    for h in holes:
        area = area.difference(shapely.Polygon(h))
    return shapely.contains(area, shapely.points(xy))


# -- default areas ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_sites", [1, 7, 19])
def test_hex_default_area_is_the_sites_hexagons(n_sites):
    isd = 500.0
    scenario = make(layout={"type": "hex", "n_sites": n_sites, "isd_m": isd})
    area = study_area(scenario, build_layout(scenario))
    one = 1.5 * SQRT3 * (isd / SQRT3) ** 2  # (3√3/2)·R², R = ISD/√3
    assert area.area == pytest.approx(n_sites * one, rel=1e-9)
    assert area.geom_type == "Polygon" and len(area.interiors) == 0


def test_hexagon_matches_layout_membership():
    rng = np.random.default_rng(1)
    centre, radius = np.array([120.0, -40.0]), 300.0
    pts = centre + rng.uniform(-1.2 * radius, 1.2 * radius, size=(20_000, 2))
    ours = shapely.contains_xy(hexagon(centre, radius), pts[:, 0], pts[:, 1])
    theirs = hexagon_contains(pts, centre, radius)
    assert (ours == theirs).mean() > 0.9999  # up to points on the boundary


def test_hex_raster_points_lie_in_the_lattice_hexagons():
    scenario = make(layout={"type": "hex", "n_sites": 7, "isd_m": 500, "wraparound": True})
    layout, raster = raster_of(scenario)
    radius = 500.0 / SQRT3
    inside = np.zeros(len(raster), bool)
    for site in layout.sites_xy_m:
        inside |= hexagon_contains(raster.xy_m, site, radius)
    assert inside.all()
    # and every grid centre in some hexagon is a raster point
    gx, gy = grid_centres(raster)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    in_any = np.zeros(len(grid), bool)
    for site in layout.sites_xy_m:
        in_any |= hexagon_contains(grid, site, radius)
    assert in_any.sum() == len(raster)


def test_csv_default_area_is_the_bounding_box_plus_margin(tmp_path: Path):
    sites = tmp_path / "sites.csv"
    sites.write_text(
        "site,x_m,y_m,height_m,azimuth_deg,tilt_deg\n"
        "a,0,0,25,30,6\na,0,0,25,150,6\nb,900,400,30,90,5\nc,300,700,20,200,7\n"
    )
    data = {
        "name": "t",
        "pathloss": {"model": "uma"},
        "layout": {"type": "csv", "file": "sites.csv"},
        "area": {"margin_m": 200, "resolution_m": 50},
    }
    scenario = parse_scenario(data, "t.toml", str(tmp_path / "t.toml"))
    _, raster = raster_of(scenario)
    assert raster.area.bounds == pytest.approx((-200, -200, 1100, 900))
    assert len(raster) == (1300 // 50) * (1100 // 50)  # box edges on the grid: every cell


# -- raster ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def city_like():
    """A polygon area with two exclusions (one crossing the boundary), 20 m raster."""
    polygon = [[-130, -70], [1900, 40], [2300, 1200], [1100, 1700], [-80, 1300]]
    holes = [
        [[-500, 600], [2600, 700], [2600, 760], [-500, 660]],  # a river, splits the area
        [[400, 200], [700, 220], [650, 450], [380, 420]],  # a park
    ]
    scenario = make(
        area={
            "polygon": polygon,
            "resolution_m": 20,
            "exclusions": [{"name": "river", "polygon": holes[0]}, {"polygon": holes[1]}],
        }
    )
    _, raster = raster_of(scenario)
    return polygon, holes, raster


def test_raster_points_inside_area_and_outside_exclusions(city_like):
    polygon, holes, raster = city_like
    assert inside_independent(polygon, holes, raster.xy_m).all()
    pts = shapely.points(raster.xy_m)
    for h in holes:
        assert not shapely.contains(shapely.Polygon(h), pts).any()  # boundary: ambiguous
    assert len(raster.exclusions) == 2


def test_raster_has_every_cell_centre_inside(city_like):
    polygon, holes, raster = city_like
    gx, gy = grid_centres(raster)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    assert inside_independent(polygon, holes, grid).sum() == len(raster)


def test_raster_count_matches_area(city_like):
    _, _, raster = city_like
    res = raster.resolution_m
    expected = raster.area.area / res**2
    # only cells cut by the boundary can be miscounted: about perimeter / res of them
    boundary_cells = raster.area.length / res * SQRT3
    assert abs(len(raster) - expected) <= boundary_cells
    assert abs(len(raster) - expected) < 0.02 * expected


def test_row_col_map_back_to_xy(city_like):
    _, _, raster = city_like
    x0, x1, y0, y1 = raster.extent_m
    rows, cols = raster.shape
    assert (x1 - x0) / cols == pytest.approx(raster.resolution_m)
    assert (y1 - y0) / rows == pytest.approx(raster.resolution_m)
    x = x0 + (raster.col + 0.5) * raster.resolution_m
    y = y1 - (raster.row + 0.5) * raster.resolution_m  # row 0 at the top (north)
    np.testing.assert_allclose(raster.xy_m[:, 0], x, atol=1e-6)
    np.testing.assert_allclose(raster.xy_m[:, 1], y, atol=1e-6)
    assert raster.row.min() >= 0 and raster.row.max() < rows
    assert raster.col.min() >= 0 and raster.col.max() < cols
    assert len(np.unique(raster.row * cols + raster.col)) == len(raster)
    # the grid covers the area
    bx0, by0, bx1, by1 = raster.area.bounds
    assert x0 <= bx0 and x1 >= bx1 and y0 <= by0 and y1 >= by1


def test_to_image_puts_north_on_top(city_like):
    _, _, raster = city_like
    image = raster.to_image(raster.xy_m[:, 1])
    assert image.shape == raster.shape
    top = np.nanmean(image[: raster.shape[0] // 4])
    bottom = np.nanmean(image[-raster.shape[0] // 4 :])
    assert top > bottom
    assert np.isnan(image).sum() == image.size - len(raster)


def test_raster_properties():
    _, raster = raster_of(make(area={"resolution_m": 50}))
    assert raster.pixel_area_km2 == pytest.approx(0.0025)
    assert raster.xy_m.dtype == np.float64 and raster.xy_m.shape == (len(raster), 2)
    assert raster.n_points == len(raster)


# -- errors ----------------------------------------------------------------------------------


def test_self_intersecting_area_polygon():
    message = error_of(make(area={"polygon": [[0, 0], [100, 100], [100, 0], [0, 100]]}))
    assert "area.polygon" in message and "[[0.0, 0.0]" in message
    assert "scenario 't'" in message


def test_error_names_the_scenario_file(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(
        'name = "bad"\n[pathloss]\nmodel = "uma"\n'
        "[area]\npolygon = [[0, 0], [1, 1], [1, 0], [0, 1]]\n"
    )
    message = error_of(load_scenario(str(path)))
    assert message.startswith(f"{path}: area.polygon = ")


def test_zero_area_polygon():
    message = error_of(make(area={"polygon": [[0, 0], [100, 0], [200, 0]]}))
    assert "area.polygon" in message


def test_bad_exclusion_names_its_index():
    bowtie = [[0, 0], [100, 100], [100, 0], [0, 100]]
    scenario = make(
        area={
            "polygon": CITY_POLYGON,
            "exclusions": [{"polygon": [[10, 10], [50, 10], [50, 50]]}, {"polygon": bowtie}],
        }
    )
    assert "area.exclusions[1].polygon" in error_of(scenario)


def test_non_finite_vertex():
    message = error_of(make(area={"polygon": [[0, 0], [float("nan"), 0], [0, 100]]}))
    assert "area.polygon" in message and "finite" in message


def test_exclusions_covering_everything():
    cover = [[-10, -10], [3000, -10], [3000, 3000], [-10, 3000]]
    message = error_of(make(area={"polygon": CITY_POLYGON, "exclusions": [{"polygon": cover}]}))
    assert "area.exclusions" in message and "nothing of the study area is left" in message


def test_too_many_points_refused_before_building():
    scenario = make(layout={"type": "hex", "n_sites": 19, "isd_m": 5000}, area={"resolution_m": 1})
    message = error_of(scenario)  # 411 km² at 1 m: 4e8 points, refused without allocating
    assert "area.resolution_m = 1" in message and "coarser" in message
    assert f"{MAX_RASTER_POINTS:,}" in message


def test_no_point_inside():
    scenario = make(area={"polygon": [[1, 1], [9, 1], [9, 9]], "resolution_m": 100})
    message = error_of(scenario)
    assert "area.resolution_m = 100" in message and "finer" in message


# -- built-in scenarios ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NEW_BUILTINS)
def test_builtin_scenario_builds(name):
    scenario = load_scenario(name)
    assert scenario.description
    layout = build_layout(scenario)
    build_radio_setup(scenario, layout)
    raster = build_raster(scenario, layout)
    demand = build_demand(scenario, raster)
    assert 1000 <= len(raster) <= 20_000
    events = [e for e in scenario.events if e.kind == "hotspot"]  # hotspots during an event
    assert demand.maps.shape == (1 + len(scenario.demand.hotspots) + len(events), len(raster))


def test_case1_raster_has_at_least_10000_points():
    scenario = load_scenario("case1")
    _, raster = raster_of(scenario)
    assert len(raster) >= 10_000
    assert raster.area.area == pytest.approx(19 * SQRT3 / 2 * 500.0**2, rel=1e-9)


def test_city_sites_inside_its_area():
    scenario = load_scenario("city")
    layout, raster = raster_of(scenario)
    assert layout.n_sites >= 10
    assert shapely.contains_xy(raster.area, layout.sites_xy_m[:, 0], layout.sites_xy_m[:, 1]).all()
    assert len(raster.exclusions) == 2
