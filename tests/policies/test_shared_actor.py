"""SharedCellActorPolicy (ppo-shared): the actor sees exactly the per-cell env's agent
observation, acts the same through the centralised model and bound to a network, and its weights
do not depend on the network they were trained on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from cellsim.contract import N_CELL
from cellsim.env.neighbours import network_neighbours
from cellsim.env.per_cell import parallel_env
from cellsim.env.tilt_env import TiltEnv
from cellsim.policies.networks import SharedCellActorPolicy
from cellsim.policies.shared import SharedCellModel

FAST = {"episode_hours": 2}
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def _model(scenario: str, k: int = 6, seed: int = 0) -> PPO:
    env = TiltEnv(scenario, {**FAST, "per_cell": {"neighbours": k}})
    kwargs = {"neighbour_table": network_neighbours(env.sim, k)}
    return PPO(SharedCellActorPolicy, env, n_steps=16, batch_size=16, n_epochs=1, seed=seed,
               device="cpu", policy_kwargs=kwargs)  # fmt: skip


@pytest.mark.parametrize("scenario, k", [("hex7", 6), ("outage", 3), ("city", 6)])
def test_actor_input_is_the_per_cell_env_observation(scenario, k):
    """Built in torch from the centralised observation = what parallel_env gives each agent."""
    model = _model(scenario, k)
    pz = parallel_env(scenario, {**FAST, "per_cell": {"neighbours": k}})
    observations, _ = pz.reset(seed=4)
    for _ in range(3):  # after some moves too, so tilts and KPIs differ from the start
        actions = {a: int(i % 3) for i, a in enumerate(pz.agents)}
        observations, *_ = pz.step(actions)
    state = torch.as_tensor(pz.state()[None])
    built = model.policy.mlp_extractor.agent_observations(state)[0].numpy()
    expected = np.stack([observations[a] for a in pz.possible_agents])
    np.testing.assert_allclose(built, expected, atol=1e-6)


def test_bound_to_its_training_network_it_acts_as_the_centralised_model():
    model = _model("hex7")
    model.learn(32)  # move the head off its near-zero initialisation
    env = TiltEnv("hex7", FAST)
    policy = SharedCellModel(model, 6).bind(env)
    obs, _ = env.reset(seed=1)
    for _ in range(4):
        central, _ = model.predict(obs, deterministic=True)
        bound, _ = policy.predict(obs)
        np.testing.assert_array_equal(central, bound)
        obs, *_ = env.step(central)


def test_weights_do_not_depend_on_the_network_size():
    """Only the neighbour table (not a parameter) differs between a 21- and a 57-cell model."""
    small, large = _model("hex7"), _model("case1")
    shapes = {n: p.shape for n, p in small.policy.named_parameters()}
    assert shapes == {n: p.shape for n, p in large.policy.named_parameters()}
    assert small.policy.agent_observation_dim == large.policy.agent_observation_dim == 28 + 6 * 16


def test_saved_model_keeps_its_neighbour_table(tmp_path):
    model = _model("outage", 4)
    model.save(tmp_path / "m.zip")
    again = PPO.load(tmp_path / "m.zip", device="cpu").policy.mlp_extractor
    np.testing.assert_array_equal(again.index, model.policy.mlp_extractor.index)
    np.testing.assert_array_equal(again.slot_static, model.policy.mlp_extractor.slot_static)
    assert again.k == 4


def test_without_a_neighbour_table_it_says_what_it_needs():
    env = TiltEnv("hex7", FAST)
    with pytest.raises(ValueError, match="neighbour_table"):
        PPO(SharedCellActorPolicy, env, device="cpu")


# -- tilts read relative to each cell's planning tilt (tilt_reference) -------------------------


def _reference_model(scenario: str, seed: int = 0) -> PPO:
    from cellsim.policies.shared import planning_reference

    env = TiltEnv(scenario, FAST)
    kwargs = {"neighbour_table": network_neighbours(env.sim, 6),
              "tilt_reference": planning_reference(env)}  # fmt: skip
    return PPO(SharedCellActorPolicy, env, n_steps=16, batch_size=16, n_epochs=1, seed=seed,
               device="cpu", policy_kwargs=kwargs)  # fmt: skip


def test_tilt_reference_offsets_shift_every_tilt_by_its_cells_reference():
    from cellsim.contract import N_CELL, N_HEAD, N_SLOT
    from cellsim.env.observation import tilt_reference_offsets

    env = TiltEnv("hex7", FAST)
    table = network_neighbours(env.sim, 6)
    reference = np.linspace(0.1, 0.5, 21).astype(np.float32)
    offsets = tilt_reference_offsets(reference, table)
    np.testing.assert_allclose(offsets[:, 0], -reference)  # own tilt
    np.testing.assert_allclose(offsets[:, N_CELL], -reference.mean())  # network mean tilt
    slots = offsets[:, N_HEAD:].reshape(21, 6, N_SLOT)
    np.testing.assert_allclose(slots[:, :, 3], -reference[table.index])  # each neighbour's tilt
    assert np.count_nonzero(offsets) == 21 * (2 + 6)  # nothing else moves


def test_a_reference_model_feeds_the_same_inputs_centralised_and_bound():
    model = _reference_model("hex7")
    model.learn(32)
    env = TiltEnv("hex7", FAST)
    policy = SharedCellModel(model, 6).bind(env)
    obs, _ = env.reset(seed=2)
    for _ in range(3):
        built = model.policy.mlp_extractor.actor_inputs(torch.as_tensor(obs[None]))[0].numpy()
        np.testing.assert_allclose(built, policy.agent_observations(obs), atol=1e-6)
        central, _ = model.predict(obs, deterministic=True)
        np.testing.assert_array_equal(central, policy.predict(obs)[0])
        obs, *_ = env.step(central)


def test_bound_to_another_network_it_reads_tilts_against_that_networks_plan(tmp_path):
    from cellsim.policies.rules import planning_tilts_deg

    model = _reference_model("hex7")
    model.save(tmp_path / "m.zip")
    loaded = PPO.load(tmp_path / "m.zip", device="cpu")
    assert loaded.policy.uses_tilt_reference
    case1 = TiltEnv("case1", FAST)
    policy = SharedCellModel(loaded, 6).bind(case1)
    plan_deg = planning_tilts_deg(case1)  # 32 m masts: a steeper plan than hex7's 25 m
    assert plan_deg.mean() > planning_tilts_deg(TiltEnv("hex7", FAST)).mean()
    obs, _ = case1.reset(seed=0)
    raw_tilt = obs[: 57 * N_CELL].reshape(57, N_CELL)[:, 0]
    np.testing.assert_allclose(policy.agent_observations(obs)[:, 0], raw_tilt - plan_deg / 15.0,
                               atol=1e-6)  # fmt: skip
    plain = SharedCellModel(_model("hex7"), 6).bind(case1)
    assert not plain.model.policy.uses_tilt_reference
    np.testing.assert_allclose(plain.agent_observations(obs)[:, 0], raw_tilt)
