"""The per-cell PettingZoo front-end: API conformance, equivalence with cellsim/Tilt-v0,
neighbour observations, rewards, the SB3 vectorising wrapper and shared-policy transfer."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from cellsim.contract import CELL_OBSERVATION, N_CELL, N_HEAD, N_SLOT
from cellsim.env import TiltEnv, parallel_env
from cellsim.env.neighbours import ABSENT_COUPLING_DB, coupling_matrix, interference_neighbours
from cellsim.env.per_cell_vec import PerCellVecEnv
from cellsim.errors import ConfigError

FAST = {"episode_hours": 2}  # 8 steps of 15 minutes


@pytest.mark.parametrize("scenario", ["hex7", "outage"])
def test_parallel_api(scenario):
    parallel_api_test(parallel_env(scenario, FAST), num_cycles=20)


def test_parallel_api_continuous():
    parallel_api_test(parallel_env("hex7", {**FAST, "action": "continuous"}), num_cycles=10)


def test_parallel_seed():
    parallel_seed_test(lambda: parallel_env("hex7", FAST), num_cycles=10)


def test_same_kpis_as_the_centralised_env_for_the_same_tilts():
    per_cell = parallel_env("hex7", FAST)
    central = TiltEnv("hex7", FAST)
    per_cell.reset(seed=3)
    c_obs, _ = central.reset(seed=3)
    np.testing.assert_array_equal(per_cell.state(), c_obs)
    rng = np.random.default_rng(0)
    names = per_cell.possible_agents
    for _ in range(8):
        joint = rng.integers(0, 3, len(names))
        _, rewards, _, truncations, infos = per_cell.step(
            {a: int(joint[i]) for i, a in enumerate(names)}
        )
        c_obs, c_reward, _, c_trunc, c_info = central.step(joint)
        assert infos[names[0]]["network"]["kpis"] == c_info["kpis"]
        np.testing.assert_array_equal(per_cell.state(), c_obs)
        # the default mix rewards every agent with the network's reward
        assert all(r == pytest.approx(c_reward) for r in rewards.values())
        assert all(t == c_trunc for t in truncations.values())
    assert per_cell.agents == []  # everybody leaves at the end of the episode


def test_agent_observation_is_own_cell_time_and_neighbours():
    env = parallel_env("hex7", {**FAST, "per_cell": {"neighbours": 4}})
    obs, _ = env.reset(seed=0)
    central_cells = env.state()[: env.sim.n_cells * N_CELL].reshape(env.sim.n_cells, N_CELL)
    table = env.neighbours
    for i, agent in enumerate(env.possible_agents):
        o = obs[agent]
        assert o.shape == (N_HEAD + 4 * N_SLOT,)
        assert env.observation_space(agent).contains(o)
        np.testing.assert_array_equal(o[:N_CELL], central_cells[i])
        np.testing.assert_allclose(o[N_CELL : 2 * N_CELL], central_cells.mean(axis=0), rtol=1e-6)
        np.testing.assert_array_equal(o[2 * N_CELL : N_HEAD], env.state()[-2:])
        slots = o[N_HEAD:].reshape(4, N_SLOT)
        for s in range(4):
            j = table.index[i, s]
            assert slots[s, 0] == 1.0
            np.testing.assert_array_equal(slots[s, 3:], central_cells[j])
            assert j != i
            # the coupling this cell sees from j is what j sees going out to this cell
            back = list(table.index[j]).index(i) if i in table.index[j] else None
            if back is not None:
                assert table.coupling_out_db[j, back] == table.coupling_db[i, s]


def test_observation_size_does_not_depend_on_the_network():
    sizes = {s: parallel_env(s, FAST).observation_space("s0c0").shape for s in ("hex7", "case1")}
    assert sizes["hex7"] == sizes["case1"] == (N_HEAD + 6 * N_SLOT,)


def test_empty_neighbour_slots_when_the_network_is_small():
    env = parallel_env("hex7", {**FAST, "per_cell": {"neighbours": 25}})  # hex7 has 21 cells
    obs, _ = env.reset(seed=0)
    slots = obs["s0c0"][N_HEAD:].reshape(25, N_SLOT)
    assert slots[:20, 0].all() and not slots[20:].any()
    assert (env.neighbours.coupling_db[:, 20:] == ABSENT_COUPLING_DB).all()


def test_coupling_from_a_hand_made_power_matrix():
    # 3 cells, 4 receivers: cell 0 serves receivers 0 and 1, cell 1 receiver 2, cell 2 receiver 3
    rx = np.array([
        [10.0, 8.0, 1.0, 0.1],
        [1.0, 2.0, 5.0, 0.2],
        [0.5, 0.0, 1.0, 4.0],
    ])  # fmt: skip
    users = np.array([1.0, 3.0, 2.0, 0.0])  # cell 2 serves no demand: unweighted fallback
    c = coupling_matrix(rx, users)
    np.testing.assert_allclose(c[0], [10 + 24, 1 + 6, 0.5 + 0])
    np.testing.assert_allclose(c[1], [2, 10, 2])
    np.testing.assert_allclose(c[2], [0.1, 0.2, 4.0])
    table = interference_neighbours(rx, users, k=2)
    np.testing.assert_array_equal(table.index, [[1, 2], [0, 2], [1, 0]])
    np.testing.assert_allclose(table.coupling_db[0], 10 * np.log10([7 / 34, 0.5 / 34]), rtol=1e-6)
    # cell 0 into its neighbours' users: into cell 1 (2 of 10), into cell 2 (0.1 of 4)
    np.testing.assert_allclose(table.coupling_out_db[0], 10 * np.log10([2 / 10, 0.1 / 4]),
                               rtol=1e-6)  # fmt: skip


def test_hex7_strongest_interferers_are_close_by():
    """A cell's worst interferers are co-sited or on a neighbouring site, never across the map."""
    env = parallel_env("hex7", FAST)
    sites = env.sim.layout.sites_xy_m
    cell_site = env.sim.cell_site
    for i in range(env.sim.n_cells):
        j = env.neighbours.index[i, 0]
        d = np.hypot(*(sites[cell_site[i]] - sites[cell_site[j]]))
        assert d <= 1.01 * 500  # hex7's inter-site distance


