"""Numba kernels of the sparse link budget (`cellsim.sparse_budget`).

A sparse budget keeps K links per point in slot-major arrays of shape (K, n_points): slot k of
every point is one contiguous row, as a cell's row is in the dense budget, so the loops run over
contiguous rows and vectorise (the cell of a link is gathered per point instead of fixed per
row). Decisions:
- Slot-major, fixed K: no ragged offsets on the hot path; a point with fewer candidates pads its
  slots with zero-power links (they never serve and add nothing).
- The fold and the load update run blocks of points in parallel (numba threads,
  NUMBA_NUM_THREADS): only sparse budgets, i.e. networks of hundreds of cells and more, use
  them, where one env per process is the rule.
- The load fixed point (`cellsim.kpi.converge_loads`) is shared with the dense budget through
  `add_weight_change`, which picks the dense or the sparse row update by the type of the
  received powers it is given (an array: dense rows; a (cell, rx) tuple: sparse links).
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload

from cellsim.kernels import JIT_OPTIONS, POINT_BLOCK, add_weighted_rows


@nb.njit(**JIT_OPTIONS)
def _slot_receive(
    cell: np.ndarray,
    a_mw: np.ndarray,
    b_mw: np.ndarray,
    x_index: np.ndarray,
    index_offset: np.ndarray,
    table: np.ndarray,
    changed: np.ndarray,
    rx: np.ndarray,
) -> None:
    """rx = max(A · v(x − shift(tilt)), B) for the links whose cell changed tilt."""
    for p in range(rx.shape[0]):
        c = cell[p]
        v = max(a_mw[p] * table[x_index[p] + index_offset[c]], b_mw[p])
        rx[p] = v if changed[c] else rx[p]


@nb.njit(**JIT_OPTIONS)
def _slot_fold(
    cell: np.ndarray,
    rx: np.ndarray,
    weight: np.ndarray,
    active: np.ndarray,
    best: np.ndarray,
    best_weight: np.ndarray,
    best_cell: np.ndarray,
    interference: np.ndarray,
) -> None:
    """Fold one slot of links into the per-point reduction (`kernels._receive_and_fold` with
    the cell gathered per point): keep the strongest, add the others weighted by load. (Sectors
    of a site tie where their back-lobe floors rule: the tie-break keeps the dense servers.)"""
    zero = np.float32(0.0)
    for p in range(rx.shape[0]):
        c = cell[p]
        v = rx[p] if active[c] else zero
        w = weight[c]
        # ties go to the lower cell index, as in the dense fold (cells in index order)
        gt = v > best[p] or (v == best[p] and v > zero and c < best_cell[p])
        interference[p] += best_weight[p] * best[p] if gt else w * v
        best_weight[p] = w if gt else best_weight[p]
        best_cell[p] = c if gt else best_cell[p]
        best[p] = v if gt else best[p]


@nb.njit(parallel=True, **JIT_OPTIONS)
def evaluate_sparse(
    cell: np.ndarray,
    a_mw: np.ndarray,
    b_mw: np.ndarray,
    x_index: np.ndarray,
    index_offset: np.ndarray,
    table: np.ndarray,
    changed: np.ndarray,
    any_changed: bool,
    weight: np.ndarray,
    active: np.ndarray,
    rx: np.ndarray,
    best: np.ndarray,
    best_cell: np.ndarray,
    interference: np.ndarray,
) -> None:
    """Recompute the links of re-tilted cells, then reduce each point's K links.

    cell, a_mw, b_mw, x_index, rx: (K, n_points) slot-major links; index_offset, changed,
    weight, active: per cell. Outputs per point as `kernels.evaluate_links`: best (mW),
    best_cell, interference (mW, load-weighted, serving link excluded).
    """
    n_slots, n_points = rx.shape
    for block in nb.prange((n_points + POINT_BLOCK - 1) // POINT_BLOCK):
        p0 = block * POINT_BLOCK
        p1 = min(n_points, p0 + POINT_BLOCK)
        n = p1 - p0
        best_weight = np.empty(n, np.float32)
        best[p0:p1] = 0.0
        best_cell[p0:p1] = 0
        interference[p0:p1] = 0.0
        best_weight[:] = 0.0
        for k in range(n_slots):
            links, rx_k = cell[k, p0:p1], rx[k, p0:p1]
            if any_changed:
                _slot_receive(links, a_mw[k, p0:p1], b_mw[k, p0:p1], x_index[k, p0:p1],
                              index_offset, table, changed, rx_k)  # fmt: skip
            _slot_fold(links, rx_k, weight, active, best[p0:p1], best_weight,
                       best_cell[p0:p1], interference[p0:p1])  # fmt: skip


@nb.njit(**JIT_OPTIONS)
def _slot_add(
    cell: np.ndarray,
    rx: np.ndarray,
    delta_weight: np.ndarray,
    serving_cell: np.ndarray,
    interference: np.ndarray,
) -> None:
    """interference += Δw[cell] · rx where the link's cell does not serve the point."""
    zero = np.float32(0.0)
    for p in range(rx.shape[0]):
        c = cell[p]
        interference[p] += delta_weight[c] * rx[p] if serving_cell[p] != c else zero


