"""Traffic demand over the raster and the day: spatial maps (a base density plus hotspots), each
scaled by a daily profile and, for hotspots, switched on only within an active-hours window.
Hotspot events (`[[events]] kind = "hotspot"`) are hotspots whose window is the event's hours;
they follow the demand hotspots, in file order.

Hotspots from GeoJSON (`demand.hotspots_file`, geo-referenced networks) follow the scenario's
own `[[demand.hotspots]]`, in feature order: a Point feature is a gaussian hotspot centred on it,
a Polygon or MultiPolygon feature a uniform one over it (holes and parts included); the
feature's properties are the keys of a hotspot (`HOTSPOT_PROPERTIES`: name, density, profile,
active_hours, and sigma_m for points), checked as in a scenario file. Other properties (a GIS
layer's ids, labels) are ignored, unless they look like a misspelt key.

Time is in hours since the episode's midnight; everything is periodic over 24 h, so hour 30 is
06:00 on the second day. Precomputed here once; `DemandModel.users_at` is one small
matrix-vector product per env step.

Built-in daily profiles (`PROFILES`; modelling choices shaped like typical published cell-traffic
curves, not measurements; hourly values, linear in between, max 1.0):

- flat: 1 all day.
- business: office districts; ~0.1 at night, ramps up 07–09, high 09–18, falls in the evening.
- residential: homes; high 18–23 and in the early morning (06–08), ~0.3 in office hours.
- evening: leisure (bars, venues); low by day, peaks 19–22.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numba as nb
import numpy as np
import shapely
from pydantic import ValidationError
from shapely.geometry.base import BaseGeometry

from cellsim.errors import ParameterError, ScenarioError
from cellsim.kernels import JIT_OPTIONS, JIT_OPTIONS_STRICT
from cellsim.network.area import POLYGONAL, Raster, geojson_features, polygon_from_config
from cellsim.scenario import HotspotConfig, HotspotEvent, HotspotShape, Scenario

if TYPE_CHECKING:  # pragma: no cover
    from cellsim.formats.geojson import GeoFeature

# Built-in hourly profiles, multipliers at 00:00, 01:00, … 23:00 (linear in between), max 1.0.
# They are modelling choices shaped after typical published cell-traffic curves, not measurements.
# fmt: off
_HOURLY = {
    # flat: the same demand all day (no daily variation).
    "flat": [1.0] * 24,
    # business: office districts; ~0.1 at night, ramps up 07–09, high 09–18 (slight lunch dip),
    # falls off through the evening.
    "business": [
        0.10, 0.08, 0.07, 0.07, 0.08, 0.10, 0.20, 0.45, 0.75, 0.95, 1.00, 1.00,
        0.90, 0.95, 1.00, 1.00, 0.95, 0.85, 0.60, 0.35, 0.25, 0.20, 0.15, 0.12,
    ],
    # residential: homes; high in the evening and night (18–23) and early morning (06–08),
    # ~0.3 during office hours, lowest in the small hours.
    "residential": [
        0.70, 0.50, 0.35, 0.30, 0.30, 0.40, 0.60, 0.80, 0.70, 0.45, 0.30, 0.30,
        0.35, 0.30, 0.30, 0.32, 0.40, 0.60, 0.80, 0.90, 1.00, 1.00, 0.95, 0.85,
    ],
    # evening: leisure (bars, venues, entertainment); low by day, peaks 19–22.
    "evening": [
        0.45, 0.30, 0.20, 0.12, 0.10, 0.10, 0.12, 0.15, 0.20, 0.22, 0.25, 0.30,
        0.35, 0.35, 0.35, 0.40, 0.45, 0.55, 0.75, 0.95, 1.00, 1.00, 0.90, 0.70,
    ],
}
# fmt: on
#: Built-in daily profiles: 24 hourly multipliers (00:00 … 23:00), max 1.0, read-only.
PROFILES: dict[str, np.ndarray] = {
    name: np.asarray(values, dtype=np.float64) for name, values in _HOURLY.items()
}
for _profile_values in PROFILES.values():
    _profile_values.setflags(write=False)

#: Step of the search for the busiest time of day (hours): 5 minutes.
PEAK_SEARCH_STEP_H = 5.0 / 60.0
#: A gaussian hotspot with less than this share of its mass inside the area is refused.
MIN_HOTSPOT_SHARE = 1e-3
#: The properties of a GeoJSON hotspot feature that cellsim reads (the rest are ignored).
HOTSPOT_PROPERTIES = ("name", "density", "profile", "active_hours", "sigma_m")


def profile_array(profile: str | Sequence[float] | np.ndarray) -> np.ndarray:
    """The 24 hourly values of a profile given by name or as a 24-list."""
    if isinstance(profile, str):
        try:
            return PROFILES[profile]
        except KeyError:
            raise ParameterError("profile", profile, ", ".join(PROFILES)) from None
    values = np.asarray(profile, dtype=np.float64)
    if values.shape != (24,):
        raise ParameterError("profile", list(values.ravel()), "a name or 24 hourly values")
    return values


def profile_value(
    profile: str | Sequence[float] | np.ndarray, hour: float | np.ndarray
) -> float | np.ndarray:
    """A profile at `hour` (scalar or array): linear between hourly values, periodic over 24 h,
    so 23:30 lies between 23:00 and the next day's 00:00 and hour 30 equals hour 6."""
    values = profile_array(profile)
    h = np.mod(np.asarray(hour, dtype=np.float64), 24.0)
    i0 = np.floor(h).astype(np.int64) % 24  # % 24 guards h rounding up to 24.0
    frac = h - np.floor(h)
    out = values[i0] + frac * (values[(i0 + 1) % 24] - values[i0])
    return float(out) if out.ndim == 0 else out


