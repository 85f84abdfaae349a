"""The planned baselines every dynamic result must beat: `hold`, `best-uniform`, `static-plan`,
`period-plan`.

- `hold`: the tilts the episode starts with (the scenario's), all day. A baseline that loses to
  it is broken.
- `best-uniform`: one common tilt for every cell, on the env's tilt grid, the best for the
  episode's network realisation.
- `static-plan`: per-cell tilts optimised for the whole day on the realisation: what an
  automatic cell-planning (ACP) tool delivers, and the main baseline (dynamic re-tilting is worth
  what it adds over it).

The first three are one set of tilts for the whole episode, `period-plan` one set per period of
a schedule (static-plan's search per period); all are found with the simulator as the model, so
they use what an ACP tool has: the realisation (the planner's calibrated propagation model), the
expected demand through the day and the outages the episode's simulator knows of. The objective
is the env's own reward (`cellsim.contract.total_reward` of `reward_terms`) summed over the
episode's clock ticks, at the expected demand (`DayObjective`).

Decisions:
- The plan accounts for RET as the env enforces it: an episode starts from the scenario's tilts,
  a discrete action moves a cell one grid step, and each cell may move `ret.max_moves_per_day`
  times a day, `ret.min_dwell_minutes` apart. A plan is therefore searched inside the box of
  tilts one day's budget can reach from the episode's tilts, and is then approached at the pace
  RET allows (`TiltPolicy.toward` every step, the env holding what it forbids). best-uniform
  scores every grid tilt by the exact objective of that whole trajectory (approach and tilt
  change cost included); static-plan searches the plan's held value (cheap, see below) and then
  keeps, of its candidates (coordinate-descent results, best-uniform, hold), the one whose exact
  trajectory objective is best, so it is never below best-uniform or hold on that objective.
- Speed: the exact objective costs one `sim.evaluate` per tick (96 a day; ≈ 0.5 ms on hex7,
  ≈ 4 ms on case1 with converged loads). The coordinate descent instead evaluates a plan's
  held value at a few representative ticks (`sample_ticks`: consecutive ticks with the same
  cells on air are cut into chunks of equal length, each represented by its tick nearest the
  chunk's mean demand and weighted by its length), and screens each cell's candidate tilts on a
  smaller sample before confirming the best on the larger one. The engine recomputes only the
  re-tilted cell's row. What this loses against the full-day objective is measured in README
  ("Baselines").
- Plans are cached per (realisation, outage pattern, starting tilts and clock, config) in the
  policy, like the reference's, so episodes on the same realisation pay once. static-plan's
  and period-plan's are also shared by every policy of the process with the same search on the
  same scenario (`PlanPolicy.shared_as`): a comparison's static-plan baseline and each
  dagger-plan run, which plans the same episodes, plan once between them. Those are kept in the
  disk cache as well (`cellsim.plan_cache`, kind `plans`, keyed like the reference's by the
  code, the realisation's link terms and everything the objective depends on), so a second
  compare of the same scenario plans nothing.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

import cellsim
from cellsim import plan_cache
from cellsim.contract import RewardInputs, TiltSpace, reward_terms, total_reward
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies.base import TiltPolicy


def requested_tilts(
    space: TiltSpace, discrete: bool, current_deg: np.ndarray, target_deg: np.ndarray
) -> np.ndarray:
    """The tilts the env is asked for when a policy plays `toward(current, target)`: one grid
    step toward the target (discrete) or the target itself through the continuous action."""
    if discrete:
        return space.apply_moves(current_deg, space.moves_toward(current_deg, target_deg))
    return space.from_continuous(space.to_continuous(target_deg))


@dataclass(frozen=True)
class TickSample:
    """Representative ticks of the episode (indices into `DayObjective.hours`) and how many
    ticks each stands for."""

    index: np.ndarray  # (m,) int
    weight: np.ndarray  # (m,) float, sums to the number of ticks represented


class DayObjective:
    """The rest of the episode's reward at expected demand (up to clock tick `end_tick`, when
    given: one period of a day's schedule), from the env's current state (its tilts, clock and
    RET state; loads converge from full load at every tick, not from the load
    state the episode's steps left, so plans are the same in any process).

    `hours[i]` is the clock time of tick i (the env's `sim.step` times: after each tick of the
    clock, from now to the end of the episode); `held(tilts, sample)` is the reward of holding
    `tilts` over a tick sample; `of_target(target)` the exact reward of the trajectory the env
    produces when a policy plays `toward(current, target)` every step from now on (RET's
    budget and dwell, the tilt-change cost and every tick included; exact up to the load
    tolerance's effect, as the env warm-starts its loads from the step before).
    """

    def __init__(self, env: TiltEnv, end_tick: int | None = None):
        cfg = env.config
        self.env, self.sim = env, env.sim
        self.space = TiltSpace.of(cfg)
        self.discrete = cfg.action == "discrete"
        self.start_tick = env.t
        last = env.n_ticks if end_tick is None else min(end_tick, env.n_ticks)
        ticks = np.arange(env.t + 1, last + 1)
        self.hours = cfg.start_hour + ticks * cfg.step_minutes / 60.0
        self.users = [self.sim.users_at(h) for h in self.hours]
        self.active = np.array([self.sim.active_at(h) for h in self.hours])
        self.start_deg = env.tilt_deg.copy()
        self.evaluations = 0
        self._unchanged = np.zeros(self.sim.n_cells)

    @property
    def n_ticks(self) -> int:
        return len(self.hours)

    def reward(self, tilt_deg: np.ndarray, tick: int, changed: np.ndarray | None = None) -> float:
        """The env's reward of tick `tick` at these tilts (`changed`: the cells re-tilted at
        it; none by default)."""
        self.evaluations += 1
        cfg = self.env.config
        kpis = self.sim.evaluate(tilt_deg, float(self.hours[tick]), self.users[tick])
        moved = self._unchanged if changed is None else changed
        inputs = RewardInputs(kpis, moved, cfg.kpi.reference_rate_mbps)
        return total_reward(reward_terms(inputs), cfg.reward)

    def held(self, tilt_deg: np.ndarray, sample: TickSample | None = None) -> float:
        """Reward of holding `tilt_deg` over the sample's ticks (every tick when None)."""
        if sample is None:
            return sum(self.reward(tilt_deg, i) for i in range(self.n_ticks))
        pairs = zip(sample.index, sample.weight, strict=True)
        return sum(w * self.reward(tilt_deg, int(i)) for i, w in pairs)

    def trajectory(self, target_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(tilts, changed), each (n_ticks, n_cells): what the env does from now on when a
        policy plays `toward(current, target)` at every step (a copy of the env's RET state
        admits or holds each move, as the env's would)."""
        env, cfg = self.env, self.env.config
        ret = copy.deepcopy(env.ret)
        per_step = cfg.ticks_per_decision
        tilts = np.empty((self.n_ticks, self.sim.n_cells))
        changed = np.zeros((self.n_ticks, self.sim.n_cells))
        current = self.start_deg.copy()
        for first in range(0, self.n_ticks, per_step):
            now_min = float((self.start_tick + first) * cfg.step_minutes)
            request = requested_tilts(self.space, self.discrete, current, target_deg)
            new = ret.admit(current, request, now_min)
            changed[first] = new != current
            current = new
            tilts[first : first + per_step] = current
        return tilts, changed

    def of_target(self, target_deg: np.ndarray) -> float:
        """Exact reward of the rest of the episode when the policy heads for `target_deg`."""
        tilts, changed = self.trajectory(target_deg)
        return sum(self.reward(tilts[i], i, changed[i]) for i in range(self.n_ticks))

    def reach(self) -> tuple[np.ndarray, np.ndarray]:
        """Per cell, the lowest and highest grid tilt one day's RET budget reaches from the
        objective's start tilts (the whole grid with continuous actions or no budget; for a
        period that starts mid-day the box is wider than the budget left, which costs search
        time, not exactness: `of_target` plays the env's RET)."""
        grid = self.space.grid_deg
        budget = self.env.config.ret.max_moves_per_day
        if not self.discrete or budget is None:
            return np.full(self.sim.n_cells, grid[0]), np.full(self.sim.n_cells, grid[-1])
        span = budget * self.space.step_deg
        start = self.space.snap(self.start_deg)
        return self.space.clip(start - span), self.space.clip(start + span)

    def sample_ticks(self, n: int) -> TickSample:
        """About `n` representative ticks (at least one per stretch of constant cells on air):
        each stretch is cut into chunks of equal length in proportion to its length, and each
        chunk is represented by its tick nearest the chunk's mean demand (per demand
        component), weighted by the chunk's length."""
        if n >= self.n_ticks:
            return TickSample(np.arange(self.n_ticks), np.ones(self.n_ticks))
        demand = np.array([self.sim.demand.component_weights(h) for h in self.hours])
        demand = demand * self.sim.demand.maps.sum(axis=1)  # users per component
        edges = np.flatnonzero(np.any(self.active[1:] != self.active[:-1], axis=1)) + 1
        index, weight = [], []
        for stretch in np.split(np.arange(self.n_ticks), edges):
            k = min(len(stretch), max(1, round(n * len(stretch) / self.n_ticks)))
            for members in demand_clusters(demand[stretch], k):
                ticks = stretch[members]
                mean = demand[ticks].mean(axis=0)
                index.append(int(ticks[np.argmin(np.abs(demand[ticks] - mean).sum(axis=1))]))
                weight.append(float(len(ticks)))
        return TickSample(np.array(index), np.array(weight))

    def key(self) -> str:
        """What a plan depends on, as text: realisation, cells on air per tick, starting tilts
        and RET state, clock, config (demand noise aside, the same in every episode that
        shares these)."""
        return json.dumps({
            "network_seed": self.sim.network_seed, "tilt_deg": self.start_deg.tolist(),
            "active": hashlib.sha256(self.active.tobytes()).hexdigest(),
            "start_tick": self.start_tick, "n_ticks": self.n_ticks,
            "ret": self.env.ret.plan_key(self.env.minutes),
            "config": self.env.config.model_dump_json(),
        }, sort_keys=True)  # fmt: skip


def within(grid_deg: np.ndarray, low_deg: float, high_deg: float) -> np.ndarray:
    """The grid tilts in [low, high] (a float tolerance either side)."""
    return grid_deg[(grid_deg >= low_deg - 1e-9) & (grid_deg <= high_deg + 1e-9)]


def demand_clusters(demand: np.ndarray, k: int, iterations: int = 20) -> list[np.ndarray]:
    """`k` groups of ticks with similar demand (rows of `demand`: users per component), by
    k-means from a farthest-point start (deterministic); empty groups are dropped."""
    centres = [int(np.argmax(demand.sum(axis=1)))]
    for _ in range(1, k):
        gap = np.min([np.abs(demand - demand[c]).sum(axis=1) for c in centres], axis=0)
        centres.append(int(np.argmax(gap)))
    means = demand[centres].astype(float)
    label = np.zeros(len(demand), int)
    for _ in range(iterations):
        label = np.argmin(((demand[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
        for j in range(k):
            if np.any(label == j):
                means[j] = demand[label == j].mean(axis=0)
    return [np.flatnonzero(label == j) for j in range(k) if np.any(label == j)]


def coordinate_descent(
    value: Callable[[np.ndarray], float],
    screen: Callable[[np.ndarray], float],
    start_deg: np.ndarray,
    low_deg: np.ndarray,
    high_deg: np.ndarray,
    grid_deg: np.ndarray,
    rng: np.random.Generator,
    max_sweeps: int,
    keep: int = 2,
) -> tuple[np.ndarray, float]:
    """Per-cell tilts on `grid_deg` within [low, high] maximising `value`, and that value.

    Each sweep visits the cells in random order; for a cell, every tilt of its range is scored
    by the cheaper `screen`, the `keep` best are scored by `value`, and the cell takes the best
    if it beats its current tilt. Stops after a sweep that improves nothing, or `max_sweeps`.
    """
    tilts = start_deg.copy()
    best = value(tilts)
    for _ in range(max_sweeps):
        improved = False
        for c in rng.permutation(len(tilts)):
            own = tilts[c]
            options = within(grid_deg, low_deg[c], high_deg[c])
            options = options[np.abs(options - own) > 1e-9]
            scores = []
            for t in options:
                tilts[c] = t
                scores.append(screen(tilts))
            for t in options[np.argsort(scores)[::-1][:keep]]:
                tilts[c] = t
                v = value(tilts)
                if v > best + 1e-9:
                    best, own, improved = v, t, True
            tilts[c] = own
        if not improved:
            break
    return tilts, best


#: a policy's plans: episode key (`DayObjective.key`) → (tilts, simulator evaluations the plan
#: cost)
_PlanStore = dict[str, tuple[np.ndarray, int]]
#: the disk cache's folder for the plans of shared planners (`PlanPolicy.disk_key`)
PLAN_CACHE_KIND = "plans"


class PlanPolicy(TiltPolicy):
    """A policy that heads for one set of tilts per episode (`plan`), cached per episode key,
    from its first action in the episode (`PeriodPlan`: one set per period of its schedule)."""

    #: plans (with the evaluations each cost) shared by the policies of one `shared_as`
    #: identity in this process, at most `SHARED_PLANS` per identity (the oldest go first)
    _shared: ClassVar[dict[tuple[object, ...], _PlanStore]] = {}
    SHARED_PLANS = 4096

    def __init__(self, env: TiltEnv):
        super().__init__(env)
        self.evaluations = 0  # simulator evaluations its plans cost (compare reports it)
        self._plans: _PlanStore = {}
        self._counted: set[str] = set()  # keys whose cost is in `evaluations`
        identity = self.shared_as()
        self._scenario = hashlib.sha1(env.scenario.model_dump_json().encode()).hexdigest()
        if identity is not None:  # the whole scenario: its events change the day's demand
            self._plans = self._shared.setdefault((*identity, self._scenario), {})
        self._targets: dict[int, np.ndarray] = {}  # per env of a VecEnv batch

    def shared_as(self) -> tuple[object, ...] | None:
        """What makes two policies' plans of the same episode equal (their class and search
        settings): policies that say the same on one scenario share their plans (each still
        counts a plan's cost in its `evaluations`, as if it had planned it), and their plans are
        kept in the disk cache too (`disk_key`); None: the policy keeps its own, in memory."""
        return None

    def disk_key(self, objective_key: str) -> str | None:
        """Everything a shared policy's plan of an objective (`DayObjective.key`) depends on,
        as text: the key of its disk-cache entry (None: not cached on disk). A plan is the same
        in any process (the objective converges its loads from full load), so a compare run
        again, or a training that plans the episodes a compare planned, finds it instead of
        searching again."""
        identity = self.shared_as()
        if identity is None:
            return None
        # imported here: the reference module builds on this one
        from cellsim.policies.reference import code_digest, realisation_digest

        return json.dumps({
            "cellsim": cellsim.__version__, "code": code_digest(), "policy": repr(identity),
            "scenario": self._scenario, "link_terms": realisation_digest(self.env),
            "objective": objective_key,
        }, sort_keys=True)  # fmt: skip

    def planned(self, objective: DayObjective, objective_key: str) -> tuple[np.ndarray, int]:
        """The plan of `objective` (whose key is `objective_key`) and the simulator evaluations
        it cost: from the disk cache where `disk_key` gives one and an entry is there, else
        `plan` now (then stored)."""
        key = self.disk_key(objective_key)
        if key is not None:
            data = plan_cache.load(PLAN_CACHE_KIND, key, ("tilts_deg", "evaluations"))
            if data is not None:
                tilts = data["tilts_deg"]
                if tilts.shape == (self.n_cells,) and np.all(np.isfinite(tilts)):
                    return tilts.astype(float), int(data["evaluations"])
        plan = self.plan(objective)
        if key is not None:
            plan_cache.store(PLAN_CACHE_KIND, key, {
                "tilts_deg": plan, "evaluations": np.array(objective.evaluations),
            })  # fmt: skip
        return plan, objective.evaluations

    def plan(self, objective: DayObjective) -> np.ndarray:
        """The tilts to hold for the rest of the episode."""
        raise NotImplementedError

    def objective(self) -> DayObjective:
        """What a plan made now optimises: the rest of the episode."""
        return DayObjective(self.env)

    def target(self, env_index: int = 0) -> np.ndarray:
        """This episode's plan (computed at the episode's first action, then cached; a
        subclass that drops `_targets[env_index]` gets a new plan of `objective()`)."""
        if env_index not in self._targets:
            objective = self.objective()
            key = objective.key()
            if key not in self._plans:
                plan, cost = self.planned(objective, key)
                plan.setflags(write=False)  # shared: no policy may change another's plan
                self._plans[key] = (plan, cost)
                while len(self._plans) > self.SHARED_PLANS:
                    self._plans.pop(next(iter(self._plans)))
            plan, cost = self._plans[key]
            if key not in self._counted:
                self._counted.add(key)
                self.evaluations += cost
            self._targets[env_index] = plan
        return self._targets[env_index]

    def reset(self, env_index: int | None = None) -> None:
        if env_index is None:
            self._targets.clear()
        else:
            self._targets.pop(env_index, None)

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        return self.toward(self.tilts(obs), self.target(env_index))


class Hold(TiltPolicy):
    """`hold`: keep the tilts the episode started with (the scenario's), all day."""

    name = "hold"

    def __init__(self, env: TiltEnv):
        super().__init__(env)
        self._start: dict[int, np.ndarray] = {}

    def reset(self, env_index: int | None = None) -> None:
        if env_index is None:
            self._start.clear()
        else:
            self._start.pop(env_index, None)

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        current = self.tilts(obs)
        return self.toward(current, self._start.setdefault(env_index, current))


class BestUniform(PlanPolicy):
    """`best-uniform`: the common grid tilt whose whole-episode trajectory (approach from the
    episode's tilts at RET's pace, then held) scores best on the exact objective."""

    name = "best-uniform"

    def scores(self, objective: DayObjective) -> dict[float, float]:
        """Exact episode objective of heading for each grid tilt, uniform over the cells."""
        n = self.n_cells
        return {float(t): objective.of_target(np.full(n, t)) for t in self.space.grid_deg}

    def plan(self, objective: DayObjective) -> np.ndarray:
        scores = self.scores(objective)
        best = max(scores, key=lambda t: scores[t])
        return np.full(self.n_cells, best)


@dataclass(frozen=True)
class PlanSearch:
    """How hard static-plan searches (defaults: ≤ ~60 s per realisation on case1).

    sample_ticks: representative ticks of the held value the descent maximises.
    screen_ticks: the smaller sample each cell's candidate tilts are screened on.
    max_sweeps: coordinate-descent sweeps over the cells per start.
    random_starts: starts drawn uniformly in the reachable box, besides best-uniform.
    seed: the search's random generator (cell order, random starts).
    """

    sample_ticks: int = 8
    screen_ticks: int = 3
    max_sweeps: int = 3
    random_starts: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("sample_ticks", "screen_ticks", "max_sweeps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"static-plan {name}={getattr(self, name)}: allowed ≥ 1")
        if self.random_starts < 0:
            raise ConfigError(f"static-plan random_starts={self.random_starts}: allowed ≥ 0")


class StaticPlan(PlanPolicy):
    """`static-plan`: per-cell tilts optimised for the whole episode on its realisation
    (coordinate descent from best-uniform and random starts; see the module docstring)."""

    name = "static-plan"

    def __init__(self, env: TiltEnv, search: PlanSearch | None = None):
        self.search = search or PlanSearch()
        super().__init__(env)
        self.uniform = BestUniform(env)

    def shared_as(self) -> tuple[object, ...]:
        return (type(self), self.search)

    def candidates(self, objective: DayObjective) -> list[np.ndarray]:
        """Coordinate-descent plans from best-uniform (clipped to reach) and random starts."""
        s = self.search
        rng = np.random.default_rng(s.seed)
        low, high = objective.reach()
        grid = self.space.grid_deg
        sample = objective.sample_ticks(s.sample_ticks)
        screen = objective.sample_ticks(s.screen_ticks)
        uniform = self.uniform.plan(objective)
        starts = [np.clip(uniform, low, high)]
        for _ in range(s.random_starts):
            starts.append(
                np.array(
                    [rng.choice(within(grid, lo, hi)) for lo, hi in zip(low, high, strict=True)]
                )
            )
        out = [uniform]
        for start in starts:
            tilts, _ = coordinate_descent(
                lambda t: objective.held(t, sample), lambda t: objective.held(t, screen),
                start, low, high, grid, rng, s.max_sweeps,
            )  # fmt: skip
            out.append(tilts)
        return out

    def plan(self, objective: DayObjective) -> np.ndarray:
        options = [objective.start_deg, *self.candidates(objective)]
        values = [objective.of_target(t) for t in options]
        return options[int(np.argmax(values))]


#: period-plan's default schedule: a day setting from the episode's start, an evening one from
#: 19:00 (where the reference's tilts leave static-plan's most: RESULTS.md)
SWITCH_HOURS = (19.0,)


class PeriodPlan(StaticPlan):
    """`period-plan`: scheduled tilt profiles, one static plan per period of the day.

    At the episode's first action static-plan's search plans the hours up to the first clock
    time of `switch_hours`; at each switch it plans the hours to the next one (or to the end),
    from the tilts and RET state reached by then. This is what operators' scheduled RET
    profiles are (a day and an evening setting, say), planned by the same tool as static-plan
    with the same knowledge: the realisation and the expected demand. Each period is planned
    on its own (greedy in time): a period does not save RET moves for the next.

    Periods run from one switch to the next on every day of the episode (a multi-day episode
    switches each day; with the one default switch its periods after the first are 24 hours
    from 19:00), and the episode's start begins the first (an episode starting at 20:00 holds
    its first plan until 19:00 the next day). A switch between two decisions takes effect at
    the next decision, so that no tick falls outside a period's objective. The clock is the
    env's own: one env, as for every planned baseline (a VecEnv batch shares env 0's clock).
    """

    name = "period-plan"

    def __init__(
        self, env: TiltEnv, search: PlanSearch | None = None,
        switch_hours: tuple[float, ...] = SWITCH_HOURS,
    ):  # fmt: skip
        try:
            hours = [float(h) for h in switch_hours]
        except (TypeError, ValueError):
            hours = []
        if not hours or any(not 0.0 <= h < 24.0 for h in hours):
            raise ConfigError(f"period-plan switch_hours={switch_hours!r}: allowed one or "
                              "more clock hours in [0, 24)")  # fmt: skip
        self.switch_hours = tuple(sorted(set(hours)))
        super().__init__(env, search)
        self._period: dict[int, int] = {}  # per env of a batch: the period its target is for
        self._switch_ticks = self._ticks_of_switches()  # the env's clock and length are fixed

    def shared_as(self) -> tuple[object, ...]:
        return (type(self), self.search, self.switch_hours)

    def switch_ticks(self) -> list[int]:
        """The clock ticks (since the episode's start) where a new period begins: each switch
        hour on every day of the episode, at the first decision from it."""
        return list(self._switch_ticks)

    def _ticks_of_switches(self) -> list[int]:
        cfg = self.env.config
        per_hour, per_decision = 60.0 / cfg.step_minutes, cfg.ticks_per_decision
        per_day = round(24.0 * per_hour)
        ticks = set()
        for hour in self.switch_hours:
            tick = round(((hour - cfg.start_hour) % 24.0) * per_hour)
            for day_tick in range(tick, self.env.n_ticks, per_day):
                ticks.add(-(-day_tick // per_decision) * per_decision)  # the next decision
        return sorted(t for t in ticks if 0 < t < self.env.n_ticks)

    def objective(self) -> DayObjective:
        end = next((t for t in self._switch_ticks if t > self.env.t), None)
        return DayObjective(self.env, end_tick=end)

    def target(self, env_index: int = 0) -> np.ndarray:
        """The plan of the period the env's clock is in (a new one at each switch)."""
        period = bisect.bisect_right(self._switch_ticks, self.env.t)
        if self._period.get(env_index) != period:  # a new period: its own plan
            self._targets.pop(env_index, None)
            self._period[env_index] = period
        return super().target(env_index)

    def reset(self, env_index: int | None = None) -> None:
        super().reset(env_index)
        if env_index is None:
            self._period.clear()
        else:
            self._period.pop(env_index, None)
