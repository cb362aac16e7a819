"""Work guards: estimate what a command is about to do and refuse an absurd run before it starts.

Every command that can be asked for unbounded work (``simulate``, ``trace gen``, ``trace serve``,
``memtest``, ``noctest``, ``dse run``) estimates it *before* it generates, loads or runs anything,
in **work units**: one unit is about one engine event (a SimPy event, a replayed operator, a DRAM
request, a packet crossing one mesh hop), roughly 2 µs of CPU. The estimate scales with work,
never with one flag: operator instances x tiles, packet-hops, requests, serving token-steps,
evaluations. Limits (module constants, so tests can patch them):

* ``MAX_WORK`` = 25 M units (about 50 s of CPU, under the 60 s after which an outside tester
  called a run a hang): more is refused;
* memory: the estimated peak must fit in ``MEMORY_FRACTION`` of the available RAM
  (``/proc/meminfo`` MemAvailable, a cgroup limit, else ``os.sysconf``).

Overrides, on every guarded command: ``--max-work N`` raises the work budget to ``N`` units;
``--yes-really`` skips both checks. A refusal is one ``WorkLimitError`` line (exit code 2) that
names the estimate, the knob to turn down and both overrides.
"""

from __future__ import annotations

import argparse
import math
import os

from .errors import AccelsimError

#: Work budget in units (~1 engine event, ~2 µs of CPU each): about 50 s.
MAX_WORK = 25_000_000
#: Share of the available RAM a run may plan to use.
MEMORY_FRACTION = 0.75
#: CPU seconds per work unit (only to print a duration).
SECONDS_PER_UNIT = 2e-6

# Cost model (work units / bytes), calibrated on the shipped presets (see each estimate).
UNITS_PER_SEQUENCE = 4           # generating + lowering one sequence of a step (~8 µs)
BYTES_PER_SEQUENCE = 400
UNITS_PER_INSTANCE = 2           # one operator instance replayed from its shape (~4 µs)
BYTES_PER_INSTANCE = 1024        # its record and its row in the report
UNITS_PER_TILE = 8               # one simulated tile: load, compute, write-back events
UNITS_PER_CHUNK_HOP = 20         # one NoC chunk held on one link of its route (~40 µs)
UNITS_PER_TRACE_ROW = 8          # one serving operator row built and streamed to ops.csv
UNITS_PER_REQUEST = 1            # one DRAM request (memtest) or one synthesized request
BYTES_PER_REQUEST = 300
UNITS_PER_PACKET_HOP = 2         # noctest: one packet crossing one hop
UNITS_PER_EVALUATION = 50_000    # one DSE evaluation (~0.1 s, analytical)
BYTES_PER_CSV_BYTE = 12          # a trace CSV in memory (pandas) per byte of file


class WorkLimitError(AccelsimError):
    """The estimated work or memory of a run is beyond the limit (override: ``--max-work`` /
    ``--yes-really``)."""


def count(text: str) -> int:
    """argparse type of a count: an integer written as ``1000000``, ``1_000_000`` or ``1e6``."""
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not math.isfinite(number) or number != int(number):
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        value = int(number)
    return value


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--max-work N`` and ``--yes-really`` to a command's parser."""
    parser.add_argument("--max-work", type=count, default=None, metavar="N",
                        help=f"work budget in units of ~1 engine event (default {MAX_WORK:.0e}, "
                             "about 2 minutes of CPU); larger runs are refused")
    parser.add_argument("--yes-really", action="store_true",
                        help="skip the work and memory guards (runs of any size)")


