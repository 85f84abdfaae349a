"""Coverage maps of a tilt plan: SINR over the study area with sites and sector azimuths."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cellsim.simulator import Simulator

SINR_RANGE_DB = (-10.0, 30.0)


def sinr_image(sim: Simulator, tilt_deg: np.ndarray, hour: float) -> tuple[np.ndarray, dict]:
    """SINR (dB) of the outdoor raster at these tilts and hour, as an image, and the KPIs."""
    sim.reset_load()
    result = sim.step(tilt_deg, hour, iterations=5)
    n = sim.raster.n_points
    return sim.raster.to_image(result.kpis.sinr_db[:n]), result.kpis.network()


def _draw_sites(ax, sim: Simulator, tilt_deg: np.ndarray) -> None:
    cells = sim.layout.cells
    x0, x1, y0, y1 = sim.raster.extent_m
    arm = 0.04 * max(x1 - x0, y1 - y0)
    ax.plot(sim.layout.sites_xy_m[:, 0], sim.layout.sites_xy_m[:, 1], "k^", ms=5)
    for c in range(len(cells)):
        a = np.radians(cells.azimuth_deg[c])
        dx, dy = arm * np.cos(a), arm * np.sin(a)
        ax.plot([cells.x_m[c], cells.x_m[c] + dx], [cells.y_m[c], cells.y_m[c] + dy], "k-", lw=0.8)
        ax.text(cells.x_m[c] + 1.25 * dx, cells.y_m[c] + 1.25 * dy, f"{tilt_deg[c]:.0f}°",
                fontsize=6, ha="center", va="center")  # fmt: skip
    for poly in sim.raster.exclusions:
        xs, ys = poly.exterior.xy
        ax.fill(xs, ys, color="0.85", hatch="//", ec="0.5", lw=0.5)


def before_after_sinr(
    sim: Simulator,
    plans: dict[str, np.ndarray],
    hour: float,
    out: str | Path,
    title: str = "",
) -> Path:
    """SINR maps of each named tilt plan side by side, plus the difference of the last two."""
    images = {name: sinr_image(sim, tilt, hour) for name, tilt in plans.items()}
    names = list(images)
    panels = len(names) + (1 if len(names) >= 2 else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 5), constrained_layout=True)
    extent = sim.raster.extent_m
    for ax, name in zip(axes, names, strict=False):
        img, kpis = images[name]
        im = ax.imshow(img, extent=extent, origin="upper", cmap="viridis",
                       vmin=SINR_RANGE_DB[0], vmax=SINR_RANGE_DB[1])  # fmt: skip
        _draw_sites(ax, sim, plans[name])
        ax.set_title(f"{name}\nmean SINR {kpis['mean_sinr_db']:.1f} dB, "
                     f"p5 rate {kpis['p5_rate_mbps']:.2f} Mbps", fontsize=9)  # fmt: skip
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
    fig.colorbar(im, ax=axes[: len(names)], shrink=0.8, label="SINR (dB)")
    if len(names) >= 2:
        ax = axes[-1]
        diff = images[names[-1]][0] - images[names[-2]][0]
        lim = max(1.0, float(np.nanpercentile(np.abs(diff), 98)))
        dim = ax.imshow(diff, extent=extent, origin="upper", cmap="RdBu", vmin=-lim, vmax=lim)
        _draw_sites(ax, sim, plans[names[-1]])
        ax.set_title(f"SINR gain: {names[-1]} − {names[-2]}", fontsize=9)
        fig.colorbar(dim, ax=ax, shrink=0.8, label="ΔSINR (dB)")
    hh = int(hour) % 24
    fig.suptitle(f"{title} at {hh:02d}:{round(hour % 1 * 60):02d}", fontsize=10)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


#: What `cellsim map --kind` draws: per-point values, colour map, colour-bar label, range.
MAP_KINDS = {
    "sinr": ("viridis", "SINR (dB)", SINR_RANGE_DB),
    "rsrp": ("magma", "RSRP per resource element (dBm)", (-130.0, -60.0)),
    "throughput": ("cividis", "user throughput (Mbps)", None),
    "coverage": ("RdYlGn", "covered (RSRP and SINR above thresholds)", (0.0, 1.0)),
    "demand": ("Blues", "active users per pixel", None),
    "server": ("tab20", "serving cell", None),
}


def map_values(sim: Simulator, tilt_deg: np.ndarray, hour: float, kind: str):
    """Per-point values of a map kind on the outdoor raster, and the network KPIs."""
    sim.reset_load()
    result = sim.step(tilt_deg, hour, iterations=5)
    n = sim.raster.n_points
    kpis = result.kpis
    cfg = sim.config.kpi
    if kind == "sinr":
        values = kpis.sinr_db[:n]
    elif kind == "rsrp":
        values = result.state.rsrp_dbm[:n]
    elif kind == "throughput":
        values = kpis.rate_mbps[:n]
    elif kind == "coverage":
        ok = (result.state.rsrp_dbm[:n] >= cfg.rsrp_min_dbm) & (kpis.sinr_db[:n] >= cfg.sinr_min_db)
        values = ok.astype(float)
    elif kind == "demand":
        values = sim.demand.users_at(hour)
    else:  # server
        values = result.state.serving_cell[:n].astype(float)
    return np.asarray(values, float), kpis.network()


def draw_map(
    sim: Simulator, tilt_deg: np.ndarray, hour: float, kind: str, out: str | Path, title: str
) -> Path:
    """One map of `kind` with sites, sector azimuths, tilts, exclusions and the network KPIs."""
    cmap, label, value_range = MAP_KINDS[kind]
    values, kpis = map_values(sim, tilt_deg, hour, kind)
    image = sim.raster.to_image(values)
    fig, ax = plt.subplots(figsize=(7, 6.2), constrained_layout=True)
    vmin, vmax = value_range if value_range else (np.nanmin(image), np.nanmax(image))
    if kind == "server":
        cmap = plt.get_cmap(cmap, max(2, sim.n_cells))
        vmin, vmax = -0.5, sim.n_cells - 0.5
    im = ax.imshow(image, extent=sim.raster.extent_m, origin="upper", cmap=cmap, vmin=vmin,
                   vmax=vmax, interpolation="nearest")  # fmt: skip
    _draw_sites(ax, sim, tilt_deg)
    fig.colorbar(im, ax=ax, shrink=0.85, label=label)
    hh = int(hour) % 24
    ax.set_title(
        f"{title} — {kind} at {hh:02d}:{round(hour % 1 * 60):02d}\ncoverage "
        f"{kpis['coverage']:.3f}, mean rate {kpis['mean_rate_mbps']:.1f} Mbps, p5 "
        f"{kpis['p5_rate_mbps']:.2f} Mbps, mean SINR {kpis['mean_sinr_db']:.1f} dB",
        fontsize=9,
    )
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
