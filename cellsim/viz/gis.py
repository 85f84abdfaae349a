"""Maps in GIS formats, to open in QGIS at the right place: a map kind (SINR, RSRP, throughput,
coverage, demand, best server) as a GeoTIFF, and best-server regions as GeoJSON polygons.

Decisions:
- GeoTIFF through rasterio (GDAL), an optional extra (`pip install 'cellsim[geo]'`): ~100 MB
  installed, needed only to write GeoTIFF, while everything else GIS (GeoJSON in and out,
  projections) runs on shapely and pyproj, core dependencies.
- The GeoTIFF is the simulator's own raster, pixel for pixel, in the network's frame
  (`Layout.geo.crs`, the UTM zone of the sites or their metric national grid): no resampling,
  so each pixel holds exactly the value of its receiver point. Pixel (row, col) covers
  frame x in [x_min + col·res, …+res), y in (y_max − (row+1)·res, y_max − row·res], with
  x_min, y_max the raster's extent plus `geo.origin_m`. Pixels outside the study area (and in
  exclusions) are nodata.
- Values: float32 with NaN as nodata (SINR dB, RSRP dBm, throughput Mbps, demand users per
  pixel); coverage is uint8 0/1 (nodata 255); best server is the int32 cell index (nodata −1)
  with each index's cell id in the band's metadata (CELL_<i>), for QGIS's paletted renderer.
- Regions are the exact best-server regions (`server_regions(...).polygons`: every shadowing
  speck included, as the simulator sees them), in WGS84 longitude/latitude (RFC 7946), one
  (Multi)Polygon feature per serving cell with its ids, tilt, area and mean SINR/RSRP; `fill` is
  the map's region colour (the simplestyle key that geojson.io and GitHub draw).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cellsim.errors import CellsimError
from cellsim.network.area import Raster
from cellsim.network.geo import GeoReference
from cellsim.simulator import Simulator, StepResult
from cellsim.viz.frame import frame_clock
from cellsim.viz.maps import MAP_KINDS, evaluate_plan, kind_values
from cellsim.viz.regions import REGION_PALETTE, server_regions

if TYPE_CHECKING:  # pragma: no cover
    from affine import Affine

__all__ = [
    "GEOJSON_SUFFIXES",
    "GEOTIFF_SUFFIXES",
    "GIS_SUFFIXES",
    "export_map",
    "export_regions",
    "geotiff_transform",
    "region_features",
    "write_geotiff",
]

GEOTIFF_SUFFIXES = (".tif", ".tiff")
GEOJSON_SUFFIXES = (".geojson",)
#: What `cellsim map --out` writes as a GIS file rather than a figure.
GIS_SUFFIXES = (*GEOTIFF_SUFFIXES, *GEOJSON_SUFFIXES)
#: Units of each map kind, written in the GeoTIFF's metadata.
UNITS = {
    "sinr": "dB",
    "rsrp": "dBm per resource element",
    "throughput": "Mbps",
    "coverage": "1 covered, 0 not",
    "demand": "active users per pixel",
    "server": "cell index (CELL_<i> names it)",
}
_NODATA = {"coverage": 255, "server": -1}
_DTYPE = {"coverage": "uint8", "server": "int32"}


def georeference(sim: Simulator, out: str | Path) -> GeoReference:
    """Where the simulator's raster lies on Earth; a network in local metres has no place."""
    geo = sim.raster.geo
    if geo is None:
        raise CellsimError(
            f"--out {str(out)!r}: a GIS map needs a geo-referenced network: allowed with "
            "scenarios whose layout.type = 'sites' (a site database with lat/lon or a CRS); "
            f"{sim.scenario.name!r} is in local metres (layout.type = "
            f"{sim.scenario.layout.type!r}): draw a .png, .svg or .pdf instead"
        )
    return geo


def geotiff_transform(raster: Raster, geo: GeoReference) -> Affine:
    """The affine pixel → frame-coordinate transform of the raster's image (north up: the
    top-left corner, square pixels, y decreasing down the rows)."""
    from affine import Affine

    x_min, _, _, y_max = raster.extent_m
    ox, oy = geo.origin_m
    res = raster.resolution_m
    return Affine(res, 0.0, x_min + ox, 0.0, -res, y_max + oy)


def _rasterio() -> Any:
    try:
        import rasterio
    except ImportError:
        raise CellsimError(
            "GeoTIFF export needs rasterio, an optional dependency: pip install 'cellsim[geo]' "
            "(or write best-server regions as .geojson, or a figure as .png)"
        ) from None
    return rasterio


def write_geotiff(
    path: str | Path,
    raster: Raster,
    geo: GeoReference,
    values: np.ndarray,
    kind: str,
    tags: dict[str, str] | None = None,
    band_tags: dict[str, str] | None = None,
) -> Path:
    """Per-point `values` of a map `kind` as a one-band GeoTIFF on the raster's grid."""
    from cellsim.formats.atomic import atomic_write

    rasterio = _rasterio()
    dtype = _DTYPE.get(kind, "float32")
    nodata = _NODATA.get(kind, np.nan)
    image = np.full(raster.shape, nodata, dtype=dtype)
    image[raster.row, raster.col] = np.asarray(values).astype(dtype)
    profile = {
        "driver": "GTiff",
        "height": raster.shape[0],
        "width": raster.shape[1],
        "count": 1,
        "dtype": dtype,
        "crs": geo.crs,
        "transform": geotiff_transform(raster, geo),
        "nodata": nodata,
        "compress": "deflate",
    }

    def write(tmp: Path) -> None:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(image, 1)
            dst.set_band_description(1, MAP_KINDS[kind][1])
            dst.update_tags(kind=kind, units=UNITS[kind], **(tags or {}))
            if band_tags:
                dst.update_tags(1, **band_tags)

    return _written(path, lambda: atomic_write(path, write))


