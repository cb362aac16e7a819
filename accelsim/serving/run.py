"""``serve()``: a request trace served by replicas of a model on simulated devices.

Co-located serving is one pool of ``replicas`` behind a router. Disaggregated serving
(Splitwise, DistServe) is a prefill pool and a decode pool, each with its own arch, replica
count and ``tp``: a request is prefilled (first token) in the prefill pool, its KV cache is sent
over the prefill arch's ``interconnect`` (one send of the request's K/V; each of the ``tp``
devices sends its share in parallel), and it decodes in the decode pool. The prefill pool does
not wait for the decode pool (no back-pressure), so the pools run one after the other.

``backend="ray"`` runs independent replicas (round-robin routing) as Ray tasks; the results are
the same as the local run's (``tests/serve/test_cluster.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..arch.config import Arch, load_arch
from ..errors import ConfigError
from ..workload.models import ModelConfig, load_model
from ..workload.requests import RequestTrace
from .energy import PoolEnergy, pool_energy
from .kv import KvSpace, kv_space
from .loop import LOG_COLUMNS, ROUTERS, Replica, run_pool
from .metrics import parse_slo, request_table, summarize
from .scheduler import Request, Scheduler, SchedulerConfig
from .timing import FixedTimer, IterationTimer

BACKENDS = ("local", "ray")
# Replicas per pool: each holds its own scheduler and KV state (4096: ~3.6 s and ~240 MB for a
# one-second trace; 100,000 took 75 s and 1.5 GB, 10^9 ran out of memory). Larger fleets are
# several runs, or one pool behind a router model.
MAX_REPLICAS = 4096
FIDELITIES = ("analytical", "full")


@dataclass(frozen=True)
class Pool:
    """Replicas of one kind: ``replicas`` model instances of ``tp`` devices of ``arch`` each."""

    arch: Arch | str
    replicas: int = 1
    tp: int = 1
    name: str = "serve"
    kv_link_gbps: float | None = None   # per-device link for KV hand-over (default: interconnect)


@dataclass(frozen=True)
class Settings:
    """Everything but the pools and the requests (see ``serve``)."""

    scheduler: SchedulerConfig = SchedulerConfig()
    block_size: int = 16
    memory_utilization: float = 0.9
    router: str = "round-robin"
    fidelity: str = "analytical"
    iteration_ms: float | None = None       # fixed iteration time instead of the engine
    progress: bool | None = None
    record_iterations: bool = False         # keep each iteration's slices (--dump-trace)


@dataclass
class ServeResult:
    """What ``serve`` returns: per-request and per-iteration tables, the summary."""

    requests: pd.DataFrame
    iterations: pd.DataFrame
    summary: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    recorded: dict[str, list] = field(default_factory=dict)   # pool -> [(replica, slices)]


@dataclass
class PoolRun:
    """One pool's outcome (what a Ray task sends back)."""

    requests: list[Request]
    log: pd.DataFrame
    end_ps: int
    preemptions: int
    energy: PoolEnergy
    kv: KvSpace
    simulations: int
    recorded: list = field(default_factory=list)


def to_requests(trace: RequestTrace | pd.DataFrame) -> list[Request]:
    table = trace.requests if isinstance(trace, RequestTrace) else trace
    cached = table["cached_tokens"] if "cached_tokens" in table else [0] * len(table)
    return [Request(int(i), int(a) * 1000, int(p), int(o), cached=int(c))
            for i, a, p, o, c in zip(table["req_id"], table["arrival_ns"],
                                     table["input_tokens"], table["output_tokens"], cached)]


def run_one_pool(pool: Pool, cfg: ModelConfig, requests: list[Request], settings: Settings,
                 *, first_replica: int = 0, replicas: int | None = None) -> PoolRun:
    """Serve ``requests`` on ``replicas`` (default ``pool.replicas``) replicas of ``pool``."""
    arch = pool.arch if isinstance(pool.arch, Arch) else load_arch(pool.arch)
    kv = kv_space(arch, cfg, tp=pool.tp, block_size=settings.block_size,
                  memory_utilization=settings.memory_utilization, kv_dtype=arch.dtypes.kv)
    timer = (FixedTimer(round(settings.iteration_ms * 1e9)) if settings.iteration_ms is not None
             else IterationTimer(arch, cfg, tp=pool.tp, fidelity=settings.fidelity))
    count = pool.replicas if replicas is None else replicas
    reps = [Replica(i, Scheduler(settings.scheduler, kv, max_model_len=cfg.max_ctx), timer)
            for i in range(count)]
    if settings.record_iterations:
        for rep in reps:
            rep.recorded = []
    end = run_pool(reps, requests, router=settings.router, progress=settings.progress,
                   desc="serving" if pool.name == "serve" else f"serving ({pool.name} pool)")
    logs = []
    for rep in reps:
        frame = pd.DataFrame({c: rep.log[c] for c in LOG_COLUMNS})
        frame.insert(0, "replica", first_replica + rep.index)
        frame.insert(0, "pool", pool.name)
        logs.append(frame)
    for r in requests:
        r.replica += first_replica
    energy = (pool_energy(arch, timer, devices_per_replica=pool.tp, fidelity=settings.fidelity)
              if settings.iteration_ms is None else PoolEnergy(0.0, 0.0))
    recorded = [(first_replica + rep.index, seqs) for rep in reps for seqs in rep.recorded or ()]
    return PoolRun(requests, pd.concat(logs, ignore_index=True), end,
                   sum(rep.scheduler.preemptions for rep in reps), energy, kv, timer.simulations,
                   recorded)


