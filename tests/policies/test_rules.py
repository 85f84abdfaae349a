"""The operators' rules (`cellsim.policies.rules`) in situations built by hand.

Observations are written feature by feature from the layout documented in
`cellsim.env.observation` (n_cells × 11 features, then sin/cos of the hour), so each test states
the KPIs a cell reports and the action the rule of shared/reference/domain.md prescribes.
Expected planning tilts are computed here from the formula, not read from the package.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cellsim.contract import CELL_OBSERVATION
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies import (
    BUILTIN_POLICIES,
    GeometricRule,
    SonRule,
    SonThresholds,
    make_policy,
    planning_tilts_deg,
)
from cellsim.policies.rules import vertical_beamwidth_deg
from cellsim.scenario import load_scenario

# The documented per-cell layout, written out here (not imported) and checked below.
FEATURES = (
    "tilt",
    "load",
    "served_share",
    "mean_sinr",
    "poor_sinr_share",
    "covered_share",
    "weak_rsrp_share",
    "interference",
    "overshoot_share",
    "mean_log_rate",
    "active",
    "moves_left",
    "dwell_left",
)
F = {name: i for i, name in enumerate(FEATURES)}
N_CELLS = 21  # hex7: 7 sites × 3 sectors
DOWN, HOLD, UP = 0, 1, 2  # discrete actions: 0 increases the tilt (downtilt)
TILT_MIN, TILT_MAX = 0.0, 15.0  # the default range


def make_obs(
    tilt_deg=6.0,
    hour: float = 0.0,
    n_cells: int = N_CELLS,
    tilt_range: tuple[float, float] = (TILT_MIN, TILT_MAX),
    **features,
) -> np.ndarray:
    """A flat observation: healthy cells (no overshoot, no poor SINR, no weak coverage, on air)
    unless `features` (a scalar for every cell or one value per cell) say otherwise."""
    cells = np.zeros((n_cells, len(FEATURES)), np.float32)
    lo, hi = tilt_range
    cells[:, F["tilt"]] = (np.broadcast_to(np.asarray(tilt_deg, float), n_cells) - lo) / (hi - lo)
    cells[:, F["load"]] = 0.5
    cells[:, F["served_share"]] = 1.0
    cells[:, F["mean_sinr"]] = 0.5  # 10 dB
    cells[:, F["covered_share"]] = 1.0
    cells[:, F["interference"]] = 0.5
    cells[:, F["active"]] = 1.0
    cells[:, F["moves_left"]] = 1.0
    for name, value in features.items():
        cells[:, F[name]] = value
    angle = 2.0 * math.pi * hour / 24.0
    return np.concatenate([cells.ravel(), [math.sin(angle), math.cos(angle)]]).astype(np.float32)


def per_cell(default: float, **at: float) -> np.ndarray:
    """A per-cell feature column: `default` everywhere, `at={"c5": 0.3}` for cell 5."""
    values = np.full(N_CELLS, default, np.float32)
    for key, value in at.items():
        values[int(key[1:])] = value
    return values


def expected(**at: int) -> np.ndarray:
    """Hold everywhere except the given cells (`c5=DOWN`)."""
    out = np.full(N_CELLS, HOLD)
    for key, value in at.items():
        out[int(key[1:])] = value
    return out


def absolute(tilt_deg, lo: float = TILT_MIN, hi: float = TILT_MAX) -> np.ndarray:
    """Continuous action for an absolute tilt: the tilt range mapped linearly onto [-1, 1]."""
    return 2.0 * (np.asarray(tilt_deg, float) - lo) / (hi - lo) - 1.0


@pytest.fixture(scope="module")
def env() -> TiltEnv:
    """hex7 with RET free to move every step: these tests follow the rules' own moves."""
    return TiltEnv("hex7", {"ret": {"max_moves_per_day": None, "min_dwell_minutes": 0}})


@pytest.fixture(scope="module")
def cont_env() -> TiltEnv:
    return TiltEnv("hex7", {"action": "continuous"})


@pytest.fixture()
def son(env) -> SonRule:
    return SonRule(env)


def act_once(policy, obs) -> np.ndarray:
    action, state = policy.predict(obs)
    assert state is None
    return np.asarray(action)


