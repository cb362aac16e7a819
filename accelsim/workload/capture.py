"""Capture the operator trace of a Hugging Face model from its ``config.json`` (no weights).

The model is instantiated on PyTorch's ``meta`` device (shapes only: no weight memory, no
download), run for one prefill or decode step under ``torch.no_grad()``, and every aten operator
it dispatches is recorded by a ``TorchDispatchMode`` together with the innermost ``nn.Module``
running it (forward pre/post hooks keep a scope stack). A folding pass then turns the raw aten
stream into the project's operator classes, recomputing canonical bytes from shapes with the same
``Builder`` as ``generate_trace``:

* ``mm``/``addmm``/``bmm`` inside an ``nn.Linear`` → ``gemm``/``gemv`` (``M, K, N`` from the
  aten shapes; named ``q_proj, k_proj, v_proj, out_proj, ffn_gate, ffn_up, ffn_down, lm_head``);
* the ops of a norm module → one ``norm`` row; of the rotary-embedding module → ``rope_table``;
* in an attention module: RoPE arithmetic (``mul, neg, cat, add``) → one ``rope`` row; the KV
  write → one ``kv_append`` row of the *new* tokens only (HF's ``DynamicCache`` copies the whole
  cache with ``cat``); ``bmm``/softmax/``bmm`` or one SDPA op → ``attn_score``, ``attn_softmax``,
  ``attn_context`` with GQA's K/V sharing explicit. ``repeat_kv`` clones, fp32 upcasts
  (``_to_copy``), views and the score scaling are artifacts of eager PyTorch and are dropped;
* ``silu``/``gelu``/``relu`` → ``activation``; the MLP's gate ``mul`` → ``elementwise``; the
  decoder layer's ``add`` → ``residual_add``; ``embedding`` → ``embedding``;
* what runs at model scope (mask and position construction, the ``logits_to_keep`` slice) is
  dropped; the sidecar counts every dropped aten op by name.

Requires the ``capture`` extra (``torch``, ``transformers``); imported lazily. Dense decoder
models with ``nn.Linear`` projections (Llama, Mistral, Qwen2, OPT-style) are supported; MoE
routing (data-dependent expert loops) is not: use ``generate_trace(..., moe_load=...)``.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import AccelsimError, ConfigError
from ..io import input_problem
from .layers import ACT_FLOPS, NORM_FLOPS, Builder
from .trace import OpTrace, from_records

INSTALL_HINT = "pip install 'accelsim[capture]'  (torch==2.13.0 and transformers)"

#: HF attribute name of a Linear -> our operator name.
LINEAR_NAMES = {"q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "o_proj": "out_proj",
                "out_proj": "out_proj", "dense": "out_proj", "gate_proj": "ffn_gate",
                "up_proj": "ffn_up", "down_proj": "ffn_down", "fc1": "ffn_up", "fc2": "ffn_down",
                "w1": "ffn_gate", "w3": "ffn_up", "w2": "ffn_down", "lm_head": "lm_head",
                "qkv_proj": "qkv_proj", "gate_up_proj": "ffn_gate_up"}
#: HF attribute name of a norm -> our operator name.
NORM_NAMES = {"input_layernorm": "norm_attn", "self_attn_layer_norm": "norm_attn",
              "post_attention_layernorm": "norm_ffn", "final_layer_norm": "norm_ffn",
              "norm": "final_norm", "ln_f": "final_norm"}
MATMUL_OPS = {"mm", "addmm", "bmm", "matmul", "linear"}
SDPA_OPS = re.compile(r"scaled_dot_product")
ACT_OPS = {"silu": "silu", "gelu": "gelu", "relu": "relu", "gelu_": "gelu", "silu_": "silu"}
_LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks)\.(\d+)(?:\.|$)")


def _require():
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise AccelsimError(f"trace capture needs torch and transformers ({exc.name} is not "
                            f"installed): {INSTALL_HINT}") from None
    return torch, transformers


def load_hf_config(path: str | os.PathLike):
    """A ``transformers`` config from a local ``config.json`` (``model_type`` picks the class)."""
    _, transformers = _require()
    path = Path(path)
    problem = input_problem(path)
    if problem:
        raise ConfigError(f"file {problem}", file=str(path))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"malformed JSON: {exc}", file=str(path)) from None
    if not isinstance(raw, dict):
        raise ConfigError("expected a JSON object", file=str(path))
    model_type = raw.pop("model_type", None)
    if not model_type:
        raise ConfigError("missing model_type (e.g. \"llama\")", file=str(path), key="model_type")
    for key in ("transformers_version", "_name_or_path"):
        raw.pop(key, None)
    try:
        return transformers.AutoConfig.for_model(model_type, **raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"transformers cannot build a {model_type!r} config: "
                          f"{str(exc).splitlines()[0]}", file=str(path), key="model_type") from None


class _Scope:
    """One running module call: its qualified name, kind, and folding state."""

    __slots__ = ("name", "attr", "kind", "module", "state")

    def __init__(self, name: str, module) -> None:
        self.name, self.module = name, module
        self.attr = name.rsplit(".", 1)[-1]
        self.kind = _kind(module)
        self.state: dict[str, Any] = {}


def _kind(module) -> str:
    import torch

    cls = type(module).__name__
    if isinstance(module, torch.nn.Linear):
        return "linear"
    if isinstance(module, torch.nn.Embedding):
        return "embedding"
    if "Rotary" in cls:
        return "rotary"
    if "Norm" in cls:
        return "rmsnorm" if "RMS" in cls else "layernorm"
    if cls.endswith("Attention") or "Attention" in cls and "Sdpa" in cls:
        return "attention"
    if cls.endswith("MLP") or cls.endswith("FeedForward"):
        return "mlp"
    if cls.endswith("DecoderLayer") or cls.endswith("Block"):
        return "layer"
    if "Activation" in cls or cls in ("SiLU", "GELU", "ReLU", "GELUActivation", "NewGELUActivation"):
        return "activation"
    return "other"


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


class _Folder:
    """Turns (aten op, args, out, scope stack) into trace rows."""

    def __init__(self, b: Builder, *, q_heads: int, kv_heads: int, head_dim: int) -> None:
        self.b, self.qh, self.kvh, self.hd = b, q_heads, kv_heads, head_dim
        self.stack: list[_Scope] = []
        self.dropped: Counter[str] = Counter()
        self.raw = 0

    def layer(self) -> int:
        for scope in reversed(self.stack):
            m = _LAYER.search(scope.name)
            if m:
                return int(m.group(1))
        return -1

    def enclosing(self, kind: str) -> _Scope | None:
        for scope in reversed(self.stack):
            if scope.kind == kind:
                return scope
        return None

    # module hooks ------------------------------------------------------------------------
    def enter(self, name: str, module, args) -> None:
        scope = _Scope(name, module)
        if scope.kind in ("rmsnorm", "layernorm", "rotary") and args:
            first = args[0]
            scope.state["in_shape"] = tuple(getattr(first, "shape", ()))
        self.stack.append(scope)

    def leave(self, output) -> None:
        scope = self.stack.pop()
        b, layer = self.b, self.layer()
        if scope.kind in ("rmsnorm", "layernorm") and scope.state.get("seen"):
            elements = _numel(scope.state["in_shape"])
            hidden = scope.state["in_shape"][-1]
            b.vector(layer, NORM_NAMES.get(scope.attr, f"norm_{scope.attr}"), "norm", elements,
                     NORM_FLOPS[scope.kind],
                     weight_elements=hidden * (2 if scope.kind == "layernorm" else 1),
                     src=f"hf:{scope.name}")
        elif scope.kind == "rotary" and scope.state.get("seen"):
            outs = output if isinstance(output, (tuple, list)) else (output,)
            elements = sum(_numel(o.shape) for o in outs if hasattr(o, "shape"))
            b.vector(-1, "rope_table", "rope", elements, 3, inputs=0, src=f"hf:{scope.name}")

    # aten ops ----------------------------------------------------------------------------
    def op(self, func, args, kwargs, out) -> None:
        self.raw += 1
        name = func.__name__.split(".")[0] if hasattr(func, "__name__") else str(func)
        name = str(func).split(".")[1] if str(func).startswith("aten.") else name
        scope = self.stack[-1] if self.stack else None
        kind = scope.kind if scope else "root"
        b, layer = self.b, self.layer()
        if kind in ("rmsnorm", "layernorm", "rotary"):
            scope.state["seen"] = True
            return
        if kind == "linear":
            if name in MATMUL_OPS:
                self._linear(scope, name, args, out, layer)
            else:
                self.dropped[f"linear:{name}"] += 1
            return
        if kind == "embedding":
            if name == "embedding":
                weight, idx = args[0], args[1]
                T, H = _numel(idx.shape), int(weight.shape[-1])
                pos = "pos" in scope.attr or "position" in scope.attr
                if pos:
                    b.vector(layer, "pos_embedding", "elementwise", T * H, 1,
                             weight_elements=T * H, src=f"hf:{scope.name}")
                else:
                    from .layers import nbytes

                    b.add(layer, "embedding", "embedding", M=T, N=H,
                          bytes_weight=nbytes(T * H, b.dtypes["weight"]),
                          bytes_act_out=nbytes(T * H, b.dtypes["act"]), src=f"hf:{scope.name}")
            else:
                self.dropped[f"embedding:{name}"] += 1
            return
        if name in ACT_OPS:
            elements = _numel(out.shape)
            b.vector(layer, "ffn_act", "activation", elements, ACT_FLOPS[ACT_OPS[name]],
                     src=f"hf:{scope.name if scope else ''}:{name}")
            return
        attn = self.enclosing("attention") if kind in ("attention", "other") else None
        if attn is not None:
            self._attention(attn, name, args, out, layer)
            return
        if kind == "mlp" and name == "mul" and _same_shape(args):
            b.vector(layer, "ffn_mul", "elementwise", _numel(out.shape), 1, inputs=2,
                     src=f"hf:{scope.name}:mul")
            return
        if kind == "layer" and name == "add" and _same_shape(args):
            b.vector(layer, "residual_add", "elementwise", _numel(out.shape), 1, inputs=2,
                     src=f"hf:{scope.name}:add")
            return
        self.dropped[f"{kind}:{name}"] += 1

    def _linear(self, scope: _Scope, name: str, args, out, layer: int) -> None:
        if name == "addmm":
            bias, a, w = args[0], args[1], args[2]
        else:
            bias, a, w = None, args[0], args[1]
        K = int(a.shape[-1])
        M = _numel(a.shape[:-1])
        N = int(w.shape[-1])
        if name == "bmm":
            M, N = int(a.shape[0]) * int(a.shape[1]), int(w.shape[-1])
        op = LINEAR_NAMES.get(scope.attr, scope.attr)
        self.b.gemm(layer, op, M, K, N, bias=bias is not None, src=f"hf:{scope.name}:{name}")
        attn = self.enclosing("attention")
        if attn is not None:
            attn.state[op] = M * N           # projection outputs: q / k / v elements

    def _attention(self, attn: _Scope, name: str, args, out, layer: int) -> None:
        st, b = attn.state, self.b
        if name in ("neg",) and not st.get("rope"):
            q, k = st.get("q_proj", 0), st.get("k_proj", 0)
            if q and k:
                b.vector(layer, "rope", "rope", q + k, 3, src=f"hf:{attn.name}:rope")
            st["rope"] = True
            return
        if SDPA_OPS.search(name) and not st.get("attn"):
            q, k = args[0], args[1]
            batch, q_len, kv_len = int(q.shape[0]), int(q.shape[-2]), int(k.shape[-2])
            self._emit_attention(attn, layer, batch, q_len, kv_len)
            return
        if name in ("bmm", "matmul") and not st.get("attn"):
            a, w = args[0], args[1]
            rows = _numel(a.shape[:-2])
            batch = rows // self.qh
            q_len, kv_len = int(a.shape[-2]), int(w.shape[-1])
            self._emit_attention(attn, layer, batch, q_len, kv_len)
            return
        if st.get("attn") and name in ("bmm", "matmul", "_softmax", "_safe_softmax", "softmax"):
            return                            # the rest of the attention already emitted
        self.dropped[f"attention:{name}"] += 1

    def _emit_attention(self, attn: _Scope, layer: int, batch: int, q_len: int,
                        kv_len: int) -> None:
        st, b = attn.state, self.b
        if not st.get("kv"):
            new = st.get("k_proj", 0) + st.get("v_proj", 0)
            if new:
                from .layers import nbytes

                b.add(layer, "kv_append", "kv_append", M=new,
                      bytes_act_in=nbytes(new, b.dtypes["act"]),
                      bytes_kv_write=nbytes(new, b.dtypes["kv"]), src=f"hf:{attn.name}:cache")
            st["kv"] = True
        b.attention(layer, batch, q_len, kv_len, q_heads=self.qh, kv_heads=self.kvh,
                    head_dim=self.hd, causal=q_len > 1)
        for row in b.rows[-3:]:
            row["src"] = f"hf:{attn.name}:attention"
        st["attn"] = True


def _same_shape(args) -> bool:
    shapes = [tuple(a.shape) for a in args[:2] if hasattr(a, "shape")]
    return len(shapes) == 2 and shapes[0] == shapes[1]


def capture_trace(hf_config: str | os.PathLike, phase: str = "decode", *, batch: int = 1,
                  seq_len: int = 32, context: int = 64, attn_implementation: str = "sdpa",
                  dtype: str = "bf16") -> OpTrace:
    """Record one prefill or decode step of a HF model built from ``hf_config`` on ``meta``.

    Args:
        hf_config: path to a ``config.json`` (with ``model_type``).
        phase: ``prefill`` (``batch`` x ``seq_len`` prompt tokens, empty cache) or ``decode``
            (``batch`` x 1 token over a cache of ``context - 1`` tokens: ``kv_len = context``).
        attn_implementation: ``sdpa`` or ``eager`` (both fold to the same operators).
        dtype: ``bf16``, ``fp16`` or ``fp32`` (model and trace element type).

    Returns:
        an ``OpTrace`` in the generator's vocabulary; ``meta["capture"]`` records versions, the
        raw aten op count and the dropped ops.
    """
    torch, transformers = _require()
    from torch.utils._python_dispatch import TorchDispatchMode

    if phase not in ("prefill", "decode"):
        raise ConfigError(f"expected phase prefill or decode, got {phase!r}", key="phase")
    for key, value in (("batch", batch), ("seq_len", seq_len), ("context", context)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"expected a positive integer, got {value!r}", key=key)
    if phase == "decode" and context < 2:
        raise ConfigError("decode needs context >= 2 (one cached token at least)", key="context")
    torch_dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if dtype not in torch_dtypes:
        raise ConfigError(f"expected one of {', '.join(torch_dtypes)}, got {dtype!r}", key="dtype")
    cfg = load_hf_config(hf_config)
    if getattr(cfg, "num_local_experts", 0) or getattr(cfg, "num_experts", 0):
        raise ConfigError("MoE models are not supported by capture (data-dependent expert "
                          "loops); use generate_trace(..., moe_load=...)", file=str(hf_config))
    cfg._attn_implementation = attn_implementation
    with torch.device("meta"):
        try:
            model = transformers.AutoModelForCausalLM.from_config(
                cfg, dtype=torch_dtypes[dtype], attn_implementation=attn_implementation)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"transformers cannot build the model: "
                              f"{str(exc).splitlines()[0]}", file=str(hf_config)) from None
    model.eval()
    text = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    q_heads = int(text.num_attention_heads)
    kv_heads = int(getattr(text, "num_key_value_heads", None) or q_heads)
    head_dim = int(getattr(text, "head_dim", None) or text.hidden_size // q_heads)
    layers = int(text.num_hidden_layers)

    meta_dev = torch.device("meta")
    if phase == "prefill":
        # an (empty) cache keeps transformers from inspecting position values for packed
        # sequences, which needs data (``.item()``) that the meta device does not have
        cache = _decode_cache(transformers, cfg, torch, batch, kv_heads, 0, head_dim, 0,
                              torch_dtypes[dtype])
        ids = torch.zeros(batch, seq_len, dtype=torch.long, device=meta_dev)
        positions = torch.arange(seq_len, device=meta_dev).expand(batch, seq_len)
    else:
        cache = _decode_cache(transformers, cfg, torch, batch, kv_heads, context - 1, head_dim,
                              layers, torch_dtypes[dtype])
        ids = torch.zeros(batch, 1, dtype=torch.long, device=meta_dev)
        positions = torch.full((batch, 1), context - 1, dtype=torch.long, device=meta_dev)

    dt = {"act": dtype, "weight": dtype, "kv": dtype}
    b = Builder(dt, phase=phase, src="hf")
    folder = _Folder(b, q_heads=q_heads, kv_heads=kv_heads, head_dim=head_dim)

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            folder.op(func, args, kwargs or {}, out)
            return out

    handles = []
    for name, module in model.named_modules():
        if not name:
            continue                 # the root wants the name "model" too (research §5 pitfall 7)
        handles.append(module.register_forward_pre_hook(
            lambda mod, args, _n=name: folder.enter(_n, mod, args)))
        handles.append(module.register_forward_hook(lambda mod, args, out: folder.leave(out)))
    try:
        with torch.no_grad(), Recorder():
            model(input_ids=ids, position_ids=positions, past_key_values=cache,
                  use_cache=True, logits_to_keep=1)
    except RuntimeError as exc:
        raise AccelsimError(f"{hf_config}: the model's forward failed on the meta device: "
                            f"{str(exc).splitlines()[0]}") from None
    finally:
        for h in handles:
            h.remove()
    if not b.rows:
        raise AccelsimError(f"{hf_config}: capture recorded no operator")

    meta = {"name": f"{Path(hf_config).stem}_{phase}_b{batch}_"
                    + (f"s{seq_len}" if phase == "prefill" else f"ctx{context}"),
            "model": {"name": Path(hf_config).stem, "model_type": cfg.model_type,
                      "layers": layers, "hidden": int(text.hidden_size), "q_heads": q_heads,
                      "kv_heads": kv_heads, "head_dim": head_dim,
                      "ffn_dim": int(getattr(text, "intermediate_size", 0) or 0),
                      "vocab": int(text.vocab_size)},
            "phase": phase, "batch": batch,
            **({"seq_len": seq_len} if phase == "prefill" else {"context": context}),
            "dtypes": dt,
            "capture": {"tool": "accelsim.workload.capture v1", "torch": torch.__version__,
                        "transformers": transformers.__version__,
                        "attn_implementation": attn_implementation, "grad_mode": "no_grad",
                        "device": "meta", "logits_to_keep": 1, "aten_ops": folder.raw,
                        "dropped_aten_ops": dict(sorted(folder.dropped.items()))},
            "units": {"flops": "FLOP", "bytes": "B"}}
    return from_records(b.rows, meta)


def _decode_cache(transformers, cfg, torch, batch, kv_heads, past, head_dim, layers, dtype):
    """A ``DynamicCache`` holding ``past`` (meta) tokens in each of the first ``layers``."""
    try:
        cache = transformers.DynamicCache(config=cfg)
    except TypeError:
        cache = transformers.DynamicCache()
    for layer in range(layers):
        k = torch.empty(batch, kv_heads, past, head_dim, dtype=dtype, device="meta")
        cache.update(k, torch.empty_like(k), layer)
    return cache
