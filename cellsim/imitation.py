"""Warm start of the shared per-cell actor by imitating the reference (DAgger).

Why: PPO alone teaches the shared actor slowly — every cell's move is credited through one
network reward — and it plateaued below the centralised PPO on hex7 (in-sample, RESULTS.md before
2026-12-02). The reference
(`cellsim.policies.reference`: the episode's best tilt trajectory under the agent's own RET
constraints, with the simulator as its model) knows a good move of every cell at every decision
of the training network. DAgger (Ross, Gordon & Bagnell, AISTATS 2011) turns that into a policy
that needs no search: each iteration rolls out the current actor (the reference itself in the
first), a share of cells taking a random move to visit more states; the reference labels every
visited cell state with its move (toward its plan's tilt for that decision: the plan is made
once per episode, from the episode's start, and not re-made in the states the actor reaches;
a move the env would refuse there — RET budget or dwell, the tilt range — is taught as a hold);
the actor is trained by cross entropy on all labels so far. The actor only ever sees a cell's
own agent observation, so the result runs on any network like a `ppo-shared` model. The
reference is used in training only; its plans are cached on disk (`cellsim.plan_cache`), so a
second training run on the same episodes does not plan again.

`teacher: static-plan` labels with static-plan's moves instead (the day's best static per-cell
plan for the realisation, walked to at RET's pace): ≈ 4× cheaper to plan on case1 (≈ 13 s
against ≈ 50 s a day), for networks where the reference's days cost more than a session holds;
on hex7 the reference-taught actor scores as a realisation-blind plan does (RESULTS.md), so the
dynamic part of the reference is not what it learns.

Training episodes cycle through `env_variants`: config overrides of the training scenario, e.g.
a stricter coverage threshold so that a capacity-limited network also shows its coverage limits.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cellsim.contract import HOLD, N_MOVES
from cellsim.env.config import deep_merge, merge_config
from cellsim.errors import ConfigError
from cellsim.scenario import EnvConfig, format_validation_error

if TYPE_CHECKING:
    from cellsim.env.tilt_env import TiltEnv
    from cellsim.policies.base import TiltPolicy
    from cellsim.policies.networks import SharedCellActorPolicy
    from cellsim.policies.shared import SharedCellPolicy


def _one_plain_variant() -> list[dict[str, Any]]:
    return [{}]


class ImitationSettings(BaseModel):
    """The `imitation` block of a hyperparameter entry (agents/dagger-shared.yml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # ≤ 900: the margin tuning's days take the episode seeds above the training days'
    iterations: Annotated[int, Field(ge=1, le=900)] = 16
    episodes_per_iteration: Annotated[int, Field(ge=1, le=1000)] = 8
    epochs: Annotated[int, Field(ge=1, le=100)] = 5  # passes over all labels, per iteration
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 512
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 1e-3
    exploration: Annotated[float, Field(ge=0, le=1)] = 0.1  # share of random cell moves
    # weight of the reference's "hold" labels in the loss relative to its moves (> 1: when unsure,
    # hold rather than move)
    hold_weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    # for an actor that reads tilts against the episode's static plan: weight of the labels
    # where the teacher's move differs from the plan's own (its deviations, rare and what the
    # actor is for) relative to the others
    deviation_weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    teacher: Literal["reference", "static-plan"] = "reference"  # who labels the moves
    env_variants: list[dict[str, Any]] = Field(default_factory=_one_plain_variant)
    # for an actor that reads tilts against the episode's static plan: the deviation margins
    # (`SharedCellPolicy.deviation_margin`) tried after the imitation, on `margin_episodes`
    # episodes of the training pool; the best is the run's (imitation.json). [0.0]: no gate
    deviation_margins: list[Annotated[float, Field(ge=0, lt=1)]] = Field(
        default_factory=lambda: [0.0], min_length=1
    )
    margin_episodes: Annotated[int, Field(ge=1, le=1000)] = 8


def imitation_settings(raw: Any, env_config: EnvConfig, source: str) -> ImitationSettings:
    """Validated settings; a bad value (or env variant) raises ConfigError naming it."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: imitation must be a mapping of settings, got {raw!r}")
    try:
        settings = ImitationSettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, ImitationSettings)) from None
    if not settings.env_variants:
        raise ConfigError(f"{source}: imitation.env_variants = []: allowed one or more configs")
    for i, variant in enumerate(settings.env_variants):
        where = f"{source}: imitation.env_variants[{i}]"
        merged = merge_config(env_config, variant, where)
        if merged.action != "discrete" or merged.per_cell != env_config.per_cell:
            raise ConfigError(
                f"{where} = {variant!r}: a variant may not change action or per_cell (the "
                "actor's moves and neighbour view are the training env's)"
            )
    return settings


class ImitationState:
    """An imitation's progress on disk, so that a killed run resumes at its last whole
    iteration: a folder with each iteration's new labels in a file of its own
    (`iteration_NNN.pt`, written once: no rewriting of all labels so far) and `head.pt` (the
    iterations done, the actor's weights, the optimiser's and both random generators' states,
    wall time so far), each written atomically, the head last. `identity` (the run's settings)
    is checked on load, so a state is never picked up by another imitation."""

    HEAD = "head.pt"

    def __init__(self, folder: Path, identity: str):
        self.folder, self.identity = folder, identity

    @classmethod
    def saved_in(cls, folder: Path) -> bool:
        """Whether `folder` holds an imitation's state (at least one whole iteration)."""
        return (folder / cls.HEAD).is_file()

    def load(
        self,
    ) -> tuple[dict[str, Any], list[np.ndarray], list[np.ndarray], list[np.ndarray]] | None:
        """(head, observations, labels, label weights) of the iterations done, or None if none
        was saved."""
        import torch

        if not self.saved_in(self.folder):
            return None
        head = torch.load(self.folder / self.HEAD, weights_only=True)
        if head["identity"] != self.identity:
            raise ConfigError(
                f"{self.folder}: the imitation state of other settings (seed, scenario, env "
                "or imitation config); remove it to start again"
            )
        observations, labels, weights = [], [], []
        for i in range(int(head["iterations_done"])):
            shard = torch.load(self.folder / f"iteration_{i:03d}.pt", weights_only=True)
            observations.append(shard["observations"].numpy())
            labels.append(shard["labels"].numpy())
            weights.append(shard["weights"].numpy())
        return head, observations, labels, weights

    def save(self, iteration: int, observations: np.ndarray, labels: np.ndarray,
             weights: np.ndarray, head: dict[str, Any]) -> None:  # fmt: skip
        """Iteration `iteration`'s new labels, then the head that counts them in."""
        import torch

        from cellsim.formats.atomic import atomic_write

        shard = {"observations": torch.as_tensor(observations), "labels": torch.as_tensor(labels),
                 "weights": torch.as_tensor(weights)}  # fmt: skip
        atomic_write(self.folder / f"iteration_{iteration:03d}.pt",
                     partial(torch.save, shard))  # fmt: skip
        head = {**head, "identity": self.identity, "iterations_done": iteration + 1}
        atomic_write(self.folder / self.HEAD, partial(torch.save, head))


def feasible_labels(moves: Any, env: TiltEnv) -> np.ndarray:
    """The teacher's moves with those the env would refuse now (RET budget or dwell, tilt range)
    turned into holds: the actor is taught what the env executes, so that it does not learn to
    request moves at times the env holds them (static-plan's walk ignores RET holds)."""
    target = np.asarray(moves, np.int64).copy()
    allowed = env.action_masks().reshape(len(target), N_MOVES)
    target[~allowed[np.arange(len(target)), target]] = HOLD
    return target


def _label_weights(target: np.ndarray, obs: np.ndarray, student: SharedCellPolicy,
                   settings: ImitationSettings) -> np.ndarray:  # fmt: skip
    """(n_cells,) float32: each label's weight in the loss, `deviation_weight` where the
    teacher's move is not the episode plan's own (for an actor told that plan), else 1."""
    weights = np.ones(len(target), np.float32)
    if student.episode_planner is not None and settings.deviation_weight != 1.0:
        env = student.env  # the plan's move as taught too: a refused move is a hold
        plan_moves = feasible_labels(student.episode_planner.act(obs), env)
        weights[target != plan_moves] = settings.deviation_weight
    return weights


def _loss(logits: Any, labels: Any, weights: Any, class_weights: Any,
          settings: ImitationSettings) -> Any:  # fmt: skip
    """Cross entropy with the hold labels weighted by `hold_weight` and, when it is not 1,
    each label by its `_label_weights` (normalised by the weights' sum, as torch's own)."""
    import torch

    cross_entropy = torch.nn.functional.cross_entropy
    if settings.deviation_weight == 1.0:  # the recipe's numbers as before the weights
        return cross_entropy(logits, labels, weight=class_weights)
    each = cross_entropy(logits, labels, weight=class_weights, reduction="none") * weights
    return each.sum() / (class_weights[labels] * weights).sum()


def _training_setups(
    model: Any, scenario: str, env_config: dict[str, Any], settings: ImitationSettings, seed: int
) -> list[tuple[TiltEnv, TiltPolicy, SharedCellPolicy]]:
    """The training envs (one per variant), their teachers and the actor bound to each."""
    from cellsim.env.tilt_env import TiltEnv
    from cellsim.policies import make_policy
    from cellsim.policies.baselines import StaticPlan
    from cellsim.policies.shared import SharedCellPolicy

    k = model.policy.mlp_extractor.k
    out = []
    for variant in settings.env_variants:
        env = TiltEnv(scenario, deep_merge(env_config, variant))
        teacher, student = make_policy(settings.teacher, env), SharedCellPolicy(env, model, k)
        planner = student.episode_planner
        same = planner is not None and type(teacher) is type(planner)
        if same and isinstance(teacher, StaticPlan):
            student.episode_planner = teacher  # the same plans: planned once an episode
        out.append((env, teacher, student))
    return out


def imitate_reference(
    model: Any,
    scenario: str,
    env_config: dict[str, Any],
    settings: ImitationSettings,
    seed: int,
    progress_bar: bool = True,
    state_folder: Path | None = None,
) -> dict[str, float]:
    """Train `model`'s shared actor (a PPO with `SharedCellActorPolicy`) by DAgger on
    `scenario`; returns the labels used and the actor's agreement with its teacher on them
    (`settings.teacher`: the reference by default, or static-plan; the name is the default's).

    `state_folder`: after every iteration, everything the next one needs is saved there
    (`ImitationState`), and a call that finds it goes on from there: an interrupted imitation
    resumes at its last whole iteration with the numbers an uninterrupted one would have had
    (on the same number of torch threads)."""
    import time

    import torch
    from tqdm.auto import tqdm

    started = time.perf_counter()
    policy: SharedCellActorPolicy = model.policy  # model: an SB3 PPO

    def actor(x: torch.Tensor) -> torch.Tensor:  # the cells' logits
        return policy.action_net.linear(policy.mlp_extractor.codes(x))

    weights = [*policy.mlp_extractor.encoder.parameters(), *policy.action_net.parameters()]
    optimiser = torch.optim.Adam(weights, lr=settings.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    class_weights = torch.tensor([1.0, settings.hold_weight, 1.0])
    rng = np.random.default_rng(seed)
    setups = _training_setups(model, scenario, env_config, settings, seed)
    observations: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    label_weights: list[np.ndarray] = []  # deviation_weight where the teacher leaves the plan
    first, accuracy, earlier_wall_s = 0, float("nan"), 0.0
    saved = None
    if state_folder is not None:
        run = {"scenario": scenario, "env_config": env_config, "seed": seed,
               "settings": settings.model_dump(mode="json")}  # fmt: skip
        identity = json.dumps(run, sort_keys=True, default=str)
        saved = ImitationState(state_folder, identity)
        found = saved.load()
        if found is not None:
            head, observations, labels, label_weights = found
            policy.load_state_dict(head["policy"])
            optimiser.load_state_dict(head["optimiser"])
            generator.set_state(head["generator"])
            rng.bit_generator.state = head["rng"]
            first, accuracy = int(head["iterations_done"]), float(head["agreement"])
            earlier_wall_s = float(head["wall_s"])
    bar = tqdm(range(first, settings.iterations), desc=f"imitating {settings.teacher}",
               unit="iter", initial=first, total=settings.iterations,
               disable=not progress_bar)  # fmt: skip
    for iteration in bar:
        n_before = len(labels)
        for episode in range(settings.episodes_per_iteration):
            env, teacher, student = setups[episode % len(setups)]
            obs, _ = env.reset(seed=seed * 1_000_003 + iteration * 1_000 + episode)
            teacher.reset()  # a plan per episode
            student.reset()  # and the actor's tilt reference, if it is the episode's plan
            for _ in range(env.n_steps):
                target = feasible_labels(teacher.act(obs), env)
                observations.append(student.agent_observations(obs))
                labels.append(target)
                label_weights.append(_label_weights(target, obs, student, settings))
                move = target.copy() if iteration == 0 else student.act(obs)
                explore = rng.random(len(move)) < settings.exploration
                move[explore] = rng.integers(0, 3, int(explore.sum()))
                obs, *_ = env.step(move)
        x = torch.as_tensor(np.concatenate(observations))
        y = torch.as_tensor(np.concatenate(labels))
        w = torch.as_tensor(np.concatenate(label_weights))
        for _ in range(settings.epochs):
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(x), settings.batch_size):
                batch = order[start : start + settings.batch_size]
                loss = _loss(actor(x[batch]), y[batch], w[batch], class_weights, settings)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        with torch.no_grad():
            accuracy = float((actor(x).argmax(dim=1) == y).float().mean())
        bar.set_postfix(labels=len(x), agreement=f"{accuracy:.3f}")
        if saved is not None:
            new_obs = np.concatenate(observations[n_before:])
            new_labels = np.concatenate(labels[n_before:])
            new_weights = np.concatenate(label_weights[n_before:])
            observations[n_before:], labels[n_before:] = [new_obs], [new_labels]
            label_weights[n_before:] = [new_weights]
            wall_s = earlier_wall_s + time.perf_counter() - started
            saved.save(iteration, new_obs, new_labels, new_weights, {
                "agreement": accuracy, "wall_s": wall_s, "policy": policy.state_dict(),
                "optimiser": optimiser.state_dict(), "generator": generator.get_state(),
                "rng": rng.bit_generator.state,
            })  # fmt: skip
    tuned = tune_deviation_margin(setups[0][0], setups[0][2], settings, seed)
    return {
        **tuned,
        "imitation_labels": sum(len(batch) for batch in labels),
        "imitation_agreement": round(accuracy, 4),
        # every process's share, when resumed
        "imitation_wall_s": round(earlier_wall_s + time.perf_counter() - started, 1),
    }


def tune_deviation_margin(
    env: TiltEnv, student: SharedCellPolicy, settings: ImitationSettings, seed: int
) -> dict[str, Any]:
    """The deviation margin of `settings.deviation_margins` whose gated actor scores the
    highest mean reward on `settings.margin_episodes` episodes of the training pool, in the
    first env variant (each margin on the same episodes, whose seeds no training day has; a
    larger margin — closer to the static plan — wins a tie),
    set on `student` and returned with every margin's mean (`deviation_margin`,
    `margin_rewards`); {} for an actor without an episode plan or a single margin of 0."""
    from cellsim.evaluation import run_episode

    margins = sorted(set(settings.deviation_margins), reverse=True)
    if student.episode_planner is None or margins == [0.0]:
        return {}
    seeds = [seed * 1_000_003 + 900_000 + e for e in range(settings.margin_episodes)]
    means: dict[float, float] = {}
    for margin in margins:
        student.deviation_margin = margin
        means[margin] = float(np.mean([run_episode(env, student, s).reward for s in seeds]))
    best = max(margins, key=lambda m: means[m])  # the first maximum: the largest margin
    student.deviation_margin = best
    return {"deviation_margin": best,
            "margin_rewards": {f"{m:g}": round(means[m], 4) for m in sorted(means)}}  # fmt: skip
