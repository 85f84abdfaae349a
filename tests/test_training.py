"""Stable-Baselines3 glue (`cellsim.training`) and `cellsim train`: run folders, resuming,
atomic checkpoints, hyperparameter files.

Every run here is tiny (a few hundred PPO steps on 8-step episodes of hex7) and torch runs on
one thread: the point is the bookkeeping around `model.learn`, not learning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback

import cellsim
import cellsim.training as training
import cellsim.training.trainer as trainer
from cellsim.cli import main
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.evaluation import run_episode
from cellsim.scenario import EnvConfig
from cellsim.training import (
    TrainSpec,
    agents_dir,
    algo_kwargs,
    latest_checkpoint,
    load_hyperparams,
    load_run,
    save_checkpoint,
    train,
)
from cellsim.training.hyperparams import check_keys
from cellsim.training.registry import agent_spec
from cellsim.training.trainer import _prepare_run

AGENTS_DIR = agents_dir()

TINY_PPO = {"n_steps": 64, "batch_size": 64, "n_epochs": 1}
SHORT_DAY = {"episode_hours": 2}  # 8 steps of 15 min: cheap evaluation episodes


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def spec(out: Path | str | None, **overrides) -> TrainSpec:
    fields = {
        "agent": "ppo",
        "scenario": "hex7",
        "timesteps": 256,
        "n_envs": 1,
        "hyperparams": dict(TINY_PPO),
        "eval_freq": 128,
        "eval_episodes": 1,
        "checkpoint_freq": 128,
        "config": dict(SHORT_DAY),
        "progress_bar": False,
        "out": None if out is None else str(out),
    }
    fields.update(overrides)
    return TrainSpec(**fields)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(run: Path) -> set[str]:
    return {p.relative_to(run).as_posix() for p in run.rglob("*")}


class StopAt(BaseCallback):
    """Raises KeyboardInterrupt (what Ctrl-C raises) once the model reached `steps`."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.steps:
            raise KeyboardInterrupt
        return True


class CountSteps(BaseCallback):
    """Counts the env steps a `learn` call really runs, and what the model had at its start."""

    def __init__(self):
        super().__init__()
        self.steps = 0
        self.start_timesteps = None
        self.start_buffer = None

    def _on_training_start(self) -> None:
        self.start_timesteps = self.model.num_timesteps
        buffer = getattr(self.model, "replay_buffer", None)
        self.start_buffer = None if buffer is None else buffer.size()

    def _on_step(self) -> bool:
        self.steps += self.training_env.num_envs
        return True


def add_callback(monkeypatch, callback: BaseCallback) -> None:
    """Inject `callback` next to the run's own (evaluation, checkpoints)."""
    original = trainer._callbacks

    def patched(*args, **kwargs):
        callbacks, eval_env = original(*args, **kwargs)
        return [*callbacks, callback], eval_env

    monkeypatch.setattr(trainer, "_callbacks", patched)


# ------------------------------------------------------------------------- a finished run


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    return train(spec(tmp_path_factory.mktemp("train") / "run"))


def test_run_folder_holds_everything(finished_run):
    files = tree(finished_run)
    assert {
        "model.zip",
        "best_model.zip",
        "config.yml",
        "metrics.json",
        "eval/evaluations.npz",
    } <= files
    # each written beside its name and renamed into place (a kill mid-write leaves the last)
    assert not files & {"eval/evaluations.writing.npz", "eval/best_model.zip"}
    assert {f for f in files if f.startswith("checkpoints/")} == {
        "checkpoints/model_128_steps.zip",
        "checkpoints/model_256_steps.zip",
    }
    events = [f for f in files if f.startswith("tb/") and "events.out.tfevents" in f]
    assert events and all((finished_run / f).stat().st_size > 0 for f in events)
    assert not [f for f in files if ".tmp" in Path(f).name]  # atomic writes left nothing
    assert PPO.load(finished_run / "model.zip", device="cpu").num_timesteps == 256


