"""Base-station antenna patterns: the TR 36.814 3D sector and the TR 38.901 element array.

Both families share one interface (:class:`AntennaPattern`): a reference evaluation
:meth:`~AntennaPattern.gain_dbi`, and a split used by the engine's fast path. In the antenna
frame (after mechanical tilt) the linear gain is written

    g = max(10**(a_db/10) * v(x - shift(tilt)), 10**(b_db/10))

where ``x, a_db, b_db`` depend only on the direction (:meth:`~AntennaPattern.static_terms`),
``shift`` only on the electrical tilt (:meth:`~AntennaPattern.tilt_shift`) and ``v`` is a
1-D function tabulated once per antenna (:meth:`~AntennaPattern.vertical_table`). Re-tilting a
cell then costs one table look-up per link.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cellsim.errors import ParameterError
from cellsim.radio.angles import to_antenna_frame, wrap_deg, zenith_from_down_deg

__all__ = [
    "ANTENNA_KINDS",
    "AntennaPattern",
    "Tr36814Sector",
    "Tr38901Array",
    "VerticalTable",
    "make_antenna",
]

FloatArray = NDArray[np.float64]

# Table resolution targets: the nearest-entry look-up may be off by half a step, and the
# resulting error must stay well inside the 0.05 dB budget (we aim at <= 0.02 dB).
_TABLE_ERR_DB = 0.02
_MAX_STEP_DEG = 0.01  # never coarser than this for the 36.814 table
# 20*log10(1 + s) <= 0.02 dB  <=>  s <= 0.0023: relative distance to a null we may be off by.
_NULL_REL_STEP = 10.0 ** (_TABLE_ERR_DB / 20.0) - 1.0
# The array table must be accurate down to 40 dB below the main-lobe peak; near the first
# null of an M-element AF that is |y - y_null| >= 0.01 / (M d) (AF/M ~ (M d u)^2 there).
_DYNAMIC_RANGE_LIN = 10.0 ** (-40.0 / 20.0)


@dataclass(frozen=True, eq=False)
class VerticalTable:
    """Samples of the tilt-dependent factor ``v(y)`` on a uniform grid, nearest-entry look-up.

    ``values_lin[i] = v(x_lo + i * x_step)`` (linear gain, float32). The grid covers every
    ``y = x - shift`` reachable for electrical tilts in [-90, 90] deg and any direction.
    """

    x_lo: float
    x_step: float
    values_lin: np.ndarray

    @property
    def x_hi(self) -> float:
        """Coordinate of the last entry."""
        return self.x_lo + self.x_step * (self.values_lin.size - 1)

    def lookup(self, y: ArrayLike) -> FloatArray:
        """Nearest-entry value of ``v`` at ``y`` (clamped to the table ends), as float64."""
        idx = np.rint((np.asarray(y, dtype=np.float64) - self.x_lo) / self.x_step)
        idx = np.clip(idx, 0, self.values_lin.size - 1).astype(np.intp)
        return self.values_lin[idx].astype(np.float64)


def _make_table(x_lo: float, x_hi: float, step: float, fn: Any) -> VerticalTable:
    """Tabulate ``fn`` on [x_lo, x_hi] (plus one guard entry each side) with spacing ``step``."""
    n = math.ceil((x_hi - x_lo) / step) + 3
    lo = x_lo - step
    y = lo + step * np.arange(n, dtype=np.float64)
    values = np.asarray(fn(y), dtype=np.float32)
    values.setflags(write=False)
    return VerticalTable(x_lo=float(lo), x_step=float(step), values_lin=values)


def _check_positive(name: str, value: Any) -> float:
    v = _check_finite(name, value, "a finite number > 0")
    if v <= 0.0:
        raise ParameterError(f"antenna.{name}", value, "a finite number > 0")
    return v


def _check_non_negative(name: str, value: Any) -> float:
    v = _check_finite(name, value, "a finite number >= 0")
    if v < 0.0:
        raise ParameterError(f"antenna.{name}", value, "a finite number >= 0")
    return v


def _check_finite(name: str, value: Any, allowed: str = "a finite number") -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"antenna.{name}", value, allowed)
    v = float(value)
    if not math.isfinite(v):
        raise ParameterError(f"antenna.{name}", value, allowed)
    return v


def _scalar_or_array(a: FloatArray) -> float | FloatArray:
    return float(a) if a.ndim == 0 else a


class AntennaPattern(ABC):
    """Interface shared by the antenna families (all angles in the project convention)."""

    KIND: ClassVar[str]

    def gain_dbi(
        self,
        az_rel_deg: ArrayLike,
        down_deg: ArrayLike,
        electrical_tilt_deg: ArrayLike,
        mech_tilt_deg: ArrayLike = 0.0,
    ) -> FloatArray:
        """Reference gain (dBi, float64) towards directions relative to the boresight.

        The direction is first expressed in the mechanically tilted panel frame
        (:func:`~cellsim.radio.angles.to_antenna_frame`); the electrical tilt then acts in that
        frame. Arrays broadcast.
        """
        az_l, down_l = to_antenna_frame(az_rel_deg, down_deg, mech_tilt_deg)
        return self._local_gain_dbi(az_l, down_l, np.asarray(electrical_tilt_deg, np.float64))

    def gain_dbi_tabulated(
        self,
        az_rel_deg: ArrayLike,
        down_deg: ArrayLike,
        electrical_tilt_deg: ArrayLike,
        mech_tilt_deg: ArrayLike = 0.0,
    ) -> FloatArray:
        """Gain (dBi) through the fast-path split and :meth:`vertical_table` (checks, not hot).

        Matches :meth:`gain_dbi` to within 0.05 dB wherever the gain is above peak - 40 dB.
        """
        az_l, down_l = to_antenna_frame(az_rel_deg, down_deg, mech_tilt_deg)
        x, a_db, b_db = self.static_terms(az_l, down_l)
        v = self.vertical_table().lookup(x - self.tilt_shift(electrical_tilt_deg))
        with np.errstate(divide="ignore"):
            lin = np.maximum(10.0 ** (a_db / 10.0) * v, 10.0 ** (b_db / 10.0))
            return 10.0 * np.log10(lin)

    @property
    @abstractmethod
    def peak_gain_dbi(self) -> float:
        """Largest gain of the pattern (dBi), reached on the electrically tilted boresight."""

    @abstractmethod
    def _local_gain_dbi(
        self, az_local_deg: FloatArray, down_local_deg: FloatArray, tilt_deg: FloatArray
    ) -> FloatArray:
        """Gain (dBi) for directions already in the panel frame."""

    @abstractmethod
    def static_terms(
        self, az_local_deg: ArrayLike, down_local_deg: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Tilt-independent terms ``(x, a_db, b_db)`` for directions in the panel frame."""

    @abstractmethod
    def tilt_shift(self, electrical_tilt_deg: ArrayLike) -> float | FloatArray:
        """Shift of the table coordinate caused by an electrical tilt (degrees down)."""

    @abstractmethod
    def vertical_table(self) -> VerticalTable:
        """The tabulated tilt-dependent factor ``v`` (cached per antenna)."""


