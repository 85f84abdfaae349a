"""Reward: a weighted sum of named terms; the terms go into `info["rewards"]`.

  coverage     share of demand with RSRP ≥ kpi.rsrp_min_dbm and SINR ≥ kpi.sinr_min_db   [0, 1]
  utility      mean log10(user throughput / reference rate): proportional fairness      ≈[−3, 2]
  edge         log10(5th-percentile user throughput / reference rate)                  ≈[−3, 2]
  tilt_change  −(cells whose tilt changed) / cells                                       [−1, 0]
Weights are the config's `reward` table, keyed by the same names.
"""

from __future__ import annotations

import numpy as np

from cellsim.kpi import MIN_RATE_MBPS, Kpis
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
