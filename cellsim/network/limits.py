"""What a scenario will need at use, checked before it is used (issue 16, item 2).

`check_buildable` builds what `cellsim scenarios validate` would otherwise leave to the first
env (study area, raster, demand), refuses zero demand, and estimates the memory the simulator
needs for the scenario, refused above a budget (CELLSIM_MEMORY_BUDGET_GB, default 8 GiB).
"""

from __future__ import annotations

import math
import os

import numpy as np

from cellsim.errors import ScenarioError
from cellsim.network.layout import Layout
from cellsim.scenario import Scenario

BUDGET_ENV = "CELLSIM_MEMORY_BUDGET_GB"
DEFAULT_BUDGET_GB = 8.0
#: float32 arrays of shape (cells, points) the link budget and a step hold at once (static
#: budget, elevation, vertical gain, RSRP, interference, temporaries): an honest upper figure.
LINK_ARRAYS = 8


def memory_budget_bytes() -> float:
    """The memory budget in bytes (CELLSIM_MEMORY_BUDGET_GB, default 8)."""
    text = os.environ.get(BUDGET_ENV, "")
    try:
        gb = float(text) if text else DEFAULT_BUDGET_GB
    except ValueError:
        raise ScenarioError(f"{BUDGET_ENV}={text!r}: allowed a number of GiB > 0") from None
    if not (gb > 0 and math.isfinite(gb)):
        raise ScenarioError(f"{BUDGET_ENV}={text!r}: allowed a number of GiB > 0")
    return gb * 2**30


def scenario_memory_bytes(scenario: Scenario, n_cells: int, n_points: int) -> float:
    """Bytes a scenario needs at use: the (cells × points) float32 link arrays, the per-tilt
    table (cells × points × tilt grid, float32) and the antenna's vertical table; with the
    sparse link budget a large network gets (`cellsim.sparse_budget.budget_kind`), its K links
    per point and build peak, plus the (sites × points) float32 distances of the overshoot KPI
    (about a third of the cells' count in sites)."""
    from cellsim.sparse_budget import budget_kind, default_slots, sparse_memory_bytes

    if budget_kind(n_cells, n_points) == "sparse":
        distances = float(n_cells) / 3.0 * n_points * 4
        return sparse_memory_bytes(n_cells, n_points, default_slots()) + distances
    env = scenario.env
    n_tilts = math.floor((env.tilt_max_deg - env.tilt_min_deg) / env.tilt_step_deg) + 1
    links = float(n_cells) * n_points * 4 * LINK_ARRAYS
    per_tilt = float(n_cells) * n_points * n_tilts * 4
    return links + per_tilt


def check_memory(where: str, what: str, need: float) -> None:
    budget = memory_budget_bytes()
    if need > budget:
        raise ScenarioError(
            f"{where}: {what} needs about {need / 2**30:,.1f} GiB: allowed at most "
            f"{budget / 2**30:g} GiB ({BUDGET_ENV}); use fewer cells or points (coarser "
            "area.resolution_m) or raise the budget"
        )


def check_buildable(scenario: Scenario, layout: Layout) -> None:
    """Study area, raster and demand build, demand is not zero, memory fits the budget."""
    from cellsim.network.area import build_raster
    from cellsim.network.demand import build_demand

    where = scenario.origin
    raster = build_raster(scenario, layout)
    need = scenario_memory_bytes(scenario, len(layout.cells), len(raster))
    check_memory(where, f"{len(layout.cells)} cells × {len(raster):,} receiver points", need)
    demand = build_demand(scenario, raster)
    hours = np.arange(0.0, 24.0, 0.25)
    total = np.asarray(demand.total_at(hours), float)
    if not (np.isfinite(total).all() and total.max() > 0):
        raise ScenarioError(
            f"{where}: demand: zero demand all day (base_density, hotspot densities and "
            "profiles): allowed a demand > 0 at some hour, e.g. demand.base_density = 1"
        )
