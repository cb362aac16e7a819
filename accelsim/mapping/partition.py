"""Multi-core partitioning: how one operator's work is split over the cores of a mesh.

A *multicore mapping* turns one trace row into a :class:`Partition`: one sub-operator (a trace-row
dict with a smaller shape and its share of the bytes) per core, plus, when the reduction dimension
K is split, the groups of cores whose partial outputs are summed. The engine
(``accelsim.engine.multicore``) lowers every sub-operator with ``mapping.lower.lower`` on one
core, runs the shares concurrently and moves their bytes over the mesh. Mappings register by name
in ``MULTICORE_MAPPINGS`` and are chosen in the architecture YAML::

    noc:
      impl: mesh
      ...
      multicore:
        mapping: grid          # MULTICORE_MAPPINGS name (default grid)
        k_split: auto          # grid only: auto | never | always
        reduction: tree        # K-split partial sums: tree (binary) | direct (to the root)
        weights: stream        # stream (from memory through the controllers) | resident (in SRAM)
        interleave_bytes: 4096 # address interleave granule across the memory controllers
        min_share_bytes: 65536 # grid: vector/dma ops give no core less (bounds events)
        cores: 0               # use only the first N cores (node order); 0 = all

Implementations (``docs/multicore.md`` shows how to add one):

* ``grid``   — the default. Splits batch, M and N over a grid of cores; splits K too (with a
  partial-sum reduction) when a small analytical estimate says that is faster, as for decode GEMMs
  with a tiny M and a huge K x N. Vector and DMA ops are split elementwise.
* ``single`` — every operator on the first core (a do-nothing baseline: isolates the NoC path).

Contract of ``MulticoreMapping.partition`` (``tests/engine/test_multicore.py`` checks it):
MACs are conserved exactly (the shares' ``batch*M*K*N`` sum to the operator's); every byte column
is conserved up to the replication the grid implies (A is read by every N group, B by every M
group; outputs are written once); at most ``ctx.cores`` shares; the same inputs give the same
partition. Pure functions, no SimPy.
"""

from __future__ import annotations

import abc
import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ..arch.config import Arch
from ..arch.dtypes import DTYPE_BYTES
from ..arch.fields import Section
from ..hw.systolic import gemm_timing
from ..registry import Registry
from ..units import bytes_to_ps, cycles_to_ps
from ..workload.trace import MATMUL_CLASSES, OP_CLASSES
from .lower import _apportion

WEIGHT_MODES = ("stream", "resident")
REDUCTIONS = ("tree", "direct")

MULTICORE_MAPPINGS: Registry[type["MulticoreMapping"]] = Registry("multicore mapping")


@dataclass(frozen=True)
class MeshContext:
    """What a mapping may know about the machine (one core's arch and the mesh around it)."""

    cores: int                       # cores available to one operator
    core_arch: Arch                  # systolic / vector / sram / dtypes of ONE core
    memory_bandwidth_gbps: float     # the whole memory system
    link_bandwidth_gbps: float       # one mesh link, one direction
    memory_controllers: int          # mesh nodes that connect the memory
    weights: str = "stream"          # "resident": weights live in the cores' SRAM


@dataclass
class Partition:
    """One operator split over cores: ``shares[i]`` runs on core ``i``.

    ``reduce_groups``: for a K split, tuples of share indices whose partial outputs (each
    ``partial_bytes[g]`` bytes at the accumulator width, ``partial_elements[g]`` elements) are
    summed; the first index of a group is its root, which writes the final output
    (``out_bytes[g]``). Shares in a group write nothing themselves.
    """

    strategy: str
    shares: list[dict[str, Any]]
    reduce_groups: list[tuple[int, ...]] = field(default_factory=list)
    partial_bytes: list[int] = field(default_factory=list)
    partial_elements: list[int] = field(default_factory=list)
    out_bytes: list[int] = field(default_factory=list)

    @property
    def reduced_shares(self) -> set[int]:
        return {i for g in self.reduce_groups for i in g}


class MulticoreMapping(abc.ABC):
    """Splits operators over the cores of a mesh (one abstract method).

    Implementers guarantee the module docstring's contract. ``from_config`` reads the
    implementation's own keys of the ``multicore:`` section (the section rejects unknown keys).
    """

    impl_name: str = ""
    description: str = ""

    @classmethod
    def from_config(cls, section: Section) -> "MulticoreMapping":
        return cls()

    @abc.abstractmethod
    def partition(self, op: dict[str, Any], ctx: MeshContext) -> Partition:
        """Split ``op`` (a trace row as a dict; never a ``link`` op) over ``ctx.cores`` cores."""


