"""`cellsim sweep`: argument parsing and printing only; the work is in cellsim.sweep.runner."""

from __future__ import annotations

import argparse
import sys

SWEEP_HELP = (
    "Run every trial of a sweep file (scenarios × agents × seeds): train each trainable agent, "
    "evaluate it on the evaluation seeds of `cellsim compare`, and aggregate into trials.csv, "
    "results.md and results.json in --out. Re-running the same command resumes: finished trials "
    "are skipped, failed ones retried."
)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `cellsim sweep` on the main parser's subcommands."""
    from cellsim.cli import _positive_int
    from cellsim.sweep.runner import ENGINES

    p = sub.add_parser("sweep", help="scenario × agent × seed sweeps, locally or on Ray",
                       description=SWEEP_HELP)  # fmt: skip
    p.add_argument("file", metavar="SWEEP.yaml", help="sweep file (see agents/sweep-example.yaml)")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: a process pool on this machine (default); ray: Ray Tune")
    p.add_argument("--address", metavar="ADDR",
                   help="Ray cluster to join, e.g. auto or HOST:6379 (default: a local Ray)")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="trials at a time (default: CPU count; with --address: the cluster's)")
    p.add_argument("--cpus-per-trial", type=_positive_float, default=1.0, metavar="C",
                   help="Ray: CPUs reserved per trial (default 1)")
    p.add_argument("--out", metavar="DIR", help="sweep folder (default sweeps/NAME)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the results")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from cellsim.errors import CellsimError
    from cellsim.sweep.runner import run_sweep

    if args.address and args.engine != "ray":
        raise CellsimError(f"--address {args.address!r}: only with --engine ray")
    try:
        outcome = run_sweep(args.file, args.engine, args.out, args.workers, args.address,
                            args.cpus_per_trial, progress=not args.quiet)  # fmt: skip
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials are kept; re-run the same command to continue",
              file=sys.stderr)  # fmt: skip
        sys.exit(130)
    print((outcome.out / "results.md").read_text())
    totals = outcome.results["trials"]
    print(f"{outcome.ran} trials run ({outcome.ok} ok, {outcome.failed} failed), "
          f"{outcome.skipped} finished earlier; {totals['ok']}/{totals['total']} done. "
          f"Written to {outcome.out}/ (trials.csv, trials.jsonl, results.md, results.json)")
    if totals["failed"]:
        print(f"{totals['failed']} trial(s) failed (see trials.csv): re-run the same command "
              "to retry them", file=sys.stderr)  # fmt: skip
        sys.exit(1)
