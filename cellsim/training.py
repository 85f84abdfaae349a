"""Stable-Baselines3 glue: train an agent on cellsim/Tilt-v0, resume it, load it.

A run folder (rl-zoo3 style, `runs/{agent}/{scenario}_{N}/` unless `out` is given) holds
`config.yml` (everything needed to rebuild the run), `model.zip`, `best_model.zip`,
`checkpoints/` (written atomically), `eval/evaluations.npz`, `tb/` (TensorBoard) and
`metrics.json`. A run folder is never overwritten: an existing one is only continued, with
`resume=True`, from its last checkpoint.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import cellsim
from cellsim.env.config import merge_config
from cellsim.errors import ConfigError
from cellsim.scenario import load_scenario

ENV_ID = "cellsim/Tilt-v0"
AGENTS_DIR = Path(__file__).resolve().parent.parent / "agents"
#: Which SB3 algorithm each agent name is, and the action type it needs.
AGENTS = {
    "ppo": ("PPO", "discrete"),
    "a2c": ("A2C", "discrete"),
    "dqn": ("DQN", "discrete"),
    "sac": ("SAC", "continuous"),
    "td3": ("TD3", "continuous"),
    "ppo-shared": ("PPO", "discrete"),
    "ippo-shared": ("PPO", "discrete"),
    "dagger-shared": ("PPO", "discrete"),
}
#: Agents whose model is one per-cell policy shared by every cell: they run on any network.
#: ppo-shared trains it inside the centralised PPO on cellsim/Tilt-v0 (SharedCellActorPolicy:
#: the cells' moves are one joint action); ippo-shared on the per-cell front-end, every cell an
#: independent sample (PerCellVecEnv, independent PPO with parameter sharing).
#: dagger-shared is the same actor as ppo-shared, trained by imitating the oracle
#: (cellsim.imitation), with optional PPO steps after it.
SHARED_AGENTS = {"ppo-shared", "ippo-shared", "dagger-shared"}
PER_CELL_ENV_AGENTS = {"ippo-shared"}
OFF_POLICY = {"dqn", "sac", "td3"}
DQN_MAX_ACTIONS = 243  # 3^5: DQN's joint Discrete action space up to five cells
#: Keys of an rl-zoo3 hyperparameter entry that are not arguments of the algorithm.
_ZOO_KEYS = {
    "n_envs", "n_timesteps", "policy", "normalize", "env_wrapper", "frame_stack", "env_config",
    "imitation",
}  # fmt: skip
EVAL_SEED_OFFSET = 10_000


def _algo_class(agent: str):
    import stable_baselines3 as sb3

    if agent not in AGENTS:
        raise ConfigError(f"--agent {agent!r}: allowed {', '.join(AGENTS)}")
    return getattr(sb3, AGENTS[agent][0])


def load_hyperparams(agent: str, path: Path | None = None) -> dict[str, Any]:
    """The agent's entry for cellsim/Tilt-v0 in `agents/{agent}.yml` (rl-zoo3 layout)."""
    path = path or AGENTS_DIR / f"{agent}.yml"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read hyperparameters: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if ENV_ID not in data:
        raise ConfigError(f"{path}: no entry for {ENV_ID!r}: allowed keys are env ids")
    return dict(data[ENV_ID])


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


#: Hyperparameters that rl-zoo3 lets a file give as a schedule (`lin_X`).
_SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")


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
    kwargs = {k: v for k, v in hyperparams.items() if k not in _ZOO_KEYS}
    for name in _SCHEDULED:
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


#: cellsim's own policy classes, by the name an agents/*.yml file gives them.
CELLSIM_POLICIES = ("PerCellPolicy", "SharedCellActorPolicy")


def resolve_policy(name: str):
    """SB3's policy names, plus cellsim's own (`CELLSIM_POLICIES`)."""
    if name in CELLSIM_POLICIES:
        from cellsim.policies import networks

        return getattr(networks, name)
    return name


def _policy_kwargs(policy, algo_kw: dict[str, Any], eval_env, env_config: dict[str, Any]):
    """`algo_kwargs`' policy_kwargs, plus the training network's neighbour table for
    SharedCellActorPolicy (the one input that policy needs from the network itself), read from
    the evaluation env's simulator (a DummyVecEnv of the training scenario, already built)."""
    kwargs = dict(algo_kw.get("policy_kwargs") or {})
    if policy == resolve_policy("SharedCellActorPolicy"):
        from cellsim.env.neighbours import network_neighbours

        env = eval_env.envs[0].unwrapped
        k = env_config["per_cell"]["neighbours"]
        kwargs["neighbour_table"] = network_neighbours(env.sim, k)
        if kwargs.get("tilt_reference") == "planning":
            from cellsim.policies.shared import planning_reference

            kwargs["tilt_reference"] = planning_reference(env)
    return kwargs


