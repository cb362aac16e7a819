"""Operator traces of decoder-only transformers, generated from a model config.

One call describes one forward step of a batch:

* ``prefill``: ``batch`` sequences of ``seq_len`` new tokens each (KV cache empty before);
* ``decode``: ``batch`` sequences, one new token each, attending over ``context`` cached tokens
  (``kv_len = context``, the new token included).

Per layer (Llama-style names; GPT/OPT differ in norm, activation, bias, positions)::

    norm_attn, qkv_proj, rope, kv_append, attn_score, attn_softmax, attn_context, out_proj,
    [allreduce], residual_add, norm_ffn, ffn_gate, ffn_up, ffn_act, ffn_mul, ffn_down,
    [allreduce], residual_add

plus ``embedding`` (and learned ``pos_embedding``) before and ``final_norm`` + ``lm_head`` (last
position of each sequence only) after. MoE layers replace the FFN GEMMs by a router GEMM and
expert GEMMs with ``batch = experts`` (tokens spread evenly, ``top_k`` per token; ``moe_load``
picks a skewed, seeded load instead, see ``layers.py``).

The template itself lives in ``layers.py`` and is shared with mixed continuous-batching iterations
(``iteration.py``), serving traces (``serving.py``) and captured traces (``capture.py``).

Counting rules (``docs/trace_format.md``): FLOPs are 2 per MAC; prefill attention counts the full
``q_len x kv_len`` score matrix (``causal=1`` records the mask; hardware may skip half); bytes are
each operand once from its home memory; attention reads K and V once per (request, kv head), so
GQA's sharing of K/V across query heads is explicit (``M = q_len * q_heads / kv_heads``).
Vector-op FLOP counts per element: RMSNorm 4, LayerNorm 7, softmax 5, SiLU/GeLU 4 (ReLU 1),
RoPE 3, add/mul 1.
"""

from __future__ import annotations

from typing import Sequence

from ..errors import ConfigError
from .layers import (ACT_FLOPS, NORM_FLOPS, Builder, MoeLoad, Seq, check_layers, check_tp,
                     emit_forward, model_meta, nbytes, parse_moe_load)
from .models import ModelConfig, load_model
from .trace import OpTrace, from_records

__all__ = ["generate_trace", "decode_step_trace", "NORM_FLOPS", "ACT_FLOPS"]
_nbytes = nbytes           # kept for callers of the pre-refactor private name


def generate_trace(model: str | ModelConfig = "llama2-7b", phase: str = "decode", *,
                   batch: int = 1, seq_len: int = 512, context: int = 2048, tp: int = 1,
                   dtypes: dict[str, str] | None = None, layers: int | None = None,
                   moe_load: str | Sequence[float] | MoeLoad = "uniform",
                   seed: int = 0, attention: str = "fused",
                   sub_batches: Sequence[Sequence[int]] | None = None) -> OpTrace:
    """Operator trace of one prefill or decode step.

    Args:
        model: a zoo name (``traces/models/<name>.yaml``), a YAML path, or a ``ModelConfig``.
        phase: ``"prefill"`` or ``"decode"``.
        batch: sequences in the batch.
        seq_len: prompt tokens per sequence (prefill).
        context: tokens in each sequence's KV cache, the new one included (decode).
        tp: tensor-parallel degree: heads and FFN columns are split ``tp`` ways and an
            ``allreduce`` follows ``out_proj`` and ``ffn_down``; the trace is one device's share.
        dtypes: ``{"act", "weight", "kv"}`` element types (default bf16).
        layers: simulate only the first ``layers`` decoder layers (default: all).
        moe_load: MoE models only: ``"uniform"`` (default), ``"zipf"``/``"zipf:S"`` or relative
            weights per expert (``layers.parse_moe_load``).
        seed: seeds a skewed ``moe_load`` (the same seed gives the same trace).
        attention: ``"fused"`` (one ``attn`` row per layer and group, lowered as the arch's
            ``mapping.attention`` says) or ``"unfused"`` (``attn_score``, ``attn_softmax``,
            ``attn_context`` rows, the form of captured eager-PyTorch traces).
        sub_batches: decode only: request indices (``0..batch-1``) of each sub-batch; each runs
            its whole forward pass in its own ``stream`` (``decode_step_trace``), so the engine
            overlaps one sub-batch's GEMMs with another's attention (NeuPIMs' sub-batch
            interleaving; ``mapping.pim.decode_sub_batches`` makes the split).

    Example:
        >>> t = generate_trace("llama2-7b", "decode", batch=32, context=2048)
        >>> len(t), [int(x) for x in t.ops.query("name == 'qkv_proj'").iloc[0][["M", "K", "N"]]]
        (451, [32, 4096, 12288])
    """
    cfg = model if isinstance(model, ModelConfig) else load_model(model)
    if phase not in ("prefill", "decode"):
        raise ConfigError(f"expected phase prefill or decode, got {phase!r}", key="phase")
    for name, value in (("batch", batch), ("seq_len", seq_len), ("context", context), ("tp", tp)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"expected a positive integer, got {value!r}", key=name)
    check_tp(cfg, tp)
    n_layers = check_layers(cfg, layers)
    load = parse_moe_load(moe_load, cfg.experts, seed=seed)
    dt = {"act": "bf16", "weight": "bf16", "kv": "bf16", **(dtypes or {})}

    if sub_batches is not None:
        if phase != "decode":
            raise ConfigError("sub-batches split a decode batch; phase is prefill",
                              key="sub_batches")
        return decode_step_trace(cfg, [context] * batch, tp=tp, dtypes=dtypes, layers=layers,
                                 moe_load=moe_load, seed=seed, attention=attention,
                                 sub_batches=sub_batches)
    if phase == "prefill":
        seqs = [Seq.prompt(i, seq_len) for i in range(batch)]
    else:
        seqs = [Seq.decode(i, context) for i in range(batch)]
    b = Builder(dt, phase=phase)
    emit_forward(b, cfg, seqs, tp=tp, layers=n_layers, moe=load, req_ids=False,
                 attention=attention)

    meta = {"name": f"{cfg.name}_{phase}_b{batch}_" + (f"s{seq_len}" if phase == "prefill"
                                                        else f"ctx{context}"),
            "model": model_meta(cfg),
            "phase": phase, "batch": batch,
            **({"seq_len": seq_len} if phase == "prefill" else {"context": context}),
            "layers_simulated": n_layers, "parallelism": {"tp": tp}, "dtypes": dt,
            "attention": attention,
            "generator": "accelsim.workload.generate v1",
            "units": {"flops": "FLOP", "bytes": "B"}}
    if cfg.experts > 1 and load.kind != "uniform":
        meta["moe_load"] = {"kind": load.kind, "weights": list(load.weights), "seed": seed}
    return from_records(b.rows, meta)


