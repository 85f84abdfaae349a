"""Coverage maps of a tilt plan: a map kind over the study area with sites, azimuths, tilts,
best-server regions and exclusions; and before/after comparisons of two plans."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm, Normalize
from matplotlib.figure import Figure

from cellsim.errors import CellsimError
from cellsim.simulator import Simulator, StepResult
from cellsim.viz.layers import draw_exclusions, draw_regions, draw_sites, off_air_sites
from cellsim.viz.regions import REGION_PALETTE, server_regions
from cellsim.viz.style import DIVERGING_CMAP, SINR_RANGE_DB, new_figure, save_figure

#: What `cellsim map --kind` draws: colour map, colour-bar label with units, value range.
MAP_KINDS: dict[str, tuple[str, str, tuple[float, float] | None]] = {
    "sinr": ("viridis", "SINR (dB)", SINR_RANGE_DB),
    "rsrp": ("magma", "RSRP per resource element (dBm)", (-130.0, -60.0)),
    "throughput": ("cividis", "user throughput (Mbps, log scale)", None),
    "coverage": ("cividis", "coverage (RSRP and SINR above thresholds)", (0.0, 1.0)),
    "demand": ("plasma", "active users per pixel", None),  # the label names the pixel size
    "server": ("regions", "serving cell", None),
}
#: Categories of a coverage change between two plans, and their colours.
COVERAGE_CHANGE = (("lost", "#b2182b"), ("not covered", "0.35"), ("covered", "0.88"),
                   ("gained", "#2166ac"))  # fmt: skip


def evaluate_plan(
    sim: Simulator, tilt_deg: np.ndarray, hour: float, carrier_mhz: float | None = None
) -> StepResult:
    """The network at these tilts and hour, load and interference settled; with
    `carrier_mhz`, one carrier's part of it (its state, KPIs and the demand it carries)."""
    sim.reset_load()
    result = sim.step(tilt_deg, hour)
    if carrier_mhz is None:
        return result
    return carrier_view(sim, result, carrier_mhz)


def carrier_view(sim: Simulator, result: StepResult, carrier_mhz: float) -> StepResult:
    """One carrier's part of a step as a step of its own (every map kind draws it)."""
    carriers = [round(float(c.frequency_mhz), 6) for c in sim.carriers]
    if round(carrier_mhz, 6) not in carriers:
        allowed = ", ".join(f"{f:g}" for f in carriers)
        raise CellsimError(f"--carrier {carrier_mhz:g}: allowed {allowed} (MHz, the network's "
                           "carriers)")  # fmt: skip
    for part in result.carriers:
        if round(part.frequency_mhz, 6) == round(carrier_mhz, 6):
            return StepResult(part.state, part.kpis, part.users, result.active,
                              result.load_iterations, result.load_converged)  # fmt: skip
    return result  # one carrier: the network is it


def kind_values(sim: Simulator, result: StepResult, hour: float, kind: str) -> np.ndarray:
    """Per-point values of a map kind on the outdoor raster."""
    n = sim.raster.n_points
    kpis, state = result.kpis, result.state
    if kind == "sinr":
        values = kpis.sinr_db[:n]
    elif kind == "rsrp":
        values = state.rsrp_dbm[:n]
    elif kind == "throughput":
        values = kpis.rate_mbps[:n]
    elif kind == "coverage":
        values = covered(sim, result).astype(float)
    elif kind == "demand":  # per raster point (its outdoor and indoor receivers)
        users = result.users
        values = users[:n] + users[n:] if len(users) == 2 * n else users[:n]
    else:  # server
        values = state.serving_cell[:n].astype(float)
    return np.asarray(values, float)


def covered(sim: Simulator, result: StepResult) -> np.ndarray:
    """Outdoor points whose RSRP and SINR are above the scenario's coverage thresholds."""
    n, cfg = sim.raster.n_points, sim.config.kpi
    return (result.state.rsrp_dbm[:n] >= cfg.rsrp_min_dbm) & (
        result.kpis.sinr_db[:n] >= cfg.sinr_min_db
    )


def map_values(
    sim: Simulator, tilt_deg: np.ndarray, hour: float, kind: str
) -> tuple[np.ndarray, dict[str, float]]:
    """Per-point values of a map kind at these tilts and hour, and the network KPIs."""
    result = evaluate_plan(sim, tilt_deg, hour)
    return kind_values(sim, result, hour, kind), result.kpis.network()


def _clock(hour: float) -> str:
    return f"{int(hour) % 24:02d}:{round(hour % 1 * 60):02d}"


