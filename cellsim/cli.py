"""The `cellsim` command. Thin: parses arguments, calls the modules, prints.

Every user error (bad argument, bad scenario file, out-of-range parameter) ends as one line on
stderr and exit code 2; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from cellsim import __version__
from cellsim.errors import CellsimError, ParameterError

if TYPE_CHECKING:
    import numpy as np

EXIT_USAGE = 2


def one_line(message: str) -> str:
    """The message with every character that could break or hide a line (newlines, control
    characters from a file name) escaped, so an error is always one readable line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be > 0")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be ≥ 0")
    return value


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} must be finite")
    return value


# -- pathloss ---------------------------------------------------------------------------------

def check_writable(path: str, suffixes: tuple[str, ...], option: str) -> None:
    """Fail before long work if an output file could not be written."""
    from pathlib import Path

    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise CellsimError(f"{option} {path!r}: allowed file types {', '.join(suffixes)}")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or (target.exists() and target.is_dir()):
        raise CellsimError(f"{option} {path!r}: {parent} is not a folder that can hold it")
    import os

    if not os.access(parent, os.W_OK | os.X_OK):
        raise CellsimError(f"{option} {path!r}: {parent} is not writable")


def _add_trust_flag(p: argparse.ArgumentParser) -> None:
    """The opt-out of safe run-folder loading, for every command that loads run folders."""
    p.add_argument("--trust-run-folders", action="store_true",
                   help="load run folders with Stable-Baselines3's own load, which runs code "
                   "saved in them: only for folders you trust (see README, SECURITY)")


def _add_pathloss(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pathloss",
        help="path loss of a 3GPP / empirical model at given distances",
        description="Median path loss (no shadowing) in dB at each 2D distance.",
    )
    from cellsim.radio.pathloss import PATHLOSS_MODELS

    p.add_argument("--model", required=True, choices=list(PATHLOSS_MODELS),
                   help="path-loss model")  # fmt: skip
    los = p.add_mutually_exclusive_group(required=True)
    los.add_argument("--los", dest="los", action="store_true", help="line of sight")
    los.add_argument("--nlos", dest="los", action="store_false", help="non line of sight")
    p.add_argument("--fc-ghz", type=_finite_float, required=True, help="carrier frequency, GHz")
    p.add_argument("--h-bs", type=_finite_float, required=True, help="base-station height, m")
    p.add_argument("--h-ut", type=_finite_float, required=True, help="UE height, m")
    p.add_argument(
        "--d2d", type=_finite_float, nargs="+", required=True, metavar="D", help="2D distances, m"
    )
    p.add_argument(
        "--building-height",
        type=_finite_float,
        default=5.0,
        help="RMa average building height, m (default 5)",
    )
    p.add_argument(
        "--street-width",
        type=_finite_float,
        default=20.0,
        help="RMa average street width, m (default 20)",
    )
    p.add_argument(
        "--bs-above-rooftop",
        type=_finite_float,
        default=15.0,
        help="macro: BS antenna height above rooftop, m (default 15)",
    )
    p.add_argument(
        "--metropolitan",
        action="store_true",
        help="COST-231: metropolitan centre correction (+3 dB)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_run_pathloss)


def _run_pathloss(args: argparse.Namespace) -> None:
    from cellsim.radio.pathloss import make_pathloss

    params = {
        "rma": {"avg_building_height_m": args.building_height, "street_width_m": args.street_width},
        "macro": {"bs_above_rooftop_m": args.bs_above_rooftop},
        "cost231": {"metropolitan": args.metropolitan},
    }.get(args.model, {})
    model = make_pathloss(args.model, **params)
    pl = model.pathloss_db(args.d2d, args.h_bs, args.h_ut, args.fc_ghz, args.los, strict=True)
    values = [round(float(v), 4) for v in pl]
    if args.json:
        print(
            json.dumps({"model": args.model, "los": args.los, "d2d_m": args.d2d, "pl_db": values})
        )
        return
    print(
        f"{args.model} {'LOS' if args.los else 'NLOS'}, fc {args.fc_ghz:g} GHz, "
        f"h_BS {args.h_bs:g} m, h_UT {args.h_ut:g} m"
    )
    print(f"{'d2d_m':>10}  {'pl_db':>9}")
    for d, v in zip(args.d2d, values, strict=True):
        print(f"{d:>10g}  {v:>9.4f}")


# -- calibrate --------------------------------------------------------------------------------


def _add_calibrate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="3GPP large-scale calibration: coupling-loss and geometry percentiles",
        description="Drop UEs as in the scenario's [calibration] section and print the "
        "percentiles p5…p95 of coupling loss and geometry, against the 3GPP reference if any.",
    )
    p.add_argument("scenario", help="built-in calibration scenario name or a scenario file")
    p.add_argument("--ues", type=_positive_int, help="number of UEs (default: the scenario's)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed ≥ 0 (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--plot", metavar="FILE.png", help="write both CDFs to this image")
    p.set_defaults(run=_run_calibrate)


