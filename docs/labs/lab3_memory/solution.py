"""Lab 3 reference solution: the TODO functions of ``starter.py``, filled in.

    python docs/labs/lab3_memory/solution.py [--out lab3_out]

Runs the lab's harness (``lab.py``: the simulations, the handout's tables) with
``knee`` and ``crossover_batch`` below.

Keep this file back from students: they get handout.md, starter.py, lab.py and labkit.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def knee(xs: list[float], times: list[float], tol: float = 0.05) -> float:
    """The smallest x of a sweep whose time is within ``tol`` of the best time: beyond it,
    more of x buys (almost) nothing. ``xs`` ascending."""
    best = min(times)
    return next(x for x, t in zip(xs, times) if t <= best * (1 + tol))


def crossover_batch(ridge_flop_per_byte: float, bytes_per_weight: float) -> float:
    """Decode batch at which a weight GEMM reaches the ridge point: each weight (fetched once,
    ``bytes_per_weight`` bytes) is used by ``batch`` MACs = 2 * batch FLOP."""
    return ridge_flop_per_byte * bytes_per_weight / 2


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
