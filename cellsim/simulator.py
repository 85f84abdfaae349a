"""One simulator core behind every front-end (Gymnasium env, PettingZoo env, maps, policies).

A `Simulator` owns a network realisation (layout, receiver points, shadowing, demand) and turns
tilts and a time of day into a radio state and KPIs. It knows nothing of Gym.

Several carriers (a site database's cells on different frequencies, `Simulator.carriers`): each
carrier is its own interference domain. One link budget holds every cell (each at its carrier's
frequency and power per resource element); a carrier's fold and load solve run over its cells
alone (the others masked off), with its own bandwidth for the rates. The demand of a point is
split between carriers in proportion to the capacity each offers there, bandwidth × spectral
efficiency at the point's SINR on it (`capacity_shares`; a carrier with no service there gets
none) — what idle/connected-mode load balancing across layers aims at, and continuous in the
tilts. The split depends on the SINRs, which depend on the loads, which depend on the split:
the step alternates the carriers' load solves (warm-started) with a new split until no share
moves by more than `load.tolerance` (at most SPLIT_MAX_ITERATIONS rounds). Network KPIs
combine the carriers' demand-weighted (`cellsim.kpi.combine_kpis`); `StepResult.carriers`
keeps each carrier's own. A one-carrier network takes exactly the path it always took.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from cellsim import realisations
from cellsim.contract import TiltSpace
from cellsim.engine import RadioState, build_link_budget, draw_realisation_terms
from cellsim.kpi import KpiParams, Kpis, combine_kpis, compute_kpis, link_quality
from cellsim.network.area import Raster, build_raster
from cellsim.network.build import build_carriers, build_layout, build_radio_setup
from cellsim.network.demand import DemandModel, build_demand
from cellsim.network.layout import Layout
from cellsim.network.receivers import Receivers
from cellsim.network.sites import Carrier
from cellsim.radio.noise import SUBCARRIER_SPACING_HZ, SUBCARRIERS_PER_PRB
from cellsim.realisations import network_key
from cellsim.scenario import EnvConfig, Scenario, check_event_sites
from cellsim.sparse_budget import site_distances_f32

#: Most rounds of (carriers' load solves, new demand split) a multi-carrier step takes.
SPLIT_MAX_ITERATIONS = 20


@dataclass(frozen=True)
class CarrierResult:
    """One carrier's part of a step: its radio state and KPIs over its cells (the arrays span
    every cell of the network; the other carriers' cells serve nothing there) and its demand."""

    frequency_mhz: float
    state: RadioState
    kpis: Kpis
    users: np.ndarray  # (n_points,) the demand it carries


@dataclass(frozen=True)
class StepResult:
    state: RadioState  # several carriers: per point, the carrier carrying most of its demand
    kpis: Kpis  # several carriers: combined (`cellsim.kpi.combine_kpis`)
    users: np.ndarray  # (n_points,) demand used
    active: np.ndarray  # (n_cells,) bool
    load_iterations: int = 1  # iterates the load ↔ interference fixed point took
    load_converged: bool = True  # False: stopped at load.max_iterations
    carriers: tuple[CarrierResult, ...] = ()  # several carriers: each one's own (else empty)


