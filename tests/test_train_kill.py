"""A real `cellsim train` killed with SIGKILL, then resumed (issue 16, item 3): it loses at most
one checkpoint interval, continues from its last checkpoint and finishes; killed before any
checkpoint, it restarts cleanly from step 0 and says so; the evaluation history is kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from cellsim.training import latest_checkpoint

CELLSIM = [sys.executable, "-c", "import sys; from cellsim.cli import main; sys.exit(main())"]
TINY = ["--hyperparams", json.dumps({"n_steps": 64, "batch_size": 64, "n_epochs": 1}),
        "--config", json.dumps({"episode_hours": 2}), "--n-envs", "1", "--no-progress",
        "--eval-every", "64"]  # fmt: skip
TOTAL = 1536


def start(out: Path, minutes: float) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [*CELLSIM, "train", "--agent", "ppo", "--timesteps", str(TOTAL), "--out", str(out),
         "--checkpoint-minutes", str(minutes), *TINY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def kill_when(proc: subprocess.Popen[str], ready: object, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never reached the point to kill it at"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def resume(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CELLSIM, "train", "--resume", "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def model_steps(path: Path) -> int:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return int(json.loads(z.read("data"))["num_timesteps"])


def test_sigkill_after_a_time_checkpoint_resumes_from_it(tmp_path):
    out = tmp_path / "run"
    proc = start(out, minutes=0.02)  # a checkpoint every 1.2 s of training
    kill_when(proc, lambda: latest_checkpoint(out) is not None)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "model.zip").exists(), "finished before the kill: make TOTAL larger"
    checkpoint = latest_checkpoint(out)
    assert checkpoint is not None
    steps = int(checkpoint.stem.split("_")[1])
    assert 0 < steps < TOTAL
    before = np.load(out / "eval" / "evaluations.npz")["timesteps"].tolist() if (
        out / "eval" / "evaluations.npz").is_file() else []  # fmt: skip
    done = resume(out)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    # it may have written a later checkpoint between the look and the kill
    assert "resuming from model_" in done.stdout
    # PPO collects whole rollouts (64 steps) from the checkpoint's step: up to one more
    assert TOTAL <= model_steps(out / "model.zip") < TOTAL + 64
    assert json.loads((out / "metrics.json").read_text())["timesteps"] >= TOTAL
    evals = np.load(out / "eval" / "evaluations.npz")["timesteps"].tolist()
    assert evals == sorted(set(evals)) and evals[-1] > steps  # one entry per step count
    kept = [t for t in before if t <= steps]
    assert evals[: len(kept)] == kept  # the history the checkpoint covers is kept
    if before:
        assert (out / "eval" / "evaluations.before-resume-1.npz").is_file()


def test_sigkill_before_any_checkpoint_restarts_cleanly(tmp_path):
    out = tmp_path / "run"
    proc = start(out, minutes=60)
    kill_when(proc, lambda: (out / "eval" / "evaluations.npz").is_file())
    assert latest_checkpoint(out) is None and not (out / "model.zip").exists()
    before = np.load(out / "eval" / "evaluations.npz")["timesteps"].tolist()
    assert before
    done = resume(out)
    assert done.returncode == 0, done.stderr
    assert "restarting cleanly from step 0" in done.stdout
    assert model_steps(out / "model.zip") == TOTAL
    evals = np.load(out / "eval" / "evaluations.npz")["timesteps"].tolist()
    assert evals == sorted(set(evals)) and evals[0] == 64 and evals[-1] == TOTAL
    archived = np.load(out / "eval" / "evaluations.before-resume-1.npz")["timesteps"].tolist()
    assert archived == before  # nothing lost: the killed attempt's evaluations are kept aside
    assert yaml.safe_load((out / "config.yml").read_text())["timesteps"] == TOTAL


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--agent", "a2c"), ("--timesteps", "5"), ("--seed", "9"), ("--scenario", "case1"),
     ("--n-envs", "2"), ("--config", '{"episode_hours": 3}'),
     ("--hyperparams", '{"n_steps": 32}'), ("--eval-every", "7")],
)  # fmt: skip
def test_resume_refuses_flags_that_differ_from_the_saved_run(tmp_path, capsys, flag, value):
    from cellsim.cli import main

    out = tmp_path / "run"
    out.mkdir()
    config = {"agent": "ppo", "scenario": "hex7", "timesteps": 64, "seed": 0, "n_envs": 1,
              "env_config": {}, "hyperparams": {"n_steps": 64}, "eval_freq": 10_000}  # fmt: skip
    from cellsim.scenario import load_scenario

    config["env_config"] = load_scenario("hex7").env.model_dump(mode="json")
    (out / "config.yml").write_text(yaml.safe_dump(config))
    code = main(["train", "--resume", "--out", str(out), flag, value])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and flag in err, err
    assert "differ" in err or "changes" in err
    assert not (out / "checkpoints").exists()
