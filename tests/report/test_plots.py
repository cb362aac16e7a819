"""Plots for a shipped trace: every PNG exists and is a real picture; CLI paths work."""

import json

import pytest

from accelsim.cli import main

pytest.importorskip("matplotlib")
PNG = b"\x89PNG\r\n\x1a\n"


def test_simulate_and_report_write_non_trivial_pngs(tmp_path, capsys):
    run = tmp_path / "run.json"
    assert main(["simulate", "--trace", "traces/llama3-8b_prefill_b1_s512.csv", "--arch",
                 "edge_npu_32x32", "--json", str(run), "--plots", str(tmp_path / "a"),
                 "--timeline", str(tmp_path / "t.json")]) == 0
    assert main(["report", str(run), "--plots", str(tmp_path / "b")]) == 0
    for folder in ("a", "b"):
        files = sorted((tmp_path / folder).glob("*.png"))
        assert [f.stem for f in files] == ["bandwidth_over_time", "latency_breakdown",
                                           "roofline", "utilization_over_time"]
        for f in files:
            data = f.read_bytes()
            assert data.startswith(PNG) and len(data) > 20_000, f
    assert json.loads((tmp_path / "t.json").read_text())["traceEvents"]


def test_report_rejects_non_reports(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text('{"a": 1}')
    assert main(["report", str(bad), "--plots", str(tmp_path)]) == 2
    assert "not an accelsim report" in capsys.readouterr().err
    bad.write_text("{")
    assert main(["report", str(bad), "--plots", str(tmp_path)]) == 2
