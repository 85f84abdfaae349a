"""Sweeps: scenarios × agents (with hyperparameter overrides) × seeds, each trial trained and
evaluated like `cellsim compare`, on a local process pool or on Ray Tune.

spec.py reads the sweep file, trial.py runs one trial, engines.py runs many, results.py keeps
the sweep folder and aggregates, runner.py ties them together, cli.py is `cellsim sweep`.
"""

from cellsim.sweep.runner import ENGINES, SweepOutcome, run_sweep
from cellsim.sweep.spec import Sweep, Trial, load_sweep, parse_sweep

__all__ = ["ENGINES", "Sweep", "SweepOutcome", "Trial", "load_sweep", "parse_sweep", "run_sweep"]
