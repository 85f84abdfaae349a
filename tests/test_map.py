"""`cellsim map`: every kind is drawn, with real content, and bad arguments are one line."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from cellsim.cli import main
from cellsim.env.tilt_env import TiltEnv
from cellsim.viz.maps import MAP_KINDS, map_values

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def hex7():
    return TiltEnv("hex7")


@pytest.mark.parametrize("kind", list(MAP_KINDS))
def test_every_kind_writes_an_image(tmp_path, capsys, kind):
    out = tmp_path / f"{kind}.png"
    assert main(["map", "--scenario", "hex7", "--kind", kind, "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(PNG) and len(data) > 20_000
    assert str(out) in capsys.readouterr().out


def test_server_map_has_a_region_per_cell(hex7):
    values, _ = map_values(hex7.sim, hex7.sim.layout.cells.tilt_deg, 11.0, "server")
    served = np.unique(values)
    assert len(served) == hex7.sim.n_cells  # every cell serves somewhere in hex7


def test_outage_map_shows_the_hole():
    """During site 0's outage its cells serve nowhere; before it they do."""
    env = TiltEnv("outage")
    tilt = env.sim.layout.cells.tilt_deg
    site0 = np.flatnonzero(env.sim.layout.cells.site == 0)
    during, _ = map_values(env.sim, tilt, 10.0, "server")
    before, _ = map_values(env.sim, tilt, 7.0, "server")
    assert not np.isin(site0, during).any()
    assert np.isin(site0, before).all()


def test_policy_tilts_change_the_map(hex7):
    base, _ = map_values(hex7.sim, np.full(hex7.sim.n_cells, 2.0), 11.0, "sinr")
    down, _ = map_values(hex7.sim, np.full(hex7.sim.n_cells, 14.0), 11.0, "sinr")
    assert np.abs(base - down).mean() > 0.5


@pytest.mark.parametrize(
    "argv",
    [
        ["map", "--kind", "bogus"],
        ["map", "--time", "25:00"],
        ["map", "--time", "noon"],
        ["map", "--out", "map.txt"],
        ["map", "--policy", "nope"],
    ],
)
def test_bad_arguments_are_one_line(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        code = main(argv)
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]


