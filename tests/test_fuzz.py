"""Fuzz suites (issue 16, item 1): every failure is cellsim's own error (CellsimError, or the
CLI's exit 2 with one line). Surfaces: scenario dicts, hyperparameter dicts, CLI arguments of
every command, site CSVs, hyperparameter YAML files, run folders. A fast subset (40-60 examples
each) runs by default; `pytest -m nightly` runs 1000 examples each. Failing examples found by
the fuzzers are kept as `@example`s or regression tests."""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cellsim.cli import build_parser, main
from cellsim.errors import CellsimError
from cellsim.network.layout import CSV_COLUMNS, CSV_OPTIONAL, csv_layout
from cellsim.scenario import load_scenario_file, parse_scenario
from cellsim.training.hyperparams import check_values
from cellsim.training.registry import AGENTS, ENV_ID

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**9, 10**9) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6),
                                                                     children, max_size=4),
    max_leaves=8,
)  # fmt: skip
SECTIONS = ["layout", "radio", "antenna", "area", "demand", "env", "events"]
SCENARIO = st.fixed_dictionaries(
    {"name": st.just("fuzz"), "pathloss": st.just({"model": "uma"})},  # type: ignore[dict-item]
    optional=dict.fromkeys(SECTIONS, VALUES),
)
HYPER_KEYS = ["learning_rate", "n_steps", "batch_size", "gamma", "n_envs", "policy", "tau",
              "train_freq", "ent_coef", "clip_range", "buffer_size"]  # fmt: skip
HYPER = st.dictionaries(st.sampled_from(HYPER_KEYS), VALUES, max_size=4)
FAST = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
NIGHTLY = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))


def _scenario(data: dict) -> None:
    with contextlib.suppress(CellsimError):
        parse_scenario(data, "fuzz")


def _hyper(agent: str, data: dict) -> None:
    with contextlib.suppress(CellsimError):
        check_values(AGENTS[agent], data, "fuzz")


@FAST
@given(SCENARIO)
def test_scenario_dicts(data):
    _scenario(data)


@FAST
@given(st.sampled_from(sorted(AGENTS)), HYPER)
def test_hyperparameters(agent, data):
    _hyper(agent, data)


@pytest.mark.nightly
@NIGHTLY
@given(SCENARIO)
def test_scenario_dicts_nightly(data):
    _scenario(data)


@pytest.mark.nightly
@NIGHTLY
@given(st.sampled_from(sorted(AGENTS)), HYPER)
def test_hyperparameters_nightly(agent, data):
    _hyper(agent, data)


# -- CLI arguments of every command ------------------------------------------------------------


class _LongWork(Exception):
    """Raised where a command would start long work (training, an episode, a benchmark): the
    arguments passed every check before it, which is all a fuzz example may cost."""


def _stop(*args: object, **kwargs: object) -> None:
    raise _LongWork


#: What each command calls once its arguments are checked; the fuzz stops there.
LONG_WORK = [
    ("cellsim.training.trainer", "vec_env"),  # train, demo
    ("cellsim.evaluation", "run_episode"),  # compare, report
    ("cellsim.demo", "tilts_at"),  # map --policy / --compare
    ("cellsim.viz.maps", "draw_map"),
    ("cellsim.viz.maps", "before_after_sinr"),
    ("cellsim.viz.record", "record_episode"),
    ("cellsim.calibration", "run_calibration"),
    *(("cellsim.bench", name) for name in ("bench_env_step", "bench_episodes",
                                           "bench_link_budget", "bench_per_cell_step",
                                           "bench_ppo")),
    ("cellsim.sweep.runner", "run_sweep"),
]  # fmt: skip


