"""Lowering of one ``attention`` row (softmax(Q K^T) V of ``batch`` (sequence, KV head) pairs).

The row holds the shape (``heads``, ``kv_heads``, ``head_dim``, ``q_len``, ``kv_len``,
``causal``); ``mapping.attention`` in the arch picks the lowering:

* ``fused`` (default) — FlashAttention-2 style. **Prefill**: work items are (sequence, query
  head, query block of ``Bq`` rows); each loops over the key/value blocks of ``Bk`` rows it needs
  (causal: blocks entirely above the diagonal are skipped, the diagonal blocks are computed in
  full and masked), with the two block GEMMs on the core's arrays and the online softmax on its
  vector lanes in sequence (each step needs the previous one's result). Items are dealt to
  the cores longest first (the block scheduler's order). Scores never leave the core; Q, K, V
  and O cross off-chip memory once (K/V of a head are re-read from the shared buffer by every
  query block). **Decode** (all queries of a (sequence, KV head) fit one query block, GQA's
  group included): flash-decoding; the KV length is split into ``splits`` chunks so that the
  items fill the cores, each K/V block is read once for the whole query group, partial outputs
  (fp32 + log-sum-exp) go to the shared buffer and a second kernel combines them.
* ``unfused`` — three kernels: the score GEMM writes the full ``q x kv`` scores (no causal
  skipping) to memory, the softmax reads and writes them, the context GEMM reads them; the GEMMs
  go through the arch's mapper.

The split count and the block sizes are chosen per shape by the smallest estimated time; the
plan is memoized by the engine per shape. Time: cycles of the arch clock.
"""

from __future__ import annotations

import functools
import heapq
import math
from typing import Any

import numpy as np

from ..arch.config import Arch
from ..arch.dtypes import DTYPE_BYTES
from ..units import ceil_div
from .lower import OpPlan, _apportion, _merge, _one
from .waves import Chip, _item_cycles

BLOCK = 128                          # FlashAttention-2's block rows (Bq = Bk = 128 for d = 128)
DECODE_SPLITS = (1, 2, 4, 8, 16, 32, 64, 128)
SOFTMAX_OPS = 5                      # per score: max, subtract, exp, sum, scale (online softmax)
STEPS = 16                           # engine tiles of a fused plan


