"""The tilt tuning operators use today (docs/domain.md): the baselines to beat."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cellsim.contract import FEATURE_INDEX as _F
from cellsim.env.neighbours import network_neighbours
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies.base import TiltPolicy

UE_HEIGHT_M = 1.5


def vertical_beamwidth_deg(env: TiltEnv) -> float:
    """Half-power vertical beamwidth of the scenario's antenna, measured on its pattern."""
    antenna = env.sim.setup.antenna
    down = np.linspace(-45.0, 45.0, 9001)
    gain = antenna.gain_dbi(np.zeros_like(down), down, 0.0)
    above = down[gain >= gain.max() - 3.0]
    return float(above.max() - above.min())


def planning_tilts_deg(env: TiltEnv, edge_fraction: float = 2.0 / 3.0) -> np.ndarray:
    """Planning rule: point the upper −3 dB edge of the beam at the cell edge,
    tilt = atan(Δh / d_edge) + θ3dB / 2, with Δh the antenna height above the UE and d_edge =
    `edge_fraction` × the distance from the cell's site to its nearest neighbour site (2/3·ISD
    in a hexagonal three-sector layout). Returns the electrical tilt: the planning tilt less
    each cell's mechanical tilt."""
    sim = env.sim
    layout = sim.layout
    sites = layout.sites_xy_m
    off = layout.nearest_image_offsets(sites)
    dist = np.hypot(off[..., 0], off[..., 1])
    np.fill_diagonal(dist, np.inf)
    if len(layout.wrap_shifts_m) > 1:
        dist = np.minimum(dist, np.hypot(*layout.wrap_shifts_m[1:].T).min())
    nearest = dist.min(axis=0)
    if not np.all(np.isfinite(nearest)):  # a single site: use the study area's extent
        x0, x1, y0, y1 = sim.raster.extent_m
        nearest = np.full(len(sites), 0.5 * max(x1 - x0, y1 - y0))
    d_edge = edge_fraction * nearest[layout.cells.site]
    dh = layout.cells.height_m - UE_HEIGHT_M
    total = np.degrees(np.arctan2(dh, d_edge)) + vertical_beamwidth_deg(env) / 2.0
    electrical = total - layout.cells.mech_tilt_deg  # the mechanical tilt already points down
    return env.tilt_space.clip(electrical)


class GeometricRule(TiltPolicy):
    """`rule-geometric`: the static planning tilt per cell, fixed all day once reached. An
    episode starts from the scenario's tilts, so the rule first walks there, one RET step per
    interval: its tilt changes are that walk (hex7: 21 cells × 3 one-degree steps, 6° → 9°,
    = 63 moves a day), then none."""

    name = "rule-geometric"

    def __init__(self, env: TiltEnv):
        super().__init__(env)
        self.target_deg = planning_tilts_deg(env)

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        return self.toward(self.tilts(obs), self.target_deg)


