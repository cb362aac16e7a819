"""The SimPy engine: replays an operator trace on an architecture, at tile granularity.

Processes and resources:

* each operator is a SimPy process: it waits for its dependencies, acquires its unit
  (``systolic``, ``vector``, ``dma``, ``link``: one ``simpy.Resource`` each), runs its tile plan,
  releases the unit and signals its completion event;
* a tile plan runs as two cooperating processes, a loader that fetches tile ``i+1`` while tile
  ``i`` computes (double buffering: at most two tiles resident) and the compute loop, which starts
  each output tile's write-back as a memory transfer of its own;
* all transfers go through one shared ``MemoryModel`` (``hw/memory.py``), where concurrent
  operators contend.

Shape reuse: an operator whose shape was already simulated *while running alone* (no other
operator active or waiting from its start to its end) and that again runs alone takes exactly
the same time, because memory is idle at both starts (every operator waits for its own
write-backs). Such an operator is replayed as one timeout; the report counts these reuses.
Memory-model state not captured by that argument (HBM open rows) is the one approximation.

Chain fast path: when an iteration's operators form one dependency chain (the usual LLM step),
each runs alone by construction, so a reused shape just advances the clock with no SimPy events;
only new shapes go through SimPy (same results; tested against the SimPy path).

``PreparedTrace`` converts a trace once (row dicts, interned shape keys, dependencies) for sweeps
that simulate it on many architectures; ``keep_records=False`` keeps only totals (analytical
DSE). ``fidelity="analytical"`` replaces the tile pipeline by a closed form per operator.

Time is integer picoseconds; unit cycles use the architecture clock (``accelsim.units``).
Traces are processed one ``iter`` at a time, so memory stays flat for long serving traces.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import simpy

from ..arch.config import Arch
from ..errors import SimulationError
from ..mapping.lower import KEY_COLUMNS, OpPlan, lower
from ..units import cycles_to_ps, cycles_to_ps_array, ns_to_ps
from ..workload.trace import OpTrace, parse_deps
from .cache import LRUCache

UNITS = ("systolic", "vector", "dma", "link")
FIDELITIES = ("full", "analytical")
_ADDRESS_STRIDE = 1 << 34       # each distinct operator shape streams from its own 16 GiB region


@dataclass(slots=True)
class OpRecord:
    """One executed operator instance (a trace row; ``repeat`` gives several)."""

    row: int
    unit: str
    start_ps: int
    end_ps: int
    compute_cycles: int
    dram_read_bytes: int
    dram_write_bytes: int
    reused: bool


@dataclass
class _Memo:
    duration_ps: int
    memory_delta: dict[str, int]
    events: list[tuple] = field(default_factory=list)   # timeline slices, relative to op start


class Timeline:
    """Slices for a Chrome/Perfetto trace: ``(track, name, start_ps, end_ps, args)``.

    Operator slices sit on their unit's track with their tiles' compute slices nested inside;
    memory models add occupancy slices on their own tracks. Past ``max_events`` only operator
    slices are kept (``sampled`` is set), so long runs stay small.
    """

    def __init__(self, max_events: int):
        self.events: list[tuple] = []
        self.max_events = max_events
        self.sampled = False

    def detail(self) -> bool:
        """Whether tile / transfer slices are still recorded."""
        if len(self.events) >= self.max_events:
            self.sampled = True
        return not self.sampled

    def add(self, track: str, name: str, start_ps: int, end_ps: int, args: dict | None = None):
        self.events.append((track, name, start_ps, end_ps, args))


@dataclass
class SimResult:
    """Raw engine output; ``report.Report`` turns it into tables and JSON."""

    records: list[OpRecord]
    plans: dict[tuple, OpPlan]
    row_keys: list[tuple]
    end_ps: int
    unit_busy_ps: dict[str, int]
    memory_stats: dict[str, Any]
    reuse: dict[str, int] = field(default_factory=dict)
    timeline: "Timeline | None" = None
    pim: dict[str, Any] | None = None        # PIM channel statistics (engine/pim.py)


def row_dicts(frame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` with plain Python values, built column by column.

    NOTE(perf): pandas 3 stores strings as Arrow arrays and converts them cell by cell in
    ``to_dict("records")``; this is ~6x faster (scripts/bench_serving.py).
    """
    columns = list(frame.columns)
    values = [frame[c].tolist() for c in columns]
    return [dict(zip(columns, row)) for row in zip(*values)]


