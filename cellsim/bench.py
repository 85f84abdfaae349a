"""Timing of the hot paths, for `cellsim bench` and BENCHMARKS.md."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

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
