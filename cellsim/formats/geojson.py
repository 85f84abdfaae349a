"""GeoJSON (RFC 7946) in and out: features read into a network's local metric frame, and
shapes of that frame written back as WGS84 longitude/latitude, so that QGIS puts them in place.

Decisions:
- Coordinates are WGS84 [longitude, latitude] as RFC 7946 requires, unless the file names
  another CRS with the GeoJSON 2008 `crs` member (`{"type": "name", "properties": {"name":
  "urn:ogc:def:crs:EPSG::2154"}}`), which is what QGIS and GDAL write for a layer saved in a
  projected CRS. Axis order is always x/east, y/north (longitude first), whatever the EPSG
  definition says, as in every GeoJSON file in practice.
- shapely parses the geometries (`shapely.geometry.shape`) and pyproj projects them
  (`cellsim.network.geo.GeoReference`), both vectorised over a geometry's coordinates; pyproj is
  imported only when a file is read or written.
- Every mistake is one line naming the file, the feature (`features[i]`), the field, the value
  and what is allowed. A feature far from the network (`MAX_DISTANCE_M`) is refused: it is
  nearly always latitude and longitude swapped, which GeoJSON readers cannot tell otherwise.
- Output polygons follow the right-hand rule (exterior rings counter-clockwise) and keep
  `COORDINATE_DECIMALS` decimals (1 cm), as RFC 7946 recommends.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from cellsim.errors import ScenarioError, read_user_file
from cellsim.formats.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from pyproj import CRS

    from cellsim.network.geo import GeoReference

__all__ = [
    "MAX_DISTANCE_M",
    "WGS84",
    "GeoFeature",
    "feature",
    "read_features",
    "to_wgs84",
    "write_geojson",
]

WGS84 = "EPSG:4326"
#: Features whose coordinates lie farther than this from the network's local origin are refused.
MAX_DISTANCE_M = 500_000.0
#: Decimals of written longitudes/latitudes: 1e-7 degree is about a centimetre.
COORDINATE_DECIMALS = 7
_GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)
_NAMED_CRS_EXAMPLE = '{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}'


@dataclass(frozen=True)
class GeoFeature:
    """One feature of a file: its geometry in the network's local metres and its properties."""

    path: Path
    index: int
    geometry: BaseGeometry
    properties: dict[str, Any]

    @property
    def field(self) -> str:
        """How messages name it within its file: "features[3]"."""
        return f"features[{self.index}]"

    @property
    def where(self) -> str:
        """How messages name it: "area.geojson: features[3]"."""
        return f"{self.path}: {self.field}"


def _shown(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _file_crs(doc: dict[str, Any], path: Path) -> CRS:
    """The CRS a file's coordinates are in: its `crs` member, else WGS84 longitude/latitude."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    member = doc.get("crs")
    if member is None:
        return CRS.from_user_input(WGS84)
    name = member.get("properties", {}).get("name") if isinstance(member, dict) else None
    if isinstance(member, dict) and member.get("type") == "name" and isinstance(name, str):
        try:
            return CRS.from_user_input(name)
        except CRSError:
            pass
    raise ScenarioError(
        f"{path}: crs = {_shown(member)}: not a coordinate reference system: allowed a named "
        f"CRS such as {_NAMED_CRS_EXAMPLE}, or no crs member (WGS84 longitude/latitude, RFC 7946)"
    )


def _features(doc: Any, path: Path) -> list[Any]:
    """The features of a FeatureCollection, a single Feature, or a bare geometry."""
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise ScenarioError(
                f"{path}: features = {_shown(features)}: allowed a list of Feature objects"
            )
        return features
    if kind == "Feature":
        return [doc]
    if kind in _GEOMETRY_TYPES:
        return [{"type": "Feature", "geometry": doc, "properties": {}}]
    shown = _shown(kind) if isinstance(doc, dict) else f"a JSON {type(doc).__name__}"
    raise ScenarioError(
        f"{path}: type = {shown}: allowed a GeoJSON FeatureCollection, Feature or geometry"
    )


def _geometry(raw: Any, where: str, allowed: Sequence[str], purpose: str) -> BaseGeometry:
    """A shapely geometry of an allowed type from a feature's `geometry` member."""
    from shapely.errors import GEOSException
    from shapely.geometry import shape

    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind not in allowed:
        shown = _shown(kind) if isinstance(raw, dict) else _shown(raw)
        field = "geometry.type" if isinstance(raw, dict) else "geometry"
        raise ScenarioError(f"{where}.{field} = {shown}: allowed {', '.join(allowed)} ({purpose})")
    try:
        geom = shape(raw)
    except (GEOSException, ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise ScenarioError(
            f"{where}.geometry.coordinates = {_shown(raw.get('coordinates'))}: not a valid "
            f"{kind}: allowed the coordinate nesting of RFC 7946 §3.1 ([x, y] positions, "
            "closed rings of at least 4 positions)"
        ) from None
    return shapely.force_2d(geom)


def _check_coordinates(geom: BaseGeometry, where: str, geographic: bool) -> None:
    xy = shapely.get_coordinates(geom)
    if xy.size == 0:
        raise ScenarioError(f"{where}.geometry: empty: allowed a geometry with coordinates")
    bad = ~np.isfinite(xy).all(axis=1)
    if geographic:
        bad |= (np.abs(xy[:, 0]) > 180.0) | (np.abs(xy[:, 1]) > 90.0)
    if bad.any():
        x, y = xy[int(np.argmax(bad))]
        allowed = (
            "[longitude −180…180, latitude −90…90] degrees, longitude first (RFC 7946)"
            if geographic
            else "finite numbers in the file's CRS"
        )
        raise ScenarioError(f"{where}.geometry.coordinates: [{x:g}, {y:g}]: allowed {allowed}")


def read_features(
    path: Path, geo: GeoReference, allowed: Sequence[str], purpose: str
) -> list[GeoFeature]:
    """The features of a GeoJSON file in `geo`'s local metres; geometries of the `allowed`
    types only (`purpose`, e.g. "an exclusion zone", says why in messages). Polygons must be
    valid and of non-zero area."""
    from pyproj import Transformer

    text = read_user_file(path, "GeoJSON file", ScenarioError)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    raw_features = _features(doc, path)
    if not raw_features:
        raise ScenarioError(f"{path}: features = []: allowed at least one feature ({purpose})")
    crs = _file_crs(doc, path)
    forward = Transformer.from_crs(crs, geo.crs, always_xy=True)
    origin = np.asarray(geo.origin_m)

    def to_local(xy: np.ndarray) -> np.ndarray:
        x, y = forward.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y]) - origin

    out = []
    for i, raw in enumerate(raw_features):
        where = f"{path}: features[{i}]"
        if not isinstance(raw, dict) or raw.get("type") != "Feature":
            got = (
                _shown(raw.get("type")) if isinstance(raw, dict) else f"a JSON {type(raw).__name__}"
            )
            raise ScenarioError(f'{where}.type = {got}: allowed "Feature"')
        props = raw.get("properties")
        if props is not None and not isinstance(props, dict):
            raise ScenarioError(f"{where}.properties = {_shown(props)}: allowed an object or null")
        geom = _geometry(raw.get("geometry"), where, allowed, purpose)
        _check_coordinates(geom, where, crs.is_geographic)
        local = _projected(geom, to_local, where)
        out.append(GeoFeature(path, i, local, dict(props or {})))
    return out