def test_documented_layout_and_hand_built_observation(env):
    assert tuple(CELL_OBSERVATION) == FEATURES
    obs = make_obs()
    assert obs.shape == env.observation_space.shape == (N_CELLS * len(FEATURES) + 2,)
    assert env.observation_space.contains(obs)
    # the observation the env itself returns reads back the scenario tilt (6°) through the layout
    real, _ = env.reset(seed=0)
    tilt = TILT_MIN + real[:-2].reshape(N_CELLS, len(F))[:, F["tilt"]] * (TILT_MAX - TILT_MIN)
    np.testing.assert_allclose(tilt, 6.0, atol=1e-5)
    assert real[-1] == pytest.approx(1.0) and real[-2] == pytest.approx(0.0)  # 00:00


def test_builtin_policy_names(env):
    assert set(BUILTIN_POLICIES) == {
        "hold",
        "best-uniform",
        "pool-plan",
        "static-plan",
        "period-plan",
        "rule-geometric",
        "rule-son",
        "reference",
    }
    assert isinstance(make_policy("rule-son", env), SonRule)
    assert isinstance(make_policy("rule-geometric", env), GeometricRule)
    with pytest.raises(ConfigError, match="rule-son"):
        make_policy("rule-sun", env)
    with pytest.raises(ConfigError, match="retired: use reference") as err:
        make_policy("oracle", env)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------ rule-son
# Hand-built observations (mean SINR 10 dB: interference-limited, so overshoot counts).


def test_son_overshoot_downtilts_weak_coverage_uptilts(son):
    obs = make_obs(overshoot_share=per_cell(0.0, c5=0.30), weak_rsrp_share=per_cell(0.0, c7=0.2))
    np.testing.assert_array_equal(act_once(son, obs), expected(c5=DOWN, c7=UP))


def test_son_overshoot_in_a_noise_limited_cluster_holds(son):
    """A cell that reaches far among neighbours with good SINR (rural) is left alone."""
    obs = make_obs(overshoot_share=per_cell(0.0, c5=0.30), mean_sinr=20.0 / 20.0)
    np.testing.assert_array_equal(act_once(son, obs), expected())


def test_son_load_awareness(son):
    """An overloaded cell with room at its neighbours sheds traffic (downtilt); a lightly
    loaded cell next to an overloaded one takes traffic (uptilt); an overloaded cell never
    uptilts for load."""
    nb = int(son.neighbour_index[0, 0])
    load = per_cell(0.5, c0=1.5)
    action = act_once(son, make_obs(load=load))
    assert action[0] == DOWN
    son.reset()
    load = per_cell(0.5, c0=1.5)
    load[nb] = 0.1
    action = act_once(son, make_obs(load=load))
    assert action[nb] == UP


def test_son_healthy_cells_hold(son):
    np.testing.assert_array_equal(act_once(son, make_obs()), expected())


def test_son_stays_within_the_planning_tilt_bounds(son):
    plan = 9.0  # hex7's planning tilt; bound 4°: 5…13 (the scenario's 6° inside)
    th = son.th
    tilt = per_cell(6.0, c0=plan + th.bound_deg, c1=plan - th.bound_deg)
    obs = make_obs(
        tilt, overshoot_share=per_cell(0.0, c0=0.5), weak_rsrp_share=per_cell(0.0, c1=0.5)
    )
    son.memory().start_deg = np.full(N_CELLS, 6.0)
    np.testing.assert_array_equal(act_once(son, obs), expected())


def test_son_changes_at_most_a_share_of_cells_most_severe_first(son):
    over = np.random.default_rng(3).permutation(np.linspace(0.11, 0.91, N_CELLS))
    budget = int(son.th.max_changed_share * N_CELLS)
    action = act_once(son, make_obs(overshoot_share=over))
    most_severe = set(np.argsort(-over)[:budget].tolist())
    assert set(np.flatnonzero(action == DOWN).tolist()) == most_severe


def test_son_never_changes_two_exclusive_neighbours_at_once(env):
    rule = SonRule(env, SonThresholds(exclusive_neighbours=2, max_changed_share=1.0))
    action = act_once(rule, make_obs(overshoot_share=0.5))
    moved = np.flatnonzero(action != HOLD)
    assert moved.size > 0
    assert not rule.exclusive_mask[np.ix_(moved, moved)].any()