def test_saved_config_rebuilds_the_run(finished_run):
    config = yaml.safe_load((finished_run / "config.yml").read_text())
    assert config["agent"] == "ppo" and config["algo"] == "PPO"
    assert config["env_id"] == "cellsim/Tilt-v0"
    assert config["scenario"] == config["scenario_name"] == "hex7"
    assert config["timesteps"] == 256 and config["n_envs"] == 1 and config["seed"] == 0
    # the whole env config: the scenario's defaults with the overrides merged in
    env_config = EnvConfig.model_validate(config["env_config"])
    assert env_config.episode_hours == 2 and env_config.action == "discrete"
    assert env_config.step_minutes == 15 and env_config.tilt_max_deg == 15
    # the YAML entry with the overrides on top
    zoo = yaml.safe_load((AGENTS_DIR / "ppo.yml").read_text())["cellsim/Tilt-v0"]
    assert config["hyperparams"] == {**zoo, **TINY_PPO}
    assert config["hyperparams"]["gamma"] == zoo["gamma"]
    import gymnasium
    import stable_baselines3
    import torch

    assert config["versions"]["cellsim"] == cellsim.__version__
    assert config["versions"]["stable_baselines3"] == stable_baselines3.__version__
    assert config["versions"]["gymnasium"] == gymnasium.__version__
    assert config["versions"]["torch"] == str(torch.__version__)
    assert config["versions"]["numpy"] == np.__version__
    assert set(config["versions"]) >= {"python"}


def test_metrics_summarise_the_evaluations(finished_run):
    metrics = json.loads((finished_run / "metrics.json").read_text())
    evals = np.load(finished_run / "eval" / "evaluations.npz")
    assert metrics["timesteps"] == 256
    assert metrics["eval_timesteps"] == [128, 256] == evals["timesteps"].tolist()
    assert evals["results"].shape == (2, 1)  # 2 evaluations × eval_episodes
    np.testing.assert_allclose(metrics["eval_mean_reward"], evals["results"].mean(axis=1))
    assert evals["ep_lengths"].tolist() == [[8], [8]]  # 2-hour evaluation episodes


def test_load_run_gives_a_model_that_plays_the_saved_env(finished_run):
    model, config = load_run(finished_run)
    assert isinstance(model, PPO)
    env = TiltEnv(config["scenario"], config["env_config"])
    assert model.observation_space == env.observation_space
    assert model.action_space == env.action_space
    result = run_episode(env, model, seed=3)
    assert np.isfinite(result.reward)
    assert len(result.hours) == 8
    again = run_episode(env, model, seed=3)
    assert again.reward == result.reward  # deterministic actions, same seed


def assert_same_weights(run_a: Path, run_b: Path) -> None:
    """Two runs' trained weights and optimiser state are the same bit for bit."""
    for name in ("policy.pth", "policy.optimizer.pth"):
        with zipfile.ZipFile(run_a / "model.zip") as a, zipfile.ZipFile(run_b / "model.zip") as b:
            assert a.read(name) == b.read(name), name


def test_training_without_torchs_distribution_checks_learns_the_same_weights(
    finished_run, tmp_path, monkeypatch
):
    """PPO learns with torch's distribution argument checks off (a third of its time); the
    weights are the same bit for bit as with them on, and torch's default is back on after."""
    from torch.distributions import Distribution

    assert Distribution._validate_args  # the default outside training
    monkeypatch.setattr(trainer, "unchecked_distributions", contextlib.nullcontext)
    checked = train(spec(tmp_path / "checked"))
    assert_same_weights(finished_run, checked)
    assert Distribution._validate_args


def test_training_without_sb3s_deep_copy_of_infos_learns_the_same_weights(
    finished_run, tmp_path, monkeypatch
):
    """The training VecEnv hands out each step's infos without SB3's deep copy (the env builds
    new ones every step, truncated episodes included): the same weights bit for bit as with it."""
    from cellsim.training import envs

    venv = envs.vec_env(agent_spec("ppo"), "hex7", {}, 1, 0)
    venv.reset()
    infos = venv.step(np.array([[1] * 21]))[3]
    assert infos[0] is venv.buf_infos[0]  # handed out, not copied
    monkeypatch.setattr(envs, "infos_not_deep_copied", lambda venv: venv)
    copied = train(spec(tmp_path / "copied"))
    assert_same_weights(finished_run, copied)


def test_load_run_rejects_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ConfigError, match=r"config\.yml"):
        load_run(tmp_path)