@dataclass(frozen=True)
class MulticoreConfig:
    """The validated ``noc.multicore`` section."""

    mapping: MulticoreMapping
    weights: str = "stream"
    reduction: str = "tree"
    interleave_bytes: int = 4096
    cores: int = 0


def build_multicore(raw: Any, *, file: str | None = None,
                    path: str = "noc.multicore") -> MulticoreConfig:
    """Validate a ``multicore:`` mapping (``None``: defaults) and build the mapping it names."""
    sec = Section(raw, file=file, path=path)
    cls = MULTICORE_MAPPINGS.get(sec.str("mapping", default="grid"), file=file,
                                 key=sec.key_path("mapping"))
    cfg = MulticoreConfig(
        mapping=cls.from_config(sec),
        weights=sec.choice("weights", WEIGHT_MODES, default="stream"),
        reduction=sec.choice("reduction", REDUCTIONS, default="tree"),
        interleave_bytes=sec.int("interleave_bytes", default=4096, minimum=1, maximum=1 << 30),
        cores=sec.int("cores", default=0, minimum=0, maximum=1 << 20))
    sec.done()
    return cfg


# ---------------------------------------------------------------------------------- helpers
def split_sizes(dim: int, parts: int) -> list[int]:
    """``dim`` split into ``parts`` near-equal sizes (larger first): at most two distinct sizes.

    >>> split_sizes(10, 4)
    [3, 3, 2, 2]
    """
    q, r = divmod(dim, parts)
    return [q + 1] * r + [q] * (parts - r)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _operand_bytes(op: dict[str, Any]) -> tuple[int, int, int]:
    """(A, B, C) trace bytes of a matmul: activations in, weights + KV read, outputs."""
    return (int(op["bytes_act_in"]), int(op["bytes_weight"]) + int(op["bytes_kv_read"]),
            int(op["bytes_act_out"]) + int(op["bytes_kv_write"]))


