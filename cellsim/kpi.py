"""KPIs of one radio state under load: coverage, SINR, user throughput, overshoot, load balance.

The load model (docs/domain.md): a cell serves its users' flows in processor sharing. A user at
point p has peak rate C_p = B · SE(SINR_p) (TR 36.942 attenuated Shannon); the cell's offered
load is the share of its resources its users need, ρ_c = Σ_p users_p · rate / C_p. A cell admits
flows up to `admission_load` utilisation: ρ̂_c = min(ρ_c, admission_load) is carried, the share
1 − ρ̂_c / ρ_c of its demand is blocked (unserved: rate 0, the log-utility floor), and an admitted
flow gets C_p · (1 − ρ̂_c) (the M/G/1-PS mean flow throughput). So pushing demand into an
overloaded cell blocks more of it; ρ_c − ρ̂_c is its excess load, the resources asked of it that
it cannot grant (the `excess_load` reward term: from the weight `overload_guarantee_weight`
names, moving demand into an overloaded cell never raises the reward). A cell interferes in
proportion to its carried load, never below `idle_load` (reference signals): max(ρ̂_c,
idle_load), continuous in the load. Demand whose SINR is below SINR_MIN_SE_DB cannot be served:
unserved too. SINR and load depend on each other: the simulator solves the two to a tolerance
(`env.load`). Guard KPIs besides: unserved and overload shares, weak coverage (RSRP below
`weak_rsrp_dbm`, the operator's threshold) and over-coverage (RSRP above it with SINR ≤
`overcoverage_sinr_db`, as Meta RADP's CCO engine defines it).

Everything per point is one numba pass; per-cell sums are scattered by serving cell, so a step
costs O(points), never O(points × cells).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from cellsim.contract import GUARD_COLUMNS, KPI_COLUMN, KPI_COLUMNS, MIN_RATE_MBPS
from cellsim.kernels import JIT_OPTIONS
from cellsim.sparse_kernels import add_weight_change

if TYPE_CHECKING:
    from cellsim.engine import RadioState

SE_ALPHA = 0.6  # TR 36.942 attenuated Shannon: SE = α log2(1 + SINR)
SE_MAX_BPS_HZ = 4.4
SINR_MIN_SE_DB = -10.0  # below this SE = 0: the user cannot be served
_HIST_LO, _HIST_HI, _HIST_BINS = -3.0, 4.0, 700  # log10 Mbps, 0.01 decade per bin
ANDERSON_DEPTH = 2  # iterates the load fixed point's acceleration looks back over
# An iterate leaves a cell's weight where it would move by less than this share of the
# tolerance: its interference row is not touched (case1: 940 → 770 µs a step, same iterates)
WEIGHT_STEP_MIN = 0.1

# The per-cell columns of `Kpis.cell`, in the contract's order (cellsim.contract.KPI_COLUMNS):
# module constants, so that numba compiles them in.
_LOAD = KPI_COLUMN["load"]
_SERVED = KPI_COLUMN["served_share"]
_SINR = KPI_COLUMN["mean_sinr_db"]
_POOR = KPI_COLUMN["poor_sinr_share"]
_COVERED = KPI_COLUMN["covered_share"]
_WEAK = KPI_COLUMN["weak_rsrp_share"]
_INTERFERENCE = KPI_COLUMN["interference_over_noise_db"]
_OVERSHOOT = KPI_COLUMN["overshoot_share"]
_LOG_RATE = KPI_COLUMN["mean_log_rate"]


_UNSERVED = GUARD_COLUMNS.index("unserved_share")
_WEAK_COVERAGE = GUARD_COLUMNS.index("weak_coverage_share")
_OVERCOVERAGE = GUARD_COLUMNS.index("overcoverage_share")
_EXCESS = GUARD_COLUMNS.index("excess_load")
# The network statistics `_kpi_pass` returns, by position.
_NETWORK = (
    "coverage", "mean_rate_mbps", "p5_rate_mbps", "mean_log_rate", "mean_sinr_db",
    "overshoot_share", "total_users", "load_std", "unserved_share", "overload_share",
    "weak_coverage_share", "overcoverage_share", "excess_load",
)  # fmt: skip
(_N_COVERAGE, _N_RATE, _N_P5, _N_LOG, _N_SINR, _N_OVERSHOOT, _N_TOTAL, _N_LOAD_STD,
 _N_UNSERVED, _N_OVERLOAD, _N_WEAK, _N_OVERCOVERAGE, _N_EXCESS) = range(len(_NETWORK))  # fmt: skip


@dataclass(frozen=True)
class KpiParams:
    rsrp_min_dbm: float
    sinr_min_db: float
    bandwidth_mhz: float
    user_rate_mbps: float
    admission_load: float
    idle_load: float
    reference_rate_mbps: float
    weak_rsrp_dbm: float = -100.0
    overcoverage_sinr_db: float = 0.0


@dataclass(frozen=True)
class Kpis:
    """Network KPIs, per-cell KPIs and per-point values of one step."""

    coverage: float  # share of demand with RSRP ≥ threshold and SINR ≥ threshold
    mean_rate_mbps: float  # demand-weighted mean user throughput (unserved demand at 0)
    p5_rate_mbps: float  # demand-weighted 5th percentile ("cell edge")
    mean_log_rate: float  # mean log10(rate / reference): proportional-fair utility
    mean_sinr_db: float
    load_std: float  # load balance: spread of the on-air cells' carried loads
    overshoot_share: float  # share of demand served beyond the overshoot distance
    total_users: float
    unserved_share: float  # share of demand not carried: blocked by overload or no service
    overload_share: float  # share of demand offered to cells loaded beyond admission
    excess_load: float  # Σ_c (ρ_c − ρ̂_c): load offered beyond admission, in cells' capacities
    weak_coverage_share: float  # share of demand with RSRP < kpi.weak_rsrp_dbm
    overcoverage_share: float  # RSRP ≥ kpi.weak_rsrp_dbm but SINR ≤ kpi.overcoverage_sinr_db
    cell: np.ndarray  # (n_cells, len(KPI_COLUMNS)) float32, columns named by KPI_COLUMNS
    cell_guard: np.ndarray  # (n_cells, len(GUARD_COLUMNS)) float32
    cell_load: np.ndarray  # (n_cells,) offered load ρ_c, uncapped
    next_weight: np.ndarray  # (n_cells,) interference weight for the next evaluation
    sinr_db: np.ndarray  # (n_points,)
    rate_mbps: np.ndarray  # (n_points,) mean throughput per unit of demand (blocked share at 0)

    def network(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in _NETWORK if name != "total_users"}

    def cells(self) -> dict[str, np.ndarray]:
        """Per-cell KPIs by name: the observation's columns and the guard KPIs."""
        out = {name: self.cell[:, i] for i, name in enumerate(KPI_COLUMNS)}
        out.update({name: self.cell_guard[:, i] for i, name in enumerate(GUARD_COLUMNS)})
        return out


