"""`cellsim compare` and `cellsim.evaluation`: every agent on the same seeds, means with Student-t
95 % intervals, normalised scores, files and plots.

Episodes are 2 hours (8 steps) of hex7 so that the reference, always added, stays cheap; the
numbers in the JSON are checked against episodes replayed here with a loop of our own.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from cellsim import realisations
from cellsim.cli import main
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.evaluation import (
    EVAL_SEED0,
    HELD_OUT,
    REFERENCE_AGENTS,
    compare,
    held_out_seeds,
    mean_ci95,
    parse_agent,
    to_json,
    to_markdown,
)
from cellsim.policies import SonRule
from cellsim.realisations import network_key
from cellsim.scenario import load_scenario
from cellsim.training import TrainSpec, load_run, train

# RET free to move every step: two hours are too short for the dwell to let plans differ
SHORT_DAY = {"episode_hours": 2, "ret": {"max_moves_per_day": None, "min_dwell_minutes": 0}}
EPISODES = 2  # seeds per realisation
REALISATIONS = 3  # compare's default
REF = REFERENCE_AGENTS[1]
#: compare's grid: every seed on every held-out realisation
GRID = [(EVAL_SEED0 + i, ns) for ns in held_out_seeds(REALISATIONS) for i in range(EPISODES)]
KPIS = {
    "tilt_changes_per_cell_day",
    "coverage",
    "mean_rate_mbps",
    "p5_rate_mbps",
    "mean_log_rate",
    "overshoot_share",
    "unserved_share",
    "overload_share",
    "weak_coverage_share",
    "overcoverage_share",
    "tilt_changes",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A tiny PPO run (discrete tilts) to compare with the rules."""
    return train(
        TrainSpec(
            agent="ppo",
            scenario="hex7",
            timesteps=64,
            n_envs=1,
            hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 1},
            eval_freq=10**6,
            checkpoint_freq=10**6,
            config=dict(SHORT_DAY),
            progress_bar=False,
            out=str(tmp_path_factory.mktemp("compare") / "ppo-run"),
        )
    )


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code
    return code, out.getvalue(), err.getvalue()


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def compared(trained_run, tmp_path_factory):
    """`cellsim compare --json --out DIR` with rule-son and the trained run."""
    out_dir = tmp_path_factory.mktemp("compare-out") / "results"
    code, stdout, err = run_cli(
        "compare",
        "--scenario",
        "hex7",
        "--agents",
        "rule-son",
        f"ppo={trained_run}",
        "--episodes",
        str(EPISODES),
        "--json",
        "--config",
        json.dumps(SHORT_DAY),
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    return json.loads(stdout), out_dir


def replay(env: TiltEnv, policy, seed: int, network_seed: int) -> dict:
    """One episode with a loop of our own: total reward, KPI means, tilt changes."""
    obs, _ = env.reset(seed=seed, options={"network_seed": network_seed})
    if hasattr(policy, "reset"):
        policy.reset()
    total, changes, kpis, start = 0.0, 0, [], True
    while True:
        action, _ = policy.predict(obs, episode_start=np.array([start]), deterministic=True)
        start = False
        before = env.tilt_deg.copy()
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        changes += int(np.sum(env.tilt_deg != before))
        kpis.append(info["kpis"])
        if terminated or truncated:
            break
    means = {k: float(np.mean([row[k] for row in kpis]))
             for k in KPIS - {"tilt_changes", "tilt_changes_per_cell_day"}}  # fmt: skip
    per_cell_day = changes / env.sim.n_cells / (env.config.episode_hours / 24.0)
    return {"reward": total, "tilt_changes": changes, "tilt_changes_per_cell_day": per_cell_day,
            **means}  # fmt: skip


def t_interval(values) -> list[float]:
    v = np.asarray(values, float)
    lo, hi = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    return [float(lo), float(hi)]


# ------------------------------------------------------------------------------ the JSON


def test_json_document_shape(compared):
    doc, _ = compared
    assert set(doc) == {"scenario", "reference", "agents"}
    assert doc["scenario"] == "hex7" and doc["reference"] == list(REFERENCE_AGENTS)
    assert set(doc["agents"]) == {"rule-son", "ppo", "rule-geometric", REF}
    realisations = {str(ns) for _, ns in GRID}
    for name, agent in doc["agents"].items():
        extra = {"simulator_evaluations"} if name == REF else set()
        if name in REFERENCE_AGENTS:  # the score's ends, in-sample too (a trained run is here)
            extra |= {"in_sample"}
        if name == "ppo":  # a trained run: in-sample beside held-out
            extra = {"in_sample", "generalisation_gap", "runs"}
        assert set(agent) == {"reward_mean", "reward_ci95", "kpis", "score", "episodes",
                              "reward_by_realisation"} | extra, name  # fmt: skip
        assert agent["episodes"] == len(GRID)
        assert set(agent["reward_by_realisation"]) == realisations
        lo, hi = agent["reward_ci95"]
        assert lo <= agent["reward_mean"] <= hi
        assert all(math.isfinite(x) for x in (lo, hi, agent["reward_mean"], agent["score"]))
        assert set(agent["kpis"]) == KPIS
        for kpi in agent["kpis"].values():
            assert set(kpi) == {"mean", "ci95"}
            assert len(kpi["ci95"]) == 2
            assert kpi["ci95"][0] <= kpi["mean"] <= kpi["ci95"][1]
        assert 0.0 <= agent["kpis"]["coverage"]["mean"] <= 1.0
    assert doc["agents"][REF]["simulator_evaluations"] > 0


def test_a_trained_run_is_also_scored_on_its_training_pool(compared, trained_run):
    """In-sample = the same seeds on the first realisations of the run's training pool (the
    default split: network seeds 0, 1, 2), replayed here, scored between rule-geometric and
    the reference on those same realisations; the gap is in-sample − held-out."""
    doc, _ = compared
    agents = doc["agents"]
    ppo = agents["ppo"]
    assert ppo["runs"] == 1
    inside = ppo["in_sample"]
    assert set(inside["reward_by_realisation"]) == {"0", "1", "2"}
    model, _ = load_run(trained_run)
    env = TiltEnv("hex7", {**HELD_OUT, **SHORT_DAY})
    rewards = [replay(env, model, EVAL_SEED0 + i, ns)["reward"]
               for ns in (0, 1, 2) for i in range(EPISODES)]  # fmt: skip
    assert inside["reward_mean"] == pytest.approx(np.mean(rewards), abs=1e-9)
    low, high = (agents[a]["in_sample"]["reward_mean"] for a in REFERENCE_AGENTS)
    assert set(agents[REF]["in_sample"]["reward_by_realisation"]) == {"0", "1", "2"}
    assert inside["score"] == pytest.approx((inside["reward_mean"] - low) / (high - low))
    assert agents[REF]["in_sample"]["score"] == 1.0
    assert ppo["generalisation_gap"] == pytest.approx(inside["score"] - ppo["score"])


def test_several_runs_of_one_recipe_pool_their_episodes(trained_run):
    results = compare("hex7", [f"ppo={trained_run},{trained_run}"], 1, dict(SHORT_DAY),
                      realisations=2)  # fmt: skip
    ppo = results["ppo"]
    assert ppo.runs == 2 and len(ppo.episodes) == 4 and len(ppo.in_sample) == 4
    assert [e.reward for e in ppo.episodes[:2]] == [e.reward for e in ppo.episodes[2:]]


def test_in_sample_figures_only_on_the_network_a_run_was_trained_on(trained_run):
    """A hex7 run on rural (21 cells too, another radio network): every realisation there is one
    it never saw, so compare reports held-out figures only. On outage (hex7 with a site
    failure: the same realisation for each network seed) its training pool is in-sample."""
    results = compare("rural", [f"ppo={trained_run}"], 1, dict(SHORT_DAY), realisations=1)
    assert len(results["ppo"].episodes) == 1 and results["ppo"].in_sample == []
    assert all(r.in_sample == [] for r in results.values())
    results = compare("outage", [f"ppo={trained_run}"], 1, dict(SHORT_DAY), realisations=1)
    assert [e.network_seed for e in results["ppo"].in_sample] == [0]


def test_outage_and_hex7_share_their_realisations_rural_does_not():
    keys = {name: network_key(load_scenario(name)) for name in ("hex7", "outage", "rural")}
    assert keys["hex7"] == keys["outage"] != keys["rural"]
    hex7, outage = TiltEnv("hex7"), TiltEnv("outage")
    hex7.sim.use_realisation(12345)
    realisations.CACHE.clear()  # drawn again for outage, not read from hex7's cache entry
    outage.sim.use_realisation(12345)
    for a, b in zip(hex7.sim.budget.terms, outage.sim.budget.terms, strict=True):
        np.testing.assert_array_equal(a, b)


def test_scores_are_normalised_between_the_planning_rule_and_the_reference(compared):
    doc, _ = compared
    agents = doc["agents"]
    assert agents["rule-geometric"]["score"] == 0.0
    assert agents[REF]["score"] == 1.0
    r_geo, r_orc = agents["rule-geometric"]["reward_mean"], agents[REF]["reward_mean"]
    for name in ("rule-son", "ppo"):
        score = (agents[name]["reward_mean"] - r_geo) / (r_orc - r_geo)
        assert agents[name]["score"] == pytest.approx(score, rel=1e-12)


def test_rule_son_numbers_match_episodes_replayed_on_the_evaluation_seeds(compared):
    doc, _ = compared
    env = TiltEnv("hex7", {**HELD_OUT, **SHORT_DAY})  # what compare runs on
    rule = SonRule(env)
    episodes = [replay(env, rule, seed, ns) for seed, ns in GRID]
    son = doc["agents"]["rule-son"]
    rewards = [e["reward"] for e in episodes]
    assert son["reward_mean"] == pytest.approx(np.mean(rewards), abs=1e-9)
    np.testing.assert_allclose(son["reward_ci95"], t_interval(rewards), atol=1e-9)
    for k in KPIS:
        values = [e[k] for e in episodes]
        assert son["kpis"][k]["mean"] == pytest.approx(np.mean(values), abs=1e-9), k


def test_trained_run_numbers_match_its_replayed_episodes(compared, trained_run):
    doc, _ = compared
    model, config = load_run(trained_run)
    assert config["env_config"]["action"] == "discrete"
    env = TiltEnv("hex7", {**HELD_OUT, **SHORT_DAY})  # what compare runs on
    rewards = [replay(env, model, seed, ns)["reward"] for seed, ns in GRID]
    assert doc["agents"]["ppo"]["reward_mean"] == pytest.approx(np.mean(rewards), abs=1e-9)


def test_every_agent_runs_the_same_seeds_and_repeats_exactly(compared):
    doc, _ = compared
    results = compare("hex7", ["rule-geometric"], EPISODES, dict(SHORT_DAY))
    assert list(results) == list(REFERENCE_AGENTS)
    for result in results.values():
        assert [(e.seed, e.network_seed) for e in result.episodes] == GRID
    again = to_json("hex7", results)["agents"]
    # a separate call (another process's worth of state) gives the same numbers (held-out:
    # the compared document also ran them in-sample, for its trained run)
    held_out = {k: v for k, v in doc["agents"]["rule-geometric"].items() if k != "in_sample"}
    assert again["rule-geometric"] == held_out
    assert again[REF]["reward_mean"] == doc["agents"][REF]["reward_mean"]


def test_different_seeds_give_different_episodes():
    half_hour = {"episode_hours": 0.5}
    first = compare("hex7", ["rule-geometric"], 1, half_hour)
    other = compare("hex7", ["rule-geometric"], 1, half_hour, seed0=EVAL_SEED0 + 7)
    assert first["rule-geometric"].episodes[0].seed != other["rule-geometric"].episodes[0].seed
    assert first["rule-geometric"].episodes[0].reward != other["rule-geometric"].episodes[0].reward


# ------------------------------------------------------------------------------ the files


def test_out_folder_holds_results_and_plots(compared):
    doc, out_dir = compared
    assert {p.name for p in out_dir.iterdir()} == {
        "results.json",
        "results.md",
        "kpis_over_day.png",
        "throughput_cdf.png",
        "sinr_cdf.png",
    }
    assert json.loads((out_dir / "results.json").read_text()) == doc
    markdown = (out_dir / "results.md").read_text()
    assert "| agent |" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(doc["agents"])
    for name in doc["agents"]:
        assert any(line.startswith(f"| {name} |") for line in rows), name
    geo = next(line for line in rows if line.startswith("| rule-geometric |"))
    assert "| 0.00 |" in geo
    for png in ("kpis_over_day.png", "throughput_cdf.png", "sinr_cdf.png"):
        data = (out_dir / png).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000, png


def test_markdown_is_printed_without_json(tmp_path):
    code, stdout, err = run_cli(
        "compare",
        "--scenario",
        "hex7",
        "--agents",
        "rule-geometric",
        "--episodes",
        "1",
        "--config",
        json.dumps({"episode_hours": 0.5}),
    )
    assert code == 0, err
    assert "| rule-geometric |" in stdout and f"| {REF} |" in stdout


# ------------------------------------------------------------------------- mean and CI


@pytest.mark.parametrize(
    "values", [[1.0, 2.0, 3.0, 4.0], [10.0, 10.5], [-3.2, 0.1, 7.7, 2.5, 2.5, -1.0, 4.4]]
)
def test_mean_ci95_is_the_student_t_interval(values):
    mean, ci = mean_ci95(values)
    assert mean == pytest.approx(np.mean(values))
    np.testing.assert_allclose(ci, t_interval(values), rtol=1e-12)


def test_mean_ci95_by_hand():
    mean, (lo, hi) = mean_ci95([1.0, 2.0, 3.0, 4.0])
    half = 3.182446305284263 * math.sqrt(5.0 / 3.0) / 2.0  # t(0.975, 3) · s / √n
    assert mean == 2.5
    assert lo == pytest.approx(2.5 - half, abs=1e-12)
    assert hi == pytest.approx(2.5 + half, abs=1e-12)


def test_mean_ci95_degenerate_cases():
    assert mean_ci95([4.2]) == (4.2, [4.2, 4.2])
    assert mean_ci95([3.0, 3.0, 3.0]) == (3.0, [3.0, 3.0])
    assert mean_ci95(np.array([7])) == (7.0, [7.0, 7.0])


# -------------------------------------------------------------------------------- errors


def test_trained_run_with_another_action_type_is_refused(trained_run):
    with pytest.raises(ConfigError, match="action"):
        compare("hex7", [f"ppo={trained_run}"], 1, {"action": "continuous", **SHORT_DAY})
    code, _, err = run_cli(
        "compare",
        "--agents",
        f"ppo={trained_run}",
        "--episodes",
        "1",
        "--config",
        json.dumps({"action": "continuous", **SHORT_DAY}),
    )
    line = one_error_line(code, err)
    assert "discrete" in line and "continuous" in line


def test_compare_needs_at_least_one_episode():
    with pytest.raises(ConfigError, match="episodes"):
        compare("hex7", ["rule-son"], 0, dict(SHORT_DAY))


def test_a_bare_run_folder_is_named_after_it(trained_run):
    assert parse_agent(str(trained_run)) == (trained_run.name, [str(trained_run)])
    assert parse_agent(f"mine={trained_run}") == ("mine", [str(trained_run)])
    assert parse_agent(f"mine={trained_run},{trained_run}") == ("mine", [str(trained_run)] * 2)
    assert parse_agent("rule-son") == ("rule-son", None)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--agents", "rule-magic"], "rule-magic"),
        (["--agents", "=runs/x"], "NAME=RUN_DIR"),
        (["--agents", "rule-son", "rule-son"], "unique"),
        (["--agents", "rule-son", "--episodes", "0"], "--episodes"),
        (["--agents", "rule-son", "--config", "{oops"], "--config"),
        (["--agents", "rule-son", "--config", '{"episode_hours": 0}'], "episode_hours"),
        (["--agents", "rule-son", "--scenario", "hex77"], "hex7"),
        (["--agents", "ghost=/nonexistent/run"], "config.yml"),
    ],
)
def test_user_errors_exit_2_with_one_line(argv, needle):
    code, _, err = run_cli("compare", *argv)
    assert needle in one_error_line(code, err)


