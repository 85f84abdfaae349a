"""The reference warm start of the shared per-cell actor (cellsim.imitation): it makes the actor
choose the reference's moves, its settings are checked like any config, and cellsim train runs it
before PPO and resumes after it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from stable_baselines3 import PPO

from cellsim.env.neighbours import network_neighbours
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.imitation import (
    ImitationSettings,
    feasible_labels,
    imitate_reference,
    imitation_settings,
)
from cellsim.policies import StaticPlan, TiltPolicy
from cellsim.policies.networks import SharedCellActorPolicy
from cellsim.policies.reference import Reference
from cellsim.policies.shared import SharedCellPolicy
from cellsim.scenario import EnvConfig
from cellsim.training import TrainSpec, latest_checkpoint, load_hyperparams, load_run, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

SHORT = {"episode_hours": 2, "initial_tilt": "random"}  # 8 steps of 15 min


def agreement(model, env: TiltEnv, seeds, teacher: TiltPolicy | None = None) -> float:
    """Share of cell moves where the model's actor picks the teacher's (default: the
    reference's) move as it is taught (`feasible_labels`), on the teacher's own trajectories
    from these seeds."""
    teacher = teacher or Reference(env)
    actor = SharedCellPolicy(env, model, model.policy.mlp_extractor.k)
    same = total = 0
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        teacher.reset()
        for _ in range(env.n_steps):
            target = feasible_labels(teacher.act(obs), env)
            same += int((actor.act(obs) == target).sum())
            total += len(target)
            obs, *_ = env.step(target)
    return same / total


def test_imitation_makes_the_actor_choose_the_references_moves():
    """The DAgger mechanism on one network realisation (held-out realisations are what
    RESULTS.md measures; this checks that imitation teaches the reference's moves at all)."""
    one_network = {**SHORT, "realisations": {"split": "fixed"},
                   "ret": {"max_moves_per_day": None, "min_dwell_minutes": 0}}
    env = TiltEnv("hex7", one_network)
    table = network_neighbours(env.sim, 6)
    model = PPO(SharedCellActorPolicy, env, policy_kwargs={"neighbour_table": table}, seed=0,
                device="cpu")  # fmt: skip
    held_out = range(500, 503)
    before = agreement(model, env, held_out)
    settings = ImitationSettings(iterations=3, episodes_per_iteration=4, epochs=20,
                                 batch_size=64, learning_rate=3e-3)  # fmt: skip
    stats = imitate_reference(model, "hex7", one_network, settings, seed=0, progress_bar=False)
    assert stats["imitation_labels"] == 3 * 4 * 8 * 21
    assert stats["imitation_agreement"] > 0.6
    after = agreement(model, env, held_out)
    # the reference's moves follow a whole-episode plan (when to move, not only where), which a
    # cell's observation shows less of than the per-snapshot oracle's: ≈ 0.6 after this budget
    assert after > before + 0.15 and after > 0.55, (before, after)


def test_a_static_plan_teacher_teaches_its_moves():
    """teacher: static-plan labels with static-plan's moves (toward its plan for the
    realisation), which the actor then chooses."""
    one_network = {**SHORT, "realisations": {"split": "fixed"}}
    env = TiltEnv("hex7", one_network)
    table = network_neighbours(env.sim, 6)
    model = PPO(SharedCellActorPolicy, env, policy_kwargs={"neighbour_table": table}, seed=0,
                device="cpu")  # fmt: skip
    held_out = range(500, 503)
    before = agreement(model, env, held_out, StaticPlan(env))
    settings = ImitationSettings(iterations=3, episodes_per_iteration=4, epochs=20, batch_size=64,
                                 learning_rate=3e-3, teacher="static-plan")  # fmt: skip
    imitate_reference(model, "hex7", one_network, settings, seed=0, progress_bar=False)
    after = agreement(model, env, held_out, StaticPlan(env))
    assert after > before + 0.15 and after > 0.6, (before, after)


def test_imitation_is_reproducible():
    def trained_weights():
        env = TiltEnv("hex7", SHORT)
        table = network_neighbours(env.sim, 6)
        model = PPO(SharedCellActorPolicy, env, policy_kwargs={"neighbour_table": table},
                    seed=1, device="cpu")  # fmt: skip
        settings = ImitationSettings(iterations=2, episodes_per_iteration=1, epochs=2,
                                     env_variants=[{}, {"kpi": {"rsrp_min_dbm": -90}}])
        imitate_reference(model, "hex7", SHORT, settings, seed=1, progress_bar=False)
        return torch.cat([p.detach().flatten() for p in model.policy.parameters()])

    assert torch.equal(trained_weights(), trained_weights())


def kill_after_saving(monkeypatch, n: int) -> list[int]:
    """Make the imitation's state saving raise KeyboardInterrupt (a kill) once `n` iterations
    are saved; returns the iterations saved, kill or not, as the list fills."""
    from cellsim.imitation import ImitationState

    real_save, saved = ImitationState.save, []

    def save(self, iteration, *args):
        real_save(self, iteration, *args)
        saved.append(iteration)
        if len(saved) == n:
            raise KeyboardInterrupt

    monkeypatch.setattr(ImitationState, "save", save)
    return saved


def test_an_interrupted_imitation_resumes_with_the_same_numbers(tmp_path, monkeypatch):
    """Killed after its second iteration was saved, a new process (a new model seeded as the
    run's, no plans in memory) runs only the third and ends where an uninterrupted run ends;
    a state of other settings is refused."""
    from cellsim.policies import reference

    env = TiltEnv("hex7", SHORT)
    table = network_neighbours(env.sim, 6)
    settings = ImitationSettings(iterations=3, episodes_per_iteration=1, epochs=2)

    def fresh_model() -> PPO:
        return PPO(SharedCellActorPolicy, env, policy_kwargs={"neighbour_table": table},
                   seed=1, device="cpu")  # fmt: skip

    def weights(model: PPO) -> torch.Tensor:
        return torch.cat([p.detach().flatten() for p in model.policy.parameters()])

    def imitate(model: PPO, **kwargs):
        return imitate_reference(model, "hex7", SHORT, kwargs.pop("settings", settings),
                                 seed=1, progress_bar=False, **kwargs)  # fmt: skip

    whole = fresh_model()
    expected = imitate(whole)
    state = tmp_path / "imitation"
    saved = kill_after_saving(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        imitate(fresh_model(), state_folder=state)
    monkeypatch.setattr(reference, "_MEMORY", type(reference._MEMORY)())
    monkeypatch.setenv("CELLSIM_CACHE_DIR", str(tmp_path / "empty-cache"))
    resumed = fresh_model()
    stats = imitate(resumed, state_folder=state)
    assert saved == [0, 1, 2]  # the resumed call ran iteration 2 only
    assert {k: stats[k] for k in ("imitation_labels", "imitation_agreement")} == {
        k: expected[k] for k in ("imitation_labels", "imitation_agreement")}
    assert torch.equal(weights(resumed), weights(whole))
    assert stats["imitation_wall_s"] > 0
    other = ImitationSettings(iterations=3, episodes_per_iteration=1, epochs=3)
    with pytest.raises(ConfigError, match="other settings"):
        imitate(fresh_model(), state_folder=state, settings=other)


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"iterations": 0}, "iterations = 0"),
        ({"exploration": 1.5}, "exploration = 1.5"),
        ({"epochs": "many"}, "epochs"),
        ({"iteratons": 3}, "iteratons"),
        ({"env_variants": []}, "env_variants"),
        ({"env_variants": [{}, {"kpi": {"rsrp_min_dbm": 5}}]}, "env_variants[1]"),
        ({"env_variants": [{"action": "continuous"}]}, "env_variants[0]"),
        ({"env_variants": [{"per_cell": {"neighbours": 3}}]}, "may not change"),
        ("fast", "imitation must be a mapping"),
        ({"teacher": "oracle"}, "teacher"),
    ],
)
def test_bad_imitation_settings_name_the_field(raw, needle):
    with pytest.raises(ConfigError) as info:
        imitation_settings(raw, EnvConfig(), "agents/ppo-shared.yml")
    message = str(info.value)
    assert "agents/ppo-shared.yml" in message and needle in message
    assert "\n" not in message.strip() or raw == {"epochs": "many"}


