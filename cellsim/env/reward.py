"""Reward: a weighted sum of named terms; the terms go into `info["rewards"]`.

  coverage     share of demand with RSRP ≥ kpi.rsrp_min_dbm and SINR ≥ kpi.sinr_min_db   [0, 1]
  utility      mean log10(user throughput / reference rate): proportional fairness      ≈[−3, 2]
  edge         log10(5th-percentile user throughput / reference rate)                  ≈[−3, 2]
  tilt_change  −(cells whose tilt changed) / cells                                       [−1, 0]
Weights are the config's `reward` table, keyed by the same names.
"""

from __future__ import annotations

import numpy as np

from cellsim.kpi import CELL_FEATURES, MIN_RATE_MBPS, Kpis
from cellsim.scenario import RewardWeights

REWARD_TERMS = ("coverage", "utility", "edge", "tilt_change")


def reward_terms(kpis: Kpis, n_changed: int, n_cells: int, reference_rate_mbps: float) -> dict:
    return {
        "coverage": kpis.coverage,
        "utility": kpis.mean_log_rate,
        "edge": float(np.log10(max(kpis.p5_rate_mbps, MIN_RATE_MBPS) / reference_rate_mbps)),
        "tilt_change": -n_changed / n_cells,
    }


def total_reward(terms: dict, weights: RewardWeights) -> float:
    return float(sum(getattr(weights, name) * value for name, value in terms.items()))


def cell_scores(kpis: Kpis, changed: np.ndarray, weights: RewardWeights) -> np.ndarray:
    """Per cell, the reward terms that a cell has on its own: coverage and mean log throughput
    of the users it serves, and its own tilt change (the edge term is a network percentile)."""
    covered = kpis.cell[:, CELL_FEATURES.index("covered_share")]
    utility = kpis.cell[:, CELL_FEATURES.index("mean_log_rate")]
    return (weights.coverage * covered + weights.utility * utility
            - weights.tilt_change * changed).astype(np.float64)  # fmt: skip


def agent_rewards(
    kpis: Kpis, changed: np.ndarray, weights: RewardWeights, neighbours, network_reward: float, mix
) -> np.ndarray:
    """Every agent's reward: `mix.own` × its cell's score + `mix.neighbourhood` × its
    neighbours' scores weighted by the demand they serve + `mix.network` × the network reward.
    Cell scores are computed only when a local term is weighted (not with the default mix)."""
    out = np.full(kpis.cell.shape[0], mix.network * network_reward)
    if not (mix.own or (mix.neighbourhood and neighbours.k)):
        return out
    scores = cell_scores(kpis, changed, weights)
    if mix.own:
        out += mix.own * scores
    if mix.neighbourhood and neighbours.k:
        served_share = kpis.cell[:, CELL_FEATURES.index("served_share")].astype(np.float64)
        idx = np.maximum(neighbours.index, 0)
        w = np.where(neighbours.present, served_share[idx], 0.0) + 1e-9 * neighbours.present
        total = w.sum(axis=1)
        mean = np.divide((w * scores[idx]).sum(axis=1), total, out=np.zeros(len(scores)),
                         where=total > 0)  # fmt: skip
        out += mix.neighbourhood * mean
    return out