def test_compare_two_policies_side_by_side(tmp_path):
    out = tmp_path / "cmp.png"
    argv = ["map", "--scenario", "hex7", "--compare", "rule-geometric", "rule-son",
            "--time", "12:00", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    data = out.read_bytes()
    assert data.startswith(PNG) and len(data) > 50_000


@pytest.mark.parametrize(
    "argv",
    [
        ["map", "--compare", "rule-son", "rule-son"],
        ["map", "--compare", "rule-son", "reference", "--policy", "rule-son"],
    ],
)
def test_bad_compare_is_one_line(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "compare" in err[0]


def test_record_writes_an_animated_gif(tmp_path):
    from PIL import Image

    out = tmp_path / "episode.gif"
    argv = ["record", "--scenario", "hex7", "--policy", "rule-geometric", "--every", "8",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    with Image.open(out) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 96 // 8 + 1  # the start, then every 8th of 96 steps


@pytest.mark.parametrize(
    "argv",
    [
        ["record", "--policy", "rule-son", "--out", "x.avi"],
        ["record", "--policy", "nope"],
        ["record"],
    ],
)
def test_bad_record_arguments_are_one_line(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]


def test_training_curves_from_a_run_folder(tmp_path):
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    np.savez(run / "eval" / "evaluations.npz", timesteps=np.array([100, 200, 300]),
             results=np.array([[1.0, 2.0], [2.0, 3.0], [4.0, 4.5]]),
             ep_lengths=np.full((3, 2), 96))  # fmt: skip
    out = tmp_path / "curves.png"
    assert main(["curves", str(run), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG)


def test_training_curves_of_a_folder_without_evaluations_is_one_line(tmp_path, capsys):
    assert main(["curves", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "evaluations.npz" in err[0]


# -- regions, colour maps, every scenario -----------------------------------------------------

#: Perceptually uniform maps (sequential, and coolwarm diverging) plus the named categorical
#: palettes of server regions and coverage classes.
ALLOWED_CMAPS = {"viridis", "cividis", "magma", "inferno", "plasma", "coolwarm", "regions",
                 "coverage-change"}  # fmt: skip


def _cmaps(fig) -> set[str]:
    return {im.get_cmap().name for ax in fig.axes for im in ax.get_images()}


@pytest.mark.parametrize("kind", list(MAP_KINDS))
def test_colour_maps_are_perceptually_uniform(hex7, kind):
    from cellsim.viz.maps import map_figure

    fig = map_figure(hex7.sim, hex7.sim.layout.cells.tilt_deg, 11.0, kind, "t")
    assert _cmaps(fig) and _cmaps(fig) <= ALLOWED_CMAPS


def test_before_after_uses_a_diverging_map_centred_on_zero(hex7):
    from cellsim.viz.maps import before_after_figure

    n = hex7.sim.n_cells
    fig = before_after_figure(hex7.sim, {"a": np.full(n, 4.0), "b": np.full(n, 10.0)}, 11.0)
    assert _cmaps(fig) <= ALLOWED_CMAPS and "coolwarm" in _cmaps(fig)
    diff = next(im for ax in fig.axes for im in ax.get_images() if im.get_cmap().name == "coolwarm")
    assert diff.norm.vmin == -diff.norm.vmax


SCENARIOS = ["hex7", "case1", "rural", "stadium", "outage", "city"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_server_map_of_every_scenario(scenario):
    """One polygon and one label per serving cell; neighbouring regions differ in colour."""
    from cellsim.viz.maps import evaluate_plan, map_figure
    from cellsim.viz.regions import server_regions

    env = TiltEnv(scenario)
    sim, tilt = env.sim, env.sim.layout.cells.tilt_deg
    serving = evaluate_plan(sim, tilt, 11.0).state.serving_cell[: sim.raster.n_points]
    regions = server_regions(sim.raster, serving)
    assert sorted(regions.polygons) == sorted(np.unique(serving).tolist())
    covered = sum(p.area for p in regions.polygons.values())
    assert covered == pytest.approx(sim.raster.n_points * sim.raster.resolution_m**2)
    for cell, (x, y) in regions.label_xy.items():
        assert regions.polygons[cell].buffer(1e-6).contains(shapely.Point(x, y))
    clash = sum(n for (a, b), n in regions.border.items() if regions.colour[a] == regions.colour[b])
    assert clash <= 0.01 * sum(regions.border.values())
    fig = map_figure(sim, tilt, 11.0, "server", scenario)
    names = {t.get_text().split("\n")[0] for t in fig.axes[0].texts}
    assert {sim.layout.cells.name[c] for c in regions.polygons} <= names
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())
    assert pixels.shape[:2] == (round(6.6 * 110), round(7.4 * 110))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sinr_map_of_every_scenario(scenario, tmp_path):
    out = tmp_path / "sinr.png"
    assert main(["map", "--scenario", scenario, "--kind", "sinr", "--out", str(out)]) == 0
    from PIL import Image

    with Image.open(out) as image:
        assert image.size == (round(7.4 * 110), round(6.6 * 110))
        colours = len(set(image.convert("RGB").getdata()))
    assert colours > 200  # a real SINR field, not a flat image


def test_outage_server_map_has_no_region_for_the_failed_site():
    from cellsim.viz.maps import evaluate_plan
    from cellsim.viz.regions import server_regions

    env = TiltEnv("outage")
    sim = env.sim
    site0 = set(np.flatnonzero(sim.layout.cells.site == 0).tolist())
    serving = evaluate_plan(sim, sim.layout.cells.tilt_deg, 10.0).state.serving_cell
    regions = server_regions(sim.raster, serving[: sim.raster.n_points])
    assert site0.isdisjoint(regions.polygons)


def test_despeckle_gives_islands_to_their_surroundings():
    from cellsim.viz.regions import despeckle

    image = np.zeros((6, 8), int)
    image[:, 4:] = 1
    image[2, 1] = 1  # a one-point island of 1 inside 0
    image[0, 7] = 2  # cell 2 serves one point only: its largest part, kept
    image[5, 0] = -1  # no receiver
    out = despeckle(image, 4)
    expected = image.copy()
    expected[2, 1] = 0
    assert (out == expected).all()


def _n_parts(geometries) -> int:
    return sum(len(shapely.get_parts(g)) for g in geometries)


def test_region_outlines_leave_out_shadowing_specks():
    """City's shadowing scatters hundreds of islands; the outlines drawn keep each serving cell's
    main part and cover the same area, with a small fraction of the parts and rings."""
    from cellsim.viz.maps import evaluate_plan, map_figure
    from cellsim.viz.regions import server_regions

    sim = TiltEnv("city").sim
    tilt = sim.layout.cells.tilt_deg
    serving = evaluate_plan(sim, tilt, 11.0).state.serving_cell[: sim.raster.n_points]
    regions = server_regions(sim.raster, serving)
    raw, drawn = _n_parts(regions.polygons.values()), _n_parts(regions.outlines.values())
    assert raw > 500 and drawn <= 0.1 * raw
    assert sorted(regions.outlines) == sorted(regions.polygons)
    for cell, region in regions.polygons.items():
        main = max(shapely.get_parts(region), key=lambda p: p.area)
        assert regions.outlines[cell].covers(main)
    area = sum(p.area for p in regions.outlines.values())
    assert area == pytest.approx(sum(p.area for p in regions.polygons.values()))
    fig = map_figure(sim, tilt, 11.0, "sinr", "city")
    lines = next(c for c in fig.axes[0].collections if c.get_gid() == "regions")
    raw_rings = _n_parts(p.boundary for p in regions.polygons.values())
    assert len(lines.get_segments()) == _n_parts(p.boundary for p in regions.outlines.values())
    assert len(lines.get_segments()) <= 0.1 * raw_rings
