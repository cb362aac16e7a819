"""Lab 4 autograder: when PIM wins for decode attention; what DRB, bin packing and SBI buy."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def lab(lab_factory):
    return lab_factory(4)


def test_functions(lab):
    f = lab.impl
    assert f.pim_peak_gbps(32, 32, 16, 2, 2, 1000.0) == pytest.approx(16384.0)
    assert f.pim_peak_gbps(8, 16, 16, 2, 4, 1200.0) == pytest.approx(1228.8)
    b = [1, 2, 4, 8]
    assert f.pim_wins_from(b, [10, 10, 10, 10], [5, 11, 9, 12]) == 8
    assert f.pim_wins_from(b, [10, 10, 10, 10], [5, 11, 12, 12]) == 2
    assert f.pim_wins_from(b, [10, 10, 10, 10], [5, 5, 5, 5]) is None


def test_pim_bandwidth(lab):
    res = lab.results()
    assert res["pim_peak_gbps"] / res["external_gbps"] == pytest.approx(16, rel=0.01)


def test_when_pim_wins(lab):
    res = lab.results()
    t = res["tokens_per_s"]
    i = {b: k for k, b in enumerate(res["batches"])}
    # small batches: naive PIM loses to the NPU (blocked row buffer, idle NPU)
    assert t["naive"][i[32]] < t["npu_only"][i[32]]
    # large batches: every PIM system wins; NeuPIMs by ~2x at 512
    for n in ("naive", "drb", "drb_gmlbp", "neupims"):
        assert t[n][i[512]] > t["npu_only"][i[512]]
    assert 1.7 < t["neupims"][i[512]] / t["npu_only"][i[512]] < 2.8
    w = res["pim_wins_from"]
    assert w["naive"] in (64, 128, 256)
    assert w["neupims"] is not None and w["neupims"] <= w["naive"]


def test_ablation(lab):
    t = lab.results()["tokens_per_s"]
    for k in range(len(t["naive"])):
        assert t["drb"][k] >= t["naive"][k]                 # dual row buffers never hurt
        assert t["drb_gmlbp"][k] >= t["drb"][k] * 0.99      # bin packing
        if lab.results()["batches"][k] != 256:
            assert t["neupims"][k] >= t["drb_gmlbp"][k] * 0.99
    # at 256 the two 128-token sub-batches re-read every weight at the bandwidth the PIM leaves
    # (dual row buffer) and are memory-bound: interleaving does not win there (the paper's
    # does; docs/neupims.md), nor does it lose more than the extra weight pass costs
    i256 = lab.results()["batches"].index(256)
    assert 0.85 < t["neupims"][i256] / t["drb_gmlbp"][i256] < 1.05
    # sub-batch interleaving is on only for batch >= 256 and wins at 512 (+14 % on the lab's
    # one-layer system; the TP4 reproduction in scripts/reproduce_neupims.py gets +31 %)
    assert t["neupims"][-1] > 1.1 * t["drb_gmlbp"][-1]
    assert t["neupims"][0] == pytest.approx(t["drb_gmlbp"][0])
    u = lab.results()["util"]
    assert u["neupims"]["npu_busy"] > 1.5 * u["drb_gmlbp"]["npu_busy"]
    assert u["drb_gmlbp"]["load_imbalance"] < u["naive"]["load_imbalance"]