@dataclass(frozen=True)
class Tr36814Sector(AntennaPattern):
    """3D sector pattern of TR 36.814 Table A.2.1.1-2 (also TR 36.942 / TR 37.840 macro).

    A_H(phi) = -min(12 (phi/phi_3dB)^2, A_m), A_V(theta) = -min(12 ((theta - tilt)/theta_3dB)^2,
    SLA_v) with theta the angle below the horizon, A = -min(-(A_H + A_V), A_m) and
    G = max_gain + A.
    """

    KIND: ClassVar[str] = "tr36814"

    phi_3db_deg: float = 70.0
    theta_3db_deg: float = 10.0
    a_m_db: float = 25.0
    sla_v_db: float = 20.0
    max_gain_dbi: float = 14.0

    def __post_init__(self) -> None:
        checks = {
            "phi_3db_deg": _check_positive,
            "theta_3db_deg": _check_positive,
            "a_m_db": _check_non_negative,
            "sla_v_db": _check_non_negative,
            "max_gain_dbi": _check_finite,
        }
        for name, check in checks.items():
            object.__setattr__(self, name, check(name, getattr(self, name)))

    @property
    def peak_gain_dbi(self) -> float:
        return self.max_gain_dbi

    def _a_h(self, az_deg: ArrayLike) -> FloatArray:
        phi = wrap_deg(az_deg)
        return -np.minimum(12.0 * (phi / self.phi_3db_deg) ** 2, self.a_m_db)

    def _a_v(self, y_deg: ArrayLike) -> FloatArray:
        y = np.asarray(y_deg, dtype=np.float64)
        return -np.minimum(12.0 * (y / self.theta_3db_deg) ** 2, self.sla_v_db)

    def _local_gain_dbi(
        self, az_local_deg: FloatArray, down_local_deg: FloatArray, tilt_deg: FloatArray
    ) -> FloatArray:
        a = np.maximum(self._a_h(az_local_deg) + self._a_v(down_local_deg - tilt_deg), -self.a_m_db)
        return self.max_gain_dbi + a

    def static_terms(
        self, az_local_deg: ArrayLike, down_local_deg: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """x = local down angle (deg), a_db = max_gain + A_H, b_db = max_gain - A_m."""
        az, down = np.broadcast_arrays(
            np.asarray(az_local_deg, np.float64), np.asarray(down_local_deg, np.float64)
        )
        x = np.array(down, dtype=np.float64)
        a_db = self.max_gain_dbi + self._a_h(az)
        b_db = np.full(x.shape, self.max_gain_dbi - self.a_m_db)
        return x, a_db, b_db

    def tilt_shift(self, electrical_tilt_deg: ArrayLike) -> float | FloatArray:
        """The shift is the tilt itself (degrees)."""
        return _scalar_or_array(np.array(electrical_tilt_deg, dtype=np.float64))

    def vertical_table(self) -> VerticalTable:
        """v(y) = 10^(A_V(y)/10) for y in [-180, 180] deg."""
        return self._table

    @cached_property
    def _table(self) -> VerticalTable:
        # Steepest slope of A_V before the side-lobe floor, in dB per degree.
        slope = 24.0 * math.sqrt(self.sla_v_db / 12.0) / self.theta_3db_deg
        step = _MAX_STEP_DEG if slope == 0.0 else min(_MAX_STEP_DEG, 2 * _TABLE_ERR_DB / slope)
        return _make_table(-180.0, 180.0, step, lambda y: 10.0 ** (self._a_v(y) / 10.0))


@dataclass(frozen=True)
class Tr38901Array(AntennaPattern):
    """Vertical uniform linear array of TR 38.901 §7.3 elements (Table 7.3-1; TR 36.873 §7.1).

    Element: A_E,V = -min(12 ((theta_z - 90)/theta_3dB)^2, SLA_V), A_E,H = -min(12 (phi/phi_3dB)^2,
    A_max), A_E = -min(-(A_E,V + A_E,H), A_max). Electrical tilt by phase weights
    w_m = exp(-j 2 pi (m-1) d cos theta_z,tilt)/sqrt(M); array factor AF = |sum w_m a_m|^2 with
    a_m = exp(j 2 pi (m-1) d cos theta_z). G = element_gain + A_E + 10 log10 AF.
    """

    KIND: ClassVar[str] = "tr38901"

    theta_3db_deg: float = 65.0
    phi_3db_deg: float = 65.0
    sla_v_db: float = 30.0
    a_max_db: float = 30.0
    element_gain_dbi: float = 8.0
    n_elements: int = 1
    spacing_wavelengths: float = 0.5

    def __post_init__(self) -> None:
        checks = {
            "theta_3db_deg": _check_positive,
            "phi_3db_deg": _check_positive,
            "sla_v_db": _check_non_negative,
            "a_max_db": _check_non_negative,
            "element_gain_dbi": _check_finite,
            "spacing_wavelengths": _check_positive,
        }
        for name, check in checks.items():
            object.__setattr__(self, name, check(name, getattr(self, name)))
        m = self.n_elements
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or not 1 <= m <= 64:
            raise ParameterError("antenna.n_elements", m, "an integer 1 … 64")
        if not self.spacing_wavelengths <= 4.0:
            raise ParameterError("antenna.spacing_wavelengths", self.spacing_wavelengths,
                                 "> 0 and ≤ 4 wavelengths")  # fmt: skip
        if not -30.0 <= self.element_gain_dbi <= 30.0:
            raise ParameterError("antenna.element_gain_dbi", self.element_gain_dbi,
                                 "-30 … 30 dBi")  # fmt: skip
        object.__setattr__(self, "n_elements", int(m))

    @property
    def peak_gain_dbi(self) -> float:
        return self.element_gain_dbi + 10.0 * math.log10(self.n_elements)

    def _element_db(self, az_deg: ArrayLike, down_deg: ArrayLike) -> FloatArray:
        """Relative element pattern A_E (dB, <= 0), TR 38.901 Table 7.3-1."""
        theta_z = zenith_from_down_deg(down_deg)
        a_v = -np.minimum(12.0 * ((theta_z - 90.0) / self.theta_3db_deg) ** 2, self.sla_v_db)
        a_h = -np.minimum(12.0 * (wrap_deg(az_deg) / self.phi_3db_deg) ** 2, self.a_max_db)
        return np.maximum(a_v + a_h, -self.a_max_db)

    def _array_factor(self, y: ArrayLike) -> FloatArray:
        """AF (linear, peak M at y = 0) with y = cos(theta_z,tilt) - cos(theta_z)."""
        m = self.n_elements
        y = np.asarray(y, dtype=np.float64)
        if m == 1:
            return np.ones_like(y)
        # |sum_m exp(j 2 pi (m-1) u)|^2 / M = sin^2(pi M u) / (M sin^2(pi u)): period 1 in u.
        u = self.spacing_wavelengths * y
        u = u - np.rint(u)
        den = np.sin(np.pi * u)
        near_peak = np.abs(den) < 1e-9
        safe_den = np.where(near_peak, 1.0, den)
        af = np.where(near_peak, float(m), np.sin(np.pi * m * u) ** 2 / (m * safe_den**2))
        return np.maximum(af, 1e-30)  # a float round-off away from an exact null: -300 dB

    def _local_gain_dbi(
        self, az_local_deg: FloatArray, down_local_deg: FloatArray, tilt_deg: FloatArray
    ) -> FloatArray:
        cos_z = np.cos(np.radians(zenith_from_down_deg(down_local_deg)))
        cos_z_tilt = np.cos(np.radians(zenith_from_down_deg(tilt_deg)))
        af = self._array_factor(cos_z_tilt - cos_z)
        return (
            self.element_gain_dbi
            + self._element_db(az_local_deg, down_local_deg)
            + 10.0 * np.log10(af)
        )

    def static_terms(
        self, az_local_deg: ArrayLike, down_local_deg: ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """x = sin(local down) = -cos(theta_z), a_db = element gain + A_E, b_db = -inf."""
        az, down = np.broadcast_arrays(
            np.asarray(az_local_deg, np.float64), np.asarray(down_local_deg, np.float64)
        )
        x = np.sin(np.radians(down))
        a_db = self.element_gain_dbi + self._element_db(az, down)
        b_db = np.full(x.shape, -np.inf)
        return x, a_db, b_db

    def tilt_shift(self, electrical_tilt_deg: ArrayLike) -> float | FloatArray:
        """The shift is sin(tilt) (the AF depends only on cos theta_z - cos theta_z,tilt)."""
        return _scalar_or_array(np.sin(np.radians(np.asarray(electrical_tilt_deg, np.float64))))

    def vertical_table(self) -> VerticalTable:
        """v(y) = AF at sin(down) - sin(tilt) = y, for y in [-2, 2]."""
        return self._table

    @cached_property
    def _table(self) -> VerticalTable:
        m, d = self.n_elements, self.spacing_wavelengths
        if m == 1:
            return _make_table(-2.0, 2.0, 0.5, self._array_factor)
        # Smallest distance to a null that must be resolved (40 dB down, next to the first
        # null), times the relative error allowed there; half a step may be lost to rounding.
        step = 2.0 * _NULL_REL_STEP * _DYNAMIC_RANGE_LIN / (m * d)
        return _make_table(-2.0, 2.0, step, self._array_factor)


ANTENNA_KINDS: dict[str, type[AntennaPattern]] = {
    Tr36814Sector.KIND: Tr36814Sector,
    Tr38901Array.KIND: Tr38901Array,
}


def make_antenna(kind: str, **params: Any) -> AntennaPattern:
    """Build an antenna pattern by kind name (``"tr36814"`` or ``"tr38901"``) and parameters."""
    cls = ANTENNA_KINDS.get(kind.strip().lower()) if isinstance(kind, str) else None
    if cls is None:
        raise ParameterError("antenna.kind", kind, "one of: " + ", ".join(ANTENNA_KINDS))
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ParameterError(
            ", ".join(f"antenna.{k}" for k in unknown),
            {k: params[k] for k in unknown},
            "parameters of " + cls.KIND + ": " + ", ".join(known),
        )
    return cls(**params)
