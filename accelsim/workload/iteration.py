"""One continuous-batching iteration with heterogeneous requests (a *mixed batch*).

Each request in the iteration is a ``Seq``: a prompt chunk (``Seq.prompt(req, chunk, past)``)
or a decode step (``Seq.decode(req, kv_len)``). The weight GEMMs, norms and FFN are batched over
all ``T = sum(q_len)`` tokens of the iteration; attention runs per request, one row per group of
requests with equal ``(prefill, q_len, kv_len)``, with ``req_ids`` naming the group's requests;
``lm_head`` runs on one position per request that samples a token. The rows' ``phase`` is
``prefill`` or ``decode`` when all requests are of one kind, else ``mixed``.

``generate_trace`` is the homogeneous special case (same template, ``layers.py``).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..errors import ConfigError
from .layers import (Builder, MoeLoad, Seq, check_layers, check_tp, emit_forward, model_meta,
                     parse_moe_load)
from .models import ModelConfig, load_model
from .trace import OpTrace, from_records

__all__ = ["Seq", "iteration_phase", "iteration_trace", "check_seqs"]


def iteration_phase(seqs: Iterable[Seq]) -> str:
    """``prefill``, ``decode`` or ``mixed``."""
    kinds = {s.prefill for s in seqs}
    return "mixed" if len(kinds) == 2 else ("prefill" if kinds == {True} else "decode")


def check_seqs(seqs: Sequence[Seq]) -> None:
    """Reject empty iterations, repeated requests and impossible lengths (``ConfigError``)."""
    if not seqs:
        raise ConfigError("an iteration needs at least one request", key="seqs")
    seen: set[int] = set()
    for i, s in enumerate(seqs):
        if s.req_id in seen:
            raise ConfigError(f"request {s.req_id} appears twice in one iteration",
                              key=f"seqs[{i}].req_id")
        seen.add(s.req_id)
        for name in ("q_len", "kv_len"):
            value = getattr(s, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"expected a positive integer, got {value!r}",
                                  key=f"seqs[{i}].{name}")
        if s.kv_len < s.q_len:
            raise ConfigError(f"kv_len ({s.kv_len}) must include the q_len ({s.q_len}) new "
                              "tokens", key=f"seqs[{i}].kv_len")
        if not s.prefill and s.q_len != 1:
            raise ConfigError(f"a decode step processes 1 token, got q_len={s.q_len}",
                              key=f"seqs[{i}].q_len")


def iteration_trace(model: str | ModelConfig, seqs: Sequence[Seq], *, tp: int = 1,
                    dtypes: dict[str, str] | None = None, layers: int | None = None,
                    moe_load: str | Sequence[float] | MoeLoad = "uniform",
                    seed: int = 0) -> OpTrace:
    """Operator trace of one iteration over ``seqs`` (prefill chunks and decode steps mixed).

    Args:
        model: a zoo name, a model YAML path, or a ``ModelConfig``.
        seqs: the requests of the iteration (``Seq.prompt`` / ``Seq.decode``).
        tp, dtypes, layers, moe_load, seed: as in ``generate_trace``.

    Example:
        >>> t = iteration_trace("tiny-llama-gqa-test",
        ...                     [Seq.prompt(0, 16), Seq.decode(1, 40), Seq.decode(2, 40)])
        >>> t.meta["phase"], int(t.ops.query("name == 'qkv_proj'").iloc[0].M)
        ('mixed', 18)
        >>> t.ops.query("name == 'attn' and layer == 0").req_ids.tolist()
        ['0', '1;2']
    """
    cfg = model if isinstance(model, ModelConfig) else load_model(model)
    check_seqs(seqs)
    check_tp(cfg, tp)
    n_layers = check_layers(cfg, layers)
    load = parse_moe_load(moe_load, cfg.experts, seed=seed)
    dt = {"act": "bf16", "weight": "bf16", "kv": "bf16", **(dtypes or {})}
    phase = iteration_phase(seqs)
    b = Builder(dt, phase=phase, src="accelsim.iteration")
    emit_forward(b, cfg, seqs, tp=tp, layers=n_layers, moe=load)
    meta = {"name": f"{cfg.name}_{phase}_iteration", "model": model_meta(cfg), "phase": phase,
            "batch": [{"req_id": int(s.req_id), "q_len": int(s.q_len), "kv_len": int(s.kv_len),
                       "prefill": bool(s.prefill), "sample": bool(s.sample)} for s in seqs],
            "layers_simulated": n_layers, "parallelism": {"tp": tp}, "dtypes": dt,
            "generator": "accelsim.workload.iteration v1",
            "units": {"flops": "FLOP", "bytes": "B"}}
    if cfg.experts > 1 and load.kind != "uniform":
        meta["moe_load"] = {"kind": load.kind, "weights": list(load.weights), "seed": seed}
    return from_records(b.rows, meta)
