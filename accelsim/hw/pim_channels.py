"""The PIM channels of an HBM as an engine block, and the memory that NPU traffic shares with them.

``PimChannels`` holds, per PIM channel, a queue of PIM *phases* (one operator's op list on that
channel: GWRITEs and tiles, timed by ``hw.pim``'s command-level closed forms and refresh walk).
A phase starts on a channel when the channel is free, so two sub-batches' attention queue per
channel. ``PimMemory`` wraps the architecture's memory model: NPU transfers go through it as
always, and the row-buffer mode decides how they share a channel with PIM work
(``../shared/research/neupims.md`` §4):

* ``dual`` (NeuPIMs' two row buffers): PIM commands have priority; an NPU transfer that starts
  while PIM phases run gets the smallest share of channel time the GEMVs leave over the active
  channels (a striped transfer completes when its slowest channel delivers), so it takes
  ``duration / share``.
* ``blocked`` (one row buffer, Newton-style): NPU accesses go first and cannot overlap a PIM
  operation; each batch of NPU requests that arrives during a PIM phase costs that channel
  ``hw.pim.npu_service_cycles`` (ACT, bursts, precharge, reopening the PIM rows), which pushes
  the phase (and the phases queued behind it) later.

Time: the block counts PIM clock cycles (``spec.tCK_ps``); the engine converts to ps.
Hardware block: imports nothing from mapping or workload.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .pim import PimSpec, npu_service_cycles, walk_with_refresh

PIM_BITS_PER_MAC = 16          # one fp16 KV element per MAC (pim.element_bytes = 2)


@dataclass
class PimPhase:
    """One operator's work on the channels: per channel start / end cycles and GEMV cycles."""

    name: str
    starts: np.ndarray
    ends: np.ndarray
    comp_cycles: np.ndarray          # COMP + READRES cycles per channel
    mac_cycles: np.ndarray           # COMP issue cycles doing useful MACs per channel
    active: np.ndarray               # channels with work
    op_count: np.ndarray             # PIM operations per channel (GWRITEs + tiles)
    refresh_stall: np.ndarray = field(default_factory=lambda: np.zeros(0))
    npu_delay: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def end(self) -> int:
        return int(self.ends[self.active].max()) if self.active.any() else int(self.starts.min())

    def gemv_share(self) -> np.ndarray:
        """Fraction of each active channel's span spent in COMP/READRES."""
        span = np.maximum(self.ends - self.starts, 1)
        return np.where(self.active, self.comp_cycles / span, 0.0)


