"""SRAM tiling of a GEMM: pick tile sizes and a loop order that minimise DRAM traffic.

The GEMM ``out[M,N] = A[M,K] . B[K,N]`` runs as a loop nest over tiles ``(Mt, Kt, Nt)`` with K
innermost, so an output tile accumulates on chip (in the ofmap/accumulator buffer, at the
accumulator width) and is written to DRAM once. Two loop orders are considered:

* ``mn`` (``for m: for n: for k``): an A row-panel stays resident across the n loop when
  ``nK == 1``; B tiles are re-read for every m block unless all of B fits.
* ``nm`` (``for n: for m: for k``): the transpose.

Every buffer is double-buffered: a tile may use half of its buffer (separate mode), or the
three double-buffered tiles together fit the unified buffer. Among the tilings that fit, the
mapper minimises ``DRAM bytes + first-tile bytes (its load is not hidden) + 4 KiB per tile`` (a
DMA descriptor's worth of fixed cost, so traffic ties go to fewer, larger tiles). Tile sizes along
the two dimensions that are mapped onto the array are at least the array's rows / columns (or the
whole dimension when it is smaller), so no tile leaves the array idle by construction.
Pure functions; ``tests/mapping/test_tiling.py``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..arch.config import SramConfig
from ..errors import SimulationError
from ..units import ceil_div

TILE_OVERHEAD_BYTES = 4096


@dataclass(frozen=True)
class GemmTiling:
    Mt: int
    Kt: int
    Nt: int
    order: str            # "mn" or "nm"
    a_bytes: int          # DRAM bytes read for A over the whole GEMM
    b_bytes: int          # DRAM bytes read for B
    c_bytes: int          # DRAM bytes written for the output

    tiles: int = 1        # tiles of one instance (nM * nK * nN)

    @property
    def dram_bytes(self) -> int:
        return self.a_bytes + self.b_bytes + self.c_bytes


def _candidates(dim: int, smallest: int = 8) -> np.ndarray:
    """Tile sizes tried for one dimension: ``smallest * 2**i`` below ``dim``, and ``dim``."""
    sizes = {dim}
    size = max(1, smallest)
    while size < dim:
        sizes.add(size)
        size *= 2
    return np.array(sorted(sizes), dtype=np.int64)



# NOTE(perf): pure and called with the same shapes for every design of a DSE sweep
# (scripts/bench_dse.py); results are immutable.
@functools.lru_cache(maxsize=8192)
def choose_tiling(M: int, K: int, N: int, sram: SramConfig, *, a_bytes: float, b_bytes: float,
                  c_bytes: float, acc_bytes: float, min_tile: tuple[int, int, int] = (8, 8, 8),
                  what: str = "GEMM") -> GemmTiling:
    """Best tiling of one GEMM instance for the given SRAM and element sizes (bytes/element).

    ``min_tile`` is the smallest ``(Mt, Kt, Nt)`` worth trying (the array's rows/columns along
    the dimensions it maps spatially); a dimension smaller than its minimum is one tile.
    """
    Mc, Kc, Nc = np.meshgrid(_candidates(M, min_tile[0]), _candidates(K, min_tile[1]),
                             _candidates(N, min_tile[2]), indexing="ij")
    Mc, Kc, Nc = Mc.ravel(), Kc.ravel(), Nc.ravel()
    a_tile, b_tile, acc_tile = Mc * Kc * a_bytes, Kc * Nc * b_bytes, Mc * Nc * acc_bytes
    cap = sram.capacity_bytes()
    acc_apart = sram.accumulator_kib * 1024      # accumulators in their own storage
    if sram.mode == "unified":
        fits = 2 * (a_tile + b_tile + (0 if acc_apart else acc_tile)) <= cap["unified"]
    else:
        fits = ((2 * a_tile <= cap["ifmap"]) & (2 * b_tile <= cap["filter"])
                & (acc_apart > 0 or 2 * acc_tile <= cap["ofmap"]))
    if acc_apart:
        fits = fits & (acc_tile <= acc_apart)
    if not fits.any():
        m, k, n = (min(d, t) for d, t in zip((M, K, N), min_tile))
        smallest = (m * k * a_bytes, k * n * b_bytes, m * n * acc_bytes)
        raise SimulationError(
            f"SRAM too small for one tile of {what} (M={M}, K={K}, N={N}): the smallest "
            f"double-buffered tile needs {2 * sum(smallest) / 1024:.1f} KiB "
            f"(ifmap/filter/ofmap {2 * smallest[0]:.0f}/{2 * smallest[1]:.0f}/"
            f"{2 * smallest[2]:.0f} B); the architecture has {sram.total_kib} KiB ({sram.mode})")
    Mc, Kc, Nc = Mc[fits], Kc[fits], Nc[fits]
    nM, nK, nN = ceil_div(M, Mc), ceil_div(K, Kc), ceil_div(N, Nc)
    a_total, b_total = M * K * a_bytes, K * N * b_bytes
    c_total = M * N * c_bytes
    tiles = nM * nK * nN
    # order mn: A panel resident across n when nK == 1; B resident when it is one tile.
    a_mn = np.where(nK == 1, a_total, a_total * nN)
    b_mn = np.where((nK == 1) & (nN == 1), b_total, b_total * nM)
    # order nm: the transpose.
    b_nm = np.where(nK == 1, b_total, b_total * nM)
    a_nm = np.where((nK == 1) & (nM == 1), a_total, a_total * nN)
    first = Mc * Kc * a_bytes + Kc * Nc * b_bytes
    score_mn = a_mn + b_mn + c_total + first + TILE_OVERHEAD_BYTES * tiles
    score_nm = a_nm + b_nm + c_total + first + TILE_OVERHEAD_BYTES * tiles
    i_mn, i_nm = int(np.argmin(score_mn)), int(np.argmin(score_nm))
    if score_mn[i_mn] <= score_nm[i_nm]:
        i, order, a_read, b_read = i_mn, "mn", a_mn[i_mn], b_mn[i_mn]
    else:
        i, order, a_read, b_read = i_nm, "nm", a_nm[i_nm], b_nm[i_nm]
    return GemmTiling(int(Mc[i]), int(Kc[i]), int(Nc[i]), order, int(math.ceil(a_read)),
                      int(math.ceil(b_read)), int(math.ceil(c_total)), int(tiles[i]))


def tile_schedule(M: int, K: int, N: int, t: GemmTiling, *, a_bytes: float, b_bytes: float,
                  c_bytes: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-tile ``(load_bytes, macs, store_bytes)`` in loop order, for one GEMM instance.

    The sums equal the tiling's DRAM reads, ``M*K*N`` MACs and the output bytes.
    """
    def sizes(dim: int, tile: int) -> np.ndarray:
        n = ceil_div(dim, tile)
        s = np.full(n, tile, dtype=np.int64)
        s[-1] = dim - tile * (n - 1)
        return s

    ms, ks, ns = sizes(M, t.Mt), sizes(K, t.Kt), sizes(N, t.Nt)
    nM, nK, nN = len(ms), len(ks), len(ns)
    if t.order == "mn":
        outer, inner = np.meshgrid(np.arange(nM), np.arange(nN), indexing="ij")
        mi, ni = outer.ravel(), inner.ravel()
    else:
        outer, inner = np.meshgrid(np.arange(nN), np.arange(nM), indexing="ij")
        ni, mi = outer.ravel(), inner.ravel()
    mi, ni = np.repeat(mi, nK), np.repeat(ni, nK)
    ki = np.tile(np.arange(nK), nM * nN)
    mt, kt, nt = ms[mi], ks[ki], ns[ni]
    a_load = (mt * kt * a_bytes).astype(np.float64)
    b_load = (kt * nt * b_bytes).astype(np.float64)
    if nK == 1:
        # A (order mn) or B (order nm) is loaded only when its block index changes.
        if t.order == "mn":
            a_load = np.where(np.r_[True, mi[1:] != mi[:-1]], a_load, 0)
            if nN == 1:
                b_load = np.where(np.r_[True, ni[1:] != ni[:-1]], b_load, 0)
        else:
            b_load = np.where(np.r_[True, ni[1:] != ni[:-1]], b_load, 0)
            if nM == 1:
                a_load = np.where(np.r_[True, mi[1:] != mi[:-1]], a_load, 0)
    last_k = ki == nK - 1
    store = np.where(last_k, mt * nt * c_bytes, 0.0)
    return (np.ceil(a_load + b_load).astype(np.int64), (mt * kt * nt).astype(np.int64),
            np.ceil(store).astype(np.int64))
