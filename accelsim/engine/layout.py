"""Where each tensor of a trace lives in off-chip memory, and which bytes each tile moves.

``TensorLayout`` gives every tensor its own region, laid out once per trace in this order, each
region aligned to ``ALIGN_BYTES``:

* **weights**, one region per (layer, operator name), ``W[N, K]`` (out features x in
  features) stored tile-major in the mapping's tile shape: weights are constants, so an
  accelerator's compiler lays them out once in the order its kernels read them (XLA keeps TPU
  HBM arrays in tiled layouts, e.g. (8, 128) tiles; cuBLASLt/CUTLASS accept pre-tiled "ORDER_COL32"
  style weight layouts). Each ``[Nt, Kt]`` tile is one contiguous run, tiles ordered n-major then
  k; a plan without a tiling streams the region in order;
* **KV cache**, one region per (layer, request): ``K[kv_heads, max_ctx, head_dim]`` then ``V`` of
  the same shape (Hugging Face's per-request cache layout); ``max_ctx`` is the longest KV length
  the trace reaches in that layer. A ``kv_append`` writes its new tokens' rows at the positions
  the next ``attention`` of its layer reads them from; an ``attention`` reads, per (request, KV
  head), the first ``kv_len`` rows of K and of V;
* **activations**, ``ACT_SLOTS`` buffers reused in turn (a framework's caching allocator): an
  operator writes its output to its own slot and reads its input from the slot its (first)
  dependency wrote.

``TensorLayout.transfers(op, plan)`` turns a tile plan into per-tile ``Strided`` segments:

* a ``gemm``/``gemv`` planned by the ``tiled`` mapper (one instance; merged tiles grouped as
  the plan merged them) walks the plan's own tile order (``tiling.tile_schedule``: ``mn`` or
  ``nm``, K innermost): tile ``(m, k, n)`` loads the A tile ``[Mt, Kt]`` (``Mt`` rows of ``Kt``
  elements, stride ``K``) and the weight tile ``[Nt, Kt]`` (one contiguous run) when the
  plan loads them, and writes the output tile ``[Mt, Nt]`` (stride ``N``) after its last k step;
* every other plan streams its operands in order -- activation input, weight, KV rows -- and cuts
  that stream at the plan's per-tile load sizes (a plan reading more than the stream holds, e.g.
  re-reads, wraps around); write-backs likewise over output, then appended KV rows.

A plan whose tile bytes do not match the tensors (batched instances, sub-byte types, other
mappers) falls back to the stream form, so the bytes moved are always the plan's.
Units: bytes and byte addresses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..arch.dtypes import DTYPE_BYTES
from ..hw.memory import Strided
from ..mapping.lower import OpPlan

#: Tensor regions start on 2 MiB boundaries (CUDA's caching allocator rounds large blocks to
#: 2 MiB: kRoundLarge in PyTorch's c10/cuda/CUDACachingAllocator.cpp).
ALIGN_BYTES = 2 << 20
#: Activation buffers reused in turn.
ACT_SLOTS = 4


def _align(nbytes: int) -> int:
    return -(-max(int(nbytes), 1) // ALIGN_BYTES) * ALIGN_BYTES


class TensorLayout:
    """Regions of one trace's tensors (``rows``: trace rows as dicts, ``deps``: row indices)."""

    def __init__(self, rows: list[dict[str, Any]], deps: list[list[int]]):
        self._index = {id(op): i for i, op in enumerate(rows)}
        self._rows = rows
        cursor = 0

        def alloc(nbytes: int) -> int:
            nonlocal cursor
            address, cursor = cursor, cursor + _align(nbytes)
            return address

        sizes: dict[tuple, int] = {}
        for op in rows:
            if op["bytes_weight"]:
                key = (op["layer"], op["name"])
                sizes[key] = max(sizes.get(key, 0), int(op["bytes_weight"]))
        self.weight = {key: alloc(n) for key, n in sizes.items()}

        # KV geometry per layer from its attention rows; kv_append rows take their next one's
        self._kv_of_row: dict[int, tuple] = {}
        geometry: dict[Any, list] = {}
        pending: dict[tuple, list[int]] = {}
        for i, op in enumerate(rows):
            if op["op_class"] == "kv_append":
                pending.setdefault((op["iter"], op["layer"]), []).append(i)
            if op["op_class"] != "attention" or not op["kv_heads"]:
                continue
            kvh, hd = int(op["kv_heads"]), int(op["head_dim"])
            shape = (int(op["batch"]) // kvh, kvh, hd, DTYPE_BYTES[op["dtype_kv"]])
            g = geometry.setdefault(op["layer"], [shape, 0])
            if g[0] != shape:
                continue                      # another shape in the same layer: stream form
            g[1] = max(g[1], int(op["kv_len"]))
            self._kv_of_row[i] = (op["layer"], int(op["kv_len"]))
            for j in pending.pop((op["iter"], op["layer"]), []):
                self._kv_of_row[j] = (op["layer"], int(op["kv_len"]))
        self.kv: dict[Any, tuple] = {}        # layer -> (address, (requests, kvh, hd, e), max_ctx)
        for layer, (shape, max_ctx) in geometry.items():
            requests, kvh, hd, e = shape
            self.kv[layer] = (alloc(requests * 2 * kvh * max_ctx * hd * e), shape, max_ctx)

        slot = max([max(int(op["bytes_act_in"]), int(op["bytes_act_out"])) for op in rows] + [1])
        slots = [alloc(slot) for _ in range(ACT_SLOTS)]
        self.output = [slots[i % ACT_SLOTS] for i in range(len(rows))]
        self.input = [self.output[d[0]] if d else slots[-1] for d in deps]
        self.scratch = alloc(slot)
        self.total_bytes = cursor

    # ------------------------------------------------------------------ tensors of one operator
    def _kv_extents(self, i: int, write: bool) -> list[tuple[int, int]] | None:
        """(address, bytes) of the KV rows row ``i`` reads or appends, or None (no geometry)."""
        op = self._rows[i]
        if i not in self._kv_of_row:
            return None
        layer, kv_len = self._kv_of_row[i]
        base, (requests, kvh, hd, e), max_ctx = self.kv[layer]
        row_bytes = hd * e
        per_token = requests * 2 * kvh * row_bytes
        if write:
            total = int(op["bytes_kv_write"])
            if total % per_token:
                return None
            first, tokens = kv_len - total // per_token, total // per_token
        else:
            first, tokens = 0, kv_len
            if int(op["bytes_kv_read"]) != per_token * kv_len:
                return None
        if first < 0:
            return None
        half = kvh * max_ctx * row_bytes
        out = []
        for r in range(requests):
            region = base + r * 2 * half
            for h in range(kvh):
                k = region + (h * max_ctx + first) * row_bytes
                out.append((k, tokens * row_bytes))
                out.append((k + half, tokens * row_bytes))
        return out

    def _streams(self, i: int) -> tuple[list, list]:
        op = self._rows[i]
        reads: list[tuple[int, int]] = []
        writes: list[tuple[int, int]] = []
        if op["bytes_act_in"]:
            reads.append((self.input[i], int(op["bytes_act_in"])))
        if op["bytes_weight"]:
            reads.append((self.weight[(op["layer"], op["name"])], int(op["bytes_weight"])))
        if op["bytes_kv_read"]:
            reads += self._kv_extents(i, False) or [(self._kv_base(op), int(op["bytes_kv_read"]))]
        if op["bytes_act_out"]:
            writes.append((self.output[i], int(op["bytes_act_out"])))
        if op["bytes_kv_write"]:
            writes += self._kv_extents(i, True) or [(self._kv_base(op),
                                                     int(op["bytes_kv_write"]))]
        return reads, writes

    def _kv_base(self, op: dict[str, Any]) -> int:
        kv = self.kv.get(op["layer"])
        return kv[0] if kv is not None else self.scratch

    # ------------------------------------------------------------------ tiles
    def transfers(self, op: dict[str, Any], plan: OpPlan, loads: list[int], stores: list[int]
                  ) -> tuple[list[tuple[Strided, ...]], list[tuple[Strided, ...]]]:
        """Per tile: the segments its load reads and the segments its write-back writes."""
        i = self._index[id(op)]
        tiled = _gemm_tiles(op, plan, self.input[i], self.output[i],
                            self.weight.get((op["layer"], op["name"])), loads, stores)
        if tiled is not None:
            return tiled
        reads, writes = self._streams(i)
        return (_cut(reads or [(self.scratch, 1)], loads),
                _cut(writes or [(self.scratch, 1)], stores))


def _gemm_tiles(op, plan: OpPlan, a_base: int, c_base: int, b_base: int | None,
                loads: list[int], stores: list[int]):
    t = plan.details.get("gemm_tiling")
    if t is None or b_base is None or op["op_class"] not in ("gemm", "gemv") \
            or int(op["batch"]) != 1 or int(op["bytes_weight"]) == 0:
        return None
    from ..mapping.tiling import tile_schedule

    ea, eb = DTYPE_BYTES[op["dtype_act"]], DTYPE_BYTES[op["dtype_weight"]]
    if ea != int(ea) or eb != int(eb):
        return None
    ea, eb = int(ea), int(eb)
    M, K, N = int(op["M"]), int(op["K"]), int(op["N"])
    load, _, store = tile_schedule(M, K, N, t, a_bytes=ea, b_bytes=eb, c_bytes=ea)
    nM, nK, nN = -(-M // t.Mt), -(-K // t.Kt), -(-N // t.Nt)
    if nM * nK * nN != len(load) or len(load) < len(loads):
        return None
    if t.order == "mn":
        order = [(m, n, k) for m in range(nM) for n in range(nN) for k in range(nK)]
    else:
        order = [(m, n, k) for n in range(nN) for m in range(nM) for k in range(nK)]
    load_segs, store_segs = [], []
    prev = (-1, -1)
    for idx, (m, n, k) in enumerate(order):
        m0, k0, n0 = m * t.Mt, k * t.Kt, n * t.Nt
        mt, kt, nt = min(t.Mt, M - m0), min(t.Kt, K - k0), min(t.Nt, N - n0)
        a = _rows(a_base + (m0 * K + k0) * ea, kt * ea, K * ea, mt)
        # tile-major weights: row block n holds its nt x K elements, tile k at column k0
        b = _rows(b_base + (n0 * K + nt * k0) * eb, nt * kt * eb, nt * kt * eb, 1)
        # which operand tiles this step loads: tile_schedule's rule (a panel stays resident
        # while its block index does not change, when K is one tile)
        load_a = load_b = True
        if nK == 1:
            if t.order == "mn":
                load_a = m != prev[0]
                load_b = nN > 1 or n != prev[1]
            else:
                load_b = n != prev[1]
                load_a = nM > 1 or m != prev[0]
        prev = (m, n)
        load_segs.append(tuple(x for x, used in ((a, load_a), (b, load_b)) if used))
        c = _rows(c_base + (m0 * N + n0) * ea, nt * ea, N * ea, mt)
        store_segs.append((c,) if store[idx] else ())
    if len(load) > len(loads):
        # the plan merged consecutive tiles as lower._merge does: group them the same way
        starts = np.linspace(0, len(load), len(loads), endpoint=False).astype(np.int64).tolist()
        bounds = list(zip(starts, starts[1:] + [len(load)]))
        load_segs = [sum(load_segs[a:b], ()) for a, b in bounds]
        store_segs = [sum(store_segs[a:b], ()) for a, b in bounds]
    for segs, want in zip(load_segs + store_segs, loads + stores):
        if sum(x.nbytes for x in segs) != want:
            return None
    return load_segs, store_segs


def _rows(address: int, row_bytes: int, stride_bytes: int, rows: int) -> Strided:
    if row_bytes == stride_bytes or rows == 1:           # contiguous: one run
        return Strided(address, row_bytes * rows, row_bytes * rows, 1)
    return Strided(address, row_bytes, stride_bytes, rows)


def _cut(extents: list[tuple[int, int]], sizes: list[int]) -> list[tuple[Strided, ...]]:
    """Consecutive pieces of the stream ``extents`` of the given sizes (wrapping around)."""
    extents = [e for e in extents if e[1] > 0] or [(0, max(sum(sizes), 1))]
    out: list[tuple[Strided, ...]] = []
    j, offset = 0, 0
    for size in sizes:
        segs = []
        while size > 0:
            address, length = extents[j]
            take = min(size, length - offset)
            segs.append(Strided(address + offset, take, take, 1))
            size -= take
            offset += take
            if offset == length:
                j, offset = (j + 1) % len(extents), 0
        out.append(tuple(segs))
    return out
