"""Lab 4 starter: fill in the two TODO functions, then run

    python docs/labs/lab4_pim/starter.py --out lab4_out

It simulates GPT3-7B decode (TP 4) on the NeuPIMs NPU with five memory/scheduling systems at
batch 32-512 (~10 s) and prints the handout's tables. Runs as-is (TODO defaults: zeros, None).
Check yourself with ``ACCELSIM_LAB_IMPL=starter pytest tests/labs/test_lab4.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pim_peak_gbps(channels: int, banks_per_channel: int, macs_per_bank: int,
                  element_bytes: int, comp_cycles: int, clock_mhz: float) -> float:
    """GB/s that all banks' MAC units read from their row buffers at full rate: each COMP
    command makes every bank do ``macs_per_bank`` MACs on ``element_bytes`` operands read from
    its row buffer, one COMP every ``comp_cycles`` DRAM cycles."""
    # TODO
    return 0.0


def pim_wins_from(batches: list[int], npu: list[float], pim: list[float]) -> int | None:
    """The smallest batch from which the PIM system's throughput (``pim``) is >= the NPU-only
    throughput (``npu``) at that batch and at every larger batch of the sweep; None if never.
    The three lists are aligned, batches ascending."""
    # TODO
    return None


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
