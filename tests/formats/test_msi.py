"""MSI/Planet pattern files: the format's conventions, units, round trips, read-back gains of
known patterns (TR 38.901 array, TR 36.814 sector) and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from cellsim.errors import ScenarioError
from cellsim.formats.msi import (
    DBD_TO_DBI,
    format_msi,
    load_pattern_folder,
    msi_from_antenna,
    parse_msi,
    read_msi,
    to_cuts,
    write_pattern_folder,
)
from cellsim.radio.antenna import Tr36814Sector, Tr38901Array
from cellsim.radio.patterns import TabulatedAntenna

ARRAY = Tr38901Array(n_elements=8)
TILTS = tuple(range(0, 13, 2))
AZ = np.linspace(-90.0, 90.0, 181)[:, None]
DOWN = np.linspace(-10.0, 40.0, 501)[None, :]


def _file(gain="GAIN 15 dBd", tilt="ELECTRICAL_TILT 4", h_min_at=0, v_min_at=0, n=360):
    """A file whose cuts are 0 dB at one angle and rise 0.5 dB per degree away from it."""
    step = 360 / n
    lines = ["NAME test", "FREQUENCY 1850", gain, tilt, f"HORIZONTAL {n}"]
    for k in range(n):
        a = k * step
        d = min(abs(a - h_min_at), 360 - abs(a - h_min_at))
        lines.append(f"{a:g} {min(0.5 * d, 40):.2f}")
    lines.append(f"VERTICAL {n}")
    for k in range(n):
        a = k * step
        d = min(abs(a - v_min_at), 360 - abs(a - v_min_at))
        lines.append(f"{a:g} {min(0.5 * d, 40):.2f}")
    return "\n".join(line for line in lines if line) + "\n"


def _antenna(text: str) -> TabulatedAntenna:
    return TabulatedAntenna((to_cuts(parse_msi(text, "t.msi")),))


def test_horizontal_angles_run_clockwise():
    """MSI 30 (clockwise, to the right of the boresight seen from above) is cellsim's −30."""
    ant = _antenna(_file(h_min_at=30))
    az = np.arange(-180.0, 180.0, 1.0)
    gain = ant.gain_dbi(az, 0.0, 4.0)
    assert az[np.argmax(gain)] == -30.0


@pytest.mark.parametrize(("msi_angle", "down_deg"), [(10, 10.0), (350, -10.0)])
def test_vertical_angles_increase_downwards(msi_angle, down_deg):
    """MSI vertical 10 is 10° below the horizon, 350 is 10° above (cellsim: positive down);
    at the file's own tilt the cut is used as measured."""
    ant = _antenna(_file(v_min_at=msi_angle))
    down = np.arange(-90.0, 90.0, 0.5)
    assert down[np.argmax(ant.gain_dbi(0.0, down, 4.0))] == down_deg


@pytest.mark.parametrize(
    ("line", "gain_dbi"),
    [("GAIN 15", 15 + DBD_TO_DBI), ("GAIN 15 dBd", 15 + DBD_TO_DBI), ("GAIN 17.15 dBi", 17.15),
     ("GAIN 17.15dBi", 17.15), ("gain 15 DBD", 15 + DBD_TO_DBI)],
)  # fmt: skip
def test_gain_units(line, gain_dbi):
    assert parse_msi(_file(gain=line), "t.msi").gain_dbi == pytest.approx(gain_dbi)


def test_bare_name_first_line_and_extra_headers_kept():
    text = "KATHREIN 80010866\n" + _file().replace("NAME test\n", "") + "PATTERN_ID 7\n"
    p = parse_msi(text, "t.msi")
    assert p.name == "KATHREIN 80010866"
    assert ("PATTERN_ID", "7") in p.headers


@pytest.mark.parametrize("unit", ["dBd", "dBi"])
def test_round_trip_through_text(unit):
    src = msi_from_antenna(ARRAY, 6.0, name="A8", frequency_mhz=3500.0)
    back = parse_msi(format_msi(src, unit), "a.msi")
    assert back.gain_dbi == pytest.approx(src.gain_dbi, abs=0.005)
    assert back.electrical_tilt_deg == 6.0 and back.frequency_mhz == 3500.0
    np.testing.assert_allclose(back.horizontal_db, src.horizontal_db, atol=0.005)
    np.testing.assert_allclose(back.vertical_db, src.vertical_db, atol=0.005)


@pytest.fixture(scope="module")
def array_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("patterns") / "A8"
    write_pattern_folder(folder, ARRAY, TILTS, name="A8", frequency_mhz=3500.0)
    return load_pattern_folder(folder, 3500.0)


def _worst_db(model, tilt, within_db, mech=0.0):
    true = ARRAY.gain_dbi(AZ, DOWN, tilt, mech)
    back = model.gain_dbi(AZ, DOWN, tilt, mech)
    near = true >= ARRAY.peak_gain_dbi - within_db
    return float(np.abs(back - true)[near].max())


@pytest.mark.parametrize("tilt", TILTS)
def test_read_back_array_at_the_files_tilts(array_model, tilt):
    """1° cuts, 0.01 dB values: within 3 dB of the peak 0.05 dB, within 10 dB 0.1 dB (only
    the linear interpolation between 1° samples is lost)."""
    assert _worst_db(array_model, tilt, 3.0) <= 0.05
    assert _worst_db(array_model, tilt, 10.0) <= 0.1
    assert _worst_db(array_model, tilt, 20.0) <= 0.5


