"""A scenario built in code (a Python factory), run in the env with the SON rule.

    python agents/custom_scenario.py
The same function can be named anywhere a scenario is: scenario="custom_scenario:build" with
this folder on PYTHONPATH.
"""

import gymnasium as gym

import cellsim  # noqa: F401  registers cellsim/Tilt-v0
from cellsim.evaluation import run_episode
from cellsim.policies import make_policy


def build() -> dict:
    """Seven UMa sites at 3.5 GHz with an 8-element array and one evening hotspot."""
    return {
        "name": "my-uma-3500",
        "description": "7 sites, UMa 3.5 GHz, an evening hotspot",
        "layout": {"type": "hex", "n_sites": 7, "isd_m": 400, "height_m": 25, "tilt_deg": 6,
                   "wraparound": True},
        "radio": {"fc_ghz": 3.5, "n_prb": 100},
        "pathloss": {"model": "uma"},
        "antenna": {"kind": "tr38901", "n_elements": 8},
        "demand": {"peak_users": 250,
                   "hotspots": [{"name": "bars", "kind": "gaussian", "center_m": [200, 100],
                                 "sigma_m": 150, "density": 10, "profile": "evening"}]},
        "env": {"episode_hours": 6, "start_hour": 17},
    }  # fmt: skip


def main() -> None:
    from cellsim.scenario import parse_scenario

    env = gym.make("cellsim/Tilt-v0", scenario=parse_scenario(build(), "custom_scenario.py"))
    son = make_policy("rule-son", env.unwrapped)
    result = run_episode(env.unwrapped, son, seed=0)
    print(f"rule-son from 17:00 to 23:00: reward {result.reward:.2f}, {result.kpis}")


if __name__ == "__main__":
    main()
