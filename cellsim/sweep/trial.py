"""Run one trial: train (trainable agents) into the sweep's run folder, then evaluate on the
evaluation seeds of `cellsim compare` (EVAL_SEED0, EVAL_SEED0 + 1, …).

Decisions:
- A trial never raises for its own failures: it returns a record with `status: failed` and the
  error, so one bad trial cannot take the others down (engines treat a crash of the worker
  itself the same way).
- The run folder is `OUT/runs/TRIAL_ID/`. A folder left by an interrupted attempt is deleted and
  the trial trained again from scratch, not resumed from its checkpoint: the same trial gives the
  same numbers whether it was interrupted or not, and whatever engine runs it.
- Torch runs one thread (`TrainSpec.torch_threads`): small networks on shared cores.
"""

from __future__ import annotations

import shutil
import time
import traceback
from pathlib import Path
from typing import Any

from cellsim.evaluation import EVAL_SEED0, KPI_NAMES

ERROR_TAIL_LINES = 6


def trial_record(trial: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A result row: the trial's description plus what running it produced."""
    keep = ("trial_id", "scenario", "agent", "label", "hyperparams", "timesteps", "seed",
            "episodes")  # fmt: skip
    return {**{k: trial[k] for k in keep}, **fields}


def failed_record(trial: dict[str, Any], error: str, wall_s: float = 0.0) -> dict[str, Any]:
    return trial_record(trial, status="failed", error=error, wall_s=round(wall_s, 3))


def _train(trial: dict[str, Any], run: Path) -> Path:
    from cellsim.training import TrainSpec, train

    if run.exists():  # left by an interrupted attempt: start again (see module docstring)
        shutil.rmtree(run)
    spec = TrainSpec(
        agent=trial["agent"], scenario=trial["scenario_path"], timesteps=trial["timesteps"],
        seed=trial["seed"], out=str(run), config=dict(trial["config"]),
        hyperparams=dict(trial["hyperparams"]), progress_bar=False, torch_threads=1,
    )  # fmt: skip
    return train(spec)


def _evaluate(trial: dict[str, Any], run: Path | None) -> tuple[list[dict[str, Any]], int | None]:
    """Per-episode results on compare's grid (evaluation seeds × held-out realisations), and
    the simulator evaluations a search policy (the reference) made."""
    from cellsim.env.tilt_env import TiltEnv
    from cellsim.evaluation import HELD_OUT, evaluation_grid, run_episode
    from cellsim.policies import make_policy
    from cellsim.training import load_run

    config = {**HELD_OUT, **trial["config"]}  # held-out realisations, as compare
    if run is None:
        env = TiltEnv(trial["scenario_path"], {"action": "discrete", **config})
        policy = make_policy(trial["agent"], env)
    else:
        policy, run_config = load_run(run)
        trained = run_config["env_config"].get("action", "discrete")
        env = TiltEnv(trial["scenario_path"], {**config, "action": trained})
    episodes = []
    for seed, network_seed in evaluation_grid(trial["episodes"], 3, EVAL_SEED0, trial["config"]):
        ep = run_episode(env, policy, seed, network_seed)
        episodes.append({"seed": ep.seed, "network_seed": ep.network_seed, "reward": ep.reward,
                         "tilt_changes": ep.tilt_changes, "kpis": ep.kpis,
                         "tilt_changes_per_cell_day": ep.tilt_changes_per_cell_day})  # fmt: skip
    return episodes, getattr(policy, "evaluations", None)


def run_trial(trial: dict[str, Any], out: str) -> dict[str, Any]:
    """Train and evaluate one trial (a `Trial.to_dict()`); returns its result record."""
    import numpy as np

    started = time.perf_counter()
    run = Path(out) / "runs" / trial["trial_id"] if trial["seed"] is not None else None
    try:
        if run is not None:
            _train(trial, run)
        episodes, evaluations = _evaluate(trial, run)
    except Exception as exc:  # a failed trial is a result, not a crash of the sweep
        tail = traceback.format_exc().strip().splitlines()[-ERROR_TAIL_LINES:]
        record = failed_record(trial, f"{type(exc).__name__}: {exc}",
                               time.perf_counter() - started)  # fmt: skip
        record["traceback"] = "\n".join(tail)
        return record
    kpis = {k: float(np.mean([e["kpis"][k] for e in episodes])) for k in KPI_NAMES}
    return trial_record(
        trial, status="ok", error="",
        reward=float(np.mean([e["reward"] for e in episodes])),
        tilt_changes=float(np.mean([e["tilt_changes"] for e in episodes])),
        tilt_changes_per_cell_day=float(np.mean([e["tilt_changes_per_cell_day"]
                                                 for e in episodes])),
        kpis=kpis, wall_s=round(time.perf_counter() - started, 3),
        run_dir=str(run) if run is not None else "", episode_results=episodes,
        simulator_evaluations=evaluations,
    )  # fmt: skip
