"""Timing of the hot paths, for `cellsim bench` and BENCHMARKS.md."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from cellsim.contract import TiltSpace
from cellsim.engine import LinkBudget, draw_link_state
from cellsim.network.build import build_layout, build_radio_setup
from cellsim.network.drop import uniform_in_hexagons
from cellsim.network.receivers import Receivers
from cellsim.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from cellsim.env.tilt_env import TiltEnv

BENCH_SCENARIO = "tr36814-case1"

BenchRow = dict[str, float | str]
"""One timing: the scenario's name, sizes and times (JSON-ready)."""


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_link_budget(n_points: int, repeats: int = 20, seed: int = 0) -> BenchRow:
    """Re-evaluate case 1's link budget with all 57 tilts changed at every call."""
    scenario = load_scenario(BENCH_SCENARIO)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    layout = build_layout(scenario)
    setup = build_radio_setup(scenario, layout)
    receivers = Receivers.outdoor(uniform_in_hexagons(rng, layout, n_points, 35.0))
    budget = LinkBudget(layout, receivers, setup, draw_link_state(rng, layout, receivers, setup))
    precompute_s = time.perf_counter() - t0
    n_cells = len(layout.cells)
    tilts = [np.full(n_cells, 10.0), np.full(n_cells, 11.0)]
    budget.evaluate(tilts[1])  # compile / warm caches
    calls = iter(range(10**9))
    seconds = _median_seconds(lambda: budget.evaluate(tilts[next(calls) % 2]), repeats)
    return {
        "scenario": BENCH_SCENARIO,
        "n_cells": n_cells,
        "n_points": n_points,
        "precompute_s": round(precompute_s, 3),
        "evaluate_ms": round(seconds * 1e3, 3),
        "pairs_per_s": round(n_cells * n_points / seconds),
    }


#: RET without budget or dwell, so that every requested move happens (the figures time steps
#: in which every cell changes tilt)
FREE_RET: dict[str, Any] = {"ret": {"max_moves_per_day": None, "min_dwell_minutes": 0}}


def bench_env_step(scenario: str, steps: int = 2000) -> BenchRow:
    """`env.step` with every cell changing tilt at every step (all up, then all down)."""
    import gymnasium as gym

    t0 = time.perf_counter()
    env = gym.make("cellsim/Tilt-v0", scenario=scenario, config={"episode_hours": 168, **FREE_RET})
    create_s = time.perf_counter() - t0
    env.reset(seed=0)
    tilt_env = cast("TiltEnv", env.unwrapped)
    n_cells = tilt_env.sim.n_cells
    actions = [np.full(n_cells, 2), np.full(n_cells, 0)]  # uptilt, downtilt: every cell moves
    for k in range(20):
        env.step(actions[k % 2])
    elapsed = 0.0
    done = 0
    while done < steps:
        t0 = time.perf_counter()
        for _ in range(min(200, steps - done)):
            truncated = env.step(actions[done % 2])[3]
            done += 1
            if truncated:
                break
        elapsed += time.perf_counter() - t0
        if truncated:
            env.reset(seed=done)
    env.close()
    return {
        "scenario": scenario,
        "n_cells": n_cells,
        "n_points": len(tilt_env.sim.receivers),
        "create_s": round(create_s, 3),
        "step_us": round(elapsed / steps * 1e6, 1),
        "steps_per_s": round(steps / elapsed),
    }


def bench_episodes(scenario: str, pool: str, episodes: int = 40) -> BenchRow:
    """Whole days (resets included) with random moves, on one fixed realisation (`pool` =
    "fixed") or drawn from the 64-realisation training pool ("train", after a first visit of
    each realisation, whose one-off cost is `first_visit_s`)."""
    from cellsim.env.tilt_env import TiltEnv

    split = {"split": pool, "pool_size": 64}
    env = TiltEnv(scenario, {"realisations": split})
    n_cells = env.sim.n_cells
    first_visit_s = 0.0
    if pool == "train":
        t0 = time.perf_counter()
        for seed in range(64):  # warm the realisation cache, as a long training does
            env.reset(seed=seed, options={"network_seed": seed})
        first_visit_s = (time.perf_counter() - t0) / 64
    moves = np.random.default_rng(0).integers(0, 3, (env.n_steps, n_cells))
    steps = 0
    t0 = time.perf_counter()
    for episode in range(episodes):
        env.reset(seed=1000 + episode)
        for move in moves:
            env.step(move)
            steps += 1
    elapsed = time.perf_counter() - t0
    return {
        "scenario": scenario,
        "realisations": pool,
        "n_cells": n_cells,
        "steps_per_s": round(steps / elapsed),
        "first_visit_s": round(first_visit_s, 3),
    }


