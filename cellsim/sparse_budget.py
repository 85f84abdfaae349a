"""A sparse link budget for networks of thousands of cells: per point only the K cells that matter.

Per point the budget keeps the K links with the largest upper bound of received power over the
tilt range, U = max(A · max_tilt v(x − shift(tilt)), B) (the vertical pattern's maximum over
the tilts the cell can take; without a known range, over every tilt), and neglects the others.
What it neglects is bounded per point: `neglected_mw` = Σ U over the links not kept, the most
power they could add at full load (interference weight 1) at any tilts within the range. The
SINR a step reports is then at most 10 log10(1 + neglected / (I + N)) dB above the one of the
dense budget (`neglect_report` summarises it as percentiles; `bound_holds` turns False once a
tilt outside the range was evaluated).

Decisions:
- Same interface as `cellsim.engine.LinkBudget` (evaluate, converge, terms, realisation_terms,
  use_terms, precompute_tilts, noise_mw, n_points), so the simulator does not know which it has;
  `cellsim.engine.build_link_budget` chooses (`budget_kind`).
- Links are computed by the dense budget itself on small pieces (a block of points × all
  cells, or a cluster of sites × the points within `radius_m` of them), then merged into each
  point's K strongest: the physics path is the trusted one, and no (cells × points) array of
  the whole network ever exists.
- Realisations of large networks (`radius_m` set) are drawn per cluster of sites over its own
  points (`draw_link_state` on the piece, with an rng spawned per cluster): the same models,
  but links beyond `radius_m` are not part of the realisation (their power at full load is
  estimated on a sample of points: `neglect_report`'s far_sinr_effect_db), and an inter-site
  shadowing correlation only holds within a cluster. Small networks draw exactly what the
  dense budget draws.
- `received_mw` (dense rows) exists for small networks only; neighbour lists ask the budget
  for `coupling_matrix`, which the sparse budget sums over its links.
- Which cells a point keeps depends on the realisation (shadowing), so the terms of a
  realisation carry their links' cells and table indices (`SparseTerms`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.spatial import cKDTree

from cellsim.engine import (
    TILT_LIMIT_DEG,
    LinkBudget,
    LinkState,
    RadioSetup,
    RadioState,
    draw_link_state,
    site_distances_m,
)
from cellsim.errors import ConfigError, ParameterError
from cellsim.kpi import KpiParams, converge_loads
from cellsim.network.layout import Layout
from cellsim.network.receivers import Receivers
from cellsim.sparse_kernels import (
    evaluate_sparse,
    keep_strongest,
    sum_by_own_signal,
    sum_by_server,
)

KIND_ENV = "CELLSIM_LINK_BUDGET"  # auto (default) | dense | sparse
SLOTS_ENV = "CELLSIM_SPARSE_SLOTS"  # K, links kept per point
DEFAULT_SLOTS = 40
#: auto: sparse from this many cells on (at 507 cells the two step equally fast, and dense is
#: exact: BENCHMARKS.md), or from this many links on (the dense arrays would not fit in memory)
SPARSE_MIN_CELLS = 800
SPARSE_MIN_LINKS = 50_000_000
#: (cells × points) of one build piece: bounds the float64 temporaries of the dense physics
PIECE_LINKS = 3_000_000
#: sites × points above which a realisation is drawn per cluster of sites within `radius_m`
DENSE_DRAW_MAX_LINKS = 30_000_000
#: auto radius: this many times the median distance between neighbouring sites
RADIUS_SPACINGS = 5.0
#: cluster size of the per-cluster draw, in site spacings (a square of sites sharing one field
#: grid: larger clusters share more FFT work but compute links farther than `radius_m`)
CLUSTER_SPACINGS = 3.0
FAR_SAMPLE_POINTS = 48
#: bytes per kept link at use: A, B, rx (float32), cell (int32), table index (int16)
LINK_BYTES = 18
_INT16_SPAN = 32000


class SparseTerms(NamedTuple):
    """One realisation's kept links, slot-major (K, n_points), and their neglected bound.

    The first two fields are A and B as in the dense budget's terms (`cellsim.realisations`
    sizes its cache by them); the links' cells and table indices follow, then per point the
    upper bound of what the links not kept could add (mW, full load)."""

    a_mw: np.ndarray
    b_mw: np.ndarray
    cell: np.ndarray  # int32
    x_index: np.ndarray  # int16 or int32, index into the budget's vertical table at tilt 0
    neglected_mw: np.ndarray  # (n_points,) float32


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"${name} = {text!r}: allowed a whole number ≥ 1")
    return value


def default_slots() -> int:
    """K, the links kept per point ($CELLSIM_SPARSE_SLOTS, default 40)."""
    return _env_int(SLOTS_ENV, DEFAULT_SLOTS)


def budget_kind(n_cells: int, n_points: int) -> str:
    """The link budget of a network: "dense" or "sparse", $CELLSIM_LINK_BUDGET if set, else
    sparse from SPARSE_MIN_CELLS cells (K links per point many times fewer than the cells) or
    SPARSE_MIN_LINKS links on."""
    kind = os.environ.get(KIND_ENV, "auto") or "auto"
    if kind not in ("auto", "dense", "sparse"):
        raise ConfigError(f"${KIND_ENV} = {kind!r}: allowed auto, dense or sparse")
    if kind != "auto":
        return kind
    large = n_cells >= SPARSE_MIN_CELLS or n_cells * n_points >= SPARSE_MIN_LINKS
    return "sparse" if large and n_points > 0 and n_cells > DEFAULT_SLOTS else "dense"


def sparse_memory_bytes(n_cells: int, n_points: int, slots: int) -> float:
    """Bytes a sparse budget holds at use (links, per-point state) plus its build's peak."""
    k = min(slots, n_cells)
    return float(n_points) * (k * LINK_BYTES + 32) + PIECE_LINKS * 120.0