@nb.njit(parallel=True, **JIT_OPTIONS)
def add_sparse_rows(
    cell: np.ndarray,
    rx: np.ndarray,
    delta_weight: np.ndarray,
    serving_cell: np.ndarray,
    interference: np.ndarray,
) -> None:
    """`kernels.add_weighted_rows` over sparse links: every link adds its cell's weight change
    (a cell with no change adds 0; scanning all K slots beats a per-cell index of links)."""
    n_slots, n_points = rx.shape
    for block in nb.prange((n_points + POINT_BLOCK - 1) // POINT_BLOCK):
        p0 = block * POINT_BLOCK
        p1 = min(n_points, p0 + POINT_BLOCK)
        for k in range(n_slots):
            _slot_add(cell[k, p0:p1], rx[k, p0:p1], delta_weight, serving_cell[p0:p1],
                      interference[p0:p1])  # fmt: skip


def add_weight_change(
    received: Any,
    delta_weight: np.ndarray,
    cells: np.ndarray,
    serving_cell: np.ndarray,
    interference: np.ndarray,
) -> None:
    """interference += Δw_c · rx_c where c does not serve, for dense rows (an (n_cells,
    n_points) array) or sparse links (a (cell, rx) tuple of (K, n_points) arrays). Python
    form; inside numba kernels the overload below picks the kernel by type at compile time."""
    if isinstance(received, tuple):
        add_sparse_rows(received[0], received[1], delta_weight, serving_cell, interference)
    else:
        add_weighted_rows(received, delta_weight, cells, serving_cell, interference)


# numba matches the overload's parameters to its implementations' by name and annotation:
# hence no annotations here
@overload(add_weight_change, jit_options=JIT_OPTIONS)  # type: ignore[arg-type]
def _add_weight_change_jit(received, delta_weight, cells, serving_cell, interference):  # type: ignore[no-untyped-def]
    if isinstance(received, types.BaseTuple):

        def sparse(received, delta_weight, cells, serving_cell, interference):  # type: ignore[no-untyped-def]
            add_sparse_rows(received[0], received[1], delta_weight, serving_cell, interference)

        return sparse

    def dense(received, delta_weight, cells, serving_cell, interference):  # type: ignore[no-untyped-def]
        add_weighted_rows(received, delta_weight, cells, serving_cell, interference)

    return dense


@nb.njit(**JIT_OPTIONS)
def keep_strongest(
    point: np.ndarray,
    cell: np.ndarray,
    bound_mw: np.ndarray,
    a_mw: np.ndarray,
    b_mw: np.ndarray,
    x_index: np.ndarray,
    keep_bound: np.ndarray,
    keep_cell: np.ndarray,
    keep_a: np.ndarray,
    keep_b: np.ndarray,
    keep_x: np.ndarray,
    count: np.ndarray,
    neglected_mw: np.ndarray,
) -> None:
    """Merge candidate links into each point's K strongest by upper bound.

    Candidates: (n_c, n_local) arrays, cell[i] the global cell of row i, point[j] the global
    point of column j. A link displaced from (or never admitted to) the K kept adds its upper
    bound to `neglected_mw`, so that at the end neglected = Σ bounds of every link not kept.
    """
    n_keep = keep_bound.shape[0]
    for i in range(bound_mw.shape[0]):
        c = cell[i]
        for j in range(bound_mw.shape[1]):
            p = point[j]
            u = bound_mw[i, j]
            slot = count[p]
            if slot < n_keep:
                count[p] = slot + 1
            else:
                slot = 0
                lo = keep_bound[0, p]
                for k in range(1, n_keep):
                    if keep_bound[k, p] < lo:
                        lo = keep_bound[k, p]
                        slot = k
                if u <= lo:
                    neglected_mw[p] += u
                    continue
                neglected_mw[p] += lo
            keep_bound[slot, p] = u
            keep_cell[slot, p] = c
            keep_a[slot, p] = a_mw[i, j]
            keep_b[slot, p] = b_mw[i, j]
            keep_x[slot, p] = x_index[i, j]


@nb.njit(**JIT_OPTIONS)
def sum_by_server(
    cell: np.ndarray,
    rx: np.ndarray,
    server: np.ndarray,
    point_weight: np.ndarray,
    out: np.ndarray,
) -> None:
    """out[i, j] += Σ over the points that cell i serves of weight × rx of cell j: the sparse
    form of `cellsim.env.neighbours._sum_by_server` (float64 sums)."""
    n_slots, n_points = rx.shape
    for p in range(n_points):
        s = server[p]
        w = point_weight[p]
        for k in range(n_slots):
            out[s, cell[k, p]] += w * rx[k, p]


@nb.njit(**JIT_OPTIONS)
def sum_by_own_signal(cell: np.ndarray, rx: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """out[i, j] += Σ_p rx_i(p) · rx_j(p) for the cells i flagged in `rows`: the coupling of a
    cell that serves no point, weighted by where its own signal is."""
    n_slots, n_points = rx.shape
    for p in range(n_points):
        for k in range(n_slots):
            i = cell[k, p]
            if rows[i]:
                for m in range(n_slots):
                    out[i, cell[m, p]] += np.float64(rx[k, p]) * rx[m, p]
