"""Maps and plots that tell the truth (issue 16 item 6): off-air sites drawn as off, colour bars
that extend where values are clipped, coupling loss as a loss, coverage thresholds on coverage
figures, frames with axis labels, a continuous colour bar and 24:00 at the day's end, the pixel
size of demand maps, titled CDFs that show unserved demand."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D

from cellsim.calibration import CalibrationResult
from cellsim.env.tilt_env import TiltEnv
from cellsim.evaluation import AgentResult, EpisodeResult
from cellsim.viz.calibration import calibration_figure
from cellsim.viz.compare import cdf_figure, unserved_share
from cellsim.viz.frame import TITLE_PX, TitleStrip, frame_clock, frame_title
from cellsim.viz.maps import before_after_figure, colourbar_extend, map_figure


@pytest.fixture(scope="module")
def outage():
    return TiltEnv("outage")


@pytest.fixture(scope="module")
def hex7():
    return TiltEnv("hex7")


def _off_air_artists(ax):
    return [a for a in ax.get_children() if isinstance(a, Line2D) and a.get_gid() == "off-air"]


def test_outage_map_draws_the_off_air_site_as_off_and_says_so(outage):
    tilt = outage.sim.layout.cells.tilt_deg
    during = map_figure(outage.sim, tilt, 10.0, "sinr", "outage").axes[0]
    (cross,) = _off_air_artists(during)
    np.testing.assert_allclose(cross.get_xydata(), outage.sim.layout.sites_xy_m[[0]])
    assert "1 site off air (0)" in during.get_title()
    assert [t.get_text() for t in during.get_legend().get_texts()] == ["off air"]
    before = map_figure(outage.sim, tilt, 7.0, "sinr", "outage").axes[0]
    assert not _off_air_artists(before) and "off air" not in before.get_title()


def test_before_after_marks_the_off_air_site(outage):
    tilt = outage.sim.layout.cells.tilt_deg
    fig = before_after_figure(outage.sim, {"a": tilt, "b": tilt + 1.0}, 10.0, "outage")
    assert "1 site off air" in fig.get_suptitle()
    assert any(_off_air_artists(ax) for ax in fig.axes)


def test_colourbar_extend_follows_the_data():
    norm = Normalize(-130.0, -60.0)
    assert colourbar_extend(np.array([-120.0, -70.0]), norm) == "neither"
    assert colourbar_extend(np.array([-120.0, -50.0]), norm) == "max"
    assert colourbar_extend(np.array([-140.0, -70.0]), norm) == "min"
    assert colourbar_extend(np.array([-140.0, -50.0, np.nan]), norm) == "both"


def test_rsrp_colour_bar_extends_above_minus_60(hex7):
    ax = map_figure(hex7.sim, hex7.sim.layout.cells.tilt_deg, 11.0, "rsrp", "hex7").axes[0]
    bar = ax.images[0].colorbar
    assert bar.norm.vmax == -60.0
    assert bar.extend in ("max", "both")  # hex7's RSRP near the sites is above -60 dBm


def test_coverage_map_prints_its_thresholds(hex7):
    cfg = hex7.sim.config.kpi
    ax = map_figure(hex7.sim, hex7.sim.layout.cells.tilt_deg, 11.0, "coverage", "hex7").axes[0]
    title = ax.get_title()
    assert f"RSRP ≥ {cfg.rsrp_min_dbm:g} dBm" in title and f"SINR ≥ {cfg.sinr_min_db:g} dB" in title


def test_before_after_coverage_panel_prints_thresholds(hex7):
    tilt = hex7.sim.layout.cells.tilt_deg
    fig = before_after_figure(hex7.sim, {"a": tilt, "b": tilt + 2.0}, 11.0, "hex7")
    assert any("RSRP ≥" in ax.get_title() and "SINR ≥" in ax.get_title() for ax in fig.axes)


def test_demand_map_names_the_pixel_size(hex7):
    fig = map_figure(hex7.sim, hex7.sim.layout.cells.tilt_deg, 11.0, "demand", "hex7")
    res = f"{hex7.sim.raster.resolution_m:g} m"
    bar = fig.axes[0].images[0].colorbar
    assert bar.ax.get_ylabel() == f"active users per {res} × {res} pixel"


def test_coupling_loss_is_plotted_as_a_positive_loss():
    gain = -np.linspace(70.0, 160.0, 50)  # the result holds it as a gain (3GPP tables' sign)
    result = CalibrationResult("x", gain, np.linspace(-5.0, 20.0, 50))
    fig = calibration_figure(result, None)
    ax = fig.axes[0]
    assert "loss" in ax.get_xlabel()
    xs = ax.get_lines()[0].get_xdata()
    assert xs.min() == pytest.approx(70.0) and xs.max() == pytest.approx(160.0)


def _result(name: str, rates: np.ndarray, weights: np.ndarray) -> AgentResult:
    episode = EpisodeResult(
        seed=0, reward=0.0, tilt_changes=0, kpis={}, hours=np.zeros(1), per_step={},
        rates_mbps=rates, rate_weights=weights, sinr_db=np.linspace(-5, 20, len(rates)),
        tilts_deg=np.zeros((1, 1)),
    )  # fmt: skip
    return AgentResult(name, [episode])


def test_cdfs_have_titles_and_show_unserved_demand():
    rates = np.array([0.0, 0.0, 2.0, 5.0, 10.0])
    weights = np.array([1.0, 2.0, 3.0, 2.0, 2.0])
    assert unserved_share(rates, weights) == pytest.approx(0.3)
    results = {"a": _result("a", rates, weights)}
    tput = cdf_figure(results, "rates_mbps").axes[0]
    assert "throughput" in tput.get_title().lower()
    assert "30.0 % of demand at rate 0" in tput.get_legend().get_texts()[0].get_text()
    assert tput.get_lines()[0].get_ydata()[1] == pytest.approx(0.3)  # the step at the floor
    assert "SINR" in cdf_figure(results, "sinr_db").axes[0].get_title()


def test_a_long_cdf_is_drawn_with_few_vertices_on_the_exact_curve():
    """30 episodes of case1 are ~10⁶ points a curve: drawn thinned, each vertex still sits on
    the exact demand-weighted CDF, the ends are kept, and a step (rate-0 demand) stays one."""
    from cellsim.viz.compare import cdf_vertices

    rng = np.random.default_rng(0)
    values = np.concatenate([np.zeros(20_000), rng.lognormal(1.0, 1.0, 180_000)])
    weights = rng.uniform(0.1, 1.0, len(values))
    xs, cdf = cdf_vertices(values, weights, max_vertices=500)
    assert len(xs) <= 502 and np.all(np.diff(xs) >= 0) and np.all(np.diff(cdf) > 0)
    tied = xs == 0.0  # inside a run of equal values the curve climbs the step: not a CDF value
    exact = np.array([weights[values <= x].sum() for x in xs[~tied][::25]]) / weights.sum()
    np.testing.assert_allclose(cdf[~tied][::25], exact, rtol=1e-9)
    assert xs[0] == 0.0 and xs[-1] == values.max() and cdf[-1] == pytest.approx(1.0)
    at_zero = weights[:20_000].sum() / weights.sum()
    assert cdf[xs > 0][0] > at_zero >= cdf[xs == 0].max() - 1e-12  # the step at 0 is kept
    small = np.array([3.0, 1.0, 2.0])
    assert cdf_vertices(small, np.ones(3))[0].tolist() == [1.0, 2.0, 3.0]  # short: every point


def test_frame_clock_reads_24_00_at_the_end_of_a_day():
    assert frame_clock(24.0, end=True) == "24:00"
    assert frame_clock(24.0) == "00:00"
    assert frame_clock(31.5, end=True) == "07:30"  # a day from 07:30 ends at 07:30
    assert frame_clock(10.25) == "10:15"


def test_recorded_frames_have_axis_labels_continuous_bar_and_end_at_24_00(hex7, tmp_path):
    from PIL import Image

    from cellsim.evaluation import load_policy
    from cellsim.viz.record import episode_frames, write_video

    _, policy = load_policy("rule-geometric", hex7)
    frames = episode_frames(hex7, policy, seed=0, every=48)
    assert hex7._renderer is not None
    assert hex7._renderer.axis_labels == ("x (km)", "y (km)")
    end = frame_title("hex7", hex7.hour, hex7._last.kpis.network(), end=True)
    assert "24:00" in end
    strip = TitleStrip(frames[-1].shape[1]).draw(end)
    np.testing.assert_array_equal(frames[-1][:TITLE_PX], strip)
    out = write_video(frames, tmp_path / "episode.gif")
    with Image.open(out) as gif:
        gif.seek(gif.n_frames - 1)
        rgb = np.asarray(gif.convert("RGB"))
    size = rgb.shape[0]
    bar = rgb[int(0.2 * size) : int(0.85 * size), int(0.885 * size)]  # the colour bar's middle
    changes = np.flatnonzero(np.any(bar[1:] != bar[:-1], axis=1))
    longest_run = np.diff(np.concatenate([[0], changes + 1, [len(bar)]])).max()
    assert longest_run <= 20  # one fixed palette: ~13 px; the old adaptive one gave 55 px bands


def test_log_axis_ticks_stay_mathtext_while_names_are_plain(tmp_path):
    """plain_text leaves tick labels alone: 10^k on a log axis is drawn, not "$\\mathdefault"."""
    from cellsim.viz.style import plain_text

    results = {"a$b$": _result("a$b$", np.array([0.5, 5.0, 50.0]), np.ones(3))}
    fig = plain_text(cdf_figure(results, "rates_mbps"))
    ax = fig.axes[0]
    assert all(t.label1.get_parse_math() for t in ax.xaxis.get_major_ticks())
    assert not ax.get_legend().get_texts()[0].get_parse_math()