def test_son_inactive_cells_hold(son):
    active = np.ones(N_CELLS, np.float32)
    active[5] = 0.0
    action = act_once(son, make_obs(overshoot_share=per_cell(0.0, c5=0.5), active=active))
    np.testing.assert_array_equal(action, expected())


def test_son_respects_ret_budget_and_dwell_in_the_observation():
    th_budget = 6  # the env's default budget; the fixture's env has none, so use a RET env
    rule = SonRule(TiltEnv("hex7"))
    over = per_cell(0.0, c1=0.5, c2=0.5, c3=0.5)
    moves_left = per_cell(1.0, c1=1.0 / th_budget)  # one move left: kept for a rollback
    dwell_left = per_cell(0.0, c2=0.5)  # still in its dwell
    obs = make_obs(overshoot_share=over, moves_left=moves_left, dwell_left=dwell_left)
    action = act_once(rule, obs)
    np.testing.assert_array_equal(action, expected(c3=DOWN))


def test_son_acts_every_interval_only(son):
    obs = make_obs(overshoot_share=per_cell(0.0, c3=0.5))
    acted = [act_once(son, obs)[3] == DOWN for _ in range(9)]
    assert acted == [True, False, False, False, True, False, False, False, True]
    son.reset()  # SB3's episode_start does the same
    assert act_once(son, obs)[3] == DOWN
    action, _ = son.predict(obs, episode_start=np.array([True]))
    assert action[3] == DOWN


def test_son_rolls_back_a_change_that_made_its_cluster_worse(son):
    """Cell 3 downtilts for overshoot; over the next interval its cluster loses coverage and
    throughput while the rest of the network is unchanged: it goes back up, and downtilt is
    then blocked for that cell (tabu) although the overshoot persists."""
    bad = per_cell(0.0, c3=0.5)
    before = make_obs(overshoot_share=bad)
    assert act_once(son, before)[3] == DOWN
    cluster = son.neighbour_mask[3] | (np.arange(N_CELLS) == 3)
    covered = np.where(cluster, 0.2, 1.0).astype(np.float32)
    rate = np.where(cluster, -1.0, 0.0).astype(np.float32)
    after = make_obs(
        7.0 * (np.arange(N_CELLS) == 3) + 6.0 * (np.arange(N_CELLS) != 3),
        overshoot_share=bad,
        covered_share=covered,
        mean_log_rate=rate,
    )
    for _ in range(3):
        np.testing.assert_array_equal(act_once(son, after), expected())
    action = act_once(son, after)
    assert action[3] == UP
    assert son.memory().rollbacks == 1
    back = make_obs(overshoot_share=bad)
    for _ in range(4):
        assert act_once(son, back)[3] == HOLD  # tabu: no second try downward


def test_son_keeps_a_change_that_did_not_hurt(son):
    bad = per_cell(0.0, c3=0.5)
    assert act_once(son, make_obs(overshoot_share=bad))[3] == DOWN
    moved = make_obs(per_cell(6.0, c3=7.0), overshoot_share=bad)
    actions = [act_once(son, moved) for _ in range(4)]
    assert actions[-1][3] == DOWN  # kept, and the overshoot still triggers the next step
    assert son.memory().kept == 1 and son.memory().rollbacks == 0


def test_son_bad_thresholds_are_one_line():
    with pytest.raises(ConfigError, match="interval_minutes"):
        SonThresholds(interval_minutes=0)
    with pytest.raises(ConfigError, match="bound_deg"):
        SonThresholds(bound_deg=-1)


def test_son_batched_observations_keep_separate_memories(son):
    obs = make_obs(overshoot_share=per_cell(0.0, c3=0.5))
    actions, _ = son.predict(np.stack([obs, make_obs()]))
    np.testing.assert_array_equal(actions[0], expected(c3=DOWN))
    np.testing.assert_array_equal(actions[1], expected())
    assert son.memory(0).pending[3] == 1 and not son.memory(1).pending.any()