@dataclass(frozen=True)
class SonThresholds:
    """When and how far the CCO rule (`SonRule`) acts. Triggers read a cell's observation
    features averaged over the last interval; the defaults are tuned on training realisations
    (`python agents/tune_son.py`, see `SonRule`).

    weak_rsrp_share: uptilt if at least this share of its users has RSRP < kpi.rsrp_min_dbm
        (weak coverage); coverage comes first.
    overshoot_share: downtilt if at least this share of its users lies beyond
        kpi.overshoot_ratio × the distance to the next site (overshooting), where it hurts:
        the demand-weighted mean SINR of its neighbours' users is below `overshoot_sinr_db`
        (interference-limited; a noise-limited rural cell that reaches far is left alone).
    poor_sinr_share: downtilt if at least this share of its users has SINR < kpi.sinr_min_db
        (poor quality, over-coverage).
    overload: downtilt if its load ρ is at least this and its neighbours' mean load is at least
        `load_gap` lower (shed traffic to them); uptilt if its load is at most `underload` while
        a neighbour's is at least `overload` (take traffic from it). No uptilt of an
        overloaded cell.
    underload, load_gap: see `overload`.
    rollback_margin: a change is rolled back when, over the interval after it, the
        demand-weighted score of the cell and its neighbours (coverage + utility − weak
        coverage, weighted as the reward weighs them) fell by more than this against the trend
        of the cells that did not change (a difference in differences).
    tabu_hours: a direction rolled back is not tried again on that cell for this long.
    hysteresis_hours: after a kept change, the opposite direction waits this long.
    bound_deg: moves stay within the cell's planning tilt (`planning_tilts_deg`) ± this (and
        never leave the range between that and the episode's starting tilt).
    max_changed_share: at most this share of the cells starts a change per interval, the most
        severe first, never two neighbours in one interval (so each effect is attributable).
    interval_minutes: the optimisation interval (KPIs averaged, changes verified), rounded to
        whole env steps; RET's dwell should not be longer.
    neighbours: the size of each cell's neighbour list (strongest interferers,
        `cellsim.env.neighbours`), the cluster whose KPIs verify a change.
    exclusive_neighbours: a cell does not start a change in the interval its strongest this
        many neighbours do (0: no exclusion).
    verify_steps: compare the first this many env steps after a change with the last as many
        before it (less drift of demand between the two); 0: the whole intervals.
    """

    weak_rsrp_share: float = 0.05
    overshoot_share: float = 0.06
    overshoot_sinr_db: float = 12.0
    poor_sinr_share: float = 0.10
    overload: float = 0.9
    underload: float = 0.3
    load_gap: float = 0.3
    rollback_margin: float = 0.5
    tabu_hours: float = 6.0
    hysteresis_hours: float = 3.0
    bound_deg: float = 4.0
    max_changed_share: float = 0.34
    interval_minutes: float = 60.0
    neighbours: int = 6
    exclusive_neighbours: int = 0
    verify_steps: int = 0

    def __post_init__(self) -> None:
        for name in ("max_changed_share", "interval_minutes", "neighbours"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"rule-son {name}={getattr(self, name)!r}: allowed > 0")
        for name in (
            "tabu_hours",
            "hysteresis_hours",
            "bound_deg",
            "exclusive_neighbours",
            "verify_steps",
        ):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"rule-son {name}={getattr(self, name)!r}: allowed ≥ 0")


@dataclass
class _SonMemory:
    """What the rule remembers of one env's episode (per env of a VecEnv batch)."""

    n_cells: int
    step: int = 0
    start_deg: np.ndarray | None = None  # the episode's first tilts: the bounds include them
    interval: list[np.ndarray] = field(default_factory=list)  # features since the last decision
    previous: list[np.ndarray] | None = None  # the last interval's features
    pending: np.ndarray = field(init=False)  # +1 downtilt / −1 uptilt awaiting verification
    pending_from_deg: np.ndarray = field(init=False)
    blocked_until: np.ndarray = field(init=False)  # (n, 2): step from which down / up may act
    rollbacks: int = 0
    kept: int = 0

    def __post_init__(self) -> None:
        self.pending = np.zeros(self.n_cells, np.int64)
        self.pending_from_deg = np.zeros(self.n_cells)
        self.blocked_until = np.zeros((self.n_cells, 2), np.int64)


DOWN_DIR, UP_DIR = 1, -1  # tilt change per move, in grid steps


