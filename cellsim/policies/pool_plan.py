"""`pool-plan`: the static per-cell plan a planning tool gives without this realisation's
propagation — learned on training realisations, held on the one the episode runs on.

`static-plan` plans on the episode's own realisation: it knows the shadowing and LOS an
agent never observes (what a planning tool with a propagation model calibrated by drive tests
knows). An agent evaluated on held-out realisations must infer those from KPIs. `pool-plan` is
the plan it could have learned offline without any inference: for the episode's set-up
(starting tilts, clock, cells on air per tick, env config) it computes static-plan's plan on
each of the first `realisations` realisations of the default training pool (network seeds
0 … N − 1, disjoint from every evaluation realisation), takes each cell's median tilt (snapped
to the grid) and heads for it at RET's pace like static-plan, never looking at the episode's
own realisation. The gap static-plan − pool-plan is what knowing the realisation is worth; an
agent above pool-plan has learned to read the realisation from its KPIs.

Decisions:
- The median, not a joint optimisation of the mean objective over the realisations: each
  per-realisation plan is static-plan's (cached, tested), and a joint descent would switch
  realisation at every evaluation. 16 realisations by default (hex7 ≈ 30 s, case1 ≈ 4 min once;
  then on disk).
- Cached in the process and on disk (`cellsim.plan_cache`, folder `pool-plan/`) per scenario,
  env config, episode set-up, training realisations (their link terms' digest), search settings
  and the source of the model's modules, like the reference.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from dataclasses import asdict

import numpy as np

import cellsim
from cellsim import plan_cache
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies.baselines import DayObjective, PlanPolicy, PlanSearch, StaticPlan
from cellsim.policies.reference import code_digest, terms_digest

CACHE_KIND = "pool-plan"
DEFAULT_REALISATIONS = 16
_OWN_DIGEST: list[str] = []


def _own_digest() -> str:
    """SHA-256 of this module's source (the reference's `code_digest` does not cover it)."""
    if not _OWN_DIGEST:
        _OWN_DIGEST.append(hashlib.sha256(inspect.getsource(sys.modules[__name__]).encode())
                           .hexdigest())  # fmt: skip
    return _OWN_DIGEST[0]


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
        self._pool_plans: dict[str, np.ndarray] = {}

    def plan(self, objective: DayObjective) -> np.ndarray:
        sim = self.env.sim
        digests, plans = hashlib.sha256(), []
        for seed in self.seeds:
            with sim.realisation(seed):
                digests.update(terms_digest(self.env).encode())
        key = json.dumps({
            "cellsim": cellsim.__version__, "code": code_digest(), "pool_code": _own_digest(),
            "search": asdict(self.static.search), "scenario": self._scenario,
            "config": self.env.config.model_dump_json(), "seeds": list(self.seeds),
            "link_terms": digests.hexdigest(), "start_tick": objective.start_tick,
            "tilt_deg": objective.start_deg.tolist(),
            "active": hashlib.sha256(objective.active.tobytes()).hexdigest(),
        }, sort_keys=True)  # fmt: skip
        if key in self._pool_plans:
            return self._pool_plans[key]
        cached = plan_cache.load(CACHE_KIND, key, ("tilts_deg",))
        if cached is not None and cached["tilts_deg"].shape == (self.n_cells,):
            median = cached["tilts_deg"].astype(float)
        else:
            for seed in self.seeds:
                with sim.realisation(seed, fresh_load=True):  # the same plan in any process
                    training = DayObjective(self.env)
                    plans.append(self.static.plan(training))
                    objective.evaluations += training.evaluations
            median = self.space.snap(np.median(np.array(plans), axis=0))
            plan_cache.store(CACHE_KIND, key, {"tilts_deg": median})
        low, high = objective.reach()
        out = np.minimum(np.maximum(median, low), high)
        self._pool_plans[key] = out
        return out
