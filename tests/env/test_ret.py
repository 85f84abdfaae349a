"""RET as operators run it: a daily move budget per cell, a minimum dwell after a move, and a
decision cadence over the env's clock, enforced by the env and visible in the observation."""

from __future__ import annotations

import numpy as np
import pytest

from cellsim.contract import FEATURE_INDEX, N_CELL
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError

DOWN = 0


def _cells(obs: np.ndarray, n: int) -> np.ndarray:
    return obs[: n * N_CELL].reshape(n, N_CELL)


def test_the_dwell_holds_a_cell_between_moves():
    env = TiltEnv("hex7", {"ret": {"max_moves_per_day": None, "min_dwell_minutes": 45}})
    env.reset(seed=0)
    n = env.sim.n_cells
    tilts = []
    for _ in range(8):  # ask for a downtilt every 15 minutes
        obs, *_, info = env.step(np.full(n, DOWN))
        tilts.append(env.tilt_deg[0])
    assert tilts == [7, 7, 7, 8, 8, 8, 9, 9]  # moves at 00:00, 00:45, 01:30
    assert info["ret"]["held_dwell"] == 5 * n
    dwell = _cells(obs, n)[:, FEATURE_INDEX["dwell_left"]]
    np.testing.assert_allclose(dwell, 1 / 3, rtol=1e-6)  # moved at 01:30, now 02:00


def test_the_daily_budget_holds_moves_beyond_it_and_renews_the_next_day():
    config = {"episode_hours": 48, "ret": {"max_moves_per_day": 3, "min_dwell_minutes": 0}}
    env = TiltEnv("hex7", config)
    env.reset(seed=0)
    n = env.sim.n_cells
    for _ in range(10):
        obs, *_, info = env.step(np.full(n, DOWN))
    assert env.tilt_deg[0] == 6 + 3
    assert info["ret"]["held_budget"] == 7 * n
    assert _cells(obs, n)[0, FEATURE_INDEX["moves_left"]] == 0.0
    while env.minutes < 24 * 60:
        env.step(np.ones(n, np.int64))  # hold until the next day
    obs, *_, info = env.step(np.full(n, DOWN))
    assert env.tilt_deg[0] == 10  # a new day's budget
    assert info["ret"]["moves_today"][0] == 1
    assert info["ret"]["tilt_changes_per_cell"] == 4.0


def test_hourly_decisions_over_a_15_minute_clock():
    hourly = TiltEnv("hex7", {"ret": {"decision_minutes": 60}, "demand_noise": 0.0,
                              "realisations": {"split": "fixed"}})  # fmt: skip
    quarter = TiltEnv("hex7", {"demand_noise": 0.0, "realisations": {"split": "fixed"}})
    assert hourly.n_steps == 24 and quarter.n_steps == 96
    hourly.reset(seed=0)
    quarter.reset(seed=0)
    n = hourly.sim.n_cells
    hold = np.ones(n, np.int64)
    _, reward, *_ = hourly.step(hold)
    assert hourly.hour == 1.0
    quarter_rewards = [quarter.step(hold)[1] for _ in range(4)]
    assert reward == pytest.approx(sum(quarter_rewards))  # the ticks' rewards, summed
    steps = 1
    while not hourly.step(hold)[3]:
        steps += 1
    assert steps + 1 == 24


def test_a_cadence_off_the_clock_is_refused():
    with pytest.raises(ConfigError, match="decision_minutes"):
        TiltEnv("hex7", {"ret": {"decision_minutes": 20}})


def test_the_budget_left_is_renewed_in_the_observation_at_midnight():
    env = TiltEnv("hex7", {"episode_hours": 48,
                           "ret": {"max_moves_per_day": 2, "min_dwell_minutes": 0}})  # fmt: skip
    env.reset(seed=0)
    n = env.sim.n_cells
    env.step(np.full(n, DOWN))
    env.step(np.full(n, DOWN))
    hold = np.ones(n, np.int64)
    while env.minutes < 24 * 60:
        obs, *_ = env.step(hold)
    assert env.minutes == 24 * 60
    np.testing.assert_array_equal(_cells(obs, n)[:, FEATURE_INDEX["moves_left"]], 1.0)


def test_an_episode_must_end_on_a_decision():
    with pytest.raises(ConfigError, match=r"whole number of ret\.decision_minutes"):
        TiltEnv("hex7", {"ret": {"decision_minutes": 420}})


def test_masks_hold_cells_that_ret_will_not_let_move():
    env = TiltEnv("hex7", {"ret": {"max_moves_per_day": None, "min_dwell_minutes": 30}})
    env.reset(seed=0)
    n = env.sim.n_cells
    assert env.action_masks().reshape(n, 3)[:, [0, 2]].all()
    moves = np.ones(n, np.int64)
    moves[0] = DOWN
    env.step(moves)
    masks = env.action_masks().reshape(n, 3)
    assert masks[0].tolist() == [False, True, False]  # in its dwell: hold only
    assert masks[1:, [0, 2]].all()


def test_per_cell_rewards_add_up_every_tick_of_a_slow_decision():
    from cellsim.env.per_cell import parallel_env

    config = {"ret": {"decision_minutes": 60, "max_moves_per_day": None,
                      "min_dwell_minutes": 0},
              "per_cell": {"own": 1.0, "network": 0.0},
              "reward": {"tilt_change": 10.0}}  # fmt: skip
    env = parallel_env("hex7", config)
    env.reset(seed=0)
    _, rewards, *_ = env.step({a: DOWN for a in env.agents})
    from cellsim.contract import cell_scores

    ticks = env.central.tick_inputs
    assert len(ticks) == 4
    expected = np.sum([cell_scores(t, env.central.config.reward) for t in ticks], axis=0)
    got = np.array([rewards[a] for a in env.possible_agents])
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    # the move is on the first tick: every cell pays the tilt-change weight once
    from dataclasses import replace

    still = [replace(t, changed=np.zeros_like(t.changed)) for t in ticks]
    unmoved = np.sum([cell_scores(t, env.central.config.reward) for t in still], axis=0)
    np.testing.assert_allclose(got, unmoved - 10.0, rtol=1e-9)
