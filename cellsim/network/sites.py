"""Site databases: a network as operators keep it, one row per cell with coordinates, carrier,
power and antenna model, from a CSV file or inline rows of a scenario file.

Columns (a CSV header, or the keys of each `[[layout.cells]]` table):

    site, cell          ids (text); rows of one site share its position
    lat_deg, lon_deg    WGS84 degrees, or
    x_m, y_m            projected coordinates in `layout.crs` (an EPSG code)
    height_m            antenna height above ground
    azimuth_deg         bearing of the boresight, degrees clockwise from true north
    mech_tilt_deg       mechanical downtilt (optional, 0)
    tilt_deg            electrical downtilt now; ret_min_deg … ret_max_deg: its RET range
    frequency_mhz       carrier centre frequency; bandwidth_mhz: its bandwidth (LTE/NR sizes)
    tx_power_dbm        total transmit power of the cell on its carrier
    antenna             a folder of pattern files under the antenna folder (read at the cell's
                        carrier frequency: a dual-band folder gives each carrier its band), or a
                        built-in parametric kind (tr36814, tr38901: the scenario's [antenna]
                        table when of that kind, else its defaults)

Every field is checked; each mistake is one line naming the file and line (or the scenario's
`layout.cells[i]`), the column, the value and what is allowed, and all mistakes are counted.
Coordinates go to a local metric frame (`cellsim.network.geo`). The layout keeps every carrier
(`Cells.frequency_mhz`, `bandwidth_mhz`); the simulator runs them all (`site_carriers`, and
`cellsim.simulator` for how demand is shared between them), or only the cells of
`layout.carrier_mhz` when the scenario names one (to study one layer).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cellsim.errors import ParameterError, ScenarioError
from cellsim.network.layout import Cells, Layout, read_csv_rows
from cellsim.radio.antenna import ANTENNA_KINDS, AntennaPattern, make_antenna

if TYPE_CHECKING:  # pragma: no cover
    from cellsim.scenario import Scenario

__all__ = [
    "BANDWIDTH_PRB",
    "SITE_COLUMNS",
    "Carrier",
    "SiteDatabaseError",
    "load_site_database",
    "site_antenna",
    "site_carriers",
    "site_layout",
]

#: Resource blocks at 15 kHz per channel bandwidth (MHz): LTE, TS 36.101 Table 5.6-1, and the
#: wider NR channels of TS 38.101-1 Table 5.3.2-1.
BANDWIDTH_PRB = {
    1.4: 6,
    3.0: 15,
    5.0: 25,
    10.0: 50,
    15.0: 75,
    20.0: 100,
    25.0: 133,
    30.0: 160,
    40.0: 216,
    50.0: 270,
}
#: Cells of one site lie within this of each other (metres, in the local frame).
SITE_TOLERANCE_M = 1.0


@dataclass(frozen=True)
class _Column:
    lo: float
    hi: float
    allowed: str
    lo_open: bool = False


_ANGLE = _Column(-90.0, 90.0, "−90 … 90 degrees below the horizon")
#: The numeric columns and what each allows; `site`, `cell`, `antenna` are text.
SITE_COLUMNS: dict[str, _Column] = {
    "lat_deg": _Column(-80.0, 84.0, "−80 … 84 degrees (WGS84; the UTM zones' range)"),
    "lon_deg": _Column(-180.0, 180.0, "−180 … 180 degrees (WGS84)"),
    "x_m": _Column(-1e8, 1e8, "a coordinate in metres of layout.crs"),
    "y_m": _Column(-1e8, 1e8, "a coordinate in metres of layout.crs"),
    "height_m": _Column(0.0, 300.0, "> 0 … 300 m", lo_open=True),
    "azimuth_deg": _Column(0.0, 360.0, "0 … 360 degrees clockwise from true north"),
    "mech_tilt_deg": _ANGLE,
    "tilt_deg": _ANGLE,
    "ret_min_deg": _ANGLE,
    "ret_max_deg": _ANGLE,
    "frequency_mhz": _Column(0.0, 100_000.0, "> 0 … 100 000 MHz", lo_open=True),
    "bandwidth_mhz": _Column(0.0, 1e9, "one of " + ", ".join(f"{b:g}" for b in BANDWIDTH_PRB)),
    "tx_power_dbm": _Column(-30.0, 80.0, "−30 … 80 dBm"),
}
_TEXT = ("site", "cell", "antenna")
_REQUIRED = (
    "site",
    "cell",
    "height_m",
    "azimuth_deg",
    "tilt_deg",
    "ret_min_deg",
    "ret_max_deg",
    "frequency_mhz",
    "bandwidth_mhz",
    "tx_power_dbm",
    "antenna",
)
_POSITIONS = (("lat_deg", "lon_deg"), ("x_m", "y_m"))
_OPTIONAL = {"mech_tilt_deg": 0.0}
ALL_COLUMNS = (
    *_REQUIRED[:2],
    "lat_deg",
    "lon_deg",
    "x_m",
    "y_m",
    *_REQUIRED[2:4],
    "mech_tilt_deg",
    *_REQUIRED[4:],
)


class SiteDatabaseError(ScenarioError):
    """Mistakes in a site database: the message is the first, `problems` holds them all."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)


