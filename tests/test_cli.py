"""Tests of the `cellsim` command, run in-process through `cellsim.cli.main(argv)`.

The CLI's contract (cellsim/cli.py): every user error ends as exactly one line on stderr and exit
code 2; a traceback means a bug. In-process, a traceback shows up as an exception escaping
`main`, which fails the test.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cellsim.bench import bench_link_budget
from cellsim.cli import main
from cellsim.scenario import builtin_scenarios

PERCENTILE_KEYS = [f"p{p}" for p in range(5, 100, 5)]
BUILTINS = [  # the calibration set-ups, in scenarios/calibration/
    "tr36814-case1",
    "tr36873-uma-m1",
    "tr36873-uma-m10",
    "tr36873-umi-m1",
    "tr36873-umi-m10",
    "tr38901-uma-6ghz",
    "tr38901-umi-6ghz",
]
MINIMAL_SCENARIO = 'name = "mini"\n\n[pathloss]\nmodel = "uma"\n'


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout, stderr of `cellsim ARGV` (argparse exits through SystemExit)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
    out, err = capsys.readouterr()
    assert isinstance(code, int)
    return code, out, err


def error_line(code: int, err: str) -> str:
    """The single stderr line of a user error (exit code 2, one non-empty line, no traceback)."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    return lines[0]


# -- help ------------------------------------------------------------------------------------

HELP_OPTIONS = {
    (): ["pathloss", "calibrate", "bench", "scenarios", "--version"],
    ("pathloss",): [
        "--model", "--los", "--nlos", "--fc-ghz", "--h-bs", "--h-ut", "--d2d",
        "--building-height", "--street-width", "--bs-above-rooftop", "--metropolitan", "--json",
        "uma", "umi", "rma", "macro", "cost231", "fspl",
    ],
    ("calibrate",): ["scenario", "--ues", "--seed", "--json", "--plot"],
    ("bench",): ["--repeats", "--json"],
    ("scenarios",): ["list", "show", "validate", "schema"],
    ("scenarios", "list"): ["--help"],
    ("scenarios", "show"): ["name"],
    ("scenarios", "validate"): ["FILE"],
    ("scenarios", "schema"): ["--help"],
}


@pytest.mark.parametrize("command", list(HELP_OPTIONS), ids=lambda c: " ".join(c) or "cellsim")
def test_help_exits_0_and_mentions_every_option(capsys, command):
    code, out, err = run_cli(capsys, *command, "--help")
    assert code == 0
    assert err == ""
    assert out.startswith(f"usage: cellsim {' '.join(command)}".rstrip())
    for option in HELP_OPTIONS[command]:
        assert option in out, f"{option} missing from `cellsim {' '.join(command)} --help`"