def _kpi_line(kpis: dict[str, float]) -> str:
    return (
        f"coverage {kpis['coverage']:.3f}, mean rate {kpis['mean_rate_mbps']:.1f} Mbps, "
        f"p5 {kpis['p5_rate_mbps']:.2f} Mbps, mean SINR {kpis['mean_sinr_db']:.1f} dB"
    )


Extend = Literal["neither", "min", "max", "both"]


def colourbar_extend(values: np.ndarray, norm: Normalize) -> Extend:
    """Matplotlib's colour-bar `extend` for values clipped to `norm`'s range: an arrow at each
    end that some value lies beyond."""
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    if norm.vmin is None or norm.vmax is None or not finite.size:
        return "neither"
    low = bool(finite.min() < norm.vmin)
    high = bool(finite.max() > norm.vmax)
    return "both" if low and high else "min" if low else "max" if high else "neither"


def coverage_thresholds(sim: Simulator) -> str:
    """The coverage rule a coverage figure uses, in words."""
    cfg = sim.config.kpi
    return f"covered: RSRP ≥ {cfg.rsrp_min_dbm:g} dBm and SINR ≥ {cfg.sinr_min_db:g} dB"


def off_air_note(sim: Simulator, active: np.ndarray) -> str:
    """The title note for off-air sites, e.g. ", 2 sites off air (0, 3)"; empty if none."""
    off = off_air_sites(sim, active)
    if not off.size:
        return ""
    ids = ", ".join(str(i) for i in off[:6]) + (", …" if off.size > 6 else "")
    return f", {off.size} site{'s' if off.size > 1 else ''} off air ({ids})"


def _norm(kind: str, values: np.ndarray, value_range: tuple[float, float] | None) -> Normalize:
    if kind == "throughput":
        positive = values[values > 0]
        lo = max(float(np.percentile(positive, 1)) if positive.size else 0.01, 0.01)
        return LogNorm(lo, max(lo * 10, float(values.max())), clip=True)
    lo, hi = value_range or (float(np.nanmin(values)), float(np.nanmax(values)))
    return Normalize(lo, hi if hi > lo else lo + 1.0)


def _axes_labels(ax: Axes) -> None:
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_aspect("equal")


def draw_kind(
    fig: Figure,
    ax: Axes,
    sim: Simulator,
    result: StepResult,
    tilt_deg: np.ndarray,
    hour: float,
    kind: str,
) -> None:
    """One map panel: the kind's raster, region outlines, sites, tilts, exclusions, colour bar."""
    cmap, label, value_range = MAP_KINDS[kind]
    values = kind_values(sim, result, hour, kind)
    regions = server_regions(sim.raster, result.state.serving_cell[: sim.raster.n_points])
    extent = sim.raster.extent_m
    if kind == "server":
        lookup = np.zeros(sim.n_cells, int)
        lookup[list(regions.colour)] = list(regions.colour.values())
        image = sim.raster.to_image(lookup[values.astype(int)])
        ax.imshow(image, extent=extent, origin="upper", interpolation="nearest",
                  cmap=ListedColormap(REGION_PALETTE, name="regions"), vmin=-0.5,
                  vmax=len(REGION_PALETTE) - 0.5)  # fmt: skip
    else:
        image = sim.raster.to_image(values)
        if kind == "coverage":
            cm = ListedColormap(["#2b2d42", "#f2e85c"], name=cmap)
            im = ax.imshow(image, extent=extent, origin="upper", interpolation="nearest",
                           cmap=cm, norm=BoundaryNorm([-0.5, 0.5, 1.5], 2))  # fmt: skip
            bar = fig.colorbar(im, ax=ax, shrink=0.8, ticks=[0, 1], label=label)
            bar.ax.set_yticklabels(["not covered", "covered"])
        else:
            norm = _norm(kind, values, value_range)
            if kind == "demand":
                res = f"{sim.raster.resolution_m:g} m"
                label = f"active users per {res} × {res} pixel"
            im = ax.imshow(image, extent=extent, origin="upper", interpolation="nearest",
                           cmap=cmap, norm=norm)  # fmt: skip
            fig.colorbar(im, ax=ax, shrink=0.8, label=label,
                         extend=colourbar_extend(values, norm))  # fmt: skip
    draw_regions(ax, sim, regions, labels=kind == "server", tilt_deg=tilt_deg)
    draw_sites(ax, sim, None if kind == "server" else tilt_deg, active=result.active)
    draw_exclusions(ax, sim)
    _axes_labels(ax)


