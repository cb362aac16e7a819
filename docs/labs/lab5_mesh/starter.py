"""Lab 5 starter: fill in the two TODO functions, then run

    python docs/labs/lab5_mesh/starter.py --out lab5_out

It simulates one Llama-2-7B layer on meshes of 1, 4 and 16 cores, then narrows the mesh links
(~1 minute), and prints the handout's tables. Runs as-is (TODO defaults give zeros).
Check yourself with ``ACCELSIM_LAB_IMPL=starter pytest tests/labs/test_lab5.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def parallel_efficiency(t_one: float, t_n: float, n: int) -> float:
    """Speed-up over one core (t_one / t_n) divided by the number of cores n."""
    # TODO
    return 0.0


def link_bandwidth_gbps(flit_bytes: int, clock_mhz: float) -> float:
    """Bandwidth of one mesh link in one direction (GB/s): one flit per NoC cycle."""
    # TODO: mind the units (MHz -> cycles/s, bytes/s -> GB/s).
    return 0.0


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