def decode_step_trace(model: str | ModelConfig, kv_lens: Sequence[int], *, tp: int = 1,
                      dtypes: dict[str, str] | None = None, layers: int | None = None,
                      moe_load: str | Sequence[float] | MoeLoad = "uniform", seed: int = 0,
                      attention: str = "fused",
                      sub_batches: Sequence[Sequence[int]] | None = None,
                      meta: dict | None = None) -> OpTrace:
    """One decode step of requests with KV lengths ``kv_lens`` (request ``i`` has ``req_id``
    ``i``; attention rows carry their ``req_ids``). ``sub_batches``: request indices of each
    sub-batch, each emitted as a whole forward pass in its own ``stream`` (default: one).
    ``meta``: extra sidecar keys (e.g. ``pim_channels``, a serving system's placement).

    Example:
        >>> t = decode_step_trace("tiny-llama-gqa-test", [10, 20, 30, 40],
        ...                       sub_batches=[[0, 2], [1, 3]])
        >>> sorted(set(t.ops["stream"])), t.meta["sub_batches"]
        ([0, 1], [[0, 2], [1, 3]])
    """
    cfg = model if isinstance(model, ModelConfig) else load_model(model)
    lens = [int(x) for x in kv_lens]
    if not lens or min(lens) < 1:
        raise ConfigError(f"expected at least one KV length >= 1, got {lens[:8]}", key="kv_lens")
    check_tp(cfg, tp)
    n_layers = check_layers(cfg, layers)
    load = parse_moe_load(moe_load, cfg.experts, seed=seed)
    dt = {"act": "bf16", "weight": "bf16", "kv": "bf16", **(dtypes or {})}
    subs = [list(range(len(lens)))] if sub_batches is None else [list(map(int, s))
                                                                  for s in sub_batches]
    flat = sorted(i for s in subs for i in s)
    if flat != list(range(len(lens))) or not all(subs):
        raise ConfigError(f"sub-batches must split requests 0..{len(lens) - 1} into non-empty "
                          "parts, each request once", key="sub_batches")
    b = Builder(dt, phase="decode")
    for stream, idx in enumerate(subs):
        start = len(b.rows)
        emit_forward(b, cfg, [Seq.decode(i, lens[i]) for i in idx], tp=tp, layers=n_layers,
                     moe=load, req_ids=True, attention=attention)
        for row in b.rows[start:]:
            row["stream"] = stream
    batch = len(lens)
    meta_out = {"name": f"{cfg.name}_decode_b{batch}_kv{min(lens)}-{max(lens)}"
                        + (f"_sb{len(subs)}" if len(subs) > 1 else ""),
                "model": model_meta(cfg), "phase": "decode", "batch": batch,
                "context": int(round(sum(lens) / batch)), "kv_lens": lens,
                "layers_simulated": n_layers, "parallelism": {"tp": tp}, "dtypes": dt,
                "attention": attention, "generator": "accelsim.workload.generate v1",
                "units": {"flops": "FLOP", "bytes": "B"}, **(meta or {})}
    if len(subs) > 1:
        meta_out["sub_batches"] = subs
    if cfg.experts > 1 and load.kind != "uniform":
        meta_out["moe_load"] = {"kind": load.kind, "weights": list(load.weights), "seed": seed}
    return from_records(b.rows, meta_out)
