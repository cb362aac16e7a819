"""Technology files: every value tagged, and precise errors for missing or malformed keys."""

import pytest
import yaml

from accelsim.cost import load_tech
from accelsim.cost.tech import tech_dir
from accelsim.errors import ConfigError, UnknownImplError

DEFAULT = yaml.safe_load((tech_dir() / "7nm.yaml").read_text())


def test_default_tech_loads_with_every_value_tagged():
    t = load_tech()
    assert t.name == "7nm" and t.node_nm == 7
    assert all(c.conf in ("H", "M", "L") and c.src for c in t.constants.values())
    assert all(s in t.sources for c in t.constants.values() for s in c.src)
    assert t.raw("dram.standards.lpddr4.pj_per_bit") == 8.0
    assert t.constants["dram.standards.lpddr4.pj_per_bit"].conf == "H"
    assert t.constants["dram.standards.lpddr4.phy_area_mm2_per_stack"].conf == "L"
    low = {c.path for c in t.low_confidence()}
    assert "compute.mac_pj.bf16" in low and "leakage.logic_mw_per_mm2" in low


def _write(tmp_path, mutate):
    raw = yaml.safe_load((tech_dir() / "7nm.yaml").read_text())
    mutate(raw)
    path = tmp_path / "tech.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("mutate, fragment", [
    (lambda r: r["compute"]["mac_pj"].pop("bf16"), "compute.mac_pj.bf16: required key is missing"),
    (lambda r: r["compute"]["mac_pj"]["int8"].update(value="abc"),
     "compute.mac_pj.int8.value: expected a number, got str 'abc'"),
    (lambda r: r["compute"]["mac_pj"]["int8"].update(value=-1),
     "compute.mac_pj.int8.value: expected a number > 0"),
    (lambda r: r["sram"]["read_b"].update(conf="X"),
     "sram.read_b.conf: expected a confidence tag, one of H, M, L, got 'X'"),
    (lambda r: r["sram"]["read_b"].pop("src"), "sram.read_b.src: required key is missing"),
    (lambda r: r["sram"]["read_b"].update(src="nowhere"), "sram.read_b.src: unknown source 'nowhere'"),
    (lambda r: r["sram"]["read_b"].update(vaule=1), "sram.read_b.vaule: unknown key"),
    (lambda r: r["dram"]["standards"]["hbm3"].pop("pj_per_bit"),
     "dram.standards.hbm3.pj_per_bit: required key is missing"),
    (lambda r: r["dram"]["standards"]["gddr6"]["conf"].pop("pj_per_bit"),
     "dram.standards.gddr6.conf.pj_per_bit: required key is missing"),
    (lambda r: r["scaling"]["logic_energy"]["value"].update({5: "big"}),
     "scaling.logic_energy.value.5: expected a positive factor, got 'big'"),
    (lambda r: r.pop("noc"), "noc: required key is missing"),
    (lambda r: r.update(colour="red"), "colour: unknown key"),
    (lambda r: r["dram"]["default_standard"].update(value="hbm9"),
     "dram.default_standard.value: expected one of"),
])
def test_missing_or_malformed_key_names_file_and_key_path(tmp_path, mutate, fragment):
    path = _write(tmp_path, mutate)
    with pytest.raises(ConfigError) as err:
        load_tech(path)
    message = str(err.value)
    assert str(path) in message and fragment in message and "\n" not in message


def test_bad_yaml_unknown_names_and_nodes(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ncompute: {mac_pj: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml: malformed YAML: line"):
        load_tech(path)
    with pytest.raises(ConfigError, match="technology file not found"):
        load_tech(tmp_path / "none.yaml")
    with pytest.raises(UnknownImplError, match="unknown technology 'seven'"):
        load_tech("seven")
    with pytest.raises(ConfigError, match="expected a node between 2 and 45 nm, got '1nm'"):
        load_tech("1nm")
    with pytest.raises(ConfigError, match="tech.node: expected a node like 7nm or 7"):
        load_tech("7nm", node="small")
    with pytest.raises(UnknownImplError, match="unknown DRAM standard 'hbm9'"):
        load_tech().dram("hbm9", "pj_per_bit")


@pytest.mark.parametrize("module", ["accelsim.cost.tech", "accelsim.cost.model"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
