"""Fuzz suites (issue 16, item 1): every failure is cellsim's own error (CellsimError, or the
CLI's exit 2 with one line). A fast subset runs by default; `pytest -m nightly` runs ≥ 1000
examples each."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cellsim.errors import CellsimError
from cellsim.scenario import parse_scenario
from cellsim.training.hyperparams import check_values
from cellsim.training.registry import AGENTS

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
