"""The per-cell front-end: a PettingZoo `ParallelEnv` with one agent per cell.

It drives the same episode as `cellsim/Tilt-v0` — it owns a `TiltEnv` and steps it with the
joint action — so physics, scenarios, demand noise, clock and KPIs are the centralised env's by
construction; only what each agent sees and is rewarded for is its own.

Each agent (named after its cell, e.g. "s0c1") observes its own 11 cell features, the time of
day and, for each of its k most interfering neighbours (`cellsim.env.neighbours`), a presence
flag, the couplings in and out in dB / 20 and the neighbour's 13 features: 28 + 16 k numbers
whatever the network, so one policy fits every network (layout: `cellsim.contract`). It acts
0 = down, 1 = hold, 2 = up (or, with `action = "continuous"`, an absolute tilt in [-1, 1]);
every live agent must have an action (a missing one is refused with one line).
Its reward is `per_cell.own` × its cell's score + `per_cell.neighbourhood` × its neighbours'
+ `per_cell.network` × the centralised env's reward (`cellsim.env.reward`). `state()` is the
centralised env's observation. Every agent stays for the whole episode (a cell in outage keeps
acting; its tilt does nothing until it is back on air).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from cellsim.contract import HOLD, N_MOVES, agent_observation_bounds
from cellsim.env.neighbours import network_neighbours
from cellsim.env.observation import agent_observations_from_state
from cellsim.env.reward import agent_rewards
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.scenario import Scenario


class TiltParallelEnv(ParallelEnv):
    metadata: ClassVar[dict[str, Any]] = {
        "name": "cellsim_tilt_per_cell_v0", "render_modes": ["rgb_array", "human"],
        "render_fps": 4, "is_parallelizable": True,
    }  # fmt: skip

    def __init__(
        self,
        scenario: str | Scenario = "hex7",
        config: dict[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.central = TiltEnv(scenario, config, render_mode)
        self.render_mode = render_mode
        self.sim = self.central.sim
        self.possible_agents = list(self.central.cell_names)
        self.agents: list[str] = []
        self._state: np.ndarray | None = None  # the centralised observation, for state()
        self._index = {name: i for i, name in enumerate(self.possible_agents)}
        self.neighbours = network_neighbours(self.sim, self.central.config.per_cell.neighbours)
        low, high = agent_observation_bounds(self.neighbours.k)
        discrete = self.central.config.action == "discrete"
        # a space object per agent, so that seeding one agent's space leaves the others alone
        self._observation_spaces = {
            a: spaces.Box(low, high, dtype=np.float32) for a in self.possible_agents
        }
        self._action_spaces = {
            a: spaces.Discrete(N_MOVES) if discrete else spaces.Box(-1.0, 1.0, (1,), np.float32)
            for a in self.possible_agents
        }
        self.state_space = self.central.observation_space

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._action_spaces[agent]

    # -- PettingZoo API ---------------------------------------------------------------------

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        self._state, info = self.central.reset(seed=seed, options=options)
        self.agents = list(self.possible_agents)
        infos = {a: {"network": info} for a in self.agents}
        return self._per_agent(self.observation_matrix()), infos

    def step(self, actions: dict[str, Any]) -> tuple[
        dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool],
        dict[str, dict[str, Any]],
    ]:  # fmt: skip
        if not self.agents:
            raise ConfigError("step() called before reset() or after the episode ended")
        matrix, rewards_arr, terminated, truncated, info = self.step_joint(
            self._joint_action(actions)
        )
        agents = self.agents
        obs = self._per_agent(matrix)
        rewards = {a: float(rewards_arr[self._index[a]]) for a in agents}
        terminations = dict.fromkeys(agents, terminated)
        truncations = dict.fromkeys(agents, truncated)
        infos = {a: {"network": info} for a in agents}
        if terminated or truncated:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def step_joint(
        self, joint: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, bool, bool, dict[str, Any]]:
        """The array form of `step` (for vectorised training): the joint action in
        `possible_agents` order → (observation matrix, rewards, terminated, truncated, info)."""
        self._state, reward, terminated, truncated, info = self.central.step(joint)
        cfg = self.central.config
        rewards = agent_rewards(self.central.tick_inputs, cfg.reward, self.neighbours, reward,
                                cfg.per_cell)  # fmt: skip
        return self.observation_matrix(), rewards, bool(terminated), bool(truncated), info

    def state(self) -> np.ndarray:
        if self._state is None:
            raise ConfigError("state() called before reset()")
        return self._state.copy()

    def render(self) -> np.ndarray | None:
        return self.central.render()

    def close(self) -> None:
        self.central.close()

    # -- pieces -----------------------------------------------------------------------------

    def observation_matrix(self) -> np.ndarray:
        """(n_cells, obs_dim): every agent's observation, in `possible_agents` order."""
        if self._state is None:
            raise ConfigError("observation_matrix() called before reset()")
        return agent_observations_from_state(self._state, self.sim.n_cells, self.neighbours)

    def _per_agent(self, matrix: np.ndarray) -> dict[str, np.ndarray]:
        return {a: matrix[self._index[a]] for a in self.agents}

    def _joint_action(self, actions: dict[str, Any]) -> np.ndarray:
        """The centralised env's action: every live agent's entry is required (PettingZoo's
        contract; a missing one is more likely a bug than a wish to hold)."""
        if not isinstance(actions, dict):
            raise ConfigError(f"actions {actions!r}: allowed a dict agent name → action")
        c = self.central
        discrete = c.config.action == "discrete"
        if discrete:
            joint = np.full(len(self.possible_agents), HOLD, np.int64)
        else:
            joint = c.tilt_space.to_continuous(c.tilt_deg)
        for agent, action in actions.items():
            i = self._index.get(agent)
            if i is None:
                raise ConfigError(f"action for agent {agent!r}: allowed agents are cell names "
                                  f"such as {self.possible_agents[0]!r}")  # fmt: skip
            try:
                value = float(np.asarray(action, np.float64).reshape(-1).item())
            except (TypeError, ValueError):
                value = np.nan
            if discrete and value not in (0.0, 1.0, 2.0):
                raise ConfigError(f"action {action!r} of agent {agent!r}: allowed 0 (down), "
                                  "1 (hold), 2 (up)")  # fmt: skip
            if not discrete and not -1.0 <= value <= 1.0:
                raise ConfigError(f"action {action!r} of agent {agent!r}: allowed one number "
                                  "in [-1, 1]")  # fmt: skip
            joint[i] = value
        missing = [a for a in self.agents if a not in actions]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                              else "")  # fmt: skip
            raise ConfigError(f"actions: no action for agent(s) {shown}: every live agent "
                              "needs one (1 holds a discrete tilt)")  # fmt: skip
        return joint


def parallel_env(
    scenario: str | Scenario = "hex7",
    config: dict[str, Any] | None = None,
    render_mode: str | None = None,
) -> TiltParallelEnv:
    """The per-cell PettingZoo env of a scenario (config as for `cellsim/Tilt-v0`)."""
    return TiltParallelEnv(scenario, config, render_mode)
