"""Output files that never end half-written, mixed from two runs, or outside the given path.

* ``atomic_write_text``: one file, written to ``.NAME.<pid>.<random>.tmp`` beside it, then renamed.
* ``staged_files``: the files of one output (a CSV and its ``.meta.json``) written into a hidden
  staging folder beside them, then renamed in back to back with SIGINT/SIGTERM held.
* ``staged_dir``: a directory output (``trace serve -o DIR``, ``--plots DIR``) written into
  ``DIR.tmp-<pid>`` and swapped in whole: the old ``DIR`` is renamed to ``DIR.old-<pid>``, the new
  one in, then the old one removed. Files in ``DIR`` that accelsim did not write this time are
  carried over (hard links), never deleted.
* ``check_output_file`` / ``check_output_dir``: the overwrite rule (an existing output needs
  ``--force``), checked before a run so that a long run does not fail at its end.
* ``input_problem``: why a path cannot be read as an input file, found without opening it (opening
  a FIFO blocks until someone writes to it; ``/dev/zero`` never ends). Every reader checks it.
* ``remove_stale_temps``: temp files and folders that a killed accelsim left behind (its PID is
  dead, or, for names without a PID, older than ``STALE_S``); nothing else is ever removed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from .errors import AccelsimError

#: A temp name without a PID (older accelsim, plot temps) is stale after this many seconds.
STALE_S = 600
#: Inside a staging folder: marks it as accelsim's (holds the writer's PID).
MARKER = ".accelsim-partial"
_TMP_PID = re.compile(r"^\..+\.(?P<pid>\d+)\.[a-z0-9_]{8}\.tmp$")
_TMP_OLD = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$|^\..+\.tmp\.png$")
_DIR_TMP = re.compile(r"^(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)$")
_HELD = {signal.SIGINT, signal.SIGTERM} | ({signal.SIGHUP} if hasattr(signal, "SIGHUP") else set())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _what(st: os.stat_result) -> str:
    mode = st.st_mode
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def _stat(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # name too long, symlink loop, permission denied on a parent
        raise AccelsimError(f"{path}: {exc.strerror or exc}") from None


def _refuse_special(path: Path) -> None:
    st = _stat(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise AccelsimError(f"{path}: is a directory; expected a file path")
        raise AccelsimError(f"{path}: not a regular file ({_what(st)}); give a file path")


def input_problem(path: str | os.PathLike) -> str | None:
    """``None`` if ``path`` is a regular file we may read, else what is wrong, in a few words.

    Checked with ``stat`` before any ``open``: a FIFO or a device given as an input would block
    or never end, so it is refused as ``"a FIFO, not a regular file"``.
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "not found"
    except PermissionError:
        return "is not readable (permission denied on a parent folder)"
    except (OSError, ValueError) as exc:     # name too long, symlink loop, NUL in the name
        return f"has a path that cannot be used ({getattr(exc, 'strerror', None) or exc})"
    if stat.S_ISREG(st.st_mode):
        return None if os.access(path, os.R_OK) else "is not readable (permission denied)"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    return f"is {_what(st)}, not a regular file"