@dataclass(frozen=True)
class Where:
    """How messages name a place in a site database: a CSV file's lines ("sites.csv:5: column
    height_m") or a scenario's inline rows ("city.toml: layout.cells[3].height_m")."""

    source: str
    inline: bool = False

    def row(self, i: int) -> str:
        return f"{self.source}: layout.cells[{i}]" if self.inline else f"{self.source}:{i + 2}"

    def field(self, i: int, col: str) -> str:
        return f"{self.row(i)}.{col}" if self.inline else f"{self.row(i)}: column {col}"

    def header(self, i: int) -> str:
        """Where a missing or unknown column is reported (each inline row has its own keys)."""
        return self.row(i) if self.inline else self.source


def _value(raw: Any) -> tuple[float | None, str]:
    """A number from CSV text or a TOML value, and how to show the value."""
    if isinstance(raw, bool):
        return None, str(raw).lower()
    if isinstance(raw, (int, float)):
        return float(raw), f"{raw:g}"
    shown = repr(raw)
    try:
        return float(str(raw).strip()), shown
    except ValueError:
        return None, shown


@dataclass
class _Rows:
    """Column-wise values of the rows that parsed (NaN where a value was wrong)."""

    text: dict[str, list[str]]
    number: dict[str, np.ndarray]
    position: tuple[str, str]


def _check_columns(keys: set[str], where: str) -> tuple[list[str], tuple[str, str] | None]:
    problems = []
    unknown = sorted(keys - set(ALL_COLUMNS))
    for k in unknown:
        hint = difflib.get_close_matches(k, ALL_COLUMNS, n=1)
        more = f" (did you mean {hint[0]!r}?)" if hint else ""
        problems.append(f"{where}: unknown column {k!r}{more}: allowed {', '.join(ALL_COLUMNS)}")
    missing = [c for c in _REQUIRED if c not in keys]
    if missing:
        problems.append(
            f"{where}: missing column(s) {', '.join(missing)}: required "
            f"{', '.join(_REQUIRED)}, with lat_deg, lon_deg or x_m, y_m"
        )
    given = [p for p in _POSITIONS if p[0] in keys or p[1] in keys]
    position = None
    if len(given) == 2:
        problems.append(f"{where}: both lat_deg/lon_deg and x_m/y_m columns: allowed one pair")
    elif not given:
        problems.append(
            f"{where}: no position: allowed columns lat_deg, lon_deg (WGS84) or "
            "x_m, y_m (with layout.crs)"
        )
    elif not all(c in keys for c in given[0]):
        problems.append(
            f"{where}: column {next(c for c in given[0] if c not in keys)} is "
            f"missing: {given[0][0]} and {given[0][1]} go together"
        )
    else:
        position = given[0]
    return problems, position


