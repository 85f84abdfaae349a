"""The agent registry: one entry per agent that `cellsim train` knows.

An entry names the algorithm class (Stable-Baselines3 or sb3-contrib, imported on use), the
action type it needs, its defaults file (agents/NAME.yml, rl-zoo3 layout, shipped in the wheel as
`cellsim.agents`), the env it trains on (the centralised env, wrapped or not, or the per-cell
front-end), its trainer (plain SB3 `learn`, or an imitation warm start first) and how a trained
model is turned into a policy for `cellsim compare`. Adding an agent is one entry here plus its
defaults file; nothing else branches on agent names.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from cellsim.errors import ConfigError

ENV_ID = "cellsim/Tilt-v0"


@dataclass(frozen=True)
class AgentSpec:
    name: str
    algorithm: str  # "module:Class", e.g. "stable_baselines3:PPO"
    action: Literal["discrete", "continuous"]
    doc: str
    #: which env the agent trains on: the centralised env, the centralised env with its joint
    #: action flattened to one Discrete (DQN), or the per-cell front-end (every cell a sample)
    env: Literal["central", "joint-discrete", "per-cell"] = "central"
    #: "sb3": the algorithm's learn(); "imitation": DAgger from the reference first
    #: (cellsim.imitation), then learn() for the remaining steps
    trainer: Literal["sb3", "imitation"] = "sb3"
    #: the model is one per-cell actor: it acts on any network (bound to it at evaluation)
    shared: bool = False
    #: the model needs the moves the tilt range allows (env.action_masks()) when it acts
    masked: bool = False
    #: an off-policy algorithm: its replay buffer is checkpointed beside the model
    replay_buffer: bool = False
    #: at most this many cells (a joint Discrete action space grows as 3^cells)
    max_cells: int | None = None

    @property
    def defaults_file(self) -> str:
        return f"{self.name}.yml"

    def algo_class(self) -> Any:
        module, _, attr = self.algorithm.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ImportError as exc:
            raise ConfigError(
                f"--agent {self.name}: needs the package {module!r} ({exc.msg}); "
                f"install it with: pip install {module.replace('_', '-')}"
            ) from None


AGENTS: dict[str, AgentSpec] = {
    spec.name: spec
    for spec in (
        AgentSpec("ppo", "stable_baselines3:PPO", "discrete",
                  "PPO with the per-cell shared actor-critic (PerCellPolicy)"),
        AgentSpec("a2c", "stable_baselines3:A2C", "discrete", "A2C, MLP policy"),
        AgentSpec("dqn", "stable_baselines3:DQN", "discrete",
                  "DQN on the joint action (networks of up to 5 cells)",
                  env="joint-discrete", replay_buffer=True, max_cells=5),
        AgentSpec("sac", "stable_baselines3:SAC", "continuous", "SAC, absolute tilts",
                  replay_buffer=True),
        AgentSpec("td3", "stable_baselines3:TD3", "continuous", "TD3, absolute tilts",
                  replay_buffer=True),
        AgentSpec("maskable-ppo", "sb3_contrib:MaskablePPO", "discrete",
                  "sb3-contrib's MaskablePPO: moves past the tilt range are masked",
                  masked=True),
        AgentSpec("ppo-shared", "stable_baselines3:PPO", "discrete",
                  "one per-cell actor trained in the centralised PPO: runs on any network",
                  shared=True),
        AgentSpec("ippo-shared", "stable_baselines3:PPO", "discrete",
                  "one per-cell actor trained on the per-cell env (independent PPO)",
                  env="per-cell", shared=True),
        AgentSpec("dagger-shared", "stable_baselines3:PPO", "discrete",
                  "the ppo-shared actor trained by imitating the reference (DAgger)",
                  trainer="imitation", shared=True),
        AgentSpec("dagger-plan", "stable_baselines3:PPO", "discrete",
                  "dagger-shared reading tilts against the episode's static plan: learns what "
                  "to change on top of a cell-planning tool's plan", trainer="imitation",
                  shared=True),
    )
}  # fmt: skip


def agent_spec(name: str) -> AgentSpec:
    if name not in AGENTS:
        raise ConfigError(f"--agent {name!r}: allowed {', '.join(AGENTS)}")
    return AGENTS[name]
