"""Run a sweep: load the file, open (or resume) its folder, run what is left on an engine,
aggregate.

Decisions:
- Resuming is re-running the same command: trials recorded `ok` are skipped, failed ones and
  those never recorded (in flight when the sweep was interrupted) run again.
- Long trials go first (the reference, then trained agents, then the rules), so the last trials to
  finish are short ones and workers stay busy to the end.
- Progress is a tqdm bar on stderr (ok and failed counts); each failure is printed with its error
  when it happens, and results.md / results.json are rewritten at the end, also after Ctrl-C.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from cellsim.errors import ParameterError
from cellsim.sweep.results import SweepStore
from cellsim.sweep.spec import Sweep, Trial, load_sweep

if TYPE_CHECKING:
    from tqdm import tqdm

ENGINES = ("local", "ray")


@dataclass
class SweepOutcome:
    out: Path
    skipped: int  # finished in an earlier run
    ran: int
    ok: int
    failed: int
    results: dict[str, Any]


def _cost(trial: Trial) -> int:
    return 0 if trial.agent == "reference" else 1 if trial.trainable else 2


def default_out(sweep: Sweep) -> Path:
    return Path("sweeps") / sweep.name


def run_sweep(
    path: str | Path,
    engine: str = "local",
    out: str | Path | None = None,
    workers: int | None = None,
    address: str | None = None,
    cpus_per_trial: float = 1.0,
    progress: bool = True,
) -> SweepOutcome:
    """Run (or resume) the sweep in file `path` into `out` (default `sweeps/NAME/`)."""
    if engine not in ENGINES:
        raise ParameterError("--engine", engine, " or ".join(ENGINES))
    if workers is not None and workers < 1:
        raise ParameterError("--workers", workers, "≥ 1")
    if cpus_per_trial <= 0:
        raise ParameterError("--cpus-per-trial", cpus_per_trial, "> 0")
    sweep = load_sweep(path)
    if engine == "ray":
        from cellsim.sweep.engines import check_ray

        check_ray(address)
    store = SweepStore(Path(out or default_out(sweep)).resolve(), sweep)
    store.open()
    finished = store.finished()
    todo = sorted((t for t in sweep.trials if t.trial_id not in finished), key=_cost)
    retried = sum(1 for t in todo if t.trial_id in store.records)
    say = print if progress else (lambda *a, **k: None)
    say(f"sweep {sweep.name}: {len(sweep.trials)} trials, {len(finished)} finished earlier, "
        f"{len(todo)} to run ({retried} failed before) on {engine}; folder {store.out}",
        flush=True)  # fmt: skip
    counts = {"ok": 0, "failed": 0}
    bar = _progress_bar(len(sweep.trials), len(finished), progress)

    def on_record(record: dict[str, Any]) -> None:
        store.add(record)
        counts[record["status"]] += 1
        if bar is not None:
            bar.set_postfix(counts, refresh=False)
            bar.update(1)
        if record["status"] == "failed":
            line = (f"trial {record['trial_id']} ({record['scenario']}, {record['label']}, "
                    f"seed {record['seed']}) failed: {record['error']}")  # fmt: skip
            (bar.write if bar is not None else print)(line, file=sys.stderr)

    trials = [t.to_dict() for t in todo]
    try:
        if trials and engine == "local":
            from cellsim.sweep.engines import run_local

            run_local(trials, str(store.out), workers or os.cpu_count() or 1, on_record)
        elif trials:
            from cellsim.sweep.engines import run_ray

            run_ray(trials, str(store.out), workers, on_record, address, cpus_per_trial)
    finally:
        if bar is not None:
            bar.close()
        results = store.write_results()
    return SweepOutcome(store.out, len(finished), counts["ok"] + counts["failed"],
                        counts["ok"], counts["failed"], results)  # fmt: skip


def _progress_bar(total: int, done: int, show: bool) -> tqdm[NoReturn] | None:
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc="trials", unit="trial", file=sys.stderr,
                dynamic_ncols=True)  # fmt: skip
