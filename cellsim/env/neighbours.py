"""Each cell's k most interfering neighbours: what a per-cell agent looks at besides itself.

Operators keep neighbour relation lists per cell; cellsim derives one from the radio state of
the network as planned. Coupling of cell j into cell i = demand-weighted received power of j at
the receivers that i serves, over the power of i there (dB), with every cell at full load and at
its scenario tilt, demand averaged over the day. The list is fixed for a network, as real
neighbour lists are, so an agent's view does not jump when tilts change. Its size k is fixed
whatever the network, which is what lets one policy run on networks of any size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cellsim.contract import TiltSpace

if TYPE_CHECKING:
    from cellsim.simulator import Simulator

ABSENT_COUPLING_DB = -60.0  # what an empty neighbour slot (or a silent neighbour) reports


@dataclass(frozen=True)
class NeighbourTable:
    index: np.ndarray  # (n_cells, k) int64, the neighbour's cell index, -1 for an empty slot
    coupling_db: np.ndarray  # (n_cells, k) float32: the neighbour into this cell's users
    coupling_out_db: np.ndarray  # (n_cells, k) float32: this cell into the neighbour's users

    @property
    def k(self) -> int:
        return self.index.shape[1]

    @property
    def present(self) -> np.ndarray:
        return self.index >= 0


def _sum_by_server(rx_t: np.ndarray, server: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """(n, n): row i = Σ over the receivers that cell i serves of weight × each cell's power."""
    order = np.argsort(server, kind="stable")
    counts = np.bincount(server, minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sums = np.zeros((n, n))
    has = counts > 0
    if has.any():
        sums[has] = np.add.reduceat(rx_t[order] * weights[order, None], starts[has], axis=0)
    return sums


def coupling_matrix(received_mw: np.ndarray, users: np.ndarray) -> np.ndarray:
    """(n, n) float64: row i = demand-weighted power of each cell at the receivers i serves.

    A cell that serves no demand falls back to the receivers it serves unweighted, and a cell
    that serves no receiver at all to the receivers where its own signal is, weighted by it.
    """
    n, p = received_mw.shape
    server = received_mw.argmax(axis=0)
    rx_t = received_mw.T.astype(np.float64)  # (points, cells)
    out = _sum_by_server(rx_t, server, users.astype(np.float64), n)
    empty = ~out.any(axis=1)
    if empty.any():
        out[empty] = _sum_by_server(rx_t, server, np.ones(p), n)[empty]
    empty = ~out.any(axis=1)
    if empty.any():
        out[empty] = received_mw[empty].astype(np.float64) @ rx_t
    return out


def interference_neighbours(received_mw: np.ndarray, users: np.ndarray, k: int) -> NeighbourTable:
    """The k cells that interfere most with each cell's users (strongest first)."""
    return coupling_neighbours(coupling_matrix(received_mw, users), k)


def coupling_neighbours(coupling: np.ndarray, k: int) -> NeighbourTable:
    """The neighbour table of a `coupling_matrix` (it is modified)."""
    n = coupling.shape[0]
    own = np.diag(coupling).copy()
    np.fill_diagonal(coupling, -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_db = 10.0 * np.log10(coupling / np.maximum(own, 1e-300)[:, None])  # j into i
    ratio_db = np.clip(np.nan_to_num(ratio_db, nan=ABSENT_COUPLING_DB, neginf=ABSENT_COUPLING_DB),
                       ABSENT_COUPLING_DB, 20.0)  # fmt: skip
    take = min(k, n - 1)
    index = np.full((n, k), -1, np.int64)
    coupling_in = np.full((n, k), ABSENT_COUPLING_DB, np.float32)
    coupling_out = np.full((n, k), ABSENT_COUPLING_DB, np.float32)
    if take > 0:
        # stable order: strongest first, ties by cell index (same table in any process)
        order = np.argsort(-coupling, axis=1, kind="stable")[:, :take]
        index[:, :take] = order
        coupling_in[:, :take] = np.take_along_axis(ratio_db, order, axis=1)
        coupling_out[:, :take] = ratio_db.T[np.arange(n)[:, None], order]
    return NeighbourTable(index, coupling_in, coupling_out)


def network_neighbours(sim: Simulator, k: int) -> NeighbourTable:
    """The neighbour table of a `Simulator`'s network at its scenario tilts, full load, in the
    network's own realisation (`base_seed`)."""
    tilt = TiltSpace.of(sim.config).clip(sim.layout.cells.tilt_deg)
    with sim.realisation(sim.base_seed):  # the network's own: one list, whatever the episode
        sim.budget.evaluate(tilt, np.ones(sim.n_cells, np.float32), np.ones(sim.n_cells, bool))
        users = np.mean([sim.users_at(h) for h in range(24)], axis=0)
        coupling = sim.budget.coupling_matrix(users)  # dense rows or sparse links alike
    return coupling_neighbours(coupling, k)
