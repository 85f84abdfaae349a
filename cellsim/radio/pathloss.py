"""Large-scale path loss models (3GPP TR 38.901, TR 36.873, TR 36.814/36.942, COST-231, free space).

Every model is a frozen dataclass whose fields are its parameters. All methods are vectorised:
inputs may be scalars or arrays that broadcast together, and results are float64 ndarrays.

Conventions shared by all models:

* ``d2d_m`` is the horizontal BS-UT distance; the 3D distance is computed from it and the two
  antenna heights, ``d3d = sqrt(d2d² + (h_bs - h_ut)²)``.
* ``fc_ghz`` is the carrier frequency in GHz. Breakpoint distances use c = 3e8 m/s, as the 3GPP
  tables (and the ns-3 reference vectors) do; only free space uses the exact speed of light.
* ``strict=True`` enforces the model's validity ranges on every input. ``strict=False`` (used on
  raster points) still rejects frequencies and heights out of range, but clamps distances below
  the minimum up to it and extrapolates the formula beyond the maximum distance.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from cellsim.errors import ParameterError

__all__ = [
    "PATHLOSS_MODELS",
    "Cost231Hata",
    "FreeSpace",
    "Macro36814",
    "PathLossModel",
    "Tr36873UMa",
    "Tr36873UMi",
    "Tr38901RMa",
    "Tr38901UMa",
    "Tr38901UMi",
    "draw_uma_effective_height_m",
    "make_pathloss",
]

C_3GPP_M_S = 3.0e8
"""Propagation speed used by the 3GPP breakpoint formulas (TR 38.901 Table 7.4.1-1 note)."""

C_LIGHT_M_S = 299_792_458.0
"""Exact speed of light, used by free-space path loss."""


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def _fmt_range(lo: float, hi: float, unit: str) -> str:
    """Human-readable range such as '10–5000 m' or '≥ 0.1 m'."""
    if math.isinf(hi):
        return f"≥ {lo:g} {unit}"
    return f"{lo:g}–{hi:g} {unit}"


def _check_finite(name: str, arr: np.ndarray, allowed: str) -> None:
    """Raise ParameterError on the first NaN/inf in ``arr``."""
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ParameterError(name, float(arr[bad].flat[0]), allowed)


def _check_range(name: str, arr: np.ndarray, lo: float, hi: float, allowed: str) -> None:
    """Raise ParameterError naming the smallest (or largest) offending value of ``arr``."""
    _check_finite(name, arr, allowed)
    if arr.size == 0:
        return
    a_min = float(arr.min())
    if a_min < lo:
        raise ParameterError(name, a_min, allowed)
    a_max = float(arr.max())
    if a_max > hi:
        raise ParameterError(name, a_max, allowed)


def _check_param(name: str, value: Any, lo: float, hi: float, allowed: str) -> None:
    """Validate a scalar model parameter (a dataclass field)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(name, value, allowed)
    if not (math.isfinite(float(value)) and lo <= float(value) <= hi):
        raise ParameterError(name, value, allowed)


