"""The operator trace: one row per operator, as CSV with a JSON sidecar (``docs/trace_format.md``).

``OpTrace`` holds the rows as a pandas DataFrame (``.ops``) and the sidecar as a dict (``.meta``).
``load_trace`` validates every column and value and names the file, row and column of the first
problem; ``OpTrace.save`` writes both files atomically.

Shapes: a matrix op computes ``batch`` independent instances of ``out[M,N] = A[M,K] . B[K,N]``
(``B`` is the weight for ``gemm``/``gemv``, the K or V cache for ``attention_*``). Bytes are the
canonical traffic of each operand from its home memory, split by tensor class.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..arch.dtypes import DTYPES
from ..errors import TraceError, did_you_mean
from ..io import input_problem

SCHEMA_VERSION = 1

#: op_class -> the unit that runs it by default.
OP_CLASSES: dict[str, str] = {
    "gemm": "systolic", "gemv": "systolic",
    "attention_score": "systolic", "attention_context": "systolic", "attention": "systolic",
    "softmax": "vector", "norm": "vector", "elementwise": "vector", "activation": "vector",
    "rope": "vector",
    "embedding": "dma", "kv_append": "dma",
    "allreduce": "link", "allgather": "link", "all2all": "link", "send": "link", "recv": "link",
}
MATMUL_CLASSES = ("gemm", "gemv", "attention_score", "attention_context")
PHASES = ("prefill", "decode", "mixed", "none")

INT_COLUMNS = ("op_id", "iter", "stream", "layer", "M", "K", "N", "batch", "heads", "kv_heads",
               "head_dim", "q_len", "kv_len", "causal", "flops", "bytes_weight", "bytes_act_in",
               "bytes_act_out", "bytes_kv_read", "bytes_kv_write", "comm_bytes", "comm_group",
               "repeat")
BYTE_COLUMNS = ("bytes_weight", "bytes_act_in", "bytes_act_out", "bytes_kv_read", "bytes_kv_write")
REQUIRED_COLUMNS = ("op_id", "layer", "phase", "name", "op_class", "M", "K", "N", "flops",
                    *BYTE_COLUMNS)
DEFAULTS: dict[str, Any] = {
    "iter": 0, "stream": 0, "batch": 1, "heads": 0, "kv_heads": 0, "head_dim": 0, "q_len": 0,
    "kv_len": 0, "causal": 0, "comm_bytes": 0, "comm_group": 1, "repeat": 1,
    "dtype_act": "bf16", "dtype_weight": "bf16", "dtype_kv": "bf16", "deps": "", "req_ids": "",
    "src": "",
}
#: Column order when writing a trace.
COLUMNS = ("op_id", "iter", "stream", "layer", "phase", "name", "op_class", "M", "K", "N",
           "batch", "heads", "kv_heads", "head_dim", "q_len", "kv_len", "causal", "dtype_act",
           "dtype_weight", "dtype_kv", "flops", *BYTE_COLUMNS, "comm_bytes", "comm_group",
           "repeat", "deps", "req_ids", "src")
_MAX_INT = 1 << 62


@dataclass
class OpTrace:
    """A validated operator trace: ``ops`` (DataFrame, columns ``COLUMNS``) and ``meta`` (sidecar)."""

    ops: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def __len__(self) -> int:
        return len(self.ops)

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or (Path(self.path).stem.removesuffix(".ops")
                                             if self.path else "trace"))

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``<path>`` (CSV) and ``<path minus .csv>.meta.json``; both atomically."""
        from ..io import atomic_write_text

        path = Path(path)
        if path.suffix != ".csv":
            path = path.with_suffix(path.suffix + ".csv") if path.suffix else path.with_suffix(".csv")
        atomic_write_text(path, self.ops.loc[:, list(COLUMNS)].to_csv(index=False))
        meta = {"schema_version": SCHEMA_VERSION, **self.meta}
        atomic_write_text(sidecar_path(path), json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return path

    def total(self, column: str) -> int:
        """Sum of an integer column, counting ``repeat``."""
        return int((self.ops[column] * self.ops["repeat"]).sum())


def sidecar_path(csv_path: str | os.PathLike) -> Path:
    csv_path = Path(csv_path)
    return csv_path.with_name(csv_path.name.removesuffix(".csv") + ".meta.json")


def from_records(records: list[dict[str, Any]], meta: dict[str, Any] | None = None, *,
                 file: str = "<generated>") -> OpTrace:
    """Build and validate a trace from row dicts (missing optional columns take defaults);
    ``file`` names the source in error messages."""
    frame = pd.DataFrame.from_records([{**DEFAULTS, **record} for record in records])
    try:
        return OpTrace(validate_ops(frame, file=file), dict(meta or {}))
    except TraceError as exc:
        if file != _GENERATED:
            raise
        # the rows were built from what the user asked for: name that, not "<generated>, row 6"
        raise TraceError(_generated_error(exc, records, dict(meta or {}))) from None


_GENERATED = "<generated>"


def _generated_error(exc: TraceError, records: list[dict[str, Any]], meta: dict) -> str:
    model = meta.get("model")
    model = model.get("name") if isinstance(model, dict) else model
    what = [str(meta["phase"])] if meta.get("phase") else []
    batch = meta.get("batch")
    if isinstance(batch, int):
        what.append(f"batch {batch}")
    elif isinstance(batch, list) and batch and all(isinstance(s, dict) for s in batch):
        what.append(f"{len(batch)} sequences, longest q_len "
                    f"{max(int(s.get('q_len', 0)) for s in batch)}, kv_len "
                    f"{max(int(s.get('kv_len', 0)) for s in batch)}")
    for key, label in (("seq_len", "seq-len"), ("context", "context")):
        if key in meta:
            what.append(f"{label} {meta[key]}")
    tp = (meta.get("parallelism") or {}).get("tp") if isinstance(meta.get("parallelism"),
                                                                   dict) else None
    if tp and tp != 1:
        what.append(f"tp {tp}")
    who = (f"model {model}" if model else repr(meta.get("name", "the generated trace")))
    head = f"the trace generated for {who}" + (f" ({', '.join(what)})" if what else "")
    row = None
    if exc.row is not None and 0 < exc.row <= len(records):
        row = records[exc.row - 1]
    where = ""
    if row is not None:
        where = f"operator {row.get('name', '?')!r}" + (
            f" of layer {row['layer']}" if "layer" in row else "") + ": "
    hint = ("; use a smaller batch, context or seq-len, or check the model's dimensions"
            if getattr(exc, "too_large", False) else "")
    return f"{head}: {where}{exc.detail}{hint}"


def load_trace(path: str | os.PathLike) -> OpTrace:
    """Load and validate an operator trace (``.csv``; the ``.meta.json`` sidecar is optional).

    Example:
        >>> trace = load_trace("traces/tiny-llama-gqa-test_decode_b4_ctx64.csv")
        >>> trace.ops.loc[0, "op_class"]
        'embedding'
    """
    path = Path(path)
    frame = read_csv_table(path, "one row per operator")
    meta = read_sidecar(path)
    version = meta.pop("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise TraceError(f"unsupported schema_version {version!r} (expected {SCHEMA_VERSION})",
                         file=str(sidecar_path(path)))
    meta = {"schema_version": version, **meta}
    return OpTrace(validate_ops(frame, file=str(path)), meta, str(path))


def read_csv_table(path: Path, rows_are: str) -> pd.DataFrame:
    """A CSV as strings (validated by the caller); TraceError naming the file otherwise."""
    problem = input_problem(path)
    if problem:
        raise TraceError(f"file {problem}", file=str(path))
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise TraceError(f"file is empty (expected a CSV header and {rows_are})",
                         file=str(path)) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TraceError(f"malformed CSV: {first}", file=str(path)) from None


def read_sidecar(csv_path: Path) -> dict[str, Any]:
    """The ``.meta.json`` beside a CSV as a dict (``{}`` when there is none)."""
    side = sidecar_path(csv_path)
    if not side.exists():
        return {}
    problem = input_problem(side)
    if problem:
        raise TraceError(f"sidecar {problem}", file=str(side))
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TraceError(f"malformed JSON sidecar: {exc}", file=str(side)) from None
    if not isinstance(meta, dict):
        raise TraceError("sidecar must hold a JSON object", file=str(side))
    return meta


def _row_of(frame: pd.DataFrame, index) -> int:
    """1-based data row number of a frame index label (the CSV line is this + 1)."""
    return int(frame.index.get_loc(index)) + 1


def validate_ops(frame: pd.DataFrame, *, file: str) -> pd.DataFrame:
    """Check columns, types and values; return a normalised copy (typed columns, defaults)."""
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise TraceError("trace has no operator rows", file=file)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        unknown = [c for c in frame.columns if c not in COLUMNS]
        hint = did_you_mean(missing[0], unknown) if unknown else ""
        raise TraceError(f"missing required column(s) {', '.join(missing)}{hint}", file=file)
    unknown = [c for c in frame.columns if c not in COLUMNS]
    if unknown:
        raise TraceError(f"unknown column{did_you_mean(unknown[0], COLUMNS)}; "
                         f"expected columns from: {', '.join(COLUMNS)}", file=file, column=unknown[0])
    for column, default in DEFAULTS.items():
        if column not in frame.columns:
            frame[column] = default

    for column in INT_COLUMNS:
        frame[column] = _int_column(frame, column, file)
    for column in ("phase", "name", "op_class", "dtype_act", "dtype_weight", "dtype_kv", "deps",
                   "req_ids", "src"):
        frame[column] = frame[column].astype(str).str.strip()
    frame.loc[frame["deps"] == "nan", "deps"] = ""

    _check_enum(frame, "op_class", tuple(OP_CLASSES), file)
    _check_enum(frame, "phase", PHASES, file)
    for column in ("dtype_act", "dtype_weight", "dtype_kv"):
        _check_enum(frame, column, DTYPES, file)
    bad = frame["name"] == ""
    if bad.any():
        raise TraceError("empty operator name", file=file, row=_row_of(frame, bad.idxmax()),
                         column="name")

    nonneg = [c for c in INT_COLUMNS if c not in ("layer",)]
    for column in nonneg:
        bad = frame[column] < 0
        if bad.any():
            i = bad.idxmax()
            raise TraceError(f"expected a non-negative integer, got {frame.at[i, column]}",
                             file=file, row=_row_of(frame, i), column=column)
    for column in ("batch", "repeat", "comm_group"):
        bad = frame[column] < 1
        if bad.any():
            i = bad.idxmax()
            raise TraceError(f"expected an integer >= 1, got {frame.at[i, column]}", file=file,
                             row=_row_of(frame, i), column=column)
    matmul = frame["op_class"].isin(MATMUL_CLASSES)
    for column in ("M", "K", "N"):
        bad = matmul & (frame[column] < 1)
        if bad.any():
            i = bad.idxmax()
            raise TraceError(f"a {frame.at[i, 'op_class']} needs {column} >= 1, got "
                             f"{frame.at[i, column]}", file=file, row=_row_of(frame, i), column=column)
    dup = frame["op_id"].duplicated()
    if dup.any():
        i = dup.idxmax()
        raise TraceError(f"duplicate op_id {frame.at[i, 'op_id']}", file=file,
                         row=_row_of(frame, i), column="op_id")
    _check_deps(frame, file)
    return frame.reset_index(drop=True).loc[:, list(COLUMNS)]


def _int_column(frame: pd.DataFrame, column: str, file: str) -> pd.Series:
    raw = frame[column]
    if raw.dtype.kind in "iu":
        values = raw.astype(np.int64)
    else:
        text = raw.astype(str).str.strip()
        text = text.where(text != "", str(DEFAULTS.get(column, "")))
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() | ~np.isfinite(numbers) | (numbers != np.floor(numbers)) | (
            numbers.abs() > _MAX_INT)
        if bad.any():
            i = bad.idxmax()
            given = raw.at[i]
            if np.isfinite(numbers.at[i]) and abs(numbers.at[i]) > _MAX_INT:
                err = TraceError(f"{column} = {float(numbers.at[i]):.3g} is beyond the 64-bit "
                                 f"counters (at most {float(_MAX_INT):.3g})", file=file,
                                 row=_row_of(frame, i), column=column)
                err.too_large = True
                raise err
            what = "a value" if str(given).strip() == "" else repr(given)
            raise TraceError(f"expected an integer, got {what}", file=file,
                             row=_row_of(frame, i), column=column)
        values = numbers.astype(np.int64)
    return values


def _check_enum(frame: pd.DataFrame, column: str, allowed: tuple[str, ...], file: str) -> None:
    bad = ~frame[column].isin(allowed)
    if bad.any():
        i = bad.idxmax()
        given = frame.at[i, column]
        raise TraceError(f"expected one of {', '.join(allowed)}, got {given!r}"
                         f"{did_you_mean(given, allowed)}", file=file, row=_row_of(frame, i),
                         column=column)


def _check_deps(frame: pd.DataFrame, file: str) -> None:
    """``deps``: empty (previous op of the same iter/stream), ``none``, or ``;``-separated op_ids
    of earlier rows."""
    seen: set[int] = set()
    for position, (op_id, deps) in enumerate(zip(frame["op_id"], frame["deps"])):
        if deps and deps != "none":
            for part in deps.split(";"):
                part = part.strip()
                try:
                    dep = int(part)
                except ValueError:
                    raise TraceError(f"expected ';'-separated op_ids, 'none' or empty, got {deps!r}",
                                     file=file, row=position + 1, column="deps") from None
                if dep not in seen:
                    raise TraceError(f"depends on op_id {dep}, which is not an earlier row",
                                     file=file, row=position + 1, column="deps")
        seen.add(int(op_id))


def parse_deps(deps: str) -> list[int] | None:
    """``None`` for the default (previous op of the stream), ``[]`` for ``none``, else op_ids."""
    if not deps:
        return None
    if deps == "none":
        return []
    return [int(p) for p in deps.split(";")]