def window_arrays(
    active_hours: Sequence[tuple[float, float] | None],
) -> tuple[np.ndarray, np.ndarray]:
    """Daily windows as (start within the day, length) in hours; `None` is all day.

    A window (start, end) is half-open [start, end) and repeats every day: (19, 22) is active
    19:00–22:00 daily; (22, 26) and (22, 2) both mean 22:00–02:00 overnight; a window of 24 h or
    more is all day.
    """
    start = np.zeros(len(active_hours))
    length = np.full(len(active_hours), np.inf)  # inf: active whatever `hour % 24` rounds to
    for k, window in enumerate(active_hours):
        if window is None:
            continue
        a, b = float(window[0]), float(window[1])
        span = b - a if b > a else b - a + 24.0
        start[k] = a % 24.0
        length[k] = span if span < 24.0 else np.inf
    return start, length


def _weights(
    profiles: np.ndarray, start_h: np.ndarray, length_h: np.ndarray, hours: np.ndarray
) -> np.ndarray:
    """Profile × on/off of each component at each hour, (n_hours, n_components)."""
    h = np.mod(np.asarray(hours, dtype=np.float64), 24.0)[:, None]
    i0 = np.floor(h).astype(np.int64) % 24
    frac = h - np.floor(h)
    comp = np.arange(profiles.shape[0])[None, :]
    p0, p1 = profiles[comp, i0], profiles[comp, (i0 + 1) % 24]
    active = (h - start_h[None, :]) % 24.0 < length_h[None, :]
    return (p0 + frac * (p1 - p0)) * active


