"""Request traces: who arrives when, with how many prompt and output tokens.

A request trace is a CSV (``req_id, arrival_ns, input_tokens, output_tokens`` plus the optional
``cached_tokens``, ``session_id``, ``pim_channel``) with a ``.meta.json`` sidecar (source dataset,
arrival process, rate, seed). ``load_requests`` validates it and names file, row (1 = first data
row) and column of the first problem; it also reads, by their headers, the Azure LLM inference
trace (``TIMESTAMP, ContextTokens, GeneratedTokens``), NeuPIMs' request traces (``seq_len,
ch_idx``: a decode batch snapshot) and Vidur's (``arrived_at, num_prefill_tokens,
num_decode_tokens``).

``synthesize_requests`` draws a trace from a dataset preset (``traces/datasets/
request_datasets.yaml``: log-normal lengths) and an arrival process (``poisson``; ``gamma`` with a
coefficient of variation ``cv``; ``onoff``: Poisson bursts in exponentially distributed ON periods
separated by silent OFF periods). The same seed gives the same trace; arrivals and lengths use
separate random streams, so changing the arrival process keeps the lengths.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, TraceError, did_you_mean, unknown_name

REQUIRED = ("req_id", "arrival_ns", "input_tokens", "output_tokens")
OPTIONAL: dict[str, Any] = {"cached_tokens": 0, "session_id": "", "pim_channel": -1}
COLUMNS = (*REQUIRED, *OPTIONAL)
ARRIVALS = ("poisson", "gamma", "onoff")
FORMATS = ("accelsim", "azure", "neupims", "vidur")
_Z90 = 1.2815515655446004        # standard normal 90th percentile
_MAX_INT = 1 << 62


def datasets_file() -> Path:
    from ..paths import data_root

    return data_root() / "traces" / "datasets" / "request_datasets.yaml"


@dataclass
class RequestTrace:
    """Requests (DataFrame with ``COLUMNS``, sorted by arrival then req_id) and the sidecar."""

    requests: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def __len__(self) -> int:
        return len(self.requests)

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` (CSV) and its ``.meta.json`` sidecar, both atomically."""
        from ..io import atomic_write_text
        from .trace import sidecar_path

        path = Path(path)
        if path.suffix != ".csv":
            path = path.with_name(path.name + ".csv")
        atomic_write_text(path, self.requests.loc[:, list(COLUMNS)].to_csv(index=False))
        atomic_write_text(sidecar_path(path), json.dumps(
            {"schema_version": 1, **self.meta}, indent=2, sort_keys=True) + "\n")
        return path

    def summary(self) -> dict[str, float]:
        r = self.requests
        span_s = (r.arrival_ns.max() - r.arrival_ns.min()) / 1e9 if len(r) > 1 else 0.0
        return {"requests": len(r), "span_s": float(span_s),
                "rate_rps": float((len(r) - 1) / span_s) if span_s > 0 else 0.0,
                "input_mean": float(r.input_tokens.mean()),
                "output_mean": float(r.output_tokens.mean())}


# ------------------------------------------------------------------------------ validation

def _ints(frame: pd.DataFrame, column: str, file: str, *, minimum: int) -> pd.Series:
    text = frame[column].astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers) | (numbers != np.floor(numbers)) | (
        numbers.abs() > _MAX_INT)
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        given = frame[column].iloc[i]
        what = "an empty cell" if str(given).strip() == "" else repr(given)
        raise TraceError(f"expected an integer >= {minimum}, got {what}", file=file, row=i + 1,
                         column=column)
    values = numbers.astype(np.int64)
    low = values < minimum
    if low.any():
        i = int(np.argmax(low.to_numpy()))
        raise TraceError(f"expected an integer >= {minimum}, got {values.iloc[i]}", file=file,
                         row=i + 1, column=column)
    return values