def _leaf_parsers(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, sub in subs[0].choices.items():
        yield from _leaf_parsers(sub, (*prefix, name))


COMMANDS = {words: p for words, p in _leaf_parsers(build_parser())}

#: Argument values: numbers, times, JSON, names and paths that are nearly right, and noise.
TOKENS = ["0", "-1", "1", "3", "1e309", "nan", "-inf", "0.5", "99999999999", "25:00", "12:00",
          "noon", "{}", '{"a": 1}', "[1]", "{", "hex7", "case1", "nope", "rule-son", "oracle",
          "ppo", "a=b", "=", "x=", "$a$b$", "x.png", "x.gif", "x.txt", "x.html", "x.mp4", "",
          " ", "--", "-x", "\x00", "é", "os:system", "json:dumps"]  # fmt: skip
PATHS = ["file", "dir", "file/x.png", "missing/x.png", "dir/x.gif", "file.yml", "dir/", "."]


@st.composite
def _value(draw: st.DrawFn, action: argparse.Action, root: str) -> str:
    kind = draw(st.integers(0, 9))
    if action.choices and kind < 4:
        return str(draw(st.sampled_from(sorted(map(str, action.choices)))))
    if kind < 6:
        return draw(st.sampled_from(TOKENS))
    if kind < 8:
        return f"{root}/{draw(st.sampled_from(PATHS))}"
    return draw(st.text(max_size=12) | st.integers().map(str) | st.floats().map(str))


@st.composite
def argv(draw: st.DrawFn, root: str) -> list[str]:
    words = draw(st.sampled_from(sorted(COMMANDS)))
    out = list(words)
    for action in COMMANDS[words]._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction):
            continue
        if action.option_strings:
            if draw(st.integers(0, 2)) != 0 and not (action.required and draw(st.booleans())):
                continue
            out.append(draw(st.sampled_from(action.option_strings)))
        elif not draw(st.integers(0, 5)):
            continue  # a missing positional
        nargs = action.nargs
        if nargs == 0:
            continue
        count = nargs if isinstance(nargs, int) else 1 if nargs is None else draw(
            st.integers(0 if nargs in ("?", "*") else 1, 3))  # fmt: skip
        out.extend(draw(_value(action, root)) for _ in range(count))
    return out


def _fuzz_dir(monkeypatch: pytest.MonkeyPatch, base: Path) -> str:
    """A new scratch folder under `base` (holding a regular file and a folder) as the cwd,
    long work stopped."""
    import importlib

    for module, name in LONG_WORK:
        monkeypatch.setattr(importlib.import_module(module), name, _stop)
    root = tempfile.mkdtemp(dir=base)
    (Path(root) / "file").write_text("x")
    (Path(root) / "file.yml").write_text("cellsim/Tilt-v0: {learning_rate: fast}\n")
    (Path(root) / "dir").mkdir()
    monkeypatch.chdir(root)
    return root


def run_cli(args: list[str]) -> tuple[int | None, str]:
    """(exit code, stderr) of `cellsim ARGS`; None when it reached long work."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except _LongWork:
            return None, err.getvalue()
    return code, err.getvalue()


def assert_one_line(args: list[str], code: int | None, err: str) -> None:
    """A failure is exit 2 and one non-empty stderr line, no traceback."""
    if code in (None, 0):
        return
    lines = err.strip().splitlines()
    # `scenarios validate` reports one line per file
    allowed = len(args) - 2 if args[:2] == ["scenarios", "validate"] else 1
    assert code == 2, (args, code, err)
    assert 1 <= len(lines) <= max(allowed, 1), (args, err)
    assert all(line.strip() for line in lines) and "Traceback" not in err, (args, err)


def _cli(monkeypatch: pytest.MonkeyPatch, base: Path, data: st.DataObject) -> None:
    root = _fuzz_dir(monkeypatch, base)
    args = data.draw(argv(root))
    assert_one_line(args, *run_cli(args))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


FAST_CLI = settings(FAST, max_examples=60)


@FAST_CLI
@given(data=st.data())
def test_cli_arguments(monkeypatch, scratch, data):
    _cli(monkeypatch, scratch, data)


@pytest.mark.parametrize(
    "args",
    [
        ["scenarios", "validate", "\x00"],  # ValueError: embedded null byte
        ["scenarios", "show", "a\x00b"],
        ["train", "--agent", "a2c", "--hyperparams-file", "a\x00b", "--out", "run"],
        ["scenarios", "validate", "0\x1e"],  # a control character in a file name: escaped
        ["scenarios", "show", "x\ny.toml"],
    ],
)
def test_cli_regressions(monkeypatch, scratch, args):
    _fuzz_dir(monkeypatch, scratch)
    code, err = run_cli(args)
    assert code == 2
    assert_one_line(args, code, err)


@pytest.mark.nightly
@NIGHTLY
@given(data=st.data())
def test_cli_arguments_nightly(monkeypatch, scratch, data):
    _cli(monkeypatch, scratch, data)


# -- site CSVs -----------------------------------------------------------------------------------

CSV_NAMES = [*CSV_COLUMNS, *CSV_OPTIONAL, "extra", "", "site ", "SITE"]
CSV_FIELDS = st.one_of(
    st.sampled_from(["0", "1", "-1", "30", "1e9", "nan", "inf", "-inf", "", " ", "A", "1,5",
                     '"', '""', "x\ny", "\x00", "0x10", "1_000", "٣", "95", "-91"]),
    st.floats(allow_nan=True).map(repr), st.integers(-10**6, 10**6).map(str),
    st.text(max_size=6),
)  # fmt: skip


@st.composite
def csv_text(draw: st.DrawFn) -> bytes:
    """A site list: a header of (mostly) real column names and rows of fuzzed fields, or noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    header = draw(st.lists(st.sampled_from(CSV_NAMES), max_size=9)
                  | st.permutations(list(CSV_COLUMNS)))  # fmt: skip
    rows = draw(st.lists(st.lists(CSV_FIELDS, max_size=len(header) + 1), max_size=5))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    lines = [sep.join(header), *(sep.join(row) for row in rows)]
    return "\n".join(lines).encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])))


