"""Energy of NPU+PIM decode through the report's cost model: PIM counts every KV element once,
priced from the technology file; PIM moves the KV work off the host interface."""

import pytest
import yaml

from accelsim.api import load_arch, simulate
from accelsim.cost import estimate
from accelsim.cost.tech import tech_dir
from accelsim.workload.generate import decode_step_trace
from accelsim.workload.models import load_model

LENS = [64, 200, 512, 1000] * 8


def v(node):
    return node["value"]


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name, sched in (("pim", "gmlbp"), ("npu_only", "npu-only")):
        arch = load_arch("neupims_npu_hbm", overrides={"pim.scheduler.impl": sched})
        out[name] = simulate(arch, decode_step_trace("gpt3-7b", LENS, layers=2))
    return out


def test_pim_counts_every_kv_element_once(runs):
    m = load_model("gpt3-7b")
    kv_macs = 2 * sum(LENS) * m.hidden * 2                 # K and V, 2 layers
    pim = runs["pim"].result.memory_stats["pim"]
    assert pim["macs"] == kv_macs and pim["bits"]["bank"] == 16 * kv_macs
    assert "pim" not in runs["npu_only"].result.memory_stats
    dram = {k: int(r.ops["dram_read_bytes"].sum()) for k, r in runs.items()}
    assert dram["npu_only"] - dram["pim"] >= 2 * kv_macs     # NPU-only streams the fp16 KV


def test_pim_energy_equals_hand_computation(runs):
    tf = yaml.safe_load((tech_dir() / "7nm.yaml").read_text())
    pim = tf["pim"]
    stats = runs["pim"].result.memory_stats["pim"]
    expect = stats["macs"] * (v(pim["mac_fp16_pj"]) + 16 * v(pim["bank_pj_per_bit"])) \
        + stats["bits"]["host"] * v(pim["host_pj_per_bit"])
    assert estimate(runs["pim"]).energy_breakdown_pj["pim"] == pytest.approx(expect, rel=1e-12)


def test_pim_saves_memory_energy(runs):
    e = {k: estimate(r).energy_breakdown_pj for k, r in runs.items()}
    mem = {k: x["dram"] + x["pim"] for k, x in e.items()}
    assert mem["pim"] < mem["npu_only"]
    assert sum(e["pim"].values()) < sum(e["npu_only"].values())
