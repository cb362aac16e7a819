"""A vLLM-style iteration scheduler with paged KV blocks, driven by the simulated clock.

States of a request: *waiting* (arrived, not admitted, or preempted) -> *running* (holds KV
blocks, gets tokens each iteration) -> *finished*; or *rejected* at arrival when it can never
run. Each request carries ``computed`` (tokens whose K/V are cached) and ``known = prompt +
generated`` tokens; an iteration feeds it ``known - computed`` tokens at most (a prompt chunk, or
one token when decoding), and the pass that makes ``computed == known`` samples a token.

``step(now)`` builds one iteration (vLLM v1 ``Scheduler.schedule``):

1. running requests in admission order get their tokens within ``max_num_batched_tokens``; when
   the free blocks do not cover one, the most recently admitted running request is preempted by
   *recompute* (its blocks are freed, ``computed`` drops to its prefix-cache hit, and it goes to
   the front of the waiting queue);
2. if nothing was preempted, waiting requests that have arrived are admitted in order while
   ``max_num_seqs``, the token budget and the free blocks allow.

``chunked_prefill=False`` is vLLM v0's policy instead: an iteration is either whole prompts of
newly admitted requests or one decode token for every running request. Swapping to host memory
is not modelled (host memory is not part of an arch).

Prefix caching (``prefix_caching=True``): a request's ``cached_tokens`` (trace column; the
block-aligned part) are a cache hit: they are not computed, but their blocks are held as the
request's own (no sharing between requests is modelled, which overstates memory use).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..errors import ConfigError
from ..workload.layers import Seq
from .kv import KvSpace


@dataclass(frozen=True)
class SchedulerConfig:
    """vLLM engine arguments (their names in comments)."""

    max_num_seqs: int = 256               # --max-num-seqs
    max_num_batched_tokens: int = 8192    # --max-num-batched-tokens (vLLM v1 default, online)
    chunked_prefill: bool = True          # --enable-chunked-prefill (v1 default)
    prefix_caching: bool = False          # --enable-prefix-caching

    def check(self) -> None:
        for name in ("max_num_seqs", "max_num_batched_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"expected a positive integer, got {value!r}", key=name)


@dataclass(slots=True, eq=False)
class Request:
    """One request's state and timestamps (ps; ``-1`` = not yet)."""

    req_id: int
    arrival_ps: int
    prompt: int
    output: int
    cached: int = 0              # prefix-cache hit (tokens)
    computed: int = 0
    generated: int = 0
    blocks: int = 0
    preemptions: int = 0
    first_scheduled_ps: int = -1
    first_token_ps: int = -1
    finish_ps: int = -1
    stop_after_first: bool = False   # a prefill-pool request (disaggregated serving)
    reason: str = ""                 # why it was rejected
    replica: int = -1                # the replica the router chose

    @property
    def known(self) -> int:
        return self.prompt + self.generated

    @property
    def finished(self) -> bool:
        return self.finish_ps >= 0


