"""Antennas given by measured cuts: a horizontal and a vertical attenuation cut per electrical
tilt, as vendors deliver them (the files are read in `cellsim.formats.msi`; no files here).

Angles are cellsim's (`cellsim.radio.angles`): the horizontal cut is a function of the azimuth
relative to the boresight, counter-clockwise positive; the vertical cut is a function of the
angle below the front horizon around the whole boresight plane (0 front horizon, 90 nadir,
180 back horizon, 270 = −90 zenith). Attenuations are dB ≥ 0 below the cut's gain.

Decisions:
- 3D from two cuts by summing (what planning tools call the 2D → 3D summing method):
  G(φ, θ; tilt) = max(G_i − A_H(φ) − A_V,i(θ − (tilt − t_i)), G_ref − A_floor). Each cut is
  normalised to 0 dB at its minimum, so the peak is counted once. The floor A_floor is the
  largest attenuation any cut holds (the sum never goes below what the vendor measured).
- The vertical term uses the front half of the vertical cut for every azimuth (as TR 36.814's
  sector does): the horizontal cut already carries the front-to-back ratio, and adding the
  rear half of the vertical cut behind the antenna would count it twice.
- Between files: nearest tilt, rotated by the remainder. A tilt between two files takes the
  file of the nearest tilt t_i and rotates its vertical cut by tilt − t_i (a shift of the cut,
  as an electrical tilt moves the beam). Exact at the files' own tilts; between them the beam
  moves by the remainder (TR 38.901 array, 1° files every 2°: within 0.1 dB of the true
  pattern within 3 dB of its peak, 0.2 dB within 10 dB; tests/formats/test_msi.py).
  Interpolating attenuations in dB between two files was
  rejected: two beams 2° apart averaged in dB give a broadened beam with its peak at neither
  place, and blur the nulls. It also keeps the engine's one-look-up-per-link form.
- One horizontal cut for all tilts: the engine's static term is tilt-independent, so the
  horizontal cut (and the gain G_ref of A) come from the reference file, the one of the median
  tilt; each file's own gain G_i rides in its vertical segment. `horizontal_spread_db` says how
  far the files' horizontal cuts differ in the main lobe (vendors' differ by tenths of a dB).
- Fast-path table: one segment per file, `SEGMENT_DEG` apart, sampled every `table_step_deg`;
  `tilt_shift` picks the segment (nearest file) and the remainder in one number, so
  `rx = max(A · v(x − shift(tilt)), B)` holds as for the parametric models.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cellsim.errors import ParameterError
from cellsim.radio.antenna import AntennaPattern, VerticalTable, _make_table, _scalar_or_array

__all__ = ["PatternCuts", "TabulatedAntenna"]

FloatArray = NDArray[np.float64]

#: Distance between two files' segments in the vertical table (degrees): each must hold every
#: x − (tilt − t_i) with |x| ≤ 90 and |tilt − t_i| ≤ 180, i.e. ±270°, plus guard entries.
SEGMENT_DEG = 560.0
_HALF_DEG = SEGMENT_DEG / 2.0
#: Table step (degrees): fine enough that half a step of nearest-entry error on the steepest
#: stretch of a vertical cut within 40 dB of its peak costs ≤ 0.02 dB (the parametric models'
#: budget), within these bounds: 0.003° keeps the engine's link indices in int16 over ±90°,
#: and a cut sampled every degree with 30 dB/° beside a null still stays within 0.05 dB.
TABLE_STEP_RANGE_DEG = (0.003, 0.01)
_TABLE_ERR_DB = 0.02
_TABLE_RANGE_DB = 40.0
#: Main lobe over which `horizontal_spread_db` compares the files' horizontal cuts (degrees).
MAIN_LOBE_DEG = 60.0


def _cut(angles_deg: ArrayLike, att_db: ArrayLike, what: str) -> tuple[FloatArray, FloatArray]:
    """Angles in [0, 360) sorted, attenuations normalised to a 0 dB minimum."""
    a = np.mod(np.asarray(angles_deg, np.float64), 360.0)
    v = np.asarray(att_db, np.float64)
    if a.ndim != 1 or a.shape != v.shape or a.size < 3:
        raise ParameterError(what, f"{a.size} samples", "at least 3 (angle, attenuation) pairs")
    if not (np.isfinite(a).all() and np.isfinite(v).all()) or (v < 0).any():
        raise ParameterError(what, "non-finite or negative attenuation", "finite dB ≥ 0")
    order = np.argsort(a, kind="stable")
    a, v = a[order], v[order]
    if (np.diff(a) <= 0).any():
        raise ParameterError(what, "a repeated angle", "each angle once (mod 360°)")
    return a, v - v.min()


@dataclass(frozen=True, eq=False)
class PatternCuts:
    """The two cuts of one electrical tilt, in cellsim's angle conventions (module docstring).

    `source` names where they came from (a file), for messages.
    """

    electrical_tilt_deg: float
    gain_dbi: float
    horizontal_az_deg: np.ndarray
    horizontal_db: np.ndarray
    vertical_down_deg: np.ndarray
    vertical_db: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        what = self.source or "pattern cuts"
        tilt, gain = float(self.electrical_tilt_deg), float(self.gain_dbi)
        if not -90.0 <= tilt <= 90.0:
            raise ParameterError(f"{what}: electrical tilt", tilt, "−90 … 90° below the horizon")
        if not -30.0 <= gain <= 50.0:
            raise ParameterError(f"{what}: gain", gain, "−30 … 50 dBi")
        h = _cut(self.horizontal_az_deg, self.horizontal_db, f"{what}: horizontal cut")
        v = _cut(self.vertical_down_deg, self.vertical_db, f"{what}: vertical cut")
        for name, value in (
            ("electrical_tilt_deg", tilt),
            ("gain_dbi", gain),
            ("horizontal_az_deg", h[0]),
            ("horizontal_db", h[1]),
            ("vertical_down_deg", v[0]),
            ("vertical_db", v[1]),
        ):
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, name, value)

    def horizontal_att_db(self, az_deg: ArrayLike) -> FloatArray:
        """Attenuation (dB) of the horizontal cut, linear in dB between samples."""
        az = np.mod(np.asarray(az_deg, np.float64), 360.0)
        return np.interp(az, self.horizontal_az_deg, self.horizontal_db, period=360.0)

    def vertical_att_db(self, down_deg: ArrayLike) -> FloatArray:
        """Attenuation (dB) of the vertical cut at `down_deg` below the front horizon."""
        down = np.mod(np.asarray(down_deg, np.float64), 360.0)
        return np.interp(down, self.vertical_down_deg, self.vertical_db, period=360.0)

    @property
    def max_attenuation_db(self) -> float:
        return float(max(self.horizontal_db.max(), self.vertical_db.max()))


@dataclass(frozen=True, eq=False)
class TabulatedAntenna(AntennaPattern):
    """An antenna model given by cuts at one or more electrical tilts (module docstring)."""

    KIND: ClassVar[str] = "pattern-files"

    cuts: tuple[PatternCuts, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if not self.cuts:
            raise ParameterError(f"antenna {self.name!r}", "no pattern", "at least one tilt")
        cuts = tuple(sorted(self.cuts, key=lambda c: c.electrical_tilt_deg))
        tilts = np.array([c.electrical_tilt_deg for c in cuts])
        same = np.flatnonzero(np.diff(tilts) < 1e-6)
        if same.size:
            a, b = cuts[same[0]], cuts[same[0] + 1]
            raise ParameterError(
                f"antenna {self.name!r}: electrical tilt",
                float(tilts[same[0]]),
                f"one pattern per tilt ({a.source or 'one'} and {b.source or 'another'} "
                "have the same)",
            )
        object.__setattr__(self, "cuts", cuts)

    @property
    def tilts_deg(self) -> FloatArray:
        """The electrical tilts the cuts were measured at, ascending."""
        return np.array([c.electrical_tilt_deg for c in self.cuts])

    @property
    def reference(self) -> PatternCuts:
        """The file whose horizontal cut and gain form the static term (median tilt)."""
        return self.cuts[(len(self.cuts) - 1) // 2]

    @property
    def peak_gain_dbi(self) -> float:
        return float(max(c.gain_dbi for c in self.cuts))

    @cached_property
    def floor_db(self) -> float:
        """The largest attenuation of any cut: the summed pattern is floored there."""
        return max(c.max_attenuation_db for c in self.cuts)

    @property
    def horizontal_spread_db(self) -> float:
        """Largest difference between a file's horizontal cut and the reference's within
        ±MAIN_LOBE_DEG of the boresight (what using one horizontal cut costs)."""
        az = np.linspace(-MAIN_LOBE_DEG, MAIN_LOBE_DEG, 241)
        ref = self.reference.horizontal_att_db(az)
        return float(max(np.abs(c.horizontal_att_db(az) - ref).max() for c in self.cuts))

    def nearest(self, electrical_tilt_deg: ArrayLike) -> NDArray[np.intp]:
        """Index of the file of the nearest tilt (the lower one on a tie)."""
        t = np.asarray(electrical_tilt_deg, np.float64)
        return np.abs(t[..., None] - self.tilts_deg).argmin(axis=-1)

    def _local_gain_dbi(
        self, az_local_deg: FloatArray, down_local_deg: FloatArray, tilt_deg: FloatArray
    ) -> FloatArray:
        az, down, tilt = np.broadcast_arrays(az_local_deg, down_local_deg, tilt_deg)
        idx = self.nearest(tilt)
        ref = self.reference
        out = np.empty(az.shape)
        for i in np.unique(idx):
            sel = idx == i
            cut = self.cuts[int(i)]
            rotated = down[sel] - (tilt[sel] - cut.electrical_tilt_deg)
            att = ref.horizontal_att_db(az[sel]) + cut.vertical_att_db(rotated)
            out[sel] = np.maximum(cut.gain_dbi - att, ref.gain_dbi - self.floor_db)
        return out

    def static_terms(
        self, az_local_deg: ArrayLike, down_local_deg: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """x = local down angle (deg), a_db = G_ref − A_H, b_db = G_ref − floor."""
        az, down = np.broadcast_arrays(
            np.asarray(az_local_deg, np.float64), np.asarray(down_local_deg, np.float64)
        )
        ref = self.reference
        x = np.array(down, dtype=np.float64)
        a_db = ref.gain_dbi - ref.horizontal_att_db(az)
        b_db = np.full(x.shape, ref.gain_dbi - self.floor_db)
        return x, a_db, b_db

    def tilt_shift(self, electrical_tilt_deg: ArrayLike) -> float | FloatArray:
        """Remainder tilt − t_i of the nearest file i, minus that file's segment offset."""
        t = np.asarray(electrical_tilt_deg, np.float64)
        i = self.nearest(t)
        return _scalar_or_array((t - self.tilts_deg[i]) - SEGMENT_DEG * i)

    def vertical_table(self) -> VerticalTable:
        """Segment i at [i·SEGMENT − 280°, i·SEGMENT + 280°]: 10^((G_i − G_ref − A_V,i)/10)."""
        return self._table

    @cached_property
    def table_step_deg(self) -> float:
        """Step of the vertical table (TABLE_STEP_RANGE_DEG)."""
        slope = 0.0
        for cut in self.cuts:
            a = np.append(cut.vertical_down_deg, cut.vertical_down_deg[0] + 360.0)
            v = np.append(cut.vertical_db, cut.vertical_db[0])
            steep = np.abs(np.diff(v)) / np.diff(a)
            seen = (v[:-1] <= _TABLE_RANGE_DB) | (v[1:] <= _TABLE_RANGE_DB)
            slope = max(slope, float(steep[seen].max(initial=0.0)))
        lo, hi = TABLE_STEP_RANGE_DEG
        return hi if slope == 0.0 else float(np.clip(2.0 * _TABLE_ERR_DB / slope, lo, hi))

    @cached_property
    def _table(self) -> VerticalTable:
        g_ref = self.reference.gain_dbi
        step = self.table_step_deg

        def v(y: FloatArray) -> FloatArray:
            seg = np.clip(np.floor((y + _HALF_DEG) / SEGMENT_DEG), 0, len(self.cuts) - 1)
            out = np.empty_like(y)
            for i, cut in enumerate(self.cuts):
                sel = seg == i
                att = cut.vertical_att_db(y[sel] - SEGMENT_DEG * i)
                out[sel] = 10.0 ** ((cut.gain_dbi - g_ref - att) / 10.0)
            return out

        x_hi = SEGMENT_DEG * (len(self.cuts) - 1) + _HALF_DEG - step
        return _make_table(-_HALF_DEG + step, x_hi, step, v)

    def beam_peak_down_deg(self, electrical_tilt_deg: float) -> float:
        """Where the vertical beam peaks in front (degrees down) at a tilt: for checks."""
        cut = self.cuts[int(self.nearest(electrical_tilt_deg))]
        grid = np.arange(-90.0, 90.0 + 1e-9, 0.01)
        rotated = grid - (electrical_tilt_deg - cut.electrical_tilt_deg)
        return float(grid[int(np.argmin(cut.vertical_att_db(rotated)))])
