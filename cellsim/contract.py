"""The env contract, defined once: the tilt space, the observation layout and the reward terms.

Everything that maps actions to tilts, builds an observation (the KPI kernel's per-cell columns,
the observation bounds, the numpy per-cell agent observation and its torch twin in
`cellsim.policies.networks`) or sums a reward (the env, the per-cell env, the reference, every
evaluation) derives from the three tables here. Adding an observation feature is one entry in
`CELL_FEATURES` (plus the kernel's value for a KPI feature); adding a reward term is one entry in
`REWARD_TERMS` (its config weight appears in the scenario schema by itself).

Decisions:
- A module of its own at the package top (no Gym, no simulator import): the KPI kernel, the
  scenario schema and the env all read it, so it must not import any of them.
- Tilt features are in [0, 1] over the configured tilt range; continuous actions are the same
  range mapped onto [-1, 1]. Discrete actions per cell: 0 = down (tilt + step), 1 = hold, 2 = up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import numba as nb
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from cellsim.kernels import JIT_OPTIONS

if TYPE_CHECKING:
    from cellsim.kpi import Kpis

# -- the tilt space ----------------------------------------------------------------------------

DOWN, HOLD, UP = 0, 1, 2  # discrete action of one cell
N_MOVES = 3


class TiltConfig(Protocol):
    """What the tilt space reads from an env config (`cellsim.scenario.EnvConfig`)."""

    tilt_min_deg: float
    tilt_max_deg: float
    tilt_step_deg: float


@dataclass(frozen=True)
class TiltSpace:
    """The electrical tilt range, its RET step, and every mapping between tilts and actions."""

    min_deg: float
    max_deg: float
    step_deg: float

    @classmethod
    def of(cls, config: TiltConfig) -> TiltSpace:
        return cls(config.tilt_min_deg, config.tilt_max_deg, config.tilt_step_deg)

    @property
    def span_deg(self) -> float:
        return self.max_deg - self.min_deg

    @property
    def grid_deg(self) -> np.ndarray:
        """Every tilt a discrete RET can reach from `min_deg`."""
        return np.arange(self.min_deg, self.max_deg + 1e-9, self.step_deg)

    def clip(self, tilt_deg: np.ndarray) -> np.ndarray:
        # minimum(maximum(·)) is np.clip without its wrapper: 1 µs instead of 2.6 per call
        return np.minimum(np.maximum(tilt_deg, self.min_deg), self.max_deg)

    def snap(self, tilt_deg: np.ndarray) -> np.ndarray:
        """The nearest grid tilt."""
        steps = np.round((tilt_deg - self.min_deg) / self.step_deg)
        return self.clip(self.min_deg + steps * self.step_deg)

    def apply_moves(self, tilt_deg: np.ndarray, moves: np.ndarray) -> np.ndarray:
        """Tilts after discrete moves (DOWN adds a step, UP removes one), within the range;
        moves broadcast against the tilts and are read as integers; ValueError if one is not
        DOWN, HOLD or UP (one numba pass: the env's every step)."""
        tilt, move = np.asarray(tilt_deg, np.float64), np.asarray(moves)
        if tilt.shape != move.shape or tilt.ndim != 1:  # the env's case skips the broadcast
            tilt, move = np.broadcast_arrays(tilt, move)
        out = np.empty(tilt.shape)
        if not _apply_moves(np.ascontiguousarray(tilt).ravel(),
                            np.ascontiguousarray(move, np.int64).ravel(), self.step_deg,
                            self.min_deg, self.max_deg, out.ravel()):  # fmt: skip
            raise ValueError(f"moves {np.asarray(moves).tolist()}: allowed {DOWN}, {HOLD}, {UP}")
        return out

    def moves_toward(self, current_deg: np.ndarray, target_deg: np.ndarray) -> np.ndarray:
        """The discrete moves that take each cell one step toward a target tilt."""
        half = self.step_deg / 2
        return np.where(target_deg > current_deg + half, DOWN,
                        np.where(target_deg < current_deg - half, UP, HOLD))  # fmt: skip

    def allowed_moves(self, tilt_deg: np.ndarray) -> np.ndarray:
        """(n_cells, N_MOVES) bool: the moves that do something (hold always); the action
        masks of sb3-contrib's MaskablePPO. Half a step of slack, so tilts read back from a
        float32 observation mask the same way."""
        half = self.step_deg / 2
        out = np.ones((len(tilt_deg), N_MOVES), bool)
        out[:, DOWN] = tilt_deg < self.max_deg - half
        out[:, UP] = tilt_deg > self.min_deg + half
        return out

    def from_continuous(self, action: np.ndarray) -> np.ndarray:
        """Absolute tilts from continuous actions in [-1, 1] (clipped)."""
        a = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        return self.min_deg + (a + 1.0) / 2.0 * self.span_deg

    def to_continuous(self, tilt_deg: np.ndarray) -> np.ndarray:
        """The continuous action that sets these tilts (float32, in [-1, 1])."""
        clipped = self.clip(tilt_deg)
        return (2.0 * (clipped - self.min_deg) / self.span_deg - 1.0).astype(np.float32)

    def to_feature(self, tilt_deg: np.ndarray) -> np.ndarray:
        """The observation's tilt feature: 0 at `min_deg`, 1 at `max_deg`."""
        return (tilt_deg - self.min_deg) / self.span_deg

    def from_feature(self, feature: np.ndarray) -> np.ndarray:
        return self.min_deg + feature * self.span_deg


@nb.njit(**JIT_OPTIONS)
def _apply_moves(
    tilt_deg: np.ndarray, moves: np.ndarray, step_deg: float, min_deg: float, max_deg: float,
    out: np.ndarray,
) -> bool:  # fmt: skip
    """`TiltSpace.apply_moves` into `out`; False if a move is outside DOWN … UP."""
    for c in range(tilt_deg.shape[0]):
        m = moves[c]
        if m < DOWN or m > UP:
            return False
        out[c] = min(max(tilt_deg[c] + (HOLD - m) * step_deg, min_deg), max_deg)
    return True


# -- the observation layout --------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """One per-cell observation feature: its name, the KPI column it is read from (None for
    features the env sets itself), the scale applied to that KPI and the bounds it is clipped
    to after scaling."""

    name: str
    low: float
    high: float
    doc: str
    kpi: str | None = None
    scale: float = 1.0


#: Per cell, in this order. The KPI kernel (`cellsim.kpi`) fills the `kpi` columns.
CELL_FEATURES: tuple[Feature, ...] = (
    Feature("tilt", 0, 1, "electrical tilt, 0 at tilt_min_deg … 1 at tilt_max_deg"),
    Feature("load", 0, 4, "ρ = share of the cell's resources its users need (≥ 1: overloaded)",
            kpi="load"),
    Feature("served_share", 0, 10, "the cell's share of network demand × number of cells "
            "(1 = average)", kpi="served_share"),
    Feature("mean_sinr", -2, 3, "demand-weighted mean SINR of its users, dB / 20",
            kpi="mean_sinr_db", scale=1 / 20),
    Feature("poor_sinr_share", 0, 1, "share of its users with SINR < kpi.sinr_min_db",
            kpi="poor_sinr_share"),
    Feature("covered_share", 0, 1, "share of its users with RSRP and SINR above the thresholds",
            kpi="covered_share"),
    Feature("weak_rsrp_share", 0, 1, "share of its users with RSRP < kpi.rsrp_min_dbm",
            kpi="weak_rsrp_share"),
    Feature("interference", 0, 5, "mean interference-plus-noise over noise at its users, dB / 20",
            kpi="interference_over_noise_db", scale=1 / 20),
    Feature("overshoot_share", 0, 1, "share of its users beyond kpi.overshoot_ratio × the "
            "next-site distance", kpi="overshoot_share"),
    Feature("mean_log_rate", -4, 3, "mean log10(user throughput / kpi.reference_rate_mbps)",
            kpi="mean_log_rate"),
    Feature("active", 0, 1, "1 if the cell is on air, 0 during an outage"),
    Feature("moves_left", 0, 1, "share of the cell's daily RET move budget left (1: no budget)"),
    Feature("dwell_left", 0, 1, "share of the minimum dwell after its last move still to wait "
            "(0: it may move)"),
)  # fmt: skip

CELL_OBSERVATION: tuple[str, ...] = tuple(f.name for f in CELL_FEATURES)
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(CELL_OBSERVATION)}
N_CELL = len(CELL_FEATURES)
#: The KPI kernel's per-cell columns (`Kpis.cell`), in kernel order.
KPI_COLUMNS: tuple[str, ...] = tuple(f.kpi for f in CELL_FEATURES if f.kpi is not None)
KPI_COLUMN: dict[str, int] = {name: i for i, name in enumerate(KPI_COLUMNS)}
#: Where each KPI column goes in the cell feature row.
_KPI_INDEX = [i for i, f in enumerate(CELL_FEATURES) if f.kpi is not None]
_KPI_SCALE = np.array([f.scale for f in CELL_FEATURES if f.kpi is not None], np.float32)
CELL_LOW = np.array([f.low for f in CELL_FEATURES], np.float32)
CELL_HIGH = np.array([f.high for f in CELL_FEATURES], np.float32)

#: Per-cell guard KPIs the kernel computes besides the observation's columns (`Kpis.cell_guard`):
#: what operators watch after a RET change. Not observed (the observation layout is unchanged);
#: in `info["cell_kpis"]` and the reward terms of the same meaning.
#: excess_load is the load offered beyond kpi.admission_load, in the cell's capacity (0 when
#: it admits all).
GUARD_COLUMNS: tuple[str, ...] = (
    "unserved_share", "weak_coverage_share", "overcoverage_share", "excess_load",
)  # fmt: skip

N_TIME = 2  # sin and cos of the time of day, after every cell's features


def observation_bounds(n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the centralised observation: every cell's features, then the time."""
    low = np.concatenate([np.tile(CELL_LOW, n_cells), [-1.0] * N_TIME]).astype(np.float32)
    high = np.concatenate([np.tile(CELL_HIGH, n_cells), [1.0] * N_TIME]).astype(np.float32)
    return low, high


