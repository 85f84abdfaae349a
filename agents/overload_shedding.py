"""How heavy must the `unserved` reward weight be before moving demand into an already
overloaded cell never raises the reward? (issue 14's property; the team's decision of
2026-12-04: the default reward keeps `excess_load` at 0, below.)

    python agents/overload_shedding.py                      # the cases of tests/test_kpi.py
    python agents/overload_shedding.py --old-load 0.05 0.9  # the old cell up to admission
    python agents/overload_shedding.py --plans hex7 stadium # static-plan's day under each weight
    python agents/overload_shedding.py --days hex7 stadium  # overload under the default reward

Random two-cell networks of four points a cell, as in `tests/test_kpi.py`: the old cell below
its admission limit (0.9), the other above it; one point of the old cell is re-served by the
overloaded cell (same radio values), where its demand is blocked. Printed: for each unserved
weight (the other terms at their defaults), in how many cases the move raised the reward and by
how much at most.

Why it can: a point with a low peak rate takes a share of its cell's resources many times its
share of the demand. Blocking it frees those resources, and every other flow of its old cell
speeds up by (1 − ρ + f) / (1 − ρ) (processor sharing), which the proportional-fair utility
rewards. The closer the old cell is to its admission limit (small 1 − ρ), the larger that gain,
so no finite weight rules it out for every load; in the default reward (unserved 2) it is rare.

Measured (2026-12-02, 20 000 cases each; raised in / worst gain per step):

| cases | weight 2 | 5 | 10 | 20 | 50 |
|---|---|---|---|---|---|
| default (old cell 0.05–0.85, SINR ≥ −9 dB) | 24 / +0.065 | 7 / +0.030 | 0 | 0 | 0 |
| `--old-load 0.05 0.9 --seed 1` | 46 / +0.27 | 11 / +0.22 | 3 / +0.14 | 0 | 0 |
| `--old-load 0.6 0.9 --sinr-min-db -6 --seed 1` | 79 / +0.27 | 17 / +0.18 | 5 / +0.08 | 0 | 0 |

So "never" holds on these cases from a weight of about 20, ten times today's: the unserved term
would then outweigh the rest of the reward wherever a cell blocks (case1's hold blocks 6 % of
its demand: −1.2 a step at weight 20, against −0.12 now). The alternative is a throughput term
that blocking cannot raise (carried traffic rather than proportional-fair rates). Either
changes what every result optimises, so it is the team's decision, not made here.

The `excess_load` term (the load offered beyond admission, summed over cells; 0 by default) does
it in the resources' own units: the overloaded cell's excess grows by exactly the load the
moved flow frees, so from `cellsim.contract.overload_guarantee_weight` (6.51) on the move never
pays, for any load and SINR (bound in its docstring). Measured (2026-12-03, 20 000 cases each,
unserved at 2; raised in / worst gain per step):

| cases | excess_load 1 | 2 | 4 | 6.51 |
|---|---|---|---|---|
| default | 0 | 0 | 0 | 0 |
| `--old-load 0.05 0.9 --seed 1` | 2 / +0.041 | 0 | 0 | 0 |
| `--old-load 0.6 0.9 --sinr-min-db -6 --seed 1` | 3 / +0.039 | 0 | 0 | 0 |
| `--old-load 0.8 0.9 --sinr-min-db -9.99 --seed 2` | 21 / +0.075 | 3 / +0.017 | 0 | 0 |

It stays off by default because at 6.51 it would rule the reward: on one held-out day it costs
hex7's reference 68 (its day's reward is 53) and case1's hold 770 (README). static-plan's plan
for the day under it (held-out realisation 1000000, seed 20000) lowers the excess load by 8 %
on hex7 and 7 % on stadium, but its mean rate falls from 15.35 to 14.84 Mbps on hex7, and on
stadium more demand goes unserved (0.117 against 0.115): at that weight the reward trades carried
traffic for less excess load.

What the default reward's optimum does with overload (`--days`, held-out realisations
1000000–1000002, seed 20000, means over the three days; measured 2026-12-04): the share of
demand offered to cells beyond admission (overload) and the unserved share, each over the day / at
each day's worst step. The reference, which maximises the default reward, offers the least
demand to overloaded cells and blocks the least. The original symptom of issue 14 (the
busy-hour optimum pushing demand into an overloaded cell) is not what it does:

| policy | hex7 overload | hex7 unserved | stadium overload | stadium unserved |
|---|---|---|---|---|
| hold | 0.143 / 0.490 | 0.047 / 0.212 | 0.268 / 0.817 | 0.156 / 0.678 |
| rule-geometric | 0.114 / 0.474 | 0.039 / 0.191 | 0.241 / 0.775 | 0.145 / 0.672 |
| static-plan | 0.089 / 0.404 | 0.024 / 0.150 | 0.215 / 0.758 | 0.128 / 0.652 |
| reference | 0.089 / 0.402 | 0.024 / 0.149 | 0.213 / 0.757 | 0.127 / 0.649 |

Hence the decision: the default keeps the rare exception above (24 of 20 000 random cases, at
most +0.065 a step) rather than a term that would rule the reward, and
`reward: {excess_load: guarantee}` gives the guarantee to whoever needs it.
"""

