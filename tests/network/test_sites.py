"""Site databases: loading, projection to the local frame (positions and bearings), carriers,
inline rows, one-line errors for every field, and a geo scenario that validates and steps."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cellsim.errors import ScenarioError
from cellsim.network.build import build_layout, build_radio_setup
from cellsim.radio.patterns import TabulatedAntenna
from cellsim.scenario import load_scenario_file
from tests.geo_fixture import HEADER, SITES, site_rows, write_network


@pytest.fixture()
def net(tmp_path):
    return write_network(tmp_path / "net")


def _error(path) -> str:
    scenario = load_scenario_file(path)
    with pytest.raises(ScenarioError) as info:
        build_radio_setup(scenario, build_layout(scenario))
    message = str(info.value)
    assert "\n" not in message
    return message


def _with_rows(net, rows, header=HEADER):
    (net.parent / "sites.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return net


def test_loads_sites_cells_carrier_and_frame(net):
    layout = build_layout(load_scenario_file(net))
    cells = layout.cells
    assert layout.n_sites == 4 and len(cells) == 12
    assert layout.site_names == tuple(s[0] for s in SITES)
    assert cells.name[0] == "TLS001_3500_1"
    assert layout.geo is not None and layout.geo.crs == "EPSG:32631"  # Toulouse: UTM 31N
    assert all(v % 1000 == 0 for v in layout.geo.origin_m)
    assert np.abs(layout.sites_xy_m).max() < 2000  # local metres around the centroid
    np.testing.assert_array_equal(cells.frequency_mhz, 3500.0)
    np.testing.assert_array_equal(cells.ret_max_deg, 12.0)
    np.testing.assert_array_equal(cells.mech_tilt_deg, 2.0)
    assert cells.antenna == ("ARRAY8_3500",) * 12
    lonlat = layout.geo.to_lonlat_deg(layout.sites_xy_m)
    np.testing.assert_allclose(lonlat[:, ::-1], [s[1:3] for s in SITES], atol=1e-7)


def test_bearings_point_where_the_geodesic_goes(tmp_path):
    """A cell whose bearing (from true north, clockwise) points at another site points at it
    in the local frame too: the meridian convergence is accounted for."""
    from pyproj import Geod

    (a, lat_a, lon_a, _), (b, lat_b, lon_b, _) = SITES[0], SITES[1]
    fwd, _, _ = Geod(ellps="WGS84").inv(lon_a, lat_a, lon_b, lat_b)
    row = f"{a},c1,{lat_a},{lon_a},30,{fwd % 360:.6f},0,6,0,12,3500,20,46,ARRAY8_3500"
    other = f"{b},c2,{lat_b},{lon_b},30,0,0,6,0,12,3500,20,46,ARRAY8_3500"
    net = _with_rows(write_network(tmp_path / "n"), [row, other])
    layout = build_layout(load_scenario_file(net))
    d = layout.sites_xy_m[1] - layout.sites_xy_m[0]
    assert layout.cells.azimuth_deg[0] == pytest.approx(
        np.degrees(np.arctan2(d[1], d[0])), abs=0.01
    )


def test_grid_bearing_of_north_is_minus_the_meridian_convergence():
    from pyproj import Proj

    from cellsim.network.geo import project_lonlat

    lon, lat = np.array([1.444, 5.9]), np.array([43.6, 43.7])
    out = project_lonlat(lon, lat)
    conv = Proj(out.geo.crs).get_factors(lon, lat).meridian_convergence
    np.testing.assert_allclose(out.north_grid_bearing_deg, -np.asarray(conv), atol=1e-3)
    assert out.north_grid_bearing_deg[0] > 0  # west of zone 31's central meridian (3° E)


def test_projected_xy_keep_a_metric_crs_and_distances(tmp_path):
    """x/y in Lambert-93 (EPSG:2154, metres) stay in it; distances agree with the geodesic."""
    from pyproj import Geod, Transformer

    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    rows = []
    for k, (site, lat, lon, h) in enumerate(SITES):
        x, y = to_l93.transform(lon, lat)
        rows.append(f"{site},c{k},{x:.3f},{y:.3f},{h},0,0,6,0,12,3500,20,46,ARRAY8_3500")
    header = HEADER.replace("lat_deg,lon_deg", "x_m,y_m")
    net = _with_rows(write_network(tmp_path / "n"), rows, header)
    text = net.read_text().replace('file = "sites.csv"', 'file = "sites.csv"\ncrs = "EPSG:2154"')
    net.write_text(text)
    layout = build_layout(load_scenario_file(net))
    assert layout.geo is not None and layout.geo.crs == "EPSG:2154"
    geod = Geod(ellps="WGS84")
    _, _, true_m = geod.inv(SITES[0][2], SITES[0][1], SITES[2][2], SITES[2][1])
    got_m = np.hypot(*(layout.sites_xy_m[2] - layout.sites_xy_m[0]))
    assert got_m == pytest.approx(true_m, rel=1e-3)  # the projection's scale error


def test_projected_xy_in_feet_go_to_utm(tmp_path):
    """x/y in US survey feet (EPSG:2263, New York Long Island) are re-projected to UTM 18N."""
    from pyproj import Transformer

    to_ft = Transformer.from_crs("EPSG:4326", "EPSG:2263", always_xy=True)
    rows = []
    for k, (lon, lat) in enumerate([(-73.99, 40.75), (-73.98, 40.76)]):
        x, y = to_ft.transform(lon, lat)
        rows.append(f"S{k},c{k},{x:.2f},{y:.2f},30,0,0,6,0,12,3500,20,46,ARRAY8_3500")
    net = _with_rows(
        write_network(tmp_path / "n"), rows, HEADER.replace("lat_deg,lon_deg", "x_m,y_m")
    )
    net.write_text(
        net.read_text().replace('file = "sites.csv"', 'file = "sites.csv"\ncrs = "EPSG:2263"')
    )
    layout = build_layout(load_scenario_file(net))
    assert layout.geo is not None and layout.geo.crs == "EPSG:32618"
    assert layout.geo.source_crs == "EPSG:2263"


def test_radio_setup_from_the_database(net):
    scenario = load_scenario_file(net)
    setup = build_radio_setup(scenario, build_layout(scenario))
    assert isinstance(setup.antenna, TabulatedAntenna)
    assert setup.fc_ghz == pytest.approx(3.5)
    # 46 dBm over 100 PRB (20 MHz): 46 − 10 log10(1200) per resource element
    np.testing.assert_allclose(setup.tx_power_per_re_dbm, 46 - 10 * np.log10(1200))


def test_inline_rows_load_like_the_csv(net):
    keys = HEADER.split(",")
    tables = []
    for row in site_rows():
        values = row.split(",")
        fields = []
        for k, v in zip(keys, values, strict=True):
            shown = f'"{v}"' if k in ("site", "cell", "antenna") else v
            fields.append(f"{k} = {shown}")
        tables.append("[[layout.cells]]\n" + "\n".join(fields))
    text = net.read_text().replace('file = "sites.csv"\n', "")
    inline = net.parent / "inline.toml"
    inline.write_text(text.replace("[radio]", "\n".join(tables) + "\n[radio]"))
    a = build_layout(load_scenario_file(net))
    b = build_layout(load_scenario_file(inline))
    np.testing.assert_allclose(a.sites_xy_m, b.sites_xy_m)
    np.testing.assert_allclose(a.cells.azimuth_deg, b.cells.azimuth_deg)
    assert a.cells.name == b.cells.name
    bad = inline.read_text().replace("height_m = 28.0", "height_m = -1", 1)
    inline.write_text(bad)
    message = _error(inline)
    assert f"{inline}: layout.cells[3].height_m = -1: allowed > 0 … 300 m" in message


def test_every_carrier_is_kept_unless_one_is_named(tmp_path):
    net = write_network(tmp_path / "n", carriers=((3500.0, 20.0), (3700.0, 10.0)))
    both = build_layout(load_scenario_file(net))
    assert len(both.cells) == 24 and both.n_sites == 4
    net.write_text(
        net.read_text().replace('file = "sites.csv"', 'file = "sites.csv"\ncarrier_mhz = 3500')
    )
    layout = build_layout(load_scenario_file(net))
    assert len(layout.cells) == 12 and layout.n_sites == 4
    np.testing.assert_array_equal(layout.cells.frequency_mhz, 3500.0)
    net.write_text(net.read_text().replace("carrier_mhz = 3500", "carrier_mhz = 1800"))
    assert "layout.carrier_mhz = 1800: no cell on it: allowed one of 3500, 3700" in _error(net)


def test_several_carriers_refuse_a_written_fc_ghz(tmp_path):
    net = write_network(tmp_path / "n", carriers=((3500.0, 20.0), (3700.0, 10.0)))
    net.write_text(net.read_text().replace("n_prb = 100", "n_prb = 100\nfc_ghz = 3.5"))
    assert "radio.fc_ghz = 3.5: the site database has carriers 3500, 3700 MHz" in _error(net)


def test_bandwidth_and_frequency_must_agree_with_radio(tmp_path):
    net = write_network(tmp_path / "n", n_prb=50)
    assert "radio.n_prb = 50" in _error(net) and "allowed radio.n_prb = 100" in _error(net)
    net.write_text(net.read_text().replace("n_prb = 50", "n_prb = 100\nfc_ghz = 2.0"))
    assert "radio.fc_ghz = 2" in _error(net)


CELL = "TLS001,C1,43.6,1.44,30,90,0,6,0,12,3500,20,46,ARRAY8_3500"


@pytest.mark.parametrize(
    ("rows", "needles"),
    [
        ([CELL.replace("43.6", "95")], [":2: column lat_deg = '95'", "−80 … 84"]),
        ([CELL.replace(",30,", ",tall,")], [":2: column height_m = 'tall'", "> 0 … 300 m"]),
        ([CELL.replace(",20,", ",7,")], ["column bandwidth_mhz = '7'", "one of 1.4, 3, 5"]),
        ([CELL.replace(",90,", ",400,")], ["azimuth_deg = '400'", "clockwise from true north"]),
        ([CELL.replace(",6,0,12,", ",14,0,12,")], ["tilt_deg = 14", "RET range"]),
        ([CELL.replace(",6,0,12,", ",6,8,4,")], ["ret_min_deg = 8 is above ret_max_deg = 4"]),
        ([CELL.replace(",46,", ",99,")], ["tx_power_dbm = '99'", "−30 … 80 dBm"]),
        ([CELL.replace(",46,", ",,")], ["tx_power_dbm is empty"]),
        ([CELL.replace("C1", " ")], ["column cell = ' '", "non-empty name"]),
        ([CELL, CELL.replace("1.44", "1.45").replace("C1", "C2")],
         ["site 'TLS001'", "more than 1 m"]),
        ([CELL, CELL], [":3: column cell = 'C1' is also the cell of", ":2"]),
        ([CELL.replace("ARRAY8_3500", "KATHREIN")], ["antenna = 'KATHREIN'", "tr38901"]),
        ([CELL.replace("ARRAY8_3500", "../x")], ["antenna = '../x'", "no pattern folder"]),
        ([CELL.replace(",6,0,12,", ",6,0,14,")], ["RET range 0 … 14°", "0 … 12°"]),
        ([CELL.replace("43.6", "95").replace(",46,", ",99,")],
         ["lat_deg", "(and 1 more problem(s))"]),
    ],
    ids=["lat", "height", "bandwidth", "azimuth", "tilt-outside-ret", "ret-order", "power",
         "empty", "blank-cell", "site-moves", "duplicate-cell", "unknown-antenna", "path-antenna",
         "ret-beyond-files", "two-problems"],
)  # fmt: skip
def test_bad_fields_are_one_line_each(net, rows, needles):
    message = _error(_with_rows(net, rows))
    assert str(net.parent / "sites.csv") in message or "cell 'C1'" in message
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize(
    ("header", "needles"),
    [
        (HEADER.replace(",tilt_deg,", ",tilt_dg,"),
         ["unknown column 'tilt_dg' (did you mean 'tilt_deg'?)", "(and 1 more problem(s))"]),
        (HEADER.replace(",antenna", ",antenna,x_m,y_m"), ["both lat_deg/lon_deg and x_m/y_m"]),
        (HEADER.replace("lat_deg,", "lat,"), ["unknown column 'lat'", "lon_deg"]),
    ],
    ids=["typo", "both-positions", "half-position"],
)  # fmt: skip
def test_bad_columns(net, header, needles):
    n = header.count(",") + 1
    row = ",".join([*CELL.split(","), "1", "2"][:n])
    message = _error(_with_rows(net, [row], header))
    for needle in needles:
        assert needle in message


def test_crs_mistakes(net):
    header = HEADER.replace("lat_deg,lon_deg", "x_m,y_m")
    _with_rows(net, [CELL.replace("43.6,1.44", "574000,6279000")], header)
    assert "layout.crs is missing" in _error(net)
    net.write_text(
        net.read_text().replace('file = "sites.csv"', 'file = "sites.csv"\ncrs = "EPSG:4326"')
    )
    assert "is a geographic CRS" in _error(net)
    net.write_text(net.read_text().replace("EPSG:4326", "EPSG:99999999"))
    assert "not a coordinate reference system" in _error(net)


def test_several_antenna_models_make_a_set(net):
    from cellsim.radio.antenna_set import AntennaSet

    rows = site_rows()
    rows[0] = rows[0].replace("ARRAY8_3500", "tr36814")
    scenario = load_scenario_file(_with_rows(net, rows))
    antenna = build_radio_setup(scenario, build_layout(scenario)).antenna
    assert isinstance(antenna, AntennaSet)
    assert antenna.keys == (("tr36814", 3500.0), ("ARRAY8_3500", 3500.0))


def test_cli_validate_and_env_steps(net, tmp_path):
    done = subprocess.run([sys.executable, "-m", "cellsim.cli", "scenarios", "validate", str(net)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    import gymnasium as gym

    import cellsim  # noqa: F401  (registers the env)

    env = gym.make("cellsim/Tilt-v0", scenario=str(net))
    obs, _ = env.reset(seed=0)
    for _ in range(2):
        obs, reward, *_ = env.step(env.action_space.sample())
    assert np.isfinite(obs).all() and np.isfinite(reward)
    env.close()
    _with_rows(net, [CELL.replace(",30,", ",tall,")])
    done = subprocess.run([sys.executable, "-m", "cellsim.cli", "scenarios", "validate", str(net)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "height_m = 'tall'" in done.stderr
