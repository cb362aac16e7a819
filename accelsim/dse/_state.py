"""The state of a study directory: its lock, and recovery of damaged logs.

* ``StudyLock``: one ``accelsim dse run`` at a time per directory. An exclusive ``flock`` on
  ``DIR/study.lock``, held for the whole run; the file names the holder (PID, host, start time)
  so a second run can say who has it. The kernel drops the lock when the holder dies, so a
  killed run never leaves a stale lock behind.
* ``recover_journal``: an Optuna journal with a garbage line or a torn tail is copied, valid
  lines only, to a fresh journal; the damaged file is kept as ``NAME.corrupt-TIMESTAMP``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from ..errors import AccelsimError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; studies there are not protected
    fcntl = None

LOCK_NAME = "study.lock"


class StudyLock:
    """An exclusive lock on a study directory (context manager).

    States: unlocked -> ``acquire()`` -> held -> ``release()`` -> unlocked. ``acquire`` never
    waits: if another process holds the lock it raises ``AccelsimError`` naming the holder.
    """

    def __init__(self, out: Path):
        self.path = Path(out) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "StudyLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise AccelsimError(f"--out {self.path.parent}: expected a directory, but a file "
                                f"of that name exists; choose another --out") from None
        except OSError as exc:          # a name too long, a read-only parent, ...
            raise AccelsimError(f"--out {str(self.path.parent)[:200]}: cannot make this folder "
                                f"({exc.strerror or exc}); choose another --out") from None
        if self.path.is_dir() or (self.path.exists() and not self.path.is_file()):
            raise AccelsimError(f"{self.path}: accelsim keeps its study lock here, but this is "
                                f"not a regular file; move it away or choose another --out")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(fd)
                os.close(fd)
                raise AccelsimError(
                    f"{self.path.parent} is in use by another study run ({holder}); wait for "
                    f"it to finish, or choose another --out") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info, sort_keys=True) + "\n").encode(), 0)
        self._fd = fd
        return self

    @staticmethod
    def _holder(fd: int) -> str:
        for _ in range(20):     # the holder writes its name just after locking
            raw = os.pread(fd, 4096, 0)
            try:
                info = json.loads(raw)
                return f"pid {info['pid']} on {info['host']}, started {info['started']}"
            except (ValueError, TypeError, KeyError):
                time.sleep(0.01)
        return "holder unknown"

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)         # no stale holder name for the next reader
            os.close(self._fd)                # closing drops the flock
            self._fd = None

    def __enter__(self) -> "StudyLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# ---------------------------------------------------------------------- damaged files
def warn(message: str) -> None:
    """A one-line warning on stderr (the run goes on)."""
    print(f"accelsim: warning: {message}", file=sys.stderr, flush=True)


def backup_name(path: Path) -> Path:
    """``NAME.corrupt-TIMESTAMP`` next to ``path``, not yet taken."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    candidate = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    return candidate


def line_ranges(numbers: list[int], limit: int = 8) -> str:
    """``"lines 3, 7-9"`` for 1-based line numbers (the first ``limit`` ranges, then "...")."""
    ranges: list[list[int]] = []
    for n in sorted(numbers):
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in ranges[:limit]]
    more = ", ..." if len(ranges) > limit else ""
    return ("line " if len(numbers) == 1 else "lines ") + ", ".join(parts) + more


def recover_journal(path: Path) -> None:
    """Keep the valid prefix of an Optuna journal (complete lines that are JSON objects with an
    ``op_code``), up to its first bad line. A torn tail or a garbage line makes Optuna refuse
    (or mis-read) every later resume; the trials after the cut are told again from
    ``evaluations.jsonl``, so nothing evaluated is lost. The damaged file is kept as
    ``NAME.corrupt-TIMESTAMP``."""
    if not path.is_file():
        return
    data = path.read_bytes()
    good = 0
    first_bad = None
    for n, line in enumerate(data.splitlines(keepends=True), 1):
        try:
            op = json.loads(line) if line.endswith(b"\n") else None
        except ValueError:
            op = None
        if not isinstance(op, dict) or "op_code" not in op:
            first_bad = n
            break
        good += len(line)
    if first_bad is None:
        return
    backup = backup_name(path)
    shutil.copy2(path, backup)
    tmp = path.with_name(f".{path.name}.recover.tmp")
    tmp.write_bytes(data[:good])
    os.replace(tmp, path)
    total = data.count(b"\n") + (not data.endswith(b"\n"))
    warn(f"{path}: line {first_bad} of {total} is damaged (torn or not an Optuna log record); "
         f"kept the {first_bad - 1} line(s) before it, dropped the rest (their trials are told "
         f"again from evaluations.jsonl); the damaged file is kept as {backup.name}")
