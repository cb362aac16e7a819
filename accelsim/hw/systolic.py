"""Systolic-array timing: per-dataflow closed forms of fill + stream + drain over folds.

What is modelled: an R x C array of MAC PEs running one GEMM ``out[M,N] = A[M,K] . B[K,N]`` in one
of three dataflows. The GEMM is *folded* onto the array: two of (M, N, K) are spatially mapped
(``Sr`` rows, ``Sc`` columns) and the third is streamed through in ``T`` cycles:

=========  ==============  ==============  ============
dataflow   array rows (Sr)  array cols (Sc)  streamed (T)
=========  ==============  ==============  ============
``os``     M                N                K
``ws``     K                N                M
``is``     K                M                N
=========  ==============  ==============  ============

Each fold pays the full pipeline fill and drain: ``T + R + C - 2`` cycles (os), ``T + 2R + C - 2``
(ws/is: R more cycles to shift the stationary operand in). Folds run one after another.
This reproduces SCALE-Sim v3's compute cycles exactly (`../shared/research/scalesim.md` §3).

Cycle convention: accelsim reports durations, ``folds * cycles_per_fold``. SCALE-Sim reports the
index of the last busy cycle, which is one less (its issue #125); ``scalesim_compute_cycles``
returns SCALE-Sim's number.

With ``fold_pipelining=True`` (TPU-style double-buffered PE registers), the next fold's stationary
preload / output drain overlaps the current fold's stream: each fold costs ``max(T, R)`` and the
fill and drain are paid once. This is not what SCALE-Sim does; presets say which they use.

Units: cycles of the array's clock. Ignores: sparsity, SRAM bank conflicts (SCALE-Sim USER-mode
layout model).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..units import ceil_div

DATAFLOWS = ("os", "ws", "is")



def fold_dims(M: int, K: int, N: int, dataflow: str) -> tuple[int, int, int]:
    """``(Sr, Sc, T)``: dims mapped onto array rows, array columns, and streamed over time."""
    if dataflow == "os":
        return M, N, K
    if dataflow == "ws":
        return K, N, M
    if dataflow == "is":
        return K, M, N
    raise ValueError(f"unknown dataflow {dataflow!r}; expected one of {DATAFLOWS}")


@dataclass(frozen=True)
class SystolicTiming:
    """Timing of one GEMM on one array (all counts in array cycles)."""

    folds: int
    cycles_per_fold: int
    compute_cycles: int          # duration, accelsim convention
    macs: int
    mapping_efficiency: float    # mean used PEs / (R*C) over folds, as SCALE-Sim defines it

    @property
    def scalesim_compute_cycles(self) -> int:
        """SCALE-Sim's reported "Total Cycles" (index of the last cycle = duration - 1)."""
        return self.compute_cycles - 1

    def utilization(self, rows: int, cols: int) -> float:
        """MACs / (compute cycles x PEs): SCALE-Sim's "Overall Util" as a fraction."""
        return self.macs / (self.compute_cycles * rows * cols) if self.compute_cycles else 0.0


@functools.lru_cache(maxsize=8192)   # NOTE(perf): pure; repeated shapes in DSE (bench_dse.py)
def gemm_timing(M: int, K: int, N: int, rows: int, cols: int, dataflow: str, *,
                fold_pipelining: bool = False) -> SystolicTiming:
    """Closed-form timing of ``out[M,N] = A[M,K] . B[K,N]`` on a ``rows x cols`` array.

    Example:
        >>> t = gemm_timing(512, 128, 512, 32, 32, "os")
        >>> t.folds, t.cycles_per_fold, t.scalesim_compute_cycles
        (256, 190, 48639)
    """
    for name, value in (("M", M), ("K", K), ("N", N), ("rows", rows), ("cols", cols)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    Sr, Sc, T = fold_dims(M, K, N, dataflow)
    row_folds, col_folds = ceil_div(Sr, rows), ceil_div(Sc, cols)
    folds = row_folds * col_folds
    stationary_preload = 0 if dataflow == "os" else rows
    fill_drain = rows + cols - 2 + stationary_preload
    if fold_pipelining:
        cycles_per_fold = max(T, rows)
        compute = folds * cycles_per_fold + fill_drain
    else:
        cycles_per_fold = T + fill_drain
        compute = folds * cycles_per_fold
    mapping = (Sr / (rows * row_folds)) * (Sc / (cols * col_folds))
    return SystolicTiming(folds=folds, cycles_per_fold=cycles_per_fold, compute_cycles=compute,
                          macs=M * K * N, mapping_efficiency=mapping)
