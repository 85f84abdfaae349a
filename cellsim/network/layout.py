"""Where the cells are: hexagonal 3GPP layouts with wrap-around, or site lists from a CSV file."""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cellsim.errors import ParameterError, ScenarioError
from cellsim.network.geo import GeoReference

#: 3GPP three-sector boresights, degrees counter-clockwise from east (TR 38.901 §7.8, TR 36.814).
THREE_SECTOR_AZIMUTHS_DEG = (30.0, 150.0, 270.0)

#: Hexagonal clusters that tile the plane, as (i, j) with n_sites = i² + ij + j²: the
#: wrap-around images of a site are shifted by i·a1 + j·a2 rotated in 60° steps.
_WRAP_CLUSTER_IJ = {7: (2, 1), 19: (3, 2)}


@dataclass(frozen=True)
class Cells:
    """One row per cell (sector); structure of arrays so the link budget stays vectorised."""

    site: np.ndarray  # (n_cells,) int, index into Layout.sites_xy_m
    x_m: np.ndarray
    y_m: np.ndarray
    height_m: np.ndarray
    azimuth_deg: np.ndarray
    tilt_deg: np.ndarray  # initial electrical tilt, degrees below the horizon
    mech_tilt_deg: np.ndarray
    name: tuple[str, ...]
    # What only site databases give (`cellsim.network.sites`); None for hex and x/y CSV layouts.
    ret_min_deg: np.ndarray | None = None  # remote electrical tilt range, degrees down
    ret_max_deg: np.ndarray | None = None
    frequency_mhz: np.ndarray | None = None  # carrier centre frequency
    bandwidth_mhz: np.ndarray | None = None
    tx_power_dbm: np.ndarray | None = None  # total power of the cell over its carrier
    antenna: tuple[str, ...] | None = None  # antenna model: a pattern folder or a built-in kind

    def __len__(self) -> int:
        return len(self.site)

    def subset(self, keep: np.ndarray, site: np.ndarray) -> Cells:
        """The cells where `keep` holds, with `site` their new site indices."""
        values: dict[str, object] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                values[f.name] = v[keep]
            elif isinstance(v, tuple):
                values[f.name] = tuple(x for x, k in zip(v, keep, strict=True) if k)
            else:
                values[f.name] = v
        values["site"] = site
        return Cells(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Layout:
    """Sites, their cells and, for wrap-around, the translations of the network's images."""

    sites_xy_m: np.ndarray  # (n_sites, 2)
    cells: Cells
    wrap_shifts_m: np.ndarray  # (n_images, 2); just [(0, 0)] without wrap-around
    isd_m: float | None = None
    site_names: tuple[str, ...] | None = None  # ids of a site list (CSV order of first row)
    geo: GeoReference | None = None  # where local metres lie on Earth (site databases)

    @property
    def n_sites(self) -> int:
        return len(self.sites_xy_m)

    def subset(self, keep: np.ndarray) -> Layout:
        """The layout of the cells where `keep` holds; sites left without a cell are dropped
        (the others keep their order). For one carrier of a multi-carrier site database."""
        keep = np.asarray(keep, bool)
        used = np.unique(self.cells.site[keep])
        new_index = np.full(self.n_sites, -1)
        new_index[used] = np.arange(used.size)
        names = None if self.site_names is None else tuple(self.site_names[k] for k in used)
        return dataclasses.replace(
            self,
            sites_xy_m=self.sites_xy_m[used],
            cells=self.cells.subset(keep, new_index[self.cells.site[keep]]),
            site_names=names,
        )

    def nearest_image_offsets(self, points_xy_m: np.ndarray) -> np.ndarray:
        """Vector from each site's nearest wrap-around image to each point, (n_sites, n, 2).

        With wrap-around every link uses the closest of the site's images (TR 38.901 §7.8),
        so a point near the edge of the network sees a full ring of interferers.
        """
        rel = points_xy_m[None, :, :] - self.sites_xy_m[:, None, :]  # (S, n, 2)
        if len(self.wrap_shifts_m) == 1:
            return rel
        best = rel.copy()
        best_d2 = np.einsum("snk,snk->sn", rel, rel)
        for shift in self.wrap_shifts_m[1:]:
            cand = rel - shift
            d2 = np.einsum("snk,snk->sn", cand, cand)
            closer = d2 < best_d2
            best[closer] = cand[closer]
            best_d2 = np.where(closer, d2, best_d2)
        return best


#: Full hexagonal networks: a centre site and r rings around it, 1 + 3 r (r + 1) sites.
HEX_SITE_COUNTS = tuple(1 + 3 * r * (r + 1) for r in range(11))  # 1, 7, 19, 37, … 331


def hex_site_positions(n_sites: int, isd_m: float) -> np.ndarray:
    """Centre site, then rings of 6, 12, 18, … on the triangular lattice a1 = (ISD, 0), a2 at
    60°; within a ring, sites in order of angle."""
    if n_sites not in HEX_SITE_COUNTS:
        allowed = ", ".join(map(str, HEX_SITE_COUNTS))
        raise ParameterError("layout.n_sites", n_sites, f"one of {allowed} for a hexagonal layout")
    if not isd_m > 0:
        raise ParameterError("layout.isd_m", isd_m, "> 0 m")
    n_rings = HEX_SITE_COUNTS.index(n_sites)
    a1 = np.array([1.0, 0.0])
    a2 = np.array([0.5, np.sqrt(3.0) / 2.0])
    span = range(-n_rings, n_rings + 1)
    lattice = [(i, j) for i in span for j in span]
    pts = np.array([i * a1 + j * a2 for i, j in lattice])
    # hexagonal ring number of lattice point (i, j) in axial coordinates
    ring = np.array([max(abs(i), abs(j), abs(i + j)) for i, j in lattice])
    angle = np.mod(np.round(np.arctan2(pts[:, 1], pts[:, 0]), 12), 2 * np.pi)
    order = np.lexsort((angle, ring))
    keep = [k for k in order if ring[k] <= n_rings]
    return pts[keep] * isd_m


def wrap_shifts(n_sites: int, isd_m: float, wraparound: bool) -> np.ndarray:
    """Translations of the 6 wrap-around images (plus the original at index 0)."""
    if not wraparound:
        return np.zeros((1, 2))
    if n_sites not in _WRAP_CLUSTER_IJ:
        raise ParameterError("layout.wraparound", True, "only for 7 or 19 hexagonal sites")
    i, j = _WRAP_CLUSTER_IJ[n_sites]
    base = isd_m * np.array([i + j / 2.0, j * np.sqrt(3.0) / 2.0])
    shifts = [np.zeros(2)]
    for k in range(6):
        a = np.deg2rad(60.0 * k)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        shifts.append(rot @ base)
    return np.array(shifts)


def hex_layout(
    n_sites: int,
    isd_m: float,
    height_m: float,
    tilt_deg: float,
    mech_tilt_deg: float = 0.0,
    wraparound: bool = False,
    azimuths_deg: tuple[float, ...] = THREE_SECTOR_AZIMUTHS_DEG,
) -> Layout:
    """A hexagonal network (3GPP: 1, 7 or 19 sites; larger ones ring by ring), one cell per
    azimuth (three sectors)."""
    if not height_m > 0:
        raise ParameterError("layout.height_m", height_m, "> 0 m")
    sites = hex_site_positions(n_sites, isd_m)
    n_sec = len(azimuths_deg)
    site = np.repeat(np.arange(n_sites), n_sec)
    n = len(site)
    cells = Cells(
        site=site,
        x_m=sites[site, 0],
        y_m=sites[site, 1],
        height_m=np.full(n, float(height_m)),
        azimuth_deg=np.tile(np.asarray(azimuths_deg, float), n_sites),
        tilt_deg=np.full(n, float(tilt_deg)),
        mech_tilt_deg=np.full(n, float(mech_tilt_deg)),
        name=tuple(f"s{s}c{k}" for s in range(n_sites) for k in range(n_sec)),
    )
    return Layout(sites, cells, wrap_shifts(n_sites, isd_m, wraparound), float(isd_m))


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a site list (header line, then one row per cell; line k+2 is row k), each a
    column → text dict; unreadable files and rows of the wrong length are one line."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read site list: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: site list is not UTF-8 text") from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise ScenarioError(f"{path!r}: cannot open site list: {exc}") from None
    if not rows:
        raise ScenarioError(f"{path}: site list is empty: need a header and one row per cell")
    for line, row in enumerate(rows, start=2):
        if None in row:
            raise ScenarioError(
                f"{path}:{line}: more fields than the header's {len(row) - 1} columns"
            )
        short = [c for c, v in row.items() if v is None]  # DictReader's fill for a short row
        if short:
            raise ScenarioError(
                f"{path}:{line}: fewer fields than the header's {len(row)} columns: no "
                f"column {', '.join(short)}"
            )
    return rows


