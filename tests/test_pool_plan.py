"""`pool-plan` (`cellsim.policies.pool_plan`) on hex7, short episodes, no demand noise: it is the
per-cell median of static-plan's plans on the training realisations, computed here from
static-plan directly; it never depends on the episode's own realisation; it is cached on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cellsim import plan_cache
from cellsim.contract import TiltSpace
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.evaluation import run_episode
from cellsim.policies import PlanSearch, PoolPlan, StaticPlan, make_policy, pool_plan
from cellsim.policies.baselines import DayObjective
from cellsim.policies.pool_plan import CACHE_KIND

#: with the load fixed point solved tightly, a plan does not depend on the solver's warm start
SHORT = {"episode_hours": 4, "start_hour": 8.0, "demand_noise": 0.0, "load": {"tolerance": 1e-6},
         "realisations": {"split": "eval", "pool_size": 2}}  # fmt: skip
FAST = PlanSearch(sample_ticks=2, screen_ticks=1, max_sweeps=1, random_starts=0)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Every test with its own disk cache and an empty in-process one."""
    monkeypatch.setenv(plan_cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(pool_plan, "_MEMORY", {})


def forget_in_process(monkeypatch) -> None:
    """As in a new process: the in-process plans gone (the disk cache, if on, kept)."""
    monkeypatch.setattr(pool_plan, "_MEMORY", {})


@pytest.fixture(scope="module")
def env() -> TiltEnv:
    return TiltEnv("hex7", SHORT)


@pytest.mark.parametrize("realisations", [2, 3])  # an even count averages the middle two
def test_the_plan_is_the_median_of_the_training_realisations_static_plans(env, realisations):
    env.reset(seed=0, options={"network_seed": 1_000_000})
    policy = PoolPlan(env, realisations=realisations, search=FAST)
    target = policy.target()
    plans = []
    for seed in range(realisations):  # the default training pool's first, by static-plan
        env.reset(seed=0, options={"network_seed": seed})
        plans.append(StaticPlan(env, FAST).plan(DayObjective(env)))
    expected = TiltSpace.of(env.config).snap(np.median(plans, axis=0))
    env.reset(seed=0, options={"network_seed": 1_000_000})
    low, high = DayObjective(env).reach()
    np.testing.assert_array_equal(target, np.clip(expected, low, high))
    assert not all(np.array_equal(plans[0], p) for p in plans[1:])  # a median of different plans


def test_it_never_reads_the_episodes_realisation(env, monkeypatch):
    monkeypatch.setenv(plan_cache.CACHE_DIR_ENV, "")  # no disk cache: each one is computed
    targets, rewards = [], []
    for network_seed in (1_000_000, 1_000_001):
        forget_in_process(monkeypatch)
        policy = PoolPlan(env, realisations=2, search=FAST)
        result = run_episode(env, policy, 5, network_seed)
        assert policy.evaluations > 0  # planned here, not found
        targets.append(policy.target().copy())
        rewards.append(result.reward)
    np.testing.assert_array_equal(targets[0], targets[1])  # the same plan on both
    assert rewards[0] != rewards[1]  # while the realisations differ
    env.reset(seed=5, options={"network_seed": 1_000_001})
    own = StaticPlan(env, FAST)  # knowing the realisation, static-plan plans differently
    assert not np.array_equal(own.plan(DayObjective(env)), targets[1])


def test_plans_are_cached_on_disk(env, monkeypatch):
    first = PoolPlan(env, realisations=2, search=FAST)
    run_episode(env, first, 0, 1_000_000)
    assert first.evaluations > 0
    files = list((Path(str(plan_cache.cache_root())) / CACHE_KIND).glob("*.npz"))
    assert len(files) == 1
    forget_in_process(monkeypatch)
    planned: list[PoolPlan] = []
    median = PoolPlan._median_plan
    monkeypatch.setattr(PoolPlan, "_median_plan", lambda self: planned.append(self) or median(self))
    again = PoolPlan(env, realisations=2, search=FAST)  # as in a new process
    run_episode(env, again, 0, 1_000_000)
    assert planned == []  # found on disk
    assert again.evaluations == first.evaluations  # and its cost counted, as if planned here
    np.testing.assert_array_equal(again.target(), first.target())
    other = PoolPlan(env, realisations=3, search=FAST)  # another pool: planned anew
    run_episode(env, other, 0, 1_000_000)
    assert planned == [other] and other.evaluations > first.evaluations
    monkeypatch.setenv(plan_cache.CACHE_DIR_ENV, "")
    shared = PoolPlan(env, realisations=3, search=FAST)  # same process, no disk: from memory
    run_episode(env, shared, 0, 1_000_001)
    assert planned == [other] and shared.evaluations == other.evaluations


def test_the_key_follows_the_episodes_set_up_but_not_its_realisation(env):
    policy = PoolPlan(env, realisations=2, search=FAST)
    env.reset(seed=0, options={"network_seed": 1_000_000})
    key = policy.key(DayObjective(env))
    env.reset(seed=0, options={"network_seed": 1_000_001})
    assert policy.key(DayObjective(env)) == key
    env.ret.moves_today[0] = 1  # a RET state a mid-episode plan would start from
    assert policy.key(DayObjective(env)) != key
    env.reset(seed=0, options={"network_seed": 1_000_001})
    env.tilt_deg = env.tilt_deg + 1.0
    assert policy.key(DayObjective(env)) != key


def test_it_is_a_built_in_baseline_and_bad_settings_are_one_line(env):
    assert isinstance(make_policy("pool-plan", env), PoolPlan)
    with pytest.raises(ConfigError, match="realisations=0"):
        PoolPlan(env, realisations=0)


def test_the_plan_does_not_depend_on_the_load_state_it_starts_from(monkeypatch):
    """At the default load tolerance (a warm start moves rewards by ~1e-3) and with demand
    noise (each episode's first step leaves other loads behind): the plan is the same from
    any state, as the disk cache, shared by processes, needs."""
    monkeypatch.setenv(plan_cache.CACHE_DIR_ENV, "")  # no disk cache: each one is computed
    env = TiltEnv("hex7", {**SHORT, "load": {}, "demand_noise": 0.3})
    targets = []
    for seed, network_seed in ((0, 1_000_000), (7, 1_000_001)):
        forget_in_process(monkeypatch)
        env.reset(seed=seed, options={"network_seed": network_seed})
        targets.append(PoolPlan(env, realisations=2, search=FAST).target().copy())
    np.testing.assert_array_equal(targets[0], targets[1])
