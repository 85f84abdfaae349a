"""Tests for cellsim.radio.o2i: TR 38.901 §7.4.3 and TR 36.873 building penetration loss."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cellsim.errors import ParameterError
from cellsim.radio.o2i import (
    Tr36873Fixed,
    Tr38901HighLoss,
    Tr38901LowLoss,
    draw_indoor_distance_m,
    draw_o2i_loss_db,
)

# Hand computation at 6 GHz: L_glass = 3.2, L_IIRglass = 24.8, L_concrete = 29 dB.
LOW_6GHZ = 5 - 10 * math.log10(0.3 * 10 ** (-3.2 / 10) + 0.7 * 10 ** (-29 / 10))
HIGH_6GHZ = 5 - 10 * math.log10(0.7 * 10 ** (-24.8 / 10) + 0.3 * 10 ** (-29 / 10))


def test_hand_values_at_6ghz() -> None:
    assert pytest.approx(13.402, abs=1e-3) == LOW_6GHZ
    assert pytest.approx(30.693, abs=1e-3) == HIGH_6GHZ
    assert Tr38901LowLoss().mean_db(6.0, 0.0) == pytest.approx(LOW_6GHZ)
    assert Tr38901HighLoss().mean_db(6.0, 0.0) == pytest.approx(HIGH_6GHZ)
    assert Tr38901LowLoss().mean_db(6.0, 10.0) == pytest.approx(LOW_6GHZ + 5.0)
    assert Tr38901HighLoss().mean_db(6.0, 4.0) == pytest.approx(HIGH_6GHZ + 2.0)


def test_36873_fixed() -> None:
    m = Tr36873Fixed()
    np.testing.assert_allclose(m.mean_db([2.0, 3.5], [0.0, 10.0]), [20.0, 25.0])
    assert m.std_db == 0.0


def test_std_values() -> None:
    assert Tr38901LowLoss.std_db == 4.4
    assert Tr38901HighLoss.std_db == 6.5


def test_mean_vectorised_and_increasing_in_frequency() -> None:
    fc = np.linspace(0.5, 100.0, 50)
    for m in (Tr38901LowLoss(), Tr38901HighLoss()):
        mean = m.mean_db(fc, 0.0)
        assert mean.shape == fc.shape and mean.dtype == np.float64
        assert np.all(np.diff(mean) > 0)
    assert np.all(Tr38901HighLoss().mean_db(fc, 0.0) > Tr38901LowLoss().mean_db(fc, 0.0))


def test_draw_statistics() -> None:
    rng = np.random.default_rng(7)
    n = 200_000
    mask = np.arange(n) % 2 == 1
    loss = draw_o2i_loss_db(rng, 6.0, 0.0, mask)
    assert loss.shape == (n,)
    low, high = loss[~mask], loss[mask]
    assert low.mean() == pytest.approx(LOW_6GHZ, abs=0.05)
    assert high.mean() == pytest.approx(HIGH_6GHZ, abs=0.05)
    assert low.std() == pytest.approx(4.4, rel=0.02)
    assert high.std() == pytest.approx(6.5, rel=0.02)


def test_draw_includes_indoor_distance_and_is_reproducible() -> None:
    d_in = np.array([0.0, 10.0, 20.0])
    a = draw_o2i_loss_db(np.random.default_rng(3), 3.5, d_in, False)
    b = draw_o2i_loss_db(np.random.default_rng(3), 3.5, np.zeros(3), False)
    np.testing.assert_allclose(a - b, [0.0, 5.0, 10.0])
    np.testing.assert_array_equal(a, draw_o2i_loss_db(np.random.default_rng(3), 3.5, d_in, False))


def test_draw_36873_is_deterministic() -> None:
    loss = draw_o2i_loss_db(None, 2.0, np.array([0.0, 4.0]), True, model="tr36873")
    np.testing.assert_allclose(loss, [20.0, 22.0])


def test_draw_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ParameterError, match="o2i_model"):
        draw_o2i_loss_db(rng, 3.5, 0.0, False, model="itu")
    with pytest.raises(ParameterError, match="fc_ghz"):
        draw_o2i_loss_db(rng, 150.0, 0.0, False)
    with pytest.raises(ParameterError, match="d2d_in_m"):
        draw_o2i_loss_db(rng, 3.5, np.array([1.0, -2.0]), False)
    with pytest.raises(TypeError):
        draw_o2i_loss_db(None, 3.5, 0.0, False)


def test_indoor_distance() -> None:
    rng = np.random.default_rng(11)
    d = draw_indoor_distance_m(rng, 200_000)
    assert d.shape == (200_000,)
    assert d.min() >= 0.0 and d.max() <= 25.0
    assert d.mean() == pytest.approx(25.0 / 3.0, rel=0.01)
    d_rma = draw_indoor_distance_m(rng, (100, 50), max_m=10.0)
    assert d_rma.shape == (100, 50) and d_rma.max() <= 10.0
    with pytest.raises(ParameterError, match="max_m"):
        draw_indoor_distance_m(rng, 10, max_m=0.0)
