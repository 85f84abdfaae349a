"""Policies for cellsim/Tilt-v0 besides trained agents: the static baselines, operators' rules
and the oracle."""

from __future__ import annotations

from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies.base import TiltPolicy
from cellsim.policies.baselines import BestUniform, Hold, PlanSearch, StaticPlan
from cellsim.policies.oracle import Oracle, optimise_tilts
from cellsim.policies.rules import GeometricRule, SonRule, SonThresholds, planning_tilts_deg

BUILTIN_POLICIES: dict[str, type[TiltPolicy]] = {
    "hold": Hold, "best-uniform": BestUniform, "static-plan": StaticPlan,
    "rule-geometric": GeometricRule, "rule-son": SonRule, "oracle": Oracle,
}  # fmt: skip


def make_policy(name: str, env: TiltEnv) -> TiltPolicy:
    """A built-in policy by name, for this env."""
    if name not in BUILTIN_POLICIES:
        raise ConfigError(f"policy {name!r}: allowed {', '.join(BUILTIN_POLICIES)}")
    return BUILTIN_POLICIES[name](env)


__all__ = [
    "BUILTIN_POLICIES", "BestUniform", "GeometricRule", "Hold", "Oracle", "PlanSearch",
    "SonRule", "SonThresholds", "StaticPlan", "TiltPolicy", "make_policy", "optimise_tilts",
    "planning_tilts_deg",
]  # fmt: skip
