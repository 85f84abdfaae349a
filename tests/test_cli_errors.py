"""Bad inputs of issue 16 (item 1 and 2): each one line on stderr, exit 2, no traceback, checked
before long work, nothing left behind that blocks a retry."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cellsim.cli import main
from tests.test_cli import error_line, run_cli

TINY_CLI = ["--config", json.dumps({"episode_hours": 2}), "--n-envs", "1", "--no-progress"]


def one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The one stderr line of `cellsim ARGV` failing as a user error."""
    return error_line(*run_cli(capsys, *argv)[::2])


@pytest.mark.parametrize(
    ("hyper", "needle"),
    [({"learning_rate": "fast"}, "learning_rate"), ({"learning_rate": -1}, "learning_rate"),
     ({"n_steps": -5}, "n_steps"), ({"batch_size": 0}, "batch_size"), ({"n_envs": 0}, "n_envs"),
     ({"policy": "NoSuchPolicy"}, "policy"), ({"gamma": 5}, "gamma"),
     ({"n_epochs": 1.5}, "n_epochs"), ({"gamma": True}, "gamma"), ({"seed": 3}, "seed"),
     ({"device": "cuda"}, "device"), ({"train_freq": 0}, "train_freq")],
)  # fmt: skip
def test_bad_hyperparameters_are_refused_before_the_run_folder(tmp_path, capsys, hyper, needle):
    out = tmp_path / "run"
    line = one_line(capsys, ["train", "--agent", "ppo", "--out", str(out),
                             "--hyperparams", json.dumps(hyper), *TINY_CLI])  # fmt: skip
    assert needle in line
    assert not out.exists()


