"""TR 38.901 §7.8.1 large-scale calibration against the published 3GPP percentiles.

Reference figures and tolerances: shared/reference/calibration.md (R1-165974): coupling loss
±1.5 dB, geometry ±1.0 dB, at every percentile p5…p95, with ≥ 20 000 UEs.
"""

from __future__ import annotations

import numpy as np
import pytest

from cellsim.calibration import run_calibration
from cellsim.scenario import PERCENTILES, load_scenario

COUPLING_TOL_DB = 1.5
GEOMETRY_TOL_DB = 1.0

# The published numbers, written here independently of the scenario files that also carry them.
REFERENCE = {
    "tr38901-uma-6ghz": (
        [
            -150.4,
            -144.7,
            -140.6,
            -137,
            -133.9,
            -131.1,
            -128.4,
            -125.8,
            -123.1,
            -120.3,
            -117.5,
            -114.7,
            -111.8,
            -109.1,
            -106.1,
            -102.8,
            -98.8,
            -93.7,
            -86,
        ],
        [
            -1,
            0.1,
            1.1,
            2,
            2.9,
            3.9,
            5,
            6,
            7.2,
            8.6,
            9.9,
            11.3,
            12.9,
            14.7,
            16.5,
            18.6,
            20.9,
            23.4,
            25.6,
        ],
    ),
    "tr38901-umi-6ghz": (
        [
            -142.3,
            -136.4,
            -132.4,
            -128.9,
            -125.8,
            -122.9,
            -120.3,
            -117.6,
            -115,
            -112.2,
            -109.5,
            -106.4,
            -103.2,
            -99.9,
            -96.2,
            -92.2,
            -87.6,
            -82,
            -74.8,
        ],
        [
            -1.7,
            -0.5,
            0.4,
            1.2,
            2.1,
            3,
            4,
            5,
            6.1,
            7.3,
            8.6,
            9.9,
            11.4,
            13,
            14.9,
            17,
            19.4,
            22.1,
            24.9,
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("seed", [0, 7])
def test_tr38901_percentiles_within_3gpp_tolerance(name: str, seed: int) -> None:
    result = run_calibration(load_scenario(name), ues=20_000, seed=seed)
    ref_cl, ref_geo = (np.array(r) for r in REFERENCE[name])
    cl = np.percentile(result.coupling_loss_db, PERCENTILES)
    geo = np.percentile(result.geometry_db, PERCENTILES)
    assert np.all(np.abs(cl - ref_cl) <= COUPLING_TOL_DB), np.round(cl - ref_cl, 2)
    assert np.all(np.abs(geo - ref_geo) <= GEOMETRY_TOL_DB), np.round(geo - ref_geo, 2)


def test_scenario_files_carry_the_same_reference() -> None:
    for name, (ref_cl, ref_geo) in REFERENCE.items():
        ref = load_scenario(name).calibration.reference
        assert ref.coupling_loss_db == pytest.approx(ref_cl)
        assert ref.geometry_db == pytest.approx(ref_geo)


def test_same_seed_same_numbers_and_seed_matters() -> None:
    scenario = load_scenario("tr36814-case1")
    a = run_calibration(scenario, ues=2_000, seed=3)
    b = run_calibration(scenario, ues=2_000, seed=3)
    c = run_calibration(scenario, ues=2_000, seed=4)
    np.testing.assert_array_equal(a.coupling_loss_db, b.coupling_loss_db)
    np.testing.assert_array_equal(a.geometry_db, b.geometry_db)
    assert not np.array_equal(a.geometry_db, c.geometry_db)


def test_tilted_array_improves_geometry_over_single_element() -> None:
    """TR 36.873's two antenna set-ups: the 10-element array with 12° electrical tilt confines
    each cell's energy to its own area, so geometry improves over the untilted single element."""
    for env in ("uma", "umi"):
        m1 = run_calibration(load_scenario(f"tr36873-{env}-m1"), ues=5_000, seed=1)
        m10 = run_calibration(load_scenario(f"tr36873-{env}-m10"), ues=5_000, seed=1)
        assert np.median(m10.geometry_db) > np.median(m1.geometry_db) + 1.0


def test_case1_setup_matches_tr36814() -> None:
    """3GPP case 1 set-up: every UE outdoors at 1.5 m with the 20 dB penetration loss."""
    s = load_scenario("tr36814-case1")
    assert (s.layout.n_sites, s.layout.isd_m, s.layout.height_m, s.layout.tilt_deg) == (
        19,
        500,
        32,
        15,
    )
    assert s.layout.wraparound
    assert (s.radio.fc_ghz, s.radio.tx_power_dbm, s.radio.n_prb, s.radio.noise_figure_db) == (
        2.0,
        46,
        50,
        9,
    )
    assert s.pathloss.model == "macro" and s.antenna.kind == "tr36814"
    assert s.shadowing.inter_site_correlation == 0.5
    cal = s.calibration
    assert (cal.indoor_fraction, cal.floors, cal.o2i_model, cal.fixed_loss_db) == (
        1.0,
        (1, 1),
        "fixed",
        20,
    )
