"""The training envs of an agent (its registry entry's `env`): picklable factories and VecEnvs."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from cellsim.contract import N_MOVES
from cellsim.training.registry import ENV_ID, AgentSpec


class JointDiscrete:
    """Maps a Discrete(3^n) action (for DQN) to the env's MultiDiscrete([3] * n) and back."""

    def __init__(self, n_cells: int):
        self.n_cells = n_cells
        self.powers = N_MOVES ** np.arange(n_cells)

    def to_cells(self, index: Any) -> np.ndarray:
        return (int(np.asarray(index).ravel()[0]) // self.powers) % N_MOVES


class JointDiscreteAction(gym.ActionWrapper):
    """The centralised env with a Discrete(3^n_cells) action space."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.mapping = JointDiscrete(len(env.action_space.nvec))  # type: ignore[attr-defined]
        self.action_space = gym.spaces.Discrete(N_MOVES**self.mapping.n_cells)

    def action(self, action: Any) -> np.ndarray:
        return self.mapping.to_cells(action)


def make_env_fn(
    scenario: str, config: dict[str, Any], rank: int, seed: int, env_kind: str = "central"
) -> Callable[[], gym.Env]:
    """A picklable env factory for SubprocVecEnv (spawn imports cellsim in the child)."""

    def _init() -> gym.Env:
        from stable_baselines3.common.monitor import Monitor

        import cellsim  # noqa: F401  registers the env in a fresh process

        env = gym.make(ENV_ID, scenario=scenario, config=config)
        if env_kind == "joint-discrete":
            env = JointDiscreteAction(env)
        env = Monitor(env)
        env.reset(seed=seed + rank)
        env.action_space.seed(seed + rank)
        return env

    return _init


def per_cell_env_fn(scenario: str, config: dict[str, Any]) -> Callable[[], Any]:
    """A factory of the per-cell env (for PerCellVecEnv; seeding happens at its reset)."""

    def _init() -> Any:
        from cellsim.env.per_cell import parallel_env

        return parallel_env(scenario, config)

    return _init


class _InfosCopiedShallow(list[Any]):
    """A DummyVecEnv's per-env infos that `deepcopy` copies as a list only (see
    `infos_not_deep_copied`)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return list(self)


def infos_not_deep_copied(venv: Any) -> Any:
    """`venv` (a DummyVecEnv) hands out each step's infos without SB3's deep copy of them.

    The copy guards against an env that reuses its info dict; a cellsim env builds a new one,
    with new arrays, at every step and never touches it again, so the copy only costs: 8 % of
    PPO's training time on hex7 (cProfile, BENCHMARKS.md). Training is the same bit for bit
    (tests/test_training.py)."""
    venv.buf_infos = _InfosCopiedShallow(venv.buf_infos)
    return venv


def vec_env(
    spec: AgentSpec, scenario: str, config: dict[str, Any], n_envs: int, seed: int
) -> Any:
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    if spec.env == "per-cell":
        from cellsim.env.per_cell_vec import PerCellVecEnv

        venv = PerCellVecEnv([per_cell_env_fn(scenario, config)] * n_envs)
        venv.seed(seed)
        return venv

    fns = [make_env_fn(scenario, config, i, seed, spec.env) for i in range(n_envs)]
    # PPO's per-step overhead dominates a cellsim step: processes only pay for many envs
    if n_envs >= 8 and (os.cpu_count() or 1) > 2:
        return SubprocVecEnv(fns, start_method="spawn")
    return infos_not_deep_copied(DummyVecEnv(fns))
