"""Continuous batching: a request trace becomes a sequence of iterations, then one operator trace.

The scheduler follows vLLM (iteration-level scheduling, Orca-style):

* requests join the running batch when they have arrived and a slot is free (``max_batch``
  running requests at most) and leave the iteration after they produced their last token;
* every iteration processes at most ``max_tokens`` tokens;
* without chunked prefill (vLLM v0's default policy) an iteration is either a *prefill*
  iteration (whole prompts of newly admitted requests, FCFS, while they fit the token budget;
  decodes wait) or a *decode* iteration (one token for every running request);
* with chunked prefill (vLLM v1, Sarathi) an iteration first gives one token to every decoding
  request, then fills the remaining budget with prompt chunks (unfinished prompts first, then new
  requests), so prefill chunks and decodes share an iteration (phase ``mixed``).

A request with ``input_tokens = P`` and ``output_tokens = G`` has its ``P - cached_tokens``
uncached prompt tokens processed exactly once (in one or more chunks); the chunk that completes
the prompt samples the first output token; then ``G - 1`` decode steps follow, the ``g``-th
(``g = 1 .. G-1``) with ``kv_len = P + g``, so KV lengths grow by one per decode iteration.

Time: the operator trace has no clock of its own, so which requests have arrived by an iteration
is decided with an *estimated* iteration time (``RooflineClock``: max of compute and memory time
of the iteration's FLOPs and bytes). The estimates go into ``iterations.csv``; the simulated time
of the same iterations comes from ``accelsim simulate``. No KV-capacity limit or preemption is
modelled (every admitted request keeps its KV cache until it finishes).
"""

from __future__ import annotations

import os

import json

import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..arch.dtypes import DTYPE_BYTES
from ..errors import ConfigError
from .iteration import iteration_phase
from .layers import (Builder, MoeLoad, Seq, check_layers, check_tp, emit_forward, model_meta,
                     parse_moe_load)
from .models import ModelConfig, load_model
from .requests import RequestTrace
from .trace import OpTrace, from_records

__all__ = ["BatchingConfig", "Iteration", "RooflineClock", "schedule", "serving_trace",
           "ServingTrace"]


