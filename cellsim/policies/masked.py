"""A MaskablePPO model (sb3-contrib) acting with the masks it was trained with.

Evaluation drives every policy through SB3's `predict(obs)`; a maskable model needs its action
masks there too, or it may pick moves that the tilt range forbids. `MaskedModel.bind(env)` gives
a policy that derives the masks from the observation: the tilt range (`TiltSpace.allowed_moves`)
and each cell's RET budget and dwell, as the env's `action_masks` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cellsim.contract import FEATURE_INDEX
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies.base import TiltPolicy


class MaskedPolicy(TiltPolicy):
    name = "masked"

    def __init__(self, env: TiltEnv, model: Any):
        super().__init__(env)
        self.model = model

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        masks = self.space.allowed_moves(self.tilts(obs))
        cells = self.cells(obs)  # RET: no budget left, or still in the dwell → hold only
        held = (cells[:, FEATURE_INDEX["moves_left"]] <= 0) | (
            cells[:, FEATURE_INDEX["dwell_left"]] > 0)  # fmt: skip
        masks[held] = (False, True, False)
        masks = masks.ravel()
        action, _ = self.model.predict(obs, deterministic=True, action_masks=masks)
        return np.asarray(action, np.int64)


class MaskedModel:
    """A loaded maskable model not yet bound to an env: `bind(env)` gives its policy there."""

    def __init__(self, model: Any):
        self.model = model

    def bind(self, env: TiltEnv) -> MaskedPolicy:
        return MaskedPolicy(env, self.model)

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError("a maskable model needs its env's action masks: bind(env) it first")