def _run_ray(pool: Pool, cfg: ModelConfig, requests: list[Request],
             settings: Settings) -> PoolRun:
    """Round-robin replicas are independent: one Ray task each, merged in replica order."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs the ray package (pip install 'ray')",
                          key="backend") from None
    if settings.router != "round-robin" and pool.replicas > 1:
        raise ConfigError(f"router {settings.router!r} couples the replicas (it reads their "
                          "queues); --backend ray runs only independent round-robin replicas",
                          key="backend")
    shares = [requests[i::pool.replicas] for i in range(pool.replicas)]
    started = not ray.is_initialized()
    if started:                   # a cluster the caller set up is used as it is
        ray.init(num_cpus=min(pool.replicas, 8), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    quiet = Settings(**{**settings.__dict__, "progress": False})
    task = ray.remote(_ray_task)
    try:
        runs = ray.get([task.remote(pool, cfg, share, quiet, i)
                        for i, share in enumerate(shares)])
    finally:
        if started:
            ray.shutdown()
    merged = sorted((r for run in runs for r in run.requests),
                    key=lambda r: (r.arrival_ps, r.req_id))
    dyn = sum(run.energy.dynamic_j for run in runs)
    return PoolRun(merged, pd.concat([run.log for run in runs], ignore_index=True),
                   max(run.end_ps for run in runs), sum(run.preemptions for run in runs),
                   PoolEnergy(dyn, runs[0].energy.static_w), runs[0].kv,
                   sum(run.simulations for run in runs),
                   [x for run in runs for x in run.recorded])


def _ray_task(pool: Pool, cfg: ModelConfig, requests: list[Request], settings: Settings,
              index: int) -> PoolRun:
    return run_one_pool(pool, cfg, requests, settings, first_replica=index, replicas=1)


def _pool_run(pool: Pool, cfg: ModelConfig, requests: list[Request], settings: Settings,
              backend: str) -> PoolRun:
    if backend == "ray":
        return _run_ray(pool, cfg, requests, settings)
    return run_one_pool(pool, cfg, requests, settings)


def kv_transfer_ps(prefill: Pool, decode: Pool, kv: KvSpace, tokens: int) -> int:
    """Time to send ``tokens`` tokens of K/V from a prefill device to a decode device: one send
    over the slower of the two pools' ``kv_link_gbps`` when given (e.g. the machines' InfiniBand),
    else over the prefill arch's ``interconnect``; each of the ``tp`` devices sends its share."""
    from ..arch.config import InterconnectConfig

    arch = prefill.arch
    links = [p.kv_link_gbps for p in (prefill, decode) if p.kv_link_gbps]
    if links:
        latency = arch.interconnect.link_latency_ns if arch.interconnect else 0.0
        return InterconnectConfig(min(links), latency).collective_ps(
            "send", tokens * kv.kv_bytes_per_token, 2)
    if arch.interconnect is None:
        raise ConfigError(f"disaggregated serving sends the KV cache over the prefill arch's "
                          f"chip-to-chip links: arch {arch.name} has no 'interconnect' section "
                          "(add one, e.g. --set interconnect.link_bandwidth_gbps=50, or give "
                          "--kv-link-gbps)", file=arch.file, key="interconnect")
    return arch.interconnect.collective_ps("send", tokens * kv.kv_bytes_per_token, 2)


