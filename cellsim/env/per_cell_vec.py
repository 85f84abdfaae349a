"""Parameter sharing for Stable-Baselines3: every cell of every per-cell env is one sub-env.

`PerCellVecEnv([make_env, ...])` turns m per-cell envs of n cells into an SB3 `VecEnv` of m × n
sub-envs, so a single-agent algorithm (PPO, A2C) trains one policy on the experience of all
cells at once. It steps each network with the joint action through `TiltParallelEnv.step_joint`
(no per-agent dicts on the hot path). All cells of a network end their episode together; the
network is then reset, and each of its sub-envs reports `terminal_observation`,
`TimeLimit.truncated` and Monitor's `episode` statistics, as SB3's own wrappers would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from cellsim.env.per_cell import TiltParallelEnv


class PerCellVecEnv(VecEnv):
    def __init__(self, env_fns: Sequence[Callable[[], TiltParallelEnv]]) -> None:
        self.envs = [fn() for fn in env_fns]
        sizes = [len(e.possible_agents) for e in self.envs]
        starts = np.cumsum([0, *sizes[:-1]])
        self._slices = [slice(a, a + n) for a, n in zip(starts, sizes, strict=True)]
        first = self.envs[0]
        agent = first.possible_agents[0]
        observation_space = first.observation_space(agent)
        super().__init__(sum(sizes), observation_space, first.action_space(agent))
        self._obs_shape = observation_space.shape
        self._returns = np.zeros(self.num_envs)
        self._lengths = np.zeros(self.num_envs, np.int64)
        self._started = time.time()
        self._actions: np.ndarray | None = None

    # -- VecEnv API -------------------------------------------------------------------------

    def reset(self) -> np.ndarray:
        obs = []
        for env, cells in zip(self.envs, self._slices, strict=True):
            env.reset(seed=self._seeds[cells.start], options=self._options[cells.start] or None)
            obs.append(env.observation_matrix())
        self._reset_seeds()
        self._reset_options()
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return np.concatenate(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() called before step_async()")
        obs = np.empty((self.num_envs, *self._obs_shape), np.float32)
        rewards = np.empty(self.num_envs, np.float32)
        dones = np.zeros(self.num_envs, bool)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for env, cells in zip(self.envs, self._slices, strict=True):
            joint = self._actions[cells].reshape(cells.stop - cells.start)
            matrix, reward, terminated, truncated, info = env.step_joint(joint)
            rewards[cells] = reward
            self._returns[cells] += reward
            self._lengths[cells] += 1
            if terminated or truncated:
                dones[cells] = True
                elapsed = round(time.time() - self._started, 6)
                for i in range(cells.start, cells.stop):
                    infos[i] = {
                        "terminal_observation": matrix[i - cells.start],
                        "TimeLimit.truncated": truncated and not terminated,
                        "episode": {
                            "r": float(self._returns[i]), "l": int(self._lengths[i]), "t": elapsed
                        },
                        "network": info,
                    }
                self._returns[cells] = 0.0
                self._lengths[cells] = 0
                env.reset()
                matrix = env.observation_matrix()
            obs[cells] = matrix
        return obs, rewards, dones, infos

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def _env_of(self, indices: VecEnvIndices) -> list[TiltParallelEnv]:
        owner = np.repeat(np.arange(len(self.envs)), [s.stop - s.start for s in self._slices])
        return [self.envs[owner[i]] for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(env, attr_name) for env in self._env_of(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for env in self._env_of(indices):
            setattr(env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:  # fmt: skip
        return [getattr(env, method_name)(*method_args, **method_kwargs)
                for env in self._env_of(indices)]  # fmt: skip

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        # The `episode` statistics above are Monitor's, so evaluation can rely on them.
        return [wrapper_class is Monitor] * len(list(self._get_indices(indices)))

    def render(self, mode: str | None = None) -> np.ndarray | None:
        return self.envs[0].render()