def _run_calibrate(args: argparse.Namespace) -> None:
    from cellsim.calibration import run_calibration
    from cellsim.scenario import load_scenario

    if args.plot:
        check_writable(args.plot, (".png", ".svg", ".pdf"), "--plot")
    scenario = load_scenario(args.scenario)
    result = run_calibration(scenario, ues=args.ues, seed=args.seed)
    table = result.percentiles()
    reference = scenario.calibration.reference if scenario.calibration else None
    if args.plot:
        from cellsim.viz.calibration import plot_calibration

        plot_calibration(result, reference, args.plot)
    if args.json:
        print(json.dumps({"scenario": scenario.name, **table}))
        return
    print(f"{scenario.name}: {len(result.geometry_db):,} UEs, seed {args.seed}")
    if reference:
        print(f"reference: {reference.source}")
    head = f"{'':>4} {'coupling loss dB':>17}"
    head += f" {'ref':>7} {'diff':>5}" if reference else ""
    head += f" {'geometry dB':>12}" + (f" {'ref':>6} {'diff':>5}" if reference else "")
    print(head)
    for i, key in enumerate(table["coupling_loss_db"]):
        cl, ge = table["coupling_loss_db"][key], table["geometry_db"][key]
        line = f"{key:>4} {cl:>17.1f}"
        if reference:
            rcl = reference.coupling_loss_db[i]
            line += f" {rcl:>7.1f} {cl - rcl:>+5.1f}"
        line += f" {ge:>12.1f}"
        if reference:
            rge = reference.geometry_db[i]
            line += f" {rge:>6.1f} {ge - rge:>+5.1f}"
        print(line)
    if args.plot:
        print(f"plot written to {args.plot}")


