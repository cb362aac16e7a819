"""Lab 2 starter: fill in the two TODO functions, then run

    python docs/labs/lab2_systolic/starter.py --out lab2_out

It simulates one Llama-2-7B layer (prefill, 512 tokens; decode, batch 8) on arrays of several
sizes, shapes and dataflows with ideal memory, and compares *your* first-order cycle model with
the simulator. Runs as-is (the TODO defaults give zeros).
Check yourself with ``ACCELSIM_LAB_IMPL=starter pytest tests/labs/test_lab2.py``.
"""

from __future__ import annotations

import math  # noqa: F401  (you will want math.ceil)
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pe_utilization(M: int, K: int, N: int, cycles: int, rows: int, cols: int) -> float:
    """Fraction of PE-cycles that did a useful multiply-accumulate, for out[M,N] = A[M,K] B[K,N]
    computed in ``cycles`` on a ``rows x cols`` array."""
    # TODO: one line.
    return 0.0


def first_order_cycles(M: int, K: int, N: int, rows: int, cols: int, dataflow: str) -> int:
    """Number of folds x the length of each fold's stream (ignore fill and drain).

    * ``os`` (output stationary): each PE owns one output; a fold covers a rows x cols block of
      the M x N output and streams the K reduction through.
    * ``ws`` (weight stationary): each PE holds one weight; a fold covers a rows x cols block of
      the K x N weights and streams the M input rows through. The preset pipelines folds: the
      next block of weights loads (one row per cycle, ``rows`` cycles) while this one streams.
    * ``is`` (input stationary): each PE holds one input; a fold covers a rows x cols block of
      the K x M (transposed) inputs and streams the N weight columns through.
    """
    # TODO: one case per dataflow.
    return 0


if __name__ == "__main__":
    import lab      # the lab's harness (runs the simulator, prints the tables)

    lab.main(impl=sys.modules[__name__])
