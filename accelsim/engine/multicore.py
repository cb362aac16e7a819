"""Multi-core NPU on a 2-D mesh: the workload mode of the NoC (GitHub issue 5).

Used when the architecture has a ``noc:`` section of impl ``mesh``. Every node whose role is
``core`` holds one core as the top-level ``systolic`` / ``vector`` / ``sram`` describe it; the
``memory_controller`` nodes connect the off-chip memory.

What happens to one operator (a SimPy process, as in ``engine.core``):

1. it takes its unit (``systolic``, ``vector``, ``dma``, ``link``) for the whole chip: one matmul
   at a time occupies all the arrays, as on one core;
2. a *multicore mapping* (``mapping/partition.py``, ``noc.multicore.mapping``) splits it into one
   sub-operator per core; each is lowered with ``lower()`` on one core (cached by sub-shape) with a
   tile budget of ``max(4, engine.max_tiles_per_op // cores)``;
3. every core runs its tiles with double buffering, as ``Simulation._tiles`` does, but each tile
   load is a *streamed transfer*: the memory transfer (the one shared ``MemoryModel``) and the mesh
   messages from the memory controllers to the core run concurrently, and the load is complete
   when both are, and no earlier than one chunk's zero-load mesh latency after the memory side
   finished (the last bytes still have to cross the mesh). Stores go the other way;
4. a K split ends with a partial-sum reduction: binary tree (or ``direct`` to the root) over the
   mesh at the accumulator width, one vector add per step on the receiving core, then the root
   writes the result.

Memory system: one ``MemoryModel`` for the whole memory (its channels stay as the model defines
them); the memory-controller nodes are its ports on the mesh, with addresses interleaved across
them in ``interleave_bytes`` granules (:func:`interleave_split`), so every transfer spreads its
bytes over the controllers exactly as its address range covers them.

NoC share of an operator (``record_noc_ps``, the report's ``noc_cycles``): on the *critical lane*
(the core, or the K group, that finished last) the time its compute loop waited for tile data
after the memory side of that transfer had finished (loads and write-backs), plus the time its
reduction spent moving partial sums and its final store spent on the mesh after memory was done.
It is the part of the operator's latency that an infinitely fast mesh would remove, measured
where it happened.

Shape reuse stays exact: an operator alone on an idle chip (memory and mesh idle: every
operator waits for its own messages) takes the same time for the same shape, and the memo delta
carries the mesh counters (link busy cycles, packets, per-op NoC time) besides the memory's.

Analytical fidelity (``fidelity="analytical"``): a closed form per operator over the same
partition, addresses and interleaving, with a memory term and the channel-load bound of the
operator's XY routes (``_closed_form_ps``; docs/multicore.md has the formula and its check
against this engine).

Ignores: multicast (a tile read by several cores crosses the mesh once per reader), per-core
vector units as separate resources, on-chip traffic of collectives (the chip-to-chip ring of
``interconnect`` is charged on the ``link`` unit as in single-core mode; ``noc.inter_chip`` is
rejected at load).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import simpy

from ..arch.config import Arch, EngineConfig
from ..errors import SimulationError
from ..hw.noc import MeshNoC, hop_count, packet_flits, route_loads, zero_load_latency_cycles
from ..mapping.lower import OpPlan, lower
from ..mapping.partition import (MeshContext, Partition, build_multicore, partition_op)
from ..units import bytes_to_ps, cycles_to_ps, cycles_to_ps_array
from ..workload.trace import MATMUL_CLASSES, OP_CLASSES, OpTrace
from .core import _ADDRESS_STRIDE, SimResult, Simulation, shape_key

_CORE_STRIDE = 1 << 24          # each core's share streams from its own 16 MiB region
_STORE_OFFSET = 1 << 33         # as Simulation._tiles: outputs live above the inputs
MIN_TILES_PER_CORE = 4


@dataclass
class MeshPlan(OpPlan):
    """An operator's plan on the mesh: the partition and one ``OpPlan`` per share.

    The inherited arrays are a one-entry summary for the report: all DRAM loads, the critical
    lane's compute cycles, all stores; ``first_load_bytes`` is the largest first-tile load of
    any share. The analytical fidelity reads the shares themselves (``_closed_form_ps``).
    """

    partition: Partition | None = None
    share_plans: list[OpPlan] = field(default_factory=list)
    reduce_add_cycles: list[int] = field(default_factory=list)


@dataclass
class MeshSimResult(SimResult):
    """``SimResult`` plus the mesh: ``noc`` (stats of the NoC model), ``record_noc_ps`` (per
    record, aligned with ``records``) and ``mesh`` (geometry and roles)."""

    noc: dict[str, Any] = field(default_factory=dict)
    record_noc_ps: list[int] = field(default_factory=list)
    mesh: dict[str, Any] = field(default_factory=dict)


def interleave_split(address: int, nbytes: int, granule: int, parts: int) -> list[int]:
    """Bytes of ``[address, address + nbytes)`` owned by each of ``parts`` controllers when
    granule ``g`` belongs to controller ``g % parts``. Exact; sums to ``nbytes``.

    >>> interleave_split(1000, 10000, 4096, 4)
    [3096, 4096, 2808, 0]
    """
    out = [0] * parts
    if nbytes <= 0:
        return out
    end = address + nbytes
    g0, g1 = address // granule, (end - 1) // granule
    if g0 == g1:
        out[g0 % parts] = nbytes
        return out
    out[g0 % parts] += (g0 + 1) * granule - address
    out[g1 % parts] += end - g1 * granule
    full = g1 - g0 - 1
    q, r = divmod(full, parts)
    for j in range(parts):
        out[j] += q * granule
    for j in range(r):
        out[(g0 + 1 + j) % parts] += granule
    return out


class _MeshMemoryView:
    """The memory system as operators see it in mesh mode: the off-chip memory plus the mesh's
    additive counters, so ``Simulation``'s shape-reuse memo replays both. Everything else is the
    memory model's (``stats()`` stays the memory's own)."""

    def __init__(self, memory, noc: MeshNoC, sim: "MeshSimulation"):
        self._memory, self._noc, self._sim = memory, noc, sim

    def transfer(self, nbytes: int, *, write: bool = False, address: int = 0):
        return self._memory.transfer(nbytes, write=write, address=address)

    def counters(self) -> dict[str, Any]:
        out = self._memory.counters()
        out.update({f"noc.{k}": v for k, v in self._noc.counters().items()})
        out["noc.op_ps"] = self._sim._noc_op_ps_total
        return out

    def add_counters(self, delta: dict[str, Any]) -> None:
        self._memory.add_counters({k: v for k, v in delta.items() if not k.startswith("noc.")})
        self._noc.add_counters({k[4:]: v for k, v in delta.items()
                                if k.startswith("noc.") and k != "noc.op_ps"})
        self._sim._noc_op_ps_total += delta["noc.op_ps"]
        # NOTE: Simulation._operator replays a memo with add_counters and appends the operator's
        # record right after, with no yield in between: the per-instance list stays aligned.
        self._sim._noc_per_instance.append(int(delta["noc.op_ps"]))

    def stats(self) -> dict[str, Any]:
        return self._memory.stats()

    def __getattr__(self, name: str):
        return getattr(self._memory, name)


class MeshSimulation(Simulation):
    """One run of ``trace`` on a multi-core ``arch`` (``arch.noc`` of impl ``mesh``)."""

    def __init__(self, arch: Arch, trace: OpTrace, **kwargs):
        super().__init__(arch, trace, **kwargs)
        noc = arch.build_noc()
        if not isinstance(noc, MeshNoC):
            raise SimulationError(
                f"multi-core mode needs noc impl 'mesh' (node roles and links), got "
                f"{getattr(noc, 'impl_name', None)!r}; remove the noc: section for one core")
        cfg = noc.cfg
        self.mesh = cfg
        self.multicore = build_multicore(cfg.multicore, file=arch.file)
        roles = cfg.node_roles()
        cores = [n for n, role in enumerate(roles) if role == "core"]
        if self.multicore.cores:
            cores = cores[:self.multicore.cores]
        self.core_nodes: list[int] = cores
        self.mc_nodes: list[int] = list(cfg.memory_controllers)
        if not self.mc_nodes:
            raise SimulationError(
                "multi-core mode needs memory controllers on the mesh: set "
                "noc.memory_controllers.placement (edges, corners, columns or explicit)")
        if not cores:
            raise SimulationError("the mesh has no core nodes (every node is a memory controller)")
        per_core = max(MIN_TILES_PER_CORE, arch.engine.max_tiles_per_op // len(cores))
        self.core_arch = replace(arch, noc=None, engine=EngineConfig(max_tiles_per_op=per_core))
        self.ctx = MeshContext(
            cores=len(cores), core_arch=self.core_arch,
            memory_bandwidth_gbps=arch.build_memory().peak_bandwidth_gbps(),
            link_bandwidth_gbps=cfg.flit_bytes * cfg.clock_mhz / 1000.0,
            memory_controllers=len(self.mc_nodes), weights=self.multicore.weights)
        self._share_plan_cache: dict[tuple, OpPlan] = {}
        self._fill_cache: dict[tuple[int, int, int], int] = {}

    # ------------------------------------------------------------------ planning
    def _new_plan(self, row: int) -> OpPlan:
        op = self.rows[row]
        if OP_CLASSES[op["op_class"]] == "link":
            return super()._new_plan(row)          # collectives: the chip-to-chip ring, as before
        plan = self._mesh_plan(op)
        plan.base_address = self._shapes_planned * _ADDRESS_STRIDE
        self._shapes_planned += 1
        return plan

    def _share_plan(self, sub: dict[str, Any], partial: bool) -> OpPlan:
        resident = self.multicore.weights == "resident" and sub["op_class"] in MATMUL_CLASSES
        key = (shape_key(sub), partial, resident)
        plan = self._share_plan_cache.get(key)
        if plan is None:
            plan = lower(sub, self.core_arch)
            if resident:   # weights preloaded in SRAM: the activations / KV stream in once
                loads = np.zeros_like(plan.load_bytes)
                loads[0] = int(sub["bytes_act_in"]) + int(sub["bytes_kv_read"])
                plan = replace(plan, load_bytes=loads, first_load_bytes=-1)
            if partial:    # partial sums leave through the reduction, not to memory
                plan = replace(plan, store_bytes=np.zeros_like(plan.store_bytes))
            plan.compute_ps = cycles_to_ps_array(plan.compute_cycles, self.arch.clock_mhz)
            self._share_plan_cache[key] = plan
        return plan

    def _mesh_plan(self, op: dict[str, Any]) -> MeshPlan:
        part = partition_op(self.multicore.mapping, op, self.ctx)
        reduced = part.reduced_shares
        plans = [self._share_plan(sub, i in reduced) for i, sub in enumerate(part.shares)]
        vu = self.arch.vector
        add = [-(-e // vu.ops_per_cycle) + vu.pipeline_latency_cycles
               for e in part.partial_elements]
        lanes = [p.compute_cycles_total for i, p in enumerate(plans) if i not in reduced]
        for g, members in enumerate(part.reduce_groups):
            steps = (len(members) - 1) if self.multicore.reduction == "direct" else \
                (len(members) - 1).bit_length()
            lanes.append(max(plans[i].compute_cycles_total for i in members) + steps * add[g])
        critical = max(lanes)
        loads = sum(p.dram_read_bytes for p in plans)
        first = max(int(p.load_bytes[0]) for p in plans)
        stores = sum(p.dram_write_bytes for p in plans) + sum(part.out_bytes)
        work = sum(p.work for p in plans)
        eff = [p.mapping_efficiency for p in plans]
        mapping_eff = float(np.average(eff, weights=[max(p.work, 1) for p in plans])) \
            if not any(np.isnan(eff)) else float("nan")
        return MeshPlan(
            plans[0].unit, np.array([loads], dtype=np.int64), np.array([critical], dtype=np.int64),
            np.array([stores], dtype=np.int64), critical, work=work, first_load_bytes=first,
            peak_work_per_cycle=plans[0].peak_work_per_cycle * self.ctx.cores,
            mapping_efficiency=mapping_eff,
            details={"strategy": part.strategy, "cores_used": len(plans),
                     "tiles_per_core": max(p.tiles for p in plans)},
            partition=part, share_plans=plans, reduce_add_cycles=add)

    # ------------------------------------------------------------------ running
    def _setup(self) -> simpy.Environment:
        env = super()._setup()
        self.noc = self.arch.build_noc()
        self.noc.bind(env)
        if self.timeline is not None:
            self.noc.recorder = self._record_memory     # link occupancy slices
        self._noc_op_ps_total = 0
        self._noc_per_instance: list[int] = []     # aligned with self.records (see _tiles)
        self.memory = _MeshMemoryView(self.memory, self.noc, self)
        return env

    def _run_full(self) -> MeshSimResult:
        res = super()._run_full()
        if len(self._noc_per_instance) != len(res.records):
            raise SimulationError("internal: per-operator NoC times do not match the records")
        stats = self.noc.stats()
        stats["link_bandwidth_gbps"] = self.ctx.link_bandwidth_gbps
        stats["noc_ps"] = int(sum(self._noc_per_instance))
        mesh = {"columns": self.mesh.columns, "rows": self.mesh.rows,
                "core_nodes": list(self.core_nodes), "memory_controller_nodes": self.mc_nodes,
                "mapping": self.multicore.mapping.impl_name, "weights": self.multicore.weights,
                "reduction": self.multicore.reduction,
                "interleave_bytes": self.multicore.interleave_bytes}
        return MeshSimResult(**{f.name: getattr(res, f.name) for f in fields(res)}, noc=stats,
                             record_noc_ps=list(self._noc_per_instance), mesh=mesh)

    def _fill_ps(self, src: int, dst: int, nbytes: int) -> int:
        """Zero-load latency of the last chunk of a message (the stream's tail on the mesh)."""
        size = min(nbytes, self.mesh.chunk_bytes)
        key = (src, dst, packet_flits(size, self.mesh.flit_bytes))
        ps = self._fill_cache.get(key)
        if ps is None:
            cyc = zero_load_latency_cycles(self.mesh, hops=hop_count(self.mesh, src, dst),
                                           flits=key[2])
            ps = self._fill_cache[key] = cycles_to_ps(cyc, self.mesh.clock_mhz)
        return ps

    def _transfer(self, core: int, nbytes: int, address: int, write: bool, out: list):
        """Stream ``nbytes`` between memory and ``core`` through the controllers; sets
        ``out[0]`` to the time the memory side finished."""
        env = self.env
        parts = interleave_split(address, nbytes, self.multicore.interleave_bytes,
                                 len(self.mc_nodes))
        mem = env.process(self.memory.transfer(nbytes, write=write, address=address))
        sends, fill = [], 0
        for j, b in enumerate(parts):
            if b:
                mc = self.mc_nodes[j]
                src, dst = (core, mc) if write else (mc, core)
                sends.append(env.process(self.noc.send(src, dst, b)))
                fill = max(fill, self._fill_ps(src, dst, b))
        yield mem
        mem_end = out[0] = env.now
        yield simpy.AllOf(env, sends)
        if env.now < mem_end + fill:
            yield env.timeout(mem_end + fill - env.now)

    def _core(self, node: int, plan: OpPlan, address: int, op: dict[str, Any]):
        """One core's tiles (``Simulation._tiles`` with mesh transfers); returns
        ``(end_ps, noc_stall_ps)``."""
        env, tl = self.env, self.timeline
        n = plan.tiles
        loads, stores, compute_ps = plan.load_bytes, plan.store_bytes, plan.compute_ps
        loaded = [env.event() for _ in range(n)]
        computed = [env.event() for _ in range(n)]
        load_mem_end = [[0] for _ in range(n)]
        store_mem_end = [[0] for _ in range(n)]

        def loader():
            addr = address
            for i in range(n):
                if i >= 2:
                    yield computed[i - 2]
                if loads[i]:
                    yield from self._transfer(node, int(loads[i]), addr, False, load_mem_end[i])
                    addr += int(loads[i])
                else:
                    load_mem_end[i][0] = env.now
                loaded[i].succeed()

        env.process(loader())
        noc = 0
        writebacks: list[simpy.Process | None] = [None] * n
        for i in range(n):
            t_wait = env.now
            yield loaded[i]
            noc += max(0, env.now - max(t_wait, load_mem_end[i][0]))
            if i >= 2 and writebacks[i - 2] is not None:
                t_wait = env.now
                yield writebacks[i - 2]
                noc += max(0, env.now - max(t_wait, store_mem_end[i - 2][0]))
            if compute_ps[i]:
                t0 = env.now
                yield env.timeout(int(compute_ps[i]))
                if tl is not None and tl.detail():
                    tl.add(f"core {node}", f"tile {i}", t0, env.now, {"op_id": int(op["op_id"])})
            computed[i].succeed()
            if stores[i]:
                writebacks[i] = env.process(self._transfer(
                    node, int(stores[i]), address + _STORE_OFFSET, True, store_mem_end[i]))
        for i in range(n):
            w = writebacks[i]
            if w is not None and not w.processed:
                t_wait = env.now
                yield w
                noc += max(0, env.now - max(t_wait, store_mem_end[i][0]))
        return env.now, noc

    def _combine(self, dst_ready, src_ready, src: int, dst: int, nbytes: int, add_ps: int):
        """Reduction step: ``src`` sends its partial sum to ``dst``, which adds it."""
        env = self.env
        yield simpy.AllOf(env, [dst_ready, src_ready])
        (t_dst, noc_dst), (t_src, noc_src) = dst_ready.value, src_ready.value
        noc = noc_src if t_src > t_dst else noc_dst      # the later partial is on the critical path
        t0 = env.now
        yield env.process(self.noc.send(src, dst, nbytes))
        noc += env.now - t0
        yield env.timeout(add_ps)
        return env.now, noc

    def _reduce(self, part: Partition, g: int, procs: list, nodes: list[int], add_ps: int,
                address: int):
        """K-split group ``g``: combine the partial sums, then the root writes the output."""
        env = self.env
        members = part.reduce_groups[g]
        nbytes = part.partial_bytes[g]
        ready = {i: procs[i] for i in members}
        if self.multicore.reduction == "direct":
            root = members[0]
            for i in members[1:]:
                ready[root] = env.process(self._combine(ready[root], ready[i], nodes[i],
                                                        nodes[root], nbytes, add_ps))
        else:
            step = 1
            while step < len(members):
                for j in range(0, len(members) - step, 2 * step):
                    dst, src = members[j], members[j + step]
                    ready[dst] = env.process(self._combine(ready[dst], ready[src], nodes[src],
                                                           nodes[dst], nbytes, add_ps))
                step *= 2
        root = members[0]
        _, noc = yield ready[root]
        if part.out_bytes[g]:
            mem_end = [0]
            yield from self._transfer(nodes[root], part.out_bytes[g], address + _STORE_OFFSET,
                                      True, mem_end)
            noc += env.now - mem_end[0]
        return env.now, noc

    def _share_address(self, base_address: int, share: int) -> int:
        """Start address of share ``share``'s data: its own ``_CORE_STRIDE`` region, skewed so
        that it begins at controller ``share mod controllers``. Without the skew every region
        would start at the same controller whenever the stride is a multiple of
        ``interleave_bytes x controllers`` (all presets), and small shares would all hit one
        controller (skewed / hashed interleaving is what memory systems do against this)."""
        granule, parts = self.multicore.interleave_bytes, len(self.mc_nodes)
        address = base_address + share * _CORE_STRIDE
        return address + ((share - address // granule) % parts) * granule

    def _tiles(self, plan: OpPlan, base_address: int, op: dict[str, Any]):
        if not isinstance(plan, MeshPlan):
            yield from super()._tiles(plan, base_address, op)      # link ops: the chip ring
            self._noc_per_instance.append(0)
            return
        env = self.env
        part = plan.partition
        nodes = self.core_nodes[:len(plan.share_plans)]
        procs = [env.process(self._core(nodes[i], p, self._share_address(base_address, i), op))
                 for i, p in enumerate(plan.share_plans)]
        reduced = part.reduced_shares
        lanes = [procs[i] for i in range(len(procs)) if i not in reduced]
        for g, members in enumerate(part.reduce_groups):
            add_ps = cycles_to_ps(plan.reduce_add_cycles[g], self.arch.clock_mhz)
            lanes.append(env.process(self._reduce(part, g, procs, nodes, add_ps,
                                                  self._share_address(base_address, members[0]))))
        yield simpy.AllOf(env, lanes)
        end, noc = max((lane.value for lane in lanes), key=lambda v: v[0])
        self._noc_op_ps_total += noc
        # NOTE: Simulation._operator appends this instance's record right after _tiles returns,
        # with no yield in between, so this list stays aligned with the records.
        self._noc_per_instance.append(noc)

    # ------------------------------------------------------------------ analytical fidelity
    def _run_analytical(self) -> MeshSimResult:
        self._analytical_noc_ps: dict[int, int] = {}
        res = super()._run_analytical()
        noc = [self._analytical_noc_ps.get(id(self.plan(r.row)), 0) for r in res.records]
        return MeshSimResult(**{f.name: getattr(res, f.name) for f in fields(res)},
                             record_noc_ps=noc)

    def _analytical_duration_ps(self, plan: OpPlan, memory) -> int:
        """Closed form of one operator on the mesh (:meth:`_closed_form_ps`); its NoC share is
        what an ideal mesh would remove, as in full fidelity."""
        if not isinstance(plan, MeshPlan):
            return super()._analytical_duration_ps(plan, memory)   # collectives: the ring
        total = self._closed_form_ps(plan, memory, mesh=True)
        self._analytical_noc_ps[id(plan)] = max(0, total - self._closed_form_ps(
            plan, memory, mesh=False))
        return total

    def _op_traffic(self, plan: MeshPlan) -> dict[str, list]:
        """Every message of one operator as ``(src, dst, bytes)`` lists, by phase, with the
        addresses and interleaving the full engine uses: ``stream`` (the shares' loads,
        controllers to cores, streamed contiguously from the share's address, and their tile
        stores), ``steps`` (one list per reduction step: the partial sums of every K group)
        and ``out`` (the K groups' roots storing their results)."""
        part, plans = plan.partition, plan.share_plans
        nodes = self.core_nodes[:len(plans)]
        granule, mcs = self.multicore.interleave_bytes, self.mc_nodes

        def move(into: list, core: int, address: int, nbytes: int, write: bool,
                 times: int = 1) -> None:
            for j, b in enumerate(interleave_split(address, nbytes, granule, len(mcs))):
                if b:
                    into.append((core, mcs[j], b * times) if write else (mcs[j], core, b * times))

        stream: list[tuple[int, int, int]] = []
        for i, p in enumerate(plans):
            address = self._share_address(plan.base_address, i)
            move(stream, nodes[i], address, int(p.load_bytes.sum()), False)
            sizes, counts = np.unique(p.store_bytes[p.store_bytes > 0], return_counts=True)
            for size, count in zip(sizes.tolist(), counts.tolist()):
                move(stream, nodes[i], address + _STORE_OFFSET, size, True, count)
        steps: list[list[tuple[int, int, int]]] = []
        out: list[tuple[int, int, int]] = []
        for g, members in enumerate(part.reduce_groups):
            for k, step in enumerate(self._reduction_steps(members)):
                if k == len(steps):
                    steps.append([])
                steps[k].extend((nodes[s], nodes[d], part.partial_bytes[g]) for s, d in step)
            move(out, nodes[members[0]], self._share_address(plan.base_address, members[0])
                 + _STORE_OFFSET, part.out_bytes[g], True)
        return {"stream": stream, "steps": steps, "out": out}

    def _busiest_link_ps(self, messages: list[tuple[int, int, int]]) -> int:
        """Channel-load bound: the time the busiest directed link (injection and ejection
        channels included) needs for its share of ``messages`` under XY routing."""
        if not messages:
            return 0
        src, dst, amount = zip(*messages)
        busiest = float(route_loads(self.mesh, src, dst, amount).max())
        return cycles_to_ps(-(-int(busiest) // self.mesh.flit_bytes), self.mesh.clock_mhz)

    def _reduction_steps(self, members: tuple[int, ...]) -> list[list[tuple[int, int]]]:
        """The (source, destination) share pairs of each sequential step of a reduction, in
        the order ``_reduce`` sends them."""
        if self.multicore.reduction == "direct":
            return [[(i, members[0])] for i in members[1:]]
        steps, step = [], 1
        while step < len(members):
            steps.append([(members[j + step], members[j])
                          for j in range(0, len(members) - step, 2 * step)])
            step *= 2
        return steps

    def _closed_form_ps(self, plan: MeshPlan, memory, *, mesh: bool) -> int:
        """Duration of one operator, in three phases.

        1. Every share runs its tiles as a two-stage pipeline, ``l_1 + max(loads after the
           first + stores before the last, compute before the last) + c_n + w_n``, taking the
           bottleneck's share of the bandwidth: the shares' bytes move in ``S = max(DRAM bytes
           / memory bandwidth, busiest mesh link's bytes / link bandwidth)`` (the channel-load
           bound of their XY routes, injection and ejection channels included), each share's
           bytes spread over ``S``. A transfer never beats its unloaded time: memory latency
           plus the last chunk's zero-load mesh latency (the full engine's rule).
        2. A K group then reduces: each step takes the larger of the farthest pair's zero-load
           latency and the channel-load bound of that step's partial sums (all groups reduce
           at once), plus one vector add.
        3. The roots store the results: the larger of one store's unloaded time and the
           memory and channel-load bounds of all the roots' stores.

        ``mesh=False``: the same with an ideal mesh (the NoC share is the difference).
        """
        cfg = self.mesh
        part, plans = plan.partition, plan.share_plans
        nodes = self.core_nodes[:len(plans)]
        granule, mcs = self.multicore.interleave_bytes, self.mc_nodes
        bandwidth = memory.sustained_bandwidth_gbps()
        out_bytes = sum(part.out_bytes)
        traffic = plan.dram_read_bytes + plan.dram_write_bytes - out_bytes
        stream = bytes_to_ps(traffic, bandwidth) if traffic else 0
        phases = self._op_traffic(plan) if mesh else None
        if mesh:
            stream = max(stream, self._busiest_link_ps(phases["stream"]))

        def zero_load_ps(src: int, dst: int, nbytes: int) -> int:
            return cycles_to_ps(zero_load_latency_cycles(
                cfg, hops=hop_count(cfg, src, dst), flits=packet_flits(nbytes, cfg.flit_bytes)),
                cfg.clock_mhz)

        def unloaded(core: int, address: int, nbytes: int, write: bool) -> int:
            if not nbytes:
                return 0
            done = memory.unloaded_transfer_ps(nbytes, write=write)
            if not mesh:
                return done
            fill = mesh_alone = 0
            for j, b in enumerate(interleave_split(address, nbytes, granule, len(mcs))):
                if b:
                    s, d = (core, mcs[j]) if write else (mcs[j], core)
                    fill = max(fill, self._fill_ps(s, d, b))
                    mesh_alone = max(mesh_alone, zero_load_ps(s, d, b))
            return max(done + fill, mesh_alone)

        def lane(i: int) -> int:
            p = plans[i]
            loads, stores, compute = (p.load_bytes.tolist(), p.store_bytes.tolist(),
                                      p.compute_ps.tolist())
            own = sum(loads) + sum(stores)
            per_byte = stream / own if own else 0.0
            address = self._share_address(plan.base_address, i)
            load_ps = []
            for b in loads:
                load_ps.append(max(int(b * per_byte), unloaded(nodes[i], address, b, False)))
                address += b
            last_store = stores[-1]
            store_ps = max(int(last_store * per_byte), unloaded(
                nodes[i], self._share_address(plan.base_address, i) + _STORE_OFFSET,
                last_store, True))
            middle = sum(load_ps[1:]) + int(sum(stores[:-1]) * per_byte)
            return load_ps[0] + max(middle, sum(compute[:-1])) + compute[-1] + store_ps

        times = {}
        by_plan: dict[int, int] = {}
        for i, p in enumerate(plans):      # one evaluation per distinct share plan
            if id(p) not in by_plan:
                by_plan[id(p)] = lane(i)
            times[i] = by_plan[id(p)]
        reduced = part.reduced_shares
        end = max([times[i] for i in range(len(plans)) if i not in reduced], default=0)
        if part.reduce_groups:
            t = max(times[i] for i in reduced)
            add_ps = max(cycles_to_ps(c, self.arch.clock_mhz) for c in plan.reduce_add_cycles)
            for k in range(max(len(self._reduction_steps(g)) for g in part.reduce_groups)):
                send = 0
                if mesh:
                    step = phases["steps"][k]
                    send = max(max(zero_load_ps(s, d, b) for s, d, b in step),
                               self._busiest_link_ps(step))
                t += send + add_ps
            roots = [unloaded(nodes[g[0]], self._share_address(plan.base_address, g[0])
                              + _STORE_OFFSET, part.out_bytes[g_i], True)
                     for g_i, g in enumerate(part.reduce_groups)]
            store = max(max(roots), bytes_to_ps(out_bytes, bandwidth) if out_bytes else 0)
            if mesh:
                store = max(store, self._busiest_link_ps(phases["out"]))
            end = max(end, t + store)
        return end
