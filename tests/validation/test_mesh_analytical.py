"""Analytical fidelity on meshes vs full fidelity (issue 17): every shipped mesh preset
(``arch_configs/*mesh*``), prefill and decode of a zoo model (Mistral-7B, GQA, one layer).

The closed form (``MeshSimulation._closed_form_ps``: memory stream, channel-load bound of the
XY routes, per-share tile pipeline, reduction steps, root stores) must land within 10 % of the
SimPy run. Two null models must fail the same band where they should: compute only (the
critical cores' compute cycles) everywhere, and an ideal mesh (the closed form minus its NoC
share, the report's ``noc_cycles``) on the wafer, whose edge controllers make it mesh-bound.
Nothing is fitted: the closed form uses the arch's numbers and the partition the engine runs.
"""

from __future__ import annotations

import pytest

import accelsim
from accelsim.arch.config import arch_configs_dir

BAND = 0.10
MESH_PRESETS = sorted(p.stem for p in arch_configs_dir().glob("*mesh*.yaml"))
STEPS = {"prefill": dict(batch=1, seq_len=128), "decode": dict(batch=4, context=256)}


@pytest.fixture(scope="module")
def runs():
    out = {}
    for arch in MESH_PRESETS:
        for phase, kw in STEPS.items():
            trace = accelsim.generate_trace("mistral-7b", phase, layers=1, **kw)
            full = accelsim.simulate(arch, trace, progress=False)
            ana = accelsim.simulate(arch, trace, fidelity="analytical", progress=False)
            out[arch, phase] = (full, ana)
    return out


def _err(model: float, full: float) -> float:
    return model / full - 1.0


@pytest.mark.validation
def test_mesh_presets_are_the_three_shipped():
    assert MESH_PRESETS == ["mesh4x4_npu_hbm", "mesh8x8_npu_hbm", "wafer_mesh_32x32"]


@pytest.mark.validation
def test_mesh_analytical_within_10_percent_of_full_on_every_preset(runs):
    table, bad = [], []
    for (arch, phase), (full, ana) in runs.items():
        err = _err(ana.total_cycles, full.total_cycles)
        table.append(f"{arch:18s} {phase:8s} full {full.total_cycles:>9d} "
                     f"analytical {ana.total_cycles:>9d} {100 * err:+6.1f} %")
        if abs(err) > BAND:
            bad.append(table[-1])
    assert not bad, "outside +-10 %:\n" + "\n".join(table)


@pytest.mark.validation
def test_mesh_null_models_fail_the_band(runs):
    compute_only, ideal_mesh = {}, {}
    for key, (full, ana) in runs.items():
        compute_only[key] = _err(int(ana.ops["compute_cycles"].sum()), full.total_cycles)
        ideal_mesh[key] = _err(ana.total_cycles - int(ana.ops["noc_cycles"].sum()),
                               full.total_cycles)
        assert ana.ops["noc_cycles"].sum() > 0          # the closed form has a NoC term
    assert all(abs(e) > BAND for e in compute_only.values()), compute_only
    wafer = [e for (arch, _), e in ideal_mesh.items() if arch == "wafer_mesh_32x32"]
    assert wafer and all(abs(e) > BAND for e in wafer), ideal_mesh
