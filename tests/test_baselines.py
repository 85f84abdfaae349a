"""The static baselines (`cellsim.policies.baselines`) on hex7, short episodes, no demand noise.

Without demand noise, and with the load fixed point solved tightly (at the default tolerance the
reward depends on the solver's warm start by ~1e-3 a step), the env's episode reward is the day
objective at expected demand, so each claim is checked on what the env itself pays out, not on
the baselines' own bookkeeping.
"""

from __future__ import annotations

import numpy as np
import pytest

from cellsim import plan_cache
from cellsim.contract import HOLD
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.evaluation import BASELINES, expand_agents, run_episode
from cellsim.policies import (
    BestUniform,
    Hold,
    PeriodPlan,
    PlanSearch,
    StaticPlan,
    TiltPolicy,
    make_policy,
)
from cellsim.policies.baselines import PLAN_CACHE_KIND, DayObjective, PlanPolicy

SHORT = {"episode_hours": 6, "start_hour": 7.0, "demand_noise": 0.0, "load": {"tolerance": 1e-6},
         "realisations": {"split": "train", "pool_size": 2}}  # fmt: skip
FAST = PlanSearch(sample_ticks=4, screen_ticks=2, max_sweeps=1, random_starts=0)


class Toward(TiltPolicy):
    """Heads for fixed tilts, as the baselines do (a yardstick for them)."""

    def __init__(self, env: TiltEnv, target_deg: np.ndarray):
        super().__init__(env)
        self.target_deg = target_deg

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        return self.toward(self.tilts(obs), self.target_deg)


@pytest.fixture(scope="module")
def env() -> TiltEnv:
    return TiltEnv("hex7", SHORT)


def reward(env: TiltEnv, policy, seed: int = 0) -> float:
    return run_episode(env, policy, seed).reward


def test_hold_never_moves(env):
    policy = make_policy("hold", env)
    assert isinstance(policy, Hold)
    obs, _ = env.reset(seed=0)
    start = env.tilt_deg.copy()
    for _ in range(env.n_steps):
        action, _ = policy.predict(obs)
        np.testing.assert_array_equal(action, HOLD)
        obs, *_ = env.step(action)
    np.testing.assert_array_equal(env.tilt_deg, start)


def test_day_objective_is_what_the_env_pays(env):
    """The objective's trajectory model (RET budget and dwell, tick hours, tilt-change cost)
    reproduces the env's episode reward for a target 8 steps away (more than RET's 6 moves)."""
    env.reset(seed=0)
    target = np.full(env.sim.n_cells, 14.0)
    predicted = DayObjective(env).of_target(target)
    assert reward(env, Toward(env, target)) == pytest.approx(predicted, abs=1e-4)
    assert env.tilt_deg.max() == 12.0  # 6° + 6 moves: the budget held the rest


def test_best_uniform_beats_every_other_uniform_tilt(env):
    policy = BestUniform(env)
    best = reward(env, policy)
    chosen = float(policy.target()[0])
    assert np.all(policy.target() == chosen)
    for tilt in (3.0, 6.0, 9.0, 12.0, 15.0):
        if tilt != chosen:
            assert best >= reward(env, Toward(env, np.full(env.sim.n_cells, tilt))) - 1e-6


def test_static_plan_beats_best_uniform_and_hold(env):
    plan = StaticPlan(env, FAST)
    r_plan = reward(env, plan)
    assert r_plan >= reward(env, BestUniform(env)) - 1e-6
    assert r_plan >= reward(env, Hold(env)) - 1e-6
    assert len(np.unique(plan.target())) > 1  # per cell, not a uniform tilt in disguise
    assert plan.evaluations > 0


def test_plans_are_per_realisation_and_cached(env):
    plan = StaticPlan(env, FAST)
    targets = {}
    for seed in (0, 1):
        env.reset(options={"network_seed": seed})
        plan.reset()
        targets[seed] = plan.target().copy()
    assert not np.array_equal(targets[0], targets[1])
    spent = plan.evaluations
    env.reset(options={"network_seed": 0})
    plan.reset()
    np.testing.assert_array_equal(plan.target(), targets[0])
    assert plan.evaluations == spent  # the second episode on realisation 0 pays nothing