# -- bench ------------------------------------------------------------------------------------


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="time the hot paths (link-budget re-evaluation)",
        description="Times (1) re-evaluating the link budget of tr36814-case1 (57 cells) after "
        "all tilts changed, at 10 000 and 100 000 receiver points, on one core, and (2) "
        "cellsim/Tilt-v0's env.step with every cell changing tilt, and env creation, and (3) the "
        "per-cell PettingZoo env's step on a large hexagonal network.",
    )
    p.add_argument("--scenarios", nargs="+", default=["hex7", "case1"], metavar="NAME",
                   help="scenarios for the env.step benchmark (default: hex7 case1)")
    p.add_argument("--steps", type=_positive_int, default=2000,
                   help="env steps timed per scenario (default 2000)")
    p.add_argument("--repeats", type=_positive_int, default=20, help="timed calls (default 20)")
    p.add_argument("--per-cell-sites", type=int, default=169, metavar="N",
                   help="sites of the hexagonal network for the per-cell env benchmark "
                   "(default 169 = 507 cells; 0 skips it)")
    p.add_argument("--pool-episodes", type=int, default=20, metavar="N",
                   help="whole days per scenario on one realisation and on the 64-realisation "
                   "training pool, resets included (default 20; 0 skips it)")
    p.add_argument("--ppo-steps", type=int, default=8192, metavar="N",
                   help="PPO training steps on hex7, one realisation vs the pool (default 8192; "
                   "0 skips it)")
    p.add_argument("--large", action="store_true",
                   help="instead: the sparse link budget (issue 17): a 1000-site (3000-cell) "
                   "network over 300 000 points (build, peak RSS, steps/s, neglected "
                   "interference) and its accuracy against the dense budget on case1 and a "
                   "507-cell network (minutes; one process)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_run_bench)


def _run_bench(args: argparse.Namespace) -> None:
    from cellsim.bench import (
        bench_env_step,
        bench_episodes,
        bench_link_budget,
        bench_per_cell_step,
        bench_ppo,
    )
    from cellsim.network.layout import HEX_SITE_COUNTS
    from cellsim.scenario import load_scenario

    if args.large:
        from cellsim.bench import large_rows, print_rows

        rows_large = large_rows()
        print(json.dumps(rows_large) if args.json else print_rows(rows_large))
        return
    for name in args.scenarios:
        load_scenario(name)  # a bad name fails before any timing
    if args.per_cell_sites and args.per_cell_sites not in HEX_SITE_COUNTS:
        raise ParameterError("--per-cell-sites", args.per_cell_sites,
                             f"0 or one of {', '.join(map(str, HEX_SITE_COUNTS))}")  # fmt: skip
    rows = [bench_link_budget(n, repeats=args.repeats) for n in (10_000, 100_000)]
    env_rows = [bench_env_step(name, args.steps) for name in args.scenarios]
    per_cell = [bench_per_cell_step(args.per_cell_sites)] if args.per_cell_sites else []
    pools = ("fixed", "train")
    pool_rows = [bench_episodes(name, pool, args.pool_episodes) for name in args.scenarios
                 for pool in pools] if args.pool_episodes > 0 else []  # fmt: skip
    ppo_rows = [bench_ppo("hex7", pool, args.ppo_steps) for pool in pools
                if args.ppo_steps > 0]  # fmt: skip
    if args.json:
        print(json.dumps({"link_budget": rows, "env_step": env_rows, "per_cell_step": per_cell,
                          "realisation_pool": pool_rows, "ppo": ppo_rows}))  # fmt: skip
        return
    print("link budget re-evaluation, all tilts changed (one core)")
    print(
        f"{'scenario':<15} {'cells':>5} {'points':>8} {'evaluate ms':>12} "
        f"{'pairs/s':>14} {'precompute s':>13}"
    )
    for r in rows:
        print(
            f"{r['scenario']:<15} {r['n_cells']:>5} {r['n_points']:>8} "
            f"{r['evaluate_ms']:>12.2f} {r['pairs_per_s']:>14,} {r['precompute_s']:>13.2f}"
        )
    print("\ncellsim/Tilt-v0 env.step, every cell changing tilt (one process)")
    print(f"{'scenario':<15} {'cells':>5} {'points':>8} {'step us':>9} {'steps/s':>9} "
          f"{'create s':>9}")  # fmt: skip
    for r in env_rows:
        _print_step_row(r)
    for r in per_cell:
        print("\nper-cell PettingZoo env.step (a dict action per cell), every cell changing tilt")
        _print_step_row(r)
    if pool_rows:
        print("\nwhole days with random moves, resets included: one realisation vs the pool of 64")
        print(f"{'scenario':<15} {'realisations':>12} {'steps/s':>9} {'first visit s':>14}")
        for r in pool_rows:
            print(f"{r['scenario']:<15} {r['realisations']:>12} {r['steps_per_s']:>9,} "
                  f"{r['first_visit_s']:>14.3f}")  # fmt: skip
    for r in ppo_rows:
        print(f"PPO training on {r['scenario']}, realisations {r['realisations']}: "
              f"{r['steps_per_s']:,} steps/s")


def _print_step_row(r: dict) -> None:
    print(f"{r['scenario']:<15} {r['n_cells']:>5} {r['n_points']:>8} {r['step_us']:>9.1f} "
          f"{r['steps_per_s']:>9,} {r['create_s']:>9.2f}")  # fmt: skip



# -- train ------------------------------------------------------------------------------------


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r}: allowed a JSON object {{...}}")
    return value


