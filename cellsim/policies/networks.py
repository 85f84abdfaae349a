"""A per-cell actor-critic for `cellsim/Tilt-v0`: one small network shared by every cell.

Each cell sees its own KPIs, the network's mean KPIs, the time of day and a learned embedding of
its identity; the same weights turn that into the cell's down/hold/up logits. Sharing the weights
lets every cell's experience train all cells (21 times the data per parameter on hex7), which is
what makes a centralised PPO learn per-cell tilt plans within minutes. The critic pools the
cells. Use it with `policy: PerCellPolicy` in agents/ppo.yml (cellsim train resolves the name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from cellsim.contract import (
    CELL_OBSERVATION,
    FEATURE_INDEX,
    N_TIME,
    NETWORK_MEAN,
    OWN,
    TIME,
    agent_observation_dim,
    build_agent_observations,
    n_cells_of,
    slot_feature_columns,
    split_observation,
)
from cellsim.contract import N_CELL as N_FEATURES
from cellsim.env.neighbours import NeighbourTable
from cellsim.env.observation import slot_static, tilt_reference_offsets


class TorchOps:
    """`cellsim.contract.ArrayOps` in torch: the agent observations are built by the same
    function as the per-cell env's numpy ones."""

    def cat(self, parts: Sequence[torch.Tensor], axis: int) -> torch.Tensor:
        return torch.cat(list(parts), dim=axis)

    def expand(self, x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        return x.expand(*shape)

    def mean_keepdim(self, x: torch.Tensor, axis: int) -> torch.Tensor:
        return x.mean(dim=axis, keepdim=True)


class PerCellExtractor(nn.Module):
    """Shared per-cell encoder: actor latent = every cell's code, critic latent = their mean."""

    def __init__(self, obs_dim: int, hidden: int = 64, embedding: int = 8) -> None:
        super().__init__()
        self.n_cells = n_cells_of(obs_dim)
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
        return split_observation(obs, self.n_cells)

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

    def __init__(self, n_cells: int, hidden: int, per_cell: int) -> None:
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

    # SB3 infers MlpExtractor from its own builder; it needs only latent_dim_pi/vf and
    # forward_actor/forward_critic, which the per-cell extractors have.
    mlp_extractor: PerCellExtractor  # type: ignore[assignment]
    action_net: PerCellHead

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 lr_schedule: Schedule, hidden: int = 64, embedding: int = 8,
                 **kwargs: Any) -> None:  # fmt: skip
        self._hidden, self._embedding = hidden, embedding
        kwargs.setdefault("share_features_extractor", True)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = PerCellExtractor(self.features_dim, self._hidden, self._embedding)

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        n = self.mlp_extractor.n_cells
        if isinstance(self.action_space, spaces.MultiDiscrete):
            per_cell = int(self.action_space.nvec[0])
        else:
            per_cell = 1
        self.action_net = PerCellHead(n, self._hidden, per_cell)
        # every torch optimizer takes lr; the base class Optimizer does not (SB3 ignores it too)
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )


# -- one transferable actor for every cell, trained with the centralised PPO ------------------


#: What an actor can be told to ignore: a cell feature (in its own cell, the network mean and
#: every neighbour slot) or the time of day.
IGNORABLE = (*CELL_OBSERVATION, "time")
#: Tilt references that change per episode: "static-plan", the per-cell plan a cell-planning
#: tool gives the episode's realisation (`cellsim.policies.baselines.StaticPlan`), or
#: "period-plan", that tool's scheduled plans (a day and an evening one: `PeriodPlan`), so that
#: the actor learns what to change on top of the plan rather than the plan itself. Each is the
#: built-in policy of that name.
EPISODE_REFERENCES = ("static-plan", "period-plan")


def observation_mask(k: int, ignore: tuple[str, ...]) -> torch.Tensor:
    """(N_HEAD + k N_SLOT,) float32: 0 at every column of an agent observation that holds one
    of the `ignore`d inputs (`IGNORABLE`), 1 elsewhere."""
    unknown = sorted(set(ignore) - set(IGNORABLE))
    if unknown:
        raise ValueError(f"actor_ignores {unknown}: allowed {', '.join(IGNORABLE)}")
    mask = torch.ones(agent_observation_dim(k))
    for name in ignore:
        if name == "time":
            mask[TIME] = 0.0
            continue
        f = FEATURE_INDEX[name]
        mask[[OWN.start + f, NETWORK_MEAN.start + f, *slot_feature_columns(k, name)]] = 0.0
    return mask


