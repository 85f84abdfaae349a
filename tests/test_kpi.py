"""`cellsim.kpi.compute_kpis` on tiny hand-made radio states, against computations written here.

Each state is built directly as a `cellsim.engine.RadioState` (serving cell, serving power,
interference, noise per point), so every KPI can be worked out by hand in float64: SINR in dB,
the TR 36.942 spectral efficiency (0 below −10 dB, 0.6 · log2(1 + SINR), capped at 4.4 bit/s/Hz),
the processor-sharing load ρ_c = Σ users · rate / (B · SE) of each serving cell, admission up to
ρ̂ = min(ρ, admission_load) with the share 1 − ρ̂/ρ of an overloaded cell's demand blocked, the
admitted throughput B · SE · (1 − ρ̂), coverage by thresholds, overshoot by distance, and a
demand-weighted 5th percentile of the throughput (blocked demand at the floor).
"""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cellsim.contract import KPI_COLUMNS
from cellsim.engine import RadioState
from cellsim.kpi import KpiParams, compute_kpis

NOISE_MW = 1e-13  # −130 dBm per resource element
B_MHZ = 9.0  # 50 PRB × 12 subcarriers × 15 kHz
COL = {name: i for i, name in enumerate(KPI_COLUMNS)}


def dbm(x_dbm: float) -> float:
    return 10.0 ** (x_dbm / 10.0)


def params(**over) -> KpiParams:
    base = dict(
        rsrp_min_dbm=-110.0, sinr_min_db=-6.0, bandwidth_mhz=B_MHZ, user_rate_mbps=1.0,
        admission_load=0.95, idle_load=0.05, reference_rate_mbps=10.0,
    )  # fmt: skip
    base.update(over)
    return KpiParams(**base)


# ----------------------------------------------------------------------------- hand reference


def se_36942(sinr_lin: np.ndarray) -> np.ndarray:
    """TR 36.942 attenuated Shannon, written out per point."""
    out = np.empty_like(sinr_lin)
    for i, s in enumerate(sinr_lin):
        if 10.0 * math.log10(s) < -10.0:
            out[i] = 0.0
        else:
            out[i] = min(0.6 * math.log2(1.0 + s), 4.4)
    return out


class Reference:
    """Every KPI of a radio state, in float64, one explicit loop at a time."""

    def __init__(self, serving, s_mw, i_mw, users, n_cells, p: KpiParams, dist=None, limit=None):
        self.serving = np.asarray(serving)
        self.s = np.asarray(s_mw, float)
        self.i = np.asarray(i_mw, float)
        self.u = np.asarray(users, float)
        self.sinr = self.s / (self.i + NOISE_MW)
        self.sinr_db = 10.0 * np.log10(self.sinr)
        self.rsrp_dbm = 10.0 * np.log10(self.s)
        self.se = se_36942(self.sinr)
        self.peak = p.bandwidth_mhz * self.se
        self.load = np.zeros(n_cells)
        for k in range(len(self.u)):
            if self.peak[k] > 0:
                self.load[self.serving[k]] += self.u[k] * p.user_rate_mbps / self.peak[k]
        self.carried = np.minimum(self.load, p.admission_load)
        self.admitted = np.array([
            c / rho if rho > c else 1.0 for c, rho in zip(self.carried, self.load, strict=True)
        ])  # fmt: skip
        #: the admitted flows' throughput, and the mean throughput per unit of demand
        self.flow_rate = np.array([
            self.peak[k] * (1.0 - self.carried[self.serving[k]]) for k in range(len(self.u))
        ])  # fmt: skip
        a = self.admitted[self.serving]
        self.rate = np.where(self.peak > 0, self.flow_rate * a, 0.0)
        total = self.u.sum()
        ok = (self.rsrp_dbm >= p.rsrp_min_dbm) & (self.sinr_db >= p.sinr_min_db)
        self.coverage = self.u[ok].sum() / total
        self.mean_sinr_db = (self.u * self.sinr_db).sum() / total
        self.mean_rate = (self.u * self.rate).sum() / total
        floor, ref = math.log10(1e-3), math.log10(p.reference_rate_mbps)
        served = np.log10(np.maximum(self.flow_rate, 1e-3)) - ref
        log_rate = np.where(self.peak > 0, a * served + (1 - a) * (floor - ref), floor - ref)
        self.mean_log_rate = (self.u * log_rate).sum() / total
        self.weight = np.maximum(self.carried, p.idle_load)
        blocked = np.where(self.peak > 0, self.u * (1 - a), self.u)
        self.unserved_share = blocked.sum() / total
        self.log_rate = log_rate
        if dist is not None:
            over = np.array([dist[k] > limit[self.serving[k]] for k in range(len(self.u))])
            self.overshoot = self.u[over].sum() / total

    def throughput_sample(self) -> tuple[np.ndarray, np.ndarray]:
        """Every demand's throughput (admitted flows at their rate, blocked or unserved demand
        at the 1e-3 Mbps floor) and its weight, for percentiles."""
        a = np.where(self.peak > 0, self.admitted[self.serving], 0.0)
        values = np.concatenate([np.maximum(self.flow_rate, 1e-3), np.full(len(self.u), 1e-3)])
        return values, np.concatenate([self.u * a, self.u * (1 - a)])


def make_state(serving, s_mw, i_mw) -> RadioState:
    return RadioState(
        serving_cell=np.asarray(serving, np.int32),
        serving_mw=np.asarray(s_mw, np.float32),
        interference_mw=np.asarray(i_mw, np.float32),
        noise_mw=NOISE_MW,
    )


def run_kpis(serving, s_mw, i_mw, users, n_cells=2, p=None, dist=None, limit=None, active=None):
    """compute_kpis with one site per cell; `dist` is each point's distance to its server."""
    p = p or params()
    n = len(users)
    serving = np.asarray(serving)
    site_distance = np.full((n_cells, n), 10.0, np.float32)
    if dist is not None:
        site_distance[serving, np.arange(n)] = dist
    limit = np.full(n_cells, 1e9) if limit is None else np.asarray(limit, float)
    active = np.ones(n_cells, bool) if active is None else np.asarray(active, bool)
    return compute_kpis(
        make_state(serving, s_mw, i_mw), np.asarray(users, np.float32), site_distance,
        np.arange(n_cells, dtype=np.int64), limit, active, p,
    )  # fmt: skip


# Six points, two cells. SINR targets (dB) and RSRP (dBm) chosen away from every threshold:
#   p0 cell 0: RSRP −90, SINR ≈ 20 → covered
#   p1 cell 0: RSRP −120 (weak),  SINR ≈ 7 → not covered (RSRP)
#   p2 cell 0: RSRP −80, SINR 50 → SE capped at 4.4, covered
#   p3 cell 1: RSRP −95, SINR −8 (poor) → not covered, SE > 0 but small
#   p4 cell 1: RSRP −100, SINR −12 → SE = 0, throughput 0
#   p5 cell 1: RSRP −100, SINR 3 → covered
SINR_DB = np.array([20.0, 7.0, 50.0, -8.0, -12.0, 3.0])
RSRP_DBM = np.array([-90.0, -120.0, -80.0, -95.0, -100.0, -100.0])
SERVING = np.array([0, 0, 0, 1, 1, 1])
USERS = np.array([2.0, 1.0, 0.5, 1.5, 1.0, 3.0])


def six_points():
    s = 10.0 ** (RSRP_DBM / 10.0)
    # I + N = S / SINR
    i = s / 10.0 ** (SINR_DB / 10.0) - NOISE_MW
    assert np.all(i >= 0)
    return SERVING, s, i, USERS


# ----------------------------------------------------------------------------- tests


def test_sinr_and_spectral_efficiency_by_hand():
    serving, s, i, users = six_points()
    kpis = run_kpis(serving, s, i, users)
    np.testing.assert_allclose(kpis.sinr_db, SINR_DB, atol=1e-3)
    # peak = B · SE; the load here is small, so throughput = peak · (1 − ρ)
    ref = Reference(serving, s, i, users, 2, params())
    se_by_hand = [
        0.6 * math.log2(1 + 10**2.0), 0.6 * math.log2(1 + 10**0.7), 4.4,
        0.6 * math.log2(1 + 10**-0.8), 0.0, 0.6 * math.log2(1 + 10**0.3),
    ]  # fmt: skip
    np.testing.assert_allclose(ref.se, se_by_hand, rtol=1e-9)
    np.testing.assert_allclose(kpis.rate_mbps, ref.rate, rtol=1e-4)
    assert kpis.rate_mbps[4] == 0.0  # below −10 dB: no service
    # the cap: 50 dB would be 0.6 · log2(1e5) ≈ 9.97 bit/s/Hz uncapped
    rho0 = ref.load[0]
    assert kpis.rate_mbps[2] == pytest.approx(B_MHZ * 4.4 * (1 - rho0), rel=1e-4)


