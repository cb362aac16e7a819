"""NeuPIMs system simulation: one decode iteration of a batch on an NPU + PIM-HBM device.

The system (``../shared/research/neupims.md``) at the granularity where NPU and PIM contend:
*stages* of a decoder layer, per PIM *channel* inside a stage, per PIM operation (GWRITE or tile)
inside a channel. Pieces:

* GEMMs (QKV generation, output projection, FC1, FC2) on the systolic arrays: the closed form of
  ``hw.systolic.gemm_timing`` in NeuPIMs' orientation (activation tile stationary, weight columns
  streamed, split over the ``count`` arrays), plus the exposed 128-cycle preload of each new
  stationary tile (``npu.stationary_preload_exposed``, upstream ``NeuPIMSystolicWS.cc:437-457``);
  LayerNorm, GELU, residual adds on the vector units; each NPU operator takes
  ``max(compute, bytes / available bandwidth)``, the bandwidth being what the PIM leaves over.
* Attention: on the PIM (``hw.pim``: KV layout, GWRITE / tile op lists, refresh placement, the
  blocked / dual row-buffer rules), QK^T for every request of the (sub-)batch, then S.V after a
  barrier (upstream runs them as two operators), softmax on the NPU vector units overlapped with
  the PIM except for the last chunk's; or, for ``npu-only``, on the NPU as the bandwidth-bound
  GEMV it is (KV bytes at the HBM's peak).
* The scheduler plug-in (``mapping.schedulers``): channel assignment and sub-batching. Without
  sub-batching a layer is stages A (QKV) -> B (MHA) -> E (projection + FFN); with it, two
  sub-batches run the A-F pipeline of ``Scheduler.h:136-145`` and an N-layer iteration costs
  ``A + B + (C + D)(N - 1) + E + F``. Each stage is a SimPy process pair (NPU program, PIM
  program) joined by a barrier.

NPU / PIM interaction per memory mode: ``dual``: PIM commands have priority; the NPU's striped
traffic gets, at each instant, the smallest fraction of channel time left by the PIM GEMVs over
the channels still computing (a tile load completes when its slowest channel delivers).
``blocked``: NPU accesses go first and cannot overlap a PIM operation; every NPU request batch
that arrives during PIM work costs the channel ``hw.pim.npu_service_cycles``.

Time: cycles of the 1 GHz clock shared by NPU and DRAM (as upstream). The timeline is in ps.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import simpy

from ..arch.config import Arch, _read_yaml, load_arch
from ..arch.fields import Section
from ..errors import ConfigError, unknown_name
from ..hw.pim import (AttentionShape, PimSpec, PimUnit, attend_ops, build_pim,
                      estimate_mha_cycles, logit_ops, npu_service_cycles, pim_dir,
                      walk_with_refresh)
from ..hw.systolic import gemm_timing
from ..workload.models import ModelConfig, load_model
from ..workload.requests import LengthDist, RequestTrace
from ..mapping.schedulers import Scheduler, assign_channels, build_scheduler

# Length statistics of NeuPIMs' datasets (openai-gpt tokenizer), as log-normals of the given mean;
# sigmas from the median / p90 of the same stats files. Source: NeuPIMs trace-generator
# share-gpt2/stats.tsv and alpaca/stats.tsv via ../shared/reference/neupims/
# dataset_and_trace_stats.csv (in mean 80.0, median 17, p90 118; out mean 295.7, median 261,
# p90 576 | alpaca in 12.1 / 11 / 17, out 55.8 / 41 / 122).
_Z90 = 1.2815515655446004
NEUPIMS_DATASETS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "sharegpt": ((80.0, math.log(118 / 17) / _Z90), (295.7, math.log(576 / 261) / _Z90)),
    "alpaca": ((12.1, math.log(17 / 11) / _Z90), (55.8, math.log(122 / 41) / _Z90)),
}
SOFTMAX_OPS_PER_ELEMENT = 5     # max, sub+exp, sum, div (assumption; upstream: 1-cycle vector ops)
LN_OPS_PER_ELEMENT = 5          # mean, var, sub, mul, add (assumption)
#: What a run counts for ``accelsim.cost.estimate_decode`` (per device, per decode iteration):
#: NPU MACs and vector ops, host DRAM bytes the NPU moves (weights, activations; the KV stream
#: in NPU-only), PIM MACs (one fp16 KV element read in its bank each) and the bytes PIM operands
#: and results move over the host interface.
EVENT_KEYS = ("npu_macs", "vector_ops", "dram_bytes", "pim_macs", "pim_host_bytes")


# ---------------------------------------------------------------------------------- the system

@dataclass(frozen=True)
class NpuOptions:
    stationary_preload_exposed: bool = True


@dataclass(frozen=True)
class System:
    """An NPU (arch preset) + PIM unit + system scheduler, from ``arch_configs/pim/system_*.yaml``."""

    name: str
    source: str
    arch: Arch
    pim: PimUnit
    scheduler: Scheduler
    npu: NpuOptions = field(default_factory=NpuOptions)
    description: str = ""
    file: str | None = None

    @property
    def pim_spec(self) -> PimSpec | None:
        return self.pim.spec

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "arch": self.arch.name, "pim": self.pim.describe(),
                "scheduler": self.scheduler.describe()}


def system_names() -> list[str]:
    return sorted(p.stem[len("system_"):] for p in pim_dir().glob("system_*.yaml"))


def system_from_arch(arch: Arch, pim_raw: Any, scheduler_raw: Any, *, name: str, source: str,
                     file: str | None = None, npu: "NpuOptions | None" = None,
                     description: str = "") -> System:
    """A ``System`` from a validated architecture plus ``pim:`` and ``scheduler:`` mappings.
    Semantic checks: PIM needs HBM; a PIM scheduler needs an enabled PIM."""
    pim = build_pim(pim_raw, file=file,
                    memory=arch.memory if isinstance(arch.memory, Mapping) else None)
    scheduler = build_scheduler(scheduler_raw, file=file)
    if scheduler.attention_on == "pim" and not pim.enabled:
        raise ConfigError(f"scheduler {scheduler.impl_name!r} runs attention on PIM, but pim.impl "
                          "is 'none'; use scheduler: {impl: npu-only} or enable PIM", file=file,
                          key="scheduler.impl")
    return System(name=name, source=source, arch=arch, pim=pim, scheduler=scheduler,
                  npu=npu or NpuOptions(), description=description, file=file)


def parse_system(raw: Any, *, file: str | None = None, arch_overrides=None) -> System:
    """Validate a NeuPIMs system mapping: ``arch`` (preset or path), ``pim``, ``scheduler``,
    ``npu`` (see ``system_from_arch`` for the semantic checks)."""
    top = Section(raw, file=file)
    arch = load_arch(top.str("arch"), overrides=arch_overrides)
    pim_raw = top.any("pim", default={"impl": "none"})
    scheduler_raw = top.any("scheduler", default={"impl": "naive"})
    npu_sec = top.section("npu", default={})
    npu = NpuOptions(npu_sec.bool("stationary_preload_exposed", default=True))
    npu_sec.done()
    system = system_from_arch(
        arch, pim_raw, scheduler_raw, name=top.str("name", default=Path(file).stem if file
                                                   else "system"),
        source=top.str("source"), file=file, npu=npu,
        description=top.str("description", default=""))
    top.done()
    return system


def load_system(name_or_path: str | os.PathLike, *, arch_overrides=None) -> System:
    """A system file: a path, or a name in ``arch_configs/pim/system_<name>.yaml``.

    Example:
        >>> load_system("neupims").scheduler.impl_name
        'neupims'
    """
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        path = pim_dir() / f"system_{name_or_path}.yaml"
        if not path.is_file():
            raise unknown_name("NeuPIMs system", str(name_or_path), system_names())
    return parse_system(_read_yaml(path), file=str(path), arch_overrides=arch_overrides)


# -------------------------------------------------------------------------------- the workload

@dataclass(frozen=True)
class DecodeBatch:
    """A decode batch: KV length per request; channels per policy (``rr``/``greedy``, or
    ``trace`` for channels read from a request trace)."""

    seq_lens: np.ndarray
    channels: Mapping[str, np.ndarray] = field(default_factory=dict)
    name: str = "batch"

    def __len__(self) -> int:
        return len(self.seq_lens)


def decode_batch_from_requests(trace: RequestTrace, *, name: str | None = None) -> DecodeBatch:
    """A NeuPIMs request CSV (``seq_len, ch_idx``; ``requests.load_requests``) as a batch: the
    KV length is ``input_tokens``; its ``pim_channel`` column, if set, is kept as ``trace``."""
    r = trace.requests.sort_values("req_id", kind="stable")
    ch = r["pim_channel"].to_numpy(dtype=np.int64)
    channels = {"trace": ch} if (ch >= 0).all() else {}
    return DecodeBatch(r["input_tokens"].to_numpy(dtype=np.int64), channels,
                       name or Path(trace.path or "trace").stem)


def steady_state_batch(dataset: str, batch: int, *, model: ModelConfig, tp: int,
                       spec: PimSpec, seed: int = 0, warmup_steps: int = 4096,
                       max_seq: int | None = None) -> DecodeBatch:
    """A decode-batch snapshot as NeuPIMs' ``trace-generator/get_distributions.py`` makes it.

    ``batch`` live requests; every step each gains one token; a request that has produced its
    output (or reaches ``max_seq``, default the model's context) is replaced by a new draw of
    (input, output) lengths. New requests are assigned a channel when admitted, once per policy
    (``rr``: a round-robin pointer; ``greedy``: min estimated load, paper Alg. 2) from the same
    random draws. The snapshot after ``warmup_steps`` is returned.
    """
    if dataset not in NEUPIMS_DATASETS:
        raise unknown_name("NeuPIMs dataset", dataset, NEUPIMS_DATASETS)
    (in_mean, in_sigma), (out_mean, out_sigma) = NEUPIMS_DATASETS[dataset]
    cap = int(max_seq or model.max_ctx)
    inp = LengthDist(math.log(in_mean) - in_sigma ** 2 / 2, in_sigma, cap - 1)
    out = LengthDist(math.log(out_mean) - out_sigma ** 2 / 2, out_sigma, cap)
    rng = np.random.default_rng(seed)
    shape = attention_shape(model, tp)

    def est(s):
        return estimate_mha_cycles(spec, s, embed=shape.embed, heads=shape.heads,
                                   head_dim=shape.head_dim)

    seq = inp.draw(rng, batch)
    left = out.draw(rng, batch)
    channels, counters = {}, {}
    for policy in ("rr", "greedy"):
        channels[policy], counters[policy] = assign_channels(policy, seq, np.zeros(spec.channels),
                                                             est)
    for _ in range(warmup_steps):
        seq += 1
        left -= 1
        done = np.flatnonzero((left <= 0) | (seq >= cap))
        if len(done) == 0:
            continue
        seq[done] = inp.draw(rng, len(done))
        left[done] = out.draw(rng, len(done))
        keep = np.ones(batch, dtype=bool)
        keep[done] = False
        for policy in ("rr", "greedy"):
            ch = channels[policy]
            loads = np.bincount(ch[keep], weights=est(seq[keep]), minlength=spec.channels)
            new, counters[policy] = assign_channels(policy, seq[done], loads, est,
                                                    counter=counters[policy])
            ch[done] = new
    return DecodeBatch(seq.copy(), {k: v.copy() for k, v in channels.items()},
                       f"{dataset}-b{batch}-seed{seed}")


def attention_shape(model: ModelConfig, tp: int) -> AttentionShape:
    if model.kv_heads != model.q_heads:
        raise ConfigError(f"model {model.name}: the NeuPIMs KV layout is for multi-head "
                          f"attention (q_heads {model.q_heads} != kv_heads {model.kv_heads})")
    if model.q_heads % tp or model.hidden % tp:
        raise ConfigError(f"model {model.name}: tensor parallelism {tp} must divide heads "
                          f"({model.q_heads}) and hidden ({model.hidden})", key="tp")
    return AttentionShape(model.hidden // tp, model.q_heads // tp, model.head_dim)


# ------------------------------------------------------------------------------ NPU operators

@dataclass(frozen=True)
class NpuOp:
    """An NPU operator as consecutive segments ``(compute_cycles, DRAM bytes)``; a segment ends
    when both its compute and its bytes are done (they overlap within a segment)."""

    name: str
    unit: str               # "systolic" or "vector"
    segments: tuple[tuple[int, int], ...]
    macs: int = 0
    vector_ops: int = 0

    @property
    def compute_cycles(self) -> int:
        return sum(c for c, _ in self.segments)

    @property
    def bytes(self) -> int:
        return sum(b for _, b in self.segments)


def npu_gemm_cycles(arch: Arch, tokens: int, K: int, O: int, *, preload_exposed: bool) -> tuple[
        int, int]:
    """Compute cycles and folds of ``[tokens x K] . [K x O]`` on the NPU, NeuPIMs' orientation:
    the activation tile is stationary (``K`` on the array rows, tokens on its columns) and the
    ``O`` weight columns stream, split over the ``count`` arrays; each new stationary tile's
    preload adds ``rows`` cycles when ``preload_exposed``.

    Example (GPT3-7B FC1 at TP4, batch 512; upstream's core model gives ~80k):
        >>> npu_gemm_cycles(load_arch("neupims_npu_hbm"), 512, 4096, 4096, preload_exposed=True)
        (82302, 128)
    """
    sa = arch.systolic
    t = gemm_timing(-(-O // sa.count), K, tokens, sa.rows, sa.cols, "ws",
                    fold_pipelining=sa.fold_pipelining)
    return t.compute_cycles + (t.folds * sa.rows if preload_exposed else 0), t.folds


def _vector(arch: Arch, name: str, elements: int, ops_per_element: int, nbytes: int) -> NpuOp:
    vu = arch.vector
    cycles = -(-elements * ops_per_element // vu.ops_per_cycle) + vu.pipeline_latency_cycles
    return NpuOp(name, "vector", ((cycles, nbytes),), vector_ops=elements * ops_per_element)


def _gemm(system: System, name: str, tokens: int, K: int, O: int) -> NpuOp:
    """A GEMM in NeuPIMs' loop order (``MatMul.cc:195-198``, token blocks outermost in the
    swapped index space): the first block of ``cols`` tokens streams every weight from DRAM,
    the later blocks reuse them from SRAM (upstream's SRAM holds the whole matrix). So the
    first block's pass is bounded by the weight stream, the others by compute."""
    arch = system.arch
    cycles, _ = npu_gemm_cycles(arch, tokens, K, O,
                                preload_exposed=system.npu.stationary_preload_exposed)
    b = 2  # fp16 bytes, as the preset's dtypes
    blocks = -(-tokens // arch.systolic.cols)
    first = cycles // blocks
    act = tokens * K * b
    segments = [(first, K * O * b + act // blocks)]
    if blocks > 1:
        segments.append((cycles - first, act - act // blocks))
    c, last = segments[-1]
    segments[-1] = (c, last + tokens * O * b)
    return NpuOp(name, "systolic", tuple(segments), tokens * K * O)


def qkv_ops(system: System, model: ModelConfig, tp: int, n: int) -> list[NpuOp]:
    d, E = model.hidden, model.hidden // tp
    return [_vector(system.arch, "attn.ln", n * d, LN_OPS_PER_ELEMENT, 2 * n * d * 2),
            _gemm(system, "attn.qkv", n, d, 3 * E)]


def proj_ffn_ops(system: System, model: ModelConfig, tp: int, n: int) -> list[NpuOp]:
    d, E, F = model.hidden, model.hidden // tp, model.ffn_dim // tp
    a = system.arch
    return [_gemm(system, "attn.proj", n, E, d),
            _vector(a, "attn.res", n * d, 1, 3 * n * d * 2),
            _vector(a, "ffn.ln", n * d, LN_OPS_PER_ELEMENT, 2 * n * d * 2),
            _gemm(system, "ffn.fc1", n, d, F),
            _vector(a, "ffn.gelu", n * F, 1, 2 * n * F * 2),
            _gemm(system, "ffn.fc2", n, F, d),
            _vector(a, "ffn.res", n * d, 1, 3 * n * d * 2)]


def npu_attention_ops(system: System, shape: AttentionShape, seq: np.ndarray) -> list[NpuOp]:
    """NPU-only attention: QK^T and S.V stream each request's K and V once, at the HBM's peak
    (a bandwidth-bound GEMV on a good NPU); MACs at one per vector lane per cycle."""
    tokens = int(seq.sum())
    kv = tokens * shape.embed * 2
    macs = tokens * shape.embed
    lanes = system.arch.vector.ops_per_cycle
    step = ((-(-macs // lanes), kv + len(seq) * shape.embed * 2),)
    out = [NpuOp("attn.qk", "systolic", step, macs),
           _vector(system.arch, "attn.softmax", tokens * shape.heads, SOFTMAX_OPS_PER_ELEMENT,
                   2 * tokens * shape.heads * 2),
           NpuOp("attn.sv", "systolic", step, macs)]
    return out


def _run_npu(ops: list[NpuOp], t0: float, bw: float, profile: list[tuple[float, float]]
             ) -> list[tuple[NpuOp, float, float]]:
    """Run ops in order from ``t0``; each ends at ``max(start + compute, when its bytes have
    flowed)`` at ``bw * avail(t)`` bytes/cycle; ``profile`` = sorted ``(time, avail)`` steps
    (avail 1 before the first and after the last step)."""
    times = [p[0] for p in profile]
    out = []
    t = t0
    for op in ops:
        start = t
        for compute, nbytes in op.segments:
            seg_start = t
            remaining = float(nbytes)
            i = int(np.searchsorted(times, t, side="right")) - 1
            while remaining > 0:
                avail = profile[i][1] if i >= 0 else 1.0
                seg_end = profile[i + 1][0] if i + 1 < len(profile) else math.inf
                rate = bw * avail
                if rate > 0 and t + remaining / rate <= seg_end:
                    t += remaining / rate
                    remaining = 0.0
                else:
                    remaining -= rate * (seg_end - t)
                    t = seg_end
                    i += 1
            t = max(t, seg_start + compute)
        t = float(math.ceil(t))
        out.append((op, start, t))
    return out


# ----------------------------------------------------------------------------- PIM attention

@dataclass
class PimPhase:
    """One PIM operator (QK^T or S.V) of a (sub-)batch: per-channel busy span and GEMV cycles."""

    name: str
    start: float
    ends: np.ndarray                 # per channel
    comp_cycles: np.ndarray          # per channel, COMP + READRES cycles
    mac_cycles: np.ndarray           # per channel, COMP issue cycles (MAC slots used)
    refresh_stall: np.ndarray
    macs: int = 0                    # fp16 MACs (one per KV element read in the banks)
    host_bytes: int = 0              # operands in and results out over the host interface


class _OpCache:
    def __init__(self, spec: PimSpec, shape: AttentionShape):
        self.spec, self.shape = spec, shape
        self.cache: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, int]] = {}

    def get(self, kind: str, s: int):
        key = (kind, int(s))
        hit = self.cache.get(key)
        if hit is None:
            fn = logit_ops if kind == "logit" else attend_ops
            ops, comp, _ = fn(self.spec, int(s), self.shape)
            macs = self.mac_cycles(kind, int(s))
            hit = self.cache[key] = (np.array(ops, dtype=np.int64),
                                     np.array(comp, dtype=np.int64), macs)
        return hit

    def mac_cycles(self, kind: str, s: int) -> int:
        """COMP issue cycles doing useful MACs (elements / (banks x MACs per bank) x interval)."""
        sp, sh = self.spec, self.shape
        per_cycle = sp.banks * sp.macs_per_bank / sp.comp_interval_cycles
        return int(round(s * sh.embed / per_cycle))


def pim_phase(spec: PimSpec, cache: _OpCache, kind: str, seq: np.ndarray, channels: np.ndarray,
              start: float, npu_bytes_per_channel: float, write: bool) -> PimPhase:
    """Run one PIM operator of the requests ``seq`` (on ``channels``) from ``start``."""
    nch = spec.channels
    ends = np.full(nch, float(start))
    comp = np.zeros(nch)
    macs = np.zeros(nch)
    stall = np.zeros(nch)
    n_req = int(math.ceil(npu_bytes_per_channel / spec.request_bytes))
    for c in range(nch):
        sel = seq[channels == c]
        if len(sel) == 0:
            continue
        parts = [cache.get(kind, s) for s in sel]
        ops = np.concatenate([p[0] for p in parts])
        comp[c] = sum(int(p[1].sum()) for p in parts)
        macs[c] = sum(p[2] for p in parts)
        if spec.mode == "blocked" and n_req:
            interrupts = min(len(ops), n_req)
            service = npu_service_cycles(spec, -(-n_req // interrupts), write=write)
            ops = ops.copy()
            ops[np.linspace(0, len(ops) - 1, interrupts).astype(np.int64)] += service
        end, lost = walk_with_refresh(spec, ops, start=int(math.ceil(start)))
        ends[c] = end
        stall[c] = lost
    return PimPhase(kind, float(start), ends, comp, macs, stall)


def _softmax_tail(system: System, shape: AttentionShape, seq: np.ndarray) -> int:
    """The last softmax of each channel is not hidden behind PIM work (one chunk of heads of the
    longest request, on one 128-lane vector unit)."""
    if len(seq) == 0:
        return 0
    heads = min(shape.heads, max(1, system.pim_spec.page_elements // shape.head_dim))
    lanes = max(1, system.arch.vector.lanes // 8)
    return (-(-int(seq.max()) * heads * SOFTMAX_OPS_PER_ELEMENT // lanes)
            + system.arch.vector.pipeline_latency_cycles)


# --------------------------------------------------------------------------------- simulation

@dataclass
class StageRecord:
    name: str
    start: float
    end: float
    npu: list[tuple[str, str, float, float, int, str]]  # (sub-batch, op, start, end, MACs, unit)
    pim: list[PimPhase]
    npu_label: str = ""
    pim_label: str = ""
    events: dict[str, int] = field(default_factory=dict)   # EVENT_KEYS counts of this stage

    @property
    def cycles(self) -> float:
        return self.end - self.start


@dataclass
class NeuPimsResult:
    """One decode iteration of ``batch`` requests on ``system``."""

    system: str
    model: str
    batch: int
    layers: int
    stages: list[StageRecord]
    layer_cycles: float               # steady-state cycles of one layer
    iteration_cycles: float
    tokens_per_s: float
    npu_mac_utilization: float        # GEMM (and NPU attention) MACs / (peak x time)
    npu_busy_fraction: float          # systolic arrays busy / time
    pim_utilization: float            # COMP MAC slots used / (channels x time)
    pim_busy_fraction: float          # channel time in PIM operations / (channels x time)
    channel_load_max_over_mean: float
    stage_cycles: dict[str, float]
    clock_mhz: float
    events: dict[str, float] = field(default_factory=dict)   # EVENT_KEYS over the iteration
    timeline: Any = None

    @property
    def iteration_ns(self) -> float:
        return self.iteration_cycles * 1e3 / self.clock_mhz

    def summary(self) -> dict[str, Any]:
        return {"system": self.system, "model": self.model, "batch": self.batch,
                "layers": self.layers, "layer_cycles": round(self.layer_cycles),
                "iteration_cycles": round(self.iteration_cycles),
                "tokens_per_s": round(self.tokens_per_s, 1),
                "npu_mac_utilization": round(self.npu_mac_utilization, 4),
                "npu_busy_fraction": round(self.npu_busy_fraction, 4),
                "pim_utilization": round(self.pim_utilization, 4),
                "pim_busy_fraction": round(self.pim_busy_fraction, 4),
                "channel_load_max_over_mean": round(self.channel_load_max_over_mean, 3),
                "stage_cycles": {k: round(v) for k, v in self.stage_cycles.items()},
                "events": {k: round(v) for k, v in self.events.items()}}

    @property
    def timeline_title(self) -> str:
        """Title for ``accelsim.report.timeline.write_timeline(result.timeline, path, ...)``."""
        return f"{self.system} {self.model} b{self.batch}"


def simulate_decode(system: System, batch: DecodeBatch, *, model: ModelConfig | str,
                    tp: int = 4, pp: int = 1, timeline: bool = False) -> NeuPimsResult:
    """Simulate one decode iteration (every request produces one token).

    Args:
        system: ``load_system(...)``.
        batch: KV lengths (and channel assignments) of the requests.
        model: a ``ModelConfig`` or a model name in ``traces/models/``.
        tp: tensor parallelism (shrinks the per-device shapes; no communication is modelled,
            as upstream); ``pp``: pipeline stages (layers per device = ``ceil(layers / pp)``).
        timeline: record NPU / PIM-channel / stage slices for ``write_timeline``.
    """
    model = load_model(model) if isinstance(model, str) else model
    shape = attention_shape(model, tp)
    sched = system.scheduler
    seq = np.asarray(batch.seq_lens, dtype=np.int64)
    n = len(seq)
    if n == 0:
        raise ConfigError("empty decode batch")
    layers = -(-model.layers // pp)
    spec = system.pim_spec
    arch = system.arch
    # GB/s = bytes/ns; bytes per NPU cycle = GB/s x ns per cycle
    bw_bytes_per_cycle = arch.build_memory().peak_bandwidth_gbps() * 1000.0 / arch.clock_mhz

    if sched.attention_on == "pim":
        if "trace" in batch.channels:
            channels = np.asarray(batch.channels["trace"], dtype=np.int64)
        elif sched.channel_policy in batch.channels:
            channels = np.asarray(batch.channels[sched.channel_policy], dtype=np.int64)
        else:
            est = lambda s: estimate_mha_cycles(spec, s, embed=shape.embed, heads=shape.heads,
                                                head_dim=shape.head_dim)
            channels, _ = sched.assign(seq, np.zeros(spec.channels), est)
        if channels.max() >= spec.channels or channels.min() < 0:
            raise ConfigError(f"request channel index out of range 0..{spec.channels - 1}")
        loads = np.bincount(channels, weights=estimate_mha_cycles(
            spec, seq, embed=shape.embed, heads=shape.heads, head_dim=shape.head_dim),
            minlength=spec.channels)
        imbalance = float(loads.max() / loads.mean())
        subs = sched.sub_batches(channels)
        cache = _OpCache(spec, shape)
    else:
        channels, imbalance, subs, cache = np.zeros(n, dtype=np.int64), 1.0, [np.arange(n)], None

    env = simpy.Environment()
    stages: list[StageRecord] = []

    def npu_program(ops_by_sb, profile):
        out, t = [], env.now
        for label, ops in ops_by_sb:
            ran = _run_npu(ops, t, bw_bytes_per_cycle, profile)
            out.extend((label, op.name, s, e, op.macs, op.unit) for op, s, e in ran)
            if ran:
                t = ran[-1][2]
        return out, t

    def mha(label, idx, start, concurrent_npu_bytes):
        """The PIM program of one sub-batch: QK^T phase, barrier + softmax tail, S.V phase."""
        s_seq, s_ch = seq[idx], channels[idx]
        sm_bytes = int(s_seq.sum()) * shape.heads * 2
        per_ch = (sm_bytes + concurrent_npu_bytes) / spec.channels
        logit = pim_phase(spec, cache, "logit", s_seq, s_ch, start, per_ch,
                          write=concurrent_npu_bytes == 0)
        t_att = logit.ends.max() + _softmax_tail(system, shape, s_seq)
        out_bytes = len(idx) * shape.embed * 2
        attend = pim_phase(spec, cache, "attend", s_seq, s_ch, t_att,
                           (out_bytes + concurrent_npu_bytes) / spec.channels,
                           write=concurrent_npu_bytes == 0)
        tokens = int(s_seq.sum())
        logit.macs = attend.macs = tokens * shape.embed            # every K (V) element once
        logit.host_bytes = out_bytes + tokens * shape.heads * 2    # queries in, logits out
        attend.host_bytes = tokens * shape.heads * 2 + out_bytes   # probabilities in, outputs out
        for ph in (logit, attend):
            ph.name = f"{label} {ph.name}"
        return [logit, attend]

    def profile_of(phases: list[PimPhase]) -> list[tuple[float, float]]:
        """NPU bandwidth share over time (dual: min over computing channels of 1 - GEMV share;
        blocked: NPU first, full bandwidth)."""
        if not phases or spec is None or spec.mode == "blocked":
            return []
        points = sorted({p.start for p in phases} | {float(e) for p in phases for e in p.ends})
        prof = []
        for a, b in zip(points, points[1:]):
            mid = (a + b) / 2
            avail = 1.0
            for p in phases:
                span = np.maximum(p.ends - p.start, 1.0)
                active = (p.start <= mid) & (p.ends > mid) & (p.comp_cycles > 0)
                if active.any():
                    avail = min(avail, float((1.0 - p.comp_cycles[active] / span[active]).min()))
            prof.append((a, avail))
        if points:
            prof.append((points[-1], 1.0))
        return prof

    def stage(name, npu_parts, pim_parts):
        """One stage: the NPU program and the PIM program run concurrently; barrier at the end."""
        start = env.now
        phases = []
        npu_bytes = sum(op.bytes for _, ops in npu_parts for op in ops)
        blocked = spec is not None and spec.mode == "blocked"
        for label, idx in pim_parts:
            phases += mha(label, idx, start, npu_bytes if blocked else 0)
        pim_end = max((float(p.ends.max()) for p in phases), default=start)
        npu_ops, npu_end = npu_program(npu_parts, profile_of(phases))
        end = max(pim_end, npu_end, start)

        def wait(until):
            yield env.timeout(max(0.0, until - env.now))

        done = [env.process(wait(npu_end)), env.process(wait(pim_end))]
        yield simpy.AllOf(env, done)
        yield env.timeout(max(0.0, end - env.now))
        ops = [op for _, part in npu_parts for op in part]
        events = {"npu_macs": sum(op.macs for op in ops),
                  "vector_ops": sum(op.vector_ops for op in ops),
                  "dram_bytes": npu_bytes,
                  "pim_macs": sum(p.macs for p in phases),
                  "pim_host_bytes": sum(p.host_bytes for p in phases)}
        stages.append(StageRecord(name, start, end, npu_ops, phases,
                                  "+".join(l for l, _ in npu_parts),
                                  "+".join(l for l, _ in pim_parts), events))

    def qkv(i):
        return qkv_ops(system, model, tp, len(subs[i]))

    def pjffn(i):
        return proj_ffn_ops(system, model, tp, len(subs[i]))

    def program():
        if sched.attention_on == "npu":
            yield from stage("A", [("all", qkv(0))], [])
            yield from stage("B", [("all", npu_attention_ops(system, shape, seq))], [])
            yield from stage("E", [("all", pjffn(0))], [])
        elif len(subs) == 1:
            yield from stage("A", [("all", qkv(0))], [])
            yield from stage("B", [], [("all", subs[0])])
            yield from stage("E", [("all", pjffn(0))], [])
        else:
            yield from stage("A", [("SB1", qkv(0))], [])
            yield from stage("B", [("SB2", qkv(1))], [("SB1", subs[0])])
            yield from stage("C", [("SB1", pjffn(0) + qkv(0))], [("SB2", subs[1])])
            yield from stage("D", [("SB2", pjffn(1) + qkv(1))], [("SB1", subs[0])])
            yield from stage("E", [("SB1", pjffn(0))], [("SB2", subs[1])])
            yield from stage("F", [("SB2", pjffn(1))], [])

    env.process(program())
    env.run()

    cyc = {s.name: s.cycles for s in stages}
    if len(stages) == 3:
        layer = cyc["A"] + cyc["B"] + cyc["E"]
        iteration = layers * layer
        weights = {"A": layers, "B": layers, "E": layers}
    else:
        layer = cyc["C"] + cyc["D"]
        iteration = cyc["A"] + cyc["B"] + layer * (layers - 1) + cyc["E"] + cyc["F"]
        weights = {"A": 1, "B": 1, "C": layers - 1, "D": layers - 1, "E": 1, "F": 1}
    # utilizations over the iteration (stage weights as in the layer formula)
    busy_sa = macs = pim_busy = pim_mac = 0.0
    for s in stages:
        w = weights[s.name]
        for _, _, a, b, op_macs, unit in s.npu:
            busy_sa += w * (b - a) * (unit == "systolic")
            macs += w * op_macs
        for p in s.pim:
            pim_busy += w * float(np.maximum(p.ends - p.start, 0)[p.comp_cycles > 0].sum())
            pim_mac += w * float(p.mac_cycles.sum())
    events = {k: float(sum(weights[s.name] * s.events[k] for s in stages)) for k in EVENT_KEYS}
    peak = arch.systolic.pes
    total = iteration
    nch = spec.channels if spec is not None else 1
    clock = arch.clock_mhz
    result = NeuPimsResult(
        system=system.name, model=model.name, batch=n, layers=layers, stages=stages,
        layer_cycles=layer, iteration_cycles=iteration,
        tokens_per_s=n / (iteration / (clock * 1e6)),
        npu_mac_utilization=macs / (peak * total),
        npu_busy_fraction=busy_sa / total,
        pim_utilization=pim_mac / (nch * total) if spec is not None else 0.0,
        pim_busy_fraction=pim_busy / (nch * total) if spec is not None else 0.0,
        channel_load_max_over_mean=imbalance, stage_cycles=cyc, clock_mhz=clock,
        events=events)
    if timeline:
        result.timeline = _timeline(result, spec)
    return result


def _timeline(result: NeuPimsResult, spec: PimSpec | None):
    from .core import Timeline
    from ..units import cycles_to_ps

    tl = Timeline(max_events=1_000_000)
    clk = result.clock_mhz

    def ps(c):
        return cycles_to_ps(int(round(c)), clk)

    for s in result.stages:
        tl.add("stage", f"stage {s.name}", ps(s.start), ps(s.end),
               {"npu": s.npu_label, "pim": s.pim_label})
        for sb, opname, a, b, _, _ in s.npu:
            tl.add("npu", f"{sb} {opname}", ps(a), ps(b), {"stage": s.name})
        for p in s.pim:
            for c, e in enumerate(p.ends):
                if p.comp_cycles[c] > 0:
                    tl.add(f"pim ch{c:02d}", p.name, ps(p.start), ps(e),
                           {"stage": s.name, "gemv_cycles": int(p.comp_cycles[c]),
                            "refresh_stall_cycles": int(p.refresh_stall[c])})
    return tl


__all__ = ["System", "load_system", "parse_system", "system_names", "DecodeBatch",
           "decode_batch_from_requests", "steady_state_batch", "simulate_decode",
           "NeuPimsResult", "npu_gemm_cycles", "NEUPIMS_DATASETS"]
