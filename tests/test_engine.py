"""The link-budget engine against a direct computation written here, its incremental evaluation,
its input checks, its determinism, and the wrap-around symmetry of a 3GPP network.

The direct computation finds each site's nearest wrap-around image by brute force, computes the
link angles with atan2 (not the package's angle helpers), and adds up

    tx power per RE + antenna.gain_dbi(az_rel, down, tilt, mech) − path loss − shadow − O2I

in float64. The antenna patterns and path-loss formulas themselves are tested in tests/radio.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cellsim.engine import LinkBudget, LinkState, RadioSetup, draw_link_state
from cellsim.errors import ParameterError
from cellsim.network.drop import DropSpec, drop_ues
from cellsim.network.layout import hex_layout
from cellsim.network.receivers import Receivers
from cellsim.radio.antenna import make_antenna
from cellsim.radio.pathloss import make_pathloss

ROOT = Path(__file__).resolve().parents[1]
ISD = 500.0
FC_GHZ = 3.5
NOISE_DBM = -132.0
ANTENNAS = {
    "tr36814": lambda: make_antenna("tr36814"),
    "tr38901": lambda: make_antenna("tr38901", n_elements=10),
}
ACCURACY_DB = 0.05  # engine vs reference where the gain is above peak − 40 dB
ACCURATE_RANGE_DB = 40.0


# --------------------------------------------------------------------------- reference


def direct_rx_dbm(layout, receivers, setup, links, tilt_deg):
    """Received power per RE (dBm) and antenna gain (dBi) per (cell, point), in float64."""
    cells = layout.cells
    n_cells, n = len(cells), len(receivers)
    rx = np.empty((n_cells, n))
    gain = np.empty((n_cells, n))
    power = np.broadcast_to(np.asarray(setup.tx_power_per_re_dbm, float), (n_cells,))
    for c in range(n_cells):
        s = cells.site[c]
        images = layout.sites_xy_m[s] + layout.wrap_shifts_m  # (n_images, 2)
        rel = receivers.xy_m[:, None, :] - images[None, :, :]  # (n, n_images, 2)
        k = np.argmin(np.hypot(rel[..., 0], rel[..., 1]), axis=1)
        dx, dy = rel[np.arange(n), k, 0], rel[np.arange(n), k, 1]
        d2d = np.hypot(dx, dy)
        az_rel = np.mod(np.degrees(np.arctan2(dy, dx)) - cells.azimuth_deg[c] + 180.0, 360.0)
        az_rel -= 180.0
        down = np.degrees(np.arctan2(cells.height_m[c] - receivers.height_m, d2d))
        gain[c] = setup.antenna.gain_dbi(az_rel, down, tilt_deg[c], cells.mech_tilt_deg[c])
        h_e = None if links.h_e_m is None else links.h_e_m[s]
        pl = setup.pathloss.pathloss_db(
            d2d,
            cells.height_m[c],
            receivers.height_m,
            setup.fc_ghz,
            links.los[s],
            h_e_m=h_e,
            strict=False,
        )
        rx[c] = power[c] + gain[c] - pl - links.shadow_db[s] - receivers.o2i_loss_db
    return rx, gain


def _db(mw):
    return 10.0 * np.log10(np.asarray(mw, np.float64))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def network():
    """7 sites with wrap-around, ISD 500 m; mixed heights and some mechanically tilted cells;
    4500 UEs (more than one 4096-point block of the kernel), 80 % indoors with O2I loss."""
    base = hex_layout(7, ISD, 25.0, 8.0, wraparound=True)
    n = len(base.cells)
    mech = np.zeros(n)
    mech[[1, 5, 9, 14, 20]] = [3.0, 6.0, -2.0, 10.0, 4.0]
    height = np.full(n, 25.0)
    height[[3, 4, 5]] = 32.0  # one whole site higher
    height[[12, 13]] = 40.0  # two sectors of another site on a higher mount
    cells = dataclasses.replace(base.cells, mech_tilt_deg=mech, height_m=height)
    layout = dataclasses.replace(base, cells=cells)
    rng = np.random.default_rng(2024)
    receivers = drop_ues(rng, layout, 4500, DropSpec(), FC_GHZ)
    tilts = rng.uniform(-5.0, 20.0, n)
    tilts[[0, 7, 15]] = [0.0, 45.0, -20.0]
    power = rng.uniform(10.0, 20.0, n)
    return layout, receivers, tilts, power


@pytest.fixture(scope="module", params=sorted(ANTENNAS))
def case(request, network):
    layout, receivers, tilts, power = network
    antenna = ANTENNAS[request.param]()
    setup = RadioSetup(make_pathloss("uma"), antenna, FC_GHZ, power, NOISE_DBM)
    links = draw_link_state(np.random.default_rng(7), layout, receivers, setup)
    lb = LinkBudget(layout, receivers, setup, links)
    state = lb.evaluate(tilts)
    received = np.array(lb.received_mw, dtype=np.float64)
    ref, gain = direct_rx_dbm(layout, receivers, setup, links, tilts)
    accurate = gain > antenna.peak_gain_dbi - ACCURATE_RANGE_DB
    return {
        "kind": request.param,
        "layout": layout,
        "receivers": receivers,
        "setup": setup,
        "links": links,
        "tilts": tilts,
        "state": state,
        "received_mw": received,
        "ref_dbm": ref,
        "accurate": accurate,
    }


# --------------------------------------------------------------------------- (1) received power


def test_link_state_shapes(case):
    links, layout, receivers = case["links"], case["layout"], case["receivers"]
    shape = (layout.n_sites, len(receivers))
    assert links.los.shape == links.shadow_db.shape == links.h_e_m.shape == shape
    assert case["received_mw"].shape == (len(layout.cells), len(receivers))


def test_received_power_matches_direct_computation(case):
    err = np.abs(_db(case["received_mw"]) - case["ref_dbm"])
    acc = case["accurate"]
    assert acc.mean() > 0.5  # most links are in the accurate range
    if case["kind"] == "tr36814":
        assert err[acc].max() <= ACCURACY_DB
        # the 36.814 front-to-back floor (A_m = 25 dB) is exact: every link agrees
        assert err.max() <= ACCURACY_DB
    else:
        # TR 38.901 array: see test_array_accuracy_near_sites (xfail) for the 0.05 dB budget
        # being exceeded; here almost every link meets it and none is far off.
        assert np.mean(err[acc] <= ACCURACY_DB) >= 0.999
        assert err[acc].max() <= 2 * ACCURACY_DB


def test_mechanical_tilt_and_height_matter(case):
    """The reference distinguishes what the engine is checked on: without the mechanical tilt
    (or with the default height), the reference of the affected cells moves by > 1 dB somewhere."""
    layout, receivers, setup = case["layout"], case["receivers"], case["setup"]
    flat = dataclasses.replace(
        layout.cells, mech_tilt_deg=np.zeros(len(layout.cells)), height_m=np.full(21, 25.0)
    )
    ref_flat, _ = direct_rx_dbm(
        dataclasses.replace(layout, cells=flat), receivers, setup, case["links"], case["tilts"]
    )
    moved = np.abs(ref_flat - case["ref_dbm"]).max(axis=1) > 1.0
    changed = (layout.cells.mech_tilt_deg != 0) | (layout.cells.height_m != 25.0)
    np.testing.assert_array_equal(moved, changed)


def test_array_accuracy_near_sites():
    """One site, points along the boresight from 3 m to 400 m (a map raster reaches that
    close): engine vs gain_dbi − path loss within 0.05 dB over a sweep of tilts."""
    layout = hex_layout(1, ISD, 25.0, 0.0)
    antenna = make_antenna("tr38901", n_elements=10)
    r = np.linspace(3.0, 400.0, 3000)
    xy = np.c_[r * math.cos(math.radians(30.0)), r * math.sin(math.radians(30.0))]
    receivers = Receivers.outdoor(xy, 1.5)
    setup = RadioSetup(make_pathloss("uma"), antenna, FC_GHZ, np.zeros(3), NOISE_DBM)
    n = len(r)
    links = LinkState(np.ones((1, n), bool), np.zeros((1, n)), np.ones((1, n)))
    lb = LinkBudget(layout, receivers, setup, links)
    worst = 0.0
    for tilt in np.linspace(0.0, 15.0, 31):
        tilts = np.full(3, tilt)
        lb.evaluate(tilts)
        ref, gain = direct_rx_dbm(layout, receivers, setup, links, tilts)
        ok = gain[0] > antenna.peak_gain_dbi - ACCURATE_RANGE_DB
        worst = max(worst, np.abs(_db(lb.received_mw[0]) - ref[0])[ok].max())
    assert worst <= ACCURACY_DB


# --------------------------------------------------------------------------- (2) reductions


def test_best_server_is_the_strongest_cell(case):
    state, ref = case["state"], case["ref_dbm"]
    srt = np.sort(ref, axis=0)
    clear = srt[-1] - srt[-2] > 4 * ACCURACY_DB  # no near-tie the table error could flip
    assert clear.mean() > 0.95
    np.testing.assert_array_equal(state.serving_cell[clear], np.argmax(ref, axis=0)[clear])
    # and exactly the strongest of the engine's own per-cell powers
    rx = case["received_mw"]
    np.testing.assert_array_equal(state.serving_cell, np.argmax(rx, axis=0))
    n = rx.shape[1]
    np.testing.assert_array_equal(state.serving_mw, rx[state.serving_cell, np.arange(n)])


def test_interference_is_the_sum_of_the_other_cells(case):
    state, rx = case["state"], case["received_mw"]
    n = rx.shape[1]
    others = rx.sum(axis=0) - rx[state.serving_cell, np.arange(n)]
    np.testing.assert_allclose(state.interference_mw, others, rtol=1e-5)
    # against the reference: a power sum of terms each within 0.1 dB is within 0.1 dB
    ref_mw = 10.0 ** (case["ref_dbm"] / 10.0)
    ref_i = ref_mw.sum(axis=0) - ref_mw[state.serving_cell, np.arange(n)]
    np.testing.assert_allclose(_db(state.interference_mw), _db(ref_i), atol=2 * ACCURACY_DB)


def test_sinr_geometry_rsrp_formulas(case):
    state, ref = case["state"], case["ref_dbm"]
    noise_mw = 10.0 ** (NOISE_DBM / 10.0)
    assert state.noise_mw == pytest.approx(noise_mw, rel=1e-12)
    s, i = state.serving_mw.astype(float), state.interference_mw.astype(float)
    np.testing.assert_allclose(state.rsrp_dbm, _db(s), atol=1e-4)
    np.testing.assert_allclose(state.sinr_db, _db(s / (i + noise_mw)), atol=1e-4)
    np.testing.assert_allclose(state.geometry_db, _db(s / i), atol=1e-4)
    # and against the reference powers
    n = ref.shape[1]
    ref_mw = 10.0 ** (ref / 10.0)
    s_ref = ref_mw[state.serving_cell, np.arange(n)]
    i_ref = ref_mw.sum(axis=0) - s_ref
    # S within 0.05 dB (0.1 for the array, see above), I a power sum of such terms
    tol = 2 * ACCURACY_DB
    np.testing.assert_allclose(state.rsrp_dbm, _db(s_ref), atol=tol)
    np.testing.assert_allclose(state.sinr_db, _db(s_ref / (i_ref + noise_mw)), atol=tol)
    np.testing.assert_allclose(state.geometry_db, _db(s_ref / i_ref), atol=tol)
    assert np.all(state.geometry_db >= state.sinr_db - 1e-4)


# --------------------------------------------------------------------------- (3) incremental


def _fresh(case):
    return LinkBudget(case["layout"], case["receivers"], case["setup"], case["links"])


def _assert_same_state(a, b):
    np.testing.assert_array_equal(a.serving_cell, b.serving_cell)
    np.testing.assert_array_equal(a.serving_mw, b.serving_mw)
    np.testing.assert_array_equal(a.interference_mw, b.interference_mw)
    assert a.noise_mw == b.noise_mw


def test_incremental_evaluation_equals_fresh(case):
    lb = _fresh(case)
    t1 = case["tilts"].copy()
    s1 = lb.evaluate(t1)
    rx1 = np.array(lb.received_mw)
    t2 = t1.copy()
    moved = [2, 9, 17]
    t2[moved] += [4.0, -3.0, 7.5]
    s2 = lb.evaluate(t2)
    rx2 = np.array(lb.received_mw)
    fresh = _fresh(case)
    f2 = fresh.evaluate(t2)
    _assert_same_state(s2, f2)
    np.testing.assert_array_equal(rx2, fresh.received_mw)
    # only the re-tilted cells' rows changed, and they did change
    keep = np.setdiff1d(np.arange(len(t1)), moved)
    np.testing.assert_array_equal(rx2[keep], rx1[keep])
    assert all(not np.array_equal(rx2[c], rx1[c]) for c in moved)
    # evaluating the same tilts again changes nothing; going back gives the first state
    _assert_same_state(lb.evaluate(t2), s2)
    _assert_same_state(lb.evaluate(t1), s1)
    np.testing.assert_array_equal(lb.received_mw, rx1)


def test_grid_tilts_and_their_cached_rows_equal_the_general_path(case):
    """On a precomputed tilt grid, a cell's received power at each grid tilt is cached per
    realisation: going back to a tilt seen before reads the cache. Every state equals the
    general path's (no grid), and a new realisation (`use_terms`) never reads the old one's."""
    n = len(case["tilts"])
    grid = np.arange(0.0, 16.0, 1.0)
    lb = _fresh(case)
    assert lb.precompute_tilts(grid)
    rng = np.random.default_rng(3)
    tilts = [rng.choice(grid, n) for _ in range(3)]
    weight = rng.uniform(0.05, 1.0, n).astype(np.float32)
    for t in tilts + tilts[::-1]:  # the second half revisits every tilt: cache hits
        _assert_same_state(lb.evaluate(t, weight), _fresh(case).evaluate(t, weight))
    other = draw_link_state(np.random.default_rng(8), case["layout"], case["receivers"],
                            case["setup"])  # fmt: skip
    lb.use_terms(*lb.realisation_terms(other))
    fresh_other = LinkBudget(case["layout"], case["receivers"], case["setup"], other)
    for t in tilts:
        _assert_same_state(lb.evaluate(t, weight), fresh_other.evaluate(t, weight))
        np.testing.assert_array_equal(lb.received_mw, fresh_other.received_mw)


def test_incremental_matches_reference_at_new_tilts(case):
    lb = _fresh(case)
    lb.evaluate(case["tilts"])
    t2 = case["tilts"].copy()
    t2[[0, 4, 11]] = [10.0, 2.0, 16.0]
    lb.evaluate(t2)
    ref, gain = direct_rx_dbm(case["layout"], case["receivers"], case["setup"], case["links"], t2)
    acc = gain > case["setup"].antenna.peak_gain_dbi - ACCURATE_RANGE_DB
    err = np.abs(_db(lb.received_mw) - ref)[acc]
    assert np.mean(err <= ACCURACY_DB) >= 0.999
    assert err.max() <= 2 * ACCURACY_DB


def test_received_mw_is_read_only(case):
    lb = _fresh(case)
    lb.evaluate(case["tilts"])
    with pytest.raises(ValueError):
        lb.received_mw[0, 0] = 1.0


def test_interference_weights_scale_interference(case):
    lb = _fresh(case)
    tilts = case["tilts"]
    n_cells = len(tilts)
    full = lb.evaluate(tilts)
    half = lb.evaluate(tilts, np.full(n_cells, 0.5))
    # scaling every term by a power of two is exact in floating point
    np.testing.assert_array_equal(half.interference_mw, 0.5 * full.interference_mw)
    np.testing.assert_array_equal(half.serving_cell, full.serving_cell)
    np.testing.assert_array_equal(half.serving_mw, full.serving_mw)
    # arbitrary loads: Σ over non-serving cells of load × power
    w = np.random.default_rng(3).uniform(0.0, 1.0, n_cells)
    loaded = lb.evaluate(tilts, w)
    rx = np.array(lb.received_mw, dtype=np.float64)
    n = rx.shape[1]
    expected = (w[:, None] * rx).sum(axis=0) - w[full.serving_cell] * full.serving_mw
    np.testing.assert_allclose(loaded.interference_mw, expected, rtol=1e-5, atol=0)
    np.testing.assert_array_equal(loaded.serving_cell, full.serving_cell)
    # the serving cell's own load does not enter its users' interference
    c = 3
    w_off = np.ones(n_cells)
    w_off[c] = 0.0
    off = lb.evaluate(tilts, w_off)
    mine = full.serving_cell == c
    assert mine.sum() > 10
    np.testing.assert_array_equal(off.interference_mw[mine], full.interference_mw[mine])
    # elsewhere it removes a term (rounding is monotonic: never more interference)
    assert np.all(off.interference_mw[~mine] <= full.interference_mw[~mine])
    assert np.mean(off.interference_mw[~mine] < full.interference_mw[~mine]) > 0.5
    # no load anywhere: no interference, SINR = S/N
    idle = lb.evaluate(tilts, np.zeros(n_cells))
    np.testing.assert_array_equal(idle.interference_mw, 0.0)
    np.testing.assert_allclose(
        idle.sinr_db, _db(full.serving_mw.astype(float) / idle.noise_mw), atol=1e-4
    )
    assert n == len(full.serving_cell)


def test_interference_weight_shape_is_checked(case):
    lb = _fresh(case)
    n_cells = len(case["tilts"])
    with pytest.raises(ParameterError):
        lb.evaluate(case["tilts"], np.ones(n_cells + 4))


def test_inactive_cells_neither_serve_nor_interfere(case):
    lb = _fresh(case)
    tilts = case["tilts"]
    lb.evaluate(tilts)
    rx = np.array(lb.received_mw, dtype=np.float64)
    n_cells, n = rx.shape
    active = np.ones(n_cells, bool)
    active[[0, 4, 10, 11]] = False
    state = lb.evaluate(tilts, active=active)
    on = np.flatnonzero(active)
    best = on[np.argmax(rx[on], axis=0)]
    np.testing.assert_array_equal(state.serving_cell, best)
    np.testing.assert_array_equal(state.serving_mw, rx[best, np.arange(n)])
    expected = rx[on].sum(axis=0) - rx[best, np.arange(n)]
    np.testing.assert_allclose(state.interference_mw, expected, rtol=1e-5, atol=0)
    # re-tilt a cell while it is off, then switch everything back on: as if evaluated afresh
    t2 = tilts.copy()
    t2[[4, 6]] = [1.0, 19.0]
    lb.evaluate(t2, active=active)
    back = lb.evaluate(t2)
    fresh = _fresh(case)
    _assert_same_state(back, fresh.evaluate(t2))
    np.testing.assert_array_equal(lb.received_mw, fresh.received_mw)


# --------------------------------------------------------------------------- (4) bad tilts


@pytest.mark.parametrize(
    "bad",
    [
        "short",
        "long",
        "column",
        "scalar",
        "above 90",
        "below -90",
        "nan",
        "inf",
    ],
)
def test_bad_tilts_raise_and_leave_state_intact(case, bad):
    lb = _fresh(case)
    good = case["tilts"]
    n = len(good)
    tilt = {
        "short": good[:-1],
        "long": np.r_[good, 5.0],
        "column": good[:, None],
        "scalar": np.float64(8.0),
    }.get(bad)
    if tilt is None:
        tilt = good.copy()
        tilt[n // 2] = {"above 90": 90.5, "below -90": -91.0, "nan": np.nan, "inf": np.inf}[bad]
    first = lb.evaluate(good)
    with pytest.raises(ParameterError):
        lb.evaluate(tilt)
    _assert_same_state(lb.evaluate(good), first)


def test_tilt_limits_are_inclusive(case):
    lb = _fresh(case)
    tilts = case["tilts"].copy()
    tilts[0], tilts[1] = 90.0, -90.0
    state = lb.evaluate(tilts)
    assert np.isfinite(state.sinr_db).all()


# --------------------------------------------------------------------------- (5) determinism


def chain_digest(seed: int) -> str:
    """SHA-256 of every array of drop_ues → draw_link_state → LinkBudget.evaluate."""
    layout = hex_layout(7, ISD, 25.0, 10.0, wraparound=True)
    rng = np.random.default_rng(seed)
    receivers = drop_ues(rng, layout, 600, DropSpec(), FC_GHZ)
    setup = RadioSetup(
        make_pathloss("uma"),
        make_antenna("tr38901", n_elements=10),
        FC_GHZ,
        np.full(len(layout.cells), 15.0),
        NOISE_DBM,
        inter_site_correlation=0.5,
    )
    links = draw_link_state(rng, layout, receivers, setup)
    lb = LinkBudget(layout, receivers, setup, links)
    state = lb.evaluate(np.linspace(0.0, 20.0, len(layout.cells)))
    h = hashlib.sha256()
    for a in (
        receivers.xy_m,
        receivers.height_m,
        receivers.indoor,
        receivers.d2d_in_m,
        receivers.o2i_loss_db,
        links.los,
        links.shadow_db,
        links.h_e_m,
        lb.received_mw,
        state.serving_cell,
        state.serving_mw,
        state.interference_mw,
    ):
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def test_same_seed_bit_identical_in_process():
    a, b = chain_digest(11), chain_digest(11)
    assert a == b
    assert chain_digest(12) != a


def test_same_seed_bit_identical_in_a_fresh_process():
    code = "from tests.test_engine import chain_digest; print(chain_digest(11))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == chain_digest(11)


# --------------------------------------------------------------------------- (6) wrap-around


def test_wraparound_makes_every_cell_alike():
    """19 sites with wrap-around, TR 38.901 UMa at 6 GHz, ISD 500 m, 25 m masts, an M = 10 array
    tilted 12°, 0 dBm per RE: every one of the 57 cells must see the same coupling-loss
    distribution and serve the same share of UEs.

    20 000 UEs are dropped as 10 independent drops of 2000, each with its own link state: the
    LOS and shadowing fields are spatially correlated (37–50 m), so one drop of 20 000 UEs
    carries the randomness of one field realisation, which alone moves single cells' medians by
    up to ±1.8 dB and their shares by up to ±38 %. Over 10 realisations the spread of per-cell
    medians is σ ≈ 0.25 dB (measured over 5 seeds, max |deviation| 0.64 dB): ±1 dB is ≈ 4σ.
    Without wrap-around the outer cells' medians are 16 dB off. Served share: binomial
    σ_b = √(p(1−p)/N) with p = 1/57, over-dispersed by ≈ 1.2 (measured) by the spatial
    correlation of the fields; tolerance 4 × 1.3 σ_b."""
    layout = hex_layout(19, ISD, 25.0, 12.0, wraparound=True)
    n_cells = len(layout.cells)
    setup = RadioSetup(
        make_pathloss("uma"),
        make_antenna("tr38901", n_elements=10),
        6.0,
        np.zeros(n_cells),
        -130.0,
    )
    tilts = np.full(n_cells, 12.0)
    coupling, serving = [], []
    for k in range(10):
        rng = np.random.default_rng([57, k])
        receivers = drop_ues(rng, layout, 2000, DropSpec(), 6.0)
        links = draw_link_state(rng, layout, receivers, setup)
        lb = LinkBudget(layout, receivers, setup, links)
        state = lb.evaluate(tilts)
        coupling.append(-_db(lb.received_mw))
        serving.append(state.serving_cell)
    coupling = np.concatenate(coupling, axis=1)
    serving = np.concatenate(serving)
    n = len(serving)
    assert coupling.shape == (57, 20000)

    median = np.median(coupling, axis=1)
    assert 100.0 < median.mean() < 200.0  # a plausible coupling loss at 6 GHz
    np.testing.assert_allclose(median, median.mean(), atol=1.0)

    p = 1.0 / n_cells
    share = np.bincount(serving, minlength=n_cells) / n
    sigma_b = math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(share, p, atol=4 * 1.3 * sigma_b)


# --------------------------------------------------------------------------- known failures


def test_uma_with_low_masts_and_high_floor_ues():
    layout = hex_layout(7, ISD, 15.0, 8.0, wraparound=True)
    rng = np.random.default_rng(1)
    receivers = drop_ues(rng, layout, 2000, DropSpec(), FC_GHZ)
    setup = RadioSetup(
        make_pathloss("uma"), make_antenna("tr36814"), FC_GHZ, np.zeros(21), NOISE_DBM
    )
    links = draw_link_state(rng, layout, receivers, setup)
    state = LinkBudget(layout, receivers, setup, links).evaluate(np.full(21, 8.0))
    assert np.isfinite(state.sinr_db).all()
