"""Spatially correlated Gaussian fields (shadow fading, LOS state): moments, spatial correlation
exp(−d/d_corr), inter-site correlation ρ, reproducibility and parameter checks.

Only the public function `correlated_site_fields` is used, at generic (off-grid) positions, so
the tests hold whatever grid the implementation uses. Tolerances come from the sample size: the
standard error of every estimate is computed from the spread of independent replicates (fields
are drawn independently; points are ≥ 4 decorrelation distances apart where independence across
points is needed, e^−4 ≈ 0.02).
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


# --------------------------------------------------------------------------- one field

D_CORR = 37.0  # TR 38.901 UMa LOS shadowing decorrelation distance
N_FIELDS = 1500


@pytest.fixture(scope="module")
def field_samples():
    """1500 independent fields at 1200 random points of a 16 × 9.6 d_corr box (non-square, so
    that a mix-up of the two axes shows), and all point pairs with their distances."""
    rng = np.random.default_rng(21)
    pts = rng.uniform(0.0, 16 * D_CORR, (1200, 2)) * np.array([1.0, 0.6])
    z = correlated_site_fields(rng, pts, N_FIELDS, D_CORR)
    i, j = np.triu_indices(len(pts), k=1)
    delta = pts[j] - pts[i]
    return z, pts, i, j, delta


def _mean_and_se(per_field):
    """Mean of per-field estimates and its standard error (the fields are independent)."""
    return float(per_field.mean()), float(per_field.std(ddof=1) / math.sqrt(len(per_field)))


def test_field_shape_and_type(field_samples):
    z, pts, *_ = field_samples
    assert z.shape == (N_FIELDS, len(pts))
    assert z.dtype == np.float64
    assert np.isfinite(z).all()


def test_unit_normal_marginals(field_samples):
    """Mean 0, variance 1 and fourth moment 3 (Gaussian). Each field gives one estimate of each
    (an average over its 1200 points); the standard errors (≈ 0.005, 0.006, 0.03) come from the
    spread over the 1500 independent fields. Tolerance: 4 standard errors."""
    z, *_ = field_samples
    for moment, expected in ((z, 0.0), (z**2, 1.0), (z**4, 3.0)):
        mean, se = _mean_and_se(moment.mean(axis=1))
        assert se < 0.05
        assert mean == pytest.approx(expected, abs=4 * se)
    # no point is special: each point's variance over the 1500 fields is 1 (standard error
    # √(2/1500) ≈ 0.037; 5 standard errors keep 1200 points clear of false alarms)
    np.testing.assert_allclose(z.var(axis=0), 1.0, atol=5 * math.sqrt(2.0 / N_FIELDS))


@pytest.mark.parametrize("lag", [0.5, 1.0, 2.0])
def test_spatial_correlation_is_exponential(field_samples, lag):
    """E[z(p) z(q)] = exp(−|p − q|/d_corr), in particular e^−1 at |p − q| = d_corr.

    Pairs with a distance within ±10 % of the lag (1000s of pairs); the expected value is the
    average of exp(−d/d_corr) over exactly those pairs. Standard error (≈ 0.003) from the spread
    over the 1500 fields; tolerance 4 standard errors plus 0.02 for the spatial discretisation
    of the field (0.02 at lag d_corr is a ±5 % error on d_corr, finer than the two significant
    digits of the 3GPP values, 37 m / 50 m)."""
    z, _, i, j, delta = field_samples
    d = np.hypot(delta[:, 0], delta[:, 1]) / D_CORR
    sel = np.abs(d - lag) <= 0.1 * lag
    assert sel.sum() > 1000
    expected = float(np.exp(-d[sel]).mean())
    mean, se = _mean_and_se((z[:, i[sel]] * z[:, j[sel]]).mean(axis=1))
    assert se < 0.006
    assert mean == pytest.approx(expected, abs=4 * se + 0.02)


def test_spatial_correlation_is_isotropic(field_samples):
    """At lag d_corr, pairs mostly along x and pairs mostly along y correlate equally (within 4
    combined standard errors): the grid's two axes are not mixed up or scaled differently."""
    z, _, i, j, delta = field_samples
    d = np.hypot(delta[:, 0], delta[:, 1]) / D_CORR
    ring = np.abs(d - 1.0) <= 0.1
    along_x = ring & (np.abs(delta[:, 0]) > 2 * np.abs(delta[:, 1]))
    along_y = ring & (np.abs(delta[:, 1]) > 2 * np.abs(delta[:, 0]))
    rx, sx = _mean_and_se((z[:, i[along_x]] * z[:, j[along_x]]).mean(axis=1))
    ry, sy = _mean_and_se((z[:, i[along_y]] * z[:, j[along_y]]).mean(axis=1))
    assert abs(rx - ry) < 4 * math.hypot(sx, sy)
    assert rx == pytest.approx(math.exp(-1.0), abs=4 * sx + 0.03)


def test_distant_points_are_uncorrelated(field_samples):
    """Pairs more than 9·d_corr apart (exp(−9) ≈ 1e−4): correlation 0 within 4 standard errors
    (no periodic wrap-around of the field correlates the far ends of the box)."""
    z, _, i, j, delta = field_samples
    far = np.flatnonzero(np.hypot(delta[:, 0], delta[:, 1]) > 9 * D_CORR)
    assert len(far) > 5000
    far = far[:: len(far) // 5000]  # a few thousand pairs are plenty
    mean, se = _mean_and_se((z[:, i[far]] * z[:, j[far]]).mean(axis=1))
    assert abs(mean) < 4 * se


# --------------------------------------------------------------------------- inter-site correlation


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_inter_site_correlation(rho):
    """z_s and z_t (s ≠ t) at the same point have correlation ρ and each keeps variance 1.

    144 points ≥ 4·d_corr apart × 12 independent calls (each with its own common field) give
    1728 nearly independent replicates of the per-point estimate mean_{s<t} z_s·z_t; its
    standard error comes from their spread (≈ 0.018 for ρ = 0.5); tolerance 4 standard errors."""
    rng = np.random.default_rng(24)
    d_corr = 50.0
    n_sites = 4
    pts = _lattice(12, 12, 5 * d_corr, rng, jitter=d_corr)
    est, all_z = [], []
    iu = np.triu_indices(n_sites, k=1)
    for _ in range(12):
        z = correlated_site_fields(rng, pts, n_sites, d_corr, inter_site_correlation=rho)
        assert z.shape == (n_sites, len(pts))
        prod = z[:, None, :] * z[None, :, :]  # (S, S, n)
        est.append(prod[iu].mean(axis=0))
        all_z.append(z)
    est = np.concatenate(est)
    se = est.std(ddof=1) / math.sqrt(len(est))
    assert est.mean() == pytest.approx(rho, abs=4 * se)
    z = np.concatenate(all_z, axis=1)  # (S, 1728)
    # each site's field still has unit variance (standard error √(2/1728) ≈ 0.034)
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


def test_infinite_decorrelation_distance_is_rejected_or_finite():
    pts = np.array([[0.0, 0.0], [10.0, 5.0], [30.0, -2.0]])
    with np.errstate(all="ignore"):
        try:
            z = correlated_site_fields(np.random.default_rng(0), pts, 2, float("inf"))
        except ParameterError:
            return
    assert np.isfinite(z).all()
