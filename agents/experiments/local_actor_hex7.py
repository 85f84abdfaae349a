"""Experiment behind RESULTS.md's "local actor in the centralised PPO" row (issue 6, open).

A per-cell actor whose input is exactly the per-cell agent observation of
`cellsim.env.parallel_env` (own cell, network mean, time, k = 6 neighbour slots), trained inside
the centralised PPO on cellsim/Tilt-v0: all cells' moves form one joint action, so PPO clips
their joint probability ratio, unlike independent per-cell samples (`ppo-shared`). The actor's
weights therefore fit any network; wiring them into `SharedCellPolicy` for transfer is the next
step. Run: `python agents/experiments/local_actor_hex7.py [STEPS]` (≈ 13 min for 450 k steps).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
import yaml
from stable_baselines3 import PPO
from torch import nn

from cellsim.env import TiltEnv
from cellsim.env.neighbours import network_neighbours
from cellsim.env.observation import N_CELL, N_HEAD, N_SLOT
from cellsim.evaluation import EVAL_SEED0, run_episode
from cellsim.policies.networks import PerCellPolicy
from cellsim.training import AGENTS_DIR, _vec_env, algo_kwargs

K = 6
ENV = TiltEnv("hex7")
TABLE = network_neighbours(ENV.sim, K)
N = ENV.sim.n_cells


class LocalActorExtractor(nn.Module):
    """Builds every cell's agent observation from the central one (in torch), encodes each with
    one shared MLP (the actor); the critic pools the codes with the network mean and time."""

    def __init__(self, obs_dim: int, hidden: int = 64):
        super().__init__()
        self.n_cells, self.hidden = N, hidden
        present = torch.as_tensor(TABLE.present.astype(np.float32))
        self.register_buffer("index", torch.as_tensor(np.maximum(TABLE.index, 0)))
        self.register_buffer("present", present)
        couplings = {"coupling_in": TABLE.coupling_db, "coupling_out": TABLE.coupling_out_db}
        for name, db in couplings.items():
            self.register_buffer(name, torch.as_tensor(np.clip(db / 20, -3, 1)).float() * present)
        self.encoder = nn.Sequential(
            nn.Linear(N_HEAD + K * N_SLOT, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )
        self.critic = nn.Sequential(nn.Linear(hidden + N_CELL + 2, hidden), nn.Tanh())
        self.latent_dim_pi, self.latent_dim_vf = N * hidden, hidden

    def _codes(self, obs: torch.Tensor) -> torch.Tensor:
        cells, t = obs[:, : N * N_CELL].reshape(-1, N, N_CELL), obs[:, -2:]
        b = cells.shape[0]
        flags = [x[None, ..., None].expand(b, N, K, 1)
                 for x in (self.present, self.coupling_in, self.coupling_out)]  # fmt: skip
        neighbours = cells[:, self.index] * self.present[None, :, :, None]
        slots = torch.cat([*flags, neighbours], dim=3).reshape(b, N, K * N_SLOT)
        mean = cells.mean(1, keepdim=True).expand(b, N, N_CELL)
        return self.encoder(torch.cat([cells, mean, t[:, None].expand(b, N, 2), slots], dim=2))

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        return self._codes(obs).flatten(1)

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        cells, t = obs[:, : N * N_CELL].reshape(-1, N, N_CELL), obs[:, -2:]
        return self.critic(torch.cat([self._codes(obs).mean(1), cells.mean(1), t], dim=1))

    def forward(self, obs: torch.Tensor):
        return self.forward_actor(obs), self.forward_critic(obs)


class LocalActorPolicy(PerCellPolicy):
    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = LocalActorExtractor(self.features_dim, self._hidden)


def main(steps: int | None = None) -> None:
    torch.set_num_threads(1)
    hyper = yaml.safe_load((AGENTS_DIR / "ppo.yml").read_text())["cellsim/Tilt-v0"]
    steps = steps or int(hyper["n_timesteps"])
    venv = _vec_env("hex7", {"initial_tilt": "random"}, hyper["n_envs"], 0, "ppo")
    kwargs = algo_kwargs({k: v for k, v in hyper.items() if k != "policy"})
    model = PPO(LocalActorPolicy, venv, seed=0, device="cpu", **kwargs)
    started = time.time()
    model.learn(steps)
    print(f"trained {steps} steps in {time.time() - started:.0f} s")
    rewards = [run_episode(ENV, model, EVAL_SEED0 + i).reward for i in range(10)]
    print(f"hex7, 10 evaluation seeds: {np.mean(rewards):.2f} ± {np.std(rewards):.2f} (std)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
