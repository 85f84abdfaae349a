"""Loading run folders without running code from them (issue 16, item 4), and run folders that
are damaged or foreign: one line, exit 2."""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from cellsim.errors import ConfigError
from cellsim.training import TrainSpec, load_run, train
from cellsim.training.loading import TRUST_FLAG, run_model_path, safe_load
from cellsim.training.registry import agent_spec
from cellsim.training.runs import read_run_config
from tests.test_cli import error_line, run_cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHORT = {"episode_hours": 2}
TINY = {
    "ppo": ({"n_steps": 64, "batch_size": 64, "n_epochs": 1}, 64),
    "a2c": ({"n_steps": 8}, 16),
    "sac": ({"learning_starts": 8, "buffer_size": 500, "batch_size": 8}, 16),
    "maskable-ppo": ({"n_steps": 16, "batch_size": 16, "n_epochs": 1}, 16),
    "ppo-shared": ({"n_steps": 8, "batch_size": 8, "n_epochs": 1}, 16),
    "dagger-shared": ({"imitation": {"iterations": 1, "episodes_per_iteration": 1,
                                     "epochs": 1}}, 0),
}  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for agent, (hyper, steps) in TINY.items():
        out[agent] = train(TrainSpec(agent=agent, timesteps=steps, n_envs=1, hyperparams=hyper,
                                     eval_freq=10**6, eval_episodes=1, config=dict(SHORT),
                                     progress_bar=False, out=str(root / agent)))  # fmt: skip
    return out


@pytest.mark.parametrize("agent", sorted(TINY))
def test_the_safe_load_predicts_exactly_what_sb3s_load_gives(runs, agent):
    run = runs[agent]
    config = read_run_config(run)
    spec = agent_spec(config["agent"])
    path = run_model_path(run)
    safe = safe_load(spec, path, config)
    sb3 = spec.algo_class().load(path, device="cpu")
    assert type(safe.policy) is type(sb3.policy)
    a, b = safe.policy.state_dict(), sb3.policy.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    sb3.observation_space.seed(0)
    obs = np.stack([sb3.observation_space.sample() for _ in range(32)])
    np.testing.assert_array_equal(safe.predict(obs, deterministic=True)[0],
                                  sb3.predict(obs, deterministic=True)[0])  # fmt: skip


def craft(run: Path, dest: Path, field: str, payload: object) -> Path:
    """A copy of `run` whose model.zip carries `payload` pickled in the data field `field`."""
    shutil.copytree(run, dest)
    for name in ("best_model.zip",):
        (dest / name).unlink(missing_ok=True)
    src = run / "model.zip"
    with zipfile.ZipFile(src) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    data = json.loads(entries["data"])
    data[field] = {":type:": "x", ":serialized:": base64.b64encode(pickle.dumps(payload)).decode()}
    entries["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(dest / "model.zip", "w") as z:
        for n, blob in entries.items():
            z.writestr(n, blob)
    return dest


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The one stderr line of `cellsim ARGV` failing as a user error."""
    return error_line(*run_cli(capsys, *argv)[::2])


def test_a_crafted_pickle_does_not_run_and_the_command_names_the_flag(runs, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = craft(runs["ppo"], tmp_path / "evil", "policy_kwargs", _Evil(marker))
    line = one_line(capsys, ["compare", "--agents", f"evil={evil}", "--episodes", "1"])
    assert TRUST_FLAG in line and ("posix.system" in line or "os.system" in line)
    assert not marker.exists()
    line = one_line(capsys, ["map", "--policy", str(evil), "--out", str(tmp_path / "m.png")])
    assert TRUST_FLAG in line and not marker.exists()
    # the file is real: SB3's own load (what the flag allows) runs it
    with pytest.raises(Exception):  # noqa: B017 - whatever it fails with after the payload ran
        load_run(evil, trust=True)[0].predict(np.zeros(3))
    assert marker.exists()


def _write(path: Path, blob: bytes) -> None:
    path.write_bytes(blob)


def _damage(kind: str, run: Path) -> None:
    model = run / "model.zip"
    if kind == "random zip":
        _write(model, os.urandom(4096))
    elif kind == "truncated zip":
        _write(model, model.read_bytes()[:2000])
    elif kind == "empty zip":
        with zipfile.ZipFile(model, "w"):
            pass
    elif kind == "no policy.pth":
        with zipfile.ZipFile(model) as z:
            entries = {n: z.read(n) for n in z.namelist() if n != "policy.pth"}
        with zipfile.ZipFile(model, "w") as z:
            for n, blob in entries.items():
                z.writestr(n, blob)
    elif kind == "truncated policy.pth":  # torch's unpickler fails inside (IndexError)
        with zipfile.ZipFile(model) as z:
            entries = {n: z.read(n) for n in z.namelist()}
        entries["policy.pth"] = entries["policy.pth"][:40]
        with zipfile.ZipFile(model, "w") as z:
            for n, blob in entries.items():
                z.writestr(n, blob)
    elif kind == "bad config":
        (run / "config.yml").write_text("agent: [unclosed\n")
    elif kind == "empty config":
        (run / "config.yml").write_text("")
    elif kind in ("config names a2c", "config names sac"):
        config = yaml.safe_load((run / "config.yml").read_text())
        config["agent"] = kind.rsplit(" ", 1)[1]
        (run / "config.yml").write_text(yaml.safe_dump(config))
    elif kind == "unknown agent":
        config = yaml.safe_load((run / "config.yml").read_text())
        config["agent"] = "dreamer"
        (run / "config.yml").write_text(yaml.safe_dump(config))


@pytest.mark.parametrize("kind", ["random zip", "truncated zip", "empty zip", "no policy.pth",
                                  "truncated policy.pth",
                                  "bad config", "empty config", "config names a2c",
                                  "config names sac", "unknown agent"])  # fmt: skip
def test_damaged_or_foreign_run_folders_are_one_line(runs, tmp_path, capsys, kind):
    run = tmp_path / "run"
    shutil.copytree(runs["ppo"], run)
    (run / "best_model.zip").unlink(missing_ok=True)
    _damage(kind, run)
    with pytest.raises(ConfigError):
        load_run(run)
    line = one_line(capsys, ["map", "--policy", str(run), "--out", str(tmp_path / "m.png")])
    assert str(run) in line or "config" in line


def test_a_hex7_model_on_case1_says_the_observation_shape_differs(runs, tmp_path, capsys):
    line = one_line(capsys, ["map", "--scenario", "case1", "--policy", str(runs["a2c"]),
                             "--out", str(tmp_path / "m.png")])  # fmt: skip
    assert "observation shape" in line


def test_a_run_from_before_the_ret_layout_says_to_retrain(tmp_path):
    """Runs trained before the observation grew RET features (their env config has no `ret`)
    are refused with one line, not a size-mismatch traceback deep in torch."""
    import yaml

    from cellsim.errors import ConfigError
    from cellsim.training import load_run

    run = tmp_path / "old"
    run.mkdir()
    config = {"agent": "ppo", "env_config": {"action": "discrete"}, "scenario": "hex7",
              "hyperparams": {}, "timesteps": 1, "n_envs": 1, "seed": 0}
    (run / "config.yml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=r"earlier observation.*retrain"):
        load_run(run)
