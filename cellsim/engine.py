"""The link budget: tilt-independent terms computed once, `evaluate(tilts)` every step.

Per (cell, point) the received power is split as
    rx = max(A · v(x − shift(tilt)), B)
with A, B holding transmit power, horizontal pattern, path loss, shadowing and O2I loss (fixed),
x the link's vertical coordinate in the antenna frame, and v the tilt-dependent vertical pattern
as a look-up table (see `cellsim.radio.antenna`). A step only re-reads the tables for cells whose
tilt changed and reduces over cells in one fused numba pass (`cellsim.kernels`).

A network realisation (shadowing, LOS, effective heights: `LinkState`) only enters A and B; the
geometry (x, the horizontal pattern) does not depend on it. So a budget computes the geometry
once, `realisation_terms(links)` gives A and B of any realisation, and `use_terms` swaps them in:
switching realisation costs no geometry and no per-tilt table (the per-tilt tables hold v, which
is the same in every realisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtr

from cellsim.errors import ParameterError
from cellsim.kernels import (
    TILT_OUT_OF_RANGE,
    TILTS_ON_GRID,
    WEIGHT_NOT_FINITE,
    evaluate_grid,
    evaluate_links,
    prepare_tilts,
)
from cellsim.kpi import KpiParams, converge_loads
from cellsim.network.layout import Cells, Layout
from cellsim.network.receivers import Receivers
from cellsim.radio.angles import link_angles, relative_azimuth_deg, to_antenna_frame
from cellsim.radio.antenna import AntennaPattern
from cellsim.radio.antenna_set import AntennaSet
from cellsim.radio.pathloss import PathLossModel, draw_uma_effective_height_m
from cellsim.radio.shadowing import correlated_site_fields

if TYPE_CHECKING:
    from cellsim.sparse_budget import SparseLinkBudget

TILT_LIMIT_DEG = 90.0
#: Largest precomputed per-tilt table (`LinkBudget.precompute_tilts`), bytes.
TILT_TABLE_MAX_BYTES = 1 << 30
#: Largest cache of received power per cell and grid tilt (`LinkBudget.precompute_tilts`), bytes.
GRID_RX_MAX_BYTES = 1 << 26  # 64 MiB: case1 37 MB, city 51 MB; metro-geo (254 MB) goes without
_INT16_SPAN = 32000  # |x index| that fits int16 with a margin; beyond it, int32 indices


@dataclass(frozen=True)
class RadioSetup:
    """The radio models a network uses, independent of where its cells and points are."""

    pathloss: PathLossModel
    antenna: AntennaPattern
    fc_ghz: float
    tx_power_per_re_dbm: np.ndarray  # (n_cells,)
    noise_per_re_dbm: float
    shadowing: bool = True
    inter_site_correlation: float = 0.0
    indoor_shadow_std_db: float | None = None  # replaces the LOS/NLOS σ for indoor points


@dataclass(frozen=True)
class LinkState:
    """Random but tilt-independent state of each (site, point) link, drawn once per episode."""

    los: np.ndarray  # (n_sites, n_points) bool
    shadow_db: np.ndarray  # (n_sites, n_points)
    h_e_m: np.ndarray | None  # (n_sites, n_points), UMa-type models only


def site_distances_m(layout: Layout, receivers: Receivers) -> np.ndarray:
    """2D distance from each site's nearest wrap-around image to each point, (n_sites, n)."""
    off = layout.nearest_image_offsets(receivers.xy_m)
    return np.hypot(off[..., 0], off[..., 1])


