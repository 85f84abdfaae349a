"""Spatially correlated Gaussian fields: log-normal shadow fading and spatially consistent LOS.

A field is drawn on a regular grid by circulant embedding (FFT) of the exponential correlation
exp(−d / d_corr) of TR 38.901 §7.5 / TR 36.814, then read at arbitrary points from the nearest
grid node: every point keeps unit variance exactly and the correlation at lag d is that of the
nearest grid lag (interpolating would smooth the field and, once renormalised to unit variance,
inflate its correlation). Sites get
independent fields, mixed with one common field for an inter-site correlation ρ
(z_site = √ρ·z_common + √(1 − ρ)·z_own); the sectors of a site share their site's field.
"""

from __future__ import annotations

import numpy as np

from cellsim.errors import ParameterError

#: Grid step as a fraction of the decorrelation distance: fine enough that reading the nearest
#: node blurs nothing that matters, coarse enough that a city-sized area stays a small FFT.
GRID_STEP_FRACTION = 0.25
#: Padding around the points, in decorrelation distances, so the FFT's periodic wrap does not
#: correlate opposite edges.
PADDING_DECORRELATIONS = 4.0


def _correlation(dist_m: np.ndarray, decorrelation_m: float) -> np.ndarray:
    return np.exp(-dist_m / decorrelation_m)


class FieldGrid:
    """The grid that covers a set of points for one decorrelation distance."""

    def __init__(self, points_xy_m: np.ndarray, decorrelation_m: float):
        if not (np.isfinite(decorrelation_m) and decorrelation_m > 0):
            raise ParameterError("decorrelation_m", decorrelation_m, "a finite distance > 0 m")
        self.decorrelation_m = float(decorrelation_m)
        self.step_m = self.decorrelation_m * GRID_STEP_FRACTION
        pad = PADDING_DECORRELATIONS * self.decorrelation_m
        lo = points_xy_m.min(axis=0) - pad
        hi = points_xy_m.max(axis=0) + pad
        shape = np.ceil((hi - lo) / self.step_m).astype(int) + 2
        # FFT-friendly sizes
        self.shape = tuple(int(_next_fast_len(n)) for n in shape)
        self.origin_m = lo
        self._sqrt_spectrum = self._spectrum_sqrt()
        self._node = self._nearest_node(points_xy_m)

    def _spectrum_sqrt(self) -> np.ndarray:
        ny, nx = self.shape[1], self.shape[0]
        ix = np.minimum(np.arange(nx), nx - np.arange(nx)) * self.step_m
        iy = np.minimum(np.arange(ny), ny - np.arange(ny)) * self.step_m
        dist = np.hypot(ix[:, None], iy[None, :])
        spectrum = np.fft.rfft2(_correlation(dist, self.decorrelation_m)).real
        return np.sqrt(np.clip(spectrum, 0.0, None)).astype(np.float32)

    def _nearest_node(self, points_xy_m: np.ndarray) -> np.ndarray:
        ij = np.rint((points_xy_m - self.origin_m) / self.step_m).astype(np.intp)
        return ij[:, 0] * self.shape[1] + ij[:, 1]

    def draw(self, rng: np.random.Generator, n_fields: int) -> np.ndarray:
        """`n_fields` independent unit-variance fields read at the points: (n_fields, n_points)."""
        white = rng.standard_normal((n_fields, *self.shape), dtype=np.float32)
        fields = np.fft.irfft2(np.fft.rfft2(white) * self._sqrt_spectrum, s=self.shape)
        return fields.reshape(n_fields, -1)[:, self._node].astype(np.float64)


def _next_fast_len(n: int) -> int:
    """Smallest 2^a·3^b·5^c ≥ n, so the FFTs stay fast."""
    best = 1 << int(np.ceil(np.log2(max(n, 1))))
    f5 = 1
    while f5 < best:
        f35 = f5
        while f35 < best:
            f = f35
            while f < n:
                f *= 2
            best = min(best, f)
            f35 *= 3
        f5 *= 5
    return best


def correlated_site_fields(
    rng: np.random.Generator,
    points_xy_m: np.ndarray,
    n_sites: int,
    decorrelation_m: float,
    inter_site_correlation: float = 0.0,
) -> np.ndarray:
    """Unit-variance Gaussian fields per site at the points, (n_sites, n_points), float64."""
    if not 0.0 <= inter_site_correlation <= 1.0:
        raise ParameterError("inter_site_correlation", inter_site_correlation, "0…1")
    grid = FieldGrid(np.asarray(points_xy_m, float), decorrelation_m)
    rho = float(inter_site_correlation)
    n_fields = n_sites + (1 if rho > 0 else 0)
    z = grid.draw(rng, n_fields)
    if rho > 0:
        return np.sqrt(rho) * z[-1][None, :] + np.sqrt(1.0 - rho) * z[:n_sites]
    return z