def capacity_shares(peak_mbps: np.ndarray, bandwidth_mhz: np.ndarray) -> np.ndarray:
    """Share of each point's demand per carrier, (n_carriers, n_points) float32: in proportion
    to the peak rate (bandwidth × spectral efficiency) each carrier offers there; where none
    serves, in proportion to bandwidth (the demand is then unserved on every carrier)."""
    total = peak_mbps.sum(axis=0)
    fallback = (bandwidth_mhz / bandwidth_mhz.sum()).astype(np.float32)[:, None]
    served = total > 0.0
    share = np.where(served, peak_mbps / np.where(served, total, 1.0), fallback)
    return share.astype(np.float32)


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
        self._links_key = network_key(scenario) + str(self.budget.terms[0].shape)
        realisations.CACHE.put((self._links_key, network_seed), self.budget.terms)
        if config.action == "discrete":  # tilts stay on this grid: precompute every row
            grid = TiltSpace.of(config).grid_deg
            self.budget.precompute_tilts(np.union1d(grid, self.layout.cells.tilt_deg))
        self.site_distance_m = site_distances_f32(self.layout, self.receivers)
        self.cell_site = self.layout.cells.site.astype(np.int64)
        self.overshoot_limit_m = _overshoot_limits_m(self.layout, config.kpi.overshoot_ratio)
        #: the network's carriers, lowest frequency first (one for hexagonal and x/y layouts)
        self.carriers: list[Carrier] = build_carriers(scenario, self.layout)
        #: KPI parameters per carrier (its bandwidth)
        self.carrier_params = [self._params(c.n_prb) for c in self.carriers]
        self._carrier_cells = [np.isin(np.arange(self.n_cells), c.cells) for c in self.carriers]
        self._carrier_bandwidth_mhz = np.array([p.bandwidth_mhz for p in self.carrier_params])
        #: KPI parameters and bandwidth of the (lowest) carrier: the only one of most networks
        self.kpi_params = self.carrier_params[0]
        self.bandwidth_mhz = self.kpi_params.bandwidth_mhz
        self._outages = [
            (ev.site, ev.start_hour, ev.end_hour) for ev in scenario.events if ev.kind == "outage"
        ]
        #: outages beyond the scenario's, e.g. drawn per episode to train for failures
        self.extra_outages: list[tuple[int, float, float]] = []
        self._weight: np.ndarray  # the load state the next step starts from (reset_load)
        self.reset_load()

    def _params(self, n_prb: int) -> KpiParams:
        """KPI parameters of a carrier of `n_prb` resource blocks."""
        config = self.config
        return KpiParams(
            rsrp_min_dbm=config.kpi.rsrp_min_dbm,
            sinr_min_db=config.kpi.sinr_min_db,
            bandwidth_mhz=n_prb * SUBCARRIERS_PER_PRB * SUBCARRIER_SPACING_HZ / 1e6,
            user_rate_mbps=self.scenario.demand.user_rate_mbps,
            admission_load=config.kpi.admission_load,
            idle_load=config.kpi.idle_load,
            reference_rate_mbps=config.kpi.reference_rate_mbps,
            weak_rsrp_dbm=config.kpi.weak_rsrp_dbm,
            overcoverage_sinr_db=config.kpi.overcoverage_sinr_db,
        )

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
        """Within the block, realisation `network_seed`; the one in use and the load state
        before, after it."""
        before, weight = self.network_seed, self._weight
        self.use_realisation(network_seed)
        try:
            yield
        finally:
            self.use_realisation(before)
            self._weight = weight

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
        if len(self.carriers) > 1:
            return self._solve_carriers(tilt_deg, users, weight, active)
        state = self.budget.evaluate(tilt_deg, weight, active)
        weight = np.where(active, weight, np.float32(0.0)).astype(np.float32, copy=False)
        iterations, converged = self.budget.converge(
            state, users, active, weight, params, load.tolerance, load.max_iterations
        )
        kpis = compute_kpis(
            state, users, self.site_distance_m, self.cell_site, self.overshoot_limit_m,
            active, self.kpi_params,
        )  # fmt: skip
        return StepResult(state, kpis, users, active, iterations, converged)

    def _solve_carriers(
        self, tilt_deg: np.ndarray, users: np.ndarray, weight: np.ndarray, active: np.ndarray
    ) -> StepResult:
        """`_solve` of a multi-carrier network (module docstring): per carrier a fold and a
        load solve over its own cells, alternated with the capacity split of the demand."""
        load = self.config.load
        on = [active & cells for cells in self._carrier_cells]
        states = [self.budget.evaluate(tilt_deg, weight, on_k) for on_k in on]
        weights = [np.where(on_k, weight, np.float32(0.0)).astype(np.float32, copy=False)
                   for on_k in on]
        share = self._shares(states)
        iterations, converged = 0, False
        for _ in range(SPLIT_MAX_ITERATIONS):
            converged = True
            for k, params in enumerate(self.carrier_params):
                n, ok = self.budget.converge(
                    states[k], users * share[k], on[k], weights[k], params, load.tolerance,
                    load.max_iterations,
                )  # fmt: skip
                iterations, converged = iterations + n, converged and ok
            new_share = self._shares(states)
            moved = float(np.max(np.abs(new_share - share)))
            share = new_share
            if moved <= load.tolerance:
                break
        else:
            converged = False
        parts = []
        for k, carrier in enumerate(self.carriers):
            users_k = users * share[k]
            kpis = compute_kpis(
                states[k], users_k, self.site_distance_m, self.cell_site,
                self.overshoot_limit_m, on[k], self.carrier_params[k],
            )  # fmt: skip
            parts.append(CarrierResult(carrier.frequency_mhz, states[k], kpis, users_k))
        main = np.argmax(share, axis=0)  # the carrier carrying most of each point's demand
        state = RadioState(
            np.choose(main, [st.serving_cell for st in states]).astype(np.int32),
            np.choose(main, [st.serving_mw for st in states]),
            np.choose(main, [st.interference_mw for st in states]),
            states[0].noise_mw,
        )
        serving = [st.serving_cell for st in states]
        admission = self.kpi_params.admission_load
        kpis = combine_kpis([p.kpis for p in parts], users, share, serving, main,
                            self._carrier_cells, active, admission)  # fmt: skip
        return StepResult(state, kpis, users, active, iterations, converged, tuple(parts))

    def _shares(self, states: list[RadioState]) -> np.ndarray:
        """`capacity_shares` at the carriers' current radio states."""
        peak = np.stack([link_quality(st, p.bandwidth_mhz)[1]
                         for st, p in zip(states, self.carrier_params, strict=True)])  # fmt: skip
        return capacity_shares(peak, self._carrier_bandwidth_mhz)

    def evaluate(
        self,
        tilt_deg: np.ndarray,
        hour: float,
        users: np.ndarray,
        start_weight: np.ndarray | None = None,
    ) -> Kpis:
        """KPIs at these tilts, loads converged, for searches over tilts: the fixed point starts
        from full-load interference (or from `start_weight`, a load state), never from the
        simulator's, which it leaves alone. So what a search finds depends on tilts, hour and
        users alone, not on the steps before (plans are cached across processes)."""
        weight = np.ones(self.n_cells, np.float32) if start_weight is None else start_weight
        return self._solve(tilt_deg, hour, users, weight).kpis

    def step(
        self, tilt_deg: np.ndarray, hour: float, users: np.ndarray | None = None
    ) -> StepResult:
        """Radio state and KPIs at these tilts and this time, loads converged (warm-started
        from the last step's)."""
        users = self.users_at(hour) if users is None else users
        result = self._solve(tilt_deg, hour, users, self._weight)
        self._weight = result.kpis.next_weight
        return result
