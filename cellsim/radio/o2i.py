"""Outdoor-to-indoor (O2I) building penetration loss: TR 38.901 §7.4.3 and TR 36.873's fixed model.

The total O2I loss added to the outdoor path loss is PL_tw + PL_in + N(0, σ_P²), where PL_tw is
the loss through the external wall and PL_in = 0.5 dB/m × d2D-in the loss inside the building.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from cellsim.errors import ParameterError

__all__ = [
    "O2I_MODELS",
    "Tr36873Fixed",
    "Tr38901HighLoss",
    "Tr38901LowLoss",
    "concrete_loss_db",
    "draw_indoor_distance_m",
    "draw_o2i_loss_db",
    "glass_loss_db",
    "irr_glass_loss_db",
]

INDOOR_LOSS_DB_PER_M = 0.5
"""PL_in slope, dB per metre of indoor 2D distance (TR 38.901 Table 7.4.3-2, TR 36.873)."""

O2I_MODELS = ("tr38901", "tr36873")
"""Accepted values of ``draw_o2i_loss_db(model=...)``."""


def glass_loss_db(fc_ghz: ArrayLike) -> np.ndarray:
    """Standard multi-pane glass, L_glass = 2 + 0.2 fc (TR 38.901 Table 7.4.3-1)."""
    return 2.0 + 0.2 * np.asarray(fc_ghz, dtype=np.float64)


def irr_glass_loss_db(fc_ghz: ArrayLike) -> np.ndarray:
    """Infrared-reflecting (metal-coated) glass, L_IIRglass = 23 + 0.3 fc (Table 7.4.3-1)."""
    return 23.0 + 0.3 * np.asarray(fc_ghz, dtype=np.float64)


def concrete_loss_db(fc_ghz: ArrayLike) -> np.ndarray:
    """Concrete, L_concrete = 5 + 4 fc (TR 38.901 Table 7.4.3-1)."""
    return 5.0 + 4.0 * np.asarray(fc_ghz, dtype=np.float64)


def _inputs(
    fc_ghz: ArrayLike, d2d_in_m: ArrayLike, fc_range: tuple[float, float], label: str
) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast and validate (fc, d_in); report the smallest/largest offending value."""
    fc, d_in = np.broadcast_arrays(
        np.asarray(fc_ghz, dtype=np.float64), np.asarray(d2d_in_m, dtype=np.float64)
    )
    lo, hi = fc_range
    fc_allowed = f"{lo:g}–{hi:g} GHz for {label}"
    if not np.isfinite(fc).all():
        raise ParameterError("fc_ghz", float(fc[~np.isfinite(fc)].flat[0]), fc_allowed)
    if fc.size and fc.min() < lo:
        raise ParameterError("fc_ghz", float(fc.min()), fc_allowed)
    if fc.size and fc.max() > hi:
        raise ParameterError("fc_ghz", float(fc.max()), fc_allowed)
    d_allowed = "finite and ≥ 0 m"
    if not np.isfinite(d_in).all():
        raise ParameterError("d2d_in_m", float(d_in[~np.isfinite(d_in)].flat[0]), d_allowed)
    if d_in.size and d_in.min() < 0.0:
        raise ParameterError("d2d_in_m", float(d_in.min()), d_allowed)
    return fc, d_in


def _two_material_wall_db(
    l_a_db: np.ndarray, share_a: float, l_b_db: np.ndarray, share_b: float
) -> np.ndarray:
    """PL_tw = 5 − 10 log10(share_a·10^(−L_a/10) + share_b·10^(−L_b/10))."""
    return 5.0 - 10.0 * np.log10(
        share_a * 10.0 ** (-l_a_db / 10.0) + share_b * 10.0 ** (-l_b_db / 10.0)
    )


@dataclass(frozen=True)
class Tr38901LowLoss:
    """TR 38.901 Table 7.4.3-2 low-loss building: 30 % standard glass, 70 % concrete, σ_P 4.4 dB."""

    std_db: ClassVar[float] = 4.4
    fc_range_ghz: ClassVar[tuple[float, float]] = (0.5, 100.0)

    def wall_loss_db(self, fc_ghz: ArrayLike) -> np.ndarray:
        """PL_tw through the external wall."""
        fc = np.asarray(fc_ghz, dtype=np.float64)
        return _two_material_wall_db(glass_loss_db(fc), 0.3, concrete_loss_db(fc), 0.7)

    def mean_db(self, fc_ghz: ArrayLike, d2d_in_m: ArrayLike) -> np.ndarray:
        """PL_tw + PL_in (no random part)."""
        fc, d_in = _inputs(fc_ghz, d2d_in_m, self.fc_range_ghz, "TR 38.901 O2I")
        return self.wall_loss_db(fc) + INDOOR_LOSS_DB_PER_M * d_in


