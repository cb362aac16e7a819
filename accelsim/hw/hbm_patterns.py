"""Strided transfers on the bank-level HBM model: exact window, extrapolated tail, memo per pattern.

``HbmMemory.transfer_pattern`` (this mixin) moves a tile given as ``Strided`` segments (rows of
contiguous bytes at a stride, e.g. a weight tile ``[Nt, Kt]`` of a row-major ``[N, K]`` matrix):

* **Access order.** Segment by segment, row by row, ``tx_bytes`` accesses in address order; the
  address mapping (``MAPPINGS``) sends each to its channel / bank / row.
* **Bounded window.** At most a quarter of ``max_simulated_requests`` accesses (4096 by default;
  a decode step has a few hundred distinct patterns) go through the C kernel: the first
  quarter of them (the start on the device as earlier transfers left it) and a sample from the
  middle of the transfer (rows as they change in the steady state). The rest moves at the
  sample's rate over its middle half, except accesses in runs of at least a quarter of the
  mapping period, which move at the memoized rate of a long stream (``stream_rates``: a stream's
  rate cycles with the banks it walks, over more accesses than a window holds); refreshes due in
  the tail come from the device's own schedule and each costs what one costs a stream.
  **Error bound:** ``PATTERN_ERROR_BOUND`` (8 %) of the time of each extrapolated transfer, above
  the largest error of the windowed time against a full simulation over the LLM tile patterns
  of ``tests/hw/test_hbm_patterns.py`` on HBM2 (both mappings) and HBM3;
  ``stats()["extrapolation_error_bound_frac"]`` is that bound summed over transfers, over the
  summed transfer time (a bound on the relative error of the memory time, not an estimate).
* **Memo per transfer pattern.** The key is what decides the kernel's result on a device whose
  earlier traffic has drained: the segments relative to the first address, the first address
  modulo the mapping period (``accesses_per_row x banks x channels x tx_bytes``: addresses that
  far apart map to the same channel, bank and column, only the row differs), the direction, and
  the concurrency at start (idle, or busy with a read / a write transfer). A repeated pattern
  costs no kernel call: its recorded time, counters and latency histogram are replayed. What the
  key leaves out -- which rows are open at start, how far the previous transfer still has to go
  -- is the approximation; the first instance of each pattern runs on the real device state.

States: idle -> transferring (inside ``transfer_pattern``) -> idle; ``bind`` clears the memo.
Units: ticks of tCK inside, ps to the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import dram_kernel as K
from .memory import BANDWIDTH_TRACK

#: Largest relative error of one extrapolated transfer's time against its full simulation, over
#: the transfer patterns of LLM layers (weight tiles, attention K/V chunks, strided activation and
#: KV-append tiles) at the default window: ``tests/hw/test_hbm_patterns.py`` measures it.
PATTERN_ERROR_BOUND = 0.08

#: chst columns that are not additive per transfer (refresh is counted by the kernel's catch-up
#: when the device resumes; the last tick is a time, not a count).
_NOT_REPLAYED = (K.S_REFS, K.S_LAST_TICK)


@dataclass
class _PatternMemo:
    duration_ticks: int              # start -> last access done
    inject_ticks: int                # start -> the frontend frees
    chst: np.ndarray                 # per-channel statistics added (refresh / last tick zeroed)
    lat_bins: np.ndarray             # read-latency histogram delta, sparse
    lat_counts: np.ndarray
    lat_sum: int
    reads: int
    extrapolated: int
    refresh_ticks: float
    bound_ticks: float


def pattern_lines(segments, tx_bytes: int, limit: int, skip: int = 0) -> tuple[np.ndarray, int]:
    """(access indices number ``skip`` .. ``skip + limit - 1`` of ``segments`` in order, the
    total access count)."""
    parts: list[np.ndarray] = []
    total = 0
    lo, hi = skip, skip + limit
    for seg in segments:
        if seg.rows <= 0 or seg.row_bytes <= 0:
            continue
        aligned = not (seg.address % tx_bytes or seg.row_bytes % tx_bytes
                       or seg.stride_bytes % tx_bytes)
        if aligned:
            # NOTE(perf): aligned rows (every tile the engine makes): counts without arrays,
            # lines only for the ordinals asked for (scripts/bench_sim.py, part (c))
            per_row = seg.row_bytes // tx_bytes
            count = seg.rows * per_row
            a, b = max(lo, total), min(hi, total + count)
            if a < b:
                rel = np.arange(a - total, b - total, dtype=np.int64)
                parts.append(seg.address // tx_bytes + rel // per_row
                             * (seg.stride_bytes // tx_bytes) + rel % per_row)
            total += count
            continue
        starts = seg.address + np.arange(seg.rows, dtype=np.int64) * seg.stride_bytes
        first = starts // tx_bytes
        counts = (starts + seg.row_bytes - 1) // tx_bytes - first + 1
        ends = np.cumsum(counts) + total              # ordinal after each row's last access
        begins = ends - counts
        total = int(ends[-1])
        take = (ends > lo) & (begins < hi)
        if not take.any():
            continue
        b, e, f = begins[take], ends[take], first[take]
        f = f + np.maximum(lo - b, 0)                 # trim the first and last rows taken
        n_row = np.minimum(e, hi) - np.maximum(b, lo)
        offsets = np.repeat(f - np.cumsum(n_row) + n_row, n_row)
        parts.append(offsets + np.arange(int(n_row.sum()), dtype=np.int64))
    lines = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return lines, total


def pattern_key(segments, period_bytes: int) -> tuple:
    base = segments[0].address
    return (base % period_bytes,) + tuple(
        (s.address - base, s.row_bytes, s.stride_bytes, s.rows) for s in segments)


class PatternTransfers:
    """Mixin of ``HbmMemory``: ``transfer_pattern`` with the window, extrapolation and memo."""

    def bind(self, env) -> None:
        super().bind(env)
        self._pattern_memo: dict[tuple, _PatternMemo] = {}
        self._pattern_total = 0
        self._pattern_exact = 0
        self._kernel_requests = 0
        self._bound_ticks = 0.0
        self._pattern_ticks = 0
        self._busy_until_tick = 0
        self._busy_write = False

    def mapping_period_bytes(self) -> int:
        """Bytes after which the mapping repeats channel, bank and column (only the row moves)."""
        s = self.spec
        return s.accesses_per_row * s.banks_per_channel * s.channels * s.tx_bytes

    # ---- the transfer
    def transfer_pattern(self, segments, *, write: bool = False):
        nbytes = sum(s.nbytes for s in segments)
        now_ps = self.env.now
        end_ps = self._pattern_transfer(tuple(segments), nbytes, write, now_ps) if nbytes \
            else now_ps
        return (yield from self._moved(nbytes, write, now_ps, end_ps))

    def _pattern_transfer(self, segments, nbytes: int, write: bool, now_ps: int) -> int:
        spec = self.spec
        start = max(self._tick_of(now_ps), self._frontend_free_tick)
        busy = 0 if start >= self._busy_until_tick else 1 + int(self._busy_write)
        key = (pattern_key(segments, self.mapping_period_bytes()), write, busy)
        memo = self._pattern_memo.get(key)
        if memo is None:
            memo = self._pattern_memo[key] = self._simulate_pattern(segments, write, start)
            self._pattern_exact += 1
        else:
            self._replay_pattern(memo, start)
        self._pattern_total += 1
        end_tick = start + memo.duration_ticks
        free_tick = start + memo.inject_ticks
        self._frontend_free_tick = free_tick
        self._last_tick = max(self._last_tick, end_tick)
        if self._first_tick is None:
            self._first_tick = start
        if end_tick >= self._busy_until_tick:
            self._busy_until_tick, self._busy_write = end_tick, write
        self._bound_ticks += memo.bound_ticks
        self._pattern_ticks += memo.duration_ticks
        self.busy_ps += memo.duration_ticks * spec.tCK_ps
        if self.recorder is not None:
            self.recorder("memory (hbm frontend)", "write" if write else "read",
                          start * spec.tCK_ps, free_tick * spec.tCK_ps,
                          {"bytes": nbytes, "requests": -(-nbytes // spec.tx_bytes)})
            # a counter track in the Perfetto timeline (report/timeline.py sums overlaps)
            self.recorder(BANDWIDTH_TRACK, "write" if write else "read", start * spec.tCK_ps,
                          end_tick * spec.tCK_ps, {"bytes": nbytes})
        floor_ps = now_ps + self.unloaded_transfer_ps(nbytes, write=write)
        return max(end_tick * spec.tCK_ps, floor_ps)

    def _simulate_pattern(self, segments, write: bool, start: int) -> _PatternMemo:
        from .hbm import run_batch

        spec = self.spec
        window = max(spec.max_simulated_requests // 4, 64)
        lines, n = pattern_lines(segments, spec.tx_bytes, window)
        head = window // 4
        if n > window:          # the start exactly, then a sample from the middle (steady rows)
            middle, _ = pattern_lines(segments, spec.tx_bytes, window - head, n // 2)
            lines = np.concatenate([lines[:head], middle])
        lines %= spec.capacity_bytes() // spec.tx_bytes
        chst0 = self.state["chst"].copy()
        hist0, lat0, reads0 = self._lat_hist.copy(), self._lat_sum, self._reads
        res = run_batch(spec, self.state, lines, np.full(len(lines), write), start_tick=start)
        self._record(res, write)
        self._kernel_requests += len(lines)
        end, free = res.last_tick, int(res.arrive[-1]) + 1
        extrapolated, refresh_ticks, bound = 0, 0, 0.0
        if n > len(lines):
            extrapolated = n - len(lines)
            period = self.mapping_period_bytes()
            long_frac = sum(g.nbytes for g in segments if g.row_bytes >= period // 4) \
                / (n * spec.tx_bytes)
            delta, refreshes = self._tail_ticks(res.done[head:], extrapolated, end, write,
                                                min(long_frac, 1.0))
            self._advance(delta, refreshes)
            end, free = end + delta, free + delta
            refresh_ticks = int(refreshes.sum()) * spec.refresh_busy_cycles \
                * spec.pseudo_channels
            self._refresh_ticks_extra += refresh_ticks
            self._extrapolated += extrapolated
            bound = PATTERN_ERROR_BOUND * (end - start)
            # the tail's accesses land on the channels / outcomes as the window's did
            window_delta = self.state["chst"] - chst0
            window_delta[:, list(_NOT_REPLAYED)] = 0
            self.state["chst"] += np.rint(window_delta * (extrapolated / len(lines))).astype(
                np.int64)
        chst = self.state["chst"] - chst0
        chst[:, list(_NOT_REPLAYED)] = 0
        hist = self._lat_hist - hist0
        bins = np.flatnonzero(hist)
        return _PatternMemo(end - start, free - start, chst, bins, hist[bins],
                            self._lat_sum - lat0, self._reads - reads0, extrapolated,
                            refresh_ticks, bound)

    def _tail_ticks(self, done: np.ndarray, count: int, end: int, write: bool,
                    long_frac: float) -> tuple[int, np.ndarray]:
        """(ticks the ``count`` accesses after the window take, refreshes per channel in them).

        Accesses in runs of at least a mapping period (``long_frac`` of them) move at the
        memoized stream rate (``stream_rates``); the others at the sample's rate over its middle
        half, with the refreshes that fell inside it taken out. Each refresh due in the tail
        (the device's own schedule, ``next_ref``) then costs what one costs a stream:
        ``interval x (1 / factor - 1)`` ticks (interval: tREFI, or tREFIpb for per-bank refresh).
        """
        refi = self.spec.refresh_interval_cycles
        stream_rate, factor = stream_rates(self.spec, write)
        loss = refi * (1.0 / factor - 1.0)
        next_ref = self.state["next_ref"]
        done = np.sort(done)
        a, b = len(done) // 4, (3 * len(done)) // 4
        if b - a < 2:
            a, b = 0, len(done) - 1
        t_a, t_b = int(done[a]), int(done[b])
        inside = float(np.mean(_instants(next_ref, refi, t_a, t_b)))
        rate = (b - a) / max(t_b - t_a - inside * loss, 1.0)
        rate = 1.0 / (long_frac / stream_rate + (1.0 - long_frac) / rate)
        ticks = count / rate
        for _ in range(3):                      # refreshes due in the tail lengthen it
            refreshes = _instants(next_ref, refi, end, end + int(math.ceil(ticks)))
            ticks = count / rate + float(np.mean(refreshes)) * loss
        return int(math.ceil(ticks)), _instants(next_ref, refi, end, end + int(math.ceil(ticks)))

    def _advance(self, delta: int, refreshes: np.ndarray) -> None:
        """The device after ``delta`` extrapolated ticks: timing clocks later by ``delta``, the
        refreshes that fell due in them done (the next one due after the tail)."""
        st = self.state
        for key in ("ready", "hist"):
            arr = st[key]
            arr[arr > K.NEVER] += delta
        st["next_ref"] += refreshes * self.spec.refresh_interval_cycles

    def _replay_pattern(self, memo: _PatternMemo, start: int) -> None:
        self.state["chst"] += memo.chst
        self._lat_hist[memo.lat_bins] += memo.lat_counts
        self._lat_sum += memo.lat_sum
        self._reads += memo.reads
        self._extrapolated += memo.extrapolated
        self._refresh_ticks_extra += memo.refresh_ticks

    # ---- counters for the engine's operator replay (every statistic the report shows)
    def counters(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: int(getattr(self, name)) for name in self.counter_names}
        chst = self.state["chst"].copy()
        chst[:, list(_NOT_REPLAYED)] = 0
        out.update({"chst": chst, "_lat_hist": self._lat_hist.copy(), "_lat_sum": self._lat_sum,
                    "_reads": self._reads, "_extrapolated": self._extrapolated,
                    "_refresh_ticks_extra": self._refresh_ticks_extra,
                    "_bound_ticks": self._bound_ticks, "_pattern_ticks": self._pattern_ticks,
                    "_pattern_total": self._pattern_total})
        return out

    def add_counters(self, delta: dict[str, Any]) -> None:
        for name, value in delta.items():
            if name == "chst":
                self.state["chst"] += value
            else:
                setattr(self, name, getattr(self, name) + value)

    def pattern_stats(self) -> dict[str, Any]:
        """Window / memo figures for the report (merged into ``stats()``)."""
        return {"pattern_transfers_simulated": self._pattern_exact,
                "pattern_kernel_requests": self._kernel_requests,   # accesses through the kernel
                # replayed from the pattern memo, or with their operator (engine shape reuse)
                "pattern_transfers_replayed": self._pattern_total - self._pattern_exact,
                "extrapolation_error_bound_frac": self._bound_ticks / self._pattern_ticks
                if self._pattern_ticks else 0.0}

    def stats(self) -> dict[str, Any]:
        out = super().stats()
        if hasattr(self, "_pattern_memo"):
            out.update(self.pattern_stats())
        return out


def _instants(next_ref: np.ndarray, refi: int, t0: int, t1: int) -> np.ndarray:
    """Per channel: refresh instants ``next_ref + m * refi`` (any integer m) in ``(t0, t1]``."""
    return np.maximum((t1 - next_ref) // refi - (t0 - next_ref) // refi, 0)


_STREAM_RATES: dict[tuple, tuple[float, float]] = {}


def stream_rates(spec, write: bool) -> tuple[float, float]:
    """(accesses per tick of a long sequential transfer without refresh, its rate with refresh /
    without): idle device, whole tREFI windows after the first quarter, at least four mapping
    periods long (a stream's rate cycles with the banks it walks: RoBaRaCoCh on HBM2 x 8 repeats
    every 16384 accesses). Measured once per (organization, timings, mapping, direction)."""
    from .hbm import run_batch

    key = (tuple(spec.kernel_params()), tuple(sorted(spec.cycles.items())), spec.mapping,
           spec.rows, spec.columns, write)
    if key not in _STREAM_RATES:
        refi = spec.refresh_period_cycles
        period = spec.accesses_per_row * spec.banks_per_channel * spec.channels
        n = max(int(spec.channels * spec.pseudo_channels / spec.cycles["tBL"] * refi * 2.5),
                4 * period) + 4096
        rates = []
        for refresh in (True, False):
            state = spec.new_state()
            if not refresh:
                state["next_ref"][:] = 1 << 60
            res = run_batch(spec, state, np.arange(n, dtype=np.int64), np.full(n, write))
            done = np.sort(res.done)
            t0 = int(done[n // 4])
            k = max(1, (int(done[-1]) - t0) // refi)
            count = int(np.searchsorted(done, t0 + k * refi, side="right")) - (n // 4 + 1)
            rates.append(max(count, 1) / (k * refi))
        _STREAM_RATES[key] = (rates[1], min(1.0, rates[0] / rates[1]))
    return _STREAM_RATES[key]
