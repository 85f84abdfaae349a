"""Engines that run a sweep's trials: a local process pool, or Ray Tune.

Both call `run_trial` on a trial dict and hand each record, as it arrives, to `on_record` in the
driver process (which writes it); neither decides anything about the numbers, so the same trial
gives the same record on either engine.

Decisions:
- local: `ProcessPoolExecutor` with the spawn start method (a fresh interpreter per worker: no
  forked torch or numba state) and one torch/OpenMP thread per worker. At most `workers` trials
  are submitted at a time, so an interruption loses only those. A worker that dies (killed, out
  of memory) breaks the pool: the trials then in flight are recorded as failed and the rest go
  to a new pool.
- ray: one Tune trial per sweep trial (`tune.grid_search` over the trial dicts), with
  `cpus_per_trial` CPUs each and at most `workers` at a time; records come back through
  `tune.report` and a Tune callback in the driver. `address` joins a running cluster
  (`ray start --head`); without it Ray starts a local one with `workers × cpus_per_trial` CPUs.
  Ray is imported only here, only for this engine.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cellsim.errors import ConfigError
from cellsim.sweep.trial import failed_record, run_trial

if TYPE_CHECKING:
    from ray.tune.experiment import Trial as RayTrial

OnRecord = Callable[[dict[str, Any]], None]
RAY_MISSING = "--engine ray needs Ray, which is not installed: pip install 'cellsim[ray]'"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _init_worker() -> None:
    """Runs first in each spawned worker, before torch or numpy start their thread pools.
    Ctrl-C reaches the whole process group: the driver alone handles it and stops workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in THREAD_VARS:
        os.environ[var] = "1"


def run_local(trials: list[dict[str, Any]], out: str, workers: int, on_record: OnRecord) -> None:
    """Run `trials` on a pool of `workers` processes on this machine."""
    pending = deque(trials)
    context = multiprocessing.get_context("spawn")
    while pending:
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker)
        running: dict[Any, dict[str, Any]] = {}
        try:
            broken = False
            while (pending and not broken) or running:
                while pending and not broken and len(running) < workers:
                    trial = pending.popleft()
                    try:
                        running[pool.submit(run_trial, trial, out)] = trial
                    except BrokenProcessPool:  # a worker died since the last wait
                        pending.appendleft(trial)
                        broken = True
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    trial = running.pop(future)
                    try:
                        record = future.result()
                    except BrokenProcessPool:
                        broken = True
                        record = failed_record(trial, "worker process died (killed or out of "
                                               "memory) while running this or another trial")
                    on_record(record)
        except BaseException:
            _kill(pool)
            raise
        pool.shutdown(wait=True)


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop at once: in-flight trials are lost, finished ones are already recorded."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
    # Let the pool's manager thread see its workers gone and end now: left running, it is woken
    # at interpreter exit through a pipe already closed, which prints an OSError traceback.
    pool.shutdown(wait=True)


def _tune_trial(config: dict[str, Any]) -> None:
    """The Tune function trainable: one sweep trial, reported once."""
    from ray import tune

    record = run_trial(config["trial"], config["out"])
    tune.report({"record_json": json.dumps(record)})


def run_ray(
    trials: list[dict[str, Any]],
    out: str,
    workers: int | None,
    on_record: OnRecord,
    address: str | None = None,
    cpus_per_trial: float = 1.0,
) -> None:
    """Run `trials` as Ray Tune trials, on the cluster at `address` or on a local Ray."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started_here = not ray.is_initialized()
    if started_here:
        _ray_init(ray, address, workers, cpus_per_trial)
    by_id = {t["trial_id"]: t for t in trials}

    class Recorder(tune.Callback):
        def on_trial_result(
            self,
            iteration: int,
            trials: list[RayTrial],
            trial: RayTrial,
            result: dict[str, Any],
            **info: Any,
        ) -> None:
            on_record(json.loads(result["record_json"]))

        def on_trial_error(
            self, iteration: int, trials: list[RayTrial], trial: RayTrial, **info: Any
        ) -> None:
            spec = by_id[trial.config["trial"]["trial_id"]]
            on_record(failed_record(spec, f"Ray trial failed: {_ray_error(trial)}"))

    try:
        tuner = tune.Tuner(
            tune.with_resources(_tune_trial, {"cpu": cpus_per_trial}),
            param_space={"trial": tune.grid_search(trials), "out": out},
            tune_config=tune.TuneConfig(
                max_concurrent_trials=workers, reuse_actors=True,
                trial_name_creator=_trial_name, trial_dirname_creator=_trial_name,
            ),
            run_config=tune.RunConfig(
                name=f"tune-{time.strftime('%Y%m%d-%H%M%S')}",
                storage_path=str(Path(out).resolve() / "ray"),
                callbacks=[Recorder()],
                verbose=0,
                failure_config=tune.FailureConfig(max_failures=0),
            ),
        )
        tuner.fit()
    finally:
        if started_here:
            ray.shutdown()


def _ray_init(
    ray: ModuleType, address: str | None, workers: int | None, cpus_per_trial: float
) -> None:
    options: dict[str, Any] = {
        "log_to_driver": False, "include_dashboard": False, "logging_level": logging.ERROR,
    }  # fmt: skip
    if address:
        _check_reachable(address)
        try:
            ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            detail = " ".join(str(exc).split())
            raise ConfigError(
                f"--address {address!r}: cannot join a Ray cluster there ({detail}); start one "
                "with `ray start --head` or omit --address for a local one"
            ) from None
    else:
        ray.init(address="local",  # a new local Ray, even where `ray start` left one
                 num_cpus=max(1, round((workers or os.cpu_count() or 1) * cpus_per_trial)),
                 **options)  # fmt: skip


def check_ray(address: str | None) -> None:
    """Before any work: Ray is installed and, given HOST:PORT, something listens there."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    if address:
        _check_reachable(address)


def _check_reachable(address: str) -> None:
    """Fail fast on a HOST:PORT nobody listens on (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "ray://…": Ray resolves those itself
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        raise ConfigError(
            f"--address {address!r}: no Ray cluster answers there ({exc.strerror or exc}); "
            "start one with `ray start --head` or omit --address for a local one"
        ) from None


def _trial_name(trial: RayTrial) -> str:
    return trial.config["trial"]["trial_id"]


def _ray_error(trial: RayTrial) -> str:
    path = getattr(trial, "error_file", None)
    text = Path(path).read_text() if path and Path(path).is_file() else str(trial)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"
