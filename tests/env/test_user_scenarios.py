"""Scenarios written as a user would, outside the package, run in `cellsim/Tilt-v0`: by file path,
by name from a folder in $CELLSIM_SCENARIO_PATH, and by a Python factory "module:function".
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import cellsim  # noqa: F401  (registers cellsim/Tilt-v0)
from cellsim.contract import N_CELL
from cellsim.errors import CellsimError, ScenarioError
from cellsim.scenario import SCENARIO_PATH_ENV, builtin_scenarios, load_scenario_file

ENV_ID = "cellsim/Tilt-v0"
HEX7_TOML = builtin_scenarios()["hex7"].read_text(encoding="utf-8")

SITES_CSV = """\
site,x_m,y_m,height_m,azimuth_deg,tilt_deg
north,0,600,30,0,4
north,0,600,30,120,5
north,0,600,30,240,6
south,-300,0,25,30,7
south,-300,0,25,150,8
south,-300,0,25,270,9
east,500,100,35,60,3
east,500,100,35,300,10
"""
CSV_TILTS = [4, 5, 6, 7, 8, 9, 3, 10]

CSV_SCENARIO = """\
name = "{name}"
description = "three irregular sites from my own CSV"

[layout]
type = "csv"
file = "{csv}"

[pathloss]
model = "uma"

[area]
resolution_m = 50
margin_m = 200

[demand]
peak_users = 80

[[demand.hotspots]]
name = "market"
kind = "gaussian"
center_m = [100, 300]
sigma_m = 150
density = 6
profile = "business"

[env]
step_minutes = 60
episode_hours = 6
tilt_min_deg = 2
tilt_max_deg = 12
"""


def write_hex7_copy(folder: Path, name: str, tilt: float = 9.0) -> Path:
    """hex7.toml under another name, with the sites' tilt and the episode length changed."""
    text = re.sub(r'^name = "hex7"', f'name = "{name}"', HEX7_TOML, count=1, flags=re.M)
    text = re.sub(r"^tilt_deg = 6\b", f"tilt_deg = {tilt}", text, count=1, flags=re.M)
    assert text != HEX7_TOML
    text += "\n[env]\nepisode_hours = 3\nstep_minutes = 30\n"
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def write_csv_scenario(folder: Path, name: str = "mycity", csv_name: str = "my_sites.csv"):
    (folder / csv_name).write_text(SITES_CSV, encoding="utf-8")
    path = folder / f"{name}.toml"
    path.write_text(CSV_SCENARIO.format(name=name, csv=csv_name), encoding="utf-8")
    return path


def play(env: gym.Env, n_steps: int | None = None, seed: int = 0):
    """Reset and play until truncation (or n_steps); checks every step, returns the infos."""
    obs, info = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    infos = [info]
    rng = np.random.default_rng(seed)
    for _ in range(n_steps or 10_000):
        obs, reward, terminated, truncated, info = env.step(
            rng.integers(0, 3, env.action_space.shape)
        )
        assert env.observation_space.contains(obs)
        assert np.isfinite(reward) and not terminated
        infos.append(info)
        if truncated:
            break
    return infos


def test_hex7_copy_by_file_path(tmp_path):
    path = write_hex7_copy(tmp_path, "myhex")
    env = gym.make(ENV_ID, scenario=str(path))
    assert env.unwrapped.scenario.name == "myhex"
    infos = play(env)
    assert np.all(infos[0]["tilt_deg"] == 9.0)  # the changed parameter took effect
    assert len(infos) - 1 == 3 * 60 // 30  # the file's [env] table: 3 h of 30-minute steps
    # a Path works as well as a string
    env2 = gym.make(ENV_ID, scenario=path)
    assert env2.unwrapped.scenario.name == "myhex"


def test_hex7_copy_by_name_from_scenario_path(tmp_path, monkeypatch):
    folder = tmp_path / "my scenarios"
    folder.mkdir()
    write_hex7_copy(folder, "myname", tilt=11.0)
    other = tmp_path / "other"
    other.mkdir()
    write_hex7_copy(other, "second", tilt=3.0)
    write_hex7_copy(other, "myname", tilt=1.0)  # the first folder on the path wins
    monkeypatch.setenv(SCENARIO_PATH_ENV, f"{folder}{os.pathsep}{other}")
    env = gym.make(ENV_ID, scenario="myname")
    infos = play(env)
    assert np.all(infos[0]["tilt_deg"] == 11.0)
    env = gym.make(ENV_ID, scenario="second")
    assert np.all(env.reset(seed=0)[1]["tilt_deg"] == 3.0)


