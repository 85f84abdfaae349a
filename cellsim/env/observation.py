"""The observation: per-cell features, then the time of day, as one flat float32 vector.

Per cell, in this order (`CELL_OBSERVATION`), each clipped to the bounds given:
  tilt             electrical tilt, 0 at tilt_min_deg … 1 at tilt_max_deg
  load             ρ = share of the cell's resources its users need (≥ 1: overloaded)   [0, 4]
  served_share     the cell's share of network demand × number of cells (1 = average)   [0, 10]
  mean_sinr        demand-weighted mean SINR of its users, dB / 20                       [−2, 3]
  poor_sinr_share  share of its users with SINR < kpi.sinr_min_db (edge quality)         [0, 1]
  covered_share    share of its users with RSRP and SINR above the thresholds           [0, 1]
  weak_rsrp_share  share of its users with RSRP < kpi.rsrp_min_dbm (weak coverage)       [0, 1]
  interference     mean interference-plus-noise over noise at its users, dB / 20        [0, 5]
  overshoot_share  share of its users beyond kpi.overshoot_ratio × next-site distance   [0, 1]
  mean_log_rate    mean log10(user throughput / kpi.reference_rate_mbps)                 [−4, 3]
  active           1 if the cell is on air, 0 during an outage                          [0, 1]
Then sin and cos of the time of day (2π · hour / 24).  Cells without users report 0 for their
per-user averages.
"""

from __future__ import annotations

import numpy as np

from cellsim.kpi import CELL_FEATURES, Kpis

CELL_OBSERVATION = (
    "tilt", "load", "served_share", "mean_sinr", "poor_sinr_share", "covered_share",
    "weak_rsrp_share", "interference", "overshoot_share", "mean_log_rate", "active",
)  # fmt: skip
_LOW = np.array([0, 0, 0, -2, 0, 0, 0, 0, 0, -4, 0], np.float32)
_HIGH = np.array([1, 4, 10, 3, 1, 1, 1, 5, 1, 3, 1], np.float32)
_SCALE = np.ones(len(CELL_FEATURES), np.float32)
_SCALE[CELL_FEATURES.index("mean_sinr_db")] = 1 / 20
_SCALE[CELL_FEATURES.index("interference_over_noise_db")] = 1 / 20


def observation_bounds(n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    low = np.concatenate([np.tile(_LOW, n_cells), [-1.0, -1.0]]).astype(np.float32)
    high = np.concatenate([np.tile(_HIGH, n_cells), [1.0, 1.0]]).astype(np.float32)
    return low, high


def cell_observation(
    kpis: Kpis, tilt_deg: np.ndarray, active: np.ndarray, tilt_min: float, tilt_max: float
) -> np.ndarray:
    """(n_cells, len(CELL_OBSERVATION)) float32, clipped to the documented bounds."""
    n = len(tilt_deg)
    out = np.empty((n, len(CELL_OBSERVATION)), np.float32)
    out[:, 0] = (tilt_deg - tilt_min) / (tilt_max - tilt_min)
    out[:, 1:-1] = kpis.cell * _SCALE
    out[:, -1] = active
    return np.clip(out, _LOW, _HIGH, out=out)


def time_features(hour: float) -> np.ndarray:
    angle = 2.0 * np.pi * (hour % 24.0) / 24.0
    return np.array([np.sin(angle), np.cos(angle)], np.float32)


def build_observation(cells: np.ndarray, hour: float) -> np.ndarray:
    return np.concatenate([cells.ravel(), time_features(hour)])


# -- per-cell agents (cellsim.env.parallel_env) ------------------------------------------------
# One agent's observation: its own cell's features, the network's mean cell features, the time,
# then per neighbour slot (strongest interferer first): present (0/1), the coupling of the
# neighbour into this cell's users and of this cell into the neighbour's users, in dB / 20 (see
# cellsim.env.neighbours), and the neighbour's features. Empty slots are all zeros.
N_CELL = len(CELL_OBSERVATION)
N_HEAD = 2 * N_CELL + 2
N_SLOT = 3 + N_CELL
_SLOT_LOW = np.concatenate([[0.0, -3.0, -3.0], _LOW]).astype(np.float32)
_SLOT_HIGH = np.concatenate([[1.0, 1.0, 1.0], _HIGH]).astype(np.float32)


def agent_observation_bounds(k: int) -> tuple[np.ndarray, np.ndarray]:
    low = np.concatenate([_LOW, _LOW, [-1.0, -1.0], np.tile(_SLOT_LOW, k)]).astype(np.float32)
    high = np.concatenate([_HIGH, _HIGH, [1.0, 1.0], np.tile(_SLOT_HIGH, k)]).astype(np.float32)
    return low, high


def slot_couplings(neighbours) -> np.ndarray:
    """(n_cells, k, 2) float32: each slot's coupling in and out, dB / 20 clipped to [-3, 1], 0 for
    an empty slot: the numbers a neighbour slot carries besides the neighbour's features."""
    db = np.stack([neighbours.coupling_db, neighbours.coupling_out_db], axis=-1)
    scaled = np.clip(db / 20.0, -3.0, 1.0)
    return np.where(neighbours.present[..., None], scaled, 0.0).astype(np.float32)


def agent_observations(cells: np.ndarray, time: np.ndarray, neighbours) -> np.ndarray:
    """(n_cells, N_HEAD + N_SLOT k) float32: every agent's observation from the cell feature
    matrix (`cell_observation`), the time features and a `NeighbourTable`."""
    n, k = cells.shape[0], neighbours.k
    out = np.zeros((n, N_HEAD + k * N_SLOT), np.float32)
    out[:, :N_CELL] = cells
    out[:, N_CELL : 2 * N_CELL] = cells.mean(axis=0)
    out[:, 2 * N_CELL : N_HEAD] = time
    slots = out[:, N_HEAD:].reshape(n, k, N_SLOT)
    present = neighbours.present
    slots[:, :, 0] = present
    slots[:, :, 1:3] = slot_couplings(neighbours)
    slots[:, :, 3:] = np.where(present[..., None], cells[np.maximum(neighbours.index, 0)], 0.0)
    return out


def tilt_reference_offsets(reference: np.ndarray, neighbours) -> np.ndarray:
    """(n_cells, N_HEAD + k N_SLOT) float32 to add to the agent observations so that every tilt
    in them reads relative to a reference: the cell's own tilt to its reference, each
    neighbour's tilt to that neighbour's, the network mean to the mean reference; `reference`
    in the tilt feature's units (0 … 1 over the tilt range). With the planning
    tilt as reference, a shared actor sees how far each antenna is from what its own height and
    site spacing suggest, rather than an absolute angle that suits one network's geometry."""
    n, k = len(reference), neighbours.k
    tilt = CELL_OBSERVATION.index("tilt")
    out = np.zeros((n, N_HEAD + k * N_SLOT), np.float32)
    out[:, tilt] = -reference
    out[:, N_CELL + tilt] = -np.mean(reference)
    slots = out[:, N_HEAD:].reshape(n, k, N_SLOT)
    neighbour_reference = np.asarray(reference)[np.maximum(neighbours.index, 0)]
    slots[:, :, 3 + tilt] = np.where(neighbours.present, -neighbour_reference, 0.0)
    return out


def agent_observations_from_state(state: np.ndarray, n_cells: int, neighbours) -> np.ndarray:
    """`agent_observations` from a centralised observation (`cellsim/Tilt-v0`'s), which holds
    the cell feature matrix and the time features already."""
    cells = state[: n_cells * N_CELL].reshape(n_cells, N_CELL)
    return agent_observations(cells, state[-2:], neighbours)