@dataclass(frozen=True)
class BatchingConfig:
    """vLLM-style limits (names of the vLLM options in comments)."""

    max_batch: int = 256            # max_num_seqs: running requests
    max_tokens: int = 2048          # max_num_batched_tokens: tokens per iteration
    chunked_prefill: bool = False   # enable_chunked_prefill

    def check(self) -> None:
        for name in ("max_batch", "max_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"expected a positive integer, got {value!r}", key=name)


@dataclass(frozen=True)
class Iteration:
    """One scheduled iteration: its requests' slices and its estimated start and duration."""

    index: int
    t_start_ns: int
    duration_ns: int
    seqs: tuple[Seq, ...]

    @property
    def phase(self) -> str:
        return iteration_phase(self.seqs)

    @property
    def tokens(self) -> int:
        return sum(s.q_len for s in self.seqs)


@dataclass(frozen=True)
class RooflineClock:
    """Estimated iteration time: ``max(FLOPs / peak, bytes / bandwidth)`` (defaults: an
    A100-80GB-class accelerator: 312 dense bf16 TFLOP/s, 2039 GB/s; NVIDIA A100 datasheet)."""

    peak_tflops: float = 312.0
    mem_gbps: float = 2039.0

    def __call__(self, cfg: ModelConfig, seqs: Sequence[Seq], *, tp: int = 1,
                 bytes_per_element: float = 2.0) -> int:
        T = sum(s.q_len for s in seqs)
        sampled = sum(1 for s in seqs if s.sample)
        L, H, hd = cfg.layers, cfg.hidden, cfg.head_dim
        attn_w = H * (cfg.q_dim + 2 * cfg.kv_dim) + cfg.q_dim * H
        expert_w = (3 if cfg.gated_ffn else 2) * H * cfg.ffn_dim
        active = min(cfg.experts, T * cfg.experts_top_k)        # experts that see a token
        flops = 2 * T * L * (attn_w + expert_w * cfg.experts_top_k) + 2 * sampled * H * cfg.vocab
        flops += 4 * L * cfg.q_heads * hd * sum(s.q_len * s.kv_len for s in seqs)
        weights = L * (attn_w + expert_w * active) + cfg.vocab * H
        kv = 2 * L * cfg.kv_dim * sum(s.kv_len for s in seqs)
        nbytes = (weights + kv) * bytes_per_element
        seconds = max(flops / tp / (self.peak_tflops * 1e12), nbytes / tp / (self.mem_gbps * 1e9))
        return max(1, int(round(seconds * 1e9)))


@dataclass
class _Req:
    req_id: int
    arrival_ns: int
    prompt: int
    output: int
    prefilled: int          # prompt tokens in the KV cache (cached ones included)
    generated: int = 0

    @property
    def decoding(self) -> bool:
        return self.prefilled == self.prompt


def schedule(requests: RequestTrace | pd.DataFrame, cfg: ModelConfig, *,
             batching: BatchingConfig = BatchingConfig(),
             clock: Callable[..., int] | None = None, tp: int = 1,
             max_iters: int | None = None) -> list[Iteration]:
    """Run the continuous-batching scheduler over all requests (or ``max_iters`` iterations).

    Example:
        >>> from accelsim.workload.requests import synthesize_requests
        >>> reqs = synthesize_requests("alpaca", rate=20, num_requests=8, seed=0)
        >>> its = schedule(reqs, load_model("tiny-llama-gqa-test"), batching=BatchingConfig(4, 64))
        >>> max(len(i.seqs) for i in its) <= 4, max(i.tokens for i in its) <= 64
        (True, True)
    """
    batching.check()
    clock = clock or RooflineClock()
    table = requests.requests if isinstance(requests, RequestTrace) else requests
    if not batching.chunked_prefill:
        need = table.input_tokens - table.cached_tokens
        if (need > batching.max_tokens).any():
            i = int(np.argmax((need > batching.max_tokens).to_numpy()))
            raise ConfigError(f"request {table.req_id.iloc[i]} has {need.iloc[i]} uncached prompt "
                              f"tokens, more than max_tokens={batching.max_tokens}; raise "
                              "max_tokens or enable chunked prefill", key="max_tokens")
    pending = deque(_Req(int(r.req_id), int(r.arrival_ns), int(r.input_tokens),
                         int(r.output_tokens), int(r.cached_tokens))
                    for r in table.sort_values(["arrival_ns", "req_id"], kind="stable")
                    .itertuples())
    running: list[_Req] = []
    iterations: list[Iteration] = []
    t = 0
    while (pending or running) and (max_iters is None or len(iterations) < max_iters):
        if not running and pending and pending[0].arrival_ns > t:
            t = pending[0].arrival_ns                          # idle until the next arrival
        seqs = (_chunked if batching.chunked_prefill else _prefill_first)(
            pending, running, t, batching)
        if not seqs:            # only possible when every running request is over the budget
            raise ConfigError(f"max_tokens={batching.max_tokens} leaves no room for any of "
                              f"{len(running)} running requests", key="max_tokens")
        duration = int(clock(cfg, seqs, tp=tp))
        iterations.append(Iteration(len(iterations), t, duration, tuple(seqs)))
        t += duration
        by_id = {r.req_id: r for r in running}
        for s in seqs:
            r = by_id[s.req_id]
            if s.prefill:
                r.prefilled += s.q_len
                if r.decoding:
                    r.generated = 1
            else:
                r.generated += 1
        running[:] = [r for r in running if not (r.decoding and r.generated >= r.output)]
    return iterations


def _admit(pending: deque, running: list, t: int, batching: BatchingConfig) -> _Req | None:
    if pending and pending[0].arrival_ns <= t and len(running) < batching.max_batch:
        r = pending.popleft()
        running.append(r)
        return r
    return None


def _prefill_first(pending: deque, running: list[_Req], t: int,
                   batching: BatchingConfig) -> list[Seq]:
    """vLLM v0: new whole prompts first (FCFS, within the budget); else decode everyone."""
    seqs: list[Seq] = []
    budget = batching.max_tokens
    while (pending and pending[0].arrival_ns <= t and len(running) < batching.max_batch
           and pending[0].prompt - pending[0].prefilled <= budget):
        r = _admit(pending, running, t, batching)
        chunk = r.prompt - r.prefilled
        seqs.append(Seq(r.req_id, chunk, r.prompt, True, True))
        budget -= chunk
    if seqs:
        return seqs
    return [Seq.decode(r.req_id, r.prompt + r.generated) for r in running[:budget]]


def _chunked(pending: deque, running: list[_Req], t: int, batching: BatchingConfig) -> list[Seq]:
    """vLLM v1 / Sarathi: decodes first, then prompt chunks in the remaining token budget."""
    budget = batching.max_tokens
    seqs: list[Seq] = []
    for r in running:
        if r.decoding and budget:
            seqs.append(Seq.decode(r.req_id, r.prompt + r.generated))
            budget -= 1
    for r in running:
        if not r.decoding and budget:
            seqs.append(_chunk(r, budget))
            budget -= seqs[-1].q_len
    while budget and (r := _admit(pending, running, t, batching)) is not None:
        seqs.append(_chunk(r, budget))
        budget -= seqs[-1].q_len
    return seqs


def _chunk(r: _Req, budget: int) -> Seq:
    n = min(r.prompt - r.prefilled, budget)
    return Seq(r.req_id, n, r.prefilled + n, True, r.prefilled + n == r.prompt)


# ------------------------------------------------------------------------------ the op trace

@dataclass
class ServingTrace:
    """The result of ``serving_trace``: the operator trace, the full schedule and its summary."""

    ops: OpTrace | None                 # None when the operators were streamed to a file
    iterations: list[Iteration]
    requests: RequestTrace
    summary: dict[str, Any] = field(default_factory=dict)
    ops_path: str | None = None         # set when streamed (``serving_trace(stream_ops_to=)``)
    ops_totals: dict[str, int] = field(default_factory=dict)

    def iterations_frame(self) -> pd.DataFrame:
        rows = [{"iter": it.index, "t_start_ns": it.t_start_ns, "duration_est_ns": it.duration_ns,
                 "phase": it.phase, "requests": len(it.seqs),
                 "prefill_requests": sum(s.prefill for s in it.seqs),
                 "decode_requests": sum(not s.prefill for s in it.seqs), "tokens": it.tokens,
                 "kv_tokens": sum(s.kv_len for s in it.seqs)} for it in self.iterations]
        return pd.DataFrame(rows)

    def save(self, out_dir) -> dict[str, str]:
        """Write ``requests.csv``, ``ops.csv``, ``iterations.csv`` (+ sidecars) into ``out_dir``."""
        from pathlib import Path

        from ..io import atomic_write_text

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"requests": str(self.requests.save(out / "requests.csv"))}
        paths["ops"] = self.ops_path if self.ops is None else str(self.ops.save(out / "ops.csv"))
        path = out / "iterations.csv"
        atomic_write_text(path, self.iterations_frame().to_csv(index=False))
        paths["iterations"] = str(path)
        return paths


