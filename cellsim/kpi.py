"""KPIs of one radio state under load: coverage, SINR, user throughput, overshoot, load balance.

The load model (docs/domain.md): a cell serves its users' flows in processor sharing. A user at
point p has peak rate C_p = B · SE(SINR_p) (TR 36.942 attenuated Shannon); the cell's load is
the share of its resources its users need, ρ_c = Σ_p users_p · rate / C_p; a flow at p gets C_p
· (1 − ρ_c) (the M/G/1-PS mean flow throughput), with ρ capped at `max_load` so an overloaded
cell gives its users a small but finite rate. A cell interferes in proportion to its load,
min(ρ_c, 1), and at `idle_load` when it has no users (reference signals). SINR and load depend
on each other: the simulator iterates the two (`load_iterations`).

Everything per point is one numba pass; per-cell sums are scattered by serving cell, so a step
costs O(points), never O(points × cells).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba as nb
import numpy as np

from cellsim.contract import KPI_COLUMN, KPI_COLUMNS, MIN_RATE_MBPS
from cellsim.kernels import JIT_OPTIONS

if TYPE_CHECKING:
    from cellsim.engine import RadioState

SE_ALPHA = 0.6  # TR 36.942 attenuated Shannon: SE = α log2(1 + SINR)
SE_MAX_BPS_HZ = 4.4
SINR_MIN_SE_DB = -10.0  # below this SE = 0: the user cannot be served
_HIST_LO, _HIST_HI, _HIST_BINS = -3.0, 4.0, 700  # log10 Mbps, 0.01 decade per bin

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


@dataclass(frozen=True)
class KpiParams:
    rsrp_min_dbm: float
    sinr_min_db: float
    bandwidth_mhz: float
    user_rate_mbps: float
    max_load: float
    idle_load: float
    reference_rate_mbps: float


@dataclass(frozen=True)
class Kpis:
    """Network KPIs, per-cell KPIs and per-point values of one step."""

    coverage: float  # share of demand with RSRP ≥ threshold and SINR ≥ threshold
    mean_rate_mbps: float  # demand-weighted mean user throughput
    p5_rate_mbps: float  # demand-weighted 5th percentile ("cell edge")
    mean_log_rate: float  # mean log10(rate / reference): proportional-fair utility
    mean_sinr_db: float
    load_std: float  # load balance: spread of the on-air cells' loads (capped at 1)
    overshoot_share: float  # share of demand served beyond the overshoot distance
    total_users: float
    cell: np.ndarray  # (n_cells, len(KPI_COLUMNS)) float32, columns named by KPI_COLUMNS
    cell_load: np.ndarray  # (n_cells,) ρ_c uncapped
    next_weight: np.ndarray  # (n_cells,) interference weight for the next evaluation
    sinr_db: np.ndarray  # (n_points,)
    rate_mbps: np.ndarray  # (n_points,)

    def network(self) -> dict[str, float]:
        return {
            "coverage": self.coverage,
            "mean_rate_mbps": self.mean_rate_mbps,
            "p5_rate_mbps": self.p5_rate_mbps,
            "mean_log_rate": self.mean_log_rate,
            "mean_sinr_db": self.mean_sinr_db,
            "load_std": self.load_std,
            "overshoot_share": self.overshoot_share,
        }


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
    user_rate_mbps: float,
    max_load: float,
    idle_load: float,
    log_reference: float,
    cell_out: np.ndarray,
    rate_out: np.ndarray,
    weight_out: np.ndarray,
) -> tuple[float, float, float, float, float, float, float, np.ndarray, float]:
    """Scatter per-point values into per-cell sums, then user throughput under load.

    The transcendental parts (SINR in dB, spectral efficiency, log peak rate) come in
    precomputed by numpy's SIMD loops; this pass is arithmetic only.
    """
    n_cells = cell_out.shape[0]
    n = serving.shape[0]
    load = np.zeros(n_cells)
    users_c = np.zeros(n_cells)
    sinr_sum = np.zeros(n_cells)
    poor = np.zeros(n_cells)
    covered = np.zeros(n_cells)
    weak = np.zeros(n_cells)
    in_sum = np.zeros(n_cells)
    over = np.zeros(n_cells)
    logr = np.zeros(n_cells)
    for p in range(n):
        if serving_mw[p] <= 0.0:  # no cell on air
            continue
        c = serving[p]
        u = users[p]
        sdb = sinr_db[p]
        users_c[c] += u
        sinr_sum[c] += u * sdb
        rsrp_ok = serving_mw[p] >= rsrp_min_mw
        if sdb < sinr_min_db:
            poor[c] += u
        elif rsrp_ok:
            covered[c] += u
        if not rsrp_ok:
            weak[c] += u
        in_sum[c] += u * (interference_mw[p] + noise_mw)
        if site_distance_m[cell_site[c], p] > overshoot_limit_m[c]:
            over[c] += u
        if peak[p] > 0.0:
            load[c] += u * user_rate_mbps / peak[p]
    idle = np.empty(n_cells)
    log_idle = np.empty(n_cells)
    for c in range(n_cells):
        idle[c] = 1.0 - min(load[c], max_load)
        log_idle[c] = np.log10(idle[c])
    hist = np.zeros(_HIST_BINS)
    total = 0.0
    rate_sum = 0.0
    log_sum = 0.0
    sinr_total = 0.0
    floor = np.log10(MIN_RATE_MBPS)
    to_bin = _HIST_BINS / (_HIST_HI - _HIST_LO)
    for p in range(n):
        u = users[p]
        total += u
        sinr_total += u * sinr_db[p]
        lr = floor
        r = 0.0
        if peak[p] > 0.0 and serving_mw[p] > 0.0:
            c = serving[p]
            lr = max(log_peak[p] + log_idle[c], floor)
            r = peak[p] * idle[c]
            logr[c] += u * (lr - log_reference)
        rate_out[p] = r
        rate_sum += u * r
        log_sum += u * (lr - log_reference)
        b = min(max(int((lr - _HIST_LO) * to_bin), 0), _HIST_BINS - 1)
        hist[b] += u
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
    load_sq = 0.0
    n_on = 0
    for c in range(n_cells):
        weight_out[c] = min(load[c], 1.0) if load[c] > 0 else idle_load
        if active[c]:
            n_on += 1
            load_sum += min(load[c], 1.0)
            load_sq += min(load[c], 1.0) ** 2
        uc = users_c[c]
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
    load_std = 0.0
    if n_on > 0:
        mean = load_sum / n_on
        load_std = np.sqrt(max(load_sq / n_on - mean * mean, 0.0))
    if total <= 0.0:
        return 0.0, 0.0, p5, 0.0, 0.0, 0.0, 0.0, load, load_std
    return (
        covered.sum() / total, rate_sum / total, p5, log_sum / total, sinr_total / total,
        over.sum() / total, total, load, load_std,
    )  # fmt: skip


def link_quality(
    state: RadioState, bandwidth_mhz: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SINR (dB), peak rate (Mbps) and log10 peak rate per point, in numpy's SIMD loops."""
    sinr = state.serving_mw / (state.interference_mw + np.float32(state.noise_mw))
    sinr_db = 10.0 * np.log10(np.maximum(sinr, np.float32(1e-30)))
    se = np.float32(SE_ALPHA) * np.log2(np.float32(1.0) + sinr)
    se = np.minimum(se, np.float32(SE_MAX_BPS_HZ))
    se[sinr_db < SINR_MIN_SE_DB] = 0.0
    peak = se * np.float32(bandwidth_mhz)
    log_peak = np.log10(np.maximum(peak, np.float32(MIN_RATE_MBPS)))
    return sinr_db, peak, log_peak


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
    rate = np.empty(len(users), np.float32)
    weight = np.empty(n_cells, np.float32)
    sinr_db, peak, log_peak = link_quality(state, params.bandwidth_mhz)
    cov, mean_rate, p5, mean_log, mean_sinr, over, total, load, load_std = _kpi_pass(
        state.serving_cell, state.serving_mw, state.interference_mw, state.noise_mw, sinr_db,
        peak, log_peak, users, site_distance_m, cell_site, overshoot_limit_m, active,
        10.0 ** (params.rsrp_min_dbm / 10.0), params.sinr_min_db, params.user_rate_mbps,
        params.max_load, params.idle_load, np.log10(params.reference_rate_mbps), cell, rate,
        weight,
    )  # fmt: skip
    return Kpis(
        coverage=float(cov), mean_rate_mbps=float(mean_rate), p5_rate_mbps=float(p5),
        mean_log_rate=float(mean_log), mean_sinr_db=float(mean_sinr),
        load_std=float(load_std), overshoot_share=float(over), total_users=float(total),
        cell=cell, cell_load=load, next_weight=weight, sinr_db=sinr_db, rate_mbps=rate,
    )  # fmt: skip
