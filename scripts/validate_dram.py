#!/usr/bin/env python
"""Compare the bank-level HBM model with Ramulator 2.1 (``../shared/reference/dram/``).

For every row of ``ramulator2_hbm2.csv`` this runs the same experiment (same channels, address
mapping, pattern, request count, 32-B requests, 16 requests offered per memory tick, 32-entry
queues) and prints ours vs the reference: bandwidth (must be within 5 %), row-hit fraction (within
5 points) and loaded read latency (reported, not a criterion). Then the unloaded-latency probe of
``ramulator2_latency_probe_hbm2.csv`` (within 5 %).

    python scripts/validate_dram.py            # full size (1M / 200k requests; ~1-2 min)
    python scripts/validate_dram.py --scale 0.1
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from accelsim.validation.dram import BW_TOL, HIT_TOL, LAT_TOL, compare, compare_latency  # noqa: F401


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the reference requests")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    table = compare(args.scale, seed=args.seed)
    lat = compare_latency(seed=args.seed)
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:.3f}".format):
        print("Bank-level HBM2 model vs Ramulator 2.1 (bandwidth within 5 %, row-hit within 5 pts;"
              " loaded latency informative)")
        print(table.to_string(index=False))
        print()
        print(lat.to_string(index=False))
    ok = bool(table["pass"].all() and lat["pass"].all())
    print(f"\n{'PASS' if ok else 'FAIL'}: {int(table['pass'].sum())}/{len(table)} bandwidth rows, "
          f"latency probe {'ok' if lat['pass'].all() else 'off'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
