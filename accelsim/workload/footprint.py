"""Device-memory footprint of a trace: the weights and KV cache that must be resident.

``footprint(trace)`` sums, per iteration, the weights every operator reads (each weight tensor is
read once per forward pass) and the K/V the attention operators read (the cache held for the
batch), scaled to the whole model when the trace simulates only some layers
(``meta.layers_simulated``), plus the embedding table when the sidecar names the model (the
trace's ``embedding`` row gathers only the rows it uses). The largest iteration counts. Bytes are
one device's share (tensor parallelism is already in the trace).
"""

from __future__ import annotations

from typing import Any

from ..arch.dtypes import DTYPE_BYTES
from .trace import OpTrace

KV_CLASSES = ("attention", "attention_score", "attention_context")


def footprint(trace: OpTrace) -> dict[str, Any]:
    """``{"weight_bytes", "kv_bytes", "total_bytes"}`` resident on the device (largest iteration)."""
    ops = trace.ops
    meta = trace.meta or {}
    model = meta.get("model") if isinstance(meta.get("model"), dict) else {}
    layers, simulated = model.get("layers"), meta.get("layers_simulated")
    scale = layers / simulated if isinstance(layers, int) and isinstance(simulated, int) \
        and simulated > 0 else 1.0
    per_layer = ops["layer"] >= 0
    w = ops["bytes_weight"] * ops["repeat"]
    kv = (ops["bytes_kv_read"] * ops["repeat"]).where(ops["op_class"].isin(KV_CLASSES), 0)
    by_iter = ops.assign(w_layer=w.where(per_layer, 0), w_other=w.where(~per_layer, 0)
                         .where(ops["op_class"] != "embedding", 0), kv=kv).groupby("iter")
    sums = by_iter[["w_layer", "w_other", "kv"]].sum()
    weights = int((sums["w_layer"] * scale + sums["w_other"]).max()) if len(sums) else 0
    kv_bytes = int((sums["kv"] * scale).max()) if len(sums) else 0
    if model.get("vocab") and model.get("hidden"):
        dt = (meta.get("dtypes") or {}).get("weight", "bf16")
        weights += int(model["vocab"] * model["hidden"] * DTYPE_BYTES.get(dt, 2))
    return {"weight_bytes": weights, "kv_bytes": kv_bytes, "total_bytes": weights + kv_bytes}


def capacity_warning(trace: OpTrace, capacity_bytes: int) -> str | None:
    """A sentence when the footprint exceeds ``capacity_bytes`` (0: capacity not stated)."""
    if not capacity_bytes:
        return None
    f = footprint(trace)
    if f["total_bytes"] <= capacity_bytes:
        return None
    return (f"weights ({f['weight_bytes'] / 1e9:,.1f} GB) + KV cache ({f['kv_bytes'] / 1e9:,.1f} "
            f"GB) = {f['total_bytes'] / 1e9:,.1f} GB exceed the device memory "
            f"({capacity_bytes / 1e9:,.1f} GB): the run would not fit (use tensor parallelism "
            "--tp, a smaller batch or context, or a larger memory)")
