"""Lab 6 starter: fill in the two TODO functions, then run

    python docs/labs/lab6_dse/starter.py --out lab6_out

It runs random search, Optuna TPE and PPO on envs/llama2-7b-decode-latency-under-area.yaml,
32 evaluations each, seeds 0-3 (~30 s), and prints the handout's tables with *your* Pareto
front. Runs as-is (the TODO defaults give an empty front and a spread of 1).
Check yourself with ``ACCELSIM_LAB_IMPL=starter pytest tests/labs/test_lab6.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points that no other point dominates, both coordinates minimized
    (a dominates b if a <= b in both coordinates and a < b in at least one). Return them sorted
    by the first coordinate; of exact duplicates keep the first index."""
    # TODO: sort, then one pass keeping the best second coordinate so far.
    return []


def seed_spread(values: list[float]) -> float:
    """Worst / best over seeds (>= 1; values are minimized): how much one run depends on luck."""
    # TODO
    return 1.0


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
