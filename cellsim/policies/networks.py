"""A per-cell actor-critic for `cellsim/Tilt-v0`: one small network shared by every cell.

Each cell sees its own KPIs, the network's mean KPIs, the time of day and a learned embedding of
its identity; the same weights turn that into the cell's down/hold/up logits. Sharing the weights
lets every cell's experience train all cells (21 times the data per parameter on hex7), which is
what makes a centralised PPO learn per-cell tilt plans within minutes. The critic pools the
cells. Use it with `policy: PerCellPolicy` in agents/ppo.yml (cellsim train resolves the name).
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from cellsim.env.observation import CELL_OBSERVATION

N_FEATURES = len(CELL_OBSERVATION)
N_TIME = 2


class PerCellExtractor(nn.Module):
    """Shared per-cell encoder: actor latent = every cell's code, critic latent = their mean."""

    def __init__(self, obs_dim: int, hidden: int = 64, embedding: int = 8):
        super().__init__()
        self.n_cells = (obs_dim - N_TIME) // N_FEATURES
        self.hidden = hidden
        self.cell_embedding = nn.Parameter(torch.zeros(self.n_cells, embedding))
        nn.init.normal_(self.cell_embedding, std=0.1)
        self.encoder = nn.Sequential(
            nn.Linear(2 * N_FEATURES + N_TIME + embedding, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(),
        )  # fmt: skip
        self.critic = nn.Sequential(nn.Linear(hidden + N_FEATURES + N_TIME, hidden), nn.Tanh())
        self.latent_dim_pi = self.n_cells * hidden
        self.latent_dim_vf = hidden

    def _split(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cells = obs[:, : self.n_cells * N_FEATURES].reshape(-1, self.n_cells, N_FEATURES)
        return cells, obs[:, -N_TIME:]

    def _codes(self, obs: torch.Tensor) -> torch.Tensor:
        cells, time = self._split(obs)
        b, n = cells.shape[0], self.n_cells
        context = cells.mean(dim=1, keepdim=True).expand(b, n, N_FEATURES)
        x = torch.cat([cells, context, time[:, None, :].expand(b, n, N_TIME),
                       self.cell_embedding[None].expand(b, n, -1)], dim=2)  # fmt: skip
        return self.encoder(x)  # (B, n_cells, hidden)

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        return self._codes(obs).flatten(1)

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        cells, time = self._split(obs)
        pooled = torch.cat([self._codes(obs).mean(dim=1), cells.mean(dim=1), time], dim=1)
        return self.critic(pooled)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(obs), self.forward_critic(obs)


class PerCellHead(nn.Module):
    """The same linear map from each cell's code to its logits (or its action mean)."""

    def __init__(self, n_cells: int, hidden: int, per_cell: int):
        super().__init__()
        self.n_cells, self.hidden = n_cells, hidden
        self.linear = nn.Linear(hidden, per_cell)
        nn.init.orthogonal_(self.linear.weight, gain=0.01)
        nn.init.zeros_(self.linear.bias)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        codes = latent.reshape(-1, self.n_cells, self.hidden)
        return self.linear(codes).flatten(1)


class PerCellPolicy(ActorCriticPolicy):
    """ActorCriticPolicy whose actor is shared across cells (MultiDiscrete or Box actions)."""

    def __init__(self, observation_space, action_space, lr_schedule, hidden: int = 64,
                 embedding: int = 8, **kwargs):  # fmt: skip
        self._hidden, self._embedding = hidden, embedding
        kwargs.setdefault("share_features_extractor", True)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = PerCellExtractor(self.features_dim, self._hidden, self._embedding)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        n = self.mlp_extractor.n_cells
        if isinstance(self.action_space, spaces.MultiDiscrete):
            per_cell = int(self.action_space.nvec[0])
        else:
            per_cell = 1
        self.action_net = PerCellHead(n, self._hidden, per_cell)
        self.optimizer = self.optimizer_class(
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )
