"""The public Python API: ``load_arch``, ``load_trace``, ``generate_trace``, ``simulate``."""

from __future__ import annotations

from .arch.config import Arch, load_arch
from .engine.core import Simulation
from .report.report import Report
from .workload.generate import generate_trace
from .workload.trace import OpTrace, load_trace


def simulate(arch: Arch | str, trace: OpTrace | str, *, fidelity: str = "full",
             progress: bool | None = None, timeline: bool = False) -> Report:
    """Simulate ``trace`` on ``arch`` and return the ``Report``.

    Args:
        arch: an ``Arch`` from ``load_arch``, or a preset name / YAML path.
        trace: an ``OpTrace`` from ``load_trace`` / ``generate_trace``, or a CSV path.
        fidelity: ``"full"`` (SimPy, tile-level, memory contention) or ``"analytical"``
            (closed form per operator, list-scheduled; ~10x faster, for DSE).
        progress: show a progress bar (default: when stderr is a terminal).
        timeline: record tile / transfer slices for ``Report.write_timeline`` (full fidelity).

    Example:
        >>> report = simulate("npu_128x128_bf16_hbm2",
        ...                   generate_trace("tiny-llama-gqa-test", "decode", batch=4, context=64))
        >>> report.total_cycles > 0, list(report.ops.columns[:3])
        (True, ['op_id', 'iter', 'stream'])
    """
    if not isinstance(arch, Arch):
        arch = load_arch(arch)
    if not isinstance(trace, OpTrace):
        trace = load_trace(trace)
    engine = Simulation
    if arch.noc is not None:          # a multi-core mesh (docs/multicore.md)
        from .engine.multicore import MeshSimulation as engine
    result = engine(arch, trace, fidelity=fidelity, progress=progress, timeline=timeline).run()
    return Report(arch, trace, result, fidelity=fidelity)


__all__ = ["load_arch", "load_trace", "generate_trace", "simulate", "Report", "Arch", "OpTrace"]
