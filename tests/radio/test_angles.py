"""Angle conventions and the mechanical-tilt frame change (TR 38.901 §7.1.3)."""

from __future__ import annotations

import numpy as np
import pytest

from cellsim.radio.angles import (
    down_from_zenith_deg,
    link_angles,
    relative_azimuth_deg,
    to_antenna_frame,
    wrap_deg,
    zenith_from_down_deg,
)


def test_zenith_down_round_trip():
    down = np.array([-90.0, -3.0, 0.0, 6.5, 90.0])
    np.testing.assert_array_equal(zenith_from_down_deg(down), 90.0 + down)
    np.testing.assert_array_equal(down_from_zenith_deg(zenith_from_down_deg(down)), down)
    assert zenith_from_down_deg(0.0) == 90.0  # horizon
    assert zenith_from_down_deg(90.0) == 180.0  # straight down


def test_wrap_deg_range_and_edges():
    a = np.array([-540.0, -180.0, -179.5, 0.0, 179.5, 180.0, 190.0, 360.0, 540.0, 725.0])
    expected = np.array([180.0, 180.0, -179.5, 0.0, 179.5, 180.0, -170.0, 0.0, 180.0, 5.0])
    np.testing.assert_allclose(wrap_deg(a), expected, atol=1e-12)
    rng = np.random.default_rng(0)
    w = wrap_deg(rng.uniform(-2000, 2000, 10_000))
    assert np.all((w > -180.0) & (w <= 180.0))


def test_relative_azimuth():
    assert relative_azimuth_deg(170.0, -170.0) == pytest.approx(-20.0)
    assert relative_azimuth_deg(-170.0, 170.0) == pytest.approx(20.0)


def test_link_angles():
    az, down = link_angles(
        [1.0, 0.0, -1.0, 0.0, 100.0], [0.0, 1.0, 0.0, -1.0, 0.0], [0.0, 0.0, 0.0, 0.0, -100.0]
    )
    np.testing.assert_allclose(az, [0.0, 90.0, 180.0, -90.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(down, [0.0, 0.0, 0.0, 0.0, 45.0], atol=1e-12)
    # A point above the antenna has a negative down angle; straight below is +90.
    assert link_angles(10.0, 0.0, 10.0)[1] == pytest.approx(-45.0)
    assert link_angles(0.0, 0.0, -5.0)[1] == pytest.approx(90.0)
    # Broadcasting.
    az, down = link_angles(np.ones((3, 1)), np.zeros((1, 4)), -1.0)
    assert az.shape == down.shape == (3, 4)


def test_to_antenna_frame_zero_tilt_is_identity():
    rng = np.random.default_rng(1)
    az = rng.uniform(-180, 180, 1000)
    down = rng.uniform(-90, 90, 1000)
    az_l, down_l = to_antenna_frame(az, down, 0.0)
    np.testing.assert_array_equal(az_l, az)
    np.testing.assert_array_equal(down_l, down)


def test_to_antenna_frame_boresight_and_sideways():
    beta = 8.0
    # On the boresight the mechanical tilt simply subtracts from the down angle.
    az_l, down_l = to_antenna_frame(0.0, [0.0, 8.0, 20.0], beta)
    np.testing.assert_allclose(down_l, [-8.0, 0.0, 12.0], atol=1e-12)
    np.testing.assert_allclose(az_l, 0.0, atol=1e-12)
    # Behind the panel it adds (the back of the panel is tilted up).
    _, down_l = to_antenna_frame(180.0, 0.0, beta)
    assert down_l == pytest.approx(8.0)
    # Exactly sideways on the horizon the rotation axis is the direction itself.
    az_l, down_l = to_antenna_frame(90.0, 0.0, beta)
    assert az_l == pytest.approx(90.0)
    assert down_l == pytest.approx(0.0, abs=1e-12)


def test_to_antenna_frame_is_a_rotation():
    """Tilting by beta then by -beta in the local frame gives the original direction back."""
    rng = np.random.default_rng(2)
    az = rng.uniform(-180, 180, 2000)
    down = rng.uniform(-85, 85, 2000)
    beta = rng.uniform(-15, 15, 2000)
    az_l, down_l = to_antenna_frame(az, down, beta)
    az_b, down_b = to_antenna_frame(az_l, down_l, -beta)
    np.testing.assert_allclose(down_b, down, atol=1e-9)
    np.testing.assert_allclose(wrap_deg(az_b - az), 0.0, atol=1e-9)
    assert np.all((az_l > -180.0) & (az_l <= 180.0))


def test_to_antenna_frame_broadcasts_per_cell_tilts():
    az = np.zeros((1, 5))
    down = np.linspace(0, 20, 5)[None, :]
    beta = np.array([[0.0], [5.0], [10.0]])
    az_l, down_l = to_antenna_frame(az, down, beta)
    assert az_l.shape == down_l.shape == (3, 5)
    np.testing.assert_allclose(down_l, down - beta, atol=1e-12)