def _parse_rows(rows: list[Mapping[str, Any]], where: Where) -> tuple[_Rows | None, list[str]]:
    """Check every field of every row; all problems, and the values where the columns are
    right."""
    problems: list[str] = []
    positions = set()
    if not rows:
        return None, [f"{where.source}: the site database has no rows: allowed one row per cell"]
    for i, row in enumerate(rows if where.inline else rows[:1]):
        found, position = _check_columns(set(row), where.header(i))
        problems += found
        positions.add(position)
    if problems or len(positions) != 1:
        if not problems:
            problems.append(
                f"{where.source}: rows mix lat_deg/lon_deg and x_m/y_m: "
                "allowed one kind of position for the whole database"
            )
        return None, problems
    position = positions.pop()
    assert position is not None  # no problems imply a position
    numeric = [
        *position,
        *(c for c in SITE_COLUMNS if c not in ("lat_deg", "lon_deg", "x_m", "y_m")),
    ]
    number = {c: np.full(len(rows), np.nan) for c in numeric}
    text: dict[str, list[str]] = {c: [] for c in _TEXT}
    for i, row in enumerate(rows):
        for col in _TEXT:
            raw = row.get(col)
            value = raw.strip() if isinstance(raw, str) else ""
            if not value:
                shown = repr(raw) if raw is not None else "empty"
                problems.append(f"{where.field(i, col)} = {shown}: allowed a non-empty name")
            text[col].append(value)
        for col in numeric:
            raw = row.get(col)
            if (raw is None or (isinstance(raw, str) and not raw.strip())) and col in _OPTIONAL:
                number[col][i] = _OPTIONAL[col]
                continue
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                problems.append(
                    f"{where.field(i, col)} is empty: allowed {SITE_COLUMNS[col].allowed}"
                )
                continue
            v, shown = _value(raw)
            spec = SITE_COLUMNS[col]
            ok = v is not None and math.isfinite(v) and spec.lo <= v <= spec.hi
            ok = ok and not (spec.lo_open and v == spec.lo)
            if ok and col == "bandwidth_mhz":
                ok = any(math.isclose(v, b) for b in BANDWIDTH_PRB)  # type: ignore[arg-type]
            if not ok:
                problems.append(f"{where.field(i, col)} = {shown}: allowed {spec.allowed}")
                continue
            number[col][i] = v
        lo, hi, now = (number[c][i] for c in ("ret_min_deg", "ret_max_deg", "tilt_deg"))
        if lo > hi:
            problems.append(
                f"{where.field(i, 'ret_min_deg')} = {lo:g} is above ret_max_deg = {hi:g}: "
                "allowed ret_min_deg ≤ ret_max_deg"
            )
        elif not lo <= now <= hi and not np.isnan(now + lo + hi):
            problems.append(
                f"{where.field(i, 'tilt_deg')} = {now:g}: allowed within the cell's RET "
                f"range ret_min_deg … ret_max_deg = {lo:g} … {hi:g}"
            )
    return _Rows(text, number, position), problems


def _antenna_problems(names: list[str], where: Where, antenna_dir: Path) -> list[str]:
    """A problem for the first row of each antenna name that is neither a built-in kind nor a
    pattern folder under `antenna_dir`."""
    problems, seen = [], set()
    for i, name in enumerate(names):
        if not name or name in seen:
            continue
        seen.add(name)
        if name.lower() in ANTENNA_KINDS:
            continue
        bad_name = any(ch in name for ch in "/\\") or name.startswith(".")
        if bad_name or not (antenna_dir / name).is_dir():
            problems.append(
                f"{where.field(i, 'antenna')} = {name!r}: no pattern folder "
                f"{antenna_dir / name}: allowed "
                f"a folder of .msi/.pln files under {antenna_dir} or a built-in model "
                f"({', '.join(ANTENNA_KINDS)})"
            )
    return problems


def site_layout(
    rows: list[Mapping[str, Any]],
    where: Where,
    *,
    crs: str | None,
    crs_where: str,
    antenna_dir: Path,
) -> Layout:
    """A layout (every carrier) from the rows of a site database (module docstring)."""
    from cellsim.network.geo import project_lonlat, project_xy

    parsed, problems = _parse_rows(rows, where)
    if parsed is None:
        raise SiteDatabaseError(problems)
    problems += _antenna_problems(parsed.text["antenna"], where, antenna_dir)
    cells_seen: dict[str, int] = {}
    for i, cell in enumerate(parsed.text["cell"]):
        if cell and cell in cells_seen:
            problems.append(
                f"{where.field(i, 'cell')} = {cell!r} is also the cell of "
                f"{where.row(cells_seen[cell])}: allowed unique "
                "cell ids"
            )
        cells_seen.setdefault(cell, i)
    a = parsed.position[0]
    if a == "lat_deg" and crs is not None and crs.strip().upper() not in ("EPSG:4326", "WGS84"):
        problems.append(
            f"{crs_where} = {crs!r}: lat_deg/lon_deg are WGS84 degrees: allowed no "
            "crs (or EPSG:4326) with them; give x_m/y_m columns for a projected CRS"
        )
    if a == "x_m" and crs is None:
        problems.append(
            f"{crs_where} is missing: x_m/y_m columns need the CRS they are in, e.g. "
            "crs = 'EPSG:27700' (or give lat_deg/lon_deg, WGS84)"
        )
    if problems:
        raise SiteDatabaseError(problems)
    num = parsed.number
    if a == "lat_deg":
        proj = project_lonlat(num["lon_deg"], num["lat_deg"])
    else:
        assert crs is not None
        proj = project_xy(num["x_m"], num["y_m"], crs, crs_where)
    names = list(dict.fromkeys(parsed.text["site"]))
    index = {n: k for k, n in enumerate(names)}
    site = np.array([index[s] for s in parsed.text["site"]])
    sites = np.zeros((len(names), 2))
    for k in range(len(names)):
        rows_k = np.flatnonzero(site == k)
        xy = proj.xy_m[rows_k]
        if np.ptp(xy[:, 0]) > SITE_TOLERANCE_M or np.ptp(xy[:, 1]) > SITE_TOLERANCE_M:
            lines = ", ".join(where.row(int(i)) for i in rows_k[:4])
            problems.append(
                f"{lines}: site {names[k]!r}: the positions of its cells differ by "
                f"more than {SITE_TOLERANCE_M:g} m: allowed one position per site"
            )
        sites[k] = xy[0]
    if problems:
        raise SiteDatabaseError(problems)
    grid_bearing = num["azimuth_deg"] + proj.north_grid_bearing_deg
    cells = Cells(
        site=site,
        x_m=sites[site, 0],
        y_m=sites[site, 1],
        height_m=num["height_m"],
        azimuth_deg=np.mod(90.0 - grid_bearing, 360.0),  # cellsim: counter-clockwise from east
        tilt_deg=num["tilt_deg"],
        mech_tilt_deg=num["mech_tilt_deg"],
        name=tuple(parsed.text["cell"]),
        ret_min_deg=num["ret_min_deg"],
        ret_max_deg=num["ret_max_deg"],
        frequency_mhz=num["frequency_mhz"],
        bandwidth_mhz=num["bandwidth_mhz"],
        tx_power_dbm=num["tx_power_dbm"],
        antenna=tuple(parsed.text["antenna"]),
    )
    return Layout(sites, cells, np.zeros((1, 2)), None, site_names=tuple(names), geo=proj.geo)


