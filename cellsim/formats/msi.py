"""MSI / Planet antenna pattern files (.msi, .pln): read, write, and folders as antenna models.

The text format vendors ship (Planet's, the de-facto standard of planning tools)::

    NAME <name>                 some vendors put the bare name on the first line instead
    MAKE <maker>
    FREQUENCY <MHz>             "1850", "1850 MHz", "1.85 GHz" or a band "1710-1990" (its middle)
    GAIN <value> [dBd|dBi]      dBd when no unit is given; dBi = dBd + 2.15
    TILT ELECTRICAL|MECHANICAL  (or a number of degrees)
    ELECTRICAL_TILT <degrees>   the electrical tilt this file was measured at, positive down
    COMMENT <text>
    HORIZONTAL <n>              then n lines "<angle deg> <attenuation dB>"
    VERTICAL <n>                then n lines "<angle deg> <attenuation dB>"

Other "KEY value" lines are kept (`MsiPattern.headers`) and written back.

Conventions of the format (Radio Mobile's MSI definition, radiomobile.pe1mew.nl; the Planet
antenna database description; the MSI reader of CRC's crc-covlib, helper/antennas.py):
- values are attenuations in dB below GAIN: 0 at the peak, positive below it (no minus sign);
- horizontal angles: 0 = boresight, increasing clockwise seen from above, like compass bearings
  ("0 = north" for the pattern of an antenna pointing north; 90 = east, to its right);
- vertical angles, in the vertical plane through the boresight: 0 = front horizon, 90 = nadir
  (straight down), 180 = back horizon, 270 = zenith: in front, angles increase downwards.
Mapping onto cellsim's (azimuth counter-clockwise from the boresight, angles below the horizon
positive): az_cellsim = −h_msi, down_cellsim = v_msi (wrapped to (−180, 180]): MSI vertical 10
is 10° below the horizon, 350 is 10° above; MSI horizontal 30 is cellsim's −30 (to the right).
That is done in one place, `to_cuts`; `msi_from_antenna` does the inverse.

A folder of files is one antenna model, one file per electrical tilt as vendors deliver them
(several bands may share a folder: the files of the FREQUENCY nearest the carrier are used).
How the cuts become a 3D pattern, and how tilts between files are handled, is
`cellsim.radio.patterns`' business (nearest file, rotated by the remainder).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cellsim.errors import ParameterError, ScenarioError, read_user_file
from cellsim.radio.angles import wrap_deg
from cellsim.radio.antenna import AntennaPattern
from cellsim.radio.patterns import PatternCuts, TabulatedAntenna

__all__ = [
    "DBD_TO_DBI",
    "PATTERN_SUFFIXES",
    "MsiPattern",
    "format_msi",
    "load_pattern_folder",
    "msi_from_antenna",
    "parse_msi",
    "read_msi",
    "to_cuts",
    "write_msi",
    "write_pattern_folder",
]

#: Gain of a half-wave dipole over an isotropic radiator (dB): dBi = dBd + 2.15.
DBD_TO_DBI = 2.15
#: File name endings of pattern files in a folder (compared case-insensitively).
PATTERN_SUFFIXES = (".msi", ".pln")
#: Files of a band are used for a carrier within this relative distance of their FREQUENCY.
FREQUENCY_TOLERANCE = 0.15
_KNOWN = (
    "NAME",
    "MAKE",
    "FREQUENCY",
    "H_WIDTH",
    "V_WIDTH",
    "FRONT_TO_BACK",
    "GAIN",
    "TILT",
    "ELECTRICAL_TILT",
    "POLARIZATION",
    "COMMENT",
    "HORIZONTAL",
    "VERTICAL",
)
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_GAIN_RE = re.compile(rf"^({_NUMBER})\s*(dbi|dbd)?$", re.IGNORECASE)
_FREQ_RE = re.compile(rf"^({_NUMBER})(?:\s*-\s*({_NUMBER}))?\s*(mhz|ghz)?$", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class MsiPattern:
    """One pattern file, in the format's own conventions (module docstring)."""

    name: str
    gain_dbi: float
    horizontal_deg: np.ndarray  # clockwise from the boresight
    horizontal_db: np.ndarray  # attenuation, dB ≥ 0
    vertical_deg: np.ndarray  # 0 front horizon, 90 nadir, 180 back horizon, 270 zenith
    vertical_db: np.ndarray
    frequency_mhz: float | None = None
    electrical_tilt_deg: float | None = None
    make: str = ""
    comment: str = ""
    headers: tuple[tuple[str, str], ...] = field(default=())  # other "KEY value" lines
    source: str = ""