def bench_ppo(scenario: str, pool: str, steps: int = 8192) -> BenchRow:
    """PPO training throughput (agents/ppo.yml: 8 envs, PerCellPolicy, one torch thread) on one
    fixed realisation or the 64-realisation training pool."""
    import torch
    from stable_baselines3 import PPO

    from cellsim.policies.networks import PerCellPolicy
    from cellsim.training.envs import vec_env
    from cellsim.training.hyperparams import algo_kwargs, load_hyperparams
    from cellsim.training.registry import agent_spec

    torch.set_num_threads(1)
    hyper = load_hyperparams("ppo")
    config = {**hyper.get("env_config", {}), "realisations": {"split": pool}}
    venv = vec_env(agent_spec("ppo"), scenario, config, int(hyper["n_envs"]), 0)
    model = PPO(PerCellPolicy, venv, seed=0, device="cpu", **algo_kwargs(hyper))
    model.learn(2048)  # warm-up: numba, torch, the first realisations
    before = model.num_timesteps
    t0 = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)  # whole rollouts: may run a few more steps
    elapsed = time.perf_counter() - t0
    venv.close()
    done = model.num_timesteps - before
    return {"scenario": scenario, "realisations": pool, "steps_per_s": round(done / elapsed)}


def large_hex_scenario(n_sites: int = 169, resolution_m: float = 50.0) -> Scenario:
    """hex7's radio, antennas and demand profiles on a network of `n_sites` hexagonal sites
    (169 sites = 507 cells, ≈ 37 km²), no wrap-around, a `resolution_m` raster."""
    data = load_scenario("hex7").model_dump()
    data["name"] = f"hex{n_sites}"
    data["layout"].update(n_sites=n_sites, wraparound=False)
    data["area"]["resolution_m"] = resolution_m
    data["demand"]["hotspots"] = []  # hex7's hotspots sit at its centre only
    return Scenario.model_validate(data)


def bench_per_cell_step(n_sites: int = 169, steps: int = 300) -> BenchRow:
    """The per-cell PettingZoo env's `step` (a dict of one action per cell) on a large network,
    every cell changing tilt at every step."""
    from cellsim.env.per_cell import parallel_env

    scenario = large_hex_scenario(n_sites)
    t0 = time.perf_counter()
    env = parallel_env(scenario, {"episode_hours": 168, **FREE_RET})
    create_s = time.perf_counter() - t0
    env.reset(seed=0)
    agents = env.possible_agents
    actions = [dict.fromkeys(agents, 2), dict.fromkeys(agents, 0)]
    for k in range(5):
        env.step(actions[k % 2])
    t0 = time.perf_counter()
    for k in range(steps):
        env.step(actions[k % 2])
    elapsed = time.perf_counter() - t0
    return {
        "scenario": scenario.name,
        "n_cells": len(agents),
        "n_points": len(env.sim.receivers),
        "create_s": round(create_s, 3),
        "step_us": round(elapsed / steps * 1e6, 1),
        "steps_per_s": round(steps / elapsed),
    }


@contextmanager
def link_budget_kind(kind: str) -> Iterator[None]:
    """Within the block, networks get this link budget ("dense" / "sparse" / "auto")."""
    from cellsim.sparse_budget import KIND_ENV

    before = os.environ.get(KIND_ENV)
    os.environ[KIND_ENV] = kind
    try:
        yield
    finally:
        if before is None:
            del os.environ[KIND_ENV]
        else:
            os.environ[KIND_ENV] = before