def _antenna_dir(scenario: Scenario) -> Path:
    """`layout.antenna_dir` (relative to the scenario file), else "antennas" next to the site
    database (the CSV file, or the scenario file holding inline rows)."""
    from cellsim.scenario import resolve_path

    cfg = scenario.layout
    assert cfg.type == "sites"
    if cfg.antenna_dir is not None:
        return resolve_path(scenario, cfg.antenna_dir)
    if cfg.file is not None:
        return resolve_path(scenario, cfg.file).parent / "antennas"
    return resolve_path(scenario, "antennas")


def load_site_database(scenario: Scenario) -> Layout:
    """The layout of a scenario whose `layout.type` is "sites": every cell of the database
    (every carrier), or only those of `layout.carrier_mhz` when the scenario names one."""
    from cellsim.scenario import resolve_path

    cfg = scenario.layout
    assert cfg.type == "sites"
    origin = scenario.origin
    if cfg.file is not None:
        path = resolve_path(scenario, cfg.file)
        try:
            rows: list[Mapping[str, Any]] = list(read_csv_rows(path))
        except ScenarioError as exc:
            raise ScenarioError(f"{origin}: layout.file = {cfg.file!r}: {exc}") from None
        where = Where(str(path))
    else:
        rows = list(cfg.cells or [])
        where = Where(origin, inline=True)
    layout = site_layout(
        rows,
        where,
        crs=cfg.crs,
        crs_where=f"{origin}: layout.crs",
        antenna_dir=_antenna_dir(scenario),
    )
    if cfg.carrier_mhz is None:
        return layout
    return select_carrier(layout, cfg.carrier_mhz, origin)


def select_carrier(layout: Layout, carrier_mhz: float, origin: str) -> Layout:
    """The cells of one carrier: `layout.carrier_mhz`, to simulate one layer of the network."""
    freq = layout.cells.frequency_mhz
    assert freq is not None
    carriers = np.unique(freq)
    keep = np.isclose(freq, carrier_mhz)
    if not keep.any():
        shown = ", ".join(f"{f:g}" for f in carriers)
        raise ScenarioError(
            f"{origin}: layout.carrier_mhz = {carrier_mhz:g}: no cell on it: allowed one of {shown}"
        )
    return layout.subset(keep)


@dataclass(frozen=True)
class Carrier:
    """One carrier (layer) of a network: its cells interfere with each other only."""

    frequency_mhz: float
    n_prb: int  # resource blocks of its bandwidth (BANDWIDTH_PRB)
    cells: np.ndarray  # indices of its cells in the layout, increasing


