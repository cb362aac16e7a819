"""Lab 6 reference solution: the TODO functions of ``starter.py``, filled in.

    python docs/labs/lab6_dse/solution.py [--out lab6_out]

Runs the lab's harness (``lab.py``: the simulations, the handout's tables) with
``pareto_front`` and ``seed_spread`` below.

Keep this file back from students: they get handout.md, starter.py, lab.py and labkit.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates, both coordinates minimized (a point
    dominates another if it is <= in both and < in at least one). Sorted by the first
    coordinate. Duplicates: keep the first."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1], i))
    front, best_y = [], float("inf")
    for i in order:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def seed_spread(values: list[float]) -> float:
    """Worst / best over seeds (>= 1): how much a single run's answer depends on luck."""
    return max(values) / min(values)


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
