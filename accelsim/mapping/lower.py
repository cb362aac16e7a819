"""Lowering: one trace row -> the unit that runs it and its tile plan.

A plan is three per-tile arrays, ``load_bytes`` (DRAM -> SRAM), ``compute_cycles`` (unit cycles
in the architecture clock) and ``store_bytes`` (SRAM -> DRAM), executed with double buffering by
the engine. Per unit:

* ``systolic`` (gemm, gemv, attention_score, attention_context): planned by the arch's mapper
  (``mappers.py``: ``tiled`` below on one core, ``waves``/``cutlass`` on several); ``attention``
  (a fused row) by ``attention.py``. The ``tiled`` mapper: ``batch`` independent GEMM
  instances, each tiled by ``tiling.choose_tiling``. Compute cycles are the closed form of
  ``hw.systolic`` for the whole op (exact), spread over tiles in proportion to their MACs. With
  ``count`` arrays, instances are spread over the arrays (or N is split when ``batch < count``
  and that is faster).
* ``vector`` (norm, softmax, activation, rope, elementwise): ``ceil(flops / ops_per_cycle)`` of
  all cores' lanes plus the pipeline latency, streamed through the ifmap buffer.
* ``dma`` (embedding, kv_append): pure data movement.
* ``link`` (allreduce, allgather, all2all, send, recv): ring collective over the chip-to-chip
  interconnect; no DRAM traffic is charged for it.

When a plan has more tiles than ``engine.max_tiles_per_op``, consecutive tiles are merged (sums
are kept exactly; only the granularity of overlap coarsens). Activations are not kept on chip
between operators: every operator reads its inputs from and writes its outputs to DRAM, as
unfused kernels do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..arch.config import Arch
from ..arch.dtypes import DTYPE_BYTES
from ..errors import SimulationError
from ..hw.systolic import gemm_timing
from ..units import ps_to_cycles
from ..workload.trace import MATMUL_CLASSES, OP_CLASSES
from .tiling import choose_tiling, tile_schedule

#: A single GEMM instance needing more SRAM tiles than this is rejected (memory guard).
MAX_TILES_PER_INSTANCE = 4_000_000

#: Trace columns that determine an operator's timing (the shape-reuse key).
KEY_COLUMNS = ("op_class", "M", "K", "N", "batch", "flops", "bytes_weight", "bytes_act_in",
               "bytes_act_out", "bytes_kv_read", "bytes_kv_write", "comm_bytes", "comm_group",
               "dtype_act", "dtype_weight", "dtype_kv")


@dataclass
class OpPlan:
    unit: str
    load_bytes: np.ndarray
    compute_cycles: np.ndarray
    store_bytes: np.ndarray
    compute_cycles_total: int          # exact unit cycles for the op (sum of compute_cycles)
    work: int                          # MACs (systolic) or ops (vector); 0 for dma/link
    peak_work_per_cycle: int           # PEs or vector ops/cycle (utilization denominator)
    mapping_efficiency: float = float("nan")
    fixed_ps: int = 0                  # link time (collectives), not tied to the NPU clock
    details: dict[str, Any] = field(default_factory=dict)
    first_load_bytes: int = -1         # bytes loaded before the first tile can start (-1: tile 0)
    kernels: int = 1                   # kernel launches (each costs arch.launch.per_kernel_ns)

    def __post_init__(self) -> None:
        # NOTE(perf): totals are read per operator instance; summed once (scripts/bench_dse.py).
        self.dram_read_bytes = int(self.load_bytes.sum())
        self.dram_write_bytes = int(self.store_bytes.sum())
        if self.first_load_bytes < 0:
            self.first_load_bytes = int(self.load_bytes[0]) if len(self.load_bytes) else 0

    @property
    def tiles(self) -> int:
        return len(self.compute_cycles)


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that sum exactly to ``total``."""
    weights = np.asarray(weights, dtype=np.float64)
    wsum = weights.sum()
    if wsum <= 0:
        out = np.zeros(len(weights), dtype=np.int64)
        if len(out):
            out[-1] = total
        return out
    edges = np.rint(np.cumsum(weights) / wsum * total).astype(np.int64)
    edges[-1] = total
    return np.diff(edges, prepend=0)


def _merge(plan_arrays: tuple[np.ndarray, ...], max_tiles: int) -> tuple[np.ndarray, ...]:
    n = len(plan_arrays[0])
    if n <= max_tiles:
        return plan_arrays
    starts = np.linspace(0, n, max_tiles, endpoint=False).astype(np.int64)
    return tuple(np.add.reduceat(a, starts) for a in plan_arrays)


def _one(value: int) -> np.ndarray:
    return np.array([int(value)], dtype=np.int64)