class Scheduler:
    """Waiting / running queues over one replica's KV blocks (see the module docstring)."""

    def __init__(self, cfg: SchedulerConfig, kv: KvSpace, *, max_model_len: int):
        cfg.check()
        self.cfg, self.kv, self.max_model_len = cfg, kv, max_model_len
        self.free_blocks = kv.num_blocks
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.rejected: list[Request] = []
        self.preemptions = 0

    # ------------------------------------------------------------------ arrivals
    def reject_reason(self, r: Request) -> str:
        """Why ``r`` can never run on this replica ('' if it can)."""
        last = 1 if r.stop_after_first else r.output
        total = r.prompt + last - 1              # tokens whose K/V it must hold at most
        if r.prompt + r.output > self.max_model_len:
            return (f"prompt + output = {r.prompt + r.output} tokens exceed the model context "
                    f"({self.max_model_len})")
        need = self.kv.blocks_for(total)
        if need > self.kv.num_blocks:
            return (f"needs {need} KV blocks of {self.kv.block_size} tokens, the replica holds "
                    f"{self.kv.num_blocks}")
        if not self.cfg.chunked_prefill and total - r.cached > self.cfg.max_num_batched_tokens:
            return (f"{total - r.cached} tokens to prefill (after a recompute) exceed "
                    f"max_num_batched_tokens={self.cfg.max_num_batched_tokens} without chunked "
                    "prefill")
        return ""

    def add(self, r: Request) -> bool:
        """Queue an arrived request; ``False`` (and ``r.reason`` set) if it is rejected."""
        r.reason = self.reject_reason(r)
        if r.reason:
            self.rejected.append(r)
            return False
        if r.computed == 0:            # a new request (not KV handed over by a prefill pool)
            hit = r.cached if self.cfg.prefix_caching else 0
            r.cached = r.computed = (hit // self.kv.block_size) * self.kv.block_size
        self.waiting.append(r)
        return True

    @property
    def outstanding(self) -> int:
        return len(self.waiting) + len(self.running)

    @property
    def used_blocks(self) -> int:
        return self.kv.num_blocks - self.free_blocks

    # ------------------------------------------------------------------ one iteration
    def _grow(self, r: Request, n: int) -> bool:
        need = self.kv.blocks_for(r.computed + n) - r.blocks
        if need > self.free_blocks:
            return False
        if need > 0:
            self.free_blocks -= need
            r.blocks += need
        return True

    def _free(self, r: Request) -> None:
        self.free_blocks += r.blocks
        r.blocks = 0

    def _preempt(self, r: Request) -> None:
        self._free(r)
        r.computed = r.cached
        r.preemptions += 1
        self.preemptions += 1
        self.waiting.appendleft(r)

    def step(self, now_ps: int) -> list[tuple[Request, int]]:
        """Pick this iteration's ``(request, tokens)``; empty when nothing can run."""
        if self.cfg.chunked_prefill:
            return self._step_chunked(now_ps)
        return self._step_v0(now_ps)

    def _step_chunked(self, now_ps: int) -> list[tuple[Request, int]]:
        budget = self.cfg.max_num_batched_tokens
        out: list[tuple[Request, int]] = []
        preempted = False
        running = self.running
        bs = self.kv.block_size
        i = 0
        while i < len(running) and budget > 0:
            r = running[i]
            n = r.prompt + r.generated - r.computed
            if n > budget:
                n = budget
            # NOTE(perf): a decode inside its last block needs no allocation (bench_serve.py)
            if r.computed + n > r.blocks * bs:
                evicted_self = False
                while not self._grow(r, n):
                    victim = running.pop()       # the most recently admitted one
                    self._preempt(victim)
                    preempted = True
                    if victim is r:
                        evicted_self = True
                        break
                if evicted_self:
                    break
            out.append((r, n))
            budget -= n
            i += 1
        if not preempted:
            self._admit(now_ps, budget, out, whole=False)
        return out

    def _step_v0(self, now_ps: int) -> list[tuple[Request, int]]:
        out: list[tuple[Request, int]] = []
        self._admit(now_ps, self.cfg.max_num_batched_tokens, out, whole=True)
        if out:
            return out
        budget = self.cfg.max_num_batched_tokens
        i = 0
        while i < len(self.running) and budget > 0:
            r = self.running[i]
            while not self._grow(r, 1):
                victim = self.running.pop()
                self._preempt(victim)
                if victim is r:
                    return out
            out.append((r, 1))
            budget -= 1
            i += 1
        return out

    def _admit(self, now_ps: int, budget: int, out: list, *, whole: bool) -> None:
        while (self.waiting and budget > 0 and self.waiting[0].arrival_ps <= now_ps
               and len(self.running) < self.cfg.max_num_seqs):
            r = self.waiting[0]
            todo = r.known - r.computed
            n = min(todo, budget)
            if whole and n < todo:
                return
            if not self._grow(r, n):
                return
            self.waiting.popleft()
            self.running.append(r)
            if r.first_scheduled_ps < 0:
                r.first_scheduled_ps = now_ps
            out.append((r, n))
            budget -= n

    @staticmethod
    def seqs(batch: list[tuple[Request, int]]) -> list[Seq]:
        """The iteration's slices for the timer (decode: one new token after a sampled one)."""
        return [Seq(r.req_id, n, r.computed + n,
                    not (n == 1 and r.generated > 0 and r.computed + 1 == r.known),
                    r.computed + n == r.known) for r, n in batch]

    def complete(self, batch: list[tuple[Request, int]], end_ps: int) -> list[Request]:
        """Apply an iteration that ended at ``end_ps``; return the requests it finished."""
        # NOTE(perf): attributes read once per request, no properties (scripts/bench_serve.py)
        done: list[Request] = []
        for r, n in batch:
            computed = r.computed + n
            r.computed = computed
            if computed == r.prompt + r.generated:
                generated = r.generated + 1
                r.generated = generated
                if r.first_token_ps < 0:
                    r.first_token_ps = end_ps
                if generated >= r.output or r.stop_after_first:
                    r.finish_ps = end_ps
                    done.append(r)
        if done:
            self.running = [r for r in self.running if r.finish_ps < 0]
            for r in done:
                self._free(r)
        return done