def _lattice_sites_m(n_sites: int, isd_m: float) -> np.ndarray:
    """The `n_sites` sites of a triangular lattice nearest its centre (rings of a hexagonal
    network, the last one partly): hexagonal layouts stop at 331 sites."""
    rings = int(np.ceil(np.sqrt(n_sites / 3.0))) + 1
    span = np.arange(-rings, rings + 1)
    i, j = (a.ravel() for a in np.meshgrid(span, span))
    xy = np.column_stack([i + 0.5 * j, j * np.sqrt(3.0) / 2.0]) * isd_m
    order = np.lexsort((np.arctan2(xy[:, 1], xy[:, 0]), np.round(np.hypot(*xy.T), 6)))
    return xy[order[:n_sites]]


def large_csv_scenario(
    folder: Path, n_sites: int = 1000, n_points: int = 300_000, isd_m: float = 500.0
) -> Scenario:
    """hex7's radio, antennas and demand profiles on `n_sites` three-sector sites (a CSV
    layout written into `folder`), with a raster of about `n_points` receiver points over the
    sites' bounding box plus 300 m: the scale of a city cluster (1000 sites = 3000 cells)."""
    sites = _lattice_sites_m(n_sites, isd_m)
    rows = ["site,x_m,y_m,height_m,azimuth_deg,tilt_deg"]
    for s, (x, y) in enumerate(sites):
        rows += [f"s{s},{x:.1f},{y:.1f},25,{az},6" for az in (30, 150, 270)]
    path = folder / f"lattice{n_sites}.csv"
    path.write_text("\n".join(rows) + "\n")
    margin_m = 300.0
    extent = sites.max(axis=0) - sites.min(axis=0) + 2 * margin_m
    data = load_scenario("hex7").model_dump()
    data["name"] = f"lattice{n_sites}"
    data["layout"] = {"type": "csv", "file": str(path)}
    data["area"] = {"margin_m": margin_m,
                    "resolution_m": float(np.sqrt(extent[0] * extent[1] / n_points))}  # fmt: skip
    data["demand"]["hotspots"] = []
    return Scenario.model_validate(data)


def _peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def bench_large(
    n_sites: int = 1000, n_points: int = 300_000, steps: int = 40, slots: int | None = None
) -> BenchRow:
    """A city cluster (`large_csv_scenario`) on the sparse link budget: env build (layout,
    raster, demand, realisation, links) and `env.step` with every tilt changing, loads
    converged; the neglected interference at the first step (`neglect_report`)."""
    import gymnasium as gym

    from cellsim.sparse_budget import SLOTS_ENV

    with tempfile.TemporaryDirectory() as folder, link_budget_kind("auto"):
        if slots is not None:
            os.environ[SLOTS_ENV] = str(slots)
        scenario = large_csv_scenario(Path(folder), n_sites, n_points)
        t0 = time.perf_counter()
        env = gym.make("cellsim/Tilt-v0", scenario=scenario,
                       config={"episode_hours": 168, **FREE_RET})  # fmt: skip
        env.reset(seed=0)
        build_s = time.perf_counter() - t0
        tilt_env = cast("TiltEnv", env.unwrapped)
        sim = tilt_env.sim
        n_cells = sim.n_cells
        actions = [np.full(n_cells, 2), np.full(n_cells, 0)]
        first = env.step(actions[1])[4]
        t0 = time.perf_counter()
        for k in range(steps):
            env.step(actions[k % 2])
        elapsed = time.perf_counter() - t0
        budget = sim.budget
        state = budget.evaluate(TiltSpace.of(sim.config).clip(sim.layout.cells.tilt_deg))
        report = budget.neglect_report(state) if hasattr(budget, "neglect_report") else {}
        env.close()
        if slots is not None:
            del os.environ[SLOTS_ENV]
    row: BenchRow = {
        "scenario": scenario.name,
        "budget": type(budget).__name__,
        "n_cells": n_cells,
        "n_points": len(sim.receivers),
        "slots": int(getattr(budget, "slots", n_cells)),
        "build_s": round(build_s, 1),
        "steps_per_s": round(steps / elapsed, 1),
        "load_iterations": float(first.get("load_iterations", 0)),
        "peak_rss_gb": round(_peak_rss_gb(), 2),
    }
    row.update({k: round(v, 3) for k, v in report.items()})
    return row


