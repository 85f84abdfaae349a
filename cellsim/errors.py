"""One exception family, so the CLI can turn any user error into one line and exit code 2."""

from __future__ import annotations


class CellsimError(Exception):
    """Base of every error caused by user input (a bug raises something else)."""


class ParameterError(CellsimError, ValueError):
    """A physical or numerical parameter outside what a model allows."""

    def __init__(self, name: str, value: object, allowed: str):
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"{name}={value!r} is out of range: allowed {allowed}")


class ScenarioError(CellsimError):
    """A scenario file that cannot be read or does not validate."""


class ConfigError(CellsimError):
    """A configuration override (from code or the CLI) that does not validate."""