def read_input_bytes(path: str | os.PathLike, *, what: str, max_bytes: int,
                     label: str | None = None) -> bytes:
    """The bytes of input file ``path`` (``what`` it should be, for messages), or one
    ``AccelsimError`` naming it (``label``, default the path): missing, a directory, a FIFO,
    unreadable, or larger than ``max_bytes``."""
    label = label or str(path)
    problem = input_problem(path)
    if problem:
        raise AccelsimError(f"{label}: {'file ' if problem == 'not found' else ''}{problem} "
                            f"(expected {what})")
    try:
        size = os.stat(path).st_size
        if size > max_bytes:
            raise AccelsimError(f"{label}: {size:,} bytes is larger than the {max_bytes:,}-byte "
                                f"limit for {what}")
        return Path(path).read_bytes()
    except PermissionError:
        raise AccelsimError(f"{label}: permission denied (cannot read {what})") from None
    except OSError as exc:
        raise AccelsimError(f"{label}: cannot be read ({exc.strerror or exc})") from None


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (same-directory temp file + ``os.replace``)."""
    path = Path(path)
    _refuse_special(path)            # never replace /dev/null, a FIFO or a directory
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


# ---------------------------------------------------------------- checks before a run
def _check_parent(path: Path) -> None:
    """The nearest existing ancestor of ``path`` must be a writable directory."""
    ancestor = path.parent
    while _stat(ancestor) is None and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    st = _stat(ancestor)
    if st is None:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise AccelsimError(f"{ancestor}: not a directory ({'a file' if stat.S_ISREG(st.st_mode) else _what(st)}), "
                            f"so {path} cannot be written")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise AccelsimError(f"{ancestor}: directory is not writable, so {path} cannot be written")


NAME_MAX = 255                  # bytes in one path component (Linux, macOS, Windows NTFS)


def check_path_names(path: Path) -> None:
    """Every component of ``path`` (and the temp names made from it) fits the file system."""
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX - 40:      # room for ".NAME.<pid>.<rand>.tmp"
            raise AccelsimError(f"{path}: a file or folder name of {len(os.fsencode(part))} "
                                f"bytes is too long (at most {NAME_MAX - 40})")


def check_output_file(path: str | os.PathLike, *, force: bool, flag: str = "--force") -> Path:
    """Check, before a run, that ``path`` can be written: not a directory or a special file, an
    existing file only with ``force``, its directory exists (or can be made) and is writable."""
    path = Path(path)
    check_path_names(path)
    _refuse_special(path)
    if _stat(path) is not None and not force:
        raise AccelsimError(f"{path}: file exists; pass {flag} to overwrite it")
    _check_parent(path)
    return path


def check_output_dir(path: str | os.PathLike, names: Iterable[str], *, force: bool,
                     flag: str = "--force") -> Path:
    """Check, before a run, that directory output ``path`` can hold the files ``names``: it is
    a directory (or can be made), a file accelsim would write there exists only with ``force``,
    and nothing by one of those names is a directory (``force`` replaces files, nothing else)."""
    path = Path(path)
    check_path_names(path)
    st = _stat(path)
    if st is None:
        _check_parent(path)
        return path
    if not stat.S_ISDIR(st.st_mode):
        raise AccelsimError(f"{path}: not a directory ({'a file' if stat.S_ISREG(st.st_mode) else _what(st)}); "
                            "expected an output directory")
    for name in names:
        target = path / name
        try:
            lst = os.lstat(target)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(lst.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(lst.st_mode) else _what(lst)
            raise AccelsimError(f"{target}: is {kind}, not a file accelsim wrote; move it away "
                                f"({flag} replaces only accelsim's files)")
        if not force:
            raise AccelsimError(f"{target}: file exists; pass {flag} to overwrite it")
    if not os.access(path, os.W_OK | os.X_OK):
        raise AccelsimError(f"{path}: directory is not writable")
    _check_parent(path)
    return path


# ---------------------------------------------------------------- stale temps
def _dead(pid: int) -> bool:
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def _marker_pid(directory: Path) -> int | None:
    try:
        return int((directory / MARKER).read_text().strip() or -1)
    except (OSError, ValueError):
        return None


def remove_stale_temps(directory: str | os.PathLike) -> list[Path]:
    """Remove what a killed accelsim left in ``directory``: ``.NAME.<pid>.<random>.tmp`` files
    of a dead PID, PID-less temp names (``.NAME.<random>.tmp``, ``.NAME.tmp.png``) older than
    ``STALE_S``, and ``NAME.tmp-<pid>`` / ``NAME.old-<pid>`` folders of a dead PID (an
    interrupted ``staged_dir``: the old folder is put back if the swap did not finish). Only
    names of these patterns are looked at; returns what was removed."""
    directory = Path(directory)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        path, name = Path(entry.path), entry.name
        try:
            if entry.is_file(follow_symlinks=False):
                m = _TMP_PID.match(name)
                if m and _dead(int(m["pid"])) or (
                        not m and _TMP_OLD.match(name)
                        and now - entry.stat(follow_symlinks=False).st_mtime > STALE_S):
                    path.unlink()
                    removed.append(path)
                elif name == MARKER and (pid := _marker_pid(directory)) and _dead(pid):
                    path.unlink()          # a swap killed just before its last step
                    removed.append(path)
                continue
            m = _DIR_TMP.match(name)
            if not (m and entry.is_dir(follow_symlinks=False) and _dead(int(m["pid"]))):
                continue
            if any(e.is_dir(follow_symlinks=False) for e in os.scandir(path)):
                continue                   # never accelsim's
            if m["kind"] == "tmp" and _marker_pid(path) == int(m["pid"]):
                shutil.rmtree(path)
                removed.append(path)
            elif m["kind"] == "old":
                base = directory / m["name"]
                if _stat(base) is None:    # killed between the two renames: put the old back
                    os.rename(path, base)
                else:
                    _retire(path, base, replaced=set())
                    removed.append(path)
        except OSError:
            continue
    return removed


# ---------------------------------------------------------------- multi-file outputs
@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP over a few renames, so they land all or none."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    except (AttributeError, ValueError, OSError):
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _new_stage(path: Path) -> Path:
    if _stat(path) is not None:
        if _marker_pid(path) is None:
            raise AccelsimError(f"{path}: exists and is not accelsim's staging folder; move it away")
        shutil.rmtree(path)
    path.mkdir()
    (path / MARKER).write_text(f"{os.getpid()}\n")
    return path


def _staged_names(stage: Path) -> list[str]:
    names = sorted(e.name for e in os.scandir(stage) if e.name != MARKER)
    for name in names:
        if not (stage / name).is_file() or (stage / name).is_symlink():
            raise RuntimeError(f"{stage / name}: staged outputs must be plain files")
    return names


@contextmanager
def staged_files(directory: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden staging folder inside ``directory``; on success every file written there
    is renamed into ``directory`` back to back with signals held (an error or an interrupt
    removes the staging folder and leaves ``directory`` as it was)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(directory)
    stage = _new_stage(directory / f".accelsim-stage.tmp-{os.getpid()}")
    try:
        yield stage
        names = _staged_names(stage)
        for name in names:
            _refuse_special(directory / name)
        with _signals_held():
            for name in names:
                os.replace(stage / name, directory / name)
        shutil.rmtree(stage)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


@contextmanager
def staged_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield ``DIR.tmp-<pid>`` to write a directory output into; on success swap it in whole
    (see the module docstring). An error or an interrupt removes it and leaves ``DIR`` as it was.

    When ``DIR`` holds sub-folders or links of its own (which cannot be carried over by hard
    links), the new files are renamed into ``DIR`` one by one instead, back to back with signals
    held."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(final.parent)
    if _stat(final) is not None:
        remove_stale_temps(final)
    stage = _new_stage(final.with_name(f"{final.name}.tmp-{os.getpid()}"))
    try:
        yield stage
        _swap_in(stage, final)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap_in(stage: Path, final: Path) -> None:
    names = _staged_names(stage)
    st = _stat(final)
    if st is None:
        with _signals_held():
            os.rename(stage, final)
            (final / MARKER).unlink()
        return
    if not stat.S_ISDIR(st.st_mode):
        raise AccelsimError(f"{final}: not a directory ({_what(st)}); expected an output directory")
    for name in names:
        _refuse_special(final / name)
    carried = [e for e in os.scandir(final) if e.name not in names and e.name != MARKER]
    whole = all(e.is_file(follow_symlinks=False) for e in carried)
    if whole:
        try:
            for e in carried:
                os.link(e.path, stage / e.name)
            shutil.copymode(final, stage)
        except OSError:
            whole = False
    if not whole:
        with _signals_held():
            for name in names:
                os.replace(stage / name, final / name)
        shutil.rmtree(stage)
        return
    aside = final.with_name(f"{final.name}.old-{os.getpid()}")
    with _signals_held():
        os.rename(final, aside)
        os.rename(stage, final)
        (final / MARKER).unlink()
    _retire(aside, final, replaced=set(names))


def _retire(aside: Path, final: Path, *, replaced: set[str]) -> None:
    """Empty the old folder ``aside`` after a swap: files that the new ``final`` replaced or holds
    (hard links) go; anything else (written there during the swap) is moved into ``final``."""
    for e in list(os.scandir(aside)):
        target = final / e.name
        if e.is_file(follow_symlinks=False) and (
                e.name in replaced or e.name == MARKER or
                (_stat(target) is not None and os.path.samefile(e.path, target))):
            os.unlink(e.path)
        elif not os.path.lexists(target):
            os.rename(e.path, target)
    try:
        aside.rmdir()
    except OSError:
        pass


# ---------------------------------------------------------------- signals
@contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """While a command runs, SIGTERM raises ``SystemExit(143)`` so that ``finally`` blocks and
    the writers above remove their temp files on the way out (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        import sys

        print("accelsim: terminated", file=sys.stderr)
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
