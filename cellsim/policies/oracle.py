"""`oracle`: the reference optimum — a search over tilts that uses the simulator as its model.

For each demand snapshot (the time of the next step, with the expected demand) it finds the tilts
that maximise the reward's KPI terms (coverage, utility, edge, with the config's weights) by
coordinate descent from the previous snapshot's optimum plus random restarts, or exhaustively when
the tilt grid is small; the env then moves each cell toward its optimum at the allowed rate.
It knows the future demand and evaluates the simulator hundreds of times per step, so it is an
upper bound to measure agents against, not a deployable policy. `evaluations` counts the
simulator evaluations it used.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from cellsim.contract import (
    RewardInputs,
    TiltSpace,
    reward_terms,
    split_observation,
    total_reward,
)
from cellsim.env.tilt_env import TiltEnv
from cellsim.policies.base import TiltPolicy

EXHAUSTIVE_LIMIT = 5_000  # search every tilt combination when there are at most this many


def optimise_tilts(
    objective: Callable[[np.ndarray], float],
    grid_deg: np.ndarray,
    start_deg: np.ndarray,
    rng: np.random.Generator,
    restarts: int = 2,
    max_sweeps: int = 10,
    exhaustive_limit: int = EXHAUSTIVE_LIMIT,
) -> tuple[np.ndarray, float]:
    """Tilts (on `grid_deg`) maximising `objective`, and its value.

    Exhaustive when len(grid)^n_cells ≤ exhaustive_limit; else coordinate descent: each sweep
    visits the cells in random order and moves one to the best tilt of the whole grid, until a
    sweep improves nothing; repeated from `restarts` random starts besides `start_deg`.
    """
    n = len(start_deg)
    if len(grid_deg) ** n <= exhaustive_limit:
        best, best_value = start_deg.copy(), -np.inf
        for combo in itertools.product(grid_deg, repeat=n):
            tilts = np.array(combo, float)
            value = objective(tilts)
            if value > best_value:
                best, best_value = tilts, value
        return best, best_value
    starts = [start_deg.copy()] + [rng.choice(grid_deg, n) for _ in range(restarts)]
    best, best_value = start_deg.copy(), -np.inf
    for tilts in starts:
        value = objective(tilts)
        for _ in range(max_sweeps):
            improved = False
            for c in rng.permutation(n):
                keep = tilts[c]
                for t in grid_deg:
                    if t == keep:
                        continue
                    tilts[c] = t
                    v = objective(tilts)
                    if v > value + 1e-12:
                        value, keep, improved = v, t, True
                tilts[c] = keep
            if not improved:
                break
        if value > best_value:
            best, best_value = tilts.copy(), value
    return best, best_value


class Oracle(TiltPolicy):
    """Moves toward the per-snapshot optimum tilts (see the module docstring)."""

    name = "oracle"

    def __init__(self, env: TiltEnv, restarts: int = 1, seed: int = 0):
        super().__init__(env)
        self.grid_deg = TiltSpace.of(env.config).grid_deg
        self.restarts = restarts
        self.rng = np.random.default_rng(seed)
        self.evaluations = 0
        self._plans: dict[tuple[int, float, bytes], np.ndarray] = {}
        self._last_plan = self.space.clip(env.sim.layout.cells.tilt_deg)

    def objective(self, hour: float) -> Callable[[np.ndarray], float]:
        """The env's reward of holding these tilts through the step to `hour` (expected
        demand, the simulator's current load state): the one total of `cellsim.contract`,
        with no tilt changed, so every reward term and weight counts as it does in the env."""
        sim, weights = self.env.sim, self.env.config.reward
        users = sim.users_at(hour)
        ref = self.env.config.kpi.reference_rate_mbps
        unchanged = np.zeros(self.n_cells)

        def value(tilts: np.ndarray) -> float:
            self.evaluations += 1
            inputs = RewardInputs(sim.evaluate(tilts, hour, users), unchanged, ref)
            return total_reward(reward_terms(inputs), weights)

        return value

    def plan(self, hour: float) -> np.ndarray:
        """Optimum tilts for the demand at `hour` and the cells on air then (cached: the same in
        every episode with the same outages, e.g. the random ones of imitation training)."""
        sim = self.env.sim
        key = (sim.network_seed, round(hour % 24.0, 6), sim.active_at(hour).tobytes())
        if key not in self._plans:
            restarts = self.restarts if not self._plans else 0
            best, _ = optimise_tilts(
                self.objective(hour), self.grid_deg, self._last_plan.copy(), self.rng, restarts
            )
            self._plans[key] = best
        self._last_plan = self._plans[key]
        return self._last_plan

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        tilts = self.tilts(obs)
        sin, cos = split_observation(obs, self.n_cells)[1]
        hour = (np.degrees(np.arctan2(sin, cos)) % 360.0) / 15.0
        next_hour = hour + self.env.config.step_minutes / 60.0
        return self.toward(tilts, self.plan(next_hour))
