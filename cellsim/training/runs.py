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
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import cellsim


def next_run_dir(root: Path, agent: str, scenario_name: str) -> Path:
    base = root / agent
    n = 1
    if base.is_dir():
        taken = [p.name.rsplit("_", 1)[-1] for p in base.glob(f"{scenario_name}_*")]
        n = 1 + max((int(t) for t in taken if t.isdigit()), default=0)
    return base / f"{scenario_name}_{n}"


def atomic_save(model: Any, path: Path) -> None:
    """Write model.zip next to its final place, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".zip")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


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


def restore_eval_history(evaluation: Any, run: Path) -> None:
    """A resumed run keeps its earlier evaluations and its best model's score."""
    path = run / "eval" / "evaluations.npz"
    if not path.is_file():
        return
    data = np.load(path)
    evaluation.evaluations_timesteps = data["timesteps"].tolist()
    evaluation.evaluations_results = data["results"].tolist()
    evaluation.evaluations_length = data["ep_lengths"].tolist()
    if len(data["results"]):
        evaluation.best_mean_reward = float(np.max(np.mean(data["results"], axis=1)))


def write_metrics(run: Path, steps: int, wall_s: float) -> None:
    evals = run / "eval" / "evaluations.npz"
    metrics: dict[str, Any] = {"timesteps": int(steps), "train_wall_s": round(wall_s, 1)}
    imitation = run / "imitation.json"
    if imitation.is_file():
        metrics.update(json.loads(imitation.read_text()))
    if evals.is_file():
        data = np.load(evals)
        metrics["eval_timesteps"] = data["timesteps"].tolist()
        metrics["eval_mean_reward"] = data["results"].mean(axis=1).tolist()
    atomic_write_text(run / "metrics.json", json.dumps(metrics, indent=1))