@nb.njit(**JIT_OPTIONS)
def _kpi_pass(
    serving: np.ndarray,
    serving_mw: np.ndarray,
    interference_mw: np.ndarray,
    noise_mw: float,
    sinr_db: np.ndarray,
    peak: np.ndarray,
    log_peak: np.ndarray,
    users: np.ndarray,
    site_distance_m: np.ndarray,
    cell_site: np.ndarray,
    overshoot_limit_m: np.ndarray,
    active: np.ndarray,
    rsrp_min_mw: float,
    sinr_min_db: float,
    weak_rsrp_mw: float,
    overcoverage_sinr_db: float,
    user_rate_mbps: float,
    admission_load: float,
    idle_load: float,
    log_reference: float,
    cell_out: np.ndarray,
    guard_out: np.ndarray,
    rate_out: np.ndarray,
    weight_out: np.ndarray,
    network_out: np.ndarray,
) -> np.ndarray:
    """Scatter per-point values into per-cell sums, then user throughput under load.

    A cell's offered load ρ_c = Σ users · rate / peak rate. It admits flows up to
    `admission_load` (ρ̂_c = min(ρ_c, admission_load)); beyond it the share 1 − ρ̂_c / ρ_c of its
    demand is blocked (unserved, at rate 0), the admitted flows get peak · (1 − ρ̂_c). So moving
    demand into an overloaded cell only blocks more of it. A cell interferes in proportion to
    its carried load, never below `idle_load` (reference signals): max(ρ̂_c, idle_load).

    The transcendental parts (SINR in dB, spectral efficiency, log peak rate) come in
    precomputed by numpy's SIMD loops; this pass is arithmetic only. Returns the offered loads.
    """
    n_cells = cell_out.shape[0]
    n = serving.shape[0]
    load = np.zeros(n_cells)
    users_c = np.zeros(n_cells)
    sinr_sum = np.zeros(n_cells)
    poor = np.zeros(n_cells)
    covered = np.zeros(n_cells)
    weak = np.zeros(n_cells)
    weak_coverage = np.zeros(n_cells)
    overcoverage = np.zeros(n_cells)
    no_service = np.zeros(n_cells)
    in_sum = np.zeros(n_cells)
    over = np.zeros(n_cells)
    logr = np.zeros(n_cells)
    # Neighbouring points mostly share a server: sums run in registers over each run of points
    # of one cell and are flushed into the per-cell arrays when the server changes (adding to
    # memory at every point chains each add on the last one's store: 1.5× slower). Within a run
    # it is branch-free (selects, not jumps): the conditions vary from point to point.
    run = serving[0] if n > 0 else 0  # a server is never −1: it marks the end of the points
    s_users = s_sinr = s_poor = s_covered = s_weak = s_weak_coverage = s_overcoverage = 0.0
    s_in = s_over = s_load = s_no_service = 0.0
    for p in range(n + 1 if n > 0 else 0):
        c = serving[p] if p < n else -1
        if c != run:
            users_c[run] += s_users
            sinr_sum[run] += s_sinr
            poor[run] += s_poor
            covered[run] += s_covered
            weak[run] += s_weak
            weak_coverage[run] += s_weak_coverage
            overcoverage[run] += s_overcoverage
            in_sum[run] += s_in
            over[run] += s_over
            load[run] += s_load
            no_service[run] += s_no_service
            s_users = s_sinr = s_poor = s_covered = s_weak = s_weak_coverage = 0.0
            s_overcoverage = s_in = s_over = s_load = s_no_service = 0.0
            if p == n:
                break
            run = c
        on = serving_mw[p] > 0.0  # a cell on air serves it
        u = users[p] if on else np.float32(0.0)
        sdb = sinr_db[p]
        s_users += u
        s_sinr += u * sdb
        rsrp_ok = serving_mw[p] >= rsrp_min_mw
        is_poor = sdb < sinr_min_db
        s_poor += u if is_poor else 0.0
        s_covered += u if rsrp_ok and not is_poor else 0.0
        s_weak += 0.0 if rsrp_ok else u
        is_weak = serving_mw[p] < weak_rsrp_mw
        s_weak_coverage += u if is_weak else 0.0
        s_overcoverage += u if sdb <= overcoverage_sinr_db and not is_weak else 0.0
        s_in += u * (interference_mw[p] + noise_mw)
        s_over += u if site_distance_m[cell_site[c], p] > overshoot_limit_m[c] else 0.0
        has_rate = peak[p] > 0.0
        s_load += u * user_rate_mbps / max(peak[p], np.float32(1e-30)) if has_rate else 0.0
        s_no_service += 0.0 if has_rate else u
    carried = np.empty(n_cells)
    admitted = np.empty(n_cells)
    log_idle = np.empty(n_cells)
    for c in range(n_cells):
        carried[c] = min(load[c], admission_load)
        admitted[c] = carried[c] / load[c] if load[c] > carried[c] else 1.0
        log_idle[c] = np.log10(1.0 - carried[c])
    hist = np.zeros(_HIST_BINS)
    total = 0.0
    rate_sum = 0.0
    log_sum = 0.0
    sinr_total = 0.0
    blocked_total = 0.0
    floor = np.log10(MIN_RATE_MBPS)
    floor_bin = min(max(int((floor - _HIST_LO) * (_HIST_BINS / (_HIST_HI - _HIST_LO))), 0),
                    _HIST_BINS - 1)  # fmt: skip
    to_bin = _HIST_BINS / (_HIST_HI - _HIST_LO)
    for p in range(n):  # branch-free too: unserved demand has a = 0, all of it blocked
        u = users[p]
        on = serving_mw[p] > 0.0
        c = serving[p]
        total += u
        sinr_total += u * sinr_db[p]
        a = admitted[c] if peak[p] > 0.0 and on else 0.0
        lr = max(log_peak[p] + log_idle[c], floor)
        r = peak[p] * (1.0 - carried[c])
        blocked = u * (1.0 - a)
        utility = u * a * (lr - log_reference) + blocked * (floor - log_reference)
        logr[c] += utility if on else 0.0
        rate_out[p] = r * a
        rate_sum += u * a * r
        log_sum += utility
        b = min(max(int((lr - _HIST_LO) * to_bin), 0), _HIST_BINS - 1)
        hist[b] += u * a
        blocked_total += blocked
    hist[floor_bin] += blocked_total  # every blocked share sits at the floor
    p5 = MIN_RATE_MBPS
    if total > 0.0:  # 5th percentile, interpolated within its histogram bin
        target = 0.05 * total
        acc = 0.0
        for b in range(_HIST_BINS):
            if acc + hist[b] >= target:
                frac = (target - acc) / hist[b] if hist[b] > 0 else 0.0
                p5 = 10.0 ** (_HIST_LO + (b + frac) / to_bin)
                break
            acc += hist[b]
    load_sum = 0.0
    n_on = 0
    overloaded = 0.0
    excess = 0.0
    for c in range(n_cells):
        weight_out[c] = max(carried[c], idle_load)
        if active[c]:
            n_on += 1
            load_sum += carried[c]
        uc = users_c[c]
        over_admission = max(load[c] - admission_load, 0.0)
        excess += over_admission
        if load[c] > admission_load:
            overloaded += uc
        inv = 1.0 / uc if uc > 0 else 0.0
        cell_out[c, _LOAD] = load[c]
        cell_out[c, _SERVED] = uc / total * n_cells if total > 0 else 0.0
        cell_out[c, _SINR] = sinr_sum[c] * inv
        cell_out[c, _POOR] = poor[c] * inv
        cell_out[c, _COVERED] = covered[c] * inv
        cell_out[c, _WEAK] = weak[c] * inv
        cell_out[c, _INTERFERENCE] = 10.0 * np.log10(in_sum[c] * inv / noise_mw) if uc > 0 else 0.0
        cell_out[c, _OVERSHOOT] = over[c] * inv
        cell_out[c, _LOG_RATE] = logr[c] * inv
        served = uc - no_service[c]
        guard_out[c, _UNSERVED] = (no_service[c] + served * (1.0 - admitted[c])) * inv
        guard_out[c, _WEAK_COVERAGE] = weak_coverage[c] * inv
        guard_out[c, _OVERCOVERAGE] = overcoverage[c] * inv
        guard_out[c, _EXCESS] = over_admission
    network_out[:] = 0.0
    network_out[_N_P5] = p5
    network_out[_N_EXCESS] = excess
    if n_on > 0:  # two passes: no cancellation when every carried load is the same
        mean = load_sum / n_on
        spread = 0.0
        for c in range(n_cells):
            if active[c]:
                spread += (carried[c] - mean) ** 2
        network_out[_N_LOAD_STD] = np.sqrt(spread / n_on)
    if total > 0.0:
        network_out[_N_COVERAGE] = covered.sum() / total
        network_out[_N_RATE] = rate_sum / total
        network_out[_N_LOG] = log_sum / total
        network_out[_N_SINR] = sinr_total / total
        network_out[_N_OVERSHOOT] = over.sum() / total
        network_out[_N_TOTAL] = total
        network_out[_N_UNSERVED] = blocked_total / total
        network_out[_N_OVERLOAD] = overloaded / total
        network_out[_N_WEAK] = weak_coverage.sum() / total
        network_out[_N_OVERCOVERAGE] = overcoverage.sum() / total
    return load


