"""PIM timing (accelsim.hw.pim): closed forms, each dual-row-buffer relaxation, refresh, schema."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.errors import ConfigError, UnknownImplError
from accelsim.hw import pim


@pytest.fixture(scope="module")
def dual():
    return pim.load_pim_spec("neupims_hbm2", mode="dual")


@pytest.fixture(scope="module")
def blocked():
    return pim.load_pim_spec("neupims_hbm2", mode="blocked")


def test_spec_matches_neupims_device(dual):
    assert dual.channels == 32 and dual.banks == 32 and dual.page_elements == 512
    assert dual.tRC == 48                       # tRAS + tRP, as configuration.cc:325
    assert dual.comp_interval_cycles == 2        # max(burst, tCCD_S)
    assert dual.channel_bandwidth_gbps == 32.0 and dual.peak_bandwidth_gbps() == 1024.0
    assert dual.peak_macs_per_cycle() == 8192    # 16.4 TFLOPS FP16 at 1 GHz
    assert dual.refresh_interval_cycles == 1950  # tREFI / ranks


# ---- one test per relaxed rule (timing.cc:73-102): single row buffer -> dual

def test_rule_act_to_gact_same_bank(dual, blocked):
    assert pim.act_to_gact_cycles(blocked) == 48 and pim.act_to_gact_cycles(dual) == 6


def test_rule_gact_to_act_same_bank_group(dual, blocked):
    assert pim.gact_to_act_cycles(blocked) == 48 and pim.gact_to_act_cycles(dual) == 6


def test_rule_rdwr_to_comp(dual, blocked):
    assert pim.rdwr_to_comp_cycles(blocked, write=False) == 2          # tCCD_L
    assert pim.rdwr_to_comp_cycles(blocked, write=True) == 4 + 2 + 8   # CWL + burst + tWTR_L
    assert pim.rdwr_to_comp_cycles(dual, write=False) == 0
    assert pim.rdwr_to_comp_cycles(dual, write=True) == 0


def test_rule_pim_to_precharge(dual, blocked):
    assert pim.pim_to_precharge_cycles(blocked) == 6 and pim.pim_to_precharge_cycles(dual) == 0


def test_what_stays_serialized_is_mode_independent(dual, blocked):
    # G_ACT phase (tFAW between G_ACTs of a rank, tRCDRD to the first COMP) and GEMV occupancy
    assert pim.open_cycles(dual) == pim.open_cycles(blocked) == 3 * 30 + 14
    for k in (1, 6, 8, 32):
        assert pim.gemv_cycles(dual, k) == pim.gemv_cycles(blocked, k)


# ---- closed forms

@pytest.mark.parametrize("k,cycles", [(1, 14), (6, 14), (7, 16), (8, 18), (32, 66)])
def test_gemv_occupancy(dual, k, cycles):
    assert pim.gemv_cycles(dual, k) == cycles    # 2 (max(k, 6) + 1), channel_state.cc:484-505


def test_gemv_rejects_empty(dual):
    with pytest.raises(ValueError):
        pim.gemv_cycles(dual, 0)


def test_tile_and_gwrite(dual, blocked):
    # QK^T tile of GPT3-7B TP4: open 104 + 4 GEMVs of 8 COMPs (72) + tRP 14 = 190, close to the
    # controller's own estimate (~174) and the scheduler's L_tile = 184
    assert pim.tile_cycles(dual, [8] * 4) == 190
    # blocked: read-to-precharge before PIM_PRECHARGE
    assert pim.tile_cycles(blocked, [8] * 4) == 196
    # a short tile waits for tRAS before PIM_PRECHARGE (no effect here: open alone is > tRAS)
    assert pim.close_cycles(dual, 10) == 24 + 14
    assert pim.gwrite_op_cycles(dual) == 14 + 96
    assert pim.gwrite_op_cycles(blocked) == 14 + 96 + 6 + 14


def test_npu_service_only_in_blocked_mode(dual, blocked):
    assert pim.npu_service_cycles(dual, 10, write=True) == 0
    assert pim.npu_service_cycles(blocked, 0, write=True) == 0
    one = pim.npu_service_cycles(blocked, 1, write=True)
    assert one >= pim.act_to_gact_cycles(blocked)
    assert pim.npu_service_cycles(blocked, 11, write=True) == one + 20   # 2 cycles per burst


def test_estimator_matches_alg1(dual):
    # 2 (100 + 10 * 184) + 1 * 8 (100 + 4 * 184), GPT3-7B TP4, s = 300
    assert pim.estimate_mha_cycles(dual, 300, embed=1024, heads=8, head_dim=128) == 10568
    arr = pim.estimate_mha_cycles(dual, np.array([1, 300]), embed=1024, heads=8, head_dim=128)
    assert arr[1] == 10568 and arr[0] < arr[1]


def test_kv_layout_op_counts(dual):
    shape = pim.AttentionShape(embed=1024, heads=8, head_dim=128)
    ops, comp, gemvs = pim.logit_ops(dual, 300, shape)
    assert len(ops) == 2 * (1 + 10) and gemvs == 2 * 10 * 4      # 2 chunks: GWRITE + 10 tiles
    ops, comp, gemvs = pim.attend_ops(dual, 600, shape)
    assert len(ops) == 2 * 8 * (1 + 4) and gemvs == 2 * 8 * 4    # 2 token chunks x 8 heads
    assert comp[1] == pim.gemv_cycles(dual, 32) and comp[-1] == pim.gemv_cycles(dual, 6)


# ---- refresh

def test_refresh_fit_check(dual):
    assert pim.walk_with_refresh(dual, [100] * 3, start=0) == (300, 0)
    # 3 ops of 700 from 0: the third would cross the REF at 1950 -> waits until 2210
    assert pim.walk_with_refresh(dual, [700] * 3, start=0) == (2910, 2210 - 1400)
    # an op can never span a REF
    end, _ = pim.walk_with_refresh(dual, [190] * 100, start=0)
    t = 0
    for _ in range(100):
        nxt = max(1950, (t // 1950 + (t % 1950 > 0)) * 1950)
        if t + 190 > nxt:
            t = nxt + 260
        t += 190
    assert end == t


def test_refresh_overhead_is_bounded(dual):
    # after a REF ends, 1690 cycles remain to the next: 8 tiles of 190 fit, 170 cycles are lost
    # to the fit check and 260 to tRFC -> 8 tiles per 1950 cycles
    end, lost = pim.walk_with_refresh(dual, np.full(1000, 190), start=0)
    assert lost == end - 190_000
    assert abs(end - 1000 / 8 * 1950) <= 1950


# ---- schema

def test_build_pim_and_semantic_check():
    unit = pim.build_pim({"impl": "neupims", "mode": "blocked", "channels": 16},
                         memory={"impl": "hbm"})
    assert unit.enabled and unit.spec.mode == "blocked" and unit.spec.channels == 16
    assert not pim.build_pim({"impl": "none"}, memory={"impl": "analytical"}).enabled
    with pytest.raises(ConfigError, match="inside HBM"):
        pim.build_pim({"impl": "neupims"}, file="x.yaml", memory={"impl": "analytical"})
    with pytest.raises(UnknownImplError, match="did you mean 'neupims'"):
        pim.build_pim({"impl": "neupim"})
    with pytest.raises(ConfigError, match="mode"):
        pim.build_pim({"impl": "neupims", "mode": "triple"})
    with pytest.raises(ConfigError, match="unknown key|unexpected"):
        pim.build_pim({"impl": "neupims", "rowbuffers": 2})
