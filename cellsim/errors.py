"""One exception family, so the CLI can turn any user error into one line and exit code 2."""

from __future__ import annotations

from pathlib import Path


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


def read_user_file(path: Path, kind: str, error: type[CellsimError]) -> str:
    """The text of a file the user named; unreadable or non-UTF-8 files raise `error` with one
    line naming the file (`kind`: what it should be, e.g. "scenario file")."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {kind}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text file") from None
    except ValueError:  # a NUL byte in the path
        raise error(f"{str(path)!r}: cannot read {kind}: a path cannot hold a NUL byte") from None
