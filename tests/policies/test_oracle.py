"""`cellsim.policies.oracle`: the old name of the reference (`oracle` is the trajectory reference
now, tested in tests/test_reference.py), and `optimise_tilts`, the coordinate descent it keeps
while `cellsim.policies` exports it: it reaches the optimum that brute force finds, on a
synthetic objective with a known maximiser and on a small real network (1 site, 3 cells, 6 tilt
values: 216 combinations enumerated here)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cellsim.contract import RewardInputs, reward_terms, total_reward
from cellsim.env.tilt_env import TiltEnv
from cellsim.policies import Oracle, make_policy, optimise_tilts
from cellsim.policies.oracle import EXHAUSTIVE_LIMIT
from cellsim.policies.reference import Reference

ONE_SITE = """
name = "one-site"
description = "a single three-sector site"
[layout]
n_sites = 1
isd_m = 500
height_m = 25
tilt_deg = 12
[pathloss]
model = "uma"
"""
GRID = np.arange(0.0, 15.0 + 1e-9, 3.0)  # the env's tilt grid: 0, 3, …, 15


class Counted:
    """An objective that counts its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, tilts):
        self.calls += 1
        return self.fn(np.asarray(tilts, float))


def synthetic(target: np.ndarray, coupling: float = 0.3):
    """−Σ(t − t*)² − c·(t₀ − t₁ − (t₀* − t₁*))²: maximised exactly at t* (value 0)."""

    def f(t: np.ndarray) -> float:
        d = t - target
        return float(-np.sum(d**2) - coupling * (d[0] - d[1]) ** 2)

    return f


# ----------------------------------------------------------------------- optimise_tilts


@pytest.mark.parametrize("restarts", [0, 2])
def test_coordinate_descent_reaches_a_known_maximiser(restarts):
    grid = np.arange(0.0, 16.0)  # 16 values, 6 cells: 16**6 ≈ 1.7e7 combinations
    target = np.array([3.0, 11.0, 7.0, 0.0, 15.0, 9.0])  # on the grid, including both ends
    objective = Counted(synthetic(target))
    best, value = optimise_tilts(
        objective,
        grid,
        np.full(6, 8.0),
        np.random.default_rng(0),
        restarts=restarts,
        exhaustive_limit=0,
    )
    np.testing.assert_array_equal(best, target)
    assert value == 0.0
    assert objective.calls < 16**6 / 100  # a search, not an enumeration
    assert set(best.tolist()) <= set(grid.tolist())


def test_exhaustive_branch_enumerates_every_combination():
    target = np.array([6.0, 0.0, 12.0])
    objective = Counted(synthetic(target, coupling=0.0))
    best, value = optimise_tilts(objective, GRID, np.full(3, 9.0), np.random.default_rng(0))
    assert len(GRID) ** 3 <= EXHAUSTIVE_LIMIT
    assert objective.calls == len(GRID) ** 3 == 216
    np.testing.assert_array_equal(best, target)
    assert value == 0.0


def test_search_result_is_on_the_grid_and_its_value_is_the_objectives():
    rng = np.random.default_rng(7)
    table = rng.normal(size=(4, len(GRID)))  # a separable objective with random preferences

    def f(t):
        idx = np.searchsorted(GRID, t)
        return float(table[np.arange(4), idx].sum())

    best, value = optimise_tilts(
        f, GRID, np.full(4, 6.0), np.random.default_rng(1), exhaustive_limit=0
    )
    np.testing.assert_array_equal(best, GRID[table.argmax(axis=1)])
    assert value == pytest.approx(f(best)) == pytest.approx(table.max(axis=1).sum())


def test_search_is_reproducible_with_the_same_rng():
    target = np.array([3.0, 12.0, 6.0, 9.0])
    runs = [
        optimise_tilts(
            synthetic(target, 2.0),
            GRID,
            np.full(4, 0.0),
            np.random.default_rng(5),
            restarts=2,
            exhaustive_limit=0,
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


# ------------------------------------------------------------------ a small real network


@pytest.fixture(scope="module")
def one_site_env(tmp_path_factory) -> TiltEnv:
    path = tmp_path_factory.mktemp("scenarios") / "one-site.toml"
    path.write_text(ONE_SITE)
    env = TiltEnv(str(path), {"tilt_step_deg": 3.0, "episode_hours": 1.0})
    env.reset(seed=0)
    return env


def brute_force(objective) -> tuple[np.ndarray, float, dict]:
    """Every tilt combination of the 3 cells, in itertools.product order."""
    values = {
        combo: objective(np.array(combo, float)) for combo in itertools.product(GRID, repeat=3)
    }
    best = max(values, key=values.get)  # the first of equal maxima, as a strict '>' scan keeps
    return np.array(best, float), values[best], values


def held_reward(env: TiltEnv, hour: float) -> Counted:
    """The env's reward of holding tilts through the tick to `hour` (expected demand)."""
    sim, cfg = env.sim, env.config
    users = sim.users_at(hour)

    def value(tilts: np.ndarray) -> float:
        kpis = sim.evaluate(tilts, hour, users)
        inputs = RewardInputs(kpis, np.zeros(sim.n_cells), cfg.kpi.reference_rate_mbps)
        return total_reward(reward_terms(inputs), cfg.reward)

    return Counted(value)


def test_the_oracle_is_the_reference_under_its_old_name(one_site_env):
    oracle = make_policy("oracle", one_site_env)
    assert isinstance(oracle, Oracle) and isinstance(oracle, Reference)
    assert oracle.name == "oracle"


def test_search_matches_brute_force_on_a_real_network(one_site_env):
    best, best_value, values = brute_force(held_reward(one_site_env, 7.5))
    ranked = sorted(values.values())
    assert ranked[-1] > ranked[0]  # tilt matters on this network

    objective = held_reward(one_site_env, 7.5)
    start = np.full(3, 12.0)
    found, value = optimise_tilts(
        objective, GRID, start.copy(), np.random.default_rng(0), restarts=3, exhaustive_limit=0
    )
    assert value == pytest.approx(best_value, abs=1e-9)
    assert values[tuple(found)] == pytest.approx(best_value, abs=1e-9)
    assert objective.calls < 216 * 4  # coordinate descent, not enumeration

    exhaustive, exhaustive_value = optimise_tilts(
        objective, GRID, start.copy(), np.random.default_rng(0)
    )
    np.testing.assert_array_equal(exhaustive, best)
    assert exhaustive_value == best_value
