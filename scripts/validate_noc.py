"""Mesh NoC against BookSim 2: prints every comparison (the logic and goals are in
``accelsim.validation.noc``).

    python scripts/validate_noc.py [--quick]
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
