"""Network realisations per episode: a seeded training pool, a disjoint held-out split, exact
numbers whichever way a realisation is reached (built, switched to, cached, in another process)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cellsim import realisations
from cellsim.env.neighbours import network_neighbours
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.scenario import EVAL_NETWORK_SEED0, EnvConfig

DAY = {"episode_hours": 2}


def test_episodes_draw_their_realisation_from_the_pool_by_seed():
    env = TiltEnv("hex7", DAY)
    drawn = {seed: env.reset(seed=seed)[1]["network_seed"] for seed in range(12)}
    pool = set(range(64))
    assert set(drawn.values()) <= pool
    assert len(set(drawn.values())) > 6  # episodes see different networks
    again = {seed: env.reset(seed=seed)[1]["network_seed"] for seed in range(12)}
    assert again == drawn
    # later episodes of one seeded run move through the pool too
    env.reset(seed=0)
    later = {env.reset()[1]["network_seed"] for _ in range(10)}
    assert len(later) > 3


def test_train_and_eval_pools_are_disjoint_and_explicit_seeds_win():
    config = EnvConfig()
    train = set(config.realisations.pool(0))
    held_out = EnvConfig.model_validate({"realisations": {"split": "eval"}}).realisations.pool(0)
    assert train == set(range(64)) and not train & set(held_out)
    assert min(held_out) == EVAL_NETWORK_SEED0
    fixed = EnvConfig.model_validate({"network_seed": 9, "realisations": {"split": "fixed"}})
    assert fixed.realisations.pool(9) == (9,)
    explicit = EnvConfig.model_validate({"realisations": {"seeds": [5, 6]}})
    assert explicit.realisations.pool(0) == (5, 6)


def _episode(env: TiltEnv, seed: int, options: dict | None = None) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed, options=options)
    out = [obs]
    moves = np.random.default_rng(seed).integers(0, 3, (4, env.sim.n_cells))
    for move in moves:
        out.append(env.step(move)[0])
    return out


@pytest.mark.parametrize("scenario", ["hex7", "city"])
def test_a_switched_realisation_equals_a_network_built_with_that_seed(scenario):
    pooled = TiltEnv(scenario, DAY)
    built = TiltEnv(scenario, {**DAY, "network_seed": 5, "realisations": {"split": "fixed"}})
    _episode(pooled, 1)  # some other realisation first
    first = _episode(pooled, 3, {"network_seed": 5})
    expected = _episode(built, 3)
    for a, b in zip(first, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    _episode(pooled, 2, {"network_seed": 6})
    for a, b in zip(_episode(pooled, 3, {"network_seed": 5}), expected, strict=True):
        np.testing.assert_array_equal(a, b)  # back from the cache: the same numbers


def test_a_tiny_cache_budget_changes_nothing_but_speed(monkeypatch):
    env = TiltEnv("hex7", DAY)
    reference = _episode(env, 4, {"network_seed": 11})
    monkeypatch.setenv(realisations.CACHE_ENV, "0")
    realisations.CACHE.clear()
    _episode(env, 4, {"network_seed": 12})
    assert realisations.CACHE.bytes == 0
    for a, b in zip(_episode(env, 4, {"network_seed": 11}), reference, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_neighbour_list_is_the_networks_own_whatever_the_episode():
    env = TiltEnv("hex7", DAY)
    before = network_neighbours(env.sim, 6)
    env.reset(seed=0, options={"network_seed": 33})
    after = network_neighbours(env.sim, 6)
    np.testing.assert_array_equal(before.index, after.index)
    np.testing.assert_array_equal(before.coupling_db, after.coupling_db)
    assert env.sim.network_seed == 33  # and the episode keeps its realisation


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_a_bad_forced_network_seed_is_refused(bad):
    env = TiltEnv("hex7", DAY)
    with pytest.raises(ConfigError, match="network_seed"):
        env.reset(seed=0, options={"network_seed": bad})


def test_same_seed_same_realisation_in_another_process():
    code = (
        "import json, numpy as np; from cellsim.env.tilt_env import TiltEnv\n"
        "env = TiltEnv('hex7', {'episode_hours': 2})\n"
        "obs, info = env.reset(seed=21)\n"
        "print(json.dumps([info['network_seed'], float(np.sum(obs, dtype=np.float64))]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seed, total = json.loads(out.stdout)
    obs, info = TiltEnv("hex7", DAY).reset(seed=21)
    assert seed == info["network_seed"]
    assert total == float(np.sum(obs, dtype=np.float64))


def test_the_pool_benchmark_runs_whole_days_on_both():
    from cellsim.bench import bench_episodes

    fixed, pooled = bench_episodes("hex7", "fixed", 1), bench_episodes("hex7", "train", 1)
    assert fixed["steps_per_s"] > 0 and pooled["steps_per_s"] > 0
    assert fixed["first_visit_s"] == 0.0 < pooled["first_visit_s"]
