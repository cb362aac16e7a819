"""Systolic compute cycles vs SCALE-Sim v3 (reference/scalesim/reference.csv): exact match."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..hw.systolic import gemm_timing
from . import Row, register_validation


@register_validation("scalesim", "systolic compute cycles and mapping efficiency vs SCALE-Sim v3")
def check(reference_dir: Path, quick: bool) -> list[Row]:
    ref = pd.read_csv(reference_dir / "scalesim" / "reference.csv")
    rows = []
    for (rows_, cols, df), group in ref.groupby(["array_rows", "array_cols", "dataflow"]):
        mismatches, map_err, ours_map, ref_map, finished = 0, 0.0, 0.0, 0.0, 0
        for r in group.itertuples():
            t = gemm_timing(r.M, r.K, r.N, r.array_rows, r.array_cols, r.dataflow)
            expected = r.formula_compute_cycles if r.status != "ok" else r.compute_cycles
            mismatches += int(t.scalesim_compute_cycles != expected)
            if r.status == "ok":
                map_err = max(map_err, abs(100 * t.mapping_efficiency - r.mapping_eff_pct))
                ours_map += 100 * t.mapping_efficiency
                ref_map += r.mapping_eff_pct
                finished += 1
        label = f"{rows_}x{cols} {df}"
        rows.append(Row("systolic", "SCALE-Sim 3.0.0", f"GEMMs with exact compute cycles, {label}",
                        float(len(group) - mismatches), float(len(group)), float(mismatches),
                        "0 mismatches", mismatches == 0))
        rows.append(Row("systolic", "SCALE-Sim 3.0.0", f"mean mapping efficiency %, {label}",
                        ours_map / finished, ref_map / finished, map_err,
                        "max abs err < 0.001 pt", map_err < 1e-3))
    return rows
