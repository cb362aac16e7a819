"""Lab 2 reference solution: the TODO functions of ``starter.py``, filled in.

    python docs/labs/lab2_systolic/solution.py [--out lab2_out]

Runs the lab's harness (``lab.py``: the simulations, the handout's tables) with
``pe_utilization`` and ``first_order_cycles`` below.

Keep this file back from students: they get handout.md, starter.py, lab.py and labkit.py.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pe_utilization(M: int, K: int, N: int, cycles: int, rows: int, cols: int) -> float:
    """Fraction of PE-cycles that did a useful multiply-accumulate."""
    return M * K * N / (cycles * rows * cols)


def first_order_cycles(M: int, K: int, N: int, rows: int, cols: int, dataflow: str) -> int:
    """Folds x the length of each fold's stream, ignoring fill and drain.

    * ``os``: the array holds an ``rows x cols`` block of outputs; operands stream through for
      ``K`` cycles; folds = ceil(M/rows) * ceil(N/cols).
    * ``ws``: it holds a ``rows x cols`` block of weights (K x N); the ``M`` input rows stream
      through; with fold pipelining the next block loads (``rows`` cycles) while this one
      streams, so a fold takes ``max(rows, M)``; folds = ceil(K/rows) * ceil(N/cols).
    * ``is``: it holds a block of inputs (K x M, K on rows); the ``N`` weight columns stream
      through; folds = ceil(K/rows) * ceil(M/cols).
    """
    if dataflow == "os":
        return math.ceil(M / rows) * math.ceil(N / cols) * K
    if dataflow == "ws":
        return math.ceil(K / rows) * math.ceil(N / cols) * max(rows, M)
    if dataflow == "is":
        return math.ceil(K / rows) * math.ceil(M / cols) * N
    raise ValueError(f"unknown dataflow {dataflow!r}")


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
