"""Run policies over seeds and compare them: every agent on the same evaluation seeds.

Agents are built-in policies (`hold`, `best-uniform`, `static-plan`, `rule-geometric`,
`rule-son`, `oracle`) or trained runs (`NAME=RUN_DIR`); without a list, the baselines
(`BASELINES`), and the word `baselines` in a list stands for them. Each gets the same
scenario, env config (its own action type) and seeds; results are the mean and 95 % confidence
interval (Student t over episodes) of the episode reward and of each KPI, and a normalised
score (R − R_rule-geometric) / (R_oracle − R_rule-geometric): 0 is the planning rule, 1 the
oracle. rule-geometric and oracle are always evaluated, as the score needs them.

Episodes run on held-out network realisations (`realisations.split = "eval"`, three network
seeds from 1 000 000 on, which no training pool of the default split holds), one drawn per
episode seed, unless the config names `realisations` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies import BUILTIN_POLICIES, make_policy
from cellsim.scenario import load_scenario

if TYPE_CHECKING:
    from cellsim.viz.record import Predictor

EVAL_SEED0 = 20_000
#: compare's default: three held-out realisations, each episode seed drawing one (a config's
#: own `realisations` replaces it). Three keeps the oracle's per-realisation plans affordable
#: (≈ 25 s a day on hex7) while the interval covers realisations, not demand noise alone.
HELD_OUT: dict[str, Any] = {"realisations": {"split": "eval", "pool_size": 3}}
REFERENCE_AGENTS = ("rule-geometric", "oracle")
#: compare's default agents: what any dynamic result must beat (`cellsim.policies.baselines`,
#: `cellsim.policies.rules`); static-plan is the main one.
BASELINES = ("hold", "best-uniform", "static-plan", "rule-geometric", "rule-son")
KPI_NAMES = (
    "coverage", "mean_rate_mbps", "p5_rate_mbps", "mean_log_rate", "overshoot_share",
    "unserved_share", "overload_share", "weak_coverage_share", "overcoverage_share",
)  # fmt: skip
CDF_EVERY_STEPS = 8  # user-throughput samples for CDFs: every 2 h of a 15-min episode


@dataclass
class EpisodeResult:
    seed: int
    reward: float
    tilt_changes: float  # a count per episode; a trained agent's sweep record holds a mean
    kpis: dict[str, float]  # episode means of the network KPIs
    hours: np.ndarray
    per_step: dict[str, np.ndarray]  # reward and KPIs per step, for plots over the day
    rates_mbps: np.ndarray = field(repr=False)  # sampled user throughputs, for CDFs
    rate_weights: np.ndarray = field(repr=False)
    sinr_db: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # same samples
    tilts_deg: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)  # per step


def run_episode(env: TiltEnv, policy: Predictor, seed: int) -> EpisodeResult:
    """One episode of `policy` (anything with SB3's `predict`) on `env` from `seed`."""
    obs, _ = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset()
    total, changes, hours = 0.0, 0, []
    series: dict[str, list[float]] = {k: [] for k in ("reward", *KPI_NAMES)}
    rates, weights, sinrs, tilts = [], [], [], []
    start = True
    while True:
        action, _ = policy.predict(obs, episode_start=np.array([start]), deterministic=True)
        start = False
        before = env.tilt_deg.copy()
        obs, reward, terminated, truncated, info = env.step(action)
        changes += int(np.count_nonzero(env.tilt_deg != before))
        tilts.append(env.tilt_deg.copy())
        total += reward
        hours.append(info["hour"])
        series["reward"].append(reward)
        for k in KPI_NAMES:
            series[k].append(info["kpis"][k])
        if env.t % CDF_EVERY_STEPS == 0:
            last = env._last  # the step's per-point results
            assert last is not None  # set by every step
            rates.append(last.kpis.rate_mbps.copy())
            weights.append(last.users.copy())
            sinrs.append(last.kpis.sinr_db.copy())
        if terminated or truncated:
            break
    per_step = {k: np.array(v) for k, v in series.items()}
    return EpisodeResult(
        seed=seed, reward=float(total), tilt_changes=changes,
        kpis={k: float(per_step[k].mean()) for k in KPI_NAMES}, hours=np.array(hours),
        per_step=per_step, rates_mbps=np.concatenate(rates) if rates else np.zeros(0),
        rate_weights=np.concatenate(weights) if weights else np.zeros(0),
        sinr_db=np.concatenate(sinrs) if sinrs else np.zeros(0), tilts_deg=np.array(tilts),
    )  # fmt: skip


def mean_ci95(values: Sequence[float] | np.ndarray) -> tuple[float, list[float]]:
    """Mean and Student-t 95 % confidence interval; a single value has a zero-width one."""
    v = np.asarray(values, float)
    m = float(v.mean())
    if len(v) < 2 or np.all(v == v[0]):
        return m, [m, m]
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, [m - half, m + half]


@dataclass
class AgentResult:
    name: str
    episodes: list[EpisodeResult]
    evaluations: int | None = None  # simulator evaluations (oracle)

    def summary(self) -> dict[str, Any]:
        mean, ci = mean_ci95([e.reward for e in self.episodes])
        kpis = {}
        for k in (*KPI_NAMES, "tilt_changes"):
            values = [e.tilt_changes if k == "tilt_changes" else e.kpis[k] for e in self.episodes]
            m, c = mean_ci95(values)
            kpis[k] = {"mean": m, "ci95": c}
        out = {"reward_mean": mean, "reward_ci95": ci, "kpis": kpis}
        if self.evaluations is not None:
            out["simulator_evaluations"] = self.evaluations
        return out


def parse_agent(spec: str) -> tuple[str, str | None]:
    """`rule-son` → ("rule-son", None); `ppo=runs/ppo/hex7_1` → ("ppo", path)."""
    if "=" in spec:
        name, _, path = spec.partition("=")
        if not name or not path:
            raise ConfigError(f"--agents {spec!r}: allowed NAME=RUN_DIR or a built-in name")
        return name, path
    if spec in BUILTIN_POLICIES:
        return spec, None
    if Path(spec, "config.yml").is_file():
        return Path(spec).name, spec
    raise ConfigError(
        f"--agents {spec!r}: allowed {', '.join(BUILTIN_POLICIES)}, baselines or NAME=RUN_DIR "
        "(a folder from cellsim train)"
    )


def load_policy(spec: str, env: TiltEnv) -> tuple[str, Predictor]:
    """A built-in policy for `env`, or the model of a run folder (`NAME=RUN_DIR` or RUN_DIR)."""
    from cellsim.training import load_run

    name, path = parse_agent(spec)
    return name, (make_policy(name, env) if path is None else bind(load_run(path)[0], env))


def bind(policy: Any, env: TiltEnv) -> Predictor:
    """A loaded model as a policy of `env`: shared per-cell models derive its neighbours; any
    other model must have been trained on observations of this env's shape."""
    from cellsim.policies.shared import SharedCellModel

    if not isinstance(policy, SharedCellModel):
        model = getattr(policy, "model", policy)
        space = getattr(model, "observation_space", None)
        shape = tuple(getattr(space, "shape", None) or ())
        expected = tuple(env.observation_space.shape or ())
        if space is not None and shape != expected:
            raise ConfigError(
                f"the model's observation shape {shape} differs from {env.scenario.name}'s "
                f"{expected}: it was trained on another network "
                "(only the shared agents — ppo-shared, ippo-shared, dagger-shared — act on any)"
            )
    return policy.bind(env) if hasattr(policy, "bind") else policy


def expand_agents(agents: Sequence[str] | None) -> list[str]:
    """The agent list compare runs: the baselines when none is given, `baselines` in a list
    replaced by them; a baseline also named on its own is run once."""
    given = list(agents or ["baselines"])
    if "baselines" not in given:
        return given
    out: list[str] = []
    for spec in given:
        for name in BASELINES if spec == "baselines" else (spec,):
            if name not in out or name not in BASELINES:
                out.append(name)
    return out


def compare(
    scenario: str,
    agents: Sequence[str] | None = None,
    episodes: int = 10,
    config: dict[str, Any] | None = None,
    seed0: int = EVAL_SEED0,
    progress: bool = False,
) -> dict[str, AgentResult]:
    """Evaluate every agent (default: the baselines) on the same `episodes` seeds; returns
    name → results."""
    from cellsim.training import load_run

    if episodes < 1:
        raise ConfigError(f"--episodes {episodes}: allowed ≥ 1")
    specs = [parse_agent(a) for a in expand_agents(agents)]
    names = [n for n, _ in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"--agents: names must be unique, got {', '.join(names)}")
    for ref in REFERENCE_AGENTS:
        if ref not in names:
            specs.append((ref, None))
    scen = load_scenario(scenario)
    seeds = [seed0 + i for i in range(episodes)]
    envs: dict[str, TiltEnv] = {}

    def env_for(action: str) -> TiltEnv:
        if action not in envs:
            envs[action] = TiltEnv(scen, {**HELD_OUT, **(config or {}), "action": action})
        return envs[action]


    action = (config or {}).get("action", "discrete")
    results: dict[str, AgentResult] = {}
    for name, path in specs:
        if path is None:
            env = env_for(action)
            policy: Predictor = make_policy(name, env)
        else:
            policy, run_config = load_run(path)
            trained = run_config["env_config"].get("action", "discrete")
            if trained != action:
                raise ConfigError(
                    f"--agents {name}={path}: trained with action = {trained!r}, the comparison "
                    f"uses {action!r}: compare with --config '{{\"action\": \"{trained}\"}}'"
                )
            env = env_for(action)
            policy = bind(policy, env)
        eps = []
        for s in seeds:
            eps.append(run_episode(env, policy, s))
            if progress:
                print(f"  {name}: seed {s} reward {eps[-1].reward:.2f}", flush=True)
        results[name] = AgentResult(name, eps, getattr(policy, "evaluations", None))
    return results


def to_json(scenario: str, results: dict[str, AgentResult]) -> dict[str, Any]:
    """The `cellsim compare --json` document, scores included."""
    summaries = {name: r.summary() for name, r in results.items()}
    r_geo = summaries["rule-geometric"]["reward_mean"]
    r_orc = summaries["oracle"]["reward_mean"]
    span = r_orc - r_geo
    for s in summaries.values():
        score = (s["reward_mean"] - r_geo) / span if abs(span) > 1e-12 else 0.0
        s["score"] = score + 0.0  # no "-0.00" for the planning rule when the span is negative
    return {"scenario": scenario, "agents": summaries}


def to_markdown(doc: dict[str, Any], episodes: int) -> str:
    """A table for RESULTS.md: mean [95 % CI] over the evaluation seeds."""

    def fmt(m: float, ci: list[float], digits: int = 2) -> str:
        return f"{m:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"

    lines = [
        f"Scenario `{doc['scenario']}`, {episodes} evaluation seeds, mean [95 % CI].",
        "",
        "| agent | episode reward | score | coverage | mean rate Mbps | p5 rate Mbps "
        "| tilt changes |",
        "|---|---|---:|---|---|---|---|",
    ]
    for name, s in doc["agents"].items():
        k = s["kpis"]
        lines.append(
            f"| {name} | {fmt(s['reward_mean'], s['reward_ci95'])} | {s['score']:.2f} "
            f"| {fmt(k['coverage']['mean'], k['coverage']['ci95'], 3)} "
            f"| {fmt(k['mean_rate_mbps']['mean'], k['mean_rate_mbps']['ci95'])} "
            f"| {fmt(k['p5_rate_mbps']['mean'], k['p5_rate_mbps']['ci95'])} "
            f"| {fmt(k['tilt_changes']['mean'], k['tilt_changes']['ci95'], 0)} |"
        )
    return "\n".join(lines) + "\n"