#: The features the env sets itself (not read from the KPI kernel), by name.
ENV_FEATURES: tuple[str, ...] = tuple(f.name for f in CELL_FEATURES if f.kpi is None)


_ENV_INDEX = np.array([FEATURE_INDEX[name] for name in ENV_FEATURES], np.intp)
_KPI_INDEX_ARRAY = np.array(_KPI_INDEX, np.intp)


def cell_features(
    kpi_cell: np.ndarray, env_values: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """(n_cells, N_CELL) float32 from the KPI kernel's columns and the env's own features
    (env_values: (len(ENV_FEATURES), n_cells), in ENV_FEATURES' order), clipped to the bounds;
    into `out` if given."""
    if out is None:
        out = np.empty((kpi_cell.shape[0], N_CELL), np.float32)
    _fill_cell_features(kpi_cell, _KPI_INDEX_ARRAY, _KPI_SCALE, env_values, _ENV_INDEX,
                        CELL_LOW, CELL_HIGH, out)  # fmt: skip
    return out


@nb.njit(**JIT_OPTIONS)
def _fill_cell_features(
    kpi_cell: np.ndarray,
    kpi_index: np.ndarray,
    kpi_scale: np.ndarray,
    env_values: np.ndarray,
    env_index: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    out: np.ndarray,
) -> None:
    """`cell_features` in one pass (a dozen numpy calls, 9 µs, before)."""
    for c in range(out.shape[0]):
        for j in range(kpi_index.shape[0]):
            out[c, kpi_index[j]] = kpi_cell[c, j] * kpi_scale[j]
        for j in range(env_index.shape[0]):
            out[c, env_index[j]] = env_values[j, c]
        for f in range(out.shape[1]):
            out[c, f] = min(max(out[c, f], low[f]), high[f])


def split_observation(obs: Any, n_cells: int) -> tuple[Any, Any]:
    """(cells (…, n_cells, N_CELL), time (…, N_TIME)) of centralised observations, numpy or
    torch, one or a batch."""
    lead = tuple(obs.shape[:-1])
    cells = obs[..., : n_cells * N_CELL].reshape(*lead, n_cells, N_CELL)
    return cells, obs[..., -N_TIME:]


def n_cells_of(obs_dim: int) -> int:
    """How many cells a centralised observation of this size describes."""
    return (obs_dim - N_TIME) // N_CELL


# One per-cell agent's observation: its own cell's features, the network's mean features, the
# time, then per neighbour slot (strongest interferer first): present (0/1), the coupling of the
# neighbour into this cell's users and of this cell into the neighbour's users (dB / 20, see
# cellsim.env.neighbours), and the neighbour's features. Empty slots are all zeros.
SLOT_STATIC = ("present", "coupling_in", "coupling_out")
N_HEAD = 2 * N_CELL + N_TIME
N_SLOT = len(SLOT_STATIC) + N_CELL
OWN = slice(0, N_CELL)
NETWORK_MEAN = slice(N_CELL, 2 * N_CELL)
TIME = slice(2 * N_CELL, N_HEAD)
_SLOT_LOW = np.concatenate([[0.0, -3.0, -3.0], CELL_LOW]).astype(np.float32)
_SLOT_HIGH = np.concatenate([[1.0, 1.0, 1.0], CELL_HIGH]).astype(np.float32)


def agent_observation_dim(k: int) -> int:
    return N_HEAD + k * N_SLOT


def slot_feature_columns(k: int, feature: str) -> list[int]:
    """Columns of an agent observation that hold `feature` of a neighbour, one per slot."""
    f = len(SLOT_STATIC) + FEATURE_INDEX[feature]
    return [N_HEAD + slot * N_SLOT + f for slot in range(k)]


def agent_observation_bounds(k: int) -> tuple[np.ndarray, np.ndarray]:
    low = np.concatenate([CELL_LOW, CELL_LOW, [-1.0] * N_TIME, np.tile(_SLOT_LOW, k)])
    high = np.concatenate([CELL_HIGH, CELL_HIGH, [1.0] * N_TIME, np.tile(_SLOT_HIGH, k)])
    return low.astype(np.float32), high.astype(np.float32)


class ArrayOps(Protocol):
    """The array operations whose names differ between numpy and torch, for the one
    agent-observation builder (`cellsim.policies.networks.TorchOps` is the torch side)."""

    def cat(self, parts: Sequence[Any], axis: int) -> Any: ...
    def expand(self, x: Any, shape: tuple[int, ...]) -> Any: ...
    def mean_keepdim(self, x: Any, axis: int) -> Any: ...


class NumpyOps:
    def cat(self, parts: Sequence[Any], axis: int) -> Any:
        return np.concatenate(parts, axis=axis)

    def expand(self, x: Any, shape: tuple[int, ...]) -> Any:
        return np.broadcast_to(x, shape)

    def mean_keepdim(self, x: Any, axis: int) -> Any:
        return x.mean(axis=axis, keepdims=True)


def build_agent_observations(
    cells: Any, time: Any, slot_static: Any, index: Any, present: Any, ops: ArrayOps
) -> Any:
    """Every agent's observation (B, n, N_HEAD + k N_SLOT), numpy or torch alike.

    cells (B, n, N_CELL) and time (B, N_TIME) from `split_observation`; slot_static
    (n, k, len(SLOT_STATIC)) the presence flag and scaled couplings of each slot (zero where
    empty); index (n, k) each slot's neighbour (any valid cell where empty) and present (n, k, 1)
    1 where the slot is used. The one definition of the layout: the per-cell env and the shared
    actor's torch input both call it.
    """
    b, n, k = cells.shape[0], cells.shape[1], index.shape[1]
    neighbours = cells[:, index] * present[None]  # (B, n, k, N_CELL)
    static = ops.expand(slot_static[None], (b, n, k, len(SLOT_STATIC)))
    slots = ops.cat([static, neighbours], 3).reshape(b, n, k * N_SLOT)
    mean = ops.expand(ops.mean_keepdim(cells, 1), (b, n, N_CELL))
    return ops.cat([cells, mean, ops.expand(time[:, None], (b, n, N_TIME)), slots], 2)


# -- the reward terms --------------------------------------------------------------------------

MIN_RATE_MBPS = 1e-3  # floor for log-utility and the throughput histogram


@dataclass(frozen=True)
class RewardInputs:
    """What a reward term is a function of: one step's KPIs and the tilt changes it made."""

    kpis: Kpis
    changed: np.ndarray  # (n_cells,) 1.0 where the cell's tilt changed this step
    reference_rate_mbps: float


@dataclass(frozen=True)
class RewardTerm:
    """A named reward term: its default weight (the config's `reward.<name>`), its value for the
    network and, for terms a cell has on its own, its per-cell value (the per-cell env's local
    rewards); None where it is a network quantity (e.g. a percentile)."""

    name: str
    default_weight: float
    doc: str
    network: Callable[[RewardInputs], float]
    cell: Callable[[RewardInputs], np.ndarray] | None = None


def _edge(x: RewardInputs) -> float:
    return float(np.log10(max(x.kpis.p5_rate_mbps, MIN_RATE_MBPS) / x.reference_rate_mbps))


def _kpi_column(name: str) -> Callable[[RewardInputs], np.ndarray]:
    column = KPI_COLUMN[name]
    return lambda x: x.kpis.cell[:, column]


def _guard_column(name: str) -> Callable[[RewardInputs], np.ndarray]:
    column = GUARD_COLUMNS.index(name)
    return lambda x: -x.kpis.cell_guard[:, column]


REWARD_TERMS: tuple[RewardTerm, ...] = (
    RewardTerm("coverage", 1.0, "share of demand with RSRP ≥ kpi.rsrp_min_dbm and SINR ≥ "
               "kpi.sinr_min_db, [0, 1]", lambda x: x.kpis.coverage, _kpi_column("covered_share")),
    RewardTerm("utility", 1.0, "mean log10(user throughput / reference rate): proportional "
               "fairness, ≈[−3, 2]", lambda x: x.kpis.mean_log_rate, _kpi_column("mean_log_rate")),
    RewardTerm("edge", 0.5, "log10(5th-percentile user throughput / reference rate), ≈[−3, 2]",
               _edge),
    RewardTerm("tilt_change", 0.05, "−(cells whose tilt changed) / cells, [−1, 0]",
               lambda x: -np.count_nonzero(x.changed) / len(x.changed), lambda x: -x.changed),
    # guard KPIs operators watch after a RET change (cellsim.kpi.GUARD_COLUMNS)
    RewardTerm("weak_coverage", 1.0, "−share of demand with RSRP < kpi.weak_rsrp_dbm, [−1, 0]",
               lambda x: -x.kpis.weak_coverage_share, _guard_column("weak_coverage_share")),
    RewardTerm("overcoverage", 0.5, "−share of demand with RSRP ≥ kpi.weak_rsrp_dbm but SINR ≤ "
               "kpi.overcoverage_sinr_db, [−1, 0]", lambda x: -x.kpis.overcoverage_share,
               _guard_column("overcoverage_share")),
    RewardTerm("unserved", 2.0, "−share of demand not carried (blocked beyond "
               "kpi.admission_load, or SINR too low), [−1, 0]", lambda x: -x.kpis.unserved_share,
               _guard_column("unserved_share")),
    RewardTerm("excess_load", 0.0, "−Σ over cells of the load offered beyond "
               "kpi.admission_load (resources asked that a cell cannot grant, in cells' "
               "capacities), ≤ 0; from overload_guarantee_weight on, moving demand into an "
               "overloaded cell never pays (the value \"guarantee\" sets that weight)",
               lambda x: -x.kpis.excess_load,
               _guard_column("excess_load")),
)  # fmt: skip
REWARD_TERM_NAMES: tuple[str, ...] = tuple(t.name for t in REWARD_TERMS)


def _reward_weights_model() -> type[BaseModel]:
    """The config's `reward` table: one weight per term, named like it (0 switches it off)."""
    weight = Annotated[float, Field(ge=-1e6, le=1e6)]
    fields: dict[str, Any] = {
        t.name: (weight, Field(t.default_weight, description=t.doc)) for t in REWARD_TERMS
    }
    config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    return create_model("RewardWeights", __config__=config, __doc__=_REWARD_DOC, **fields)


_REWARD_DOC = "Weights of the named reward terms (cellsim.contract.REWARD_TERMS); 0 turns one off."
if TYPE_CHECKING:

    class RewardWeights(BaseModel):
        """Typed as a plain model: its fields are REWARD_TERM_NAMES, read with getattr."""

else:
    RewardWeights = _reward_weights_model()


#: The value of `reward.excess_load` that stands for `overload_guarantee_weight` of the config's
#: own other weights and admission load (resolved when the config is validated).
EXCESS_LOAD_GUARANTEE = "guarantee"


def overload_guarantee_weight(weights: RewardWeights, admission_load: float) -> float:
    """The `excess_load` weight from which moving demand out of a cell at or below admission
    into an overloaded cell (same radio values) never raises the reward: (utility + edge) /
    ((1 − admission_load) ln 10), 6.51 at the default weights.

    Why it bounds: the move frees the load f of the moved flow in its old cell, whose other
    flows speed up by g = (1 − ρ + f) / (1 − ρ) (processor sharing, ρ ≤ admission). That raises
    the utility by at most log10 g (their share of demand is ≤ 1) and the 5th-percentile rate by
    at most the factor g (every other flow's rate falls or stays), and log10 g ≤ f / ((1 −
    admission) ln 10). Everything else falls or stays: the moved flow and the overloaded cell's
    flows are blocked more, and that cell still carries its admission load, so its excess load
    grows by exactly f. The p5 term reads a 0.01-decade histogram, so the bound holds to
    `edge` × 0.01 per step. Negative utility or edge weights count as 0.
    """
    gain_per_log10 = sum(max(getattr(weights, name), 0.0) for name in ("utility", "edge"))
    return float(gain_per_log10 / ((1.0 - admission_load) * np.log(10.0)))


def reward_terms(inputs: RewardInputs) -> dict[str, float]:
    """Every term's network value: `info["rewards"]`."""
    return {t.name: float(t.network(inputs)) for t in REWARD_TERMS}


def total_reward(terms: dict[str, float], weights: RewardWeights) -> float:
    """The one reward: Σ weight × term, used by the env, the reference and every evaluation."""
    return float(sum(getattr(weights, name) * value for name, value in terms.items()))


def cell_scores(inputs: RewardInputs, weights: RewardWeights) -> np.ndarray:
    """Per cell, the weighted sum of the terms a cell has on its own (`RewardTerm.cell`)."""
    out = np.zeros(len(inputs.changed), np.float64)
    for term in REWARD_TERMS:
        if term.cell is not None:
            out += getattr(weights, term.name) * term.cell(inputs)
    return out
