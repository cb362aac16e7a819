"""Long serving runs with flat memory: iterations are simulated as they arrive.

``StreamSimulation(arch).run(iterations)`` takes any iterable of per-iteration ``OpTrace``s (a
generator can build them lazily), simulates them back to back on one SimPy clock, and keeps one
summary row per iteration instead of one record per operator. Shape plans and reuse memos live in
LRU caches of ``max_cached_shapes`` entries (decode attention shapes change every iteration as
KV caches grow), and the result reports their hits and evictions. Memory use is therefore
bounded by the caches, not by the number of iterations (``scripts/long_run_memory.py``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd

from ..arch.config import Arch
from ..errors import SimulationError
from ..units import ns_to_ps, ps_to_ns
from ..workload.trace import OpTrace
from ..engine.cache import LRUCache
from ..engine.layout import TensorLayout
from ..engine.core import Simulation, row_dicts, shape_key


@dataclass
class StreamResult:
    """``iterations``: one row per iteration (times in ns); totals; cache and memory statistics."""

    iterations: pd.DataFrame
    total_time_ns: float
    caches: dict[str, dict[str, int]] = field(default_factory=dict)
    memory_stats: dict[str, Any] = field(default_factory=dict)
    unit_busy_ns: dict[str, float] = field(default_factory=dict)


class _PlanCache(LRUCache):
    """LRU of plans that also answers ``dict``-style ``get`` / item assignment for the engine."""

    def __setitem__(self, key, value) -> None:
        self.put(key, value)


class StreamSimulation(Simulation):
    """Simulate an unbounded sequence of iterations (full fidelity) with bounded memory."""

    def __init__(self, arch: Arch, *, reuse: bool = True, max_cached_shapes: int = 4096,
                 progress: bool | None = None):
        self.arch, self.fidelity, self.reuse = arch, "full", reuse
        self.timeline = None
        self.max_cached_shapes = max_cached_shapes
        self.chain_fast_path = True
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.plans = _PlanCache(max_cached_shapes)
        self._dispatch_ps = ns_to_ps(arch.launch.idle_dispatch_ns)
        self._shapes_planned = 0
        self.records = []
        self.rows, self.row_keys = [], []
        from ..engine.pim import make_pim_runner

        self.pim = make_pim_runner(self, always=True)   # PIM archs: groups set per iteration

    def run(self, iterations: Iterable[OpTrace], *, total: int | None = None) -> StreamResult:
        env = self._setup()
        summary: list[dict[str, Any]] = []
        bar = None
        if self.progress:
            try:
                from tqdm import tqdm

                bar = tqdm(total=total, unit="iter", desc="simulating iterations", leave=False)
            except ImportError:
                bar = None
        for number, trace in enumerate(iterations):
            if not isinstance(trace, OpTrace):
                raise SimulationError(f"iteration {number}: expected an OpTrace, got "
                                      f"{type(trace).__name__}")
            self.rows = row_dicts(trace.ops)
            self.row_keys = [shape_key(op) for op in self.rows]
            if self.pim is not None:
                self.pim.next_rows(self.rows, trace.meta)
            for i in range(len(self.rows)):
                self.plan(i)           # LRU-cached by shape key
            deps = self._dependencies()
            if self.layout is not None:     # address-aware memory: this iteration's tensors
                self.layout = TensorLayout(self.rows, deps)
            start = env.now
            self.records = []
            for rows in self._iterations():
                self._run_rows(rows, deps, {})
            summary.append({
                "iteration": number, "start_ns": ps_to_ns(start), "end_ns": ps_to_ns(env.now),
                "duration_ns": ps_to_ns(env.now - start), "ops": len(self.rows),
                "reused_ops": sum(r.reused for r in self.records),
                "flops": int(trace.ops["flops"].mul(trace.ops["repeat"]).sum()),
                "dram_bytes": sum(r.dram_read_bytes + r.dram_write_bytes for r in self.records),
                "tokens": int(trace.meta.get("tokens", 0) or 0)})
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        self.records = []
        frame = pd.DataFrame(summary, columns=["iteration", "start_ns", "end_ns", "duration_ns",
                                               "ops", "reused_ops", "flops", "dram_bytes",
                                               "tokens"])
        return StreamResult(frame, ps_to_ns(env.now),
                            {"plans": self.plans.stats(), "reuse_memo": self.memo.stats()},
                            self.memory.stats(),
                            {u: ps_to_ns(b) for u, b in self.unit_busy_ps.items()})
