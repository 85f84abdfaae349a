"""Trained runs as policies: the model of a run folder, made into what `compare` can drive.

A run folder is loaded without running code from it (issue 16): SB3's `model.zip` holds `data`
(JSON whose object fields are pickles), `policy.pth` (the weights) and optimiser states. cellsim
reads `data` with an unpickler that only builds the plain objects SB3 and cellsim save (spaces,
numpy arrays, schedules, the registry's policy classes) and refuses any other import, checks the
algorithm and policy against the run's config.yml and the registry, rebuilds the model and loads
`policy.pth` with `torch.load(weights_only=True)`. A folder that needs more (a custom policy
class, a callable saved in its data, a crafted pickle) is refused unless the user trusts it:
`--trust-run-folders` or CELLSIM_TRUST_RUN_FOLDERS=1 loads it with SB3's own `load`, which
unpickles whatever the file holds, i.e. runs its code.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import inspect
import io
import json
import os
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cellsim.contract import N_CELL
from cellsim.errors import ConfigError
from cellsim.training.envs import JointDiscrete
from cellsim.training.registry import AGENTS, AgentSpec, agent_spec
from cellsim.training.runs import latest_checkpoint, read_run_config

TRUST_ENV = "CELLSIM_TRUST_RUN_FOLDERS"
TRUST_FLAG = "--trust-run-folders"
_trusted = False  # set by `trusting()` (the CLI's --trust-run-folders)

#: What a run folder's pickled fields may import: exact (module, name) pairs ...
SAFE_GLOBALS = {
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy.random._pickle", "__generator_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pcg64", "PCG64"), ("numpy.random._mt19937", "MT19937"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("numpy.random.bit_generator", "SeedSequence"),
    ("collections", "deque"), ("collections", "OrderedDict"),
    ("gymnasium.spaces.box", "Box"), ("gymnasium.spaces.discrete", "Discrete"),
    ("gymnasium.spaces.multi_discrete", "MultiDiscrete"),
    ("gymnasium.spaces.multi_binary", "MultiBinary"), ("gymnasium.spaces.dict", "Dict"),
    ("stable_baselines3.common.utils", "FloatSchedule"),
    ("stable_baselines3.common.utils", "ConstantSchedule"),
    ("stable_baselines3.common.utils", "LinearSchedule"),
    ("stable_baselines3.common.buffers", "RolloutBuffer"),
    ("stable_baselines3.common.buffers", "ReplayBuffer"),
    ("stable_baselines3.common.buffers", "DictRolloutBuffer"),
    ("stable_baselines3.common.buffers", "DictReplayBuffer"),
    ("sb3_contrib.common.maskable.buffers", "MaskableRolloutBuffer"),
    ("stable_baselines3.common.type_aliases", "TrainFreq"),
    ("stable_baselines3.common.type_aliases", "TrainFrequencyUnit"),
    ("cellsim.training.hyperparams", "LinearSchedule"),
    ("cellsim.training", "LinearSchedule"),  # its name in runs saved before the package split
    ("cellsim.env.neighbours", "NeighbourTable"),
    ("cellsim.policies.networks", "PerCellPolicy"),
    ("cellsim.policies.networks", "SharedCellActorPolicy"),
    ("torch.optim.adam", "Adam"), ("torch.optim.rmsprop", "RMSprop"),
    ("torch.optim.sgd", "SGD"), ("torch.optim.adamw", "AdamW"),
}  # fmt: skip
#: ... and policy classes of SB3 / sb3-contrib, activation classes of torch.nn.
SAFE_PREFIXES = (("stable_baselines3.", "Policy"), ("sb3_contrib.", "Policy"))
SAFE_ACTIVATIONS = {"ReLU", "Tanh", "ELU", "LeakyReLU", "SiLU", "GELU", "Sigmoid", "Softplus"}


class _Untrusted(Exception):
    """A pickle that imports something outside the allow-list."""


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        ok = (module, name) in SAFE_GLOBALS
        ok |= any(module.startswith(m) and name.endswith(n) and ".policies" in module
                  for m, n in SAFE_PREFIXES)  # fmt: skip
        ok |= module == "torch.nn.modules.activation" and name in SAFE_ACTIVATIONS
        if not ok:
            raise _Untrusted(f"{module}.{name}")
        return super().find_class(module, name)


def trusted() -> bool:
    return _trusted or os.environ.get(TRUST_ENV, "").lower() in ("1", "true", "yes")


@contextlib.contextmanager
def trusting(enabled: bool = True) -> Iterator[None]:
    """Within the block, run folders load with SB3's own load (the CLI's --trust-run-folders)."""
    global _trusted
    before, _trusted = _trusted, _trusted or enabled
    try:
        yield
    finally:
        _trusted = before


def _refuse(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"{path}: {why}; cellsim loads run folders without running code from them: if you "
        f"trust this folder, pass {TRUST_FLAG} (or set {TRUST_ENV}=1)"
    )


def _read_data(path: Path, z: zipfile.ZipFile) -> dict[str, Any]:
    """The `data` entry of an SB3 zip, every pickled field rebuilt by the safe unpickler."""
    try:
        raw = json.loads(z.read("data"))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise ConfigError(f"{path}: not a Stable-Baselines3 model (no readable data: "
                          f"{' '.join(str(exc).split())[:80]})") from None  # fmt: skip
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: not a Stable-Baselines3 model (data is not an object)")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not (isinstance(value, dict) and ":serialized:" in value):
            out[key] = value
            continue
        try:
            blob = base64.b64decode(value[":serialized:"], validate=True)
            out[key] = _SafeUnpickler(io.BytesIO(blob)).load()
        except _Untrusted as exc:
            why = f"its saved field {key!r} would import {exc} when unpickled"
            raise _refuse(path, why) from None
        except (binascii.Error, TypeError):
            raise ConfigError(f"{path}: damaged model: field {key!r} is not base64") from None
        except Exception as exc:  # a damaged pickle fails in many ways; none runs code here
            raise ConfigError(f"{path}: damaged model: field {key!r} cannot be read "
                              f"({type(exc).__name__})") from None  # fmt: skip
    return out


def _policy_class(spec: AgentSpec, algo: Any, config: dict[str, Any]) -> Any:
    from cellsim.training.hyperparams import resolve_policy

    name = config["hyperparams"].get("policy", "MlpPolicy")
    policy = resolve_policy(name) if isinstance(name, str) else None
    if isinstance(policy, str):
        policy = algo.policy_aliases.get(policy)
    if policy is None:
        raise ConfigError(f"config.yml: policy {name!r} is not one of {spec.name}'s")
    return policy


def _check_algorithm(path: Path, spec: AgentSpec, algo: Any, data: dict[str, Any]) -> None:
    """The zip's fields fit the algorithm config.yml names (no other algorithm's own keys)."""
    own = set(inspect.signature(algo.__init__).parameters)
    own |= {"action_noise", "use_sde", "sde_sample_freq"}  # every algorithm saves these
    others: set[str] = set()
    for other in AGENTS.values():
        with contextlib.suppress(ConfigError):
            others |= set(inspect.signature(other.algo_class().__init__).parameters)
    foreign = sorted((set(data) & others) - own)
    if foreign:
        raise ConfigError(f"{path}: not a {spec.algorithm.replace(':', '.')} model as config.yml "
                          f"says (it holds {', '.join(foreign)})")  # fmt: skip


def safe_load(spec: AgentSpec, path: Path, config: dict[str, Any]) -> Any:
    """An SB3 model from `path` without unpickling anything outside the allow-list."""
    import torch

    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a model file (damaged or not a zip: "
                          f"{' '.join(str(exc).split())[:80]})") from None  # fmt: skip
    with z:
        data = _read_data(path, z)
        algo = spec.algo_class()
        policy = _policy_class(spec, algo, config)
        if data.get("policy_class") is not policy:
            got = data.get("policy_class")
            raise ConfigError(f"{path}: holds policy {getattr(got, '__name__', got)!r}, its "
                              f"config.yml names {getattr(policy, '__name__', policy)!r}")
        _check_algorithm(path, spec, algo, data)
        for key in ("observation_space", "action_space"):
            if key not in data:
                raise ConfigError(f"{path}: damaged model: no {key}")
        kwargs = data.get("policy_kwargs") or {}
        if not isinstance(kwargs, dict):
            raise ConfigError(f"{path}: damaged model: policy_kwargs is not a mapping")
        kwargs.pop("device", None)
        try:
            model = algo(policy=policy, env=None, device="cpu", _init_setup_model=False)
            model.__dict__.update(data)
            model._setup_model()
        except (TypeError, ValueError, AttributeError, KeyError, AssertionError) as exc:
            raise ConfigError(f"{path}: the model cannot be rebuilt from its saved fields "
                              f"({type(exc).__name__}: {str(exc)[:100]})") from None  # fmt: skip
        try:
            raw = z.read("policy.pth")
        except KeyError:
            raise ConfigError(f"{path}: damaged model: no policy.pth") from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ConfigError(f"{path}: damaged model: policy.pth cannot be read "
                              f"({' '.join(str(exc).split())[:80]})") from None  # fmt: skip
        try:
            weights = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
            model.policy.load_state_dict(weights)
        except pickle.UnpicklingError as exc:
            raise _refuse(path, f"policy.pth holds more than weights ({str(exc)[:80]})") from None
        except Exception as exc:  # a damaged file fails anywhere in torch's parser: one line
            raise ConfigError(f"{path}: policy.pth does not fit the model of config.yml "
                              f"({type(exc).__name__}: {' '.join(str(exc).split())[:100]})"
                              ) from None  # fmt: skip
    model.policy.set_training_mode(False)
    return model


def _trusted_load(spec: AgentSpec, path: Path) -> Any:
    """SB3's own load: unpickles whatever the zip holds (for folders the user trusts)."""
    try:
        return spec.algo_class().load(path, device="cpu")
    except Exception as exc:  # SB3's load of a damaged file fails anywhere: one line
        raise ConfigError(f"{path}: cannot load the model ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:100]})") from None  # fmt: skip


