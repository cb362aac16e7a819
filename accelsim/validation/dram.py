"""Bank-level HBM vs Ramulator 2.1: bandwidth, row hits and latency on the reference runs.

The same experiments as ``../shared/reference/dram/`` (32-byte requests; stream / random /
50-50 mixed; the reference frontend and controller queues). Goals: bandwidth within 5 %,
row-hit fraction within 5 points, unloaded latency within 5 %.

    python scripts/validate_dram.py [--scale S]   or   accelsim validate --only dram
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ..hw.hbm import run_latency_probe, run_pattern, spec_from_dict
from . import Row, register_validation

PATTERNS = {"stream": "stream", "rand_rd": "random", "rand_rw": "mixed"}
BW_TOL = 0.05
HIT_TOL = 0.05
LAT_TOL = 0.05


def reference_dir() -> Path:
    from . import default_reference_dir

    return default_reference_dir() / "dram"


def compare(scale: float = 1.0, *, seed: int = 0, ref_dir: Path | None = None) -> pd.DataFrame:
    """One row per reference experiment: ours, reference, error, pass."""
    ref = pd.read_csv((ref_dir or reference_dir()) / "ramulator2_hbm2.csv")
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


def compare_latency(n_probes: int = 2000, *, seed: int = 0,
                    ref_dir: Path | None = None) -> pd.DataFrame:
    ref = pd.read_csv((ref_dir or reference_dir()) / "ramulator2_latency_probe_hbm2.csv")
    r = ref.loc[ref["nop_counter_between_stream_reqs"].idxmax()]   # the ~unloaded row
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": int(r["channels"])})
    ours = run_latency_probe(spec, n_probes, seed=seed)
    err = ours["avg_latency_ns"] / r["avg_random_probe_latency_ns"] - 1
    return pd.DataFrame([{"experiment": "unloaded random-probe latency", "probes": n_probes,
                          "ours_ns": ours["avg_latency_ns"],
                          "ref_ns": r["avg_random_probe_latency_ns"], "err_pct": 100 * err,
                          "pass": abs(err) <= LAT_TOL}])




@register_validation("dram", "bank-level HBM bandwidth, row hits and latency vs Ramulator 2")
def check(reference_dir: Path, quick: bool) -> list[Row]:
    table = compare(0.05 if quick else 1.0, ref_dir=reference_dir / "dram")
    rows = []
    for r in table.itertuples():
        label = f"{r.channels} ch {r.mapping} {r.pattern}"
        rows.append(Row("HBM", "Ramulator 2.1", f"bandwidth GB/s, {label}", float(r.bw_ours_gbps),
                        float(r.bw_ref_gbps), float(r.bw_err_pct) / 100, "within 5%",
                        abs(r.bw_err_pct) <= 100 * BW_TOL))
        rows.append(Row("HBM", "Ramulator 2.1", f"row-hit fraction, {label}", float(r.hit_ours),
                        float(r.hit_ref), float(r.hit_err_pts), "within 5 points",
                        abs(r.hit_err_pts) <= 100 * HIT_TOL))
    lat = compare_latency(500 if quick else 2000, ref_dir=reference_dir / "dram").iloc[0]
    rows.append(Row("HBM", "Ramulator 2.1", "unloaded latency ns", float(lat.ours_ns),
                    float(lat.ref_ns), float(lat.err_pct) / 100, "within 5%", bool(lat["pass"])))
    return rows
