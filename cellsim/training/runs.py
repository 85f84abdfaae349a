"""Run folders and checkpoints: where a training run lives and how it is written safely.

A run folder (rl-zoo3 style, `runs/{agent}/{scenario}_{N}/` unless `out` is given) holds
`config.yml` (everything needed to rebuild the run), `model.zip`, `best_model.zip`,
`checkpoints/` (written atomically), `eval/evaluations.npz`, `tb/` (TensorBoard) and
`metrics.json`. A run folder is never overwritten: an existing one is only continued.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import cellsim
from cellsim.errors import ConfigError
from cellsim.formats.atomic import atomic_write, atomic_write_text


def next_run_dir(root: Path, agent: str, scenario_name: str) -> Path:
    base = root / agent
    n = 1
    if base.is_dir():
        taken = [p.name.rsplit("_", 1)[-1] for p in base.glob(f"{scenario_name}_*")]
        n = 1 + max((int(t) for t in taken if t.isdigit()), default=0)
    return base / f"{scenario_name}_{n}"


def atomic_save(model: Any, path: Path) -> None:
    """Write model.zip (an SB3 model) atomically: a crash never leaves half a file."""
    atomic_write(path, model.save)


def save_checkpoint(model: Any, run: Path) -> Path:
    path = run / "checkpoints" / f"model_{model.num_timesteps}_steps.zip"
    atomic_save(model, path)
    if getattr(model, "replay_buffer", None) is not None:
        buffer = run / "checkpoints" / "replay_buffer.pkl"
        tmp = buffer.with_suffix(".tmp")
        model.save_replay_buffer(tmp)
        os.replace(tmp, buffer)
    return path


def latest_checkpoint(run: Path) -> Path | None:
    found = sorted(
        (run / "checkpoints").glob("model_*_steps.zip"),
        key=lambda p: int(p.stem.split("_")[1]),
    )
    return found[-1] if found else None


def read_run_config(run: Path) -> dict[str, Any]:
    """A run folder's config.yml, checked to be a mapping that names a known agent."""
    path = run / "config.yml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a run config (invalid YAML: "
                          f"{' '.join(str(exc).split())[:120]})") from None  # fmt: skip
    need = ("agent", "scenario", "env_config", "hyperparams", "timesteps", "n_envs", "seed")
    if not isinstance(config, dict) or any(k not in config for k in need):
        raise ConfigError(f"{path}: not a run config from cellsim train (needs "
                          f"{', '.join(need)})")  # fmt: skip
    if not isinstance(config["agent"], str):
        raise ConfigError(f"{path}: agent = {config['agent']!r}: not an agent name")
    from cellsim.training.registry import AGENTS

    if config["agent"] not in AGENTS:
        raise ConfigError(f"{path}: agent = {config['agent']!r}: allowed {', '.join(AGENTS)}")
    if not isinstance(config["env_config"], dict) or not isinstance(config["hyperparams"], dict):
        raise ConfigError(f"{path}: env_config and hyperparams must be mappings")
    return config


def versions() -> dict[str, str]:
    import gymnasium
    import stable_baselines3
    import torch

    return {
        "cellsim": cellsim.__version__,
        "stable_baselines3": str(stable_baselines3.__version__),
        "gymnasium": str(gymnasium.__version__),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
    }


def read_evaluations(path: Path) -> dict[str, np.ndarray]:
    """An evaluations.npz (SB3's EvalCallback): timesteps, results, ep_lengths; a file that is
    not one raises ConfigError naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {k: np.asarray(data[k]) for k in ("timesteps", "results", "ep_lengths")}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        text = " ".join(str(exc).split())[:120]
        raise ConfigError(f"{path}: not an evaluations file from cellsim train ({text})") from None
    except zipfile.BadZipFile as exc:  # a damaged file
        raise ConfigError(f"{path}: damaged evaluations file ({type(exc).__name__})") from None
    n = len(out["timesteps"])
    if out["timesteps"].ndim != 1 or out["results"].ndim != 2 or len(out["results"]) != n:
        raise ConfigError(f"{path}: not an evaluations file from cellsim train (shapes "
                          f"{out['timesteps'].shape}, {out['results'].shape})")  # fmt: skip
    return out


def archive_eval_history(run: Path) -> Path | None:
    """Before a resume, a copy of the evaluation history as it was (eval/evaluations.before-
    resume-N.npz): the resumed run keeps what its checkpoint covers, nothing is lost."""
    path = run / "eval" / "evaluations.npz"
    if not path.is_file():
        return None
    n = 1
    while (target := path.with_name(f"evaluations.before-resume-{n}.npz")).exists():
        n += 1
    shutil.copy2(path, target)
    return target


def restore_eval_history(evaluation: Any, run: Path, upto: int | None = None) -> None:
    """A resumed run keeps its earlier evaluations (those up to `upto` steps, where its
    checkpoint is: later ones were of a model the kill lost) and its best model's score; the
    resumed run's own evaluations are appended to them."""
    path = run / "eval" / "evaluations.npz"
    if not path.is_file():
        return
    data = read_evaluations(path)
    keep = np.ones(len(data["timesteps"]), bool) if upto is None else data["timesteps"] <= upto
    evaluation.evaluations_timesteps = data["timesteps"][keep].tolist()
    evaluation.evaluations_results = data["results"][keep].tolist()
    evaluation.evaluations_length = data["ep_lengths"][keep].tolist()
    if keep.any():
        evaluation.best_mean_reward = float(np.max(np.mean(data["results"][keep], axis=1)))


def write_metrics(run: Path, steps: int, wall_s: float) -> None:
    evals = run / "eval" / "evaluations.npz"
    metrics: dict[str, Any] = {"timesteps": int(steps), "train_wall_s": round(wall_s, 1)}
    imitation = run / "imitation.json"
    if imitation.is_file():
        metrics.update(json.loads(imitation.read_text()))
    if evals.is_file():
        data = read_evaluations(evals)
        metrics["eval_timesteps"] = data["timesteps"].tolist()
        metrics["eval_mean_reward"] = data["results"].mean(axis=1).tolist()
    atomic_write_text(run / "metrics.json", json.dumps(metrics, indent=1))