def _csv(base: Path, content: bytes) -> None:
    path = Path(tempfile.mkdtemp(dir=base)) / "sites.csv"
    path.write_bytes(content)
    with contextlib.suppress(CellsimError):
        csv_layout(path)


@FAST
@given(csv_text())
@example(b"x_m,site,y_m,height_m,azimuth_deg,tilt_deg\n0")  # a short row: AttributeError
def test_site_csvs(scratch, content):
    _csv(scratch, content)


@pytest.mark.nightly
@NIGHTLY
@given(csv_text())
def test_site_csvs_nightly(scratch, content):
    _csv(scratch, content)


# -- hyperparameter YAML files -----------------------------------------------------------------

YAML_SCALARS = ["fast", "-1", "0", "1e-3", ".nan", ".inf", "~", "[]", "{}", "[1, 2]",
                "lin_0.001", "lin_fast", "dict(net_arch=[8])", "dict(net_arch=[-1])",
                "MlpPolicy", "SharedCellActorPolicy", "nn.ReLU", "__import__('os')",
                "!!python/none", "&a [*a]", "'", "yes", "2000-01-01", "0x10", "1_0"]  # fmt: skip


@st.composite
def yaml_text(draw: st.DrawFn) -> bytes:
    """A hyperparameter file: the rl-zoo3 layout with fuzzed keys and values, or noise."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=120))
    if kind == 1:
        return draw(st.text(max_size=60)).encode()
    keys = draw(st.lists(st.sampled_from([*HYPER_KEYS, "n_timesteps", "env_config",
                                          "policy_kwargs", "imitation", "normalize", "bogus"]),
                         max_size=5, unique=True))  # fmt: skip
    values = [draw(st.sampled_from(YAML_SCALARS) | st.integers(-5, 10**6).map(str)
                   | st.floats(allow_nan=True).map(repr)) for _ in keys]  # fmt: skip
    env_id = draw(st.sampled_from([ENV_ID, ENV_ID, "CartPole-v1", "", "cellsim/Tilt-v0 "]))
    body = "".join(f"  {k}: {v}\n" for k, v in zip(keys, values, strict=True))
    return f"{env_id}:\n{body}".encode()


def _yaml(monkeypatch: pytest.MonkeyPatch, base: Path, agent: str, content: bytes) -> None:
    root = _fuzz_dir(monkeypatch, base)
    path = Path(root) / "hyper.yml"
    path.write_bytes(content)
    # the bogus env key refuses the run right after the hyperparameters are checked
    args = ["train", "--agent", agent, "--hyperparams-file", str(path), "--out",
            f"{root}/run", "--config", '{"fuzz_no_such_key": 1}', "--no-progress"]  # fmt: skip
    code, err = run_cli(args)
    assert code == 2, (content, code, err)
    assert_one_line(args, code, err)


TRAINABLE = sorted(name for name, spec in AGENTS.items() if spec.max_cells is None)


@FAST
@given(st.sampled_from(TRAINABLE), yaml_text())
@example("a2c", b"\x80")  # not UTF-8: UnicodeDecodeError
@example("a2c", b"cellsim/Tilt-v0:\n  env_config: fast\n")  # TypeError: not a mapping
def test_hyperparameter_files(monkeypatch, scratch, agent, content):
    _yaml(monkeypatch, scratch, agent, content)


@pytest.mark.nightly
@NIGHTLY
@given(st.sampled_from(TRAINABLE), yaml_text())
def test_hyperparameter_files_nightly(monkeypatch, scratch, agent, content):
    _yaml(monkeypatch, scratch, agent, content)


# -- run folders -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run folder of a few a2c steps, to damage."""
    import torch

    from cellsim.training import TrainSpec, train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(TrainSpec(agent="a2c", timesteps=16, n_envs=1, hyperparams={"n_steps": 8},
                               eval_freq=10**6, eval_episodes=1, config={"episode_hours": 2},
                               progress_bar=False,
                               out=str(tmp_path_factory.mktemp("tiny") / "a2c")))  # fmt: skip
    finally:
        torch.set_num_threads(threads)


CONFIG_VALUES = VALUES | st.sampled_from(["ppo", "sac", "dqn", "hex7", "case1", "nope"])