@dataclass(frozen=True, eq=False)
class DemandModel:
    """Expected active users per raster point at any time of day.

    users(h) = scale · Σ_c profile_c(h) · active_c(h) · maps[c]; component 0 is the base density,
    then one component per hotspot. `scale` makes the busiest time of day (`peak_hour`) hold
    exactly `peak_users` users in total. Hours are periodic over 24 h (see `window_arrays`).
    """

    maps: np.ndarray  # (n_components, n_points) float32: density × pixel area (km²), unscaled
    profiles: np.ndarray  # (n_components, 24) hourly multipliers
    active_hours: tuple[tuple[float, float] | None, ...]  # None: all day (always for the base)
    names: tuple[str, ...]
    scale: float
    peak_users: float
    peak_hour: float
    # derived in __post_init__, for a cheap users_at
    _start_h: np.ndarray = field(init=False, repr=False)
    _length_h: np.ndarray = field(init=False, repr=False)
    _rows: np.ndarray = field(init=False, repr=False)  # (24, n_components) value at hour i
    _slopes: np.ndarray = field(init=False, repr=False)  # (24, n_components) change to i + 1
    _scaled_maps: np.ndarray = field(init=False, repr=False)  # maps × scale, float32

    def __post_init__(self) -> None:
        start, length = window_arrays(self.active_hours)
        rows = np.ascontiguousarray(np.asarray(self.profiles, dtype=np.float64).T)
        scaled = np.ascontiguousarray(self.maps * np.float32(self.scale), dtype=np.float32)
        for name, value in (
            ("_start_h", start),
            ("_length_h", length),
            ("_rows", rows),
            ("_slopes", np.roll(rows, -1, axis=0) - rows),
            ("_scaled_maps", scaled),
        ):
            object.__setattr__(self, name, value)

    @property
    def n_components(self) -> int:
        return self.maps.shape[0]

    @property
    def n_points(self) -> int:
        return self.maps.shape[1]

    def component_weights(self, hour: float) -> np.ndarray:
        """Profile × on/off of each component at `hour` (n_components,), before `scale`."""
        if not math.isfinite(hour):
            raise ParameterError("hour", hour, "a finite number of hours")
        out = np.empty(self.n_components)
        _component_weights(self._rows, self._slopes, self._start_h, self._length_h,
                           float(hour), out)  # fmt: skip
        return out

    def users_at(self, hour: float, multipliers: np.ndarray | None = None) -> np.ndarray:
        """Expected active users per point at `hour`, (n_points,) float32. `multipliers`
        (n_components,) scale each component, e.g. per-step random demand noise."""
        weights = self.component_weights(hour)
        if multipliers is not None:
            weights *= multipliers
        out = np.empty(self.n_points, np.float32)
        _weighted_maps(weights.astype(np.float32), self._scaled_maps, out)
        return out

    def total_at(self, hour: float | np.ndarray) -> float | np.ndarray:
        """Expected active users in total at `hour` (scalar or array of hours), for plots."""
        hours = np.asarray(hour, dtype=np.float64)
        mass = self.maps.sum(axis=1, dtype=np.float64)
        w = _weights(self.profiles, self._start_h, self._length_h, hours.ravel())
        totals = (w @ mass) * self.scale
        return float(totals[0]) if hours.ndim == 0 else totals.reshape(hours.shape)


def _hotspot_map(
    scenario: Scenario,
    raster: Raster,
    spot: HotspotShape,
    shape_kind: str,
    where: str,
    field: str,
    geometry: BaseGeometry | None = None,
) -> np.ndarray:
    """Spatial shape of one hotspot (`where`: the file, `field`: where in it; for a GeoJSON
    feature, `geometry` in local metres replaces `spot.polygon`): density × pixel area at each
    point (unscaled)."""
    label = field + (f" ({spot.name!r})" if spot.name else "")
    pixel_km2 = raster.pixel_area_km2
    if shape_kind == "gaussian":
        assert spot.center_m is not None and spot.sigma_m is not None  # schema
        centre = np.asarray(spot.center_m, dtype=np.float64)
        if not np.isfinite(centre).all() or not math.isfinite(spot.sigma_m):
            raise ScenarioError(
                f"{where}: {label}.center_m = {list(spot.center_m)}, sigma_m = {spot.sigma_m}: "
                "must be finite numbers (metres)"
            )
        d2 = np.sum((raster.xy_m - centre) ** 2, axis=1)
        shape = np.exp(-d2 / (2.0 * spot.sigma_m**2))
        # share of the bump's mass that falls on the raster (its integral is 2πσ²)
        share = shape.sum() * raster.resolution_m**2 / (2.0 * math.pi * spot.sigma_m**2)
        if not share >= MIN_HOTSPOT_SHARE:
            dist = shapely.distance(raster.area, shapely.Point(centre))
            at = "its Point" if geometry is not None else f"center_m = {list(spot.center_m)}"
            raise ScenarioError(
                f"{where}: {label}: a gaussian at {at} with sigma_m = "
                f"{spot.sigma_m:g} puts no demand inside the study area (centre {dist:.0f} m "
                f"outside it); allowed: a centre inside or within a few sigma_m of the area"
            )
    else:
        assert spot.polygon is not None  # schema
        poly = geometry
        if poly is None:
            poly = polygon_from_config(scenario, spot.polygon, f"{label}.polygon")
        shapely.prepare(poly)
        shape = shapely.contains_xy(poly, raster.xy_m[:, 0], raster.xy_m[:, 1]).astype(float)
        if not shape.any():
            key = "polygon" if geometry is None else "geometry"
            raise ScenarioError(
                f"{where}: {label}.{key}: no raster point (of area.resolution_m = "
                f"{raster.resolution_m:g} m) lies inside it and the study area; allowed: a polygon "
                "overlapping the study area by at least one raster cell"
            )
    return (spot.density * pixel_km2 * shape).astype(np.float32)