def _add_train(sub: argparse._SubParsersAction) -> None:
    from cellsim.training import AGENTS

    agents = "; ".join(f"{name}: {spec.doc}" for name, spec in AGENTS.items())
    p = sub.add_parser(
        "train",
        help="train a Stable-Baselines3 agent on cellsim/Tilt-v0",
        description="Train an agent with the hyperparameters of its built-in definition "
        "(agents/AGENT.yml, rl-zoo3 layout) or of --hyperparams-file into a run folder "
        "(runs/AGENT/SCENARIO_N/ unless --out): model.zip, config.yml, checkpoints/, eval/, "
        "tb/ (TensorBoard), metrics.json. Ctrl-C saves a checkpoint; --resume continues from "
        f"the last one. Agents: {agents}.",
    )
    p.add_argument("--agent", choices=list(AGENTS),
                   help="agent of the registry (see above); not needed with --resume")  # fmt: skip
    p.add_argument("--scenario", help="scenario name or file (default hex7)")
    p.add_argument("--timesteps", type=_positive_int, help="env steps (default: the YAML's)")
    p.add_argument("--seed", type=_seed, help="random seed ≥ 0 (default 0)")
    p.add_argument("--n-envs", type=_positive_int, help="parallel envs (default: the YAML's)")
    p.add_argument("--out", metavar="DIR", help="run folder (must be new unless --resume)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out with its saved config.yml (a flag that "
                   "differs from it is refused)")  # fmt: skip
    p.add_argument("--checkpoint-minutes", type=_positive_float, default=5.0, metavar="MIN",
                   help="a checkpoint every MIN minutes of training, so that a kill loses at "
                   "most that much (default 5)")  # fmt: skip
    p.add_argument("--eval-every", type=_positive_int, metavar="STEPS",
                   help="evaluate (eval/evaluations.npz, best_model.zip) every STEPS env steps "
                   "(default 10000)")  # fmt: skip
    p.add_argument("--config", type=_json_object, metavar="JSON",
                   help='env config overrides, e.g. \'{"reward": {"edge": 1}}\'')
    p.add_argument("--hyperparams", type=_json_object, metavar="JSON",
                   help='overrides of the YAML entry, e.g. \'{"learning_rate": 1e-4}\'')
    p.add_argument("--hyperparams-file", metavar="FILE.yml",
                   help="your own hyperparameters (rl-zoo3 layout, a cellsim/Tilt-v0 entry) "
                   "instead of the agent's built-in file")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> None:
    from cellsim.training import TrainSpec, train

    if args.agent is None and not args.resume:
        raise CellsimError("cellsim train: --agent is required (unless --resume continues a run)")
    flags = ("agent", "scenario", "timesteps", "seed", "n_envs", "config", "hyperparams",
             "hyperparams_file", "eval_every")  # fmt: skip
    given = tuple(name.replace("eval_every", "eval_freq") for name in flags
                  if getattr(args, name) is not None)  # fmt: skip
    spec = TrainSpec(
        agent=args.agent or "ppo", scenario=args.scenario or "hex7", timesteps=args.timesteps,
        seed=0 if args.seed is None else args.seed, n_envs=args.n_envs, out=args.out,
        resume=args.resume, config=args.config or {}, hyperparams=args.hyperparams or {},
        hyperparams_file=args.hyperparams_file, progress_bar=not args.no_progress,
        checkpoint_minutes=args.checkpoint_minutes, eval_freq=args.eval_every or 10_000,
        given=given if args.resume else (),
    )  # fmt: skip
    try:
        run = train(spec)
    except KeyboardInterrupt:
        sys.exit(130)
    print(f"run folder: {run}")