def test_static_plans_of_one_search_and_scenario_are_planned_once_per_process(monkeypatch):
    """A second StaticPlan (a dagger-plan run's, beside compare's baseline) finds the first's
    plan; another search or another scenario (stadium: hex7's network, another day's demand)
    plans its own."""
    search = PlanSearch(sample_ticks=3, screen_ticks=2, max_sweeps=1, random_starts=0, seed=7)
    hex7, stadium = TiltEnv("hex7", SHORT), TiltEnv("stadium", SHORT)
    first, second = StaticPlan(hex7, search), StaticPlan(hex7, search)
    other_search = StaticPlan(hex7, PlanSearch(**{**search.__dict__, "seed": 8}))
    other_scenario = StaticPlan(stadium, search)
    for e in (hex7, stadium):
        e.reset(seed=0, options={"network_seed": 1})
    planned = []
    plan = StaticPlan.plan
    monkeypatch.setattr(StaticPlan, "plan", lambda self, o: planned.append(self) or plan(self, o))
    np.testing.assert_array_equal(first.target(), second.target())
    assert planned == [first]  # the second found the first's plan
    assert second.evaluations == first.evaluations > 0  # and counts what it cost, as if alone
    other_search.target()
    other_scenario.target()
    assert planned == [first, other_search, other_scenario]
    with pytest.raises(ValueError, match="read-only"):
        second.target()[0] = 0.0  # one policy cannot change the plan another holds


def new_process(monkeypatch) -> None:
    """Forget every plan held in memory, as a fresh process would."""
    monkeypatch.setattr(PlanPolicy, "_shared", {})


def test_shared_plans_are_kept_on_disk_for_the_next_process(tmp_path, monkeypatch):
    """static-plan's plan of an episode is on disk after the episode's first action: the next
    process finds it, plans nothing and counts the same cost; another search, realisation or
    start is planned anew; a damaged entry is planned again and rewritten; with the disk cache
    off nothing is kept."""
    monkeypatch.setenv("CELLSIM_CACHE_DIR", str(tmp_path))
    new_process(monkeypatch)
    search = PlanSearch(sample_ticks=3, screen_ticks=2, max_sweeps=1, random_starts=0, seed=11)
    env = TiltEnv("hex7", SHORT)
    env.reset(seed=0, options={"network_seed": 1})
    first = StaticPlan(env, search)
    target = first.target().copy()
    files = list((tmp_path / PLAN_CACHE_KIND).glob("*.npz"))
    assert len(files) == 1
    planned: list[StaticPlan] = []
    plan = StaticPlan.plan
    monkeypatch.setattr(StaticPlan, "plan", lambda self, o: planned.append(self) or plan(self, o))

    new_process(monkeypatch)
    again = StaticPlan(env, search)
    np.testing.assert_array_equal(again.target(), target)
    assert planned == [] and again.evaluations == first.evaluations > 0

    StaticPlan(env, PlanSearch(**{**search.__dict__, "seed": 12})).target()  # another search
    env.reset(seed=0, options={"network_seed": 0})  # another realisation
    StaticPlan(env, search).target()
    env.reset(seed=0, options={"network_seed": 1})
    env.step(np.full(env.sim.n_cells, HOLD))  # another start: a decision later
    StaticPlan(env, search).target()
    assert len(planned) == 3
    assert len(list((tmp_path / PLAN_CACHE_KIND).glob("*.npz"))) == 4

    files[0].write_bytes(b"not a zip")
    new_process(monkeypatch)
    env.reset(seed=0, options={"network_seed": 1})
    np.testing.assert_array_equal(StaticPlan(env, search).target(), target)
    assert len(planned) == 4
    key = StaticPlan(env, search).disk_key(DayObjective(env).key())
    assert key is not None
    assert plan_cache.load(PLAN_CACHE_KIND, key, ("tilts_deg",)) is not None  # rewritten

    monkeypatch.setenv("CELLSIM_CACHE_DIR", "")
    new_process(monkeypatch)
    np.testing.assert_array_equal(StaticPlan(env, search).target(), target)
    assert len(planned) == 5
    assert len(list((tmp_path / PLAN_CACHE_KIND).glob("*.npz"))) == 4


def test_a_period_plan_from_disk_pays_what_the_planned_one_paid(tmp_path, monkeypatch):
    """period-plan's two plans of a day (the second from the state the first left at the
    switch) come from disk in the next process: the same episode reward, no search;
    best-uniform, which does not share its plans, keeps nothing on disk."""
    monkeypatch.setenv("CELLSIM_CACHE_DIR", str(tmp_path))
    new_process(monkeypatch)
    env = TiltEnv("hex7", SHORT)
    first = run_episode(env, PeriodPlan(env, FAST, switch_hours=(10.0,)), 0).reward
    assert len(list((tmp_path / PLAN_CACHE_KIND).glob("*.npz"))) == 2
    planned = []
    plan = StaticPlan.plan
    monkeypatch.setattr(StaticPlan, "plan", lambda self, o: planned.append(self) or plan(self, o))
    new_process(monkeypatch)
    assert run_episode(env, PeriodPlan(env, FAST, switch_hours=(10.0,)), 0).reward == first
    assert planned == []
    run_episode(env, BestUniform(env), 0)  # cheap and not shared: planned in memory only
    assert len(list((tmp_path / PLAN_CACHE_KIND).glob("*.npz"))) == 2


