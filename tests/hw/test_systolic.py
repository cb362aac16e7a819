"""Closed-form systolic timing: the per-dataflow formulas, on hand-checkable cases."""

import pytest

from accelsim.hw.systolic import fold_dims, gemm_timing


@pytest.mark.parametrize("df, dims", [("os", (2, 3, 5)), ("ws", (5, 3, 2)), ("is", (5, 2, 3))])
def test_fold_dims(df, dims):
    assert fold_dims(2, 5, 3, df) == dims   # M=2, K=5, N=3


def test_single_fold_os():
    t = gemm_timing(4, 10, 4, 4, 4, "os")
    assert (t.folds, t.cycles_per_fold, t.compute_cycles) == (1, 10 + 4 + 4 - 2, 16)
    assert t.scalesim_compute_cycles == 15
    assert t.mapping_efficiency == 1.0


def test_ws_pays_the_stationary_preload_every_fold():
    t = gemm_timing(M=8, K=8, N=8, rows=4, cols=4, dataflow="ws")
    assert t.folds == 4 and t.cycles_per_fold == 8 + 2 * 4 + 4 - 2
    assert t.compute_cycles == 4 * 18


def test_partial_folds_lower_mapping_efficiency():
    t = gemm_timing(M=1, K=4096, N=4096, rows=128, cols=128, dataflow="os")
    assert t.mapping_efficiency == pytest.approx(1 / 128)


def test_fold_pipelining_overlaps_preload_with_stream():
    plain = gemm_timing(32, 4096, 4096, 128, 128, "ws")
    piped = gemm_timing(32, 4096, 4096, 128, 128, "ws", fold_pipelining=True)
    assert piped.compute_cycles == plain.folds * 128 + (2 * 128 + 128 - 2)
    assert piped.compute_cycles < plain.compute_cycles
    long_stream = gemm_timing(1000, 128, 128, 128, 128, "ws", fold_pipelining=True)
    assert long_stream.compute_cycles == 1000 + 2 * 128 + 128 - 2


@pytest.mark.parametrize("bad", [dict(M=0), dict(K=-1), dict(rows=0), dict(N=1.5)])
def test_rejects_non_positive_sizes(bad):
    args = dict(M=4, K=4, N=4, rows=4, cols=4, dataflow="os") | bad
    with pytest.raises(ValueError):
        gemm_timing(**args)


def test_rejects_unknown_dataflow():
    with pytest.raises(ValueError, match="unknown dataflow"):
        gemm_timing(4, 4, 4, 4, 4, "rs")