def plan_attention(op: dict[str, Any], arch: Arch, totals_only: bool) -> OpPlan:
    if arch.mapping.attention == "unfused":
        return _unfused(op, arch, totals_only)
    chip = Chip.of(arch)
    a_b, kv_b = DTYPE_BYTES[op["dtype_act"]], DTYPE_BYTES[op["dtype_kv"]]
    acc_b = max(DTYPE_BYTES[arch.dtypes.accum], a_b)
    inst, heads, kvh = int(op["batch"]), int(op["heads"]), int(op["kv_heads"])
    group = max(1, heads // max(1, kvh))
    cost = _flash(inst, group, int(op["head_dim"]), int(op["q_len"]), int(op["kv_len"]),
                  bool(op["causal"]), chip, a_b, kv_b, acc_b)
    reads = int(op["bytes_act_in"]) + int(op["bytes_kv_read"]) * cost["kv_rereads"] \
        + cost["spill_bytes"]
    writes = int(op["bytes_act_out"]) + cost["spill_bytes"]
    compute = cost["cycles"]
    details = {"tiling": cost["what"], "shared_read_bytes": cost["shared_bytes"]}
    peak = arch.peak_macs_per_cycle
    work = cost["macs"]
    first = min(reads, cost["first_bytes"])
    if totals_only:
        return OpPlan("systolic", _one(reads), _one(compute), _one(writes), compute, work=work,
                      peak_work_per_cycle=peak, mapping_efficiency=cost["efficiency"],
                      details=details, first_load_bytes=first, kernels=cost["kernels"])
    n = max(1, min(STEPS, arch.engine.max_tiles_per_op))
    even = np.ones(n)
    store = np.zeros(n, dtype=np.int64)
    store[-1] = writes
    return OpPlan("systolic", _apportion(reads, even), _apportion(compute, even), store, compute,
                  work=work, peak_work_per_cycle=peak, mapping_efficiency=cost["efficiency"],
                  details=details, kernels=cost["kernels"])


@functools.lru_cache(maxsize=8192)
def _flash(inst: int, group: int, D: int, q: int, L: int, causal: bool, chip: Chip,
           a_b: float, kv_b: float, acc_b: float) -> dict[str, Any]:
    """Cycles, MACs computed and traffic of the fused kernel (memoized per shape and chip)."""
    Bq = Bk = BLOCK
    local = sum(chip.local_bytes) + chip.accumulator_bytes
    while Bq > 16 and (Bq * D * a_b + 4 * Bk * D * kv_b + Bq * Bk * acc_b + Bq * D * acc_b
                       > local):
        Bq, Bk = Bq // 2, Bk // 2
    kv_head_bytes = L * D * 2 * kv_b
    if q * group <= Bq:
        return _flash_decode(inst, group, D, q, L, chip, Bk, a_b, kv_b, acc_b, kv_head_bytes)
    return _flash_prefill(inst, group, D, q, L, causal, chip, Bq, Bk, a_b, kv_b, kv_head_bytes)


def _block_cycles(chip: Chip, rows: int, D: int, Bk: int) -> tuple[int, float]:
    """One (query block x key block) step on one core: S = Q K^T on the arrays, the online
    softmax of S on the vector lanes, then O += P V; FlashAttention-2 runs the three in sequence
    (each needs the previous one's result)."""
    s, eff1 = _item_cycles(chip, rows, D, Bk)
    o, eff2 = _item_cycles(chip, rows, Bk, D)
    softmax = ceil_div(rows * Bk * SOFTMAX_OPS, chip.vector_ops_per_core)
    return s + softmax + o, (eff1 + eff2) / 2


def _flash_prefill(inst, group, D, q, L, causal, chip: Chip, Bq, Bk, a_b, kv_b, kv_head_bytes):
    nq = ceil_div(q, Bq)
    rows = min(Bq, q)
    block, eff = _block_cycles(chip, rows, D, Bk)
    past = L - q
    blocks = [ceil_div(past + min(q, (j + 1) * Bq), Bk) if causal else ceil_div(L, Bk)
              for j in range(nq)]
    items = inst * group
    makespan = lpt_makespan([b * block for b in blocks] * items, chip.cores) \
        if items * nq <= 65536 else \
        max(math.ceil(sum(blocks) * items * block / chip.cores), max(blocks) * block)
    total_blocks = sum(blocks) * items
    shared = total_blocks * Bk * D * 2 * kv_b + items * q * D * a_b
    feed = shared / chip.shared_bw if math.isfinite(chip.shared_bw) else 0
    # the query blocks of a head run together (longest first, head by head): the K/V of the
    # heads in flight must stay in the shared buffer for every block to hit in it
    heads_in_flight = ceil_div(min(chip.cores, items * nq), nq)
    fits = chip.shared_bytes and kv_head_bytes * heads_in_flight <= chip.shared_bytes
    return {"cycles": int(math.ceil(max(makespan, feed))),
            "macs": total_blocks * 2 * rows * Bk * D,
            "kv_rereads": 1 if fits else nq * group, "spill_bytes": 0,
            "shared_bytes": int(shared), "kernels": 1, "efficiency": eff,
            "first_bytes": int(min(items * nq, chip.cores) * (rows * D * a_b
                                                              + 2 * Bk * D * kv_b)),
            "what": f"flash prefill Bq={Bq} Bk={Bk} items={items * nq} causal={int(causal)}"}


def _flash_decode(inst, group, D, q, L, chip: Chip, Bk, a_b, kv_b, acc_b, kv_head_bytes):
    rows = q * group
    block, eff = _block_cycles(chip, rows, D, Bk)
    best = None
    for splits in DECODE_SPLITS:
        chunk = ceil_div(L, splits)
        if splits > 1 and chunk < Bk:
            break
        items = inst * splits
        compute = ceil_div(items, chip.cores) * ceil_div(chunk, Bk) * block
        partial = inst * splits * rows * (D + 2) * 4 if splits > 1 else 0
        combine = ceil_div(partial // 4 * 3, chip.cores * chip.vector_ops_per_core) \
            if splits > 1 else 0
        spill = partial if partial > chip.shared_bytes else 0
        dram = (inst * kv_head_bytes + 2 * spill) / chip.dram_bw
        estimate = max(compute, dram) + combine
        if best is None or estimate < best[0]:
            best = (estimate, splits, compute + combine, spill)
    _, splits, cycles, spill = best
    return {"cycles": int(cycles), "macs": inst * ceil_div(L, Bk) * Bk * 2 * rows * D,
            "kv_rereads": 1, "spill_bytes": int(spill),    # partials that miss the shared buffer
            "shared_bytes": int(inst * kv_head_bytes), "efficiency": eff,
            "kernels": 2 if splits > 1 else 1,             # the combine kernel
            "first_bytes": int(min(inst * splits, chip.cores) * 2 * Bk * D * kv_b),
            "what": f"flash decode splits={splits} Bk={Bk} group={group}"}


def _unfused(op: dict[str, Any], arch: Arch, totals_only: bool) -> OpPlan:
    """Score GEMM, softmax and context GEMM as three kernels; scores through memory."""
    from .lower import lower

    inst, heads, kvh = int(op["batch"]), int(op["heads"]), int(op["kv_heads"])
    group = max(1, heads // max(1, kvh))
    D, q, L = int(op["head_dim"]), int(op["q_len"]), int(op["kv_len"])
    a = op["dtype_act"]
    a_b = DTYPE_BYTES[a]
    scores = inst * q * group * L
    s_bytes = int(math.ceil(scores * a_b))
    common = {k: op[k] for k in ("dtype_act", "dtype_weight", "dtype_kv", "op_id", "name")}
    score = {**common, "op_class": "attention_score", "M": q * group, "K": D, "N": L,
             "batch": inst}
    softmax = {**common, "op_class": "softmax", "flops": scores * SOFTMAX_OPS,
               "bytes_act_in": s_bytes, "bytes_weight": 0, "bytes_kv_read": 0,
               "bytes_act_out": s_bytes, "bytes_kv_write": 0}
    context = {**common, "op_class": "attention_context", "M": q * group, "K": L, "N": D,
               "batch": inst}
    plans = [lower(score, arch, totals_only=totals_only), lower(softmax, arch,
                                                                totals_only=totals_only),
             lower(context, arch, totals_only=totals_only)]
    compute_total = sum(p.compute_cycles_total for p in plans)
    details = {"tiling": "unfused: " + " | ".join(str(p.details.get("tiling", p.unit))
                                                   for p in plans[::2])}
    work = plans[0].work + plans[2].work
    peak = arch.peak_macs_per_cycle
    if totals_only:
        return OpPlan("systolic", _one(sum(p.dram_read_bytes for p in plans)), _one(compute_total),
                      _one(sum(p.dram_write_bytes for p in plans)), compute_total, work=work,
                      peak_work_per_cycle=peak, details=details,
                      first_load_bytes=plans[0].first_load_bytes, kernels=3,
                      mapping_efficiency=plans[0].mapping_efficiency)
    load, compute, store = (np.concatenate([getattr(p, k) for p in plans])
                            for k in ("load_bytes", "compute_cycles", "store_bytes"))
    load, compute, store = _merge((load, compute, store), arch.engine.max_tiles_per_op)
    return OpPlan("systolic", load, compute, store, compute_total, work=work,
                  peak_work_per_cycle=peak, details=details, kernels=3,
                  mapping_efficiency=plans[0].mapping_efficiency)


def lpt_makespan(lengths: list[int], workers: int) -> int:
    """Longest-processing-time-first list schedule of ``lengths`` on ``workers``: the makespan
    (how a GPU's block scheduler deals work items ordered longest first)."""
    if workers >= len(lengths):
        return max(lengths, default=0)
    loads = [0] * workers
    for length in sorted(lengths, reverse=True):
        heapq.heapreplace(loads, loads[0] + length)
    return max(loads)