@nb.njit(**JIT_OPTIONS)
def _fast_log2(x: np.ndarray, mantissa: np.ndarray, out: np.ndarray) -> None:
    """out = log2(x) for positive normal float32 x, to 2e-5, in vectorised loops (numba has
    no vector log2 without SVML; numpy's costs a pass per call): the exponent from the bits,
    log2 of the mantissa m ∈ [1, 2) from the atanh series in t = (m − 1)/(m + 1) ≤ 1/3 to t⁷."""
    bits = x.view(np.int32)
    mantissa_bits = mantissa.view(np.int32)
    for p in range(x.shape[0]):
        b = bits[p]
        out[p] = np.float32((b >> 23) - 127)
        mantissa_bits[p] = (b & 0x007FFFFF) | 0x3F800000
    for p in range(x.shape[0]):
        m = mantissa[p]
        t = (m - np.float32(1.0)) / (m + np.float32(1.0))
        t2 = t * t
        out[p] += t * (np.float32(2.8853900817779268) + t2 * (np.float32(0.9617966939259756)
                       + t2 * (np.float32(0.5770780163555854) + t2 * np.float32(0.4121985831))))


_LOG10_2 = float(np.log10(2.0))


@nb.njit(**JIT_OPTIONS)
def _link_quality(
    serving_mw: np.ndarray,
    interference_mw: np.ndarray,
    noise_mw: float,
    bandwidth_mhz: float,
    sinr_db: np.ndarray,
    peak: np.ndarray,
    log_peak: np.ndarray,
) -> None:
    """SINR (dB), peak rate B · SE(SINR) (Mbps, 0 below SINR_MIN_SE_DB) and log10 of the peak
    rate (floored at MIN_RATE_MBPS) per point, float32, in vectorised loops."""
    n = serving_mw.shape[0]
    x = np.empty(n, np.float32)
    mantissa = np.empty(n, np.float32)
    noise = np.float32(noise_mw)
    for p in range(n):
        x[p] = max(serving_mw[p] / (interference_mw[p] + noise), np.float32(1e-30))
    _fast_log2(x, mantissa, sinr_db)
    for p in range(n):
        x[p] += np.float32(1.0)
    _fast_log2(x, mantissa, peak)
    db_per_log2 = np.float32(10.0 * _LOG10_2)
    sinr_min_db = np.float32(SINR_MIN_SE_DB)
    alpha, se_max = np.float32(SE_ALPHA), np.float32(SE_MAX_BPS_HZ)
    bandwidth = np.float32(bandwidth_mhz)
    floor = np.float32(MIN_RATE_MBPS)
    for p in range(n):
        sinr_db[p] *= db_per_log2
        se = min(alpha * peak[p], se_max) if sinr_db[p] >= sinr_min_db else np.float32(0.0)
        peak[p] = se * bandwidth
        x[p] = max(peak[p], floor)
    _fast_log2(x, mantissa, log_peak)
    for p in range(n):
        log_peak[p] *= np.float32(_LOG10_2)


