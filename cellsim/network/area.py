"""The study area (where demand lives and maps are drawn) and the square raster of receiver points
over it. Shapely is used here, once, at load time; nothing in a step touches geometry.

The area and its exclusions are written in local metres in the scenario file, or come from
GeoJSON files (`area.file`, `area.exclusions_file`) projected into the layout's frame through
`Layout.geo`, so a geo-referenced network and its GIS layers share one frame; the raster keeps
that `geo` for maps exported back to GIS formats (cellsim.viz.gis).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from cellsim.errors import ScenarioError
from cellsim.network.geo import GeoReference
from cellsim.network.layout import Layout
from cellsim.scenario import Scenario, resolve_path

#: Most raster points a scenario may ask for: the link budget holds n_cells × n_points floats.
MAX_RASTER_POINTS = 2_000_000
#: Most cells of the bounding grid scanned for points (a thin, slanted area has a big bounding box).
_MAX_GRID_CELLS = 50_000_000
#: Rows of the bounding grid tested per `contains_xy` call, to bound memory.
_CHUNK_CELLS = 1_000_000


def _shown(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def polygon_from_config(
    scenario: Scenario, points: list[tuple[float, float]], field_path: str
) -> shapely.Polygon:
    """A valid shapely polygon from a scenario's vertex list, or a ScenarioError naming the field.

    Valid means finite vertices, edges that do not cross, and non-zero area; the ring is closed
    implicitly (repeating the first vertex at the end is allowed).
    """
    where = scenario.origin
    xy = np.asarray(points, dtype=float)
    if not np.isfinite(xy).all():
        raise ScenarioError(
            f"{where}: {field_path} = {_shown(points)}: vertices must be finite numbers (metres)"
        )
    poly = shapely.Polygon(xy)
    if not poly.is_valid:
        reason = explain_validity(poly)
        raise ScenarioError(
            f"{where}: {field_path} = {_shown(points)}: invalid polygon ({reason}); allowed: "
            "a simple polygon, edges not crossing, at least 3 distinct vertices, area > 0"
        )
    if not poly.area > 0.0:
        raise ScenarioError(
            f"{where}: {field_path} = {_shown(points)}: polygon has zero area; allowed: "
            "a simple polygon with at least 3 non-collinear vertices"
        )
    return poly


def hexagon(centre_xy_m: np.ndarray, radius_m: float) -> shapely.Polygon:
    """The site-centred hexagon of circumradius `radius_m`, vertices at 30° + k·60° (the same
    shape as `layout.hexagon_contains`: the site's Voronoi cell for radius ISD/√3)."""
    angles = np.deg2rad(30.0 + 60.0 * np.arange(6))
    verts = centre_xy_m + radius_m * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    # round so that neighbouring hexagons share bit-identical vertices and union without slivers
    return shapely.Polygon(np.round(verts, 6))


#: GeoJSON geometry types an area or exclusion file may hold.
POLYGONAL = ("Polygon", "MultiPolygon")


def geojson_features(
    scenario: Scenario,
    layout_geo: GeoReference | None,
    field_path: str,
    file: str,
    allowed: tuple[str, ...],
    purpose: str,
) -> list[Any]:
    """The features of a GeoJSON file a scenario names at `field_path`, in the layout's local
    metres (`cellsim.formats.geojson.GeoFeature`). The layout must be geo-referenced."""
    from cellsim.formats.geojson import read_features

    if layout_geo is None:
        raise ScenarioError(
            f"{scenario.origin}: {field_path} = {file!r}: GeoJSON needs a geo-referenced "
            f"network: allowed with layout.type = 'sites' (a site database with lat/lon or a "
            f"CRS); layout.type = {scenario.layout.type!r} is in local metres: give the shape "
            "as vertices in metres instead"
        )
    return read_features(resolve_path(scenario, file), layout_geo, allowed, purpose)


def _exclusion_polygons(scenario: Scenario, layout: Layout) -> list[shapely.Polygon]:
    """The scenario's exclusion polygons, then each polygon of `area.exclusions_file`'s
    features (a MultiPolygon feature gives one zone per part)."""
    cfg = scenario.area
    zones = [
        polygon_from_config(scenario, e.polygon, f"area.exclusions[{i}].polygon")
        for i, e in enumerate(cfg.exclusions)
    ]
    if cfg.exclusions_file is not None:
        file, purpose = cfg.exclusions_file, "an exclusion zone"
        features = geojson_features(
            scenario, layout.geo, "area.exclusions_file", file, POLYGONAL, purpose
        )
        zones += [p for f in features for p in shapely.get_parts(f.geometry)]
    return zones


def study_area(
    scenario: Scenario, layout: Layout, exclusions: list[shapely.Polygon] | None = None
) -> BaseGeometry:
    """The study area: `area.polygon` or the union of `area.file`'s polygons if given, else the
    union of the sites' hexagons (hex layouts) or the sites' bounding box grown by
    `area.margin_m` (site lists); minus every exclusion (`exclusions`: already read, else read
    here). Raises ScenarioError for invalid polygons or an empty result."""
    cfg = scenario.area
    where = scenario.origin
    if exclusions is None:
        exclusions = _exclusion_polygons(scenario, layout)
    if cfg.polygon is not None:
        area: BaseGeometry = polygon_from_config(scenario, cfg.polygon, "area.polygon")
    elif cfg.file is not None:
        features = geojson_features(scenario, layout.geo, "area.file", cfg.file, POLYGONAL,
                                    "the study area")  # fmt: skip
        area = shapely.union_all([f.geometry for f in features])
    elif scenario.layout.type == "hex":
        radius_m = scenario.layout.isd_m / math.sqrt(3.0)
        hexes = [hexagon(site, radius_m) for site in np.asarray(layout.sites_xy_m, float)]
        area = shapely.union_all(hexes)
    else:
        xy = np.asarray(layout.sites_xy_m, float)
        m = cfg.margin_m
        lo, hi = xy.min(axis=0) - m, xy.max(axis=0) + m
        area = shapely.box(lo[0], lo[1], hi[0], hi[1])
        if not area.area > 0.0:
            raise ScenarioError(
                f"{where}: area.margin_m = {m}: the sites' bounding box grown by it has zero "
                "area; allowed: a margin > 0 m, or give area.polygon"
            )
    for hole in exclusions:
        area = area.difference(hole)
    if area.is_empty or not area.area > 0.0:
        raise ScenarioError(
            f"{where}: area.exclusions: nothing of the study area is left after removing the "
            f"{len(exclusions)} exclusion(s); allowed: exclusions that cover only part of it"
        )
    return area


@dataclass(frozen=True, eq=False)
class Raster:
    """Receiver points at the centres of the square raster cells inside the study area.

    `row`, `col` index an image of `shape` (rows, cols) with row 0 at the top (north, largest y),
    so `image[row, col] = values` displays with `imshow(image, origin="upper", extent=extent_m)`.
    """

    xy_m: np.ndarray  # (n, 2) float64, cell centres
    row: np.ndarray  # (n,) int
    col: np.ndarray  # (n,) int
    shape: tuple[int, int]  # (rows, cols) of the image grid
    extent_m: tuple[float, float, float, float]  # (x_min, x_max, y_min, y_max) of the grid
    resolution_m: float
    area: BaseGeometry = field(repr=False)
    exclusions: list[shapely.Polygon] = field(default_factory=list, repr=False)
    geo: GeoReference | None = None  # the layout's: where local metres lie on Earth

    @property
    def pixel_area_km2(self) -> float:
        return self.resolution_m**2 / 1e6

    @property
    def n_points(self) -> int:
        return len(self.xy_m)

    def __len__(self) -> int:
        return len(self.xy_m)

    def to_image(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Per-point values (n,) as a 2D image of `shape`, `fill` outside the area."""
        values = np.asarray(values)
        dtype = np.result_type(values.dtype, np.float32)
        image = np.full(self.shape, fill, dtype=dtype)
        image[self.row, self.col] = values
        return image


def _nice_coarser(resolution_m: float, factor: float) -> float:
    """A round resolution at least `factor` times coarser, to suggest in an error message."""
    target = resolution_m * factor
    for decade in (10.0**k for k in range(-3, 6)):
        for step in (1.0, 2.0, 2.5, 5.0):
            if step * decade >= target:
                return step * decade
    return target


def build_raster(scenario: Scenario, layout: Layout) -> Raster:
    """Square cells of `area.resolution_m`; a cell is a receiver point when its centre lies in
    the study area. The grid is aligned to multiples of the resolution (cell corners at k·res), so
    rasters of one resolution line up between scenarios."""
    where = scenario.origin
    res = float(scenario.area.resolution_m)
    exclusions = _exclusion_polygons(scenario, layout)
    area = study_area(scenario, layout, exclusions)

    estimate = area.area / res**2
    x0, y0, x1, y1 = area.bounds
    x_min, y_min = math.floor(x0 / res) * res, math.floor(y0 / res) * res
    n_cols = max(1, math.ceil((x1 - x_min) / res - 1e-9))
    n_rows = max(1, math.ceil((y1 - y_min) / res - 1e-9))
    factor = max(estimate / MAX_RASTER_POINTS, n_cols * n_rows / _MAX_GRID_CELLS)
    if factor > 1.0:
        _too_many(where, res, estimate, factor)
    x_max, y_max = x_min + n_cols * res, y_min + n_rows * res

    shapely.prepare(area)
    xs = x_min + (np.arange(n_cols) + 0.5) * res
    rows_per_chunk = max(1, _CHUNK_CELLS // n_cols)
    rows_in, cols_in = [], []
    for r0 in range(0, n_rows, rows_per_chunk):
        r = np.arange(r0, min(n_rows, r0 + rows_per_chunk))
        ys = y_max - (r + 0.5) * res
        gx, gy = np.meshgrid(xs, ys)
        inside = shapely.contains_xy(area, gx, gy)
        rr, cc = np.nonzero(inside)
        rows_in.append(r[rr])
        cols_in.append(cc)
    row = np.concatenate(rows_in).astype(np.int64)
    col = np.concatenate(cols_in).astype(np.int64)
    n = len(row)
    if n > MAX_RASTER_POINTS:
        _too_many(where, res, n, n / MAX_RASTER_POINTS)
    if n < 1:
        finer = math.sqrt(area.area) / 4.0
        raise ScenarioError(
            f"{where}: area.resolution_m = {res:g}: no raster cell centre falls inside the study "
            f"area ({area.area / 1e6:.3g} km²); allowed: a finer resolution, e.g. {finer:.3g} m"
        )
    xy = np.stack([x_min + (col + 0.5) * res, y_max - (row + 0.5) * res], axis=1)
    return Raster(
        xy_m=xy,
        row=row,
        col=col,
        shape=(n_rows, n_cols),
        extent_m=(float(x_min), float(x_max), float(y_min), float(y_max)),
        resolution_m=res,
        area=area,
        exclusions=exclusions,
        geo=layout.geo,
    )


def _too_many(where: str, res: float, n: float, factor: float) -> None:
    """Refuse a raster `factor` times too big (in points, or in grid cells scanned)."""
    coarser = _nice_coarser(res, math.sqrt(factor) * 1.05)
    raise ScenarioError(
        f"{where}: area.resolution_m = {res:g} gives about {n:,.0f} raster points: allowed at "
        f"most {MAX_RASTER_POINTS:,}; use a coarser resolution, e.g. {coarser:g} m"
    )


__all__ = [
    "MAX_RASTER_POINTS",
    "POLYGONAL",
    "Raster",
    "build_raster",
    "geojson_features",
    "hexagon",
    "polygon_from_config",
    "study_area",
]