def shape_key(op: dict[str, Any]) -> tuple:
    return tuple(op[c] for c in KEY_COLUMNS)


class PreparedTrace:
    """An ``OpTrace`` converted once for simulation: row dicts, shape keys, dependencies.

    Every engine accepts one in place of the trace, so a sweep over many designs (DSE) converts
    its workload once. Read-only once built.
    """

    def __init__(self, trace: OpTrace | None, rows: list[dict[str, Any]] | None = None):
        """``rows``: row dicts already built (serving iterations), else ``trace``'s."""
        self.trace = trace
        self.rows: list[dict[str, Any]] = row_dicts(trace.ops) if rows is None else rows
        self.row_keys = [shape_key(op) for op in self.rows]
        # NOTE(perf): shape keys interned to ints once per trace; tuple hashes are not cached
        # by Python and a DSE sweep looks them up for every design (scripts/bench_dse.py).
        ids: dict[tuple, int] = {}
        self.row_key_ids = [ids.setdefault(key, len(ids)) for key in self.row_keys]
        first: dict[int, int] = {}
        for i, kid in enumerate(self.row_key_ids):
            first.setdefault(kid, i)
        self.first_row_of_shape = list(first.values())
        self.deps = dependencies(self.rows)


def dependencies(rows: list[dict[str, Any]]) -> list[list[int]]:
    """Row indices each row waits for (default: the previous row of its iter/stream)."""
    by_id = {op["op_id"]: i for i, op in enumerate(rows)}
    last_in_stream: dict[tuple[int, int], int] = {}
    deps: list[list[int]] = []
    for i, op in enumerate(rows):
        stream = (op["iter"], op["stream"])
        explicit = parse_deps(op["deps"])
        if explicit is None:
            deps.append([last_in_stream[stream]] if stream in last_in_stream else [])
        else:
            deps.append([by_id[d] for d in explicit])
        last_in_stream[stream] = i
    return deps


