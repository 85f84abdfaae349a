"""What every policy shares: Stable-Baselines3's `predict`, so rules, the oracle and trained
models are evaluated by exactly the same loop (and by SB3's `evaluate_policy`)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from cellsim.env.observation import CELL_OBSERVATION
from cellsim.env.tilt_env import TiltEnv

TILT = CELL_OBSERVATION.index("tilt")
N_FEATURES = len(CELL_OBSERVATION)


class TiltPolicy(ABC):
    """A policy for `cellsim/Tilt-v0` built for one env (its cells, tilt range and action type).

    `predict` takes one observation or a batch (from a VecEnv) and returns actions in the env's
    action space, like an SB3 model.
    """

    name: str = "policy"

    def __init__(self, env: TiltEnv):
        self.env = env
        self.n_cells = env.sim.n_cells
        cfg = env.config
        self.tilt_min, self.tilt_max, self.tilt_step = (
            cfg.tilt_min_deg, cfg.tilt_max_deg, cfg.tilt_step_deg,
        )  # fmt: skip
        self.discrete = cfg.action == "discrete"

    def cells(self, obs: np.ndarray) -> np.ndarray:
        """Per-cell feature matrix (n_cells, n_features) of one observation."""
        return obs[: self.n_cells * N_FEATURES].reshape(self.n_cells, N_FEATURES)

    def tilts(self, obs: np.ndarray) -> np.ndarray:
        """Current tilts (degrees) read back from the observation."""
        return self.tilt_min + self.cells(obs)[:, TILT] * (self.tilt_max - self.tilt_min)

    def toward(self, current_deg: np.ndarray, target_deg: np.ndarray) -> np.ndarray:
        """The action that moves each cell from its current tilt toward a target tilt."""
        if not self.discrete:
            span = self.tilt_max - self.tilt_min
            return (2.0 * (np.clip(target_deg, self.tilt_min, self.tilt_max) - self.tilt_min)
                    / span - 1.0).astype(np.float32)  # fmt: skip
        half = self.tilt_step / 2
        return np.where(target_deg > current_deg + half, 0,
                        np.where(target_deg < current_deg - half, 2, 1))  # fmt: skip

    @abstractmethod
    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        """Action for one observation of env `env_index` (of a VecEnv batch)."""

    def reset(self, env_index: int | None = None) -> None:  # noqa: B027  (optional hook)
        """Start of an episode in env `env_index` (None: all); rules with memory override it."""

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = True):
        obs = np.asarray(observation, np.float32)
        batch = obs[None] if obs.ndim == 1 else obs
        starts = np.zeros(len(batch), bool)
        if episode_start is not None:
            starts = np.broadcast_to(np.asarray(episode_start, bool).ravel(), (len(batch),))
        for i in np.flatnonzero(starts):
            self.reset(int(i))
        actions = np.stack([self.act(o, i) for i, o in enumerate(batch)])
        return (actions[0] if obs.ndim == 1 else actions), state