def map_figure(
    sim: Simulator, tilt_deg: np.ndarray, hour: float, kind: str, title: str,
    carrier_mhz: float | None = None,
) -> Figure:  # fmt: skip
    """One map of `kind` at these tilts and hour (of one carrier), the KPIs in the title."""
    result = evaluate_plan(sim, tilt_deg, hour, carrier_mhz)
    if carrier_mhz is not None:
        title = f"{title}, {carrier_mhz:g} MHz carrier"
    fig = new_figure(7.4, 6.6)
    ax = fig.add_subplot()
    draw_kind(fig, ax, sim, result, tilt_deg, hour, kind)
    what = "best server (labels: cell, tilt)" if kind == "server" else kind
    lines = [f"{title} — {what} at {_clock(hour)}{off_air_note(sim, result.active)}",
             _kpi_line(result.kpis.network())]  # fmt: skip
    if kind == "coverage":
        lines.append(coverage_thresholds(sim))
    ax.set_title("\n".join(lines), fontsize=9)
    return fig


def draw_map(
    sim: Simulator, tilt_deg: np.ndarray, hour: float, kind: str, out: str | Path, title: str,
    carrier_mhz: float | None = None,
) -> Path:  # fmt: skip
    """`map_figure` written to `out` (.png, .svg or .pdf)."""
    return save_figure(map_figure(sim, tilt_deg, hour, kind, title, carrier_mhz), out)


def _coverage_change(
    ax: Axes, sim: Simulator, before: np.ndarray, after: np.ndarray, names: list[str]
) -> None:
    """Points that lost, kept, never had or gained coverage from plan A to plan B."""
    category = np.select([before & ~after, ~before & ~after, before & after], [0, 1, 2], 3)
    cm = ListedColormap([c for _, c in COVERAGE_CHANGE], name="coverage-change")
    im = ax.imshow(sim.raster.to_image(category), extent=sim.raster.extent_m, origin="upper",
                   interpolation="nearest", cmap=cm, vmin=-0.5, vmax=3.5)  # fmt: skip
    bar = ax.figure.colorbar(im, ax=ax, shrink=0.8, ticks=range(4))
    bar.ax.set_yticklabels([name for name, _ in COVERAGE_CHANGE])
    n = max(1, len(before))
    ax.set_title(f"coverage, {names[1]} vs {names[0]}: gained "
                 f"{100 * np.sum(~before & after) / n:.1f} %, lost "
                 f"{100 * np.sum(before & ~after) / n:.1f} % of the area\n"
                 f"{coverage_thresholds(sim)}", fontsize=9)  # fmt: skip


def before_after_figure(
    sim: Simulator, plans: dict[str, np.ndarray], hour: float, title: str = ""
) -> Figure:
    """SINR maps of two named tilt plans, the SINR gain of the second, and coverage change."""
    names = list(plans)[-2:]
    results = {name: evaluate_plan(sim, plans[name], hour) for name in names}
    fig = new_figure(12.5, 11)
    axes = fig.subplots(2, 2)
    for ax, name in zip(axes[0], names, strict=True):
        draw_kind(fig, ax, sim, results[name], plans[name], hour, "sinr")
        ax.set_title(f"{name}\n{_kpi_line(results[name].kpis.network())}", fontsize=9)
    sinr = [kind_values(sim, results[name], hour, "sinr") for name in names]
    diff = sim.raster.to_image(sinr[1] - sinr[0])
    lim = max(1.0, float(np.nanpercentile(np.abs(diff), 98)))
    ax = axes[1, 0]
    im = ax.imshow(diff, extent=sim.raster.extent_m, origin="upper", cmap=DIVERGING_CMAP,
                   vmin=-lim, vmax=lim, interpolation="nearest")  # fmt: skip
    fig.colorbar(im, ax=ax, shrink=0.8, label=f"SINR gain, {names[1]} − {names[0]} (dB)",
                 extend=colourbar_extend(sinr[1] - sinr[0], Normalize(-lim, lim)))  # fmt: skip
    mean_gain = float(np.mean(sinr[1] - sinr[0]))
    ax.set_title(f"SINR gain of {names[1]} over {names[0]}: mean {mean_gain:+.2f} dB", fontsize=9)
    ax = axes[1, 1]
    _coverage_change(ax, sim, covered(sim, results[names[0]]), covered(sim, results[names[1]]),
                     names)  # fmt: skip
    for ax in axes[1]:
        draw_sites(ax, sim, None, active=results[names[1]].active)
        draw_exclusions(ax, sim)
        _axes_labels(ax)
    off = off_air_note(sim, results[names[1]].active)
    fig.suptitle(f"{title} at {_clock(hour)}{off}", fontsize=11)
    return fig


def before_after_sinr(
    sim: Simulator, plans: dict[str, np.ndarray], hour: float, out: str | Path, title: str = ""
) -> Path:
    """`before_after_figure` written to `out`."""
    return save_figure(before_after_figure(sim, plans, hour, title), out)
