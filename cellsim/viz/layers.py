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


def draw_sites(
    ax: Axes, sim: Simulator, tilt_deg: np.ndarray | None, animated: bool = False
) -> list[Text]:
    """Site markers, azimuth arms and (if `tilt_deg`) each cell's tilt at the arm's tip.

    Returns the tilt Text artists (empty without tilts) so a frame can update them in place.
    """
    arms = sector_arms(sim)
    ax.add_collection(LineCollection(list(arms), colors="k", linewidths=1.0, animated=animated))
    ax.plot(*sim.layout.sites_xy_m.T, "^", color="k", mfc="w", ms=5, animated=animated)
    texts: list[Text] = []
    if tilt_deg is not None:
        tips = arms[:, 0] + 1.35 * (arms[:, 1] - arms[:, 0])
        size = label_size(len(tips))
        for (x, y), t in zip(tips, tilt_deg, strict=True):
            texts.append(ax.text(x, y, f"{t:.0f}°", fontsize=size, ha="center", va="center",
                                 bbox=LABEL_BOX, animated=animated))  # fmt: skip
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
