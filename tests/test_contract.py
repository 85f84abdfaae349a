"""The env contract (cellsim/contract.py) is the one definition every consumer derives from:
the numpy and torch agent observations agree, the reference's objective is the env's reward, the
reward table and info["rewards"] follow the term registry, and the KPI kernel fills the columns
the observation layout names."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from cellsim.contract import (
    CELL_FEATURES,
    FEATURE_INDEX,
    KPI_COLUMN,
    KPI_COLUMNS,
    N_CELL,
    REWARD_TERM_NAMES,
    REWARD_TERMS,
    RewardWeights,
    TiltSpace,
    agent_observation_bounds,
    agent_observation_dim,
    observation_bounds,
    total_reward,
)
from cellsim.env.neighbours import NeighbourTable
from cellsim.env.observation import agent_observations_from_state
from cellsim.env.tilt_env import TiltEnv
from cellsim.policies.networks import NeighbourhoodExtractor
from cellsim.policies.reference import DayModel

FAST = {"episode_hours": 2, "demand_noise": 0.0}


def _random_table(rng: np.random.Generator, n: int, k: int) -> NeighbourTable:
    index = np.stack([rng.permutation(n)[:k] for _ in range(n)]).astype(np.int64)
    index[rng.random((n, k)) < 0.3] = -1  # some empty slots
    coupling = rng.uniform(-80, 10, (n, k)).astype(np.float32)
    out = rng.uniform(-80, 10, (n, k)).astype(np.float32)
    return NeighbourTable(index, coupling, out)


@pytest.mark.parametrize("n, k", [(7, 3), (21, 6), (5, 4)])
def test_numpy_and_torch_agent_observations_are_equal_on_random_states(n, k):
    rng = np.random.default_rng(n * 100 + k)
    table = _random_table(rng, n, k)
    low, high = observation_bounds(n)
    states = rng.uniform(low, high, (4, len(low))).astype(np.float32)
    extractor = NeighbourhoodExtractor(len(low), table)
    built = extractor.agent_observations(torch.as_tensor(states)).numpy()
    for b, state in enumerate(states):
        expected = agent_observations_from_state(state, n, table)
        assert expected.shape == (n, agent_observation_dim(k))
        # equal but for the network mean, which numpy and torch sum in different orders
        np.testing.assert_allclose(built[b], expected, rtol=1e-6, atol=1e-7)
        a_low, a_high = agent_observation_bounds(k)
        assert np.all(expected >= a_low) and np.all(expected <= a_high)


@pytest.mark.parametrize(
    "weights",
    [{}, {"coverage": 3.0, "utility": 0.2, "edge": 2.0, "tilt_change": 0.7},
     {"coverage": 0.0, "utility": -1.0, "edge": 0.0, "tilt_change": 5.0}],
)  # fmt: skip
def test_reference_objective_is_the_env_reward(weights):
    """Same state, same config (loads converged from the same load state: full load, where
    the reference's evaluations start): the reference's value of the next tick at the current
    tilts, plus its change cost for the cells that move, equals the reward the env gives."""
    env = TiltEnv("hex7", {**FAST, "reward": weights,
                           "ret": {"max_moves_per_day": None, "min_dwell_minutes": 0}})  # fmt: skip
    env.reset(seed=3)
    n = env.sim.n_cells
    for step, moves in enumerate([np.ones(n, np.int64), np.zeros(n, np.int64), np.ones(n, int)]):
        new = env.tilt_space.apply_moves(env.tilt_deg, moves)
        model = DayModel(env)
        moved = new != env.tilt_deg
        predicted = model.reward(model.index_of(new), 0) + model.move_cost[moved].sum()
        env.sim.reset_load()  # the env's step then starts its loads where the reference does
        _, reward, *_ = env.step(moves)
        assert predicted == pytest.approx(reward, rel=1e-12, abs=1e-12), step


def test_reward_table_and_info_follow_the_term_registry():
    assert tuple(RewardWeights.model_fields) == REWARD_TERM_NAMES
    defaults = RewardWeights()
    assert [getattr(defaults, t.name) for t in REWARD_TERMS] == [
        t.default_weight for t in REWARD_TERMS
    ]
    weights = {"coverage": 2.0, "utility": 0.5, "edge": 1.5, "tilt_change": 0.3,
               "weak_coverage": 0.7, "overcoverage": 0.2, "unserved": 3.0,
               "excess_load": 4.0}  # fmt: skip
    assert set(weights) == set(REWARD_TERM_NAMES)
    env = TiltEnv("hex7", {**FAST, "reward": weights})
    env.reset(seed=1)
    _, reward, *_, info = env.step(np.zeros(env.sim.n_cells, np.int64))  # every cell down
    assert tuple(info["rewards"]) == REWARD_TERM_NAMES
    assert info["rewards"]["tilt_change"] == -1.0
    assert reward == pytest.approx(sum(weights[k] * v for k, v in info["rewards"].items()))
    assert reward == total_reward(info["rewards"], env.config.reward)


def test_every_kpi_column_is_filled_where_the_layout_says():
    """The kernel writes each named column (none left at zero on a busy network), and the
    observation reads each KPI feature from its column with its scale."""
    strict = {"rsrp_min_dbm": -80.0, "sinr_min_db": 5.0, "overshoot_ratio": 0.2}
    env = TiltEnv("hex7", {**FAST, "kpi": strict})  # thresholds every share crosses somewhere
    obs, _ = env.reset(seed=0)
    kpi = env._last.kpis.cell
    assert kpi.shape[1] == len(KPI_COLUMNS)
    filled = [name for name in KPI_COLUMNS if np.any(kpi[:, KPI_COLUMN[name]] != 0)]
    assert filled == list(KPI_COLUMNS)
    cells = obs[: env.sim.n_cells * N_CELL].reshape(env.sim.n_cells, N_CELL)
    for f in CELL_FEATURES:
        if f.kpi is not None:
            expected = np.clip(kpi[:, KPI_COLUMN[f.kpi]] * np.float32(f.scale), f.low, f.high)
            np.testing.assert_array_equal(cells[:, FEATURE_INDEX[f.name]], expected)
    np.testing.assert_array_equal(
        cells[:, FEATURE_INDEX["tilt"]], env.tilt_space.to_feature(env.tilt_deg).astype(np.float32)
    )
    np.testing.assert_array_equal(cells[:, FEATURE_INDEX["moves_left"]], 1.0)  # nothing moved
    np.testing.assert_array_equal(cells[:, FEATURE_INDEX["dwell_left"]], 0.0)


def test_kpi_columns_are_named_not_numbered_in_the_code():
    """No consumer indexes a per-cell KPI or feature column by a bare number."""
    root = Path(__file__).resolve().parent.parent / "cellsim"
    pattern = re.compile(r"cell_out\[c, \d\]|\.cell\[:, \d\]|kpis\.cell\[:, \d")
    offenders = [
        f"{path.relative_to(root)}:{i}"
        for path in root.rglob("*.py")
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_tilt_space_mappings_round_trip():
    space = TiltSpace(0.0, 15.0, 1.0)
    tilts = np.array([0.0, 3.0, 7.0, 15.0])
    np.testing.assert_allclose(space.from_continuous(space.to_continuous(tilts)), tilts, atol=1e-5)
    np.testing.assert_allclose(space.from_feature(space.to_feature(tilts)), tilts)
    moves = space.moves_toward(tilts, np.array([5.0, 3.0, 2.0, 20.0]))
    np.testing.assert_array_equal(moves, [0, 1, 2, 0])
    np.testing.assert_array_equal(space.apply_moves(tilts, moves), [1.0, 3.0, 6.0, 15.0])
    np.testing.assert_array_equal(space.apply_moves(tilts, 2), [0.0, 2.0, 6.0, 14.0])  # broadcast
    np.testing.assert_array_equal(space.apply_moves(tilts[None], moves[None]), [[1, 3, 6, 15]])
    with pytest.raises(ValueError, match="moves"):
        space.apply_moves(tilts, [1, 1, 3, 1])
    with pytest.raises(ValueError):  # a move per tilt, or one for all
        space.apply_moves(tilts, [1, 1])
    np.testing.assert_array_equal(space.snap(np.array([0.4, 7.6, 99.0])), [0.0, 8.0, 15.0])
    assert space.grid_deg.tolist() == list(range(16))