def test_spectral_efficiency_threshold_and_cap_edges():
    """SE just above −10 dB is 0.6 · log2(1 + 0.1…), just below it 0; 4.4 from ≈ 22 dB."""
    sinr_db = np.array([-10.2, -9.8, 21.0, 23.0])
    s = np.full(4, dbm(-80.0))
    i = s / 10.0 ** (sinr_db / 10.0) - NOISE_MW
    users = np.full(4, 1e-6)  # negligible load: throughput ≈ peak
    kpis = run_kpis([0, 0, 1, 1], s, i, users)
    expected = B_MHZ * np.array([0.0, 0.6 * math.log2(1 + 10**-0.98), 0.6 * math.log2(1 + 10**2.1),
                                 4.4])  # fmt: skip
    np.testing.assert_allclose(kpis.rate_mbps, expected, rtol=1e-4)


def test_coverage_share_by_thresholds():
    serving, s, i, users = six_points()
    kpis = run_kpis(serving, s, i, users)
    # covered: p0, p2, p5 (RSRP ≥ −110 and SINR ≥ −6)
    assert kpis.coverage == pytest.approx((2.0 + 0.5 + 3.0) / USERS.sum(), rel=1e-6)
    ref = Reference(serving, s, i, users, 2, params())
    assert kpis.coverage == pytest.approx(ref.coverage, rel=1e-6)
    # thresholds are parameters: at RSRP ≥ −125 p1 is covered too; at SINR ≥ −9, p3 as well
    loose = run_kpis(serving, s, i, users, p=params(rsrp_min_dbm=-125.0, sinr_min_db=-9.0))
    assert loose.coverage == pytest.approx((2 + 1 + 0.5 + 1.5 + 3) / USERS.sum(), rel=1e-6)
    strict = run_kpis(serving, s, i, users, p=params(sinr_min_db=10.0))
    assert strict.coverage == pytest.approx((2.0 + 0.5) / USERS.sum(), rel=1e-6)


def test_per_cell_shares():
    serving, s, i, users = six_points()
    kpis = run_kpis(serving, s, i, users)
    cell = kpis.cell
    u0, u1 = 3.5, 5.5  # users of cell 0 and cell 1
    total = u0 + u1
    # served share × number of cells
    np.testing.assert_allclose(cell[:, COL["served_share"]], [u0 / total * 2, u1 / total * 2],
                               rtol=1e-5)  # fmt: skip
    # poor SINR (< −6 dB): p3, p4 in cell 1
    np.testing.assert_allclose(cell[:, COL["poor_sinr_share"]], [0.0, 2.5 / u1], rtol=1e-5)
    # weak RSRP (< −110 dBm): p1 in cell 0
    np.testing.assert_allclose(cell[:, COL["weak_rsrp_share"]], [1.0 / u0, 0.0], rtol=1e-5)
    # covered: p0, p2 | p5
    np.testing.assert_allclose(cell[:, COL["covered_share"]], [2.5 / u0, 3.0 / u1], rtol=1e-5)
    # demand-weighted mean SINR per cell
    mean0 = (2 * 20 + 1 * 7 + 0.5 * 50) / u0
    mean1 = (1.5 * -8 + 1 * -12 + 3 * 3) / u1
    np.testing.assert_allclose(cell[:, COL["mean_sinr_db"]], [mean0, mean1], atol=1e-3)
    # interference + noise over noise, averaged in linear terms over the cell's demand
    in0 = (2 * (i[0] + NOISE_MW) + 1 * (i[1] + NOISE_MW) + 0.5 * (i[2] + NOISE_MW)) / u0
    in1 = (1.5 * (i[3] + NOISE_MW) + 1 * (i[4] + NOISE_MW) + 3 * (i[5] + NOISE_MW)) / u1
    np.testing.assert_allclose(
        cell[:, COL["interference_over_noise_db"]],
        10 * np.log10([in0 / NOISE_MW, in1 / NOISE_MW]), atol=1e-3,
    )  # fmt: skip
    # the network mean SINR
    assert kpis.mean_sinr_db == pytest.approx((USERS * SINR_DB).sum() / total, abs=1e-3)
    assert kpis.total_users == pytest.approx(total, rel=1e-6)