def draw_link_state(
    rng: np.random.Generator, layout: Layout, receivers: Receivers, setup: RadioSetup
) -> LinkState:
    """LOS state, shadow fading and (UMa) effective height per link, spatially consistent.

    LOS: a point's uniform draw comes from a correlated Gaussian field (TR 38.901 §7.6.3.3), so
    neighbouring points share their LOS state; it is LOS where u < P_LOS(d_2D-out). Shadowing:
    one field per site (its sectors share it, with optional inter-site correlation), read with the
    LOS or NLOS decorrelation distance.
    """
    model = setup.pathloss
    xy = receivers.xy_m
    mast_m = np.full(layout.n_sites, np.inf)  # the lowest antenna of each site
    np.minimum.at(mast_m, layout.cells.site, layout.cells.height_m)
    d2d = site_distances_m(layout, receivers)
    d2d_out = np.maximum(d2d - receivers.d2d_in_m[None, :], 0.0)
    n_sites = layout.n_sites
    if model.has_los:
        u = ndtr(correlated_site_fields(rng, xy, n_sites, model.los_decorrelation_m))
        los = u < model.los_probability(d2d_out, receivers.height_m[None, :])
    else:
        los = np.zeros(d2d.shape, bool)
    if setup.shadowing:
        rho = setup.inter_site_correlation
        decorr_los = float(model.shadow_decorrelation_m(True))
        decorr_nlos = float(model.shadow_decorrelation_m(False))
        z = correlated_site_fields(rng, xy, n_sites, decorr_nlos, rho)
        if model.has_los and decorr_los != decorr_nlos:
            z = np.where(los, correlated_site_fields(rng, xy, n_sites, decorr_los, rho), z)
        sigma = model.shadow_std_db(
            los, d2d, mast_m[:, None], receivers.height_m[None, :], setup.fc_ghz
        )
        if setup.indoor_shadow_std_db is not None:
            sigma = np.where(receivers.indoor[None, :], setup.indoor_shadow_std_db, sigma)
        shadow = sigma * z
    else:
        shadow = np.zeros(d2d.shape)
    h_e = None
    if model.uses_h_e:
        h_e = draw_uma_effective_height_m(rng, d2d, receivers.height_m[None, :])
        # TR 38.901 draws h_E from the UE height alone, for 25 m masts; under a lower mast an
        # environment height at or above the antenna is meaningless: use the default 1 m.
        h_e = np.where(h_e < mast_m[:, None], h_e, 1.0)
    return LinkState(los=los, shadow_db=shadow, h_e_m=h_e)


@dataclass(frozen=True)
class RadioState:
    """What the network looks like at one set of tilts, per point (float32)."""

    serving_cell: np.ndarray  # (n,) int32
    serving_mw: np.ndarray  # (n,) received power of the serving cell per resource element
    interference_mw: np.ndarray  # (n,) load-weighted power of all other cells
    noise_mw: float

    @property
    def rsrp_dbm(self) -> np.ndarray:
        return 10.0 * np.log10(self.serving_mw)

    @property
    def sinr_db(self) -> np.ndarray:
        return 10.0 * np.log10(self.serving_mw / (self.interference_mw + self.noise_mw))

    @property
    def geometry_db(self) -> np.ndarray:
        """S / ΣI without noise (the 3GPP 'geometry')."""
        return 10.0 * np.log10(self.serving_mw / self.interference_mw)


def _cell_models(antenna: AntennaPattern, cells: Cells) -> np.ndarray | None:
    """Each cell's model in an `AntennaSet` (by antenna name and carrier), None for one model."""
    if not isinstance(antenna, AntennaSet):
        return None
    assert cells.antenna is not None and cells.frequency_mhz is not None
    return antenna.cell_models(cells.antenna, cells.frequency_mhz)


