"""Trained runs as policies: the model of a run folder, made into what `compare` can drive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cellsim.errors import ConfigError
from cellsim.training.envs import JointDiscrete
from cellsim.training.registry import AgentSpec, agent_spec
from cellsim.training.runs import latest_checkpoint


class JointDiscretePolicy:
    """A DQN model seen as a per-cell policy (for compare): unflattens its joint action."""

    def __init__(self, model: Any, n_cells: int):
        self.model, self.mapping = model, JointDiscrete(n_cells)

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:  # fmt: skip
        action, state = self.model.predict(observation, state, episode_start, deterministic)
        if np.ndim(observation) == 1:
            return self.mapping.to_cells(action), state
        return np.stack([self.mapping.to_cells(a) for a in action]), state


def as_policy(spec: AgentSpec, model: Any, config: dict[str, Any]) -> Any:
    """What compare drives for a loaded model of this agent (bound to an env where needed)."""
    if spec.env == "joint-discrete":
        n_cells = round(np.log(model.action_space.n) / np.log(3))
        return JointDiscretePolicy(model, n_cells)
    if spec.shared:
        from cellsim.policies.shared import SharedCellModel

        k = config["env_config"].get("per_cell", {}).get("neighbours", 6)
        return SharedCellModel(model, k)
    if spec.masked:
        from cellsim.policies.masked import MaskedModel

        return MaskedModel(model)
    return model


def load_run(run: str | Path) -> tuple[Any, dict[str, Any]]:
    """(policy, config) of a finished run folder (`best_model.zip` if present, else
    model.zip, else the last checkpoint)."""
    run = Path(run)
    saved = run / "config.yml"
    if not saved.is_file():
        raise ConfigError(f"{run}: not a run folder (no config.yml)")
    config = yaml.safe_load(saved.read_text())
    spec = agent_spec(config["agent"])
    found = [run / n for n in ("best_model.zip", "model.zip") if (run / n).is_file()]
    path = found[0] if found else latest_checkpoint(run)
    if path is None:
        raise ConfigError(f"{run}: no model.zip, best_model.zip or checkpoint to load")
    model = spec.algo_class().load(path, device="cpu")
    return as_policy(spec, model, config), config
