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
expert GEMMs with ``batch = experts`` (tokens spread evenly, ``top_k`` per token).

Counting rules (``docs/trace_format.md``): FLOPs are 2 per MAC; prefill attention counts the full
``q_len x kv_len`` score matrix (``causal=1`` records the mask; hardware may skip half); bytes are
each operand once from its home memory; attention reads K and V once per (request, kv head), so
GQA's sharing of K/V across query heads is explicit (``M = q_len * q_heads / kv_heads``).
Vector-op FLOP counts per element: RMSNorm 4, LayerNorm 7, softmax 5, SiLU/GeLU 4 (ReLU 1),
RoPE 3, add/mul 1.
"""

from __future__ import annotations

import math
from typing import Any

from ..arch.dtypes import DTYPE_BYTES
from ..errors import ConfigError
from .models import ModelConfig, load_model
from .trace import OpTrace, from_records

NORM_FLOPS = {"rmsnorm": 4, "layernorm": 7}
ACT_FLOPS = {"silu": 4, "gelu": 4, "relu": 1}


def _nbytes(elements: int, dtype: str) -> int:
    return int(math.ceil(elements * DTYPE_BYTES[dtype]))


class _Builder:
    def __init__(self, model: ModelConfig, phase: str, dtypes: dict[str, str]):
        self.model, self.phase, self.dtypes = model, phase, dtypes
        self.rows: list[dict[str, Any]] = []

    def add(self, layer: int, name: str, op_class: str, **fields: Any) -> None:
        row = {"op_id": len(self.rows), "layer": layer, "phase": self.phase, "name": name,
               "op_class": op_class, "M": 0, "K": 0, "N": 0, "flops": 0, "bytes_weight": 0,
               "bytes_act_in": 0, "bytes_act_out": 0, "bytes_kv_read": 0, "bytes_kv_write": 0,
               "dtype_act": self.dtypes["act"], "dtype_weight": self.dtypes["weight"],
               "dtype_kv": self.dtypes["kv"], "src": "accelsim.generate"}
        row.update(fields)
        self.rows.append(row)

    def gemm(self, layer: int, name: str, M: int, K: int, N: int, *, batch: int = 1,
             bias: bool = False) -> None:
        a, w = self.dtypes["act"], self.dtypes["weight"]
        self.add(layer, name, "gemm" if M > 1 else "gemv", M=M, K=K, N=N, batch=batch,
                 flops=2 * M * K * N * batch + (M * N * batch if bias else 0),
                 bytes_weight=_nbytes(K * N * batch + (N * batch if bias else 0), w),
                 bytes_act_in=_nbytes(M * K * batch, a), bytes_act_out=_nbytes(M * N * batch, a))

    def vector(self, layer: int, name: str, op_class: str, elements: int, flops_per_element: int,
               *, inputs: int = 1, weight_elements: int = 0) -> None:
        a = self.dtypes["act"]
        self.add(layer, name, op_class, M=elements, flops=elements * flops_per_element,
                 bytes_weight=_nbytes(weight_elements, self.dtypes["weight"]),
                 bytes_act_in=_nbytes(inputs * elements, a), bytes_act_out=_nbytes(elements, a))


def generate_trace(model: str | ModelConfig = "llama2-7b", phase: str = "decode", *,
                   batch: int = 1, seq_len: int = 512, context: int = 2048, tp: int = 1,
                   dtypes: dict[str, str] | None = None, layers: int | None = None) -> OpTrace:
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

    Example:
        >>> t = generate_trace("llama2-7b", "decode", batch=32, context=2048)
        >>> len(t), [int(x) for x in t.ops.query("name == 'qkv_proj'").iloc[0][["M", "K", "N"]]]
        (515, [32, 4096, 12288])
    """
    cfg = model if isinstance(model, ModelConfig) else load_model(model)
    if phase not in ("prefill", "decode"):
        raise ConfigError(f"expected phase prefill or decode, got {phase!r}", key="phase")
    for name, value in (("batch", batch), ("seq_len", seq_len), ("context", context), ("tp", tp)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"expected a positive integer, got {value!r}", key=name)
    if cfg.q_heads % tp or cfg.kv_heads % tp and cfg.kv_heads >= tp or cfg.ffn_dim % tp:
        raise ConfigError(f"tp={tp} does not divide the heads ({cfg.q_heads}/{cfg.kv_heads}) "
                          f"and FFN width ({cfg.ffn_dim}) of {cfg.name}", key="tp")
    n_layers = cfg.layers if layers is None else layers
    if not 1 <= n_layers <= cfg.layers:
        raise ConfigError(f"expected 1..{cfg.layers} layers, got {layers}", key="layers")
    dt = {"act": "bf16", "weight": "bf16", "kv": "bf16", **(dtypes or {})}

    q_len = seq_len if phase == "prefill" else 1
    kv_len = seq_len if phase == "prefill" else context
    T = batch * q_len                       # tokens in the step
    H = cfg.hidden
    qh, kvh = cfg.q_heads // tp, max(1, cfg.kv_heads // tp)
    hd = cfg.head_dim
    group = qh // kvh
    F = cfg.ffn_dim // tp
    b = _Builder(cfg, phase, dt)
    a, kvt = dt["act"], dt["kv"]
    bias = cfg.linear_bias

    b.add(-1, "embedding", "embedding", M=T, N=H, bytes_weight=_nbytes(T * H, dt["weight"]),
          bytes_act_out=_nbytes(T * H, a))
    if cfg.pos_emb == "learned":
        b.vector(-1, "pos_embedding", "elementwise", T * H, 1, weight_elements=T * H)

    for layer in range(n_layers):
        norm_fl = NORM_FLOPS[cfg.norm]
        norm_w = H * (2 if cfg.norm == "layernorm" else 1)
        b.vector(layer, "norm_attn", "norm", T * H, norm_fl, weight_elements=norm_w)
        b.gemm(layer, "qkv_proj", T, H, (qh + 2 * kvh) * hd, bias=bias)
        if cfg.pos_emb == "rope":
            b.vector(layer, "rope", "rope", T * (qh + kvh) * hd, 3)
        kv_new = T * 2 * kvh * hd
        b.add(layer, "kv_append", "kv_append", M=kv_new, bytes_act_in=_nbytes(kv_new, a),
              bytes_kv_write=_nbytes(kv_new, kvt))
        attn = dict(batch=batch * kvh, heads=qh, kv_heads=kvh, head_dim=hd, q_len=q_len,
                    kv_len=kv_len, causal=int(phase == "prefill"))
        scores = batch * qh * q_len * kv_len
        b.add(layer, "attn_score", "attention_score", M=q_len * group, K=hd, N=kv_len,
              flops=2 * scores * hd, bytes_act_in=_nbytes(T * qh * hd, a),
              bytes_kv_read=_nbytes(batch * kvh * kv_len * hd, kvt),
              bytes_act_out=_nbytes(scores, a), **attn)
        b.vector(layer, "attn_softmax", "softmax", scores, 5)
        b.add(layer, "attn_context", "attention_context", M=q_len * group, K=kv_len, N=hd,
              flops=2 * scores * hd, bytes_act_in=_nbytes(scores, a),
              bytes_kv_read=_nbytes(batch * kvh * kv_len * hd, kvt),
              bytes_act_out=_nbytes(T * qh * hd, a), **attn)
        b.gemm(layer, "out_proj", T, qh * hd, H, bias=bias)
        if tp > 1:
            b.add(layer, "allreduce", "allreduce", M=T * H, comm_bytes=_nbytes(T * H, a),
                  comm_group=tp, bytes_act_in=_nbytes(T * H, a), bytes_act_out=_nbytes(T * H, a))
        b.vector(layer, "residual_add", "elementwise", T * H, 1, inputs=2)
        b.vector(layer, "norm_ffn", "norm", T * H, norm_fl, weight_elements=norm_w)
        if cfg.experts > 1:
            _moe_ffn(b, cfg, layer, T, H, F)
        else:
            if cfg.gated_ffn:
                b.gemm(layer, "ffn_gate", T, H, F, bias=bias)
            b.gemm(layer, "ffn_up", T, H, F, bias=bias)
            b.vector(layer, "ffn_act", "activation", T * F, ACT_FLOPS[cfg.activation])
            if cfg.gated_ffn:
                b.vector(layer, "ffn_mul", "elementwise", T * F, 1, inputs=2)
            b.gemm(layer, "ffn_down", T, F, H, bias=bias)
        if tp > 1:
            b.add(layer, "allreduce", "allreduce", M=T * H, comm_bytes=_nbytes(T * H, a),
                  comm_group=tp, bytes_act_in=_nbytes(T * H, a), bytes_act_out=_nbytes(T * H, a))
        b.vector(layer, "residual_add", "elementwise", T * H, 1, inputs=2)

    b.vector(-1, "final_norm", "norm", batch * H, NORM_FLOPS[cfg.norm],
             weight_elements=H * (2 if cfg.norm == "layernorm" else 1))
    b.gemm(-1, "lm_head", batch, H, cfg.vocab // tp if cfg.vocab % tp == 0 else cfg.vocab)
    if tp > 1:
        b.add(-1, "allgather", "allgather", M=batch * cfg.vocab,
              comm_bytes=_nbytes(batch * cfg.vocab, a), comm_group=tp)

    meta = {"name": f"{cfg.name}_{phase}_b{batch}_" + (f"s{seq_len}" if phase == "prefill"
                                                        else f"ctx{context}"),
            "model": {"name": cfg.name, "layers": cfg.layers, "hidden": H,
                      "q_heads": cfg.q_heads, "kv_heads": cfg.kv_heads, "head_dim": hd,
                      "ffn_dim": cfg.ffn_dim, "vocab": cfg.vocab, "experts": cfg.experts,
                      "experts_top_k": cfg.experts_top_k},
            "phase": phase, "batch": batch,
            **({"seq_len": seq_len} if phase == "prefill" else {"context": context}),
            "layers_simulated": n_layers, "parallelism": {"tp": tp}, "dtypes": dt,
            "generator": "accelsim.workload.generate v1",
            "units": {"flops": "FLOP", "bytes": "B"}}
    return from_records(b.rows, meta)


def _moe_ffn(b: _Builder, cfg: ModelConfig, layer: int, T: int, H: int, F: int) -> None:
    """Router GEMM, then expert GEMMs with tokens spread evenly over experts (top-k each)."""
    E, k = cfg.experts, cfg.experts_top_k
    per_expert = max(1, math.ceil(T * k / E))
    b.gemm(layer, "moe_router", T, H, E)
    b.vector(layer, "moe_topk", "softmax", T * E, 5)
    if cfg.gated_ffn:
        b.gemm(layer, "moe_expert_gate", per_expert, H, F, batch=E)
    b.gemm(layer, "moe_expert_up", per_expert, H, F, batch=E)
    b.vector(layer, "moe_expert_act", "activation", per_expert * E * F, ACT_FLOPS[cfg.activation])
    if cfg.gated_ffn:
        b.vector(layer, "moe_expert_mul", "elementwise", per_expert * E * F, 1, inputs=2)
    b.gemm(layer, "moe_expert_down", per_expert, F, H, batch=E)
    b.vector(layer, "moe_combine", "elementwise", T * H * k, 1, inputs=1)
