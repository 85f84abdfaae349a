"""Policies for cellsim/Tilt-v0 besides trained agents: operators' rules and the oracle."""

from __future__ import annotations

from cellsim.env.tilt_env import TiltEnv
from cellsim.errors import ConfigError
from cellsim.policies.base import TiltPolicy
from cellsim.policies.oracle import Oracle, optimise_tilts
from cellsim.policies.rules import GeometricRule, SonRule, SonThresholds, planning_tilts_deg

BUILTIN_POLICIES = {"rule-geometric": GeometricRule, "rule-son": SonRule, "oracle": Oracle}


def make_policy(name: str, env: TiltEnv) -> TiltPolicy:
    """A built-in policy by name, for this env."""
    if name not in BUILTIN_POLICIES:
        raise ConfigError(f"policy {name!r}: allowed {', '.join(BUILTIN_POLICIES)}")
    return BUILTIN_POLICIES[name](env)


__all__ = [
    "BUILTIN_POLICIES", "GeometricRule", "Oracle", "SonRule", "SonThresholds", "TiltPolicy",
    "make_policy", "optimise_tilts", "planning_tilts_deg",
]  # fmt: skip
