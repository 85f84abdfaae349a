"""3GPP large-scale calibration: drop UEs, evaluate coupling loss and geometry, take percentiles."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cellsim.engine import LinkBudget, draw_link_state
from cellsim.errors import ParameterError, ScenarioError
from cellsim.network.build import build_layout, build_radio_setup
from cellsim.network.drop import DropSpec, drop_ues
from cellsim.scenario import PERCENTILES, CalibrationConfig, Scenario


@dataclass(frozen=True)
class CalibrationResult:
    scenario: str
    coupling_loss_db: np.ndarray  # per UE: max over cells of gain − PL − SF − O2I (3GPP sign)
    geometry_db: np.ndarray  # per UE: serving / Σ others, no noise

    def percentiles(self) -> dict[str, dict[str, float]]:
        """p5…p95 of both metrics, in the layout of `cellsim calibrate --json`."""

        def table(values: np.ndarray) -> dict[str, float]:
            q = np.percentile(values, PERCENTILES)
            return {f"p{p}": round(float(v), 2) for p, v in zip(PERCENTILES, q, strict=True)}

        return {
            "coupling_loss_db": table(self.coupling_loss_db),
            "geometry_db": table(self.geometry_db),
        }


def drop_spec(cfg: CalibrationConfig) -> DropSpec:
    return DropSpec(
        min_distance_m=cfg.min_distance_m,
        indoor_fraction=cfg.indoor_fraction,
        floors_min=cfg.floors[0],
        floors_max=cfg.floors[1],
        indoor_distance_max_m=cfg.indoor_distance_max_m,
        indoor_distance=cfg.indoor_distance,
        o2i_model=cfg.o2i_model,
        fixed_loss_db=cfg.fixed_loss_db,
        high_loss_fraction=cfg.high_loss_fraction,
    )


def _check_ues_memory(scenario: Scenario, total: int, n_drops: int, n_cells: int) -> None:
    """A drop's (cells × UEs) float32 link arrays and the float64 results, within the memory
    budget (CELLSIM_MEMORY_BUDGET_GB), before any is allocated."""
    from cellsim.network.limits import BUDGET_ENV, LINK_ARRAYS, memory_budget_bytes

    per_drop = math.ceil(total / max(1, n_drops))
    need = float(per_drop) * n_cells * 4 * LINK_ARRAYS + float(total) * 8 * 4
    budget = memory_budget_bytes()
    if need > budget:
        per_ue = n_cells * 4 * LINK_ARRAYS / max(1, n_drops) + 32
        raise ParameterError("--ues", total, f"at most about {int(budget / per_ue):,} for "
                             f"{scenario.name} (it would need {need / 2**30:,.1f} GiB; budget "
                             f"{budget / 2**30:g} GiB, {BUDGET_ENV})")  # fmt: skip


def run_calibration(scenario: Scenario, ues: int | None = None, seed: int = 0) -> CalibrationResult:
    """Coupling loss and geometry of UE drops, all cells at the scenario's tilt, full load.

    The UEs are split over `drops` independent drops: shadowing and LOS are spatially correlated
    within a drop, so one big drop samples few independent fading patches and its percentiles
    scatter from seed to seed by more than 3GPP's tolerance.
    """
    cfg = scenario.calibration
    if cfg is None:
        raise ScenarioError(
            f"{scenario.origin}: no [calibration] section: the scenario defines no UE drop"
        )
    layout = build_layout(scenario)
    setup = build_radio_setup(scenario, layout, tx_power_dbm=0.0)
    total = ues or cfg.ues
    n_drops = min(cfg.drops, total)
    _check_ues_memory(scenario, total, n_drops, len(layout.cells))
    sizes = np.diff(np.linspace(0, total, n_drops + 1).round().astype(int))
    coupling, geometry = [], []
    for rng, n in zip(np.random.default_rng(seed).spawn(n_drops), sizes, strict=True):
        receivers = drop_ues(rng, layout, int(n), drop_spec(cfg), scenario.radio.fc_ghz)
        links = draw_link_state(rng, layout, receivers, setup)
        state = LinkBudget(layout, receivers, setup, links).evaluate(layout.cells.tilt_deg)
        coupling.append(10.0 * np.log10(state.serving_mw.astype(np.float64)))
        geometry.append(state.geometry_db.astype(np.float64))
    return CalibrationResult(scenario.name, np.concatenate(coupling), np.concatenate(geometry))
