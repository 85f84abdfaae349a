"""Train (or resume) an agent of the registry on cellsim/Tilt-v0 into a run folder.

The agent's entry (`cellsim.training.registry`) says which algorithm, env and trainer; its
hyperparameters come from its defaults file or the user's own (`hyperparams_file`, rl-zoo3
layout), with `hyperparams` overrides on top, all checked before the run folder is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cellsim.env.config import merge_config
from cellsim.errors import ConfigError
from cellsim.scenario import EnvConfig, load_scenario
from cellsim.training.envs import vec_env
from cellsim.training.hyperparams import (
    algo_kwargs,
    check_keys,
    check_shared_actor_kwargs,
    check_values,
    load_hyperparams,
    resolve_policy,
)
from cellsim.training.registry import ENV_ID, AgentSpec, agent_spec
from cellsim.training.runs import (
    archive_eval_history,
    atomic_save,
    atomic_write_text,
    latest_checkpoint,
    next_run_dir,
    read_run_config,
    restore_eval_history,
    save_checkpoint,
    versions,
    write_metrics,
)

EVAL_SEED_OFFSET = 10_000


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
    hyperparams_file: str | None = None  # the user's own file (default: agents/AGENT.yml)
    eval_freq: int = 10_000  # env steps between evaluations (all envs together)
    eval_episodes: int = 2
    #: a checkpoint every so many minutes of training (None: none on time), so that a kill
    #: loses at most that long; and/or every so many env steps (None: none on steps)
    checkpoint_minutes: float | None = 5.0
    checkpoint_freq: int | None = None
    #: with `resume`: the fields the user gave explicitly (the CLI's flags); each must equal
    #: the run's saved value, as a resumed run continues with its own config.yml
    given: tuple[str, ...] = ()
    progress_bar: bool = True
    verbose: int = 0
    torch_threads: int = 1


def _policy_kwargs(
    policy: Any, algo_kw: dict[str, Any], eval_env: Any, env_config: dict[str, Any]
) -> dict[str, Any]:
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


def _callbacks(
    run: Path, spec: TrainSpec, agent: AgentSpec, scenario: str, config: dict[str, Any],
    n_envs: int,
) -> tuple[list[Any], Any]:  # fmt: skip
    """Evaluation and checkpoints every so many env steps; `n_envs` = the VecEnv's sub-envs."""
    from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

    class AtomicCheckpoint(BaseCallback):
        """A checkpoint every `every` env steps and/or every `minutes` of wall time."""

        def __init__(self, every: int | None, minutes: float | None):
            super().__init__()
            self.every = None if every is None else max(1, every // n_envs)
            self.every_s = None if minutes is None else minutes * 60.0
            self.last = time.monotonic()

        def _on_training_start(self) -> None:
            self.last = time.monotonic()

        def _on_step(self) -> bool:
            due = self.every is not None and self.n_calls % self.every == 0
            if self.every_s is not None and time.monotonic() - self.last >= self.every_s:
                due = True
            if due:
                save_checkpoint(self.model, run)
                self.last = time.monotonic()
            return True

    eval_cls: Any = EvalCallback
    if agent.masked:  # evaluate with the masks it trains with
        from sb3_contrib.common.maskable.callbacks import MaskableEvalCallback

        eval_cls = MaskableEvalCallback

    eval_dir = run / "eval"
    side_files = ((eval_dir / f"{EVAL_SIDE}.npz", eval_dir / "evaluations.npz"),
                  (eval_dir / "best_model.zip", run / "best_model.zip"))  # fmt: skip

    class AtomicEval(eval_cls):
        """SB3's evaluation, its files written beside their names and renamed into place
        (eval/evaluations.npz, best_model.zip): a kill mid-write leaves the last whole file,
        which a resume reads."""

        def _on_step(self) -> bool:
            go_on = bool(super()._on_step())
            for side, final in side_files:
                if side.is_file():
                    os.replace(side, final)
            return go_on

    eval_env = vec_env(agent, scenario, config, 1, spec.seed + EVAL_SEED_OFFSET)
    evaluation = AtomicEval(
        eval_env,
        n_eval_episodes=spec.eval_episodes * eval_env.num_envs,  # every cell's, if per cell
        eval_freq=max(1, spec.eval_freq // n_envs),
        best_model_save_path=str(eval_dir),  # then renamed to run/best_model.zip
        log_path=str(eval_dir),
        deterministic=True,
        verbose=spec.verbose,
    )
    evaluation.log_path = str(eval_dir / EVAL_SIDE)  # np.savez adds .npz
    checkpoints = AtomicCheckpoint(spec.checkpoint_freq, spec.checkpoint_minutes)
    return [evaluation, checkpoints], eval_env


#: the name SB3's evaluation history is written under before it is renamed evaluations.npz
EVAL_SIDE = "evaluations.writing"


def _hyperparams(spec: TrainSpec, agent: AgentSpec) -> dict[str, Any]:
    """The agent's entry (its defaults file or the user's), `spec.hyperparams` on top,
    every key checked against the algorithm."""
    in_file = load_hyperparams(spec.agent, spec.hyperparams_file)
    source = spec.hyperparams_file or f"{agent.defaults_file} (built-in)"
    check_keys(agent, in_file, source)
    check_keys(agent, spec.hyperparams, "--hyperparams")
    check_values(agent, in_file, source)
    check_values(agent, spec.hyperparams, "--hyperparams")
    hyper = {**in_file, **spec.hyperparams}
    given = spec.hyperparams.get("imitation")
    if isinstance(in_file.get("imitation"), dict) and isinstance(given, dict):  # partial override
        hyper["imitation"] = {**in_file["imitation"], **given}
    return hyper


def _prepare_run(spec: TrainSpec) -> tuple[Path, dict[str, Any]]:
    """The run folder and its saved config: new, or the one being resumed."""
    if spec.resume:
        if not spec.out:
            raise ConfigError("--resume needs --out RUN_DIR: the run folder to continue")
        run = Path(spec.out)
        saved = run / "config.yml"
        if not saved.is_file():
            raise ConfigError(f"--out {spec.out!r}: no config.yml there: not a run folder")
        config = read_run_config(run)
        _check_resume_flags(spec, config, run)
        return run, config
    agent = agent_spec(spec.agent)
    scenario = load_scenario(spec.scenario)
    if spec.out:
        run = Path(spec.out)
        if not _reusable(run):
            raise ConfigError(
                f"--out {spec.out!r} exists and is not empty: continue it with --resume or "
                "choose a new folder (run folders are never overwritten)"
            )
    else:
        run = next_run_dir(Path("runs"), spec.agent, scenario.name)
    if agent.max_cells is not None:
        from cellsim.network.build import build_layout

        n_cells = len(build_layout(scenario).cells)
        if n_cells > agent.max_cells:
            raise ConfigError(
                f"--agent {agent.name}: {scenario.name} has {n_cells} cells, at most "
                f"{agent.max_cells} fit its joint Discrete action space ({agent.doc}); use ppo "
                "or a2c"
            )
    hyper = _hyperparams(spec, agent)
    algo_kw = algo_kwargs(hyper)  # a bad value is refused before the run folder is written
    env_config = {**hyper.get("env_config", {}), **spec.config}
    if agent.action == "continuous":
        env_config["action"] = "continuous"
    elif env_config.get("action", "discrete") != "discrete":
        raise ConfigError(f"--agent {spec.agent}: needs action = 'discrete' tilts")
    full_env = merge_config(scenario.env, env_config, "env config")
    if agent.trainer == "imitation":  # saved in full: the run rebuilds whatever defaults become
        hyper["imitation"] = _check_imitation(agent, hyper, full_env).model_dump(mode="json")
    timesteps = int(spec.timesteps or float(hyper.get("n_timesteps", 100_000)))
    check_shared_actor_kwargs(hyper, algo_kw.get("policy_kwargs") or {}, timesteps)
    config = {
        "agent": spec.agent,
        "algo": agent.algorithm.partition(":")[2],
        "env_id": ENV_ID,
        "scenario": spec.scenario,
        "scenario_name": scenario.name,
        "env_config": full_env.model_dump(mode="json"),
        "hyperparams": hyper,
        "timesteps": timesteps,
        "n_envs": int(spec.n_envs or hyper.get("n_envs", 1)),
        "seed": spec.seed,
        "eval_freq": spec.eval_freq,
        "eval_episodes": spec.eval_episodes,
        "versions": versions(),
    }
    text = yaml.safe_dump(config, sort_keys=False)
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {str(run)!r}: cannot create the run folder: "
                          f"{exc.strerror}") from None  # fmt: skip
    if not os.access(run, os.W_OK):
        raise ConfigError(f"--out {str(run)!r}: the run folder is not writable")
    atomic_write_text(run / "config.yml", text)
    return run, config


def _reusable(run: Path) -> bool:
    """A new run may go into `run` if it does not exist, is an empty folder, or holds only the
    config.yml of a run that failed before it built its model (nothing else to lose)."""
    if not run.exists():
        return True
    if not run.is_dir():
        raise ConfigError(f"--out {str(run)!r}: exists and is not a folder")
    return {p.name for p in run.iterdir()} <= {"config.yml"}


def _same(given: Any, saved: Any) -> bool:
    """`given` equals `saved`; a mapping given may name only some of the saved keys."""
    if isinstance(given, dict) and isinstance(saved, dict):
        return all(k in saved and _same(v, saved[k]) for k, v in given.items())
    if isinstance(given, int | float) and isinstance(saved, int | float):
        return float(given) == float(saved)
    return bool(given == saved)


def _check_resume_flags(spec: TrainSpec, saved: dict[str, Any], run: Path) -> None:
    """A resumed run continues with its saved settings: a flag that would change one is
    refused (a flag equal to the saved value is fine)."""
    values: dict[str, tuple[Any, Any]] = {
        "agent": (spec.agent, saved["agent"]),
        "timesteps": (spec.timesteps, saved["timesteps"]),
        "seed": (spec.seed, saved["seed"]),
        "scenario": (spec.scenario, saved["scenario"]),
        "n_envs": (spec.n_envs, saved["n_envs"]),
        "hyperparams": (spec.hyperparams, saved["hyperparams"]),
        "eval_freq": (spec.eval_freq, saved.get("eval_freq", spec.eval_freq)),
    }
    for name in spec.given:
        flag = "--eval-every" if name == "eval_freq" else "--" + name.replace("_", "-")
        if name == "config":
            try:
                merged = merge_config(EnvConfig.model_validate(saved["env_config"]), spec.config,
                                      "--config").model_dump(mode="json")  # fmt: skip
            except ConfigError:
                merged = None
            if merged != saved["env_config"]:
                raise ConfigError(f"--resume: --config {json.dumps(spec.config)} changes the env "
                                  f"config saved in {run}/config.yml; a resumed run continues "
                                  "with its own: drop --config or start a new run")  # fmt: skip
            continue
        if name == "hyperparams_file":
            entry = load_hyperparams(saved["agent"], spec.hyperparams_file)
            if not _same(entry, saved["hyperparams"]):
                raise ConfigError(f"--resume: --hyperparams-file {spec.hyperparams_file} differs "
                                  f"from the hyperparameters saved in {run}/config.yml; drop it "
                                  "or start a new run")  # fmt: skip
            continue
        given, value = values[name]
        if not _same(given, value):
            shown = json.dumps(given) if isinstance(given, dict) else given
            raise ConfigError(f"--resume: {flag} {shown} differs from the run's "
                              f"{name} = {json.dumps(value) if isinstance(value, dict) else value} "
                              f"({run}/config.yml); a resumed run continues with its saved "
                              "settings: drop the flag or start a new run")  # fmt: skip


def _check_imitation(agent: AgentSpec, hyper: dict[str, Any], env_config: EnvConfig) -> Any:
    """The `imitation` block (cellsim.imitation) trains a SharedCellActorPolicy's actor only."""
    from cellsim.imitation import imitation_settings

    if hyper.get("policy") != "SharedCellActorPolicy":
        raise ConfigError(
            f"--agent {agent.name}: imitation needs policy SharedCellActorPolicy, got "
            f"{hyper.get('policy')!r} (the reference's moves train a per-cell actor)"
        )
    return imitation_settings(hyper.get("imitation", {}), env_config,
                              f"--agent {agent.name} hyperparams")  # fmt: skip


def imitation_state_folder(run: Path) -> Path:
    """Where an imitation in progress keeps its state after each iteration
    (`cellsim.imitation.ImitationState`; removed once the imitation's checkpoint is written)."""
    return run / "checkpoints" / "imitation"


def _imitation_saved(run: Path) -> bool:
    from cellsim.imitation import ImitationState

    return ImitationState.saved_in(imitation_state_folder(run))


def _imitate(model: Any, run: Path, config: dict[str, Any], progress_bar: bool) -> None:
    """The reference warm start before PPO (cellsim.imitation), resumable at its last whole
    iteration; a checkpoint after it, so that a resumed run goes straight on to PPO. Its
    figures go to imitation.json (metrics.json)."""
    from cellsim.imitation import imitate_reference, imitation_settings

    env_config = config["env_config"]
    settings = imitation_settings(
        config["hyperparams"]["imitation"], EnvConfig.model_validate(env_config),
        f"{run}/config.yml",
    )  # fmt: skip
    state = imitation_state_folder(run)
    stats = imitate_reference(model, config["scenario"], env_config, settings, config["seed"],
                              progress_bar, state_folder=state)  # fmt: skip
    atomic_write_text(run / "imitation.json", json.dumps(stats, indent=1))
    save_checkpoint(model, run)
    shutil.rmtree(state, ignore_errors=True)


def _set_torch_threads(n: int) -> None:
    """Small MLPs on few cores train fastest on one thread (7× here): don't oversubscribe."""
    import torch

    torch.set_num_threads(max(1, n))


@contextlib.contextmanager
def unchecked_distributions() -> Iterator[None]:
    """torch's argument checks off for the distributions built inside the block (its default
    on again after). SB3 builds a Categorical per action dimension at every step and minibatch
    (one per cell here) and torch checks each one's parameters and each sample: a third of
    PPO's training time on hex7. A policy whose logits went NaN still stops, at the sampling.
    The trained weights are the same bit for bit (BENCHMARKS.md, "PPO training")."""
    from torch.distributions import Distribution

    before = Distribution._validate_args
    Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        Distribution.set_default_validate_args(before)


def train(spec: TrainSpec) -> Path:
    """Train (or resume) an agent; returns the run folder."""
    run, config = _prepare_run(spec)
    agent = agent_spec(config["agent"])
    algo = agent.algo_class()
    env_config = config["env_config"]
    n_envs, seed, total = config["n_envs"], config["seed"], config["timesteps"]
    scenario = config["scenario"]
    if spec.resume and (run / "model.zip").is_file():
        print(f"{run}: already finished ({total} steps); nothing to resume")
        return run
    _set_torch_threads(spec.torch_threads)
    spec.agent = config["agent"]
    if spec.resume:  # evaluations go on as the run began them
        spec.eval_freq = int(config.get("eval_freq", spec.eval_freq))
        spec.eval_episodes = int(config.get("eval_episodes", spec.eval_episodes))
    venv = vec_env(agent, scenario, env_config, n_envs, seed)
    hyper = config["hyperparams"]
    callbacks, eval_env = _callbacks(run, spec, agent, scenario, env_config, venv.num_envs)
    checkpoint = latest_checkpoint(run) if spec.resume else None
    if checkpoint is not None:  # a run folder of one's own: SB3's load (it unpickles)
        model = algo.load(checkpoint, env=venv, device="cpu")
        shutil.rmtree(imitation_state_folder(run), ignore_errors=True)  # a kill left it behind
        buffer = run / "checkpoints" / "replay_buffer.pkl"
        if agent.replay_buffer and buffer.is_file():
            model.load_replay_buffer(buffer)
        print(f"{run}: resuming from {checkpoint.name} ({model.num_timesteps} of {total} steps)")
    else:
        if spec.resume and _imitation_saved(run):
            print(f"{run}: resuming the imitation after its last whole iteration")
        elif spec.resume:
            print(f"{run}: no checkpoint yet (stopped before the first one): restarting "
                  f"cleanly from step 0 of {total}")  # fmt: skip
        policy = resolve_policy(hyper.get("policy", "MlpPolicy"))
        kwargs = algo_kwargs(hyper)
        kwargs["policy_kwargs"] = _policy_kwargs(policy, kwargs, eval_env, env_config)
        try:
            model = algo(
                policy, venv, seed=seed, device="cpu", tensorboard_log=str(run / "tb"),
                verbose=spec.verbose, **kwargs,
            )  # fmt: skip
        except (TypeError, ValueError, AssertionError, KeyError) as exc:
            venv.close()
            eval_env.close()
            text = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise ConfigError(f"hyperparams of {agent.name}: the model cannot be built with "
                              f"them: {text}") from None  # fmt: skip
    started = time.perf_counter()
    imitating = checkpoint is None and agent.trainer == "imitation"
    if spec.resume:
        archive_eval_history(run)
        restore_eval_history(callbacks[0], run, 0 if checkpoint is None else model.num_timesteps)
    try:
        if imitating:
            _imitate(model, run, config, spec.progress_bar)
            imitating = False
        remaining = max(0, total - model.num_timesteps)
        if remaining > 0:  # an imitation-only run (n_timesteps: 0) has no PPO steps
            with unchecked_distributions():
                model.learn(
                    remaining, callback=callbacks, progress_bar=spec.progress_bar,
                    reset_num_timesteps=checkpoint is None, tb_log_name="run",
                )  # fmt: skip
    except KeyboardInterrupt:
        if imitating:  # its state after the last whole iteration is on disk, if any
            where = ("from its last whole iteration" if _imitation_saved(run)
                     else "from its start (no iteration was finished)")  # fmt: skip
            print(f"\ninterrupted while imitating; continue {where} with: "
                  f"cellsim train --resume --out {run}")  # fmt: skip
            raise
        path = save_checkpoint(model, run)
        print(f"\ninterrupted at {model.num_timesteps} steps; checkpoint {path}; "
              f"continue with: cellsim train --resume --out {run}")  # fmt: skip
        raise
    finally:
        venv.close()
        eval_env.close()
    atomic_save(model, run / "model.zip")
    write_metrics(run, model.num_timesteps, time.perf_counter() - started)
    return run
