"""Chrome / Perfetto trace-event JSON from a simulation's timeline.

One process ("accelsim"), one thread (track) per unit — ``systolic``, ``vector``, ``dma``,
``link`` — and per memory track the memory model reports (e.g. ``memory``, or one per HBM
channel). A memory model's ``memory bandwidth`` slices (``hbm``) become a counter track of
read and write GB/s. On a unit's track each operator is a complete (``"X"``) slice, its
tiles' compute slices nested inside it; memory tracks carry occupancy slices. Timestamps are
microseconds (the format's unit) with picosecond resolution. Open the file at
https://ui.perfetto.dev or chrome://tracing.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..engine.core import UNITS, Timeline

PID = 1


def _track_order(track: str) -> tuple:
    return (UNITS.index(track), "") if track in UNITS else (len(UNITS), track)


def bandwidth_counter(slices: list[tuple]) -> list[tuple[int, float, float]]:
    """``(time_ps, read GB/s, write GB/s)`` steps from transfer slices ``(track, "read"/"write",
    start_ps, end_ps, {"bytes": n})``: each transfer moves its bytes evenly over its duration and
    overlapping transfers add up."""
    changes: dict[int, list[float]] = {}
    for _, name, start, end, args in slices:
        if end <= start:
            continue
        rate = args["bytes"] * 1000.0 / (end - start)          # bytes/ps -> GB/s (bytes/ns)
        col = 1 if name == "write" else 0
        changes.setdefault(start, [0.0, 0.0])[col] += rate
        changes.setdefault(end, [0.0, 0.0])[col] -= rate
    out, read, write = [], 0.0, 0.0
    for t in sorted(changes):
        read, write = read + changes[t][0], write + changes[t][1]
        out.append((t, max(read, 0.0) if abs(read) > 1e-6 else 0.0,
                    max(write, 0.0) if abs(write) > 1e-6 else 0.0))
    return out


def trace_events(timeline: Timeline, *, title: str = "accelsim") -> dict[str, Any]:
    """The trace-event document as a dict (``{"traceEvents": [...], ...}``)."""
    from ..hw.memory import BANDWIDTH_TRACK

    counter = [e for e in timeline.events if e[0] == BANDWIDTH_TRACK]
    tracks = sorted({e[0] for e in timeline.events if e[0] != BANDWIDTH_TRACK}, key=_track_order)
    tid = {track: i + 1 for i, track in enumerate(tracks)}
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": PID, "tid": 0, "name": "process_name", "args": {"name": title}}]
    for track in tracks:
        events.append({"ph": "M", "pid": PID, "tid": tid[track], "name": "thread_name",
                       "args": {"name": track}})
        events.append({"ph": "M", "pid": PID, "tid": tid[track], "name": "thread_sort_index",
                       "args": {"sort_index": tid[track]}})
    # Parents before children at equal start: longer slices first (stable, deterministic).
    for t, read, write in bandwidth_counter(counter):
        events.append({"ph": "C", "pid": PID, "name": "memory bandwidth (GB/s)", "ts": t / 1e6,
                       "args": {"read": round(read, 3), "write": round(write, 3)}})
    for track, name, start, end, args in sorted(
            (e for e in timeline.events if e[0] != BANDWIDTH_TRACK),
            key=lambda e: (tid[e[0]], e[2], -(e[3] - e[2]))):
        event = {"ph": "X", "pid": PID, "tid": tid[track], "name": name,
                 "ts": start / 1e6, "dur": (end - start) / 1e6}
        if args:
            event["args"] = args
        events.append(event)
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"generator": "accelsim", "time_unit": "us",
                          "sampled": timeline.sampled,
                          "note": ("tile and memory slices were dropped after the event limit; "
                                   "operator slices are complete") if timeline.sampled else ""}}


def write_timeline(timeline: Timeline, path: str | os.PathLike, *, title: str = "accelsim") -> None:
    """Write the trace-event JSON atomically."""
    from ..io import atomic_write_text

    atomic_write_text(path, json.dumps(trace_events(timeline, title=title),
                                       separators=(",", ":")) + "\n")
