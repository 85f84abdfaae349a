"""Environments: `cellsim/Tilt-v0` (Gymnasium); registered when cellsim is imported."""

from cellsim.env.tilt_env import TiltEnv

__all__ = ["TiltEnv"]
