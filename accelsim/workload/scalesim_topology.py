"""SCALE-Sim topology CSVs as operator traces (so ``--topology layers.csv`` runs unchanged).

* GEMM topologies (SCALE-Sim ``-i gemm``): ``Layer, M, N, K,`` with ``out[M,N] = A[M,K] . B[K,N]``.
* Convolution topologies (the default): ``name, ifmap_h, ifmap_w, filt_h, filt_w, channels,
  num_filters, stride,`` lowered by im2col to ``M = out_h * out_w``, ``K = filt_h * filt_w *
  channels``, ``N = num_filters`` (valid convolution, no padding, batch 1 — as SCALE-Sim). A
  layer whose name contains ``DP`` is depthwise: one GEMM per channel (``batch = channels``).

Rows end with a trailing comma in SCALE-Sim's own files; it is accepted and not required.
An optional ``N:M`` sparsity column is ignored with a note in the trace metadata.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..arch.dtypes import DTYPE_BYTES
from ..errors import TraceError
from ..io import input_problem
from .trace import OpTrace, from_records

FORMATS = ("auto", "gemm", "conv")
MAX_DIM = 1 << 31          # any larger layer dimension is a typo, not a layer


def _ints(fields: list[str], count: int, file: str, line: int, names: tuple[str, ...]) -> list[int]:
    values = []
    for name, text in zip(names, fields[:count]):
        try:
            number = float(text)
        except ValueError:
            raise TraceError(f"expected an integer for {name}, got {text.strip()!r}", file=file,
                             row=line) from None
        if not (1 <= number <= MAX_DIM) or not number.is_integer():
            raise TraceError(f"expected an integer in 1..{MAX_DIM} for {name}, got "
                             f"{text.strip()!r}", file=file, row=line)
        values.append(int(number))
    return values


def load_scalesim_topology(path: str | Path, *, fmt: str = "auto", dtype: str = "int8") -> OpTrace:
    """Read a SCALE-Sim topology CSV into an ``OpTrace`` (one ``gemm`` row per layer)."""
    path = Path(path)
    file = str(path)
    if fmt not in FORMATS:
        raise TraceError(f"unknown topology format {fmt!r}; expected one of {', '.join(FORMATS)}",
                         file=file)
    problem = input_problem(path)
    if problem:
        raise TraceError(f"file {problem}", file=file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceError("file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"cannot read file: {exc}", file=file) from None
    rows = [r for r in csv.reader(io.StringIO(text))]
    rows = [[f.strip() for f in r] for r in rows]
    rows = [r[:-1] if r and r[-1] == "" else r for r in rows]      # trailing comma
    body = [(i + 1, r) for i, r in enumerate(rows) if any(r)]
    if len(body) < 2:
        raise TraceError("expected a header line and at least one layer", file=file)
    header, layers = body[0][1], body[1:]
    if fmt == "auto":
        fmt = "gemm" if len(header) in (4, 5) else "conv"
    b = DTYPE_BYTES[dtype]
    records = []
    for line, fields in layers:
        name = fields[0] or f"layer{len(records)}"
        if fmt == "gemm":
            if len(fields) >= 8:
                raise TraceError(f"format gemm expects 'Layer, M, N, K', but the rows look like "
                                 f"convolutions ({len(fields)} fields: name, ifmap_h, ifmap_w, "
                                 "filt_h, filt_w, channels, num_filters, stride); use "
                                 "--topology-format conv (or auto)", file=file, row=line)
            if len(fields) < 4:
                raise TraceError(f"expected 'Layer, M, N, K', got {len(fields)} fields", file=file,
                                 row=line)
            M, N, K = _ints(fields[1:], 3, file, line, ("M", "N", "K"))
            batch = 1
        else:
            if len(fields) < 8:
                raise TraceError("expected 'name, ifmap_h, ifmap_w, filt_h, filt_w, channels, "
                                 f"num_filters, stride', got {len(fields)} fields", file=file,
                                 row=line)
            ih, iw, fh, fw, ch, nf, stride = _ints(
                fields[1:], 7, file, line,
                ("ifmap_h", "ifmap_w", "filt_h", "filt_w", "channels", "num_filters", "stride"))
            if fh > ih or fw > iw:
                raise TraceError(f"filter {fh}x{fw} larger than ifmap {ih}x{iw}", file=file,
                                 row=line)
            M = ((ih - fh) // stride + 1) * ((iw - fw) // stride + 1)
            if "DP" in name:
                K, N, batch = fh * fw, 1, ch
            else:
                K, N, batch = fh * fw * ch, nf, 1
        records.append({
            "op_id": len(records), "layer": len(records), "phase": "none", "name": name,
            "op_class": "gemm", "M": M, "K": K, "N": N, "batch": batch,
            "flops": 2 * M * K * N * batch, "bytes_weight": int(K * N * batch * b),
            "bytes_act_in": int(M * K * batch * b), "bytes_act_out": int(M * N * batch * b),
            "bytes_kv_read": 0, "bytes_kv_write": 0, "dtype_act": dtype, "dtype_weight": dtype,
            "dtype_kv": dtype, "src": f"scalesim-topology:{path.name}:{line}"})
    meta = {"name": path.stem, "source": f"SCALE-Sim {fmt} topology {path.name}",
            "generator": "accelsim.workload.scalesim_topology"}
    try:
        trace = from_records(records, meta, file=file)
    except TraceError as exc:                  # rows are layers: name the line the user wrote
        if exc.row is None or not 0 < exc.row <= len(records):
            raise
        rec = records[exc.row - 1]
        line = int(rec["src"].rsplit(":", 1)[1])
        hint = "; the layer is too large" if getattr(exc, "too_large", False) else ""
        raise TraceError(f"layer {rec['name']!r}: {exc.detail}{hint}", file=file,
                         row=line) from None
    trace.path = file
    return trace