@dataclass
class TrainSpec:
    agent: str = "ppo"
    scenario: str = "hex7"
    timesteps: int | None = None  # default: the hyperparameter file's n_timesteps
    seed: int = 0
    n_envs: int | None = None
    out: str | None = None
    resume: bool = False
    config: dict[str, Any] = field(default_factory=dict)  # env config overrides
    hyperparams: dict[str, Any] = field(default_factory=dict)  # overrides of the YAML entry
    eval_freq: int = 10_000  # env steps between evaluations (all envs together)
    eval_episodes: int = 2
    checkpoint_freq: int = 20_000
    progress_bar: bool = True
    verbose: int = 0
    torch_threads: int = 1


def _next_run_dir(root: Path, agent: str, scenario_name: str) -> Path:
    base = root / agent
    n = 1
    if base.is_dir():
        taken = [p.name.rsplit("_", 1)[-1] for p in base.glob(f"{scenario_name}_*")]
        n = 1 + max((int(t) for t in taken if t.isdigit()), default=0)
    return base / f"{scenario_name}_{n}"


def _atomic_save(model, path: Path) -> None:
    """Write model.zip next to its final place, then rename: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".zip")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


class JointDiscrete:
    """Maps a Discrete(3^n) action (for DQN) to the env's MultiDiscrete([3] * n) and back."""

    def __init__(self, n_cells: int):
        self.n_cells = n_cells
        self.powers = 3 ** np.arange(n_cells)

    def to_cells(self, index) -> np.ndarray:
        return (int(np.asarray(index).ravel()[0]) // self.powers) % 3


def joint_discrete_env(env):
    """A gymnasium ActionWrapper giving `env` a Discrete(3^n_cells) action space."""
    import gymnasium as gym

    mapping = JointDiscrete(len(env.action_space.nvec))

    class _Wrapper(gym.ActionWrapper):
        def __init__(self, inner):
            super().__init__(inner)
            self.action_space = gym.spaces.Discrete(3**mapping.n_cells)

        def action(self, action):
            return mapping.to_cells(action)

    return _Wrapper(env)


class JointDiscretePolicy:
    """A DQN model seen as a per-cell policy (for compare): unflattens its joint action."""

    def __init__(self, model, n_cells: int):
        self.model, self.mapping = model, JointDiscrete(n_cells)

    def predict(self, observation, state=None, episode_start=None, deterministic=True):
        action, state = self.model.predict(observation, state, episode_start, deterministic)
        if np.ndim(observation) == 1:
            return self.mapping.to_cells(action), state
        return np.stack([self.mapping.to_cells(a) for a in action]), state


def make_env_fn(scenario: str, config: dict[str, Any], rank: int, seed: int, agent: str = ""):
    """A picklable env factory for SubprocVecEnv (spawn imports cellsim in the child)."""

    def _init():
        import gymnasium as gym
        from stable_baselines3.common.monitor import Monitor

        import cellsim  # noqa: F401  registers the env in a fresh process

        env = gym.make(ENV_ID, scenario=scenario, config=config)
        if agent == "dqn":
            env = joint_discrete_env(env)
        env = Monitor(env)
        env.reset(seed=seed + rank)
        env.action_space.seed(seed + rank)
        return env

    return _init


def per_cell_env_fn(scenario: str, config: dict[str, Any]):
    """A factory of the per-cell env (for PerCellVecEnv; seeding happens at its reset)."""

    def _init():
        from cellsim.env.per_cell import parallel_env

        return parallel_env(scenario, config)

    return _init


def _vec_env(scenario: str, config: dict[str, Any], n_envs: int, seed: int, agent: str = ""):
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    if agent in PER_CELL_ENV_AGENTS:
        from cellsim.env.per_cell_vec import PerCellVecEnv

        venv = PerCellVecEnv([per_cell_env_fn(scenario, config)] * n_envs)
        venv.seed(seed)
        return venv

    fns = [make_env_fn(scenario, config, i, seed, agent) for i in range(n_envs)]
    # PPO's per-step overhead dominates a cellsim step: processes only pay for many envs
    if n_envs >= 8 and (os.cpu_count() or 1) > 2:
        return SubprocVecEnv(fns, start_method="spawn")
    return DummyVecEnv(fns)


def _callbacks(run: Path, spec: TrainSpec, scenario: str, config: dict[str, Any], n_envs: int):
    """Evaluation and checkpoints every so many env steps; `n_envs` = the VecEnv's sub-envs."""
    from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

    class AtomicCheckpoint(BaseCallback):
        def __init__(self, every: int):
            super().__init__()
            self.every = max(1, every // n_envs)

        def _on_step(self) -> bool:
            if self.n_calls % self.every == 0:
                save_checkpoint(self.model, run)
            return True

    eval_env = _vec_env(scenario, config, 1, spec.seed + EVAL_SEED_OFFSET, spec.agent)
    evaluation = EvalCallback(
        eval_env,
        n_eval_episodes=spec.eval_episodes * eval_env.num_envs,  # every cell's, if per cell
        eval_freq=max(1, spec.eval_freq // n_envs),
        best_model_save_path=str(run),
        log_path=str(run / "eval"),
        deterministic=True,
        verbose=spec.verbose,
    )
    return [evaluation, AtomicCheckpoint(spec.checkpoint_freq)], eval_env


def save_checkpoint(model, run: Path) -> Path:
    path = run / "checkpoints" / f"model_{model.num_timesteps}_steps.zip"
    _atomic_save(model, path)
    if hasattr(model, "replay_buffer") and model.replay_buffer is not None:
        buffer = run / "checkpoints" / "replay_buffer.pkl"
        tmp = buffer.with_suffix(".tmp")
        model.save_replay_buffer(tmp)
        os.replace(tmp, buffer)
    return path


def latest_checkpoint(run: Path) -> Path | None:
    found = sorted(
        (run / "checkpoints").glob("model_*_steps.zip"),
        key=lambda p: int(p.stem.split("_")[1]),
    )
    return found[-1] if found else None


def _prepare_run(spec: TrainSpec) -> tuple[Path, dict[str, Any]]:
    """The run folder and its saved config: new, or the one being resumed."""
    if spec.resume:
        if not spec.out:
            raise ConfigError("--resume needs --out RUN_DIR: the run folder to continue")
        run = Path(spec.out)
        saved = run / "config.yml"
        if not saved.is_file():
            raise ConfigError(f"--out {spec.out!r}: no config.yml there: not a run folder")
        return run, yaml.safe_load(saved.read_text())
    scenario = load_scenario(spec.scenario)
    if spec.out:
        run = Path(spec.out)
        if run.exists() and any(run.iterdir()):
            raise ConfigError(
                f"--out {spec.out!r} exists and is not empty: continue it with --resume or "
                "choose a new folder (run folders are never overwritten)"
            )
    else:
        run = _next_run_dir(Path("runs"), spec.agent, scenario.name)
    algo_name, action = AGENTS.get(spec.agent, (None, None))
    if algo_name is None:
        raise ConfigError(f"--agent {spec.agent!r}: allowed {', '.join(AGENTS)}")
    if spec.agent == "dqn":
        from cellsim.network.build import build_layout

        n_cells = len(build_layout(scenario).cells)
        if 3**n_cells > DQN_MAX_ACTIONS:
            raise ConfigError(
                f"--agent dqn needs a Discrete action space: {scenario.name}'s {n_cells} cells "
                f"make 3^{n_cells} joint actions (at most {DQN_MAX_ACTIONS} fit); use ppo or a2c"
            )
    in_file = load_hyperparams(spec.agent)
    hyper = {**in_file, **spec.hyperparams}
    given = spec.hyperparams.get("imitation")
    if isinstance(in_file.get("imitation"), dict) and isinstance(given, dict):  # partial override
        hyper["imitation"] = {**in_file["imitation"], **given}
    algo_kw = algo_kwargs(hyper)  # a bad value is refused before the run folder is written
    env_config = {**hyper.get("env_config", {}), **spec.config}
    if action == "continuous":
        env_config["action"] = "continuous"
    elif env_config.get("action", "discrete") != "discrete":
        raise ConfigError(f"--agent {spec.agent}: needs action = 'discrete' tilts")
    full_env = merge_config(scenario.env, env_config, "env config")
    if "imitation" in hyper:  # saved in full: the run rebuilds whatever the defaults become
        hyper["imitation"] = _check_imitation(spec.agent, hyper, full_env).model_dump(mode="json")
    _check_shared_actor_kwargs(hyper, algo_kw.get("policy_kwargs") or {})
    config = {
        "agent": spec.agent,
        "algo": algo_name,
        "env_id": ENV_ID,
        "scenario": spec.scenario,
        "scenario_name": scenario.name,
        "env_config": full_env.model_dump(mode="json"),
        "hyperparams": hyper,
        "timesteps": int(spec.timesteps or float(hyper.get("n_timesteps", 100_000))),
        "n_envs": int(spec.n_envs or hyper.get("n_envs", 1)),
        "seed": spec.seed,
        "versions": _versions(),
    }
    text = yaml.safe_dump(config, sort_keys=False)
    run.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(run / "config.yml", text)
    return run, config


def _check_imitation(agent: str, hyper: dict[str, Any], env_config):
    """The `imitation` block (cellsim.imitation) trains a SharedCellActorPolicy's actor only."""
    from cellsim.imitation import imitation_settings

    if hyper.get("policy") != "SharedCellActorPolicy":
        raise ConfigError(
            f"--agent {agent}: imitation needs policy SharedCellActorPolicy, got "
            f"{hyper.get('policy')!r} (the oracle's moves train a per-cell actor)"
        )
    return imitation_settings(hyper["imitation"], env_config, f"--agent {agent} hyperparams")


def _check_shared_actor_kwargs(hyper: dict[str, Any], kwargs) -> None:
    """SharedCellActorPolicy's own policy_kwargs (`kwargs`, as `algo_kwargs` parsed them),
    checked before the run folder is written."""
    if not isinstance(kwargs, dict):
        raise ConfigError(f"policy_kwargs {kwargs!r}: allowed a mapping of keyword arguments")
    own = [key for key in ("tilt_reference", "actor_ignores") if key in kwargs]
    if own and hyper.get("policy") != "SharedCellActorPolicy":
        raise ConfigError(
            f"policy_kwargs {', '.join(own)}: only for policy SharedCellActorPolicy, not "
            f"{hyper.get('policy')!r}"
        )
    reference = kwargs.get("tilt_reference")
    if reference not in ("planning", None):
        raise ConfigError(
            f"policy_kwargs tilt_reference = {reference!r}: allowed 'planning' (each cell's "
            "planning tilt) or None"
        )
    from cellsim.policies.networks import IGNORABLE

    ignores = kwargs.get("actor_ignores") or ()
    if not isinstance(ignores, list | tuple) or any(name not in IGNORABLE for name in ignores):
        raise ConfigError(
            f"policy_kwargs actor_ignores = {kwargs.get('actor_ignores')!r}: allowed a list of "
            f"{', '.join(IGNORABLE)}"
        )


def _imitate(model, run: Path, config: dict[str, Any], progress_bar: bool) -> None:
    """The oracle warm start before PPO (cellsim.imitation); a checkpoint after it, so that a
    resumed run goes straight on to PPO. Its figures go to imitation.json (metrics.json)."""
    from cellsim.imitation import imitate_oracle, imitation_settings
    from cellsim.scenario import EnvConfig

    env_config = config["env_config"]
    settings = imitation_settings(
        config["hyperparams"]["imitation"], EnvConfig.model_validate(env_config),
        f"{run}/config.yml",
    )  # fmt: skip
    started = time.perf_counter()
    stats = imitate_oracle(model, config["scenario"], env_config, settings, config["seed"],
                           progress_bar)  # fmt: skip
    stats["imitation_wall_s"] = round(time.perf_counter() - started, 1)
    _atomic_write_text(run / "imitation.json", json.dumps(stats, indent=1))
    save_checkpoint(model, run)


def _versions() -> dict[str, str]:
    import gymnasium
    import stable_baselines3
    import torch

    return {
        "cellsim": cellsim.__version__,
        "stable_baselines3": str(stable_baselines3.__version__),
        "gymnasium": str(gymnasium.__version__),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
    }


def train(spec: TrainSpec) -> Path:
    """Train (or resume) an agent; returns the run folder."""
    run, config = _prepare_run(spec)
    algo = _algo_class(config["agent"])
    env_config = config["env_config"]
    n_envs, seed, total = config["n_envs"], config["seed"], config["timesteps"]
    scenario = config["scenario"]
    if spec.resume and (run / "model.zip").is_file():
        print(f"{run}: already finished ({total} steps); nothing to resume")
        return run
    _set_torch_threads(spec.torch_threads)
    spec.agent = config["agent"]
    venv = _vec_env(scenario, env_config, n_envs, seed, spec.agent)
    hyper = config["hyperparams"]
    callbacks, eval_env = _callbacks(run, spec, scenario, env_config, venv.num_envs)
    checkpoint = latest_checkpoint(run) if spec.resume else None
    if checkpoint is not None:
        model = algo.load(checkpoint, env=venv, device="cpu")
        buffer = run / "checkpoints" / "replay_buffer.pkl"
        if config["agent"] in OFF_POLICY and buffer.is_file():
            model.load_replay_buffer(buffer)
    else:
        policy = resolve_policy(hyper.get("policy", "MlpPolicy"))
        kwargs = algo_kwargs(hyper)
        kwargs["policy_kwargs"] = _policy_kwargs(policy, kwargs, eval_env, env_config)
        model = algo(
            policy, venv, seed=seed, device="cpu", tensorboard_log=str(run / "tb"),
            verbose=spec.verbose, **kwargs,
        )  # fmt: skip
    started = time.perf_counter()
    imitating = checkpoint is None and "imitation" in hyper
    if checkpoint is not None:
        _restore_eval_history(callbacks[0], run)
    try:
        if imitating:
            _imitate(model, run, config, spec.progress_bar)
            imitating = False
        remaining = max(0, total - model.num_timesteps)
        if remaining > 0:  # an imitation-only run (n_timesteps: 0) has no PPO steps
            model.learn(
                remaining, callback=callbacks, progress_bar=spec.progress_bar,
                reset_num_timesteps=checkpoint is None, tb_log_name="run",
            )  # fmt: skip
    except KeyboardInterrupt:
        if imitating:  # half an imitation is not worth keeping: a resumed run starts it again
            print(f"\ninterrupted while imitating the oracle; start again with: "
                  f"cellsim train --resume --out {run}")  # fmt: skip
            raise
        path = save_checkpoint(model, run)
        print(f"\ninterrupted at {model.num_timesteps} steps; checkpoint {path}; "
              f"continue with: cellsim train --resume --out {run}")  # fmt: skip
        raise
    finally:
        venv.close()
        eval_env.close()
    _atomic_save(model, run / "model.zip")
    _write_metrics(run, model.num_timesteps, time.perf_counter() - started)
    return run


def _set_torch_threads(n: int) -> None:
    """Small MLPs on few cores train fastest on one thread (7× here): don't oversubscribe."""
    import torch

    torch.set_num_threads(max(1, n))


def _restore_eval_history(evaluation, run: Path) -> None:
    """A resumed run keeps its earlier evaluations and its best model's score."""
    path = run / "eval" / "evaluations.npz"
    if not path.is_file():
        return
    data = np.load(path)
    evaluation.evaluations_timesteps = data["timesteps"].tolist()
    evaluation.evaluations_results = data["results"].tolist()
    evaluation.evaluations_length = data["ep_lengths"].tolist()
    if len(data["results"]):
        evaluation.best_mean_reward = float(np.max(np.mean(data["results"], axis=1)))


def _write_metrics(run: Path, steps: int, wall_s: float) -> None:
    evals = run / "eval" / "evaluations.npz"
    metrics: dict[str, Any] = {"timesteps": int(steps), "train_wall_s": round(wall_s, 1)}
    imitation = run / "imitation.json"
    if imitation.is_file():
        metrics.update(json.loads(imitation.read_text()))
    if evals.is_file():
        data = np.load(evals)
        metrics["eval_timesteps"] = data["timesteps"].tolist()
        metrics["eval_mean_reward"] = data["results"].mean(axis=1).tolist()
    _atomic_write_text(run / "metrics.json", json.dumps(metrics, indent=1))


def load_run(run: str | Path):
    """(model, config) of a finished run folder (`best_model.zip` if present, else model.zip)."""
    run = Path(run)
    saved = run / "config.yml"
    if not saved.is_file():
        raise ConfigError(f"{run}: not a run folder (no config.yml)")
    config = yaml.safe_load(saved.read_text())
    algo = _algo_class(config["agent"])
    found = [run / n for n in ("best_model.zip", "model.zip") if (run / n).is_file()]
    path = found[0] if found else latest_checkpoint(run)
    if path is None:
        raise ConfigError(f"{run}: no model.zip, best_model.zip or checkpoint to load")
    model = algo.load(path, device="cpu")
    if config["agent"] == "dqn":
        n_cells = round(np.log(model.action_space.n) / np.log(3))
        return JointDiscretePolicy(model, n_cells), config
    if config["agent"] in SHARED_AGENTS:
        from cellsim.policies.shared import SharedCellModel

        k = config["env_config"].get("per_cell", {}).get("neighbours", 6)
        return SharedCellModel(model, k), config
    return model, config