# -- compare ----------------------------------------------------------------------------------


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="evaluate agents on the same seeds: rewards, KPIs, 95%% CIs, normalised scores",
        description="Every agent runs the same evaluation seeds (held-out realisations). "
        "Agents: hold, best-uniform, pool-plan, static-plan, period-plan, rule-geometric, "
        "rule-son (the "
        "baselines: the default, or the word 'baselines'), reference, or NAME=RUN_DIR for a "
        "trained run. "
        "Score = (R − R_rule-geometric) / (R_reference − R_rule-geometric); rule-geometric and "
        "reference (the day's best trajectory under the agent's constraints) are always "
        "evaluated.",
    )
    p.add_argument("--scenario", default="hex7", help="scenario name or file (default hex7)")
    p.add_argument("--agents", nargs="+", metavar="AGENT",
                   help="hold, best-uniform, pool-plan, static-plan, period-plan, "
                   "rule-geometric, rule-son, baselines (those seven: the default), reference, "
                   "or NAME=RUN_DIR[,RUN_DIR…] "
                   "(folders from cellsim train; several runs of one recipe are pooled); "
                   "rule-geometric and reference are always added")
    p.add_argument("--episodes", type=_positive_int, default=10,
                   help="evaluation seeds per realisation (default 10)")
    p.add_argument("--realisations", type=_positive_int, default=3,
                   help="held-out network realisations, each run with every seed (default 3)")
    p.add_argument("--config", type=_json_object, default={}, metavar="JSON",
                   help="env config overrides for every agent")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--out", metavar="DIR", help="write results.json, results.md and plots here")
    _add_trust_flag(p)
    p.set_defaults(run=_run_compare)


def _run_compare(args: argparse.Namespace) -> None:
    from cellsim.evaluation import compare, to_json, to_markdown

    if args.out:
        check_writable(str(Path(args.out) / "results.json"), (".json",), "--out")
    results = compare(args.scenario, args.agents, args.episodes, args.config,
                      progress=not args.json, realisations=args.realisations)  # fmt: skip
    doc = to_json(args.scenario, results)
    markdown = to_markdown(doc, args.episodes)
    if args.out:
        from cellsim.viz.compare import plot_comparison

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(doc, indent=1))
        (out / "results.md").write_text(markdown)
        plot_comparison(results, out)
    if args.json:
        print(json.dumps(doc))
    else:
        print(markdown)
        if args.out:
            print(f"written to {args.out}/ (results.json, results.md, kpis_over_day.png, "
                  "throughput_cdf.png, sinr_cdf.png)")

# -- demo -------------------------------------------------------------------------------------


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the main job: train PPO, compare with the baselines and the reference, draw maps",
        description="Train PPO on the scenario (or reuse the model already in OUT/ppo), "
        "compare it with the baselines and the reference on the same seeds, and draw "
        "before/after SINR maps; prints where everything is.",
    )
    p.add_argument("--scenario", default="hex7", help="scenario (default hex7)")
    p.add_argument("--out", default="results/demo", help="results folder (default results/demo)")
    p.add_argument("--timesteps", type=_positive_int,
                   help="PPO steps (default 300 000, cellsim.demo.DEMO_TIMESTEPS: the demo fits "
                   "in 15 minutes on 2 cores; agents/ppo.yml trains 450 560)")
    p.add_argument("--episodes", type=_positive_int, default=5,
                   help="evaluation seeds per held-out realisation (default 5; 3 realisations)")
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> None:
    from cellsim.demo import DEMO_TIMESTEPS, run_demo

    check_writable(str(Path(args.out) / "results.json"), (".json",), "--out")
    run_demo(args.out, args.scenario, args.timesteps or DEMO_TIMESTEPS, args.episodes)


# -- map --------------------------------------------------------------------------------------


def _hour(text: str) -> float:
    try:
        hh, mm = text.split(":")
        hour, minute = int(hh), int(mm)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed HH:MM, e.g. 11:00") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise argparse.ArgumentTypeError(f"{text!r}: allowed 00:00 … 23:59")
    return hour + minute / 60.0