def auto_radius_m(layout: Layout, n_points: int) -> float | None:
    """The radius of per-cluster draws (RADIUS_SPACINGS site spacings), or None where the
    whole network is drawn at once (small, or wrap-around: its images need every site)."""
    if layout.n_sites * n_points <= DENSE_DRAW_MAX_LINKS or len(layout.wrap_shifts_m) > 1:
        return None
    return RADIUS_SPACINGS * _site_spacing_m(layout)


def _site_spacing_m(layout: Layout) -> float:
    sites = layout.sites_xy_m
    if len(sites) < 2:
        return 1000.0
    d, _ = cKDTree(sites).query(sites, k=2)
    return float(np.median(np.asarray(d)[:, 1]))


def _points(receivers: Receivers, index: np.ndarray) -> Receivers:
    return Receivers(
        receivers.xy_m[index], receivers.height_m[index], receivers.indoor[index],
        receivers.d2d_in_m[index], receivers.o2i_loss_db[index], receivers.weight[index],
    )  # fmt: skip


def _links_at(links: LinkState, index: np.ndarray) -> LinkState:
    h_e = None if links.h_e_m is None else links.h_e_m[:, index]
    return LinkState(links.los[:, index], links.shadow_db[:, index], h_e)


def _db_percentiles(values: np.ndarray, prefix: str) -> dict[str, float]:
    """p50/p95/p99/max of dB values: −inf and NaN (nothing neglected) read as −300 dB, +inf
    (something neglected against no interference at all: the worst case) as +300 dB."""
    finite = np.where(np.isfinite(values), values, np.where(values > 0, 300.0, -300.0))
    out = {f"{prefix}_p{q}": float(np.percentile(finite, q)) for q in (50, 95, 99)}
    out[f"{prefix}_max"] = float(finite.max()) if finite.size else -300.0
    return out


class _Kept:
    """Each point's K strongest links so far, and the bound of the rest (build only)."""

    def __init__(self, n_points: int, slots: int, index_type: type):
        self.bound = np.zeros((slots, n_points), np.float32)
        self.cell = np.zeros((slots, n_points), np.int32)
        self.a = np.zeros((slots, n_points), np.float32)
        self.b = np.zeros((slots, n_points), np.float32)
        self.x: np.ndarray = np.zeros((slots, n_points), index_type)
        self.count = np.zeros(n_points, np.int64)
        self.neglected = np.zeros(n_points, np.float32)

    def terms(self) -> SparseTerms:
        return SparseTerms(self.a, self.b, self.cell, self.x, self.neglected)


