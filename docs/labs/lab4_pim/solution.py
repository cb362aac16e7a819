"""Lab 4 reference solution: the TODO functions of ``starter.py``, filled in.

    python docs/labs/lab4_pim/solution.py [--out lab4_out]

Runs the lab's harness (``lab.py``: the simulations, the handout's tables) with
``pim_peak_gbps`` and ``pim_wins_from`` below.

Keep this file back from students: they get handout.md, starter.py, lab.py and labkit.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pim_peak_gbps(channels: int, banks_per_channel: int, macs_per_bank: int,
                  element_bytes: int, comp_cycles: int, clock_mhz: float) -> float:
    """Bytes per second that all banks' MAC units read from their row buffers at full rate, in
    GB/s: each COMP command makes every bank do ``macs_per_bank`` MACs on operands of
    ``element_bytes`` from its row buffer, one COMP every ``comp_cycles``."""
    per_cycle = channels * banks_per_channel * macs_per_bank * element_bytes / comp_cycles
    return per_cycle * clock_mhz / 1e3


def pim_wins_from(batches: list[int], npu: list[float], pim: list[float]) -> int | None:
    """The smallest batch from which the PIM system's throughput is >= the NPU's at it and at
    every larger batch of the sweep (None if never)."""
    win = None
    for b, x, y in zip(reversed(batches), reversed(npu), reversed(pim)):
        if y >= x:
            win = b
        else:
            break
    return win


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
