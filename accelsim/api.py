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


def serve(arch: Arch | str = "h100_like", model: str = "llama3-8b", requests=None, *,
          dataset: str = "sharegpt", rate: float = 5.0, duration_s: float = 60.0,
          arrivals: str = "poisson", seed: int = 0, tp: int = 1, replicas: int = 1,
          router: str = "round-robin", prefill: dict | None = None, decode: dict | None = None,
          scheduler=None, block_size: int = 16, memory_utilization: float = 0.9,
          fidelity: str = "analytical", slo: str | dict | None = None, backend: str = "local",
          progress: bool | None = None):
    """Serve requests on simulated hardware; what ``accelsim serve`` does (docs/serving.md).

    Args:
        arch, model: the device and the model of every replica.
        requests: a ``RequestTrace``, a DataFrame with its columns, or a CSV path; default: drawn
            from ``dataset`` at ``rate`` req/s for ``duration_s`` s (``arrivals``: ``poisson``,
            ``bursty`` or ``onoff``; ``seed``).
        tp, replicas, router: replicas of ``tp`` devices behind a router (``round-robin``,
            ``least-loaded``).
        prefill, decode: disaggregated pools instead, e.g. ``{"arch": "h100_like",
            "replicas": 2, "tp": 1}`` each.
        scheduler: a ``accelsim.serving.SchedulerConfig`` (vLLM's ``max_num_seqs``, ...).
        block_size, memory_utilization: the paged KV cache.
        fidelity: ``analytical`` (default) or ``full`` engine timing of each iteration.
        slo: ``"ttft_ms=200,tpot_ms=50"`` for goodput.
        backend: ``local`` or ``ray`` (independent replicas as Ray tasks).

    Returns:
        ``accelsim.serving.ServeResult``: ``.requests``, ``.iterations``, ``.summary``.

    Example:
        >>> r = serve("h100_like", "tiny-llama-gqa-test", rate=10, duration_s=1, progress=False)
        >>> r.summary["requests_finished"] == r.summary["requests"] > 0
        True
    """
    from .serving.run import Pool, Settings, serve as run_serve
    from .serving.scheduler import SchedulerConfig
    from .workload.models import load_model
    from .workload.requests import RequestTrace, load_requests, synthesize_requests

    cfg = load_model(model)
    if requests is None:
        kinds = {"poisson": "poisson", "bursty": "gamma", "onoff": "onoff"}
        if arrivals not in kinds:
            from .errors import unknown_name

            raise unknown_name("arrival process", arrivals, kinds, key="arrivals")
        requests = synthesize_requests(dataset, rate=rate, duration_s=duration_s,
                                       arrival=kinds[arrivals], seed=seed,
                                       max_total_tokens=cfg.max_ctx)
    elif not isinstance(requests, RequestTrace) and not hasattr(requests, "columns"):
        requests = load_requests(requests)
    if prefill is not None or decode is not None:
        pools = [Pool(**{"arch": arch, "tp": tp, **(prefill or {}), "name": "prefill"}),
                 Pool(**{"arch": arch, "tp": tp, **(decode or {}), "name": "decode"})]
    else:
        pools = [Pool(arch, replicas, tp, "serve")]
    settings = Settings(scheduler=scheduler or SchedulerConfig(), block_size=block_size,
                        memory_utilization=memory_utilization, router=router, fidelity=fidelity,
                        progress=progress)
    return run_serve(requests, cfg, pools=pools, settings=settings, slo=slo, backend=backend)


__all__ = ["load_arch", "load_trace", "generate_trace", "simulate", "serve", "Report", "Arch",
           "OpTrace"]
