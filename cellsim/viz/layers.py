"""What every map shares, drawn on a matplotlib Axes: sites, sector azimuths and tilts, exclusion
zones, best-server region outlines with cell labels."""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.text import Text

from cellsim.simulator import Simulator
from cellsim.viz.regions import ServerRegions


class OutlineStyle(TypedDict):
    """Keyword arguments of the region outlines' LineCollection."""

    colors: str
    linewidths: float
    alpha: float


LABEL_BOX: dict[str, object] = {"boxstyle": "round,pad=0.15", "fc": "w", "ec": "none", "alpha": 0.7}
#: Region outlines on a server map, and over a continuous map (faint white borders that do not
#: hide the values).
OUTLINE_LABELLED: OutlineStyle = {"colors": "k", "linewidths": 0.45, "alpha": 0.7}
OUTLINE_OVER_VALUES: OutlineStyle = {"colors": "w", "linewidths": 0.4, "alpha": 0.55}


def label_size(n_cells: int) -> float:
    """Font size of per-cell labels: smaller as cells crowd the map."""
    return float(np.clip(9.0 - n_cells / 12.0, 4.5, 7.5))


def sector_arms(sim: Simulator, length: float = 0.04) -> np.ndarray:
    """(n_cells, 2, 2) segments from each cell along its azimuth, `length` of the map's span."""
    cells = sim.layout.cells
    x0, x1, y0, y1 = sim.raster.extent_m
    arm = length * max(x1 - x0, y1 - y0)
    a = np.radians(np.asarray(cells.azimuth_deg, float))
    start = np.stack([cells.x_m, cells.y_m], axis=1)
    end = start + arm * np.stack([np.cos(a), np.sin(a)], axis=1)
    return np.stack([start, end], axis=1)


def off_air_sites(sim: Simulator, active: np.ndarray | None) -> np.ndarray:
    """Indices of the sites whose every cell is off air under `active` (per cell; None: all on)."""
    if active is None:
        return np.zeros(0, int)
    site = np.asarray(sim.layout.cells.site)
    on = np.zeros(len(sim.layout.sites_xy_m), bool)
    np.logical_or.at(on, site, np.asarray(active, bool))
    return np.flatnonzero(~on)


def draw_sites(
    ax: Axes,
    sim: Simulator,
    tilt_deg: np.ndarray | None,
    animated: bool = False,
    active: np.ndarray | None = None,
) -> list[Text]:
    """Site markers, azimuth arms and (if `tilt_deg`) each cell's tilt at the arm's tip.

    Cells off air under `active` (per cell) have grey dashed arms and no tilt label; a site
    with every cell off is a grey cross (gid "off-air", legend "off air") instead of a triangle.
    Returns the tilt Text artists (empty without tilts) so a frame can update them in place.
    """
    arms = sector_arms(sim)
    on = np.ones(len(arms), bool) if active is None else np.asarray(active, bool)
    ax.add_collection(LineCollection(list(arms[on]), colors="k", linewidths=1.0,
                                     animated=animated))  # fmt: skip
    if not on.all():
        ax.add_collection(LineCollection(list(arms[~on]), colors="0.45", linewidths=1.0,
                                         linestyles="--", animated=animated))  # fmt: skip
    off = off_air_sites(sim, active)
    live = np.setdiff1d(np.arange(len(sim.layout.sites_xy_m)), off)
    ax.plot(*sim.layout.sites_xy_m[live].T, "^", color="k", mfc="w", ms=5, animated=animated)
    if off.size:
        ax.plot(*sim.layout.sites_xy_m[off].T, "X", color="0.35", mfc="0.8", ms=9,
                linestyle="none", gid="off-air", label="off air", animated=animated)  # fmt: skip
        ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
    texts: list[Text] = []
    if tilt_deg is not None:
        tips = arms[:, 0] + 1.35 * (arms[:, 1] - arms[:, 0])
        size = label_size(len(tips))
        for (x, y), t, live_cell in zip(tips, tilt_deg, on, strict=True):
            texts.append(ax.text(x, y, f"{t:.0f}°" if live_cell else "", fontsize=size,
                                 ha="center", va="center", bbox=LABEL_BOX if live_cell else None,
                                 animated=animated))  # fmt: skip
    return texts


def draw_exclusions(ax: Axes, sim: Simulator) -> None:
    """Exclusion zones (rivers, parks): hatched, no receivers there."""
    for poly in sim.raster.exclusions:
        ax.fill(*poly.exterior.xy, color="0.88", hatch="//", ec="0.45", lw=0.6)


def draw_regions(
    ax: Axes,
    sim: Simulator,
    regions: ServerRegions,
    labels: bool,
    tilt_deg: np.ndarray | None = None,
) -> None:
    """Best-server region outlines (the despeckled polygons: no shadowing specks), with cell
    names when `labels`. The outlines' LineCollection has the gid "regions"."""
    segments: list[np.ndarray] = []
    for region in regions.outlines.values():
        for line in shapely.get_parts(region.boundary):
            segments.extend(shapely.get_coordinates(part) for part in shapely.get_parts(line))
    style = OUTLINE_LABELLED if labels else OUTLINE_OVER_VALUES
    ax.add_collection(LineCollection(segments, gid="regions", **style))
    if not labels:
        return
    names = sim.layout.cells.name
    size = label_size(sim.n_cells)
    for cell, (x, y) in regions.label_xy.items():
        text = names[cell] if tilt_deg is None else f"{names[cell]}\n{tilt_deg[cell]:.0f}°"
        ax.text(x, y, text, fontsize=size, ha="center", va="center", linespacing=0.9,
                bbox=LABEL_BOX)  # fmt: skip