def test_version(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0
    assert out.startswith("cellsim ")


def test_installed_script_help_and_usage_error():
    """The console script itself: --help exits 0; a usage error exits 2 with one line."""
    script = Path(sys.executable).with_name("cellsim")
    exe = str(script) if script.exists() else shutil.which("cellsim")
    assert exe, "the cellsim console script is not installed"
    ok = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "usage: cellsim" in ok.stdout
    assert "calibrate" in ok.stdout
    bad = subprocess.run([exe, "frobnicate"], capture_output=True, text=True, timeout=60)
    assert "frobnicate" in error_line(bad.returncode, bad.stderr)
    assert bad.stdout == ""


# -- pathloss --------------------------------------------------------------------------------

NS3_D2D = ["10", "100", "1000", "5000"]
NS3_CASES = {
    # ns-3 ThreeGpp*PropagationLossModel vectors, fc 5 GHz, h_UT 1.5 m
    "uma-los": (["--model", "uma", "--los", "--h-bs", "25"],
                [72.9380, 86.2362, 109.7252, 137.6794]),
    "umi-nlos": (["--model", "umi", "--nlos", "--h-bs", "10"],
                 [76.7563, 107.9432, 143.1886, 167.8617]),
}


@pytest.mark.parametrize("case", list(NS3_CASES))
def test_pathloss_json_matches_ns3_vectors(capsys, case):
    args, expected = NS3_CASES[case]
    code, out, err = run_cli(
        capsys, "pathloss", *args, "--fc-ghz", "5", "--h-ut", "1.5", "--d2d", *NS3_D2D, "--json"
    )
    assert code == 0, err
    assert err == ""
    data = json.loads(out)
    assert list(data) == ["model", "los", "d2d_m", "pl_db"]
    assert data["model"] == args[1]
    assert data["los"] is (args[2] == "--los")
    assert data["d2d_m"] == [10.0, 100.0, 1000.0, 5000.0]
    assert len(data["pl_db"]) == 4
    for got, want in zip(data["pl_db"], expected, strict=True):
        assert got == pytest.approx(want, abs=0.01)


def test_pathloss_text_output(capsys):
    code, out, err = run_cli(
        capsys, "pathloss", "--model", "uma", "--los", "--fc-ghz", "5", "--h-bs", "25",
        "--h-ut", "1.5", "--d2d", *NS3_D2D,
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "uma LOS, fc 5 GHz, h_BS 25 m, h_UT 1.5 m"
    assert lines[1].split() == ["d2d_m", "pl_db"]
    rows = [line.split() for line in lines[2:]]
    assert [r[0] for r in rows] == NS3_D2D
    for row, want in zip(rows, NS3_CASES["uma-los"][1], strict=True):
        assert float(row[1]) == pytest.approx(want, abs=0.01)


def _pathloss_json(capsys, *args: str) -> dict:
    code, out, err = run_cli(capsys, "pathloss", *args, "--json")
    assert code == 0, err
    assert err == ""
    data = json.loads(out)
    assert set(data) == {"model", "los", "d2d_m", "pl_db"}
    assert all(math.isfinite(v) and v > 0 for v in data["pl_db"])
    return data


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "uma", "--nlos", "--fc-ghz", "3.5", "--h-bs", "25", "--h-ut", "1.5"],
        ["--model", "umi", "--los", "--fc-ghz", "28", "--h-bs", "10", "--h-ut", "1.5"],
        ["--model", "rma", "--los", "--fc-ghz", "0.7", "--h-bs", "35", "--h-ut", "1.5"],
        ["--model", "rma", "--nlos", "--fc-ghz", "3.5", "--h-bs", "35", "--h-ut", "1.5",
         "--building-height", "10", "--street-width", "25"],
        ["--model", "macro", "--nlos", "--fc-ghz", "2", "--h-bs", "32", "--h-ut", "1.5",
         "--bs-above-rooftop", "20"],
        ["--model", "cost231", "--nlos", "--fc-ghz", "1.8", "--h-bs", "30", "--h-ut", "1.5",
         "--metropolitan"],
        ["--model", "fspl", "--los", "--fc-ghz", "60", "--h-bs", "10", "--h-ut", "1.5"],
    ],
    ids=lambda a: f"{a[1]}{a[2]}",
)
def test_pathloss_every_model_accepted(capsys, args):
    data = _pathloss_json(capsys, *args, "--d2d", "1000", "2000", "4000")
    assert data["model"] == args[1]
    assert data["d2d_m"] == [1000.0, 2000.0, 4000.0]
    assert data["pl_db"] == sorted(data["pl_db"])  # more distance, more loss
    assert len(set(data["pl_db"])) == 3


def test_pathloss_macro_is_tr36814_formula(capsys):
    # 128.1 + 37.6 log10(R km) at 2 GHz with the default 15 m above rooftop
    data = _pathloss_json(capsys, "--model", "macro", "--nlos", "--fc-ghz", "2", "--h-bs", "32",
                          "--h-ut", "1.5", "--d2d", "100", "1000", "10000")
    assert data["pl_db"] == pytest.approx([90.5, 128.1, 165.7], abs=1e-3)


def test_pathloss_fspl_is_friis(capsys):
    data = _pathloss_json(capsys, "--model", "fspl", "--los", "--fc-ghz", "2.4", "--h-bs", "11.5",
                          "--h-ut", "1.5", "--d2d", "100")
    d3d = math.hypot(100.0, 10.0)
    want = 20 * math.log10(4 * math.pi * d3d * 2.4e9 / 299_792_458.0)
    assert data["pl_db"][0] == pytest.approx(want, abs=1e-3)


def test_pathloss_cost231_metropolitan_adds_3_db(capsys):
    common = ["--model", "cost231", "--nlos", "--fc-ghz", "1.8", "--h-bs", "30", "--h-ut", "1.5",
              "--d2d", "1000", "5000"]
    plain = _pathloss_json(capsys, *common)["pl_db"]
    metro = _pathloss_json(capsys, *common, "--metropolitan")["pl_db"]
    assert [m - p for m, p in zip(metro, plain, strict=True)] == pytest.approx([3.0, 3.0], abs=2e-4)