def _fail(source: str, line: int | None, message: str) -> ScenarioError:
    where = f"{source}:{line}" if line is not None else source
    return ScenarioError(f"{where}: {message}")


def _number(text: str, source: str, line: int, what: str, allowed: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(source, line, f"{what} {text!r} is not a number: allowed {allowed}") from None
    if not math.isfinite(value):
        raise _fail(source, line, f"{what} {text!r}: allowed {allowed}")
    return value


def _gain_dbi(text: str, source: str, line: int) -> float:
    m = _GAIN_RE.match(text.strip())
    if not m:
        raise _fail(
            source,
            line,
            f"GAIN {text!r}: allowed a number with an optional unit dBd "
            "or dBi, e.g. 'GAIN 15.85 dBd' (dBd without a unit)",
        )
    value = float(m.group(1))
    unit = (m.group(2) or "dBd").lower()
    gain = value + DBD_TO_DBI if unit == "dbd" else value
    if not -30.0 <= gain <= 50.0:
        raise _fail(source, line, f"GAIN {text!r} is {gain:g} dBi: allowed −30 … 50 dBi")
    return gain


def _frequency_mhz(text: str, source: str, line: int) -> float:
    m = _FREQ_RE.match(text.strip())
    if not m:
        raise _fail(
            source,
            line,
            f"FREQUENCY {text!r}: allowed MHz, e.g. 'FREQUENCY 1850', "
            "'1850 MHz', '1.85 GHz' or a band '1710-1990'",
        )
    lo = float(m.group(1))
    mid = lo if m.group(2) is None else 0.5 * (lo + float(m.group(2)))
    mhz = mid * 1000.0 if (m.group(3) or "").lower() == "ghz" else mid
    if not 0.0 < mhz <= 100_000.0:
        raise _fail(source, line, f"FREQUENCY {text!r}: allowed > 0 … 100 000 MHz")
    return mhz


def _table(
    lines: list[tuple[int, str]], start: int, count_text: str, key: str, source: str, line: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """The n (angle, attenuation) lines after `HORIZONTAL n` / `VERTICAL n`; returns the
    arrays and the index of the next line."""
    try:
        n = int(count_text)
    except ValueError:
        n = 0
    if not 3 <= n <= 36_000:
        raise _fail(
            source,
            line,
            f"{key} {count_text!r}: allowed the number of lines that "
            f"follow, an integer 3 … 36000 (e.g. '{key} 360')",
        )
    rows = lines[start : start + n]
    ends = [k for k, (_, t) in enumerate(rows) if t.split()[0].upper() in _KNOWN]
    if ends or len(rows) < n:
        got = ends[0] if ends else len(rows)
        after = f" before {rows[got][1].split()[0]}" if ends else ""
        raise _fail(
            source,
            line,
            f"{key} {n}: only {got} data line(s) follow{after}: allowed "
            f"the number of '<angle> <attenuation>' lines that follow",
        )
    angles, values = np.empty(n), np.empty(n)
    for k, (lno, text) in enumerate(rows):
        parts = text.replace(",", " ").split()
        if len(parts) != 2:
            raise _fail(
                source,
                lno,
                f"{key} data line {text!r}: allowed '<angle> <attenuation>'"
                f" ({n} such lines after '{key} {n}')",
            )
        a = _number(parts[0], source, lno, f"{key} angle", "0 … 360 degrees")
        v = _number(parts[1], source, lno, f"{key} attenuation", "dB ≥ 0 below GAIN")
        if not 0.0 <= a <= 360.0:
            raise _fail(source, lno, f"{key} angle {parts[0]}: allowed 0 … 360 degrees")
        if v < 0.0:
            raise _fail(
                source,
                lno,
                f"{key} attenuation {parts[1]}: allowed dB ≥ 0 below GAIN "
                "(the format writes losses without a minus sign)",
            )
        angles[k], values[k] = a, v
    if np.any(angles == 360.0) and np.any(angles == 0.0):  # 360 repeats 0: drop it
        keep = angles != 360.0
        angles, values = angles[keep], values[keep]
    folded = np.mod(angles, 360.0)
    uniq, first = np.unique(folded, return_index=True)
    if uniq.size != folded.size:
        dup = next(k for k in range(folded.size) if k not in set(first.tolist()))
        raise _fail(
            source,
            rows[dup][0],
            f"{key} angle {angles[dup]:g} appears twice: allowed each angle once",
        )
    return angles, values, start + n


def parse_msi(text: str, source: str) -> MsiPattern:
    """A pattern from the text of a file; any mistake is one line naming `source` and the line."""
    lines = [(k, raw.strip()) for k, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
    if not lines:
        raise _fail(
            source,
            None,
            "empty pattern file: allowed NAME, GAIN, ELECTRICAL_TILT, "
            "HORIZONTAL and VERTICAL sections",
        )
    head: dict[str, tuple[int, str]] = {}
    extra: list[tuple[str, str]] = []
    tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    i = 0
    while i < len(lines):
        lno, text_line = lines[i]
        key, _, value = text_line.partition(" ")
        key, value = key.upper(), value.strip()
        if "\t" in key:  # "KEY\tvalue"
            key, _, rest = key.partition("\t")
            value = (rest + " " + value).strip()
        if i == 0 and key not in _KNOWN:  # the bare name some vendors put first
            head["NAME"] = (lno, text_line)
            i += 1
            continue
        if key in ("HORIZONTAL", "VERTICAL"):
            if key in tables:
                raise _fail(source, lno, f"a second {key} section: allowed one")
            a, v, i = _table(lines, i + 1, value, key, source, lno)
            tables[key] = (a, v)
            continue
        if key in _KNOWN:
            if key in head and key != "COMMENT":
                raise _fail(source, lno, f"{key} appears twice: allowed once")
            head[key] = (lno, value) if key not in head else (lno, head[key][1] + " " + value)
        else:
            extra.append((text_line.split()[0], value))
        i += 1
    for key in ("HORIZONTAL", "VERTICAL"):
        if key not in tables:
            raise _fail(
                source,
                None,
                f"no {key} section: allowed '{key} 360' followed by 360 "
                "lines '<angle> <attenuation dB>'",
            )
    if "GAIN" not in head:
        raise _fail(
            source, None, "no GAIN line: allowed e.g. 'GAIN 17.85 dBi' or 'GAIN 15.7' (dBd)"
        )
    gain = _gain_dbi(head["GAIN"][1], source, head["GAIN"][0])
    freq = None
    if "FREQUENCY" in head and head["FREQUENCY"][1]:
        freq = _frequency_mhz(head["FREQUENCY"][1], source, head["FREQUENCY"][0])
    tilt = None
    if "ELECTRICAL_TILT" in head:
        lno, value = head["ELECTRICAL_TILT"]
        tilt = _number(value, source, lno, "ELECTRICAL_TILT", "degrees −90 … 90, positive down")
    elif "TILT" in head and re.fullmatch(_NUMBER, head["TILT"][1]):
        tilt = float(head["TILT"][1])
    if tilt is not None and not -90.0 <= tilt <= 90.0:
        raise _fail(
            source,
            head.get("ELECTRICAL_TILT", head.get("TILT", (None, "")))[0],
            f"electrical tilt {tilt:g}: allowed −90 … 90 degrees, positive down",
        )
    name = head.get("NAME", (0, ""))[1] or Path(source).stem
    passthrough = tuple(
        (k, head[k][1])
        for k in ("H_WIDTH", "V_WIDTH", "FRONT_TO_BACK", "TILT", "POLARIZATION")
        if k in head
    )
    return MsiPattern(
        name=name,
        gain_dbi=gain,
        horizontal_deg=tables["HORIZONTAL"][0],
        horizontal_db=tables["HORIZONTAL"][1],
        vertical_deg=tables["VERTICAL"][0],
        vertical_db=tables["VERTICAL"][1],
        frequency_mhz=freq,
        electrical_tilt_deg=tilt,
        make=head.get("MAKE", (0, ""))[1],
        comment=head.get("COMMENT", (0, ""))[1],
        headers=passthrough + tuple(extra),
        source=source,
    )


def read_msi(path: str | Path) -> MsiPattern:
    path = Path(path)
    return parse_msi(read_user_file(path, "antenna pattern file", ScenarioError), str(path))


def format_msi(pattern: MsiPattern, gain_unit: str = "dBd") -> str:
    """The text of a pattern file (GAIN in `gain_unit`, "dBd" as the format's default)."""
    unit = gain_unit.lower()
    if unit not in ("dbd", "dbi"):
        raise ParameterError("gain_unit", gain_unit, "dBd or dBi")
    gain = pattern.gain_dbi - DBD_TO_DBI if unit == "dbd" else pattern.gain_dbi
    out = [f"NAME {pattern.name}"]
    if pattern.make:
        out.append(f"MAKE {pattern.make}")
    if pattern.frequency_mhz is not None:
        out.append(f"FREQUENCY {pattern.frequency_mhz:g}")
    out.append(f"GAIN {gain:.2f} {'dBd' if unit == 'dbd' else 'dBi'}")
    keys = {k for k, _ in pattern.headers}
    if "TILT" not in keys:
        out.append("TILT ELECTRICAL")
    if pattern.electrical_tilt_deg is not None:
        out.append(f"ELECTRICAL_TILT {pattern.electrical_tilt_deg:g}")
    out += [f"{k} {v}" for k, v in pattern.headers]
    if pattern.comment:
        out.append(f"COMMENT {pattern.comment}")
    for key, angles, values in (
        ("HORIZONTAL", pattern.horizontal_deg, pattern.horizontal_db),
        ("VERTICAL", pattern.vertical_deg, pattern.vertical_db),
    ):
        out.append(f"{key} {len(angles)}")
        out += [f"{a:g} {v:.2f}" for a, v in zip(angles, values, strict=True)]
    return "\n".join(out) + "\n"


def write_msi(path: str | Path, pattern: MsiPattern, gain_unit: str = "dBd") -> Path:
    path = Path(path)
    path.write_text(format_msi(pattern, gain_unit), encoding="utf-8")
    return path


def to_cuts(pattern: MsiPattern) -> PatternCuts:
    """The file's cuts in cellsim's conventions (the one place the format's angles are mapped:
    horizontal clockwise → counter-clockwise; vertical already "down from the front horizon")."""
    if pattern.electrical_tilt_deg is None:
        raise ScenarioError(
            f"{pattern.source or pattern.name}: no ELECTRICAL_TILT line: allowed "
            "'ELECTRICAL_TILT <degrees>', the tilt the file was measured at (positive down)"
        )
    try:
        return PatternCuts(
            electrical_tilt_deg=pattern.electrical_tilt_deg,
            gain_dbi=pattern.gain_dbi,
            horizontal_az_deg=np.mod(-pattern.horizontal_deg, 360.0),
            horizontal_db=pattern.horizontal_db,
            vertical_down_deg=pattern.vertical_deg,
            vertical_db=pattern.vertical_db,
            source=pattern.source,
        )
    except ParameterError as exc:
        raise ScenarioError(str(exc)) from None


def msi_from_antenna(
    antenna: AntennaPattern,
    electrical_tilt_deg: float,
    *,
    name: str,
    frequency_mhz: float | None = None,
    step_deg: float = 1.0,
    max_attenuation_db: float = 60.0,
    comment: str = "",
) -> MsiPattern:
    """Sample a cellsim antenna at one electrical tilt as a vendor would measure it: the vertical
    cut in the plane of the boresight (front and back), the horizontal cut through the beam peak
    (at the tilt's elevation, as vendors give it for tilted antennas), attenuations below the
    peak clipped at `max_attenuation_db` (files rarely hold deeper nulls)."""
    n = round(360.0 / step_deg)
    if not (n >= 3 and math.isclose(n * step_deg, 360.0)):
        raise ParameterError("step_deg", step_deg, "a divisor of 360 giving ≥ 3 samples")
    angles = step_deg * np.arange(n)
    fine = np.arange(-90.0, 90.0 + 1e-9, 0.01)
    front = antenna.gain_dbi(0.0, fine, electrical_tilt_deg)
    peak_down = float(fine[int(np.argmax(front))])
    peak = float(front.max())
    behind = (angles > 90.0) & (angles < 270.0)
    v_az = np.where(behind, 180.0, 0.0)
    v_down = np.where(behind, 180.0 - angles, wrap_deg(angles))
    vertical = antenna.gain_dbi(v_az, v_down, electrical_tilt_deg)
    horizontal = antenna.gain_dbi(wrap_deg(-angles), peak_down, electrical_tilt_deg)
    peak = max(peak, float(vertical.max()), float(horizontal.max()))

    def attenuation(g: np.ndarray) -> np.ndarray:
        return np.round(np.minimum(peak - g, max_attenuation_db), 2)

    return MsiPattern(
        name=name,
        gain_dbi=round(peak, 2),
        horizontal_deg=angles,
        horizontal_db=attenuation(horizontal),
        vertical_deg=angles,
        vertical_db=attenuation(vertical),
        frequency_mhz=frequency_mhz,
        electrical_tilt_deg=float(electrical_tilt_deg),
        make="cellsim (generated)",
        comment=comment or f"generated by cellsim from {type(antenna).__name__}",
    )


def write_pattern_folder(
    folder: str | Path,
    antenna: AntennaPattern,
    tilts_deg: list[float] | np.ndarray,
    *,
    name: str,
    frequency_mhz: float,
    gain_unit: str = "dBd",
    step_deg: float = 1.0,
) -> list[Path]:
    """One file per electrical tilt, named as vendors do (`<name>_<MHz>_<tilt>T.msi`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for tilt in tilts_deg:
        pattern = msi_from_antenna(
            antenna, float(tilt), name=name, frequency_mhz=frequency_mhz, step_deg=step_deg
        )
        stem = f"{name}_{frequency_mhz:04.0f}_{float(tilt):02g}T"
        paths.append(write_msi(folder / f"{stem}.msi", pattern, gain_unit))
    return paths


def _pattern_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: no such antenna pattern folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in PATTERN_SUFFIXES)
    if not files:
        raise ScenarioError(
            f"{folder}: no antenna pattern files: allowed a folder of "
            f"{' or '.join(PATTERN_SUFFIXES)} files, one per electrical tilt"
        )
    return files


def _band(
    patterns: list[MsiPattern], folder: Path, frequency_mhz: float | None
) -> list[MsiPattern]:
    """The files of the FREQUENCY nearest `frequency_mhz` (all of them without one)."""
    freqs = sorted({p.frequency_mhz for p in patterns if p.frequency_mhz is not None})
    if len(freqs) <= 1 and (frequency_mhz is None or not freqs):
        return patterns
    if any(p.frequency_mhz is None for p in patterns):
        missing = next(p for p in patterns if p.frequency_mhz is None)
        raise ScenarioError(
            f"{missing.source}: no FREQUENCY line, while other files of {folder} "
            "have one: allowed 'FREQUENCY <MHz>' in every file of a folder "
            "with several bands"
        )
    if frequency_mhz is None:
        shown = ", ".join(f"{f:g}" for f in freqs)
        raise ScenarioError(
            f"{folder}: files for several bands ({shown} MHz): allowed only "
            "with the carrier frequency known"
        )
    best = min(freqs, key=lambda f: abs(f - frequency_mhz))
    if abs(best - frequency_mhz) > FREQUENCY_TOLERANCE * frequency_mhz:
        shown = ", ".join(f"{f:g}" for f in freqs)
        raise ScenarioError(
            f"{folder}: no pattern within {FREQUENCY_TOLERANCE:.0%} of the carrier "
            f"{frequency_mhz:g} MHz: the files have FREQUENCY {shown} MHz"
        )
    return [p for p in patterns if p.frequency_mhz == best]


_FOLDER_CACHE: dict[tuple[object, ...], TabulatedAntenna] = {}


def load_pattern_folder(folder: str | Path, frequency_mhz: float | None = None) -> TabulatedAntenna:
    """The antenna model of a folder of pattern files, one per electrical tilt (the band nearest
    `frequency_mhz` where the folder holds several). Cached per process while the files are
    unchanged (a database of thousands of cells names a handful of models)."""
    folder = Path(folder)
    files = _pattern_files(folder)
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    key = (str(folder.resolve()), frequency_mhz, stamp)
    cached = _FOLDER_CACHE.get(key)
    if cached is not None:
        return cached
    patterns = _band([read_msi(p) for p in files], folder, frequency_mhz)
    cuts = [to_cuts(p) for p in patterns]
    try:
        antenna = TabulatedAntenna(tuple(cuts), name=folder.name)
    except ParameterError as exc:
        raise ScenarioError(f"{folder}: {exc}") from None
    _FOLDER_CACHE[key] = antenna
    return antenna
