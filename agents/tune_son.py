"""Tune rule-son's thresholds on TRAINING realisations only (network seeds 0–63).

    python agents/tune_son.py --scenarios hex7 case1 outage stadium rural city --realisations 2

Every threshold set of the grid below runs one day on each of the first `--realisations`
training realisations of each scenario (the same episode seeds for every set). A set's score
on a scenario is its gain over the better of hold and rule-geometric there, over the spread
between those two (+1, so that a scenario where they tie does not dominate); the sets are
ranked by their mean score over the scenarios, and the worst scenario's score is printed
beside it. The best set is what `SonThresholds`' defaults hold. Held-out realisations (split
"eval", what `cellsim compare` uses) are never seen here.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import replace
from typing import Any

import numpy as np

from cellsim.env.tilt_env import TiltEnv
from cellsim.evaluation import run_episode
from cellsim.policies import make_policy
from cellsim.policies.rules import SonRule, SonThresholds

GRID: dict[str, list[Any]] = {
    "overshoot_share": [0.06, 0.10],
    "overshoot_sinr_db": [10.0, 12.0, 14.0],
    "weak_rsrp_share": [0.03, 0.05],
    "rollback_margin": [0.05, 0.5],
    "exclusive_neighbours": [0, 2],
}
SEED0 = 30_000  # episode seeds (demand noise); not compare's


def day_rewards(envs: list[TiltEnv], make: Any) -> list[float]:
    """One day of the policy `make(env)` on each env (one training realisation each)."""
    return [run_episode(env, make(env), SEED0 + k).reward for k, env in enumerate(envs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["hex7", "case1"])
    parser.add_argument("--realisations", type=int, default=2)
    args = parser.parse_args()
    # training realisations 0, 1, …: a "fixed" pool of one each (seeds < 64 are the train split)
    envs = {s: [TiltEnv(s, {"realisations": {"split": "fixed"}, "network_seed": k})
                for k in range(args.realisations)] for s in args.scenarios}  # fmt: skip
    base = {}
    for s, env in envs.items():
        hold = np.mean(day_rewards(env, lambda e: make_policy("hold", e)))
        geo = np.mean(day_rewards(env, lambda e: make_policy("rule-geometric", e)))
        base[s] = (max(hold, geo), abs(hold - geo) + 1.0)
        print(f"{s}: hold {hold:.2f}, rule-geometric {geo:.2f}", flush=True)
    results = []
    for values in itertools.product(*GRID.values()):
        th = replace(SonThresholds(), **dict(zip(GRID, values, strict=True)))
        scores = {}
        for s, env in envs.items():
            r = np.mean(day_rewards(env, lambda e, th=th: SonRule(e, th)))
            scores[s] = (r - base[s][0]) / base[s][1]
        mean, worst = float(np.mean(list(scores.values()))), min(scores.values())
        results.append((mean, worst, values, scores))
        print(f"{dict(zip(GRID, values, strict=True))}: mean {mean:.3f} worst {worst:.3f} "
              + " ".join(f"{s} {v:.3f}" for s, v in scores.items()), flush=True)  # fmt: skip
    results.sort(key=lambda r: r[0], reverse=True)
    print("best:", dict(zip(GRID, results[0][2], strict=True)), f"mean {results[0][0]:.3f}")


if __name__ == "__main__":
    main()