class LinkBudget:
    """Static per-link terms of a network over a set of points, and fast re-evaluation."""

    def __init__(self, layout: Layout, receivers: Receivers, setup: RadioSetup, links: LinkState):
        cells = layout.cells
        self.n_cells, self.n_points = len(cells), len(receivers)
        self.noise_mw = float(10.0 ** (setup.noise_per_re_dbm / 10.0))
        self._antenna = setup.antenna
        self._cells, self._receivers, self._setup = cells, receivers, setup
        off = layout.nearest_image_offsets(receivers.xy_m)  # (S, n, 2)
        self._d2d_m = np.hypot(off[..., 0], off[..., 1])  # (S, n)
        self._a_db = np.empty((self.n_cells, self.n_points))  # antenna terms of A and B, dB
        self._b_db = np.empty_like(self._a_db)
        x = np.empty((self.n_cells, self.n_points))
        self._cell_model = _cell_models(setup.antenna, cells)
        antenna = setup.antenna
        self._models = antenna.models if isinstance(antenna, AntennaSet) else (antenna,)
        for c in range(self.n_cells):
            s = cells.site[c]
            dx, dy = off[s, :, 0], off[s, :, 1]
            dz = receivers.height_m - cells.height_m[c]
            az, down = link_angles(dx, dy, dz)
            az_local, down_local = to_antenna_frame(
                relative_azimuth_deg(az, cells.azimuth_deg[c]), down, cells.mech_tilt_deg[c]
            )
            model = self._models[0 if self._cell_model is None else self._cell_model[c]]
            x[c], self._a_db[c], self._b_db[c] = model.static_terms(az_local, down_local)
        self._a_mw, self._b_mw = self.realisation_terms(links)
        self._build_table(x)
        self._rx_mw = np.zeros_like(self._a_mw)
        self._tilt_deg = np.full(self.n_cells, np.nan)
        self._all_on = np.ones(self.n_cells, bool)
        self._grid_deg = np.empty(0)  # the precomputed tilt grid (empty: none)
        self._grid_gain: np.ndarray | None = None  # (n_cells, n_tilts, n_points) vertical gain
        self._cache_grid_rx(0)
        self._full_load = np.ones(self.n_cells, np.float32)
        self._changed = np.empty(self.n_cells, bool)
        self._rows = np.empty(self.n_cells, np.intp)
        self._best = np.empty(self.n_points, np.float32)
        self._best_cell = np.empty(self.n_points, np.int32)
        self._interference = np.empty(self.n_points, np.float32)

    def realisation_terms(self, links: LinkState) -> tuple[np.ndarray, np.ndarray]:
        """A and B (float32 mW, (n_cells, n_points)) of one network realisation: transmit
        power, antenna, path loss with that realisation's LOS and effective heights, its
        shadowing, and O2I loss. Sectors of a site at one height on one carrier share their
        path loss (it depends on the site's links, the mast height and the frequency only); a
        site database's cells each use their own carrier's frequency, other layouts
        `setup.fc_ghz`."""
        cells, receivers, setup = self._cells, self._receivers, self._setup
        power = np.broadcast_to(np.asarray(setup.tx_power_per_re_dbm, float), (self.n_cells,))
        fc_ghz = (np.full(self.n_cells, setup.fc_ghz) if cells.frequency_mhz is None
                  else cells.frequency_mhz / 1000.0)  # fmt: skip
        a_mw = np.empty((self.n_cells, self.n_points), np.float32)
        b_mw = np.empty_like(a_mw)
        loss_db: dict[tuple[int, float, float], np.ndarray] = {}
        for c in range(self.n_cells):
            s = int(cells.site[c])
            key = (s, float(cells.height_m[c]), float(fc_ghz[c]))
            if key not in loss_db:
                h_e = None if links.h_e_m is None else links.h_e_m[s]
                pl = setup.pathloss.pathloss_db(
                    self._d2d_m[s], cells.height_m[c], receivers.height_m, key[2],
                    links.los[s], h_e_m=h_e, strict=False,
                )  # fmt: skip
                loss_db[key] = pl
            fixed = power[c] - loss_db[key] - links.shadow_db[s] - receivers.o2i_loss_db
            a_mw[c] = 10.0 ** ((self._a_db[c] + fixed) / 10.0)
            b_mw[c] = 10.0 ** ((self._b_db[c] + fixed) / 10.0)
        return a_mw, b_mw

    def use_terms(self, a_mw: np.ndarray, b_mw: np.ndarray) -> None:
        """Evaluate another network realisation from now on (`realisation_terms`' arrays)."""
        if a_mw.shape != self._a_mw.shape or b_mw.shape != self._b_mw.shape:
            raise ParameterError("a_mw", f"shape {a_mw.shape}", f"shape {self._a_mw.shape}")
        self._a_mw, self._b_mw = a_mw, b_mw
        self._tilt_deg[:] = np.nan  # every cached row belongs to the previous realisation
        self._grid_rx_filled[:] = False

    @property
    def terms(self) -> tuple[np.ndarray, np.ndarray]:
        """The A and B in use."""
        return self._a_mw, self._b_mw

    def _build_table(self, x: np.ndarray) -> None:
        """Re-base the antenna's vertical table so that a link's coordinate is a table index.

        Indices are stored as int16 (2 bytes a link) when the links' span of x fits, else int32;
        the antenna's own step is kept, so look-ups are exactly the antenna table's.
        """
        if self._cell_model is not None:
            self._build_set_table(x)
            return
        source = self._antenna.vertical_table()
        step = source.x_step
        x_lo, x_hi = float(x.min()), float(x.max())
        self._x_ref = source.x_lo + step * np.rint((0.5 * (x_lo + x_hi) - source.x_lo) / step)
        span = max(x_hi - self._x_ref, self._x_ref - x_lo) / step
        index_type = np.int16 if span < _INT16_SPAN else np.int32
        self._x_index = np.rint((x - self._x_ref) / step).astype(index_type)
        self._table = np.ascontiguousarray(source.values_lin, np.float32)
        self._y_lo, self._step = source.x_lo, step

    def _build_set_table(self, x: np.ndarray) -> None:
        """`_build_table` for an `AntennaSet`: the models' tables one after the other, each
        cell's links indexed in its own model's step from its model's reference, so that a
        look-up reads exactly the entry the model alone would."""
        assert self._cell_model is not None
        index = np.empty(x.shape, np.int64)
        n = len(self._models)
        self._set_x_ref, self._set_y_lo, self._set_step = np.zeros(n), np.zeros(n), np.ones(n)
        self._set_base = np.zeros(n, np.intp)
        tables, base = [], 0
        for m, model in enumerate(self._models):
            source = model.vertical_table()
            step = source.x_step
            rows = self._cell_model == m
            mid = 0.5 * (x[rows].min() + x[rows].max()) if rows.any() else source.x_lo
            x_ref = source.x_lo + step * np.rint((mid - source.x_lo) / step)
            index[rows] = np.rint((x[rows] - x_ref) / step)
            self._set_x_ref[m], self._set_y_lo[m], self._set_step[m] = x_ref, source.x_lo, step
            self._set_base[m] = base
            tables.append(np.asarray(source.values_lin, np.float32))
            base += source.values_lin.size
        span = int(np.abs(index).max()) if index.size else 0
        self._x_index = index.astype(np.int16 if span < _INT16_SPAN else np.int32)
        self._table = np.ascontiguousarray(np.concatenate(tables))

    def _index_offset(self, tilt_deg: np.ndarray) -> np.ndarray:
        if self._cell_model is None:
            shift = np.asarray(self._antenna.tilt_shift(tilt_deg), float)
            return np.rint((self._x_ref - shift - self._y_lo) / self._step).astype(np.intp)
        offset = np.empty(self.n_cells, np.intp)  # a set: each cell in its model's stretch
        tilt = np.broadcast_to(np.asarray(tilt_deg, float), (self.n_cells,))
        for m, model in enumerate(self._models):
            rows = self._cell_model == m
            shift = np.asarray(model.tilt_shift(tilt[rows]), float)
            ref, lo, step = self._set_x_ref[m], self._set_y_lo[m], self._set_step[m]
            offset[rows] = self._set_base[m] + np.rint((ref - shift - lo) / step).astype(np.intp)
        return offset

    @property
    def received_mw(self) -> np.ndarray:
        """Per-cell received power at the last evaluated tilts, (n_cells, n_points), read-only
        (a cell off air keeps the row of its last tilt on air)."""
        rx = self._rx_mw.view()
        rx.flags.writeable = False
        return rx

    def coupling_matrix(self, users: np.ndarray) -> np.ndarray:
        """`cellsim.env.neighbours.coupling_matrix` at the last evaluated tilts (the sparse
        budget has its own: the neighbour lists ask the budget)."""
        from cellsim.env.neighbours import coupling_matrix

        return coupling_matrix(self._rx_mw, users)

    def precompute_tilts(self, tilt_grid_deg: np.ndarray) -> bool:
        """Tabulate every cell's vertical pattern gain at each tilt of a grid (e.g. 0…15° in 1°
        steps) over its points.

        Afterwards, evaluating tilts that all lie on the grid reads a changed cell's pattern
        from the table instead of gathering it — for discrete tilt actions. The table does not
        depend on the network realisation (`use_terms` keeps it). Skipped (returns False) when
        it would exceed TILT_TABLE_MAX_BYTES; other tilts still take the general path. Where it
        fits in GRID_RX_MAX_BYTES too, the received power at each grid tilt is cached as well,
        per realisation, as cells take the tilts (a re-tilt then copies 8 bytes a link instead
        of recomputing with 16).
        """
        grid = np.unique(np.asarray(tilt_grid_deg, float))
        table_bytes = grid.size * self.n_cells * self.n_points * 4
        if table_bytes > TILT_TABLE_MAX_BYTES:
            return False
        self._cache_grid_rx(grid.size if table_bytes <= GRID_RX_MAX_BYTES else 0)
        gain = np.empty((self.n_cells, grid.size, self.n_points), np.float32)
        for k, t in enumerate(grid):
            offset = self._index_offset(np.full(self.n_cells, t))
            for c in range(self.n_cells):
                gain[c, k] = self._table[self._x_index[c] + offset[c]]
        self._grid_deg, self._grid_gain = grid, gain
        return True

    def _cache_grid_rx(self, n_tilts: int) -> None:
        """An empty cache of received power per cell and grid tilt, filled on first use
        (`evaluate_grid`); 0 tilts: no cache."""
        n_cells, n_points = (self.n_cells, self.n_points) if n_tilts else (0, 0)
        self._grid_rx = np.empty((n_cells, n_tilts, n_points), np.float32)
        self._grid_rx_filled = np.zeros((n_cells, n_tilts), bool)

    def evaluate(
        self,
        tilt_deg: np.ndarray,
        interference_weight: np.ndarray | None = None,
        active: np.ndarray | None = None,
    ) -> RadioState:
        """Radio state at electrical tilts `tilt_deg` (per cell, degrees down).

        `interference_weight` scales each cell's interference (its load, 0…1); 1 for all cells
        gives the full-buffer SINR and geometry of 3GPP calibration. Only cells whose tilt
        changed since the last call have their received power recomputed. `active` (per cell,
        default all) switches cells off: they neither serve nor interfere.
        """
        tilt = np.asarray(tilt_deg, np.float64)
        if tilt.shape != (self.n_cells,):
            raise ParameterError("tilt_deg", f"shape {tilt.shape}", f"shape ({self.n_cells},)")
        if interference_weight is None:
            weight = self._full_load
        else:
            weight = np.ascontiguousarray(interference_weight, np.float32)
            if weight.shape != (self.n_cells,):
                raise ParameterError(
                    "interference_weight", f"shape {weight.shape}", f"({self.n_cells},) values"
                )
        if active is not None and np.shape(active) != (self.n_cells,):
            raise ParameterError("active", f"shape {np.shape(active)}", f"({self.n_cells},) bools")
        on = self._all_on if active is None else np.ascontiguousarray(active, bool)
        # a cell that is off keeps its stale row and is recomputed when it comes back on
        changed, rows = self._changed, self._rows
        found = prepare_tilts(
            tilt, TILT_LIMIT_DEG, weight, self._tilt_deg, on, self._grid_deg, changed, rows
        )
        if found == TILT_OUT_OF_RANGE:
            bad = tilt[~(np.abs(tilt) <= TILT_LIMIT_DEG)][0]
            raise ParameterError("tilt_deg", float(bad), "−90…90° below the horizon")
        if found == WEIGHT_NOT_FINITE:
            raise ParameterError(
                "interference_weight", "a value that is not finite", "finite values, one per cell"
            )
        if found == TILTS_ON_GRID:
            assert self._grid_gain is not None  # rows on the grid imply a precomputed grid
            evaluate_grid(
                self._a_mw, self._b_mw, self._grid_gain, self._grid_rx, self._grid_rx_filled,
                rows, changed, weight, on,
                self._rx_mw, self._best, self._best_cell, self._interference,
            )  # fmt: skip
        else:
            evaluate_links(
                self._a_mw, self._b_mw, self._x_index, self._index_offset(tilt), self._table,
                changed, weight, on, self._rx_mw, self._best, self._best_cell,
                self._interference,
            )  # fmt: skip
        np.copyto(self._tilt_deg, tilt, where=on)
        return self._state()

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
        """Solve the load ↔ interference fixed point from `state` (the fold at `weight`) in
        place (`cellsim.kpi.converge_loads`); returns (iterations, converged)."""
        return converge_loads(
            self._rx_mw, state.serving_cell, state.serving_mw, state.interference_mw,
            state.noise_mw, users, active, weight, params.user_rate_mbps, params.bandwidth_mhz,
            params.admission_load, params.idle_load, tolerance, max_iterations,
        )  # fmt: skip

    def _state(self) -> RadioState:
        return RadioState(
            self._best_cell.copy(), self._best.copy(), self._interference.copy(), self.noise_mw
        )


