"""The README's Speed table is generated (scripts/update_readme_speed.py), never typed.

Formats a fake set of benchmark JSON figures; never runs a benchmark, never asserts wall time.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def updater():
    spec = importlib.util.spec_from_file_location("update_readme_speed",
                                                  REPO / "scripts" / "update_readme_speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def fig(name, value, unit, op=None, goal=None):
    met = None if op is None else (value >= goal if op == ">=" else value <= goal)
    return {"name": name, "value": value, "unit": unit,
            "goal": None if op is None else {"op": op, "value": goal}, "met": met}


def fake_results(updater, random_rate=1.2e6):
    payloads = {
        "bench_sim": [fig("scalesim_runs", 131, "count"), fig("scalesim_wall_s", 0.4, "s"),
                      fig("scalesim_reference_wall_s", 3976.0, "s"),
                      fig("scalesim_speedup", 9940.0, "x", ">=", 1000),
                      fig("scalesim_cycle_mismatches", 0, "count", "<=", 0),
                      fig("llama_decode_operators", 451, "count"),
                      fig("llama_decode_generate_s", 0.02, "s"),
                      fig("llama_decode_simulate_s", 0.04, "s"),
                      fig("llama_decode_wall_s", 0.06, "s", "<=", 1),
                      fig("llama_decode_hbm_simulate_warm_s", 0.7, "s", "<=", 1),
                      fig("llama_decode_hbm_simulate_warm_cpu_s", 0.6, "s"),
                      fig("llama_decode_hbm_simulate_cold_s", 4.0, "s", "<=", 5)],
        "bench_serve": [fig("serve_hour_wall", 50.0, "s", "<=", 60),
                        fig("serve_hour_cpu", 45.0, "s"), fig("serve_hour_rss", 480.0, "MB",
                                                             "<=", 1024)],
        "bench_serving": [fig("iterations", 100, "count"), fig("operator_rows", 71500, "count"),
                          fig("schedule_s", 1.2, "s"), fig("simulate_s", 1.5, "s", "<=", 10)],
        "bench_dram": [fig(f"{p}_cpu_requests_per_s", r, "requests/s", ">=", 5e6)
                       for p, r in (("stream", 6.2e6), ("random", random_rate), ("mixed", 5.5e6))],
        "bench_noc": [fig("cpu_flit_hops_per_s", 2.3e6, "flit-hops/s", ">=", 1e6)],
        "multicore_scaling": [fig("wall_flit_hops_per_s", 2.5e7, "flit-hops/s", ">=", 1e6)],
        "bench_dse": [fig("analytical_evals_per_s", 250.0, "evaluations/s", ">=", 200),
                      fig("full_evals_per_s", 20.0, "evaluations/s", ">=", 2),
                      fig("step_overhead_ms", 0.07, "ms", "<=", 1)],
        "reproduce_neupims": [fig("batches", 10, "count"), fig("neupims_over_naive", 1.71, "x"),
                              fig("wall_s", 20.0, "s", "<=", 60)],
    }
    assert set(payloads) == set(updater.BENCHMARKS)
    return {name: updater.figures_of({"figures": figs}) for name, figs in payloads.items()}


def commands(updater, quick=False):
    return {name: updater.command_line(name, quick) for name in updater.BENCHMARKS}


def test_readme_has_the_speed_markers_once():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    speed = text.split("## Speed", 1)[1].split("\n## ", 1)[0]
    for marker in ("<!-- speed:start -->", "<!-- speed:end -->"):
        assert text.count(marker) == 1
        assert marker in speed
    block = speed.split("<!-- speed:start -->", 1)[1].split("<!-- speed:end -->", 1)[0]
    assert "| what | command | measured | goal | met |" in block


def test_every_benchmark_has_a_json_option(updater):
    for script, _ in updater.BENCHMARKS.values():
        assert '"--json"' in (REPO / script).read_text(encoding="utf-8"), script


def test_unmet_goal_is_marked(updater):
    table, unmet = updater.render_table(fake_results(updater), commands(updater))
    assert unmet == 1
    hbm = next(line for line in table.splitlines() if "HBM" in line)
    assert "**NOT MET**" in hbm and "random 1.2 M/s < 5 M/s" in hbm
    assert "stream" not in hbm.split("NOT MET")[1]          # only the figures that miss
    others = [line for line in table.splitlines()[2:] if "HBM" not in line]
    assert len(others) == len(updater.ROWS) - 1
    assert all(line.rstrip().endswith("| yes |") for line in others)


def test_figures_come_from_the_json(updater):
    table, unmet = updater.render_table(fake_results(updater, random_rate=5.1e6),
                                        commands(updater))
    assert unmet == 0 and "NOT MET" not in table
    assert "the 131 SCALE-Sim reference GEMMs" in table
    assert "0.4 s vs SCALE-Sim's 3,976 s (9,940×), 0 cycle mismatches" in table
    assert "(71,500 operators)" in table and "1.5 s simulation" in table
    assert "250/s / 20/s; 0.07 ms" in table
    assert "`python scripts/bench_noc.py`, `python scripts/multicore_scaling.py`" in table
    assert "≥ 5 M/s each" in table


def test_quick_uses_reduced_options_and_says_so(updater):
    table, _ = updater.render_table(fake_results(updater), commands(updater, quick=True))
    assert "`python scripts/reproduce_neupims.py --quick`" in table
    assert "reduced size" in updater.footer(True, 12.0, 0)
    foot = updater.footer(False, 52.0, 1, date="2025-01-01", cpus=2, python="3.11.7",
                          load=1.5)
    assert "2025-01-01" in foot and "2 CPU" in foot and "Python 3.11.7" in foot
    assert "full size" in foot and "not met" in foot and "load average 1.5" in foot


def test_replace_block_touches_only_the_markers(updater):
    text = "before\n<!-- speed:start -->\nold\n<!-- speed:end -->\nafter\n"
    assert updater.replace_block(text, "new \\1 table") == (
        "before\n<!-- speed:start -->\nnew \\1 table\n<!-- speed:end -->\nafter\n")
    with pytest.raises(ValueError):
        updater.replace_block("no markers", "x")
