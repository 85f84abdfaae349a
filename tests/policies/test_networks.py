"""The per-cell actor-critic: shapes, weight sharing, and that SB3 trains and reloads it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO

from cellsim.contract import CELL_OBSERVATION
from cellsim.policies.networks import PerCellPolicy

N_F = len(CELL_OBSERVATION)


def _spaces(n_cells: int, continuous: bool = False):
    obs = spaces.Box(-10, 10, (n_cells * N_F + 2,), np.float32)
    act = spaces.Box(-1, 1, (n_cells,), np.float32) if continuous else spaces.MultiDiscrete(
        [3] * n_cells
    )
    return obs, act


def _policy(n_cells: int, continuous: bool = False) -> PerCellPolicy:
    obs, act = _spaces(n_cells, continuous)
    return PerCellPolicy(obs, act, lambda _: 1e-3)


@pytest.mark.parametrize("continuous", [False, True])
def test_action_and_value_shapes(continuous):
    policy = _policy(5, continuous)
    obs = torch.randn(4, 5 * N_F + 2)
    actions, values, log_prob = policy(obs)
    assert actions.shape == (4, 5)
    assert values.shape == (4, 1)
    assert log_prob.shape == (4,)


def test_weights_are_shared_across_cells():
    """Only the cell embeddings grow with the network size; the rest is one shared model."""
    small, large = _policy(3), _policy(30)
    n_small = sum(p.numel() for p in small.parameters())
    n_large = sum(p.numel() for p in large.parameters())
    embedding = small.mlp_extractor.cell_embedding.shape[1]
    assert n_large - n_small == (30 - 3) * embedding


def test_a_cell_logits_depend_on_its_own_features():
    """Changing cell 2's features changes cell 2's logits more than the others' (which only see
    it through the network mean), on average over random initialisations."""
    own, other = 0.0, 0.0
    for seed in range(10):
        torch.manual_seed(seed)
        policy = _policy(4)
        obs = torch.zeros(1, 4 * N_F + 2)
        changed = obs.clone()
        changed[0, 2 * N_F : 3 * N_F] = 3.0
        with torch.no_grad():
            base = policy.action_net(policy.mlp_extractor.forward_actor(obs)).reshape(4, 3)
            new = policy.action_net(policy.mlp_extractor.forward_actor(changed)).reshape(4, 3)
        delta = (new - base).abs().sum(dim=1)
        own += float(delta[2])
        other += float(delta[[0, 1, 3]].mean())
    assert own > 1.3 * other


def test_ppo_trains_saves_and_reloads_it(tmp_path):
    import gymnasium as gym

    import cellsim  # noqa: F401

    env = gym.make("cellsim/Tilt-v0", scenario="hex7", config={"episode_hours": 2})
    model = PPO(PerCellPolicy, env, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(128)
    model.save(tmp_path / "m.zip")
    again = PPO.load(tmp_path / "m.zip", device="cpu")
    obs, _ = env.reset(seed=0)
    a1, _ = model.predict(obs, deterministic=True)
    a2, _ = again.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    assert a1.shape == (21,)