TINY_IMITATION = {"iterations": 1, "episodes_per_iteration": 2, "epochs": 1,
                  "env_variants": [{}, {"kpi": {"rsrp_min_dbm": -90}}]}  # fmt: skip


def tiny_spec(out, **overrides) -> TrainSpec:
    fields = {
        "agent": "dagger-shared", "scenario": "hex7", "timesteps": 16, "n_envs": 1,
        "hyperparams": {"n_steps": 8, "batch_size": 8, "n_epochs": 1,
                        "imitation": TINY_IMITATION},
        "eval_freq": 8, "eval_episodes": 1, "checkpoint_freq": 8, "config": dict(SHORT),
        "progress_bar": False, "out": str(out),
    }  # fmt: skip
    fields.update(overrides)
    return TrainSpec(**fields)


def test_cellsim_train_imitates_then_runs_ppo(tmp_path):
    run = train(tiny_spec(tmp_path / "run"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["imitation_labels"] == 2 * 8 * 21 and metrics["timesteps"] == 16
    assert 0 <= metrics["imitation_agreement"] <= 1 and metrics["imitation_wall_s"] > 0
    assert (run / "checkpoints" / "model_0_steps.zip").is_file()  # the imitated actor
    assert not (run / "checkpoints" / "imitation_state.pt").exists()  # done with it
    policy = load_run(run)[0].bind(TiltEnv("case1", {"episode_hours": 1}))
    assert policy.act(policy.env.reset(seed=0)[0]).shape == (57,)


def test_a_run_resumed_after_imitation_goes_straight_to_ppo(tmp_path, monkeypatch):
    run = tmp_path / "run"
    import cellsim.training.trainer as training

    real_learn = PPO.learn

    def interrupted_learn(*args, **kwargs):
        # the imitated actor is already on disk when PPO starts, not only saved on Ctrl-C
        assert latest_checkpoint(run).name == "model_0_steps.zip"
        raise KeyboardInterrupt

    monkeypatch.setattr(PPO, "learn", interrupted_learn)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_spec(run))
    monkeypatch.setattr(PPO, "learn", real_learn)
    calls = []
    monkeypatch.setattr(training, "_imitate", lambda *a, **k: calls.append(a))
    train(tiny_spec(run, resume=True))
    assert not calls and (run / "model.zip").is_file()
    assert json.loads((run / "metrics.json").read_text())["timesteps"] == 16


def test_a_run_killed_while_imitating_resumes_the_imitation(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    two = {**TINY_IMITATION, "iterations": 2}
    hyper = {"n_steps": 8, "batch_size": 8, "n_epochs": 1, "imitation": two}
    saved = kill_after_saving(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_spec(run, hyperparams=hyper))
    assert "continue from its last whole iteration" in capsys.readouterr().out
    train(tiny_spec(run, resume=True))
    assert "resuming the imitation after its last whole iteration" in capsys.readouterr().out
    assert saved == [0, 1] and (run / "model.zip").is_file()
    assert not (run / "checkpoints" / "imitation").exists()
    assert json.loads((run / "metrics.json").read_text())["imitation_labels"] == 2 * 2 * 8 * 21


def test_imitation_needs_the_shared_actor_and_writes_nothing_when_refused(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="imitation is for agents trained by imitation"):
        train(tiny_spec(out, agent="ppo", hyperparams={"imitation": TINY_IMITATION}))
    with pytest.raises(ConfigError, match="SharedCellActorPolicy"):
        train(tiny_spec(out, hyperparams={"policy": "MlpPolicy"}))
    bad = {"n_steps": 8, "imitation": {**TINY_IMITATION, "exploration": -1}}
    with pytest.raises(ConfigError, match="exploration"):
        train(tiny_spec(out, hyperparams=bad))
    assert not out.exists()


@pytest.mark.parametrize(
    "policy_kwargs, needle",
    [
        ("dict(tilt_reference='nearest')", "tilt_reference = 'nearest'"),
        ("dict(actor_ignores=('tilt', 'weather'))", "actor_ignores"),
        ("dict(actor_ignores='time')", "actor_ignores"),
        ("dict(actor_ignores=5)", "actor_ignores = 5"),
    ],
)
def test_bad_shared_actor_kwargs_are_refused_before_the_run_folder(tmp_path, policy_kwargs,
                                                                  needle):  # fmt: skip
    out = tmp_path / "run"
    hyper = {"n_steps": 8, "imitation": TINY_IMITATION, "policy_kwargs": policy_kwargs}
    with pytest.raises(ConfigError, match="policy_kwargs") as info:
        train(tiny_spec(out, hyperparams=hyper))
    assert needle in str(info.value)
    assert not out.exists()


def test_the_run_config_holds_every_imitation_setting(tmp_path):
    """A partial imitation block (here from --hyperparams) is saved with its defaults filled
    in, so the run can be rebuilt whatever the defaults become."""
    run = train(tiny_spec(tmp_path / "run"))
    saved = yaml.safe_load((run / "config.yml").read_text())["hyperparams"]["imitation"]
    in_file = load_hyperparams("dagger-shared")["imitation"]
    assert saved == ImitationSettings(**{**in_file, **TINY_IMITATION}).model_dump(mode="json")
    # what the override leaves out comes from the agent's YAML, not from the code's defaults
    assert saved["hold_weight"] == in_file["hold_weight"] != ImitationSettings().hold_weight
    assert saved["iterations"] == 1


def test_shared_actor_kwargs_on_another_policy_are_refused(tmp_path):
    out = tmp_path / "run"
    hyper = {"n_steps": 8, "policy_kwargs": "dict(tilt_reference='planning')"}
    with pytest.raises(ConfigError, match="only for policy SharedCellActorPolicy"):
        train(tiny_spec(out, agent="ppo", hyperparams=hyper))
    assert not out.exists()


def test_a_tilt_reference_of_the_wrong_length_fails_at_once():
    env = TiltEnv("hex7", SHORT)
    table = network_neighbours(env.sim, 6)
    with pytest.raises(ValueError, match="one value per cell"):
        PPO(SharedCellActorPolicy, env, device="cpu",
            policy_kwargs={"neighbour_table": table, "tilt_reference": [0.5] * 20})  # fmt: skip


def test_labels_are_the_moves_the_env_would_execute():
    """A teacher's move the env would refuse now (a cell in its RET dwell, a tilt at its range's
    end) is taught as a hold: the actor must not learn requests the env holds."""
    from cellsim.contract import DOWN, HOLD, UP

    env = TiltEnv("hex7", {"initial_tilt": "scenario", "ret": {"min_dwell_minutes": 60}})
    env.reset(seed=0)
    n = len(env.tilt_deg)
    moved = [UP] + [HOLD] * (n - 1)  # cell 0 moves, so it dwells for the next hour
    env.step(moved)
    ups = feasible_labels([UP] * n, env)
    assert ups[0] == HOLD and (ups[1:] == UP).all()
    env.tilt_deg[1] = env.tilt_space.max_deg  # cell 1 at its range's end: DOWN tilts no further
    downs = feasible_labels([DOWN] * n, env)
    assert downs[0] == HOLD and downs[1] == HOLD and (downs[2:] == DOWN).all()
    assert feasible_labels([UP] * n, env)[1] == UP
    budget = TiltEnv("hex7", {"initial_tilt": "scenario",
                              "ret": {"max_moves_per_day": 1, "min_dwell_minutes": 0}})  # fmt: skip
    budget.reset(seed=0)
    budget.step(moved)  # cell 0 spends its one move of the day
    assert feasible_labels([UP] * n, budget)[0] == HOLD
    assert (feasible_labels([UP] * n, budget)[1:] == UP).all()


def test_an_actor_on_the_episodes_static_plan_reads_tilts_against_that_plan():
    """tilt_reference='static-plan': every tilt the actor reads is relative to the static plan
    of the episode it acts in (planned at its first action, again after a reset on another
    realisation); SB3's own predict, which cannot know the plan, refuses to act."""
    from cellsim.env.observation import agent_observations_from_state, tilt_reference_offsets

    env = TiltEnv("hex7", {**SHORT, "realisations": {"split": "train", "pool_size": 2}})
    table = network_neighbours(env.sim, 6)
    kwargs = {"neighbour_table": table, "tilt_reference": "static-plan"}
    model = PPO(SharedCellActorPolicy, env, device="cpu", seed=0, policy_kwargs=kwargs)
    actor = SharedCellPolicy(env, model, 6)
    planner = StaticPlan(env)
    seen = []
    for network_seed in (0, 1):
        obs, _ = env.reset(seed=0, options={"network_seed": network_seed})
        actor.reset()
        planner.reset()
        plan = env.tilt_space.to_feature(planner.target()).astype("float32")
        expected = agent_observations_from_state(obs, env.sim.n_cells, table)
        expected = expected + tilt_reference_offsets(plan, table)
        got = actor.agent_observations(obs)
        assert got == pytest.approx(expected, abs=1e-6)
        seen.append(got)
        actor.act(obs)  # acts without raising
    assert seen[0] != pytest.approx(seen[1], abs=1e-6)  # another realisation, another plan
    with pytest.raises(ValueError, match="SharedCellPolicy"):
        model.predict(obs, deterministic=True)


def test_an_actor_on_the_episodes_period_plan_reads_tilts_against_each_periods_plan():
    """tilt_reference='period-plan': the offsets are the day plan's until 19:00 and the
    evening plan's from the switch on (an 18:00–20:00 episode: switch at its fifth step)."""
    from cellsim.env.observation import tilt_reference_offsets
    from cellsim.policies import PeriodPlan

    env = TiltEnv("hex7", {**SHORT, "start_hour": 18.0})
    table = network_neighbours(env.sim, 6)
    kwargs = {"neighbour_table": table, "tilt_reference": "period-plan"}
    model = PPO(SharedCellActorPolicy, env, device="cpu", seed=0, policy_kwargs=kwargs)
    actor = SharedCellPolicy(env, model, 6)
    assert isinstance(actor.episode_planner, PeriodPlan)
    obs, _ = env.reset(seed=0)
    actor.reset()
    offsets = []
    for _ in range(env.n_steps):
        action = actor.act(obs)
        plan = env.tilt_space.to_feature(actor.episode_planner.target()).astype("float32")
        assert actor._offsets == pytest.approx(tilt_reference_offsets(plan, table), abs=1e-6)
        offsets.append(actor._offsets)
        obs, *_ = env.step(action)
    assert all(o is offsets[0] for o in offsets[:4])  # one day plan
    assert all(o is offsets[4] for o in offsets[4:])
    assert not np.array_equal(offsets[4], offsets[0])  # the evening plan's own offsets


@pytest.mark.parametrize(("reference", "shared"), [("static-plan", True), ("period-plan", False)])
def test_a_static_plan_teacher_stands_in_only_for_a_static_plan_planner(reference, shared):
    """teacher: static-plan plans each episode once for both roles where the actor reads its
    tilts against the static plan; an actor on the period plan keeps its own planner."""
    from cellsim.imitation import _training_setups
    from cellsim.policies import PeriodPlan

    env = TiltEnv("hex7", SHORT)
    kwargs = {"neighbour_table": network_neighbours(env.sim, 6), "tilt_reference": reference}
    model = PPO(SharedCellActorPolicy, env, device="cpu", seed=0, policy_kwargs=kwargs)
    settings = ImitationSettings(teacher="static-plan")
    [(_, teacher, student)] = _training_setups(model, "hex7", SHORT, settings, seed=0)
    assert (student.episode_planner is teacher) is shared
    assert isinstance(student.episode_planner, PeriodPlan) is not shared


def test_an_episode_plan_reference_is_for_imitation_only_runs(tmp_path):
    out = tmp_path / "run"
    anchored = "dict(actor_ignores=('interference',), tilt_reference='static-plan')"
    hyper = {"n_steps": 8, "batch_size": 8, "n_epochs": 1, "imitation": TINY_IMITATION,
             "policy_kwargs": anchored}
    with pytest.raises(ConfigError, match="imitation-only") as info:
        train(tiny_spec(out, hyperparams=hyper))  # 16 PPO steps after the imitation
    assert "16 PPO steps" in str(info.value)
    assert not out.exists()
    run = train(tiny_spec(out, timesteps=None, hyperparams={**hyper, "n_timesteps": 0}))
    model, _ = load_run(run)
    env = TiltEnv("hex7", SHORT)
    policy = model.bind(env)
    assert policy.episode_planner is not None  # the saved actor still reads the episode's plan
    obs, _ = env.reset(seed=3)
    policy.reset()
    assert policy.act(obs).shape == (env.sim.n_cells,)


def anchored_actor(env: TiltEnv) -> tuple[PPO, SharedCellPolicy]:
    """An untrained actor reading tilts against the episode's static plan, and its policy."""
    kwargs = {"neighbour_table": network_neighbours(env.sim, 6), "tilt_reference": "static-plan"}
    model = PPO(SharedCellActorPolicy, env, device="cpu", seed=0, policy_kwargs=kwargs)
    return model, SharedCellPolicy(env, model, 6)


def test_the_deviation_margin_gates_the_actor_between_its_own_moves_and_the_plans():
    """Margin 0: the actor's most likely move; a margin above every lead: the static plan's
    walk; in between, exactly the cells whose actor leads the plan's move by more."""
    env = TiltEnv("hex7", SHORT)
    _, actor = anchored_actor(env)
    obs, _ = env.reset(seed=4)
    actor.reset()
    probabilities = actor.model.policy.cell_probabilities(actor.agent_observations(obs))
    plan = actor.episode_planner.act(obs)
    own = probabilities.argmax(axis=1)
    assert (actor.act(obs) == own).all()  # no gate
    lead = (probabilities.max(axis=1) - probabilities[range(len(own)), plan])[own != plan]
    assert len(np.unique(lead)) >= 2  # an untrained actor disagrees with the plan on cells
    actor.deviation_margin = float(lead.min()) / 2  # below every lead: the actor everywhere
    assert (actor.act(obs) == own).all()
    actor.deviation_margin = 0.999  # above every lead: the plan everywhere
    assert (actor.act(obs) == plan).all()
    actor.deviation_margin = float(np.median(np.unique(lead)))  # some cells of each
    got = actor.act(obs)
    taken = (got == own) & (own != plan)
    assert taken.any() and ((got == plan) & (own != plan)).any()
    full_lead = probabilities.max(axis=1) - probabilities[range(len(own)), plan]
    assert (full_lead[taken] > actor.deviation_margin).all()
    assert (full_lead[(got == plan) & (own != plan)] <= actor.deviation_margin).all()


def test_equal_margins_go_to_the_largest(monkeypatch):
    """On a tie the margin closest to the static plan wins."""
    import cellsim.evaluation
    from cellsim.imitation import tune_deviation_margin

    env = TiltEnv("hex7", SHORT)
    _, actor = anchored_actor(env)
    same = cellsim.evaluation.EpisodeResult(0, 1.0, 0, {}, np.zeros(0), {}, np.zeros(0),
                                            np.zeros(0))  # fmt: skip
    monkeypatch.setattr(cellsim.evaluation, "run_episode", lambda *a, **k: same)
    settings = ImitationSettings(deviation_margins=[0.0, 0.6, 0.3], margin_episodes=2)
    tuned = tune_deviation_margin(env, actor, settings, seed=0)
    assert tuned["deviation_margin"] == 0.6 and actor.deviation_margin == 0.6


def test_the_tuned_margin_is_the_best_on_training_episodes_and_travels_with_the_run(tmp_path):
    """The imitation tries each margin on the same training-pool episodes, keeps the best
    (imitation.json), and the loaded run acts with it."""
    out = tmp_path / "run"
    anchored = "dict(actor_ignores=('interference',), tilt_reference='static-plan')"
    tuning = {**TINY_IMITATION, "deviation_margins": [0.0, 0.5, 0.9], "margin_episodes": 2}
    hyper = {"n_steps": 8, "batch_size": 8, "n_epochs": 1, "imitation": tuning,
             "policy_kwargs": anchored, "n_timesteps": 0}  # fmt: skip
    run = train(tiny_spec(out, timesteps=None, hyperparams=hyper))
    record = json.loads((run / "imitation.json").read_text())
    rewards = {float(m): r for m, r in record["margin_rewards"].items()}
    assert set(rewards) == {0.0, 0.5, 0.9}
    assert rewards[record["deviation_margin"]] == max(rewards.values())
    policy = load_run(run)[0].bind(TiltEnv("hex7", SHORT))
    assert policy.deviation_margin == record["deviation_margin"]
    (run / "imitation.json").write_text(json.dumps({**record, "deviation_margin": 0.5}))
    assert load_run(run)[0].bind(TiltEnv("hex7", SHORT)).deviation_margin == 0.5
    (run / "imitation.json").write_text(json.dumps({**record, "deviation_margin": 1.5}))
    with pytest.raises(ConfigError, match=r"imitation.json: deviation_margin = 1.5: allowed"):
        load_run(run)


def test_a_margin_of_one_is_refused():
    with pytest.raises(ConfigError, match="deviation_margins"):
        imitation_settings({"deviation_margins": [0.5, 1.0]}, EnvConfig(), "agents/x.yml")


@pytest.mark.parametrize("setting", [{"deviation_margins": [0.0, 0.5]}, {"deviation_weight": 3}])
def test_deviation_settings_without_an_episode_plan_are_refused_before_the_run_folder(
    tmp_path, setting
):
    out = tmp_path / "run"
    hyper = {"n_steps": 8, "batch_size": 8, "n_epochs": 1,
             "imitation": {**TINY_IMITATION, **setting}}  # fmt: skip
    with pytest.raises(ConfigError, match="tilt_reference='static-plan'") as info:
        train(tiny_spec(out, hyperparams=hyper))  # dagger-shared: tilts against the planning rule
    assert next(iter(setting)) in str(info.value) and "\n" not in str(info.value)
    assert not out.exists()


def test_deviation_labels_weigh_deviation_weight_and_the_loss_keeps_torchs_normalisation():
    """A label where the teacher leaves the plan's own move weighs `deviation_weight`, the
    others 1; with every weight 1 the weighted loss is torch's class-weighted cross entropy."""
    from cellsim.imitation import _label_weights, _loss

    env = TiltEnv("hex7", SHORT)
    _, actor = anchored_actor(env)
    obs, _ = env.reset(seed=2)
    actor.reset()
    plan = actor.episode_planner.act(obs)
    teacher = plan.copy()
    teacher[[0, 5]] = (plan[[0, 5]] + 1) % 3  # two deviations
    settings = ImitationSettings(deviation_weight=3.0, hold_weight=2.0)
    weights = _label_weights(teacher, obs, actor, settings)
    assert weights[[0, 5]].tolist() == [3.0, 3.0] and (np.delete(weights, [0, 5]) == 1).all()
    logits = torch.randn(21, 3, generator=torch.Generator().manual_seed(0))
    labels = torch.as_tensor(teacher)
    class_weights = torch.tensor([1.0, 2.0, 1.0])
    plain = torch.nn.functional.cross_entropy(logits, labels, weight=class_weights)
    ones = _loss(logits, labels, torch.ones(21), class_weights, settings)
    assert float(ones) == pytest.approx(float(plain), rel=1e-6)
    weighted = _loss(logits, labels, torch.as_tensor(weights), class_weights, settings)
    assert float(weighted) != pytest.approx(float(plain), rel=1e-3)
