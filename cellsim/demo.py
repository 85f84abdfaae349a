"""The main job (`make demo`): train PPO on a scenario, compare it with the operators' rules and
the reference on the same seeds, and draw before/after coverage maps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cellsim.env.tilt_env import TiltEnv
from cellsim.evaluation import compare, to_json, to_markdown
from cellsim.policies import make_policy
from cellsim.training import TrainSpec, load_run, train

if TYPE_CHECKING:
    from cellsim.viz.record import Predictor

MAP_HOUR = 11.0  # the business district's busy hour in hex7
#: PPO steps of the demo's training: what fits `make demo` in 15 minutes on 2 cores. Measured
#: 2026-12-02 with converged loads and RET: 599 steps/s, 9.5 minutes of training, 10 min 16 s for
#: the whole `make demo`; agents/ppo.yml's 450 560 steps would take ≈ 14.5 minutes of training
#: alone. `--timesteps` or `cellsim train` for the full budget.
DEMO_TIMESTEPS = 300_000


def tilts_at(env: TiltEnv, policy: Predictor, hour: float, seed: int) -> np.ndarray:
    """The tilts a policy has set by `hour` in an episode from `seed`."""
    obs, _ = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset()
    while env.hour < hour:
        action, _ = policy.predict(obs, deterministic=True)
        obs, *_ = env.step(action)
    return env.tilt_deg.copy()


def run_demo(
    out: str | Path = "results/demo",
    scenario: str = "hex7",
    timesteps: int | None = DEMO_TIMESTEPS,
    episodes: int = 5,
    progress: bool = True,
) -> dict[str, Path]:
    out = Path(out)
    run = out / "ppo"
    spec = TrainSpec(agent="ppo", scenario=scenario, timesteps=timesteps, out=str(run),
                     progress_bar=progress)  # fmt: skip
    if (run / "model.zip").is_file():
        print(f"using the trained model in {run} (delete it to train again)")
    else:
        spec.resume = (run / "config.yml").is_file()
        print(("resuming" if spec.resume else "training") + f" PPO on {scenario} in {run}")
        train(spec)
    print(f"comparing on {episodes} seeds × 3 held-out realisations: the baselines, the "
          "reference and ppo")
    results = compare(scenario, ["baselines", "reference", f"ppo={run}"], episodes,
                      progress=False)  # fmt: skip
    doc = to_json(scenario, results)
    table = to_markdown(doc, episodes)
    cmp_dir = out / "compare"
    cmp_dir.mkdir(parents=True, exist_ok=True)
    (cmp_dir / "results.json").write_text(json.dumps(doc, indent=1))
    (cmp_dir / "results.md").write_text(table)
    from cellsim.viz.compare import plot_comparison
    from cellsim.viz.maps import before_after_sinr

    plots = plot_comparison(results, cmp_dir)
    env = TiltEnv(scenario)
    model, _ = load_run(run)
    plans = {
        "rule-geometric": tilts_at(env, make_policy("rule-geometric", env), MAP_HOUR, 0),
        "ppo": tilts_at(env, model, MAP_HOUR, 0),
    }
    maps = before_after_sinr(env.sim, plans, MAP_HOUR, out / "maps" / "before_after_sinr.png",
                             f"{scenario}: planning rule vs PPO")  # fmt: skip
    print()
    print(table)
    files = {"run": run, "table": cmp_dir / "results.md", "json": cmp_dir / "results.json",
             "kpis_over_day": plots[0], "throughput_cdf": plots[1], "map": maps}  # fmt: skip
    print("results:")
    for name, path in files.items():
        print(f"  {name:<15} {path}")
    return files
