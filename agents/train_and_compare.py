"""Train PPO on hex7 from a script, reload it, and compare it with the operators' rules.

    python agents/train_and_compare.py --timesteps 50000
"""

import argparse

from cellsim.evaluation import compare, to_json, to_markdown
from cellsim.training import TrainSpec, load_run, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", default="hex7")
    parser.add_argument("--timesteps", type=int, default=50_000)
    args = parser.parse_args()

    run = train(TrainSpec(agent="ppo", scenario=args.scenario, timesteps=args.timesteps))
    model, config = load_run(run)  # the model and everything needed to rebuild its env
    print(f"trained {config['timesteps']} steps into {run}: {type(model).__name__}")

    results = compare(args.scenario, ["rule-geometric", "rule-son", f"ppo={run}"], episodes=5)
    doc = to_json(args.scenario, results)
    print(to_markdown(doc, episodes=5))
    print(f"PPO score: {doc['agents']['ppo']['score']:.2f} (0 = planning rule, 1 = reference)")


if __name__ == "__main__":
    main()
