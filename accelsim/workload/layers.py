"""The per-layer operator template shared by ``generate``, ``iteration``, ``serving`` and ``capture``.

One forward pass over a set of sequence slices (``Seq``): each slice contributes ``q_len`` new
tokens and attends over ``kv_len`` cached tokens (the new ones included). Token-level operators
(norms, projections, FFN, MoE) run once over all ``T = sum(q_len)`` tokens; attention runs per group
of slices with equal ``(prefill, q_len, kv_len)`` (``batch = slices x kv_heads``), so a batch of
requests with distinct KV lengths gets one attention row per request.

Counting rules are those of ``generate`` (``docs/trace_format.md``). MoE routing is counted in
tokens: for ``T`` tokens with top-``k`` routing over ``E`` experts, ``expert_token_counts`` gives an
integer count per expert that sums to ``T * k``. ``uniform`` is balanced routing (``ceil(T*k/E)`` or
``floor(T*k/E)`` tokens each, so ``min(E, T*k)`` experts are touched); ``sampled`` draws each
token's ``k`` distinct experts uniformly at random, ``zipf[:s]`` and explicit relative weights draw
them with those probabilities (Gumbel-top-k, seeded). One expert-GEMM row is emitted per group of
experts with an equal token count (``batch`` = experts in the group, ``M`` = their tokens), so the
weight bytes count touched experts only and the FLOPs are exact; experts that receive no token emit
no work and read no weights. Tensor parallelism shards every expert's FFN over the devices (each
device reads its slice of the touched experts); expert parallelism is not modelled.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..arch.dtypes import DTYPE_BYTES
from ..errors import ConfigError
from .models import ModelConfig

NORM_FLOPS = {"rmsnorm": 4, "layernorm": 7}
ATTENTION_FORMS = ("fused", "unfused")
ACT_FLOPS = {"silu": 4, "gelu": 4, "relu": 1}


def nbytes(elements: int, dtype: str) -> int:
    """Bytes of ``elements`` values of ``dtype`` (rounded up: ``int4`` packs two per byte)."""
    return int(math.ceil(elements * DTYPE_BYTES[dtype]))


@dataclass(frozen=True)
class Seq:
    """One request's share of one forward pass.

    Attributes:
        req_id: the request.
        q_len: new tokens processed now (prompt chunk in prefill, 1 in decode).
        kv_len: tokens attended to, the new ones included (``past + q_len``).
        prefill: prompt processing (causal attention) rather than decoding.
        sample: this pass produces a token for the request (decode, or the chunk that completes
            the prompt); only those rows go through ``final_norm`` and ``lm_head``.
    """

    req_id: int
    q_len: int
    kv_len: int
    prefill: bool
    sample: bool = True

    @classmethod
    def decode(cls, req_id: int, kv_len: int) -> "Seq":
        return cls(req_id, 1, kv_len, False, True)

    @classmethod
    def prompt(cls, req_id: int, chunk: int, past: int = 0, *, last: bool = True) -> "Seq":
        return cls(req_id, chunk, past + chunk, True, last)


class Builder:
    """Accumulates operator rows (dicts in trace columns); ``op_id`` runs on across iterations."""

    def __init__(self, dtypes: dict[str, str], *, phase: str = "none", iteration: int = 0,
                 src: str = "accelsim.generate"):
        self.dtypes, self.phase, self.iter, self.src = dtypes, phase, iteration, src
        self.rows: list[dict[str, Any]] = []

    def add(self, layer: int, name: str, op_class: str, **fields: Any) -> None:
        row = {"op_id": len(self.rows), "iter": self.iter, "layer": layer, "phase": self.phase,
               "name": name, "op_class": op_class, "M": 0, "K": 0, "N": 0, "flops": 0,
               "bytes_weight": 0, "bytes_act_in": 0, "bytes_act_out": 0, "bytes_kv_read": 0,
               "bytes_kv_write": 0, "dtype_act": self.dtypes["act"],
               "dtype_weight": self.dtypes["weight"], "dtype_kv": self.dtypes["kv"],
               "src": self.src}
        row.update(fields)
        self.rows.append(row)

    def gemm(self, layer: int, name: str, M: int, K: int, N: int, *, batch: int = 1,
             bias: bool = False, **fields: Any) -> None:
        a, w = self.dtypes["act"], self.dtypes["weight"]
        self.add(layer, name, "gemm" if M > 1 else "gemv", M=M, K=K, N=N, batch=batch,
                 flops=2 * M * K * N * batch + (M * N * batch if bias else 0),
                 bytes_weight=nbytes(K * N * batch + (N * batch if bias else 0), w),
                 bytes_act_in=nbytes(M * K * batch, a), bytes_act_out=nbytes(M * N * batch, a),
                 **fields)

    def vector(self, layer: int, name: str, op_class: str, elements: int, flops_per_element: int,
               *, inputs: int = 1, weight_elements: int = 0, **fields: Any) -> None:
        a = self.dtypes["act"]
        self.add(layer, name, op_class, M=elements, flops=elements * flops_per_element,
                 bytes_weight=nbytes(weight_elements, self.dtypes["weight"]),
                 bytes_act_in=nbytes(inputs * elements, a), bytes_act_out=nbytes(elements, a),
                 **fields)

    def attention(self, layer: int, n: int, q_len: int, kv_len: int, *, q_heads: int,
                  kv_heads: int, head_dim: int, causal: bool, req_ids: str = "",
                  fused: bool = True) -> None:
        """Attention of ``n`` sequences of equal shape: one fused ``attn`` row (``fused``), or
        ``attn_score``, ``attn_softmax``, ``attn_context``. K and V are read once per (sequence,
        kv head): ``M = q_len * q_heads / kv_heads``. The fused row counts the FLOPs of the
        scores the mask keeps (causal: query ``i`` of a chunk after ``past`` tokens sees
        ``past + i + 1`` keys); the unfused rows count the full ``q_len x kv_len`` matrix."""
        a, kvt = self.dtypes["act"], self.dtypes["kv"]
        group = q_heads // kv_heads
        tokens = n * q_len
        extra = {"req_ids": req_ids} if req_ids else {}
        attn = dict(batch=n * kv_heads, heads=q_heads, kv_heads=kv_heads, head_dim=head_dim,
                    q_len=q_len, kv_len=kv_len, causal=int(causal), **extra)
        scores = n * q_heads * q_len * kv_len
        kv_read = nbytes(n * kv_heads * kv_len * head_dim, kvt)
        if fused:
            past = kv_len - q_len
            kept = q_len * past + q_len * (q_len + 1) // 2 if causal else q_len * kv_len
            self.add(layer, "attn", "attention", M=q_len * group, K=head_dim, N=kv_len,
                     flops=4 * n * q_heads * kept * head_dim,
                     bytes_act_in=nbytes(tokens * q_heads * head_dim, a),
                     bytes_kv_read=2 * kv_read,
                     bytes_act_out=nbytes(tokens * q_heads * head_dim, a), **attn)
            return
        self.add(layer, "attn_score", "attention_score", M=q_len * group, K=head_dim, N=kv_len,
                 flops=2 * scores * head_dim, bytes_act_in=nbytes(tokens * q_heads * head_dim, a),
                 bytes_kv_read=kv_read, bytes_act_out=nbytes(scores, a), **attn)
        self.vector(layer, "attn_softmax", "softmax", scores, 5, **extra)
        self.add(layer, "attn_context", "attention_context", M=q_len * group, K=kv_len,
                 N=head_dim, flops=2 * scores * head_dim, bytes_act_in=nbytes(scores, a),
                 bytes_kv_read=kv_read, bytes_act_out=nbytes(tokens * q_heads * head_dim, a),
                 **attn)


# ------------------------------------------------------------------------------------ MoE load

@dataclass(frozen=True)
class MoeLoad:
    """How tokens spread over experts: ``uniform`` (balanced, the default), ``sampled`` (each
    token's experts drawn uniformly, seeded) or relative ``weights`` (``zipf`` or explicit)."""

    kind: str = "uniform"
    weights: tuple[float, ...] = ()
    seed: int = 0

    def probabilities(self, experts: int) -> np.ndarray:
        if not self.weights:
            return np.full(experts, 1.0 / experts)
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()


def expert_token_counts(tokens: int, top_k: int, experts: int, load: MoeLoad,
                        rng: np.random.Generator | None = None) -> np.ndarray:
    """Tokens routed to each of ``experts`` experts; sums to ``tokens * top_k``.

    Example:
        >>> expert_token_counts(1, 2, 8, MoeLoad()).tolist()
        [1, 1, 0, 0, 0, 0, 0, 0]
        >>> expert_token_counts(5, 2, 8, MoeLoad()).tolist()
        [2, 2, 1, 1, 1, 1, 1, 1]
    """
    if load.kind == "uniform":
        q, r = divmod(tokens * top_k, experts)
        return np.array([q + 1] * r + [q] * (experts - r), dtype=np.int64)
    if rng is None:
        rng = np.random.default_rng(load.seed)
    return sample_expert_counts(tokens, top_k, load.probabilities(experts), rng)


def parse_moe_load(spec: "str | Sequence[float] | MoeLoad | None", experts: int, *,
                   seed: int = 0) -> MoeLoad:
    """``"uniform"``, ``"sampled"``, ``"zipf"`` / ``"zipf:S"`` (expert ``i`` gets weight
    ``1/(i+1)**S``, S default 1.0), or a sequence of ``experts`` non-negative relative weights.

    Example:
        >>> parse_moe_load("zipf:2", 4).weights
        (1.0, 0.25, 0.1111111111111111, 0.0625)
    """
    if spec is None or isinstance(spec, MoeLoad):
        return spec or MoeLoad()
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text == "uniform":
            return MoeLoad()
        if text == "sampled":
            return MoeLoad("sampled", (), seed)
        m = re.fullmatch(r"zipf(?::([0-9]*\.?[0-9]+))?", text)
        if not m:
            raise ConfigError(f"expected uniform, sampled, zipf, zipf:S or a list of {experts} "
                              f"weights, got {spec!r}", key="moe_load")
        s = float(m.group(1) or 1.0)
        return MoeLoad("zipf", tuple(1.0 / (i + 1) ** s for i in range(experts)), seed)
    try:
        weights = tuple(float(x) for x in spec)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"expected uniform, sampled, zipf, zipf:S or a list of {experts} "
                          f"weights, got {spec!r}", key="moe_load") from None
    if len(weights) != experts or min(weights) < 0 or not sum(weights) > 0 or not all(
            math.isfinite(w) for w in weights):
        raise ConfigError(f"expected {experts} non-negative weights with a positive sum, got "
                          f"{list(weights)}", key="moe_load")
    return MoeLoad("weights", weights, seed)