CSV_COLUMNS = ("site", "x_m", "y_m", "height_m", "azimuth_deg", "tilt_deg")
CSV_OPTIONAL = {"mech_tilt_deg": 0.0}


def csv_layout(path: str | Path) -> Layout:
    """Sites from a CSV file, one row per cell: site, x_m, y_m, height_m, azimuth_deg, tilt_deg
    [, mech_tilt_deg]. Rows with the same `site` are sectors of one site (same position)."""
    path = Path(path)
    rows = read_csv_rows(path)
    header = set(rows[0])
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ScenarioError(
            f"{path}: missing column(s) {', '.join(missing)}: required {', '.join(CSV_COLUMNS)}"
        )
    unknown = sorted(header - set(CSV_COLUMNS) - set(CSV_OPTIONAL))
    if unknown:
        raise ScenarioError(
            f"{path}: unknown column(s) {', '.join(unknown)}: allowed "
            f"{', '.join(CSV_COLUMNS + tuple(CSV_OPTIONAL))}"
        )
    values: dict[str, list[float]] = {c: [] for c in (*CSV_COLUMNS[1:], *CSV_OPTIONAL)}
    site_ids: list[str] = []
    for line, row in enumerate(rows, start=2):
        site_ids.append(row["site"].strip())
        for col in values:
            raw = row.get(col)
            if raw is None or raw.strip() == "":
                if col in CSV_OPTIONAL:
                    values[col].append(CSV_OPTIONAL[col])
                    continue
                raise ScenarioError(f"{path}:{line}: column {col} is empty: a number is required")
            try:
                v = float(raw)
            except ValueError:
                raise ScenarioError(
                    f"{path}:{line}: column {col}={raw!r} is not a number"
                ) from None
            if not np.isfinite(v):
                raise ScenarioError(f"{path}:{line}: column {col}={raw!r} must be finite")
            values[col].append(v)
        if values["height_m"][-1] <= 0:
            raise ScenarioError(f"{path}:{line}: height_m={values['height_m'][-1]} must be > 0 m")
        if not -90 <= values["tilt_deg"][-1] <= 90:
            raise ScenarioError(
                f"{path}:{line}: tilt_deg={values['tilt_deg'][-1]} out of range: allowed −90…90°"
            )
    names = list(dict.fromkeys(site_ids))
    site = np.array([names.index(s) for s in site_ids])
    x, y = np.array(values["x_m"]), np.array(values["y_m"])
    sites = np.zeros((len(names), 2))
    for k in range(len(names)):
        xs, ys = x[site == k], y[site == k]
        if np.ptp(xs) > 1.0 or np.ptp(ys) > 1.0:
            lines = [i + 2 for i in np.flatnonzero(site == k)]
            raise ScenarioError(
                f"{path}: lines {', '.join(map(str, lines))}: columns x_m, y_m of site "
                f"{names[k]!r} differ by more than 1 m: the cells of a site share its position"
            )
        sites[k] = xs[0], ys[0]
    counts = {n: 0 for n in names}
    cell_names = []
    for s in site_ids:
        cell_names.append(f"{s}c{counts[s]}")
        counts[s] += 1
    cells = Cells(
        site=site,
        x_m=x,
        y_m=y,
        height_m=np.array(values["height_m"]),
        azimuth_deg=np.array(values["azimuth_deg"]),
        tilt_deg=np.array(values["tilt_deg"]),
        mech_tilt_deg=np.array(values["mech_tilt_deg"]),
        name=tuple(cell_names),
    )
    return Layout(sites, cells, np.zeros((1, 2)), None, site_names=tuple(names))


def hexagon_contains(
    points_xy_m: np.ndarray, centre_xy_m: np.ndarray, radius_m: float
) -> np.ndarray:
    """Whether points lie in the site-centred hexagon of circumradius `radius_m` whose vertices
    point at 30°, 90°, … (the Voronoi cell of a site on the lattice above: radius ISD/√3)."""
    rel = np.abs(points_xy_m - centre_xy_m)
    inner = radius_m * np.sqrt(3.0) / 2.0
    # vertices at 30° + k·60°: flat sides face 0°, 60°, 120°, …
    return (rel[:, 0] <= inner) & (rel[:, 0] * 0.5 + rel[:, 1] * np.sqrt(3.0) / 2.0 <= inner)