from __future__ import annotations

import argparse

import numpy as np

from cellsim.contract import RewardInputs, overload_guarantee_weight, reward_terms
from cellsim.engine import RadioState
from cellsim.kpi import KpiParams, Kpis, compute_kpis
from cellsim.scenario import RewardWeights

NOISE_MW = 1e-13
BANDWIDTH_MHZ = 9.0
PARAMS = KpiParams(rsrp_min_dbm=-110.0, sinr_min_db=-6.0, bandwidth_mhz=BANDWIDTH_MHZ,
                   user_rate_mbps=1.0, admission_load=0.9, idle_load=0.05,
                   reference_rate_mbps=10.0)  # fmt: skip


def kpis(serving: np.ndarray, s_mw: np.ndarray, i_mw: np.ndarray, users: np.ndarray) -> Kpis:
    """compute_kpis of two one-cell sites (no overshoot limit)."""
    state = RadioState(serving.astype(np.int32), s_mw.astype(np.float32),
                       i_mw.astype(np.float32), NOISE_MW)  # fmt: skip
    distance_m = np.full((2, len(users)), 10.0, np.float32)
    return compute_kpis(state, users.astype(np.float32), distance_m, np.arange(2, dtype=np.int64),
                        np.full(2, 1e9), np.ones(2, bool), PARAMS)  # fmt: skip


def term_changes(cases: int, old_load: tuple[float, float], sinr_min_db: float,
                 seed: int) -> dict[str, np.ndarray]:  # fmt: skip
    """Per case, each reward term's change from the move."""
    rng = np.random.default_rng(seed)
    serving = np.array([0] * 4 + [1] * 4)
    s_mw = np.full(8, 10.0 ** (-85.0 / 10.0))
    rows = []
    for _ in range(cases):
        sinr_db = rng.uniform(sinr_min_db, 35.0, 8)
        users = rng.uniform(0.01, 5.0, 8)
        i_mw = s_mw / 10.0 ** (sinr_db / 10.0) - NOISE_MW
        peak = BANDWIDTH_MHZ * np.minimum(0.6 * np.log2(1.0 + 10.0 ** (sinr_db / 10.0)), 4.4)
        for cell, rho in enumerate((rng.uniform(*old_load), rng.uniform(0.95, 5.0))):
            mine = serving == cell
            users[mine] *= rho / (users[mine] / peak[mine]).sum()
        moved = serving.copy()
        moved[rng.integers(0, 4)] = 1
        before, after = (reward_terms(RewardInputs(kpis(sv, s_mw, i_mw, users), np.zeros(2), 10.0))
                         for sv in (serving, moved))  # fmt: skip
        rows.append({name: after[name] - before[name] for name in before})
    return {name: np.array([row[name] for row in rows]) for name in rows[0]}