def _written(path: str | Path, write: Any) -> Path:
    """`write()`, an OS or GDAL failure to write `path` being one line."""
    try:
        result: Path = write()
    except OSError as exc:
        raise CellsimError(f"--out {str(path)!r}: cannot write: {exc.strerror or exc}") from None
    except Exception as exc:  # rasterio's RasterioIOError and kin: GDAL could not write it
        if type(exc).__module__.startswith("rasterio"):
            raise CellsimError(f"--out {str(path)!r}: cannot write: {exc}") from None
        raise
    return result


def region_features(
    sim: Simulator, result: StepResult, tilt_deg: np.ndarray, geo: GeoReference
) -> list[dict[str, Any]]:
    """One GeoJSON feature per serving cell: its exact best-server region in WGS84 with the
    cell and site ids, carrier, tilt, area, raster points and mean SINR/RSRP there."""
    from cellsim.formats.geojson import feature, to_wgs84

    n = sim.raster.n_points
    serving = np.asarray(result.state.serving_cell[:n], np.int64)
    regions = server_regions(sim.raster, serving)
    cells, layout = sim.layout.cells, sim.layout
    sinr = np.asarray(result.kpis.sinr_db[:n], float)
    rsrp = np.asarray(result.state.rsrp_dbm[:n], float)
    points = np.bincount(serving, minlength=sim.n_cells)
    sums_sinr = np.bincount(serving, weights=sinr, minlength=sim.n_cells)
    sums_rsrp = np.bincount(serving, weights=rsrp, minlength=sim.n_cells)
    site_names = layout.site_names or tuple(str(s) for s in range(layout.n_sites))
    out = []
    for c, region in sorted(regions.polygons.items()):
        props: dict[str, Any] = {
            "cell": cells.name[c],
            "site": site_names[int(cells.site[c])],
            "cell_index": c,
        }
        if cells.frequency_mhz is not None:
            props["frequency_mhz"] = float(cells.frequency_mhz[c])
        props.update(
            tilt_deg=round(float(tilt_deg[c]), 3),
            area_km2=round(region.area / 1e6, 6),
            n_points=int(points[c]),
            mean_sinr_db=round(float(sums_sinr[c] / points[c]), 3),
            mean_rsrp_dbm=round(float(sums_rsrp[c] / points[c]), 3),
            fill=REGION_PALETTE[regions.colour[c]],
        )
        out.append(feature(to_wgs84(region, geo), props))
    return out


def export_regions(
    sim: Simulator, tilt_deg: np.ndarray, hour: float, out: str | Path, title: str,
    carrier_mhz: float | None = None,
) -> Path:  # fmt: skip
    """Best-server regions at these tilts and hour (of one carrier) as a GeoJSON
    FeatureCollection (WGS84)."""
    from cellsim.formats.geojson import write_geojson

    geo = georeference(sim, out)
    result = evaluate_plan(sim, tilt_deg, hour, carrier_mhz)
    features = region_features(sim, result, tilt_deg, geo)
    name = f"{title}, best server at {frame_clock(hour)}"
    return _written(out, lambda: write_geojson(out, features, name=name))


def export_layer(
    sim: Simulator, tilt_deg: np.ndarray, hour: float, kind: str, out: str | Path, title: str,
    carrier_mhz: float | None = None,
) -> Path:  # fmt: skip
    """A map kind at these tilts and hour (of one carrier) as a GeoTIFF on the simulator's
    raster."""
    geo = georeference(sim, out)
    _rasterio()  # before the evaluation: a missing extra is said at once
    result = evaluate_plan(sim, tilt_deg, hour, carrier_mhz)
    values = kind_values(sim, result, hour, kind)
    tags = {
        "scenario": sim.scenario.name,
        "title": title,
        "time": frame_clock(hour),
        "resolution_m": f"{sim.raster.resolution_m:g}",
        "source_crs": geo.source_crs,
    }
    band_tags = None
    if kind == "server":
        band_tags = {f"CELL_{c}": name for c, name in enumerate(sim.layout.cells.name)}
    return write_geotiff(out, sim.raster, geo, values, kind, tags, band_tags)


def export_map(
    sim: Simulator, tilt_deg: np.ndarray, hour: float, kind: str, out: str | Path, title: str,
    carrier_mhz: float | None = None,
) -> Path:  # fmt: skip
    """A GIS map by `out`'s suffix: .tif/.tiff a GeoTIFF of `kind`, .geojson the best-server
    regions (kind "server")."""
    suffix = Path(out).suffix.lower()
    if suffix in GEOJSON_SUFFIXES:
        if kind != "server":
            raise CellsimError(
                f"--out {str(out)!r} with --kind {kind}: a .geojson map holds best-server "
                "regions: allowed --kind server (or a .tif for the values of another kind)"
            )
        return export_regions(sim, tilt_deg, hour, out, title, carrier_mhz)
    return export_layer(sim, tilt_deg, hour, kind, out, title, carrier_mhz)
