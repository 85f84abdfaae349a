"""Demand: daily profiles (interpolation, 24 h period), hotspot windows, the peak normalisation,
spatial shapes of hotspots and one-line errors naming the hotspot."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from cellsim.errors import CellsimError, ParameterError, ScenarioError
from cellsim.network.area import build_raster
from cellsim.network.build import build_layout
from cellsim.network.demand import PROFILES, build_demand, profile_value, window_arrays
from cellsim.scenario import Scenario, load_scenario, parse_scenario

SQUARE = [[0, 0], [2000, 0], [2000, 2000], [0, 2000]]


def make(demand: dict, area: dict | None = None) -> Scenario:
    data = {
        "name": "t",
        "pathloss": {"model": "uma"},
        "area": area or {"polygon": SQUARE, "resolution_m": 20},
        "demand": demand,
    }
    return parse_scenario(data, "t.toml")


def model_of(scenario: Scenario):
    raster = build_raster(scenario, build_layout(scenario))
    return raster, build_demand(scenario, raster)


def error_of(scenario: Scenario) -> str:
    with pytest.raises(ScenarioError) as info:
        model_of(scenario)
    message = str(info.value)
    assert "\n" not in message and message.strip() == message
    return message


@pytest.fixture(scope="module")
def hex7():
    return model_of(load_scenario("hex7"))


# -- profiles --------------------------------------------------------------------------------


def test_builtin_profiles_shape():
    assert set(PROFILES) == {"flat", "business", "residential", "evening"}
    for values in PROFILES.values():
        assert values.shape == (24,)
        assert values.max() == 1.0 and values.min() >= 0.0
    assert (PROFILES["flat"] == 1.0).all()
    business, residential = PROFILES["business"], PROFILES["residential"]
    assert business[:5].max() <= 0.15 and business[10:17].min() >= 0.9
    assert business[7] < business[8] < business[9]  # morning ramp
    assert residential[10:16].max() <= 0.35 and residential[19:23].min() >= 0.9
    assert 19 <= int(np.argmax(PROFILES["evening"])) <= 22


def test_profile_value_interpolates_and_wraps():
    p = PROFILES["business"]
    for h in range(24):
        assert profile_value("business", h) == pytest.approx(p[h])
    assert profile_value("business", 7.5) == pytest.approx((p[7] + p[8]) / 2)
    assert profile_value("business", 23.5) == pytest.approx((p[23] + p[0]) / 2)
    assert profile_value("business", 23.25) == pytest.approx(0.75 * p[23] + 0.25 * p[0])
    for h in (0.0, 6.4, 13.0, 23.9):
        assert profile_value("business", h + 24) == pytest.approx(profile_value("business", h))
        assert profile_value("business", h + 48) == pytest.approx(profile_value("business", h))
    assert profile_value("business", -0.5) == pytest.approx(profile_value("business", 23.5))
    hours = np.array([[1.0, 2.5], [30.0, 47.75]])
    out = profile_value("residential", hours)
    assert out.shape == (2, 2)
    assert out[1, 0] == pytest.approx(PROFILES["residential"][6])
    custom = list(range(24))
    assert profile_value(custom, 4.25) == pytest.approx(4.25)
    assert profile_value(custom, 23.5) == pytest.approx(11.5)  # halfway from 23 back to 0


def test_unknown_profile_name():
    with pytest.raises(CellsimError, match="flat"):
        profile_value("weekend", 3.0)


def test_window_arrays():
    start, length = window_arrays([None, (19, 22), (22, 2), (22, 26), (30, 34), (0, 48)])
    np.testing.assert_allclose(start, [0, 19, 22, 22, 6, 0])
    np.testing.assert_allclose(length[1:4], [3, 4, 4])
    assert np.isinf(length[0]) and np.isinf(length[5])


# -- windows ---------------------------------------------------------------------------------


def _window_demand(window) -> tuple:
    spot = {
        "kind": "gaussian",
        "center_m": [1000, 1000],
        "sigma_m": 200,
        "density": 20,
        "active_hours": list(window),
    }
    return model_of(make({"base_density": 1, "hotspots": [spot]}))[1]


def test_component_weights_are_periodic_and_refuse_a_hour_that_is_not_finite():
    demand = _window_demand((22, 2))
    for h in (-0.5, -25.25, 23.999999999999996, 47.0):  # the day wraps, negative hours too
        np.testing.assert_array_equal(demand.component_weights(h),
                                      demand.component_weights(h % 24.0))  # fmt: skip
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ParameterError, match="hour"):
            demand.component_weights(bad)


@pytest.mark.parametrize(
    ("window", "on", "off"),
    [
        ((19, 22), [19.0, 20.5, 21.99, 43.0], [18.99, 22.0, 23.0, 3.0, 42.9]),
        ((22, 2), [22.0, 23.5, 0.0, 1.99, 25.0], [2.0, 12.0, 21.9]),
        ((22, 26), [22.0, 23.5, 0.0, 1.99, 25.0], [2.0, 12.0, 21.9]),
        ((30, 34), [6.0, 9.99, 30.0], [5.9, 10.0, 18.0]),
    ],
)
def test_hotspot_window_switches_on_and_off(window, on, off):
    demand = _window_demand(window)
    for h in on:
        assert demand.component_weights(h)[1] > 0, h
    for h in off:
        w = demand.component_weights(h)
        assert w[1] == 0, h
        # outside its window the hotspot adds nothing: only the base remains
        expected = demand.scale * w[0] * demand.maps[0]
        np.testing.assert_allclose(demand.users_at(h), expected, rtol=1e-5)
    assert demand.component_weights(12.0)[0] == 1.0  # the base is always on


def test_empty_window_refused():
    spot = {"kind": "gaussian", "center_m": [1000, 1000], "sigma_m": 200, "active_hours": [5, 5]}
    assert "demand.hotspots[0].active_hours" in error_of(make({"hotspots": [spot]}))



def _event_scenario(event: dict) -> Scenario:
    data = {
        "name": "t",
        "pathloss": {"model": "uma"},
        "area": {"polygon": SQUARE, "resolution_m": 20},
        "events": [{"kind": "outage", "site": 0, "start_hour": 1, "end_hour": 2}, event],
    }
    return parse_scenario(data, "t.toml")


def test_hotspot_event_is_an_active_hours_hotspot_during_the_event():
    event = {"kind": "hotspot", "shape": "gaussian", "center_m": [1000, 1000], "sigma_m": 200,
             "density": 20, "start_hour": 19, "end_hour": 22}  # fmt: skip
    _, demand = model_of(_event_scenario(event))
    assert demand.names == ("base", "event1")  # the outage adds no demand
    as_hotspot = _window_demand((19, 22))
    np.testing.assert_array_equal(demand.maps, as_hotspot.maps)
    for h in (0.0, 12.0, 18.99, 19.0, 20.5, 21.99, 22.0, 43.0):
        np.testing.assert_array_equal(demand.users_at(h), as_hotspot.users_at(h))
    assert demand.component_weights(20.0)[1] > 0 and demand.component_weights(22.0)[1] == 0


def test_hotspot_event_outside_the_area_names_the_event():
    event = {"kind": "hotspot", "name": "fair", "shape": "gaussian", "center_m": [9e4, 0],
             "sigma_m": 50, "start_hour": 10, "end_hour": 12}  # fmt: skip
    message = error_of(_event_scenario(event))
    assert "events[1] ('fair')" in message and "outside" in message
    event = {"kind": "hotspot", "shape": "polygon", "start_hour": 10, "end_hour": 12,
             "polygon": [[5e4, 5e4], [5.1e4, 5e4], [5e4, 5.1e4]]}  # fmt: skip
    assert "events[1].polygon" in error_of(_event_scenario(event))


# -- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hex7", "stadium", "city", "rural"])
def test_busiest_time_holds_peak_users(name):
    scenario = load_scenario(name)
    _, demand = model_of(scenario)
    peak = scenario.demand.peak_users
    assert demand.users_at(demand.peak_hour).sum() == pytest.approx(peak, rel=1e-4)
    minutes = np.arange(0, 24 * 60) / 60.0
    totals = np.array([demand.users_at(h).sum() for h in minutes])
    assert totals.max() <= peak * (1 + 1e-4)
    assert demand.total_at(minutes) == pytest.approx(totals, rel=1e-4)


def test_peak_found_in_a_window_off_the_5_minute_grid():
    spot = {
        "kind": "polygon",
        "polygon": [[800, 800], [1200, 800], [1200, 1200], [800, 1200]],
        "density": 1000,
        "active_hours": [13.01, 13.06],  # 3 minutes, between grid points
    }
    _, demand = model_of(make({"hotspots": [spot], "peak_users": 50}))
    assert 13.01 <= demand.peak_hour < 13.06
    assert demand.users_at(13.03).sum() == pytest.approx(50, rel=1e-4)
    assert demand.users_at(13.2).sum() < 5


def test_business_share_moves_over_the_day(hex7):
    _, demand = hex7
    business = demand.names.index("business district")

    def share(hour: float) -> float:
        w = demand.component_weights(hour) * demand.maps.sum(axis=1)
        return w[business] / w.sum()

    assert share(11.0) > share(23.0)
    assert share(11.0) > 0.4 and share(23.0) < 0.15


def test_maps_and_users_types(hex7):
    raster, demand = hex7
    assert demand.maps.dtype == np.float32
    assert demand.maps.shape == (4, len(raster))
    np.testing.assert_allclose(demand.maps[0], 1.0 * raster.pixel_area_km2, rtol=1e-6)
    users = demand.users_at(9.5)
    assert users.dtype == np.float32 and users.shape == (len(raster),)
    assert (users >= 0).all()
    assert demand.n_components == 4 and demand.n_points == len(raster)
    noise = np.array([1.0, 0.5, 2.0, 0.0])
    expected = demand.scale * (demand.component_weights(9.5) * noise) @ demand.maps
    np.testing.assert_allclose(demand.users_at(9.5, noise), expected, rtol=1e-5)


# -- shapes ----------------------------------------------------------------------------------


def test_gaussian_peaks_at_its_centre():
    centre = np.array([730.0, 1210.0])
    spot = {"kind": "gaussian", "center_m": centre.tolist(), "sigma_m": 150, "density": 5}
    raster, demand = model_of(make({"base_density": 0, "hotspots": [spot]}))
    users = demand.users_at(12.0)
    dist = np.linalg.norm(raster.xy_m - centre, axis=1)
    assert int(np.argmax(users)) == int(np.argmin(dist))
    order = np.argsort(dist)
    assert (np.diff(users[order].astype(np.float64)) <= 1e-9).all()  # falls off with distance
    # well inside the area: its map holds density × 2πσ² (km²)
    mass = 5 * 2 * math.pi * 150.0**2 / 1e6
    assert demand.maps[1].sum() == pytest.approx(mass, rel=1e-3)


def test_polygon_hotspot_is_uniform_inside():
    poly = [[500, 500], [900, 500], [900, 800], [500, 800]]
    spot = {"kind": "polygon", "polygon": poly, "density": 7}
    raster, demand = model_of(make({"base_density": 0, "hotspots": [spot]}))
    x, y = raster.xy_m[:, 0], raster.xy_m[:, 1]
    inside = (x > 500) & (x < 900) & (y > 500) & (y < 800)
    assert inside.sum() == 20 * 15
    np.testing.assert_allclose(demand.maps[1][inside], 7 * raster.pixel_area_km2, rtol=1e-6)
    assert (demand.maps[1][~inside] == 0).all()


def test_hotspot_outside_the_area_refused():
    far = {"kind": "gaussian", "center_m": [9000, 9000], "sigma_m": 100}
    inside = {"kind": "gaussian", "center_m": [1000, 1000], "sigma_m": 100}
    message = error_of(make({"hotspots": [inside, far]}))
    assert "demand.hotspots[1]" in message and "center_m" in message
    poly = {"kind": "polygon", "polygon": [[3000, 0], [3100, 0], [3100, 100]], "name": "x"}
    assert "demand.hotspots[0] ('x').polygon" in error_of(make({"hotspots": [poly]}))


def test_bad_hotspot_polygon_refused():
    bowtie = {"kind": "polygon", "polygon": [[0, 0], [100, 100], [100, 0], [0, 100]]}
    assert "demand.hotspots[0].polygon" in error_of(make({"hotspots": [bowtie]}))


def test_negative_profile_refused():
    spot = {"kind": "gaussian", "center_m": [1000, 1000], "sigma_m": 100, "profile": [-1] * 24}
    assert "demand.hotspots[0].profile" in error_of(make({"hotspots": [spot]}))


def test_no_demand_at_all_refused():
    assert "no demand" in error_of(make({"base_density": 0}))


# -- speed -----------------------------------------------------------------------------------


def test_users_at_is_cheap(hex7):
    _, demand = hex7
    hours = np.linspace(0, 24, 2000)
    demand.users_at(3.0)
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for h in hours:
            demand.users_at(h)
        best = min(best, (time.perf_counter() - t0) / len(hours))
    # typically ~10 µs on ~2 400 points; the bound only catches a Python loop over points
    assert best < 2e-3, f"users_at took {best * 1e6:.0f} µs"