def test_son_on_a_day_respects_ret_and_bounds_and_moves_both_ways():
    """A day on case1 (every cell starts at 15°, the top of its range): RET's budget is never
    exceeded, no move is held by RET (the rule reads budget and dwell), tilts stay within the
    bounds, and cells move both up and down."""
    env = TiltEnv("case1", {"demand_noise": 0.0})
    rule = SonRule(env)
    obs, _ = env.reset(seed=0)
    rule.reset()
    start = env.tilt_deg.copy()
    tilts = [start]
    for _ in range(env.n_steps):
        action, _ = rule.predict(obs)
        obs, _, _, _, info = env.step(action)
        tilts.append(env.tilt_deg.copy())
    path = np.array(tilts)
    delta = np.diff(path, axis=0)
    assert info["ret"]["held_budget"] == 0 and info["ret"]["held_dwell"] == 0
    assert np.count_nonzero(delta, axis=0).max() <= env.config.ret.max_moves_per_day
    low = np.minimum(rule.low_deg, start)
    high = np.maximum(rule.high_deg, start)
    assert np.all(path >= low - 1e-9) and np.all(path <= high + 1e-9)
    assert (delta < 0).any() and (delta > 0).any()


def test_son_continuous_outputs_absolute_targets(cont_env):
    rule = SonRule(cont_env)
    obs = make_obs(
        per_cell(6.0, c1=9.0),
        overshoot_share=per_cell(0.0, c0=0.5),
        weak_rsrp_share=per_cell(0.0, c1=0.5),
    )
    action = act_once(rule, obs)
    assert action.dtype == np.float32 and cont_env.action_space.contains(action)
    np.testing.assert_allclose(action, absolute(per_cell(6.0, c0=7.0, c1=8.0)), atol=1e-5)


# ------------------------------------------------------------------------- rule-geometric


def independent_planning_tilt(scenario: str = "hex7", theta_3db: float = 10.0) -> float:
    layout = load_scenario(scenario).layout
    dh = layout.height_m - 1.5  # UE at 1.5 m
    d_edge = 2.0 / 3.0 * layout.isd_m
    return math.degrees(math.atan(dh / d_edge)) + theta_3db / 2.0


def test_tr36814_vertical_beamwidth_is_10_degrees(env):
    assert vertical_beamwidth_deg(env) == pytest.approx(10.0, abs=0.05)


def test_geometric_targets_follow_the_planning_formula(env):
    expected_tilt = independent_planning_tilt()
    assert expected_tilt == pytest.approx(9.03, abs=0.01)  # atan(23.5 / 333.3) + 5
    rule = GeometricRule(env)
    np.testing.assert_allclose(rule.target_deg, expected_tilt, atol=0.02)
    np.testing.assert_allclose(planning_tilts_deg(env), rule.target_deg)


def test_geometric_target_puts_the_upper_3db_edge_on_the_cell_edge(env):
    """The antenna itself: at the planning tilt the gain toward the cell edge (boresight
    azimuth, depression atan(Δh / d_edge)) is 3 dB below the peak."""
    antenna = env.sim.setup.antenna
    tilt = GeometricRule(env).target_deg[0]
    edge_depression = independent_planning_tilt() - 5.0
    peak = antenna.gain_dbi(0.0, tilt, tilt)
    edge = antenna.gain_dbi(0.0, edge_depression, tilt)
    assert float(peak - edge) == pytest.approx(3.0, abs=0.1)


def test_geometric_moves_one_step_toward_the_target_then_holds(env):
    rule = GeometricRule(env)
    tilt = per_cell(6.0, c1=9.0, c2=12.0, c3=TILT_MIN, c4=TILT_MAX, c5=8.6, c6=9.4)
    action = act_once(rule, make_obs(tilt))
    np.testing.assert_array_equal(
        action, np.where(tilt < 8.5, DOWN, np.where(tilt > 9.5, UP, HOLD))
    )
    assert action[1] == action[5] == action[6] == HOLD