def test_reward_mix():
    base = {**FAST, "reward": {"tilt_change": 0.0}}
    own = parallel_env("hex7", {**base, "per_cell": {"own": 1.0, "network": 0.0}})
    own.reset(seed=1)
    _, rewards, _, _, _ = own.step({a: 1 for a in own.agents})
    cells = own.central._last.kpis.cells()
    # the terms a cell has on its own, at the default weights (tilt_change off here)
    expected = (cells["covered_share"] + cells["mean_log_rate"] - cells["weak_coverage_share"]
                - 0.5 * cells["overcoverage_share"] - 2.0 * cells["unserved_share"])  # fmt: skip
    got = np.array([rewards[a] for a in own.possible_agents])
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert np.ptp(got) > 0  # cells really are rewarded differently

    mixed = parallel_env("hex7", {**base, "per_cell": {"neighbourhood": 1.0, "network": 0.0}})
    mixed.reset(seed=1)
    _, rewards, _, _, _ = mixed.step({a: 1 for a in mixed.agents})
    table, served = mixed.neighbours, mixed.central._last.kpis.cells()["served_share"]
    idx = table.index[0]
    want = np.average(expected[idx], weights=served[idx])
    assert rewards["s0c0"] == pytest.approx(want, rel=1e-5)


def test_reward_mix_needs_some_weight():
    with pytest.raises(ConfigError, match="no reward left"):
        parallel_env("hex7", {"per_cell": {"own": 0, "neighbourhood": 0, "network": 0}})


