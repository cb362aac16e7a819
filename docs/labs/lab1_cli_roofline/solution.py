"""Lab 1 reference solution: the TODO functions of ``starter.py``, filled in.

    python docs/labs/lab1_cli_roofline/solution.py [--out lab1_out]

Runs the lab's harness (``lab.py``: the simulations, the handout's tables) with
the four roofline functions below.

Keep this file back from students: they get handout.md, starter.py, lab.py and labkit.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def ridge_point(peak_flops_per_s: float, bandwidth_bytes_per_s: float) -> float:
    """Arithmetic intensity (FLOP per DRAM byte) where the memory roof meets the compute roof."""
    return peak_flops_per_s / bandwidth_bytes_per_s


def arithmetic_intensity(flops: float, dram_bytes: float) -> float:
    """FLOP per byte moved to or from DRAM."""
    return flops / dram_bytes


def roofline_time_ns(flops: float, dram_bytes: float, peak_flops_per_s: float,
                     bandwidth_bytes_per_s: float) -> float:
    """The least time the roofline allows: the slower of computing at peak and moving the bytes
    at peak bandwidth."""
    return max(flops / peak_flops_per_s, dram_bytes / bandwidth_bytes_per_s) * 1e9


def roofline_bound(intensity: float, ridge: float) -> str:
    """``"memory"`` left of the ridge point, ``"compute"`` right of it."""
    return "memory" if intensity < ridge else "compute"


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