def test_tick_sample_covers_every_tick_and_each_outage_stretch():
    env = TiltEnv("outage", {"demand_noise": 0.0})
    env.reset(seed=0)
    objective = DayObjective(env)
    sample = objective.sample_ticks(8)
    assert sample.weight.sum() == objective.n_ticks
    on_air = {objective.active[i].tobytes() for i in range(objective.n_ticks)}
    assert {objective.active[i].tobytes() for i in sample.index} == on_air


def test_bad_search_settings_are_one_line():
    with pytest.raises(ConfigError, match="sample_ticks"):
        PlanSearch(sample_ticks=0)
    with pytest.raises(ConfigError, match="random_starts"):
        PlanSearch(random_starts=-1)


def test_compare_defaults_to_the_baselines():
    assert expand_agents(None) == list(BASELINES)
    assert expand_agents(["ppo=runs/x", "baselines", "hold"]) == ["ppo=runs/x", *BASELINES]


def test_period_plan_replans_at_the_switch_from_the_state_reached_and_the_env_pays_it(env):
    """period-plan with a switch at 10:00 (the 7:00–13:00 test day): a plan of the hours up to
    10:00 at the first action, a plan of the rest at 10:00 from the tilts and RET state reached;
    each is static-plan's search on that period, and the episode's reward is what the two
    periods' objectives predict."""
    policy = PeriodPlan(env, FAST, switch_hours=(10.0,))
    assert policy.switch_ticks() == [12]
    obs, _ = env.reset(seed=0)
    policy.reset()
    first = DayObjective(env, end_tick=12)
    assert first.n_ticks == 12
    day = StaticPlan(env, FAST).plan(first)
    predicted = first.of_target(day)
    total, targets = 0.0, []
    for _ in range(env.n_steps):
        if env.t == 12:
            rest = DayObjective(env)
            evening = StaticPlan(env, FAST).plan(rest)
            predicted += rest.of_target(evening)
        action, _ = policy.predict(obs)
        targets.append(policy.target().copy())
        obs, r, *_ = env.step(action)
        total += float(r)
    np.testing.assert_array_equal(targets[0], day)
    np.testing.assert_array_equal(targets[12], evening)
    assert all(np.array_equal(t, day) for t in targets[:12])
    assert not np.array_equal(day, evening)  # the evening has its own plan
    assert total == pytest.approx(predicted, abs=1e-4)


def test_period_plan_without_a_switch_in_the_episode_is_static_plan(env):
    """A switch the episode never reaches (02:00 on a 7:00–13:00 day) leaves one period: the
    static plan; its plans are its own (another identity), never static-plan's."""
    policy = PeriodPlan(env, FAST, switch_hours=(2.0,))
    assert policy.switch_ticks() == []
    assert policy._plans is not StaticPlan(env, FAST)._plans
    env.reset(seed=0, options={"network_seed": 1})
    np.testing.assert_array_equal(policy.target(), StaticPlan(env, FAST).target())


@pytest.mark.parametrize(
    ("config", "ticks"),
    [  # 15-minute ticks; switch at 19:00
        ({"episode_hours": 72, "start_hour": 0.0}, [76, 172, 268]),  # every day of the episode
        ({"episode_hours": 24, "start_hour": 20.0}, [92]),  # the next day's 19:00
        ({"episode_hours": 24, "start_hour": 19.0}, []),  # the episode's start is the switch
        # decisions every hour from 07:30: 19:00 is tick 46, the first decision from it tick 48
        ({"episode_hours": 24, "start_hour": 7.5, "ret": {"decision_minutes": 60}}, [48]),
    ],
)
def test_period_plan_switches_on_every_day_at_a_decision(config, ticks):
    env = TiltEnv("hex7", config)
    assert PeriodPlan(env, FAST).switch_ticks() == ticks


@pytest.mark.parametrize("hours", [(), (24.0,), (-1.0,), ("19h",), 19.0, (float("nan"),)])
def test_bad_switch_hours_are_one_line(env, hours):
    with pytest.raises(ConfigError, match=r"switch_hours.*\[0, 24\)"):
        PeriodPlan(env, FAST, switch_hours=hours)