class PimChannels:
    """Per-channel PIM queues of one simulation. Deterministic; state reset per run."""

    def __init__(self, spec: PimSpec):
        self.spec = spec
        n = spec.channels
        self.free = np.zeros(n, dtype=np.int64)
        self.phases: list[PimPhase] = []
        self.macs = 0               # fp16 MACs in the banks (one per KV element read)
        self.host_bytes = 0         # PIM operands in and results out over the host interface

    def count(self, macs: int, host_bytes: int) -> None:
        """Count a finished phase's MACs and host-interface bytes (for the cost model)."""
        self.macs += int(macs)
        self.host_bytes += int(host_bytes)

    @property
    def channels(self) -> int:
        return self.spec.channels

    def run_phase(self, name: str, start: int, ops: list, comp: np.ndarray, macs: np.ndarray,
                  *, host_requests: np.ndarray | None = None, write: bool = False) -> PimPhase:
        """Queue one operator's op list per channel (``ops[c]``: int64 durations or ``None``)
        from ``start`` (cycles); returns the phase (its ``ends`` may still move in blocked
        mode). ``host_requests[c]``: NPU requests the operator itself sends to channel ``c``
        while it runs (softmax operands and results); blocked mode charges them as interrupts
        spread over its ops, as NPU requests that wait for the row buffer."""
        spec, n = self.spec, self.channels
        starts = np.full(n, int(start), dtype=np.int64)
        ends = starts.copy()
        stall = np.zeros(n, dtype=np.int64)
        active = np.zeros(n, dtype=bool)
        count = np.zeros(n, dtype=np.int64)
        for c in range(n):
            if ops[c] is None or len(ops[c]) == 0:
                continue
            durations = ops[c]
            req = int(host_requests[c]) if host_requests is not None else 0
            if spec.mode == "blocked" and req:
                interrupts = min(len(durations), req)
                service = npu_service_cycles(spec, -(-req // interrupts), write=write)
                durations = durations.copy()
                durations[np.linspace(0, len(durations) - 1, interrupts).astype(np.int64)] += service
            s = max(int(start), int(self.free[c]))
            end, lost = walk_with_refresh(spec, durations, start=s)
            starts[c], ends[c], stall[c] = s, end, lost
            active[c] = True
            count[c] = len(durations)
            self.free[c] = end
        phase = PimPhase(name, starts, ends, np.asarray(comp, dtype=np.int64),
                         np.asarray(macs, dtype=np.int64), active, count, stall,
                         np.zeros(n, dtype=np.int64))
        self.phases.append(phase)
        return phase

    def cost_counts(self) -> dict[str, Any]:
        """What ``cost.model.extra_events`` prices: each MAC reads one fp16 element in its bank;
        operands and results cross the host interface."""
        return {"macs": self.macs, "bits": {"bank": self.macs * PIM_BITS_PER_MAC,
                                            "host": self.host_bytes * 8}}

    def _running(self, t: int) -> list[PimPhase]:
        return [p for p in self.phases[-4 * 2:] if (p.active & (p.starts <= t) & (p.ends > t)).any()]

    def npu_share(self, t: int) -> float:
        """Dual mode: the share of channel time an NPU transfer starting at ``t`` gets (1 when
        no PIM phase runs)."""
        share = 1.0
        for p in self._running(t):
            on = p.active & (p.starts <= t) & (p.ends > t)
            share = min(share, float((1.0 - p.gemv_share()[on]).min()))
        return max(share, 1e-3)

    def npu_access(self, t: int, duration: int, nbytes: int, *, write: bool) -> None:
        """Blocked mode: an NPU transfer of ``nbytes`` (striped over all channels) from ``t``
        for ``duration`` cycles interrupts the PIM phases running then; each channel loses
        ``npu_service_cycles`` per interrupt (one per PIM operation the transfer overlaps, at
        most one per request), and its queued phases move later by as much."""
        spec = self.spec
        per_channel = -(-int(nbytes) // (self.channels * spec.request_bytes))
        if per_channel <= 0:
            return
        for p in self._running(t):
            on = np.flatnonzero(p.active & (p.starts <= t) & (p.ends > t))
            for c in on:
                mean_op = max(1, (p.ends[c] - p.starts[c]) // max(1, p.op_count[c]))
                interrupts = max(1, min(per_channel, -(-int(duration) // int(mean_op))))
                delay = interrupts * npu_service_cycles(spec, -(-per_channel // interrupts),
                                                        write=write)
                self._push(int(c), t, delay)
                p.npu_delay[c] += delay

    def _push(self, c: int, t: int, delay: int) -> None:
        for p in self.phases[-4 * 2:]:
            if not p.active[c] or p.ends[c] <= t:
                continue
            if p.starts[c] > t:
                p.starts[c] += delay
            p.ends[c] += delay
        self.free[c] += delay

    def stats(self, end_cycles: int) -> dict[str, Any]:
        """Per-channel busy cycles (in PIM phases), GEMV cycles, MAC-slot cycles, refresh stalls
        and NPU service cycles over the run, and their utilizations over ``end_cycles``."""
        n = self.channels
        busy = np.zeros(n, dtype=np.int64)
        comp = np.zeros(n, dtype=np.int64)
        macs = np.zeros(n, dtype=np.int64)
        stall = np.zeros(n, dtype=np.int64)
        npu = np.zeros(n, dtype=np.int64)
        for p in self.phases:
            busy += np.where(p.active, p.ends - p.starts, 0)
            comp += np.where(p.active, p.comp_cycles, 0)
            macs += np.where(p.active, p.mac_cycles, 0)
            stall += np.where(p.active, p.refresh_stall, 0)
            npu += np.where(p.active, p.npu_delay, 0)
        span = max(1, int(end_cycles))
        return {"channels": n, "mode": self.spec.mode, "busy_cycles": busy.tolist(),
                "gemv_cycles": comp.tolist(), "mac_slot_cycles": macs.tolist(),
                "refresh_stall_cycles": stall.tolist(), "npu_service_cycles": npu.tolist(),
                "busy_fraction": (busy / span).round(6).tolist(),
                "utilization": (macs / span).round(6).tolist(),
                "mean_busy_fraction": float(busy.sum() / (n * span)),
                "mean_utilization": float(macs.sum() / (n * span))}

    def busy_intervals(self) -> list[tuple[int, int]]:
        """Union of the spans in which any channel runs a PIM phase (cycles), sorted."""
        spans = sorted((int(p.starts[p.active].min()), p.end) for p in self.phases
                       if p.active.any())
        out: list[tuple[int, int]] = []
        for a, b in spans:
            if out and a <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
        return out


class PimMemory:
    """The architecture's memory model with PIM channels inside: every NPU transfer goes
    through ``inner`` (bank-level HBM or analytical), then pays the row-buffer mode's sharing
    rule against the PIM phases running when it started. Same interface as ``MemoryModel``."""

    def __init__(self, inner, pim: PimChannels, clock_mhz: float):
        self.inner = inner
        self.pim = pim
        self.tck_ps = pim.spec.tCK_ps
        self.npu_extra_ps = 0          # dual mode: NPU transfer time added by PIM priority

    def __getattr__(self, name):       # every other MemoryModel member is the inner model's
        return getattr(self.inner, name)

    def bind(self, env) -> None:
        self.env = env
        self.inner.bind(env)

    @property
    def recorder(self):
        return self.inner.recorder

    @recorder.setter
    def recorder(self, value) -> None:
        self.inner.recorder = value

    def transfer(self, nbytes: int, *, write: bool = False, address: int = 0):
        t0 = self.env.now
        yield from self.inner.transfer(nbytes, write=write, address=address)
        return (yield from self._share_with_pim(t0, nbytes, write))

    def transfer_pattern(self, segments, *, write: bool = False):
        t0 = self.env.now
        nbytes = yield from self.inner.transfer_pattern(segments, write=write)
        return (yield from self._share_with_pim(t0, nbytes, write))

    def _share_with_pim(self, t0: int, nbytes: int, write: bool):
        """After the inner model moved an NPU transfer that started at ``t0``: the row-buffer
        mode's sharing rule against the PIM phases running then."""
        env = self.env
        t_cycles = t0 // self.tck_ps
        if not self.pim.phases or self.pim.free.max() <= t_cycles:
            return nbytes
        duration = env.now - t0
        if self.pim.spec.mode == "dual":
            share = self.pim.npu_share(t_cycles)
            if share < 1.0:
                extra = int(math.ceil(duration * (1.0 / share - 1.0)))
                self.npu_extra_ps += extra
                yield env.timeout(extra)
        else:
            self.pim.npu_access(t_cycles, -(-duration // self.tck_ps), nbytes, write=write)
        return nbytes

    def stats(self) -> dict[str, Any]:
        out = dict(self.inner.stats())
        out["pim_npu_extra_ps"] = self.npu_extra_ps
        out["pim"] = self.pim.cost_counts()
        return out


__all__ = ["PimChannels", "PimMemory", "PimPhase"]