def test_pathloss_los_flag_ignored_by_models_without_los(capsys):
    common = ["--model", "macro", "--fc-ghz", "2", "--h-bs", "32", "--h-ut", "1.5", "--d2d", "500"]
    los = _pathloss_json(capsys, *common, "--los")
    nlos = _pathloss_json(capsys, *common, "--nlos")
    assert los["los"] is True and nlos["los"] is False
    assert los["pl_db"] == nlos["pl_db"]


UMA = ["--model", "uma", "--los", "--fc-ghz", "5", "--h-bs", "25", "--h-ut", "1.5"]
BAD_PATHLOSS = {
    "unknown-model": (
        ["--model", "okumura", "--los", "--fc-ghz", "5", "--h-bs", "25", "--h-ut", "1.5",
         "--d2d", "100"],
        ["--model", "okumura"],
    ),
    "missing-los": (
        ["--model", "uma", "--fc-ghz", "5", "--h-bs", "25", "--h-ut", "1.5", "--d2d", "100"],
        ["--los", "--nlos"],
    ),
    "both-los-nlos": ([*UMA, "--nlos", "--d2d", "100"], ["--los", "--nlos"]),
    "missing-d2d": (UMA, ["--d2d"]),
    "non-numeric-fc": (
        ["--model", "uma", "--los", "--fc-ghz", "five", "--h-bs", "25", "--h-ut", "1.5",
         "--d2d", "100"],
        ["--fc-ghz", "five"],
    ),
    "nan-fc": (
        ["--model", "uma", "--los", "--fc-ghz", "nan", "--h-bs", "25", "--h-ut", "1.5",
         "--d2d", "100"],
        ["--fc-ghz", "nan"],
    ),
    "inf-distance": ([*UMA, "--d2d", "100", "inf"], ["--d2d", "inf"]),
    "nan-h-bs": (
        ["--model", "uma", "--los", "--fc-ghz", "5", "--h-bs", "NaN", "--h-ut", "1.5",
         "--d2d", "100"],
        ["--h-bs", "NaN"],
    ),
    "fc-above-uma-range": (
        ["--model", "uma", "--los", "--fc-ghz", "200", "--h-bs", "25", "--h-ut", "1.5",
         "--d2d", "100"],
        ["fc_ghz", "200"],
    ),
    "fc-above-cost231-range": (
        ["--model", "cost231", "--nlos", "--fc-ghz", "2.6", "--h-bs", "30", "--h-ut", "1.5",
         "--d2d", "2000"],
        ["fc_ghz", "2.6", "1.5–2 GHz"],
    ),
    "fc-below-rma-range": (
        ["--model", "rma", "--los", "--fc-ghz", "0.3", "--h-bs", "35", "--h-ut", "1.5",
         "--d2d", "2000"],
        ["fc_ghz", "0.3"],
    ),
    "negative-distance": ([*UMA, "--d2d", "100", "-10"], ["d2d_m", "-10"]),
    "cost231-too-close": (
        ["--model", "cost231", "--nlos", "--fc-ghz", "1.8", "--h-bs", "30", "--h-ut", "1.5",
         "--d2d", "999"],
        ["d2d_m", "999"],
    ),
    "rma-nlos-too-far": (
        ["--model", "rma", "--nlos", "--fc-ghz", "3.5", "--h-bs", "35", "--h-ut", "1.5",
         "--d2d", "6000"],
        ["d2d_m", "6000"],
    ),
    "h-ut-above-range": (
        ["--model", "uma", "--los", "--fc-ghz", "5", "--h-bs", "25", "--h-ut", "40",
         "--d2d", "100"],
        ["h_ut_m", "40"],
    ),
    "h-bs-below-cost231-range": (
        ["--model", "cost231", "--nlos", "--fc-ghz", "1.8", "--h-bs", "25", "--h-ut", "1.5",
         "--d2d", "2000"],
        ["h_bs_m", "25"],
    ),
    "rma-building-height": (
        ["--model", "rma", "--los", "--fc-ghz", "3.5", "--h-bs", "35", "--h-ut", "1.5",
         "--d2d", "100", "--building-height", "80"],
        ["avg_building_height_m", "80"],
    ),
    "macro-rooftop-zero": (
        ["--model", "macro", "--nlos", "--fc-ghz", "2", "--h-bs", "32", "--h-ut", "1.5",
         "--d2d", "100", "--bs-above-rooftop", "0"],
        ["bs_above_rooftop_m", "0"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_PATHLOSS))
def test_pathloss_bad_input_is_one_line_exit_2(capsys, case):
    args, needles = BAD_PATHLOSS[case]
    code, out, err = run_cli(capsys, "pathloss", *args)
    line = error_line(code, err)
    assert line.startswith("cellsim pathloss: error: ")
    for needle in needles:
        assert needle in line
    assert out == ""


def test_unknown_subcommand(capsys):
    code, out, err = run_cli(capsys, "frobnicate")
    line = error_line(code, err)
    assert "frobnicate" in line
    assert "COMMAND" in line
    assert out == ""


def test_missing_subcommand(capsys):
    code, _, err = run_cli(capsys)
    assert "COMMAND" in error_line(code, err)


def test_scenarios_without_verb(capsys):
    code, _, err = run_cli(capsys, "scenarios")
    assert "list,show,validate,schema" in error_line(code, err)


# -- calibrate: errors -----------------------------------------------------------------------


def test_calibrate_unknown_scenario_suggests_near_miss(capsys):
    code, out, err = run_cli(capsys, "calibrate", "tr38901-uma-6gh")
    line = error_line(code, err)
    assert "'tr38901-uma-6gh'" in line
    assert "did you mean 'tr38901-uma-6ghz'" in line
    assert out == ""


def test_calibrate_unknown_scenario_far_miss_lists_builtins(capsys):
    code, _, err = run_cli(capsys, "calibrate", "zzzz")
    line = error_line(code, err)
    assert "'zzzz'" in line
    assert "did you mean" not in line
    for name in BUILTINS:
        assert name in line


def test_calibrate_missing_file(capsys, tmp_path):
    missing = tmp_path / "nope.toml"
    code, _, err = run_cli(capsys, "calibrate", str(missing))
    assert str(missing) in error_line(code, err)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--ues", "0"], ["--ues", "0"]),
        (["--ues", "-3"], ["--ues", "-3"]),
        (["--ues", "many"], ["--ues", "many"]),
        (["--seed", "x"], ["--seed", "'x'"]),
        (["--plot", "out.txt"], ["--plot", "out.txt"]),
    ],
    ids=["ues-0", "ues-negative", "ues-text", "seed-text", "plot-txt"],
)
def test_calibrate_bad_option(capsys, tmp_path, monkeypatch, args, needles):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "calibrate", "tr38901-umi-6ghz", *args)
    line = error_line(code, err)
    for needle in needles:
        assert needle in line
    assert out == ""
    assert not (tmp_path / "out.txt").exists()