def test_geometric_on_the_env_reaches_9_degrees_and_stays(env):
    rule = GeometricRule(env)
    obs, _ = env.reset(seed=1)
    history = []
    for _ in range(6):
        action, _ = rule.predict(obs)
        obs, *_ = env.step(action)
        history.append(env.tilt_deg.copy())
    np.testing.assert_array_equal(np.array(history)[:, 0], [7, 8, 9, 9, 9, 9])
    assert np.all(np.array(history)[2:] == 9.0)


def test_geometric_clips_the_target_to_the_tilt_range():
    narrow = TiltEnv("hex7", {"tilt_min_deg": 2.0, "tilt_max_deg": 8.0})
    rule = GeometricRule(narrow)
    np.testing.assert_allclose(rule.target_deg, 8.0)
    at_max = make_obs(8.0, tilt_range=(2.0, 8.0))
    np.testing.assert_array_equal(act_once(rule, at_max), expected())
    below = make_obs(6.0, tilt_range=(2.0, 8.0))
    np.testing.assert_array_equal(act_once(rule, below), np.full(N_CELLS, DOWN))


SCENARIO_WIDE_ISD = """
name = "wide"
[layout]
n_sites = 7
isd_m = 1000
height_m = 32
tilt_deg = 4
wraparound = true
[pathloss]
model = "uma"
[antenna]
kind = "tr36814"
theta_3db_deg = 6.0
[area]
resolution_m = 100
"""


def test_geometric_follows_the_scenario_geometry_and_beamwidth(tmp_path):
    path = tmp_path / "wide.toml"
    path.write_text(SCENARIO_WIDE_ISD)
    env = TiltEnv(str(path))
    assert vertical_beamwidth_deg(env) == pytest.approx(6.0, abs=0.05)
    expected_tilt = math.degrees(math.atan(30.5 / (2 / 3 * 1000))) + 3.0  # ≈ 5.62°
    np.testing.assert_allclose(GeometricRule(env).target_deg, expected_tilt, atol=0.02)


def test_geometric_single_site_uses_the_study_area_extent(tmp_path):
    """One site has no neighbour: the cell range falls back to half the study area's extent."""
    path = tmp_path / "one.toml"
    path.write_text('name = "one"\n[layout]\nn_sites = 1\n[pathloss]\nmodel = "uma"\n')
    env = TiltEnv(str(path))
    x0, x1, y0, y1 = env.sim.raster.extent_m
    d_edge = 2.0 / 3.0 * 0.5 * max(x1 - x0, y1 - y0)
    expected_tilt = math.degrees(math.atan((25.0 - 1.5) / d_edge)) + 5.0  # default height 25 m
    np.testing.assert_allclose(GeometricRule(env).target_deg, expected_tilt, atol=0.02)
    assert 0.0 < expected_tilt < 15.0


def test_geometric_accounts_for_mechanical_tilt(tmp_path):
    path = tmp_path / "mech.toml"
    path.write_text(
        'name = "mech"\n[layout]\nn_sites = 7\nwraparound = true\nheight_m = 25\n'
        'tilt_deg = 6\nmech_tilt_deg = 4\n[pathloss]\nmodel = "uma"\n[area]\nresolution_m = 100\n'
    )
    env = TiltEnv(str(path))
    electrical = GeometricRule(env).target_deg[0]
    antenna = env.sim.setup.antenna
    edge_depression = independent_planning_tilt() - 5.0
    peak = antenna.gain_dbi(0.0, np.arange(0.0, 30.0, 0.01), electrical, 4.0).max()
    edge = antenna.gain_dbi(0.0, edge_depression, electrical, 4.0)
    assert float(peak - edge) == pytest.approx(3.0, abs=0.2)


def test_geometric_continuous_outputs_its_absolute_targets(cont_env):
    rule = GeometricRule(cont_env)
    target = independent_planning_tilt()
    obs, _ = cont_env.reset(seed=0)
    action = act_once(rule, obs)
    assert action.dtype == np.float32 and cont_env.action_space.contains(action)
    np.testing.assert_allclose(action, absolute(np.full(N_CELLS, target)), atol=0.003)
    cont_env.step(action)
    np.testing.assert_allclose(cont_env.tilt_deg, target, atol=0.02)
    # the same action whatever the current tilt (absolute, not incremental)
    np.testing.assert_allclose(act_once(rule, make_obs(12.0)), action)
