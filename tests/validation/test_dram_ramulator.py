"""The bank-level HBM model against Ramulator 2.1 (``../shared/reference/dram/``).

Same experiments as the reference (see ``scripts/validate_dram.py`` for the full-size table):
bandwidth within 5 %, row-hit fraction within 5 points, unloaded latency within 5 %. Reduced
request counts by default; ``pytest --full-validation`` runs the reference sizes.
"""

from __future__ import annotations

import pandas as pd
import pytest

from accelsim.hw.hbm import run_latency_probe, run_pattern, spec_from_dict

pytestmark = pytest.mark.validation

PATTERNS = {"stream": "stream", "rand_rd": "random", "rand_rw": "mixed"}
REDUCED = {1: 40_000, 8: 60_000}   # requests per run at reduced size (per channel count)


def _rows(reference_dir):
    ref = pd.read_csv(reference_dir / "dram" / "ramulator2_hbm2.csv")
    return [r for _, r in ref.iterrows()]




@pytest.fixture(scope="module")
def reference_rows(reference_dir):
    return _rows(reference_dir)


@pytest.mark.parametrize("index", range(12))
def test_bandwidth_and_row_hits_match_ramulator(reference_rows, full_validation, index):
    r = reference_rows[index]
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": int(r["channels"]),
                           "mapping": r["addr_mapper"], "read_queue": int(r["ctrl_read_buf"]),
                           "write_queue": int(r["ctrl_write_buf"]),
                           "frontend_per_tick": int(r["frontend_per_mem_tick"])})
    n = int(r["n_requests"]) if full_validation else REDUCED[int(r["channels"])]
    ours = run_pattern(spec, PATTERNS[r["pattern"]], n, seed=0)
    where = f"{r['channels']} ch {r['addr_mapper']} {r['pattern']}"
    assert ours["bandwidth_gbps"] == pytest.approx(r["achieved_GBps"], rel=0.05), where
    assert ours["row_hit_frac"] == pytest.approx(r["row_hit_frac"], abs=0.05), where


def test_unloaded_latency_matches_ramulator_probe(reference_dir):
    ref = pd.read_csv(reference_dir / "dram" / "ramulator2_latency_probe_hbm2.csv")
    r = ref.loc[ref["nop_counter_between_stream_reqs"].idxmax()]
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": int(r["channels"])})
    ours = run_latency_probe(spec, 2000, seed=0)
    assert ours["avg_latency_ns"] == pytest.approx(r["avg_random_probe_latency_ns"], rel=0.05)
