"""The multi-core mapper: output tiles over cores in waves (``waves``, ``cutlass``).

A chip (:class:`Chip`) is ``cores`` identical cores, each with ``arrays`` systolic arrays, a local
SRAM and a share of the vector lanes, a shared buffer (L2 or global SRAM) and off-chip memory.
One GEMM ``batch x (M x K x N)`` is mapped as a GPU kernel or a multi-core NPU runs it:

1. **Output tiles** ``Mt x Nt`` (and ``split_k`` slices of K) are *work items*, dealt to the cores
   in waves of ``cores`` items; every item of a wave takes as long as a full tile (edge tiles
   are padded, as on the hardware), so the last, partial wave costs a whole tile time unless
   it is bound by bandwidth, which it shares with fewer items (the *tail*).
2. **One item on one core**: the tile is split over the core's arrays (along N or M, the faster)
   and timed by the closed-form folds of ``hw.systolic``. Its operand tiles stream from the
   shared buffer, ``multicast`` cores of a cluster sharing one fetch of the larger operand.
3. **Split K** (only when the output tiles do not fill one wave): each slice writes partial sums
   at the accumulator width to the shared buffer (off-chip if they do not fit), and the vector
   lanes of all cores add them (a costed reduction).
4. **Off-chip traffic** follows the raster order (along N or along M, the cheaper) and what the
   shared buffer holds: an operand panel re-read by a later wave hits the shared buffer when the
   band of panels it belongs to fits (a ``cache`` lends half of its capacity to it, the other
   half holding the streamed operand; a ``scratchpad`` pins it in all of it); the whole operand
   is read once when it fits; without a shared buffer every item reads its own panels from
   memory.
5. Every candidate is timed as ``max(compute incl. shared-buffer feed, off-chip bytes /
   sustained bandwidth) + the first wave's first K step`` and the fastest wins (ties: fewer
   items). Results are memoized per shape and chip.

The plan handed to the engine is the waves, each cut into K steps (loads of a wave stream during
its compute), so double buffering in the engine overlaps memory with compute as the kernel does.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..arch.config import Arch
from ..arch.dtypes import DTYPE_BYTES
from ..errors import SimulationError
from ..hw.systolic import gemm_timing
from ..units import ceil_div
from .lower import OpPlan, _apportion, _merge, _one
from .mappers import MAPPERS, Mapper

#: CUTLASS / cuBLAS threadblock tiles (M x N) for 16-bit tensor-core GEMMs (CUTLASS profiler's
#: default SM80/SM90 tile list) and its K step per main-loop stage.
CUTLASS_TILES = ((128, 256), (256, 128), (128, 128), (128, 64), (64, 128), (64, 64))
CUTLASS_K_STEP = 64
SPLIT_K = (1, 2, 3, 4, 6, 8, 12, 16)
ENGINE_STEPS = 64               # engine tiles per GEMM (loads stream during the waves)


@dataclass(frozen=True)
class Chip:
    """What the mapper needs to know of an arch (hashable: the memo key)."""

    cores: int
    arrays: int
    rows: int
    cols: int
    dataflow: str
    fold_pipelining: bool
    local_bytes: tuple[int, ...]            # per core: (unified,) or (A, B, accumulator) budgets
    accumulator_bytes: int                  # per core, apart from local_bytes (0: inside them)
    shared_bytes: int                        # shared buffer capacity (0: none)
    reuse_bytes: int                         # of it, what a re-read operand band may occupy
    shared_bw: float                         # shared buffer -> cores, bytes/cycle (inf: no cap)
    dram_bw: float                           # sustained off-chip bandwidth, bytes/cycle
    dram_latency_cycles: int
    vector_ops_per_core: int
    multicast: int

    @classmethod
    def of(cls, arch: Arch) -> "Chip":
        # NOTE(perf): built once per Arch (it builds the memory model); Arch is frozen but holds
        # dicts, so it cannot be an lru_cache key: the view is kept on the object itself.
        chip = arch.__dict__.get("_chip")
        if chip is None:
            chip = _chip_of(arch)
            object.__setattr__(arch, "_chip", chip)
        return chip


def _chip_of(arch: Arch) -> Chip:
    sa, sr = arch.systolic, arch.sram
    caps = sr.capacity_bytes()
    local = (caps["unified"],) if "unified" in caps else (caps["ifmap"], caps["filter"],
                                                          caps["ofmap"])
    memory = arch.build_memory()
    bytes_per_cycle = memory.sustained_bandwidth_gbps() * 1e3 / arch.clock_mhz
    sb = arch.shared_buffer
    shared_bw = float(sb.bandwidth_bytes_per_cycle) if sb and sb.bandwidth_bytes_per_cycle \
        else math.inf
    # a cache keeps a re-read band only while it fits in half of it (the other half holds the
    # streamed operand and conflict misses); a scratchpad pins the band in all of it
    shared = sb.capacity_bytes if sb else 0
    reuse = shared // 2 if sb and sb.kind == "cache" else shared
    return Chip(arch.cores, sa.count, sa.rows, sa.cols, sa.dataflow, sa.fold_pipelining, local,
                sr.accumulator_kib * 1024, shared, reuse, shared_bw, bytes_per_cycle,
                int(math.ceil(memory.latency_ns() * arch.clock_mhz / 1e3)),
                arch.vector.ops_per_cycle, arch.mapping.multicast)


@dataclass(frozen=True)
class WaveMapping:
    """The chosen mapping of one GEMM and its costs (cycles of the arch clock, bytes)."""

    Mt: int
    Nt: int
    Kt: int
    split_k: int
    order: str                  # raster: "n" (along N first) or "m"
    items: int
    waves: int
    item_cycles: int            # one work item on one core (closed-form folds)
    wave_cycles: tuple[int, ...]   # per wave, incl. the shared-buffer feed bound
    reduce_cycles: int          # split-K reduction on the vector lanes
    dram_read_bytes: int
    dram_write_bytes: int
    shared_read_bytes: int      # shared buffer -> cores
    first_bytes: int            # the first K step of the first wave (not hidden)
    estimate_cycles: int
    mapping_efficiency: float   # useful MACs / MACs of the padded tiles


def _item_cycles(chip: Chip, Mt: int, Kp: int, Nt: int) -> tuple[int, float]:
    """One tile on one core: split over the arrays along N or M (the faster); (cycles, eff)."""
    best = None
    A = chip.arrays
    for m, n in ((Mt, ceil_div(Nt, A)), (ceil_div(Mt, A), Nt)):
        t = gemm_timing(m, Kp, n, chip.rows, chip.cols, chip.dataflow,
                        fold_pipelining=chip.fold_pipelining)
        if best is None or t.compute_cycles < best.compute_cycles:
            best = t
    return best.compute_cycles, best.mapping_efficiency


def _k_candidates(K: int, Kt: int, tiles_mn: int, cores: int) -> list[int]:
    if tiles_mn >= cores:
        return [1]
    return sorted({min(s, ceil_div(K, Kt)) for s in SPLIT_K})


def _tile_candidates(M: int, N: int, chip: Chip, cutlass: bool) -> list[tuple[int, int]]:
    if cutlass:
        return list(CUTLASS_TILES)

    def sizes(dim: int, unit: int) -> list[int]:
        out, size = set(), unit
        while size < dim and size <= 1024:
            out.add(size)
            size *= 2
        out.add(min(max(dim, unit), 1024) if dim <= 1024 else size)
        return sorted(out)
    r, c = {"os": (chip.rows, chip.cols), "ws": (16, chip.cols),
            "is": (chip.cols, 16)}[chip.dataflow]
    return [(m, n) for m in sizes(M, r) for n in sizes(N, c)]


def _fits(chip: Chip, Mt: int, Kt: int, Nt: int, a_b: float, b_b: float, acc_b: float) -> bool:
    """Double-buffered operand tiles and the accumulator tile fit one core's local SRAM."""
    a, b, acc = 2 * Mt * Kt * a_b, 2 * Kt * Nt * b_b, Mt * Nt * acc_b
    if chip.accumulator_bytes:
        if acc > chip.accumulator_bytes:
            return False
        acc = 0
    if len(chip.local_bytes) == 1:
        return a + b + acc <= chip.local_bytes[0]
    la, lb, lc = chip.local_bytes
    return a <= la and b <= lb and acc <= lc


