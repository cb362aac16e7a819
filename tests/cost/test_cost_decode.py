"""Energy of NPU+PIM decode iterations: the engine's event counts, priced by hand from the
technology file; PIM moves the KV work off the host interface."""

import numpy as np
import pytest
import yaml

from accelsim.cost import estimate_area, estimate_decode
from accelsim.cost.tech import tech_dir
from accelsim.engine.neupims import DecodeBatch, load_system, simulate_decode
from accelsim.workload.models import load_model

TP = 4


@pytest.fixture(scope="module")
def model():
    return load_model("gpt3-7b")


@pytest.fixture(scope="module")
def batch():
    return DecodeBatch(np.array([64, 200, 512, 1000] * 8, dtype=np.int64), {})


@pytest.fixture(scope="module")
def runs(model, batch):
    return {name: (load_system(name), simulate_decode(load_system(name), batch, model=model,
                                                      tp=TP))
            for name in ("drb_gmlbp", "npu_only")}


def v(node):
    return node["value"]


def test_pim_counts_every_kv_element_once(runs, model, batch):
    embed = model.hidden // TP
    kv_macs = 2 * int(batch.seq_lens.sum()) * embed * model.layers     # K and V, every layer
    pim = runs["drb_gmlbp"][1].events
    npu = runs["npu_only"][1].events
    assert pim["pim_macs"] == kv_macs and npu["pim_macs"] == 0
    assert npu["npu_macs"] - pim["npu_macs"] == kv_macs      # NPU-only does them on the NPU
    assert npu["dram_bytes"] - pim["dram_bytes"] >= 2 * kv_macs  # and streams the fp16 KV


def test_decode_energy_equals_hand_computation(runs):
    tf = yaml.safe_load((tech_dir() / "7nm.yaml").read_text())
    system, r = runs["drb_gmlbp"]
    e = estimate_decode(r, system)
    ev = r.events
    pim = tf["pim"]
    expect = {
        "mac": ev["npu_macs"] * v(tf["compute"]["mac_pj"]["fp16"]),
        "pe_overhead": ev["npu_macs"] * v(tf["compute"]["pe_register_pj_per_mac"]),
        "vector": ev["vector_ops"] * (v(tf["compute"]["vector_op_pj"])
                                      + v(tf["compute"]["vector_operand_bits_per_op"])
                                      * v(tf["register_file"]["pj_per_bit"])),
        "dram": ev["dram_bytes"] * 8 * tf["dram"]["standards"]["hbm2"]["pj_per_bit"],
        "pim": ev["pim_macs"] * (v(pim["mac_fp16_pj"]) + 16 * v(pim["bank_pj_per_bit"]))
        + ev["pim_host_bytes"] * 8 * v(pim["host_pj_per_bit"]),
    }
    static = estimate_area(system.arch)["static_power_w"]
    time_ns = r.iteration_cycles * 1e3 / system.arch.clock_mhz
    expect["leakage"] = static * time_ns * 1e3
    for k, value in expect.items():
        assert e.energy_breakdown_pj[k] == pytest.approx(value, rel=1e-12), k
    assert e.energy_per_token_j == pytest.approx(sum(expect.values()) * 1e-12 / r.batch)
    assert e.memory_power_w == pytest.approx((expect["dram"] + expect["pim"]) * 1e-3 / time_ns)
    assert set(e.to_dict()) >= {"energy_pj", "energy_breakdown_pj", "avg_power_w"}


def test_pim_saves_memory_energy_per_token(runs):
    per_token = {name: estimate_decode(r, system) for name, (system, r) in runs.items()}
    mem = {name: (e.energy_breakdown_pj["dram"] + e.energy_breakdown_pj["pim"]) / e.tokens
           for name, e in per_token.items()}
    assert mem["drb_gmlbp"] < mem["npu_only"]
    assert per_token["drb_gmlbp"].energy_per_token_j < per_token["npu_only"].energy_per_token_j