def test_out_that_is_a_file_fails_before_any_episode(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("a file, not a folder")
    code, stdout, err = run_cli("compare", "--agents", "rule-son", "--out", str(blocker))
    assert "--out" in one_error_line(code, err)
    assert stdout == ""


def test_every_agent_is_paired_with_static_plan_on_the_same_episodes():
    """The paired gain is the mean of per-episode differences (same seed, same realisation)
    with its t interval; static-plan's own is exactly 0."""
    results = compare("hex7", ["static-plan", "hold"], 2, dict(SHORT_DAY), realisations=2)
    doc = to_json("hex7", results)
    plan = {(e.seed, e.network_seed): e.reward for e in results["static-plan"].episodes}
    diffs = [e.reward - plan[(e.seed, e.network_seed)] for e in results["hold"].episodes]
    gain = doc["agents"]["hold"]["vs_static-plan"]
    assert gain["pairs"] == 4
    assert gain["mean"] == pytest.approx(np.mean(diffs), abs=1e-12)
    np.testing.assert_allclose(gain["ci95"], t_interval(diffs), atol=1e-9)
    assert doc["agents"]["static-plan"]["vs_static-plan"] == {"mean": 0.0, "ci95": [0.0, 0.0],
                                                              "pairs": 4}
    # with pool-plan among the agents (hold's episodes stand in for it), a second pairing
    results["pool-plan"] = results.pop("hold")
    doc = to_json("hex7", results)
    gain = doc["agents"]["static-plan"]["vs_pool-plan"]
    assert gain["pairs"] == 4 and gain["mean"] == pytest.approx(-np.mean(diffs), abs=1e-12)
    table = to_markdown(doc, 2)
    assert "| vs static-plan (paired) | vs pool-plan (paired) |" in table
    row = next(line for line in table.splitlines() if line.startswith("| static-plan |"))
    assert row.count("|") == table.splitlines()[2].count("|")  # a cell for every column
