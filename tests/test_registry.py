"""The agent registry: every entry trains from `cellsim train`, an sb3-contrib algorithm
(MaskablePPO) among them, and a user's own hyperparameter file replaces an agent's defaults."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from cellsim.env.tilt_env import TiltEnv
from cellsim.evaluation import compare, load_policy
from cellsim.training import AGENTS, agents_dir, load_run
from tests.test_cli import error_line, run_cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py
TINY = {"n_steps": 32, "batch_size": 32, "n_epochs": 1}
SHORT_DAY = {"episode_hours": 2}


def test_every_entry_has_its_algorithm_and_defaults_file():
    for name, spec in AGENTS.items():
        assert spec.algo_class().__name__ == spec.algorithm.partition(":")[2], name
        assert (agents_dir() / spec.defaults_file).is_file(), name


def _train(capsys, out: Path, *extra: str) -> None:
    code, _, err = run_cli(
        capsys, "train", "--scenario", "hex7", "--timesteps", "64", "--n-envs", "1",
        "--config", json.dumps(SHORT_DAY), "--no-progress", "--out", str(out), *extra,
    )  # fmt: skip
    assert code == 0, err


def test_maskable_ppo_from_sb3_contrib_trains_loads_and_compares(tmp_path, capsys):
    run = tmp_path / "maskable"
    _train(capsys, run, "--agent", "maskable-ppo", "--hyperparams", json.dumps(TINY))
    config = yaml.safe_load((run / "config.yml").read_text())
    assert config["algo"] == "MaskablePPO"
    from sb3_contrib import MaskablePPO

    assert MaskablePPO.load(run / "model.zip", device="cpu").num_timesteps == 64
    env = TiltEnv("hex7", SHORT_DAY)
    _, policy = load_policy(f"m={run}", env)
    obs, _ = env.reset(seed=0)
    env.tilt_deg[:] = env.tilt_space.max_deg  # at the bottom of the range: no cell may go down
    obs, *_ = env.step(np.ones(env.sim.n_cells, np.int64))
    for _ in range(4):
        action = policy.predict(obs)[0]
        assert action.shape == (env.sim.n_cells,)
        at_max = env.tilt_deg >= env.tilt_space.max_deg
        assert not np.any((action == 0) & at_max)  # masked: never "down" at tilt_max_deg
        obs, *_ = env.step(action)
    results = compare("hex7", [f"m={run}"], episodes=1, config=SHORT_DAY)
    assert np.isfinite(results["m"].episodes[0].reward)


def test_action_masks_follow_the_tilt_range():
    env = TiltEnv("hex7", SHORT_DAY)
    env.reset(seed=0)
    env.tilt_deg[:3] = [env.tilt_space.min_deg, env.tilt_space.max_deg, 7.0]
    masks = env.action_masks().reshape(-1, 3)
    np.testing.assert_array_equal(masks[:3], [[1, 1, 0], [0, 1, 1], [1, 1, 1]])


def test_a_users_hyperparameter_file_replaces_the_defaults(tmp_path, capsys):
    own = tmp_path / "mine.yml"
    own.write_text(yaml.safe_dump({"cellsim/Tilt-v0": {
        "policy": "MlpPolicy", "n_steps": 32, "batch_size": 32, "n_epochs": 1,
        "learning_rate": 7e-4,
    }}))  # fmt: skip
    run = tmp_path / "run"
    _train(capsys, run, "--agent", "ppo", "--hyperparams-file", str(own))
    config = yaml.safe_load((run / "config.yml").read_text())
    assert config["hyperparams"]["learning_rate"] == 7e-4
    assert config["hyperparams"]["policy"] == "MlpPolicy"  # not ppo.yml's PerCellPolicy
    model, _ = load_run(run)
    assert model.learning_rate == 7e-4


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ({"cellsim/Tilt-v0": {"n_stepz": 32}}, "n_stepz"),
        ({"cellsim/Tilt-v0": {"imitation": {}}}, "imitation"),
        ({"CartPole-v1": {"n_steps": 32}}, "cellsim/Tilt-v0"),
        ({"cellsim/Tilt-v0": [1, 2]}, "mapping"),
        ("just text", "cellsim/Tilt-v0"),
    ],
)
def test_a_bad_hyperparameter_file_is_error_line(tmp_path, capsys, content, needle):
    own = tmp_path / "bad.yml"
    own.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--agent", "ppo", "--hyperparams-file", str(own),
                           "--out", str(out))  # fmt: skip
    line = error_line(code, err)
    assert needle in line and str(own) in line
    assert not out.exists()


def test_a_missing_hyperparameter_file_or_unknown_key_in_json_is_error_line(tmp_path, capsys):
    line = error_line(*run_cli(capsys, "train", "--agent", "ppo", "--hyperparams-file",
                             str(tmp_path / "nope.yml"))[::2])  # fmt: skip
    assert "nope.yml" in line and "cannot read" in line
    line = error_line(*run_cli(capsys, "train", "--agent", "a2c", "--hyperparams",
                             '{"clip_range": 0.2}', "--out", str(tmp_path / "r"))[::2])  # fmt: skip
    assert "clip_range" in line and "a2c" in line


def test_resume_needs_only_the_run_folder(tmp_path, capsys):
    """The README's `cellsim train --resume --out DIR`: the agent comes from the run's config."""
    run = tmp_path / "run"
    _train(capsys, run, "--agent", "a2c", "--hyperparams", '{"n_steps": 8}')
    code, out, err = run_cli(capsys, "train", "--resume", "--out", str(run), "--no-progress")
    assert code == 0, err
    assert "already finished" in out
    line = error_line(*run_cli(capsys, "train", "--out", str(tmp_path / "other"))[::2])
    assert "--agent is required" in line
