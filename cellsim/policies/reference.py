"""`reference`: the episode's best tilt trajectory under the agent's own constraints — the upper
bound that agents are scored against.

What it solves. From the env's state when the episode starts (its tilts, RET state and clock), the
tilts of every cell at every decision that maximise the episode's return as the env computes it:
Σ over clock ticks of the env's reward (`cellsim.contract.total_reward` of `reward_terms`) at the
tick's tilts, with the tilt-change term at each decision that moves a cell. Subject to what the
agent is subject to: a move is one grid step per decision (discrete actions; continuous actions
may jump to any grid tilt), at most `ret.max_moves_per_day` moves per cell per day and
`ret.min_dwell_minutes` between a cell's moves (`cellsim.env.ret`), decisions every
`ticks_per_decision` ticks. The model is the env's own: the episode's realisation, the outages
its simulator knows of (the scenario's and any drawn for the episode), expected demand
(`sim.users_at`) and loads converged at every evaluation (`sim.evaluate`, from full load: a
plan depends on the set-up in its cache key, not on the load state the episode's steps left).
Loads carry no state from one tick to the next, so a tick's reward depends only on its tilts,
its time and the moves made at it: the objective separates in time, and a dynamic programme
over decisions is exact.

How (`plan_trajectory`):
1. Starts: hold; the planning rule (`planning_tilts_deg`); `static-plan`'s candidates
   (`cellsim.policies.baselines`: the best uniform tilt and its per-cell day plans); each as
   the trajectory the env produces when a policy heads for it at the pace RET allows. The best
   start is refined.
2. Coordinate descent over cells. One cell's whole trajectory is re-optimised with the others
   fixed, by DP over decisions on the state (tilt, moves used today, decisions the dwell still
   blocks); a cell that RET allows to move may step (or jump) to a neighbouring tilt, paying the
   change cost. Its stage values are the network's reward at every tick with that cell at each
   candidate tilt — one `sim.evaluate` each, which recomputes only that cell's row of the link
   budget (per-tilt rows are precomputed for discrete actions).
   - Coarse passes: every tilt the day's budget can reach; rewards evaluated at knot ticks (every
     `coarse_stride_ticks` ticks and around changes of the cells on air) and the gain over the
     cell's current trajectory interpolated between them. The DP's trajectory is then evaluated
     exactly and kept only if the objective improves. These passes find each cell's level.
   - Fine passes: the tilts within `band_steps` of the cell's current trajectory at every tick,
     all evaluated: the DP's result is the cell's exact best trajectory inside that band.
   Passes stop when one improves the objective by less than `tolerance`.
3. The objective never decreases, so the plan is at least as good as each start (hold,
   best-uniform, static-plan, the planning rule) on the objective it optimises. On a one-site
   network it is checked against the exact joint DP over all cells' states
   (tests/test_reference.py: within 0.1 % of the optimum there).

What it is not. It knows the future (demand profile, outages) and the realisation, and costs
thousands of simulator evaluations per episode, so it is a bound to measure agents against, not a
deployable policy. It plans on expected demand: the env's per-step demand noise is not known in
advance, so an agent that reacts to it could in principle edge above it on one seed. The plan is
made at the episode's first action; in states off the plan (a DAgger student's) it moves each cell
toward the plan's tilt of the current decision, it does not re-plan.

Plans are cached per (scenario, env config, realisation and its link terms, outages, starting
state, search settings, source of the modules the objective depends on): in the process and on
disk (`cellsim.plan_cache`, folder `$CELLSIM_CACHE_DIR/reference`), so every episode and every
process on the same realisation pays once. `evaluations` counts the simulator evaluations behind
the plans a policy used (a cached plan reports what it cost when computed), `planned` the plans
it computed itself.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import inspect
import json
import logging
import weakref
from collections import OrderedDict
from dataclasses import asdict, dataclass

import numpy as np

import cellsim
from cellsim import plan_cache
from cellsim.contract import DOWN, HOLD, UP, RewardInputs, TiltSpace, reward_terms, total_reward
from cellsim.env.ret import MINUTES_PER_DAY
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies.base import TiltPolicy
from cellsim.policies.baselines import DayObjective, StaticPlan, requested_tilts
from cellsim.policies.rules import planning_tilts_deg

LOG = logging.getLogger(__name__)
CACHE_KIND = "reference"
MEMORY_PLANS = 512  # plans kept in the process (a case1 day plan is ≈ 45 kB)
_TOL_DEG = 1e-6  # two tilts closer than this are the same lattice tilt


@dataclass(frozen=True)
class ReferenceSearch:
    """How hard the reference searches (defaults: case1, one day, ≈ 50 s on one core).

    coarse_stride_ticks: ticks between the knots at which coarse passes evaluate a cell's tilts.
    coarse_passes: at most this many coarse passes over the cells.
    fine_passes: at most this many exact passes over the cells within `band_steps`.
    band_steps: how far (lattice steps) from its trajectory a fine pass looks, per tick.
    tolerance: a pass that improves the objective by less than this ends its phase.
    static_plan_start: also start from `static-plan`'s candidates (best uniform included);
        else from the best uniform tilt found here.
    seed: the order in which each pass visits the cells.
    """

    coarse_stride_ticks: int = 4
    coarse_passes: int = 2
    fine_passes: int = 3
    band_steps: int = 1
    tolerance: float = 1e-4
    static_plan_start: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("coarse_stride_ticks", "band_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"reference {name}={getattr(self, name)}: allowed ≥ 1")
        for name in ("coarse_passes", "fine_passes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"reference {name}={getattr(self, name)}: allowed ≥ 0")
        if not self.tolerance >= 0:
            raise ConfigError(f"reference tolerance={self.tolerance}: allowed ≥ 0")


@dataclass(frozen=True)
class RetRules:
    """RET as one cell's DP sees it, in decisions: the move budget, how many decisions a move
    blocks after it (the dwell), and where a new day renews the budget."""

    max_moves: int | None  # per cell per day (None: unlimited)
    blocked_after_move: int  # decisions a cell must hold after a move
    day_start: np.ndarray  # (K,) bool: the budget renews before this decision

    @classmethod
    def of(cls, env: TiltEnv, n_decisions: int) -> RetRules:
        cfg = env.config
        decision_min = cfg.ticks_per_decision * cfg.step_minutes
        # a move at decision k allows the next at k + L, L = ceil(dwell / decision interval)
        dwell_decisions = int(np.ceil(cfg.ret.min_dwell_minutes / decision_min - 1e-9))
        now_min = env.minutes + decision_min * np.arange(n_decisions)
        day = np.floor(now_min / MINUTES_PER_DAY)
        starts = np.concatenate([[False], day[1:] != day[:-1]])
        return cls(cfg.ret.max_moves_per_day, max(dwell_decisions - 1, 0), starts)

    @property
    def n_moves_states(self) -> int:
        return 1 if self.max_moves is None else self.max_moves + 1


@dataclass(frozen=True)
class CellLattice:
    """The tilts one cell can take and where one decision's move takes it.

    tilt_deg (G,) sorted; successors (G, A): the lattice index each move option leads to (−1:
    none, e.g. a step beyond the range); holdable (G,): whether asking the env to keep that tilt
    keeps it (a continuous action's round trip may not).
    """

    tilt_deg: np.ndarray
    successors: np.ndarray
    holdable: np.ndarray

    def index_of(self, tilt_deg: float) -> int:
        i = int(np.argmin(np.abs(self.tilt_deg - tilt_deg)))
        if abs(self.tilt_deg[i] - tilt_deg) > 1e-3:
            raise ConfigError(f"reference: tilt {tilt_deg:g}° is not on the cell's tilt lattice")
        return i


def cell_lattice(space: TiltSpace, discrete: bool, start_deg: float) -> CellLattice:
    """Every tilt a cell reaches from `start_deg` with the env's own move arithmetic."""
    if discrete:
        seen = {round(start_deg, 9): start_deg}
        frontier = [start_deg]
        while frontier:
            t = frontier.pop()
            for move in (DOWN, UP):
                n = float(space.apply_moves(np.array([t]), np.array([move]))[0])
                if round(n, 9) not in seen:
                    seen[round(n, 9)] = n
                    frontier.append(n)
        tilts = np.array(sorted(seen.values()))
        lattice = CellLattice(tilts, np.zeros((0, 2), np.int64), np.ones(len(tilts), bool))
        succ = np.full((len(tilts), 2), -1, np.int64)
        for g, t in enumerate(tilts):
            for a, move in enumerate((DOWN, UP)):
                j = lattice.index_of(float(space.apply_moves(np.array([t]), np.array([move]))[0]))
                succ[g, a] = j if j != g else -1
        return CellLattice(tilts, succ, lattice.holdable)
    grid = space.from_continuous(space.to_continuous(space.grid_deg))
    tilts = np.unique(np.concatenate([grid, [start_deg]]))
    on_grid = np.abs(tilts[:, None] - grid[None, :]).min(axis=1) < _TOL_DEG
    n = len(tilts)
    # any grid tilt in one decision: option j of every tilt leads to lattice tilt j
    succ = np.where(on_grid[None, :] & ~np.eye(n, dtype=bool), np.arange(n)[None, :], -1)
    round_trip = space.from_continuous(space.to_continuous(tilts))
    # the env compares tilts exactly: a round trip off by 1e-8° is a move
    return CellLattice(tilts, succ.astype(np.int64), round_trip == tilts)


def best_cell_path(
    q: np.ndarray,
    lattice: CellLattice,
    move_cost: float,
    rules: RetRules,
    start: tuple[int, int, int],
) -> tuple[np.ndarray, float]:
    """One cell's best trajectory: lattice index held during each decision, and its value.

    q (K, G): the value of the cell holding lattice tilt g through decision k (−inf: not
    allowed); move_cost: the reward of one move (≤ 0); start: (lattice index, moves used today,
    decisions still blocked) before decision 0. Backward DP on (tilt, moves used, blocked).
    """
    n_dec, n_tilt = q.shape
    n_m, blocked = rules.n_moves_states, rules.blocked_after_move
    n_w = blocked + 1
    succ = lattice.successors
    valid = succ >= 0
    succ_safe = np.where(valid, succ, 0)
    # a tilt the env cannot keep when asked (a continuous round trip) is kept only where RET
    # holds the cell anyway: blocked by the dwell, or the day's budget spent
    free = np.zeros((n_tilt, n_m), bool)
    free[~lattice.holdable, : n_m - 1 if rules.max_moves is not None else n_m] = True
    w_after_hold = np.maximum(np.arange(n_w) - 1, 0)
    value = np.zeros((n_tilt, n_m, n_w))
    choice = np.empty((n_dec, n_tilt, n_m), np.int64)  # at w = 0: −1 hold, else a move option
    for k in range(n_dec - 1, -1, -1):
        arrive = value
        if k + 1 < n_dec and rules.day_start[k + 1]:
            arrive = np.broadcast_to(value[:, :1, :], value.shape)
        hold = q[k][:, None, None] + arrive[:, :, w_after_hold]
        hold[:, :, 0][free] = -np.inf
        # a move from (g, m, w = 0) to s: q[k, s] + cost + arrive[s, m + 1, blocked]
        if rules.max_moves is None:
            after = arrive[:, :, blocked]  # (G, 1)
        else:
            after = np.full((n_tilt, n_m), -np.inf)
            after[:, :-1] = arrive[:, 1:, blocked]
        move = q[k][succ_safe][:, :, None] + move_cost + after[succ_safe]  # (G, A, M)
        move = np.where(valid[:, :, None], move, -np.inf)
        best_option = np.argmax(move, axis=1)
        best_move = np.take_along_axis(move, best_option[:, None, :], 1)[:, 0, :]
        takes = best_move > hold[:, :, 0]
        choice[k] = np.where(takes, best_option, -1)
        value = hold.copy()
        value[:, :, 0] = np.where(takes, best_move, hold[:, :, 0])
    g, m, w = start
    m = 0 if rules.max_moves is None else m
    total = float(value[g, m, w])
    path = np.empty(n_dec, np.int64)
    for k in range(n_dec):
        if k > 0 and rules.day_start[k]:
            m = 0
        option = choice[k, g, m] if w == 0 else -1
        if option < 0:
            w = max(w - 1, 0)
        else:
            g = int(succ[g, option])
            m = m + 1 if rules.max_moves is not None else 0
            w = blocked
        path[k] = g
    return path, total


class DayModel:
    """The rest of the episode's objective, from the env's current state: the env's reward at
    every clock tick (expected demand), the change cost, the RET rules and each cell's tilts."""

    def __init__(self, env: TiltEnv):
        cfg = env.config
        self.env, self.sim = env, env.sim
        self.n_cells = env.sim.n_cells
        self.ticks_per_decision = cfg.ticks_per_decision
        self.start_tick = env.t
        self.n_decisions = (env.n_ticks - env.t) // cfg.ticks_per_decision
        self.n_ticks = self.n_decisions * cfg.ticks_per_decision
        ticks = env.t + 1 + np.arange(self.n_ticks)
        self.hours = cfg.start_hour + ticks * cfg.step_minutes / 60.0
        self.users = [self.sim.users_at(float(h)) for h in self.hours]
        self.active = np.array([self.sim.active_at(float(h)) for h in self.hours])
        self.space = TiltSpace.of(cfg)
        self.discrete = cfg.action == "discrete"
        self.start_deg = env.tilt_deg.copy()
        self.lattices = [cell_lattice(self.space, self.discrete, float(t)) for t in self.start_deg]
        self.start_index = self.index_of(self.start_deg)
        self.rules = RetRules.of(env, self.n_decisions)
        ret = copy.deepcopy(env.ret)  # what the env's RET state allows from now
        decision_min = cfg.ticks_per_decision * cfg.step_minutes
        since = env.minutes - ret.last_move_min
        wait = np.ceil((cfg.ret.min_dwell_minutes - since) / decision_min - 1e-9)
        self.start_blocked = np.clip(np.nan_to_num(wait, neginf=0.0), 0, None).astype(np.int64)
        self.start_blocked = np.minimum(self.start_blocked, self.rules.blocked_after_move)
        ret.may_move(env.minutes)  # renews the day's budget if the day changed
        self.start_moves = ret.moves_today.copy()
        self.weights = cfg.reward
        self.reference_rate = cfg.kpi.reference_rate_mbps
        self.evaluations = 0
        self._memo: dict[tuple[int, bytes], float] = {}
        self.move_cost = self._move_costs()

    def _move_costs(self) -> np.ndarray:
        """The reward of one cell's move (the contract's tilt-change term, per cell); the DP
        needs it to add up over cells, which is checked."""
        kpis = self.sim.evaluate(self.start_deg, float(self.hours[0]), self.users[0])
        none = np.zeros(self.n_cells)

        def reward(changed: np.ndarray) -> float:
            inputs = RewardInputs(kpis, changed, self.reference_rate)
            return total_reward(reward_terms(inputs), self.weights)

        base = reward(none)
        cost = np.array([reward(np.eye(self.n_cells)[c]) - base for c in range(self.n_cells)])
        if abs(reward(np.ones(self.n_cells)) - base - cost.sum()) > 1e-9 * (1 + abs(base)):
            raise ConfigError("reference: the tilt-change reward term must add up over cells")
        return cost

    def tilts_of(self, index: np.ndarray) -> np.ndarray:
        return np.array([lat.tilt_deg[i] for lat, i in zip(self.lattices, index, strict=True)])

    def index_of(self, tilt_deg: np.ndarray) -> np.ndarray:
        return np.array([lat.index_of(float(t))
                         for lat, t in zip(self.lattices, tilt_deg, strict=True)])  # fmt: skip

    def reward(self, index: np.ndarray, tick: int) -> float:
        """The env's reward of tick `tick` with the cells at these lattice tilts, no move."""
        key = (tick, index.astype(np.uint16).tobytes())
        value = self._memo.get(key)
        if value is None:
            self.evaluations += 1
            kpis = self.sim.evaluate(self.tilts_of(index), float(self.hours[tick]),
                                     self.users[tick])  # fmt: skip
            inputs = RewardInputs(kpis, np.zeros(self.n_cells), self.reference_rate)
            value = self._memo[key] = total_reward(reward_terms(inputs), self.weights)
        return value

    def tick_rewards(self, path: np.ndarray) -> np.ndarray:
        """(n_ticks,) reward at each tick along a trajectory (K, n_cells) of lattice indices."""
        t = self.ticks_per_decision
        return np.array([self.reward(path[i // t], i) for i in range(self.n_ticks)])

    def move_rewards(self, path: np.ndarray) -> np.ndarray:
        """(n_cells,) the change cost each cell's moves along the trajectory add."""
        before = np.vstack([self.start_index[None], path[:-1]])
        return (path != before).sum(axis=0) * self.move_cost

    def objective(self, path: np.ndarray) -> float:
        return float(self.tick_rewards(path).sum() + self.move_rewards(path).sum())

    def walk(self, target_deg: np.ndarray) -> np.ndarray:
        """The trajectory (K, n_cells lattice indices) the env produces when a policy heads for
        `target_deg` (snapped to the grid) at every decision (a copy of the env's RET state
        admits each move)."""
        env, cfg = self.env, self.env.config
        target_deg = self.space.snap(target_deg)
        ret = copy.deepcopy(env.ret)
        current = self.start_deg.copy()
        path = np.empty((self.n_decisions, self.n_cells), np.int64)
        for k in range(self.n_decisions):
            now = env.minutes + k * cfg.ticks_per_decision * cfg.step_minutes
            current = ret.admit(current, requested_tilts(self.space, self.discrete, current,
                                                         target_deg), now)  # fmt: skip
            path[k] = self.index_of(current)
        return path

    def knots(self, stride: int) -> np.ndarray:
        """Ticks at which a coarse pass evaluates: every `stride`, the last one, and both sides
        of every change of the cells on air."""
        change = np.flatnonzero(np.any(self.active[1:] != self.active[:-1], axis=1))
        every = np.arange(0, self.n_ticks, stride)
        picks = np.concatenate([every, [self.n_ticks - 1], change, change + 1])
        return np.unique(picks.astype(np.int64))


@dataclass
class Plan:
    """A reference trajectory: the tilts held through each decision from `start_tick` on."""

    tilts_deg: np.ndarray  # (K, n_cells)
    value: float  # the objective (the planned return at expected demand)
    start_tick: int
    evaluations: int = 0
    start_values: dict[str, float] | None = None  # objective of each start (diagnostics)


class CoordinateDescent:
    """Step 2 of the module docstring on one DayModel."""

    def __init__(self, model: DayModel, search: ReferenceSearch):
        self.model, self.search = model, search
        self.rng = np.random.default_rng(search.seed)

    def run(self, path: np.ndarray) -> tuple[np.ndarray, float]:
        m, s = self.model, self.search
        path = path.copy()
        base = m.tick_rewards(path)
        value = float(base.sum() + m.move_rewards(path).sum())
        for passes, fine in ((s.coarse_passes, False), (s.fine_passes, True)):
            for n in range(passes):
                before = value
                for c in self.rng.permutation(m.n_cells):
                    value = self._improve_cell(path, base, value, int(c), fine)
                LOG.debug("%s pass %d: objective %.4f (+%.4f), %d evaluations so far",
                          "fine" if fine else "coarse", n + 1, value, value - before,
                          m.evaluations)  # fmt: skip
                if value - before < s.tolerance:
                    break
        return path, value

    def _cell_start(self, c: int) -> tuple[int, int, int]:
        m = self.model
        return int(m.start_index[c]), int(m.start_moves[c]), int(m.start_blocked[c])

    def _improve_cell(
        self, path: np.ndarray, base: np.ndarray, value: float, c: int, fine: bool
    ) -> float:
        """Re-plan cell c's trajectory (others fixed); update `path` and `base` in place if the
        objective improves; returns the objective."""
        m = self.model
        lattice = m.lattices[c]
        n_tilt, t = len(lattice.tilt_deg), m.ticks_per_decision
        current = np.repeat(path[:, c], t)  # per tick
        on = m.active[:, c]
        if fine:
            tick_q = self._band_rewards(path, base, c, current, on)
        else:
            tick_q = self._coarse_rewards(path, base, c, current, on)
        q = tick_q.reshape(m.n_decisions, t, n_tilt).sum(axis=1)
        new, _ = best_cell_path(q, lattice, float(m.move_cost[c]), m.rules, self._cell_start(c))
        if np.array_equal(new, path[:, c]):
            return value
        trial = path.copy()
        trial[:, c] = new
        new_ticks = np.repeat(new, t)
        moved = np.flatnonzero(new_ticks != current)
        trial_base = base.copy()
        for i in moved:
            trial_base[i] = m.reward(trial[i // t], int(i))
        trial_value = float(trial_base.sum() + m.move_rewards(trial).sum())
        if trial_value <= value + 1e-12:
            return value
        path[:, c] = new
        base[:] = trial_base
        return trial_value

    def _band_rewards(
        self, path: np.ndarray, base: np.ndarray, c: int, current: np.ndarray, on: np.ndarray
    ) -> np.ndarray:
        """(n_ticks, G): the exact reward with cell c at each tilt within the band around its
        trajectory (−inf outside; the current tilt's is `base`; off air: its tilt is moot)."""
        m, band = self.model, self.search.band_steps
        n_tilt, t = len(m.lattices[c].tilt_deg), m.ticks_per_decision
        out = np.full((m.n_ticks, n_tilt), -np.inf)
        for i in range(m.n_ticks):
            lo, hi = max(current[i] - band, 0), min(current[i] + band, n_tilt - 1)
            if not on[i]:
                out[i, lo : hi + 1] = base[i]
                continue
            index = path[i // t].copy()
            for g in range(lo, hi + 1):
                index[c] = g
                out[i, g] = base[i] if g == current[i] else m.reward(index, i)
        return out

    def _coarse_rewards(
        self, path: np.ndarray, base: np.ndarray, c: int, current: np.ndarray, on: np.ndarray
    ) -> np.ndarray:
        """(n_ticks, G): the reward with cell c at each tilt its budget can reach, evaluated at
        the knots and, as a gain over `base`, interpolated in between (−inf beyond reach)."""
        m = self.model
        n_tilt, t = len(m.lattices[c].tilt_deg), m.ticks_per_decision
        reach = np.arange(n_tilt)
        if m.rules.max_moves is not None:
            days = int(m.rules.day_start.sum()) + 1
            span = m.rules.max_moves * days
            reach = reach[np.abs(reach - m.start_index[c]) <= span]
        knots = m.knots(self.search.coarse_stride_ticks)
        knots = knots[on[knots]]
        out = np.full((m.n_ticks, n_tilt), -np.inf)
        if knots.size == 0:  # never on air: its tilt does not matter
            out[:, reach] = base[:, None]
            return out
        gain = np.zeros((len(knots), n_tilt))
        for j, i in enumerate(knots):
            index = path[i // t].copy()
            for g in reach:
                if g != current[i]:
                    index[c] = g
                    gain[j, g] = m.reward(index, int(i)) - base[i]
        ticks = np.arange(m.n_ticks)
        for g in reach:
            out[:, g] = base + np.where(on, np.interp(ticks, knots, gain[:, g]), 0.0)
            out[current == g, g] = base[current == g]
        return out


def plan_trajectory(env: TiltEnv, search: ReferenceSearch | None = None) -> Plan:
    """The reference plan for the rest of `env`'s episode from its current state."""
    search = search or ReferenceSearch()
    model = DayModel(env)
    targets = {"hold": model.start_deg, "planning rule": planning_tilts_deg(env)}
    spent = 0
    if search.static_plan_start:
        # static-plan's candidates: best-uniform first, then its coordinate-descent plans
        objective = DayObjective(env)
        candidates = StaticPlan(env).candidates(objective)
        spent = objective.evaluations
        targets["best uniform"] = candidates[0]
        targets.update({f"static plan {i}": c for i, c in enumerate(candidates[1:], 1)})
    else:
        uniform = {float(u): model.walk(np.full(model.n_cells, u)) for u in model.space.grid_deg}
        scores = {u: model.objective(p) for u, p in uniform.items()}
        targets["best uniform"] = np.full(model.n_cells, max(scores, key=lambda u: scores[u]))
    starts = {name: model.walk(t) for name, t in targets.items()}
    values = {name: model.objective(p) for name, p in starts.items()}
    first = max(values, key=lambda name: values[name])
    LOG.debug("starts %s: refining %s", values, first)
    path, value = CoordinateDescent(model, search).run(starts[first])
    tilts = np.array([model.tilts_of(row) for row in path])
    return Plan(tilts, value, model.start_tick, model.evaluations + spent, values)


# -- the policy ---------------------------------------------------------------------------------

_MEMORY: OrderedDict[str, Plan] = OrderedDict()
#: the modules a plan's value depends on: a change to any of them misses every cached plan
MODEL_MODULES = (
    "cellsim.contract", "cellsim.engine", "cellsim.kernels", "cellsim.kpi", "cellsim.simulator",
    "cellsim.network.demand", "cellsim.env.ret", "cellsim.env.tilt_env",
    "cellsim.policies.baselines", "cellsim.policies.rules", __name__,
)  # fmt: skip


@functools.cache
def code_digest(extra: tuple[str, ...] = ()) -> str:
    """SHA-256 of the source of `MODEL_MODULES` and of the `extra` modules (a plan kind's own,
    e.g. pool-plan's); computed once per process for each, at import (below), so that a file
    edited while a process runs cannot put that process's plans under the new code's key."""
    digest = hashlib.sha256()
    for name in (*MODEL_MODULES, *extra):
        digest.update(inspect.getsource(importlib.import_module(name)).encode())
    return digest.hexdigest()


code_digest()  # now, from the source this process imported: not from a file edited later


def terms_digest(env: TiltEnv) -> str:
    """SHA-256 of the realisation's link terms (every physical input: layout files included)."""
    digest = hashlib.sha256()
    for term in env.sim.budget.terms:  # A and B (a sparse budget's links too)
        digest.update(np.ascontiguousarray(term).tobytes())
    return digest.hexdigest()


#: per simulator, the `terms_digest` of each network seed it has run (hashing case1's terms
#: costs a few ms, and every plan's key needs it)
_REALISATION_DIGESTS: weakref.WeakKeyDictionary[object, dict[int, str]] = (
    weakref.WeakKeyDictionary()
)


def realisation_digest(env: TiltEnv, network_seed: int | None = None) -> str:
    """`terms_digest` of realisation `network_seed` (default: the one `env` runs now), computed
    once per simulator and seed (another realisation is switched to only to compute it)."""
    seen = _REALISATION_DIGESTS.setdefault(env.sim, {})
    seed = env.sim.network_seed if network_seed is None else network_seed
    if seed not in seen:
        with env.sim.realisation(seed):  # a no-op for the realisation in use
            seen[seed] = terms_digest(env)
    return seen[seed]


class Reference(TiltPolicy):
    """Follows the episode's reference plan (see the module docstring)."""

    name = "reference"

    def __init__(self, env: TiltEnv, search: ReferenceSearch | None = None):
        super().__init__(env)
        self.search = search or ReferenceSearch()
        self.evaluations = 0  # simulator evaluations behind the plans used (compare reports it)
        self.planned = 0  # plans computed here (not found in a cache)
        self._used: set[str] = set()
        self._episode: dict[int, Plan] = {}
        self._scenario = env.scenario.model_dump_json()

    def key(self) -> str:
        """Everything the plan from the env's current state depends on, as text."""
        env = self.env
        return json.dumps({
            "cellsim": cellsim.__version__, "code": code_digest(),
            "search": asdict(self.search), "scenario": self._scenario,
            "config": env.config.model_dump_json(), "network_seed": env.sim.network_seed,
            "link_terms": realisation_digest(env), "extra_outages": env.sim.extra_outages,
            "tick": env.t, "tilt_deg": env.tilt_deg.tolist(),
            **env.ret.plan_key(env.minutes),
        }, sort_keys=True)  # fmt: skip

    def plan(self) -> Plan:
        """The plan from the env's current state: from memory, the disk cache, or computed."""
        key = self.key()
        plan = _MEMORY.get(key) or self._load(key)
        if plan is None:
            plan = plan_trajectory(self.env, self.search)
            self.planned += 1
            plan_cache.store(CACHE_KIND, key, {
                "tilts_deg": plan.tilts_deg, "value": np.array(plan.value),
                "start_tick": np.array(plan.start_tick), "evaluations": np.array(plan.evaluations),
            })  # fmt: skip
        _MEMORY[key] = plan
        _MEMORY.move_to_end(key)
        while len(_MEMORY) > MEMORY_PLANS:
            _MEMORY.popitem(last=False)
        if key not in self._used:
            self._used.add(key)
            self.evaluations += plan.evaluations
        return plan

    def _load(self, key: str) -> Plan | None:
        data = plan_cache.load(CACHE_KIND, key, ("tilts_deg", "value", "start_tick", "evaluations"))
        if data is None:
            return None
        tilts = data["tilts_deg"]
        n_decisions = (self.env.n_ticks - self.env.t) // self.env.config.ticks_per_decision
        if (tilts.shape != (n_decisions, self.n_cells) or not np.all(np.isfinite(tilts))
                or int(data["start_tick"]) != self.env.t):  # fmt: skip
            return None
        return Plan(tilts.astype(float), float(data["value"]), self.env.t, int(data["evaluations"]))

    def reset(self, env_index: int | None = None) -> None:
        if env_index is None:
            self._episode.clear()
        else:
            self._episode.pop(env_index, None)

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        env = self.env
        plan = self._episode.get(env_index)
        if plan is None or env.t == 0 or env.t < plan.start_tick:
            plan = self._episode[env_index] = self.plan()
        k = (env.t - plan.start_tick) // env.config.ticks_per_decision
        target = plan.tilts_deg[min(k, len(plan.tilts_deg) - 1)]
        if not self.discrete:
            return self.space.to_continuous(target)
        current = self.tilts(obs)
        tol = 1e-3 * self.space.step_deg
        return np.where(target > current + tol, DOWN, np.where(target < current - tol, UP, HOLD))
