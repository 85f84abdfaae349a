"""Thermal noise at the receiver."""

from __future__ import annotations

import numpy as np

THERMAL_NOISE_DBM_PER_HZ = -174.0
SUBCARRIER_SPACING_HZ = 15e3
SUBCARRIERS_PER_PRB = 12


def noise_power_dbm(bandwidth_hz: float, noise_figure_db: float) -> float:
    """kTB·NF over `bandwidth_hz` (−174 dBm/Hz at 290 K)."""
    return THERMAL_NOISE_DBM_PER_HZ + 10.0 * np.log10(bandwidth_hz) + noise_figure_db


def noise_per_re_dbm(
    noise_figure_db: float, subcarrier_spacing_hz: float = SUBCARRIER_SPACING_HZ
) -> float:
    """Noise in one resource element, so SINR = RSRP / (Σ other RSRP + this)."""
    return noise_power_dbm(subcarrier_spacing_hz, noise_figure_db)


def power_per_re_dbm(tx_power_dbm: float | np.ndarray, n_prb: int) -> float | np.ndarray:
    """A cell's power spread evenly over its 12·N_PRB subcarriers (46 dBm, 50 PRB → 18.2 dBm)."""
    return tx_power_dbm - 10.0 * np.log10(SUBCARRIERS_PER_PRB * n_prb)
