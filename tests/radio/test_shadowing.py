"""Spatially correlated Gaussian fields (shadow fading, LOS state): moments, spatial correlation
exp(−d/d_corr), inter-site correlation ρ, reproducibility and parameter checks.

Only the public function `correlated_site_fields` is used, at generic (off-grid) positions, so
the tests hold whatever grid the implementation uses. Tolerances come from the sample size: the
standard error of every estimate is computed from the spread of independent replicates (fields
are drawn independently; points are ≥ 6 decorrelation distances apart where independence is
needed, e^−6 ≈ 0.0025).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cellsim.errors import ParameterError
from cellsim.radio.shadowing import correlated_site_fields


def _lattice(nx, ny, spacing, rng, jitter):
    """Points on an nx × ny lattice with uniform random jitter in [0, jitter)² (off any grid)."""
    ij = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij"), -1).reshape(-1, 2)
    return ij * spacing + rng.uniform(0.0, jitter, (nx * ny, 2))


# --------------------------------------------------------------------------- one-point moments


def test_unit_normal_marginals():
    """Mean 0 and variance 1 at every point. 100 points 6·d_corr apart (independent) × 200
    fields = N = 20 000 samples: the mean has standard error 1/√N = 0.007 and the sample
    variance √(2/N) = 0.010; tolerance 4 standard errors. The fourth moment (3 for a Gaussian,
    standard error √(96/N) = 0.07) checks the shape, not only the scale."""
    rng = np.random.default_rng(20)
    d_corr = 50.0
    pts = _lattice(10, 10, 6 * d_corr, rng, jitter=d_corr)
    z = correlated_site_fields(rng, pts, 200, d_corr)
    assert z.shape == (200, 100)
    assert z.dtype == np.float64
    n = z.size
    assert abs(z.mean()) < 4.0 / math.sqrt(n)
    assert z.var() == pytest.approx(1.0, abs=4.0 * math.sqrt(2.0 / n))
    assert np.mean(z**4) == pytest.approx(3.0, abs=4.0 * math.sqrt(96.0 / n))
    # no point is special: every point's variance over the 200 fields is χ²-consistent with 1
    # (standard error √(2/200) = 0.1; 5 standard errors keeps 100 points clear of false alarms)
    np.testing.assert_allclose(z.var(axis=0), 1.0, atol=0.5)


# --------------------------------------------------------------------------- spatial correlation


@pytest.fixture(scope="module")
def lag_samples():
    """800 fields at 128 base points (a non-square 16 × 8 lattice, 3·d_corr apart, random
    offsets) and, per base point, partners at lags 0.5, 1 and 2·d_corr in random directions."""
    rng = np.random.default_rng(21)
    d_corr = 37.0
    base = _lattice(16, 8, 3 * d_corr, rng, jitter=d_corr)
    lags = np.array([0.5, 1.0, 2.0])
    parts = []
    for lag in lags:
        theta = rng.uniform(0.0, 2 * np.pi, len(base))
        parts.append(base + lag * d_corr * np.c_[np.cos(theta), np.sin(theta)])
    pts = np.vstack([base, *parts])
    z = correlated_site_fields(rng, pts, 800, d_corr)
    nb = len(base)
    return lags, z[:, :nb], [z[:, nb * (k + 1) : nb * (k + 2)] for k in range(len(lags))]


def test_spatial_correlation_is_exponential(lag_samples):
    """E[z(p) z(p + d)] = exp(−d/d_corr), in particular e^−1 at d = d_corr.

    Each field gives an unbiased estimate (mean of z·z over 128 pairs); the 800 fields are
    independent, so the standard error (≈ 0.004) comes from their spread. Tolerance: 4 standard
    errors plus 0.02 for the spatial discretisation of the field (0.02 at lag d_corr is a ±5 %
    error on d_corr, finer than the two significant digits of the 3GPP values, 37 m / 50 m)."""
    lags, zb, partners = lag_samples
    for lag, zp in zip(lags, partners, strict=True):
        per_field = (zb * zp).mean(axis=1)
        se = per_field.std(ddof=1) / math.sqrt(len(per_field))
        assert se < 0.01
        assert per_field.mean() == pytest.approx(math.exp(-lag), abs=4 * se + 0.02), lag


def test_correlation_decreases_with_lag(lag_samples):
    lags, zb, partners = lag_samples
    r = [float((zb * zp).mean()) for zp in partners]
    assert r[0] > r[1] > r[2] > 0.05
    # exponential, not Gaussian: r(2 d)/r(d) = r(d) ≈ e^−1 (a Gaussian ACF would give e^−3)
    assert r[2] / r[1] == pytest.approx(r[1], abs=0.06)


def test_distant_points_are_uncorrelated():
    """Points 10·d_corr apart (exp(−10) ≈ 4.5e−5): correlation 0 within 4 standard errors."""
    rng = np.random.default_rng(22)
    d_corr = 50.0
    a = _lattice(6, 6, 12 * d_corr, rng, jitter=d_corr)
    theta = rng.uniform(0, 2 * np.pi, len(a))
    b = a + 10 * d_corr * np.c_[np.cos(theta), np.sin(theta)]
    z = correlated_site_fields(rng, np.vstack([a, b]), 300, d_corr)
    per_field = (z[:, : len(a)] * z[:, len(a) :]).mean(axis=1)
    se = per_field.std(ddof=1) / math.sqrt(len(per_field))
    assert abs(per_field.mean()) < 4 * se


def test_decorrelation_distance_scales_the_field():
    """The correlation depends on d/d_corr only: the same pairs at 4× the distance with 4× the
    decorrelation distance give the same correlation (within the sampling tolerance)."""
    rng = np.random.default_rng(23)
    estimates = []
    for scale in (1.0, 4.0):
        d_corr = 20.0 * scale
        base = _lattice(10, 10, 4 * d_corr, rng, jitter=d_corr)
        theta = rng.uniform(0, 2 * np.pi, len(base))
        part = base + d_corr * np.c_[np.cos(theta), np.sin(theta)]
        z = correlated_site_fields(rng, np.vstack([base, part]), 300, d_corr)
        per_field = (z[:, :100] * z[:, 100:]).mean(axis=1)
        estimates.append((per_field.mean(), per_field.std(ddof=1) / math.sqrt(len(per_field))))
    (r1, se1), (r2, se2) = estimates
    assert abs(r1 - r2) < 4 * math.hypot(se1, se2)
    assert r1 == pytest.approx(math.exp(-1.0), abs=4 * se1 + 0.02)


# --------------------------------------------------------------------------- inter-site correlation


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_inter_site_correlation(rho):
    """z_s and z_t (s ≠ t) at the same point have correlation ρ and each keeps variance 1.

    256 points 6·d_corr apart × 10 independent calls (each with its own common field) give 2560
    independent replicates of the per-point estimate mean_{s<t} z_s·z_t; its standard error
    comes from their spread (≈ 0.015 for ρ = 0.5); tolerance 4 standard errors."""
    rng = np.random.default_rng(24)
    d_corr = 50.0
    n_sites = 4
    pts = _lattice(16, 16, 6 * d_corr, rng, jitter=d_corr)
    est, all_z = [], []
    iu = np.triu_indices(n_sites, k=1)
    for _ in range(10):
        z = correlated_site_fields(rng, pts, n_sites, d_corr, inter_site_correlation=rho)
        assert z.shape == (n_sites, len(pts))
        prod = z[:, None, :] * z[None, :, :]  # (S, S, n)
        est.append(prod[iu].mean(axis=0))
        all_z.append(z)
    est = np.concatenate(est)
    se = est.std(ddof=1) / math.sqrt(len(est))
    assert est.mean() == pytest.approx(rho, abs=4 * se)
    z = np.concatenate(all_z, axis=1)  # (S, 2560)
    # each site's field still has unit variance (standard error √(2/2560) ≈ 0.028)
    np.testing.assert_allclose(z.var(axis=1), 1.0, atol=4 * math.sqrt(2.0 / z.shape[1]))


def test_inter_site_correlation_extremes():
    rng = np.random.default_rng(25)
    pts = _lattice(8, 8, 300.0, rng, jitter=50.0)
    one = correlated_site_fields(rng, pts, 5, 50.0, inter_site_correlation=1.0)
    for s in range(1, 5):
        np.testing.assert_allclose(one[s], one[0], rtol=0, atol=1e-12)
    assert one[0].std() > 0.5  # a real field, not zeros
    # ρ = 0: independent sites, 64 points × 45 pairs of 10 sites
    zero = correlated_site_fields(rng, pts, 10, 50.0, inter_site_correlation=0.0)
    iu = np.triu_indices(10, k=1)
    est = (zero[:, None, :] * zero[None, :, :])[iu].ravel()
    assert abs(est.mean()) < 4 * est.std(ddof=1) / math.sqrt(len(est))


def test_sites_have_distinct_fields_by_default():
    rng = np.random.default_rng(26)
    pts = _lattice(5, 5, 300.0, rng, jitter=50.0)
    z = correlated_site_fields(rng, pts, 3, 50.0)
    assert not np.allclose(z[0], z[1])
    assert not np.allclose(z[1], z[2])


# --------------------------------------------------------------------------- reproducibility


def test_same_seed_same_fields_different_seed_different():
    pts = _lattice(7, 5, 80.0, np.random.default_rng(0), jitter=30.0)
    a = correlated_site_fields(np.random.default_rng(123), pts, 3, 50.0, 0.5)
    b = correlated_site_fields(np.random.default_rng(123), pts, 3, 50.0, 0.5)
    c = correlated_site_fields(np.random.default_rng(124), pts, 3, 50.0, 0.5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == c.shape == (3, len(pts))
    assert not np.allclose(a, c)
    # and the field consumes the generator: a second draw from it differs
    rng = np.random.default_rng(123)
    first = correlated_site_fields(rng, pts, 3, 50.0, 0.5)
    second = correlated_site_fields(rng, pts, 3, 50.0, 0.5)
    np.testing.assert_array_equal(first, a)
    assert not np.allclose(first, second)


# --------------------------------------------------------------------------- parameter checks


@pytest.mark.parametrize("rho", [-0.1, 1.01, 2.0, float("nan")])
def test_bad_inter_site_correlation(rho):
    with pytest.raises(ParameterError):
        correlated_site_fields(np.random.default_rng(0), np.zeros((4, 2)), 3, 50.0, rho)


@pytest.mark.parametrize("d_corr", [0.0, -10.0, float("nan")])
def test_bad_decorrelation_distance(d_corr):
    with pytest.raises(ParameterError):
        correlated_site_fields(np.random.default_rng(0), np.zeros((4, 2)), 3, d_corr)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="correlated_site_fields: an infinite decorrelation distance passes the '> 0' check "
    "and silently returns NaN fields (should raise ParameterError or give finite values)",
)
def test_infinite_decorrelation_distance_is_rejected_or_finite():
    pts = np.array([[0.0, 0.0], [10.0, 5.0], [30.0, -2.0]])
    with np.errstate(all="ignore"):
        try:
            z = correlated_site_fields(np.random.default_rng(0), pts, 2, float("inf"))
        except ParameterError:
            return
    assert np.isfinite(z).all()
