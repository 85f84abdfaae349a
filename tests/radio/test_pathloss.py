"""Tests for cellsim.radio.pathloss: ns-3 reference vectors, hand-computed values, validity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cellsim.errors import ParameterError
from cellsim.radio.pathloss import (
    PATHLOSS_MODELS,
    PathLossModel,
    Tr38901RMa,
    draw_uma_effective_height_m,
    make_pathloss,
)

LOG = math.log10

# ns-3 ThreeGpp*PropagationLossModel test vectors: BS at origin, UT at (d, 0, 1.5 m), fc = 5 GHz.
NS3_VECTORS = [
    ("uma", 25.0, True, [72.9380, 86.2362, 109.7252, 137.6794]),
    ("uma", 25.0, False, [82.5131, 106.1356, 144.7641, 172.0753]),
    ("umi", 10.0, True, [69.8591, 88.4122, 119.3114, 147.2696]),
    ("umi", 10.0, False, [76.7563, 107.9432, 143.1886, 167.8617]),
]
NS3_CASES = [
    (model, h_bs, los, d, pl)
    for model, h_bs, los, pls in NS3_VECTORS
    for d, pl in zip([10.0, 100.0, 1000.0, 5000.0], pls, strict=True)
]


@pytest.mark.parametrize(("model", "h_bs", "los", "d", "expected"), NS3_CASES)
def test_ns3_vectors(model: str, h_bs: float, los: bool, d: float, expected: float) -> None:
    pl = make_pathloss(model).pathloss_db(d, h_bs, 1.5, 5.0, los)
    assert pl.dtype == np.float64
    assert pl == pytest.approx(expected, abs=0.01)


def test_ns3_vectors_vectorised() -> None:
    d = np.array([10.0, 100.0, 1000.0, 5000.0])
    los = np.array([True, False, True, False])
    pl = make_pathloss("uma").pathloss_db(d, 25.0, 1.5, 5.0, los)
    assert pl.shape == (4,)
    np.testing.assert_allclose(pl, [72.9380, 106.1356, 109.7252, 172.0753], atol=0.01)


# ---------------------------------------------------------------------------------------------
# Hand-computed values (formulas written out independently of the module)
# ---------------------------------------------------------------------------------------------


def _d3(d2: float, h_bs: float, h_ut: float) -> float:
    return math.hypot(d2, h_bs - h_ut)


def _rma_pl1(d3: float, fc: float, h: float) -> float:
    return (
        20 * LOG(40 * math.pi * d3 * fc / 3)
        + min(0.03 * h**1.72, 10) * LOG(d3)
        - min(0.044 * h**1.72, 14.77)
        + 0.002 * LOG(h) * d3
    )


def test_rma_hand_values() -> None:
    h_bs, h_ut, fc, h, w = 35.0, 1.5, 3.5, 5.0, 20.0
    model = make_pathloss("rma", avg_building_height_m=h, street_width_m=w)
    d_bp = 2 * math.pi * h_bs * h_ut * fc * 1e9 / 3e8  # ≈ 3848 m
    # LOS before the breakpoint
    d3 = _d3(1000.0, h_bs, h_ut)
    assert model.pathloss_db(1000.0, h_bs, h_ut, fc, True) == pytest.approx(_rma_pl1(d3, fc, h))
    # LOS after the breakpoint
    d3 = _d3(8000.0, h_bs, h_ut)
    expected = _rma_pl1(d_bp, fc, h) + 40 * LOG(d3 / d_bp)
    assert model.pathloss_db(8000.0, h_bs, h_ut, fc, True) == pytest.approx(expected)
    # NLOS
    d3 = _d3(1000.0, h_bs, h_ut)
    nlos = (
        161.04
        - 7.1 * LOG(w)
        + 7.5 * LOG(h)
        - (24.37 - 3.7 * (h / h_bs) ** 2) * LOG(h_bs)
        + (43.42 - 3.1 * LOG(h_bs)) * (LOG(d3) - 3)
        + 20 * LOG(fc)
        - (3.2 * LOG(11.75 * h_ut) ** 2 - 4.97)
    )
    expected = max(nlos, _rma_pl1(d3, fc, h))
    assert model.pathloss_db(1000.0, h_bs, h_ut, fc, False) == pytest.approx(expected)


def test_uma_36873_hand_values() -> None:
    h_bs, h_ut, fc = 25.0, 1.5, 2.0
    model = make_pathloss("uma-36873")
    d3 = _d3(300.0, h_bs, h_ut)
    los = 22 * LOG(d3) + 28 + 20 * LOG(fc)  # d'BP = 4·24·0.5·2e9/3e8 = 320 m
    assert model.pathloss_db(300.0, h_bs, h_ut, fc, True) == pytest.approx(los)
    nlos = (
        161.04
        - 7.1 * LOG(20)
        + 7.5 * LOG(20)
        - (24.37 - 3.7 * (20 / h_bs) ** 2) * LOG(h_bs)
        + (43.42 - 3.1 * LOG(h_bs)) * (LOG(d3) - 3)
        + 20 * LOG(fc)
        - (3.2 * LOG(17.625) ** 2 - 4.97)
        - 0.6 * (h_ut - 1.5)
    )
    assert model.pathloss_db(300.0, h_bs, h_ut, fc, False) == pytest.approx(max(los, nlos))
    # Beyond the breakpoint the 38.901-style form applies.
    d3 = _d3(1000.0, h_bs, h_ut)
    pl2 = 28 + 40 * LOG(d3) + 20 * LOG(fc) - 9 * LOG(320.0**2 + (h_bs - h_ut) ** 2)
    assert model.pathloss_db(1000.0, h_bs, h_ut, fc, True) == pytest.approx(pl2)


def test_umi_36873_hand_values() -> None:
    h_bs, h_ut, fc = 10.0, 1.5, 2.0
    model = make_pathloss("umi-36873")
    d_bp = 4 * 9.0 * 0.5 * fc * 1e9 / 3e8  # 120 m
    d3 = _d3(50.0, h_bs, h_ut)
    assert d_bp > 50.0
    los1 = 22 * LOG(d3) + 28 + 20 * LOG(fc)
    assert model.pathloss_db(50.0, h_bs, h_ut, fc, True) == pytest.approx(los1)
    d3 = _d3(500.0, h_bs, h_ut)
    los2 = 40 * LOG(d3) + 7.8 - 18 * LOG(9.0) - 18 * LOG(0.5) + 2 * LOG(fc)
    assert model.pathloss_db(500.0, h_bs, h_ut, fc, True) == pytest.approx(los2)
    nlos = 36.7 * LOG(d3) + 22.7 + 26 * LOG(fc)
    assert model.pathloss_db(500.0, h_bs, h_ut, fc, False) == pytest.approx(max(los2, nlos))


def test_macro_hand_values() -> None:
    model = make_pathloss("macro")
    for r_km in (0.1, 0.5, 1.0, 3.0):
        pl = model.pathloss_db(r_km * 1000.0, 32.0, 1.5, 2.0, True)
        assert pl == pytest.approx(128.1 + 37.6 * LOG(r_km))
    # Other frequency and height above rooftop.
    dh, f_mhz, r_km = 10.0, 900.0, 2.0
    expected = 128.1 + 21 * LOG(f_mhz / 2000) + 40 * (1 - 4e-3 * dh) * LOG(r_km) - 18 * LOG(dh / 15)
    pl = make_pathloss("macro", bs_above_rooftop_m=dh).pathloss_db(2000.0, 30.0, 1.5, 0.9, False)
    assert pl == pytest.approx(expected)


@pytest.mark.parametrize("metropolitan", [False, True])
def test_cost231_hand_values(metropolitan: bool) -> None:
    f, hb, hm, d_km = 1800.0, 40.0, 1.5, 5.0
    a_hm = (1.1 * LOG(f) - 0.7) * hm - (1.56 * LOG(f) - 0.8)
    expected = (
        46.3
        + 33.9 * LOG(f)
        - 13.82 * LOG(hb)
        - a_hm
        + (44.9 - 6.55 * LOG(hb)) * LOG(d_km)
        + (3.0 if metropolitan else 0.0)
    )
    model = make_pathloss("cost231", metropolitan=metropolitan)
    assert model.pathloss_db(5000.0, hb, hm, 1.8, True) == pytest.approx(expected)


def test_fspl_hand_values() -> None:
    model = make_pathloss("fspl")
    d3 = _d3(100.0, 30.0, 1.5)
    expected = 20 * LOG(4 * math.pi * d3 * 3.5e9 / 299792458.0)
    assert model.pathloss_db(100.0, 30.0, 1.5, 3.5, False) == pytest.approx(expected)
    # 1 km at 1 GHz with equal heights: the textbook 92.45 + 20 log10(1) + 20 log10(1) dB.
    assert model.pathloss_db(1000.0, 1.5, 1.5, 1.0) == pytest.approx(92.45, abs=0.01)


# ---------------------------------------------------------------------------------------------
# Structural properties
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "h_bs"), [("uma", 25.0), ("umi", 10.0)])
def test_uma_umi_breakpoint_exactly_continuous(model: str, h_bs: float) -> None:
    # PL2 at d2D = d'BP reduces to PL1 because d3D² = d'BP² + (hBS − hUT)².
    fc, h_ut = 3.5, 1.5
    d_bp = 4 * (h_bs - 1) * (h_ut - 1) * fc * 1e9 / 3e8
    m = make_pathloss(model)
    below = m.pathloss_db(d_bp * (1 - 1e-12), h_bs, h_ut, fc, True)
    above = m.pathloss_db(d_bp * (1 + 1e-12), h_bs, h_ut, fc, True)
    assert above == pytest.approx(below, abs=1e-6)


def test_rma_breakpoint_nearly_continuous() -> None:
    # PL2 uses PL1(d_BP) with d_BP as a 3D distance while PL1 just before the breakpoint sees
    # d3D > d_BP, so the pieces differ by PL1(d_BP) + 40 log10(d3D/d_BP) − PL1(d3D).
    h_bs, h_ut, fc = 35.0, 1.5, 3.5
    m = Tr38901RMa()
    d_bp = float(m.breakpoint_m(h_bs, h_ut, fc))
    below = float(m.pathloss_db(d_bp * (1 - 1e-12), h_bs, h_ut, fc, True))
    above = float(m.pathloss_db(d_bp * (1 + 1e-12), h_bs, h_ut, fc, True))
    d3 = _d3(d_bp, h_bs, h_ut)
    jump = _rma_pl1(d_bp, fc, 5.0) + 40 * LOG(d3 / d_bp) - _rma_pl1(d3, fc, 5.0)
    assert above - below == pytest.approx(jump, abs=1e-6)
    assert abs(above - below) < 0.01


def test_umi_36873_breakpoint_approximately_continuous() -> None:
    m = make_pathloss("umi-36873")
    d_bp = 4 * 9.0 * 0.5 * 2e9 / 3e8
    below = m.pathloss_db(d_bp * (1 - 1e-12), 10.0, 1.5, 2.0, True)
    above = m.pathloss_db(d_bp * (1 + 1e-12), 10.0, 1.5, 2.0, True)
    assert abs(above - below) < 0.2


LOS_MODELS = [("uma", 25.0, 3.5), ("umi", 10.0, 3.5), ("rma", 35.0, 3.5)]
LOS_MODELS += [("uma-36873", 25.0, 2.0), ("umi-36873", 10.0, 2.0)]


@pytest.mark.parametrize(("model", "h_bs", "fc"), LOS_MODELS)
def test_nlos_never_below_los(model: str, h_bs: float, fc: float) -> None:
    m = make_pathloss(model)
    d = np.geomspace(10.0, 5000.0, 400)[:, None]
    h_ut = np.array([1.5, 4.5, 8.0])[None, :]
    los = m.pathloss_db(d, h_bs, h_ut, fc, True)
    nlos = m.pathloss_db(d, h_bs, h_ut, fc, False)
    assert los.shape == nlos.shape == (400, 3)
    assert np.all(nlos >= los)
    assert np.all(np.diff(los, axis=0) > 0)  # monotone in distance


@pytest.mark.parametrize("model", sorted(PATHLOSS_MODELS))
def test_los_probability_bounds_and_monotone(model: str) -> None:
    m = make_pathloss(model)
    d = np.linspace(0.0, 5000.0, 2001)
    h_ut = 1.5
    p = m.los_probability(d, h_ut)
    assert p.shape == d.shape and p.dtype == np.float64
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(np.diff(p) <= 1e-15)
    if not m.has_los:
        assert np.all(p == 1.0)
    elif model == "rma":
        assert np.all(p[d <= 10.0] == 1.0)
    else:
        assert np.all(p[d <= 18.0] == 1.0)
        assert np.all(p[d > 18.0] < 1.0)


def test_uma_los_probability_values_and_high_ut() -> None:
    m = make_pathloss("uma")
    d = 200.0
    base = 18 / d + math.exp(-d / 63) * (1 - 18 / d)
    assert m.los_probability(d, 1.5) == pytest.approx(base)
    c = ((19.5 - 13) / 10) ** 1.5
    expected = base * (1 + c * 1.25 * (d / 100) ** 3 * math.exp(-d / 150))
    assert m.los_probability(d, 19.5) == pytest.approx(expected)
    p = m.los_probability(np.linspace(0, 5000, 1001)[:, None], np.array([13.5, 22.5]))
    assert np.all((p >= 0) & (p <= 1))


def test_umi_and_rma_los_probability_values() -> None:
    d = 100.0
    umi = make_pathloss("umi").los_probability(d, 1.5)
    assert umi == pytest.approx(18 / d + math.exp(-d / 36) * (1 - 18 / d))
    assert make_pathloss("rma").los_probability(510.0, 1.5) == pytest.approx(math.exp(-0.5))


# ---------------------------------------------------------------------------------------------
# Shadowing statistics
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "sigma", "decorr"),
    [
        ("uma", (4.0, 6.0), (37.0, 50.0)),
        ("umi", (4.0, 7.82), (10.0, 13.0)),
        ("uma-36873", (4.0, 6.0), (37.0, 50.0)),
        ("umi-36873", (3.0, 4.0), (10.0, 13.0)),
        ("macro", (8.0, 8.0), (50.0, 50.0)),
        ("cost231", (8.0, 8.0), (50.0, 50.0)),
        ("fspl", (0.0, 0.0), (50.0, 50.0)),
    ],
)
def test_shadow_statistics(model: str, sigma: tuple, decorr: tuple) -> None:
    m = make_pathloss(model)
    los = np.array([True, False])
    np.testing.assert_array_equal(m.shadow_std_db(los), sigma)
    np.testing.assert_array_equal(m.shadow_decorrelation_m(los), decorr)
    assert m.shadow_decorrelation_m(True) == decorr[0]
    assert isinstance(m.shadow_decorrelation_m(False), float)


def test_rma_shadow_statistics() -> None:
    m = make_pathloss("rma")
    d_bp = float(Tr38901RMa.breakpoint_m(35.0, 1.5, 3.5))
    d = np.array([100.0, d_bp * 1.5, 100.0, d_bp * 1.5])
    los = np.array([True, True, False, False])
    np.testing.assert_array_equal(m.shadow_std_db(los, d, 35.0, 1.5, 3.5), [4.0, 6.0, 8.0, 8.0])
    np.testing.assert_array_equal(m.shadow_std_db(False), 8.0)
    with pytest.raises(TypeError):
        m.shadow_std_db(True)
    np.testing.assert_array_equal(m.shadow_decorrelation_m(los[1:3]), [37.0, 120.0])


def test_los_decorrelation_distances() -> None:
    expected = {"uma": 50.0, "umi": 50.0, "rma": 60.0}
    for name in PATHLOSS_MODELS:
        assert make_pathloss(name).los_decorrelation_m == expected.get(name, 50.0)


# ---------------------------------------------------------------------------------------------
# Effective environment height (UMa)
# ---------------------------------------------------------------------------------------------


def test_effective_height_low_ut_always_one() -> None:
    rng = np.random.default_rng(0)
    h_e = draw_uma_effective_height_m(rng, np.full(1000, 300.0), 1.5)
    assert h_e.shape == (1000,)
    assert np.all(h_e == 1.0)


def test_effective_height_distribution_high_ut() -> None:
    rng = np.random.default_rng(1)
    d, h_ut, n = 300.0, 22.5, 200_000
    h_e = draw_uma_effective_height_m(rng, d, np.full(n, h_ut))
    assert set(np.unique(h_e)) <= {1.0, 12.0, 15.0, 18.0, 21.0}
    c = ((h_ut - 13) / 10) ** 1.5 * 1.25 * (d / 100) ** 3 * math.exp(-d / 150)
    assert np.mean(h_e == 1.0) == pytest.approx(1 / (1 + c), abs=0.01)
    # Short links (g = 0 at d ≤ 18 m) always use 1 m.
    assert np.all(draw_uma_effective_height_m(rng, np.full(100, 15.0), h_ut) == 1.0)


def test_effective_height_feeds_pathloss() -> None:
    m = make_pathloss("uma")
    pl_default = m.pathloss_db(5000.0, 25.0, 19.5, 3.5, True)
    pl_he1 = m.pathloss_db(5000.0, 25.0, 19.5, 3.5, True, h_e_m=1.0)
    pl_he12 = m.pathloss_db(5000.0, 25.0, 19.5, 3.5, True, h_e_m=12.0)
    assert pl_default == pl_he1
    d3 = _d3(5000.0, 25.0, 19.5)
    # h_E = 1 m: d'BP = 4·24·18.5·3.5e9/3e8 ≈ 20.7 km, so 5 km is still in PL1.
    assert pl_he1 == pytest.approx(28 + 22 * LOG(d3) + 20 * LOG(3.5))
    # h_E = 12 m: d'BP = 4·13·7.5·3.5e9/3e8 = 4550 m, so 5 km is in PL2.
    d_bp = 4 * 13 * 7.5 * 3.5e9 / 3e8
    expected = 28 + 40 * LOG(d3) + 20 * LOG(3.5) - 9 * LOG(d_bp**2 + 5.5**2)
    assert pl_he12 == pytest.approx(expected)
    assert pl_he12 > pl_he1
    with pytest.raises(ParameterError, match="h_e_m"):
        m.pathloss_db(500.0, 25.0, 1.5, 3.5, True, h_e_m=12.0)
    with pytest.raises(ParameterError, match="h_e_m"):
        make_pathloss("umi").pathloss_db(500.0, 10.0, 1.5, 3.5, True, h_e_m=1.0)


# ---------------------------------------------------------------------------------------------
# Validity and errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name", "fragment"),
    [
        ({"fc_ghz": 120.0}, "fc_ghz", "0.5–100 GHz"),
        ({"fc_ghz": 0.1}, "fc_ghz", "0.5–100 GHz"),
        ({"h_bs_m": 60.0}, "h_bs_m", "10–50 m"),
        ({"h_ut_m": 30.0}, "h_ut_m", "1.5–22.5 m"),
        ({"h_ut_m": 1.0}, "h_ut_m", "1.5–22.5 m"),
        ({"d2d_m": 0.0}, "d2d_m", "10–5000 m"),
        ({"d2d_m": -5.0}, "d2d_m", "10–5000 m"),
        ({"d2d_m": 6000.0}, "d2d_m", "10–5000 m"),
        ({"d2d_m": float("nan")}, "d2d_m", "10–5000 m"),
    ],
)
def test_strict_validity_errors(kwargs: dict, name: str, fragment: str) -> None:
    args = {"d2d_m": 100.0, "h_bs_m": 25.0, "h_ut_m": 1.5, "fc_ghz": 3.5} | kwargs
    with pytest.raises(ParameterError) as info:
        make_pathloss("uma").pathloss_db(**args, los=True)
    assert info.value.name == name
    msg = str(info.value)
    assert msg.startswith(f"{name}=")
    assert fragment in msg and "TR 38.901 UMa" in msg


def test_error_reports_extreme_bad_value() -> None:
    m = make_pathloss("umi")
    with pytest.raises(ParameterError) as info:
        m.pathloss_db(np.array([100.0, 3.0, 1.0, 50.0]), 10.0, 1.5, 3.5, True)
    assert info.value.value == 1.0
    with pytest.raises(ParameterError) as info:
        m.pathloss_db(np.array([100.0, 7000.0, 9000.0]), 10.0, 1.5, 3.5, True)
    assert info.value.value == 9000.0


def test_h_bs_message_mentions_nominal() -> None:
    with pytest.raises(ParameterError, match="nominal 10 m"):
        make_pathloss("umi").pathloss_db(100.0, 30.0, 1.5, 3.5, True)


def test_rma_distance_limits_depend_on_los() -> None:
    m = make_pathloss("rma")
    assert np.isfinite(m.pathloss_db(8000.0, 35.0, 1.5, 3.5, True))
    with pytest.raises(ParameterError, match="NLOS"):
        m.pathloss_db(8000.0, 35.0, 1.5, 3.5, False)
    with pytest.raises(ParameterError, match="d2d_m"):
        m.pathloss_db(12_000.0, 35.0, 1.5, 3.5, True)
    with pytest.raises(ParameterError, match="fc_ghz"):
        m.pathloss_db(1000.0, 35.0, 1.5, 40.0, True)


@pytest.mark.parametrize(
    ("model", "args"),
    [
        ("macro", (500.0, 30.0, 1.5, 3.5)),
        ("cost231", (5000.0, 40.0, 1.5, 2.5)),
        ("cost231", (5000.0, 20.0, 1.5, 1.8)),
        ("cost231", (500.0, 40.0, 1.5, 1.8)),
        ("uma-36873", (500.0, 25.0, 1.5, 28.0)),
        ("fspl", (0.0, 1.5, 1.5, 3.5)),
    ],
)
def test_other_models_validity(model: str, args: tuple) -> None:
    with pytest.raises(ParameterError):
        make_pathloss(model).pathloss_db(*args, True)


def test_non_strict_clamps_and_extrapolates() -> None:
    m = make_pathloss("uma")
    d = np.array([0.0, 5.0, 10.0, 8000.0])
    pl = m.pathloss_db(d, 25.0, 1.5, 5.0, True, strict=False)
    assert pl[0] == pl[1] == pl[2] == pytest.approx(72.9380, abs=0.01)
    d3 = _d3(8000.0, 25.0, 1.5)
    expected = 28 + 40 * LOG(d3) + 20 * LOG(5.0) - 9 * LOG(800.0**2 + 23.5**2)
    assert pl[3] == pytest.approx(expected)
    # Frequencies, heights and negative distances are still rejected.
    with pytest.raises(ParameterError, match="fc_ghz"):
        m.pathloss_db(d, 25.0, 1.5, 200.0, True, strict=False)
    with pytest.raises(ParameterError, match="h_ut_m"):
        m.pathloss_db(d, 25.0, 40.0, 5.0, True, strict=False)
    with pytest.raises(ParameterError, match="d2d_m"):
        m.pathloss_db(-1.0, 25.0, 1.5, 5.0, True, strict=False)


def test_non_strict_rma_nlos_beyond_5km() -> None:
    m = make_pathloss("rma")
    pl = m.pathloss_db([7000.0, 12_000.0], 35.0, 1.5, 3.5, False, strict=False)
    assert np.all(np.isfinite(pl)) and pl[1] > pl[0]


def test_scalar_inputs_return_0d_float64() -> None:
    pl = make_pathloss("umi").pathloss_db(100, 10, 1.5, 3.5, False)
    assert isinstance(pl, np.ndarray) and pl.ndim == 0 and pl.dtype == np.float64


def test_los_ignored_without_los_distinction() -> None:
    m = make_pathloss("macro")
    assert not m.has_los
    a = m.pathloss_db(1000.0, 30.0, 1.5, 2.0, True)
    b = m.pathloss_db(1000.0, 30.0, 1.5, 2.0, False)
    assert a == b


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


def test_registry_contents() -> None:
    assert set(PATHLOSS_MODELS) == {
        "uma",
        "umi",
        "rma",
        "uma-36873",
        "umi-36873",
        "macro",
        "cost231",
        "fspl",
    }
    for key, cls in PATHLOSS_MODELS.items():
        model = make_pathloss(key)
        assert isinstance(model, PathLossModel) and isinstance(model, cls)
        assert model.name == key
        assert set(model.validity) >= {"fc_ghz", "d2d_m", "h_bs_m", "h_ut_m"}


def test_make_pathloss_errors() -> None:
    with pytest.raises(ParameterError) as info:
        make_pathloss("uma2")
    assert info.value.name == "model" and "uma, umi" in str(info.value)
    with pytest.raises(ParameterError, match="street_widht_m"):
        make_pathloss("rma", street_widht_m=20.0)
    with pytest.raises(ParameterError, match="takes no parameters"):
        make_pathloss("uma", h_bs_m=25.0)
    with pytest.raises(ParameterError, match="street_width_m"):
        make_pathloss("rma", street_width_m=80.0)
    with pytest.raises(ParameterError, match="bs_above_rooftop_m"):
        make_pathloss("macro", bs_above_rooftop_m=0.0)
    with pytest.raises(ParameterError, match="metropolitan"):
        make_pathloss("cost231", metropolitan="yes")
    assert make_pathloss("  UMa ").name == "uma"


def test_models_are_frozen() -> None:
    m = make_pathloss("rma")
    with pytest.raises(AttributeError):
        m.street_width_m = 10.0  # type: ignore[misc]