def site_carriers(scenario: Scenario, layout: Layout) -> list[Carrier]:
    """The carriers of a site database's cells, lowest frequency first. Each has one
    bandwidth. With one carrier, radio.n_prb (and radio.fc_ghz when written) must agree with
    it; with several, each carrier's bandwidth and frequency come from the database alone, so
    a written radio.fc_ghz is refused."""
    cells = layout.cells
    assert cells.frequency_mhz is not None and cells.bandwidth_mhz is not None
    origin, radio = scenario.origin, scenario.radio
    freqs = np.unique(cells.frequency_mhz)
    carriers = []
    for freq_mhz in freqs:
        index = np.flatnonzero(cells.frequency_mhz == freq_mhz)
        bandwidths = np.unique(cells.bandwidth_mhz[index])
        if bandwidths.size > 1:
            shown = ", ".join(f"{b:g}" for b in bandwidths)
            raise ScenarioError(
                f"{origin}: the cells on {freq_mhz:g} MHz have bandwidths {shown} "
                "MHz: allowed one bandwidth per carrier"
            )
        n_prb = next(p for b, p in BANDWIDTH_PRB.items() if math.isclose(b, bandwidths[0]))
        carriers.append(Carrier(float(freq_mhz), n_prb, index))
    if len(carriers) > 1:
        if "fc_ghz" in radio.model_fields_set:
            shown = ", ".join(f"{f:g}" for f in freqs)
            raise ScenarioError(
                f"{origin}: radio.fc_ghz = {radio.fc_ghz:g}: the site database has carriers "
                f"{shown} MHz: allowed no radio.fc_ghz (each carrier's frequency is its own)"
            )
        return carriers
    (only,) = carriers
    bandwidth_mhz = float(cells.bandwidth_mhz[0])
    if radio.n_prb != only.n_prb:
        raise ScenarioError(
            f"{origin}: radio.n_prb = {radio.n_prb}: the site database's carrier has "
            f"{bandwidth_mhz:g} MHz, {only.n_prb} PRB: allowed radio.n_prb = {only.n_prb}"
        )
    fc_ghz = only.frequency_mhz / 1000.0
    if "fc_ghz" in radio.model_fields_set and not math.isclose(radio.fc_ghz, fc_ghz):
        raise ScenarioError(
            f"{origin}: radio.fc_ghz = {radio.fc_ghz:g}: the site database's carrier is "
            f"{only.frequency_mhz:g} MHz: allowed radio.fc_ghz = {fc_ghz:g} or no radio.fc_ghz"
        )
    return carriers


def _model(scenario: Scenario, name: str, antenna_dir: Path, freq_mhz: float) -> AntennaPattern:
    from cellsim.formats.msi import load_pattern_folder

    kind = name.lower()
    if kind in ANTENNA_KINDS:
        params = scenario.antenna.params() if scenario.antenna.kind == kind else {}
        try:
            return make_antenna(kind, **params)
        except ParameterError as exc:
            raise ScenarioError(f"{scenario.origin}: {exc}") from None
    return load_pattern_folder(antenna_dir / name, freq_mhz)


def site_antenna(scenario: Scenario, layout: Layout) -> AntennaPattern:
    """The antenna models of a site database's cells, one per (model, carrier frequency): a
    folder is read once per carrier, at its frequency (a dual-band folder gives each carrier
    its band). One model is returned as it is, several as an `AntennaSet`. Each cell's RET
    range must lie within the tilts its pattern files cover."""
    from cellsim.radio.antenna_set import AntennaSet
    from cellsim.radio.patterns import TabulatedAntenna

    cells = layout.cells
    assert cells.antenna is not None and cells.frequency_mhz is not None
    antenna_dir = _antenna_dir(scenario)
    keys = list(dict.fromkeys(zip(cells.antenna, map(float, cells.frequency_mhz), strict=True)))
    models = {k: _model(scenario, k[0], antenna_dir, k[1]) for k in keys}
    for (name, freq_mhz), model in models.items():
        if not isinstance(model, TabulatedAntenna):
            continue
        lo, hi = float(model.tilts_deg[0]), float(model.tilts_deg[-1])
        mine = (np.array(cells.antenna) == name) & (cells.frequency_mhz == freq_mhz)
        for c in np.flatnonzero(mine):
            assert cells.ret_min_deg is not None and cells.ret_max_deg is not None
            a, b = float(cells.ret_min_deg[c]), float(cells.ret_max_deg[c])
            if a < lo - 1e-9 or b > hi + 1e-9:
                raise ScenarioError(
                    f"{scenario.origin}: cell {cells.name[c]!r}: RET range {a:g} … {b:g}° is "
                    f"beyond antenna {name!r}, whose pattern files cover electrical tilts "
                    f"{lo:g} … {hi:g}°: allowed a RET range within them"
                )
    if len(models) == 1:
        return models[keys[0]]
    return AntennaSet(tuple(keys), tuple(models[k] for k in keys))