def _add_map(sub: argparse._SubParsersAction) -> None:
    from cellsim.viz.maps import MAP_KINDS

    p = sub.add_parser(
        "map",
        help="a coverage map of a scenario under a tilt plan",
        description="Draw SINR, RSRP, serving cell, throughput, coverage or demand over the "
        "study area with sites, azimuths and tilts, under the tilts a policy has set by --time "
        "(default: the scenario's tilts).",
    )
    p.add_argument("--scenario", default="hex7", help="scenario name or file (default hex7)")
    p.add_argument("--kind", choices=list(MAP_KINDS),
                   help="what to draw (default sinr; server for a .geojson)")
    p.add_argument("--policy", metavar="P",
                   help="a built-in policy (rule-geometric, static-plan, reference, …) or a "
                   "run folder (default: none)")
    p.add_argument("--carrier", type=float, metavar="MHZ",
                   help="one carrier of a multi-carrier network (its frequency in MHz): its "
                   "own SINR, load, servers and demand (default: the network combined)")
    p.add_argument("--time", type=_hour, default=11.0, metavar="HH:MM",
                   help="time of day (default 11:00)")
    p.add_argument("--compare", nargs=2, metavar=("POLICY_A", "POLICY_B"),
                   help="SINR maps of two policies side by side and their difference")
    p.add_argument("--out", default="map.png",
                   help="image file .png, .svg or .pdf; for QGIS (geo-referenced scenarios): "
                   ".tif a GeoTIFF of --kind, .geojson the best-server regions (WGS84)")
    _add_trust_flag(p)
    p.set_defaults(run=_run_map)


def _run_map(args: argparse.Namespace) -> None:
    from cellsim.env.tilt_env import TiltEnv
    from cellsim.viz.gis import GEOJSON_SUFFIXES, GIS_SUFFIXES, export_map
    from cellsim.viz.maps import draw_map

    check_writable(args.out, (".png", ".svg", ".pdf", *GIS_SUFFIXES), "--out")
    gis = Path(args.out).suffix.lower() in GIS_SUFFIXES
    if args.kind is None:
        args.kind = "server" if Path(args.out).suffix.lower() in GEOJSON_SUFFIXES else "sinr"
    if args.compare and args.policy:
        raise CellsimError("--compare and --policy: give one or the other")
    if args.compare and gis:
        raise CellsimError(f"--compare with --out {args.out!r}: a comparison is a figure: "
                           "allowed .png, .svg or .pdf")  # fmt: skip
    if args.compare and args.carrier is not None:
        raise CellsimError("--compare and --carrier: a comparison shows the whole network")
    env = TiltEnv(args.scenario)

    # policies import torch (run folders): only when a policy is asked for
    def plan(spec: str) -> tuple[str, np.ndarray]:
        from cellsim.demo import tilts_at
        from cellsim.evaluation import load_policy

        name, policy = load_policy(spec, env)
        return name, tilts_at(env, policy, args.time, seed=0)

    if args.compare:
        from cellsim.viz.maps import before_after_sinr

        plans = dict(plan(spec) for spec in args.compare)
        if len(plans) < 2:
            raise CellsimError(f"--compare {' '.join(args.compare)}: give two different policies")
        out = before_after_sinr(env.sim, plans, args.time, args.out, env.scenario.name)
    else:
        tilt, label = env.sim.layout.cells.tilt_deg.copy(), "scenario tilts"
        if args.policy:
            label, tilt = plan(args.policy)
        draw = export_map if gis else draw_map
        out = draw(env.sim, tilt, args.time, args.kind, args.out, f"{env.scenario.name}, {label}",
                   args.carrier)  # fmt: skip
    print(f"map written to {out}")


# -- recommend --------------------------------------------------------------------------------


def _add_recommend(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "recommend",
        help="a policy's tilts written back into the site database's CSV, for the OSS",
        description="Run a policy on a site-database scenario until --time and write its "
        "electrical tilts into a copy of the site database (same columns and rows, tilt_deg "
        "changed, kept within each cell's RET range), plus a change list with the old, new and "
        "delta tilt per cell (cellsim.recommend).",
    )
    p.add_argument("--scenario", required=True, help="scenario name or file (layout.type sites)")
    p.add_argument("--policy", required=True, metavar="P",
                   help="a built-in policy (rule-geometric, rule-son, static-plan, reference, …) "
                   "or a run folder")  # fmt: skip
    p.add_argument("--time", type=_hour, default=11.0, metavar="HH:MM",
                   help="the tilts the policy has set by this time of day (default 11:00)")
    p.add_argument("--seed", type=_seed, default=0, help="episode seed (default 0)")
    p.add_argument("--out", required=True, metavar="FILE.csv", help="the new site database")
    p.add_argument("--changes", metavar="FILE.csv",
                   help="the change list (default: FILE.changes.csv beside --out)")
    _add_trust_flag(p)
    p.set_defaults(run=_run_recommend)


