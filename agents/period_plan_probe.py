"""Where the reference's gain over static-plan lies: a plan for the day and a re-plan at dusk.

The reference (the day's best trajectory under the agent's constraints) beats static-plan by
about 1.5 reward a day on held-out hex7 (RESULTS.md). Its tilts differ from static-plan's in two
ways: a few cells sit 2–4° lower all day, and several others tilt up after 19:00. This probe
measures how much of that gain two static plans take, both searched by static-plan on the
true realisation:

- ``replan@H``: static-plan's plan for the whole day, then at hour H a new static plan for the
  rest of the day, made from the tilts and RET state reached by then;
- ``day-plan+replan@H``: a plan for the hours before H only (an env of `episode_hours` H), then
  the same re-plan at H.

Paired against static-plan on the same held-out episodes (network seeds 1 000 000 …, seeds
20000 …), with the reference beside them. Run from the repository root:

    .venv/bin/python agents/period_plan_probe.py hex7 --switch-hour 19 --seeds 2 [--tilts]
"""

from __future__ import annotations

import argparse

import numpy as np

from cellsim.env.tilt_env import TiltEnv
from cellsim.evaluation import EVAL_SEED0, HELD_OUT, held_out_seeds, mean_ci95, run_episode
from cellsim.policies import StaticPlan, TiltPolicy, make_policy
from cellsim.policies.baselines import DayObjective


class PeriodPlan(TiltPolicy):
    """Heads for a first plan, then at `switch_hour` for a re-plan of the rest of the day."""

    name = "period-plan"

    def __init__(self, env: TiltEnv, scenario: str, switch_hour: float, day_only: bool):
        super().__init__(env)
        self.switch_hour, self.day_only = switch_hour, day_only
        self.day_env = TiltEnv(scenario, {**HELD_OUT, "episode_hours": switch_hour})
        self.whole_day = StaticPlan(env)
        self.first: np.ndarray | None = None
        self.second: np.ndarray | None = None

    def reset(self, env_index: int | None = None) -> None:
        self.first = self.second = None
        self.whole_day.reset()

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        if self.first is None:
            if self.day_only:  # the same realisation, the hours before the switch only
                self.day_env.reset(seed=0, options={"network_seed": self.env.sim.network_seed})
                self.first = StaticPlan(self.day_env).target()
            else:
                self.first = self.whole_day.target()
        if self.env.hour >= self.switch_hour and self.second is None:
            self.second = StaticPlan(self.env).plan(DayObjective(self.env))
        target = self.first if self.second is None else self.second
        return self.toward(self.tilts(obs), target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="hex7")
    parser.add_argument("--switch-hour", type=float, default=19.0)
    parser.add_argument("--seeds", type=int, default=2, help="evaluation seeds per realisation")
    parser.add_argument("--tilts", action="store_true",
                        help="also print the reference's tilts minus static-plan's per cell "
                        "at 08, 12, 16, 19 and 21 h (each realisation's first seed)")  # fmt: skip
    args = parser.parse_args()
    env = TiltEnv(args.scenario, dict(HELD_OUT))
    static, reference = make_policy("static-plan", env), make_policy("reference", env)
    hour = f"{args.switch_hour:g}"
    policies = {f"replan@{hour}": PeriodPlan(env, args.scenario, args.switch_hour, False),
                f"day-plan+replan@{hour}": PeriodPlan(env, args.scenario, args.switch_hour, True)}
    gains: dict[str, list[float]] = {name: [] for name in ("reference", *policies)}
    for network_seed in held_out_seeds(3):
        for seed in range(EVAL_SEED0, EVAL_SEED0 + args.seeds):
            planned = run_episode(env, static, seed, network_seed)
            best = run_episode(env, reference, seed, network_seed)
            base = planned.reward
            gains["reference"].append(best.reward - base)
            if args.tilts and seed == EVAL_SEED0:
                for hour in (8, 12, 16, 19, 21):
                    step = int(np.argmin(np.abs(planned.hours - hour)))
                    offsets = best.tilts_deg[step] - planned.tilts_deg[step]
                    print(f"  {hour:02d} h reference − static-plan, deg:",
                          " ".join(f"{x:+.0f}" for x in offsets))  # fmt: skip
            for name, policy in policies.items():
                gains[name].append(run_episode(env, policy, seed, network_seed).reward - base)
            print(network_seed, seed, {k: round(v[-1], 2) for k, v in gains.items()}, flush=True)
    for name, values in gains.items():
        mean, (low, high) = mean_ci95(values)
        print(f"{args.scenario} {name}: vs static-plan {mean:+.2f} [{low:+.2f}, {high:+.2f}] "
              f"over {len(values)} episodes")  # fmt: skip


if __name__ == "__main__":
    main()