def serving_trace(model: str | ModelConfig, requests: RequestTrace, *,
                  batching: BatchingConfig = BatchingConfig(),
                  clock: Callable[..., int] | None = None, tp: int = 1,
                  dtypes: dict[str, str] | None = None, layers: int | None = None,
                  iters: tuple[int, int | None] = (0, None), max_iters: int | None = None,
                  moe_load: str | Sequence[float] | MoeLoad = "uniform",
                  seed: int = 0, stream_ops_to: str | os.PathLike | None = None) -> ServingTrace:
    """Schedule ``requests`` with continuous batching and emit one operator trace, one ``iter``
    per iteration.

    Args:
        model: a zoo name, a model YAML path, or a ``ModelConfig``.
        requests: the request trace (``synthesize_requests`` / ``load_requests``).
        batching: ``max_batch``, ``max_tokens``, ``chunked_prefill``.
        clock: estimated iteration time ``clock(cfg, seqs, tp=) -> ns`` (``RooflineClock()``).
        tp, dtypes, layers, moe_load, seed: as in ``generate_trace`` (``layers`` keeps the op
            trace small: the schedule is the same).
        iters: ``(start, stop)``: emit operators only for iterations ``start <= i < stop``
            (the schedule and its summary always cover the whole run, or ``max_iters``).
        max_iters: stop scheduling after this many iterations.
        stream_ops_to: write the operator trace to this CSV one iteration at a time (flat
            memory: a minute of serving is ~10^7 operator rows) instead of returning it;
            ``ServingTrace.ops`` is then ``None`` and ``ops_totals`` holds its sums.
    """
    cfg = model if isinstance(model, ModelConfig) else load_model(model)
    check_tp(cfg, tp)
    n_layers = check_layers(cfg, layers)
    load = parse_moe_load(moe_load, cfg.experts, seed=seed)
    dt = {"act": "bf16", "weight": "bf16", "kv": "bf16", **(dtypes or {})}
    clock = clock or RooflineClock()
    bpe = DTYPE_BYTES[dt["weight"]]
    its = schedule(requests, cfg, batching=batching, tp=tp, max_iters=max_iters,
                   clock=lambda c, s, tp=1: clock(c, s, tp=tp, bytes_per_element=bpe))
    start, stop = iters
    stop = len(its) if stop is None else min(stop, len(its))
    if not 0 <= start < max(stop, 1):
        raise ConfigError(f"expected 0 <= start < stop <= {len(its)} iterations, got "
                          f"{iters}", key="iters")
    emitted = its[start:stop]
    if not emitted:
        raise ConfigError("no iteration to emit", key="iters")
    rng = np.random.default_rng(seed) if load.kind != "uniform" else None
    from ..progress import progress

    def emit(it: Iteration, b: Builder) -> None:
        b.phase, b.iter = it.phase, it.index
        emit_forward(b, cfg, it.seqs, tp=tp, layers=n_layers, moe=load, rng=rng)

    iterate = progress(emitted, total=len(emitted), desc="building iterations", unit="iter")
    b = Builder(dt, src="accelsim.serving")
    totals: dict[str, int] = {}
    if stream_ops_to is None:
        for it in iterate:
            emit(it, b)
    else:
        totals = _stream_ops(stream_ops_to, iterate, emit, dt)
    summary = _summary(its, requests, emitted)
    meta = {"name": f"{cfg.name}_serving_{requests.meta.get('name', 'requests')}",
            "model": model_meta(cfg), "phase": "serving", "requests": "requests.csv",
            "batching": asdict(batching),
            "clock": asdict(clock) if hasattr(clock, "__dataclass_fields__") else repr(clock),
            "iterations": {"scheduled": len(its), "emitted": [start, stop]},
            "layers_simulated": n_layers, "parallelism": {"tp": tp}, "dtypes": dt,
            "summary": summary, "generator": "accelsim.workload.serving v1",
            "units": {"flops": "FLOP", "bytes": "B", "time": "ns"}}
    if cfg.experts > 1 and load.kind != "uniform":
        meta["moe_load"] = {"kind": load.kind, "weights": list(load.weights), "seed": seed}
    if stream_ops_to is not None:
        from ..io import atomic_write_text
        from .trace import SCHEMA_VERSION, sidecar_path

        atomic_write_text(sidecar_path(stream_ops_to), json.dumps(
            {"schema_version": SCHEMA_VERSION, **meta}, indent=2, sort_keys=True) + "\n")
        return ServingTrace(None, its, requests, summary, str(stream_ops_to), totals)
    return ServingTrace(from_records(b.rows, meta), its, requests, summary)


