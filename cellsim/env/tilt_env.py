"""`cellsim/Tilt-v0`: the Gymnasium front-end of the simulator (one agent re-tilts every cell)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from cellsim.contract import (
    N_MOVES,
    RewardInputs,
    TiltSpace,
    observation_bounds,
    reward_terms,
    total_reward,
)
from cellsim.env.config import merge_config
from cellsim.env.observation import observation
from cellsim.env.ret import RetState
from cellsim.errors import ConfigError
from cellsim.scenario import EnvConfig, Scenario, load_scenario
from cellsim.simulator import Simulator, StepResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

    from cellsim.viz.frame import FrameRenderer

SINR_RANGE_DB = (-10.0, 30.0)  # colour range of rendered frames


class EpisodeOver(ConfigError, gym.error.ResetNeeded):
    """step() after truncation: Gymnasium's ResetNeeded, and one line in cellsim's family."""


class TiltEnv(gym.Env):
    """Re-tilt the antennas of a mobile network as traffic moves through the day.

    ## Description
    A network of sectorised cells (a cellsim scenario: layout, 3GPP path loss and antenna
    patterns, shadowing, a study area with demand that follows daily profiles, events such as
    site outages) is evaluated on a raster of receiver points. Each step the agent sets the
    electrical tilt of every cell; the simulator recomputes received power, best server, SINR
    with load-dependent interference, and user throughput under load, then advances the clock
    by `step_minutes`.

    ## Action Space
    `action = "discrete"` (default): `MultiDiscrete([3] * n_cells)`, per cell 0 = downtilt by
    `tilt_step_deg` (tilt increases), 1 = hold, 2 = uptilt; tilts stay within
    [`tilt_min_deg`, `tilt_max_deg`]. `action = "continuous"`: `Box(-1, 1, (n_cells,))`, the
    absolute tilt of each cell mapped linearly onto the tilt range. RET as operators run it
    (`ret`, cellsim.env.ret): at most `max_moves_per_day` moves per cell per day (6) and
    `min_dwell_minutes` (60) between a cell's moves; a move either forbids is held (the cell
    keeps its tilt) and counted in `info["ret"]`. `ret.decision_minutes` (e.g. 60) makes
    each step one decision over several clock ticks (rewards summed over them).

    ## Observation Space
    `Box(low, high, (n_cells * 13 + 2,), float32)`: 13 features per cell (tilt, load, served
    share, mean SINR, poor-SINR share, covered share, weak-RSRP share, interference over noise,
    overshoot share, mean log throughput, on-air flag, share of the day's RET budget left,
    share of the dwell still to wait), then sin and cos of the time of day.
    Each feature, its scale and its bounds are defined in `cellsim.contract.CELL_FEATURES`.

    ## Rewards
    `sum(weight[k] * term[k])` over the terms coverage, utility (mean log throughput), edge
    (5th-percentile throughput), tilt_change (−share of cells re-tilted) and the guard KPIs
    weak_coverage, overcoverage and unserved (−shares of demand), and excess_load (−load offered
    beyond admission, summed over cells; weight 0 by default, `"guarantee"` for
    `overload_guarantee_weight`);
    weights from the config's `reward` table. The terms are in `info["rewards"]`, the network
    KPIs in `info["kpis"]`, per-cell KPIs in `info["cell_kpis"]`; with several carriers,
    `info["kpis"]` combines them (demand-weighted) and `info["carrier_kpis"]` holds each
    carrier's network KPIs by frequency (MHz). The terms are defined in
    `cellsim.contract.REWARD_TERMS`.

    ## Starting State
    Tilts from the scenario (or uniform over the range with `initial_tilt = "random"`), the
    clock at `start_hour`, the load ↔ interference fixed point converged from full load. The
    network realisation (shadowing, LOS, effective heights) is drawn per episode from the pool
    of `realisations` (default: the 64 training realisations, network seeds 0–63; split "eval"
    gives held-out ones from 1 000 000 on, "fixed" the single `network_seed`), or forced with
    `reset(options={"network_seed": s})`; it is in `info["network_seed"]`. The per-step demand
    noise comes from the reset seed. With `random_outage_probability` > 0 an episode may also
    lose one random site for 2–10 hours (drawn from the reset seed), to train policies that cope
    with failures.

    ## Episode End
    Never terminated; truncated after `episode_hours` (one day by default, 96 steps of 15
    minutes). A step after truncation raises `EpisodeOver` (Gymnasium's `ResetNeeded`).
    Continuous actions beyond [-1, 1] are clipped and counted in `info["action_clipped"]`;
    boolean or non-numeric actions are refused.

    ## Arguments
    `gymnasium.make("cellsim/Tilt-v0", scenario="hex7", config={...}, render_mode=None)`:
    `scenario` is a built-in name, a file path or a `Scenario`; `config` is deep-merged onto the
    scenario's `[env]` table (fields in `cellsim.scenario.EnvConfig`); `reset(options={"config":
    {...}})` merges again for the next episodes (the action type cannot change).
    `render_mode` "rgb_array" returns an SINR map as uint8 (H, W, 3); "human" shows it.

    ## Version History
    - v0: initial release. cellsim is pre-release (0.x): the id stays v0 while the benchmark
      is rebuilt (issues 14–15), and behaviour changes are listed here; a run folder records
      the cellsim version and the full env config it was trained with.
    - v0, cellsim 0.1 (2026-12): a network realisation per episode from a seeded pool
      (`realisations`); overload blocks demand beyond `kpi.admission_load` (unserved traffic)
      instead of the `max_load` cap (retired: a config naming it is refused); an idle cell
      interferes at `idle_load` continuously; guard KPIs and their reward terms; RET
      budget, dwell and decision cadence (`ret`), with two observation features per cell
      (13 instead of 11: models trained before must be retrained); the load ↔ interference
      fixed point is solved to `load.tolerance` at every step (it lagged one iteration a
      step; `load_iterations` and `reset_load_iterations` are refused). Results obtained
      before are not comparable.
    """

    # Not a ClassVar: gymnasium's Env declares `metadata` as an attribute, so mypy forbids one.
    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "human"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        scenario: str | Scenario = "hex7",
        config: dict[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self._base_config = merge_config(self.scenario.env, config, f"{self.scenario.name} config")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(
                f"render_mode={render_mode!r}: allowed {', '.join(self.metadata['render_modes'])}"
            )
        self.render_mode = render_mode
        self._apply_config(self._base_config)
        n = self.sim.n_cells
        if self.config.action == "discrete":
            self.action_space = gym.spaces.MultiDiscrete(np.full(n, N_MOVES))
        else:
            self.action_space = gym.spaces.Box(-1.0, 1.0, (n,), np.float32)
        low, high = observation_bounds(n)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.cell_names = self.sim.layout.cells.name
        self._renderer: FrameRenderer | None = None
        self._figure: tuple[Figure, AxesImage] | None = None
        self._last: StepResult | None = None

    # -- configuration ----------------------------------------------------------------------

    def _apply_config(self, config: EnvConfig) -> None:
        old = getattr(self, "config", None)
        rebuild = old is None or (old.network_seed, old.kpi) != (config.network_seed, config.kpi)
        self.config = config
        if rebuild:
            self.sim = Simulator(self.scenario, config, config.network_seed)
        else:
            self.sim.config = config
        ticks = max(1, round(config.episode_hours * 60 / config.step_minutes))
        #: env steps (decisions) per episode; the clock ticks `config.ticks_per_decision`
        #: times per step (`self.t` counts ticks)
        self.n_steps = max(1, ticks // config.ticks_per_decision)
        self.n_ticks = self.n_steps * config.ticks_per_decision
        self.tilt_space = TiltSpace.of(config)
        self._scenario_tilt = self.tilt_space.clip(self.sim.layout.cells.tilt_deg)

    # -- Gym API ----------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "config" in options:
            config = merge_config(self._base_config, options["config"], "reset options config")
            if config.action != self.config.action:
                raise ConfigError(
                    f"reset options config: action={config.action!r} cannot change after "
                    f"creation (the action space is {self.config.action!r}); make a new env"
                )
            self._apply_config(config)
        cfg = self.config
        self.sim.use_realisation(self._draw_realisation(options))
        if cfg.initial_tilt == "random":
            drawn = self.np_random.uniform(cfg.tilt_min_deg, cfg.tilt_max_deg, self.sim.n_cells)
            self.tilt_deg = self.tilt_space.snap(drawn)
        else:
            self.tilt_deg = self._scenario_tilt.copy()
        self.t = 0
        self.ret = RetState(cfg.ret, self.sim.n_cells)
        self.sim.extra_outages = self._random_outages()
        self.sim.reset_load()
        self._last = self.sim.step(self.tilt_deg, self.hour, self._users())
        return self._observation(), self._info(None)

    def step(
        self, action: npt.ArrayLike
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._last is None:
            raise ConfigError("step() called before reset()")
        if self.t >= self.n_ticks:
            raise EpisodeOver(
                "step() after the episode was truncated: call reset() to start the next one"
            )
        self._clipped = 0
        requested = self._tilts_from_action(action)
        new_tilt = self.ret.admit(self.tilt_deg, requested, self.minutes)
        changed = (new_tilt != self.tilt_deg).astype(np.float64)
        self.tilt_deg = new_tilt
        terms: dict[str, float] = {}
        #: every tick's reward inputs of this step (the per-cell env sums its local scores)
        self.tick_inputs: list[RewardInputs] = []
        for tick in range(self.config.ticks_per_decision):  # the clock between decisions
            self.t += 1
            self._last = self.sim.step(self.tilt_deg, self.hour, self._users())
            moved = changed if tick == 0 else np.zeros_like(changed)
            inputs = RewardInputs(self._last.kpis, moved, self.config.kpi.reference_rate_mbps)
            self.tick_inputs.append(inputs)
            for name, value in reward_terms(inputs).items():
                terms[name] = terms.get(name, 0.0) + value
        reward = total_reward(terms, self.config.reward)
        truncated = self.t >= self.n_ticks
        if self.render_mode == "human":
            self.render()
        return self._observation(), reward, False, truncated, self._info(terms)

    def action_masks(self) -> np.ndarray:
        """(n_cells × 3,) bool: each cell's moves that stay in the tilt range and that its RET
        budget and dwell allow now (hold always), as sb3-contrib's MaskablePPO asks for them."""
        if self.config.action != "discrete":
            raise ConfigError("action_masks(): only for action = 'discrete' tilts")
        masks = self.tilt_space.allowed_moves(self.tilt_deg)
        masks[~self.ret.may_move(self.minutes)] = (False, True, False)
        return masks.ravel()

    @property
    def minutes(self) -> float:
        """Minutes on the env's clock since the episode started."""
        return float(self.t * self.config.step_minutes)

    @property
    def hour(self) -> float:
        return self.config.start_hour + self.minutes / 60.0

    # -- pieces -----------------------------------------------------------------------------

    def _tilts_from_action(self, action: npt.ArrayLike) -> np.ndarray:
        cfg = self.config
        n = self.sim.n_cells
        try:
            a = np.asarray(action)
            if a.dtype.kind not in "iuf":  # booleans are not moves or tilts
                raise TypeError
        except (TypeError, ValueError):
            raise ConfigError(
                f"action {action!r}: allowed {n} numbers, one per cell"
            ) from None
        if a.shape != (n,):
            raise ConfigError(f"action shape {a.shape}: allowed ({n},), one entry per cell")
        if cfg.action == "discrete":
            out_of_range = f"action {a.tolist()}: allowed 0 (down), 1 (hold), 2 (up)"
            if a.dtype.kind == "f":  # checked before the cast: 1e20 must not wrap or warn
                if not (np.all(np.isfinite(a)) and np.all(np.mod(a, 1) == 0)):
                    raise ConfigError(f"action {a.tolist()}: allowed integers 0 (down), 1, 2 (up)")
                if a.min() < 0 or a.max() > 2:
                    raise ConfigError(out_of_range)
            try:
                return self.tilt_space.apply_moves(self.tilt_deg, a)
            except ValueError:
                raise ConfigError(out_of_range) from None
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            raise ConfigError(f"action {a.tolist()}: allowed finite values in [-1, 1]")
        # SB3's SAC/TD3 squash into [-1, 1]; anything beyond is clipped and counted in info
        self._clipped = int(np.count_nonzero(np.abs(a) > 1.0))
        return self.tilt_space.from_continuous(a)

    def _draw_realisation(self, options: dict[str, Any]) -> int:
        """This episode's network seed: `options["network_seed"]`, else one of the pool's
        (`config.realisations`), drawn with the env's generator (no draw from a pool of one)."""
        if "network_seed" in options:
            forced = options["network_seed"]
            if isinstance(forced, bool) or not isinstance(forced, int | np.integer) or forced < 0:
                raise ConfigError(
                    f"reset options network_seed = {forced!r}: allowed an integer ≥ 0"
                )
            return int(forced)
        pool = self.config.realisations.pool(self.config.network_seed)
        return pool[int(self.np_random.integers(len(pool)))] if len(pool) > 1 else pool[0]

    def _random_outages(self) -> list[tuple[int, float, float]]:
        """With probability `random_outage_probability`, one site off for 2–10 h this episode."""
        p = self.config.random_outage_probability
        if p <= 0 or self.np_random.random() >= p:
            return []
        site = int(self.np_random.integers(self.sim.layout.n_sites))
        start = (self.config.start_hour + self.np_random.uniform(0.0, 24.0)) % 24.0
        return [(site, start, start + self.np_random.uniform(2.0, 10.0))]

    def _users(self) -> np.ndarray:
        sigma = self.config.demand_noise
        if sigma <= 0:
            return self.sim.users_at(self.hour)
        noise = np.exp(sigma * self.np_random.standard_normal(self.sim.demand.n_components)
                       - 0.5 * sigma**2)  # fmt: skip
        return self.sim.users_at(self.hour, noise)

    def _observation(self) -> np.ndarray:
        last = self._last
        assert last is not None  # set by reset() before any observation
        return observation(last.kpis, self.tilt_deg, last.active, self.tilt_space, self.ret,
                           self.minutes, self.hour)  # fmt: skip

    def _info(self, terms: dict[str, float] | None) -> dict[str, Any]:
        last = self._last
        assert last is not None  # set by reset() before any info
        info: dict[str, Any] = {
            "kpis": last.kpis.network(),
            "cell_kpis": last.kpis.cells(),
            "hour": self.hour,
            "tilt_deg": self.tilt_deg.copy(),
            "active_cells": int(last.active.sum()),
            "network_seed": self.sim.network_seed,
            "load_iterations": last.load_iterations,
            "load_converged": last.load_converged,
            "action_clipped": getattr(self, "_clipped", 0),
            "ret": {
                "moves_today": self.ret.moves_today.copy(),
                "tilt_changes_per_cell": int(self.ret.moves_total.sum()) / self.sim.n_cells,
                "held_budget": self.ret.held_budget,
                "held_dwell": self.ret.held_dwell,
            },
        }
        if last.carriers:
            info["carrier_kpis"] = {c.frequency_mhz: c.kpis.network() for c in last.carriers}
        if terms is not None:
            info["rewards"] = terms
        return info

    # -- rendering --------------------------------------------------------------------------

    def render(self) -> np.ndarray | None:
        if self.render_mode is None or self._last is None:
            return None
        if self._renderer is None:
            from cellsim.viz.frame import FrameRenderer

            self._renderer = FrameRenderer(self.sim, value_range=SINR_RANGE_DB)
        sinr = self._last.kpis.sinr_db[: self.sim.raster.n_points]  # the outdoor layer
        kpis = self._last.kpis.network()
        title = (f"{self.scenario.name}  {int(self.hour) % 24:02d}:{round(self.hour % 1 * 60):02d}"
                 f"  coverage {kpis['coverage']:.3f}  p5 {kpis['p5_rate_mbps']:.2f} Mbps")
        frame = self._renderer.frame(sinr, self.tilt_deg, title)
        if self.render_mode == "rgb_array":
            return frame
        self._show(frame)
        return None

    def _show(self, frame: np.ndarray) -> None:
        import matplotlib.pyplot as plt

        if self._figure is None:
            plt.ion()
            fig = plt.figure(figsize=(8, 8))
            ax = fig.add_axes((0, 0, 1, 1))
            ax.set_axis_off()
            self._figure = (fig, ax.imshow(frame))
        fig, image = self._figure  # built once, updated per frame
        image.set_data(frame)
        fig.canvas.draw_idle()
        fig.canvas.flush_events()

    def close(self) -> None:
        if self._figure is not None:
            import matplotlib.pyplot as plt

            plt.close(self._figure[0])
            self._figure = None
