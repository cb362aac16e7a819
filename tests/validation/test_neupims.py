"""NeuPIMs system ratios vs the upstream simulator's runs and the paper, at reduced size."""

from __future__ import annotations

import pytest

from accelsim.validation.neupims import (NPU_ONLY_TOL, PAPER_NEUPIMS_OVER_NPU_ONLY, RATIO_TOL,
                                         REFERENCE_RATIOS, reference_ratios, run_ratios)


@pytest.fixture(scope="module")
def ratios():
    # reduced: 2 sampled batch-512 snapshots (the script uses 10), shorter warm-up
    return run_ratios(batch=512, seeds=range(2), warmup_steps=2048)


@pytest.mark.validation
def test_reference_table_is_what_we_quote(reference_dir):
    assert reference_ratios(reference_dir) == pytest.approx(REFERENCE_RATIOS, abs=5e-4)


@pytest.mark.validation
def test_systems_are_ordered(ratios):
    rel = ratios["relative"]
    assert rel["npu_only"] < rel["naive"] < rel["drb"] < rel["drb_gmlbp"] < rel["neupims"]


@pytest.mark.validation
@pytest.mark.parametrize("system", ["drb", "drb_gmlbp", "neupims"])
def test_ratio_within_band_of_upstream(ratios, system):
    ours, ref = ratios["relative"][system], REFERENCE_RATIOS[system]
    assert abs(ours / ref - 1) <= RATIO_TOL, f"{system}: {ours:.3f} vs {ref:.3f}"


@pytest.mark.validation
def test_neupims_over_npu_only_within_band_of_paper(ratios):
    ours = ratios["neupims_over_npu_only"]
    assert abs(ours / PAPER_NEUPIMS_OVER_NPU_ONLY - 1) <= NPU_ONLY_TOL, ours
