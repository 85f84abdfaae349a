"""Antenna patterns: TR 36.814 3D sector, TR 38.901 element and vertical array, fast-path split."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cellsim.errors import ParameterError
from cellsim.radio.angles import to_antenna_frame
from cellsim.radio.antenna import (
    AntennaPattern,
    Tr36814Sector,
    Tr38901Array,
    VerticalTable,
    make_antenna,
)

# --------------------------------------------------------------------------- TR 36.814 sector


@pytest.mark.parametrize("tilt", [0.0, 6.0, 12.0])
def test_36814_peak_and_vertical_half_power(tilt):
    ant = Tr36814Sector()
    assert ant.peak_gain_dbi == 14.0
    assert ant.gain_dbi(0.0, tilt, tilt) == pytest.approx(14.0, abs=1e-12)
    g = ant.gain_dbi(0.0, [tilt - 5.0, tilt + 5.0], tilt)
    np.testing.assert_allclose(g, 11.0, atol=0.01)


def test_36814_horizontal_half_power():
    ant = Tr36814Sector()
    g = ant.gain_dbi([-35.0, 35.0], 0.0, 0.0)
    np.testing.assert_allclose(g, 11.0, atol=0.01)


def test_36814_floors():
    ant = Tr36814Sector()
    # Vertical side-lobe level: 20 dB below the peak, 40 deg off the tilted beam.
    assert ant.gain_dbi(0.0, 46.0, 6.0) == pytest.approx(14.0 - 20.0)
    assert ant.gain_dbi(0.0, -34.0, 6.0) == pytest.approx(14.0 - 20.0)
    # Front-back ratio: 25 dB below the peak behind the sector, whatever the elevation.
    np.testing.assert_allclose(ant.gain_dbi(180.0, [-30.0, 0.0, 6.0, 60.0], 6.0), 14.0 - 25.0)
    # The sum of both attenuations is capped at A_m as well.
    assert ant.gain_dbi(60.0, 40.0, 0.0) == pytest.approx(14.0 - 25.0)


def test_36814_off_axis_point_by_hand():
    ant = Tr36814Sector()
    # phi = 30 deg, theta = 10 deg below horizon, tilt 4 deg:
    # A_H = -12 (30/70)^2 = -2.204082, A_V = -12 (6/10)^2 = -4.32, sum -6.524082 > -25.
    expected = 14.0 - 12.0 * (30.0 / 70.0) ** 2 - 12.0 * 0.6**2
    assert ant.gain_dbi(30.0, 10.0, 4.0) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(7.475918, abs=1e-6)


def test_36814_configurable_fields():
    ant = Tr36814Sector(
        phi_3db_deg=65.0, theta_3db_deg=6.5, a_m_db=30.0, sla_v_db=30.0, max_gain_dbi=17.0
    )
    assert ant.peak_gain_dbi == 17.0
    assert ant.gain_dbi(0.0, 3.25 + 2.0, 2.0) == pytest.approx(14.0)
    assert ant.gain_dbi(180.0, 0.0, 0.0) == pytest.approx(-13.0)


def test_36814_mechanical_equals_electrical_on_boresight():
    ant = Tr36814Sector()
    down = np.linspace(-30.0, 60.0, 181)
    for beta in (0.0, 4.0, 10.0):
        g_mech = ant.gain_dbi(0.0, down, 0.0, beta)
        g_elec = ant.gain_dbi(0.0, down, beta, 0.0)
        np.testing.assert_allclose(g_mech, g_elec, atol=1e-9)
        assert down[np.argmax(g_mech)] == pytest.approx(beta)


def test_36814_mechanical_tilt_widens_off_boresight():
    """Off the boresight a mechanical tilt lowers the beam by less than on it (a rotation)."""
    ant = Tr36814Sector()
    phi = 60.0
    down = np.linspace(-10.0, 30.0, 4001)
    g = ant.gain_dbi(phi, down, 0.0, 10.0)
    assert 0.0 < down[np.argmax(g)] < 10.0


# --------------------------------------------------------------------------- TR 38.901 element


def test_38901_element_alone():
    ant = Tr38901Array()  # M = 1
    assert ant.peak_gain_dbi == 8.0
    assert ant.gain_dbi(0.0, 0.0, 0.0) == pytest.approx(8.0)
    np.testing.assert_allclose(ant.gain_dbi(0.0, [-32.5, 32.5], 0.0), 5.0, atol=0.01)
    np.testing.assert_allclose(ant.gain_dbi([-32.5, 32.5], 0.0, 0.0), 5.0, atol=0.01)
    # Floors: A_max behind and for the sum (SLA_V = 30 dB is never reached for theta_3dB = 65
    # deg within +-90 deg of the horizon: straight down is 12 (90/65)^2 = 23 dB down).
    assert ant.gain_dbi(0.0, 90.0, 0.0) == pytest.approx(8.0 - 12.0 * (90.0 / 65.0) ** 2)
    assert Tr38901Array(theta_3db_deg=30.0).gain_dbi(0.0, 80.0, 0.0) == pytest.approx(8.0 - 30.0)
    assert ant.gain_dbi(180.0, 0.0, 0.0) == pytest.approx(8.0 - 30.0)
    assert ant.gain_dbi(100.0, 40.0, 0.0) == pytest.approx(8.0 - 30.0)
    # Electrical tilt does nothing to a single element.
    np.testing.assert_array_equal(ant.gain_dbi(10.0, 20.0, 0.0), ant.gain_dbi(10.0, 20.0, 12.0))


def test_38901_element_by_hand():
    ant = Tr38901Array()
    expected = 8.0 - 12.0 * (20.0 / 65.0) ** 2 - 12.0 * (40.0 / 65.0) ** 2
    assert ant.gain_dbi(40.0, 20.0, 0.0) == pytest.approx(expected, abs=1e-12)


# --------------------------------------------------------------------------- TR 38.901 array


def _element_db(ant: Tr38901Array, az, down):
    """Element pattern by hand (TR 38.901 Table 7.3-1), to strip it from the array gain."""
    a_v = -np.minimum(12.0 * (np.asarray(down) / ant.theta_3db_deg) ** 2, ant.sla_v_db)
    a_h = -np.minimum(12.0 * (np.asarray(az) / ant.phi_3db_deg) ** 2, ant.a_max_db)
    return np.maximum(a_v + a_h, -ant.a_max_db)


@pytest.mark.parametrize("m", [1, 4, 10])
@pytest.mark.parametrize("tilt", [0.0, 6.0, 12.0])
def test_array_peak_at_tilt(m, tilt):
    ant = Tr38901Array(n_elements=m)
    assert ant.peak_gain_dbi == pytest.approx(8.0 + 10.0 * math.log10(m))
    # At down = tilt the array factor gives its full 10 log10 M on top of the element.
    g = ant.gain_dbi(0.0, tilt, tilt)
    assert g == pytest.approx(ant.peak_gain_dbi + _element_db(ant, 0.0, tilt), abs=1e-9)
    # ... and that is the maximum of the array factor over all elevations.
    down = np.linspace(-90.0, 90.0, 36001)
    af_db = ant.gain_dbi(0.0, down, tilt) - 8.0 - _element_db(ant, 0.0, down)
    assert af_db.max() == pytest.approx(10.0 * math.log10(m), abs=1e-9)
    if m > 1:
        assert down[np.argmax(af_db)] == pytest.approx(tilt, abs=0.005)
    assert np.all(ant.gain_dbi(0.0, down, tilt) <= ant.peak_gain_dbi + 1e-9)


def test_array_af_matches_explicit_sum():
    """The closed form equals |sum_m w_m a_m|^2 of TR 38.901 §7.3 written out term by term."""
    m, d, tilt = 8, 0.7, 9.0
    ant = Tr38901Array(n_elements=m, spacing_wavelengths=d)
    down = np.linspace(-90.0, 90.0, 721)
    cz = np.cos(np.radians(90.0 + down))
    cz_t = np.cos(np.radians(90.0 + tilt))
    k = np.arange(m)[:, None]
    w = np.exp(-2j * np.pi * k * d * cz_t) / np.sqrt(m)
    a = np.exp(2j * np.pi * k * d * cz[None, :])
    af = np.abs(np.sum(w * a, axis=0)) ** 2
    expected = 8.0 + _element_db(ant, 0.0, down) + 10.0 * np.log10(np.maximum(af, 1e-30))
    g = ant.gain_dbi(0.0, down, tilt)
    ok = af > 1e-8  # away from exact nulls both sides agree to round-off
    np.testing.assert_allclose(g[ok], expected[ok], atol=1e-6)


def test_array_half_power_beamwidth_m10():
    ant = Tr38901Array(n_elements=10, spacing_wavelengths=0.5)
    # Array factor alone: AF/M = 1/2 at sin(down) = y_h with sin^2(5 pi y)/(100 sin^2(pi y/2))
    # = 1/2; solve densely in sin-space.
    y = np.linspace(0.0, 0.2, 2_000_001)
    af_rel = np.sin(5 * np.pi * y) ** 2 / (100 * np.sin(np.pi * y / 2) ** 2 + 1e-300)
    af_rel[0] = 1.0
    y_h = y[np.argmax(af_rel < 0.5)]
    half_width = math.degrees(math.asin(y_h))
    assert 4.5 < half_width < 5.5  # about 5.08 deg (0.886 / (M d) in sin-space, full width)
    # The pattern itself (element included) is 3 dB down there, up to the element's slope.
    g_edge = ant.gain_dbi(0.0, [-half_width, half_width], 0.0)
    elem = _element_db(ant, 0.0, half_width)
    np.testing.assert_allclose(g_edge, ant.peak_gain_dbi - 3.0103 + elem, atol=0.01)


@pytest.mark.parametrize("tilt", [0.0, 7.0, 14.0])
def test_array_factor_symmetric_in_sin_space(tilt):
    ant = Tr38901Array(n_elements=10)
    s_t = math.sin(math.radians(tilt))
    dy = np.linspace(0.0, 0.5, 501)
    down_hi = np.degrees(np.arcsin(s_t + dy))
    down_lo = np.degrees(np.arcsin(s_t - dy))
    af_hi = ant.gain_dbi(0.0, down_hi, tilt) - 8.0 - _element_db(ant, 0.0, down_hi)
    af_lo = ant.gain_dbi(0.0, down_lo, tilt) - 8.0 - _element_db(ant, 0.0, down_lo)
    big = af_hi > -30.0  # compare in dB away from the nulls
    np.testing.assert_allclose(af_hi[big], af_lo[big], atol=1e-6)


def test_array_mechanical_tilt_moves_peak():
    for m in (1, 10):
        ant = Tr38901Array(n_elements=m)
        down = np.linspace(-20.0, 40.0, 6001)
        for beta in (5.0, 10.0):
            g = ant.gain_dbi(0.0, down, 0.0, beta)
            assert down[np.argmax(g)] == pytest.approx(beta, abs=0.011)
            assert g.max() == pytest.approx(ant.peak_gain_dbi, abs=1e-9)


# --------------------------------------------------------------------------- fast-path split


ANTENNAS = [
    Tr36814Sector(),
    Tr38901Array(n_elements=1),
    Tr38901Array(n_elements=10),
    Tr38901Array(n_elements=10, spacing_wavelengths=0.8),
]


@pytest.mark.parametrize("ant", ANTENNAS, ids=lambda a: repr(a))
def test_fast_path_matches_reference(ant: AntennaPattern):
    rng = np.random.default_rng(42)
    n = 200_000
    az = rng.uniform(-180.0, 180.0, n)
    down = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    # Concentrate half of the points near the main beam, where the pattern is steep.
    down[: n // 2] = rng.uniform(-5.0, 25.0, n // 2)
    az[: n // 2] = rng.uniform(-60.0, 60.0, n // 2)
    etilt = rng.uniform(0.0, 15.0, n)
    mtilt = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0.0, 15.0, n))

    ref = ant.gain_dbi(az, down, etilt, mtilt)
    az_l, down_l = to_antenna_frame(az, down, mtilt)
    x, a_db, b_db = ant.static_terms(az_l, down_l)
    assert x.dtype == a_db.dtype == b_db.dtype == np.float64
    table = ant.vertical_table()
    assert table.values_lin.dtype == np.float32 and table.values_lin.ndim == 1
    with np.errstate(divide="ignore"):
        fast = 10.0 * np.log10(
            np.maximum(
                10 ** (a_db / 10) * table.lookup(x - ant.tilt_shift(etilt)), 10 ** (b_db / 10)
            )
        )
    mask = ref > ant.peak_gain_dbi - 40.0
    assert mask.mean() > 0.3
    assert np.max(np.abs(fast[mask] - ref[mask])) < 0.05
    np.testing.assert_allclose(ant.gain_dbi_tabulated(az, down, etilt, mtilt), fast)


@pytest.mark.parametrize("ant", ANTENNAS, ids=lambda a: repr(a))
def test_fast_path_dense_main_lobe(ant: AntennaPattern):
    """Dense sweep on the boresight across the main lobe and first side lobes."""
    down = np.linspace(-30.0, 45.0, 300_001)
    for tilt in (0.0, 3.3, 12.0):
        ref = ant.gain_dbi(0.0, down, tilt)
        fast = ant.gain_dbi_tabulated(0.0, down, tilt)
        mask = ref > ant.peak_gain_dbi - 40.0
        assert np.max(np.abs(fast[mask] - ref[mask])) < 0.05


@pytest.mark.parametrize("ant", ANTENNAS, ids=lambda a: repr(a))
def test_table_covers_all_tilts_and_directions(ant: AntennaPattern):
    table = ant.vertical_table()
    x, _, _ = ant.static_terms(0.0, np.array([-90.0, 90.0]))
    shifts = np.asarray(ant.tilt_shift(np.array([-90.0, 90.0])))
    y_min, y_max = x.min() - shifts.max(), x.max() - shifts.min()
    assert table.x_lo <= y_min and table.x_hi >= y_max
    # The index the engine computes stays inside the table.
    for y in (y_min, y_max):
        i = round((y - table.x_lo) / table.x_step)
        assert 0 <= i < table.values_lin.size
    assert ant.vertical_table() is table  # cached


def test_split_formulas():
    sec = Tr36814Sector()
    x, a_db, b_db = sec.static_terms([0.0, 35.0, 180.0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(a_db, [14.0, 11.0, -11.0])
    np.testing.assert_allclose(b_db, -11.0)
    assert sec.tilt_shift(6.0) == 6.0
    np.testing.assert_array_equal(sec.tilt_shift(np.array([1.0, 2.0])), [1.0, 2.0])

    arr = Tr38901Array(n_elements=4)
    x, a_db, b_db = arr.static_terms(0.0, 30.0)
    assert x == pytest.approx(0.5)
    assert a_db == pytest.approx(8.0 - 12.0 * (30.0 / 65.0) ** 2)
    assert b_db == -np.inf
    assert arr.tilt_shift(30.0) == pytest.approx(0.5)
    ones = Tr38901Array(n_elements=1).vertical_table().lookup([-2.0, 0.0, 2.0])
    np.testing.assert_array_equal(ones, 1.0)
    table = arr.vertical_table()
    assert table.lookup(0.0) == pytest.approx(4.0)


def test_vertical_table_lookup_nearest():
    t = VerticalTable(x_lo=-1.0, x_step=0.5, values_lin=np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(
        t.lookup([-1.0, -0.74, -0.76, 0.0, 1.0, 5.0, -9.0]), [0.0, 1.0, 0.0, 2.0, 4.0, 4.0, 0.0]
    )
    assert t.x_hi == 1.0


# --------------------------------------------------------------------------- factory, validation


def test_make_antenna():
    assert make_antenna("tr36814") == Tr36814Sector()
    ant = make_antenna("tr38901", n_elements=8, spacing_wavelengths=0.7)
    assert isinstance(ant, Tr38901Array)
    assert ant.n_elements == 8 and ant.spacing_wavelengths == 0.7
    assert make_antenna("tr36814", theta_3db_deg=6.5).theta_3db_deg == 6.5


def test_make_antenna_errors():
    with pytest.raises(ParameterError) as err:
        make_antenna("dipole")
    assert err.value.name == "antenna.kind"
    assert "tr36814" in err.value.allowed and "tr38901" in err.value.allowed
    with pytest.raises(ParameterError) as err:
        make_antenna("tr36814", n_elements=4, bogus=1)
    assert "bogus" in err.value.name and "n_elements" in err.value.name


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (Tr36814Sector, "phi_3db_deg", -70.0),
        (Tr36814Sector, "phi_3db_deg", 0.0),
        (Tr36814Sector, "theta_3db_deg", float("nan")),
        (Tr36814Sector, "a_m_db", -1.0),
        (Tr36814Sector, "sla_v_db", -20.0),
        (Tr36814Sector, "max_gain_dbi", float("inf")),
        (Tr36814Sector, "max_gain_dbi", "14"),
        (Tr38901Array, "theta_3db_deg", -65.0),
        (Tr38901Array, "phi_3db_deg", 0.0),
        (Tr38901Array, "sla_v_db", -1.0),
        (Tr38901Array, "a_max_db", -1.0),
        (Tr38901Array, "element_gain_dbi", float("nan")),
        (Tr38901Array, "n_elements", 0),
        (Tr38901Array, "n_elements", 2.5),
        (Tr38901Array, "n_elements", True),
        (Tr38901Array, "spacing_wavelengths", 0.0),
        (Tr38901Array, "spacing_wavelengths", -0.5),
    ],
)
def test_bad_parameters(cls, field, value):
    with pytest.raises(ParameterError) as err:
        cls(**{field: value})
    assert err.value.name == f"antenna.{field}"


def test_frozen_and_coerced():
    ant = Tr38901Array(n_elements=np.int64(4), spacing_wavelengths=1)
    assert type(ant.n_elements) is int and type(ant.spacing_wavelengths) is float
    with pytest.raises(AttributeError):
        ant.n_elements = 8  # type: ignore[misc]