def validate_requests(frame: pd.DataFrame, *, file: str) -> pd.DataFrame:
    """Check a raw request table (strings or numbers); return it typed, sorted by arrival."""
    frame = frame.copy().reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        extra = [c for c in frame.columns if c not in COLUMNS]
        close = difflib.get_close_matches(missing[0], extra, n=1)
        hint = f" (is column {close[0]!r} meant to be {missing[0]!r}?)" if close else ""
        raise TraceError(f"missing required column(s) {', '.join(missing)}{hint}; expected "
                         f"{', '.join(REQUIRED)}", file=file)
    unknown = [c for c in frame.columns if c not in COLUMNS]
    if unknown:
        raise TraceError(f"unknown column{did_you_mean(unknown[0], COLUMNS)}; expected columns "
                         f"from: {', '.join(COLUMNS)}", file=file, column=unknown[0])
    if len(frame) == 0:
        raise TraceError("request trace has no rows", file=file)
    for column, default in OPTIONAL.items():
        if column not in frame.columns:
            frame[column] = default
        elif column != "session_id":
            frame[column] = frame[column].astype(str).str.strip().replace("", str(default))
    frame["req_id"] = _ints(frame, "req_id", file, minimum=0)
    frame["arrival_ns"] = _ints(frame, "arrival_ns", file, minimum=0)
    frame["input_tokens"] = _ints(frame, "input_tokens", file, minimum=1)
    frame["output_tokens"] = _ints(frame, "output_tokens", file, minimum=1)
    frame["cached_tokens"] = _ints(frame, "cached_tokens", file, minimum=0)
    frame["pim_channel"] = _ints(frame, "pim_channel", file, minimum=-1)
    frame["session_id"] = frame["session_id"].fillna("").astype(str).str.strip()
    dup = frame["req_id"].duplicated()
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        raise TraceError(f"duplicate req_id {frame.req_id.iloc[i]}", file=file, row=i + 1,
                         column="req_id")
    over = frame["cached_tokens"] >= frame["input_tokens"]
    if over.any():
        i = int(np.argmax(over.to_numpy()))
        raise TraceError(f"cached_tokens ({frame.cached_tokens.iloc[i]}) must be below "
                         f"input_tokens ({frame.input_tokens.iloc[i]})", file=file, row=i + 1,
                         column="cached_tokens")
    frame = frame.sort_values(["arrival_ns", "req_id"], kind="stable").reset_index(drop=True)
    return frame.loc[:, list(COLUMNS)]


def _read_csv(path: Path) -> pd.DataFrame:
    from .trace import read_csv_table

    return read_csv_table(path, "one row per request")


def detect_format(columns) -> str | None:
    cols = {str(c).strip() for c in columns}
    if "req_id" in cols or "arrival_ns" in cols:
        return "accelsim"
    if {"TIMESTAMP", "ContextTokens", "GeneratedTokens"} <= cols:
        return "azure"
    if "seq_len" in cols:
        return "neupims"
    if {"arrived_at", "num_prefill_tokens", "num_decode_tokens"} <= cols:
        return "vidur"
    return None


def load_requests(path: str | os.PathLike, *, fmt: str = "auto",
                  output_tokens: int = 1) -> RequestTrace:
    """Load a request trace: ours, or an Azure / NeuPIMs / Vidur CSV (``fmt="auto"``: by header).

    Args:
        path: the CSV.
        fmt: ``auto``, ``accelsim``, ``azure``, ``neupims`` or ``vidur``.
        output_tokens: NeuPIMs traces carry no output length; every request gets this many.

    Example:
        >>> t = load_requests("traces/llama3-8b_sharegpt_rate5_60s/requests.csv")
        >>> list(t.requests.columns[:4])
        ['req_id', 'arrival_ns', 'input_tokens', 'output_tokens']
    """
    path = Path(path)
    frame = _read_csv(path)
    file = str(path)
    if fmt == "auto":
        fmt = detect_format(frame.columns) or "accelsim"
    if fmt not in FORMATS:
        raise unknown_name("request trace format", fmt, FORMATS)
    if fmt == "accelsim":
        from .trace import read_sidecar

        meta: dict[str, Any] = read_sidecar(path)
        meta.pop("schema_version", None)
        return RequestTrace(validate_requests(frame, file=file), meta, file)
    importer = {"azure": _from_azure, "neupims": _from_neupims, "vidur": _from_vidur}[fmt]
    table, meta = importer(frame, file, output_tokens)
    meta = {"source": {"format": fmt, "file": path.name}, **meta}
    return RequestTrace(validate_requests(table, file=file), meta, file)


