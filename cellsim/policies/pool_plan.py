"""`pool-plan`: the static per-cell plan a planning tool gives without this realisation's
propagation — learned on training realisations, held on the one the episode runs on.

`static-plan` plans on the episode's own realisation: it knows the shadowing and LOS an
agent never observes (what a planning tool with a propagation model calibrated by drive tests
knows). An agent evaluated on held-out realisations must infer those from KPIs. `pool-plan` is
the plan it could have learned offline without any inference: for the episode's set-up
(starting tilts, clock, RET state, cells on air per tick, env config) it computes static-plan's
plan on each of the first `realisations` realisations of the default training pool (network
seeds 0 … N − 1), takes each cell's median tilt (snapped to the grid; with an even count the
two middle plans' mean, rounded half to even) and heads for it at RET's pace like static-plan,
never looking at the episode's own realisation. Those seeds are disjoint from compare's
held-out realisations (the eval split); an episode on a training realisation (a training env,
`--config` with its own pool) may run on one of them, and then pool-plan has partly seen it.
The gap static-plan − pool-plan is what knowing the realisation is worth; an agent above
pool-plan has learned to read the realisation from its KPIs.

Decisions:
- The median, not a joint optimisation of the mean objective over the realisations: each
  per-realisation plan is static-plan's (cached, tested), and a joint descent would switch
  realisation at every evaluation. 16 realisations by default (hex7 ≈ 30 s, case1 ≈ 4 min once
  per episode set-up, then on disk: episodes with random outages or random initial tilts each
  have their own set-up, and pay that every episode).
- Cached in the process (every PoolPlan shares it) and on disk (`cellsim.plan_cache`, folder
  `pool-plan/`) per scenario, env config, episode set-up (RET state included), training
  realisations (their link terms' digest), search settings and the source of the model's
  modules, like the reference.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np

import cellsim
from cellsim import plan_cache
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies.baselines import DayObjective, PlanPolicy, PlanSearch, StaticPlan
from cellsim.policies.reference import code_digest, realisation_digest

CACHE_KIND = "pool-plan"
DEFAULT_REALISATIONS = 16
#: key text → (median plan, simulator evaluations it cost), for every PoolPlan of the process
_MEMORY: dict[str, tuple[np.ndarray, int]] = {}
code_digest((__name__,))  # now, from the source imported (see reference.code_digest)


class PoolPlan(PlanPolicy):
    """`pool-plan`: the per-cell median of static-plan's plans on training realisations 0 … N − 1
    (see the module docstring), held whatever realisation the episode runs on."""

    name = "pool-plan"

    def __init__(
        self, env: TiltEnv, realisations: int = DEFAULT_REALISATIONS,
        search: PlanSearch | None = None,
    ):  # fmt: skip
        super().__init__(env)
        if realisations < 1:
            raise ConfigError(f"pool-plan realisations={realisations}: allowed ≥ 1")
        self.seeds = tuple(range(realisations))
        self.static = StaticPlan(env, search)
        self._scenario = env.scenario.model_dump_json()

    def key(self, objective: DayObjective) -> str:
        """Everything the plan depends on, as text (the episode's realisation is not in it)."""
        env, digests = self.env, hashlib.sha256()
        for seed in self.seeds:
            digests.update(realisation_digest(env, seed).encode())
        return json.dumps({
            "cellsim": cellsim.__version__, "code": code_digest((__name__,)),
            "search": asdict(self.static.search), "scenario": self._scenario,
            "config": env.config.model_dump_json(), "seeds": list(self.seeds),
            "link_terms": digests.hexdigest(), "start_tick": objective.start_tick,
            "tilt_deg": objective.start_deg.tolist(),
            **env.ret.plan_key(env.minutes),
            "active": hashlib.sha256(objective.active.tobytes()).hexdigest(),
        }, sort_keys=True)  # fmt: skip

    def plan(self, objective: DayObjective) -> np.ndarray:
        """The median plan, clipped to what the episode's RET budget reaches; its cost (the
        training realisations' static plans) is counted whether planned now or found in memory
        or on disk, so the evaluations compare reports do not depend on the cache."""
        key = self.key(objective)
        found = _MEMORY.get(key)
        if found is None:
            cached = plan_cache.load(CACHE_KIND, key, ("tilts_deg", "evaluations"))
            if cached is not None and cached["tilts_deg"].shape == (self.n_cells,):
                found = (cached["tilts_deg"].astype(float), int(cached["evaluations"]))
            else:
                found = self._median_plan()
                plan_cache.store(CACHE_KIND, key, {
                    "tilts_deg": found[0], "evaluations": np.array(found[1]),
                })  # fmt: skip
            _MEMORY[key] = found
        median, cost = found
        objective.evaluations += cost
        low, high = objective.reach()
        return np.minimum(np.maximum(median, low), high)

    def _median_plan(self) -> tuple[np.ndarray, int]:
        """static-plan's plan on each training realisation, their per-cell median on the grid,
        and the simulator evaluations the plans cost."""
        plans, cost = [], 0
        for seed in self.seeds:
            with self.env.sim.realisation(seed):
                training = DayObjective(self.env)
                plans.append(self.static.plan(training))
                cost += training.evaluations
        return self.space.snap(np.median(np.array(plans), axis=0)), cost