def test_user_folder_shadows_a_builtin_name(tmp_path, monkeypatch):
    write_hex7_copy(tmp_path, "hex7", tilt=12.0)
    monkeypatch.setenv(SCENARIO_PATH_ENV, str(tmp_path))
    env = gym.make(ENV_ID, scenario="hex7")
    assert np.all(env.reset(seed=0)[1]["tilt_deg"] == 12.0)
    monkeypatch.delenv(SCENARIO_PATH_ENV)
    env = gym.make(ENV_ID, scenario="hex7")
    assert np.all(env.reset(seed=0)[1]["tilt_deg"] == 6.0)


def test_unknown_name_without_the_folder_is_a_scenario_error(tmp_path, monkeypatch):
    write_hex7_copy(tmp_path, "myname")
    monkeypatch.delenv(SCENARIO_PATH_ENV, raising=False)
    with pytest.raises(ScenarioError, match="myname"):
        gym.make(ENV_ID, scenario="myname")
    monkeypatch.setenv(SCENARIO_PATH_ENV, str(tmp_path))
    with pytest.raises(ScenarioError, match="did you mean 'myname'"):
        gym.make(ENV_ID, scenario="mynme")


def test_csv_layout_scenario_by_path_and_by_folder(tmp_path, monkeypatch):
    path = write_csv_scenario(tmp_path)
    env = gym.make(ENV_ID, scenario=str(path))
    u = env.unwrapped
    assert u.sim.n_cells == len(CSV_TILTS)
    assert env.action_space.shape == (len(CSV_TILTS),)
    assert env.observation_space.shape == (len(CSV_TILTS) * N_CELL + 2,)
    infos = play(env)
    # the CSV's tilts, clipped to the file's env range [2, 12]
    np.testing.assert_array_equal(infos[0]["tilt_deg"], np.clip(CSV_TILTS, 2, 12))
    assert len(infos) - 1 == 6  # 6 h of 60-minute steps
    for info in infos[1:]:
        assert np.all((info["tilt_deg"] >= 2) & (info["tilt_deg"] <= 12))
    # by name, from another working directory: the CSV is found next to the TOML
    monkeypatch.chdir(Path(__file__).parent)
    monkeypatch.setenv(SCENARIO_PATH_ENV, str(tmp_path))
    by_name = gym.make(ENV_ID, scenario="mycity")
    assert by_name.unwrapped.sim.n_cells == len(CSV_TILTS)
    obs_a = env.reset(seed=4)[0]
    obs_b = by_name.reset(seed=4)[0]
    np.testing.assert_array_equal(obs_a, obs_b)


def test_csv_scenario_with_a_broken_csv_is_a_cellsim_error(tmp_path):
    path = write_csv_scenario(tmp_path)
    (tmp_path / "my_sites.csv").write_text("site,x_m,y_m\nA,0,0\n", encoding="utf-8")
    with pytest.raises(CellsimError, match=r"my_sites\.csv"):
        gym.make(ENV_ID, scenario=str(path))
    (tmp_path / "my_sites.csv").unlink()
    with pytest.raises(CellsimError):
        gym.make(ENV_ID, scenario=str(path))


def write_module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    """tmp_path on sys.path; the modules written there are forgotten after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("my_scenarios"):
            del sys.modules[name]


FACTORY_MODULE = """
    def build():
        return {
            "name": "from_factory",
            "layout": {"type": "hex", "n_sites": 7, "isd_m": 400, "tilt_deg": 10,
                       "wraparound": True},
            "pathloss": {"model": "uma"},
            "area": {"resolution_m": 40},
            "demand": {
                "peak_users": 120,
                "hotspots": [{"kind": "gaussian", "center_m": [100, 50], "sigma_m": 120,
                              "density": 8, "profile": "business"}],
            },
            "env": {"episode_hours": 2, "step_minutes": 60},
        }


    def build_model():
        from cellsim.scenario import parse_scenario

        data = build()
        data["layout"]["tilt_deg"] = 4
        return parse_scenario(data, "my factory")


    def wrong_type():
        return ["not", "a", "scenario"]


    def returns_none():
        return None


    def invalid_dict():
        data = build()
        data["layout"]["n_sites"] = 5
        return data


    not_a_function = 42
