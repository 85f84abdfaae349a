"""`cellsim/Tilt-v0` against its contract (the TiltEnv docstring): API checkers, determinism (in
one process and across spawned processes), robustness under random play, action and reward
semantics, configuration merging, physics sanity, bad input and rendering.
"""

from __future__ import annotations

import importlib
import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
import shapely
from gymnasium.utils.env_checker import check_env as gym_check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import cellsim  # noqa: F401  (registers cellsim/Tilt-v0)
from cellsim.contract import REWARD_TERM_NAMES
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import CellsimError, ConfigError
from cellsim.scenario import (
    EnvConfig,
    KpiConfig,
    RewardWeights,
    builtin_scenarios,
    load_scenario,
)

ENV_ID = "cellsim/Tilt-v0"
SCENARIOS = sorted(
    name for name, path in builtin_scenarios().items() if path.parent.name != "calibration"
)
N_FEATURES = 13  # cellsim.contract.N_CELL
OBS_FEATURES = (
    "tilt", "load", "served_share", "mean_sinr", "poor_sinr_share", "covered_share",
    "weak_rsrp_share", "interference", "overshoot_share", "mean_log_rate", "active",
)  # fmt: skip
F = {name: i for i, name in enumerate(OBS_FEATURES)}
REWARD_TERMS = set(REWARD_TERM_NAMES)  # the contract's registry


#: RET without budget or dwell: the tests of tilt mechanics move cells every step
#: (tests/env/test_ret.py checks the budget and the dwell)
FREE_RET = {"ret": {"max_moves_per_day": None, "min_dwell_minutes": 0}}


def make(scenario: str = "hex7", config: dict | None = None, **kwargs) -> gym.Env:
    if config is None or isinstance(config, dict):  # bad configs reach the env as given
        config = {**FREE_RET, **(config or {})}
    return gym.make(ENV_ID, scenario=scenario, config=config, **kwargs)


def cells(obs: np.ndarray) -> np.ndarray:
    """The per-cell block of an observation, (n_cells, N_FEATURES)."""
    return obs[:-2].reshape(-1, N_FEATURES)


def make_hex7_for_vec_env() -> gym.Env:
    """A module-level factory, so that spawned worker processes can import it."""
    importlib.import_module("cellsim")  # registers the env in a fresh worker process
    return gym.make(ENV_ID, scenario="hex7")


@pytest.fixture(scope="session")
def env_cache():
    """One env per (scenario, action type) for the tests that only read or play them."""
    cache: dict[tuple[str, str], gym.Env] = {}

    def get(name: str, action: str = "discrete") -> gym.Env:
        if (name, action) not in cache:
            cache[name, action] = make(name, {"action": action})
        return cache[name, action]

    yield get
    for env in cache.values():
        env.close()


def env_variants():
    return [pytest.param(name, "discrete", id=name) for name in SCENARIOS] + [
        pytest.param("hex7", "continuous", id="hex7-continuous")
    ]


# ----------------------------------------------------------------------------- API checkers


@pytest.mark.parametrize(("name", "action"), env_variants())
def test_gymnasium_env_checker(env_cache, name, action):
    env = env_cache(name, action)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped)


@pytest.mark.parametrize(("name", "action"), env_variants())
def test_sb3_env_checker(env_cache, name, action):
    env = env_cache(name, action)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(env.unwrapped, warn=True)


def test_gymnasium_env_checker_with_rendering():
    env = make("hex7", render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped)


def test_registered_and_spaces_match_the_contract(env_cache):
    assert ENV_ID in gym.registry
    for name in SCENARIOS:
        env = env_cache(name)
        n = env.unwrapped.sim.n_cells
        assert isinstance(env.action_space, gym.spaces.MultiDiscrete)
        assert env.action_space.shape == (n,)
        assert np.all(env.action_space.nvec == 3)
        assert env.observation_space.shape == (n * N_FEATURES + 2,)
        assert env.observation_space.dtype == np.float32
    cont = env_cache("hex7", "continuous")
    assert isinstance(cont.action_space, gym.spaces.Box)
    assert np.all(cont.action_space.low == -1) and np.all(cont.action_space.high == 1)


# ----------------------------------------------------------------------------- determinism


def rollout(env: gym.Env, seed: int | None, actions) -> list:
    obs, info = env.reset(seed=seed)
    out = [(obs, None, False, False, info)]
    for a in actions:
        out.append(env.step(a))
    return out


