"""The GEMM tiler: fits the SRAM, conserves bytes and MACs, minimises traffic; clear errors."""

import numpy as np
import pytest

from accelsim.arch.config import SramConfig
from accelsim.errors import SimulationError
from accelsim.mapping.tiling import choose_tiling, tile_schedule

SEPARATE = SramConfig(mode="separate", ifmap_kib=256, filter_kib=256, ofmap_kib=128)
UNIFIED = SramConfig(mode="unified", ifmap_kib=0, filter_kib=0, ofmap_kib=0, unified_kib=640)
SHAPES = [(1, 4096, 4096), (32, 4096, 11008), (512, 512, 128), (100, 300, 70), (7, 3, 5)]


@pytest.mark.parametrize("sram", [SEPARATE, UNIFIED], ids=["separate", "unified"])
@pytest.mark.parametrize("M, K, N", SHAPES)
def test_schedule_conserves_work_and_bytes_and_fits(sram, M, K, N):
    t = choose_tiling(M, K, N, sram, a_bytes=2, b_bytes=2, c_bytes=2, acc_bytes=4,
                      min_tile=(8, 16, 16))
    load, macs, store = tile_schedule(M, K, N, t, a_bytes=2, b_bytes=2, c_bytes=2)
    assert macs.sum() == M * K * N
    assert load.sum() == t.a_bytes + t.b_bytes
    assert store.sum() == t.c_bytes == M * N * 2
    tiles = (t.Mt * t.Kt * 2, t.Kt * t.Nt * 2, t.Mt * t.Nt * 4)
    if sram.mode == "unified":
        assert 2 * sum(tiles) <= sram.unified_kib * 1024
    else:
        caps = sram.capacity_bytes()
        assert 2 * tiles[0] <= caps["ifmap"] and 2 * tiles[1] <= caps["filter"]
        assert 2 * tiles[2] <= caps["ofmap"]
    # every operand is read at least once
    assert t.a_bytes >= M * K * 2 and t.b_bytes >= K * N * 2


def test_decode_gemm_streams_weights_exactly_once():
    t = choose_tiling(32, 4096, 12288, SramConfig("separate", 8192, 8192, 4096), a_bytes=2,
                      b_bytes=2, c_bytes=2, acc_bytes=4, min_tile=(8, 128, 128))
    assert t.b_bytes == 4096 * 12288 * 2 and t.a_bytes == 32 * 4096 * 2


def test_small_sram_forces_rereads():
    small = SramConfig("separate", 64, 64, 64)
    t = choose_tiling(512, 4096, 4096, small, a_bytes=1, b_bytes=1, c_bytes=1, acc_bytes=1,
                      min_tile=(8, 32, 32))
    assert t.dram_bytes > 512 * 4096 + 4096 * 4096 + 512 * 4096


def test_sram_smaller_than_one_tile_is_a_clear_error():
    tiny = SramConfig("separate", 1, 1, 1)
    with pytest.raises(SimulationError, match=r"SRAM too small for one tile of GEMM \(M=512"):
        choose_tiling(512, 4096, 4096, tiny, a_bytes=2, b_bytes=2, c_bytes=2, acc_bytes=4,
                      min_tile=(8, 128, 128))
