"""System schedulers of an NPU + PIM decode system, as named plug-ins (``SCHEDULERS``).

A scheduler decides three things (``../shared/research/neupims.md`` §1, §5):

* where attention runs: on the PIM channels, or on the NPU (``npu-only``);
* which PIM channel holds each request's KV cache: round-robin (``rr``) or NeuPIMs' greedy
  min-load bin packing (paper Alg. 2: requests by decreasing length, each to the channel with the
  least summed estimated MHA latency);
* whether the batch is split into two sub-batches whose GEMMs and PIM attention are pipelined
  (paper Alg. 3: each channel's request list is halved, ceiling and floor alternating over the
  channels with an odd count).

Chosen with ``pim: {scheduler: {impl: <name>}}`` in an architecture (``mapping/pim.py``).
Contract: a scheduler never reorders the operators of one sub-batch; ``assign`` is deterministic.
"""

from __future__ import annotations

import abc
from typing import Any, Callable

import numpy as np

from ..arch.fields import Section
from ..registry import Registry

SCHEDULERS: Registry[type["Scheduler"]] = Registry("scheduler")
CHANNEL_POLICIES = ("rr", "greedy")


class Scheduler(abc.ABC):
    """Where attention runs, how requests map to PIM channels, how the batch is split."""

    impl_name: str = ""
    description: str = ""
    attention_on: str = "pim"          # "pim" or "npu"
    channel_policy: str = "rr"         # "rr" or "greedy"
    sub_batching: bool = False

    def __init__(self, *, sbi_min_batch: int = 0):
        self.sbi_min_batch = sbi_min_batch

    @classmethod
    def from_config(cls, section: Section) -> "Scheduler":
        return cls(sbi_min_batch=section.int("sbi_min_batch", default=0, minimum=0))

    def assign(self, lengths: np.ndarray, loads: np.ndarray, estimate: Callable, *,
               counter: int = 0) -> tuple[np.ndarray, int]:
        """Channels for newly admitted requests of ``lengths`` (KV tokens).

        ``loads`` (estimated MHA cycles per channel, updated in place) and ``counter`` (the
        round-robin pointer, returned advanced) carry the state between admissions.
        """
        return assign_channels(self.channel_policy, lengths, loads, estimate, counter=counter)

    def sub_batches(self, channels: np.ndarray) -> list[np.ndarray]:
        """Request indices of each sub-batch (one, or two with sub-batch interleaving)."""
        n = len(channels)
        if not self.sub_batching or n < max(2, self.sbi_min_batch):
            return [np.arange(n)]
        return split_sub_batches(channels)

    def describe(self) -> dict[str, Any]:
        return {"impl": self.impl_name, "attention_on": self.attention_on,
                "channel_policy": self.channel_policy, "sub_batching": self.sub_batching}


def assign_channels(policy: str, lengths: np.ndarray, loads: np.ndarray, estimate: Callable, *,
                    counter: int = 0) -> tuple[np.ndarray, int]:
    """Assign requests to channels. ``rr``: in arrival order, ``counter`` modulo channels.
    ``greedy``: by decreasing length (stable), each to the least-loaded channel (lowest index
    on ties), loads by ``estimate(length)``. Returns ``(channels, counter)``.

    Example:
        >>> loads = np.zeros(2)
        >>> assign_channels("greedy", np.array([10, 300, 20]), loads, lambda s: s)[0]
        array([1, 0, 1])
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.empty(len(lengths), dtype=np.int64)
    nch = len(loads)
    if policy == "rr":
        out[:] = (counter + np.arange(len(lengths))) % nch
        np.add.at(loads, out, estimate(lengths))
        return out, counter + len(lengths)
    if policy != "greedy":
        from ..errors import unknown_name
        raise unknown_name("channel policy", policy, CHANNEL_POLICIES)
    cost = np.asarray(estimate(lengths), dtype=np.float64)
    for i in np.argsort(-lengths, kind="stable"):
        ch = int(np.argmin(loads))
        out[i] = ch
        loads[ch] += cost[i]
    return out, counter


def split_sub_batches(channels: np.ndarray) -> list[np.ndarray]:
    """Paper Alg. 3 (``Scheduler.cc:287-366``, simple partitioner): each channel's requests, in
    batch order, are halved; channels with an odd count give the extra request to sub-batch 1
    and 2 in turn.

    Example:
        >>> [x.tolist() for x in split_sub_batches(np.array([0, 0, 0, 1, 1, 1]))]
        [[0, 1, 3], [2, 4, 5]]
    """
    sb1, sb2 = [], []
    odd = 0
    for ch in np.unique(channels):
        idx = np.flatnonzero(channels == ch)
        half = len(idx) // 2
        if len(idx) % 2:
            half += 1 - odd
            odd ^= 1
        sb1.extend(idx[:half])
        sb2.extend(idx[half:])
    return [np.sort(np.array(sb1, dtype=np.int64)), np.sort(np.array(sb2, dtype=np.int64))]


@SCHEDULERS.register("npu-only", "attention GEMVs on the NPU over plain HBM; no PIM")
class NpuOnlyScheduler(Scheduler):
    attention_on = "npu"


@SCHEDULERS.register("naive", "NPU+PIM: round-robin channels, one batch (no sub-batching)")
class NaiveScheduler(Scheduler):
    channel_policy = "rr"


@SCHEDULERS.register("gmlbp", "NPU+PIM: greedy min-load bin packing of requests onto channels")
class GmlbpScheduler(Scheduler):
    channel_policy = "greedy"


@SCHEDULERS.register("neupims", "NeuPIMs: greedy min-load bin packing + sub-batch interleaving")
class NeuPimsScheduler(Scheduler):
    channel_policy = "greedy"
    sub_batching = True


def build_scheduler(raw: Any, *, file: str | None = None, path: str = "scheduler") -> Scheduler:
    """Validate a ``scheduler:`` mapping and build the scheduler it names (default ``naive``)."""
    section = Section(raw, file=file, path=path)
    impl = section.str("impl", default="naive")
    cls = SCHEDULERS.get(impl, file=file, key=section.key_path("impl"))
    sched = cls.from_config(section)
    section.done()
    return sched


__all__ = ["SCHEDULERS", "Scheduler", "build_scheduler", "assign_channels", "split_sub_batches"]
