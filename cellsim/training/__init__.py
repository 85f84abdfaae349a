"""Stable-Baselines3 training, split by job: the agent registry (`registry`), hyperparameter
files (`hyperparams`), training envs (`envs`), run folders and checkpoints (`runs`), training
(`trainer`) and loading trained runs as policies (`loading`)."""

from cellsim.training.hyperparams import (
    CELLSIM_POLICIES,
    LinearSchedule,
    agents_dir,
    algo_kwargs,
    load_hyperparams,
    resolve_policy,
)
from cellsim.training.loading import JointDiscretePolicy, load_run
from cellsim.training.registry import AGENTS, ENV_ID, AgentSpec, agent_spec
from cellsim.training.runs import latest_checkpoint, save_checkpoint
from cellsim.training.trainer import EVAL_SEED_OFFSET, TrainSpec, train

__all__ = [
    "AGENTS", "CELLSIM_POLICIES", "ENV_ID", "EVAL_SEED_OFFSET", "AgentSpec", "JointDiscretePolicy",
    "LinearSchedule", "TrainSpec", "agent_spec", "agents_dir", "algo_kwargs", "latest_checkpoint",
    "load_hyperparams", "load_run", "resolve_policy", "save_checkpoint", "train",
]  # fmt: skip