def link_quality(
    state: RadioState, bandwidth_mhz: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SINR (dB), peak rate (Mbps) and log10 peak rate per point (`_link_quality`)."""
    n = state.serving_mw.shape[0]
    sinr_db, peak, log_peak = (np.empty(n, np.float32) for _ in range(3))
    _link_quality(state.serving_mw, state.interference_mw, state.noise_mw, bandwidth_mhz,
                  sinr_db, peak, log_peak)  # fmt: skip
    return sinr_db, peak, log_peak


@nb.njit(**JIT_OPTIONS)
def _carried_weights(
    serving: np.ndarray,
    serving_mw: np.ndarray,
    interference_mw: np.ndarray,
    noise_mw: float,
    users: np.ndarray,
    active: np.ndarray,
    user_rate_mbps: float,
    bandwidth_mhz: float,
    admission_load: float,
    idle_load: float,
    scratch: np.ndarray,
    load: np.ndarray,
) -> None:
    """The interference weight `_kpi_pass` derives, max(min(ρ_c, admission), idle) (0 off
    air), into `load`: the spectral efficiency of `link_quality` per point in float32
    vectorised loops (scratch: (3, n_points) float32), then scattered by serving cell."""
    x, mantissa, demand = scratch[0], scratch[1], scratch[2]
    noise = np.float32(noise_mw)
    for p in range(x.shape[0]):
        x[p] = np.float32(1.0) + serving_mw[p] / (interference_mw[p] + noise)
    _fast_log2(x, mantissa, demand)
    x_min = np.float32(1.0 + 10.0 ** (SINR_MIN_SE_DB / 10.0))
    alpha, se_max = np.float32(SE_ALPHA), np.float32(SE_MAX_BPS_HZ)
    per_se = np.float32(user_rate_mbps / bandwidth_mhz)
    for p in range(x.shape[0]):
        se = min(alpha * demand[p], se_max)
        ok = serving_mw[p] > np.float32(0.0) and x[p] >= x_min
        demand[p] = users[p] * per_se / se if ok else np.float32(0.0)
    load[:] = 0.0
    for p in range(x.shape[0]):
        load[serving[p]] += demand[p]
    for c in range(load.shape[0]):
        load[c] = max(min(load[c], admission_load), idle_load) if active[c] else 0.0


@nb.njit(**JIT_OPTIONS)
def _anderson_step(
    g: np.ndarray, f: np.ndarray, g_hist: np.ndarray, f_hist: np.ndarray, depth: int
) -> np.ndarray:
    """Anderson-accelerated next iterate from g = G(w), f = G(w) − w and the `depth` previous
    (G, f) pairs (rows of the histories, newest first): g − ΔG γ, with γ the least-squares fit of
    f by the residual differences ΔF (normal equations, ridge-regularised; plain g if singular)."""
    m = depth
    if m == 0:
        return g.copy()
    d_f = np.empty((m, g.shape[0]))
    d_g = np.empty((m, g.shape[0]))
    d_f[0] = f - f_hist[0]
    d_g[0] = g - g_hist[0]
    for j in range(1, m):
        d_f[j] = f_hist[j - 1] - f_hist[j]
        d_g[j] = g_hist[j - 1] - g_hist[j]
    a = d_f @ d_f.T
    b = d_f @ f
    scale = 0.0
    for j in range(m):
        scale = max(scale, a[j, j])
    if scale <= 0.0:
        return g.copy()
    for j in range(m):
        a[j, j] += 1e-10 * scale
    gamma = np.linalg.solve(a, b)
    return g - gamma @ d_g


@nb.njit(**JIT_OPTIONS)
def _weight_changes(
    target: np.ndarray, weight: np.ndarray, active: np.ndarray, admission_load: float,
    idle_load: float, step_min: float, delta: np.ndarray,
) -> int:  # fmt: skip
    """delta = target kept within [idle, admission] (0 off air) − weight, zeroed where smaller
    than `step_min`; returns how many cells move."""
    moved = 0
    for c in range(weight.shape[0]):
        w = max(min(target[c], admission_load), idle_load) if active[c] else 0.0
        d = w - weight[c]
        delta[c] = d if abs(d) >= step_min else 0.0
        moved += delta[c] != 0.0
    return moved


@nb.njit(**JIT_OPTIONS)
def converge_loads(
    rx_mw: np.ndarray,
    serving: np.ndarray,
    serving_mw: np.ndarray,
    interference_mw: np.ndarray,
    noise_mw: float,
    users: np.ndarray,
    active: np.ndarray,
    weight: np.ndarray,
    user_rate_mbps: float,
    bandwidth_mhz: float,
    admission_load: float,
    idle_load: float,
    tolerance: float,
    max_iterations: int,
) -> tuple[int, bool]:
    """Solve load ↔ interference in place until no on-air cell's weight would move by more
    than `tolerance`; returns (iterations, converged).

    On entry `interference_mw` is the fold of `rx_mw` (n_cells, n_points), or of the sparse
    links (cell, rx) of `cellsim.sparse_budget`, with `weight`. Each
    iterate derives the cells' carried loads G(w) from it; the next weights are G(w)
    Anderson-accelerated over the last ANDERSON_DEPTH iterates (kept within [idle, admission]),
    and their change is added to the interference (`add_weight_change`: servers and received
    powers do not depend on load), except where it is below WEIGHT_STEP_MIN × tolerance (that
    cell keeps its weight this iterate). So on return the radio state is exactly that of `weight`,
    and one more plain iterate would move no weight by more than the tolerance. A residual that
    grows restarts the acceleration (plain iterates are a contraction here).
    """
    n_cells = weight.shape[0]
    g = np.empty(n_cells)
    scratch = np.empty((3, serving.shape[0]), np.float32)
    g_hist = np.zeros((ANDERSON_DEPTH, n_cells))
    f_hist = np.zeros((ANDERSON_DEPTH, n_cells))
    depth = 0
    last_residual = np.inf
    delta = np.zeros(n_cells, np.float32)
    iterations = 1
    while True:
        _carried_weights(serving, serving_mw, interference_mw, noise_mw, users, active,
                         user_rate_mbps, bandwidth_mhz, admission_load, idle_load, scratch, g)
        f = g - weight
        residual = np.max(np.abs(f))
        if residual <= tolerance:
            return iterations, True
        if iterations >= max_iterations:
            return iterations, False
        if residual > last_residual:
            depth = 0
        last_residual = residual
        nxt = _anderson_step(g, f, g_hist, f_hist, depth)
        for j in range(ANDERSON_DEPTH - 1, 0, -1):
            g_hist[j] = g_hist[j - 1]
            f_hist[j] = f_hist[j - 1]
        g_hist[0] = g
        f_hist[0] = f
        depth = min(depth + 1, ANDERSON_DEPTH)
        step_min = WEIGHT_STEP_MIN * tolerance
        if _weight_changes(nxt, weight, active, admission_load, idle_load, step_min, delta) == 0:
            # the acceleration stalled short of the tolerance: a plain iterate
            _weight_changes(g, weight, active, admission_load, idle_load, 0.0, delta)
        add_weight_change(rx_mw, delta, np.flatnonzero(delta), serving, interference_mw)
        for c in range(n_cells):
            weight[c] += delta[c]
        iterations += 1


def compute_kpis(
    state: RadioState, users: np.ndarray, site_distance_m: np.ndarray, cell_site: np.ndarray,
    overshoot_limit_m: np.ndarray, active: np.ndarray, params: KpiParams,
) -> Kpis:  # fmt: skip
    """All KPIs of a radio state (`cellsim.engine.RadioState`) for the given demand.

    site_distance_m: (n_sites, n_points) distance from each site (nearest image) to each point;
    a cell overshoots where it serves demand beyond `overshoot_limit_m[cell]`.
    """
    n_cells = len(overshoot_limit_m)
    cell = np.zeros((n_cells, len(KPI_COLUMNS)), np.float32)
    guard = np.zeros((n_cells, len(GUARD_COLUMNS)), np.float32)
    rate = np.empty(len(users), np.float32)
    weight = np.empty(n_cells, np.float32)
    network = np.empty(len(_NETWORK))
    sinr_db, peak, log_peak = link_quality(state, params.bandwidth_mhz)
    load = _kpi_pass(
        state.serving_cell, state.serving_mw, state.interference_mw, state.noise_mw, sinr_db,
        peak, log_peak, users, site_distance_m, cell_site, overshoot_limit_m, active,
        10.0 ** (params.rsrp_min_dbm / 10.0), params.sinr_min_db,
        10.0 ** (params.weak_rsrp_dbm / 10.0), params.overcoverage_sinr_db,
        params.user_rate_mbps, params.admission_load, params.idle_load,
        np.log10(params.reference_rate_mbps), cell, guard, rate, weight, network,
    )  # fmt: skip
    values = {name: float(network[i]) for i, name in enumerate(_NETWORK)}
    return Kpis(
        **values, cell=cell, cell_guard=guard, cell_load=load, next_weight=weight,
        sinr_db=sinr_db, rate_mbps=rate,
    )  # fmt: skip


#: Network KPIs that combine over carriers as demand-weighted means (each is a share or a mean
#: over its carrier's demand).
_DEMAND_WEIGHTED = tuple(
    n for n in _NETWORK if n not in ("p5_rate_mbps", "total_users", "load_std", "excess_load")
)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The `q` quantile of `values` under `weights` (the first value whose cumulative weight
    reaches q of the total); MIN_RATE_MBPS-free: callers floor their values themselves."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order], dtype=np.float64)
    if cum.size == 0 or cum[-1] <= 0.0:
        return float("nan")
    return float(values[order][min(int(np.searchsorted(cum, q * cum[-1])), cum.size - 1)])


def _admitted_share(cell_load: np.ndarray, admission_load: float) -> np.ndarray:
    """Per cell, the share of its offered demand it admits (`_kpi_pass`'s `admitted`)."""
    carried = np.minimum(cell_load, admission_load)
    return np.where(cell_load > carried, carried / np.where(cell_load > 0, cell_load, 1.0), 1.0)


def combine_kpis(
    parts: list[Kpis],
    users: np.ndarray,
    share: np.ndarray,
    serving: list[np.ndarray],
    main: np.ndarray,
    carrier_cells: list[np.ndarray],
    active: np.ndarray,
    admission_load: float,
) -> Kpis:
    """The KPIs of a multi-carrier network from each carrier's (`compute_kpis` over its own
    cells, with its share of the demand).

    Network KPIs are the carriers' demand-weighted means; the 5th-percentile rate is that of
    the mixture (each point's flow rate on each carrier, weighted by the demand admitted there,
    blocked demand at MIN_RATE_MBPS: as `_kpi_pass` counts it, without its histogram's
    0.01-decade bins); the load spread is over every on-air cell. Per-cell rows
    come from each cell's own carrier (served share re-based on the whole demand). Per point,
    the rate is the demand-weighted mean over carriers, the SINR that of `main` (the carrier
    carrying most of the point's demand). users: (n_points,) the whole demand; share:
    (n_carriers, n_points) each carrier's part of it; serving: each carrier's serving cell per
    point; carrier_cells: each carrier's cells (mask).
    """
    totals = np.array([p.total_users for p in parts])
    total = float(totals.sum())
    frac = totals / total if total > 0.0 else np.zeros_like(totals)
    values = {n: float(sum(f * getattr(p, n) for f, p in zip(frac, parts, strict=True)))
              for n in _DEMAND_WEIGHTED}  # fmt: skip
    cell = np.zeros_like(parts[0].cell)
    guard = np.zeros_like(parts[0].cell_guard)
    cell_load = np.zeros_like(parts[0].cell_load)
    next_weight = np.zeros_like(parts[0].next_weight)
    for p, cells, f in zip(parts, carrier_cells, frac, strict=True):
        cell[cells], guard[cells] = p.cell[cells], p.cell_guard[cells]
        cell[cells, _SERVED] *= f
        cell_load[cells], next_weight[cells] = p.cell_load[cells], p.next_weight[cells]
    carried = np.minimum(cell_load[active], admission_load)
    rates, masses = [], []
    for p, k_share, k_serving in zip(parts, share, serving, strict=True):
        mass = users * k_share
        admitted = _admitted_share(p.cell_load, admission_load)[k_serving]
        admitted = np.where(p.rate_mbps > 0.0, admitted, 0.0)
        flow_rate = p.rate_mbps / np.where(admitted > 0.0, admitted, 1.0)
        rates += [np.maximum(flow_rate, MIN_RATE_MBPS), np.full(mass.size, MIN_RATE_MBPS)]
        masses += [mass * admitted, mass * (1.0 - admitted)]  # admitted, blocked at the floor
    p5 = weighted_quantile(np.concatenate(rates), np.concatenate(masses), 0.05)
    return Kpis(
        **values,
        excess_load=float(guard[:, _EXCESS].sum(dtype=np.float64)),
        p5_rate_mbps=p5 if np.isfinite(p5) else MIN_RATE_MBPS,
        total_users=total,
        load_std=float(carried.std()) if carried.size else 0.0,
        cell=cell,
        cell_guard=guard,
        cell_load=cell_load,
        next_weight=next_weight,
        sinr_db=np.choose(main, [p.sinr_db for p in parts]).astype(np.float32),
        rate_mbps=(share * np.stack([p.rate_mbps for p in parts])).sum(axis=0, dtype=np.float32),
    )
