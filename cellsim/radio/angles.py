"""Angle conventions and frame changes shared by every radio model.

Project convention: tilts and elevations are in degrees *below* the horizon (``down_deg``,
positive down); azimuths are in degrees counter-clockwise from the x-axis (east), and for
antennas relative to the boresight, wrapped to (-180, 180]. TR 38.901 writes its formulas with
zenith angles (0 = straight up, 90 = horizon); the conversion lives here and nowhere else.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "down_from_zenith_deg",
    "link_angles",
    "relative_azimuth_deg",
    "to_antenna_frame",
    "wrap_deg",
    "zenith_from_down_deg",
]

FloatArray = NDArray[np.float64]


def _f64(a: ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def zenith_from_down_deg(down_deg: ArrayLike) -> FloatArray:
    """Zenith angle (TR 38.901 theta) of a direction ``down_deg`` below the horizon: 90 + down."""
    return 90.0 + _f64(down_deg)


def down_from_zenith_deg(zenith_deg: ArrayLike) -> FloatArray:
    """Angle below the horizon of a direction at zenith angle ``zenith_deg``: zenith - 90."""
    return _f64(zenith_deg) - 90.0


def wrap_deg(a: ArrayLike) -> FloatArray:
    """Wrap angles in degrees to (-180, 180] (so that +180 and -180 both map to +180)."""
    r = np.mod(_f64(a) + 180.0, 360.0) - 180.0  # in [-180, 180)
    return np.where(r <= -180.0, r + 360.0, r)


def relative_azimuth_deg(azimuth_deg: ArrayLike, boresight_deg: ArrayLike) -> FloatArray:
    """Azimuth of a direction relative to an antenna boresight, wrapped to (-180, 180]."""
    return wrap_deg(_f64(azimuth_deg) - _f64(boresight_deg))


def link_angles(dx_m: ArrayLike, dy_m: ArrayLike, dz_m: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Global azimuth and depression angle of the vector (point - antenna).

    Returns ``(azimuth_deg, down_deg)``: azimuth counter-clockwise from east in (-180, 180],
    and the elevation of the point below the antenna's horizon (positive when the point is
    lower than the antenna). A zero vector gives (0, 0).
    """
    dx, dy, dz = _f64(dx_m), _f64(dy_m), _f64(dz_m)
    az = wrap_deg(np.degrees(np.arctan2(dy, dx)))
    down = np.degrees(np.arctan2(-dz, np.hypot(dx, dy)))
    return az, down


def to_antenna_frame(
    az_rel_deg: ArrayLike, down_deg: ArrayLike, mech_tilt_deg: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Directions seen in the frame of a panel mechanically tilted down by ``mech_tilt_deg``.

    TR 38.901 §7.1.3 rotation with bearing 0, downtilt beta = ``mech_tilt_deg`` and slant 0: the
    panel turns about the horizontal axis perpendicular to its boresight. ``az_rel_deg`` is
    the azimuth relative to the boresight and ``down_deg`` the angle below the horizon; returns
    ``(az_local_deg, down_local_deg)``, with the local azimuth in (-180, 180]. Where the
    mechanical tilt is 0 the inputs come back unchanged (bit for bit). Arrays broadcast.
    """
    az = _f64(az_rel_deg)
    down = _f64(down_deg)
    beta = _f64(mech_tilt_deg)
    phi, e, b = np.radians(az), np.radians(down), np.radians(beta)
    cos_e = np.cos(e)
    sin_e = np.sin(e)
    cos_b = np.cos(b)
    sin_b = np.sin(b)
    horiz = cos_e * np.cos(phi)
    # Direction v = (cos e cos phi, cos e sin phi, -sin e) projected on the tilted panel axes
    # x = (cos b, 0, -sin b), y = (0, 1, 0), z = (sin b, 0, cos b).
    x_l = horiz * cos_b + sin_e * sin_b
    y_l = cos_e * np.sin(phi)
    z_l = horiz * sin_b - sin_e * cos_b
    down_l = -np.degrees(np.arcsin(np.clip(z_l, -1.0, 1.0)))
    az_l = wrap_deg(np.degrees(np.arctan2(y_l, x_l)))
    untilted = beta == 0.0
    az_out = np.where(untilted, az, az_l)
    down_out = np.where(untilted, down, down_l)
    return az_out, down_out
