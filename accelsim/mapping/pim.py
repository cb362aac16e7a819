"""Decode attention on PIM: which trace rows go to the PIM channels, and the work they become.

When the architecture has an enabled ``pim:`` section, decode attention rows (``attention``,
``attention_score``, ``attention_context`` with ``q_len == 1`` and no causal mask: one new token
reading its request's KV cache) lower to the ``pim`` unit. The scheduler plug-in
(``pim.scheduler``, ``mapping/schedulers.py``) decides:

* ``attention_on``: ``pim`` (``naive``, ``gmlbp``, ``neupims``), or ``npu`` (``npu-only``: the
  rows stay on the NPU as the bandwidth-bound GEMVs they are, on the vector units, streaming the
  KV cache through the memory model);
* channel placement: every request's KV cache lives on one PIM channel, assigned when the
  request first appears (``rr`` or greedy min-load bin packing with NeuPIMs' latency estimator;
  a trace may carry the serving system's own assignment in ``meta["pim_channels"]``);
* sub-batching: ``decode_sub_batches`` splits a decode batch in two (paper Alg. 3) for the
  trace generator, which puts each sub-batch in its own ``stream``, so one sub-batch's GEMMs
  overlap the other's PIM attention on the shared units.

The decode attention rows of one layer (and stream) form one PIM operator *group*, as NeuPIMs
runs them: QK^T of every request (per channel, in request order), a barrier, the last softmax
chunk on the NPU vector unit, then S.V. The group's first row carries its time; the other rows
of the group take none. Unfused traces have two groups per layer (``attention_score`` rows:
QK^T, ``attention_context`` rows: S.V) with the softmax rows between them on the vector unit.

Per-channel work is ``hw.pim``'s op lists (``logit_ops``, ``attend_ops``); the engine queues
them on ``hw.pim_channels.PimChannels``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from ..errors import ConfigError
from ..hw.pim import AttentionShape, attend_ops, estimate_mha_cycles, logit_ops

PIM_CLASSES = ("attention", "attention_score", "attention_context")
SOFTMAX_OPS_PER_ELEMENT = 5     # max, sub+exp, sum, div (as the trace's softmax rows)
VECTOR_UNITS = 8                # softmax of one head chunk runs on one of the NPU's vector units
#                                 (NeuPIMs: 8 x 128 lanes; neupims_npu_hbm.yaml)


# ----------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class PimSetup:
    """The arch's PIM unit and scheduler, built once per architecture."""

    unit: Any                 # hw.pim.PimUnit
    scheduler: Any            # mapping.schedulers.Scheduler

    @property
    def spec(self):
        return self.unit.spec

    @property
    def on_pim(self) -> bool:
        return self.unit.enabled and self.scheduler.attention_on == "pim"

    @property
    def on_npu_gemv(self) -> bool:
        return self.scheduler.attention_on == "npu"


def check_pim_section(raw: Any, memory: Any, *, file: str | None = None,
                      hbm_channels: int | None = None) -> None:
    """Validate an arch's ``pim:`` mapping (unit keys + ``scheduler``) at load time."""
    build_setup(raw, memory, file=file, hbm_channels=hbm_channels)


def hbm_channel_count(memory_model) -> int | None:
    """Channels of an ``hbm`` memory model (channels x stacks), else ``None``."""
    desc = memory_model.describe()
    if desc.get("impl") != "hbm":
        return None
    return int(desc.get("channels", 1)) * int(desc.get("stacks", 1) or 1)


def build_setup(raw: Any, memory: Any, *, file: str | None = None,
                hbm_channels: int | None = None) -> PimSetup:
    """The PIM unit and scheduler of a ``pim:`` mapping. The PIM has one channel per HBM
    channel: ``pim.channels`` follows the memory (``hbm_channels``) unless given, and must then
    agree with it."""
    from ..hw.pim import build_pim
    from .schedulers import build_scheduler

    if not isinstance(raw, Mapping):
        from ..arch.fields import Section

        Section(raw, file=file, path="pim")         # the error for a non-mapping
    unit_raw = {k: v for k, v in raw.items() if k != "scheduler"}
    if hbm_channels and unit_raw.get("impl", "none") != "none":
        given = unit_raw.get("channels")
        if given is not None and given != hbm_channels:
            raise ConfigError(f"PIM channels ({given}) must equal the HBM channels "
                              f"({hbm_channels} = memory channels x stacks): PIM units sit in "
                              "the HBM banks; leave pim.channels unset to follow memory",
                              file=file, key="pim.channels")
        unit_raw["channels"] = hbm_channels
    unit = build_pim(unit_raw, file=file, memory=memory if isinstance(memory, Mapping) else None)
    default = {"impl": "naive" if unit.enabled else "npu-only"}
    sched = build_scheduler(raw.get("scheduler", default), file=file, path="pim.scheduler")
    if sched.attention_on == "pim" and not unit.enabled:
        raise ConfigError(f"pim.scheduler {sched.impl_name!r} runs attention on PIM, but "
                          "pim.impl is 'none'; use scheduler: {impl: npu-only} or enable PIM",
                          file=file, key="pim.scheduler.impl")
    return PimSetup(unit, sched)