class NeighbourhoodExtractor(nn.Module):
    """The actor is one network applied to each cell's per-cell agent observation
    (`cellsim.env.observation.agent_observations`: own cell, network mean, time, k neighbour
    slots), built here in torch from the centralised observation and the training network's
    neighbour table. The critic pools the cells' codes with the network mean and the time.

    Why not train it on the per-cell env (PerCellVecEnv)? There every cell's move is an
    independent PPO sample whose ratio is clipped on its own; here the cells' moves form one
    joint action whose product ratio PPO clips as a whole, a much more careful step for agents
    that share a reward. Same actor either way, so it runs on any network (`act_cells`).
    """

    # buffers (register_buffer), typed for what nn.Module.__getattr__ returns
    index: torch.Tensor
    present: torch.Tensor
    slot_static: torch.Tensor
    input_mask: torch.Tensor
    input_offsets: torch.Tensor | None

    def __init__(self, obs_dim: int, neighbour_table: NeighbourTable, hidden: int = 64,
                 actor_ignores: tuple[str, ...] = (),
                 tilt_reference: npt.ArrayLike | None = None,
                 episode_reference: str | None = None) -> None:  # fmt: skip
        super().__init__()
        self.episode_reference = episode_reference
        self.n_cells = n_cells_of(obs_dim)
        self.k, self.hidden = neighbour_table.k, hidden
        if neighbour_table.index.shape[0] != self.n_cells:
            raise ValueError(
                f"neighbour table of {neighbour_table.index.shape[0]} cells for an observation "
                f"of {self.n_cells} cells"
            )
        present = torch.as_tensor(neighbour_table.present[..., None], dtype=torch.float32)
        index = torch.as_tensor(np.maximum(neighbour_table.index, 0), dtype=torch.long)
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("present", present, persistent=False)  # (n, k, 1)
        static = torch.as_tensor(slot_static(neighbour_table))  # (n, k, len(SLOT_STATIC))
        self.register_buffer("slot_static", static, persistent=False)
        mask = observation_mask(self.k, tuple(actor_ignores))
        self.register_buffer("input_mask", mask, persistent=False)
        offsets = None  # nothing to add to the inputs of an actor without a tilt reference
        if tilt_reference is not None:
            offsets = torch.as_tensor(
                tilt_reference_offsets(np.asarray(tilt_reference), neighbour_table)
            )
        self.register_buffer("input_offsets", offsets, persistent=False)
        self.encoder = nn.Sequential(
            nn.Linear(agent_observation_dim(self.k), hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(),
        )  # fmt: skip
        self.critic = nn.Sequential(nn.Linear(hidden + N_FEATURES + N_TIME, hidden), nn.Tanh())
        self.latent_dim_pi = self.n_cells * hidden
        self.latent_dim_vf = hidden

    def agent_observations(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, n_cells, N_HEAD + k N_SLOT): the per-cell env's observations, in torch."""
        cells, time = split_observation(obs, self.n_cells)
        return build_agent_observations(cells, time, self.slot_static, self.index, self.present,
                                        TorchOps())  # fmt: skip

    def codes(self, actor_inputs: torch.Tensor) -> torch.Tensor:
        """The actor's code of each actor input (an agent observation plus its network's tilt
        reference offsets), the ignored features zeroed first."""
        return self.encoder(actor_inputs * self.input_mask)

    def actor_inputs(self, obs: torch.Tensor) -> torch.Tensor:
        if self.episode_reference is not None:  # its offsets change per episode: not here
            raise ValueError(
                f"this actor reads tilts against each episode's {self.episode_reference}: it "
                "acts through cellsim.policies.shared.SharedCellPolicy (compare, maps, "
                "record), not through the SB3 model's predict or PPO rollouts"
            )
        inputs = self.agent_observations(obs)
        return inputs if self.input_offsets is None else inputs + self.input_offsets

    def _latents(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = self.codes(self.actor_inputs(obs))
        cells, time = split_observation(obs, self.n_cells)
        pooled = torch.cat([codes.mean(dim=1), cells.mean(dim=1), time], dim=1)
        return codes.flatten(1), self.critic(pooled)

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        return self.codes(self.actor_inputs(obs)).flatten(1)

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        return self._latents(obs)[1]

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._latents(obs)  # one pass of the encoder for both heads


class SharedCellActorPolicy(PerCellPolicy):
    """`PerCellPolicy` whose actor sees each cell's per-cell agent observation (see
    `NeighbourhoodExtractor`); `neighbour_table` is the training network's
    (`cellsim.env.neighbours.network_neighbours`). `act_cells` runs the actor on the agent
    observations of any network, which is how a model trained on one network acts on another.
    `actor_ignores` names inputs the actor must not use (`IGNORABLE`): levels that differ from
    network to network for reasons a tilt cannot change (interference over noise depends on
    the noise figure and path loss) or that tie it to one network's daily schedule (the time).
    `tilt_reference` (the training network's, one per cell, in tilt-feature units; None: off)
    makes the actor read every tilt relative to its cell's planning tilt
    (`cellsim.policies.rules.planning_tilts_deg`); bound to another network, the actor then
    uses that network's planning tilts (`uses_tilt_reference`). `tilt_reference="static-plan"`
    reads them against each episode's static plan instead (`EPISODE_REFERENCES`), which the
    policy acting in the episode computes; such an actor is trained by imitation only.
    """

    mlp_extractor: NeighbourhoodExtractor  # type: ignore[assignment]  # see PerCellPolicy

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 lr_schedule: Schedule, neighbour_table: NeighbourTable | None = None,
                 hidden: int = 64, actor_ignores: tuple[str, ...] = (),
                 tilt_reference: npt.ArrayLike | None = None, **kwargs: Any) -> None:  # fmt: skip
        if neighbour_table is None:
            raise ValueError(
                "SharedCellActorPolicy needs policy_kwargs neighbour_table "
                "(cellsim.env.neighbours.network_neighbours of the network)"
            )
        self._neighbour_table = neighbour_table
        self._actor_ignores = tuple(actor_ignores or ())  # checked by observation_mask
        #: an EPISODE_REFERENCES name: tilts read against the episode's plan, set per episode
        #: (per period) by the policy that acts (SharedCellPolicy), so none is built in here
        self.episode_reference: str | None = None
        if isinstance(tilt_reference, str):
            if tilt_reference not in EPISODE_REFERENCES:
                raise ValueError(
                    f"tilt_reference={tilt_reference!r}: cellsim train turns 'planning' into "
                    "the network's planning tilts; from a script pass them (one per cell, "
                    f"0 … 1), or one of {', '.join(EPISODE_REFERENCES)}"
                )
            self.episode_reference, tilt_reference = tilt_reference, None
        self._tilt_reference = None if tilt_reference is None else np.asarray(tilt_reference)
        n_cells = neighbour_table.index.shape[0]
        if self._tilt_reference is not None and self._tilt_reference.shape != (n_cells,):
            raise ValueError(
                f"tilt_reference of shape {self._tilt_reference.shape}: allowed one value per "
                f"cell of the network ({n_cells},)"
            )
        super().__init__(observation_space, action_space, lr_schedule, hidden=hidden, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = NeighbourhoodExtractor(
            self.features_dim, self._neighbour_table, self._hidden, self._actor_ignores,
            self._tilt_reference, self.episode_reference,
        )  # fmt: skip

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["neighbour_table"] = self._neighbour_table
        data["actor_ignores"] = self._actor_ignores
        data["tilt_reference"] = self.episode_reference or self._tilt_reference
        return data

    @property
    def uses_tilt_reference(self) -> bool:
        """The actor reads tilts against the network's planning tilts (a fixed reference)."""
        return getattr(self, "_tilt_reference", None) is not None

    @property
    def agent_observation_dim(self) -> int:
        return agent_observation_dim(self.mlp_extractor.k)

    def cell_probabilities(self, actor_inputs: np.ndarray) -> np.ndarray:
        """(n, N_MOVES) float32: the actor's probability of each move (0 down, 1 hold, 2 up)
        for each row of (n, agent_observation_dim): agent observations, plus
        `tilt_reference_offsets` if `uses_tilt_reference`."""
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(actor_inputs, np.float32), device=self.device)
            logits = self.action_net.linear(self.mlp_extractor.codes(x))
        return torch.softmax(logits, dim=1).cpu().numpy()

    def act_cells(self, actor_inputs: np.ndarray) -> np.ndarray:
        """Most likely move of each row of `actor_inputs` (see `cell_probabilities`)."""
        return self.cell_probabilities(actor_inputs).argmax(axis=1).astype(np.int64)