def build_link_budget(
    layout: Layout,
    receivers: Receivers,
    setup: RadioSetup,
    links: LinkState | np.random.Generator,
    tilt_range_deg: tuple[float, float] | None = None,
) -> LinkBudget | SparseLinkBudget:
    """The link budget a network gets: dense, or sparse for large networks (one place to
    choose, `cellsim.sparse_budget.budget_kind`: from 800 cells or 5e7 links on, or as
    $CELLSIM_LINK_BUDGET = dense | sparse says). `links` is a realisation's link state, or
    the generator to draw it from (a large network's sparse budget draws it per cluster of
    sites, never whole); the tilt range (the env's) tightens the sparse budget's selection
    and bound."""
    from cellsim.sparse_budget import SparseLinkBudget, auto_radius_m, budget_kind

    if budget_kind(len(layout.cells), len(receivers)) == "sparse":
        if isinstance(setup.antenna, AntennaSet):
            raise ParameterError(
                "antenna", f"{len(setup.antenna.models)} models (per carrier)",
                "one antenna model for a network the sparse link budget simulates (from 800 "
                "cells on, or CELLSIM_LINK_BUDGET=sparse)",
            )  # fmt: skip
        radius = None if isinstance(links, LinkState) else auto_radius_m(layout, len(receivers))
        return SparseLinkBudget(layout, receivers, setup, links, tilt_range_deg=tilt_range_deg,
                                radius_m=radius)  # fmt: skip
    if not isinstance(links, LinkState):
        links = draw_link_state(links, layout, receivers, setup)
    return LinkBudget(layout, receivers, setup, links)


def draw_realisation_terms(
    budget: LinkBudget | SparseLinkBudget,
    layout: Layout,
    receivers: Receivers,
    setup: RadioSetup,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """A new realisation's terms for `budget.use_terms` (a sparse budget draws its own)."""
    if isinstance(budget, LinkBudget):
        return budget.realisation_terms(draw_link_state(rng, layout, receivers, setup))
    return budget.draw_terms(rng)