def _chunks(total_bytes: int, chunk_bytes: int, max_tiles: int) -> np.ndarray:
    """Split ``total_bytes`` into at most ``max_tiles`` pieces of about ``chunk_bytes`` or more."""
    chunk_bytes = max(1, int(chunk_bytes))
    n = max(1, min(max_tiles, -(-int(total_bytes) // chunk_bytes)))
    return _apportion(int(total_bytes), np.ones(n))


def _stream_buffer_bytes(arch: Arch) -> int:
    cap = arch.sram.capacity_bytes()
    return (cap["unified"] // 3 if "unified" in cap else cap["ifmap"]) // 2 * arch.cores


def lower(op: dict[str, Any], arch: Arch, *, totals_only: bool = False) -> OpPlan:
    """Plan one operator (a trace row as a dict) on ``arch``.

    ``totals_only``: a one-tile plan holding the op's totals and its first-tile load (what the
    analytical fidelity needs), without building per-tile arrays.
    """
    op_class = op["op_class"]
    unit = OP_CLASSES[op_class]
    if arch.pim is not None:
        from .pim import lower_decode_attention

        plan = lower_decode_attention(op, arch, totals_only)
        if plan is not None:
            return plan
    if op_class == "attention":
        from .attention import plan_attention

        return plan_attention(op, arch, totals_only)
    if op_class in MATMUL_CLASSES:
        from .mappers import mapper_for

        return mapper_for(arch).plan_matmul(op, arch, totals_only)
    if unit == "vector":
        return _lower_vector(op, arch, totals_only)
    if unit == "dma":
        return _lower_dma(op, arch, totals_only)
    return _lower_link(op, arch)


def _lower_matmul(op: dict[str, Any], arch: Arch, totals_only: bool = False) -> OpPlan:
    sa = arch.systolic
    M, K, N, batch = int(op["M"]), int(op["K"]), int(op["N"]), int(op["batch"])
    a_b = DTYPE_BYTES[op["dtype_act"]]
    b_b = DTYPE_BYTES[op["dtype_kv"] if op["op_class"].startswith("attention") else op["dtype_weight"]]
    acc_b = max(DTYPE_BYTES[arch.dtypes.accum], a_b)

    per_array = gemm_timing(M, K, N, sa.rows, sa.cols, sa.dataflow,
                            fold_pipelining=sa.fold_pipelining)
    compute_total = -(-batch // sa.count) * per_array.compute_cycles
    if sa.count > 1 and batch < sa.count:
        # fewer instances than arrays: N may be split over the arrays instead, if faster (so
        # the time never drops as the batch grows past the array count)
        split = gemm_timing(M, K, -(-N // sa.count), sa.rows, sa.cols, sa.dataflow,
                            fold_pipelining=sa.fold_pipelining)
        if batch * split.compute_cycles < compute_total:
            per_array, compute_total = split, batch * split.compute_cycles

    # Dimensions the dataflow maps onto array rows / columns must fill the array per tile.
    spatial = {"os": (sa.rows, 8, sa.cols), "ws": (8, sa.rows, sa.cols),
               "is": (sa.cols, sa.rows, 8)}[sa.dataflow]
    tiling = choose_tiling(M, K, N, arch.sram, a_bytes=a_b, b_bytes=b_b, c_bytes=a_b,
                           acc_bytes=acc_b, min_tile=spatial,
                           what=f"{op['name']} ({op['op_class']})")
    if tiling.tiles > MAX_TILES_PER_INSTANCE:
        raise SimulationError(
            f"operator {op['name']} (op_id {op['op_id']}, M={M} K={K} N={N}) needs "
            f"{tiling.tiles:,} SRAM tiles (limit {MAX_TILES_PER_INSTANCE:,}); enlarge the SRAM "
            "or check the trace's shapes")
    details = {"tiling": f"{tiling.order} Mt={tiling.Mt} Kt={tiling.Kt} Nt={tiling.Nt}",
               "folds": per_array.folds, "gemm_tiling": tiling}   # tile order: engine/layout.py
    if totals_only:
        compute_total = _sram_bound(op, arch, M, K, N, batch, a_b, b_b, compute_total)
        first = int(math.ceil(tiling.Mt * tiling.Kt * a_b + tiling.Kt * tiling.Nt * b_b))
        return OpPlan("systolic", _one((tiling.a_bytes + tiling.b_bytes) * batch),
                      _one(compute_total), _one(tiling.c_bytes * batch), compute_total,
                      work=M * K * N * batch, peak_work_per_cycle=sa.pes,
                      mapping_efficiency=per_array.mapping_efficiency, details=details,
                      first_load_bytes=first)
    load, macs, store = tile_schedule(M, K, N, tiling, a_bytes=a_b, b_bytes=b_b, c_bytes=a_b)
    max_tiles = arch.engine.max_tiles_per_op
    if batch > 1 and len(load) * batch > max_tiles:
        # NOTE(perf): many instances -> groups of whole instances (scripts/bench_sim.py);
        # keeps the plan at most max_tiles long whatever the batch.
        groups = _apportion(batch, np.ones(min(batch, max_tiles)))
        load, macs, store = (groups * int(load.sum()), groups * int(macs.sum()),
                             groups * int(store.sum()))
    elif batch > 1:
        load, macs, store = np.tile(load, batch), np.tile(macs, batch), np.tile(store, batch)

    compute_total = _sram_bound(op, arch, M, K, N, batch, a_b, b_b, compute_total)
    load, macs, store = _merge((load, macs, store), arch.engine.max_tiles_per_op)
    return OpPlan("systolic", load, _apportion(compute_total, macs), store, compute_total,
                  work=M * K * N * batch, peak_work_per_cycle=sa.pes,
                  mapping_efficiency=per_array.mapping_efficiency, details=details)


def _sram_bound(op, arch: Arch, M: int, K: int, N: int, batch: int, a_b: float, b_b: float,
                compute_total: int) -> int:
    """SRAM -> array operand reads (SCALE-Sim's request counts, in bytes) bound the compute."""
    sram_bw = arch.sram.bandwidth_bytes_per_cycle
    if not sram_bw:
        return compute_total
    sa = arch.systolic
    R, C = sa.rows, sa.cols
    reads = {"os": M * K * -(-N // C) * a_b + K * N * -(-M // R) * b_b,
             "ws": M * K * -(-N // C) * a_b + K * N * b_b,
             "is": M * K * a_b + K * N * -(-M // C) * b_b}[sa.dataflow] * batch
    return max(compute_total, -(-int(reads) // (sram_bw * sa.count)))


def _lower_vector(op: dict[str, Any], arch: Arch, totals_only: bool = False) -> OpPlan:
    ops_per_cycle = arch.vector_ops_per_cycle          # every core's lanes
    flops = int(op["flops"])
    read = int(op["bytes_act_in"] + op["bytes_weight"] + op["bytes_kv_read"])
    write = int(op["bytes_act_out"] + op["bytes_kv_write"])
    compute_total = -(-flops // ops_per_cycle) + arch.vector.pipeline_latency_cycles
    if totals_only:
        return OpPlan("vector", _one(read), _one(compute_total), _one(write), compute_total,
                      work=flops, peak_work_per_cycle=ops_per_cycle,
                      first_load_bytes=min(read, _stream_buffer_bytes(arch)))
    load = _chunks(read, _stream_buffer_bytes(arch), arch.engine.max_tiles_per_op)
    store = _apportion(write, load if read else np.ones(len(load)))
    return OpPlan("vector", load, _apportion(compute_total, load if read else np.ones(len(load))),
                  store, compute_total, work=flops, peak_work_per_cycle=ops_per_cycle)


def _lower_dma(op: dict[str, Any], arch: Arch, totals_only: bool = False) -> OpPlan:
    read = int(op["bytes_act_in"] + op["bytes_weight"] + op["bytes_kv_read"])
    write = int(op["bytes_act_out"] + op["bytes_kv_write"])
    if totals_only:
        return OpPlan("dma", _one(read), _one(0), _one(write), 0, work=0, peak_work_per_cycle=1,
                      first_load_bytes=min(read, _stream_buffer_bytes(arch)))
    load = _chunks(read, _stream_buffer_bytes(arch), arch.engine.max_tiles_per_op)
    store = _apportion(write, load if read else np.ones(len(load)))
    return OpPlan("dma", load, np.zeros(len(load), dtype=np.int64), store, 0, work=0,
                  peak_work_per_cycle=1)


def _lower_link(op: dict[str, Any], arch: Arch) -> OpPlan:
    group, nbytes = int(op["comm_group"]), int(op["comm_bytes"])
    zero = np.zeros(1, dtype=np.int64)
    if group <= 1 or nbytes == 0:
        return OpPlan("link", zero, zero, zero, 0, work=0, peak_work_per_cycle=1)
    ic = arch.interconnect
    if ic is None:
        raise SimulationError(
            f"operator {op['name']} (op_id {op['op_id']}) is a {op['op_class']} over "
            f"{group} devices, but the architecture has no 'interconnect' section "
            "(add interconnect: {link_bandwidth_gbps: ..., link_latency_ns: ...})")
    fixed_ps = ic.collective_ps(op["op_class"], nbytes, group)
    return OpPlan("link", zero, zero, zero, 0, work=0, peak_work_per_cycle=1, fixed_ps=fixed_ps,
                  details={"link_cycles": ps_to_cycles(fixed_ps, arch.clock_mhz)})


from .mappers import MAPPERS, Mapper  # noqa: E402  (the registry imports this module lazily)


@MAPPERS.register("tiled", "one core: SRAM tiling minimising off-chip traffic, closed-form folds "
                           "(SCALE-Sim exact on one array)")
class TiledMapper(Mapper):
    def plan_matmul(self, op: dict[str, Any], arch: Arch, totals_only: bool) -> OpPlan:
        return _lower_matmul(op, arch, totals_only)
