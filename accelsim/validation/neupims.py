"""NeuPIMs (ASPLOS'24) reproduced through ``simulate``: ablation ratios against the upstream
simulator's runs and the paper.

Each system is the ``neupims_npu_hbm`` preset with its ``pim:`` settings changed
(``SYSTEM_SETTINGS``): naive NPU+PIM (one row buffer, round-robin channels), + dual row buffer,
+ greedy min-load bin packing, + sub-batch interleaving (full NeuPIMs), and NPU-only (the same
device, attention on the NPU). A decode step of a sampled steady-state batch
(``mapping.pim_batches.steady_state_batch``) is generated as a trace (sub-batches as streams
when the scheduler interleaves) and simulated by the one engine. As upstream, the trace holds
the decoder layers only (no embedding / LM head, no tensor-parallel communication), and the
iteration is extrapolated from ``LAYERS_SIMULATED`` simulated layers: the simulated time plus
the remaining layers at the steady-state layer time of the middle layers (the first fills the
sub-batch pipeline, the last drains it). Measured: GPT3-7B batch 512, seed 0, full NeuPIMs:
13,727,417 cycles extrapolated from 4 layers vs 13,675,059 with all 32 simulated (+0.4 %);
naive NPU+PIM exact.

Reference: ``../shared/reference/neupims/measured_upstream_runs.csv`` (GPT3-7B TP4, batch 512,
ShareGPT trace #0: throughput of each ablation step relative to naive NPU+PIM) and
``paper_headline_results.csv`` (NeuPIMs / NPU-only 2.4x). Goals: every ratio within 15 % of the
upstream runs, each step faster than the one before, NeuPIMs / NPU-only within 25 % of 2.4x.

    python scripts/reproduce_neupims.py [--quick]   or   accelsim validate --only neupims
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

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
LAYERS_SIMULATED = 4
_LINK_CLASSES = ("allreduce", "allgather", "all2all", "send", "recv")


def reference_ratios(reference_dir: Path) -> dict[str, float]:
    path = Path(reference_dir) / "neupims" / "measured_upstream_runs.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = {r["run_id"]: r for r in csv.DictReader(f)}
    return {name: float(rows[run]["speedup_vs_newton_rr"]) for name, run in _RUN_IDS.items()}


def system_arch(name: str, base: str = BASE_ARCH, overrides: dict | None = None):
    """The architecture of one ablation step (``SYSTEM_SETTINGS``) on ``base``."""
    from ..arch.config import load_arch

    return load_arch(base, overrides={**SYSTEM_SETTINGS[name], **(overrides or {})})


@dataclass
class DecodeStep:
    """One decode iteration of a batch, simulated and extrapolated to the device's layers."""

    iteration_cycles: float
    layer_cycles: float
    tokens_per_s: float
    npu_mac_utilization: float     # systolic MACs / (peak MACs/cycle x simulated cycles)
    pim_utilization: float         # COMP MAC-slot cycles / (channels x simulated cycles)
    pim_busy_fraction: float       # channel cycles in PIM phases / (channels x cycles)
    energy_per_token_j: float
    memory_power_w: float          # host DRAM + PIM energy / time (the paper's memory power)
    report: Any

    @property
    def summary(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("iteration_cycles", "layer_cycles", "tokens_per_s",
                                              "npu_mac_utilization", "pim_utilization",
                                              "pim_busy_fraction", "energy_per_token_j",
                                              "memory_power_w")}


def decode_trace(arch, model, batch, *, tp: int, layers: int):
    """The decode step of ``batch`` as a trace: decoder layers only, no TP communication (as
    upstream), sub-batches as streams when the arch's scheduler interleaves them."""
    from ..mapping.pim import sub_batches_for
    from ..workload.generate import decode_step_trace
    from ..workload.trace import OpTrace

    lens = [int(x) for x in batch.seq_lens]
    channels = {k: [int(c) for c in v] for k, v in batch.channels.items()}
    subs = sub_batches_for(arch, model, lens, tp=tp, channels=channels)
    trace = decode_step_trace(model, lens, tp=tp, layers=layers, sub_batches=subs,
                              meta={"pim_channels": channels})
    ops = trace.ops
    keep = (ops["layer"] >= 0) & ~ops["op_class"].isin(_LINK_CLASSES)
    return OpTrace(ops[keep].reset_index(drop=True), trace.meta)


def simulate_decode_step(arch, model, batch, *, tp: int = 4, pp: int = 1,
                         layers_simulated: int = LAYERS_SIMULATED,
                         timeline: bool = False) -> DecodeStep:
    """Simulate ``layers_simulated`` decoder layers of one decode step of ``batch`` on
    ``arch`` (``accelsim.simulate``, full fidelity) and extrapolate to ``ceil(layers / pp)``."""
    from ..api import simulate
    from ..cost import estimate
    from ..workload.models import load_model

    m = load_model(model) if isinstance(model, str) else model
    layers = -(-m.layers // pp)
    k = max(1, min(layers_simulated, layers))
    report = simulate(arch, decode_trace(arch, m, batch, tp=tp, layers=k), progress=False,
                      timeline=timeline)
    ops = report.ops
    end = (ops["start_cycle"] + ops["total_cycles"]).groupby(ops["layer"]).max()
    total = float(report.total_cycles)
    # steady state: the middle layers (the first fills the sub-batch pipeline, the last
    # drains it)
    if k >= 4:
        per_layer = float(end.iloc[k - 2] - end.iloc[1]) / (k - 3)
    else:
        per_layer = float(end.iloc[-1] - end.iloc[0]) / (k - 1) if k > 1 else total
    iteration = total + (layers - k) * per_layer
    clock = arch.clock_mhz
    n = len(batch.seq_lens)
    systolic = ops["unit"] == "systolic"
    macs = float((ops["flops"][systolic] / 2).sum())
    pim = report.result.pim or {}
    cost = estimate(report)
    scale = iteration / total                       # every layer costs as the simulated ones
    e = cost.energy_breakdown_pj
    time_ns = iteration * 1e3 / clock
    return DecodeStep(
        iteration_cycles=iteration, layer_cycles=per_layer,
        tokens_per_s=n / (iteration / (clock * 1e6)),
        npu_mac_utilization=macs / (arch.peak_macs_per_cycle * total),
        pim_utilization=float(pim.get("mean_utilization", 0.0)),
        pim_busy_fraction=float(pim.get("mean_busy_fraction", 0.0)),
        energy_per_token_j=cost.energy_pj * scale * 1e-12 / n,
        memory_power_w=(e["dram"] + e["pim"]) * scale * 1e-3 / time_ns,
        report=report)


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