@st.composite
def damage(draw: st.DrawFn, run: Path) -> dict[str, bytes | None]:
    """New contents (None: removed) for some of a run folder's files."""
    import yaml

    out: dict[str, bytes | None] = {}
    config = yaml.safe_load((run / "config.yml").read_text())
    kind = draw(st.integers(0, 5))
    if kind == 0:
        out["config.yml"] = draw(st.binary(max_size=80))
    elif kind == 1:
        out["config.yml"] = yaml.safe_dump(draw(st.dictionaries(st.text(max_size=8), VALUES,
                                                                max_size=4))).encode()  # fmt: skip
    elif kind in (2, 3):
        key = draw(st.sampled_from(sorted(config)))
        config[key] = draw(CONFIG_VALUES)
        out["config.yml"] = yaml.safe_dump(config).encode()
    model = (run / "model.zip").read_bytes()
    kind = draw(st.integers(0, 5))
    if kind == 0:
        out["model.zip"] = model[: draw(st.integers(0, len(model) - 1))]
    elif kind == 1:
        out["model.zip"] = draw(st.binary(max_size=200))
    elif kind == 2:
        out["model.zip"] = None
    elif kind == 3:  # a member replaced by noise
        buffer = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(model)) as src, zipfile.ZipFile(buffer, "w") as dst:
            names = src.namelist()
            bad = draw(st.sampled_from(names))
            for name in names:
                dst.writestr(name, draw(st.binary(max_size=64)) if name == bad else src.read(name))
        out["model.zip"] = buffer.getvalue()
    elif kind == 4:
        buffer = io.BytesIO()
        zipfile.ZipFile(buffer, "w").close()
        out["model.zip"] = buffer.getvalue()
    return out


def _run_folder(
    base: Path, run: Path, data: st.DataObject, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cellsim.training import load_run

    changes = data.draw(damage(run))
    folder = Path(tempfile.mkdtemp(dir=base)) / "run"
    shutil.copytree(run, folder)
    (folder / "best_model.zip").unlink(missing_ok=True)
    for name, content in changes.items():
        if content is None:
            (folder / name).unlink()
        else:
            (folder / name).write_bytes(content)
    with contextlib.suppress(CellsimError):
        load_run(folder)
    if data.draw(st.booleans()):  # and through the CLI, stopped at the first episode
        _fuzz_dir(monkeypatch, base)
        args = ["compare", "--agents", f"x={folder}", "--episodes", "1"]
        assert_one_line(args, *run_cli(args))


FAST_RUNS = settings(FAST, max_examples=40)


@pytest.mark.usefixtures("one_torch_thread")
@FAST_RUNS
@given(data=st.data())
def test_run_folders(scratch, tiny_run, data, monkeypatch):
    _run_folder(scratch, tiny_run, data, monkeypatch)


@pytest.mark.nightly
@pytest.mark.usefixtures("one_torch_thread")
@NIGHTLY
@given(data=st.data())
def test_run_folders_nightly(scratch, tiny_run, data, monkeypatch):
    _run_folder(scratch, tiny_run, data, monkeypatch)


# -- scenario files (TOML text) ----------------------------------------------------------------

HEX7_LINES = (Path(__file__).resolve().parent.parent / "scenarios" / "hex7.toml").read_text(
).splitlines()  # fmt: skip
TOML_VALUES = ["0", "-1", "1e9", "nan", "inf", '"x"', "[]", "[1, 2]", "{}", "true",
               '"hex7"', '"outage"', "[[0, 0], [1, 1], [0, 1]]", '"../nope.csv"']  # fmt: skip


@st.composite
def toml_text(draw: st.DrawFn) -> bytes:
    """hex7.toml with lines dropped, duplicated or given fuzzed values, an `extends`, or noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    lines = list(HEX7_LINES)
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.integers(0, 3))
        if action == 0:
            del lines[i]
        elif action == 1:
            lines.insert(i, lines[i])
        elif "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {draw(st.sampled_from(TOML_VALUES))}"
        else:
            lines.insert(i, f"extends = {draw(st.sampled_from(TOML_VALUES))}")
    return "\n".join(lines).encode()


def _scenario_file(base: Path, content: bytes) -> None:
    path = Path(tempfile.mkdtemp(dir=base)) / "mine.toml"
    path.write_bytes(content)
    with contextlib.suppress(CellsimError):
        load_scenario_file(path)


@FAST
@given(toml_text())
def test_scenario_files(scratch, content):
    _scenario_file(scratch, content)


@pytest.mark.nightly
@NIGHTLY
@given(toml_text())
def test_scenario_files_nightly(scratch, content):
    _scenario_file(scratch, content)
