"""Hyperparameter files (rl-zoo3 layout) and what cellsim makes of them.

A file holds one entry per env id; cellsim reads the `cellsim/Tilt-v0` entry. Its keys are the
algorithm's constructor arguments plus rl-zoo3's own (`ZOO_KEYS`) and cellsim's (`env_config`,
`imitation`). Values follow rl-zoo3: `lin_X` schedules, `policy_kwargs` as a `dict(...)` string.
Everything is checked before a run folder is written, with one line naming the file and key.
"""

from __future__ import annotations

import ast
import difflib
import importlib.resources
import inspect
from pathlib import Path
from typing import Any

import yaml

from cellsim.errors import ConfigError, read_user_file
from cellsim.training.registry import ENV_ID, AgentSpec

#: Keys of an rl-zoo3 hyperparameter entry that are not arguments of the algorithm.
ZOO_KEYS = {
    "n_envs", "n_timesteps", "policy", "normalize", "env_wrapper", "frame_stack", "env_config",
    "imitation",
}  # fmt: skip
#: Hyperparameters that rl-zoo3 lets a file give as a schedule (`lin_X`).
SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")
#: cellsim's own policy classes, by the name a hyperparameter file gives them.
CELLSIM_POLICIES = ("PerCellPolicy", "SharedCellActorPolicy")


def agents_dir() -> Path:
    """The built-in agent definitions (the top-level agents/ folder, `cellsim.agents` in the
    wheel)."""
    return Path(str(importlib.resources.files("cellsim.agents")))


def load_hyperparams(agent: str, path: str | Path | None = None) -> dict[str, Any]:
    """The `cellsim/Tilt-v0` entry of `path` (default: the agent's built-in defaults file)."""
    path = Path(path) if path is not None else agents_dir() / f"{agent}.yml"
    text = read_user_file(path, "hyperparameters", ConfigError)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or ENV_ID not in data:
        keys = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(
            f"{path}: no entry for {ENV_ID!r} (found: {keys or 'nothing'}): the file is in "
            f"rl-zoo3's layout, one entry per env id"
        )
    entry = data[ENV_ID]
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: {ENV_ID} = {entry!r}: allowed a mapping of hyperparameters")
    return dict(entry)


def check_keys(spec: AgentSpec, hyper: dict[str, Any], source: str) -> None:
    """Every key is an argument of the agent's algorithm or an rl-zoo3/cellsim key."""
    allowed = set(inspect.signature(spec.algo_class().__init__).parameters) - {"self", "env"}
    allowed |= ZOO_KEYS
    for key in hyper:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            more = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(
                f"{source}: unknown hyperparameter {key!r} for {spec.name} "
                f"({spec.algorithm.replace(':', '.')}){more}; allowed: {', '.join(sorted(allowed))}"
            )
    if "imitation" in hyper and spec.trainer != "imitation":
        raise ConfigError(
            f"{source}: imitation is for agents trained by imitation (dagger-shared), not "
            f"{spec.name}"
        )