def _run_recommend(args: argparse.Namespace) -> None:
    from cellsim.recommend import changes_path, run_recommend

    check_writable(args.out, (".csv",), "--out")
    check_writable(str(args.changes or changes_path(args.out)), (".csv",), "--changes")
    rec, out, changes = run_recommend(args.scenario, args.policy, args.time, args.out,
                                      args.changes, args.seed)  # fmt: skip
    print(f"{rec.summary()}; site database written to {out}, changes to {changes}")


# -- record -----------------------------------------------------------------------------------


def _add_record(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record",
        help="record an episode of a policy as an animated SINR map",
        description="Run one episode of a policy and save env.render() frames as a GIF (or "
        "MP4 where imageio-ffmpeg is installed, as with the dev extra).",
    )
    p.add_argument("--scenario", default="hex7", help="scenario name or file (default hex7)")
    p.add_argument("--policy", required=True, metavar="P",
                   help="a built-in policy (rule-geometric, static-plan, reference, …) or "
                   "NAME=RUN_DIR")
    p.add_argument("--seed", type=_seed, default=0, help="episode seed (default 0)")
    p.add_argument("--every", type=_positive_int, default=1,
                   help="keep every Nth step (default 1)")
    p.add_argument("--out", default="episode.gif",
                   help="episode.gif or episode.mp4 (default episode.gif)")
    _add_trust_flag(p)
    p.set_defaults(run=_run_record)


def _run_record(args: argparse.Namespace) -> None:
    from cellsim.env.tilt_env import TiltEnv
    from cellsim.evaluation import load_policy
    from cellsim.viz.record import record_episode

    check_writable(args.out, (".gif", ".mp4"), "--out")
    if args.out.lower().endswith(".mp4"):
        from cellsim.viz.record import mp4_writer_available

        if not mp4_writer_available():
            raise CellsimError(f"--out {args.out!r}: MP4 needs imageio-ffmpeg, not installed "
                               "(pip install imageio-ffmpeg): use .gif")  # fmt: skip
    env = TiltEnv(args.scenario)
    _, policy = load_policy(args.policy, env)
    out = record_episode(env, policy, args.out, args.seed, args.every)
    print(f"episode written to {out}")


# -- curves -----------------------------------------------------------------------------------


def _add_curves(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "curves", help="training curves of run folders (evaluation reward)",
        description="Plot the mean evaluation reward (± one standard deviation over the "
        "evaluation episodes) against env steps, from each run folder's eval/evaluations.npz.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="folders from cellsim train")
    p.add_argument("--out", default="training.png",
                   help="image file .png, .svg or .pdf (default training.png)")
    p.set_defaults(run=_run_curves)


def _run_curves(args: argparse.Namespace) -> None:
    from cellsim.viz.training import plot_training_curves

    check_writable(args.out, (".png", ".svg", ".pdf"), "--out")
    print(f"curves written to {plot_training_curves(args.runs, args.out)}")


# -- report -----------------------------------------------------------------------------------


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="one self-contained HTML page: comparison table, maps, before/after, CDFs",
        description="Evaluate agents as `cellsim compare` does and write one HTML page with "
        "every image embedded (no network needed): the table, rule-geometric vs the best agent, "
        "its server map, an SINR map per agent at --time, CDFs and KPIs over the day.",
    )
    p.add_argument("--scenario", default="hex7", help="scenario name or file (default hex7)")
    p.add_argument("--agents", nargs="+", required=True, metavar="AGENT",
                   help="built-in policies (rule-geometric, static-plan, reference, …) or "
                   "NAME=RUN_DIR")
    p.add_argument("--episodes", type=_positive_int, default=3, help="seeds (default 3)")
    p.add_argument("--time", type=_hour, default=11.0, metavar="HH:MM",
                   help="time of day of the maps (default 11:00)")
    p.add_argument("--config", type=_json_object, default={}, metavar="JSON",
                   help="env config overrides for every agent")
    p.add_argument("--out", default="report.html", help="the .html file (default report.html)")
    _add_trust_flag(p)
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> None:
    from cellsim.env.tilt_env import TiltEnv
    from cellsim.evaluation import compare
    from cellsim.viz.report import write_report

    check_writable(args.out, (".html",), "--out")
    results = compare(args.scenario, args.agents, args.episodes, args.config)
    env = TiltEnv(args.scenario, args.config)
    print(f"report written to {write_report(env, results, args.episodes, args.time, args.out)}")