class SonRule(TiltPolicy):
    """`rule-son`: coverage and capacity optimisation (CCO) as SON systems run it.

    Every interval (hourly by default), per cell, from its KPIs averaged over the interval:
    1. verify last interval's changes: the demand-weighted score of the cell and its neighbours
       (coverage + utility − weak coverage) after the change against before, less the trend of
       the cells that did not change; a change that made it worse by more than
       `rollback_margin` is rolled back and its direction blocked for `tabu_hours`;
    2. trigger: uptilt on weak coverage, or on low load next to an overloaded neighbour;
       downtilt on overshoot, poor SINR (over-coverage) or overload with room at the
       neighbours (`SonThresholds`);
    3. act on the most severe cells, 1 step each, at most `max_changed_share` of the cells and
       never two neighbours at once, within the planning tilt ± `bound_deg`; a cell starts a
       change only when RET lets it move now and leaves a move for the rollback
       (`moves_left`, `dwell_left` features).
    Thresholds were tuned on training realisations only (network seeds 0–63, never the
    held-out ones compare uses): `python agents/tune_son.py --scenarios hex7 case1 outage
    stadium rural city` searches a grid of the triggers and the rollback margin on a few
    training realisations of each scenario and prints the best set by mean gain over hold.
    """

    name = "rule-son"

    def __init__(self, env: TiltEnv, thresholds: SonThresholds | None = None):
        super().__init__(env)
        self.th = th = thresholds or SonThresholds()
        cfg = env.config
        step_minutes = cfg.step_minutes * cfg.ticks_per_decision
        self.interval_steps = max(1, round(th.interval_minutes / step_minutes))
        self.tabu_steps = round(th.tabu_hours * 60 / step_minutes)
        self.hysteresis_steps = round(th.hysteresis_hours * 60 / step_minutes)
        self.budget = cfg.ret.max_moves_per_day
        plan = self.space.snap(planning_tilts_deg(env))
        self.low_deg = self.space.clip(plan - th.bound_deg)
        self.high_deg = self.space.clip(plan + th.bound_deg)
        table = network_neighbours(env.sim, min(th.neighbours, max(self.n_cells - 1, 1)))
        self.neighbour_index = table.index
        self.neighbour_mask = np.zeros((self.n_cells, self.n_cells), bool)
        for c, row in enumerate(table.index):
            self.neighbour_mask[c, row[row >= 0]] = True
        self.neighbour_mask |= self.neighbour_mask.T
        self.exclusive_mask = np.zeros((self.n_cells, self.n_cells), bool)
        for c, row in enumerate(table.index[:, : th.exclusive_neighbours]):
            self.exclusive_mask[c, row[row >= 0]] = True
        self.exclusive_mask |= self.exclusive_mask.T
        self.score_weights = tuple(
            float(getattr(cfg.reward, name)) for name in ("coverage", "utility", "weak_coverage")
        )
        self._memory: dict[int, _SonMemory] = {}

    def reset(self, env_index: int | None = None) -> None:
        if env_index is None:
            self._memory.clear()
        else:
            self._memory.pop(env_index, None)

    def memory(self, env_index: int = 0) -> _SonMemory:
        """This env's memory of the episode (rollbacks and kept changes counted there)."""
        return self._memory.setdefault(env_index, _SonMemory(self.n_cells))

    # -- KPIs -------------------------------------------------------------------------------

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Per cell, the KPI score the verification compares (per user of the cell)."""
        cov, util, weak = self.score_weights
        return (cov * features[:, _F["covered_share"]] + util * features[:, _F["mean_log_rate"]]
                - weak * features[:, _F["weak_rsrp_share"]])  # fmt: skip

    def cluster_scores(self, features: np.ndarray, members: np.ndarray) -> np.ndarray:
        """Demand-weighted mean score over each row's cells (`members`: (m, n) bool)."""
        return self.cluster_scores_of(features, self.scores(features), members)

    @staticmethod
    def cluster_scores_of(
        features: np.ndarray, values: np.ndarray, members: np.ndarray
    ) -> np.ndarray:
        """Demand-weighted mean of a per-cell value over each row's cells."""
        served = features[:, _F["served_share"]].astype(np.float64)
        weight = members * served[None]
        total = weight.sum(axis=1)
        return np.divide(weight @ values, total, out=np.zeros(len(members)), where=total > 0)

    # -- the interval -----------------------------------------------------------------------

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        mem = self.memory(env_index)
        current = self.tilts(obs)
        f = self.cells(obs).astype(np.float64)
        if mem.start_deg is None:
            mem.start_deg = current.copy()
        mem.interval.append(f)
        step = mem.step
        mem.step += 1
        if step % self.interval_steps != 0:
            return self.toward(current, current)
        interval, mem.interval = mem.interval, []
        mean = np.mean(interval, axis=0)
        target = current.copy()
        # RET's state now (not its interval mean): a move needs the dwell over, and a new
        # change keeps one move of the day's budget for its rollback
        rolled = self._verify(mem, interval, self._can_move(f, 1), target, step)
        self._trigger(mem, mean, current, target, step, rolled, self._can_move(f, 2))
        mem.previous = interval
        return self.toward(current, target)

    def _can_move(self, features: np.ndarray, moves: int) -> np.ndarray:
        """Cells whose RET budget holds `moves` more moves and whose dwell is over."""
        free = features[:, _F["dwell_left"]] <= 1e-6
        if self.budget is None:
            return free
        left = np.rint(features[:, _F["moves_left"]] * self.budget)
        return free & (left >= moves)

    def _verify(
        self, mem: _SonMemory, interval: list[np.ndarray], can: np.ndarray, target: np.ndarray,
        step: int,
    ) -> np.ndarray:  # fmt: skip
        """Keep or roll back last interval's changes (a rollback where RET lets the cell
        move, `can`); returns the cells rolled back."""
        changed = np.flatnonzero(mem.pending)
        rolled = np.zeros(self.n_cells, bool)
        if changed.size == 0 or mem.previous is None:
            mem.pending[:] = 0
            return rolled
        v = self.th.verify_steps or max(len(interval), len(mem.previous))
        after, before = np.mean(interval[:v], axis=0), np.mean(mem.previous[-v:], axis=0)
        members = self.neighbour_mask[changed] | (np.arange(self.n_cells) == changed[:, None])
        control = ~members.any(axis=0)
        if not control.any():
            control = np.ones(self.n_cells, bool)
        trend = (self.cluster_scores(after, control[None]) -
                 self.cluster_scores(before, control[None]))[0]  # fmt: skip
        delta = (self.cluster_scores(after, members) - self.cluster_scores(before, members)
                 - trend)  # fmt: skip
        for c, d in zip(changed, delta, strict=True):
            direction = mem.pending[c]
            slot = 0 if direction == DOWN_DIR else 1
            if d < -self.th.rollback_margin and can[c]:
                target[c] = mem.pending_from_deg[c]
                mem.blocked_until[c, slot] = step + self.tabu_steps
                rolled[c] = True
                mem.rollbacks += 1
            else:
                mem.blocked_until[c, 1 - slot] = step + self.hysteresis_steps
                mem.kept += 1
        mem.pending[:] = 0
        return rolled

    def _trigger(
        self, mem: _SonMemory, mean: np.ndarray, current: np.ndarray, target: np.ndarray,
        step: int, rolled: np.ndarray, can: np.ndarray,
    ) -> None:  # fmt: skip
        """Start this interval's changes (see the class docstring)."""
        th, f = self.th, mean
        assert mem.start_deg is not None  # set at the episode's first action
        low = np.minimum(self.low_deg, mem.start_deg)
        high = np.maximum(self.high_deg, mem.start_deg)
        half = self.space.step_deg / 2
        load = f[:, _F["load"]]
        idx = np.maximum(self.neighbour_index, 0)
        present: np.ndarray = self.neighbour_index >= 0
        count = np.maximum(present.sum(axis=1), 1)
        nb_load = np.where(present, load[idx], 0.0)
        nb_mean, nb_max = nb_load.sum(axis=1) / count, nb_load.max(axis=1)
        weak = f[:, _F["weak_rsrp_share"]] - th.weak_rsrp_share
        shed = np.where(nb_mean <= load - th.load_gap, load - th.overload, -np.inf)
        sinr_db = f[:, _F["mean_sinr"]] * 20.0  # the feature is dB / 20
        nb_sinr_db = self.cluster_scores_of(f, sinr_db, self.neighbour_mask)
        overshoot = np.where(
            nb_sinr_db < th.overshoot_sinr_db,
            f[:, _F["overshoot_share"]] - th.overshoot_share,
            -np.inf,
        )
        down = np.maximum.reduce(
            [overshoot, f[:, _F["poor_sinr_share"]] - th.poor_sinr_share, shed]
        )
        take = np.where(nb_max >= th.overload, th.underload - load, -np.inf)
        up = np.where(weak >= 0, 1.0 + weak, np.where(load < th.overload, take, -np.inf))
        go_up = (up >= 0) & (current > low + half) & (step >= mem.blocked_until[:, 1])
        go_down = (~(weak >= 0) & (down >= 0) & (current < high - half)
                   & (step >= mem.blocked_until[:, 0]))  # fmt: skip
        eligible = ((f[:, _F["active"]] > 0.5) & can & ~rolled
                    & (go_up | go_down))  # fmt: skip
        severity = np.where(go_up, up, down)
        quota = max(1, int(th.max_changed_share * self.n_cells))
        busy = rolled.copy()
        for c in np.argsort(-np.where(eligible, severity, -np.inf), kind="stable"):
            if quota == 0 or not eligible[c]:
                break
            if (self.exclusive_mask[c] & busy).any():
                continue
            direction = UP_DIR if go_up[c] else DOWN_DIR
            target[c] = current[c] + direction * self.space.step_deg
            mem.pending[c] = direction
            mem.pending_from_deg[c] = current[c]
            busy[c] = True
            quota -= 1
