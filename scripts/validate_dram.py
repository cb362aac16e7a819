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
import os
import sys
import time
from pathlib import Path

import pandas as pd

from accelsim.hw.hbm import run_latency_probe, run_pattern, spec_from_dict

PATTERNS = {"stream": "stream", "rand_rd": "random", "rand_rw": "mixed"}
BW_TOL = 0.05
HIT_TOL = 0.05
LAT_TOL = 0.05


def reference_dir() -> Path:
    env = os.environ.get("ACCELSIM_REFERENCE")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "reference"
    return root / "dram"


def compare(scale: float = 1.0, *, seed: int = 0) -> pd.DataFrame:
    """One row per reference experiment: ours, reference, error, pass."""
    ref = pd.read_csv(reference_dir() / "ramulator2_hbm2.csv")
    rows = []
    for _, r in ref.iterrows():
        spec = spec_from_dict({"preset": "hbm2_2000", "channels": int(r["channels"]),
                               "mapping": r["addr_mapper"],
                               "read_queue": int(r["ctrl_read_buf"]),
                               "write_queue": int(r["ctrl_write_buf"]),
                               "frontend_per_tick": int(r["frontend_per_mem_tick"])})
        n = max(1000, int(r["n_requests"] * scale))
        t0 = time.perf_counter()
        ours = run_pattern(spec, PATTERNS[r["pattern"]], n, seed=seed)
        wall = time.perf_counter() - t0
        bw_err = ours["bandwidth_gbps"] / r["achieved_GBps"] - 1
        hit_err = ours["row_hit_frac"] - r["row_hit_frac"]
        rows.append({
            "channels": int(r["channels"]), "mapping": r["addr_mapper"],
            "pattern": PATTERNS[r["pattern"]], "requests": n,
            "bw_ours_gbps": ours["bandwidth_gbps"], "bw_ref_gbps": r["achieved_GBps"],
            "bw_err_pct": 100 * bw_err,
            "hit_ours": ours["row_hit_frac"], "hit_ref": r["row_hit_frac"],
            "hit_err_pts": 100 * hit_err,
            "lat_ours_ns": ours["avg_latency_ns"], "lat_ref_ns": r["avg_read_latency_ns_loaded"],
            "lat_err_pct": 100 * (ours["avg_latency_ns"] / r["avg_read_latency_ns_loaded"] - 1),
            "pass": abs(bw_err) <= BW_TOL and abs(hit_err) <= HIT_TOL,
            "wall_s": wall})
    return pd.DataFrame(rows)


def compare_latency(n_probes: int = 2000, *, seed: int = 0) -> pd.DataFrame:
    ref = pd.read_csv(reference_dir() / "ramulator2_latency_probe_hbm2.csv")
    r = ref.loc[ref["nop_counter_between_stream_reqs"].idxmax()]   # the ~unloaded row
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": int(r["channels"])})
    ours = run_latency_probe(spec, n_probes, seed=seed)
    err = ours["avg_latency_ns"] / r["avg_random_probe_latency_ns"] - 1
    return pd.DataFrame([{"experiment": "unloaded random-probe latency", "probes": n_probes,
                          "ours_ns": ours["avg_latency_ns"],
                          "ref_ns": r["avg_random_probe_latency_ns"], "err_pct": 100 * err,
                          "pass": abs(err) <= LAT_TOL}])


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
