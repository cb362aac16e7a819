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

    python scripts/validate_noc.py [--quick]   or   accelsim validate --only noc
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from . import Row as ValidationRow, register_validation
from ..hw.noc import (MeshConfig, ideal_saturation_rate, run_synthetic,
                             saturation_throughput, traffic_matrix, zero_load_latency_cycles)

REPO = Path(__file__).resolve().parents[2]
LATENCY_TOL = 0.10
SATURATION_TOL = 0.10
ZERO_LOAD_TOL_CYCLES = 1.0
FRACTION_OF_SATURATION = 0.70


@dataclass
class Row:
    mesh: str
    packet_flits: int
    metric: str
    offered: float
    ours: float
    reference: float
    error: float
    ok: bool

    def format(self) -> str:
        err = f"{self.error:+.2f} cyc" if self.metric.startswith("zero_load") else f"{self.error:+.1%}"
        return (f"{self.mesh:>5} {self.packet_flits:>3} {self.metric:<14} {self.offered:7.3f} "
                f"{self.ours:9.3f} {self.reference:9.3f} {err:>10} {'PASS' if self.ok else 'FAIL':>5}")


HEADER = (f"{'mesh':>5} {'P':>3} {'metric':<14} {'offered':>7} {'ours':>9} {'booksim':>9} "
          f"{'error':>10} {'pass':>5}")


def reference_dir() -> Path:
    env = os.environ.get("ACCELSIM_REFERENCE")
    return Path(env) if env else REPO.parent / "shared" / "reference"


def booksim_config(k: int) -> MeshConfig:
    """BookSim's stock meshconfig (the preset files hold the same numbers, with sources)."""
    return MeshConfig(columns=k, rows=k)


def compare(*, quick: bool = False, seed: int = 1, latency_points: int | None = None,
            ref_dir: Path | None = None) -> list[Row]:
    """All comparison rows. ``quick``: short windows; ``latency_points``: at most this many
    evenly spaced reference loads per configuration (None = all)."""
    ref_dir = ref_dir or reference_dir()
    sweep = pd.read_csv(ref_dir / "noc" / "booksim_mesh.csv")
    summary = pd.read_csv(ref_dir / "noc" / "booksim_mesh_saturation.csv")
    windows = (dict(warmup_cycles=1000, measure_cycles=3000, drain_cycles=3000) if quick
               else dict(warmup_cycles=3000, measure_cycles=10000, drain_cycles=10000))
    rows: list[Row] = []
    for _, s in summary.iterrows():
        k, p = int(s["k"]), int(s["packet_size_flits"])
        cfg = booksim_config(k)
        mesh = f"{k}x{k}"
        ref_sat = float(s["saturation_accepted_flit_rate(max measured)"])
        ok_rows = sweep[(sweep.k == k) & (sweep.packet_size_flits == p) & (sweep.status == "ok")]
        # zero-load: the reference's lowest load, and the closed form
        low = ok_rows.sort_values("offered_flit_rate_per_node_per_cycle").iloc[0]
        zl_windows = dict(windows, measure_cycles=windows["measure_cycles"] * (4 if quick else 2))
        res = run_synthetic(cfg, rate=float(low.offered_flit_rate_per_node_per_cycle),
                            packet_flits=p, seed=seed, **zl_windows)
        ref_zl = float(low.avg_packet_latency_cycles)
        rows.append(Row(mesh, p, "zero_load", res.offered_flits_per_node_cycle,
                        res.avg_packet_latency_cycles, ref_zl,
                        res.avg_packet_latency_cycles - ref_zl,
                        abs(res.avg_packet_latency_cycles - ref_zl) <= ZERO_LOAD_TOL_CYCLES))
        formula = float(s["zero_load_formula_cycles"])
        d_bar = float(s["avg_manhattan_hops"])
        ours_formula = (zero_load_latency_cycles(cfg, hops=0, flits=p)
                        + d_bar * (cfg.router_pipeline_cycles + cfg.link_latency_cycles))
        rows.append(Row(mesh, p, "zero_load_T0", 0.0, ours_formula, formula,
                        ours_formula - formula, abs(ours_formula - formula) <= ZERO_LOAD_TOL_CYCLES))
        # latency up to 70 % of the reference saturation throughput
        loads = ok_rows[ok_rows.offered_flit_rate_per_node_per_cycle
                        <= FRACTION_OF_SATURATION * ref_sat + 1e-9]
        loads = loads.sort_values("offered_flit_rate_per_node_per_cycle")
        if latency_points is not None and len(loads) > latency_points:
            idx = np.linspace(0, len(loads) - 1, latency_points).round().astype(int)
            loads = loads.iloc[np.unique(idx)]
        for _, ref in loads.iterrows():
            rate = float(ref.offered_flit_rate_per_node_per_cycle)
            res = run_synthetic(cfg, rate=rate, packet_flits=p, seed=seed, **windows)
            err = (res.avg_packet_latency_cycles - ref.avg_packet_latency_cycles) \
                / ref.avg_packet_latency_cycles
            rows.append(Row(mesh, p, "latency", rate, res.avg_packet_latency_cycles,
                            float(ref.avg_packet_latency_cycles), err, abs(err) <= LATENCY_TOL))
        # saturation: our own sweep upward from half the channel-load bound
        bound = ideal_saturation_rate(cfg, traffic_matrix(cfg, "uniform"))
        results, saturated, i = [], 0, 0
        step = 0.05 if quick else 0.02
        while saturated < 2:
            rate = round(bound * (0.5 + step * i), 4)
            if rate > 1.0:
                break
            r = run_synthetic(cfg, rate=rate, packet_flits=p, seed=seed, **windows)
            results.append(r)
            saturated += r.saturated
            i += 1
        sat = saturation_throughput(results)
        err = (sat - ref_sat) / ref_sat
        rows.append(Row(mesh, p, "saturation", bound, sat, ref_sat, err,
                        abs(err) <= SATURATION_TOL))
    return rows




@register_validation("noc", "mesh NoC latency and saturation vs BookSim 2")
def check(reference_dir: Path, quick: bool) -> list[ValidationRow]:
    rows = compare(quick=quick, latency_points=3 if quick else None, ref_dir=reference_dir)
    out = []
    for r in rows:
        if r.metric.startswith("zero_load"):
            goal, err = "within 1 cycle", r.error
        else:
            goal = "within 10%"
            err = r.error
        label = {"zero_load": "zero-load latency (cycles)",
                 "zero_load_T0": "zero-load formula (cycles)",
                 "latency": f"avg latency @ {r.offered:.3f} flits/node/cycle",
                 "saturation": "saturation throughput (flits/node/cycle)"}[r.metric]
        out.append(ValidationRow("mesh NoC", "BookSim 2", f"{r.mesh} P={r.packet_flits} {label}",
                                 float(r.ours), float(r.reference), float(err), goal, bool(r.ok)))
    return out
