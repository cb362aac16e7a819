"""Files of a serving run: ``requests.csv``, ``iterations.csv``, ``summary.json``, plots, and on
request the operator trace of the iterations it ran (``--dump-trace``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

FILES = ("requests.csv", "iterations.csv", "summary.json", "latency_cdf.png", "over_time.png")


def requests_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The per-request table as written: seconds and milliseconds, no picoseconds."""
    out = pd.DataFrame({"req_id": df["req_id"], "replica": df["replica"],
                        "arrival_s": df["arrival_ps"] / 1e12,
                        "input_tokens": df["input_tokens"], "output_tokens": df["output_tokens"],
                        "status": df["status"], "ttft_ms": df["ttft_ms"],
                        "tpot_ms": df["tpot_ms"], "e2e_ms": df["e2e_ms"],
                        "queue_ms": df["queue_ms"], "preemptions": df["preemptions"]})
    if "kv_transfer_ms" in df:
        out["kv_transfer_ms"] = df["kv_transfer_ms"]
    out["reason"] = df["reason"]
    return out


def iterations_frame(it: pd.DataFrame, kv_blocks: dict[str, int]) -> pd.DataFrame:
    out = it.drop(columns=["t_start_ps", "duration_ps"]).copy()
    out.insert(2, "t_start_s", it["t_start_ps"] / 1e12)
    out.insert(3, "duration_ms", it["duration_ps"] / 1e9)
    out["kv_occupancy"] = it["kv_blocks_used"] / it["pool"].map(kv_blocks)
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def summary_json(summary: dict[str, Any]) -> str:
    return json.dumps(_clean(summary), indent=2, sort_keys=True) + "\n"


def save(result, out_dir: str | Path, *, plots: bool = True) -> list[Path]:
    """Write the run's files into ``out_dir`` (each atomically); return their paths."""
    from ..io import atomic_write_text
    from .plots import write_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kv_blocks = {p["name"]: p["kv_blocks"] for p in result.summary["pools"]}
    paths = [atomic_write_text(out / "requests.csv",
                               requests_frame(result.requests).to_csv(index=False)),
             atomic_write_text(out / "iterations.csv",
                               iterations_frame(result.iterations, kv_blocks).to_csv(index=False)),
             atomic_write_text(out / "summary.json", summary_json(result.summary))]
    if plots:
        paths += write_plots(result.requests, result.iterations, kv_blocks, out)
    return paths


def dump_trace(result, model, path: str | Path, *, tp: dict[str, int]) -> list[tuple[Path, int]]:
    """Write the operator trace of every recorded iteration (one ``iter`` each, in the order the
    replicas ran them) to ``path`` (one file per pool when there are two: ``NAME_<pool>.csv``).
    Returns ``(path, rows)`` per file."""
    from ..io import atomic_write_text
    from ..workload.iteration import iteration_phase
    from ..workload.layers import Builder, emit_forward, model_meta
    from ..workload.models import ModelConfig, load_model
    from ..workload.serving import _stream_ops
    from ..workload.trace import SCHEMA_VERSION, sidecar_path

    cfg = model if isinstance(model, ModelConfig) else load_model(model)
    path = Path(path)
    if path.suffix != ".csv":
        path = path.with_name(path.name + ".csv")
    dt = {"act": "bf16", "weight": "bf16", "kv": "bf16"}
    written = []
    for pool, recorded in result.recorded.items():
        target = path if len(result.recorded) == 1 else path.with_name(
            f"{path.stem}_{pool}.csv")
        items = [(i, replica, seqs) for i, (replica, seqs) in enumerate(recorded)]

        def emit(item, b: Builder) -> None:
            index, _replica, seqs = item
            b.phase, b.iter = iteration_phase(seqs), index
            emit_forward(b, cfg, seqs, tp=tp[pool])

        totals = _stream_ops(target, items, emit, dt)
        meta = {"name": f"{cfg.name}_serve_{pool}", "model": model_meta(cfg), "phase": "serving",
                "parallelism": {"tp": tp[pool]}, "dtypes": dt,
                "iterations": {"recorded": len(items),
                               "replica_of_iter": [r for _, r, _ in items]},
                "generator": "accelsim.serve v1", "units": {"flops": "FLOP", "bytes": "B"}}
        atomic_write_text(sidecar_path(target), json.dumps(
            {"schema_version": SCHEMA_VERSION, **meta}, indent=2, sort_keys=True) + "\n")
        written.append((target, totals["rows"]))
    return written
