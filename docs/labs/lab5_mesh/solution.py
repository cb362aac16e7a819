"""Lab 5 reference solution: the TODO functions of ``starter.py``, filled in.

    python docs/labs/lab5_mesh/solution.py [--out lab5_out]

Runs the lab's harness (``lab.py``: the simulations, the handout's tables) with
``parallel_efficiency`` and ``link_bandwidth_gbps`` below.

Keep this file back from students: they get handout.md, starter.py, lab.py and labkit.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def parallel_efficiency(t_one: float, t_n: float, n: int) -> float:
    """Speed-up over one core divided by the core count."""
    return t_one / t_n / n


def link_bandwidth_gbps(flit_bytes: int, clock_mhz: float) -> float:
    """One mesh link moves one flit per cycle per direction."""
    return flit_bytes * clock_mhz / 1e3


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