"""


@pytest.fixture
def factory_module(module_dir):
    write_module(module_dir, "my_scenarios", FACTORY_MODULE)
    return "my_scenarios"


def test_factory_returning_a_dict(factory_module):
    env = gym.make(ENV_ID, scenario=f"{factory_module}:build")
    assert env.unwrapped.scenario.name == "from_factory"
    infos = play(env)
    assert np.all(infos[0]["tilt_deg"] == 10.0)
    assert len(infos) - 1 == 2


def test_factory_returning_a_scenario(factory_module):
    env = gym.make(ENV_ID, scenario=f"{factory_module}:build_model")
    assert np.all(play(env, 2)[0]["tilt_deg"] == 4.0)


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("does_not_exist", "does_not_exist"),
        ("wrong_type", "returned list"),
        ("returns_none", "returned NoneType"),
        ("invalid_dict", "layout.n_sites"),
    ],
)
def test_bad_factories_raise_scenario_error(factory_module, function, message):
    with pytest.raises(ScenarioError, match=message) as exc:
        gym.make(ENV_ID, scenario=f"{factory_module}:{function}")
    assert "\n" not in str(exc.value)


def test_factory_module_that_does_not_exist():
    with pytest.raises(ScenarioError, match="no_such_module_for_cellsim"):
        gym.make(ENV_ID, scenario="no_such_module_for_cellsim:build")


def test_factory_that_is_not_callable(factory_module):
    with pytest.raises(ScenarioError):
        gym.make(ENV_ID, scenario=f"{factory_module}:not_a_function")


def test_factory_with_an_empty_module_name():
    with pytest.raises(ScenarioError):
        gym.make(ENV_ID, scenario=":build")


def test_user_file_matches_the_builtin_when_unchanged(tmp_path):
    """A verbatim copy under another name plays exactly like the built-in."""
    text = re.sub(r'^name = "hex7"', 'name = "twin"', HEX7_TOML, count=1, flags=re.M)
    path = tmp_path / "twin.toml"
    path.write_text(text, encoding="utf-8")
    assert load_scenario_file(path).name == "twin"
    a = gym.make(ENV_ID, scenario=str(path))
    b = gym.make(ENV_ID, scenario="hex7")
    actions = np.random.default_rng(1).integers(0, 3, (5, 21))
    oa, _ = a.reset(seed=9)
    ob, _ = b.reset(seed=9)
    np.testing.assert_array_equal(oa, ob)
    for act in actions:
        ra, rb = a.step(act), b.step(act)
        np.testing.assert_array_equal(ra[0], rb[0])
        assert ra[1] == rb[1]


def test_broken_user_file_is_a_one_line_scenario_error(tmp_path):
    path = write_hex7_copy(tmp_path, "broken")
    path.write_text(path.read_text(encoding="utf-8").replace("isd_m = 500", "isd_m = -5"),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(ScenarioError) as exc:
        gym.make(ENV_ID, scenario=str(path))
    message = str(exc.value)
    assert "\n" not in message and "layout.isd_m" in message and str(path) in message


def test_missing_or_unreadable_user_files(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        gym.make(ENV_ID, scenario=str(tmp_path / "missing.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[layout\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="invalid TOML"):
        gym.make(ENV_ID, scenario=str(bad))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(ScenarioError, match="UTF-8"):
        gym.make(ENV_ID, scenario=str(binary))


def test_a_loaded_scenario_object_can_be_passed(tmp_path):
    scenario = load_scenario_file(write_hex7_copy(tmp_path, "as_object", tilt=8.0))
    env = gym.make(ENV_ID, scenario=scenario)
    assert env.unwrapped.scenario is scenario
    assert np.all(play(env, 3)[0]["tilt_deg"] == 8.0)