@pytest.mark.parametrize("user_rate", [0.2, 1.0, 5.0, 40.0])
def test_cell_load_throughput_and_next_weight(user_rate):
    """ρ per serving cell, admission up to admission_load, blocked demand, next weights."""
    serving, s, i, users = six_points()
    p = params(user_rate_mbps=user_rate, admission_load=0.9, idle_load=0.07)
    kpis = run_kpis(serving, s, i, users, p=p)
    ref = Reference(serving, s, i, users, 2, p)
    # loads by hand for cell 0 (p0..p2) and cell 1 (p3, p5; p4 has SE 0 and adds nothing)
    se = ref.se
    rho0 = user_rate * (2 / (B_MHZ * se[0]) + 1 / (B_MHZ * se[1]) + 0.5 / (B_MHZ * se[2]))
    rho1 = user_rate * (1.5 / (B_MHZ * se[3]) + 3 / (B_MHZ * se[5]))
    np.testing.assert_allclose(kpis.cell_load, [rho0, rho1], rtol=1e-4)
    np.testing.assert_allclose(kpis.cell[:, COL["load"]], [rho0, rho1], rtol=1e-4)
    carried = np.minimum([rho0, rho1], 0.9)
    admitted = [min(1.0, 0.9 / rho) for rho in (rho0, rho1)]
    expected_rate = [
        B_MHZ * se[k] * (1 - carried[serving[k]]) * admitted[serving[k]] for k in range(6)
    ]  # fmt: skip
    np.testing.assert_allclose(kpis.rate_mbps, expected_rate, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(kpis.next_weight, np.maximum(carried, 0.07), rtol=1e-4)
    assert kpis.mean_rate_mbps == pytest.approx(ref.mean_rate, rel=1e-4)
    # load balance: the spread of the carried loads over the two cells
    assert kpis.load_std == pytest.approx(np.std(carried), rel=1e-4, abs=1e-7)
    # p4 (SE 0) is unserved whatever the load; an overloaded cell blocks 1 − 0.9/ρ of the rest
    unserved1 = (1.0 + 4.5 * (1 - admitted[1])) / 5.5
    np.testing.assert_allclose(kpis.cell_guard[:, 0], [1 - admitted[0], unserved1], rtol=1e-4)
    assert kpis.unserved_share == pytest.approx(ref.unserved_share, rel=1e-4)
    if user_rate >= 5.0:  # cell 1 is overloaded: it carries 0.9, its flows get 10 % of peak
        assert rho1 > 1.0
        assert kpis.rate_mbps[5] == pytest.approx(B_MHZ * se[5] * 0.1 * 0.9 / rho1, rel=1e-4)
        assert kpis.next_weight[1] == pytest.approx(0.9)
    overloaded = 3.5 * (rho0 > 0.9) + 5.5 * (rho1 > 0.9)  # demand offered to overloaded cells
    assert kpis.overload_share == pytest.approx(overloaded / USERS.sum(), abs=1e-9)


def test_cell_without_users_interferes_at_idle_load():
    serving, s, i, users = six_points()
    serving = np.zeros(6, int)  # everything on cell 0; cell 1 serves nobody
    p = params(idle_load=0.123)
    kpis = run_kpis(serving, s, i, users, p=p)
    assert kpis.cell_load[1] == 0.0
    assert kpis.next_weight[1] == pytest.approx(0.123)
    ref = Reference(serving, s, i, users, 2, p)
    assert kpis.next_weight[0] == pytest.approx(max(min(ref.load[0], 0.95), 0.123), rel=1e-4)
    # a cell without users reports 0 for its per-user averages
    assert np.all(kpis.cell[1] == 0.0)
    # an inactive cell does not enter the load balance
    off = run_kpis(serving, s, i, users, p=p, active=[True, False])
    assert off.load_std == 0.0


def test_mean_log_rate_by_hand():
    serving, s, i, users = six_points()
    for ref_rate in (1.0, 10.0, 3.0):
        p = params(reference_rate_mbps=ref_rate, user_rate_mbps=2.0)
        kpis = run_kpis(serving, s, i, users, p=p)
        ref = Reference(serving, s, i, users, 2, p)
        # p4 is unserved: its log throughput is floored at 1e-3 Mbps
        assert kpis.mean_log_rate == pytest.approx(ref.mean_log_rate, abs=1e-5)
        logs = ref.log_rate
        per_cell = [
            (users[:3] * logs[:3]).sum() / users[:3].sum(),
            # the unserved p4 counts at the floor in its cell's mean as in the network's
            (users[3:] * logs[3:]).sum() / users[3:].sum(),
        ]
        np.testing.assert_allclose(kpis.cell[:, COL["mean_log_rate"]], per_cell, atol=1e-5)


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Smallest value whose cumulative weight reaches q of the total."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, q * cum[-1], side="left"))
    return float(values[order][k])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fifth_percentile_within_histogram_resolution(seed):
    rng = np.random.default_rng(seed)
    n = 300
    serving = rng.integers(0, 2, n)
    sinr_db = rng.uniform(-9.0, 25.0, n)
    s = 10.0 ** (rng.uniform(-100.0, -70.0, n) / 10.0)
    i = s / 10.0 ** (sinr_db / 10.0) - NOISE_MW
    users = rng.exponential(1.0, n) * (rng.random(n) < 0.8)  # some points without demand
    p = params(user_rate_mbps=0.05 * (seed + 1))
    kpis = run_kpis(serving, s, i, users, p=p)
    ref = Reference(serving, s, i, users, 2, p)
    np.testing.assert_allclose(kpis.rate_mbps, ref.rate, rtol=2e-4)
    r5 = weighted_percentile(*ref.throughput_sample(), 0.05)
    assert abs(math.log10(kpis.p5_rate_mbps) - math.log10(r5)) <= 0.01 + 1e-4
    # the other network KPIs over the same random state
    assert kpis.mean_log_rate == pytest.approx(ref.mean_log_rate, abs=1e-4)
    assert kpis.coverage == pytest.approx(ref.coverage, abs=1e-6)
    assert kpis.mean_rate_mbps == pytest.approx(ref.mean_rate, rel=2e-4)


def test_fifth_percentile_weights_demand():
    """Two rates: the 5th percentile is the low one only when it carries ≥ 5 % of the demand."""
    sinr_db = np.array([0.0, 20.0])
    s = np.full(2, dbm(-80.0))
    i = s / 10.0 ** (sinr_db / 10.0) - NOISE_MW
    p = params(user_rate_mbps=1e-6)
    rate_low = B_MHZ * 0.6 * math.log2(2.0)
    rate_high = B_MHZ * 0.6 * math.log2(101.0)
    for w_low, expected in ((0.06, rate_low), (0.04, rate_high)):
        kpis = run_kpis([0, 1], s, i, [w_low, 1.0 - w_low], p=p)
        assert abs(math.log10(kpis.p5_rate_mbps / expected)) <= 0.01 + 1e-4


def test_overshoot_share_with_a_point_beyond_the_limit():
    serving, s, i, users = six_points()
    dist = np.array([100.0, 200.0, 50.0, 395.0, 300.0, 420.0])
    # only p5 (cell 1, 420 m > 400 m) is beyond its cell's limit; p3 (395 m) just inside it
    limit = [350.0, 400.0]
    kpis = run_kpis(serving, s, i, users, dist=dist, limit=limit)
    assert kpis.overshoot_share == pytest.approx(3.0 / USERS.sum(), rel=1e-6)
    np.testing.assert_allclose(kpis.cell[:, COL["overshoot_share"]], [0.0, 3.0 / 5.5], rtol=1e-5)
    ref = Reference(serving, s, i, users, 2, params(), dist=dist, limit=limit)
    assert kpis.overshoot_share == pytest.approx(ref.overshoot, rel=1e-6)
    # a tighter limit on cell 0 makes p1 (200 m) overshoot too
    tighter = run_kpis(serving, s, i, users, dist=dist, limit=[150.0, 400.0])
    assert tighter.overshoot_share == pytest.approx((1.0 + 3.0) / USERS.sum(), rel=1e-6)


def test_network_dict_and_shapes():
    serving, s, i, users = six_points()
    kpis = run_kpis(serving, s, i, users)
    net = kpis.network()
    assert set(net) >= {"coverage", "mean_rate_mbps", "p5_rate_mbps", "mean_log_rate",
                        "mean_sinr_db", "load_std", "overshoot_share"}  # fmt: skip
    assert all(isinstance(v, float) and math.isfinite(v) for v in net.values())
    assert kpis.cell.shape == (2, len(KPI_COLUMNS))
    assert kpis.rate_mbps.shape == kpis.sinr_db.shape == (6,)


def test_no_demand_gives_zero_kpis_not_nan():
    serving, s, i, _ = six_points()
    kpis = run_kpis(serving, s, i, np.zeros(6))
    net = kpis.network()
    assert all(math.isfinite(v) for v in net.values())
    assert kpis.coverage == 0.0
    assert np.all(np.isfinite(kpis.cell))


def test_point_with_no_cell_on_air_is_unserved_demand():
    """serving power 0 (every cell off): the point counts in the total demand only."""
    serving, s, i, users = six_points()
    s = s.copy()
    s[0] = 0.0  # p0 (2 users, cell 0) has no server
    kpis = run_kpis(serving, s, i, users)
    assert kpis.rate_mbps[0] == 0.0
    assert kpis.coverage == pytest.approx((0.5 + 3.0) / USERS.sum(), rel=1e-6)
    # cell 0 now serves p1 and p2 only
    np.testing.assert_allclose(kpis.cell[0, COL["served_share"]], 1.5 / USERS.sum() * 2, rtol=1e-5)
    ref = Reference(serving[1:], s[1:], i[1:], users[1:], 2, params())
    np.testing.assert_allclose(kpis.cell_load, ref.load, rtol=1e-4)
    floor = math.log10(1e-3) - math.log10(10.0)
    mean_log = (2.0 * floor + (users[1:] * ref.log_rate).sum()) / 9
    assert kpis.mean_log_rate == pytest.approx(mean_log, abs=1e-5)


# ----------------------------------------------------------------- overload as unserved traffic


def test_one_overloaded_cell_by_hand():
    """One cell, two points: offered load 2.5 → it carries 0.9 and blocks 1 − 0.9/2.5 = 64 % of
    its demand; admitted flows get 10 % of their peak."""
    sinr_db = np.array([10.0, 20.0])
    s = np.full(2, dbm(-80.0))
    i = s / 10.0 ** (sinr_db / 10.0) - NOISE_MW
    peak = B_MHZ * np.minimum(0.6 * np.log2(1.0 + 10.0 ** (sinr_db / 10.0)), 4.4)
    users = np.array([1.0, 3.0])
    rate = 2.5 / (users / peak).sum()  # the offered rate per user that makes ρ = 2.5
    p = params(user_rate_mbps=rate, admission_load=0.9, idle_load=0.05)
    kpis = run_kpis([0, 0], s, i, users, n_cells=1, p=p)
    assert kpis.cell_load[0] == pytest.approx(2.5, rel=1e-5)
    admitted = 0.9 / 2.5
    np.testing.assert_allclose(kpis.rate_mbps, peak * 0.1 * admitted, rtol=1e-5)
    assert kpis.unserved_share == pytest.approx(1 - admitted, rel=1e-5)
    assert kpis.cell_guard[0, 0] == pytest.approx(1 - admitted, rel=1e-5)
    assert kpis.overload_share == 1.0
    assert kpis.excess_load == pytest.approx(2.5 - 0.9, rel=1e-5)  # resources it cannot grant
    assert kpis.next_weight[0] == pytest.approx(0.9)
    assert kpis.mean_rate_mbps == pytest.approx((users * peak * 0.1).sum() / 4 * admitted, rel=1e-5)
    assert kpis.p5_rate_mbps == pytest.approx(1e-3, rel=0.03)  # 64 % blocked: p5 at the floor


def test_two_cells_only_the_overloaded_one_blocks():
    serving, s, i, users = six_points()
    p = params(user_rate_mbps=5.0, admission_load=0.9)
    kpis = run_kpis(serving, s, i, users, p=p)
    ref = Reference(serving, s, i, users, 2, p)
    assert ref.load[0] < 0.9 < ref.load[1]
    assert kpis.cell_guard[0, 0] == 0.0  # cell 0 carries all it is offered
    np.testing.assert_allclose(kpis.cells()["excess_load"], [0.0, ref.load[1] - 0.9], rtol=1e-5)
    assert kpis.excess_load == pytest.approx(ref.load[1] - 0.9, rel=1e-5)
    assert kpis.unserved_share == pytest.approx(ref.unserved_share, rel=1e-5)
    assert kpis.mean_log_rate == pytest.approx(ref.mean_log_rate, abs=1e-5)


def test_interference_weight_is_continuous_in_the_load():
    """A cell with almost no users interferes like an idle one (reference signals), not less."""
    serving, s, i, users = six_points()
    p = params(idle_load=0.05)
    weights = []
    for scale in (0.0, 1e-6, 1e-3):
        u = users.copy()
        u[3:] *= scale  # cell 1's demand → 0
        weights.append(run_kpis(serving, s, i, u, p=p).next_weight[1])
    np.testing.assert_allclose(weights, 0.05, rtol=1e-6)


def test_weak_and_over_coverage_by_thresholds():
    serving, s, i, users = six_points()
    kpis = run_kpis(serving, s, i, users, p=params(weak_rsrp_dbm=-97.0, overcoverage_sinr_db=5.0))
    # weak (RSRP < −97): p1 (−120), p4 (−100), p5 (−100); over-coverage (RSRP ≥ −97 and
    # SINR ≤ 5): p3 (−95 dBm, −8 dB)
    total = USERS.sum()
    assert kpis.weak_coverage_share == pytest.approx((1.0 + 1.0 + 3.0) / total, rel=1e-6)
    assert kpis.overcoverage_share == pytest.approx(1.5 / total, rel=1e-6)
    np.testing.assert_allclose(kpis.cell_guard[:, 1], [1.0 / 3.5, 4.0 / 5.5], rtol=1e-5)
    np.testing.assert_allclose(kpis.cell_guard[:, 2], [0.0, 1.5 / 5.5], rtol=1e-5)
    assert set(kpis.cells()) >= {"unserved_share", "weak_coverage_share", "load"}


@given(
    sinr_db=hnp.arrays(np.float64, 8, elements=st.floats(-9.0, 35.0)),
    users=hnp.arrays(np.float64, 8, elements=st.floats(0.01, 5.0)),
    loads=st.tuples(st.floats(0.05, 0.85), st.floats(0.95, 5.0)),
    moved=st.integers(0, 3),
)
@settings(max_examples=200, deadline=None)
def test_moving_demand_into_an_overloaded_cell_only_blocks_more(sinr_db, users, loads, moved):
    """Re-serving a point of a cell with spare capacity by an already overloaded cell (same
    radio values): the overloaded cell carries no more than before (its admission limit) and
    the network's unserved demand never falls. No cap to exploit: the extra demand is blocked."""
    serving = np.array([0] * 4 + [1] * 4)
    s = np.full(8, dbm(-85.0))
    i = s / 10.0 ** (sinr_db / 10.0) - NOISE_MW
    peak = B_MHZ * np.minimum(0.6 * np.log2(1.0 + 10.0 ** (sinr_db / 10.0)), 4.4)
    # scale each cell's demand to the drawn offered loads (cell 0 below, cell 1 above 0.9)
    users = users.copy()
    for c, rho in enumerate(loads):
        mine = serving == c
        users[mine] *= rho / (users[mine] / peak[mine]).sum()
    p = params(user_rate_mbps=1.0, admission_load=0.9)
    before = run_kpis(serving, s, i, users, p=p)
    assert before.cell_load[1] > 0.9 >= before.cell_load[0]
    after_serving = serving.copy()
    after_serving[moved] = 1
    after = run_kpis(after_serving, s, i, users, p=p)
    assert after.next_weight[1] == pytest.approx(0.9)  # carries its limit, no more
    assert after.unserved_share >= before.unserved_share - 1e-6
    assert after.overload_share >= before.overload_share - 1e-6


def test_moving_demand_into_an_overloaded_cell_rarely_raises_the_reward():
    """The reward itself (default weights) over 2 000 random two-cell cases of the property
    above. It can rise: re-serving a very expensive edge user (SINR near −10 dB, its flow
    taking many times the average resources) by the overloaded cell, where it is blocked, frees
    its old cell's capacity for that cell's other users — the proportional-fair utility's own
    trade-off, with the blocked user at the utility's floor and the unserved term charged. This
    measures how rare and small that is (issue 14: 24 of 20 000 cases, worst +0.06 per step),
    and that the overloaded cell is not the cause: leaving the same demand unserved where it is
    raises the reward too (here +0.075 where the move gains +0.059)."""
    from cellsim.contract import RewardInputs, reward_terms, total_reward
    from cellsim.scenario import RewardWeights

    weights, rng = RewardWeights(), np.random.default_rng(0)
    serving = np.array([0] * 4 + [1] * 4)
    s = np.full(8, dbm(-85.0))
    p = params(user_rate_mbps=1.0, admission_load=0.9)
    gains, drop_gains = [], []
    for _ in range(2000):
        sinr_db = rng.uniform(-9.0, 35.0, 8)
        users = rng.uniform(0.01, 5.0, 8)
        i = s / 10.0 ** (sinr_db / 10.0) - NOISE_MW
        peak = B_MHZ * np.minimum(0.6 * np.log2(1.0 + 10.0 ** (sinr_db / 10.0)), 4.4)
        for c, rho in enumerate((rng.uniform(0.05, 0.85), rng.uniform(0.95, 5.0))):
            mine = serving == c
            users[mine] *= rho / (users[mine] / peak[mine]).sum()
        point = rng.integers(0, 4)
        moved = serving.copy()
        moved[point] = 1
        dropped = i.copy()
        dropped[point] = s[point] * 100.0  # SINR −20 dB: served by no cell at all
        reward = [total_reward(reward_terms(RewardInputs(run_kpis(sv, s, ii, users, p=p),
                                                         np.zeros(2), 10.0)), weights)
                  for sv, ii in ((serving, i), (moved, i), (serving, dropped))]  # fmt: skip
        gains.append(reward[1] - reward[0])
        drop_gains.append(reward[2] - reward[0])
    gains, drop_gains = np.array(gains), np.array(drop_gains)
    assert np.mean(gains > 1e-9) < 0.005  # rare
    assert gains.max() < 0.1  # and small (here: 1 case, +0.059)
    assert np.median(gains) < -0.1  # a typical move costs ≈ 0.15
    # the overloaded cell is not what pays: wherever the move raised the reward, leaving that
    # demand unserved in its own cell (no overloaded cell involved) raises it too
    raised = gains > 1e-9
    assert raised.any() and np.all(drop_gains[raised] > 0), (gains[raised], drop_gains[raised])


def overload_move_gains(weights, cases: int, old_load: tuple[float, float], sinr_min_db: float,
                        seed: int) -> np.ndarray:  # fmt: skip
    """Per random two-cell case (cell 0 at `old_load`, cell 1 beyond admission 0.9), the reward's
    change when one of cell 0's points is re-served by cell 1 (same radio values): the cases of
    the analysis script behind RESULTS' weights (agents/overload_shedding.py)."""
    from cellsim.agents.overload_shedding import term_changes

    changes = term_changes(cases, old_load, sinr_min_db, seed)
    return sum(getattr(weights, name) * change for name, change in changes.items())


@pytest.mark.parametrize(("old_load", "sinr_min_db"), [((0.05, 0.9), -9.0), ((0.8, 0.9), -9.99)])
def test_with_the_guarantee_weight_moving_demand_into_an_overloaded_cell_never_pays(
    old_load, sinr_min_db
):
    """Issue 14's property, on the reward with `excess_load` at `overload_guarantee_weight`
    (the other terms at their defaults): 1 500 random two-cell cases, the old cell up to its
    admission limit and its points down to the SINR where service ends (where the default
    reward's exceptions are most frequent, 2 % of cases). Never raised, beyond the p5
    histogram's resolution the bound allows (edge × 0.01). The term is what does it: with it
    off (the default reward) the same cases do raise the reward (3 and 25 of them)."""
    from cellsim.contract import overload_guarantee_weight
    from cellsim.scenario import RewardWeights

    weight = overload_guarantee_weight(RewardWeights(), 0.9)
    assert weight == pytest.approx(1.5 / (0.1 * math.log(10.0)))
    guaranteed = overload_move_gains(RewardWeights(excess_load=weight), 1500, old_load,
                                     sinr_min_db, seed=7)  # fmt: skip
    assert guaranteed.max() <= RewardWeights().edge * 0.01
    assert np.median(guaranteed) < -0.1
    default = overload_move_gains(RewardWeights(), 1500, old_load, sinr_min_db, seed=7)
    assert (default > 1e-9).any()


@given(
    sinr_db=hnp.arrays(np.float64, 8, elements=st.floats(-9.99, 35.0)),
    users=hnp.arrays(np.float64, 8, elements=st.floats(0.01, 5.0)),
    loads=st.tuples(st.floats(0.05, 0.9), st.floats(0.9001, 5.0)),
    moved=st.integers(0, 3),
    admission=st.floats(0.5, 0.95),
)
@settings(max_examples=300, deadline=None)
def test_overload_guarantee_weight_bounds_every_move(sinr_db, users, loads, moved, admission):
    """The same property searched by hypothesis, at any admission limit: the old cell at or
    below it, the other beyond it; the bound scales with 1 / (1 − admission)."""
    from cellsim.contract import (
        RewardInputs,
        overload_guarantee_weight,
        reward_terms,
        total_reward,
    )
    from cellsim.scenario import RewardWeights

    weights = RewardWeights(excess_load=overload_guarantee_weight(RewardWeights(), admission))
    serving = np.array([0] * 4 + [1] * 4)
    s = np.full(8, dbm(-85.0))
    i = s / 10.0 ** (sinr_db / 10.0) - NOISE_MW
    peak = B_MHZ * np.minimum(0.6 * np.log2(1.0 + 10.0 ** (sinr_db / 10.0)), 4.4)
    users = users.copy()
    for c, rho in enumerate((loads[0] * admission / 0.9, admission + (loads[1] - 0.9))):
        mine = serving == c
        users[mine] *= rho / (users[mine] / peak[mine]).sum()
    p = params(user_rate_mbps=1.0, admission_load=admission)
    after_serving = serving.copy()
    after_serving[moved] = 1
    before, after = (run_kpis(sv, s, i, users, p=p) for sv in (serving, after_serving))
    assume(before.cell_load[1] > admission >= before.cell_load[0])  # float32 rounding aside
    rewards = [total_reward(reward_terms(RewardInputs(k, np.zeros(2), 10.0)), weights)
               for k in (before, after)]  # fmt: skip
    gain = rewards[1] - rewards[0]
    assert gain <= weights.edge * 0.01 + 1e-6