class JointDiscretePolicy:
    """A DQN model seen as a per-cell policy (for compare): unflattens its joint action."""

    def __init__(self, model: Any, n_cells: int):
        self.model, self.mapping = model, JointDiscrete(n_cells)

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:  # fmt: skip
        action, state = self.model.predict(observation, state, episode_start, deterministic)
        if np.ndim(observation) == 1:
            return self.mapping.to_cells(action), state
        return np.stack([self.mapping.to_cells(a) for a in action]), state


def as_policy(
    spec: AgentSpec, model: Any, config: dict[str, Any], deviation_margin: float = 0.0
) -> Any:
    """What compare drives for a loaded model of this agent (bound to an env where needed);
    `deviation_margin`: a shared actor's tuned gate (`SharedCellPolicy.deviation_margin`)."""
    if spec.env == "joint-discrete":
        n_cells = round(np.log(model.action_space.n) / np.log(3))
        return JointDiscretePolicy(model, n_cells)
    if spec.shared:
        from cellsim.policies.shared import SharedCellModel

        k = config["env_config"].get("per_cell", {}).get("neighbours", 6)
        return SharedCellModel(model, k, deviation_margin)
    if spec.masked:
        from cellsim.policies.masked import MaskedModel

        return MaskedModel(model)
    return model


