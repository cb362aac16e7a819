"""Typed, validated reading of YAML mappings with errors that name file, key path, expected, given.

Every loader (architecture, memory presets, mesh, technology files, env definitions) reads its
mapping through a ``Section``, so all of them report mistakes the same way::

    sec = Section(raw, file="arch.yaml", path="systolic")
    rows = sec.int("rows", minimum=1)              # required
    df = sec.choice("dataflow", ("os", "ws", "is"), default="ws")
    sec.done()                                     # unknown keys are errors
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from ..errors import ConfigError, did_you_mean

_MISSING = object()
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1      # what any integer field can hold


def _fmt(value: Any) -> str:
    """A number for a message: huge ones in short exponent form, not 300 digits."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1e15:
        return f"{float(value):.6g}" if abs(value) < 1e308 else f"a {len(str(abs(int(value))))}-digit number"
    return str(value)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class Section:
    """A view of one YAML mapping that records which keys were read.

    ``done()`` lists as allowed every key the code asked about: those read by a getter, those
    tested with ``has()``, the ``keys`` declared here and the ``ignore``/``also`` given to it, so
    a typo next to an optional key still names that key.
    """

    def __init__(self, raw: Any, *, file: str | None, path: str = "", keys: Iterable[str] = ()):
        self.file = file
        self.path = path
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"expected a mapping, got {_type_name(raw)} {raw!r:.60}",
                              file=file, key=path or "<top level>")
        for key in raw:
            if not isinstance(key, str):
                raise ConfigError(f"keys must be strings, got {_type_name(key)} {key!r:.40}",
                                  file=file, key=path or "<top level>")
        self.raw = dict(raw)
        self._used: set[str] = set()
        self._known: set[str] = set(keys)     # asked about (has) or declared, maybe not read

    # ------------------------------------------------------------------ helpers
    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=self.key_path(key))

    def has(self, key: str) -> bool:
        self._known.add(key)
        return key in self.raw

    def _get(self, key: str, default: Any) -> Any:
        self._used.add(key)
        if key in self.raw and self.raw[key] is not None:
            return self.raw[key]
        if default is _MISSING:
            raise self.error(key, "required key is missing")
        return default

    # ------------------------------------------------------------------ typed getters
    def int(self, key: str, *, default: Any = _MISSING, minimum: int | None = None,
            maximum: int | None = None) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not value.is_integer()):
            raise self.error(key, f"expected an integer, got {_type_name(value)} {value!r:.60}")
        value = int(value)
        self._check_range(key, value, INT_MIN if minimum is None else minimum,
                          INT_MAX if maximum is None else maximum)
        return value

    def float(self, key: str, *, default: Any = _MISSING, minimum: float | None = None,
              maximum: float | None = None, exclusive_minimum: bool = False) -> float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {_type_name(value)} {value!r:.60}")
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise self.error(key, f"expected a finite number, got {value}")
        if exclusive_minimum and minimum is not None and value <= minimum:
            raise self.error(key, f"expected a number > {minimum}, got {value:g}")
        self._check_range(key, value, minimum, maximum)
        return value

    def bool(self, key: str, *, default: Any = _MISSING) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_type_name(value)} {value!r:.60}")
        return value

    def str(self, key: str, *, default: Any = _MISSING) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_type_name(value)} {value!r:.60}")
        return value

    def choice(self, key: str, choices: Iterable[str], *, default: Any = _MISSING) -> str:
        choices = tuple(choices)
        value = self._get(key, default)
        if not isinstance(value, str) or value.lower() not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}, got {value!r:.60}"
                             f"{did_you_mean(str(value), choices)}")
        return value.lower()

    def section(self, key: str, *, default: Any = _MISSING) -> "Section":
        value = self._get(key, default)
        return Section(value, file=self.file, path=self.key_path(key))

    def any(self, key: str, *, default: Any = _MISSING) -> Any:
        return self._get(key, default)

    def _check_range(self, key: str, value, minimum, maximum) -> None:
        if minimum is not None and value < minimum:
            raise self.error(key, f"expected a value >= {_fmt(minimum)}, got {_fmt(value)}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"expected a value <= {_fmt(maximum)}, got {_fmt(value)}")

    def done(self, *, ignore: Iterable[str] = (), also: Iterable[str] = ()) -> None:
        """Raise on any key that no getter read (a typo or an unsupported option).

        ``ignore`` keys are accepted unread; ``also`` names keys that are allowed in this
        section but were not read on this path (listed in the error, still rejected)."""
        allowed = self._used | set(ignore)
        listed = allowed | self._known | set(also)
        unknown = [k for k in self.raw if k not in allowed]
        if unknown:
            key = unknown[0]
            if key in listed:
                raise self.error(key, "not used with the other settings of this section; used: "
                                      f"{', '.join(sorted(allowed)) or 'none'}")
            raise self.error(key, f"unknown key{did_you_mean(key, sorted(listed))}; "
                                  f"allowed: {', '.join(sorted(listed))}")
