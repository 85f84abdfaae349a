"""From geographic coordinates to cellsim's local metric frame (pyproj, imported lazily).

Decisions:
- The frame: latitude/longitude (WGS84) go to the UTM zone of the sites' centroid (EPSG 326zz
  north of the equator, 327zz south; the standard 6° zones, without Norway's and Svalbard's
  exceptions). Projected x/y keep their own CRS when its unit is the metre (a national grid is
  what the operator's other data use); x/y in another unit go through WGS84 to UTM as well.
- Local metres: the frame's coordinates minus an origin, the centroid of the sites rounded to
  whole kilometres, so that coordinates stay small (float32 rasters keep centimetres) and a
  map exported later puts each pixel back at frame = local + origin (`GeoReference`).
- Azimuths: site databases hold bearings from true north, clockwise. Grid north of a projection
  differs from true north by the meridian convergence (up to ~3° at a UTM zone's edge at
  mid-latitudes), so each cell's bearing is turned into the frame by the grid bearing of true
  north at its site, measured by projecting a short step north.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cellsim.errors import ScenarioError

if TYPE_CHECKING:  # pragma: no cover
    from pyproj import CRS

#: Latitudes the UTM zones cover (degrees); beyond them UPS would be needed.
UTM_LAT_RANGE_DEG = (-80.0, 84.0)
#: The local origin is rounded to this (metres).
ORIGIN_ROUNDING_M = 1000.0
_NORTH_STEP_DEG = 1e-4  # ≈ 11 m: the step along a meridian that measures grid convergence


@dataclass(frozen=True)
class GeoReference:
    """Where a layout's local metres lie on Earth: frame coordinates = local + origin_m, in
    `crs` (an "EPSG:nnnn" string; `source_crs`: what the site database was written in)."""

    crs: str
    origin_m: tuple[float, float]
    source_crs: str

    def to_frame_m(self, xy_m: np.ndarray) -> np.ndarray:
        """Local metres → coordinates of `crs` (for GeoTIFF/GeoJSON export)."""
        return np.asarray(xy_m, float) + np.asarray(self.origin_m)

    def to_lonlat_deg(self, xy_m: np.ndarray) -> np.ndarray:
        """Local metres → (longitude, latitude) WGS84 degrees, (n, 2)."""
        from pyproj import Transformer

        frame = self.to_frame_m(np.atleast_2d(xy_m))
        back = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        lon, lat = back.transform(frame[:, 0], frame[:, 1])
        return np.column_stack([lon, lat])


def utm_epsg(lon_deg: float, lat_deg: float) -> int:
    """EPSG code of the UTM zone holding (lon, lat): 326zz north, 327zz south."""
    zone = min(max(math.floor((lon_deg + 180.0) / 6.0) + 1, 1), 60)
    return (32600 if lat_deg >= 0.0 else 32700) + zone


def _crs(text: str, where: str) -> CRS:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(text)
    except CRSError:
        raise ScenarioError(
            f"{where} = {text!r}: not a coordinate reference system: allowed an EPSG code such "
            "as 'EPSG:27700' (projected, for x_m/y_m columns)"
        ) from None


def _metric(crs: CRS) -> bool:
    units = {(a.unit_name or "").lower() for a in crs.axis_info}
    return crs.is_projected and units <= {"metre", "meter"}


@dataclass(frozen=True)
class Projected:
    """Sites in the local frame: positions (n, 2) in metres and the grid bearing (degrees
    clockwise from the frame's north) of true north at each."""

    xy_m: np.ndarray
    north_grid_bearing_deg: np.ndarray
    geo: GeoReference


def _north_bearing_deg(lonlat_to_frame: object, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    fwd = lonlat_to_frame.transform  # type: ignore[attr-defined]
    x0, y0 = fwd(lon, lat)
    x1, y1 = fwd(lon, np.minimum(lat + _NORTH_STEP_DEG, 90.0))
    return np.degrees(np.arctan2(np.asarray(x1) - x0, np.asarray(y1) - y0))


def _finish(frame_xy: np.ndarray, bearing: np.ndarray, crs: str, source: str) -> Projected:
    centre = frame_xy.mean(axis=0)
    origin = (
        float(np.round(centre[0] / ORIGIN_ROUNDING_M) * ORIGIN_ROUNDING_M),
        float(np.round(centre[1] / ORIGIN_ROUNDING_M) * ORIGIN_ROUNDING_M),
    )
    geo = GeoReference(crs=crs, origin_m=origin, source_crs=source)
    return Projected(frame_xy - np.asarray(origin), bearing, geo)


def project_lonlat(lon_deg: np.ndarray, lat_deg: np.ndarray) -> Projected:
    """WGS84 longitude/latitude → the UTM zone of their centroid, local metres."""
    from pyproj import Transformer

    lon, lat = np.asarray(lon_deg, float), np.asarray(lat_deg, float)
    epsg = f"EPSG:{utm_epsg(float(lon.mean()), float(lat.mean()))}"
    fwd = Transformer.from_crs("EPSG:4326", epsg, always_xy=True)
    x, y = fwd.transform(lon, lat)
    return _finish(np.column_stack([x, y]), _north_bearing_deg(fwd, lon, lat), epsg, "EPSG:4326")


def project_xy(x: np.ndarray, y: np.ndarray, crs_text: str, where: str) -> Projected:
    """x/y in a projected CRS → that CRS itself when metric, else the UTM zone of the centroid."""
    from pyproj import Transformer

    crs = _crs(crs_text, where)
    if not crs.is_projected:
        raise ScenarioError(
            f"{where} = {crs_text!r} is a geographic CRS: allowed a projected one for x_m/y_m "
            "columns (for degrees use columns lat_deg and lon_deg, WGS84)"
        )
    source = crs.to_string()
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = (np.asarray(v, float) for v in to_ll.transform(x, y))
    if _metric(crs):
        fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        xy = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
        return _finish(xy, _north_bearing_deg(fwd, lon, lat), source, source)
    out = project_lonlat(lon, lat)
    return Projected(
        out.xy_m, out.north_grid_bearing_deg, GeoReference(out.geo.crs, out.geo.origin_m, source)
    )