def _dram_reads(M: int, K: int, N: int, batch: int, Mt: int, Nt: int, items_per_wave: int,
                chip: Chip, a_b: float, b_b: float) -> tuple[str, float]:
    """(raster order, off-chip bytes read for A and B) given what the shared buffer holds."""
    nM, nN = ceil_div(M, Mt), ceil_div(N, Nt)
    a_tot, b_tot = M * K * a_b, K * N * b_b
    if chip.shared_bytes == 0:          # every item fetches its own panels
        return "n", batch * (a_tot * nN + b_tot * nM)
    half = chip.reuse_bytes
    best = None
    for order in ("n", "m"):
        # order "n": a wave covers bands of `band` M-tiles across N; A panels of a band are
        # re-used by the next wave when the band fits; B is re-read per band unless it fits.
        n_in, n_out = (nN, nM) if order == "n" else (nM, nN)
        t_in, t_out = (Nt, Mt) if order == "n" else (Mt, Nt)
        in_tot, out_tot = (b_tot, a_tot) if order == "n" else (a_tot, b_tot)
        out_bytes = a_b if order == "n" else b_b
        band = max(1, items_per_wave // n_in) if items_per_wave >= n_in else 1
        wide = min(n_in, items_per_wave)
        out_reads = out_tot if (band * t_out * K * out_bytes <= half or wide >= n_in) \
            else out_tot * ceil_div(n_in, wide)
        in_reads = in_tot if in_tot <= half else in_tot * ceil_div(n_out, band)
        total = batch * (out_reads + in_reads)
        if best is None or total < best[1]:
            best = (order, total)
    return best


@functools.lru_cache(maxsize=16384)
def map_gemm(M: int, K: int, N: int, batch: int, chip: Chip, *, a_b: float, b_b: float,
             c_b: float, acc_b: float, cutlass: bool) -> WaveMapping:
    """The fastest wave mapping of ``batch`` GEMMs ``M x K x N`` on ``chip`` (memoized)."""
    best: WaveMapping | None = None
    Kt0 = CUTLASS_K_STEP if cutlass else max(64, chip.rows)
    P = chip.cores
    for Mt, Nt in _tile_candidates(M, N, chip, cutlass):
        Kt = min(Kt0, K)
        if not _fits(chip, Mt, Kt, Nt, a_b, b_b, acc_b):
            continue
        Mt_e, Nt_e = min(Mt, M), min(Nt, N)
        nM, nN = ceil_div(M, Mt), ceil_div(N, Nt)
        tiles_mn = batch * nM * nN
        for s in _k_candidates(K, Kt, tiles_mn, P):
            Kp = min(K, ceil_div(ceil_div(K, s), Kt) * Kt)
            s_eff = ceil_div(K, Kp)
            if s > 1 and s_eff == 1:
                continue
            cand = _cost(M, K, N, batch, chip, Mt, Nt, Kt, Mt_e, Nt_e, Kp, s_eff, tiles_mn,
                         a_b, b_b, c_b, acc_b)
            if best is None or (cand.estimate_cycles, cand.items) < (best.estimate_cycles,
                                                                     best.items):
                best = cand
    if best is None:
        raise SimulationError(
            f"no tile of the GEMM M={M} K={K} N={N} fits one core's local SRAM "
            f"({sum(chip.local_bytes)} B); enlarge sram")
    return best


def _cost(M, K, N, batch, chip: Chip, Mt, Nt, Kt, Mt_e, Nt_e, Kp, s, tiles_mn, a_b, b_b, c_b,
          acc_b) -> WaveMapping:
    P = chip.cores
    items = tiles_mn * s
    waves = ceil_div(items, P)
    item_cycles, eff = _item_cycles(chip, Mt_e, Kp, Nt_e)
    a_tile, b_tile = Mt_e * Kp * a_b, Kp * Nt_e * b_b
    g = min(chip.multicast, max(1, items))
    per_item_shared = a_tile + b_tile - (1 - 1 / g) * max(a_tile, b_tile)
    last = items - (waves - 1) * P
    wave_items = [P] * (waves - 1) + [last]
    wave_cycles = tuple(max(item_cycles, int(math.ceil(w * per_item_shared / chip.shared_bw)))
                        for w in wave_items) if math.isfinite(chip.shared_bw) else \
        (item_cycles,) * waves
    order, reads = _dram_reads(M, K, N, batch, Mt, Nt, min(P, items), chip, a_b, b_b)
    writes = batch * M * N * c_b
    reduce_cycles = 0
    if s > 1:
        partial = s * batch * M * N * acc_b
        if partial > chip.shared_bytes:
            reads += partial
            writes += partial
        reduce_cycles = ceil_div(s * batch * M * N, P * chip.vector_ops_per_core)
    first = min(P, items) * (Mt_e * Kt * a_b + Kt * Nt_e * b_b)
    compute = sum(wave_cycles) + reduce_cycles
    dram = (reads + writes) / chip.dram_bw
    # prologue (the first K step's loads) + the pipeline + the last step's compute, as the
    # engine replays the plan (``wave_plan``): double buffering exposes both ends
    last_step = max(wave_cycles) / _steps_per_wave(waves, ENGINE_STEPS + 2)
    estimate = int(math.ceil(max(compute, dram) + first / chip.dram_bw + last_step)) \
        + chip.dram_latency_cycles
    macs_padded = items * Mt * Nt * Kp
    return WaveMapping(Mt, Nt, Kt, s, order, items, waves, item_cycles, wave_cycles, reduce_cycles,
                       int(math.ceil(reads)), int(math.ceil(writes)),
                       int(math.ceil(items * per_item_shared)), int(math.ceil(first)), estimate,
                       min(1.0, batch * M * K * N / macs_padded) * eff)


def _steps_per_wave(waves: int, max_tiles: int) -> int:
    return max(1, min(ENGINE_STEPS, max_tiles - 2) // waves)


def wave_plan(m: WaveMapping, work: int, peak: int, max_tiles: int, totals_only: bool,
              details: dict[str, Any]) -> OpPlan:
    """The engine's tile plan: each wave cut into K steps; off-chip reads spread over the
    compute, each wave's output written after its last step, the reduction last."""
    compute_total = sum(m.wave_cycles) + m.reduce_cycles
    if totals_only:
        return OpPlan("systolic", _one(m.dram_read_bytes), _one(compute_total),
                      _one(m.dram_write_bytes), compute_total, work=work,
                      peak_work_per_cycle=peak, mapping_efficiency=m.mapping_efficiency,
                      details=details, first_load_bytes=m.first_bytes)
    steps = _steps_per_wave(m.waves, max_tiles)
    wave_c = np.repeat(np.asarray(m.wave_cycles, dtype=np.float64), steps) / steps
    n = len(wave_c)
    compute = _apportion(sum(m.wave_cycles), wave_c)
    first = min(m.first_bytes, m.dram_read_bytes)
    load = _apportion(m.dram_read_bytes - first, wave_c)
    store_w = np.zeros(n)
    store_w[steps - 1::steps] = 1.0
    store = _apportion(m.dram_write_bytes, store_w)
    if m.reduce_cycles:
        compute = np.append(compute, m.reduce_cycles)
        load, store = np.append(load, 0), np.append(store, 0)
    load, compute, store = _merge((load, compute, store), max_tiles - 1)
    # the prologue: the first K step of the first wave, loaded before anything computes
    load, compute, store = (np.insert(load, 0, first), np.insert(compute, 0, 0),
                            np.insert(store, 0, 0))
    return OpPlan("systolic", load.astype(np.int64), compute.astype(np.int64),
                  store.astype(np.int64), compute_total, work=work, peak_work_per_cycle=peak,
                  mapping_efficiency=m.mapping_efficiency, details=details)


def operand_bytes(op: dict[str, Any], arch: Arch) -> tuple[float, float, float, float]:
    """(A, B, output, accumulator) bytes per element of a matrix operator."""
    a_b = DTYPE_BYTES[op["dtype_act"]]
    b_b = DTYPE_BYTES[op["dtype_kv"] if op["op_class"].startswith("attention")
                      else op["dtype_weight"]]
    return a_b, b_b, a_b, max(DTYPE_BYTES[arch.dtypes.accum], a_b)


class _WaveMapper(Mapper):
    cutlass = False

    def plan_matmul(self, op: dict[str, Any], arch: Arch, totals_only: bool) -> OpPlan:
        M, K, N, batch = int(op["M"]), int(op["K"]), int(op["N"]), int(op["batch"])
        a_b, b_b, c_b, acc_b = operand_bytes(op, arch)
        m = map_gemm(M, K, N, batch, Chip.of(arch), a_b=a_b, b_b=b_b, c_b=c_b, acc_b=acc_b,
                     cutlass=self.cutlass)
        details = {"tiling": f"waves Mt={m.Mt} Nt={m.Nt} Kt={m.Kt} split_k={m.split_k} "
                             f"raster={m.order}",
                   "waves": m.waves, "items": m.items, "split_k": m.split_k,
                   "shared_read_bytes": m.shared_read_bytes}
        return wave_plan(m, M * K * N * batch, arch.peak_macs_per_cycle,
                         arch.engine.max_tiles_per_op, totals_only, details)


@MAPPERS.register("waves", "output tiles over cores in waves, split-K, shared-buffer reuse; "
                           "tiles are multiples of the arrays")
class WavesMapper(_WaveMapper):
    cutlass = False


@MAPPERS.register("cutlass", "waves over CUTLASS/cuBLAS threadblock tiles (128x256 ... 64x64, "
                             "K step 64) and split-K: GPU presets")
class CutlassMapper(_WaveMapper):
    cutlass = True
