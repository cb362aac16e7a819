"""Model zoo: decoder-only transformer configurations as YAML in ``traces/models/``.

``load_model("llama2-7b")`` reads ``traces/models/llama2-7b.yaml`` (or any path) into a validated
``ModelConfig``; ``num_params()`` counts parameters from the shapes alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..arch.config import _read_yaml
from ..arch.fields import Section
from ..errors import ConfigError, unknown_name

ACTIVATIONS = ("silu", "gelu", "relu")
NORMS = ("rmsnorm", "layernorm")
POS_EMBS = ("rope", "learned", "none")
ALIASES = {"llama-2-7b": "llama2-7b", "llama-2-13b": "llama2-13b", "llama-2-70b": "llama2-70b",
           "llama-3.1-8b": "llama3-8b", "llama-3.1-70b": "llama3-70b",
           "llama-3.1-405b": "llama3-405b", "llama3.1-8b": "llama3-8b", "gpt3-6.7b": "gpt3-7b",
           "tiny": "tiny-llama-gqa-test"}


def models_dir() -> Path:
    from ..paths import data_root

    return data_root() / "traces" / "models"


@dataclass(frozen=True)
class ModelConfig:
    """Shapes of a decoder-only transformer (HF-style names in comments)."""

    name: str
    family: str
    layers: int            # num_hidden_layers
    hidden: int            # hidden_size
    q_heads: int           # num_attention_heads
    kv_heads: int          # num_key_value_heads (== q_heads: MHA; 1: MQA; else GQA)
    head_dim: int
    ffn_dim: int           # intermediate_size (per expert for MoE)
    gated_ffn: bool        # SwiGLU-style gate * up
    activation: str
    norm: str
    pos_emb: str
    vocab: int
    max_ctx: int
    tied_embeddings: bool
    linear_bias: bool
    experts: int = 1
    experts_top_k: int = 1
    published_params_b: float | None = None
    source: str = ""

    @property
    def q_dim(self) -> int:
        return self.q_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def layer_params(self) -> int:
        """Parameters of one decoder layer (attention, FFN or experts + router, two norms)."""
        h = self.hidden
        attn = h * self.q_dim + 2 * h * self.kv_dim + self.q_dim * h
        if self.linear_bias:
            attn += self.q_dim + 2 * self.kv_dim + h
        ffn = (3 if self.gated_ffn else 2) * h * self.ffn_dim
        if self.linear_bias:
            ffn += (2 if self.gated_ffn else 1) * self.ffn_dim + h
        ffn *= self.experts
        router = h * self.experts if self.experts > 1 else 0
        norm = (2 if self.norm == "layernorm" else 1) * h
        return attn + ffn + router + 2 * norm

    def num_params(self, *, active: bool = False) -> int:
        """Total parameters (``active=True``: only the top-k experts of an MoE count)."""
        h = self.hidden
        total = self.vocab * h
        if self.pos_emb == "learned":
            total += self.max_ctx * h
        layer = self.layer_params()
        if active and self.experts > 1:
            idle_expert = (3 if self.gated_ffn else 2) * h * self.ffn_dim
            layer -= (self.experts - self.experts_top_k) * idle_expert
        total += self.layers * layer
        total += (2 if self.norm == "layernorm" else 1) * h       # final norm
        if not self.tied_embeddings:
            total += self.vocab * h                                 # lm_head
        return total

    def kv_bytes_per_token(self, kv_bytes: float = 2) -> float:
        return 2 * self.layers * self.kv_dim * kv_bytes


def load_model(name_or_path: str | os.PathLike) -> ModelConfig:
    """Load a model from ``traces/models/<name>.yaml`` or a YAML path.

    Example:
        >>> round(load_model("llama2-7b").num_params() / 1e9, 2)
        6.74
    """
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        name = ALIASES.get(str(name_or_path), str(name_or_path))
        path = models_dir() / f"{name}.yaml"
        try:
            found = path.is_file()
        except OSError:  # e.g. a name too long for the file system: not a zoo name
            found = False
        if not found:
            known = sorted(p.stem for p in models_dir().glob("*.yaml"))
            raise unknown_name("model", str(name_or_path), known)
    raw = _read_yaml(path)
    return parse_model(raw, file=str(path))


def parse_model(raw, *, file: str | None = None) -> ModelConfig:
    s = Section(raw, file=file)
    big = dict(minimum=1, maximum=1 << 24)
    cfg = ModelConfig(
        name=s.str("name", default=Path(file).stem if file else "model"),
        family=s.str("family", default="custom"),
        layers=s.int("layers", minimum=1, maximum=4096),
        hidden=s.int("hidden", **big), q_heads=s.int("q_heads", minimum=1, maximum=65536),
        kv_heads=s.int("kv_heads", minimum=1, maximum=65536),
        head_dim=s.int("head_dim", minimum=1, maximum=65536), ffn_dim=s.int("ffn_dim", **big),
        gated_ffn=s.bool("gated_ffn", default=False),
        activation=s.choice("activation", ACTIVATIONS, default="gelu"),
        norm=s.choice("norm", NORMS, default="layernorm"),
        pos_emb=s.choice("pos_emb", POS_EMBS, default="rope"),
        vocab=s.int("vocab", **big), max_ctx=s.int("max_ctx", minimum=1, maximum=1 << 30),
        tied_embeddings=s.bool("tied_embeddings", default=False),
        linear_bias=s.bool("linear_bias", default=False),
        experts=s.int("experts", default=1, minimum=1, maximum=4096),
        experts_top_k=s.int("experts_top_k", default=1, minimum=1, maximum=4096),
        published_params_b=(None if s.any("published_params_b", default=None) is None
                            else s.float("published_params_b", minimum=0.0)),
        source=s.str("source", default=""))
    s.done()
    if cfg.q_heads % cfg.kv_heads:
        raise ConfigError(f"q_heads ({cfg.q_heads}) must be a multiple of kv_heads "
                          f"({cfg.kv_heads})", file=file, key="kv_heads")
    if cfg.experts_top_k > cfg.experts:
        raise ConfigError(f"experts_top_k ({cfg.experts_top_k}) exceeds experts ({cfg.experts})",
                          file=file, key="experts_top_k")
    return cfg