def _duration(units: float) -> str:
    s = units * SECONDS_PER_UNIT
    for unit, size in (("years", 365 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"~{s / size:,.3g} {unit}"
    return f"~{s:.2g} s"


def available_memory() -> int:
    """Bytes of RAM this process may still use (MemAvailable, capped by a cgroup v2 limit)."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            return 1 << 62
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        if limit.isdigit():
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
                avail = min(avail, int(limit) - int(f.read().strip()))
    except (OSError, ValueError):
        pass
    return max(0, avail)


def check(command: str, units: float, *, what: str, knob: str, args=None,
          memory_bytes: float = 0.0) -> None:
    """Refuse the run when ``units`` exceed the budget or ``memory_bytes`` the available RAM.

    ``what`` says how the estimate was made (``"4.6e+18 operator instances x ..."``), ``knob``
    what to turn down (``"reduce --batch"``); ``args`` carries ``max_work`` / ``yes_really``.
    """
    if getattr(args, "yes_really", False):
        return
    budget = getattr(args, "max_work", None)
    budget = MAX_WORK if budget is None else budget
    overrides = "raise the budget with --max-work N or skip this check with --yes-really"
    if not units <= budget:          # also catches nan
        raise WorkLimitError(
            f"{command}: refusing about {units:.3g} work units ({what}; {_duration(units)} of "
            f"CPU), over the budget of {budget:.3g} units ({_duration(budget)}); {knob}, or "
            f"{overrides}")
    if memory_bytes:
        room = MEMORY_FRACTION * available_memory()
        if not memory_bytes <= room:
            raise WorkLimitError(
                f"{command}: refusing a run that needs about {memory_bytes / 1e9:,.3g} GB of "
                f"memory ({what}), over {100 * MEMORY_FRACTION:.0f} % of the "
                f"{room / MEMORY_FRACTION / 1e9:,.3g} GB available; {knob}, or skip this check "
                "with --yes-really")


def check_seed(seed: int, flag: str = "--seed") -> None:
    """Seeds are non-negative integers below 2**32 x 2**32 (numpy's rule), checked upfront."""
    if seed < 0 or seed >= 1 << 64:
        raise AccelsimError(f"{flag}: expected an integer in 0..2**64-1, got {seed}")


# ------------------------------------------------------------------ estimates
def check_step(command: str, *, batch: int, args=None, knob: str = "reduce --batch") -> None:
    """Before generating one step: work and memory grow with the sequences of the batch."""
    batch = max(0, int(batch))
    check(command, batch * UNITS_PER_SEQUENCE, what=f"a step of {batch:,} sequences",
          knob=knob, args=args, memory_bytes=batch * BYTES_PER_SEQUENCE)


def check_trace_file(command: str, path, *, args=None) -> None:
    """Before loading a trace CSV: its size in memory."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return                       # the loader reports a missing / unreadable file
    check(command, 0, what=f"loading a {size / 1e9:,.3g} GB trace", knob="use a smaller trace",
          args=args, memory_bytes=size * BYTES_PER_CSV_BYTE)


def simulation_work(arch, trace, fidelity: str = "full") -> tuple[float, float, str]:
    """(work units, memory bytes, how) of simulating ``trace`` on ``arch``.

    Every operator instance (a row x its ``repeat``) costs a replay and a record; every distinct
    shape is simulated once with up to ``engine.max_tiles_per_op`` tiles, and so is every
    instance of an iteration with several streams (concurrent operators are not replayed). On a
    mesh, each simulated byte moves in ``noc.chunk_bytes`` chunks over about (columns + rows) / 3
    hops plus injection and ejection.
    """
    from .engine.core import KEY_COLUMNS
    from .workload.trace import BYTE_COLUMNS

    ops = trace.ops
    repeat = ops["repeat"].astype(float) if "repeat" in ops else None
    rows = len(ops)
    instances = float(repeat.sum()) if repeat is not None else float(rows)
    memory = instances * BYTES_PER_INSTANCE
    if fidelity == "analytical":
        return instances * UNITS_PER_INSTANCE, memory, f"{instances:.3g} operator instances"
    keys = [c for c in KEY_COLUMNS if c in ops]
    first = ~ops.duplicated(subset=keys) if keys else ops.index == ops.index
    simulated = first.astype(float)
    if "iter" in ops and "stream" in ops and rows:
        streams = ops.groupby("iter")["stream"].transform("nunique")
        concurrent = (streams > 1).to_numpy()
        simulated = simulated.where(~concurrent, repeat if repeat is not None else 1.0)
    tiles = int(arch.engine.max_tiles_per_op)
    sim_instances = float(simulated.sum())
    units = instances * UNITS_PER_INSTANCE + sim_instances * tiles * UNITS_PER_TILE
    how = (f"{instances:.3g} operator instances, {sim_instances:.3g} simulated with up to "
           f"{tiles} tiles each")
    cfg = None
    if getattr(arch, "noc", None) is not None:
        try:
            cfg = getattr(arch.build_noc(), "cfg", None)
        except AccelsimError:       # the engine reports a bad NoC section itself
            cfg = None
    if cfg is not None and getattr(cfg, "chunk_bytes", 0):
        cols = [c for c in BYTE_COLUMNS if c in ops]
        nbytes = float((ops[cols].astype(float).sum(axis=1) * simulated).sum())
        hops = (cfg.columns + cfg.rows) / 3 + 2
        chunks = nbytes / cfg.chunk_bytes
        units += chunks * hops * UNITS_PER_CHUNK_HOP
        how += f", {chunks:.3g} NoC chunks of {cfg.chunk_bytes} B over ~{hops:.0f} hops"
    return units, memory, how
