"""Numba kernels of the per-step link budget: the only code on the hot path of `env.step`.

The loops run over contiguous 1-D rows so that LLVM vectorises them (AVX2/AVX-512). The table
gather runs in a scalar loop into a small L1-resident buffer, the rest in a vectorised loop.
Blocks of points keep the per-point accumulators in cache while the cells stream past. Each link's
vertical coordinate is stored as an int16 table index (2 bytes instead of 4 for a float).
"""

from __future__ import annotations

from typing import Literal, TypedDict

import numba as nb
import numpy as np


class JitOptions(TypedDict):
    """Keyword arguments of `numba.njit` shared by every kernel (typed so `**` type-checks)."""

    fastmath: bool
    error_model: Literal["python", "numpy"]
    boundscheck: bool
    cache: bool
    nogil: bool


JIT_OPTIONS: JitOptions = {
    "fastmath": True,
    "error_model": "numpy",
    "boundscheck": False,
    "cache": True,
    "nogil": True,
}
#: For kernels where NaN must compare as NaN (fastmath lets LLVM assume there is none).
JIT_OPTIONS_STRICT: JitOptions = {**JIT_OPTIONS, "fastmath": False}
POINT_BLOCK = 4096


@nb.njit(**JIT_OPTIONS)
def _gather(x_index: np.ndarray, index_offset: int, table: np.ndarray, out: np.ndarray) -> None:
    """out[p] = table[x_index[p] + offset]: the cell's vertical pattern at its current tilt."""
    for p in range(x_index.shape[0]):
        out[p] = table[x_index[p] + index_offset]


@nb.njit(**JIT_OPTIONS)
def _receive_and_fold(
    recompute: bool,
    a_mw: np.ndarray,
    b_mw: np.ndarray,
    vertical: np.ndarray,
    rx: np.ndarray,
    cell: int,
    weight: float,
    best: np.ndarray,
    best_weight: np.ndarray,
    best_cell: np.ndarray,
    interference: np.ndarray,
) -> None:
    """Fold one cell into the per-point reduction: keep the strongest cell, add the others
    (weighted by load) to interference.

    With `recompute`, the received power max(static part × vertical pattern, front-back floor) is
    computed and stored in `rx` for later steps; otherwise it is read from `rx`. A dethroned best
    moves into the interference sum, so the serving power is never added then subtracted (no
    float32 cancellation at high SINR). (A per-point helper shared with other kernels, even
    inlined, stops LLVM vectorising this loop: 80× slower, measured.)"""
    for p in range(rx.shape[0]):
        if recompute:
            v = max(a_mw[p] * vertical[p], b_mw[p])
            rx[p] = v
        else:
            v = rx[p]
        gt = v > best[p]
        interference[p] += best_weight[p] * best[p] if gt else weight * v
        best_weight[p] = weight if gt else best_weight[p]
        best_cell[p] = cell if gt else best_cell[p]
        best[p] = v if gt else best[p]


@nb.njit(**JIT_OPTIONS)
def _clear_block(
    best: np.ndarray, best_cell: np.ndarray, interference: np.ndarray, best_weight: np.ndarray
) -> None:
    """Start a block of points: no server yet, no interference."""
    best[:] = 0.0
    best_cell[:] = 0
    interference[:] = 0.0
    best_weight[:] = 0.0


@nb.njit(**JIT_OPTIONS)
def evaluate_links(
    a_mw: np.ndarray,
    b_mw: np.ndarray,
    x_index: np.ndarray,
    index_offset: np.ndarray,
    table: np.ndarray,
    changed: np.ndarray,
    weight: np.ndarray,
    active: np.ndarray,
    rx_cache: np.ndarray,
    best: np.ndarray,
    best_cell: np.ndarray,
    interference: np.ndarray,
) -> None:
    """Recompute the rows of `rx_cache` whose tilt changed, then reduce over all cells.

    a_mw, b_mw, rx_cache: (n_cells, n_points) float32; x_index: (n_cells, n_points) int16.
    index_offset: (n_cells,) intp, the table offset of each cell's current tilt. changed:
    (n_cells,) bool. weight: (n_cells,) float32 interference weight (e.g. cell load). active:
    (n_cells,) bool; a cell that is off (an outage) neither serves nor interferes.
    Outputs per point: best (mW), best_cell, interference (mW, weighted, serving cell excluded).
    """
    n_cells, n_points = a_mw.shape
    vertical = np.empty(POINT_BLOCK, np.float32)
    best_weight = np.empty(POINT_BLOCK, np.float32)
    for p0 in range(0, n_points, POINT_BLOCK):
        p1 = min(n_points, p0 + POINT_BLOCK)
        n = p1 - p0
        _clear_block(best[p0:p1], best_cell[p0:p1], interference[p0:p1], best_weight[:n])
        for c in range(n_cells):
            if not active[c]:
                continue
            if changed[c]:
                _gather(x_index[c, p0:p1], index_offset[c], table, vertical[:n])
            _receive_and_fold(
                changed[c],
                a_mw[c, p0:p1],
                b_mw[c, p0:p1],
                vertical[:n],
                rx_cache[c, p0:p1],
                c,
                weight[c],
                best[p0:p1],
                best_weight[:n],
                best_cell[p0:p1],
                interference[p0:p1],
            )


#: What `prepare_tilts` found.
TILTS_ON_GRID, TILTS_OFF_GRID, TILT_OUT_OF_RANGE, WEIGHT_NOT_FINITE = 0, 1, 2, 3


