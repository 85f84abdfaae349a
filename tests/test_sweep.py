"""`cellsim sweep` and `cellsim.sweep`: the sweep file, both engines, faults and resuming.

One small sweep (hex7, 1-hour episodes, 2 evaluation seeds) runs once per engine: rule-son, a2c
on two seeds (32 steps) and an a2c whose negative learning rate makes training raise, plus the
references rule-geometric and reference that every sweep gets. Resume tests work on copies of the
local sweep's folder, so they only run what they have to.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cellsim.errors import ConfigError
from cellsim.evaluation import EVAL_SEED0, compare, evaluation_grid, mean_ci95, to_json
from cellsim.sweep import load_sweep, parse_sweep, run_sweep
from cellsim.sweep.results import CSV_COLUMNS
from tests.test_cli import error_line, run_cli

SWEEP = {
    "name": "tiny",
    "scenarios": ["hex7"],
    "seeds": [0, 1],
    "episodes": 2,
    "config": {"episode_hours": 1},
    "agents": [
        "rule-son",
        {"agent": "a2c", "timesteps": 32, "hyperparams": {"n_envs": 1, "n_steps": 8}},
        {"agent": "a2c", "name": "a2c-broken", "timesteps": 32,
         "hyperparams": {"n_envs": 1, "learning_rate": -1}},
    ],
}  # fmt: skip
N_TRIALS = 7  # rule-son, 2 × a2c, 2 × a2c-broken, rule-geometric, reference
N_FAILED = 2


def write_sweep(folder: Path, data: dict, name: str = "sweep.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def read_records(out: Path) -> dict[str, dict]:
    lines = (out / "trials.jsonl").read_text().splitlines()
    return {r["trial_id"]: r for r in map(json.loads, lines)}


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory) -> Path:
    return write_sweep(tmp_path_factory.mktemp("sweep"), SWEEP)


@pytest.fixture(scope="module")
def local_run(sweep_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    outcome = run_sweep(sweep_file, "local", out, workers=2, progress=False)
    return outcome, out


# ------------------------------------------------------------------------------ the sweep file


def test_expansion_adds_references_and_runs_rules_once(sweep_file):
    sweep = load_sweep(sweep_file)
    by_label: dict[str, list] = {}
    for t in sweep.trials:
        by_label.setdefault(t.label, []).append(t)
    assert {k: len(v) for k, v in by_label.items()} == {
        "rule-son": 1, "a2c": 2, "a2c-broken": 2, "rule-geometric": 1, "reference": 1,
    }  # fmt: skip
    assert [t.seed for t in by_label["a2c"]] == [0, 1]
    assert by_label["rule-son"][0].seed is None  # a rule does not depend on a training seed
    assert by_label["a2c-broken"][0].hyperparams == {"n_envs": 1, "learning_rate": -1}
    ids = [t.trial_id for t in sweep.trials]
    assert len(set(ids)) == N_TRIALS
    assert ids == [t.trial_id for t in load_sweep(sweep_file).trials]  # stable


def test_grid_expands_hyperparameters(tmp_path):
    data = {**SWEEP, "agents": [{"agent": "ppo", "name": "p", "hyperparams": {"n_steps": 8},
                                 "grid": {"learning_rate": [0.1, 0.2], "gamma": [0.9]}}]}
    sweep = parse_sweep(data, "s.yaml")
    grid = [t for t in sweep.trials if t.agent == "ppo"]
    assert sorted({t.label for t in grid}) == ["p[learning_rate=0.1,gamma=0.9]",
                                                "p[learning_rate=0.2,gamma=0.9]"]
    assert grid[0].hyperparams == {"n_steps": 8, "learning_rate": 0.1, "gamma": 0.9}
    assert len(grid) == 4  # 2 variants × 2 seeds


def test_scenario_files_are_relative_to_the_sweep_file(tmp_path):
    from cellsim.scenario import builtin_scenarios

    shutil.copy(builtin_scenarios()["hex7"], tmp_path / "mine.toml")
    sweep = parse_sweep({**SWEEP, "scenarios": ["mine.toml"]}, "s.yaml", tmp_path)
    assert sweep.trials[0].scenario_path == str((tmp_path / "mine.toml").resolve())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"agents": ["ppp"]}, ["agents[0].agent", '"ppp"', "allowed", "rule-son"]),
        ({"seeds": 0}, ["seeds", "0", "count ≥ 1"]),
        ({"seeds": [1, 1]}, ["seeds", "distinct"]),
        ({"episodes": -3}, ["episodes", "-3"]),
        ({"scenarios": ["nowhere"]}, ["scenarios[0]", "'nowhere'", "not found"]),
        ({"config": {"episode_hours": -1}}, ["config", "episode_hours"]),
        ({"agents": [{"agent": "rule-son", "timesteps": 5}]}, ["rule-son", "takes no"]),
        ({"agnts": []}, ["unknown key 'agnts'", "did you mean 'agents'"]),
        ({"agents": ["a2c", "a2c"]}, ["a2c repeats"]),
    ],
)
def test_bad_sweep_file_is_one_clear_error(tmp_path, capsys, change, expected):
    path = write_sweep(tmp_path, {**SWEEP, **change})
    line = error_line(*run_cli(capsys, "sweep", str(path), "--out", str(tmp_path / "o"))[::2])
    assert line.startswith("cellsim sweep: error: ")
    for text in [str(path), *expected]:
        assert text in line, line
    assert not (tmp_path / "o").exists()  # nothing written before the file validates


def test_missing_file_and_bad_arguments(tmp_path, capsys, sweep_file):
    line = error_line(*run_cli(capsys, "sweep", str(tmp_path / "no.yaml"))[::2])
    assert "no.yaml" in line and "cannot read" in line
    line = error_line(*run_cli(capsys, "sweep", str(sweep_file), "--address", "auto")[::2])
    assert "--address" in line and "--engine ray" in line
    line = error_line(*run_cli(capsys, "sweep", str(sweep_file), "--engine", "spark")[::2])
    assert "spark" in line and "local" in line and "ray" in line
    line = error_line(*run_cli(capsys, "sweep", str(sweep_file), "--workers", "0")[::2])
    assert "--workers" in line


def test_ray_missing_is_one_line_with_the_install_command(sweep_file, tmp_path, monkeypatch):
    from cellsim.sweep.engines import run_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'cellsim\[ray\]'"):
        run_ray([], str(tmp_path), 1, lambda record: None)
    with pytest.raises(ConfigError, match=r"pip install 'cellsim\[ray\]'"):
        run_sweep(sweep_file, "ray", tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_refuses_a_folder_holding_something_else(sweep_file, local_run, tmp_path, capsys):
    _, out = local_run
    other = write_sweep(tmp_path, {**SWEEP, "seeds": [5]}, "other.yaml")
    line = error_line(*run_cli(capsys, "sweep", str(other), "--out", str(out))[::2])
    assert str(out) in line and "another sweep" in line
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    line = error_line(*run_cli(capsys, "sweep", str(sweep_file), "--out", str(stranger))[::2])
    assert "not empty" in line and "no sweep.json" in line
    assert (stranger / "notes.txt").read_text() == "mine"


# ------------------------------------------------------------------------------ local engine


def test_local_sweep_records_every_trial_and_the_failure(local_run):
    outcome, out = local_run
    assert (outcome.ran, outcome.ok, outcome.failed) == (N_TRIALS, N_TRIALS - N_FAILED, N_FAILED)
    records = read_records(out)
    assert len(records) == N_TRIALS
    for r in records.values():
        if r["label"] == "a2c-broken":
            assert r["status"] == "failed"
            assert "learning_rate" in r["error"].lower() and "-1" in r["error"]
            assert "Traceback" not in r["error"] and r["traceback"]
        else:
            assert r["status"] == "ok", r
            grid = evaluation_grid(2, 3, EVAL_SEED0)  # compare's: seeds × realisations
            assert [(e["seed"], e["network_seed"]) for e in r["episode_results"]] == grid
            assert r["reward"] == pytest.approx(
                sum(e["reward"] for e in r["episode_results"]) / len(grid))
            assert r["wall_s"] > 0
    trained = [r for r in records.values() if r["label"] == "a2c"]
    assert all((Path(r["run_dir"]) / "model.zip").is_file() for r in trained)
    assert trained[0]["reward"] != trained[1]["reward"]  # the seed matters


def test_table_file_has_one_row_per_trial(local_run):
    import csv

    _, out = local_run
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == N_TRIALS
    records = read_records(out)
    for row in rows:
        r = records[row["trial_id"]]
        assert row["status"] == r["status"] and row["label"] == r["label"]
        assert json.loads(row["hyperparams"]) == r["hyperparams"]
        if r["status"] == "ok":
            assert float(row["reward"]) == pytest.approx(r["reward"])
            assert float(row["coverage"]) == pytest.approx(r["kpis"]["coverage"])
        else:
            assert row["error"] == r["error"]


def test_aggregate_is_the_compare_document(local_run):
    """Rules and the reference match `cellsim compare` on the same seeds exactly; a trained agent's
    interval is across training seeds."""
    _, out = local_run
    doc = json.loads((out / "results.json").read_text())
    assert doc["trials"] == {"total": N_TRIALS, "ok": 5, "failed": 2, "pending": 0}
    sdoc = doc["scenarios"]["hex7"]
    assert sdoc["missing"] == {"a2c-broken": {"ok": 0, "failed": 2, "pending": 0}}
    reference = to_json("hex7", compare("hex7", ["rule-son"], 2, SWEEP["config"]))
    for name in ("rule-son", "rule-geometric", "reference"):
        mine = {k: v for k, v in sdoc["agents"][name].items() if k != "trials"}
        assert mine == reference["agents"][name]  # score included
    a2c = [r for r in read_records(out).values() if r["label"] == "a2c"]
    mean, ci = mean_ci95([r["reward"] for r in a2c])
    assert sdoc["agents"]["a2c"]["reward_mean"] == pytest.approx(mean)
    assert sdoc["agents"]["a2c"]["reward_ci95"] == pytest.approx(ci)
    assert sdoc["agents"]["a2c"]["trials"] == {"ok": 2, "failed": 0, "pending": 0}
    md = (out / "results.md").read_text()
    assert "| a2c |" in md and "| rule-son |" in md and "a2c-broken (2 failed" in md


# ------------------------------------------------------------------------------ faults, resume


def test_rerun_skips_finished_retries_failed_and_lost(local_run, tmp_path, sweep_file):
    """Re-running a sweep killed with two trials in flight (one a2c half-trained) runs exactly
    those and the failed ones; the lost ones give the numbers of the uninterrupted sweep, the
    finished ones are not touched."""
    _, out = local_run
    copy = tmp_path / "killed"
    shutil.copytree(out, copy)
    full = read_records(copy)
    lost = [r for r in full.values() if r["label"] in ("a2c", "rule-son")][:2]
    kept = {i: r for i, r in full.items() if r not in lost and r["status"] == "ok"}
    (copy / "trials.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept.values()))
    half = next(Path(r["run_dir"].replace(str(out), str(copy))) for r in lost if r["run_dir"])
    shutil.rmtree(half)
    (half / "checkpoints").mkdir(parents=True)
    (half / "checkpoints" / "model_16_steps.zip").write_bytes(b"half written")
    outcome = run_sweep(sweep_file, "local", copy, workers=2, progress=False)
    assert outcome.skipped == len(kept)
    assert outcome.ran == len(lost) + N_FAILED
    after = read_records(copy)
    for r in lost:
        assert after[r["trial_id"]]["episode_results"] == r["episode_results"]
    for trial_id, r in kept.items():
        assert after[trial_id] == r  # wall time included: not run again
    assert sum(r["status"] == "failed" for r in after.values()) == N_FAILED  # retried, failed


def test_ctrl_c_keeps_finished_trials(tmp_path):
    """A real interruption: SIGINT to the sweep's process group (as Ctrl-C does) while an a2c
    trial is in flight; the sweep stops at once and what was recorded stays whole."""
    # a2c trainings long enough (minutes) that one is surely in flight when Ctrl-C comes
    long_a2c = {**SWEEP["agents"][1], "timesteps": 200_000}
    data = {**SWEEP, "agents": [long_a2c], "seeds": [0, 1]}
    path = write_sweep(tmp_path, data)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cellsim.cli", "sweep", str(path), "--out", str(out),
           "--workers", "1", "--quiet"]  # fmt: skip
    # A test run started in the background (CI, `make test &`) inherits an ignored SIGINT,
    # which Python keeps ignored: give the sweep the default disposition, as a terminal would.
    def default_sigint():
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_sigint,
    )  # fmt: skip
    deadline = time.monotonic() + 180  # a loaded CI machine may take long to finish the reference
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "trials.jsonl").is_file():  # the reference is done: an a2c trial is in flight
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "re-run the same command" in err
    assert "Traceback" not in err
    recorded = read_records(out)  # every line parses: nothing half written
    assert 1 <= len(recorded) < 4
    assert all(r["status"] == "ok" for r in recorded.values())
    assert json.loads((out / "results.json").read_text())["trials"]["ok"] == len(recorded)


# ------------------------------------------------------------------------------ Ray engine


def test_ray_sweep_gives_the_local_results(local_run, sweep_file, tmp_path):
    _, out = local_run
    outcome = run_sweep(sweep_file, "ray", tmp_path / "ray", workers=2, progress=False)
    assert (outcome.ran, outcome.ok, outcome.failed) == (N_TRIALS, 5, N_FAILED)
    local, ray = read_records(out), read_records(tmp_path / "ray")
    assert local.keys() == ray.keys()
    for trial_id, r in local.items():
        other = ray[trial_id]
        assert other["status"] == r["status"]
        if r["status"] == "ok":
            assert other["reward"] == r["reward"]  # identical, not approximately equal
            assert other["episode_results"] == r["episode_results"]
        else:
            assert other["error"] == r["error"]
    assert (json.loads((tmp_path / "ray" / "results.json").read_text())["scenarios"]
            == json.loads((out / "results.json").read_text())["scenarios"])  # fmt: skip


def test_unreachable_ray_address_fails_fast(sweep_file, tmp_path, capsys):
    started = time.monotonic()
    code, _, err = run_cli(capsys, "sweep", str(sweep_file), "--engine", "ray", "--address",
                           "127.0.0.1:1", "--out", str(tmp_path / "o"))  # fmt: skip
    line = error_line(code, err)
    assert "127.0.0.1:1" in line and "ray start --head" in line
    assert time.monotonic() - started < 30  # not Ray's minutes of retries
    assert not (tmp_path / "o").exists()  # checked before anything is written