def test_calibrate_negative_seed_is_usage_error(capsys):
    code, _, err = run_cli(capsys, "calibrate", "tr38901-umi-6ghz", "--ues", "10", "--seed", "-1")
    line = error_line(code, err)
    assert "--seed" in line and "-1" in line


def test_calibrate_unwritable_plot_path_is_usage_error(capsys, tmp_path):
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "cdf.png"
    code, _, err = run_cli(capsys, "calibrate", "tr38901-umi-6ghz", "--ues", "10",
                           "--plot", str(target))
    line = error_line(code, err)
    assert "--plot" in line and str(target) in line


def _scenario_without_calibration(tmp_path: Path) -> Path:
    path = tmp_path / "nocal.toml"
    path.write_text(
        'name = "nocal"\n[layout]\ntype = "hex"\nn_sites = 7\n[radio]\nfc_ghz = 3.5\n'
        '[pathloss]\nmodel = "umi"\n'
    )
    return path


def test_calibrate_file_without_calibration_section(capsys, tmp_path):
    path = _scenario_without_calibration(tmp_path)
    code, out, err = run_cli(capsys, "calibrate", str(path))
    line = error_line(code, err)
    assert line.startswith("cellsim calibrate: error: ")
    assert "[calibration]" in line
    assert "nocal" in line
    assert out == ""


def test_calibrate_file_without_calibration_section_names_file(capsys, tmp_path):
    path = _scenario_without_calibration(tmp_path)
    code, _, err = run_cli(capsys, "calibrate", str(path))
    assert str(path) in error_line(code, err)


class _Hang(Exception):
    pass


