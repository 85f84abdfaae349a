"""Policies for cellsim/Tilt-v0 besides trained agents: the static baselines, operators' rules
and the reference (the day's best tilt trajectory under the agent's own constraints)."""

from __future__ import annotations

from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies.base import TiltPolicy
from cellsim.policies.baselines import BestUniform, Hold, PeriodPlan, PlanSearch, StaticPlan
from cellsim.policies.pool_plan import PoolPlan
from cellsim.policies.reference import Reference, ReferenceSearch
from cellsim.policies.rules import GeometricRule, SonRule, SonThresholds, planning_tilts_deg

BUILTIN_POLICIES: dict[str, type[TiltPolicy]] = {
    "hold": Hold, "best-uniform": BestUniform, "pool-plan": PoolPlan, "static-plan": StaticPlan,
    "period-plan": PeriodPlan, "rule-geometric": GeometricRule, "rule-son": SonRule,
    "reference": Reference,
}  # fmt: skip
#: names that were built-in policies once, with what replaced them
RETIRED_POLICIES = {
    "oracle": "reference (the per-snapshot oracle was replaced by the day-trajectory "
    "reference, issue 15)",
}


def check_policy_name(name: str) -> None:
    """One line for a name that is not a built-in policy (a retired one says what replaced it)."""
    if name in RETIRED_POLICIES:
        raise ConfigError(f"policy {name!r} was retired: use {RETIRED_POLICIES[name]}")
    if name not in BUILTIN_POLICIES:
        raise ConfigError(f"policy {name!r}: allowed {', '.join(BUILTIN_POLICIES)}")


def make_policy(name: str, env: TiltEnv) -> TiltPolicy:
    """A built-in policy by name, for this env."""
    check_policy_name(name)
    return BUILTIN_POLICIES[name](env)


__all__ = [
    "BUILTIN_POLICIES", "RETIRED_POLICIES", "BestUniform", "GeometricRule", "Hold", "PeriodPlan",
    "PlanSearch", "PoolPlan",
    "Reference", "ReferenceSearch", "SonRule", "SonThresholds", "StaticPlan", "TiltPolicy",
    "check_policy_name", "make_policy", "planning_tilts_deg",
]  # fmt: skip