@pytest.mark.parametrize(
    "actions, message",
    [({"nobody": 1}, "allowed agents are cell names"), ({"s0c0": 3}, "allowed 0 \\(down\\)"),
     ({"s0c0": 0.5}, "allowed 0 \\(down\\)"), ({"s0c0": [1, 1]}, "allowed 0"), ("up", "a dict")],
)  # fmt: skip
def test_bad_actions_name_agent_and_allowed_values(actions, message):
    env = parallel_env("hex7", FAST)
    env.reset(seed=0)
    with pytest.raises(ConfigError, match=message):
        env.step(actions)


def test_every_live_agent_needs_an_action():
    env = parallel_env("hex7", FAST)
    env.reset(seed=0)
    before = env.central.tilt_deg.copy()
    with pytest.raises(ConfigError, match=r"no action for agent\(s\) s0c1, s0c2, s1c0, s1c1, s1c2 "
                                          r"and 15 more"):
        env.step({"s0c0": 0})
    np.testing.assert_array_equal(env.central.tilt_deg, before)  # nothing moved
    env.step({a: (0 if a == "s0c0" else 1) for a in env.agents})
    assert env.central.tilt_deg[0] == before[0] + 1.0


def test_vec_env_stacks_every_cell_of_every_network():
    fn = lambda: parallel_env("hex7", FAST)  # noqa: E731
    venv = PerCellVecEnv([fn, fn])
    venv.seed(5)
    obs = venv.reset()
    assert obs.shape == (42, N_HEAD + 6 * N_SLOT)
    totals = np.zeros(42)
    for step in range(8):
        obs, rewards, dones, infos = venv.step(np.ones(42, np.int64))
        totals += rewards
        if step < 7:
            assert not dones.any()
    assert dones.all()
    assert all(info["TimeLimit.truncated"] for info in infos)
    np.testing.assert_allclose([info["episode"]["r"] for info in infos], totals, rtol=1e-5)
    assert infos[0]["terminal_observation"].shape == obs.shape[1:]
    assert len(venv.get_attr("possible_agents")) == 42


def test_shared_policy_sees_the_same_observations_in_the_centralised_env():
    """A shared policy acting through cellsim/Tilt-v0 gets what the per-cell env gives."""
    from stable_baselines3 import PPO

    from cellsim.policies.shared import SharedCellModel

    per_cell = parallel_env("case1", FAST)
    model = PPO("MlpPolicy", PerCellVecEnv([lambda: parallel_env("hex7", FAST)]), n_steps=8,
                batch_size=8, seed=0, device="cpu")  # fmt: skip
    central = TiltEnv("case1", FAST)
    policy = SharedCellModel(model, 6).bind(central)
    c_obs, _ = central.reset(seed=2)
    per_cell.reset(seed=2)
    np.testing.assert_array_equal(policy.agent_observations(c_obs), per_cell.observation_matrix())
    action, _ = policy.predict(c_obs)
    assert action.shape == (57,) and set(np.unique(action)) <= {0, 1, 2}


def test_shared_model_with_another_neighbour_count_is_refused():
    from stable_baselines3 import PPO

    from cellsim.policies.shared import SharedCellModel

    model = PPO("MlpPolicy", PerCellVecEnv([lambda: parallel_env("hex7", FAST)]), n_steps=8,
                batch_size=8, device="cpu")  # fmt: skip
    with pytest.raises(ConfigError, match="neighbours"):
        SharedCellModel(model, 3).bind(TiltEnv("hex7", FAST))
    assert len(CELL_OBSERVATION) == N_CELL


def test_random_outages_train_for_failures_and_are_off_by_default():
    env = TiltEnv("hex7", {"random_outage_probability": 1.0})
    seen = set()
    for seed in range(6):
        env.reset(seed=seed)
        (site, start, end), = env.sim.extra_outages
        assert 0 <= start < 24 and 2 <= end - start <= 10
        hour = start + 0.5
        assert not env.sim.active_at(hour)[env.sim.cell_site == site].any()
        assert env.sim.active_at(hour)[env.sim.cell_site != site].all()
        seen.add(site)
    assert len(seen) > 1  # a different site from episode to episode
    plain = TiltEnv("hex7")
    plain.reset(seed=0)
    assert plain.sim.extra_outages == []
