"""The per-cell env's rewards: each agent's mix of its own, its neighbours' and the network's
reward. The terms themselves and the network reward are the contract's (`cellsim.contract`:
`REWARD_TERMS`, `reward_terms`, `total_reward`, `cell_scores`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cellsim.contract import KPI_COLUMN, RewardInputs, RewardWeights, cell_scores

if TYPE_CHECKING:
    from cellsim.env.neighbours import NeighbourTable
    from cellsim.scenario import PerCellConfig


def agent_rewards(
    ticks: Sequence[RewardInputs], weights: RewardWeights, neighbours: NeighbourTable,
    network_reward: float, mix: PerCellConfig,
) -> np.ndarray:  # fmt: skip
    """Every agent's reward over a step's clock ticks (one, unless decisions are slower than
    the clock): `mix.own` × its cell's score + `mix.neighbourhood` × its neighbours' scores
    weighted by the demand they serve + `mix.network` × the network reward (the ticks' sum).
    Cell scores are computed only when a local term is weighted (not with the default mix)."""
    inputs = ticks[-1]
    out = np.full(len(inputs.changed), mix.network * network_reward)
    if not (mix.own or (mix.neighbourhood and neighbours.k)):
        return out
    scores = np.sum([cell_scores(tick, weights) for tick in ticks], axis=0)
    if mix.own:
        out += mix.own * scores
    if mix.neighbourhood and neighbours.k:
        served_share = inputs.kpis.cell[:, KPI_COLUMN["served_share"]].astype(np.float64)
        idx = np.maximum(neighbours.index, 0)
        w = np.where(neighbours.present, served_share[idx], 0.0) + 1e-9 * neighbours.present
        total = w.sum(axis=1)
        mean = np.divide((w * scores[idx]).sum(axis=1), total, out=np.zeros(len(scores)),
                         where=total > 0)  # fmt: skip
        out += mix.neighbourhood * mean
    return out