@nb.njit(**JIT_OPTIONS_STRICT)
def prepare_tilts(
    tilt_deg: np.ndarray,
    limit_deg: float,
    weight: np.ndarray,
    last_tilt_deg: np.ndarray,
    on: np.ndarray,
    grid_deg: np.ndarray,
    changed: np.ndarray,
    rows: np.ndarray,
) -> int:
    """One pass before a fold: check the tilts (|tilt| ≤ limit) and weights (finite), mark the
    cells on air whose tilt changed, and find each tilt's row on the precomputed grid (an empty
    grid: none). Returns TILTS_ON_GRID, TILTS_OFF_GRID or the first problem found."""
    on_grid = grid_deg.shape[0] > 0
    for c in range(tilt_deg.shape[0]):
        t = tilt_deg[c]
        if not abs(t) <= limit_deg:
            return TILT_OUT_OF_RANGE
        if not np.isfinite(weight[c]):
            return WEIGHT_NOT_FINITE
        changed[c] = on[c] and t != last_tilt_deg[c]
        if on_grid:
            k = min(np.searchsorted(grid_deg, t), grid_deg.shape[0] - 1)
            if abs(grid_deg[k] - t) < 1e-9:
                rows[c] = k
            else:
                on_grid = False
    return TILTS_ON_GRID if on_grid else TILTS_OFF_GRID


@nb.njit(**JIT_OPTIONS)
def evaluate_grid(
    a_mw: np.ndarray,
    b_mw: np.ndarray,
    grid_gain: np.ndarray,
    grid_rx: np.ndarray,
    grid_rx_filled: np.ndarray,
    row_index: np.ndarray,
    changed: np.ndarray,
    weight: np.ndarray,
    active: np.ndarray,
    rx_cache: np.ndarray,
    best: np.ndarray,
    best_cell: np.ndarray,
    interference: np.ndarray,
) -> None:
    """`evaluate_links` for tilts on a precomputed grid: a changed cell's vertical pattern is
    read from `grid_gain` (n_cells, n_tilts, n_points), the cell's pattern at each grid tilt,
    instead of gathered from the table; the same values, with no gather.

    grid_rx (n_cells, n_tilts, n_points), when not empty, caches each cell's received power at
    each grid tilt for the realisation in use, filled the first time the cell takes the tilt
    (`grid_rx_filled`, (n_cells, n_tilts) bool): a re-tilt back to a tilt seen before copies
    the row instead of recomputing it. Same values either way."""
    n_cells, n_points = a_mw.shape
    cached = grid_rx.shape[0] > 0
    best_weight = np.empty(POINT_BLOCK, np.float32)
    ones = np.ones(POINT_BLOCK, np.float32)
    zeros = np.zeros(POINT_BLOCK, np.float32)
    for p0 in range(0, n_points, POINT_BLOCK):
        p1 = min(n_points, p0 + POINT_BLOCK)
        n = p1 - p0
        _clear_block(best[p0:p1], best_cell[p0:p1], interference[p0:p1], best_weight[:n])
        for c in range(n_cells):
            if not active[c]:
                continue
            k = row_index[c]
            if cached and changed[c] and grid_rx_filled[c, k]:
                # max(cached × 1, 0) = cached: the block's ones and zeros stay in L1, so this
                # streams 8 bytes a link (read the cached row, write the cell's row), not 16
                _receive_and_fold(
                    True, grid_rx[c, k, p0:p1], zeros[:n], ones[:n], rx_cache[c, p0:p1], c,
                    weight[c], best[p0:p1], best_weight[:n], best_cell[p0:p1],
                    interference[p0:p1],
                )  # fmt: skip
                continue
            _receive_and_fold(
                changed[c], a_mw[c, p0:p1], b_mw[c, p0:p1], grid_gain[c, k, p0:p1],
                rx_cache[c, p0:p1], c, weight[c], best[p0:p1], best_weight[:n],
                best_cell[p0:p1], interference[p0:p1],
            )  # fmt: skip
    if cached:  # rows recomputed this call, for the next visit of their tilt (still in cache)
        for c in range(n_cells):
            k = row_index[c]
            if active[c] and changed[c] and not grid_rx_filled[c, k]:
                grid_rx[c, k] = rx_cache[c]
                grid_rx_filled[c, k] = True


@nb.njit(**JIT_OPTIONS)
def _add_row(
    delta: float, row: np.ndarray, serving_cell: np.ndarray, cell: int, interference: np.ndarray
) -> None:
    """interference += Δw · row where `cell` does not serve (a contiguous row: vectorised)."""
    for p in range(row.shape[0]):
        interference[p] += delta * row[p] if serving_cell[p] != cell else np.float32(0.0)


@nb.njit(**JIT_OPTIONS)
def add_weighted_rows(
    rx_mw: np.ndarray,
    delta_weight: np.ndarray,
    cells: np.ndarray,
    serving_cell: np.ndarray,
    interference: np.ndarray,
) -> None:
    """interference[p] += Δw_c · rx[c, p] for each listed cell c that does not serve p.

    The load fixed point changes only the cells' interference weights, never the received
    powers or the best servers, so an iterate updates the interference by the weight change of
    the cells whose load moved instead of re-folding every cell. (The row loop is its own
    function, as in `evaluate_links`: inlined here, LLVM does not vectorise it: 10× slower.)
    """
    n_points = rx_mw.shape[1]
    for p0 in range(0, n_points, POINT_BLOCK):
        p1 = min(n_points, p0 + POINT_BLOCK)
        for c in cells:
            _add_row(delta_weight[c], rx_mw[c, p0:p1], serving_cell[p0:p1], c,
                     interference[p0:p1])  # fmt: skip