def test_load_run_falls_back_to_the_last_checkpoint(finished_run, tmp_path):
    """An interrupted run has no model.zip: load_run takes its latest checkpoint."""
    partial = tmp_path / "partial"
    (partial / "checkpoints").mkdir(parents=True)
    shutil.copy(finished_run / "config.yml", partial / "config.yml")
    with pytest.raises(ConfigError, match="checkpoint"):
        load_run(partial)
    for name in ("model_128_steps.zip", "model_256_steps.zip"):
        shutil.copy(finished_run / "checkpoints" / name, partial / "checkpoints" / name)
    model, config = load_run(partial)
    assert isinstance(model, PPO) and model.num_timesteps == 256
    assert config["agent"] == "ppo"


def test_a_run_folder_is_never_overwritten(finished_run):
    before = {f: digest(finished_run / f) for f in ("model.zip", "config.yml", "metrics.json")}
    with pytest.raises(ConfigError, match="not empty"):
        train(spec(finished_run, timesteps=64))
    after = {f: digest(finished_run / f) for f in before}
    assert after == before


def test_default_run_folders_count_up(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    quick = {"timesteps": 64, "eval_freq": 10**6, "checkpoint_freq": 10**6}
    first = train(spec(None, **quick))
    second = train(spec(None, **quick))
    assert first.resolve() == (tmp_path / "runs" / "ppo" / "hex7_1").resolve()
    assert second.resolve() == (tmp_path / "runs" / "ppo" / "hex7_2").resolve()
    assert (first / "model.zip").is_file() and (second / "model.zip").is_file()
    # numbering continues after the highest number, whatever else is in the folder
    (tmp_path / "runs" / "ppo" / "hex7_10").mkdir()
    (tmp_path / "runs" / "ppo" / "hex7_old").mkdir()
    (tmp_path / "runs" / "ppo" / "case1_30").mkdir()
    run, _ = _prepare_run(spec(None))
    assert run.resolve() == (tmp_path / "runs" / "ppo" / "hex7_11").resolve()


# ------------------------------------------------------------------------ interrupt, resume


@pytest.fixture(scope="module")
def interrupted_then_resumed(tmp_path_factory):
    """A 256-step run (evaluations every 64 steps, checkpoints every 128) interrupted by a
    KeyboardInterrupt at step 192, then resumed."""
    out = tmp_path_factory.mktemp("resume") / "run"
    info: dict = {"out": out}
    with pytest.MonkeyPatch.context() as mp:
        add_callback(mp, StopAt(192))
        with pytest.raises(KeyboardInterrupt):
            train(spec(out, eval_freq=64))
    info["after_interrupt"] = tree(out)
    info["evals_before"] = np.load(out / "eval" / "evaluations.npz")["timesteps"].tolist()
    counter = CountSteps()
    with pytest.MonkeyPatch.context() as mp:
        add_callback(mp, counter)
        info["run"] = train(
            TrainSpec(
                resume=True,
                out=str(out),
                progress_bar=False,
                eval_freq=64,
                eval_episodes=1,
                checkpoint_freq=128,
            )
        )
    info["counter"] = counter
    return info


def test_interrupt_saves_a_checkpoint_and_propagates(interrupted_then_resumed):
    files = interrupted_then_resumed["after_interrupt"]
    assert "checkpoints/model_128_steps.zip" in files  # the periodic one
    assert "checkpoints/model_192_steps.zip" in files  # the one saved on Ctrl-C
    assert "model.zip" not in files and "metrics.json" not in files
    assert not [f for f in files if ".tmp" in Path(f).name]
    assert interrupted_then_resumed["evals_before"] == [64, 128, 192]


def test_resume_continues_from_the_last_checkpoint_to_the_total(interrupted_then_resumed):
    run, counter = interrupted_then_resumed["run"], interrupted_then_resumed["counter"]
    assert Path(run) == interrupted_then_resumed["out"]
    assert counter.start_timesteps == 192
    assert counter.steps == 256 - 192  # only the missing steps, not the whole run again
    assert PPO.load(run / "model.zip", device="cpu").num_timesteps == 256
    assert json.loads((run / "metrics.json").read_text())["timesteps"] == 256
    config = yaml.safe_load((run / "config.yml").read_text())
    assert config["timesteps"] == 256  # the saved config drives the resumed run


def test_resume_keeps_the_evaluation_history(interrupted_then_resumed):
    run = interrupted_then_resumed["run"]
    evals = np.load(run / "eval" / "evaluations.npz")["timesteps"].tolist()
    assert evals[:3] == [64, 128, 192]
    assert json.loads((run / "metrics.json").read_text())["eval_timesteps"][:3] == [64, 128, 192]


def test_resume_needs_a_run_folder(tmp_path):
    with pytest.raises(ConfigError, match="--out"):
        train(TrainSpec(resume=True, progress_bar=False))
    (tmp_path / "notes.txt").write_text("not a run")
    with pytest.raises(ConfigError, match=r"config\.yml"):
        train(TrainSpec(resume=True, out=str(tmp_path), progress_bar=False))
    with pytest.raises(ConfigError, match=r"config\.yml"):
        train(TrainSpec(resume=True, out=str(tmp_path / "missing"), progress_bar=False))
    assert tree(tmp_path) == {"notes.txt"}


def test_resuming_a_finished_run_without_checkpoints_changes_nothing(tmp_path, capsys):
    run = train(spec(tmp_path / "run", timesteps=64, eval_freq=10**6, checkpoint_freq=10**6))
    before = digest(run / "model.zip")
    assert train(TrainSpec(resume=True, out=str(run), progress_bar=False)) == run
    assert "already finished" in capsys.readouterr().out
    assert digest(run / "model.zip") == before


def test_resuming_a_finished_run_with_an_older_checkpoint_changes_nothing(tmp_path, capsys):
    hyper = {"n_steps": 32, "batch_size": 32, "n_epochs": 1}
    run = train(
        spec(tmp_path / "run", timesteps=96, hyperparams=hyper, eval_freq=10**6, checkpoint_freq=64)
    )
    assert latest_checkpoint(run).name == "model_64_steps.zip"
    before = digest(run / "model.zip")
    train(TrainSpec(resume=True, out=str(run), progress_bar=False, eval_freq=10**6))
    assert digest(run / "model.zip") == before
    assert "already finished" in capsys.readouterr().out


def test_latest_checkpoint_orders_by_steps_not_by_name(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    (tmp_path / "checkpoints").mkdir()
    for steps in (900, 1000, 20):
        (tmp_path / "checkpoints" / f"model_{steps}_steps.zip").write_bytes(b"")
    assert latest_checkpoint(tmp_path).name == "model_1000_steps.zip"


# ------------------------------------------------------------------------ agents and actions


def test_dqn_is_rejected_on_a_multi_cell_network(tmp_path):
    with pytest.raises(ConfigError, match="Discrete"):
        train(spec(tmp_path / "dqn", agent="dqn", hyperparams={}, timesteps=64))


def test_a_rejected_agent_leaves_no_run_folder(tmp_path):
    out = tmp_path / "dqn"
    with pytest.raises(ConfigError):
        train(spec(out, agent="dqn", hyperparams={}, timesteps=64))
    assert not out.exists() or not any(out.iterdir())


def test_unknown_agent_is_rejected_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="ppo"):
        train(spec(tmp_path / "x", agent="dreamer"))
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("agent", ["sac", "td3"])
def test_continuous_agents_get_a_continuous_env(tmp_path, agent):
    run, config = _prepare_run(spec(tmp_path / agent, agent=agent, hyperparams={}))
    assert config["env_config"]["action"] == "continuous"
    saved = yaml.safe_load((run / "config.yml").read_text())
    assert saved["env_config"]["action"] == "continuous"
    assert saved["env_config"]["episode_hours"] == 2  # the other overrides are kept
    assert saved["algo"] == agent.upper()


@pytest.mark.parametrize("agent", ["ppo", "a2c"])
def test_discrete_agents_refuse_a_continuous_env(tmp_path, agent):
    with pytest.raises(ConfigError, match="discrete"):
        _prepare_run(spec(tmp_path / agent, agent=agent, hyperparams={},
                          config={"action": "continuous"}))  # fmt: skip
    assert not (tmp_path / agent).exists()


def test_sac_run_checkpoints_its_replay_buffer_and_resumes_with_it(tmp_path, monkeypatch):
    out = tmp_path / "sac"
    hyper = {
        "learning_starts": 16,
        "batch_size": 16,
        "buffer_size": 1000,
        "policy_kwargs": "dict(net_arch=[32, 32])",
    }
    sac = spec(
        out, agent="sac", hyperparams=hyper, timesteps=64, eval_freq=10**6, checkpoint_freq=32
    )
    with pytest.MonkeyPatch.context() as mp:
        add_callback(mp, StopAt(48))
        with pytest.raises(KeyboardInterrupt):
            train(sac)
    files = tree(out)
    assert {
        "checkpoints/model_32_steps.zip",
        "checkpoints/model_48_steps.zip",
        "checkpoints/replay_buffer.pkl",
    } <= files
    assert not [f for f in files if ".tmp" in Path(f).name]
    counter = CountSteps()
    add_callback(monkeypatch, counter)
    run = train(TrainSpec(resume=True, out=str(out), progress_bar=False, eval_freq=10**6))
    assert counter.start_timesteps == 48 and counter.steps == 16
    # the transitions collected before the interruption (a fresh buffer would be empty; the
    # 48th is lost: SB3 stores a transition after the callback that raised)
    assert counter.start_buffer >= 47
    model = SAC.load(run / "model.zip", device="cpu")
    assert model.num_timesteps == 64
    assert model.policy_kwargs["net_arch"] == [32, 32]


# ------------------------------------------------------------------------ atomic checkpoints


def test_save_checkpoint_writes_a_temp_file_then_renames(finished_run, tmp_path, monkeypatch):
    model = PPO.load(finished_run / "model.zip", device="cpu")
    calls = []
    real_replace = os.replace

    def recording_replace(src, dst, *args, **kwargs):
        calls.append((Path(src), Path(dst), Path(src).is_file() and Path(src).stat().st_size))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", recording_replace)
    path = save_checkpoint(model, tmp_path)
    assert path == tmp_path / "checkpoints" / "model_256_steps.zip"
    assert len(calls) == 1
    src, dst, size = calls[0]
    assert dst == path
    assert src.parent == path.parent and src.name.startswith(".model_256_steps.zip.")  # hidden
    assert size and size > 0  # the temp file was complete before the rename
    assert not src.exists()
    assert PPO.load(path, device="cpu").num_timesteps == 256
    assert tree(tmp_path) == {"checkpoints", "checkpoints/model_256_steps.zip"}


def test_a_crash_while_saving_leaves_the_old_checkpoint_intact(finished_run, tmp_path):
    model = PPO.load(finished_run / "model.zip", device="cpu")
    path = save_checkpoint(model, tmp_path)
    good = digest(path)

    def crash(target, *args, **kwargs):
        Path(target).write_bytes(b"half a zip")
        raise OSError("disk full")

    model.save = crash
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(model, tmp_path)
    assert digest(path) == good
    assert tree(tmp_path) == {"checkpoints", "checkpoints/model_256_steps.zip"}


# ------------------------------------------------------------------------ hyperparameters


def test_algo_kwargs_parses_rl_zoo_policy_kwargs():
    zoo = {
        "n_envs": 4,
        "n_timesteps": 3e5,
        "policy": "MlpPolicy",
        "normalize": True,
        "gamma": 0.9,
        "policy_kwargs": "dict(net_arch=[128, 128], ortho_init=False)",
    }
    assert algo_kwargs(zoo) == {
        "gamma": 0.9,
        "policy_kwargs": {"net_arch": [128, 128], "ortho_init": False},
    }
    as_dict = {"policy_kwargs": {"net_arch": [8]}}  # from --hyperparams JSON
    assert algo_kwargs(as_dict) == as_dict
    assert zoo["policy_kwargs"].startswith("dict(")  # the input is not modified


@pytest.mark.parametrize(
    "text", ["__import__('os')", "[128, 128]", "list(net_arch=[1])", "os.system('true')"]
)
def test_algo_kwargs_rejects_other_expressions(text):
    with pytest.raises(ConfigError, match="dict"):
        algo_kwargs({"policy_kwargs": text})


@pytest.mark.parametrize(
    "text",
    [
        "dict(net_arch=[64], activation_fn=nn.ReLU)",
        "dict(a=__import__('os'))",
        "dict(net_arch=[64,",
    ],
)
def test_algo_kwargs_rejects_non_literal_values_as_config_errors(text):
    with pytest.raises(ConfigError):
        algo_kwargs({"policy_kwargs": text})


def test_algo_kwargs_parses_nested_dicts_as_rl_zoo_writes_them():
    nested = algo_kwargs({"policy_kwargs": "dict(net_arch=dict(pi=[64], vf=[64, 64]))"})
    assert nested["policy_kwargs"] == {"net_arch": {"pi": [64], "vf": [64, 64]}}


def test_algo_kwargs_reads_rl_zoo_linear_schedules():
    kwargs = algo_kwargs({"learning_rate": "lin_1e-3", "clip_range": "lin_0.2", "gamma": 0.9})
    assert kwargs["learning_rate"](1.0) == pytest.approx(1e-3)
    assert kwargs["learning_rate"](0.25) == pytest.approx(2.5e-4)
    assert kwargs["clip_range"](0.0) == 0.0
    assert kwargs["gamma"] == 0.9


@pytest.mark.parametrize("text", ["lin_", "lin_fast", "lin_-1e-3", "lin_0"])
def test_algo_kwargs_rejects_bad_schedules_naming_the_field(text):
    with pytest.raises(ConfigError, match=f"learning_rate '{text}'"):
        algo_kwargs({"learning_rate": text})


def test_a_scheduled_run_saves_and_reloads_its_schedule(tmp_path):
    run = tmp_path / "lin"
    train(spec(run, hyperparams={**TINY_PPO, "learning_rate": "lin_1e-3"}, timesteps=128))
    model, _ = load_run(run)
    assert model.lr_schedule(0.5) == pytest.approx(5e-4)
    assert model.learning_rate(0.5) == pytest.approx(5e-4)


def test_every_agent_file_loads_and_parses():
    for agent, entry in training.AGENTS.items():
        hyper = load_hyperparams(agent)
        check_keys(entry, hyper, agent)  # every key an argument of its algorithm
        kwargs = algo_kwargs(hyper)
        assert not set(kwargs) & {"n_envs", "n_timesteps", "policy", "env_config"}
        assert isinstance(kwargs.get("policy_kwargs", {}), dict), agent
        assert hyper["policy"] in ("MlpPolicy", *training.CELLSIM_POLICIES), entry.algorithm
        assert training.resolve_policy(hyper["policy"]) is not None


def test_load_hyperparams_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_hyperparams("ppo", tmp_path / "missing.yml")
    other = tmp_path / "other.yml"
    other.write_text("CartPole-v1:\n  n_envs: 8\n")
    with pytest.raises(ConfigError, match="cellsim/Tilt-v0"):
        load_hyperparams("ppo", other)
    broken = tmp_path / "broken.yml"
    broken.write_text("cellsim/Tilt-v0: [unclosed\n")
    with pytest.raises(ConfigError, match="YAML"):
        load_hyperparams("ppo", broken)


# ------------------------------------------------------------------------ the command line


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


TINY_CLI = [
    "--hyperparams",
    json.dumps(TINY_PPO),
    "--config",
    json.dumps(SHORT_DAY),
    "--n-envs",
    "1",
    "--no-progress",
]


def test_cli_train(tmp_path, capsys):
    out = tmp_path / "cli-run"
    code, stdout, err = run_cli(
        capsys,
        "train",
        "--agent",
        "ppo",
        "--timesteps",
        "128",
        "--seed",
        "3",
        "--out",
        str(out),
        *TINY_CLI,
    )
    assert code == 0, err
    assert stdout.strip().endswith(f"run folder: {out}")
    config = yaml.safe_load((out / "config.yml").read_text())
    assert config["timesteps"] == 128 and config["seed"] == 3 and config["n_envs"] == 1
    assert config["hyperparams"]["n_steps"] == 64
    assert config["env_config"]["episode_hours"] == 2
    assert PPO.load(out / "model.zip", device="cpu").num_timesteps == 128
    # the same --out again: refused, one line
    line = one_error_line(
        *run_cli(capsys, "train", "--agent", "ppo", "--out", str(out), *TINY_CLI)[::2]
    )
    assert str(out) in line and "--resume" in line


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--agent", "ppo", "--config", "{not json"], "--config"),
        (["--agent", "ppo", "--config", "[1, 2]"], "--config"),
        (["--agent", "ppo", "--config", '{"episode_hours": -1}'], "episode_hours"),
        (["--agent", "ppo", "--config", '{"tilt_stepp_deg": 2}'], "tilt_stepp_deg"),
        (["--agent", "ppo", "--hyperparams", "nope"], "--hyperparams"),
        (["--agent", "ppo", "--hyperparams", '{"learning_rate": "lin_fast"}'], "lin_fast"),
        (["--agent", "ppo", "--hyperparams", '{"policy_kwargs": "dict(a=b)"}'], "policy_kwargs"),
        (["--agent", "dreamer"], "--agent"),
        (["--agent", "ppo", "--timesteps", "0"], "--timesteps"),
        (["--agent", "ppo", "--resume"], "--resume"),
        (["--agent", "dqn"], "Discrete"),
    ],
)
def test_cli_train_user_errors_are_one_line(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "train", *argv)
    assert needle in one_error_line(code, err)
    assert not (tmp_path / "runs" / "ppo").exists()


