"""Mesh NoC against BookSim 2: zero-load latency, latency up to 70 % of saturation, saturation.

Reads ``../shared/reference/noc/booksim_mesh.csv`` and ``booksim_mesh_saturation.csv`` and runs
the same configurations (BookSim's stock mesh router, uniform random traffic incl. self, XY
routing) through ``accelsim.hw.noc.run_synthetic``. Prints one row per comparison: ours vs
reference, relative (or absolute, for zero-load) error, pass/fail.

Acceptance: zero-load within 1 cycle; average latency within 10 % at every reference offered
load up to 70 % of the reference saturation; saturation throughput (max accepted rate over a
sweep of our own) within 10 %. Saturation is found without looking at the reference: offered
loads step up from half the channel-load bound in steps of 2 % of the bound until two points
are saturated.

    python scripts/validate_noc.py            # full table (a few minutes on one core)
    python scripts/validate_noc.py --quick    # reduced windows (what the pytest runs)
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from accelsim.validation.noc import HEADER, compare

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows, fewer points")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rows = compare(quick=args.quick, seed=args.seed, latency_points=6 if args.quick else None)
    print("accelsim mesh NoC vs BookSim 2 (stock meshconfig, uniform random incl. self, XY)")
    print("latency: cycles, creation -> tail ejection; rates: flits/node/cycle; "
          "saturation row 'offered' column = channel-load bound")
    print(HEADER)
    for row in rows:
        print(row.format())
    failed = [r for r in rows if not r.ok]
    lat = [abs(r.error) for r in rows if r.metric == "latency"]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} pass; latency |error| max {max(lat):.1%}, "
          f"mean {np.mean(lat):.1%}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