def pim_setup(arch) -> PimSetup | None:
    """The arch's ``PimSetup`` (``None`` without a ``pim:`` section); memoized on the arch."""
    if arch.pim is None:
        return None
    cached = arch.__dict__.get("_pim_setup")
    if cached is None:
        cached = build_setup(arch.pim, arch.memory, file=arch.file,
                             hbm_channels=hbm_channel_count(arch.build_memory()))
        object.__setattr__(arch, "_pim_setup", cached)
    return cached


def is_decode_attention(op: Mapping[str, Any]) -> bool:
    return (op["op_class"] in PIM_CLASSES and int(op["q_len"]) == 1 and not int(op["causal"])
            and int(op["kv_len"]) > 0)


def attention_shape(op: Mapping[str, Any]) -> AttentionShape:
    kvh = max(1, int(op["kv_heads"]))
    heads = max(1, int(op["heads"]))
    return AttentionShape(kvh * int(op["head_dim"]), kvh, int(op["head_dim"]),
                          max(1, heads // kvh))


def requests_in_row(op: Mapping[str, Any]) -> int:
    return max(1, int(op["batch"]) // max(1, int(op["kv_heads"])))


# ---------------------------------------------------------------------------- lowering a row

def lower_decode_attention(op: dict[str, Any], arch, totals_only: bool):
    """The plan of a decode attention row on a PIM arch: a ``pim`` plan (the engine runs the
    row's group on the channels), or the NPU-only GEMV plan; ``None``: the arch's own mapping."""
    setup = pim_setup(arch)
    if setup is None or not is_decode_attention(op):
        return None
    from .lower import OpPlan

    macs = int(op["flops"]) // 2
    if setup.on_pim:
        z = np.zeros(1, dtype=np.int64)
        spec = setup.spec
        return OpPlan("pim", z, z.copy(), z.copy(), 0, work=macs,
                      peak_work_per_cycle=spec.peak_macs_per_cycle() * spec.channels,
                      details={"pim": f"{spec.name} {spec.mode}, {setup.scheduler.impl_name}"})
    if setup.on_npu_gemv:
        return _npu_gemv_plan(op, arch, macs, totals_only)
    return None


def _npu_gemv_plan(op: dict[str, Any], arch, macs: int, totals_only: bool):
    """Decode attention as the bandwidth-bound GEMV it is, on the NPU's vector units: one MAC
    per lane per cycle, K and V streamed from memory once, in tiles of one request's K, then
    its V, double-buffered against the MACs. The engine runs the decode attention rows of a
    layer as one such kernel (``merge_plans``), as a paged-attention kernel serves a batch."""
    from .lower import OpPlan, _apportion, _one

    read = int(op["bytes_act_in"] + op["bytes_kv_read"])
    write = int(op["bytes_act_out"])
    lanes = arch.vector_ops_per_cycle
    compute = -(-macs // lanes) + arch.vector.pipeline_latency_cycles
    details = {"npu_gemv": "decode attention as a GEMV on the vector units"}
    parts = 2 if op["op_class"] == "attention" else 1
    tiles = max(1, min(arch.engine.max_tiles_per_op, requests_in_row(op) * parts))
    if totals_only:
        return OpPlan("vector", _one(read), _one(compute), _one(write), compute, work=macs,
                      peak_work_per_cycle=lanes, details=details,
                      first_load_bytes=-(-read // tiles))
    even = np.ones(tiles)
    return OpPlan("vector", _apportion(read, even), _apportion(compute, even),
                  _apportion(write, even), compute, work=macs, peak_work_per_cycle=lanes,
                  details=details)


def merge_plans(plans: list, max_tiles: int) -> Any:
    """One plan running ``plans`` back to back (their tiles in order, at most ``max_tiles``;
    totals summed)."""
    from .lower import OpPlan, _merge

    first = plans[0]
    cat = _merge(tuple(np.concatenate([getattr(p, a) for p in plans])
                       for a in ("load_bytes", "compute_cycles", "store_bytes")), max_tiles)
    return OpPlan(first.unit, *cat, sum(p.compute_cycles_total for p in plans),
                  work=sum(p.work for p in plans), peak_work_per_cycle=first.peak_work_per_cycle,
                  details=dict(first.details), first_load_bytes=first.first_load_bytes)


# ------------------------------------------------------------------- groups and channel work

@dataclass
class PimGroup:
    """The decode attention rows of one (iter, stream, layer, kind) that run as one operator."""

    key: tuple
    rows: list[int]
    kind: str                   # "fused", "logit" (attention_score) or "attend" (context)


class PimPlanner:
    """Per simulation: PIM row groups, request -> channel placement, and per-channel work."""

    def __init__(self, arch, rows: list[dict[str, Any]], meta: Mapping[str, Any] | None = None,
                 *, previous: "PimPlanner | None" = None):
        """``previous``: the planner of the trace's earlier iterations (a streamed serving
        run): requests keep the channels it placed them on."""
        self.arch = arch
        self.setup = pim_setup(arch)
        self.spec = self.setup.spec
        self.on_pim = self.setup.on_pim
        self.rows = rows
        self.meta = meta or {}
        self.group_of: dict[int, PimGroup] = {}
        self.groups: dict[tuple, PimGroup] = {}
        self._ops: dict[tuple, tuple[np.ndarray, int]] = {}
        kinds = {"attention": "fused", "attention_score": "logit", "attention_context": "attend"}
        for i, op in enumerate(rows):
            if not is_decode_attention(op):
                continue
            kind = kinds[op["op_class"]]
            key = (op["iter"], op["stream"], op["layer"], kind)
            g = self.groups.get(key)
            if g is None:
                g = self.groups[key] = PimGroup(key, [], kind)
            g.rows.append(i)
            self.group_of[i] = g
        self.channel: dict[Any, int] = dict(previous.channel) if previous is not None else {}
        self._counter = previous._counter if previous is not None else 0
        if self.on_pim:
            self._assign_channels()

    # -- requests
    def _requests(self, g: PimGroup) -> list[tuple[Any, int, AttentionShape]]:
        out = []
        for pos, i in enumerate(g.rows):
            op = self.rows[i]
            n = requests_in_row(op)
            ids = [int(x) for x in str(op["req_ids"]).split(";") if x.strip()] if op[
                "req_ids"] else []
            if len(ids) != n:
                ids = [("anon", op["stream"], pos, k) for k in range(n)]
            shape = attention_shape(op)
            out.extend((rid, int(op["kv_len"]), shape) for rid in ids)
        return out

    def _estimate(self, shape: AttentionShape):
        spec = self.spec
        return lambda s: estimate_mha_cycles(spec, s, embed=shape.embed, heads=shape.heads,
                                             head_dim=shape.head_dim, group=shape.group)

    def _assign_channels(self) -> None:
        """Place each request when it first appears (iteration order); later iterations keep
        its channel, new requests see the estimated load of the live ones."""
        sched, nch = self.setup.scheduler, self.spec.channels
        placed = self.meta.get("pim_channels") or {}
        given = placed.get("trace", placed.get(sched.channel_policy))   # a trace's own first
        counter = self._counter
        by_iter: dict[Any, dict[Any, tuple[int, AttentionShape]]] = {}
        for g in self.groups.values():
            live = by_iter.setdefault(g.key[0], {})
            for rid, s, shape in self._requests(g):
                live.setdefault(rid, (s, shape))
        for _, live in by_iter.items():
            # requests in arrival order: by req_id (anonymous ones in trace order)
            new = sorted((rid for rid in live if rid not in self.channel),
                         key=lambda r: (0, r) if isinstance(r, int) else (1, 0))
            loads = np.zeros(nch)
            for rid, (s, shape) in live.items():
                if rid in self.channel:
                    loads[self.channel[rid]] += float(self._estimate(shape)(s))
            if not new:
                continue
            if given is not None and all(isinstance(r, int) and 0 <= r < len(given) for r in new):
                for rid in new:
                    ch = int(given[rid])
                    if not 0 <= ch < nch:
                        raise ConfigError(f"trace meta pim_channels: request {rid} on channel "
                                          f"{ch}, expected 0..{nch - 1}", key="pim_channels")
                    self.channel[rid] = ch
                continue
            shape = live[new[0]][1]
            lengths = np.array([live[r][0] for r in new], dtype=np.int64)
            chans, counter = sched.assign(lengths, loads, self._estimate(shape), counter=counter)
            for rid, ch in zip(new, chans):
                self.channel[rid] = int(ch)
        self._counter = counter

    # -- work
    def _op_list(self, kind: str, s: int, shape: AttentionShape) -> tuple[np.ndarray, np.ndarray]:
        key = (kind, s, shape)
        hit = self._ops.get(key)
        if hit is None:
            fn = logit_ops if kind == "logit" else attend_ops
            ops, comp, _ = fn(self.spec, s, shape)
            hit = self._ops[key] = (np.array(ops, dtype=np.int64), int(sum(comp)))
        return hit

    def phase_work(self, g: PimGroup, kind: str) -> dict[str, Any]:
        """Per-channel op lists, GEMV cycles, MAC-slot cycles and host requests of one phase
        (``logit`` or ``attend``) of group ``g``; also its MACs and host bytes."""
        spec, nch = self.spec, self.spec.channels
        per_ch: list[list[np.ndarray]] = [[] for _ in range(nch)]
        comp = np.zeros(nch, dtype=np.int64)
        macs = np.zeros(nch, dtype=np.int64)
        per_cycle = spec.banks * spec.macs_per_bank / spec.comp_interval_cycles
        tokens = elements = n_req = 0
        heads = 0
        for rid, s, shape in self._requests(g):
            c = self.channel[rid]
            ops, gemv = self._op_list(kind, s, shape)
            per_ch[c].append(ops)
            comp[c] += gemv
            elems = s * shape.embed * shape.group
            macs[c] += int(round(elems / per_cycle))
            tokens += s
            elements += elems
            n_req += 1
            heads = shape.heads * shape.group
            embed_q = shape.embed * shape.group
        ops = [np.concatenate(p) if p else None for p in per_ch]
        scores_bytes = tokens * heads * 2                       # fp16 scores / probabilities
        vectors_bytes = n_req * embed_q * 2 if n_req else 0     # queries in or outputs out
        host = scores_bytes + vectors_bytes
        # NPU requests the phase itself causes: the scores the softmax reads (QK^T), the
        # outputs (S.V); striped over the channels
        req_bytes = scores_bytes if kind == "logit" else vectors_bytes
        reqs = np.full(nch, -(-req_bytes // (nch * spec.request_bytes)), dtype=np.int64)
        return {"ops": ops, "comp": comp, "macs": macs, "host_requests": reqs,
                "pim_macs": elements, "host_bytes": host}

    def softmax_tail_cycles(self, g: PimGroup) -> int:
        """NPU cycles of the softmax chunk not hidden behind PIM work: one chunk of heads of the
        longest request on one vector unit (arch clock)."""
        reqs = self._requests(g)
        if not reqs:
            return 0
        s_max = max(s for _, s, _ in reqs)
        shape = reqs[0][2]
        heads = min(shape.heads * shape.group, max(1, self.spec.page_elements // shape.head_dim))
        lanes = max(1, self.arch.vector.lanes // VECTOR_UNITS)
        return (-(-s_max * heads * SOFTMAX_OPS_PER_ELEMENT // lanes)
                + self.arch.vector.pipeline_latency_cycles)


# ------------------------------------------------------------------------- sub-batching

def decode_sub_batches(arch, kv_lens: Iterable[int], *, kv_heads: int, heads: int,
                       head_dim: int, channels: Mapping[str, Any] | None = None
                       ) -> list[list[int]] | None:
    """Request indices of each sub-batch when the arch's scheduler interleaves sub-batches
    (paper Alg. 3 over the channel placement the scheduler makes, or over ``channels[policy]``
    when the caller has the serving system's placement), else ``None``."""
    setup = pim_setup(arch)
    if setup is None or not setup.on_pim or not setup.scheduler.sub_batching:
        return None
    lengths = np.asarray(list(kv_lens), dtype=np.int64)
    shape = AttentionShape(kv_heads * head_dim, kv_heads, head_dim, max(1, heads // kv_heads))
    spec = setup.spec
    est = (lambda s: estimate_mha_cycles(spec, s, embed=shape.embed, heads=shape.heads,
                                         head_dim=shape.head_dim, group=shape.group))
    given = (channels or {}).get("trace", (channels or {}).get(setup.scheduler.channel_policy))
    if given is not None:
        placed = np.asarray(given, dtype=np.int64)
    else:
        placed, _ = setup.scheduler.assign(lengths, np.zeros(spec.channels), est)
    subs = setup.scheduler.sub_batches(placed)
    if len(subs) < 2:
        return None
    return [s.tolist() for s in subs]


def sub_batches_for(arch, model, kv_lens: Iterable[int], *, tp: int = 1,
                    channels: Mapping[str, Any] | None = None) -> list[list[int]] | None:
    """``decode_sub_batches`` for one device's share of ``model`` (a ``ModelConfig``)."""
    return decode_sub_batches(arch, kv_lens, kv_heads=max(1, model.kv_heads // tp),
                              heads=model.q_heads // tp, head_dim=model.head_dim,
                              channels=channels)


__all__ = ["sub_batches_for", "PIM_CLASSES", "PimSetup", "PimPlanner", "PimGroup", "pim_setup", "build_setup",
           "is_decode_attention", "lower_decode_attention", "decode_sub_batches"]