def _stream_ops(path, iterations, emit, dt: dict[str, str], *,
                chunk_rows: int = 100_000) -> dict[str, int]:
    """Write the iterations' operators to ``path`` in chunks of about ``chunk_rows`` rows
    (validated per chunk, ``op_id`` running on), so memory stays bounded; written to a temp
    file and renamed, like every output."""
    import os
    import tempfile
    from pathlib import Path

    from .trace import COLUMNS

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    totals = {"rows": 0, "flops": 0, "bytes_weight": 0, "bytes_kv_read": 0}
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            def flush(b: Builder) -> None:
                frame = from_records(b.rows, file=str(path)).ops
                frame["op_id"] += totals["rows"]
                frame.loc[:, list(COLUMNS)].to_csv(handle, index=False,
                                                   header=totals["rows"] == 0)
                totals["rows"] += len(frame)
                for column in ("flops", "bytes_weight", "bytes_kv_read"):
                    totals[column] += int((frame[column] * frame["repeat"]).sum())

            b = Builder(dt, src="accelsim.serving")
            for it in iterations:
                emit(it, b)
                if len(b.rows) >= chunk_rows:
                    flush(b)
                    b = Builder(dt, src="accelsim.serving")
            if b.rows:
                flush(b)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return totals


def _summary(its: list[Iteration], requests: RequestTrace,
             emitted: list[Iteration]) -> dict[str, Any]:
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for it in its:
        end = it.t_start_ns + it.duration_ns
        for s in it.seqs:
            if s.sample:
                first.setdefault(s.req_id, end)
                last[s.req_id] = end
    arrival = dict(zip(requests.requests.req_id, requests.requests.arrival_ns))
    ttft = [first[r] - arrival[r] for r in first]
    e2e = [last[r] - arrival[r] for r in last]
    phases = pd.Series([it.phase for it in its]).value_counts().to_dict()
    end_ns = its[-1].t_start_ns + its[-1].duration_ns if its else 0
    return {"iterations": len(its), "iterations_by_phase": {k: int(v) for k, v in phases.items()},
            "requests": len(requests), "requests_started": len(first),
            "mean_batch": float(np.mean([len(it.seqs) for it in its])) if its else 0.0,
            "mean_tokens": float(np.mean([it.tokens for it in its])) if its else 0.0,
            "est_end_s": end_ns / 1e9,
            "est_ttft_ms_mean": float(np.mean(ttft)) / 1e6 if ttft else math.nan,
            "est_e2e_s_mean": float(np.mean(e2e)) / 1e9 if e2e else math.nan,
            "emitted_iterations": len(emitted)}