def test_a_folder_with_only_config_yml_does_not_block_a_retry(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yml").write_text("agent: ppo\n")  # what a failed start left behind
    code = main(["train", "--agent", "ppo", "--out", str(out), "--timesteps", "64",
                 "--hyperparams", json.dumps({"n_steps": 64, "batch_size": 64, "n_epochs": 1}),
                 *TINY_CLI])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert (out / "model.zip").is_file()


@pytest.mark.parametrize(
    "argv",
    [["compare", "--agents", "rule-son", "--episodes", "1", "--out", "{file}"],
     ["report", "--agents", "rule-son", "--episodes", "1", "--out", "{file}/r.html"],
     ["record", "--policy", "rule-son", "--out", "{file}/e.gif"],
     ["map", "--out", "{file}/m.png"],
     ["curves", "{tmp}", "--out", "{file}/c.png"],
     ["demo", "--out", "{file}"],
     ["train", "--agent", "ppo", "--out", "{file}"],
     ["sweep", "{tmp}/sweep.yaml", "--out", "{file}"]],
)  # fmt: skip
def test_an_out_that_is_a_regular_file_is_refused_first(tmp_path, capsys, monkeypatch, argv):
    import cellsim.evaluation

    def no_evaluation(*args, **kwargs):
        raise AssertionError("evaluation started before --out was checked")

    monkeypatch.setattr(cellsim.evaluation, "compare", no_evaluation)
    file = tmp_path / "file"
    file.write_text("not a folder")
    (tmp_path / "sweep.yaml").write_text("name: s\nscenarios: [hex7]\nagents: [rule-son]\n")
    argv = [a.format(file=file, tmp=tmp_path) for a in argv]
    line = one_line(capsys, argv)
    assert str(file) in line or "--out" in line
    assert file.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_out_in_a_read_only_folder_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert "writable" in one_line(capsys, ["map", "--out", str(ro / "m.png")])
    finally:
        ro.chmod(0o700)


def test_calibrate_caps_the_ues_by_a_memory_estimate(capsys):
    line = one_line(capsys, ["calibrate", "tr38901-uma-6ghz", "--ues", "99999999999"])
    assert "--ues" in line and "GiB" in line and "CELLSIM_MEMORY_BUDGET_GB" in line


@pytest.mark.parametrize("kind", ["random", "truncated", "empty", "no arrays"])
def test_curves_refuses_a_corrupt_evaluations_file(tmp_path, capsys, kind):
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    path = run / "eval" / "evaluations.npz"
    np.savez(path, timesteps=np.arange(3), results=np.zeros((3, 2)), ep_lengths=np.ones((3, 2)))
    blob = path.read_bytes()
    if kind == "random":
        path.write_bytes(os.urandom(500))
    elif kind == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        with zipfile.ZipFile(path, "w"):
            pass
    line = one_line(capsys, ["curves", str(run), "--out", str(tmp_path / "c.png")])
    assert "evaluations" in line


def test_report_draws_agent_names_with_dollars(tmp_path, capsys):
    from cellsim.evaluation import compare
    from cellsim.viz.compare import plot_comparison

    results = compare("hex7", ["rule-son"], episodes=1, config={"episode_hours": 1})
    results["a$b$c"] = results.pop("rule-son")
    results["a$b$c"].name = "a$b$c"
    plots = plot_comparison(results, tmp_path)  # raised a mathtext ValueError before
    assert all(Path(p).is_file() for p in plots)


@pytest.mark.parametrize("factory", ["os:system", "os:abort", "builtins:print",
                                     "collections:OrderedDict", "json:dumps"])  # fmt: skip
def test_scenario_factories_must_be_functions_of_your_own(capsys, factory):
    from cellsim.errors import ScenarioError
    from cellsim.scenario import load_scenario

    with pytest.raises(ScenarioError, match="factory"):
        load_scenario(factory)
    line = one_line(capsys, ["map", "--scenario", factory, "--out", "/tmp/never.png"])
    assert "factory" in line


BAD_SCENARIOS = {
    "self-intersecting area": ('[area]\npolygon = [[0, 0], [1000, 1000], [1000, 0], [0, 1000]]\n',
                               "area.polygon"),
    "zero demand": ("[demand]\nbase_density = 0\nhotspots = []\n", "demand"),
    "all-zero profile": ("[demand]\nbase_profile = " + str([0] * 24) + "\nhotspots = []\n",
                         "demand"),
    "negative profile": ("[demand]\nbase_profile = " + str([-1] * 24) + "\n", "profile"),
    "exclusion covers all": ("[[area.exclusions]]\npolygon = [[-5000, -5000], [5000, -5000], "
                             "[5000, 5000], [-5000, 5000]]\n", "exclusion"),
    "tiny isd": ("[layout]\nisd_m = 0.001\n", "isd_m"),
    "tiny resolution": ("[area]\nresolution_m = 0.01\n", "resolution_m"),
    "n_elements": ('[antenna]\nkind = "tr38901"\nn_elements = 100000\n', "n_elements"),
    "spacing": ('[antenna]\nkind = "tr38901"\nn_elements = 8\nspacing_wavelengths = 169\n',
                "spacing_wavelengths"),
    "element gain": ('[antenna]\nkind = "tr38901"\nelement_gain_dbi = 1e9\n', "element_gain_dbi"),
    "outage of a missing site": ('[[events]]\nkind = "outage"\nsite = 99\nstart_hour = 8\n'
                                 "end_hour = 9\n", "site"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_scenarios_validate_refuses_what_would_fail_at_use(tmp_path, capsys, case):
    body, needle = BAD_SCENARIOS[case]
    path = tmp_path / "bad.toml"
    path.write_text(f'extends = "hex7"\nname = "bad"\n{body}')
    line = one_line(capsys, ["scenarios", "validate", str(path)])
    assert needle in line, line


def test_scenarios_validate_refuses_beyond_the_memory_budget(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CELLSIM_MEMORY_BUDGET_GB", "0.001")
    from cellsim.scenario import available_scenarios

    line = one_line(capsys, ["scenarios", "validate", str(available_scenarios()["hex7"])])
    assert "GiB" in line and "CELLSIM_MEMORY_BUDGET_GB" in line


def test_scenarios_list_reports_bad_files_and_lists_the_rest(tmp_path, capsys, monkeypatch):
    (tmp_path / "aaa.toml").write_text("name = [broken\n")
    (tmp_path / "mine.toml").write_text('extends = "hex7"\nname = "mine"\n')
    monkeypatch.setenv("CELLSIM_SCENARIO_PATH", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        main(["scenarios", "list"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert "aaa.toml" in err and "Traceback" not in err
    assert "mine" in out and "hex7" in out
