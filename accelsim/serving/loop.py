"""The closed loop: replicas of one pool step their schedulers on the simulated clock.

Events are iteration ends and request arrivals, in time order (an arrival at the very instant
an iteration ends joins the next iteration). At an arrival the router picks a replica; an idle
replica starts an iteration at once. At an iteration end the replica applies it and starts the
next one from its queues. Iteration times come from the replica's timer
(``serving/timing.py``), so a faster device admits requests sooner.
"""

from __future__ import annotations

import heapq
import sys
from array import array
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..errors import ConfigError
from .scheduler import Request, Scheduler

ROUTERS = ("round-robin", "least-loaded")
LOG_COLUMNS = ("t_start_ps", "duration_ps", "requests", "prefill_requests", "decode_requests",
               "tokens", "kv_blocks_used", "queue_length", "preemptions")


@dataclass
class Replica:
    """One model instance (``tp`` devices): a scheduler, a timer and an iteration log."""

    index: int
    scheduler: Scheduler
    timer: Callable
    busy_until_ps: int = -1
    batch: list = field(default_factory=list)
    log: dict[str, array] = field(default_factory=lambda: {c: array("q") for c in LOG_COLUMNS})
    recorded: list | None = None     # each iteration's slices, when a trace dump is asked for

    @property
    def idle(self) -> bool:
        return self.busy_until_ps < 0

    def start(self, now_ps: int) -> int:
        """Start the next iteration at ``now_ps``; its end time, or -1 if there is nothing to do."""
        s = self.scheduler
        batch = s.step(now_ps)
        if not batch and s.waiting and s.waiting[0].arrival_ps <= now_ps:
            batch = s.step(now_ps)        # everything running was just preempted: admit again
        if not batch:
            self.busy_until_ps = -1
            return -1
        # NOTE(perf): the iteration's shape summary straight from the batch, no Seq objects
        # (Scheduler.seqs builds the same slices; scripts/bench_serve.py)
        tokens = n_sample = prefill = 0
        groups: dict[tuple, int] = {}
        for r, n in batch:
            kv = r.computed + n
            sample = kv == r.prompt + r.generated
            pre = not (n == 1 and sample and r.generated > 0)
            key = (pre, n, kv)
            groups[key] = groups.get(key, 0) + 1
            tokens += n
            n_sample += sample
            prefill += pre
        duration = int(self.timer.time_groups(tokens, n_sample, groups))
        if self.recorded is not None:
            self.recorded.append(tuple(s.seqs(batch)))
        log = self.log
        log["t_start_ps"].append(now_ps)
        log["duration_ps"].append(duration)
        log["requests"].append(len(batch))
        log["prefill_requests"].append(prefill)
        log["decode_requests"].append(len(batch) - prefill)
        log["tokens"].append(tokens)
        log["kv_blocks_used"].append(s.used_blocks)
        log["queue_length"].append(len(s.waiting))        # arrived, not running
        log["preemptions"].append(s.preemptions)
        self.batch = batch
        self.busy_until_ps = now_ps + duration
        return self.busy_until_ps

    def finish(self) -> list[Request]:
        done = self.scheduler.complete(self.batch, self.busy_until_ps)
        self.batch = []
        return done


def route(router: str, replicas: Sequence[Replica], counter: int) -> Replica:
    if router == "round-robin":
        return replicas[counter % len(replicas)]
    if router == "least-loaded":
        return min(replicas, key=lambda r: (r.scheduler.outstanding, r.index))
    raise ConfigError(f"unknown router {router!r}; expected one of {', '.join(ROUTERS)}",
                      key="router")


def run_pool(replicas: Sequence[Replica], requests: Sequence[Request], *,
             router: str = "round-robin", progress: bool | None = None,
             desc: str = "serving") -> int:
    """Serve ``requests`` (sorted by arrival) on ``replicas``; return the end time (ps)."""
    if router not in ROUTERS:
        raise ConfigError(f"unknown router {router!r}; expected one of {', '.join(ROUTERS)}",
                          key="router")
    heap: list[tuple[int, int]] = []
    n = len(requests)
    idx = routed = finished = 0
    now = 0
    bar = _bar(progress, requests, desc)
    tick = 0
    while idx < n or heap:
        t_arrival = requests[idx].arrival_ps if idx < n else None
        if t_arrival is not None and (not heap or t_arrival <= heap[0][0]):
            now = t_arrival
            woken: dict[int, Replica] = {}
            while idx < n and requests[idx].arrival_ps == t_arrival:
                rep = route(router, replicas, routed)
                routed += 1
                requests[idx].replica = rep.index
                if rep.scheduler.add(requests[idx]) and rep.idle:
                    woken[rep.index] = rep
                idx += 1
            for i in sorted(woken):
                end = woken[i].start(now)
                if end >= 0:
                    heapq.heappush(heap, (end, i))
        else:
            now, i = heapq.heappop(heap)
            rep = replicas[i]
            finished += len(rep.finish())
            end = rep.start(now)
            if end >= 0:
                heapq.heappush(heap, (end, i))
        tick += 1
        if bar is not None and tick % 512 == 0:
            _update(bar, now, finished)
    if bar is not None:
        _update(bar, now, finished)
        bar.close()
    return now


def _bar(progress: bool | None, requests: Sequence[Request], desc: str):
    enabled = sys.stderr.isatty() if progress is None else progress
    if not enabled or not requests:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    last_s = requests[-1].arrival_ps / 1e12
    return tqdm(total=round(last_s, 1), unit="sim s", desc=desc, leave=False,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} sim s "
                           "[{elapsed}<{remaining}]{postfix}")


def _update(bar, now_ps: int, finished: int) -> None:
    t = now_ps / 1e12
    bar.n = round(min(t, bar.total), 1)
    bar.set_postfix_str(f"{finished} done, {finished / t if t > 0 else 0:.1f} req/s", refresh=False)
    bar.refresh()
