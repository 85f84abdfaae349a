"""Best-server regions as shapely polygons, and colours that tell neighbouring regions apart.

A raster server map is turned into one (Multi)Polygon per serving cell by merging each raster
row's runs of one server into rectangles and uniting them; regions that share a raster edge are
neighbours, and a greedy colouring over that graph, weighted by border length, gives neighbours
different palette colours however many cells there are.

Shadowing scatters islands of a few raster points of one server inside another's region; drawn,
their outlines mesh the map. Outlines are therefore drawn from a despeckled server map, where
every island smaller than a small share of the map joins the region of its nearest kept point
(each server keeps its largest part however small); the exact regions stay in `polygons`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

from cellsim.network.area import Raster

#: A qualitative palette of light, distinct colours (Okabe–Ito-like, readable under dark labels).
REGION_PALETTE = (
    "#8ecae6", "#ffb703", "#a7c957", "#f4a6c0", "#cdb4db",
    "#f9844a", "#90be6d", "#bde0fe", "#e9c46a", "#b8b8b8",
)  # fmt: skip
#: Outlines leave out islands smaller than this share of the map's raster points, and than
#: SPECK_MIN_POINTS points (maps are drawn at one size, so this is a share of the drawn area).
SPECK_SHARE = 0.004
SPECK_MIN_POINTS = 4


@dataclass(frozen=True)
class ServerRegions:
    """Per serving cell: its exact region, its despeckled region to outline, a point inside
    its region's largest part for the label, and a palette index.

    `border[(a, b)]` (a < b) is the length in raster edges of the border between two regions.
    """

    polygons: dict[int, BaseGeometry]
    outlines: dict[int, BaseGeometry]
    label_xy: dict[int, tuple[float, float]]
    colour: dict[int, int]
    border: dict[tuple[int, int], int]


def _row_runs(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal non-negative values along each row: (row, col_start, col_stop, value)."""
    rows, cols = image.shape
    padded = np.full((rows, cols + 1), -2, image.dtype)  # a sentinel column ends every row
    padded[:, :cols] = image
    flat = padded.ravel()
    starts = np.flatnonzero(np.concatenate([[True], flat[1:] != flat[:-1]]))
    stops = np.append(starts[1:], flat.size)
    values = flat[starts]
    keep = values >= 0
    r, c0 = np.divmod(starts[keep], cols + 1)
    return r, c0, stops[keep] - r * (cols + 1), values[keep]


def _borders(image: np.ndarray) -> dict[tuple[int, int], int]:
    """Raster edges shared by each pair of servers (horizontal and vertical neighbours)."""
    pairs = []
    for a, b in ((image[:, :-1], image[:, 1:]), (image[:-1, :], image[1:, :])):
        m = (a != b) & (a >= 0) & (b >= 0)
        pairs.append(np.stack([a[m], b[m]], axis=1))
    edges, counts = np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0, return_counts=True)
    return {(int(a), int(b)): int(n) for (a, b), n in zip(edges, counts, strict=True)}


def greedy_colours(
    nodes: list[int], border: dict[tuple[int, int], int], n_colours: int
) -> dict[int, int]:
    """Greedy colouring weighted by border length: longest total border first, each node takes
    the colour it shares the least border with (ties: the least-used colour).

    Shadowing scatters small islands of a cell inside others, so the region graph is rarely
    planar; weighting keeps the long borders between main regions two-coloured and leaves any
    clash to specks.
    """
    weights: dict[int, dict[int, int]] = {n: {} for n in nodes}
    for (a, b), n in border.items():
        weights[a][b] = weights[b][a] = n
    colour: dict[int, int] = {}
    used = np.zeros(n_colours, int)
    for node in sorted(nodes, key=lambda n: (-sum(weights[n].values()), n)):
        clash = np.zeros(n_colours)
        for other, n in weights[node].items():
            if other in colour:
                clash[colour[other]] += n
        pick = min(range(n_colours), key=lambda k: (clash[k], used[k], k))
        colour[node] = pick
        used[pick] += 1
    return colour


def despeckle(image: np.ndarray, min_points: int) -> np.ndarray:
    """`image` (server per raster point, -1 for none) with every island, a 4-connected part of
    one server's region, smaller than `min_points` given to the server of its nearest point
    outside such islands; each server's largest part is kept whatever its size."""
    speck = np.zeros(image.shape, bool)
    for cell in np.unique(image[image >= 0]):
        parts, _ = ndimage.label(image == cell)
        size = np.bincount(parts.ravel())
        size[0] = 0
        drop = size < min_points
        drop[[0, int(size.argmax())]] = False
        speck |= drop[parts]
    if not speck.any():
        return image
    _, (r, c) = ndimage.distance_transform_edt(speck | (image < 0), return_indices=True)
    out = image.copy()
    out[speck] = image[r[speck], c[speck]]
    return out


def _polygons(raster: Raster, image: np.ndarray) -> dict[int, BaseGeometry]:
    """One (Multi)Polygon per server of a raster image: its rows' runs as boxes, united."""
    r, c0, c1, values = _row_runs(image)
    x_min, _, _, y_max = raster.extent_m
    res = raster.resolution_m
    boxes = shapely.box(x_min + c0 * res, y_max - (r + 1) * res, x_min + c1 * res, y_max - r * res)
    return {int(cell): shapely.union_all(boxes[values == cell]) for cell in np.unique(values)}


def server_regions(raster: Raster, serving: np.ndarray) -> ServerRegions:
    """Regions of the outdoor raster served by each cell (`serving`: one cell index per point)."""
    image = np.full(raster.shape, -1, np.int64)
    image[raster.row, raster.col] = np.asarray(serving, np.int64)
    polygons = _polygons(raster, image)
    min_points = max(SPECK_MIN_POINTS, round(SPECK_SHARE * raster.n_points))
    outlines = _polygons(raster, despeckle(image, min_points))
    label_xy = {}
    for cell, region in polygons.items():
        point = max(shapely.get_parts(region), key=lambda p: p.area).representative_point()
        label_xy[cell] = (point.x, point.y)
    border = _borders(image)
    colour = greedy_colours(list(polygons), border, len(REGION_PALETTE))
    return ServerRegions(polygons, outlines, label_xy, colour, border)
