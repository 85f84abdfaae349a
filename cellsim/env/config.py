"""Environment configuration: scenario defaults deep-merged with the user's overrides."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from cellsim.errors import ConfigError
from cellsim.scenario import EnvConfig, format_validation_error


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` onto `base`, recursing into nested mappings (gym.make's kwargs are shallow)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_config(base: EnvConfig, override: Mapping[str, Any] | None, source: str) -> EnvConfig:
    """Validated `base` + `override`; a bad override raises ConfigError naming the field."""
    if override is None:
        return base
    if not isinstance(override, Mapping):
        raise ConfigError(f"{source}: config must be a dict of settings, got {override!r}")
    if not override:
        return base
    try:
        return EnvConfig.model_validate(deep_merge(base.model_dump(), override))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, EnvConfig)) from None