def test_cli_ctrl_c_exits_130_with_a_checkpoint(tmp_path, capsys, monkeypatch):
    add_callback(monkeypatch, StopAt(64))
    out = tmp_path / "stopped"
    code, stdout, _ = run_cli(
        capsys, "train", "--agent", "ppo", "--timesteps", "256", "--out", str(out), *TINY_CLI
    )
    assert code == 130
    assert (out / "checkpoints" / "model_64_steps.zip").is_file()
    assert f"--resume --out {out}" in stdout


# -- shared per-cell policy -------------------------------------------------------------------


#: A tiny run of each shared agent: ppo-shared steps hex7 (timesteps count network steps),
#: ippo-shared its 21 cells as sub-envs (timesteps count cell-steps), dagger-shared imitates the
#: reference for one short episode and takes no PPO step.
SHARED_RUNS = {
    "ppo-shared": {"timesteps": 8 * 2, "hyperparams": {"n_steps": 8, "batch_size": 8,
                                                       "n_epochs": 1}, "every": 8},
    "ippo-shared": {"timesteps": 21 * 8 * 2, "hyperparams": {
        "policy": "MlpPolicy", "n_steps": 8, "batch_size": 84, "n_epochs": 1}, "every": 21 * 8},
    "dagger-shared": {"timesteps": 0, "hyperparams": {"imitation": {
        "iterations": 1, "episodes_per_iteration": 1, "epochs": 1}}, "every": 8},
}  # fmt: skip