def serve(requests: RequestTrace | pd.DataFrame, model: str | ModelConfig, *,
          pools: list[Pool], settings: Settings = Settings(), slo: str | dict | None = None,
          backend: str = "local") -> ServeResult:
    """Serve ``requests`` on one pool (co-located) or two (``[prefill, decode]``)."""
    cfg = model if isinstance(model, ModelConfig) else load_model(model)
    slo_ = parse_slo(slo)
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; expected {', '.join(BACKENDS)}",
                          key="backend")
    if settings.router not in ROUTERS:
        raise ConfigError(f"unknown router {settings.router!r}; expected "
                          f"{', '.join(ROUTERS)}", key="router")
    if settings.fidelity not in FIDELITIES:
        raise ConfigError(f"unknown fidelity {settings.fidelity!r}; expected "
                          f"{', '.join(FIDELITIES)}", key="fidelity")
    if not 1 <= len(pools) <= 2:
        raise ConfigError(f"expected 1 pool (co-located) or 2 (prefill, decode), got "
                          f"{len(pools)}", key="pools")
    for p in pools:
        if isinstance(p.replicas, bool) or not isinstance(p.replicas, int) or p.replicas < 1:
            raise ConfigError(f"expected a positive integer, got {p.replicas!r}",
                              key=f"{p.name}.replicas")
        if p.replicas > MAX_REPLICAS:
            raise ConfigError(f"expected at most {MAX_REPLICAS} replicas per pool, got "
                              f"{p.replicas:,}", key=f"{p.name}.replicas")
    pools = [Pool(p.arch if isinstance(p.arch, Arch) else load_arch(p.arch), p.replicas, p.tp,
                  p.name, p.kv_link_gbps) for p in pools]
    reqs = to_requests(requests)
    if len(pools) == 1:
        run = _pool_run(pools[0], cfg, reqs, settings, backend)
        rows = [_row(r) for r in run.requests]
        runs = [run]
        end = run.end_ps
    else:
        rows, runs, end = _disaggregated(pools, cfg, reqs, settings, backend)
    table = request_table(rows)
    iters = pd.concat([r.log for r in runs], ignore_index=True)
    summary = summarize(table, makespan_ps=end, slo=slo_,
                        preemptions=sum(r.preemptions for r in runs))
    span_s = end / 1e12
    energy_j = sum(r.energy.total_j(span_s, p.replicas * p.tp) for r, p in zip(runs, pools))
    summary["energy_j"] = energy_j
    summary["energy_dynamic_j"] = sum(r.energy.dynamic_j for r in runs)
    summary["energy_static_j"] = energy_j - summary["energy_dynamic_j"]
    summary["energy_per_token_j"] = (energy_j / summary["output_tokens"]
                                     if summary["output_tokens"] else None)
    summary["avg_power_w"] = energy_j / span_s if span_s > 0 else 0.0
    summary["pools"] = [{"name": p.name, "arch": p.arch.name, "replicas": p.replicas, "tp": p.tp,
                         "kv_blocks": r.kv.num_blocks, "block_size": r.kv.block_size,
                         "kv_tokens": r.kv.tokens, "weight_gb_per_device": r.kv.weight_bytes / 1e9,
                         "iterations": int((iters["pool"] == p.name).sum()),
                         "engine_runs": r.simulations}
                        for p, r in zip(pools, runs)]
    meta = {"model": cfg.name, "fidelity": settings.fidelity, "router": settings.router,
            "scheduler": settings.scheduler.__dict__, "backend": backend,
            "memory_utilization": settings.memory_utilization,
            "iteration_ms": settings.iteration_ms}
    summary["config"] = meta
    return ServeResult(table, iters, summary, meta,
                       {p.name: r.recorded for p, r in zip(pools, runs) if r.recorded})


def _row(r: Request, **extra: Any) -> dict[str, Any]:
    status = "rejected" if r.reason else ("finished" if r.finished else "unfinished")
    return {"req_id": r.req_id, "replica": r.replica, "arrival_ps": r.arrival_ps,
            "input_tokens": r.prompt, "output_tokens": r.output,
            "first_scheduled_ps": r.first_scheduled_ps, "first_token_ps": r.first_token_ps,
            "finish_ps": r.finish_ps, "preemptions": r.preemptions, "status": status,
            "reason": r.reason, **extra}


def _disaggregated(pools: list[Pool], cfg: ModelConfig, reqs: list[Request], settings: Settings,
                   backend: str):
    prefill_pool, decode_pool = pools
    for r in reqs:
        r.stop_after_first = True
    pre = _pool_run(prefill_pool, cfg, reqs, settings, backend)
    handed: list[Request] = []
    link: dict[int, int] = {}
    for r in pre.requests:
        if r.finished and r.output > 1:
            link[r.req_id] = kv_transfer_ps(prefill_pool, decode_pool, pre.kv, r.prompt)
            handed.append(Request(r.req_id, r.finish_ps + link[r.req_id], r.prompt, r.output,
                                  computed=r.prompt, generated=1, first_token_ps=r.finish_ps,
                                  first_scheduled_ps=-1))
    handed.sort(key=lambda r: (r.arrival_ps, r.req_id))
    dec = _pool_run(decode_pool, cfg, handed, settings, backend)
    decoded = {r.req_id: r for r in dec.requests}
    rows = []
    for r in pre.requests:
        d = decoded.get(r.req_id)
        row = _row(r, kv_transfer_ms=link.get(r.req_id, 0) * 1e-9)
        row["replica"] = f"{prefill_pool.name}{r.replica}"
        if d is not None:       # the decode side: finish, its preemptions, its rejection
            row.update(finish_ps=d.finish_ps, preemptions=r.preemptions + d.preemptions,
                       replica=f"{prefill_pool.name}{r.replica}/{decode_pool.name}{d.replica}")
            if d.reason:
                row.update(status="rejected", reason=f"decode pool: {d.reason}")
            elif not d.finished:
                row["status"] = "unfinished"
        elif row["status"] == "finished" and r.output > 1:
            row["status"] = "unfinished"        # prefilled, never handed over (cannot happen)
        rows.append(row)
    return rows, [pre, dec], max(pre.end_ps, dec.end_ps)