def sample_expert_counts(tokens: int, top_k: int, probabilities: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
    """Tokens routed to each expert when every token picks ``top_k`` distinct experts with
    probability proportional to ``probabilities`` (Gumbel-top-k: sampling without replacement)."""
    experts = len(probabilities)
    with np.errstate(divide="ignore"):
        logp = np.log(probabilities)
    if np.count_nonzero(probabilities) < top_k:
        raise ConfigError(f"moe_load gives {np.count_nonzero(probabilities)} experts a positive "
                          f"weight; top_k={top_k} needs at least that many", key="moe_load")
    keys = logp[None, :] + rng.gumbel(size=(tokens, experts))
    chosen = np.argpartition(-keys, top_k - 1, axis=1)[:, :top_k]
    return np.bincount(chosen.ravel(), minlength=experts)


# --------------------------------------------------------------------------------- the template

def emit_forward(b: Builder, cfg: ModelConfig, seqs: Sequence[Seq], *, tp: int = 1,
                 layers: int | None = None, moe: MoeLoad | None = None,
                 rng: np.random.Generator | None = None, req_ids: bool = True,
                 attention: str = "fused") -> None:
    """Append the operators of one forward pass over ``seqs`` to ``b``.

    Args:
        b: the row builder (its ``phase`` and ``iter`` label the rows).
        cfg: the model.
        seqs: the slices in the pass, in order (attention groups keep first-appearance order).
        tp: tensor-parallel degree (one device's share; ``allreduce`` after out_proj and FFN).
        layers: emit only the first ``layers`` decoder layers.
        moe: expert load (``None``: uniform).
        rng: the generator a skewed MoE load draws from (one per trace, for determinism).
        req_ids: fill ``req_ids`` on attention rows.
        attention: ``fused`` (one ``attn`` row per group, the default) or ``unfused``
            (``attn_score``, ``attn_softmax``, ``attn_context``).
    """
    if attention not in ATTENTION_FORMS:
        raise ConfigError(f"expected attention fused or unfused, got {attention!r}",
                          key="attention")
    dt = b.dtypes
    a = dt["act"]
    T = sum(s.q_len for s in seqs)
    n_sample = sum(1 for s in seqs if s.sample)
    H = cfg.hidden
    qh, kvh = cfg.q_heads // tp, max(1, cfg.kv_heads // tp)
    hd = cfg.head_dim
    F = cfg.ffn_dim // tp
    bias = cfg.linear_bias
    n_layers = cfg.layers if layers is None else layers
    moe = moe or MoeLoad()
    if moe.kind != "uniform" and rng is None:
        rng = np.random.default_rng(moe.seed)

    groups: dict[tuple[bool, int, int], list[int]] = {}
    for s in seqs:
        groups.setdefault((s.prefill, s.q_len, s.kv_len), []).append(s.req_id)

    b.add(-1, "embedding", "embedding", M=T, N=H, bytes_weight=nbytes(T * H, dt["weight"]),
          bytes_act_out=nbytes(T * H, a))
    if cfg.pos_emb == "learned":
        b.vector(-1, "pos_embedding", "elementwise", T * H, 1, weight_elements=T * H)

    norm_fl = NORM_FLOPS[cfg.norm]
    norm_w = H * (2 if cfg.norm == "layernorm" else 1)
    for layer in range(n_layers):
        if layer and moe.kind == "uniform":
            # NOTE(perf): every decoder layer has the same rows; copy layer 0's instead of
            # rebuilding them (scripts/bench_serving.py: trace build time)
            base = len(b.rows)
            b.rows.extend({**row, "op_id": base + i, "layer": layer}
                          for i, row in enumerate(first_layer))
            continue
        start = len(b.rows)
        b.vector(layer, "norm_attn", "norm", T * H, norm_fl, weight_elements=norm_w)
        b.gemm(layer, "qkv_proj", T, H, (qh + 2 * kvh) * hd, bias=bias)
        if cfg.pos_emb == "rope":
            b.vector(layer, "rope", "rope", T * (qh + kvh) * hd, 3)
        kv_new = T * 2 * kvh * hd
        b.add(layer, "kv_append", "kv_append", M=kv_new, bytes_act_in=nbytes(kv_new, a),
              bytes_kv_write=nbytes(kv_new, dt["kv"]))
        for (prefill, q_len, kv_len), ids in groups.items():
            b.attention(layer, len(ids), q_len, kv_len, q_heads=qh, kv_heads=kvh, head_dim=hd,
                        causal=prefill, req_ids=";".join(map(str, ids)) if req_ids else "",
                        fused=attention == "fused")
        b.gemm(layer, "out_proj", T, qh * hd, H, bias=bias)
        if tp > 1:
            _allreduce(b, layer, T * H, tp)
        b.vector(layer, "residual_add", "elementwise", T * H, 1, inputs=2)
        b.vector(layer, "norm_ffn", "norm", T * H, norm_fl, weight_elements=norm_w)
        if cfg.experts > 1:
            _moe_ffn(b, cfg, layer, T, H, F, moe, rng)
        else:
            if cfg.gated_ffn:
                b.gemm(layer, "ffn_gate", T, H, F, bias=bias)
            b.gemm(layer, "ffn_up", T, H, F, bias=bias)
            b.vector(layer, "ffn_act", "activation", T * F, ACT_FLOPS[cfg.activation])
            if cfg.gated_ffn:
                b.vector(layer, "ffn_mul", "elementwise", T * F, 1, inputs=2)
            b.gemm(layer, "ffn_down", T, F, H, bias=bias)
        if tp > 1:
            _allreduce(b, layer, T * H, tp)
        b.vector(layer, "residual_add", "elementwise", T * H, 1, inputs=2)
        first_layer = b.rows[start:]

    if n_sample:
        b.vector(-1, "final_norm", "norm", n_sample * H, norm_fl, weight_elements=norm_w)
        b.gemm(-1, "lm_head", n_sample, H, cfg.vocab // tp if cfg.vocab % tp == 0 else cfg.vocab)
        if tp > 1:
            b.add(-1, "allgather", "allgather", M=n_sample * cfg.vocab,
                  comm_bytes=nbytes(n_sample * cfg.vocab, a), comm_group=tp)


def _allreduce(b: Builder, layer: int, elements: int, tp: int) -> None:
    a = b.dtypes["act"]
    b.add(layer, "allreduce", "allreduce", M=elements, comm_bytes=nbytes(elements, a),
          comm_group=tp, bytes_act_in=nbytes(elements, a), bytes_act_out=nbytes(elements, a))


def _moe_ffn(b: Builder, cfg: ModelConfig, layer: int, T: int, H: int, F: int, moe: MoeLoad,
             rng: np.random.Generator | None) -> None:
    """Router GEMM, then the expert GEMMs (rows grouped by equal tokens per expert)."""
    E, k = cfg.experts, cfg.experts_top_k
    counts = expert_token_counts(T, k, E, moe, rng)
    values, n = np.unique(counts[counts > 0], return_counts=True)
    shapes = [(int(v), int(c)) for v, c in zip(values[::-1], n[::-1])]  # (tokens, experts)
    routed = sum(m * e for m, e in shapes)
    b.gemm(layer, "moe_router", T, H, E)
    b.vector(layer, "moe_topk", "softmax", T * E, 5)
    if cfg.gated_ffn:
        for m, e in shapes:
            b.gemm(layer, "moe_expert_gate", m, H, F, batch=e)
    for m, e in shapes:
        b.gemm(layer, "moe_expert_up", m, H, F, batch=e)
    b.vector(layer, "moe_expert_act", "activation", routed * F, ACT_FLOPS[cfg.activation])
    if cfg.gated_ffn:
        b.vector(layer, "moe_expert_mul", "elementwise", routed * F, 1, inputs=2)
    for m, e in shapes:
        b.gemm(layer, "moe_expert_down", m, F, H, batch=e)
    b.vector(layer, "moe_combine", "elementwise", T * H * k, 1, inputs=1)


def check_tp(cfg: ModelConfig, tp: int) -> None:
    if not isinstance(tp, int) or tp < 1:
        raise ConfigError(f"tp={tp}: the tensor-parallel degree must be an integer >= 1", key="tp")
    if cfg.q_heads % tp or cfg.kv_heads % tp and cfg.kv_heads >= tp or cfg.ffn_dim % tp:
        raise ConfigError(f"tp={tp} does not divide the heads ({cfg.q_heads}/{cfg.kv_heads}) "
                          f"and FFN width ({cfg.ffn_dim}) of {cfg.name}", key="tp")


def check_layers(cfg: ModelConfig, layers: int | None) -> int:
    n_layers = cfg.layers if layers is None else layers
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or not 1 <= n_layers <= cfg.layers:
        raise ConfigError(f"expected 1..{cfg.layers} layers, got {layers}", key="layers")
    return n_layers


def model_meta(cfg: ModelConfig) -> dict[str, Any]:
    return {"name": cfg.name, "layers": cfg.layers, "hidden": cfg.hidden, "q_heads": cfg.q_heads,
            "kv_heads": cfg.kv_heads, "head_dim": cfg.head_dim, "ffn_dim": cfg.ffn_dim,
            "vocab": cfg.vocab, "experts": cfg.experts, "experts_top_k": cfg.experts_top_k}
