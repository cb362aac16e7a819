"""Lab 1 starter: fill in the four TODO functions, then run

    python docs/labs/lab1_cli_roofline/starter.py --out lab1_out

It runs the handout's commands (``accelsim trace gen`` / ``accelsim simulate --json``), reads the
JSON reports and prints every systolic operator next to what *your* roofline functions predict.
It runs as-is: until you fill the TODOs the roofline columns are wrong (zeros, "TODO").
Check yourself with ``ACCELSIM_LAB_IMPL=starter pytest tests/labs/test_lab1.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def ridge_point(peak_flops_per_s: float, bandwidth_bytes_per_s: float) -> float:
    """Arithmetic intensity (FLOP per DRAM byte) where the memory roof meets the compute roof."""
    # TODO: one line.
    return 0.0


def arithmetic_intensity(flops: float, dram_bytes: float) -> float:
    """FLOP per byte moved to or from DRAM."""
    # TODO: one line.
    return 0.0


def roofline_time_ns(flops: float, dram_bytes: float, peak_flops_per_s: float,
                     bandwidth_bytes_per_s: float) -> float:
    """The least time (ns) the roofline allows for an operator that does ``flops`` and moves
    ``dram_bytes``."""
    # TODO: the slower of two times. Mind the units (seconds -> ns).
    return 0.0


def roofline_bound(intensity: float, ridge: float) -> str:
    """``"memory"`` or ``"compute"``: which roof limits an operator of this intensity?"""
    # TODO
    return "TODO"


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
