"""Mesh NoC vs BookSim 2 (reduced windows; ``--full-validation`` runs the full table)."""

from __future__ import annotations

import pytest

import accelsim.validation.noc as validate


@pytest.mark.validation
def test_mesh_matches_booksim(reference_dir, full_validation):
    rows = validate.compare(quick=not full_validation,
                            latency_points=None if full_validation else 4,
                            ref_dir=reference_dir)
    table = "\n".join([validate.HEADER] + [r.format() for r in rows])
    failed = [r for r in rows if not r.ok]
    assert not failed, f"out of tolerance:\n{table}"
    metrics = {(r.mesh, r.packet_flits, r.metric) for r in rows}
    for mesh, p in (("4x4", 1), ("4x4", 4), ("8x8", 1)):
        assert {(mesh, p, "zero_load"), (mesh, p, "latency"), (mesh, p, "saturation")} <= metrics