@pytest.fixture(scope="module", params=sorted(SHARED_RUNS))
def shared_run(request, tmp_path_factory):
    agent, tiny = request.param, SHARED_RUNS[request.param]
    run = tmp_path_factory.mktemp(agent) / "run"
    train(spec(run, agent=agent, timesteps=tiny["timesteps"], n_envs=1,
               hyperparams=tiny["hyperparams"], eval_freq=tiny["every"],
               checkpoint_freq=tiny["every"]))  # fmt: skip
    return run


def test_shared_run_counts_its_steps_and_saves_its_neighbour_count(shared_run):
    config = yaml.safe_load((shared_run / "config.yml").read_text())
    assert config["agent"] in SHARED_RUNS
    in_file = load_hyperparams(config["agent"]).get("env_config", {}).get("per_cell", {})
    assert config["env_config"]["per_cell"]["neighbours"] == in_file.get("neighbours", 6)
    metrics = json.loads((shared_run / "metrics.json").read_text())
    assert metrics["timesteps"] == SHARED_RUNS[config["agent"]]["timesteps"]


@pytest.mark.parametrize("scenario, n_cells", [("case1", 57), ("city", 33), ("outage", 21)])
def test_a_shared_policy_trained_on_hex7_runs_on_other_networks(shared_run, scenario, n_cells):
    env = TiltEnv(scenario, {"episode_hours": 1})
    policy = load_run(shared_run)[0].bind(env)
    obs, _ = env.reset(seed=0)
    action, _ = policy.predict(obs)
    assert action.shape == (n_cells,) and env.action_space.contains(action)
    episode = run_episode(env, policy, seed=1)
    assert np.isfinite(episode.reward) and len(episode.per_step["reward"]) == 4


def test_compare_accepts_a_shared_policy_on_another_network(shared_run):
    from cellsim.evaluation import compare

    results = compare("outage", ["rule-son", f"shared={shared_run}"], episodes=1,
                      config={"episode_hours": 1})  # fmt: skip
    assert set(results) == {"rule-son", "shared", "rule-geometric", "reference"}
    assert np.isfinite(results["shared"].episodes[0].reward)


def test_an_unbound_shared_model_says_how_to_use_it(shared_run):
    with pytest.raises(ConfigError, match="bind"):
        load_run(shared_run)[0].predict(np.zeros(10))
