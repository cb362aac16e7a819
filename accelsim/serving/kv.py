"""KV-cache memory of one replica: capacity from the device memory, paged in blocks (vLLM).

``capacity = tp x capacity_gib x gpu_memory_utilization - weights`` (vLLM reserves
``gpu_memory_utilization`` of the device, default 0.9, and the weights take their share first).
Each device holds ``1/tp`` of the weights and of every token's K/V (its KV heads; with fewer KV
heads than devices, heads are replicated). A block holds ``block_size`` tokens of one request
(vLLM's ``--block-size``, default 16). Activation workspace is not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..arch.config import Arch
from ..arch.dtypes import DTYPE_BYTES
from ..errors import ConfigError
from ..workload.models import ModelConfig


@dataclass(frozen=True)
class KvSpace:
    """The paged KV cache of one replica (bytes per device)."""

    block_size: int
    num_blocks: int
    kv_bytes_per_token: int       # per device
    weight_bytes: int             # per device
    device_bytes: int             # per device, usable (capacity x utilization)

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    @property
    def tokens(self) -> int:
        return self.num_blocks * self.block_size


def kv_space(arch: Arch, cfg: ModelConfig, *, tp: int = 1, block_size: int = 16,
             memory_utilization: float = 0.9, kv_dtype: str = "bf16",
             weight_dtype: str = "bf16") -> KvSpace:
    """Blocks that fit next to the weights on ``tp`` devices of ``arch``.

    Example:
        >>> from accelsim.arch.config import load_arch
        >>> from accelsim.workload.models import load_model
        >>> kv = kv_space(load_arch("h100_like"), load_model("llama3-8b"))
        >>> kv.kv_bytes_per_token, kv.num_blocks > 1000
        (131072, True)
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ConfigError(f"expected a positive integer, got {block_size!r}", key="block_size")
    if not 0 < memory_utilization <= 1:
        raise ConfigError(f"expected a fraction in (0, 1], got {memory_utilization!r}",
                          key="gpu_memory_utilization")
    capacity = int(getattr(arch.build_memory(), "capacity_bytes", 0) or 0)
    if not capacity:
        raise ConfigError(f"serving needs the device memory size: arch {arch.name} states no "
                          "memory.capacity_gib", file=arch.file, key="memory.capacity_gib")
    usable = int(capacity * memory_utilization)
    weights = int(math.ceil(cfg.num_params() * DTYPE_BYTES[weight_dtype] / tp))
    kv_heads = max(1, cfg.kv_heads // tp)
    per_token = int(math.ceil(2 * cfg.layers * kv_heads * cfg.head_dim * DTYPE_BYTES[kv_dtype]))
    blocks = (usable - weights) // (per_token * block_size)
    if blocks < 1:
        raise ConfigError(
            f"{cfg.name} does not fit arch {arch.name} at tp={tp}: weights take "
            f"{weights / 1e9:,.1f} GB of {usable / 1e9:,.1f} GB usable per device (capacity x "
            f"gpu_memory_utilization {memory_utilization:g}), leaving no KV block of "
            f"{block_size} tokens; raise --tp or use a larger memory",
            file=arch.file, key="memory.capacity_gib")
    return KvSpace(block_size, int(blocks), per_token, weights, usable)
