"""What every policy shares: Stable-Baselines3's `predict`, so rules, the reference and trained
models are evaluated by exactly the same loop (and by SB3's `evaluate_policy`)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import numpy.typing as npt

from cellsim.contract import FEATURE_INDEX, TiltSpace, split_observation
from cellsim.env.tilt_env import TiltEnv

TILT = FEATURE_INDEX["tilt"]


class TiltPolicy(ABC):
    """A policy for `cellsim/Tilt-v0` built for one env (its cells, tilt range and action type).

    `predict` takes one observation or a batch (from a VecEnv) and returns actions in the env's
    action space, like an SB3 model.
    """

    name: str = "policy"

    def __init__(self, env: TiltEnv):
        self.env = env
        self.n_cells = env.sim.n_cells
        self.space = TiltSpace.of(env.config)
        self.discrete = env.config.action == "discrete"

    def cells(self, obs: np.ndarray) -> np.ndarray:
        """Per-cell feature matrix (n_cells, N_CELL) of one observation."""
        return split_observation(obs, self.n_cells)[0]

    def tilts(self, obs: np.ndarray) -> np.ndarray:
        """Current tilts (degrees) read back from the observation."""
        return self.space.from_feature(self.cells(obs)[:, TILT])

    def toward(self, current_deg: np.ndarray, target_deg: np.ndarray) -> np.ndarray:
        """The action that moves each cell from its current tilt toward a target tilt."""
        if not self.discrete:
            return self.space.to_continuous(target_deg)
        return self.space.moves_toward(current_deg, target_deg)

    @abstractmethod
    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        """Action for one observation of env `env_index` (of a VecEnv batch)."""

    def reset(self, env_index: int | None = None) -> None:  # noqa: B027  (optional hook)
        """Start of an episode in env `env_index` (None: all); rules with memory override it."""

    def predict(
        self,
        observation: npt.ArrayLike,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: npt.ArrayLike | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """SB3's `predict`: the action of one observation or of a batch, `state` passed on."""
        obs = np.asarray(observation, np.float32)
        batch = obs[None] if obs.ndim == 1 else obs
        starts = np.zeros(len(batch), bool)
        if episode_start is not None:
            starts = np.broadcast_to(np.asarray(episode_start, bool).ravel(), (len(batch),))
        for i in np.flatnonzero(starts):
            self.reset(int(i))
        actions = np.stack([self.act(o, i) for i, o in enumerate(batch)])
        return (actions[0] if obs.ndim == 1 else actions), state