def _literal(node: ast.AST) -> Any:
    """A literal, where `dict(key=...)` calls count as literals too (rl-zoo3 writes them)."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "dict" and not node.args:
        return {kw.arg: _literal(kw.value) for kw in node.keywords}
    return ast.literal_eval(node)


class LinearSchedule:
    """rl-zoo3's `lin_X`: X at the start of training, falling linearly to 0 at the end (SB3
    calls it with the progress remaining, 1 → 0). A class, so saved models pickle it plainly."""

    def __init__(self, initial: float):
        self.initial = initial

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.initial

    def __repr__(self) -> str:
        return f"lin_{self.initial:g}"


def _schedule(name: str, value: Any) -> Any:
    if not (isinstance(value, str) and value.startswith("lin_")):
        return value
    try:
        initial = float(value[4:])
    except ValueError:
        initial = float("nan")
    if not initial > 0:
        raise ConfigError(f"{name} {value!r}: allowed a number or lin_X with X > 0, e.g. lin_1e-3")
    return LinearSchedule(initial)


def algo_kwargs(hyperparams: dict[str, Any]) -> dict[str, Any]:
    """The algorithm's constructor arguments from a zoo entry (policy_kwargs and `lin_X`
    schedules as in rl-zoo3)."""
    kwargs = {k: v for k, v in hyperparams.items() if k not in ZOO_KEYS}
    for name in SCHEDULED:
        if name in kwargs:
            kwargs[name] = _schedule(name, kwargs[name])
    pk = kwargs.get("policy_kwargs")
    if isinstance(pk, str):  # rl-zoo3 writes "dict(net_arch=[...])"
        try:
            value = _literal(ast.parse(pk, mode="eval").body)
        except (ValueError, SyntaxError, TypeError):
            value = None
        if not isinstance(value, dict):
            raise ConfigError(
                f"policy_kwargs {pk!r}: allowed a dict(...) of literals, e.g. "
                "'dict(net_arch=[128, 128])'"
            )
        kwargs["policy_kwargs"] = value
    return kwargs


def resolve_policy(name: str) -> Any:
    """SB3's policy names, plus cellsim's own (`CELLSIM_POLICIES`)."""
    if name in CELLSIM_POLICIES:
        from cellsim.policies import networks

        return getattr(networks, name)
    return name


def check_shared_actor_kwargs(hyper: dict[str, Any], kwargs: Any, ppo_steps: int = 0) -> None:
    """SharedCellActorPolicy's own policy_kwargs (`kwargs`, as `algo_kwargs` parsed them),
    checked before the run folder is written; `ppo_steps`: the PPO steps the run will take."""
    if not isinstance(kwargs, dict):
        raise ConfigError(f"policy_kwargs {kwargs!r}: allowed a mapping of keyword arguments")
    own = [key for key in ("tilt_reference", "actor_ignores") if key in kwargs]
    if own and hyper.get("policy") != "SharedCellActorPolicy":
        raise ConfigError(
            f"policy_kwargs {', '.join(own)}: only for policy SharedCellActorPolicy, not "
            f"{hyper.get('policy')!r}"
        )
    from cellsim.policies.networks import EPISODE_REFERENCES, IGNORABLE

    reference = kwargs.get("tilt_reference")
    if reference not in ("planning", *EPISODE_REFERENCES, None):
        raise ConfigError(
            f"policy_kwargs tilt_reference = {reference!r}: allowed 'planning' (each cell's "
            "planning tilt), 'static-plan' (the episode's static plan), 'period-plan' (its "
            "day and evening plans) or None"
        )
    if reference in EPISODE_REFERENCES and ("imitation" not in hyper or ppo_steps > 0):
        raise ConfigError(
            f"policy_kwargs tilt_reference = {reference!r} with {ppo_steps} PPO steps: allowed "
            "only for imitation-only runs (an imitation block and n_timesteps: 0), since PPO's "
            "rollouts cannot set each episode's plan"
        )
    from cellsim.imitation import ImitationSettings

    imitation = hyper.get("imitation")
    imitation = imitation if isinstance(imitation, dict) else {}
    defaults = ImitationSettings()
    plan_only = {key: imitation[key] for key in ("deviation_margins", "deviation_weight")
                 if key in imitation and imitation[key] != getattr(defaults, key)}  # fmt: skip
    if plan_only and reference not in EPISODE_REFERENCES:
        raise ConfigError(
            f"imitation {', '.join(f'{k} = {v!r}' for k, v in plan_only.items())}: only for an "
            "actor that reads tilts against the episode's plan (policy_kwargs "
            "tilt_reference='static-plan' or 'period-plan'); allowed deviation_margins [0.0] and "
            "deviation_weight 1 here"
        )
    ignores = kwargs.get("actor_ignores") or ()
    if not isinstance(ignores, list | tuple) or any(name not in IGNORABLE for name in ignores):
        raise ConfigError(
            f"policy_kwargs actor_ignores = {kwargs.get('actor_ignores')!r}: allowed a list of "
            f"{', '.join(IGNORABLE)}"
        )


#: Keys cellsim sets itself (from --seed, the run folder, its own logging): not hyperparameters.
RESERVED = ("seed", "device", "tensorboard_log", "verbose", "_init_setup_model",
            "rollout_buffer_class", "replay_buffer_class", "action_noise")  # fmt: skip

#: (lowest, highest, integer?, lowest allowed itself?) of SB3's common hyperparameters.
RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "learning_rate": (0.0, 1.0, False, False),
    "n_steps": (1, 10**7, True, True),
    "batch_size": (1, 10**7, True, True),
    "n_epochs": (1, 10**4, True, True),
    "gamma": (0.0, 1.0, False, True),
    "gae_lambda": (0.0, 1.0, False, True),
    "clip_range": (0.0, 10.0, False, False),
    "clip_range_vf": (0.0, 10.0, False, False),
    "ent_coef": (0.0, 10.0, False, True),
    "vf_coef": (0.0, 10.0, False, True),
    "max_grad_norm": (0.0, 1e6, False, False),
    "target_kl": (0.0, 10.0, False, False),
    "buffer_size": (1, 10**8, True, True),
    "learning_starts": (0, 10**9, True, True),
    "tau": (0.0, 1.0, False, True),
    "gradient_steps": (-1, 10**4, True, True),
    "target_update_interval": (1, 10**9, True, True),
    "exploration_fraction": (0.0, 1.0, False, True),
    "exploration_initial_eps": (0.0, 1.0, False, True),
    "exploration_final_eps": (0.0, 1.0, False, True),
    "policy_delay": (1, 10**4, True, True),
    "target_policy_noise": (0.0, 10.0, False, True),
    "target_noise_clip": (0.0, 10.0, False, True),
    "rms_prop_eps": (0.0, 1.0, False, False),
    "sde_sample_freq": (-1, 10**6, True, True),
    "stats_window_size": (1, 10**6, True, True),
    "n_envs": (1, 256, True, True),
    "n_timesteps": (0, 1e12, False, True),
}


def _describe(name: str) -> str:
    low, high, integer, closed = RANGES[name]
    kind = "an integer" if integer else "a number"
    return f"{kind} {'≥' if closed else '>'} {low:g} and ≤ {high:g}"


def check_values(spec: AgentSpec, hyper: dict[str, Any], source: str) -> None:
    """Types and ranges of the common SB3 hyperparameters and the policy's name, checked before
    a run folder is written (a bad value would otherwise fail inside SB3, or train on NaNs)."""
    for key in RESERVED:
        if key in hyper:
            raise ConfigError(f"{source}: {key} is set by cellsim (from its own options), not a "
                              "hyperparameter to give")  # fmt: skip
    if not isinstance(hyper.get("env_config", {}), dict):
        raise ConfigError(f"{source}: env_config = {hyper['env_config']!r}: allowed a mapping "
                          "of env config keys")  # fmt: skip
    for key, value in hyper.items():
        if key not in RANGES or (key in SCHEDULED and isinstance(value, str)
                                 and value.startswith("lin_")):  # fmt: skip
            continue
        if key in ("ent_coef",) and isinstance(value, str) and value.startswith("auto"):
            continue  # SAC's learned entropy coefficient
        if key == "train_freq":
            continue
        if key in ("clip_range_vf", "target_kl") and value is None:
            continue
        low, high, integer, closed = RANGES[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and integer:
            ok = float(value).is_integer()
        if ok:
            v = float(value)
            ok = v == v and (v >= low if closed else v > low) and v <= high
        if not ok:
            raise ConfigError(f"{source}: {key} = {value!r}: allowed {_describe(key)}")
    if "train_freq" in hyper:
        tf = hyper["train_freq"]
        good = (isinstance(tf, int) and not isinstance(tf, bool) and tf >= 1) or (
            isinstance(tf, list | tuple) and len(tf) == 2 and isinstance(tf[0], int)
            and not isinstance(tf[0], bool) and tf[0] >= 1 and tf[1] in ("step", "episode")
        )  # fmt: skip
        if not good:
            raise ConfigError(f"{source}: train_freq = {tf!r}: allowed an integer ≥ 1 or "
                              "[N, 'step' | 'episode']")  # fmt: skip
    policy = hyper.get("policy", "MlpPolicy")
    allowed = sorted({*spec.algo_class().policy_aliases, *CELLSIM_POLICIES})
    if not isinstance(policy, str) or policy not in allowed:
        raise ConfigError(f"{source}: policy = {policy!r}: allowed {', '.join(allowed)}")
