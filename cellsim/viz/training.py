"""Training curves from run folders: evaluation reward against environment steps."""

from __future__ import annotations

from pathlib import Path

from cellsim.errors import ConfigError
from cellsim.viz.style import new_figure, save_figure


def plot_training_curves(runs: list[str | Path], out: str | Path) -> Path:
    """Mean ± std of each evaluation (EvalCallback's evaluations.npz) for each run folder."""
    fig = new_figure(7, 4.2)
    ax = fig.add_subplot()
    for run in map(Path, runs):
        path = run / "eval" / "evaluations.npz"
        if not path.is_file():
            raise ConfigError(
                f"{run}: no eval/evaluations.npz (not a run folder, or no evaluation yet)"
            )
        from cellsim.training.runs import read_evaluations

        data = read_evaluations(path)
        steps, results = data["timesteps"], data["results"]
        mean, std = results.mean(axis=1), results.std(axis=1)
        ax.plot(steps, mean, lw=1.6, label=run.name)
        ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation episode reward")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, out)
