"""The tilt tuning operators use today (docs/domain.md): the baselines to beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellsim.contract import FEATURE_INDEX as _F
from cellsim.env.tilt_env import TiltEnv
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
    """When the incremental SON rule acts, per cell, from its KPIs of the last interval.

    overshoot_share: downtilt if at least this share of its traffic lies beyond
        kpi.overshoot_ratio (0.7) × the distance to the next site (docs/domain.md: its furthest
        10 %).
    poor_sinr_share: downtilt if at least this share of its users has SINR < kpi.sinr_min_db
        (poor edge quality).
    weak_rsrp_share: uptilt if at least this share of its users has RSRP < kpi.rsrp_min_dbm
        (weak coverage); coverage comes first when both apply.
    max_changed_share: re-tilt at most this share of the cells per interval, the most severe
        first (operators change a few cells at a time).
    interval_steps: act every this many env steps (4 × 15 min = hourly); hold in between.
    """

    overshoot_share: float = 0.10
    poor_sinr_share: float = 0.10
    weak_rsrp_share: float = 0.05
    max_changed_share: float = 0.34
    interval_steps: int = 4


class SonRule(TiltPolicy):
    """`rule-son`: the incremental KPI-triggered RET rule of SON systems."""

    name = "rule-son"

    def __init__(self, env: TiltEnv, thresholds: SonThresholds | None = None):
        super().__init__(env)
        self.th = thresholds or SonThresholds()
        self._steps: dict[int, int] = {}  # per env of a VecEnv batch

    def reset(self, env_index: int | None = None) -> None:
        if env_index is None:
            self._steps.clear()
        else:
            self._steps.pop(env_index, None)

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        step = self._steps.get(env_index, 0)
        self._steps[env_index] = step + 1
        current = self.tilts(obs)
        if step % self.th.interval_steps != 0:
            return self.toward(current, current)
        f = self.cells(obs)
        weak = f[:, _F["weak_rsrp_share"]] - self.th.weak_rsrp_share
        over = np.maximum(f[:, _F["overshoot_share"]] - self.th.overshoot_share,
                          f[:, _F["poor_sinr_share"]] - self.th.poor_sinr_share)  # fmt: skip
        on = f[:, _F["active"]] > 0.5
        weak_coverage = on & (weak >= 0)  # coverage comes first, even where it cannot uptilt
        up = weak_coverage & (current > self.space.min_deg)
        down = on & ~weak_coverage & (over >= 0) & (current < self.space.max_deg)
        severity = np.where(up, weak, np.where(down, over, -np.inf))
        budget = max(1, int(self.th.max_changed_share * self.n_cells))
        chosen = np.argsort(-severity, kind="stable")[:budget]
        chosen = chosen[np.isfinite(severity[chosen])]
        target = current.copy()
        target[chosen] += np.where(up[chosen], -self.space.step_deg, self.space.step_deg)
        return self.toward(current, target)
