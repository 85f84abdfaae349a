"""The observations, built from the contract's layout (`cellsim.contract`).

Centralised (`cellsim/Tilt-v0`): every cell's `CELL_FEATURES`, then sin and cos of the time of
day, one flat float32 vector. Per-cell agents (`cellsim.env.parallel_env`): own cell, network
mean, time and k neighbour slots (`cellsim.contract.build_agent_observations`). Cells without
users report 0 for their per-user averages.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cellsim.contract import (
    ENV_FEATURES,
    FEATURE_INDEX,
    N_CELL,
    N_TIME,
    NETWORK_MEAN,
    OWN,
    NumpyOps,
    TiltSpace,
    agent_observation_dim,
    build_agent_observations,
    cell_features,
    slot_feature_columns,
    split_observation,
)
from cellsim.kpi import Kpis

if TYPE_CHECKING:
    from cellsim.env.neighbours import NeighbourTable
    from cellsim.env.ret import RetState


_ENV_ROW = {name: j for j, name in enumerate(ENV_FEATURES)}  # rows of cell_features' env_values
_TILT_ROW, _ACTIVE_ROW = _ENV_ROW["tilt"], _ENV_ROW["active"]
#: the two rows `RetState.left` fills at once, moves_left then dwell_left
_RET_ROWS = slice(_ENV_ROW["moves_left"], _ENV_ROW["dwell_left"] + 1)
assert _RET_ROWS.stop - _RET_ROWS.start == 2


def cell_observation(
    kpis: Kpis, tilt_deg: np.ndarray, active: np.ndarray, tilts: TiltSpace, ret: RetState,
    now_min: float, out: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """(n_cells, N_CELL) float32, clipped to the documented bounds (into `out` if given)."""
    own = np.empty((len(ENV_FEATURES), len(tilt_deg)), np.float32)
    own[_TILT_ROW] = tilts.to_feature(tilt_deg)
    own[_ACTIVE_ROW] = active
    ret.left(now_min, own[_RET_ROWS])
    return cell_features(kpis.cell, own, out)


def time_features(hour: float) -> tuple[float, float]:
    angle = 2.0 * math.pi * (hour % 24.0) / 24.0
    return math.sin(angle), math.cos(angle)


def observation(
    kpis: Kpis, tilt_deg: np.ndarray, active: np.ndarray, tilts: TiltSpace, ret: RetState,
    now_min: float, hour: float,
) -> np.ndarray:  # fmt: skip
    """The centralised observation: every cell's features (`cell_observation`), then the time
    of day, one float32 vector written in place."""
    n = len(tilt_deg)
    out = np.empty(n * N_CELL + N_TIME, np.float32)
    cells = out[: n * N_CELL].reshape(n, N_CELL)  # a view: filled in place
    cell_observation(kpis, tilt_deg, active, tilts, ret, now_min, cells)
    out[n * N_CELL :] = time_features(hour)
    return out


def slot_couplings(neighbours: NeighbourTable) -> np.ndarray:
    """(n_cells, k, 2) float32: each slot's coupling in and out, dB / 20 clipped to [-3, 1], 0 for
    an empty slot: the numbers a neighbour slot carries besides the neighbour's features."""
    db = np.stack([neighbours.coupling_db, neighbours.coupling_out_db], axis=-1)
    scaled = np.clip(db / 20.0, -3.0, 1.0)
    return np.where(neighbours.present[..., None], scaled, 0.0).astype(np.float32)


def slot_static(neighbours: NeighbourTable) -> np.ndarray:
    """(n_cells, k, len(SLOT_STATIC)) float32: presence flag and scaled couplings per slot."""
    present = neighbours.present[..., None].astype(np.float32)
    return np.concatenate([present, slot_couplings(neighbours)], axis=-1)


def agent_observations(
    cells: np.ndarray, time: np.ndarray, neighbours: NeighbourTable
) -> np.ndarray:
    """(n_cells, N_HEAD + N_SLOT k) float32: every agent's observation from the cell feature
    matrix (`cell_observation`), the time features and a `NeighbourTable`."""
    present = neighbours.present[..., None].astype(np.float32)
    out = build_agent_observations(
        cells[None], np.asarray(time)[None], slot_static(neighbours),
        np.maximum(neighbours.index, 0), present, NumpyOps(),
    )  # fmt: skip
    return np.ascontiguousarray(out[0], np.float32)


def tilt_reference_offsets(reference: np.ndarray, neighbours: NeighbourTable) -> np.ndarray:
    """(n_cells, N_HEAD + k N_SLOT) float32 to add to the agent observations so that every tilt
    in them reads relative to a reference: the cell's own tilt to its reference, each
    neighbour's tilt to that neighbour's, the network mean to the mean reference; `reference`
    in the tilt feature's units (0 … 1 over the tilt range). With the planning
    tilt as reference, a shared actor sees how far each antenna is from what its own height and
    site spacing suggest, rather than an absolute angle that suits one network's geometry."""
    n, k = len(reference), neighbours.k
    tilt = FEATURE_INDEX["tilt"]
    out = np.zeros((n, agent_observation_dim(k)), np.float32)
    out[:, OWN.start + tilt] = -reference
    out[:, NETWORK_MEAN.start + tilt] = -np.mean(reference)
    neighbour_reference = np.asarray(reference)[np.maximum(neighbours.index, 0)]
    out[:, slot_feature_columns(k, "tilt")] = np.where(
        neighbours.present, -neighbour_reference, 0.0
    )
    return out


def agent_observations_from_state(
    state: np.ndarray, n_cells: int, neighbours: NeighbourTable
) -> np.ndarray:
    """`agent_observations` from a centralised observation (`cellsim/Tilt-v0`'s), which holds
    the cell feature matrix and the time features already."""
    cells, time = split_observation(state, n_cells)
    return agent_observations(cells, time, neighbours)

