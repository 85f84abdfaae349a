"""One simulator core behind every front-end (Gymnasium env, PettingZoo env, maps, policies).

A `Simulator` owns a network realisation (layout, receiver points, shadowing, demand) and turns
tilts and a time of day into a radio state and KPIs. It knows nothing of Gym.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from cellsim import realisations
from cellsim.contract import TiltSpace
from cellsim.engine import RadioState, build_link_budget, draw_realisation_terms
from cellsim.kpi import KpiParams, Kpis, compute_kpis
from cellsim.network.area import Raster, build_raster
from cellsim.network.build import build_layout, build_radio_setup
from cellsim.network.demand import DemandModel, build_demand
from cellsim.network.layout import Layout
from cellsim.network.receivers import Receivers
from cellsim.radio.noise import SUBCARRIER_SPACING_HZ, SUBCARRIERS_PER_PRB
from cellsim.realisations import scenario_key
from cellsim.scenario import EnvConfig, Scenario, check_event_sites
from cellsim.sparse_budget import site_distances_f32


@dataclass(frozen=True)
class StepResult:
    state: RadioState
    kpis: Kpis
    users: np.ndarray  # (n_points,) demand used
    active: np.ndarray  # (n_cells,) bool
    load_iterations: int = 1  # iterates the load ↔ interference fixed point took
    load_converged: bool = True  # False: stopped at load.max_iterations


def _receivers(scenario: Scenario, raster: Raster) -> tuple[Receivers, np.ndarray]:
    """Raster points outdoors, plus an indoor copy of each when the scenario has indoor demand.

    Returns the receivers and, per receiver, the share of its raster point's demand it carries.
    """
    n = len(raster.xy_m)
    h = scenario.area.receiver_height_m
    f = scenario.demand.indoor_fraction
    outdoor = Receivers.outdoor(raster.xy_m, h)
    if f <= 0.0:
        return outdoor, np.ones(n, np.float32)
    if f >= 1.0:
        indoor = Receivers(
            raster.xy_m, np.full(n, h), np.ones(n, bool), np.zeros(n),
            np.full(n, scenario.demand.indoor_loss_db), np.ones(n),
        )  # fmt: skip
        return indoor, np.ones(n, np.float32)
    both = Receivers(
        xy_m=np.vstack([raster.xy_m, raster.xy_m]),
        height_m=np.full(2 * n, h),
        indoor=np.repeat([False, True], n),
        d2d_in_m=np.zeros(2 * n),
        o2i_loss_db=np.repeat([0.0, scenario.demand.indoor_loss_db], n),
        weight=np.ones(2 * n),
    )
    share = np.repeat(np.array([1.0 - f, f], np.float32), n)
    return both, share


def _overshoot_limits_m(layout: Layout, ratio: float) -> np.ndarray:
    """Per cell: `ratio` × the distance from its site to the nearest other site (wrap-aware)."""
    sites = layout.sites_xy_m
    if len(sites) < 2:
        return np.full(len(layout.cells), np.inf)
    off = layout.nearest_image_offsets(sites)  # (S, S, 2)
    d = np.hypot(off[..., 0], off[..., 1])
    np.fill_diagonal(d, np.inf)
    if len(layout.wrap_shifts_m) > 1:  # a site's own images are neighbours too
        own = np.hypot(*layout.wrap_shifts_m[1:].T).min()
        d = np.minimum(d, own)
    return (ratio * d.min(axis=0))[layout.cells.site].astype(np.float64)


class Simulator:
    """A network realisation of a scenario; `step(tilts, hour)` gives radio state and KPIs."""

    def __init__(self, scenario: Scenario, config: EnvConfig, network_seed: int = 0):
        self.scenario = scenario
        self.config = config
        self.layout = build_layout(scenario)
        check_event_sites(scenario, self.layout.n_sites)  # a CSV layout's sites: known only now
        self.setup = build_radio_setup(scenario, self.layout)
        self.raster = build_raster(scenario, self.layout)
        self.demand: DemandModel = build_demand(scenario, self.raster)
        self.receivers, self._demand_share = _receivers(scenario, self.raster)
        self.n_cells = len(self.layout.cells)
        tilts = TiltSpace.of(config)
        self.budget = build_link_budget(
            self.layout, self.receivers, self.setup, np.random.default_rng(network_seed),
            tilt_range_deg=(tilts.min_deg, tilts.max_deg),
        )  # fmt: skip
        #: the realisation in use; `base_seed` is the network's own (maps, neighbour lists)
        self.base_seed = self.network_seed = network_seed
        # the terms' shape tells a dense budget's from a sparse one's (K links per point)
        self._links_key = scenario_key(scenario.model_dump_json(exclude={"env", "name",
                                                                          "description"})
                                       + str(self.budget.terms[0].shape))  # fmt: skip
        realisations.CACHE.put((self._links_key, network_seed), self.budget.terms)
        if config.action == "discrete":  # tilts stay on this grid: precompute every row
            grid = TiltSpace.of(config).grid_deg
            self.budget.precompute_tilts(np.union1d(grid, self.layout.cells.tilt_deg))
        self.site_distance_m = site_distances_f32(self.layout, self.receivers)
        self.cell_site = self.layout.cells.site.astype(np.int64)
        self.overshoot_limit_m = _overshoot_limits_m(self.layout, config.kpi.overshoot_ratio)
        radio = scenario.radio
        self.bandwidth_mhz = radio.n_prb * SUBCARRIERS_PER_PRB * SUBCARRIER_SPACING_HZ / 1e6
        self.kpi_params = KpiParams(
            rsrp_min_dbm=config.kpi.rsrp_min_dbm,
            sinr_min_db=config.kpi.sinr_min_db,
            bandwidth_mhz=self.bandwidth_mhz,
            user_rate_mbps=scenario.demand.user_rate_mbps,
            admission_load=config.kpi.admission_load,
            idle_load=config.kpi.idle_load,
            reference_rate_mbps=config.kpi.reference_rate_mbps,
            weak_rsrp_dbm=config.kpi.weak_rsrp_dbm,
            overcoverage_sinr_db=config.kpi.overcoverage_sinr_db,
        )
        self._outages = [
            (ev.site, ev.start_hour, ev.end_hour) for ev in scenario.events if ev.kind == "outage"
        ]
        #: outages beyond the scenario's, e.g. drawn per episode to train for failures
        self.extra_outages: list[tuple[int, float, float]] = []
        self.reset_load()

    def use_realisation(self, network_seed: int) -> None:
        """Simulate network realisation `network_seed` from now on (its shadowing, LOS and
        effective heights; cached per process, see `cellsim.realisations`)."""
        if network_seed == self.network_seed:
            return
        key = (self._links_key, network_seed)
        terms = realisations.CACHE.get(key)
        if terms is None:
            rng = np.random.default_rng(network_seed)
            terms = draw_realisation_terms(self.budget, self.layout, self.receivers, self.setup,
                                           rng)  # fmt: skip
            realisations.CACHE.put(key, terms)
        self.budget.use_terms(*terms)
        self.network_seed = network_seed

    @contextmanager
    def realisation(self, network_seed: int) -> Iterator[None]:
        """Within the block, realisation `network_seed`; the one in use before, after it."""
        before = self.network_seed
        self.use_realisation(network_seed)
        try:
            yield
        finally:
            self.use_realisation(before)

    def reset_load(self) -> None:
        """Forget the load state: start the next step from full-load interference."""
        self._weight = np.ones(self.n_cells, np.float32)

    def active_at(self, hour: float) -> np.ndarray:
        """Cells on air at `hour` (outage events switch a site's cells off)."""
        on = np.ones(self.n_cells, bool)
        h = hour % 24.0
        for site, start, end in self._outages + self.extra_outages:
            if start <= h < end or start <= h + 24.0 < end:
                on[self.cell_site == site] = False
        return on

    def users_at(self, hour: float, noise: np.ndarray | None = None) -> np.ndarray:
        """Expected active users per receiver at `hour`; `noise` multiplies each component."""
        per_point = self.demand.users_at(hour, noise)
        if len(self._demand_share) == len(per_point):
            return per_point
        return np.tile(per_point, 2) * self._demand_share

    def _solve(
        self, tilt_deg: np.ndarray, hour: float, users: np.ndarray, weight: np.ndarray
    ) -> StepResult:
        """Radio state and KPIs at the load ↔ interference fixed point, iterated from `weight`.

        The first iterate folds the link budget (recomputing the rows of re-tilted cells); the
        next ones run in `cellsim.kpi.converge_loads` until no on-air cell's interference
        weight would move by more than `load.tolerance`.
        """
        load, params = self.config.load, self.kpi_params
        active = self.active_at(hour)
        state = self.budget.evaluate(tilt_deg, weight, active)
        weight = np.where(active, weight, np.float32(0.0)).astype(np.float32)
        iterations, converged = self.budget.converge(
            state, users, active, weight, params, load.tolerance, load.max_iterations
        )
        kpis = compute_kpis(
            state, users, self.site_distance_m, self.cell_site, self.overshoot_limit_m,
            active, self.kpi_params,
        )  # fmt: skip
        return StepResult(state, kpis, users, active, iterations, converged)

    def evaluate(self, tilt_deg: np.ndarray, hour: float, users: np.ndarray) -> Kpis:
        """KPIs at these tilts (loads converged from the simulator's load state) without
        touching that state: for searches over tilts."""
        return self._solve(tilt_deg, hour, users, self._weight).kpis

    def step(
        self, tilt_deg: np.ndarray, hour: float, users: np.ndarray | None = None
    ) -> StepResult:
        """Radio state and KPIs at these tilts and this time, loads converged (warm-started
        from the last step's)."""
        users = self.users_at(hour) if users is None else users
        result = self._solve(tilt_deg, hour, users, self._weight)
        self._weight = result.kpis.next_weight
        return result