def static_plan_day(scenario: str, excess_weight: float) -> dict[str, float]:
    """Means over static-plan's day (held-out realisation 1000000, seed 20000) with the
    `excess_load` weight at `excess_weight`, and its reward at the default weights."""
    from cellsim.contract import total_reward
    from cellsim.env.tilt_env import TiltEnv
    from cellsim.policies import make_policy

    env = TiltEnv(scenario, {"reward": {"excess_load": excess_weight}})
    policy = make_policy("static-plan", env)
    obs, _ = env.reset(seed=20000, options={"network_seed": 1_000_000})
    policy.reset()
    names = ("excess_load", "unserved_share", "mean_rate_mbps", "p5_rate_mbps")
    sums, reward, start, steps = dict.fromkeys(names, 0.0), 0.0, True, 0
    while True:
        action, _ = policy.predict(obs, episode_start=np.array([start]), deterministic=True)
        obs, _, terminated, truncated, info = env.step(action)
        start, steps = False, steps + 1
        reward += total_reward(info["rewards"], RewardWeights())
        for name in names:
            sums[name] += info["kpis"][name]
        if terminated or truncated:
            return {"default reward a day": reward} | {n: v / steps for n, v in sums.items()}


def overload_days(scenario: str) -> None:
    """Prints, per policy, the mean over held-out days of the overloaded and unserved shares
    (the day's mean and its worst step) under the default reward."""
    from cellsim.env.tilt_env import TiltEnv
    from cellsim.evaluation import run_episode
    from cellsim.policies import make_policy

    env = TiltEnv(scenario, {"realisations": {"split": "eval"}})
    for name in ("hold", "rule-geometric", "static-plan", "reference"):
        policy = make_policy(name, env)
        days = [run_episode(env, policy, seed=20000, network_seed=1_000_000 + r).per_step
                for r in range(3)]  # fmt: skip
        shares = {k: (np.mean([d[k].mean() for d in days]), np.mean([d[k].max() for d in days]))
                  for k in ("overload_share", "unserved_share")}  # fmt: skip
        print(f"{scenario} {name}: " + ", ".join(f"{k} day {m:.3f} worst step {w:.3f}"
                                                 for k, (m, w) in shares.items()))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--old-load", type=float, nargs=2, default=(0.05, 0.85),
                        metavar=("LOW", "HIGH"),
                        help="the old cell's offered load range")  # fmt: skip
    parser.add_argument("--sinr-min-db", type=float, default=-9.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plans", nargs="+", metavar="SCENARIO",
                        help="instead: static-plan's day with excess_load off and at the "
                             "guarantee weight")  # fmt: skip
    parser.add_argument("--days", nargs="+", metavar="SCENARIO",
                        help="instead: the overloaded and unserved shares of hold, the planning "
                             "rule, static-plan and the reference over held-out days")  # fmt: skip
    args = parser.parse_args()
    if args.days:
        for scenario in args.days:
            overload_days(scenario)
        return
    if args.plans:
        guarantee = overload_guarantee_weight(RewardWeights(), PARAMS.admission_load)
        for scenario in args.plans:
            for weight in (0.0, guarantee):
                day = static_plan_day(scenario, weight)
                print(f"{scenario}, excess_load {weight:.3g}: "
                      + ", ".join(f"{n} {v:.3f}" for n, v in day.items()))  # fmt: skip
        return
    changes = term_changes(args.cases, tuple(args.old_load), args.sinr_min_db, args.seed)
    weights = RewardWeights()
    guarantee = overload_guarantee_weight(weights, PARAMS.admission_load)
    for term, sweep in (("unserved", (2.0, 5.0, 10.0, 20.0, 50.0, 100.0)),
                        ("excess_load", (1.0, 2.0, 4.0, guarantee))):  # fmt: skip
        others = sum(getattr(weights, name) * d for name, d in changes.items() if name != term)
        for weight in sweep:
            gain = others + weight * changes[term]
            raised = int((gain > 1e-9).sum())
            print(f"{term} weight {weight:>5.3g}: the move raised the reward in {raised} of "
                  f"{args.cases} cases, at most {gain.max():+.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
