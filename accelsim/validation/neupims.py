"""NeuPIMs (ASPLOS'24) system ratios against the upstream simulator's runs and the paper.

Reference: ``../shared/reference/neupims/measured_upstream_runs.csv`` (GPT3-7B TP4, batch 512,
ShareGPT trace #0: throughput of each ablation step relative to naive NPU+PIM) and
``paper_headline_results.csv`` (NeuPIMs / NPU-only 2.4x). Ours: the mean over sampled
steady-state batches (``engine.neupims.steady_state_batch``) of each system's tokens/s.

Goals: every ratio within 15 % of the upstream runs; NeuPIMs / NPU-only within 25 % of 2.4x.

    python scripts/reproduce_neupims.py [--quick]   or   accelsim validate --only neupims
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

import numpy as np

from . import Row, register_validation

#: (system file name, label), in ablation order.
SYSTEMS = (("naive", "naive NPU+PIM"), ("drb", "+ dual row buffer"),
           ("drb_gmlbp", "+ bin packing (GMLBP)"), ("neupims", "full NeuPIMs (+ SBI)"),
           ("npu_only", "NPU-only"))
#: measured_upstream_runs.csv ``speedup_vs_newton_rr`` (used when the CSV is not at hand).
REFERENCE_RATIOS = {"naive": 1.000, "drb": 1.095, "drb_gmlbp": 1.230, "neupims": 1.574}
_RUN_IDS = {"naive": "bs512_newton_rr", "drb": "bs512_drb_rr", "drb_gmlbp": "bs512_drb_clb",
            "neupims": "bs512_neupims_full"}
PAPER_NEUPIMS_OVER_NPU_ONLY = 2.4
RATIO_TOL = 0.15
NPU_ONLY_TOL = 0.25


def reference_ratios(reference_dir: Path) -> dict[str, float]:
    path = Path(reference_dir) / "neupims" / "measured_upstream_runs.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = {r["run_id"]: r for r in csv.DictReader(f)}
    return {name: float(rows[run]["speedup_vs_newton_rr"]) for name, run in _RUN_IDS.items()}


def run_ratios(*, batch: int = 512, seeds: Iterable[int] = range(10), trace: str | None = None,
               model: str = "gpt3-7b", tp: int = 4, dataset: str = "sharegpt",
               warmup_steps: int = 4096, timeline: str | None = None) -> dict:
    """Throughput of every system relative to naive NPU+PIM, averaged over sampled batches
    (ratio of mean tokens/s), and each system's energy (``accelsim.cost.estimate_decode``: mean
    mJ per token, average and memory power). With ``trace`` (a NeuPIMs request CSV), that one
    batch is used with its own channels for every PIM system."""
    from ..cost import estimate_decode
    from ..engine.neupims import (decode_batch_from_requests, load_system, simulate_decode,
                                   steady_state_batch)
    from ..workload.models import load_model
    from ..workload.requests import load_requests

    systems = {name: load_system(name) for name, _ in SYSTEMS}
    m = load_model(model)
    spec = systems["neupims"].pim_spec
    if trace:
        batches = [decode_batch_from_requests(load_requests(trace, fmt="neupims"))]
    else:
        batches = [steady_state_batch(dataset, batch, model=m, tp=tp, spec=spec, seed=s,
                                      warmup_steps=warmup_steps) for s in seeds]
    tps = {name: [] for name in systems}
    energy = {name: {"mj_per_token": [], "power_w": [], "memory_power_w": []}
              for name in systems}
    stages = {}
    for i, b in enumerate(batches):
        for name, system in systems.items():
            r = simulate_decode(system, b, model=m, tp=tp,
                                timeline=bool(timeline) and i == 0 and name == "neupims")
            tps[name].append(r.tokens_per_s)
            e = estimate_decode(r, system)
            energy[name]["mj_per_token"].append(e.energy_per_token_j * 1e3)
            energy[name]["power_w"].append(e.avg_power_w)
            energy[name]["memory_power_w"].append(e.memory_power_w)
            if i == 0:
                stages[name] = {k: int(round(v)) for k, v in r.stage_cycles.items()}
                if r.timeline is not None:
                    from ..report.timeline import write_timeline

                    write_timeline(r.timeline, timeline, title=r.timeline_title)
    mean = {name: float(np.mean(v)) for name, v in tps.items()}
    rel = {name: mean[name] / mean["naive"] for name in systems}
    return {"relative": rel, "tokens_per_s": mean, "stages": stages,
            "neupims_over_npu_only": mean["neupims"] / mean["npu_only"],
            "energy": {name: {k: float(np.mean(v)) for k, v in d.items()}
                       for name, d in energy.items()}}


def run_utilization(*, seeds: Iterable[int] = range(3), model: str = "gpt3-30b", batch: int = 256,
                    tp: int = 4, pp: int = 2) -> dict:
    """NPU and PIM utilization of naive NPU+PIM and NeuPIMs (paper Table 4 setting)."""
    from ..engine.neupims import load_system, simulate_decode, steady_state_batch
    from ..workload.models import load_model

    m = load_model(model)
    out = {}
    for name in ("naive", "neupims"):
        system = load_system(name)
        acc = {"npu": [], "npu_busy": [], "pim": [], "pim_busy": []}
        for s in seeds:
            b = steady_state_batch("sharegpt", batch, model=m, tp=tp, spec=system.pim_spec,
                                   seed=s)
            r = simulate_decode(system, b, model=m, tp=tp, pp=pp)
            acc["npu"].append(r.npu_mac_utilization)
            acc["npu_busy"].append(r.npu_busy_fraction)
            acc["pim"].append(r.pim_utilization)
            acc["pim_busy"].append(r.pim_busy_fraction)
        out[name] = {k: float(np.mean(v)) for k, v in acc.items()}
    return out


@register_validation("neupims", "NPU+PIM system ratios (GPT3-7B b512 ShareGPT) vs the NeuPIMs "
                                "simulator and paper")
def check(reference_dir: Path, quick: bool) -> list[Row]:
    refs = reference_ratios(reference_dir)
    out = run_ratios(seeds=range(2 if quick else 10))
    rows = []
    for name, label in SYSTEMS:
        if name in ("naive", "npu_only"):
            continue
        ours, ref = out["relative"][name], refs[name]
        err = ours / ref - 1
        rows.append(Row("neupims", "NeuPIMs simulator (measured)", f"{label} / naive", ours, ref,
                        err, f"|err| <= {RATIO_TOL:.0%}", abs(err) <= RATIO_TOL))
    ours = out["neupims_over_npu_only"]
    err = ours / PAPER_NEUPIMS_OVER_NPU_ONLY - 1
    rows.append(Row("neupims", "NeuPIMs paper (abstract)", "NeuPIMs / NPU-only", ours,
                    PAPER_NEUPIMS_OVER_NPU_ONLY, err, f"|err| <= {NPU_ONLY_TOL:.0%}",
                    abs(err) <= NPU_ONLY_TOL))
    return rows