def assert_same(a, b, path="") -> None:
    """Bitwise equality of nested observations / rewards / infos."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, path
        assert np.array_equal(a, b), path
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} != {b!r}"


def random_actions(env: gym.Env, n_steps: int, seed: int) -> list:
    space = env.action_space
    rng = np.random.default_rng(seed)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return list(rng.integers(0, 3, (n_steps, *space.shape)))
    return list(rng.uniform(-1, 1, (n_steps, *space.shape)).astype(np.float32))


@pytest.mark.parametrize("action", ["discrete", "continuous"])
def test_hex7_whole_episode_is_deterministic(action):
    env_a, env_b = make("hex7", {"action": action}), make("hex7", {"action": action})
    actions = random_actions(env_a, 96, seed=11)
    first = rollout(env_a, 1234, actions)
    second = rollout(env_b, 1234, actions)
    assert_same(first, second)
    # a reset of the same env with the same seed replays the episode exactly
    assert_same(first, rollout(env_a, 1234, actions))
    # one day of 15-minute steps: truncated at the 96th step only, never terminated
    assert [t[2] for t in first[1:]] == [False] * 96
    assert [t[3] for t in first[1:]] == [False] * 95 + [True]


@pytest.mark.parametrize("name", [s for s in SCENARIOS if s != "hex7"])
def test_other_scenarios_are_deterministic(env_cache, name):
    cached = env_cache(name)
    actions = random_actions(cached, 16, seed=5)
    first = rollout(cached, 77, actions)
    fresh = make(name)
    assert_same(first, rollout(fresh, 77, actions))
    assert_same(first, rollout(cached, 77, actions))
    fresh.close()


def test_different_seeds_differ_through_demand_noise():
    env = make("hex7")
    actions = random_actions(env, 12, seed=3)
    a, b = rollout(env, 0, actions), rollout(env, 1, actions)
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a, b, strict=True))
    assert any(x[1] != y[1] for x, y in zip(a[1:], b[1:], strict=True))
    # without demand noise and with one realisation the seed has nothing to draw: the
    # episodes coincide
    quiet = make("hex7", {"demand_noise": 0.0, "realisations": {"split": "fixed"}})
    assert_same(rollout(quiet, 0, actions), rollout(quiet, 1, actions))


def test_network_seed_changes_the_network_not_the_reset_seed():
    fixed = {"demand_noise": 0.0, "realisations": {"split": "fixed"}}
    base = make("hex7", fixed)
    other = make("hex7", {**fixed, "network_seed": 1})
    o1, _ = base.reset(seed=0)
    o2, _ = other.reset(seed=0)
    assert not np.array_equal(o1, o2)


def test_random_initial_tilt_is_seeded_and_on_the_grid():
    env = make("hex7", {"initial_tilt": "random", "tilt_min_deg": 2, "tilt_max_deg": 14,
                        "tilt_step_deg": 2})  # fmt: skip
    t1 = env.reset(seed=5)[1]["tilt_deg"]
    t2 = env.reset(seed=5)[1]["tilt_deg"]
    t3 = env.reset(seed=6)[1]["tilt_deg"]
    np.testing.assert_array_equal(t1, t2)
    assert not np.array_equal(t1, t3)
    for t in (t1, t3):
        assert np.all((t >= 2) & (t <= 14))
        np.testing.assert_allclose((t - 2) / 2, np.round((t - 2) / 2), atol=1e-9)
    assert len(np.unique(np.concatenate([t1, t3]))) > 2  # spread over the range


def test_subprocess_vec_env_matches_in_process():
    """Spawned workers (fresh interpreters, numba from cache) give bit-identical trajectories."""
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    rng = np.random.default_rng(42)
    actions = rng.integers(0, 3, (20, 2, 21))
    results = []
    for cls, kwargs in ((DummyVecEnv, {}), (SubprocVecEnv, {"start_method": "spawn"})):
        vec = cls([make_hex7_for_vec_env, make_hex7_for_vec_env], **kwargs)
        try:
            vec.seed(2024)
            obs = [vec.reset()]
            rewards, kpis = [], []
            for a in actions:
                o, r, _, infos = vec.step(a)
                obs.append(o)
                rewards.append(r)
                kpis.append([info["kpis"] for info in infos])
        finally:
            vec.close()
        results.append((np.array(obs), np.array(rewards), kpis))
    (obs_d, rew_d, kpi_d), (obs_s, rew_s, kpi_s) = results
    assert obs_d.dtype == obs_s.dtype == np.float32
    assert np.array_equal(obs_d, obs_s)
    # DummyVecEnv buffers rewards in float32, SubprocVecEnv stacks the workers' float64 rewards
    assert np.array_equal(rew_d, rew_s.astype(rew_d.dtype))
    assert_same(kpi_d, kpi_s)
    # the two workers were seeded differently, so they did not play the same episode
    assert not np.array_equal(obs_s[:, 0], obs_s[:, 1])


# ----------------------------------------------------------------------------- robustness


def biased_actions(env: gym.Env, rng: np.random.Generator) -> np.ndarray:
    """Random actions with streaks that push every cell against the tilt limits."""
    space = env.action_space
    n = space.shape[0]
    kind = rng.random()
    if isinstance(space, gym.spaces.MultiDiscrete):
        if kind < 0.3:
            return np.zeros(n, np.int64)
        if kind < 0.6:
            return np.full(n, 2, np.int64)
        return rng.integers(0, 3, n)
    if kind < 0.2:
        return np.full(n, rng.choice([-1.0, 1.0]), np.float32)
    return rng.uniform(-1, 1, n).astype(np.float32)


def check_step(env: gym.Env, obs, reward, terminated, truncated, info) -> None:
    u = env.unwrapped
    cfg = u.config
    assert obs.dtype == np.float32
    assert np.all(np.isfinite(obs))
    assert env.observation_space.contains(obs)
    assert isinstance(reward, float) and math.isfinite(reward)
    assert terminated is False
    assert all(math.isfinite(v) for v in info["kpis"].values())
    assert set(info["rewards"]) == REWARD_TERMS
    assert all(math.isfinite(v) for v in info["rewards"].values())
    tilt = info["tilt_deg"]
    assert np.all((tilt >= cfg.tilt_min_deg) & (tilt <= cfg.tilt_max_deg))
    np.testing.assert_allclose(
        cells(obs)[:, F["tilt"]],
        (tilt - cfg.tilt_min_deg) / (cfg.tilt_max_deg - cfg.tilt_min_deg), atol=1e-6,
    )  # fmt: skip
    assert 0 <= info["active_cells"] <= u.sim.n_cells
    assert 0.0 <= info["kpis"]["coverage"] <= 1.0


@pytest.mark.parametrize(("name", "action"), env_variants())
def test_random_play_stays_finite_and_in_bounds(env_cache, name, action):
    env = env_cache(name, action)
    rng = np.random.default_rng([ord(c) for c in name + action])  # stable across runs
    obs, info = env.reset(seed=99)
    assert env.observation_space.contains(obs)
    seen_limits = set()
    for _ in range(1000):
        obs, reward, terminated, truncated, info = env.step(biased_actions(env, rng))
        check_step(env, obs, reward, terminated, truncated, info)
        cfg = env.unwrapped.config
        seen_limits |= {float(t) for t in info["tilt_deg"]} & {cfg.tilt_min_deg, cfg.tilt_max_deg}
        if truncated:
            obs, info = env.reset()
            assert env.observation_space.contains(obs)
    assert seen_limits == {cfg.tilt_min_deg, cfg.tilt_max_deg}  # the limits were exercised


# ----------------------------------------------------------------------------- semantics


def test_discrete_actions_downtilt_hold_uptilt():
    env = make("hex7")
    _, info = env.reset(seed=0)
    t0 = info["tilt_deg"]
    assert np.all(t0 == load_scenario("hex7").layout.tilt_deg)  # the scenario's tilt
    n = len(t0)
    a = np.arange(n) % 3
    obs, _, _, _, info = env.step(a)
    expected = t0 + np.where(a == 0, 1.0, 0.0) - np.where(a == 2, 1.0, 0.0)
    np.testing.assert_array_equal(info["tilt_deg"], expected)
    np.testing.assert_allclose(cells(obs)[:, F["tilt"]], expected / 15.0, atol=1e-6)
    assert info["rewards"]["tilt_change"] == pytest.approx(-np.count_nonzero(a != 1) / n)
    # another step size
    env2 = make("hex7", {"tilt_step_deg": 2.5})
    env2.reset(seed=0)
    info = env2.step(a)[4]
    np.testing.assert_allclose(info["tilt_deg"], t0 + 2.5 * (a == 0) - 2.5 * (a == 2))


def test_discrete_tilts_clip_at_the_range():
    cfg = {"tilt_min_deg": 2.0, "tilt_max_deg": 9.0, "tilt_step_deg": 2.0}
    env = make("hex7", cfg)
    _, info = env.reset(seed=0)
    n = len(info["tilt_deg"])
    expected = info["tilt_deg"].copy()
    for direction, action in ((+1, 0), (-1, 2), (+1, 0)):
        for _ in range(6):
            previous = expected.copy()
            expected = np.clip(expected + direction * 2.0, 2.0, 9.0)
            obs, _, _, _, info = env.step(np.full(n, action))
            np.testing.assert_array_equal(info["tilt_deg"], expected)
            changed = np.count_nonzero(expected != previous)
            assert info["rewards"]["tilt_change"] == pytest.approx(-changed / n)
        limit = 9.0 if direction > 0 else 2.0
        assert np.all(info["tilt_deg"] == limit)
        assert np.all(cells(obs)[:, F["tilt"]] == (1.0 if direction > 0 else 0.0))
        assert info["rewards"]["tilt_change"] == 0.0  # pushing against the limit changes nothing


def test_continuous_action_maps_linearly_onto_the_range():
    env = make("hex7", {"action": "continuous", "tilt_min_deg": -2.0, "tilt_max_deg": 13.0})
    _, info = env.reset(seed=0)
    n = len(info["tilt_deg"])
    info = env.step(np.full(n, -1.0, np.float32))[4]
    np.testing.assert_allclose(info["tilt_deg"], -2.0)
    info = env.step(np.full(n, 1.0, np.float32))[4]
    np.testing.assert_allclose(info["tilt_deg"], 13.0)
    ramp = np.linspace(-1, 1, n).astype(np.float32)
    obs, _, _, _, info = env.step(ramp)
    np.testing.assert_allclose(info["tilt_deg"], -2.0 + (ramp + 1) / 2 * 15.0, atol=1e-5)
    np.testing.assert_allclose(cells(obs)[:, F["tilt"]], (ramp + 1) / 2, atol=1e-5)
    # every cell moved off 13° except the one the ramp keeps at +1
    assert info["rewards"]["tilt_change"] == pytest.approx(-(n - 1) / n)
    info = env.step(ramp)[4]  # the same tilts again: nothing changes
    assert info["rewards"]["tilt_change"] == 0.0


def weighted_sum(terms: dict, weights: dict) -> float:
    return sum(weights[k] * terms[k] for k in REWARD_TERMS)


@pytest.mark.parametrize(
    "weights",
    [
        None,  # the scenario's (default) weights
        {"coverage": 2.0, "utility": 0.5, "edge": -1.25, "tilt_change": 3.0},
        {"coverage": 0.0, "utility": 0.0, "edge": 0.0, "tilt_change": 0.0},
        {"edge": 7.0},  # the other weights keep the scenario's values
    ],
)
def test_reward_is_the_weighted_sum_of_the_terms(weights):
    env = make("hex7", None if weights is None else {"reward": weights})
    expected_w = load_scenario("hex7").env.reward.model_dump() | (weights or {})
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(8):
        _, reward, _, _, info = env.step(rng.integers(0, 3, 21))
        terms = info["rewards"]
        assert set(terms) == REWARD_TERMS
        assert reward == pytest.approx(weighted_sum(terms, expected_w), rel=1e-12, abs=1e-12)
        kpis = info["kpis"]
        assert terms["coverage"] == kpis["coverage"]
        assert terms["utility"] == kpis["mean_log_rate"]
        ref = env.unwrapped.config.kpi.reference_rate_mbps
        edge = math.log10(max(kpis["p5_rate_mbps"], 1e-3) / ref)
        assert terms["edge"] == pytest.approx(edge, rel=1e-12)


def test_reference_rate_shifts_utility_and_edge_by_whole_decades():
    """Same network, demand and actions: rates are unchanged, only the normaliser moves."""
    base = make("hex7", {"kpi": {"reference_rate_mbps": 10.0}})
    low = make("hex7", {"kpi": {"reference_rate_mbps": 0.1}})
    actions = random_actions(base, 6, seed=1)
    pairs = zip(rollout(base, 3, actions)[1:], rollout(low, 3, actions)[1:], strict=True)
    for x, y in pairs:
        assert y[4]["kpis"]["mean_rate_mbps"] == x[4]["kpis"]["mean_rate_mbps"]
        assert y[4]["rewards"]["utility"] == pytest.approx(x[4]["rewards"]["utility"] + 2.0)
        assert y[4]["rewards"]["edge"] == pytest.approx(x[4]["rewards"]["edge"] + 2.0)


@pytest.mark.parametrize(("hours", "minutes"), [(2, 30), (24, 60), (0.25, 15), (1, 1)])
def test_truncation_after_episode_hours(hours, minutes):
    env = make("hex7", {"episode_hours": hours, "step_minutes": minutes})
    n_steps = int(hours * 60 / minutes)
    env.reset(seed=0)
    flags = [env.step(np.ones(21, np.int64))[2:4] for _ in range(n_steps)]
    assert flags == [(False, False)] * (n_steps - 1) + [(False, True)]


def test_reset_options_change_the_reward_weights_for_the_next_episodes():
    env = make("hex7")
    defaults = load_scenario("hex7").env.reward.model_dump()
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.ones(21, np.int64))
    assert reward == pytest.approx(weighted_sum(info["rewards"], defaults), abs=1e-12)
    env.reset(seed=0, options={"config": {"reward": {"coverage": 5}}})
    assert env.unwrapped.config.reward.coverage == 5.0
    boosted = defaults | {"coverage": 5.0}
    for _ in range(2):  # the episode after the options, and the one after that
        for _ in range(3):
            _, reward, _, _, info = env.step(np.ones(21, np.int64))
            assert reward == pytest.approx(weighted_sum(info["rewards"], boosted), abs=1e-12)
        env.reset()


def test_config_overrides_deep_merge():
    scenario_kpi = load_scenario("hex7").env.kpi.model_dump()
    env = make("hex7", {"kpi": {"rsrp_min_dbm": -100}})
    kpi = env.unwrapped.config.kpi.model_dump()
    assert kpi == scenario_kpi | {"rsrp_min_dbm": -100.0}
    # reset options merge onto the creation config, keeping its override
    env.reset(seed=0, options={"config": {"kpi": {"sinr_min_db": 0.0}}})
    kpi = env.unwrapped.config.kpi.model_dump()
    assert kpi == scenario_kpi | {"rsrp_min_dbm": -100.0, "sinr_min_db": 0.0}
    # the reward table is untouched by a kpi override
    assert env.unwrapped.config.reward == load_scenario("hex7").env.reward


def test_coverage_threshold_override_takes_effect():
    loose = make("hex7", {"demand_noise": 0.0})
    strict = make("hex7", {"demand_noise": 0.0, "kpi": {"rsrp_min_dbm": -75, "sinr_min_db": 10}})
    i_loose = loose.reset(seed=0)[1]
    o_strict, i_strict = strict.reset(seed=0)
    assert i_strict["kpis"]["coverage"] < i_loose["kpis"]["coverage"]
    assert i_strict["kpis"]["mean_rate_mbps"] == i_loose["kpis"]["mean_rate_mbps"]
    assert cells(o_strict)[:, F["weak_rsrp_share"]].mean() > 0


@pytest.mark.parametrize(("start", "minutes"), [(0.0, 15), (6.0, 30), (13.5, 45), (23.75, 30)])
def test_time_features_follow_the_clock(start, minutes):
    env = make("hex7", {"start_hour": start, "step_minutes": minutes})
    obs, info = env.reset(seed=0)
    for t in range(6):
        hour = start + t * minutes / 60.0
        assert info["hour"] % 24 == pytest.approx(hour % 24)
        angle = 2 * math.pi * hour / 24
        np.testing.assert_allclose(obs[-2:], [math.sin(angle), math.cos(angle)], atol=1e-6)
        obs, _, _, _, info = env.step(np.ones(21, np.int64))


# ----------------------------------------------------------------------------- physics sanity


def test_outage_switches_site_0_off_between_8_and_16():
    env = make("outage", {"start_hour": 6.0, "step_minutes": 60, "demand_noise": 0.0})
    obs, info = env.reset(seed=0)
    site0 = env.unwrapped.sim.layout.cells.site == 0
    assert site0.sum() == 3
    for t in range(13):
        hour = 6 + t
        off = 8 <= hour < 16
        assert info["active_cells"] == (18 if off else 21), hour
        expected = np.where(site0 & off, 0.0, 1.0)
        np.testing.assert_array_equal(cells(obs)[:, F["active"]], expected)
        if off:  # cells off the air serve nobody
            assert np.all(cells(obs)[site0, F["served_share"]] == 0)
        obs, _, _, _, info = env.step(np.ones(21, np.int64))


def test_outage_lowers_service_with_the_same_tilts_and_demand():
    env = make("outage", {"start_hour": 10.0, "demand_noise": 0.0})
    _, info = env.reset(seed=0)
    assert info["active_cells"] == 18
    sim = env.unwrapped.sim
    tilts = info["tilt_deg"]
    users = sim.users_at(10.0)
    sim.reset_load()
    during = sim.step(tilts, 10.0, users)  # site 0 off
    sim.reset_load()
    before = sim.step(tilts, 7.0, users)  # same demand, site 0 on air
    assert during.active.sum() == 18 and before.active.sum() == 21
    assert (during.kpis.coverage < before.kpis.coverage
            or during.kpis.mean_rate_mbps < before.kpis.mean_rate_mbps)  # fmt: skip
    assert during.kpis.mean_rate_mbps < before.kpis.mean_rate_mbps
    # the same check through the env: the outage network vs hex7 (the same network, no outage)
    normal = make("hex7", {"start_hour": 10.0, "demand_noise": 0.0})
    _, info_normal = normal.reset(seed=0)
    assert info_normal["active_cells"] == 21
    assert info["kpis"]["mean_rate_mbps"] < info_normal["kpis"]["mean_rate_mbps"]


def test_stadium_event_loads_the_stadium_cells_at_20h():
    scenario = load_scenario("stadium")
    spot = next(e for e in scenario.events if e.kind == "hotspot" and e.name == "stadium")
    stadium = shapely.Polygon(spot.polygon)
    env = make("stadium", {"demand_noise": 0.0})
    env.reset(seed=0)
    sim = env.unwrapped.sim
    xy = sim.raster.xy_m
    inside = shapely.contains_xy(stadium, xy[:, 0], xy[:, 1])
    assert inside.sum() > 5
    tilts = np.asarray(env.unwrapped.tilt_deg)
    results = {}
    for hour in (12.0, 20.0):
        sim.reset_load()
        results[hour] = sim.step(tilts, hour)
    total = {h: r.users.sum() for h, r in results.items()}
    assert total[20.0] > 2.5 * total[12.0]
    # the stadium's own demand is almost nothing at noon
    n = len(xy)
    assert results[20.0].users[:n][inside].sum() > 20 * results[12.0].users[:n][inside].sum()
    serving = np.unique(results[20.0].state.serving_cell[:n][inside])
    load12 = results[12.0].kpis.cell_load[serving].sum()
    load20 = results[20.0].kpis.cell_load[serving].sum()
    assert load20 > 5 * load12
    # the env shows it too: its load feature of those cells at 20:00 vs 12:00
    obs = {h: make("stadium", {"demand_noise": 0.0, "start_hour": h}).reset(seed=0)[0]
           for h in (12.0, 20.0)}  # fmt: skip
    load_obs = {h: cells(o)[serving, F["load"]].max() for h, o in obs.items()}
    assert load_obs[20.0] > 3 * load_obs[12.0]


def play_constant(action: int, steps: int, seed: int = 3):
    env = make("hex7")
    env.reset(seed=seed)
    for _ in range(steps):
        obs, _, _, _, info = env.step(np.full(21, action))
    return obs, info


def test_uptilt_increases_overshoot_and_downtilt_reduces_interference():
    _, info_up = play_constant(2, 8)  # 6° → 0° (tilt_min)
    obs_hold, info_hold = play_constant(1, 8)
    obs_down, info_down = play_constant(0, 8)  # 6° → 14°
    obs_down15, info_down15 = play_constant(0, 9)  # → 15° (tilt_max)
    assert np.all(info_up["tilt_deg"] == 0) and np.all(info_hold["tilt_deg"] == 6)
    assert np.all(info_down15["tilt_deg"] == 15)
    assert info_up["kpis"]["overshoot_share"] > info_hold["kpis"]["overshoot_share"]
    assert info_down["kpis"]["overshoot_share"] < info_hold["kpis"]["overshoot_share"]
    i_hold = cells(obs_hold)[:, F["interference"]].mean()
    assert cells(obs_down)[:, F["interference"]].mean() < i_hold
    # 15° after 9 steps against the scenario tilt after 9 steps (same demand draws)
    obs_hold9, info_hold9 = play_constant(1, 9)
    assert (cells(obs_down15)[:, F["interference"]].mean()
            < cells(obs_hold9)[:, F["interference"]].mean())  # fmt: skip
    assert info_down15["kpis"]["overshoot_share"] < info_hold9["kpis"]["overshoot_share"]


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("config", "must_name"),
    [
        ({"rewrd": {}}, ["rewrd", "did you mean 'reward'"]),
        ({"reward": {"coverag": 1}}, ["reward.coverag", "did you mean 'coverage'"]),
        ({"kpi": {"rsrp_mn_dbm": -100}}, ["rsrp_mn_dbm", "did you mean 'rsrp_min_dbm'"]),
        ({"step_minutes": "abc"}, ["step_minutes", "abc"]),
        ({"start_hour": [1, 2]}, ["start_hour"]),
        ({"step_minutes": 0}, ["step_minutes", "0"]),
        ({"episode_hours": -3}, ["episode_hours", "-3"]),
        ({"kpi": {"admission_load": 1.5}}, ["kpi.admission_load", "1.5"]),
        ({"kpi": {"max_load": 0.9}}, ["max_load", "retired", "admission_load"]),
        ({"demand_noise": 2.5}, ["demand_noise", "2.5"]),
        ({"action": "hybrid"}, ["action", "hybrid"]),
        ({"initial_tilt": "middle"}, ["initial_tilt", "middle"]),
        ({"reward": 3}, ["reward", "3"]),
        ({"reward": {"excess_load": "auto"}}, ["reward.excess_load", "auto", "guarantee"]),
        ({"tilt_min_deg": 12.5, "tilt_max_deg": 3.25}, ["tilt_max_deg"]),
        ({"tilt_min_deg": 7.0, "tilt_max_deg": 7.0}, ["tilt_max_deg"]),
    ],
)
def test_bad_config_raises_one_line_config_error(config, must_name):
    with pytest.raises(ConfigError) as exc:
        make("hex7", config)
    assert isinstance(exc.value, CellsimError)
    message = str(exc.value)
    assert "\n" not in message
    for part in must_name:
        assert part in message, message


def test_excess_load_guarantee_is_the_weight_of_the_configs_own_weights_and_admission():
    """`"guarantee"` is (utility + edge) / ((1 − admission) ln 10) of the config it sits in:
    2.5 / (0.2 ln 10) = 5.4287 here, 1.5 / (0.1 ln 10) = 6.5144 at the defaults."""
    env = make("hex7", {"reward": {"excess_load": "guarantee", "utility": 2.0},
                        "kpi": {"admission_load": 0.8}})  # fmt: skip
    assert env.unwrapped.config.reward.excess_load == pytest.approx(5.428681, abs=1e-6)
    assert make("hex7", {"reward": {"excess_load": " guarantee"}}).unwrapped.config.reward \
        .excess_load == pytest.approx(6.514417, abs=1e-6)  # fmt: skip
    assert make("hex7", {"reward": {"excess_load": "1.5"}}).unwrapped.config.reward \
        .excess_load == 1.5  # fmt: skip


def test_tilt_range_error_names_the_values():
    with pytest.raises(ConfigError) as exc:
        make("hex7", {"tilt_min_deg": 12.5, "tilt_max_deg": 3.25})
    message = str(exc.value)
    assert "3.25" in message and "12.5" in message
    assert "{...}" not in message


@pytest.mark.parametrize(
    "config",
    [
        {"reward": {"coverage": math.nan}},
        {"reward": {"edge": math.inf}},
        {"reward": {"utility": -math.inf}},
        {"kpi": {"reference_rate_mbps": math.inf}},
    ],
    ids=["nan-weight", "inf-weight", "-inf-weight", "inf-reference-rate"],
)
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")
def test_non_finite_reward_settings_are_rejected(config):
    with pytest.raises(ConfigError):
        env = make("hex7", config)
        env.reset(seed=0)
        _, reward, _, _, _ = env.step(np.ones(21, np.int64))
        assert math.isfinite(reward), f"built and gave reward {reward}"


@pytest.mark.parametrize("config", [[], 0, ""], ids=["empty-list", "zero", "empty-string"])
def test_falsy_non_dict_config_is_rejected(config):
    with pytest.raises(ConfigError):
        make("hex7", config)


def test_non_dict_config_is_rejected():
    for config in ([1], "abc", 5):
        with pytest.raises(ConfigError, match="config must be a dict"):
            make("hex7", config)


def test_bad_render_mode():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium warns before the env raises
        with pytest.raises(ConfigError, match=r"render_mode='bogus'"):
            make("hex7", render_mode="bogus")
    with pytest.raises(ConfigError, match="render_mode"):
        TiltEnv("hex7", render_mode="bogus")


def discrete_bad_actions(n):
    return {
        "too-long": np.ones(n + 1, np.int64),
        "too-short": np.ones(n - 1, np.int64),
        "2d": np.ones((1, n), np.int64),
        "scalar": 1,
        "value-3": np.full(n, 3),
        "value-minus-1": np.r_[np.ones(n - 1, np.int64), -1],
        "fraction": np.full(n, 0.5),
        "nan": np.full(n, np.nan),
        "list-of-floats": [1.5] * n,
        "huge-float": np.full(n, 1e20),  # integral, but no move: refused before any cast
        "huge-uint": np.full(n, 2**63 + 5, np.uint64),  # wraps negative as int64: refused too
    }


@pytest.mark.parametrize("which", list(discrete_bad_actions(21)))
def test_bad_discrete_actions(which):
    env = make("hex7")
    _, info = env.reset(seed=0)
    tilt = info["tilt_deg"].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ConfigError, match="action"):
            env.unwrapped.step(discrete_bad_actions(21)[which])
    # nothing happened: the next valid step is the first one
    info = env.step(np.ones(21, np.int64))[4]
    np.testing.assert_array_equal(info["tilt_deg"], tilt)
    assert info["hour"] == pytest.approx(env.unwrapped.config.step_minutes / 60)


@pytest.mark.parametrize(
    "action",
    [np.full(21, np.nan), np.r_[np.zeros(20), np.inf], np.zeros(22), np.zeros((21, 1))],
    ids=["nan", "inf", "too-long", "2d"],
)
def test_bad_continuous_actions(action):
    env = make("hex7", {"action": "continuous"})
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="action"):
        env.unwrapped.step(action)


@pytest.mark.parametrize(
    ("action_type", "action"),
    [
        ("discrete", np.array(["1"] * 21)),
        ("discrete", [None] * 21),
        ("discrete", np.ones(21, complex)),
        ("continuous", np.array(["a"] * 21)),
    ],
    ids=["discrete-strings", "discrete-none", "discrete-complex", "continuous-strings"],
)
def test_non_numeric_actions_raise_config_error(action_type, action):
    env = make("hex7", {"action": action_type})
    env.reset(seed=0)
    with pytest.raises(ConfigError):
        env.unwrapped.step(action)


def test_action_type_cannot_change_on_reset():
    env = make("hex7")
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="action") as exc:
        env.reset(options={"config": {"action": "continuous"}})
    assert "\n" not in str(exc.value)
    cont = make("hex7", {"action": "continuous"})
    with pytest.raises(ConfigError, match="action"):
        cont.reset(options={"config": {"action": "discrete"}})
    # the same action type is fine
    env.reset(options={"config": {"action": "discrete"}})


def test_bad_reset_options_config():
    env = make("hex7")
    with pytest.raises(ConfigError, match=r"reward\.x"):
        env.reset(options={"config": {"reward": {"x": 1}}})
    with pytest.raises(ConfigError, match=r"kpi\.admission_load"):
        env.reset(options={"config": {"kpi": {"admission_load": 2}}})


def test_step_before_reset():
    with pytest.raises(ConfigError, match="reset"):
        TiltEnv("hex7").step(np.ones(21, np.int64))


# Random nested configs: keys of the schema plus junk, JSON-ish values.
TOP_KEYS = [*EnvConfig.model_fields, "junk", "rewards", "Action", ""]
NESTED_KEYS = {
    "reward": [*RewardWeights.model_fields, "bonus", "Coverage"],
    "kpi": [*KpiConfig.model_fields, "rsrp_min", "x"],
}
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-100, 2000),
    st.integers(),
    st.floats(-50, 200),
    st.floats(),
    st.text(max_size=6),
    st.sampled_from(["discrete", "continuous", "random", "scenario"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@st.composite
def random_configs(draw):
    cfg = draw(st.dictionaries(st.sampled_from(TOP_KEYS), VALUES, max_size=4))
    for name, keys in NESTED_KEYS.items():
        if draw(st.booleans()):
            cfg[name] = draw(st.dictionaries(st.sampled_from(keys), VALUES, max_size=3))
    return cfg


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(random_configs())
def test_random_configs_build_or_raise_cellsim_error(cfg):
    try:
        env = make("hex7", cfg)
    except CellsimError:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. gymnasium's warning about a NaN reward
        env.reset(seed=0)
        env.step(env.action_space.sample())
    env.close()


# ----------------------------------------------------------------------------- rendering


def test_rgb_array_frames_show_the_network_and_change_with_tilt():
    cfg = {"demand_noise": 0.0}
    hold = make("hex7", cfg, render_mode="rgb_array")
    down = make("hex7", cfg, render_mode="rgb_array")
    hold.reset(seed=0)
    down.reset(seed=0)
    frame0 = hold.render()
    assert isinstance(frame0, np.ndarray) and frame0.dtype == np.uint8
    assert frame0.ndim == 3 and frame0.shape[2] == 3 and min(frame0.shape[:2]) >= 32
    assert len(np.unique(frame0.reshape(-1, 3), axis=0)) > 20  # a map, not a flat image
    assert np.array_equal(frame0, down.render())  # same state, same frame
    for _ in range(5):
        hold.step(np.ones(21, np.int64))
        down.step(np.zeros(21, np.int64))
    f_hold, f_down = hold.render(), down.render()
    assert f_hold.shape == f_down.shape == frame0.shape
    assert np.mean(np.any(f_hold != f_down, axis=2)) > 0.05  # a visible share of the map


def test_no_render_mode_renders_nothing():
    env = make("hex7")
    env.reset(seed=0)
    assert env.render() is None


def test_human_render_mode_draws_without_error():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    env = make("hex7", render_mode="human")
    env.reset(seed=0)
    env.step(np.ones(21, np.int64))
    env.step(np.ones(21, np.int64))
    assert len(set(plt.get_fignums()) - before) == 1  # one window, updated in place
    env.close()
    assert set(plt.get_fignums()) == before


# ------------------------------------------------------------------------------ API edges


def test_step_after_truncation_needs_a_reset():
    env = TiltEnv("hex7", {"episode_hours": 0.5})  # two steps
    env.reset(seed=0)
    hold = np.ones(env.sim.n_cells, np.int64)
    env.step(hold)
    assert env.step(hold)[3] is True
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        env.step(hold)
    with pytest.raises(ConfigError):  # and one line in cellsim's family
        env.step(hold)
    env.reset(seed=1)
    env.step(hold)


def test_a_boolean_action_is_refused():
    env = TiltEnv("hex7", {"episode_hours": 1})
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="numbers, one per cell"):
        env.step(np.ones(env.sim.n_cells, bool))


def test_continuous_actions_beyond_the_box_are_clipped_and_counted():
    env = TiltEnv("hex7", {"episode_hours": 1, "action": "continuous", **FREE_RET})
    env.reset(seed=0)
    action = np.zeros(env.sim.n_cells, np.float32)
    action[:3] = [5.0, -5.0, 1.0]
    *_, info = env.step(action)
    assert info["action_clipped"] == 2
    assert env.tilt_deg[0] == env.config.tilt_max_deg and env.tilt_deg[1] == 0.0
    assert env.step(np.zeros(env.sim.n_cells, np.float32))[-1]["action_clipped"] == 0


@given(action=st.one_of(
    st.lists(st.one_of(st.integers(-3, 5), st.floats(allow_nan=True), st.booleans(),
                       st.text(max_size=2), st.none()), min_size=0, max_size=25),
    st.integers(), st.floats(), st.text(max_size=4), st.none(),
))  # fmt: skip
@settings(max_examples=80, deadline=None)
def test_fuzzed_actions_are_accepted_or_one_config_error(action):
    _step_or_one_line(action)


@pytest.mark.nightly
@given(action=st.lists(st.one_of(st.integers(-3, 5), st.floats(), st.booleans()),
                       min_size=20, max_size=22))  # fmt: skip
@settings(max_examples=1000, deadline=None)
def test_fuzzed_actions_nightly(action):
    _step_or_one_line(action)


_FUZZ_ENVS: dict[str, TiltEnv] = {}


def _step_or_one_line(action: object) -> None:
    """A fuzzed action is taken, or refused with one ConfigError line (no other exception)."""
    env = _fuzz_env()
    env.reset(seed=0)
    try:
        env.step(action)
    except ConfigError as exc:
        assert len(str(exc).splitlines()) == 1, str(exc)


def _fuzz_env() -> TiltEnv:
    if "env" not in _FUZZ_ENVS:
        _FUZZ_ENVS["env"] = TiltEnv("hex7", {"episode_hours": 24})
    return _FUZZ_ENVS["env"]