@dataclass(frozen=True)
class Tr38901HighLoss:
    """TR 38.901 Table 7.4.3-2 high-loss building: 70 % IRR glass, 30 % concrete, σ_P 6.5 dB."""

    std_db: ClassVar[float] = 6.5
    fc_range_ghz: ClassVar[tuple[float, float]] = (0.5, 100.0)

    def wall_loss_db(self, fc_ghz: ArrayLike) -> np.ndarray:
        """PL_tw through the external wall."""
        fc = np.asarray(fc_ghz, dtype=np.float64)
        return _two_material_wall_db(irr_glass_loss_db(fc), 0.7, concrete_loss_db(fc), 0.3)

    def mean_db(self, fc_ghz: ArrayLike, d2d_in_m: ArrayLike) -> np.ndarray:
        """PL_tw + PL_in (no random part)."""
        fc, d_in = _inputs(fc_ghz, d2d_in_m, self.fc_range_ghz, "TR 38.901 O2I")
        return self.wall_loss_db(fc) + INDOOR_LOSS_DB_PER_M * d_in


@dataclass(frozen=True)
class Tr36873Fixed:
    """TR 36.873 §7.2 O2I: PL_tw = 20 dB at any frequency, PL_in = 0.5 d_in, no random part."""

    std_db: ClassVar[float] = 0.0
    fc_range_ghz: ClassVar[tuple[float, float]] = (0.1, 100.0)
    wall_db: ClassVar[float] = 20.0

    def wall_loss_db(self, fc_ghz: ArrayLike) -> np.ndarray:
        """PL_tw = 20 dB."""
        return np.full(np.shape(fc_ghz), self.wall_db, dtype=np.float64)

    def mean_db(self, fc_ghz: ArrayLike, d2d_in_m: ArrayLike) -> np.ndarray:
        """PL_tw + PL_in."""
        fc, d_in = _inputs(fc_ghz, d2d_in_m, self.fc_range_ghz, "TR 36.873 O2I")
        return self.wall_loss_db(fc) + INDOOR_LOSS_DB_PER_M * d_in


def draw_o2i_loss_db(
    rng: np.random.Generator | None,
    fc_ghz: ArrayLike,
    d2d_in_m: ArrayLike,
    high_loss_mask: ArrayLike = False,
    model: str = "tr38901",
) -> np.ndarray:
    """Per-UE O2I loss in dB, including the random N(0, σ_P²) part.

    ``model="tr38901"``: low-loss or high-loss building per UE (``high_loss_mask`` True → high
    loss), each with its own σ_P. ``model="tr36873"``: 20 dB + 0.5 d_in, deterministic; the mask
    is ignored and ``rng`` may be None. Inputs broadcast together.
    """
    if model == "tr36873":
        return np.asarray(Tr36873Fixed().mean_db(fc_ghz, d2d_in_m), dtype=np.float64)
    if model != "tr38901":
        raise ParameterError("o2i_model", model, "one of: " + ", ".join(O2I_MODELS))
    if rng is None:
        raise TypeError("draw_o2i_loss_db(model='tr38901') needs a numpy.random.Generator")
    low, high = Tr38901LowLoss(), Tr38901HighLoss()
    fc, d_in = _inputs(fc_ghz, d2d_in_m, low.fc_range_ghz, "TR 38.901 O2I")
    fc, d_in, high_b = np.broadcast_arrays(fc, d_in, np.asarray(high_loss_mask, dtype=bool))
    mean = np.where(high_b, high.wall_loss_db(fc), low.wall_loss_db(fc))
    mean = mean + INDOOR_LOSS_DB_PER_M * d_in
    sigma = np.where(high_b, high.std_db, low.std_db)
    return np.asarray(mean + sigma * rng.standard_normal(mean.shape), dtype=np.float64)


def draw_indoor_distance_m(
    rng: np.random.Generator, n: int | tuple[int, ...], max_m: float = 25.0
) -> np.ndarray:
    """Indoor 2D distance d2D-in = min of two U(0, max_m) draws (TR 38.901 §7.4.3).

    max_m is 25 m for UMa/UMi and 10 m for RMa; the mean is max_m/3.
    """
    if isinstance(max_m, bool) or not (math.isfinite(float(max_m)) and float(max_m) > 0.0):
        raise ParameterError("max_m", max_m, "a finite distance > 0 m")
    shape = (n,) if isinstance(n, (int, np.integer)) else tuple(n)
    if any(int(s) < 0 for s in shape):
        raise ParameterError("n", n, "a non-negative count")
    u = rng.uniform(0.0, float(max_m), size=(2, *shape))
    return np.asarray(np.minimum(u[0], u[1]), dtype=np.float64)