@lru_cache(maxsize=65536)
def matmul_compute_cycles(M: int, K: int, N: int, batch: int, rows: int, cols: int,
                          dataflow: str, count: int, fold_pipelining: bool) -> int:
    """Compute cycles of one core for a matmul share, as ``lower._lower_matmul`` counts them."""
    if count > 1 and batch < count:
        t = gemm_timing(M, K, -(-N // count), rows, cols, dataflow, fold_pipelining=fold_pipelining)
        return batch * t.compute_cycles
    t = gemm_timing(M, K, N, rows, cols, dataflow, fold_pipelining=fold_pipelining)
    return -(-batch // count) * t.compute_cycles


def _grid_cells(total: int, grid: tuple[int, ...], sizes: list[list[int]]) -> dict[tuple, int]:
    """Apportion ``total`` bytes over the cells of a grid, in proportion to the cell volumes."""
    cells = list(itertools.product(*[range(g) for g in grid]))
    vol = np.array([math.prod(sizes[d][c[d]] for d in range(len(grid))) for c in cells],
                   dtype=np.float64)
    return dict(zip(cells, (int(v) for v in _apportion(total, vol))))


def split_matmul(op: dict[str, Any], gb: int, gm: int, gn: int, gk: int, *,
                 acc_bytes: float) -> Partition:
    """The sub-operators of a (batch, M, N, K) grid split; K groups are contiguous share indices.

    Share ``((b * gm + m) * gn + n) * gk + k`` computes the (b, m, n) output block's k-th partial.
    """
    M, K, N, B = int(op["M"]), int(op["K"]), int(op["N"]), int(op["batch"])
    bs, ms, ns, ks = (split_sizes(B, gb), split_sizes(M, gm), split_sizes(N, gn),
                      split_sizes(K, gk))
    a_total, b_total, c_total = _operand_bytes(op)
    kw_total = int(op["bytes_kv_write"])
    a_cells = _grid_cells(a_total, (gb, gm, gk), [bs, ms, ks])
    w_cells = _grid_cells(int(op["bytes_weight"]), (gb, gk, gn), [bs, ks, ns])
    kv_cells = _grid_cells(int(op["bytes_kv_read"]), (gb, gk, gn), [bs, ks, ns])
    c_cells = _grid_cells(c_total - kw_total, (gb, gm, gn), [bs, ms, ns])
    kvw_cells = _grid_cells(kw_total, (gb, gm, gn), [bs, ms, ns])
    shares, groups, partial, elements, out = [], [], [], [], []
    a_b = DTYPE_BYTES[op["dtype_act"]]
    acc_b = max(acc_bytes, a_b)
    for b, m, n in itertools.product(range(gb), range(gm), range(gn)):
        first = len(shares)
        for k in range(gk):
            sub = dict(op)
            sub.update(M=ms[m], K=ks[k], N=ns[n], batch=bs[b],
                       flops=2 * bs[b] * ms[m] * ks[k] * ns[n],
                       bytes_act_in=a_cells[(b, m, k)], bytes_weight=w_cells[(b, k, n)],
                       bytes_kv_read=kv_cells[(b, k, n)],
                       bytes_act_out=c_cells[(b, m, n)] if k == 0 else 0,
                       bytes_kv_write=kvw_cells[(b, m, n)] if k == 0 else 0)
            shares.append(sub)
        if gk > 1:
            groups.append(tuple(range(first, first + gk)))
            elements.append(bs[b] * ms[m] * ns[n])
            partial.append(int(math.ceil(bs[b] * ms[m] * ns[n] * acc_b)))
            out.append(c_cells[(b, m, n)] + kvw_cells[(b, m, n)])
    return Partition(f"grid b{gb} m{gm} n{gn} k{gk}", shares, groups, partial, elements, out)


def split_elementwise(op: dict[str, Any], parts: int) -> Partition:
    """A vector / DMA op split into ``parts`` element ranges; bytes and flops follow exactly."""
    M = int(op["M"])
    parts = max(1, min(parts, M)) if M > 0 else 1
    w = np.array(split_sizes(M, parts) if M > 0 else [1], dtype=np.float64)
    cols = {c: _apportion(int(op[c]), w) for c in ("flops", "bytes_weight", "bytes_act_in",
                                                  "bytes_act_out", "bytes_kv_read",
                                                  "bytes_kv_write")}
    shares = []
    for i in range(parts):
        sub = dict(op)
        sub["M"] = int(w[i]) if M > 0 else M
        for c, v in cols.items():
            sub[c] = int(v[i])
        shares.append(sub)
    return Partition(f"elementwise {parts}", shares)


def split_attention(op: dict[str, Any], parts: int) -> Partition:
    """A fused attention row split by its (sequence, KV head) instances over ``parts`` cores;
    bytes and flops follow the instances exactly."""
    B = int(op["batch"])
    parts = max(1, min(parts, B))
    sizes = split_sizes(B, parts)
    w = np.array(sizes, dtype=np.float64)
    cols = {c: _apportion(int(op[c]), w) for c in ("flops", "bytes_weight", "bytes_act_in",
                                                  "bytes_act_out", "bytes_kv_read",
                                                  "bytes_kv_write")}
    shares = []
    for i, size in enumerate(sizes):
        sub = dict(op, batch=size)
        for c, v in cols.items():
            sub[c] = int(v[i])
        shares.append(sub)
    return Partition(f"attention instances {parts}", shares)


# ---------------------------------------------------------------------------------- mappings
@MULTICORE_MAPPINGS.register("single", "every operator on the first core (baseline; isolates "
                                       "the NoC path)")
class SingleCoreMapping(MulticoreMapping):
    def partition(self, op: dict[str, Any], ctx: MeshContext) -> Partition:
        return Partition("single", [dict(op)])


@MULTICORE_MAPPINGS.register("grid", "split batch/M/N over a core grid, K with a partial-sum "
                                     "reduction when estimated faster; vector ops elementwise")
class GridMapping(MulticoreMapping):
    """The default mapping. For a matmul it enumerates grids ``(gb, gm, gn, gk)`` whose product
    divides the core count (no grid dimension larger than its operator dimension) and keeps the
    one with the smallest estimate

        ``max(share compute, DRAM bytes / memory BW, a core's bytes / link BW,
        DRAM bytes / (controllers x link BW)) + reduction``,

    where DRAM bytes count the replication (A per N group, B per M group) and a K split costs
    ``ceil(log2 gk)`` steps of (partial bytes / link BW + vector add). Ties go to no K split,
    then to more cores. Vector / DMA ops: ``min(cores, bytes / min_share_bytes)`` equal shares.
    """

    def __init__(self, k_split: str = "auto", min_share_bytes: int = 65536):
        self.k_split = k_split
        self.min_share_bytes = min_share_bytes

    @classmethod
    def from_config(cls, section: Section) -> "GridMapping":
        return cls(k_split=section.choice("k_split", ("auto", "never", "always"), default="auto"),
                   min_share_bytes=section.int("min_share_bytes", default=65536, minimum=1))

    def partition(self, op: dict[str, Any], ctx: MeshContext) -> Partition:
        if op["op_class"] == "attention":
            return split_attention(op, ctx.cores)
        if op["op_class"] not in MATMUL_CLASSES:
            nbytes = sum(int(op[c]) for c in ("bytes_weight", "bytes_act_in", "bytes_act_out",
                                              "bytes_kv_read", "bytes_kv_write"))
            parts = min(ctx.cores, max(1, nbytes // self.min_share_bytes))
            return split_elementwise(op, parts)
        gb, gm, gn, gk = self.choose_grid(op, ctx)
        acc = DTYPE_BYTES[ctx.core_arch.dtypes.accum]
        return split_matmul(op, gb, gm, gn, gk, acc_bytes=acc)

    def choose_grid(self, op: dict[str, Any], ctx: MeshContext) -> tuple[int, int, int, int]:
        M, K, N, B = int(op["M"]), int(op["K"]), int(op["N"]), int(op["batch"])
        arch = ctx.core_arch
        sa = arch.systolic
        a_total, b_total, c_total = _operand_bytes(op)
        if ctx.weights == "resident":
            b_total -= int(op["bytes_weight"])
        acc_b = max(DTYPE_BYTES[arch.dtypes.accum], DTYPE_BYTES[op["dtype_act"]])
        divs = divisors(ctx.cores)
        best = None
        for gb, gm, gn, gk in itertools.product(divs, repeat=4):
            used = gb * gm * gn * gk
            if ctx.cores % used or gb > B or gm > M or gn > N or gk > K:
                continue
            if (self.k_split == "never" and gk > 1) or (
                    self.k_split == "always" and gk == 1 and K > 1 and ctx.cores > 1):
                continue
            b, m, n, k = -(-B // gb), -(-M // gm), -(-N // gn), -(-K // gk)
            compute = cycles_to_ps(matmul_compute_cycles(m, k, n, b, sa.rows, sa.cols,
                                                         sa.dataflow, sa.count,
                                                         sa.fold_pipelining), arch.clock_mhz)
            traffic = a_total * gn + b_total * gm + c_total
            per_core = a_total // (gb * gm * gk) + b_total // (gb * gn * gk)
            est = max(compute, _bw_ps(traffic, ctx.memory_bandwidth_gbps),
                      _bw_ps(per_core, ctx.link_bandwidth_gbps),
                      _bw_ps(-(-traffic // max(1, ctx.memory_controllers)),
                             ctx.link_bandwidth_gbps))
            if gk > 1:
                steps = math.ceil(math.log2(gk))
                add = cycles_to_ps(-(-b * m * n // arch.vector.ops_per_cycle), arch.clock_mhz)
                est += steps * (_bw_ps(int(b * m * n * acc_b), ctx.link_bandwidth_gbps) + add)
            score = (est, gk, -used, -gb, -gn, gm)
            if best is None or score < best[0]:
                best = (score, (gb, gm, gn, gk))
        return best[1] if best is not None else (1, 1, 1, 1)


def _bw_ps(nbytes: int, gbps: float) -> int:
    return 0 if math.isinf(gbps) or nbytes <= 0 else bytes_to_ps(int(nbytes), gbps)


def partition_op(mapping: MulticoreMapping, op: dict[str, Any], ctx: MeshContext) -> Partition:
    """``mapping.partition`` with the contract checked (a broken plug-in fails loudly here)."""
    if OP_CLASSES[op["op_class"]] == "link":
        raise ValueError("link operators are not partitioned over cores")
    part = mapping.partition(op, ctx)
    if not part.shares or len(part.shares) > ctx.cores:
        raise ValueError(f"multicore mapping {mapping.impl_name!r} returned {len(part.shares)} "
                         f"shares for {ctx.cores} cores (operator {op['name']})")
    if op["op_class"] in MATMUL_CLASSES:
        macs = sum(int(s["M"]) * int(s["K"]) * int(s["N"]) * int(s["batch"]) for s in part.shares)
        want = int(op["M"]) * int(op["K"]) * int(op["N"]) * int(op["batch"])
        if macs != want:
            raise ValueError(f"multicore mapping {mapping.impl_name!r} does not conserve MACs "
                             f"for {op['name']}: {macs} != {want}")
    return part