def test_calibrate_impossible_min_distance_does_not_hang(capsys, tmp_path):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("needs SIGALRM in the main thread")
    path = tmp_path / "far.toml"
    path.write_text(
        'name = "far"\n[layout]\ntype = "hex"\nn_sites = 1\nisd_m = 200\nheight_m = 10\n'
        '[radio]\nfc_ghz = 3.5\n[pathloss]\nmodel = "umi"\n'
        "[calibration]\nues = 10\nmin_distance_m = 5000\n"
    )

    def on_alarm(signum, frame):
        raise _Hang("cellsim calibrate still running after 3 s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 3.0)
    try:
        code, _, err = run_cli(capsys, "calibrate", str(path))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert "min_distance_m" in error_line(code, err)


# -- calibrate: results ----------------------------------------------------------------------


def _calibrate_stdout(*argv: str) -> str:
    """stdout of a successful `cellsim calibrate ARGV` (no capsys: usable twice per test)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["calibrate", *argv])
    assert code == 0, err.getvalue()
    assert err.getvalue() == ""
    return out.getvalue()


def test_calibrate_json_layout_and_same_seed_reproducible():
    argv = ["tr38901-umi-6ghz", "--ues", "3000", "--seed", "1", "--json"]
    first = _calibrate_stdout(*argv)
    data = json.loads(first)
    assert list(data) == ["scenario", "coupling_loss_db", "geometry_db"]
    assert data["scenario"] == "tr38901-umi-6ghz"
    for metric in ("coupling_loss_db", "geometry_db"):
        table = data[metric]
        assert list(table) == PERCENTILE_KEYS
        values = list(table.values())
        assert all(isinstance(v, float) and math.isfinite(v) for v in values)
        assert all(a < b for a, b in itertools.pairwise(values)), f"{metric}: {values}"
    # coupling loss (3GPP sign: a gain, negative) and geometry land in the calibration's ballpark
    assert -160 < data["coupling_loss_db"]["p5"] < data["coupling_loss_db"]["p95"] < -50
    assert -15 < data["geometry_db"]["p5"] < data["geometry_db"]["p95"] < 40
    assert _calibrate_stdout(*argv) == first


def _table_rows(text: str) -> list[list[float]]:
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in PERCENTILE_KEYS:
            rows.append([float(f) for f in fields[1:]])
    return rows


def test_calibrate_text_other_seed_differs_and_plot(tmp_path):
    png = tmp_path / "figs" / "cdf.png"  # missing parent folder is created
    seed1 = _calibrate_stdout("tr38901-umi-6ghz", "--ues", "300", "--seed", "1")
    seed2 = _calibrate_stdout("tr38901-umi-6ghz", "--ues", "300", "--seed", "2", "--plot", str(png))
    head = seed2.splitlines()
    assert head[0] == "tr38901-umi-6ghz: 300 UEs, seed 2"
    assert head[1].startswith("reference: 3GPP TR 38.901")
    assert head[-1] == f"plot written to {png}"
    rows1, rows2 = _table_rows(seed1), _table_rows(seed2)
    # percentile, coupling loss, its reference, diff, geometry, its reference, diff
    assert len(rows1) == len(rows2) == 19
    assert all(len(r) == 6 for r in rows1 + rows2)
    assert [r[1] for r in rows1] == [r[1] for r in rows2]  # the same reference column
    assert [r[0] for r in rows1] != [r[0] for r in rows2]
    assert [r[3] for r in rows1] != [r[3] for r in rows2]
    for r in rows2:
        assert r[2] == pytest.approx(r[0] - r[1], abs=0.11)
    blob = png.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(blob) > 10_000


# -- scenarios -------------------------------------------------------------------------------


def test_scenarios_list_has_every_builtin(capsys):
    code, out, err = run_cli(capsys, "scenarios", "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == list(builtin_scenarios())
    assert set(BUILTINS) <= set(names)  # the 7 calibration set-ups, among any others
    assert all(len(line.split()) > 1 for line in lines), "every scenario has a description"


@pytest.mark.parametrize("name", ["tr38901-uma-6ghz", "tr36814-case1"])
def test_scenarios_show_prints_json_with_defaults(capsys, name):
    code, out, err = run_cli(capsys, "scenarios", "show", name)
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["name"] == name
    assert {"layout", "radio", "pathloss", "antenna", "shadowing", "calibration"} <= set(data)
    assert "source_dir" not in data
    assert data["calibration"]["ues"] == 20_000  # every built-in is a calibration set-up


def test_scenarios_show_user_file_fills_defaults(capsys, tmp_path):
    path = tmp_path / "mini.toml"
    path.write_text(MINIMAL_SCENARIO)
    code, out, err = run_cli(capsys, "scenarios", "show", str(path))
    assert code == 0, err
    data = json.loads(out)
    assert data["name"] == "mini"
    assert data["layout"]["type"] == "hex"
    assert data["radio"]["fc_ghz"] == 2.0
    assert data["calibration"] is None


def test_scenarios_show_unknown_name(capsys):
    code, out, err = run_cli(capsys, "scenarios", "show", "tr38901-umi-6ghzz")
    line = error_line(code, err)
    assert "did you mean 'tr38901-umi-6ghz'" in line
    assert out == ""


def test_scenarios_schema(capsys):
    code, out, err = run_cli(capsys, "scenarios", "schema")
    assert code == 0 and err == ""
    schema = json.loads(out)
    assert schema["type"] == "object"
    props = schema["properties"]
    assert {"name", "layout", "radio", "pathloss", "antenna", "shadowing", "calibration"} <= set(
        props
    )
    assert "source_dir" not in props
    assert "pathloss" in schema["required"] and "name" in schema["required"]


def test_scenarios_validate_good_files(capsys, tmp_path):
    user = tmp_path / "mini.toml"
    user.write_text(MINIMAL_SCENARIO)
    builtin = builtin_scenarios()["tr36873-umi-m10"]
    code, out, err = run_cli(capsys, "scenarios", "validate", str(user), str(builtin))
    assert code == 0
    assert err == ""
    assert out.splitlines() == [f"{user}: ok (mini)", f"{builtin}: ok (tr36873-umi-m10)"]


def test_scenarios_validate_bad_file_one_line_naming_it(capsys, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL_SCENARIO)
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL_SCENARIO + '\n[layout]\ntype = "hex"\nisd_m = -5\n')
    code, out, err = run_cli(capsys, "scenarios", "validate", str(good), str(bad))
    line = error_line(code, err)
    assert str(bad) in line
    assert "layout.isd_m" in line and "-5" in line
    assert out.splitlines() == [f"{good}: ok (mini)"]


def test_scenarios_validate_missing_file(capsys, tmp_path):
    missing = tmp_path / "missing.toml"
    code, out, err = run_cli(capsys, "scenarios", "validate", str(missing))
    assert str(missing) in error_line(code, err)
    assert out == ""


def test_scenarios_validate_build_error_names_file(capsys, tmp_path):
    bad = tmp_path / "bad-fc.toml"
    bad.write_text('name = "x"\n[radio]\nfc_ghz = 30\n[pathloss]\nmodel = "umi-36873"\n')
    code, _, err = run_cli(capsys, "scenarios", "validate", str(bad))
    line = error_line(code, err)
    assert "radio.fc_ghz" in line
    assert str(bad) in line


# -- bench -----------------------------------------------------------------------------------


def test_bench_link_budget_small():
    # `cellsim bench` itself times 100 000 points: too slow for the suite.
    row = bench_link_budget(2000, repeats=2)
    assert set(row) == {
        "scenario", "n_cells", "n_points", "precompute_s", "evaluate_ms", "pairs_per_s"
    }
    assert row["scenario"] == "tr36814-case1"
    assert row["n_cells"] == 57
    assert row["n_points"] == 2000
    for key in ("precompute_s", "evaluate_ms", "pairs_per_s"):
        assert row[key] > 0, key
    assert json.loads(json.dumps(row)) == row  # what `cellsim bench --json` prints


def test_bench_per_cell_step_small():
    from cellsim.bench import bench_per_cell_step, large_hex_scenario

    row = bench_per_cell_step(19, steps=5)
    assert row["scenario"] == "hex19" and row["n_cells"] == 57
    assert row["steps_per_s"] > 0 and row["create_s"] > 0
    assert large_hex_scenario(169).layout.n_sites == 169  # the default: 507 cells


def test_bench_rejects_a_network_that_is_not_full_rings(capsys):
    assert main(["bench", "--per-cell-sites", "100"]) == 2
    err = capsys.readouterr().err
    assert "--per-cell-sites" in err and "100" in err and "169" in err