def _profile(where: str, profile: str | list[float], field_path: str) -> np.ndarray:
    values = profile_array(profile)
    if not (np.isfinite(values).all() and (values >= 0).all()):
        raise ScenarioError(
            f"{where}: {field_path} = {list(values)}: hourly multipliers must be finite and >= 0"
        )
    return values


@dataclass(frozen=True)
class _Spot:
    """A demand hotspot and where it was written: a scenario's `demand.hotspots[i]`, or a
    GeoJSON feature (`geometry`, local metres, is then the shape)."""

    config: HotspotConfig
    where: str
    field: str
    geometry: BaseGeometry | None
    default_name: str


def _feature_hotspot(feature: GeoFeature, default_name: str) -> _Spot:
    """A GeoJSON feature as a hotspot, its properties checked by the scenario schema."""
    props, where = feature.properties, feature.where
    for key in props:
        hint = difflib.get_close_matches(key, HOTSPOT_PROPERTIES, n=1, cutoff=0.8)
        if key not in HOTSPOT_PROPERTIES and hint:
            raise ScenarioError(
                f"{where}.properties.{key}: unknown hotspot property (did you mean {hint[0]!r}?):"
                f" allowed {', '.join(HOTSPOT_PROPERTIES)} (other properties are ignored)"
            )
    known = {k: props[k] for k in HOTSPOT_PROPERTIES if props.get(k) is not None}
    geom = feature.geometry
    if isinstance(geom, shapely.Point):
        if "sigma_m" not in known:
            raise ScenarioError(
                f"{where}.properties.sigma_m is missing: a Point feature is a gaussian hotspot: "
                "allowed its standard deviation in metres, > 0"
            )
        data = {"kind": "gaussian", "center_m": (geom.x, geom.y), **known}
    else:  # a polygon: the schema wants vertices; the geometry itself is what is used
        known.pop("sigma_m", None)
        largest = max(shapely.get_parts(geom), key=lambda p: p.area)
        data = {"kind": "polygon", "polygon": list(largest.exterior.coords), **known}
    try:
        config = HotspotConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]  # of a union (profile): its first member's, the names
        loc = ".".join(str(p) for p in err["loc"] if p in HotspotConfig.model_fields)
        shown = json.dumps(err.get("input"), default=str)
        msg = err["msg"].removeprefix("Value error, ")
        raise ScenarioError(f"{where}.properties.{loc} = {shown}: {msg}") from None
    return _Spot(config, str(feature.path), feature.field, geom, default_name)


def _hotspots(scenario: Scenario, raster: Raster) -> list[_Spot]:
    """The scenario's hotspots, then those of `demand.hotspots_file`."""
    cfg = scenario.demand
    spots = [
        _Spot(h, scenario.origin, f"demand.hotspots[{i}]", None, f"hotspot{i}")
        for i, h in enumerate(cfg.hotspots)
    ]
    if cfg.hotspots_file is not None:
        features = geojson_features(scenario, raster.geo, "demand.hotspots_file",
                                    cfg.hotspots_file, ("Point", *POLYGONAL),
                                    "a hotspot: a Point for a gaussian, a polygon for a uniform "
                                    "one")  # fmt: skip
        spots += [_feature_hotspot(f, f"hotspot{len(spots) + k}") for k, f in enumerate(features)]
    return spots


def _busiest(
    profiles: np.ndarray, start_h: np.ndarray, length_h: np.ndarray, mass: np.ndarray
) -> tuple[float, float]:
    """(hour, total before scaling) of the busiest time: on a 5-minute grid over the day plus
    each window's start and the instant just before its end (the total is piecewise linear
    between those times and the hourly knots, so this finds its maximum)."""
    grid = np.arange(0.0, 24.0, PEAK_SEARCH_STEP_H)
    finite = np.isfinite(length_h)
    ends = start_h[finite] + length_h[finite] - 1e-6
    candidates = np.mod(np.concatenate([grid, start_h[finite], ends]), 24.0)
    totals = _weights(profiles, start_h, length_h, candidates) @ mass
    best = int(np.argmax(totals))
    return float(candidates[best]), float(totals[best])


