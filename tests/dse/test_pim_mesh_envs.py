"""The PIM (NeuPIMs system simulation) and mesh (MeshSimulation) envs evaluate: baseline,
random designs (deterministically), invalid combinations, and the Gymnasium checker."""

from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import accelsim.gym  # noqa: F401  (registers the ids)
from accelsim.dse import Evaluator, ResultCache, evaluate, load_env
from accelsim.dse._envdef import FEATURES, _feature_available, split_system
from accelsim.mapping.pim import pim_setup
from accelsim.pim_decode import simulate_decode_step
from accelsim.errors import ConfigError
from accelsim.workload.models import load_model

ROOT = Path(__file__).resolve().parents[2]
PIM_ENV = str(ROOT / "envs" / "neupims-pim-sizing.yaml")
MESH_ENV = str(ROOT / "envs" / "mesh-prefill-scaling.yaml")


def _fresh(env, design):
    """Evaluate with a new evaluator and an empty cache (no reuse between calls)."""
    return Evaluator(env, cache=ResultCache(memory_entries=0)).evaluate(design)


def test_features_are_available():
    assert {"pim", "mesh"} <= set(FEATURES)
    assert _feature_available("pim") is None and _feature_available("mesh") is None
    assert load_env(PIM_ENV).unavailable is None
    assert load_env(MESH_ENV).unavailable is None


# ---------------------------------------------------------------------------------- PIM

@pytest.fixture(scope="module")
def pim_env():
    # reduced size: batch 32 (the env's 256 takes seconds per design through simulate)
    return load_env(PIM_ENV).with_overrides({"workload.generate.batch": 32})


def test_pim_baseline_runs_the_neupims_system(pim_env):
    r = evaluate({}, pim_env, cache=ResultCache())
    assert r.status == "ok", r.error
    assert set(r.metrics) == {"latency_ns", "throughput_tok_s", "area_mm2"}
    assert r.metrics["throughput_tok_s"] == pytest.approx(
        32 / (r.metrics["latency_ns"] * 1e-9), rel=1e-9)
    # the scheduler knob reaches the system simulation: NeuPIMs beats NPU-only attention
    npu = evaluate({"scheduler": "npu-only"}, pim_env, cache=ResultCache())
    assert npu.status == "ok" and npu.metrics["throughput_tok_s"] < r.metrics["throughput_tok_s"]
    assert npu.metrics["area_mm2"] == r.metrics["area_mm2"]     # no PIM logic area in the model
    # hbm_stacks sets the PIM channels too: fewer stacks, less area and throughput
    one = evaluate({"hbm_stacks": 1}, pim_env, cache=ResultCache())
    assert one.metrics["area_mm2"] < r.metrics["area_mm2"]
    assert one.metrics["throughput_tok_s"] < r.metrics["throughput_tok_s"]


def test_pim_random_designs_are_deterministic(pim_env):
    rng = np.random.default_rng(7)
    designs = [pim_env.space.sample(rng) for _ in range(4)]
    first = [_fresh(pim_env, d) for d in designs]
    assert all(r.status == "ok" for r in first), [r.error for r in first]
    again = [_fresh(pim_env, d) for d in designs]
    assert [r.comparable() for r in first] == [r.comparable() for r in again]


def test_pim_impossible_combinations_are_invalid(pim_env):
    no_pim = pim_env.with_overrides({
        "arch_overrides.pim": {"impl": "none"},
        "knobs": [{"name": "scheduler", "key": "scheduler.impl", "values": ["npu-only", "naive"],
                   "baseline": "npu-only"}]})
    assert evaluate({}, no_pim, cache=ResultCache()).status == "ok"
    r = evaluate({"scheduler": "naive"}, no_pim, cache=ResultCache())
    assert r.status == "invalid" and "runs attention on PIM" in r.error
    with pytest.raises(ConfigError, match="must equal the HBM channels"):
        pim_env.with_overrides({"arch_overrides.pim.channels": 16})   # rejected at load


def test_pim_env_rejects_unknown_scheduler(pim_env):
    knobs = [dict(name="scheduler", key="scheduler.impl", values=["neupims", "nope"])]
    with pytest.raises(ConfigError, match="nope"):
        pim_env.with_overrides({"knobs": knobs})


def test_pim_energy_metrics_come_from_the_report_cost_model(pim_env):
    env = pim_env.with_overrides({"constraints": [{"metric": "power", "max": 300.0}]})
    ev = Evaluator(env, cache=ResultCache(memory_entries=0))
    r = ev.evaluate({})
    assert r.status == "ok", r.error
    assert {"energy_pj", "power_w", "edp_pj_ns"} <= set(r.metrics)
    # the same design priced directly
    arch_raw, system_raw = split_system(ev.arch_raw({}))
    arch = ev.pim_arch(arch_raw, system_raw)
    gen = env.workload.generate
    batch = ev.pim_batch(pim_setup(arch).spec, load_model(gen["model"]))
    e = simulate_decode_step(arch, gen["model"], batch, tp=gen["tp"], tech=env.tech)
    assert e.report.result.pim is not None and e.energy_pj > 0
    assert r.metrics["energy_pj"] == pytest.approx(e.energy_pj, rel=1e-12)
    assert r.metrics["power_w"] == pytest.approx(e.power_w, rel=1e-12)
    assert r.metrics["edp_pj_ns"] == pytest.approx(e.energy_pj * r.metrics["latency_ns"])


def test_pim_design_env_check_env():
    env = gymnasium.make("accelsim/Design-v0", env_def=PIM_ENV)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


# --------------------------------------------------------------------------------- mesh

@pytest.fixture(scope="module")
def mesh_env():
    return load_env(MESH_ENV)


def test_mesh_baseline_runs_the_mesh_engine(mesh_env):
    assert mesh_env.fidelity == "full"
    r = evaluate({}, mesh_env, cache=ResultCache())
    assert r.status == "ok", r.error
    assert r.metrics["latency_ns"] > 0 and r.metrics["energy_pj"] > 0
    assert r.metrics["area_mm2"] > 0


def test_mesh_random_designs_are_deterministic(mesh_env):
    rng = np.random.default_rng(3)
    designs = [mesh_env.space.sample(rng) for _ in range(2)]
    first = [_fresh(mesh_env, d) for d in designs]
    assert all(r.status in ("ok", "invalid") for r in first)
    assert any(r.status == "ok" for r in first), [r.error for r in first]
    again = [_fresh(mesh_env, d) for d in designs]
    assert [r.comparable() for r in first] == [r.comparable() for r in again]


def test_mesh_without_cores_is_invalid(mesh_env):
    r = evaluate({"mesh_columns": 2, "mesh_rows": 2}, mesh_env, cache=ResultCache())
    assert r.status == "invalid" and "no core nodes" in r.error
    assert r.metrics == {}


def test_mesh_design_env_check_env():
    # a smaller grid keeps the checker's handful of steps short
    env = gymnasium.make("accelsim/Design-v0", env_def=MESH_ENV,
                         overrides={"workload.generate.seq_len": 64})
    check_env(env.unwrapped, skip_render_check=True)
    env.close()
