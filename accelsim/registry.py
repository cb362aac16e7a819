"""Named plug-in registries (one per interface), in the manner of Ramulator 2's factory.

Every swappable part registers under a short lowercase name with a one-line description; YAML picks
an implementation with ``impl: <name>``. Registering a name twice is an error; an unknown name gets
the list of known names and a "did you mean".
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from .errors import unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> class table for one interface (e.g. memory models)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._descriptions: dict[str, str] = {}

    def register(self, name: str, description: str) -> Callable[[T], T]:
        """Class decorator: ``@MEMORIES.register("ideal", "fixed latency, unbounded bandwidth")``."""

        def add(cls: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} impl {name!r} is registered twice")
            self._entries[name] = cls
            self._descriptions[name] = description
            cls.impl_name = name  # type: ignore[attr-defined]
            cls.description = description  # type: ignore[attr-defined]
            return cls

        return add

    def get(self, name: str, **where) -> T:
        """Return the implementation registered as ``name`` or raise ``UnknownImplError``."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise unknown_name(f"{self.kind} impl", name, self._entries, **where) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        """``{name: description}`` in name order (what ``accelsim list`` prints)."""
        return {name: self._descriptions[name] for name in self.names()}

    def __contains__(self, name: object) -> bool:
        return name in self._entries
