"""A content-addressed result cache: a bounded in-memory LRU in front of a bounded SQLite file.

Keys are hex digests of everything that determines a design's raw metrics: the resolved
architecture mapping (base arch + knob values), the workload's content hash, the fidelity, the
metric set and ``accelsim.__version__`` (see ``Evaluator.key``). Values are small JSON records
``{"status", "metrics", "error"}``: objectives, constraints and rewards are recomputed from them,
so envs with different constraints share entries. Timeouts are never cached (they depend on the
machine, not on the design).

The disk tier is one SQLite file (safe for several processes; writes are single statements).
Both tiers evict the least recently *written/used* entries beyond their bounds and count it.
A ``path`` that is not such a file (a directory, another kind of file, a database without the
``results`` table, an entry that is not a JSON record) is an ``AccelsimError`` naming the file and
saying to delete it or pass another path; the file is never changed or removed.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..errors import AccelsimError

#: The first bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"


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
        if self.path is not None:
            self._check_path()
        self._db: sqlite3.Connection | None = None
        self._disk_count: int | None = None
        self.stats = dict.fromkeys(("hits_memory", "hits_disk", "misses", "puts",
                                    "evictions_memory", "evictions_disk"), 0)

    # sqlite connections do not pickle/fork well: open lazily, drop on pickling
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_db"] = None
        return state

    def _error(self, what: str) -> AccelsimError:
        return AccelsimError(f"{self.path}: {what}; delete it or pass another --cache path "
                             "(it is only a cache: results are recomputed)")

    def _check_path(self) -> None:
        """Before a run: ``path`` is an SQLite file (or empty, or absent in a writable folder)."""
        import stat

        path = self.path
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        except OSError as exc:
            raise self._error(f"not usable as a result cache ({exc.strerror or exc})") from None
        if st is None:
            ancestor = path.parent
            while not ancestor.exists() and ancestor != ancestor.parent:
                ancestor = ancestor.parent
            if not ancestor.is_dir():
                raise AccelsimError(f"{ancestor}: not a directory, so the result cache {path} "
                                    "cannot be created; pass another --cache path")
            if not os.access(ancestor, os.W_OK | os.X_OK):
                raise AccelsimError(f"{ancestor}: directory is not writable, so the result "
                                    f"cache {path} cannot be created; pass another --cache path")
            return
        if stat.S_ISDIR(st.st_mode):
            raise AccelsimError(f"{path}: is a directory, not a result cache file; pass a file "
                                "path to --cache (e.g. dse-cache.sqlite)")
        if not stat.S_ISREG(st.st_mode):
            raise AccelsimError(f"{path}: not a regular file; pass a file path to --cache")
        if not os.access(path, os.R_OK | os.W_OK):
            raise AccelsimError(f"{path}: permission denied (the result cache must be readable "
                                "and writable); fix its permissions or pass another --cache path")
        try:
            with open(path, "rb") as handle:
                head = handle.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise self._error(f"cannot read the result cache ({exc.strerror or exc})") from None
        if head and head != SQLITE_HEADER:
            raise self._error("not a result cache (not an SQLite database)")
        if head:                        # an SQLite file: its results table, read-only
            try:
                db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
                try:
                    columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
                finally:
                    db.close()
            except sqlite3.Error as exc:
                raise self._error(f"not a usable result cache ({exc})") from None
            if columns and not {"key", "value", "seq"} <= columns:
                raise self._error("an SQLite database, but not an accelsim result cache (its "
                                  "'results' table lacks key, value, seq)")

    def _conn(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, "
                               "value TEXT NOT NULL, seq INTEGER NOT NULL)")
                    db.execute("CREATE INDEX IF NOT EXISTS results_seq ON results(seq)")
                    columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
                except BaseException:
                    db.close()
                    raise
            except sqlite3.Error as exc:
                raise self._error(f"not a usable result cache ({exc})") from None
            except OSError as exc:
                raise self._error(f"cannot open the result cache ({exc.strerror or exc})") \
                    from None
            if not {"key", "value", "seq"} <= columns:
                db.close()
                raise self._error("an SQLite database, but not an accelsim result cache (its "
                                  "'results' table lacks key, value, seq)")
            self._db = db
        return self._db

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._mem.get(key)
        if value is not None:
            self._mem.move_to_end(key)
            self.stats["hits_memory"] += 1
            return value
        db = self._conn()
        if db is not None:
            try:
                row = db.execute("SELECT value FROM results WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as exc:
                raise self._error(f"not a usable result cache ({exc})") from None
            if row is not None:
                try:
                    value = json.loads(row[0])
                except (TypeError, ValueError, RecursionError):
                    value = None
                if not isinstance(value, dict):
                    raise self._error(f"entry {key[:16]}... is not a JSON record")
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
        try:
            self._put_disk(db, key, value)
        except sqlite3.Error as exc:
            raise self._error(f"not a usable result cache ({exc})") from None

    def _put_disk(self, db: sqlite3.Connection, key: str, value: dict[str, Any]) -> None:
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