def build_demand(scenario: Scenario, raster: Raster) -> DemandModel:
    """The demand model of a scenario on a raster (see DemandModel)."""
    cfg = scenario.demand
    where = scenario.origin
    maps = [np.full(len(raster), cfg.base_density * raster.pixel_area_km2, dtype=np.float32)]
    profiles = [_profile(where, cfg.base_profile, "demand.base_profile")]
    windows: list[tuple[float, float] | None] = [None]
    names = ["base"]
    for hotspot in _hotspots(scenario, raster):
        spot, field = hotspot.config, hotspot.field
        maps.append(_hotspot_map(scenario, raster, spot, spot.kind, hotspot.where, field,
                                 hotspot.geometry))  # fmt: skip
        profiles.append(_profile(hotspot.where, spot.profile, f"{field}.profile"))
        if spot.active_hours is not None:
            a, b = spot.active_hours
            if a == b:
                raise ScenarioError(
                    f"{hotspot.where}: {field}.active_hours = [{a:g}, {b:g}]: empty window; "
                    "allowed: [start, end) with end != start (end < start wraps past midnight)"
                )
        windows.append(spot.active_hours)
        names.append(spot.name or hotspot.default_name)
    for i, event in enumerate(scenario.events):
        if not isinstance(event, HotspotEvent):
            continue
        field = f"events[{i}]"
        maps.append(_hotspot_map(scenario, raster, event, event.shape, where, field))
        profiles.append(_profile(where, event.profile, f"{field}.profile"))
        windows.append((event.start_hour, event.end_hour))  # end > start: the schema
        names.append(event.name or f"event{i}")
    maps_arr = np.stack(maps)
    profiles_arr = np.stack(profiles)
    start_h, length_h = window_arrays(windows)
    mass = maps_arr.sum(axis=1, dtype=np.float64)
    peak_hour, peak_total = _busiest(profiles_arr, start_h, length_h, mass)
    if not peak_total > 0.0:
        raise ScenarioError(
            f"{where}: demand: no demand at any time of day (base_density = "
            f"{cfg.base_density:g}, {len(names) - 1} hotspot(s)); allowed: a base_density "
            "or a hotspot density > 0 with a profile that is not all zero"
        )
    maps_arr.setflags(write=False)
    profiles_arr.setflags(write=False)
    return DemandModel(
        maps=maps_arr,
        profiles=profiles_arr,
        active_hours=tuple(windows),
        names=tuple(names),
        scale=cfg.peak_users / peak_total,
        peak_users=float(cfg.peak_users),
        peak_hour=peak_hour,
    )


__all__ = [
    "PROFILES",
    "DemandModel",
    "build_demand",
    "profile_array",
    "profile_value",
    "window_arrays",
]


@nb.njit(**JIT_OPTIONS_STRICT)  # Python's float modulo on the periodic hours
def _component_weights(
    rows: np.ndarray, slopes: np.ndarray, start_h: np.ndarray, length_h: np.ndarray,
    hour: float, out: np.ndarray,
) -> None:  # fmt: skip
    """`Demand.component_weights` into `out`: each profile interpolated within its hour, times
    the component's on/off window."""
    h = hour % 24.0
    i0 = int(h)
    frac = h - i0
    i0 %= 24  # h can round up to 24.0
    for k in range(out.shape[0]):
        on = (h - start_h[k]) % 24.0 < length_h[k]
        out[k] = (rows[i0, k] + frac * slopes[i0, k]) if on else 0.0


@nb.njit(**JIT_OPTIONS)
def _weighted_maps(weights: np.ndarray, maps: np.ndarray, out: np.ndarray) -> None:
    """out = weights @ maps (float32, (n_components,) × (n_components, n_points)): one
    vectorised pass per component, no BLAS call for a handful of rows."""
    out[:] = 0.0
    for k in range(maps.shape[0]):
        w = weights[k]
        row = maps[k]
        for p in range(out.shape[0]):
            out[p] += w * row[p]
