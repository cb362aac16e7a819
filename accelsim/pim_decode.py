"""One decode step of a NeuPIMs-style batch through ``accelsim.simulate``, extrapolated to the
device's layers: what the NeuPIMs reproduction (``validation/neupims.py``) and the PIM DSE
environments evaluate.

The batch (``mapping.pim_batches.DecodeBatch``: KV lengths, and the channels a serving system
placed them on) becomes a decode trace (``workload.generate.decode_step_trace``; sub-batches as
streams when the arch's PIM scheduler interleaves them; the placement in ``meta``). As upstream
NeuPIMs, the trace holds the decoder layers only (no embedding / LM head, no tensor-parallel
communication), and the iteration is extrapolated from ``LAYERS_SIMULATED`` simulated layers:
the simulated time plus the remaining layers at the steady-state layer time of the middle
layers (the first fills the sub-batch pipeline, the last drains it). Measured: GPT3-7B batch
512, seed 0, full NeuPIMs: 13,727,417 cycles extrapolated from 4 layers vs 13,675,059 with all
32 simulated (+0.4 %); naive NPU+PIM exact (its layers replay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LAYERS_SIMULATED = 4
_LINK_CLASSES = ("allreduce", "allgather", "all2all", "send", "recv")


@dataclass
class DecodeStep:
    """One decode iteration of a batch, simulated and extrapolated to the device's layers."""

    iteration_cycles: float
    layer_cycles: float
    tokens_per_s: float
    npu_mac_utilization: float     # systolic MACs / (peak MACs/cycle x simulated cycles)
    pim_utilization: float         # COMP MAC-slot cycles / (channels x simulated cycles)
    pim_busy_fraction: float       # channel cycles in PIM phases / (channels x cycles)
    npu_busy_fraction: float       # systolic arrays busy / simulated cycles
    channel_load_max_over_mean: float   # PIM channel busy cycles, max / mean (1 = balanced)
    energy_per_token_j: float
    memory_power_w: float          # host DRAM + PIM energy / time (the paper's memory power)
    energy_pj: float               # the iteration (cost model, scaled from the simulated layers)
    power_w: float                 # average power of the iteration
    iteration_ns: float
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
    from .mapping.pim import sub_batches_for
    from .workload.generate import decode_step_trace
    from .workload.trace import OpTrace

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
                         timeline: bool = False, tech: Any = None) -> DecodeStep:
    """Simulate ``layers_simulated`` decoder layers of one decode step of ``batch`` on
    ``arch`` (``accelsim.simulate``, full fidelity) and extrapolate to ``ceil(layers / pp)``."""
    from .api import simulate
    from .cost import estimate
    from .workload.models import load_model

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
    cost = estimate(report, tech)
    scale = iteration / total                       # every layer costs as the simulated ones
    e = cost.energy_breakdown_pj
    time_ns = iteration * 1e3 / clock
    return DecodeStep(
        iteration_cycles=iteration, layer_cycles=per_layer,
        tokens_per_s=n / (iteration / (clock * 1e6)),
        npu_mac_utilization=macs / (arch.peak_macs_per_cycle * total),
        pim_utilization=float(pim.get("mean_utilization", 0.0)),
        pim_busy_fraction=float(pim.get("mean_busy_fraction", 0.0)),
        npu_busy_fraction=report.result.unit_busy_ps["systolic"] / max(1, report.result.end_ps),
        channel_load_max_over_mean=_max_over_mean(pim.get("busy_cycles")),
        energy_per_token_j=cost.energy_pj * scale * 1e-12 / n,
        memory_power_w=(e["dram"] + e["pim"]) * scale * 1e-3 / time_ns,
        energy_pj=cost.energy_pj * scale, power_w=cost.energy_pj * scale * 1e-3 / time_ns,
        iteration_ns=time_ns, report=report)


def _max_over_mean(values) -> float:
    if not values or not sum(values):
        return 1.0
    return max(values) * len(values) / sum(values)


__all__ = ["DecodeStep", "decode_trace", "simulate_decode_step", "LAYERS_SIMULATED"]
