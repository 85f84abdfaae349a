"""The sweep file (YAML): scenarios × agents (with hyperparameter overrides) × seeds, expanded
into trials with stable ids.

Decisions:
- An agent entry is a trainable agent of `cellsim.training.AGENTS` (trained with
  `agents/AGENT.yml` plus the entry's `hyperparams`, optionally crossed with a `grid` of values)
  or a built-in policy (`rule-geometric`, `rule-son`, `reference`, …), which takes no training,
  hyperparameters or seed: it is one trial per scenario, evaluated once.
- Like `cellsim compare`, every scenario also gets the references `rule-geometric` and `reference`
  (the normalised score needs them); they are added when the file does not list them.
- A trial's id is a hash of everything that decides its numbers (scenario, agent, name,
  hyperparameters, timesteps, seed, env config, evaluation episodes), so the same trial has the
  same id in every run, and resuming a sweep recognises what is done.
- Relative scenario paths are relative to the sweep file; trials get absolute paths.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cellsim.errors import CellsimError, ConfigError, read_user_file
from cellsim.evaluation import REFERENCE_AGENTS

DEFAULT_EPISODES = 10


def _trainable() -> tuple[str, ...]:
    from cellsim.training import AGENTS

    return tuple(AGENTS)


def _builtin() -> tuple[str, ...]:
    from cellsim.policies import BUILTIN_POLICIES

    return tuple(BUILTIN_POLICIES)


class AgentEntry(BaseModel):
    """One agent of the sweep; a bare string `ppo` is short for `{agent: ppo}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str = Field(description="ppo, a2c, dqn, sac, td3, or a built-in policy (hold, "
                       "static-plan, rule-son, reference, …)")
    name: str | None = Field(default=None, description="label in the results (default: agent)")
    timesteps: int | None = Field(
        default=None, gt=0, description="training steps (default: the YAML's)"
    )
    hyperparams: dict[str, Any] = Field(default_factory=dict, description="agents/AGENT.yml "
                                        "overrides")  # fmt: skip
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="hyperparameter -> values: one variant per combination"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"agent": value} if isinstance(value, str) else value

    @field_validator("agent")
    @classmethod
    def _known(cls, value: str) -> str:
        allowed = (*_trainable(), *_builtin())
        if value not in allowed:
            raise ValueError(f"allowed {', '.join(allowed)}")
        return value

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"grid.{key} is empty: allowed a list of ≥ 1 values")
        return value

    @model_validator(mode="after")
    def _rules_take_no_training(self) -> AgentEntry:
        if self.agent in _builtin() and (self.timesteps or self.hyperparams or self.grid):
            raise ValueError(
                f"{self.agent} is a built-in policy: it takes no timesteps, hyperparams or grid"
            )
        return self

    @property
    def label(self) -> str:
        return self.name or self.agent

    def variants(self) -> list[tuple[str, dict[str, Any]]]:
        """(label, hyperparameter overrides) for each combination of the grid."""
        if not self.grid:
            return [(self.label, dict(self.hyperparams))]
        keys = list(self.grid)
        out = []
        for values in itertools.product(*(self.grid[k] for k in keys)):
            tag = ",".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
            out.append((f"{self.label}[{tag}]", {**self.hyperparams, **dict(zip(keys, values,
                                                                                 strict=True))}))
        return out


class SweepFile(BaseModel):
    """Schema of a sweep file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(
        default=None, description="a name for the sweep (default: the file's stem)"
    )
    scenarios: list[str] = Field(min_length=1, description="scenario names or files")
    agents: list[AgentEntry] = Field(min_length=1)
    seeds: int | list[int] = Field(10, description="N (seeds 0..N-1) or a list of seeds ≥ 0")
    episodes: int = Field(DEFAULT_EPISODES, gt=0, description="evaluation seeds per held-out "
                          "realisation (three), as compare")  # fmt: skip
    config: dict[str, Any] = Field(default_factory=dict, description="env config overrides, "
                                   "training and evaluation")  # fmt: skip

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, int):
            if value < 1:
                raise ValueError("allowed a count ≥ 1 or a list of seeds ≥ 0")
        elif not value or min(value) < 0 or len(set(value)) != len(value):
            raise ValueError("allowed a non-empty list of distinct seeds ≥ 0")
        return value

    @model_validator(mode="after")
    def _unique_labels(self) -> SweepFile:
        labels = [label for a in self.agents for label, _ in a.variants()]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"agent names must be unique, {', '.join(dup)} repeats: set name")
        return self

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)


@dataclass(frozen=True)
class Trial:
    """One unit of work: train (if the agent is trainable) and evaluate. Plain data: it travels
    to process-pool workers and Ray trials as a dict."""

    trial_id: str
    scenario: str  # as written in the sweep file
    scenario_path: str  # what load_scenario gets (absolute path for files)
    agent: str
    label: str
    hyperparams: dict[str, Any]
    timesteps: int | None
    seed: int | None  # None for built-in policies: they do not depend on a training seed
    episodes: int
    config: dict[str, Any]

    @property
    def trainable(self) -> bool:
        return self.seed is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Sweep:
    name: str
    source: str  # the sweep file
    spec: SweepFile
    scenario_names: dict[str, str]  # as written -> Scenario.name
    trials: list[Trial]

    def fingerprint(self) -> str:
        """What makes two sweeps the same sweep: their trials (and nothing about engines)."""
        return _hash(sorted(t.trial_id for t in self.trials))


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _scenario_path(text: str, base: Path) -> str:
    """A scenario file as an absolute path (relative to the sweep file, else to the working
    folder: trials may run elsewhere); a name or a factory as given."""
    if text.endswith(".toml") or "/" in text:
        for candidate in (base / text, Path(text)):
            if candidate.is_file():
                return str(candidate.resolve())
    return text


def parse_sweep(data: Any, source: str, base: Path | None = None) -> Sweep:
    """A validated sweep from the parsed YAML `data` (from file `source`)."""
    from cellsim.env.config import merge_config
    from cellsim.scenario import format_validation_error, load_scenario

    if not isinstance(data, dict):
        raise ConfigError(f"{source}: allowed a mapping with scenarios, agents, seeds, …")
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, SweepFile)) from None
    base = base or Path.cwd()
    names, paths = {}, {}
    for i, text in enumerate(spec.scenarios):
        paths[text] = _scenario_path(text, base)
        try:
            scenario = load_scenario(paths[text])
        except CellsimError as exc:
            raise ConfigError(f"{source}: scenarios[{i}] = {text!r}: {exc}") from None
        merge_config(scenario.env, spec.config, f"{source}: config")
        names[text] = scenario.name
    agents = list(spec.agents)
    listed = {a.agent for a in agents if not a.grid and a.label == a.agent}
    agents += [AgentEntry(agent=ref) for ref in REFERENCE_AGENTS if ref not in listed]
    trials = []
    for scenario_text, agent in itertools.product(spec.scenarios, agents):
        for label, hyper in agent.variants():
            trainable = agent.agent in _trainable()
            for seed in spec.seed_list if trainable else [None]:
                key = {
                    "scenario": scenario_text, "agent": agent.agent, "label": label,
                    "hyperparams": hyper, "timesteps": agent.timesteps, "seed": seed,
                    "episodes": spec.episodes, "config": spec.config,
                }  # fmt: skip
                trials.append(Trial(
                    trial_id=_hash(key), scenario=scenario_text,
                    scenario_path=paths[scenario_text],
                    agent=agent.agent, label=label, hyperparams=hyper, timesteps=agent.timesteps,
                    seed=seed, episodes=spec.episodes, config=dict(spec.config),
                ))  # fmt: skip
    return Sweep(spec.name or Path(source).stem, source, spec, names, trials)


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; errors are one line naming file, field and value."""
    path = Path(path)
    text = read_user_file(path, "sweep file", ConfigError)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"{path}: invalid YAML: {detail}") from None
    return parse_sweep(data, str(path), path.resolve().parent)