class Simulation:
    """One run of ``trace`` on ``arch``. Use ``accelsim.simulate`` unless you need the pieces."""

    def __init__(self, arch: Arch, trace: OpTrace, *, fidelity: str = "full",
                 progress: bool | None = None, reuse: bool = True, timeline: bool = False,
                 timeline_max_events: int = 300_000, max_cached_shapes: int | None = None,
                 keep_records: bool = True):
        if fidelity not in FIDELITIES:
            raise SimulationError(f"unknown fidelity {fidelity!r}; expected one of "
                                  f"{', '.join(FIDELITIES)}")
        prepared = trace if isinstance(trace, PreparedTrace) else PreparedTrace(trace)
        self.arch, self.trace, self.fidelity, self.reuse = arch, prepared.trace, fidelity, reuse
        self.timeline = Timeline(timeline_max_events) if timeline else None
        self.max_cached_shapes = max_cached_shapes
        self.keep_records = keep_records   # False: analytical runs keep only totals (DSE)
        self.chain_fast_path = True
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.rows = prepared.rows
        self.row_keys = prepared.row_keys
        self.row_key_ids = prepared.row_key_ids
        self.first_row_of_shape = prepared.first_row_of_shape
        self._deps = (self.rows, prepared.deps)
        self.plans: dict[tuple, OpPlan] = {}
        self._dispatch_ps = ns_to_ps(arch.launch.idle_dispatch_ns)
        self._shapes_planned = 0
        self.records: list[OpRecord] = []
        from .pim import make_pim_runner

        self.pim = make_pim_runner(self)        # None unless decode attention runs on PIM

    # ------------------------------------------------------------------ planning
    def plan(self, row: int) -> OpPlan:
        key = self.row_keys[row]
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = self._new_plan(row)
        return plan

    def _plans_by_shape(self) -> list[OpPlan]:
        """Plan of each distinct shape, indexed by ``row_key_ids`` (plans every shape once)."""
        return [self.plan(i) for i in self.first_row_of_shape]   # in shape-id order

    def _new_plan(self, row: int) -> OpPlan:
        plan = lower(self.rows[row], self.arch, totals_only=self.fidelity == "analytical")
        plan.compute_ps = cycles_to_ps_array(plan.compute_cycles, self.arch.clock_mhz)
        plan.launch_ps = ns_to_ps(self.arch.launch.per_kernel_ns * plan.kernels)
        plan.tile_lists = (plan.load_bytes.tolist(), plan.store_bytes.tolist(),
                           plan.compute_ps.tolist())
        plan.base_address = self._shapes_planned * _ADDRESS_STRIDE
        self._shapes_planned += 1
        return plan

    def _dependencies(self) -> list[list[int]]:
        """Row indices each row waits for (default: the previous row of its iter/stream);
        computed once per trace (a DSE sweep reuses it for every design)."""
        cached = getattr(self, "_deps", None)
        if cached is not None and cached[0] is self.rows:
            return cached[1]
        deps = dependencies(self.rows)
        self._deps = (self.rows, deps)
        return deps

    def _iterations(self) -> Iterator[list[int]]:
        """Row indices grouped by ``iter`` in first-appearance order."""
        groups: dict[int, list[int]] = {}
        for i, op in enumerate(self.rows):
            groups.setdefault(op["iter"], []).append(i)
        return iter(groups.values())

    # ------------------------------------------------------------------ running
    def run(self) -> SimResult:
        # Plan every distinct shape first: impossible mappings fail before anything runs.
        self._plans_by_shape()
        if self.fidelity == "analytical":
            return self._run_analytical()
        return self._run_full()

    def _progress_bar(self, total: int):
        if not self.progress:
            return None
        try:
            from tqdm import tqdm
        except ImportError:
            return None
        return tqdm(total=total, unit="op", desc=f"simulating {self.trace.name}", leave=False)

    def _setup(self) -> simpy.Environment:
        env = simpy.Environment()
        self.env = env
        self.memory = self.arch.build_memory()
        if self.pim is not None:
            self.memory = self.pim.bind(env, self.memory)
        self.memory.bind(env)
        # Models that use addresses (hbm) get each tile's operand segments (engine/layout.py).
        self.layout = None
        if self.memory.uses_addresses:
            from .layout import TensorLayout

            self.layout = TensorLayout(self.rows, self._dependencies())
        if self.timeline is not None:
            self.memory.recorder = self._record_memory
        self.units = {name: simpy.Resource(env, capacity=1) for name in UNITS}
        self.unit_busy_ps = dict.fromkeys(UNITS, 0)
        if self.pim is not None and self.pim.on_pim:
            self.unit_busy_ps["pim"] = 0
        self.memo: LRUCache[_Memo] = LRUCache(self.max_cached_shapes)
        self.active = 0
        self.epoch = 0
        self.reused = 0
        self.state: dict[int, str] = {}
        return env

    def _run_full(self) -> SimResult:
        env = self._setup()
        deps = self._dependencies()
        done: dict[int, simpy.Event] = {}
        bar = self._progress_bar(len(self.rows))
        for rows in self._iterations():
            self._run_rows(rows, deps, done)
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return SimResult(self.records, self.plans, self.row_keys, int(env.now), self.unit_busy_ps,
                         self.memory.stats(), self._reuse_stats(), self.timeline,
                         self.pim.stats(int(env.now)) if self.pim is not None else None)

    def _run_rows(self, rows: list[int], deps: list[list[int]], done: dict) -> None:
        """Start the operators ``rows`` and run until all are done (one iteration)."""
        env = self.env
        if self.chain_fast_path and self._is_chain(rows, deps):
            self._run_chain(rows, idle_start=not deps[rows[0]])
            for i in rows:
                done[i] = _DONE
            return
        finished = []
        for i in rows:
            waits = [done[d] for d in deps[i] if d in done and not done[d].processed]
            done[i] = env.event()
            self.state[i] = "waiting for its dependencies"
            env.process(self._operator(i, waits, done[i], idle_start=not deps[i]))
            finished.append(done[i])
        try:
            env.run(until=simpy.AllOf(env, finished))
        except RuntimeError as exc:
            if "No scheduled events left" not in str(exc):
                raise
            raise self._deadlock([i for i in rows if not done[i].triggered]) from None
        for i in rows:
            done[i] = _DONE
            self.state.pop(i, None)

    def _describe_state(self, state) -> str:
        if isinstance(state, tuple):
            what, unit = state
            if what == "waiting":
                return f"waiting for the {unit} unit"
            return f"running on the {unit} unit (memory: {self.memory.impl_name})"
        return state

    def _deadlock(self, stuck: list[int]) -> SimulationError:
        """Watchdog: nothing can happen any more, yet operators are unfinished: say which."""
        lines = [f"op_id {self.rows[i]['op_id']} ({self.rows[i]['name']}): "
                 f"{self._describe_state(self.state.get(i, 'not started'))}" for i in stuck[:5]]
        more = f" and {len(stuck) - 5} more" if len(stuck) > 5 else ""
        return SimulationError(
            f"simulation deadlocked at {self.env.now} ps with {len(stuck)} operator(s) unable to "
            f"proceed{more}: " + "; ".join(lines))

    def _record_memory(self, track: str, name: str, start_ps: int, end_ps: int, args=None):
        if self.timeline.detail():
            self.timeline.add(track, name, start_ps, end_ps, args)

    def _reuse_stats(self) -> dict[str, int]:
        executed = len(self.records)
        memo = self.memo.stats()
        return {"operators": executed, "distinct_shapes": len(self.plans),
                "simulated": executed - self.reused, "reused": self.reused,
                "memo_entries": memo["entries"], "memo_evictions": memo["evictions"]}

    def _operator(self, row: int, waits: list[simpy.Event], done: simpy.Event, *,
                  idle_start: bool = False):
        if waits:
            yield simpy.AllOf(self.env, waits)
        elif self._dispatch_ps and idle_start:
            yield self.env.timeout(self._dispatch_ps)      # host dispatch to an idle chip
        for _ in range(int(self.rows[row]["repeat"])):
            yield from self._instance(row)
        done.succeed()

    def _instance(self, row: int):
        """One instance of an operator: acquire its unit, replay or simulate it, record it."""
        op = self.rows[row]
        key = self.row_keys[row]
        plan = self.plan(row)
        if self.pim is not None and row in self.pim.group_rows:
            yield from self.pim.instance(row, plan)
            return
        self.active += 1
        self.epoch += 1
        epoch = self.epoch
        # NOTE(perf): the watchdog's state is stored raw, formatted only if it fires.
        self.state[row] = ("waiting", plan.unit)
        with self.units[plan.unit].request() as grant:
            yield grant
            self.state[row] = ("running", plan.unit)
            start = self.env.now
            alone = self.active == 1 and self.reuse
            memo = self.memo.get(key) if alone else None
            tl = self.timeline
            if memo is not None:
                yield self.env.timeout(memo.duration_ps)
                self._replayed(row, memo, start)
                reused = True
            else:
                before = self.memory.counters() if alone else None
                first_event = len(tl.events) if tl is not None else 0
                yield from self._tiles(plan, plan.base_address, op)
                if alone and self.epoch == epoch and key not in self.memo:  # ran alone
                    after = self.memory.counters()
                    events = [] if tl is None or tl.sampled else [
                        (track, name, t0 - start, t1 - start, args)
                        for track, name, t0, t1, args in tl.events[first_event:]]
                    self.memo.put(key, _Memo(self.env.now - start,
                                             {k: after[k] - before[k] for k in after}, events))
                reused = False
            end = self.env.now
        self.active -= 1
        self._finished(row, plan, start, end, reused)

    def _replayed(self, row: int, memo: _Memo, start: int) -> None:
        """Account a reused instance: memory counters and its recorded timeline slices."""
        self.memory.add_counters(memo.memory_delta)
        tl = self.timeline
        if tl is not None and tl.detail():
            op_id = int(self.rows[row]["op_id"])
            for track, name, t0, t1, args in memo.events:
                if args and "op_id" in args:
                    args = {**args, "op_id": op_id}
                tl.add(track, name, start + t0, start + t1, args)
        self.reused += 1

    def _finished(self, row: int, plan: OpPlan, start: int, end: int, reused: bool) -> None:
        op = self.rows[row]
        if self.timeline is not None:
            self.timeline.add(plan.unit, op["name"], start, end,
                              {"op_id": int(op["op_id"]), "layer": int(op["layer"]),
                               "op_class": op["op_class"],
                               "shape": f"{op['M']}x{op['K']}x{op['N']}x{op['batch']}",
                               "dram_bytes": plan.dram_read_bytes + plan.dram_write_bytes,
                               "reused": reused})
        self.unit_busy_ps[plan.unit] += end - start
        self.records.append(OpRecord(row, plan.unit, start, end, plan.compute_cycles_total,
                                     plan.dram_read_bytes, plan.dram_write_bytes, reused))

    def _run_chain(self, rows: list[int], *, idle_start: bool = False) -> None:
        """Run an iteration whose operators form one dependency chain, in order.

        Every operator of a chain runs alone (the next one waits for it), so a shape already
        simulated alone is replayed by advancing the clock, with no SimPy events at all; only
        new shapes go through SimPy. Same results as ``_run_rows``, which tests check.
        """
        # NOTE(perf): most serving iterations are one chain; scripts/bench_serving.py.
        env = self.env
        now = env.now
        if self._dispatch_ps and idle_start:
            now += self._dispatch_ps                        # host dispatch to an idle chip
        for i in rows:
            key = self.row_keys[i]
            plan = self.plan(i)
            for _ in range(int(self.rows[i]["repeat"])):
                memo = self.memo.get(key) if self.reuse else None
                if memo is not None:
                    self._replayed(i, memo, now)
                    self._finished(i, plan, now, now + memo.duration_ps, True)
                    now += memo.duration_ps
                    continue
                if now > env.now:
                    env.run(until=now)
                self.state[i] = "starting"
                instance = env.process(self._instance(i))
                try:
                    env.run(until=instance)
                except RuntimeError as exc:
                    if "No scheduled events left" not in str(exc):
                        raise
                    later = rows[rows.index(i) + 1:]
                    for j in later:
                        self.state[j] = "waiting for its dependencies"
                    raise self._deadlock([i, *later]) from None
                self.state.pop(i, None)
                now = env.now
        if now > env.now:
            env.run(until=now)

    def _is_chain(self, rows: list[int], deps: list[list[int]]) -> bool:
        """Each operator depends on exactly the previous one (the first on earlier iterations)."""
        inside = set(rows)
        if any(d in inside for d in deps[rows[0]]):
            return False
        return all(deps[b] == [a] for a, b in zip(rows, rows[1:]))

    def _tiles(self, plan: OpPlan, base_address: int, op: dict[str, Any]):
        """Run one plan: loads double-buffered against compute; write-backs in the background."""
        env, memory, tl = self.env, self.memory, self.timeline
        if plan.launch_ps:
            yield env.timeout(plan.launch_ps)
        if plan.fixed_ps:
            yield env.timeout(plan.fixed_ps)
            return
        n = plan.tiles
        # NOTE(perf): Python ints, not numpy scalars, on the per-tile path (bench_serving.py).
        loads, stores, compute_ps = plan.tile_lists
        loaded = [env.event() for _ in range(n)]
        computed = [env.event() for _ in range(n)]
        address = [base_address]
        segments = self.layout.transfers(op, plan, loads, stores) if self.layout else None

        def loader():
            for i in range(n):
                if i >= 2:
                    yield computed[i - 2]          # the buffer half is free again
                if segments is not None and loads[i]:
                    yield from memory.transfer_pattern(segments[0][i], write=False)
                elif loads[i]:
                    yield from memory.transfer(loads[i], write=False, address=address[0])
                    address[0] += loads[i]
                loaded[i].succeed()

        env.process(loader())
        writebacks: list[simpy.Process | None] = [None] * n
        for i in range(n):
            yield loaded[i]
            if i >= 2 and writebacks[i - 2] is not None:
                yield writebacks[i - 2]            # its output buffer half is free again
            if compute_ps[i]:
                t0 = env.now
                yield env.timeout(compute_ps[i])
                if tl is not None and tl.detail():
                    tl.add(plan.unit, f"tile {i}", t0, env.now, {"op_id": int(op["op_id"])})
            computed[i].succeed()
            if stores[i] and segments is not None:     # where the output tensor lives
                writebacks[i] = env.process(memory.transfer_pattern(segments[1][i], write=True))
            elif stores[i]:
                writebacks[i] = env.process(memory.transfer(stores[i], write=True,
                                                            address=base_address + (1 << 33)))
        pending = [w for w in writebacks if w is not None and not w.processed]
        if pending:
            yield simpy.AllOf(env, pending)

    # ------------------------------------------------------------------ analytical fidelity
    def _run_analytical(self) -> SimResult:
        """Closed form per operator: ``max(compute, DRAM time) + first load + latency``, list
        scheduled on the units by dependency; no contention between concurrent operators."""
        # NOTE(perf): one plan lookup per row and one duration per distinct plan; the loop
        # below touches only ints (scripts/bench_dse.py).
        memory = self.arch.build_memory()
        memory.bind(simpy.Environment())
        deps = self._dependencies()
        shapes = self._plans_by_shape()
        dispatch = ns_to_ps(self.arch.launch.idle_dispatch_ns)
        shape_durations = [self._analytical_duration_ps(p, memory) for p in shapes]
        kids = self.row_key_ids
        end_of = [0] * len(self.rows)
        unit_free = dict.fromkeys(UNITS, 0)
        busy = dict.fromkeys(UNITS, 0)
        pim_ps = self.pim.analytical_ps() if self.pim is not None else None
        if pim_ps is not None:
            unit_free.setdefault("pim", 0)
            busy.setdefault("pim", 0)
        records = self.records
        keep = self.keep_records
        read = written = 0
        for i, op in enumerate(self.rows):
            plan = shapes[kids[i]]
            t = 0
            for d in deps[i]:
                if end_of[d] > t:
                    t = end_of[d]
            if not deps[i] and dispatch:
                t = max(t, max(unit_free.values())) + dispatch   # host dispatch to an idle chip
            duration, unit = shape_durations[kids[i]], plan.unit
            if pim_ps is not None and i in pim_ps:
                duration = pim_ps[i]
            for _ in range(op["repeat"]):
                start = t if t > unit_free[unit] else unit_free[unit]
                t = unit_free[unit] = start + duration
                busy[unit] += duration
                if keep:
                    records.append(OpRecord(i, unit, start, t, plan.compute_cycles_total,
                                            plan.dram_read_bytes, plan.dram_write_bytes, False))
                read += plan.dram_read_bytes
                written += plan.dram_write_bytes
            end_of[i] = t
        memory.bytes_read, memory.bytes_written = read, written
        executed = sum(op["repeat"] for op in self.rows)
        end = max(end_of, default=0)
        stats = memory.stats()
        if self.pim is not None and self.pim.on_pim:
            stats["pim"] = self.pim.channels.cost_counts()
        return SimResult(records, self.plans, self.row_keys, end, busy,
                         stats, {"operators": executed, "distinct_shapes": len(self.plans),
                                          "simulated": len(shapes),
                                          "reused": executed - len(shapes)},
                         pim=self.pim.stats(end) if self.pim is not None else None)


    def _analytical_duration_ps(self, plan: OpPlan, memory) -> int:
        """Closed-form duration of one operator instance (the mesh engine overrides it)."""
        return _analytical_ps(plan, memory, self.arch.clock_mhz) + ns_to_ps(
            self.arch.launch.per_kernel_ns * plan.kernels)


class _Done:
    processed = True


_DONE = _Done()


def _analytical_ps(plan: OpPlan, memory, clock_mhz: float) -> int:
    if plan.fixed_ps:
        return plan.fixed_ps
    compute = cycles_to_ps(plan.compute_cycles_total, clock_mhz)
    traffic = plan.dram_read_bytes + plan.dram_write_bytes
    if traffic == 0:
        return compute
    stream = memory.unloaded_transfer_ps(traffic)
    first = memory.unloaded_transfer_ps(plan.first_load_bytes) if plan.first_load_bytes else 0
    return max(compute, stream) + min(first, compute)
