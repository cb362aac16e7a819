"""The operator trace format: shipped traces load, round trips are exact, bad input is named."""

from pathlib import Path

import pandas as pd
import pytest

from accelsim.errors import TraceError
from accelsim.workload.generate import generate_trace
from accelsim.workload.scalesim_topology import load_scalesim_topology
from accelsim.workload.trace import COLUMNS, REQUIRED_COLUMNS, load_trace

SHIPPED = sorted(Path(__file__).resolve().parents[2].joinpath("traces").glob("*.csv"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_traces_load(path):
    trace = load_trace(path)
    assert len(trace) > 0 and trace.meta["schema_version"] == 1
    assert list(trace.ops.columns) == list(COLUMNS)


def test_round_trip_is_exact(tmp_path):
    trace = generate_trace("tiny-llama-gqa-test", "decode", batch=2, context=16)
    path = trace.save(tmp_path / "t.csv")
    again = load_trace(path)
    pd.testing.assert_frame_equal(trace.ops, again.ops)
    assert again.meta["model"]["name"] == "tiny-llama-gqa-test"


@pytest.fixture
def good_csv(tmp_path):
    trace = generate_trace("tiny-llama-gqa-test", "decode", batch=2, context=16)
    return trace.ops.copy(), tmp_path / "bad.csv"


def _write(frame, path):
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("mutate, fragment", [
    (lambda f: f.drop(columns=["M"]), "missing required column(s) M"),
    (lambda f: f.rename(columns={"flops": "flop"}), "missing required column(s) flops (did you mean 'flop'?)"),
    (lambda f: f.assign(extra=1), "column 'extra': unknown column"),
    (lambda f: f.assign(K=f["K"].where(f.index != 2, -5)), "row 3, column 'K': expected a non-negative integer, got -5"),
    (lambda f: f.assign(N=f["N"].astype(object).where(f.index != 2, "abc")), "row 3, column 'N': expected an integer, got 'abc'"),
    (lambda f: f.assign(N=f["N"].astype(object).where(f.index != 2, "1.5")), "row 3, column 'N': expected an integer"),
    (lambda f: f.assign(op_class=f["op_class"].where(f.index != 1, "gemmm")), "row 2, column 'op_class': expected one of"),
    (lambda f: f.assign(phase=f["phase"].where(f.index != 0, "warmup")), "row 1, column 'phase'"),
    (lambda f: f.assign(dtype_act="fp64"), "column 'dtype_act': expected one of"),
    (lambda f: f.assign(op_id=0), "row 2, column 'op_id': duplicate op_id 0"),
    (lambda f: f.assign(deps=f["deps"].where(f.index != 1, "7")), "row 2, column 'deps': depends on op_id 7"),
    (lambda f: f.assign(deps=f["deps"].where(f.index != 1, "x;y")), "row 2, column 'deps': expected"),
    (lambda f: f.assign(batch=0), "column 'batch': expected an integer >= 1"),
    (lambda f: f.iloc[:0], "no operator rows"),
])
def test_bad_traces_name_file_row_and_column(good_csv, mutate, fragment):
    frame, path = good_csv
    _write(mutate(frame), path)
    with pytest.raises(TraceError) as err:
        load_trace(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def test_matmul_needs_positive_shape(good_csv):
    frame, path = good_csv
    gemm = frame.index[frame["op_class"] == "gemm"][0]
    frame.loc[gemm, "M"] = 0
    with pytest.raises(TraceError, match=f"row {gemm + 1}, column 'M': a gemm needs M >= 1"):
        load_trace(_write(frame, path))


@pytest.mark.parametrize("content, fragment", [
    (b"", "file is empty"),
    (b"\xff\xfe\x00garbage", "malformed CSV"),
    (b"op_id;layer;phase\n1;2;3\n", "missing required column"),
])
def test_unreadable_files(tmp_path, content, fragment):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(TraceError, match=fragment):
        load_trace(path)


def test_missing_file_and_bad_sidecar(tmp_path, good_csv):
    with pytest.raises(TraceError, match="file not found"):
        load_trace(tmp_path / "none.csv")
    frame, path = good_csv
    _write(frame, path)
    path.with_name("bad.meta.json").write_text("{not json")
    with pytest.raises(TraceError, match="malformed JSON sidecar"):
        load_trace(path)


def test_scalesim_conv_topology_uses_im2col(repo_root):
    trace = load_scalesim_topology(repo_root / "tests/data/conv_small.csv")
    rows = trace.ops.set_index("name")
    assert rows.loc["Conv1", ["M", "K", "N", "batch"]].tolist() == [30 * 30, 27, 16, 1]
    assert rows.loc["Conv2_DP", ["M", "K", "N", "batch"]].tolist() == [28 * 28, 9, 1, 16]
    assert rows.loc["Conv3", ["M", "K", "N"]].tolist() == [14 * 14, 16, 32]


@pytest.mark.parametrize("content, fragment", [
    ("Layer, M, N, K,\nfc1, 64, 0, 32,\n", "row 2: expected an integer in 1..2147483648 for N"),
    ("Layer, M, N, K,\nfc1, 64, x, 32,\n", "row 2: expected an integer for N"),
    ("Layer, M, N, K,\n", "expected a header line and at least one layer"),
    ("Layer, M, N, K,\nfc1, 64,\n", "row 2: expected 'Layer, M, N, K', got 2 fields"),
])
def test_bad_scalesim_topologies(tmp_path, content, fragment):
    path = tmp_path / "topo.csv"
    path.write_text(content)
    with pytest.raises(TraceError) as err:
        load_scalesim_topology(path)
    assert fragment in str(err.value)