# -- scenarios --------------------------------------------------------------------------------


def _add_scenarios(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenarios", help="list, show, validate scenario files; print the schema")
    verbs = p.add_subparsers(
        dest="verb", required=True, metavar="{list,show,validate,schema}", parser_class=_Parser
    )
    verbs.add_parser("list", help="built-in scenarios").set_defaults(run=_run_scenarios_list)
    show = verbs.add_parser(
        "show", help="a scenario resolved: its `extends` chain merged, every default filled in"
    )
    show.add_argument("name", help="built-in name or file")
    show.set_defaults(run=_run_scenarios_show)
    val = verbs.add_parser("validate", help="check scenario files; one line per file")
    val.add_argument("files", nargs="+", metavar="FILE")
    val.set_defaults(run=_run_scenarios_validate)
    verbs.add_parser("schema", help="JSON Schema for editors").set_defaults(
        run=_run_scenarios_schema
    )


def _run_scenarios_list(args: argparse.Namespace) -> None:
    from cellsim.scenario import available_scenarios, load_scenario_file

    bad = 0
    for name, path in available_scenarios().items():
        try:
            description = load_scenario_file(path).description
        except CellsimError as exc:  # reported, and the others still listed
            print(f"cellsim scenarios list: error: {one_line(str(exc))}", file=sys.stderr)
            bad += 1
            continue
        print(f"{name:<20} {description}")
    if bad:
        sys.exit(EXIT_USAGE)


def _run_scenarios_show(args: argparse.Namespace) -> None:
    from cellsim.scenario import load_scenario

    print(json.dumps(load_scenario(args.name).model_dump(mode="json"), indent=2))


def _run_scenarios_validate(args: argparse.Namespace) -> None:
    from cellsim.network.build import build_layout, build_radio_setup
    from cellsim.network.limits import check_buildable
    from cellsim.scenario import check_event_sites, load_scenario_file

    failed = 0
    for f in args.files:
        try:
            scenario = load_scenario_file(f)
            layout = build_layout(scenario)
            build_radio_setup(scenario, layout)
            check_event_sites(scenario, layout.n_sites)
            check_buildable(scenario, layout)
            print(f"{f}: ok ({scenario.name})")
        except CellsimError as exc:
            print(one_line(str(exc)), file=sys.stderr)
            failed += 1
    if failed:
        sys.exit(EXIT_USAGE)


def _run_scenarios_schema(args: argparse.Namespace) -> None:
    from cellsim.scenario import json_schema

    print(json.dumps(json_schema(), indent=2))


# -- main -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cellsim",
        description="cellsim: a fast, 3GPP-calibrated simulator of antenna tilt in mobile "
        "networks.",
    )
    parser.add_argument("--version", action="version", version=f"cellsim {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    _add_pathloss(sub)
    _add_calibrate(sub)
    _add_bench(sub)
    _add_train(sub)
    _add_compare(sub)
    _add_demo(sub)
    _add_map(sub)
    _add_recommend(sub)
    _add_record(sub)
    _add_curves(sub)
    _add_report(sub)
    _add_scenarios(sub)
    from cellsim.sweep.cli import add_parser as _add_sweep

    _add_sweep(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "trust_run_folders", False):
            from cellsim.training.loading import trusting

            with trusting():
                args.run(args)
        else:
            args.run(args)
    except CellsimError as exc:
        print(f"cellsim {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `cellsim scenarios schema | head`
        return 0
    except KeyboardInterrupt:  # Ctrl-C before a command's own handling (e.g. while importing)
        print(f"\ncellsim {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
