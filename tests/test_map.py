"""`cellsim map`: every kind is drawn, with real content, and bad arguments are one line."""

from __future__ import annotations

import numpy as np
import pytest

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
        ["map", "--compare", "rule-son", "oracle", "--policy", "rule-son"],
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