def _need(frame: pd.DataFrame, columns: tuple[str, ...], fmt: str, file: str) -> None:
    cols = [str(c).strip() for c in frame.columns]
    missing = [c for c in columns if c not in cols]
    if missing:
        raise TraceError(f"{fmt} request trace: missing column(s) {', '.join(missing)}"
                         f"{did_you_mean(missing[0], cols)}; expected {', '.join(columns)}",
                         file=file)
    if len(frame) == 0:
        raise TraceError(f"{fmt} request trace has no rows", file=file)
    frame.columns = cols


def _drop_empty(table: pd.DataFrame, keep: np.ndarray) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Requests with no prompt or no output token are not servable requests: dropped, counted."""
    dropped = int((~keep).sum())
    table = table[keep].reset_index(drop=True)
    return table, ({"dropped_zero_token_rows": dropped} if dropped else {})


def _from_azure(frame: pd.DataFrame, file: str, _out: int) -> tuple[pd.DataFrame, dict]:
    _need(frame, ("TIMESTAMP", "ContextTokens", "GeneratedTokens"), "Azure", file)
    stamps = pd.to_datetime(frame["TIMESTAMP"].str.strip(), errors="coerce", format="mixed")
    bad = stamps.isna()
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise TraceError(f"expected a timestamp like 2023-11-16 18:15:46.6805900, got "
                         f"{frame['TIMESTAMP'].iloc[i]!r}", file=file, row=i + 1,
                         column="TIMESTAMP")
    ctx = _ints(frame, "ContextTokens", file, minimum=0)
    gen = _ints(frame, "GeneratedTokens", file, minimum=0)
    arrival = (stamps - stamps.min()).dt.total_seconds() * 1e9
    table = pd.DataFrame({"req_id": np.arange(len(frame)), "arrival_ns": np.rint(arrival),
                          "input_tokens": ctx, "output_tokens": gen}).astype(np.int64)
    table, meta = _drop_empty(table, ((ctx > 0) & (gen > 0)).to_numpy())
    meta["t0"] = str(stamps.min())
    return table, meta


def _from_neupims(frame: pd.DataFrame, file: str, out: int) -> tuple[pd.DataFrame, dict]:
    """NeuPIMs ``seq_len, ch_idx``: a decode batch snapshot (all arrive at 0; ``input_tokens`` =
    the KV length ``seq_len``; ``pim_channel`` = ``ch_idx``)."""
    _need(frame, ("seq_len",), "NeuPIMs", file)
    seq = _ints(frame, "seq_len", file, minimum=1)
    ch = _ints(frame, "ch_idx", file, minimum=0) if "ch_idx" in frame.columns else -1
    table = pd.DataFrame({"req_id": np.arange(len(frame)), "arrival_ns": 0, "input_tokens": seq,
                          "output_tokens": int(out), "pim_channel": ch})
    return table, {"note": "NeuPIMs batch snapshot: input_tokens = decode-time KV length"}


def _from_vidur(frame: pd.DataFrame, file: str, _out: int) -> tuple[pd.DataFrame, dict]:
    _need(frame, ("arrived_at", "num_prefill_tokens", "num_decode_tokens"), "Vidur", file)
    at = pd.to_numeric(frame["arrived_at"].str.strip(), errors="coerce")
    bad = at.isna() | (at < 0)
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise TraceError(f"expected seconds >= 0, got {frame['arrived_at'].iloc[i]!r}",
                         file=file, row=i + 1, column="arrived_at")
    pre = _ints(frame, "num_prefill_tokens", file, minimum=0)
    dec = _ints(frame, "num_decode_tokens", file, minimum=0)
    table = pd.DataFrame({"req_id": np.arange(len(frame)), "arrival_ns": np.rint(at * 1e9),
                          "input_tokens": pre, "output_tokens": dec}).astype(np.int64)
    return _drop_empty(table, ((pre > 0) & (dec > 0)).to_numpy())


# ------------------------------------------------------------------------------ synthesis

@dataclass(frozen=True)
class LengthDist:
    """Log-normal token count, rounded and clipped to ``[1, max]``."""

    mu: float
    sigma: float
    max: int

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        x = rng.lognormal(self.mu, self.sigma, size=n) if self.sigma > 0 else np.full(
            n, math.exp(self.mu))
        return np.clip(np.rint(x), 1, self.max).astype(np.int64)


@dataclass(frozen=True)
class DatasetPreset:
    name: str
    description: str
    source: str
    tokenizer: str
    input: LengthDist
    output: LengthDist
    arrival_rate_rps: float | None = None
    interarrival_cv: float | None = None


def dataset_names() -> list[str]:
    from ..arch.config import _read_yaml

    raw = _read_yaml(datasets_file())
    return sorted(raw) if isinstance(raw, dict) else []


def load_dataset(name: str) -> DatasetPreset:
    """A preset of ``traces/datasets/request_datasets.yaml`` (``sharegpt``, ``alpaca``, ...)."""
    from ..arch.config import _read_yaml
    from ..arch.fields import Section

    file = str(datasets_file())
    raw = _read_yaml(Path(file))
    top = Section(raw, file=file)
    key = name.lower().replace("_", "-")
    if not isinstance(raw, dict) or key not in raw:
        raise unknown_name("dataset", name, list(raw or {}))
    s = top.section(key)

    def dist(which: str) -> LengthDist:
        d = s.section(which)
        top_tokens = d.int("max", minimum=1, maximum=1 << 24)
        if d.has("median"):
            median = d.float("median", minimum=1.0)
            p90 = d.float("p90", minimum=median)
            mu, sigma = math.log(median), math.log(p90 / median) / _Z90
        else:
            mean = d.float("mean", minimum=1.0)
            sigma = d.float("sigma", minimum=0.0, maximum=5.0)
            mu = math.log(mean) - sigma * sigma / 2
        d.done()
        return LengthDist(mu, sigma, top_tokens)

    preset = DatasetPreset(
        name=key, description=s.str("description", default=""), source=s.str("source"),
        tokenizer=s.str("tokenizer", default="unknown"), input=dist("input"),
        output=dist("output"),
        arrival_rate_rps=(s.float("arrival_rate_rps", minimum=0.0)
                          if s.has("arrival_rate_rps") else None),
        interarrival_cv=(s.float("interarrival_cv", minimum=0.0)
                         if s.has("interarrival_cv") else None))
    s.done()
    return preset


def arrival_times_s(rng: np.random.Generator, *, rate: float, duration_s: float | None = None,
                    num_requests: int | None = None, arrival: str = "poisson", cv: float = 2.0,
                    on_s: float = 1.0, off_s: float = 1.0) -> np.ndarray:
    """Arrival times in seconds (first at the first gap after 0), mean rate ``rate``."""
    if arrival not in ARRIVALS:
        raise unknown_name("arrival process", arrival, ARRIVALS, key="arrival")
    limit = num_requests if num_requests is not None else None
    out: list[np.ndarray] = []
    t = 0.0
    count = 0
    chunk = max(64, int((duration_s or 0) * rate * 1.2) + 16) if limit is None else limit
    on_rate = rate * (on_s + off_s) / on_s
    phase_end, on = (rng.exponential(on_s), True) if arrival == "onoff" else (math.inf, True)
    while True:
        if arrival == "poisson":
            gaps = rng.exponential(1.0 / rate, size=chunk)
        elif arrival == "gamma":
            k = 1.0 / (cv * cv)
            gaps = rng.gamma(k, 1.0 / (rate * k), size=chunk)
        else:                    # onoff: walk the ON/OFF periods, Poisson inside ON periods
            gaps = np.empty(chunk)
            now = t
            for i in range(chunk):
                nxt = now + rng.exponential(1.0 / on_rate)
                while nxt > phase_end:     # the ON period ends first: skip the OFF period
                    nxt = phase_end + rng.exponential(off_s)
                    phase_end = nxt + rng.exponential(on_s)
                    nxt += rng.exponential(1.0 / on_rate)
                gaps[i], now = nxt - now, nxt
        times = t + np.cumsum(gaps)
        t = float(times[-1])
        if limit is not None:
            take = times[: limit - count]
        else:
            take = times[times < duration_s]
        out.append(take)
        count += len(take)
        if (limit is not None and count >= limit) or (limit is None and t >= duration_s):
            return np.concatenate(out)


def synthesize_requests(dataset: str | DatasetPreset = "sharegpt", *, rate: float = 5.0,
                        duration_s: float | None = 60.0, num_requests: int | None = None,
                        arrival: str = "poisson", cv: float = 2.0, on_s: float = 1.0,
                        off_s: float = 1.0, seed: int = 0,
                        max_total_tokens: int | None = None) -> RequestTrace:
    """Draw a request trace from a dataset preset and an arrival process.

    Args:
        dataset: a preset name (``dataset_names()``) or a ``DatasetPreset``.
        rate: mean arrival rate in requests per second.
        duration_s: arrivals in ``[0, duration_s)`` (ignored when ``num_requests`` is given).
        num_requests: draw exactly this many requests instead.
        arrival: ``poisson``, ``gamma`` (inter-arrival coefficient of variation ``cv``) or
            ``onoff`` (mean ON / OFF period lengths ``on_s`` / ``off_s``, same mean rate).
        seed: the one seed; the same arguments give the same trace.
        max_total_tokens: clip so that ``input + output`` fits (e.g. the model's ``max_ctx``).

    Example:
        >>> a = synthesize_requests("sharegpt", rate=5, duration_s=10, seed=1)
        >>> b = synthesize_requests("sharegpt", rate=5, duration_s=10, seed=1)
        >>> a.requests.equals(b.requests), len(a) > 0
        (True, True)
    """
    preset = dataset if isinstance(dataset, DatasetPreset) else load_dataset(dataset)
    for name, value in (("rate", rate), ("cv", cv), ("on_s", on_s), ("off_s", off_s)):
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                and 0 < value < 1e12 and math.isfinite(value)):
            raise ConfigError(f"expected a positive number below 1e12, got {value!r:.40}",
                              key=name)
    if num_requests is None:
        if duration_s is None or not duration_s > 0:
            raise ConfigError(f"expected a positive duration, got {duration_s!r}",
                              key="duration_s")
    elif isinstance(num_requests, bool) or not isinstance(num_requests, int) or num_requests < 1:
        raise ConfigError(f"expected a positive integer, got {num_requests!r}",
                          key="num_requests")
    if max_total_tokens is not None and max_total_tokens < 2:
        raise ConfigError(f"expected at least 2, got {max_total_tokens}", key="max_total_tokens")
    arrivals_rng, lengths_rng = (np.random.default_rng(s)
                                 for s in np.random.SeedSequence(seed).spawn(2))
    times = arrival_times_s(arrivals_rng, rate=rate, duration_s=duration_s,
                            num_requests=num_requests, arrival=arrival, cv=cv, on_s=on_s,
                            off_s=off_s)
    n = len(times)
    inp = preset.input.draw(lengths_rng, n)
    out = preset.output.draw(lengths_rng, n)
    if max_total_tokens is not None:
        inp = np.minimum(inp, max_total_tokens - 1)
        out = np.minimum(out, max_total_tokens - inp)
    table = pd.DataFrame({"req_id": np.arange(n, dtype=np.int64),
                          "arrival_ns": np.rint(times * 1e9).astype(np.int64),
                          "input_tokens": inp, "output_tokens": out})
    if n == 0:
        raise ConfigError(f"no request arrives within {duration_s} s at {rate} req/s; "
                          "raise the rate or the duration", key="duration_s")
    process: dict[str, Any] = {"process": arrival, "rate_rps": rate}
    if arrival == "gamma":
        process["cv"] = cv
    elif arrival == "onoff":
        process.update(on_s=on_s, off_s=off_s)
    meta = {"name": f"{preset.name}_rate{rate:g}_" + (f"{duration_s:g}s" if num_requests is None
                                                      else f"n{num_requests}"),
            "dataset": {"name": preset.name, "description": preset.description,
                        "source": preset.source, "tokenizer": preset.tokenizer},
            "arrival": process, "seed": seed,
            **({"duration_s": duration_s} if num_requests is None else {}),
            **({"max_total_tokens": max_total_tokens} if max_total_tokens else {}),
            "generator": "accelsim.workload.requests v1", "units": {"time": "ns"}}
    return RequestTrace(validate_requests(table, file="<synthesized>"), meta)
