"""Chrome / Perfetto trace-event JSON from a simulation's timeline.

One process ("accelsim"), one thread (track) per unit — ``systolic``, ``vector``, ``dma``,
``link`` — and per memory track the memory model reports (e.g. ``memory``, or one per HBM
channel). On a unit's track each operator is a complete (``"X"``) slice, its tiles' compute
slices nested inside it; memory tracks carry occupancy slices. Timestamps are microseconds (the
format's unit) with picosecond resolution. Open the file at https://ui.perfetto.dev or
chrome://tracing.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..engine.core import UNITS, Timeline

PID = 1


def _track_order(track: str) -> tuple:
    return (UNITS.index(track), "") if track in UNITS else (len(UNITS), track)


def trace_events(timeline: Timeline, *, title: str = "accelsim") -> dict[str, Any]:
    """The trace-event document as a dict (``{"traceEvents": [...], ...}``)."""
    tracks = sorted({e[0] for e in timeline.events}, key=_track_order)
    tid = {track: i + 1 for i, track in enumerate(tracks)}
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": PID, "tid": 0, "name": "process_name", "args": {"name": title}}]
    for track in tracks:
        events.append({"ph": "M", "pid": PID, "tid": tid[track], "name": "thread_name",
                       "args": {"name": track}})
        events.append({"ph": "M", "pid": PID, "tid": tid[track], "name": "thread_sort_index",
                       "args": {"sort_index": tid[track]}})
    # Parents before children at equal start: longer slices first (stable, deterministic).
    for track, name, start, end, args in sorted(
            timeline.events, key=lambda e: (tid[e[0]], e[2], -(e[3] - e[2]))):
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