def sparse_accuracy(scenario: Scenario | str, hours: tuple[float, ...] = (12.0, 20.0),
                    seed: int = 0) -> BenchRow:  # fmt: skip
    """Sparse against dense on one realisation: the largest difference over `hours` and two
    tilt plans (the scenario's, and random tilts in the range) of the SINR percentiles
    p5…p95 (dB, demand-unweighted over points), coverage and mean rate (relative), with the
    loads converged."""
    from cellsim.scenario import EnvConfig
    from cellsim.simulator import Simulator

    scenario = load_scenario(scenario)
    config = EnvConfig.model_validate(scenario.env.model_dump())
    sims = {}
    for kind in ("dense", "sparse"):
        with link_budget_kind(kind):
            t0 = time.perf_counter()
            sims[kind] = Simulator(scenario, config, seed)
            sims[kind].step(sims[kind].layout.cells.tilt_deg, 0.0)  # compile outside the timing
            sims[kind].build_s = time.perf_counter() - t0  # type: ignore[attr-defined]
    dense, sparse = sims["dense"], sims["sparse"]
    space = TiltSpace.of(config)
    rng = np.random.default_rng(seed)
    plans = [space.clip(dense.layout.cells.tilt_deg),
             space.snap(rng.uniform(space.min_deg, space.max_deg, dense.n_cells))]  # fmt: skip
    worst = {"sinr_pct_db": 0.0, "coverage_rel": 0.0, "mean_rate_rel": 0.0}
    percentiles = np.arange(5, 100, 5)
    for hour in hours:
        for tilt in plans:
            dense.reset_load()
            sparse.reset_load()
            a, b = dense.step(tilt, hour), sparse.step(tilt, hour)
            gap = np.percentile(a.kpis.sinr_db, percentiles)
            gap -= np.percentile(b.kpis.sinr_db, percentiles)
            worst["sinr_pct_db"] = max(worst["sinr_pct_db"], float(np.abs(gap).max()))
            for key, name in (("coverage_rel", "coverage"), ("mean_rate_rel", "mean_rate_mbps")):
                x, y = getattr(a.kpis, name), getattr(b.kpis, name)
                worst[key] = max(worst[key], abs(y - x) / max(abs(x), 1e-12))
    state = sparse.budget.evaluate(plans[0])
    report = sparse.budget.neglect_report(state)  # type: ignore[union-attr]
    return {
        "scenario": scenario.name,
        "n_cells": dense.n_cells,
        "n_points": len(dense.receivers),
        "slots": int(sparse.budget.slots),  # type: ignore[union-attr]
        "dense_build_s": round(dense.build_s, 2),  # type: ignore[attr-defined]
        "sparse_build_s": round(sparse.build_s, 2),  # type: ignore[attr-defined]
        "sinr_pct_max_diff_db": round(worst["sinr_pct_db"], 4),
        "coverage_max_rel_diff": round(worst["coverage_rel"], 5),
        "mean_rate_max_rel_diff": round(worst["mean_rate_rel"], 5),
        "sinr_error_bound_p95_db": round(report["sinr_error_bound_db_p95"], 4),
        "sinr_error_bound_max_db": round(report["sinr_error_bound_db_max"], 4),
    }


def large_rows() -> dict[str, list[BenchRow]]:
    """`cellsim bench --large`: the 3000-cell × 300 000-point network on the sparse budget,
    and sparse against dense on case1 and on a 507-cell hexagonal network."""
    with link_budget_kind("sparse"):
        accuracy = [sparse_accuracy("tr36814-case1"), sparse_accuracy(large_hex_scenario(169))]
    return {"large": [bench_large()], "accuracy": accuracy}


def print_rows(tables: dict[str, list[BenchRow]]) -> str:
    """Tables of rows as aligned text, one block per table (every row's keys as columns)."""
    blocks = []
    for title, rows in tables.items():
        keys = list(dict.fromkeys(k for row in rows for k in row))
        width = {k: max(len(k), *(len(str(row.get(k, ""))) for row in rows)) for k in keys}
        lines = [title, "  ".join(k.rjust(width[k]) for k in keys)]
        lines += ["  ".join(str(row.get(k, "")).rjust(width[k]) for k in keys) for row in rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
