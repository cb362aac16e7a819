"""Lab 3 starter: fill in the two TODO functions, then run

    python docs/labs/lab3_memory/starter.py --out lab3_out

It sweeps DRAM bandwidth, decode batch and SRAM size on one Llama-2-7B layer, then runs the
bank-level HBM model, and prints the tables of the handout (~20 s). Runs as-is (the TODO
defaults give wrong knees and crossover).
Check yourself with ``ACCELSIM_LAB_IMPL=starter pytest tests/labs/test_lab3.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def knee(xs: list[float], times: list[float], tol: float = 0.05) -> float:
    """The smallest x of a sweep whose time is within ``tol`` (relative) of the best time of
    the sweep: past it, more of x buys (almost) nothing. ``xs`` is ascending."""
    # TODO
    return xs[-1]


def crossover_batch(ridge_flop_per_byte: float, bytes_per_weight: float) -> float:
    """The decode batch at which a weight GEMM's arithmetic intensity reaches the ridge point.
    Each weight is fetched from DRAM once (``bytes_per_weight`` bytes) and used in ``batch``
    multiply-accumulates. Ignore the activations' bytes."""
    # TODO
    return 0.0


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
