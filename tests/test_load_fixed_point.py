"""The load ↔ interference fixed point (cellsim.kpi.converge_loads, Simulator.step): converged
to `env.load.tolerance`, the same wherever it starts, and checked against a plain numpy
iteration of the same model written here from the definitions (docs/domain.md)."""

from __future__ import annotations

import numpy as np
import pytest

from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.kpi import SE_ALPHA, SE_MAX_BPS_HZ, SINR_MIN_SE_DB
from cellsim.simulator import Simulator

FIXED = {"realisations": {"split": "fixed"}, "demand_noise": 0.0}


def numpy_weights(
    sim: Simulator, weight: np.ndarray, tilts: np.ndarray, hour: float, users: np.ndarray
) -> np.ndarray:
    """One plain iterate from scratch: fold every cell with `weight`, SINR, spectral
    efficiency, offered load, carried load with the idle floor (float64 throughout)."""
    active = sim.active_at(hour)
    sim.budget.evaluate(tilts, weight.astype(np.float32), active)
    rx = sim.budget.received_mw.astype(np.float64) * active[:, None]
    serving = np.argmax(rx, axis=0)
    s = rx[serving, np.arange(rx.shape[1])]
    interference = weight @ rx - weight[serving] * s
    sinr = s / (interference + sim.budget.noise_mw)
    se = np.minimum(SE_ALPHA * np.log2(1.0 + sinr), SE_MAX_BPS_HZ)
    se[10.0 * np.log10(sinr) < SINR_MIN_SE_DB] = 0.0
    peak = se * sim.kpi_params.bandwidth_mhz
    demand = np.where(peak > 0, users * sim.kpi_params.user_rate_mbps / np.maximum(peak, 1e-30),
                      0.0)  # fmt: skip
    load = np.bincount(serving, demand, minlength=sim.n_cells)
    p = sim.kpi_params
    return np.where(active, np.clip(load, p.idle_load, p.admission_load), 0.0)


def exact_fixed_point(sim, tilts, hour, users, start):
    weight = start.astype(np.float64)
    for _ in range(500):
        new = numpy_weights(sim, weight, tilts, hour, users)
        if np.max(np.abs(new - weight)) < 1e-9:
            return new
        weight = new
    raise AssertionError("the plain iteration did not converge")


@pytest.mark.parametrize("scenario, hour", [("hex7", 20.0), ("case1", 13.0), ("outage", 10.0)])
def test_step_converges_to_the_numpy_fixed_point(scenario, hour):
    env = TiltEnv(scenario, FIXED)
    env.reset(seed=0)
    sim = env.sim
    tilts = env.tilt_deg.copy()
    users = sim.users_at(hour)
    sim.reset_load()
    result = sim.step(tilts, hour, users)
    assert result.load_converged and 1 < result.load_iterations < 20
    exact = exact_fixed_point(sim, tilts, hour, users, np.ones(sim.n_cells))
    # an off-air cell's weight is moot (it restarts from idle when back on air)
    got = np.where(result.active, result.kpis.next_weight, 0.0)
    # residual ≤ tolerance; the plain map contracts by ≈ 0.4, so the error is ≤ ≈ 2 × tol
    assert np.max(np.abs(got - exact)) < 3 * env.config.load.tolerance
    # and the radio state returned is exactly the fold at the weights it stopped at: one more
    # iterate of the independent numpy model moves no weight beyond the tolerance
    again = numpy_weights(sim, got, tilts, hour, users)
    assert np.max(np.abs(again - got)) < 2 * env.config.load.tolerance


def test_the_solution_does_not_depend_on_where_it_starts():
    """Converged loads make a step's KPIs a function of tilts and demand alone: from full load,
    from idle or from another hour's state, the same KPIs within the tolerance's effect."""
    env = TiltEnv("case1", FIXED)
    env.reset(seed=0)
    sim = env.sim
    tilts, users = env.tilt_deg.copy(), sim.users_at(19.0)
    results = []
    for start in (np.ones(sim.n_cells), np.full(sim.n_cells, 0.05), None):
        if start is None:
            sim.step(tilts, 4.0)  # a night-time load state
            start = sim._weight
        results.append(sim.evaluate(tilts, 19.0, users, start.astype(np.float32)))
    for other in results[1:]:
        assert other.mean_log_rate == pytest.approx(results[0].mean_log_rate, abs=2e-3)
        assert other.unserved_share == pytest.approx(results[0].unserved_share, abs=2e-3)
        np.testing.assert_allclose(other.next_weight, results[0].next_weight, atol=5e-3)


def test_info_reports_iterations_and_a_capped_solve_says_so():
    env = TiltEnv("hex7", FIXED)
    _, info = env.reset(seed=0)
    assert info["load_converged"] and info["load_iterations"] >= 2  # from full load
    _, _, _, _, info = env.step(np.ones(env.sim.n_cells, np.int64))
    assert info["load_converged"] and info["load_iterations"] >= 1
    capped = TiltEnv("hex7", {**FIXED, "load": {"max_iterations": 1}})
    _, info = capped.reset(seed=0)
    assert info["load_iterations"] == 1 and not info["load_converged"]


def test_a_tighter_tolerance_moves_the_kpis_less_than_the_tolerance_allows():
    loose = TiltEnv("hex7", {**FIXED, "load": {"tolerance": 1e-2}})
    tight = TiltEnv("hex7", {**FIXED, "load": {"tolerance": 1e-5}})
    _, a = loose.reset(seed=0)
    _, b = tight.reset(seed=0)
    assert b["load_iterations"] > a["load_iterations"]
    assert a["kpis"]["mean_rate_mbps"] == pytest.approx(b["kpis"]["mean_rate_mbps"], rel=0.05)


@pytest.mark.parametrize("name", ["load_iterations", "reset_load_iterations"])
def test_retired_iteration_counts_are_refused_with_one_line(name):
    with pytest.raises(ConfigError) as err:
        TiltEnv("hex7", {name: 3})
    message = str(err.value)
    assert name in message and "load.tolerance" in message and "\n" not in message
