"""NeuPIMs-style decode batches: request KV lengths and their PIM channels as a serving system
admits them (the workload of ``validation/neupims.py`` and the PIM DSE environments).

``steady_state_batch`` runs NeuPIMs' trace generator's process (requests finish and are
replaced, each new request placed on a channel by the ``rr`` and the ``greedy`` policies of
``mapping.schedulers``); ``decode_batch_from_requests`` reads a NeuPIMs request CSV. The
``channels`` they return go into the trace's ``meta["pim_channels"]``, which
``mapping.pim.PimPlanner`` uses instead of placing the snapshot's requests afresh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import unknown_name
from ..hw.pim import AttentionShape, PimSpec, estimate_mha_cycles
from ..workload.models import ModelConfig
from ..workload.requests import LengthDist, RequestTrace
from .schedulers import assign_channels

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
    kvh = max(1, model.kv_heads // tp)
    shape = AttentionShape(kvh * model.head_dim, kvh, model.head_dim,
                           max(1, model.q_heads // model.kv_heads))

    def est(s):
        return estimate_mha_cycles(spec, s, embed=shape.embed, heads=shape.heads,
                                   head_dim=shape.head_dim, group=shape.group)

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


__all__ = ["NEUPIMS_DATASETS", "DecodeBatch", "decode_batch_from_requests", "steady_state_batch"]