def run_model_path(run: Path) -> Path:
    """`best_model.zip` if present, else model.zip, else the last checkpoint."""
    found = [run / n for n in ("best_model.zip", "model.zip") if (run / n).is_file()]
    path = found[0] if found else latest_checkpoint(run)
    if path is None:
        raise ConfigError(f"{run}: no model.zip, best_model.zip or checkpoint to load")
    return path


def load_run(run: str | Path, trust: bool | None = None) -> tuple[Any, dict[str, Any]]:
    """(policy, config) of a finished run folder (`best_model.zip` if present, else
    model.zip, else the last checkpoint), loaded safely unless `trust` (default: the
    --trust-run-folders flag or CELLSIM_TRUST_RUN_FOLDERS)."""
    run = Path(run)
    if not (run / "config.yml").is_file():
        raise ConfigError(f"{run}: not a run folder (no config.yml)")
    config = read_run_config(run)
    spec = agent_spec(config["agent"])
    env_config = config.get("env_config")
    if isinstance(env_config, dict) and "ret" not in env_config:
        raise ConfigError(
            f"{run}: trained with cellsim's earlier observation (11 features per cell, before "
            f"RET budgets and realisation pools); the env now observes {N_CELL}: retrain it "
            f"(cellsim train --agent {config['agent']} …)"
        )
    path = run_model_path(run)
    if trusted() if trust is None else trust:
        model = _trusted_load(spec, path)
    else:
        model = safe_load(spec, path, config)
    return as_policy(spec, model, config, tuned_deviation_margin(run)), config


def tuned_deviation_margin(run: Path) -> float:
    """The deviation margin the run's imitation tuned (imitation.json), 0 where none was."""
    path = run / "imitation.json"
    if not path.is_file():
        return 0.0
    try:
        margin = json.loads(path.read_text()).get("deviation_margin", 0.0)
    except (ValueError, OSError, AttributeError) as exc:
        raise ConfigError(f"{path}: not an imitation record ({type(exc).__name__})") from None
    if not isinstance(margin, int | float) or not 0 <= margin < 1:
        raise ConfigError(f"{path}: deviation_margin = {margin!r}: allowed a number in [0, 1)")
    return float(margin)
