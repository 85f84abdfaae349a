"""Environments: `cellsim/Tilt-v0` (Gymnasium, one agent re-tilts every cell; registered when
cellsim is imported) and `parallel_env(...)` (PettingZoo, one agent per cell)."""

from cellsim.env.per_cell import TiltParallelEnv, parallel_env
from cellsim.env.tilt_env import TiltEnv

__all__ = ["TiltEnv", "TiltParallelEnv", "parallel_env"]
