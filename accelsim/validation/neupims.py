"""NeuPIMs (ASPLOS'24) reproduced through ``simulate``: ablation ratios against the upstream
simulator's runs and the paper.

Each system is the ``neupims_npu_hbm`` preset with its ``pim:`` settings changed
(``SYSTEM_SETTINGS``): naive NPU+PIM (one row buffer, round-robin channels), + dual row buffer,
+ greedy min-load bin packing, + sub-batch interleaving (full NeuPIMs), and NPU-only (the same
device, attention on the NPU). A decode step of a sampled steady-state batch
(``mapping.pim_batches.steady_state_batch``) is simulated by the one engine
(``accelsim.pim_decode.simulate_decode_step``: decoder layers only, extrapolated from a few).

Reference: ``../shared/reference/neupims/measured_upstream_runs.csv`` (GPT3-7B TP4, batch 512,
ShareGPT trace #0: throughput of each ablation step relative to naive NPU+PIM) and
``paper_headline_results.csv`` (NeuPIMs / NPU-only 2.4x). Goals: every ratio within 15 % of the
upstream runs, each step faster than the one before, NeuPIMs / NPU-only within 25 % of 2.4x.

    python scripts/reproduce_neupims.py [--quick]   or   accelsim validate --only neupims
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..pim_decode import LAYERS_SIMULATED, DecodeStep, simulate_decode_step  # noqa: F401
from . import Row, register_validation

#: (system, label), in ablation order.
SYSTEMS = (("naive", "naive NPU+PIM"), ("drb", "+ dual row buffer"),
           ("drb_gmlbp", "+ bin packing (GMLBP)"), ("neupims", "full NeuPIMs (+ SBI)"),
           ("npu_only", "NPU-only"))
ABLATION = ("naive", "drb", "drb_gmlbp", "neupims")
BASE_ARCH = "neupims_npu_hbm"
#: Each system as ``--set`` overrides of ``BASE_ARCH`` (paper §8.1 baselines).
SYSTEM_SETTINGS: dict[str, dict[str, Any]] = {
    "naive": {"pim.mode": "blocked", "pim.scheduler.impl": "naive"},
    "drb": {"pim.mode": "dual", "pim.scheduler.impl": "naive"},
    "drb_gmlbp": {"pim.mode": "dual", "pim.scheduler.impl": "gmlbp"},
    "neupims": {"pim.mode": "dual", "pim.scheduler.impl": "neupims"},
    "npu_only": {"pim.scheduler.impl": "npu-only"},
}
#: measured_upstream_runs.csv ``speedup_vs_newton_rr`` (used when the CSV is not at hand).
REFERENCE_RATIOS = {"naive": 1.000, "drb": 1.095, "drb_gmlbp": 1.230, "neupims": 1.574}
_RUN_IDS = {"naive": "bs512_newton_rr", "drb": "bs512_drb_rr", "drb_gmlbp": "bs512_drb_clb",
            "neupims": "bs512_neupims_full"}
PAPER_NEUPIMS_OVER_NPU_ONLY = 2.4
#: Paper Table 4 (GPT3-30B, batch 256): NPU and PIM utilization, naive NPU+PIM -> NeuPIMs.
PAPER_UTILIZATION = {"npu": (0.28, 0.649), "pim": (0.17, 0.264)}
RATIO_TOL = 0.15
NPU_ONLY_TOL = 0.25


def reference_ratios(reference_dir: Path) -> dict[str, float]:
    path = Path(reference_dir) / "neupims" / "measured_upstream_runs.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = {r["run_id"]: r for r in csv.DictReader(f)}
    return {name: float(rows[run]["speedup_vs_newton_rr"]) for name, run in _RUN_IDS.items()}


def system_arch(name: str, base: str = BASE_ARCH, overrides: dict | None = None):
    """The architecture of one ablation step (``SYSTEM_SETTINGS``) on ``base``."""
    from ..arch.config import load_arch

    return load_arch(base, overrides={**SYSTEM_SETTINGS[name], **(overrides or {})})


def sample_batches(*, batch: int = 512, seeds: Iterable[int] = range(3), trace: str | None = None,
                   model: str = "gpt3-7b", tp: int = 4, dataset: str = "sharegpt",
                   warmup_steps: int = 4096) -> list:
    from ..hw.pim import load_pim_spec
    from ..mapping.pim_batches import decode_batch_from_requests, steady_state_batch
    from ..workload.models import load_model
    from ..workload.requests import load_requests

    if trace:
        return [decode_batch_from_requests(load_requests(trace, fmt="neupims"))]
    spec = load_pim_spec(system_arch("neupims").pim["preset"])
    m = load_model(model)
    return [steady_state_batch(dataset, batch, model=m, tp=tp, spec=spec, seed=s,
                               warmup_steps=warmup_steps) for s in seeds]


def run_ratios(*, batch: int = 512, seeds: Iterable[int] = range(3), trace: str | None = None,
               model: str = "gpt3-7b", tp: int = 4, dataset: str = "sharegpt",
               warmup_steps: int = 4096, timeline: str | None = None) -> dict:
    """Throughput of every system relative to naive NPU+PIM (ratio of mean tokens/s over the
    sampled batches), and each system's energy per token and memory power (cost model)."""
    batches = sample_batches(batch=batch, seeds=seeds, trace=trace, model=model, tp=tp,
                             dataset=dataset, warmup_steps=warmup_steps)
    archs = {name: system_arch(name) for name, _ in SYSTEMS}
    tps = {name: [] for name in archs}
    energy = {name: {"mj_per_token": [], "memory_power_w": []} for name in archs}
    layer_cycles = {}
    for i, b in enumerate(batches):
        for name, arch in archs.items():
            want_tl = bool(timeline) and i == 0 and name == "neupims"
            r = simulate_decode_step(arch, model, b, tp=tp, timeline=want_tl)
            tps[name].append(r.tokens_per_s)
            energy[name]["mj_per_token"].append(r.energy_per_token_j * 1e3)
            energy[name]["memory_power_w"].append(r.memory_power_w)
            if i == 0:
                layer_cycles[name] = int(round(r.layer_cycles))
            if want_tl:
                r.report.write_timeline(timeline)
    mean = {name: float(np.mean(v)) for name, v in tps.items()}
    rel = {name: mean[name] / mean["naive"] for name in archs}
    return {"relative": rel, "tokens_per_s": mean, "layer_cycles": layer_cycles,
            "batches": len(batches),
            "neupims_over_npu_only": mean["neupims"] / mean["npu_only"],
            "energy": {name: {k: float(np.mean(v)) for k, v in d.items()}
                       for name, d in energy.items()}}


