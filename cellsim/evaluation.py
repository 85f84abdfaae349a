"""Run policies over seeds and compare them: every agent on the same evaluation seeds.

Agents are built-in policies (`hold`, `best-uniform`, `static-plan`, `period-plan`,
`rule-geometric`, `rule-son`, `reference`) or trained runs (`NAME=RUN_DIR`); without a list,
the baselines (`BASELINES`), and the word `baselines` in a list stands for them. Each gets the same
scenario, env config (its own action type) and seeds; results are the mean and 95 % confidence
interval (Student t over episodes) of the episode reward and of each KPI, and a normalised
score (R − R_rule-geometric) / (R_reference − R_rule-geometric): 0 is the planning rule, 1 the
reference (the day's best tilt trajectory under the agent's constraints). rule-geometric and
reference are always evaluated, as the score needs them.

Episodes run on held-out network realisations (`realisations.split = "eval"`, three network
seeds from 1 000 000 on, which no training pool of the default split holds), one drawn per
episode seed, unless the config names `realisations` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import CellsimError, ConfigError
from cellsim.policies import BUILTIN_POLICIES, RETIRED_POLICIES, check_policy_name, make_policy
from cellsim.realisations import network_key
from cellsim.scenario import EVAL_NETWORK_SEED0, RealisationConfig, Scenario, load_scenario

if TYPE_CHECKING:
    from cellsim.viz.record import Predictor

EVAL_SEED0 = 20_000
#: compare's default: three held-out realisations, each episode seed drawing one (a config's
#: own `realisations` replaces it). Three keeps the reference's per-realisation plans affordable
#: (≈ 25 s a day on hex7) while the interval covers realisations, not demand noise alone.
HELD_OUT: dict[str, Any] = {"realisations": {"split": "eval", "pool_size": 3}}
REFERENCE_AGENTS = ("rule-geometric", "reference")
#: compare's default agents: what any dynamic result must beat (`cellsim.policies.baselines`,
#: `cellsim.policies.rules`); static-plan is the main one.
BASELINES = (
    "hold", "best-uniform", "pool-plan", "static-plan", "period-plan", "rule-geometric",
    "rule-son",
)  # fmt: skip
#: the baseline every agent is paired with in the tables (what dynamic re-tilting must beat)
MAIN_BASELINE = "static-plan"
#: the baselines agents are paired with where they ran: static-plan, and pool-plan (the same
#: plan without the realisation: what an agent that cannot read the realisation can match)
PAIRED_BASELINES = (MAIN_BASELINE, "pool-plan")
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
    network_seed: int = -1  # the realisation it ran on (-1: not recorded)
    tilt_changes_per_cell_day: float = float("nan")  # RET moves per cell per day of the episode


def run_episode(
    env: TiltEnv, policy: Predictor, seed: int, network_seed: int | None = None
) -> EpisodeResult:
    """One episode of `policy` (anything with SB3's `predict`) on `env` from `seed`, on
    realisation `network_seed` (None: the env draws one from its pool)."""
    options = None if network_seed is None else {"network_seed": network_seed}
    obs, info = env.reset(seed=seed, options=options)
    drawn = int(info["network_seed"])
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
        seed=seed, reward=float(total), tilt_changes=changes, network_seed=drawn,
        tilt_changes_per_cell_day=changes / env.sim.n_cells / (env.n_ticks * env.config.step_minutes
                                                             / 1440.0),
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
    evaluations: int | None = None  # simulator evaluations (reference)
    #: a trained agent's episodes on realisations of its own training pool (same seeds)
    in_sample: list[EpisodeResult] = field(default_factory=list)
    runs: int = 0  # trained runs pooled into the result (several training seeds of one recipe)

    def summary(self) -> dict[str, Any]:
        out = summarise(self.episodes)
        if self.evaluations is not None:
            out["simulator_evaluations"] = self.evaluations
        if self.in_sample:
            out["in_sample"] = summarise(self.in_sample)
        if self.runs:
            out["runs"] = self.runs
        return out


def summarise(episodes: Sequence[EpisodeResult]) -> dict[str, Any]:
    """Mean and 95 % CI of the reward and every KPI over the episodes (realisation × seed ×
    run), with the per-realisation means and the realisations used."""
    mean, ci = mean_ci95([e.reward for e in episodes])
    kpis = {}
    for k in (*KPI_NAMES, "tilt_changes", "tilt_changes_per_cell_day"):
        values = [e.tilt_changes if k == "tilt_changes" else
                  e.tilt_changes_per_cell_day if k == "tilt_changes_per_cell_day" else e.kpis[k]
                  for e in episodes]  # fmt: skip
        m, c = mean_ci95(values)
        kpis[k] = {"mean": m, "ci95": c}
    by_realisation: dict[int, list[float]] = {}
    for e in episodes:
        by_realisation.setdefault(e.network_seed, []).append(e.reward)
    return {
        "reward_mean": mean, "reward_ci95": ci, "kpis": kpis, "episodes": len(episodes),
        "reward_by_realisation": {str(k): float(np.mean(v)) for k, v in by_realisation.items()},
    }  # fmt: skip


def parse_agent(spec: str) -> tuple[str, list[str] | None]:
    """`rule-son` → ("rule-son", None); `ppo=runs/ppo/hex7_1` → ("ppo", [path]);
    `ppo=RUN1,RUN2,RUN3` → ("ppo", [three paths]): several training seeds of one recipe."""
    if "=" in spec:
        name, _, given = spec.partition("=")
        paths = [p for p in given.split(",") if p]
        if not name or not paths:
            raise ConfigError(
                f"--agents {spec!r}: allowed NAME=RUN_DIR[,RUN_DIR…] or a built-in name"
            )
        return name, paths
    if spec in BUILTIN_POLICIES:
        return spec, None
    if spec in RETIRED_POLICIES:
        check_policy_name(spec)
    if Path(spec, "config.yml").is_file():
        return Path(spec).name, [spec]
    raise ConfigError(
        f"--agents {spec!r}: allowed {', '.join(BUILTIN_POLICIES)}, baselines or "
        "NAME=RUN_DIR[,RUN_DIR…] (folders from cellsim train)"
    )


def load_policy(spec: str, env: TiltEnv) -> tuple[str, Predictor]:
    """A built-in policy for `env`, or the model of a run folder (`NAME=RUN_DIR` or RUN_DIR)."""
    from cellsim.training import load_run

    name, paths = parse_agent(spec)
    if paths is None:
        return name, make_policy(name, env)
    if len(paths) > 1:
        raise ConfigError(f"{spec!r}: one run folder here (several are for compare)")
    return name, bind(load_run(paths[0])[0], env)


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


def held_out_seeds(realisations: int) -> list[int]:
    """The network seeds of compare's held-out realisations (never in a default training pool)."""
    return [EVAL_NETWORK_SEED0 + r for r in range(realisations)]


def evaluation_grid(
    episodes: int, realisations: int, seed0: int = EVAL_SEED0, config: dict[str, Any] | None = None
) -> list[tuple[int, int | None]]:
    """The (episode seed, network seed) pairs every agent runs: each of `episodes` seeds on
    each held-out realisation; with a config that names its own `realisations`, the seeds
    alone (each episode draws its realisation from that pool)."""
    if "realisations" in (config or {}):
        return seed_grid(episodes, [None], seed0)
    return seed_grid(episodes, held_out_seeds(realisations), seed0)


def seed_grid(
    episodes: int, network_seeds: Sequence[int | None], seed0: int = EVAL_SEED0
) -> list[tuple[int, int | None]]:
    """Each of `episodes` evaluation seeds on each network seed (None: the env draws one)."""
    return [(seed0 + i, ns) for ns in network_seeds for i in range(episodes)]


def training_pool_seeds(run_config: dict[str, Any], realisations: int) -> list[int] | None:
    """The first `realisations` network seeds of a run's training pool (its in-sample
    realisations), or None for runs that recorded no pool."""
    env_config = run_config.get("env_config", {})
    if "realisations" not in env_config:
        return None
    pool = RealisationConfig(**env_config["realisations"]).pool(env_config.get("network_seed", 0))
    return list(pool[:realisations])


def trained_on(run_config: dict[str, Any], scenario: Scenario) -> bool:
    """Whether a run was trained on this scenario's network (`realisations.network_key`: the
    same realisation for each network seed), judged by its saved scenario; by name where that
    scenario cannot be loaded any more (a file moved away)."""
    try:
        trained = load_scenario(run_config["scenario"])
    except (KeyError, TypeError, CellsimError):
        return bool(run_config.get("scenario_name") == scenario.name)
    return network_key(trained) == network_key(scenario)


def compare(
    scenario: str,
    agents: Sequence[str] | None = None,
    episodes: int = 10,
    config: dict[str, Any] | None = None,
    seed0: int = EVAL_SEED0,
    progress: bool = False,
    realisations: int = 3,
) -> dict[str, AgentResult]:
    """Evaluate every agent (default: the baselines) on the same grid: `episodes` evaluation
    seeds on each of `realisations` held-out network realisations (unless `config` names its
    own `realisations`: then each seed's episode draws one from that pool). A trained agent
    may be several runs of one recipe (`NAME=RUN1,RUN2,…`: their episodes are pooled) and is
    also run on the first realisations of its training pool (in-sample) when it was trained on
    this scenario. Returns name → results."""
    from cellsim.training import load_run

    if episodes < 1:
        raise ConfigError(f"--episodes {episodes}: allowed ≥ 1")
    if realisations < 1:
        raise ConfigError(f"--realisations {realisations}: allowed ≥ 1")
    specs = [parse_agent(a) for a in expand_agents(agents)]
    names = [n for n, _ in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"--agents: names must be unique, got {', '.join(names)}")
    for ref in REFERENCE_AGENTS:
        if ref not in names:
            specs.append((ref, None))
    scen = load_scenario(scenario)
    own_pool = "realisations" in (config or {})
    grid = evaluation_grid(episodes, realisations, seed0, config)
    envs: dict[str, TiltEnv] = {}

    def env_for(action: str) -> TiltEnv:
        if action not in envs:
            envs[action] = TiltEnv(scen, {**HELD_OUT, **(config or {}), "action": action})
        return envs[action]

    def run(name: str, env: TiltEnv, policy: Predictor, cells: Sequence[tuple[int, int | None]]
            ) -> list[EpisodeResult]:  # fmt: skip
        out = []
        for seed, network_seed in cells:
            out.append(run_episode(env, policy, seed, network_seed))
            if progress:
                print(f"  {name}: seed {seed} realisation {out[-1].network_seed} "
                      f"reward {out[-1].reward:.2f}", flush=True)  # fmt: skip
        return out

    action = (config or {}).get("action", "discrete")
    results: dict[str, AgentResult] = {}
    in_sample_cells: list[tuple[int, int | None]] = []  # every trained run's, once each
    for name, paths in specs:
        env = env_for(action)
        if paths is None:
            policy: Predictor = make_policy(name, env)
            results[name] = AgentResult(name, run(name, env, policy, grid))
            results[name].evaluations = getattr(policy, "evaluations", None)
            continue
        result = AgentResult(name, [], runs=len(paths))
        for path in paths:
            model, run_config = load_run(path)
            trained = run_config["env_config"].get("action", "discrete")
            if trained != action:
                raise ConfigError(
                    f"--agents {name}={path}: trained with action = {trained!r}, the comparison "
                    f"uses {action!r}: compare with --config '{{\"action\": \"{trained}\"}}'"
                )
            policy = bind(model, env)
            result.episodes += run(name, env, policy, grid)
            # in-sample only on the network it was trained on (hex7 for a hex7 run on outage):
            # on another network every realisation is one it never saw, whatever its seed
            in_pool = None if own_pool or not trained_on(run_config, scen) else (
                training_pool_seeds(run_config, realisations)
            )  # fmt: skip
            if in_pool is not None:
                cells = seed_grid(episodes, in_pool, seed0)
                result.in_sample += run(f"{name} (in-sample)", env, policy, cells)
                in_sample_cells += [c for c in cells if c not in in_sample_cells]
        results[name] = result
    # the score's two ends on the in-sample realisations too: a realisation's reward level
    # differs from another's by more than the agents do, so each score is normalised on its own
    if in_sample_cells:
        for ref in REFERENCE_AGENTS:
            env = env_for(action)
            results[ref].in_sample = run(f"{ref} (in-sample)", env, make_policy(ref, env),
                                         in_sample_cells)  # fmt: skip
    return results


def to_json(scenario: str, results: dict[str, AgentResult]) -> dict[str, Any]:
    """The `cellsim compare --json` document, scores included: held-out, and in-sample with
    the generalisation gap (in-sample − held-out score) for trained runs."""
    summaries = {name: r.summary() for name, r in results.items()}
    score = _scorer(*(summaries[a]["reward_mean"] for a in REFERENCE_AGENTS))
    refs_inside = [summaries[a].get("in_sample", {}) for a in REFERENCE_AGENTS]
    inside = _scorer(*(r["reward_mean"] for r in refs_inside)) if all(refs_inside) else None
    for name, s in summaries.items():
        s["score"] = score(s["reward_mean"])
        if "in_sample" in s and inside is not None:
            s["in_sample"]["score"] = inside(s["in_sample"]["reward_mean"])
            if name not in REFERENCE_AGENTS:
                s["generalisation_gap"] = s["in_sample"]["score"] - s["score"]
        for baseline in PAIRED_BASELINES:
            if baseline in results:
                s[f"vs_{baseline}"] = paired_gain(results[name], results[baseline])
    return {"scenario": scenario, "reference": list(REFERENCE_AGENTS), "agents": summaries}


def _scorer(low: float, high: float) -> Callable[[float], float]:
    """(R − low) / (high − low): the normalised score between the two reference agents."""
    span = high - low

    def score(reward: float) -> float:
        value = (reward - low) / span if abs(span) > 1e-12 else 0.0
        return value + 0.0  # no "-0.00" for the planning rule when the span is negative

    return score


def paired_gain(agent: AgentResult, baseline: AgentResult) -> dict[str, Any]:
    """Mean and 95 % CI of the agent's episode reward minus the baseline's on the same episode
    (seed and realisation; each run of a pooled agent paired with it): the realisations'
    spread, shared by both, cancels, so this interval says whether the agent beats the
    baseline where the two overlapping reward intervals cannot."""
    theirs = {(e.seed, e.network_seed): e.reward for e in baseline.episodes}
    diffs = [e.reward - theirs[(e.seed, e.network_seed)] for e in agent.episodes
             if (e.seed, e.network_seed) in theirs]  # fmt: skip
    if not diffs:
        return {"mean": float("nan"), "ci95": [float("nan")] * 2, "pairs": 0}
    mean, ci = mean_ci95(diffs)
    return {"mean": mean, "ci95": ci, "pairs": len(diffs)}


#: The KPI vector beside the reward in every table: (key, header, digits).
TABLE_KPIS = (
    ("weak_coverage_share", "weak cov.", 3),
    ("overcoverage_share", "over-cov.", 3),
    ("unserved_share", "unserved", 3),
    ("p5_rate_mbps", "p5 Mbps", 2),
    ("mean_rate_mbps", "mean Mbps", 2),
    ("tilt_changes_per_cell_day", "moves/cell/day", 1),
)


def to_markdown(doc: dict[str, Any], episodes: int) -> str:
    """A table for RESULTS.md: mean [95 % CI] over realisation × seed (× run), the score
    held-out and in-sample, and the guard KPIs beside the reward."""

    def fmt(m: float, ci: list[float], digits: int = 2) -> str:
        return f"{m:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"

    first = next(iter(doc["agents"].values()))
    realisations = ", ".join(first["reward_by_realisation"])
    low, high = doc.get("reference", REFERENCE_AGENTS)
    paired_with = [b for b in PAIRED_BASELINES if f"vs_{b}" in first]
    lines = [
        f"Scenario `{doc['scenario']}`: {first['episodes']} episodes per agent ({episodes} "
        f"seeds × realisations {realisations}, held out), mean [95 % CI]. Score = (R − "
        f"R_{low}) / (R_{high} − R_{low}); in-sample: the same seeds on realisations of the "
        "run's training pool"
        + (f"; vs {' / '.join(paired_with)}: the reward difference on the same episodes."
           if paired_with else "."),
        "",
        "| agent | episode reward | score | in-sample score | "
        + "".join(f"vs {b} (paired) | " for b in paired_with)
        + " | ".join(h for _, h, _ in TABLE_KPIS) + " |",
        "|---|---|---:|---:|" + "---|" * (len(paired_with) + len(TABLE_KPIS)),
    ]
    for name, s in doc["agents"].items():
        k = s["kpis"]
        inside = f"{s['in_sample']['score']:.2f}" if "score" in s.get("in_sample", {}) else "–"
        label = f"{name} ({s['runs']} runs)" if s.get("runs", 0) > 1 else name
        cells = [fmt(k[key]["mean"], k[key]["ci95"], d) for key, _, d in TABLE_KPIS]
        paired = []
        for baseline in paired_with:
            gain = s.get(f"vs_{baseline}")
            paired.append(fmt(gain["mean"], gain["ci95"]) if gain and gain["pairs"] else "–")
        lines.append(
            f"| {label} | {fmt(s['reward_mean'], s['reward_ci95'])} | {s['score']:.2f} "
            f"| {inside} | " + "".join(f"{p} | " for p in paired) + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"