def _projected(
    geom: BaseGeometry, to_local: Callable[[np.ndarray], np.ndarray], where: str
) -> BaseGeometry:
    """`geom` in local metres, checked: finite, near the network, valid polygons."""
    local = shapely.transform(geom, to_local)
    xy = shapely.get_coordinates(local)
    if not np.isfinite(xy).all():
        raise ScenarioError(
            f"{where}.geometry: its coordinates cannot be projected into the network's frame: "
            "allowed positions within the CRS's area of use"
        )
    far = float(np.abs(xy).max())
    if far > MAX_DISTANCE_M:
        raise ScenarioError(
            f"{where}.geometry: lies {far / 1000:,.0f} km from the network's sites: allowed "
            f"features within {MAX_DISTANCE_M / 1000:,.0f} km (GeoJSON positions are "
            "[longitude, latitude]: are they swapped?)"
        )
    if local.geom_type in ("Polygon", "MultiPolygon"):
        if not local.is_valid:
            raise ScenarioError(
                f"{where}.geometry: invalid {local.geom_type} ({explain_validity(local)}): "
                "allowed simple rings, edges not crossing, holes inside their exterior"
            )
        if not local.area > 0.0:
            raise ScenarioError(
                f"{where}.geometry: {local.geom_type} of zero area: allowed at least 3 "
                "non-collinear positions per ring"
            )
    return local


# -- out --------------------------------------------------------------------------------------


def _right_hand(geom: BaseGeometry) -> BaseGeometry:
    """Exterior rings counter-clockwise, holes clockwise (RFC 7946 §3.1.6)."""
    from shapely.geometry.polygon import orient

    if isinstance(geom, shapely.Polygon):
        return orient(geom, sign=1.0)
    if isinstance(geom, shapely.MultiPolygon):
        return shapely.MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])
    return geom


def to_wgs84(geom: BaseGeometry, geo: GeoReference) -> dict[str, Any]:
    """A local-metre geometry as a GeoJSON geometry object in WGS84 longitude/latitude."""
    from pyproj import Transformer

    back = Transformer.from_crs(geo.crs, WGS84, always_xy=True)
    origin = np.asarray(geo.origin_m)

    def to_lonlat(xy: np.ndarray) -> np.ndarray:
        lon, lat = back.transform(xy[:, 0] + origin[0], xy[:, 1] + origin[1])
        return np.round(np.column_stack([lon, lat]), COORDINATE_DECIMALS)

    mapped: dict[str, Any] = shapely.geometry.mapping(
        _right_hand(shapely.transform(geom, to_lonlat))
    )
    return json.loads(json.dumps(mapped))  # tuples → lists, as a JSON reader gives them back


def feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature; non-finite numbers in `properties` become null (JSON has no NaN)."""
    clean = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in properties.items()
    }
    return {"type": "Feature", "geometry": geometry, "properties": clean}


def write_geojson(path: str | Path, features: list[dict[str, Any]], name: str = "") -> Path:
    """A FeatureCollection written atomically (a reader never sees half a file)."""
    doc: dict[str, Any] = {"type": "FeatureCollection"}
    if name:
        doc["name"] = name
    doc["features"] = features
    return atomic_write_text(path, json.dumps(doc, allow_nan=False) + "\n")