@pytest.mark.parametrize("tilt", [1.0, 3.0, 5.0, 7.0, 11.5])
def test_read_back_array_between_files(array_model, tilt):
    """A tilt between files: the nearest file rotated by the remainder stays within 0.1 dB of
    the true array within 3 dB of the peak, 0.2 dB within 10 dB."""
    assert _worst_db(array_model, tilt, 3.0) <= 0.1
    assert _worst_db(array_model, tilt, 10.0) <= 0.2


def test_between_files_the_beam_moves_by_the_remainder(array_model):
    assert array_model.beam_peak_down_deg(3.0) == pytest.approx(
        array_model.beam_peak_down_deg(2.0) + 1.0, abs=0.02
    )


def test_mechanical_tilt_on_top(array_model):
    """Mechanical tilt acts through the frame rotation, on the read-back pattern as on the
    true one."""
    assert _worst_db(array_model, 4.0, 10.0, mech=3.0) <= 0.15
    assert _worst_db(array_model, 8.0, 10.0, mech=-2.0) <= 0.15


def test_fast_path_matches_reference(array_model):
    for tilt in (0.0, 3.3, 6.0, 12.0):
        ref = array_model.gain_dbi(AZ, DOWN, tilt, 2.0)
        fast = array_model.gain_dbi_tabulated(AZ, DOWN, tilt, 2.0)
        near = ref >= array_model.peak_gain_dbi - 40.0
        assert np.abs(fast - ref)[near].max() <= 0.05


def test_tr36814_sector_reads_back_with_its_floor(tmp_path):
    """The 36.814 sector is itself a capped sum of two cuts: read back, it agrees everywhere
    (the floor is the largest attenuation in the files, its A_m) to 0.15 dB where 1° samples
    cut across the bends of its caps, 0.05 dB at 99 % of the directions."""
    src = Tr36814Sector()
    write_pattern_folder(tmp_path / "S", src, [4, 8, 12], name="S", frequency_mhz=2000.0)
    model = load_pattern_folder(tmp_path / "S")
    assert model.floor_db == pytest.approx(25.0)
    az = np.linspace(-180.0, 180.0, 361)[:, None]
    down = np.linspace(-30.0, 60.0, 181)[None, :]
    for tilt in (4.0, 8.0, 12.0):
        diff = np.abs(model.gain_dbi(az, down, tilt) - src.gain_dbi(az, down, tilt))
        assert diff.max() <= 0.15
        assert np.quantile(diff, 0.99) <= 0.05


def test_folder_of_several_bands_picks_the_nearest(tmp_path):
    write_pattern_folder(tmp_path / "M", ARRAY, [0, 6], name="M", frequency_mhz=1800.0)
    write_pattern_folder(tmp_path / "M", Tr36814Sector(), [2, 4], name="M", frequency_mhz=800.0)
    assert list(load_pattern_folder(tmp_path / "M", 1850.0).tilts_deg) == [0.0, 6.0]
    assert list(load_pattern_folder(tmp_path / "M", 790.0).tilts_deg) == [2.0, 4.0]
    with pytest.raises(ScenarioError, match="no pattern within 15% of the carrier 3500"):
        load_pattern_folder(tmp_path / "M", 3500.0)


def _bad(tmp_path, text):
    path = tmp_path / "bad.msi"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        read_msi(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (lambda t: t.replace("GAIN 15 dBd\n", ""), ["no GAIN line"]),
        (lambda t: t.replace("GAIN 15 dBd", "GAIN 15 dBx"), ["GAIN '15 dBx'", "dBd or dBi"]),
        (lambda t: t.replace("HORIZONTAL 360", "HORIZONTAL lots"), [":5:", "HORIZONTAL 'lots'"]),
        (lambda t: t.replace("HORIZONTAL 360", "HORIZONTAL 361"), ["only 360", "before VERTICAL"]),
        (lambda t: t.replace("\n10 5.00\n", "\n10 -5.00\n", 1), [":16:", "attenuation -5.00"]),
        (lambda t: t.replace("\n10 5.00\n", "\n400 5.00\n", 1), [":16:", "angle 400"]),
        (lambda t: t.replace("\n10 5.00\n", "\n11 5.00\n", 1), ["angle 11 appears twice"]),
        (lambda t: t.split("VERTICAL")[0], ["no VERTICAL section"]),
        (lambda t: t.replace("FREQUENCY 1850", "FREQUENCY high"), ["FREQUENCY 'high'"]),
        (lambda t: t.replace("ELECTRICAL_TILT 4", "ELECTRICAL_TILT 95"), ["tilt 95"]),
        (lambda t: "", ["empty pattern file"]),
    ],
    ids=["no-gain", "gain-unit", "count", "count-too-big", "negative", "angle", "duplicate",
         "no-vertical", "frequency", "tilt-range", "empty"],
)  # fmt: skip
def test_bad_files_are_one_line(tmp_path, edit, needles):
    message = _bad(tmp_path, edit(_file()))
    for needle in needles:
        assert needle in message


def test_folder_errors(tmp_path):
    with pytest.raises(ScenarioError, match="no such antenna pattern folder"):
        load_pattern_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScenarioError, match="no antenna pattern files"):
        load_pattern_folder(tmp_path / "empty")
    (tmp_path / "twice").mkdir()
    (tmp_path / "twice" / "a.msi").write_text(_file(), encoding="utf-8")
    (tmp_path / "twice" / "b.msi").write_text(_file(), encoding="utf-8")
    with pytest.raises(ScenarioError, match="one pattern per tilt"):
        load_pattern_folder(tmp_path / "twice")
    (tmp_path / "untilted").mkdir()
    (tmp_path / "untilted" / "a.pln").write_text(_file(tilt=""), encoding="utf-8")
    with pytest.raises(ScenarioError, match="no ELECTRICAL_TILT line"):
        load_pattern_folder(tmp_path / "untilted")
