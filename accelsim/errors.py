"""One tree of errors for everything a user can get wrong.

``AccelsimError`` is the root. The CLI turns any of these into one line on stderr and exit code 2;
anything else is an internal error (exit code 1, with a hint to report it).

Messages follow one rule: name the file, the key path (or row), what was expected and what was
given, so the user can fix the input without reading code.
"""

from __future__ import annotations

import difflib
from typing import Iterable


class AccelsimError(Exception):
    """Root of every error caused by user input (config, trace, option, missing file)."""


class ConfigError(AccelsimError):
    """An architecture / memory / technology / env YAML is malformed or out of range."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file, self.key = file, key
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class TraceError(AccelsimError):
    """An operator or request trace is malformed (missing column, bad value, bad row)."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None):
        self.file, self.row, self.column = file, row, column
        self.detail = message                # the message without the file / row / column
        parts = [file] if file else []
        if row is not None:
            parts.append(f"row {row}")
        if column:
            parts.append(f"column {column!r}")
        where = ", ".join(parts)
        super().__init__(f"{where}: {message}" if where else message)


class UnknownImplError(ConfigError):
    """A name (preset, impl, model, env id) that is not registered."""


class SimulationError(AccelsimError):
    """The simulation cannot proceed (deadlock, a watchdog fired, an impossible mapping)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(kind: str, name: str, choices: Iterable[str], **where) -> UnknownImplError:
    """Build the standard error for an unregistered ``name`` of ``kind``."""
    choices = sorted(choices)
    return UnknownImplError(
        f"unknown {kind} {name!r}{did_you_mean(name, choices)}; known: {', '.join(choices)}",
        **where,
    )
