"""The bank-level HBM model: contract, presets as data, configuration errors, mappings, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import simpy

from accelsim.cli import main as cli_main
from accelsim.errors import ConfigError, UnknownImplError
from accelsim.hw import dram_kernel as K
from accelsim.hw.hbm import (MAPPINGS, PRESET_DIR, HbmMemory, preset_names, run_latency_probe,
                             run_pattern, spec_from_dict)
from accelsim.hw.memory import build_memory

from memory_contract import MemoryContract, run_requests  # tests/hw is on sys.path


class TestHbm(MemoryContract):
    @pytest.fixture
    def memory(self):
        return build_memory({"impl": "hbm", "preset": "hbm3_6400", "channels": 1})


class TestHbm2Stack(MemoryContract):
    @pytest.fixture
    def memory(self):
        return build_memory({"impl": "hbm", "preset": "hbm2_2000", "channels": 8,
                             "mapping": "RoBaRaCoCh", "page_policy": "closed"})


# ------------------------------------------------------------------------------ presets
@pytest.mark.parametrize("preset", ["hbm2_2000", "hbm2e_3200", "hbm3_6400"])
def test_every_preset_loads_and_runs(preset):
    spec = spec_from_dict({"preset": preset})
    assert spec.source
    assert spec.tx_bytes == 32
    out = run_pattern(spec, "stream", 4000)
    assert 0 < out["bandwidth_gbps"] <= spec.peak_bandwidth_gbps()


def test_presets_are_listed_with_sources():
    assert {"hbm2_2000", "hbm2e_3200", "hbm3_6400"} <= set(preset_names())
    assert spec_from_dict({"preset": "hbm2e_3200"}).estimate is True
    assert spec_from_dict({"preset": "hbm2_2000"}).estimate is False


def test_peak_bandwidth_per_stack():
    assert spec_from_dict({"preset": "hbm2_2000"}).peak_bandwidth_gbps() == pytest.approx(256.0)
    assert spec_from_dict({"preset": "hbm3_6400"}).peak_bandwidth_gbps() == pytest.approx(819.2)
    assert spec_from_dict({"preset": "hbm2e_3200"}).peak_bandwidth_gbps() == pytest.approx(409.6)
    assert spec_from_dict({"preset": "hbm2_2000", "stacks": 5}).peak_bandwidth_gbps() == \
        pytest.approx(1280.0)


def test_derived_timings():
    c = spec_from_dict({"preset": "hbm2_2000"}).cycles
    assert c["tBL"] == 2 and c["tRTW"] == 14 + 2 + 2 - 5
    c3 = spec_from_dict({"preset": "hbm3_6400"}).cycles
    assert c3["tBL"] == 2 and c3["tRTW"] == 20


def test_ns_override_converted_once():
    spec = spec_from_dict({"preset": "hbm3_6400", "tRCDRD_ns": 14.0, "tRP_cycles": 30})
    assert spec.cycles["tRCDRD"] == 23          # ceil(14 ns / 0.625 ns)
    assert spec.cycles["tRP"] == 30
    both = spec_from_dict({"preset": "hbm2_2000", "tRCD_ns": 20.0})
    assert both.cycles["tRCDRD"] == both.cycles["tRCDWR"] == 20


def test_hbm3_unloaded_latency_from_data():
    spec = spec_from_dict({"preset": "hbm3_6400", "channels": 1})
    # closed bank: 1 (issue) + tRCDRD + 1 (2-cycle ACT) + CL + BL = 55 tCK
    assert spec.closed_bank_read_cycles() == 1 + 31 + 1 + 20 + 2


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("raw, match", [
    ({"preset": "hbm9"}, r"memory.preset: unknown memory preset 'hbm9'"),
    ({"preset": "hbm2_2000", "mapping": "RoBaCo"}, r"memory.mapping: unknown address mapping"),
    ({"preset": "hbm2_2000", "tRCDX_ns": 3.0}, r"memory.tRCDX_ns: unknown timing 'tRCDX'"),
    ({"preset": "hbm2_2000", "tRP_ns": "fast"}, r"memory.tRP_ns: expected a number"),
    ({"preset": "hbm2_2000", "channels": 0}, r"memory.channels: expected a value >= 1"),
    ({"preset": "hbm2_2000", "chanels": 8}, r"memory.chanels: unknown key \(did you mean 'channels'"),
    ({"preset": "hbm2_2000", "page_policy": "half"}, r"memory.page_policy: expected one of open"),
    ({"preset": "hbm2_2000", "write_low_watermark": 0.9}, r"write_low_watermark"),
])
def test_config_errors_name_file_key_expected_given(raw, match):
    with pytest.raises(ConfigError, match=match):
        build_memory({"impl": "hbm", **raw}, file="arch.yaml")


def test_bad_preset_file_names_the_file(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("source: x\nstandard: hbm\norganization: {channels: 8}\ntCK_ps: 1000\n")
    with pytest.raises(ConfigError, match=r"mine.yaml: organization.pseudo_channels: required"):
        build_memory({"impl": "hbm", "preset": str(bad)})


def test_preset_file_with_overrides(tmp_path):
    src = spec_from_dict({"preset": "hbm2_2000"})
    custom = tmp_path / "fast.yaml"
    import shutil

    from accelsim.hw.hbm import PRESET_DIR
    shutil.copy(PRESET_DIR / "hbm2_2000.yaml", custom)
    spec = spec_from_dict({"preset": str(custom), "tCL_cycles": 10})
    assert spec.cycles["tCL"] == 10 and src.cycles["tCL"] == 14


# ------------------------------------------------------------------------------ mappings
def test_mappings_are_bijective_on_a_row_stripe():
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 8})
    n = spec.channels * spec.banks_per_channel * spec.accesses_per_row * 4
    for name in MAPPINGS:
        spec.mapping = name
        ch, pc, bg, ba, row, col = spec.map_lines(np.arange(n))
        key = ((((ch * 2 + pc) * 4 + bg) * 4 + ba) * 65536 + row) * 32 + col
        assert len(np.unique(key)) == n, name


def test_mop4clxor_spreads_a_stream_over_pseudo_channels():
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 1, "mapping": "MOP4CLXOR"})
    _, pc, _, _, row, _ = spec.map_lines(np.arange(8))
    assert list(pc[:4]) == [0, 1, 0, 1] and len(set(row)) == 1
    spec.mapping = "RoBaRaCoCh"
    _, pc, _, _, _, col = spec.map_lines(np.arange(32))
    assert set(pc) == {0} and list(col) == list(range(32))


# ------------------------------------------------------------------------------ behaviour
def test_random_patterns_are_deterministic():
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 2})
    a = run_pattern(spec, "mixed", 3000, seed=3)
    b = run_pattern(spec, "mixed", 3000, seed=3)
    c = run_pattern(spec, "mixed", 3000, seed=4)
    assert a == b and a != c


def test_closed_page_turns_stream_hits_into_fewer_hits_for_random():
    spec_open = spec_from_dict({"preset": "hbm2_2000", "channels": 1})
    spec_closed = spec_from_dict({"preset": "hbm2_2000", "channels": 1, "page_policy": "closed"})
    o = run_pattern(spec_open, "random", 5000)
    c = run_pattern(spec_closed, "random", 5000)
    assert o["row_conflicts"] > 0.9 * 5000
    assert c["row_conflicts"] < 0.1 * 5000 and c["row_misses"] > 0.9 * 5000


def test_writes_drain_and_turnaround_costs_bandwidth():
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 1})
    rd = run_pattern(spec, "random", 20000)
    mixed = run_pattern(spec, "mixed", 20000)
    assert mixed["bandwidth_gbps"] < rd["bandwidth_gbps"]
    assert mixed["write_bandwidth_gbps"] > 0


def test_latency_probe_is_a_row_conflict_or_miss():
    spec = spec_from_dict({"preset": "hbm2_2000", "channels": 1})
    out = run_latency_probe(spec, 300)
    assert 30.0 <= out["avg_latency_ns"] <= 60.0


def test_stats_after_transfers():
    mem = build_memory({"impl": "hbm", "preset": "hbm2_2000", "channels": 8})
    run_requests(mem, [(1 << 20, False, 0), (1 << 16, True, 1 << 24)])
    st = mem.stats()
    for key in ("bandwidth_gbps", "row_hits", "row_misses", "row_conflicts", "row_hit_frac",
                "avg_latency_ns", "p99_latency_ns", "channel_utilization", "refresh_ns"):
        assert key in st
    assert 0 < st["bandwidth_gbps"] <= mem.peak_bandwidth_gbps()
    assert len(st["channel_utilization"]) == 8
    assert st["avg_latency_ns"] >= mem.spec.cycles_to_ns(mem.spec.row_hit_read_cycles())
    assert mem.describe()["preset"] == "hbm2_2000"


def test_large_transfer_is_extrapolated_deterministically():
    mem = build_memory({"impl": "hbm", "preset": "hbm2_2000", "channels": 8,
                        "max_simulated_requests": 4096})
    (t_big,) = run_requests(mem, [(64 << 20, False, 0)])
    assert mem.stats()["extrapolated_requests"] == (64 << 20) // 32 - 4096
    gbps = (64 << 20) / (t_big / 1000)
    # a long MOP4CLXOR stream runs at ~87 % of 256 GB/s (Ramulator: 223 GB/s)
    assert 200 < gbps < 240
    (again,) = run_requests(mem, [(64 << 20, False, 0)])
    assert again == t_big


def test_concurrent_transfers_share_the_device():
    mem = build_memory({"impl": "hbm", "preset": "hbm2_2000", "channels": 8})
    alone = run_requests(mem, [(1 << 18, False, 0)])[0]
    both = run_requests(mem, [(1 << 18, False, 0), (1 << 18, False, 1 << 26)], concurrent=True)
    assert max(both) > alone


# ------------------------------------------------------------------------------ CLI
def test_memtest_json(capsys):
    assert cli_main(["memtest", "--memory", "hbm2", "--channels", "1", "--pattern", "random",
                     "--requests", "3000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("bandwidth_gbps", "avg_latency_ns", "p99_latency_ns", "row_hit_frac"):
        assert key in out
    assert out["seed"] == 0


def test_memtest_text_and_hbm3(capsys):
    assert cli_main(["memtest", "--memory", "hbm3", "--pattern", "stream", "--requests", "5000",
                     "--mapping", "RoBaRaCoCh"]) == 0
    assert "bandwidth" in capsys.readouterr().out


def test_memtest_bad_input_is_one_line(capsys):
    assert cli_main(["memtest", "--memory", "hbm7", "--requests", "10"]) == 2
    err = capsys.readouterr().err
    assert "unknown memory preset 'hbm7'" in err and "Traceback" not in err
    assert cli_main(["memtest", "--memory", "hbm2", "--mapping", "XOR", "--requests", "10"]) == 2


def test_memtest_accepts_an_arch_file(tmp_path, capsys):
    f = tmp_path / "arch.yaml"
    f.write_text("memory: {impl: hbm, preset: hbm2_2000, channels: 2, mapping: RoBaRaCoCh}\n")
    assert cli_main(["memtest", "--memory", str(f), "--requests", "2000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mapping"] == "RoBaRaCoCh"


def test_organizations_and_timings_the_kernel_cannot_hold_are_refused(tmp_path):
    """A request key is ``flat bank << 32 | row`` and every bank has state: rows past 2^30, more
    than 2^20 banks or timings near int64 overflow are one clear error, not a corrupt replay."""
    text = (PRESET_DIR / "hbm2_2000.yaml").read_text()
    huge_rows = tmp_path / "huge_rows.yaml"
    huge_rows.write_text(text.replace("rows: 65536", "rows: 1099511627776"))
    assert "1099511627776" in huge_rows.read_text()
    with pytest.raises(ConfigError, match="organization.rows"):
        spec_from_dict({"preset": str(huge_rows)})
    with pytest.raises(ConfigError, match="banks .* more than the model holds"):
        spec_from_dict({"preset": "hbm2_2000", "channels": 1024, "stacks": 64})
    with pytest.raises(ConfigError, match="tRP of .* longer than the model holds"):
        spec_from_dict({"preset": "hbm2_2000", "tRP_cycles": 1 << 50})
    spec_from_dict({"preset": "hbm2_2000", "channels": 1024})     # 32k banks: fine