def _f64(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _uma_los_c(d2d_m: np.ndarray, h_ut_m: np.ndarray) -> np.ndarray:
    """C(d2D, hUT) of TR 38.901 Table 7.4.1-1 note 1 / Table 7.4.2-1 (UMa), TR 36.873 Table 7.2-1.

    C = 0 for hUT ≤ 13 m, else ((hUT − 13)/10)^1.5 · g(d2D) with g = 0 for d2D ≤ 18 m, else
    (5/4)(d2D/100)^3 exp(−d2D/150).
    """
    g = np.where(d2d_m > 18.0, 1.25 * (d2d_m / 100.0) ** 3 * np.exp(-d2d_m / 150.0), 0.0)
    c_h = np.where(h_ut_m > 13.0, (np.maximum(h_ut_m - 13.0, 0.0) / 10.0) ** 1.5, 0.0)
    return c_h * g


def draw_uma_effective_height_m(
    rng: np.random.Generator, d2d_m: ArrayLike, h_ut_m: ArrayLike
) -> np.ndarray:
    """Draw the UMa effective environment height h_E per link (TR 38.901 Table 7.4.1-1 note 1).

    h_E = 1 m with probability 1/(1 + C(d2D, hUT)), otherwise uniform over {12, 15, ..., hUT − 1.5}
    m. The same rule is used by TR 36.873 3D-UMa. When hUT is off the 3 m floor grid and that set is
    empty (13 m < hUT < 13.5 m), h_E stays 1 m.
    """
    d2d, h_ut = np.broadcast_arrays(_f64(d2d_m), _f64(h_ut_m))
    _check_finite("d2d_m", d2d, "finite distances in m")
    _check_finite("h_ut_m", h_ut, "finite heights in m")
    p_one = 1.0 / (1.0 + _uma_los_c(d2d, h_ut))
    # Number of candidates 12, 15, ... not above hUT − 1.5 (small tolerance for float grids).
    n_choices = np.floor((h_ut - 1.5 - 12.0) / 3.0 + 1e-9) + 1.0
    u_pick = rng.random(d2d.shape)
    u_value = rng.random(d2d.shape)
    k = np.minimum(np.floor(u_value * np.maximum(n_choices, 1.0)), np.maximum(n_choices - 1.0, 0.0))
    h_e = np.where((u_pick >= p_one) & (n_choices >= 1.0), 12.0 + 3.0 * k, 1.0)
    return np.asarray(h_e, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Base class
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathLossModel(ABC):
    """A path loss model: formula, validity ranges, LOS probability and shadow-fading statistics.

    Subclasses set the class-level constants below and implement ``_pathloss_db``.
    """

    name: ClassVar[str]
    """Registry key (see ``PATHLOSS_MODELS``)."""
    label: ClassVar[str]
    """Source document and scenario, used in error messages."""
    has_los: ClassVar[bool] = True
    """False for models with no LOS/NLOS distinction (``los`` is then ignored)."""
    uses_h_e: ClassVar[bool] = False
    """True for UMa-type models that take the effective environment height ``h_e_m``."""

    fc_range_ghz: ClassVar[tuple[float, float]]
    d2d_range_m: ClassVar[tuple[float, float]]
    d2d_max_nlos_m: ClassVar[float | None] = None
    """Upper 2D distance for NLOS links, when it differs from the LOS one (RMa)."""
    h_bs_range_m: ClassVar[tuple[float, float]]
    h_bs_nominal_m: ClassVar[float | None] = None
    """Height the source calibrated the model for; others in ``h_bs_range_m`` extrapolate."""
    h_ut_range_m: ClassVar[tuple[float, float]]

    sigma_los_db: ClassVar[float]
    sigma_nlos_db: ClassVar[float]
    sf_decorr_los_m: ClassVar[float]
    sf_decorr_nlos_m: ClassVar[float]
    los_decorrelation_m: ClassVar[float] = 50.0
    """LOS-state correlation distance for spatial consistency (TR 38.901 §7.6.3.3)."""

    # -- validity ---------------------------------------------------------------------------

    @property
    def validity(self) -> dict[str, tuple[float, float]]:
        """Documented validity ranges, keyed by user-facing parameter name."""
        out = {
            "fc_ghz": self.fc_range_ghz,
            "d2d_m": self.d2d_range_m,
            "h_bs_m": self.h_bs_range_m,
            "h_ut_m": self.h_ut_range_m,
        }
        if self.d2d_max_nlos_m is not None:
            out["d2d_m_nlos"] = (self.d2d_range_m[0], self.d2d_max_nlos_m)
        return out

    def _allowed(self, key: str) -> str:
        lo, hi = {
            "fc_ghz": self.fc_range_ghz,
            "d2d_m": self.d2d_range_m,
            "h_bs_m": self.h_bs_range_m,
            "h_ut_m": self.h_ut_range_m,
        }[key]
        unit = "GHz" if key == "fc_ghz" else "m"
        text = f"{_fmt_range(lo, hi, unit)} for {self.label}"
        if key == "h_bs_m" and self.h_bs_nominal_m is not None:
            text += f" (nominal {self.h_bs_nominal_m:g} m; other heights extrapolate)"
        return text

    def validate(
        self,
        d2d_m: ArrayLike,
        h_bs_m: ArrayLike,
        h_ut_m: ArrayLike,
        fc_ghz: ArrayLike,
        los: ArrayLike = True,
        *,
        h_e_m: ArrayLike | None = None,
        strict: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Check inputs against the validity ranges; return broadcast d2d, h_bs, h_ut, fc, los, h_e.

        With ``strict=False`` the returned ``d2d`` is clamped up to the minimum distance and the
        maximum distance is not enforced; negative or non-finite distances are always rejected.
        """
        if h_e_m is not None and not self.uses_h_e:
            raise ParameterError(
                "h_e_m", h_e_m, "only for UMa-type models (uma, uma-36873); omit it here"
            )
        h_e_in = _f64(1.0 if h_e_m is None else h_e_m)
        los_in = np.asarray(los, dtype=bool)
        d2d, h_bs, h_ut, fc, los_b, h_e = np.broadcast_arrays(
            _f64(d2d_m), _f64(h_bs_m), _f64(h_ut_m), _f64(fc_ghz), los_in, h_e_in
        )
        _check_range("fc_ghz", fc, *self.fc_range_ghz, self._allowed("fc_ghz"))
        _check_range("h_bs_m", h_bs, *self.h_bs_range_m, self._allowed("h_bs_m"))
        _check_range("h_ut_m", h_ut, *self.h_ut_range_m, self._allowed("h_ut_m"))
        if self.uses_h_e and h_e_m is not None:
            allowed = "1 m ≤ h_e_m < h_ut_m and h_e_m < h_bs_m (TR 38.901 Table 7.4.1-1 note 1)"
            _check_finite("h_e_m", h_e, allowed)
            bad = (h_e < 1.0) | (h_e >= h_ut) | (h_e >= h_bs)
            if bad.any():
                raise ParameterError("h_e_m", float(h_e[bad].flat[0]), allowed)

        d_lo, d_hi = self.d2d_range_m
        if strict:
            if self.d2d_max_nlos_m is None or not self.has_los:
                _check_range("d2d_m", d2d, d_lo, d_hi, self._allowed("d2d_m"))
            else:
                allowed = (
                    f"{_fmt_range(d_lo, d_hi, 'm')} (LOS), "
                    f"{_fmt_range(d_lo, self.d2d_max_nlos_m, 'm')} (NLOS) for {self.label}"
                )
                _check_range("d2d_m", d2d, d_lo, np.inf, allowed)
                _check_range("d2d_m", d2d[los_b], d_lo, d_hi, allowed)
                _check_range("d2d_m", d2d[~los_b], d_lo, self.d2d_max_nlos_m, allowed)
        else:
            allowed = f"≥ 0 m (clamped up to {d_lo:g} m) for {self.label}"
            _check_range("d2d_m", d2d, 0.0, np.inf, allowed)
            d2d = np.maximum(d2d, d_lo)
        return d2d, h_bs, h_ut, fc, los_b, h_e

    # -- path loss --------------------------------------------------------------------------

    def pathloss_db(
        self,
        d2d_m: ArrayLike,
        h_bs_m: ArrayLike,
        h_ut_m: ArrayLike,
        fc_ghz: ArrayLike,
        los: ArrayLike = True,
        *,
        h_e_m: ArrayLike | None = None,
        strict: bool = True,
    ) -> np.ndarray:
        """Median path loss in dB, without shadow fading; ``los`` is ignored if not ``has_los``."""
        d2d, h_bs, h_ut, fc, los_b, h_e = self.validate(
            d2d_m, h_bs_m, h_ut_m, fc_ghz, los, h_e_m=h_e_m, strict=strict
        )
        d3d = np.sqrt(d2d**2 + (h_bs - h_ut) ** 2)
        if not self.has_los:
            return np.asarray(self._pathloss_los_db(d2d, d3d, h_bs, h_ut, fc, h_e), np.float64)
        pl_los = self._pathloss_los_db(d2d, d3d, h_bs, h_ut, fc, h_e)
        if los_b.all():
            return np.asarray(pl_los, dtype=np.float64)
        pl_nlos = np.maximum(pl_los, self._pathloss_nlos_db(d2d, d3d, h_bs, h_ut, fc))
        return np.asarray(np.where(los_b, pl_los, pl_nlos), dtype=np.float64)

    @abstractmethod
    def _pathloss_los_db(
        self,
        d2d: np.ndarray,
        d3d: np.ndarray,
        h_bs: np.ndarray,
        h_ut: np.ndarray,
        fc: np.ndarray,
        h_e: np.ndarray,
    ) -> np.ndarray:
        """LOS formula (or the only formula for models without LOS)."""

    def _pathloss_nlos_db(
        self, d2d: np.ndarray, d3d: np.ndarray, h_bs: np.ndarray, h_ut: np.ndarray, fc: np.ndarray
    ) -> np.ndarray:
        """The NLOS formula PL'_NLOS; the caller takes max(PL_LOS, PL'_NLOS)."""
        raise NotImplementedError

    # -- LOS probability and shadowing ------------------------------------------------------

    def los_probability(self, d2d_out_m: ArrayLike, h_ut_m: ArrayLike) -> np.ndarray:
        """LOS probability from the outdoor 2D distance and UT height (TR 38.901 Table 7.4.2-1)."""
        d, h_ut = np.broadcast_arrays(_f64(d2d_out_m), _f64(h_ut_m))
        _check_range("d2d_m", d, 0.0, np.inf, "≥ 0 m")
        _check_range("h_ut_m", h_ut, *self.h_ut_range_m, self._allowed("h_ut_m"))
        if not self.has_los:
            return np.ones(d.shape, dtype=np.float64)
        return np.asarray(np.clip(self._los_probability(d, h_ut), 0.0, 1.0), dtype=np.float64)

    def _los_probability(self, d: np.ndarray, h_ut: np.ndarray) -> np.ndarray:
        return np.ones(d.shape)

    def shadow_std_db(
        self,
        los: ArrayLike,
        d2d_m: ArrayLike | None = None,
        h_bs_m: ArrayLike | None = None,
        h_ut_m: ArrayLike | None = None,
        fc_ghz: ArrayLike | None = None,
    ) -> np.ndarray:
        """Log-normal shadow-fading standard deviation σ_SF in dB per link."""
        los_b = np.asarray(los, dtype=bool)
        if not self.has_los:
            return np.full(los_b.shape, self.sigma_los_db, dtype=np.float64)
        return np.where(los_b, self.sigma_los_db, self.sigma_nlos_db).astype(np.float64)

    def shadow_decorrelation_m(self, los: ArrayLike) -> float | np.ndarray:
        """Shadow-fading correlation distance in m (TR 38.901 Table 7.5-6 / TR 36.873 Table 7.3-6).

        Returns a float for a scalar ``los`` and an array otherwise.
        """
        los_b = np.asarray(los, dtype=bool)
        if self.has_los:
            out = np.where(los_b, self.sf_decorr_los_m, self.sf_decorr_nlos_m).astype(np.float64)
        else:
            out = np.full(los_b.shape, self.sf_decorr_los_m, dtype=np.float64)
        return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------------------------------
# Shared formulas
# ---------------------------------------------------------------------------------------------


def _uma_style_los_db(
    d2d: np.ndarray,
    d3d: np.ndarray,
    h_bs: np.ndarray,
    h_ut: np.ndarray,
    fc: np.ndarray,
    h_e: np.ndarray,
    a: float,
    b1: float,
    b2: float,
) -> np.ndarray:
    """TR 38.901 UMa/UMi LOS: a + b1 log d3D + 20 log fc before d'BP, breakpoint form after.

    PL2 = a + 40 log d3D + 20 log fc − b2 log(d'BP² + (hBS − hUT)²) with b2 = (40 − b1)/2, so PL1
    and PL2 coincide exactly at d2D = d'BP.
    """
    d_bp = 4.0 * (h_bs - h_e) * (h_ut - h_e) * fc * 1e9 / C_3GPP_M_S
    f_term = 20.0 * np.log10(fc)
    pl1 = a + b1 * np.log10(d3d) + f_term
    pl2 = a + 40.0 * np.log10(d3d) + f_term - b2 * np.log10(d_bp**2 + (h_bs - h_ut) ** 2)
    return np.where(d2d <= d_bp, pl1, pl2)


def _itu_nlos_db(
    d3d: np.ndarray, h_bs: np.ndarray, fc: np.ndarray, w: float, h: float
) -> np.ndarray:
    """ITU-R M.2135-style NLOS core shared by TR 38.901 RMa and TR 36.873 3D-UMa (no UT term)."""
    return (
        161.04
        - 7.1 * math.log10(w)
        + 7.5 * math.log10(h)
        - (24.37 - 3.7 * (h / h_bs) ** 2) * np.log10(h_bs)
        + (43.42 - 3.1 * np.log10(h_bs)) * (np.log10(d3d) - 3.0)
        + 20.0 * np.log10(fc)
    )


def _uma_los_probability(d: np.ndarray, h_ut: np.ndarray) -> np.ndarray:
    """TR 38.901 Table 7.4.2-1 UMa (= TR 36.873 Table 7.2-2 3D-UMa)."""
    d_safe = np.maximum(d, 18.0)
    base = 18.0 / d_safe + np.exp(-d_safe / 63.0) * (1.0 - 18.0 / d_safe)
    c_h = np.where(h_ut > 13.0, (np.maximum(h_ut - 13.0, 0.0) / 10.0) ** 1.5, 0.0)
    boost = 1.0 + c_h * 1.25 * (d_safe / 100.0) ** 3 * np.exp(-d_safe / 150.0)
    return np.where(d <= 18.0, 1.0, base * boost)


def _umi_los_probability(d: np.ndarray) -> np.ndarray:
    """TR 38.901 Table 7.4.2-1 UMi street canyon (= TR 36.873 3D-UMi)."""
    d_safe = np.maximum(d, 18.0)
    return np.where(d <= 18.0, 1.0, 18.0 / d_safe + np.exp(-d_safe / 36.0) * (1.0 - 18.0 / d_safe))


# ---------------------------------------------------------------------------------------------
# TR 38.901
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tr38901UMa(PathLossModel):
    """TR 38.901 Table 7.4.1-1 UMa. Specified for h_BS = 25 m; 10–50 m accepted as extrapolation.

    ``h_e_m`` is the effective environment height (default 1 m); draw it per link with
    ``draw_uma_effective_height_m`` to follow the standard exactly.
    """

    name: ClassVar[str] = "uma"
    label: ClassVar[str] = "TR 38.901 UMa"
    uses_h_e: ClassVar[bool] = True
    fc_range_ghz: ClassVar[tuple[float, float]] = (0.5, 100.0)
    d2d_range_m: ClassVar[tuple[float, float]] = (10.0, 5000.0)
    h_bs_range_m: ClassVar[tuple[float, float]] = (10.0, 50.0)
    h_bs_nominal_m: ClassVar[float | None] = 25.0
    h_ut_range_m: ClassVar[tuple[float, float]] = (1.5, 22.5)
    sigma_los_db: ClassVar[float] = 4.0
    sigma_nlos_db: ClassVar[float] = 6.0
    sf_decorr_los_m: ClassVar[float] = 37.0
    sf_decorr_nlos_m: ClassVar[float] = 50.0
    los_decorrelation_m: ClassVar[float] = 50.0

    def _pathloss_los_db(
        self,
        d2d: np.ndarray,
        d3d: np.ndarray,
        h_bs: np.ndarray,
        h_ut: np.ndarray,
        fc: np.ndarray,
        h_e: np.ndarray,
    ) -> np.ndarray:
        return _uma_style_los_db(d2d, d3d, h_bs, h_ut, fc, h_e, 28.0, 22.0, 9.0)

    def _pathloss_nlos_db(
        self, d2d: np.ndarray, d3d: np.ndarray, h_bs: np.ndarray, h_ut: np.ndarray, fc: np.ndarray
    ) -> np.ndarray:
        return 13.54 + 39.08 * np.log10(d3d) + 20.0 * np.log10(fc) - 0.6 * (h_ut - 1.5)

    def _los_probability(self, d: np.ndarray, h_ut: np.ndarray) -> np.ndarray:
        return _uma_los_probability(d, h_ut)


@dataclass(frozen=True)
class Tr38901UMi(PathLossModel):
    """TR 38.901 Table 7.4.1-1 UMi street canyon (h_E = 1 m). Specified for h_BS = 10 m."""

    name: ClassVar[str] = "umi"
    label: ClassVar[str] = "TR 38.901 UMi"
    fc_range_ghz: ClassVar[tuple[float, float]] = (0.5, 100.0)
    d2d_range_m: ClassVar[tuple[float, float]] = (10.0, 5000.0)
    h_bs_range_m: ClassVar[tuple[float, float]] = (5.0, 25.0)
    h_bs_nominal_m: ClassVar[float | None] = 10.0
    h_ut_range_m: ClassVar[tuple[float, float]] = (1.5, 22.5)
    sigma_los_db: ClassVar[float] = 4.0
    sigma_nlos_db: ClassVar[float] = 7.82
    sf_decorr_los_m: ClassVar[float] = 10.0
    sf_decorr_nlos_m: ClassVar[float] = 13.0
    los_decorrelation_m: ClassVar[float] = 50.0

    def _pathloss_los_db(
        self,
        d2d: np.ndarray,
        d3d: np.ndarray,
        h_bs: np.ndarray,
        h_ut: np.ndarray,
        fc: np.ndarray,
        h_e: np.ndarray,
    ) -> np.ndarray:
        return _uma_style_los_db(d2d, d3d, h_bs, h_ut, fc, np.ones_like(d2d), 32.4, 21.0, 9.5)

    def _pathloss_nlos_db(
        self, d2d: np.ndarray, d3d: np.ndarray, h_bs: np.ndarray, h_ut: np.ndarray, fc: np.ndarray
    ) -> np.ndarray:
        return 35.3 * np.log10(d3d) + 22.4 + 21.3 * np.log10(fc) - 0.3 * (h_ut - 1.5)

    def _los_probability(self, d: np.ndarray, h_ut: np.ndarray) -> np.ndarray:
        return _umi_los_probability(d)


@dataclass(frozen=True)
class Tr38901RMa(PathLossModel):
    """TR 38.901 Table 7.4.1-1 RMa, with average building height h and street width W.

    The LOS breakpoint uses the actual antenna heights, d_BP = 2π hBS hUT fc/c. PL2 adds
    40 log10(d3D/d_BP) to PL1 evaluated at a 3D distance of d_BP, so at d2D = d_BP the two pieces
    differ by PL1(d_BP) + 40 log10(d3D/d_BP) − PL1(d3D): at most ~0.03 dB in the validity range.
    """

    avg_building_height_m: float = 5.0
    street_width_m: float = 20.0

    name: ClassVar[str] = "rma"
    label: ClassVar[str] = "TR 38.901 RMa"
    fc_range_ghz: ClassVar[tuple[float, float]] = (0.5, 30.0)
    d2d_range_m: ClassVar[tuple[float, float]] = (10.0, 10_000.0)
    d2d_max_nlos_m: ClassVar[float | None] = 5000.0
    h_bs_range_m: ClassVar[tuple[float, float]] = (10.0, 150.0)
    h_bs_nominal_m: ClassVar[float | None] = None
    h_ut_range_m: ClassVar[tuple[float, float]] = (1.0, 10.0)
    sigma_los_db: ClassVar[float] = 4.0
    sigma_los_after_bp_db: ClassVar[float] = 6.0
    sigma_nlos_db: ClassVar[float] = 8.0
    sf_decorr_los_m: ClassVar[float] = 37.0
    sf_decorr_nlos_m: ClassVar[float] = 120.0
    los_decorrelation_m: ClassVar[float] = 60.0

    def __post_init__(self) -> None:
        allowed = "5–50 m for TR 38.901 RMa"
        _check_param("avg_building_height_m", self.avg_building_height_m, 5.0, 50.0, allowed)
        _check_param("street_width_m", self.street_width_m, 5.0, 50.0, allowed)

    @staticmethod
    def breakpoint_m(h_bs_m: ArrayLike, h_ut_m: ArrayLike, fc_ghz: ArrayLike) -> np.ndarray:
        """d_BP = 2π hBS hUT fc/c (TR 38.901 Table 7.4.1-1 note 5)."""
        return np.asarray(
            2.0 * np.pi * _f64(h_bs_m) * _f64(h_ut_m) * _f64(fc_ghz) * 1e9 / C_3GPP_M_S,
            dtype=np.float64,
        )

    def _pl1(self, d3d: np.ndarray, fc: np.ndarray) -> np.ndarray:
        h = float(self.avg_building_height_m)
        return (
            20.0 * np.log10(40.0 * np.pi * d3d * fc / 3.0)
            + min(0.03 * h**1.72, 10.0) * np.log10(d3d)
            - min(0.044 * h**1.72, 14.77)
            + 0.002 * math.log10(h) * d3d
        )

    def _pathloss_los_db(
        self,
        d2d: np.ndarray,
        d3d: np.ndarray,
        h_bs: np.ndarray,
        h_ut: np.ndarray,
        fc: np.ndarray,
        h_e: np.ndarray,
    ) -> np.ndarray:
        d_bp = self.breakpoint_m(h_bs, h_ut, fc)
        pl1 = self._pl1(d3d, fc)
        pl2 = self._pl1(d_bp, fc) + 40.0 * np.log10(d3d / d_bp)
        return np.where(d2d <= d_bp, pl1, pl2)

    def _pathloss_nlos_db(
        self, d2d: np.ndarray, d3d: np.ndarray, h_bs: np.ndarray, h_ut: np.ndarray, fc: np.ndarray
    ) -> np.ndarray:
        core = _itu_nlos_db(d3d, h_bs, fc, self.street_width_m, self.avg_building_height_m)
        return core - (3.2 * np.log10(11.75 * h_ut) ** 2 - 4.97)

    def _los_probability(self, d: np.ndarray, h_ut: np.ndarray) -> np.ndarray:
        return np.where(d <= 10.0, 1.0, np.exp(-(d - 10.0) / 1000.0))

    def shadow_std_db(
        self,
        los: ArrayLike,
        d2d_m: ArrayLike | None = None,
        h_bs_m: ArrayLike | None = None,
        h_ut_m: ArrayLike | None = None,
        fc_ghz: ArrayLike | None = None,
    ) -> np.ndarray:
        """σ_SF: LOS 4 dB up to d_BP and 6 dB beyond; NLOS 8 dB.

        The LOS value needs the breakpoint, so ``d2d_m``, ``h_bs_m``, ``h_ut_m`` and ``fc_ghz``
        are required unless every link is NLOS.
        """
        los_b = np.asarray(los, dtype=bool)
        if not los_b.any():
            args = [a for a in (d2d_m, h_bs_m, h_ut_m, fc_ghz) if a is not None]
            shape = np.broadcast_shapes(los_b.shape, *(np.shape(a) for a in args))
            return np.full(shape, self.sigma_nlos_db, dtype=np.float64)
        if d2d_m is None or h_bs_m is None or h_ut_m is None or fc_ghz is None:
            raise TypeError("RMa LOS shadow σ needs d2d_m, h_bs_m, h_ut_m and fc_ghz")
        los_b, d2d, d_bp = np.broadcast_arrays(
            los_b, _f64(d2d_m), self.breakpoint_m(h_bs_m, h_ut_m, fc_ghz)
        )
        sigma_los = np.where(d2d <= d_bp, self.sigma_los_db, self.sigma_los_after_bp_db)
        return np.where(los_b, sigma_los, self.sigma_nlos_db).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# TR 36.873 (3D channel model, calibrated around 2 GHz)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tr36873UMa(Tr38901UMa):
    """TR 36.873 Table 7.2-1 3D-UMa (W = 20 m, h = 20 m). Calibrated at 2 GHz; 2–6 GHz accepted.

    LOS, LOS probability, shadowing and validity other than frequency are those of TR 38.901
    UMa (inherited), including the effective environment height ``h_e_m``; NLOS differs.
    """

    name: ClassVar[str] = "uma-36873"
    label: ClassVar[str] = "TR 36.873 3D-UMa"
    fc_range_ghz: ClassVar[tuple[float, float]] = (2.0, 6.0)

    def _pathloss_nlos_db(
        self, d2d: np.ndarray, d3d: np.ndarray, h_bs: np.ndarray, h_ut: np.ndarray, fc: np.ndarray
    ) -> np.ndarray:
        core = _itu_nlos_db(d3d, h_bs, fc, 20.0, 20.0)
        return core - (3.2 * math.log10(17.625) ** 2 - 4.97) - 0.6 * (h_ut - 1.5)


@dataclass(frozen=True)
class Tr36873UMi(Tr38901UMi):
    """TR 36.873 Table 7.2-1 3D-UMi (h_E = 1 m). Calibrated at 2 GHz with h_BS = 10 m.

    Its PL1 and PL2 are only approximately continuous at d'BP (within about 0.1 dB). Distances,
    heights, correlation distances and the LOS probability are those of TR 38.901 UMi
    (inherited); the formulas, σ and frequency range differ.
    """

    name: ClassVar[str] = "umi-36873"
    label: ClassVar[str] = "TR 36.873 3D-UMi"
    fc_range_ghz: ClassVar[tuple[float, float]] = (2.0, 6.0)
    sigma_los_db: ClassVar[float] = 3.0
    sigma_nlos_db: ClassVar[float] = 4.0

    def _pathloss_los_db(
        self,
        d2d: np.ndarray,
        d3d: np.ndarray,
        h_bs: np.ndarray,
        h_ut: np.ndarray,
        fc: np.ndarray,
        h_e: np.ndarray,
    ) -> np.ndarray:
        h_bs_e, h_ut_e = h_bs - 1.0, h_ut - 1.0
        d_bp = 4.0 * h_bs_e * h_ut_e * fc * 1e9 / C_3GPP_M_S
        pl1 = 22.0 * np.log10(d3d) + 28.0 + 20.0 * np.log10(fc)
        pl2 = (
            40.0 * np.log10(d3d)
            + 7.8
            - 18.0 * np.log10(h_bs_e)
            - 18.0 * np.log10(h_ut_e)
            + 2.0 * np.log10(fc)
        )
        return np.where(d2d <= d_bp, pl1, pl2)

    def _pathloss_nlos_db(
        self, d2d: np.ndarray, d3d: np.ndarray, h_bs: np.ndarray, h_ut: np.ndarray, fc: np.ndarray
    ) -> np.ndarray:
        return 36.7 * np.log10(d3d) + 22.7 + 26.0 * np.log10(fc) - 0.3 * (h_ut - 1.5)


# ---------------------------------------------------------------------------------------------
# Models without LOS/NLOS distinction
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Macro36814(PathLossModel):
    """TR 36.814 / TR 36.942 macro-cell model on the 2D distance R.

    PL = 128.1 + 21 log10(f_MHz/2000) + 40(1 − 4e-3 Δh_b) log10(R_km) − 18 log10(Δh_b/15), i.e.
    exactly TR 36.814's 128.1 + 37.6 log10(R_km) at 2 GHz and Δh_b = 15 m (TR 36.942's own
    constant gives 128.15 there; we anchor to TR 36.814). σ_SF = 8 dB (TR 36.814 case 1). Used
    at 0.45–3 GHz; 3GPP's 35 m minimum coupling distance is a layout matter, the formula accepts
    10 m. ``h_bs_m`` does not enter the formula (the height above rooftop Δh_b does).
    """

    bs_above_rooftop_m: float = 15.0

    name: ClassVar[str] = "macro"
    label: ClassVar[str] = "TR 36.814 macro"
    has_los: ClassVar[bool] = False
    fc_range_ghz: ClassVar[tuple[float, float]] = (0.45, 3.0)
    d2d_range_m: ClassVar[tuple[float, float]] = (10.0, 20_000.0)
    h_bs_range_m: ClassVar[tuple[float, float]] = (1.0, 200.0)
    h_ut_range_m: ClassVar[tuple[float, float]] = (1.0, 10.0)
    sigma_los_db: ClassVar[float] = 8.0
    sigma_nlos_db: ClassVar[float] = 8.0
    sf_decorr_los_m: ClassVar[float] = 50.0
    sf_decorr_nlos_m: ClassVar[float] = 50.0

    def __post_init__(self) -> None:
        value = self.bs_above_rooftop_m
        _check_param("bs_above_rooftop_m", value, 0.0, 50.0, "0 < Δh_b ≤ 50 m (TR 36.942)")
        if float(value) <= 0.0:
            raise ParameterError("bs_above_rooftop_m", value, "0 < Δh_b ≤ 50 m (TR 36.942)")

    def _pathloss_los_db(
        self,
        d2d: np.ndarray,
        d3d: np.ndarray,
        h_bs: np.ndarray,
        h_ut: np.ndarray,
        fc: np.ndarray,
        h_e: np.ndarray,
    ) -> np.ndarray:
        dh = float(self.bs_above_rooftop_m)
        return (
            128.1
            + 21.0 * np.log10(fc * 1000.0 / 2000.0)
            + 40.0 * (1.0 - 4e-3 * dh) * np.log10(d2d / 1000.0)
            - 18.0 * math.log10(dh / 15.0)
        )


@dataclass(frozen=True)
class Cost231Hata(PathLossModel):
    """COST-231 Hata (1.5–2 GHz, h_b 30–200 m, h_m 1–10 m, d 1–20 km) on the 2D distance.

    ``metropolitan=True`` adds the 3 dB C_m correction for dense urban centres.
    """

    metropolitan: bool = False

    name: ClassVar[str] = "cost231"
    label: ClassVar[str] = "COST-231 Hata"
    has_los: ClassVar[bool] = False
    fc_range_ghz: ClassVar[tuple[float, float]] = (1.5, 2.0)
    d2d_range_m: ClassVar[tuple[float, float]] = (1000.0, 20_000.0)
    h_bs_range_m: ClassVar[tuple[float, float]] = (30.0, 200.0)
    h_ut_range_m: ClassVar[tuple[float, float]] = (1.0, 10.0)
    sigma_los_db: ClassVar[float] = 8.0
    sigma_nlos_db: ClassVar[float] = 8.0
    sf_decorr_los_m: ClassVar[float] = 50.0
    sf_decorr_nlos_m: ClassVar[float] = 50.0

    def __post_init__(self) -> None:
        if not isinstance(self.metropolitan, (bool, np.bool_)):
            raise ParameterError("metropolitan", self.metropolitan, "true or false")

    def _pathloss_los_db(
        self,
        d2d: np.ndarray,
        d3d: np.ndarray,
        h_bs: np.ndarray,
        h_ut: np.ndarray,
        fc: np.ndarray,
        h_e: np.ndarray,
    ) -> np.ndarray:
        log_f = np.log10(fc * 1000.0)
        a_hm = (1.1 * log_f - 0.7) * h_ut - (1.56 * log_f - 0.8)
        c_m = 3.0 if self.metropolitan else 0.0
        return (
            46.3
            + 33.9 * log_f
            - 13.82 * np.log10(h_bs)
            - a_hm
            + (44.9 - 6.55 * np.log10(h_bs)) * np.log10(d2d / 1000.0)
            + c_m
        )


@dataclass(frozen=True)
class FreeSpace(PathLossModel):
    """Free-space path loss 20 log10(4π d3D f/c), with the exact speed of light. σ_SF = 0."""

    name: ClassVar[str] = "fspl"
    label: ClassVar[str] = "free space"
    has_los: ClassVar[bool] = False
    fc_range_ghz: ClassVar[tuple[float, float]] = (0.1, 100.0)
    d2d_range_m: ClassVar[tuple[float, float]] = (0.1, math.inf)
    h_bs_range_m: ClassVar[tuple[float, float]] = (0.0, 1000.0)
    h_ut_range_m: ClassVar[tuple[float, float]] = (0.0, 1000.0)
    sigma_los_db: ClassVar[float] = 0.0
    sigma_nlos_db: ClassVar[float] = 0.0
    sf_decorr_los_m: ClassVar[float] = 50.0
    sf_decorr_nlos_m: ClassVar[float] = 50.0

    def _pathloss_los_db(
        self,
        d2d: np.ndarray,
        d3d: np.ndarray,
        h_bs: np.ndarray,
        h_ut: np.ndarray,
        fc: np.ndarray,
        h_e: np.ndarray,
    ) -> np.ndarray:
        return 20.0 * np.log10(4.0 * np.pi * d3d * fc * 1e9 / C_LIGHT_M_S)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

PATHLOSS_MODELS: dict[str, type[PathLossModel]] = {
    cls.name: cls
    for cls in (
        Tr38901UMa,
        Tr38901UMi,
        Tr38901RMa,
        Tr36873UMa,
        Tr36873UMi,
        Macro36814,
        Cost231Hata,
        FreeSpace,
    )
}
"""Registry key → model class."""


def make_pathloss(name: str, **params: Any) -> PathLossModel:
    """Build a path loss model from its registry key and parameters (case-insensitive key).

    Unknown keys raise ParameterError("model", ...); unknown parameters raise ParameterError
    naming the parameter and listing what the model accepts.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    cls = PATHLOSS_MODELS.get(key)
    if cls is None:
        raise ParameterError("model", name, "one of: " + ", ".join(PATHLOSS_MODELS))
    accepted = [f.name for f in fields(cls)]
    for param, value in params.items():
        if param not in accepted:
            allowed = (
                f"parameters of {key}: {', '.join(accepted)}"
                if accepted
                else f"none (model {key} takes no parameters)"
            )
            raise ParameterError(param, value, allowed)
    return cls(**params)
