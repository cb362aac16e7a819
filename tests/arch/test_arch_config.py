"""Architecture YAML -> validated objects: presets, overrides, SCALE-Sim .cfg, and bad input."""

from pathlib import Path

import pytest

from accelsim.arch.config import arch_configs_dir, check_arch, load_arch, parse_arch
from accelsim.errors import ConfigError, UnknownImplError

PRESETS = sorted(p.stem for p in arch_configs_dir().glob("*.yaml"))
MINIMAL = {"systolic": {"rows": 8, "cols": 8}, "memory": {"impl": "ideal"}}


def test_the_four_required_presets_ship():
    for name in ("tpuv1_256x256_int8", "npu_128x128_bf16_hbm2", "edge_npu_32x32",
                 "scalesim_default"):
        assert name in PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_is_valid_and_documents_its_source(name):
    arch = check_arch(name)
    assert arch.source, f"{name} has no source: line"
    assert arch.build_memory().peak_bandwidth_gbps() > 0


def test_scalesim_default_equals_scalesim_configuration(repo_root):
    a = load_arch("scalesim_default")
    b = load_arch(repo_root / "tests/data/scale.cfg")
    for arch in (a, b):
        assert (arch.systolic.rows, arch.systolic.cols, arch.systolic.dataflow) == (32, 32, "ws")
        assert (arch.sram.ifmap_kib, arch.sram.filter_kib, arch.sram.ofmap_kib) == (64, 64, 64)
        assert arch.dtypes.act == "int8" and arch.memory["impl"] == "ideal"
        assert not arch.systolic.fold_pipelining


def test_overrides_are_typed_and_validated():
    a = load_arch("npu_128x128_bf16_hbm2", ["systolic.rows=64", "systolic.dataflow=os",
                                             "systolic.fold_pipelining=false"])
    assert (a.systolic.rows, a.systolic.dataflow, a.systolic.fold_pipelining) == (64, "os", False)
    a = load_arch("npu_128x128_bf16_hbm2", {"memory.channels": 16})
    assert a.build_memory().peak_bandwidth_gbps() == 512.0


@pytest.mark.parametrize("override, fragment", [
    ("systolic.dataflow=xs", "systolic.dataflow: expected one of os, ws, is, got 'xs'"),
    ("systolic.rowz=3", "systolic.rowz: unknown key (did you mean 'rows'?)"),
    ("systolic.rows=0", "systolic.rows: expected a value >= 1, got 0"),
    ("systolic.rows=-4", "systolic.rows: expected a value >= 1, got -4"),
    ("systolic.rows=abc", "systolic.rows: expected an integer, got str 'abc'"),
    ("systolic.rows=1.5", "systolic.rows: expected an integer, got float 1.5"),
    ("memory.channel_bandwidth_gbps=0", "memory.channel_bandwidth_gbps: expected a number > 0"),
    ("memory.impl=hbm9", "memory.impl: unknown memory impl 'hbm9'"),
    ("clock_mhz=.nan", "clock_mhz: expected a finite number"),
    ("sram.ifmap_kib=true", "sram.ifmap_kib: expected an integer, got bool True"),
    ("systolic=7", "systolic: expected a mapping, got int 7"),
    ("rows", "expected KEY.PATH=VALUE"),
])
def test_bad_overrides_name_key_expected_and_given(override, fragment):
    with pytest.raises(ConfigError) as err:
        load_arch("npu_128x128_bf16_hbm2", [override])
    assert fragment in str(err.value)


def test_missing_file_and_unknown_preset(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_arch(tmp_path / "nope.yaml")
    with pytest.raises(UnknownImplError, match="did you mean 'edge_npu_32x32'"):
        load_arch("edge_npu_32x23")


@pytest.mark.parametrize("text, fragment", [
    ("systolic: {rows: 8, cols: 8\nmemory: {impl: ideal}", "malformed YAML: line"),
    ("- a\n- b\n", "<top level>: expected a mapping, got list"),
    ("", "systolic: required key is missing"),
    ("systolic: {rows: 8, cols: 8}\n", "memory: required key is missing"),
    ("systolic: {rows: 8, cols: 8}\nmemory: {impl: ideal}\ncolor: red\n", "color: unknown key"),
    ("systolic: {rows: 8, cols: 8, dataflow: diagonal}\nmemory: {impl: ideal}\n",
     "systolic.dataflow: expected one of os, ws, is, got 'diagonal'"),
    ("systolic: {rows: 8, cols: 8}\nmemory: {impl: analytical, channels: 2}\n",
     "memory.channel_bandwidth_gbps: required key is missing"),
    ("systolic: {rows: 8, cols: 8}\nmemory: !!python/object:os.system {}\n", "malformed YAML"),
])
def test_bad_yaml_files_give_one_clear_line(tmp_path, text, fragment):
    path = tmp_path / "arch.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_arch(path)
    message = str(err.value)
    assert str(path) in message and fragment in message and "\n" not in message


def test_parse_minimal_mapping_fills_defaults():
    arch = parse_arch(MINIMAL)
    assert arch.systolic.dataflow == "ws" and arch.sram.mode == "separate"
    assert arch.clock_mhz == 1000.0


def test_unified_sram():
    arch = parse_arch({**MINIMAL, "sram": {"mode": "unified", "unified_kib": 512}})
    assert arch.sram.capacity_bytes() == {"unified": 512 * 1024}
    with pytest.raises(ConfigError, match="sram.ifmap_kib: unknown key"):
        parse_arch({**MINIMAL, "sram": {"mode": "unified", "unified_kib": 512, "ifmap_kib": 4}})


@pytest.mark.parametrize("text, fragment", [
    ("[architecture_presets]\nArrayHeight: 32\n", "[architecture_presets] ArrayWidth: required key"),
    ("not an ini file", "malformed SCALE-Sim config"),
])
def test_bad_scalesim_cfg(tmp_path, text, fragment):
    path = tmp_path / "x.cfg"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_arch(path)
    assert fragment in str(err.value)


def test_scalesim_cfg_user_bandwidth_mode(repo_root, tmp_path):
    text = (repo_root / "tests/data/scale.cfg").read_text().replace(
        "InterfaceBandwidth: CALC", "InterfaceBandwidth: USER")
    path = tmp_path / "user.cfg"
    path.write_text(text)
    arch = load_arch(path)
    assert arch.memory["impl"] == "analytical"
    assert arch.build_memory().peak_bandwidth_gbps() == 10.0


@pytest.mark.parametrize("controllers, fragment", [
    ({"placement": "none"}, "no memory-controller nodes"),
    ({"placement": "corners"}, "2x2 mesh has no core nodes"),
])
def test_multicore_mesh_needs_cores_and_memory_controllers(controllers, fragment):
    with pytest.raises(ConfigError) as err:
        load_arch("npu_128x128_bf16_hbm2", {"noc": {"impl": "mesh", "columns": 2, "rows": 2,
                                                   "memory_controllers": controllers}})
    assert "noc.memory_controllers" in str(err.value) and fragment in str(err.value)


def test_pim_needs_hbm():
    with pytest.raises(ConfigError, match="computes inside HBM banks"):
        load_arch("npu_128x128_bf16_hbm2", {"pim": {"impl": "neupims", "preset": "neupims_hbm2"}})