def run_utilization(*, seeds: Iterable[int] = range(1), model: str = "gpt3-30b",
                    batch: int = 256, tp: int = 4, pp: int = 2) -> dict:
    """NPU and PIM utilization of naive NPU+PIM and NeuPIMs (paper Table 4 setting).

    NPU utilization: systolic MACs / (peak MACs per cycle x time). PIM utilization: COMP
    MAC-slot cycles / (channels x time), i.e. the fraction of the PIM's peak MAC rate used."""
    from ..hw.pim import load_pim_spec
    from ..mapping.pim_batches import steady_state_batch
    from ..workload.models import load_model

    m = load_model(model)
    spec = load_pim_spec(system_arch("neupims").pim["preset"])
    out = {}
    for name in ("naive", "neupims"):
        arch = system_arch(name)
        acc = {"npu": [], "pim": [], "pim_busy": []}
        for s in seeds:
            b = steady_state_batch("sharegpt", batch, model=m, tp=tp, spec=spec, seed=s)
            r = simulate_decode_step(arch, m, b, tp=tp, pp=pp)
            acc["npu"].append(r.npu_mac_utilization)
            acc["pim"].append(r.pim_utilization)
            acc["pim_busy"].append(r.pim_busy_fraction)
        out[name] = {k: float(np.mean(v)) for k, v in acc.items()}
    return out


def ablation_rows(out: dict, refs: dict[str, float]) -> list[Row]:
    rows = []
    prev = None
    for name, label in SYSTEMS:
        if name == "npu_only":
            continue
        ours = out["relative"][name]
        if name != "naive":
            ref = refs[name]
            err = ours / ref - 1
            rows.append(Row("neupims", "NeuPIMs simulator (measured)", f"{label} / naive", ours,
                            ref, err, f"|err| <= {RATIO_TOL:.0%}", abs(err) <= RATIO_TOL))
            gain = ours / prev - 1
            rows.append(Row("neupims", "ablation order", f"{label} / previous step", ours / prev,
                            1.0, gain, "> 1 (each step improves)", gain > 0))
        prev = ours
    ours = out["neupims_over_npu_only"]
    err = ours / PAPER_NEUPIMS_OVER_NPU_ONLY - 1
    rows.append(Row("neupims", "NeuPIMs paper (abstract)", "NeuPIMs / NPU-only", ours,
                    PAPER_NEUPIMS_OVER_NPU_ONLY, err, f"|err| <= {NPU_ONLY_TOL:.0%}",
                    abs(err) <= NPU_ONLY_TOL))
    return rows


@register_validation("neupims", "NPU+PIM ablation through simulate (GPT3-7B b512 ShareGPT) vs "
                                "the NeuPIMs simulator and paper")
def check(reference_dir: Path, quick: bool) -> list[Row]:
    refs = reference_ratios(reference_dir)
    return ablation_rows(run_ratios(seeds=range(1 if quick else 3)), refs)
