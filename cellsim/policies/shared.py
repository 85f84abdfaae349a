"""A shared per-cell policy acting on any network.

The model maps one cell's agent observation (its features, the network mean, the time, its k
most interfering neighbours) to that cell's action, so it fits every network. It is either an
SB3 model trained on `cellsim.env.parallel_env` (`ippo-shared`: its observation space is the
agent observation) or a centralised PPO whose policy is `SharedCellActorPolicy` (`ppo-shared`,
`dagger-shared`: its `act_cells` runs the actor alone). To act in the centralised
`cellsim/Tilt-v0` of any scenario — which is how `cellsim compare`, maps and recordings run
every agent — `SharedCellPolicy` derives the network's own neighbour table and builds all cells'
observations from the centralised observation, then asks the model for every cell in one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from cellsim.contract import agent_observation_dim
from cellsim.env.neighbours import network_neighbours
from cellsim.env.observation import agent_observations_from_state, tilt_reference_offsets
from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies import make_policy
from cellsim.policies.base import TiltPolicy
from cellsim.policies.baselines import StaticPlan


class SharedCellPolicy(TiltPolicy):
    name = "shared"

    def __init__(
        self, env: TiltEnv, model: Any, neighbours: int, deviation_margin: float = 0.0
    ) -> None:
        super().__init__(env)
        self.model = model  # an SB3 model
        self.neighbours = network_neighbours(env.sim, neighbours)
        self._act_cells: Callable[[np.ndarray], np.ndarray] | None = getattr(
            model.policy, "act_cells", None
        )
        self._offsets: np.ndarray | None = None  # what the actor adds to its inputs on this network
        if getattr(model.policy, "uses_tilt_reference", False):
            self._offsets = tilt_reference_offsets(planning_reference(env), self.neighbours)
        #: the planner of the episode's tilt reference, for an actor that reads tilts against
        #: each episode's plan (static-plan's or period-plan's: its offsets are set whenever
        #: the planner's target changes, at the episode's first action and at each period)
        self.episode_planner: StaticPlan | None = None
        reference = getattr(model.policy, "episode_reference", None)
        if reference is not None:
            planner = make_policy(reference, env)
            assert isinstance(planner, StaticPlan)  # EPISODE_REFERENCES are StaticPlans
            self.episode_planner = planner
        self._offsets_plan: np.ndarray | None = None  # the plan the offsets were made from
        #: how much more likely than the plan's own move the actor's move must be to be taken
        #: (0: the actor's most likely move, always; 1: the plan's walk, always); only for an
        #: actor that reads tilts against the episode's plan (`gated_moves`)
        self.deviation_margin = deviation_margin
        if self._act_cells is not None:
            expected = (model.policy.agent_observation_dim,)
        else:
            expected = tuple(model.observation_space.shape)
        got = (agent_observation_dim(neighbours),)
        if expected != got:
            raise ConfigError(
                f"shared model expects observations of shape {expected}, {neighbours} "
                f"neighbours make {got}: per_cell.neighbours must be the one it was trained with "
                "(or the model predates this observation layout: retrain it)"
            )

    def reset(self, env_index: int | None = None) -> None:
        if self.episode_planner is not None:  # a new episode, a new plan
            self.episode_planner.reset(env_index)
            self._offsets = self._offsets_plan = None

    def agent_observations(self, obs: np.ndarray) -> np.ndarray:
        """The model's input for every cell: its agent observation (plus the tilt reference
        offsets, for a model that reads tilts relative to the planning tilt or to the episode's
        plan, which is planned at the episode's first call and, for period-plan, at each
        period)."""
        x = agent_observations_from_state(obs, self.n_cells, self.neighbours)
        if self.episode_planner is not None:
            target = self.episode_planner.target()
            if target is not self._offsets_plan:
                plan = self.env.tilt_space.to_feature(target).astype(np.float32)
                self._offsets = tilt_reference_offsets(plan, self.neighbours)
                self._offsets_plan = target
        return x if self._offsets is None else x + self._offsets

    def act(self, obs: np.ndarray, env_index: int = 0) -> np.ndarray:
        if self.episode_planner is not None and self.deviation_margin > 0:
            return self.gated_moves(obs)
        if self._act_cells is not None:
            return self._act_cells(self.agent_observations(obs))
        actions, _ = self.model.predict(self.agent_observations(obs), deterministic=True)
        if self.discrete:
            return np.asarray(actions, np.int64).reshape(self.n_cells)
        return np.clip(np.asarray(actions, np.float32).reshape(self.n_cells), -1.0, 1.0)

    def gated_moves(self, obs: np.ndarray) -> np.ndarray:
        """Each cell's move: the plan's (toward the episode's plan tilt) unless the
        actor finds another move more likely by more than `deviation_margin`.

        Why: the actor learnt the reference's moves on top of the plan, but a wrong deviation
        costs a tilt change now and another to come back; where the actor is unsure, the plan
        (a sound default: `static-plan` scores within a few percent of the reference) wins.
        The margin is tuned on training realisations (`cellsim.imitation.tune_deviation_margin`)."""
        assert self.episode_planner is not None  # see act
        probabilities = self.model.policy.cell_probabilities(self.agent_observations(obs))
        plan_move = self.episode_planner.act(obs)  # the plan the offsets hold (one env)
        own = probabilities.argmax(axis=1)
        rows = np.arange(len(own))
        lead = probabilities[rows, own] - probabilities[rows, plan_move]
        return np.where(lead > self.deviation_margin, own, plan_move).astype(np.int64)


def planning_reference(env: TiltEnv) -> np.ndarray:
    """Each cell's planning tilt (`rule-geometric`'s) in tilt-feature units (0 … 1 over the
    env's tilt range): the reference a `tilt_reference` actor reads tilts against."""
    from cellsim.policies.rules import planning_tilts_deg

    return env.tilt_space.to_feature(planning_tilts_deg(env)).astype(np.float32)


class SharedCellModel:
    """A loaded shared model not yet bound to an env: `bind(env)` gives its policy there."""

    def __init__(self, model: Any, neighbours: int, deviation_margin: float = 0.0) -> None:
        self.model, self.neighbours = model, neighbours
        self.deviation_margin = deviation_margin  # the run's (imitation.json), if tuned

    def bind(self, env: TiltEnv) -> SharedCellPolicy:
        return SharedCellPolicy(env, self.model, self.neighbours, self.deviation_margin)

    def predict(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ConfigError("a shared per-cell model acts on one network: bind(env) it first")
