"""A bounded LRU cache with counters (shape plans and reuse memos use it)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """``capacity=None`` is unbounded. ``stats()`` reports hits, misses and evictions."""

    def __init__(self, capacity: int | None = None):
        if capacity is not None and capacity < 1:
            raise ValueError(f"cache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self.hits = self.misses = self.evictions = 0

    def get(self, key: Hashable) -> V | None:
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        if self.capacity is not None:
            self._data.move_to_end(key)
        return value

    def peek(self, key: Hashable) -> V | None:
        """Look up without counting or reordering."""
        return self._data.get(key)

    def put(self, key: Hashable, value: V) -> None:
        self._data[key] = value
        if self.capacity is not None:
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)
                self.evictions += 1

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    def __getitem__(self, key: Hashable) -> V:
        return self._data[key]

    def __len__(self) -> int:
        return len(self._data)

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._data), "capacity": self.capacity or 0, "hits": self.hits,
                "misses": self.misses, "evictions": self.evictions}
