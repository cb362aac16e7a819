"""Per-request latencies, their percentiles, throughput and goodput under SLOs.

Per request (ms): ``ttft`` (arrival to first token), ``tpot`` (mean time per output token after
the first: ``(finish - first token) / (output - 1)``; empty for one-token outputs), ``e2e``
(arrival to last token), ``queue`` (arrival to first scheduled). Aggregates use the requests
that finished. Throughput and goodput divide by the makespan (time 0 to the last event).
Goodput counts finished requests within every SLO given (DistServe's definition).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..errors import ConfigError

SLO_KEYS = ("ttft_ms", "tpot_ms", "e2e_ms")
PERCENTILES = (50, 90, 99)


def parse_slo(text: str | dict | None) -> dict[str, float]:
    """``"ttft_ms=200,tpot_ms=50"`` (or a dict) -> ``{"ttft_ms": 200.0, "tpot_ms": 50.0}``.

    Example:
        >>> parse_slo("ttft_ms=200,tpot_ms=50")
        {'ttft_ms': 200.0, 'tpot_ms': 50.0}
    """
    if text is None or text == "":
        return {}
    if isinstance(text, dict):
        items: Iterable = text.items()
    else:
        items = []
        for part in str(text).split(","):
            if "=" not in part:
                raise ConfigError(f"expected KEY=VALUE pairs separated by commas (keys: "
                                  f"{', '.join(SLO_KEYS)}), got {part.strip()!r}", key="slo")
            k, v = part.split("=", 1)
            items.append((k.strip(), v.strip()))
    out: dict[str, float] = {}
    for k, v in items:
        if k not in SLO_KEYS:
            from ..errors import did_you_mean

            raise ConfigError(f"unknown SLO key {k!r}{did_you_mean(k, SLO_KEYS)}; expected "
                              f"{', '.join(SLO_KEYS)}", key="slo")
        try:
            value = float(v)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"expected a positive number of milliseconds, got {v!r}",
                              key=f"slo.{k}")
        out[k] = value
    return out


def request_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Per-request frame (one dict per request, ps timestamps) with the ms metrics added."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    ms = 1e-9
    done = df["finish_ps"] >= 0
    df["ttft_ms"] = np.where(df["first_token_ps"] >= 0,
                             (df["first_token_ps"] - df["arrival_ps"]) * ms, np.nan)
    df["e2e_ms"] = np.where(done, (df["finish_ps"] - df["arrival_ps"]) * ms, np.nan)
    df["tpot_ms"] = np.where(done & (df["output_tokens"] > 1),
                             (df["finish_ps"] - df["first_token_ps"]) * ms
                             / np.maximum(df["output_tokens"] - 1, 1), np.nan)
    df["queue_ms"] = np.where(df["first_scheduled_ps"] >= 0,
                              (df["first_scheduled_ps"] - df["arrival_ps"]) * ms, np.nan)
    return df


def _pcts(values: pd.Series) -> dict[str, float | None]:
    v = values.dropna().to_numpy()
    if not len(v):
        return {f"p{p}": None for p in PERCENTILES} | {"mean": None}
    return {**{f"p{p}": float(np.percentile(v, p)) for p in PERCENTILES}, "mean": float(v.mean())}


def meets_slo(df: pd.DataFrame, slo: dict[str, float]) -> pd.Series:
    """Finished requests within every SLO (a one-token output has no TPOT: it passes that one)."""
    ok = df["status"] == "finished"
    for key, limit in slo.items():
        within = df[key] <= limit
        if key == "tpot_ms":
            within |= df[key].isna()
        ok &= within
    return ok


def summarize(df: pd.DataFrame, *, makespan_ps: int, slo: dict[str, float],
              preemptions: int) -> dict[str, Any]:
    fin = df[df["status"] == "finished"]
    span_s = makespan_ps / 1e12
    out_tokens = int(fin["output_tokens"].sum())
    good = int(meets_slo(df, slo).sum()) if slo else len(fin)
    return {
        "requests": len(df), "requests_finished": len(fin),
        "requests_rejected": int((df["status"] == "rejected").sum()),
        "requests_unfinished": int((df["status"] == "unfinished").sum()),
        "ttft_ms": _pcts(fin["ttft_ms"]), "tpot_ms": _pcts(fin["tpot_ms"]),
        "e2e_ms": _pcts(fin["e2e_ms"]), "queue_ms": _pcts(fin["queue_ms"]),
        "makespan_s": span_s,
        "throughput_tokens_per_s": out_tokens / span_s if span_s > 0 else 0.0,
        "throughput_requests_per_s": len(fin) / span_s if span_s > 0 else 0.0,
        "total_tokens_per_s": (out_tokens + int(fin["input_tokens"].sum())) / span_s
        if span_s > 0 else 0.0,
        "output_tokens": out_tokens,
        "slo": dict(slo), "slo_attainment": good / len(df) if len(df) else 0.0,
        "goodput_requests_per_s": good / span_s if span_s > 0 else 0.0,
        "preemptions": int(preemptions),
    }