class SparseLinkBudget:
    """Per point the K links with the largest power over the tilt range; the rest bounded."""

    def __init__(
        self,
        layout: Layout,
        receivers: Receivers,
        setup: RadioSetup,
        links: LinkState | np.random.Generator,
        slots: int | None = None,
        tilt_range_deg: tuple[float, float] | None = None,
        radius_m: float | None = None,
    ):
        self.n_cells, self.n_points = len(layout.cells), len(receivers)
        self.noise_mw = float(10.0 ** (setup.noise_per_re_dbm / 10.0))
        self.slots = min(default_slots() if slots is None else int(slots), self.n_cells)
        if radius_m is not None and len(layout.wrap_shifts_m) > 1:
            raise ParameterError("radius_m", radius_m, "None for a wrap-around layout")
        self.radius_m = radius_m
        self._layout, self._receivers, self._setup = layout, receivers, setup
        self._antenna = setup.antenna
        source = setup.antenna.vertical_table()
        self._table = np.ascontiguousarray(source.values_lin, np.float32)
        self._step, self._y_lo = float(source.x_step), float(source.x_lo)
        half = self._table.size // 2
        self._x_ref = self._y_lo + self._step * half  # index 0 = the table's middle
        self._index_type = np.int16 if half < _INT16_SPAN else np.int32
        self._pad_x = int(np.rint(-self._x_ref / self._step))  # a valid index for empty slots
        lo, hi = tilt_range_deg if tilt_range_deg is not None else (-90.0, 90.0)
        self.tilt_range_deg = (float(lo), float(hi))
        offsets = self._index_offset(np.array([lo, hi], float))
        self._offset_lo = int(offsets.min())
        window = int(offsets.max()) - self._offset_lo + 1
        # the vertical pattern's maximum over the tilt range, by the link's index at offset_lo
        self._window_max = sliding_window_view(self._table, window).max(axis=1)
        self.bound_holds = True
        self._far_sample: tuple[np.ndarray, np.ndarray] | None = None
        if isinstance(links, LinkState):
            terms = self.realisation_terms(links)
        else:
            terms = self.draw_terms(links)
        self._rx = np.zeros((self.slots, self.n_points), np.float32)
        self._tilt_deg = np.full(self.n_cells, np.nan)
        self._all_on = np.ones(self.n_cells, bool)
        self._best = np.empty(self.n_points, np.float32)
        self._best_cell = np.empty(self.n_points, np.int32)
        self._interference = np.empty(self.n_points, np.float32)
        self.use_terms(*terms)

    # --- realisations -----------------------------------------------------------------------

    def _index_offset(self, tilt_deg: np.ndarray) -> np.ndarray:
        shift = np.asarray(self._antenna.tilt_shift(tilt_deg), float)
        return np.rint((self._x_ref - shift - self._y_lo) / self._step).astype(np.intp)

    def _merge(
        self,
        kept: _Kept,
        layout: Layout,
        cells: np.ndarray,
        points: np.ndarray,
        links: LinkState,
    ) -> None:
        """Compute one piece's links with the dense budget and merge them into `kept`."""
        power = np.broadcast_to(np.asarray(self._setup.tx_power_per_re_dbm, float),
                                (self.n_cells,))[cells]  # fmt: skip
        setup = dataclasses.replace(self._setup, tx_power_per_re_dbm=power)
        piece = LinkBudget(layout, _points(self._receivers, points), setup, links)
        a_mw, b_mw = piece.terms
        # the piece's table indices, re-based on this budget's reference (both on the grid)
        shift = int(np.rint((piece._x_ref - self._x_ref) / self._step))
        x = piece._x_index.astype(np.int32) + shift
        gain = self._window_max[np.clip(x + self._offset_lo, 0, self._window_max.size - 1)]
        bound = np.maximum(a_mw * gain, b_mw)
        keep_strongest(
            points.astype(np.int64), cells.astype(np.int32), bound, a_mw, b_mw,
            x.astype(self._index_type), kept.bound, kept.cell, kept.a, kept.b, kept.x,
            kept.count, kept.neglected,
        )  # fmt: skip

    def _new_kept(self) -> _Kept:
        kept = _Kept(self.n_points, self.slots, self._index_type)
        kept.x[:] = self._pad_x
        return kept

    def realisation_terms(self, links: LinkState) -> SparseTerms:
        """The kept links of a realisation given as the dense budget's link state (n_sites,
        n_points): computed per block of points, so only the link state is dense."""
        kept = self._new_kept()
        block = max(256, PIECE_LINKS // max(self.n_cells, 1))
        all_cells = np.arange(self.n_cells)
        for p0 in range(0, self.n_points, block):
            points = np.arange(p0, min(self.n_points, p0 + block))
            self._merge(kept, self._layout, all_cells, points, _links_at(links, points))
        return kept.terms()

    def draw_terms(self, rng: np.random.Generator) -> SparseTerms:
        """Draw a realisation: as the dense budget draws it without `radius_m`, else per
        cluster of sites over the points within `radius_m` of them (never a whole-network
        (sites × points) array)."""
        if self.radius_m is None:
            return self.realisation_terms(
                draw_link_state(rng, self._layout, self._receivers, self._setup)
            )
        layout, radius = self._layout, self.radius_m
        clusters = _site_clusters(layout.sites_xy_m, CLUSTER_SPACINGS * _site_spacing_m(layout))
        tree = cKDTree(self._receivers.xy_m)
        kept = self._new_kept()
        cluster_rngs = rng.spawn(len(clusters) + 1)
        for sites, cluster_rng in zip(clusters, cluster_rngs, strict=False):
            near = tree.query_ball_point(layout.sites_xy_m[sites], radius)
            points = np.unique(np.concatenate([np.asarray(n, np.int64) for n in near]))
            if points.size == 0:
                continue
            own = np.isin(layout.cells.site, sites)
            piece = layout.subset(own)
            piece_links = draw_link_state(
                cluster_rng, piece, _points(self._receivers, points), self._setup
            )  # fmt: skip (no per-cell field in use)
            self._merge(kept, piece, np.flatnonzero(own), points, piece_links)
        self._far_sample = self._sample_far(cluster_rngs[-1], clusters)
        return kept.terms()

    def _sample_far(
        self, rng: np.random.Generator, clusters: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(sample points, their far power at full load): what the links no cluster drew (a
        cell farther than `radius_m` from every point it was drawn at) would add, from an
        independent draw of every link at a sample of points, U summed over the far cells."""
        assert self.radius_m is not None
        layout = self._layout
        sample = np.sort(rng.choice(self.n_points, min(FAR_SAMPLE_POINTS, self.n_points),
                                    replace=False))  # fmt: skip
        receivers = _points(self._receivers, sample)
        # one draw per point: a field grid spanning the sample would span the whole network
        states = [draw_link_state(rng, layout, _points(receivers, np.array([j])), self._setup)
                  for j in range(sample.size)]  # fmt: skip
        links = LinkState(
            np.hstack([st.los for st in states]), np.hstack([st.shadow_db for st in states]),
            None if states[0].h_e_m is None else np.hstack([st.h_e_m for st in states]),  # type: ignore[misc]
        )  # fmt: skip
        full = LinkBudget(layout, receivers, self._setup, links)
        a_mw, b_mw = full.terms
        shift = int(np.rint((full._x_ref - self._x_ref) / self._step))
        x = full._x_index.astype(np.int32) + shift
        gain = self._window_max[np.clip(x + self._offset_lo, 0, self._window_max.size - 1)]
        bound = np.maximum(a_mw * gain, b_mw)
        xy = receivers.xy_m
        drawn_site = np.zeros((layout.n_sites, sample.size), bool)
        for sites in clusters:
            d = np.hypot(
                *(xy[None, :, :] - layout.sites_xy_m[sites][:, None, :]).transpose(2, 0, 1)
            )
            drawn_site[sites] = (d <= self.radius_m).any(axis=0)[None, :]
        far = ~drawn_site[layout.cells.site]
        return sample, (bound * far).sum(axis=0).astype(np.float32)

    @property
    def terms(self) -> SparseTerms:
        """The realisation in use."""
        return SparseTerms(self._a_mw, self._b_mw, self._cell, self._x_index, self.neglected_mw)

    def use_terms(
        self,
        a_mw: np.ndarray,
        b_mw: np.ndarray,
        cell: np.ndarray,
        x_index: np.ndarray,
        neglected_mw: np.ndarray,
    ) -> None:
        """Evaluate another realisation from now on (`draw_terms` / `realisation_terms`)."""
        shape = (self.slots, self.n_points)
        for name, array in (("a_mw", a_mw), ("b_mw", b_mw), ("cell", cell), ("x_index", x_index)):
            if array.shape != shape:
                raise ParameterError(name, f"shape {array.shape}", f"shape {shape}")
        self._a_mw, self._b_mw, self._cell, self._x_index = a_mw, b_mw, cell, x_index
        self.neglected_mw = neglected_mw
        self._tilt_deg[:] = np.nan  # every cached link belongs to the previous realisation

    def precompute_tilts(self, tilt_grid_deg: np.ndarray) -> bool:
        """Not done (returns False): a per-tilt table of K links per point would cost 4 bytes
        × tilts per link for a gather the sparse fold makes anyway."""
        return False

    # --- steps ------------------------------------------------------------------------------

    def _inputs(
        self,
        tilt_deg: np.ndarray,
        interference_weight: np.ndarray | None,
        active: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Checked tilts, weights and on-air flags of one evaluation (errors as LinkBudget's)."""
        n = self.n_cells
        tilt = np.asarray(tilt_deg, np.float64)
        if tilt.shape != (n,):
            raise ParameterError("tilt_deg", f"shape {tilt.shape}", f"shape ({n},)")
        outside = ~(np.abs(tilt) <= TILT_LIMIT_DEG)
        if outside.any():
            raise ParameterError("tilt_deg", float(tilt[outside][0]), "−90…90° below the horizon")
        lo, hi = self.tilt_range_deg
        if tilt.min() < lo - 1e-9 or tilt.max() > hi + 1e-9:
            self.bound_holds = False
        if interference_weight is None:
            weight = np.ones(n, np.float32)
        else:
            weight = np.ascontiguousarray(interference_weight, np.float32)
            if weight.shape != (n,) or not np.isfinite(weight).all():
                raise ParameterError("interference_weight", f"shape {weight.shape}",
                                     f"({n},) finite values, one per cell")  # fmt: skip
        if active is not None and np.shape(active) != (n,):
            raise ParameterError("active", f"shape {np.shape(active)}", f"({n},) bools")
        on = self._all_on if active is None else np.ascontiguousarray(active, bool)
        return tilt, weight, on

    def evaluate(
        self,
        tilt_deg: np.ndarray,
        interference_weight: np.ndarray | None = None,
        active: np.ndarray | None = None,
    ) -> RadioState:
        """Radio state at these tilts, as `LinkBudget.evaluate` (links of re-tilted cells
        recomputed, then each point's K links folded)."""
        tilt, weight, on = self._inputs(tilt_deg, interference_weight, active)
        changed = (tilt != self._tilt_deg) & on
        evaluate_sparse(
            self._cell, self._a_mw, self._b_mw, self._x_index, self._index_offset(tilt),
            self._table, changed, bool(changed.any()), weight, on, self._rx, self._best,
            self._best_cell, self._interference,
        )  # fmt: skip
        self._tilt_deg = np.where(on, tilt, self._tilt_deg)
        return RadioState(self._best_cell.copy(), self._best.copy(), self._interference.copy(),
                          self.noise_mw)  # fmt: skip

    def converge(
        self,
        state: RadioState,
        users: np.ndarray,
        active: np.ndarray,
        weight: np.ndarray,
        params: KpiParams,
        tolerance: float,
        max_iterations: int,
    ) -> tuple[int, bool]:
        """The load ↔ interference fixed point, as `LinkBudget.converge` (the same kernel, with
        the sparse links' weight change)."""
        links = (self._cell, self._rx)  # `add_weight_change` picks the sparse update for it
        return converge_loads(
            links, state.serving_cell, state.serving_mw, state.interference_mw,  # type: ignore[arg-type]
            state.noise_mw, users, active, weight, params.user_rate_mbps, params.bandwidth_mhz,
            params.admission_load, params.idle_load, tolerance, max_iterations,
        )  # fmt: skip

    @property
    def received_links(self) -> tuple[np.ndarray, np.ndarray]:
        """(cell, rx mW) of the kept links at the last evaluated tilts, (K, n_points), read-only."""
        cell, rx = self._cell.view(), self._rx.view()
        cell.flags.writeable = rx.flags.writeable = False
        return cell, rx

    @property
    def received_mw(self) -> np.ndarray:
        """The kept links as a dense (n_cells, n_points) array (0 where not kept): for small
        networks and tests; refused above 2^28 links."""
        if self.n_cells * self.n_points > 1 << 28:
            size = f"{self.n_cells} × {self.n_points}"
            raise ParameterError("received_mw", size, "at most 2^28 links: use received_links")
        out = np.zeros((self.n_cells, self.n_points), np.float32)
        points = np.broadcast_to(np.arange(self.n_points), self._cell.shape)
        np.add.at(out, (self._cell, points), self._rx)
        return out

    def coupling_matrix(self, users: np.ndarray) -> np.ndarray:
        """`cellsim.env.neighbours.coupling_matrix` of the kept links at the last evaluated
        tilts: (n, n) float64, row i = demand-weighted power of each cell where i serves, with
        the same fallbacks (unweighted, then weighted by the cell's own signal)."""
        n = self.n_cells
        best_slot = self._rx.argmax(axis=0)
        server = self._cell[best_slot, np.arange(self.n_points)].astype(np.int64)
        out = np.zeros((n, n))
        sum_by_server(self._cell, self._rx, server, users.astype(np.float64), out)
        empty = ~out.any(axis=1)
        if empty.any():
            unweighted = np.zeros((n, n))
            sum_by_server(self._cell, self._rx, server, np.ones(self.n_points), unweighted)
            out[empty] = unweighted[empty]
        empty = ~out.any(axis=1)
        if empty.any():
            sum_by_own_signal(self._cell, self._rx, np.asarray(empty), out)
        return out

    # --- what is neglected ------------------------------------------------------------------

    def sinr_error_bound_db(self, state: RadioState) -> np.ndarray:
        """Per point, the most the SINR of `state` can exceed the dense budget's: 10 log10(1 +
        neglected / (I + N)) (valid at interference weights ≤ 1 and tilts in the range)."""
        ratio = self.neglected_mw / (state.interference_mw + np.float32(state.noise_mw))
        return (10.0 * np.log10(1.0 + ratio)).astype(np.float32)

    def neglect_report(self, state: RadioState) -> dict[str, float]:
        """Percentiles over points of the SINR error bound (dB) and of the neglected bound
        relative to the kept interference (dB) at `state`; the share of points where the
        neglected bound reaches the serving power (a neglected cell could serve there); and,
        for per-cluster draws, the far field's SINR effect estimated on a sample of points."""
        report = _db_percentiles(self.sinr_error_bound_db(state), "sinr_error_bound_db")
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 where no cell interferes
            rel = 10.0 * np.log10(self.neglected_mw / state.interference_mw)
        report.update(_db_percentiles(rel, "neglected_vs_interference_db"))
        report["server_at_risk_share"] = float(np.mean(self.neglected_mw >= state.serving_mw))
        report["bound_holds"] = float(self.bound_holds)
        if self._far_sample is not None:
            sample, far_mw = self._far_sample
            ratio = far_mw / (state.interference_mw[sample] + np.float32(state.noise_mw))
            report.update(_db_percentiles(10.0 * np.log10(1.0 + ratio), "far_sinr_effect_db"))
        return report


def site_distances_f32(layout: Layout, receivers: Receivers) -> np.ndarray:
    """`cellsim.engine.site_distances_m` as float32 (the overshoot KPI's), per block of sites:
    without its (sites × points × 2) float64 temporaries, which a network of thousands of
    cells cannot hold."""
    out = np.empty((layout.n_sites, len(receivers)), np.float32)
    block = max(1, PIECE_LINKS // max(len(receivers), 1))
    for s0 in range(0, layout.n_sites, block):
        sites = dataclasses.replace(layout, sites_xy_m=layout.sites_xy_m[s0 : s0 + block])
        out[s0 : s0 + block] = site_distances_m(sites, receivers)
    return out


def _site_clusters(sites_xy_m: np.ndarray, size_m: float) -> list[np.ndarray]:
    """Sites grouped by squares of side `size_m` (each group one per-cluster draw)."""
    cell = np.floor((sites_xy_m - sites_xy_m.min(axis=0)) / size_m).astype(np.int64)
    key = cell[:, 0] * (cell[:, 1].max() + 1) + cell[:, 1]
    order = np.argsort(key, kind="stable")
    _, starts = np.unique(key[order], return_index=True)
    return [np.sort(group) for group in np.split(order, starts[1:])]
