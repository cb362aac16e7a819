"""A content-addressed result cache: a bounded in-memory LRU in front of a bounded SQLite file.

Keys are hex digests of everything that determines a design's raw metrics: the resolved
architecture mapping (base arch + knob values), the workload's content hash, the fidelity, the
metric set and ``accelsim.__version__`` (see ``Evaluator.key``). Values are small JSON records
``{"status", "metrics", "error"}``: objectives, constraints and rewards are recomputed from them,
so envs with different constraints share entries. Timeouts are never cached (they depend on the
machine, not on the design).

The disk tier is one SQLite file (safe for several processes; writes are single statements).
Both tiers evict the least recently *written/used* entries beyond their bounds and count it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import OrderedDict
from pathlib import Path
from typing import Any


class ResultCache:
    """Memory (LRU, ``memory_entries``) + optional disk (SQLite at ``path``, ``disk_entries``).

    ``stats`` counts ``hits_memory``, ``hits_disk``, ``misses``, ``puts``, ``evictions_memory``
    and ``evictions_disk``.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, memory_entries: int = 4096,
                 disk_entries: int = 200_000):
        self.memory_entries = max(0, int(memory_entries))
        self.disk_entries = max(1, int(disk_entries))
        self._mem: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.path = Path(path) if path is not None else None
        self._db: sqlite3.Connection | None = None
        self._disk_count: int | None = None
        self.stats = dict.fromkeys(("hits_memory", "hits_disk", "misses", "puts",
                                    "evictions_memory", "evictions_disk"), 0)

    # sqlite connections do not pickle/fork well: open lazily, drop on pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_db"] = None
        return state

    def _conn(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, "
                             "value TEXT NOT NULL, seq INTEGER NOT NULL)")
            self._db.execute("CREATE INDEX IF NOT EXISTS results_seq ON results(seq)")
        return self._db

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._mem.get(key)
        if value is not None:
            self._mem.move_to_end(key)
            self.stats["hits_memory"] += 1
            return value
        db = self._conn()
        if db is not None:
            row = db.execute("SELECT value FROM results WHERE key = ?", (key,)).fetchone()
            if row is not None:
                value = json.loads(row[0])
                self._remember(key, value)
                self.stats["hits_disk"] += 1
                return value
        self.stats["misses"] += 1
        return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.stats["puts"] += 1
        self._remember(key, value)
        db = self._conn()
        if db is None:
            return
        db.execute("INSERT OR REPLACE INTO results (key, value, seq) VALUES "
                   "(?, ?, COALESCE((SELECT MAX(seq) FROM results), 0) + 1)",
                   (key, json.dumps(value, sort_keys=True, allow_nan=False)))
        if self._disk_count is None:
            self._disk_count = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        else:
            self._disk_count += 1
        if self._disk_count > self.disk_entries:
            count = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            extra = count - self.disk_entries
            if extra > 0:
                db.execute("DELETE FROM results WHERE key IN (SELECT key FROM results "
                           "ORDER BY seq LIMIT ?)", (extra,))
                self.stats["evictions_disk"] += extra
            self._disk_count = min(count, self.disk_entries)

    def _remember(self, key: str, value: dict[str, Any]) -> None:
        if self.memory_entries == 0:
            return
        self._mem[key] = value
        self._mem.move_to_end(key)
        while len(self._mem) > self.memory_entries:
            self._mem.popitem(last=False)
            self.stats["evictions_memory"] += 1

    def __len__(self) -> int:
        return len(self._mem)

    def clear_memory(self) -> None:
        self._mem.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def summary(self) -> str:
        s = self.stats
        hits = s["hits_memory"] + s["hits_disk"]
        total = hits + s["misses"]
        rate = f"{hits / total:.0%}" if total else "n/a"
        return (f"cache: {hits}/{total} hits ({rate}; memory {s['hits_memory']}, disk "
                f"{s['hits_disk']}), evictions memory {s['evictions_memory']}, "
                f"disk {s['evictions_disk']}")
