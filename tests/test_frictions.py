"""Newcomer frictions of issue 19: `report` prints the table and refuses bad JSON in one line,
energy reads in mJ/J, the DSE Pareto plot draws its constraints in ms, bad `--cache` files and
`validate --reference` folders are exit 2, and the README's examples write distinct outputs."""

import json
import re
import sqlite3
from pathlib import Path

import pytest

from accelsim.cli import main
from accelsim.errors import AccelsimError

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / "traces/tiny-llama-gqa-test_decode_b4_ctx64.csv")


def _one_error_line(capsys, *needles) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("accelsim: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A saved report and the table `simulate` printed for it."""
    import contextlib
    import io

    path = tmp_path_factory.mktemp("run") / "run.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["simulate", "--trace", TINY, "--json", str(path), "--top", "5"]) == 0
    table = out.getvalue().split("\n\nsimulated in ", 1)[0]
    return path, table


# ------------------------------------------------------------------ 1. report prints the table
def test_report_without_plots_prints_the_table_simulate_printed(saved_run, capsys):
    path, table = saved_run
    assert main(["report", str(path), "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip("\n") == table.rstrip("\n")
    assert "by operator class:" in out and "top 5 operators by time:" in out


def test_report_with_plots_prints_the_table_and_the_pngs(saved_run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path, table = saved_run
    assert main(["report", str(path), "--plots", str(tmp_path / "p"), "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(table.rstrip("\n"))
    assert "wrote plot: " in out and (tmp_path / "p" / "roofline.png").exists()


# ------------------------------------------------------------------ 2. bad report JSON
def _mutate(report: dict, what: str):
    if what == "ops is a number":
        report["ops"] = 5
    elif what == "clock_mhz 0":
        report["clock_mhz"] = 0
    elif what == "op field a string":
        report["ops"][0]["total_cycles"] = "many"
    elif what == "unknown unit":
        report["ops"][0]["unit"] = "gpu"
    elif what == "op is a list":
        report["ops"][1] = [1, 2]
    elif what == "no ops":
        report["ops"] = []
    elif what == "arch is a string":
        report["arch"] = "npu"
    elif what == "units wrong":
        report["units"] = {"systolic": 3}
    elif what == "boolean cycles":
        report["total_cycles"] = True
    return report


BAD_FIELDS = {"ops is a number": "ops: expected a list", "clock_mhz 0": "clock_mhz: expected",
              "op field a string": "ops[0].total_cycles: expected an integer",
              "unknown unit": "ops[0].unit: expected one of", "op is a list": "ops[1]: expected",
              "no ops": "ops: expected at least one", "arch is a string": "arch: expected an object",
              "units wrong": "units.systolic: expected", "boolean cycles": "total_cycles: expected"}


@pytest.mark.parametrize("what", list(BAD_FIELDS))
def test_report_with_wrong_types_is_one_line_exit_2(saved_run, tmp_path, capsys, what):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_mutate(json.loads(saved_run[0].read_text()), what)))
    assert main(["report", str(bad)]) == 2
    _one_error_line(capsys, str(bad), BAD_FIELDS[what])


BAD_FILES = {
    "nan": (lambda p: p.write_text('{"ops": [], "clock_mhz": NaN}'), "NaN is not allowed"),
    "infinity": (lambda p: p.write_text('{"clock_mhz": 1e400, "ops": [], "arch": {}, '
                                        '"total_cycles": 1, "total_time_ns": 1.0, '
                                        '"memory": {}, "trace": {}}'),
                 "clock_mhz: expected a number > 0, got the number inf"),
    "deep nesting": (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "deep object": (lambda p: p.write_text('{"a":' * 100_000 + "1" + "}" * 100_000),
                    "nested too deeply"),
    "a list": (lambda p: p.write_text("[1, 2]"), "expected a JSON object, got a list"),
    "binary": (lambda p: p.write_bytes(bytes(range(256)) * 4), "not UTF-8"),
    "latin-1": (lambda p: p.write_bytes('{"name": "caf\xe9"}'.encode("latin-1")), "not UTF-8"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "missing": (lambda p: None, "file not found"),
    "huge integer": (lambda p: p.write_text('{"total_cycles": ' + "9" * 5000 + "}"),
                     "too many digits"),
    "truncated": (lambda p: p.write_text('{"ops": [1, 2'), "not a JSON report"),
}


@pytest.mark.parametrize("what", list(BAD_FILES))
def test_report_with_a_bad_file_is_one_line_exit_2(tmp_path, capsys, what):
    make, needle = BAD_FILES[what]
    path = tmp_path / "run.json"
    make(path)
    assert main(["report", str(path)]) == 2
    _one_error_line(capsys, str(path), needle)


def test_report_unreadable_file_is_one_line_exit_2(saved_run, tmp_path, monkeypatch, capsys):
    path = tmp_path / "run.json"
    path.write_text(saved_run[0].read_text())

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))
    monkeypatch.setattr(Path, "read_bytes", denied)       # root reads chmod 000 files anyway
    assert main(["report", str(path)]) == 2
    _one_error_line(capsys, str(path), "permission denied")


# ------------------------------------------------------------------ 3. energy units
def test_energy_reads_in_the_unit_it_reaches():
    from accelsim.cost.plots import energy_unit, format_energy

    assert format_energy(2_347_114e6) == "2.347 J"          # 2,347,114 uJ
    assert format_energy(70.35e9) == "70.350 mJ"
    assert energy_unit(5e6) == (1e6, "uJ") and energy_unit(12.0) == (1.0, "pJ")
    assert energy_unit(0) == (1.0, "pJ")


def test_cost_prints_energy_in_mj_or_j_and_power_in_w(capsys):
    assert main(["cost", "--arch", "npu_128x128_bf16_hbm2"]) == 0
    out = capsys.readouterr().out
    energy = [line for line in out.splitlines() if line.startswith("energy: ")]
    assert energy and re.match(r"energy: [\d.]+ J over [\d.]+ ms$", energy[0]), energy
    assert " uJ" not in out
    assert re.search(r"  dram +[\d,.]+ mJ +[\d.]+%", out)
    assert re.search(r"power: average [\d.]+ W, peak [\d.]+ W", out)


def test_energy_plot_uses_the_unit_of_its_tallest_bar(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from accelsim.api import load_arch, load_trace, simulate
    from accelsim.cost import estimate
    from accelsim.cost import plots

    seen = {}
    real = plots._save

    def keep(fig, plt, path):
        ax = fig.axes[0]
        seen.update(ylabel=ax.get_ylabel(), title=ax.get_title())
        return real(fig, plt, path)
    monkeypatch.setattr(plots, "_save", keep)
    report = simulate(load_arch("npu_128x128_bf16_hbm2"),
                      load_trace(REPO / "traces/llama2-7b_decode_b32_ctx2048.csv"),
                      fidelity="analytical", progress=False)
    path = plots.energy_breakdown_png(estimate(report), tmp_path / "e.png")
    assert path.exists()
    assert seen["ylabel"] == "energy (mJ)" and re.search(r"total [\d.]+ J, avg", seen["title"])


# ------------------------------------------------------------------ 4. Pareto plot
def test_axis_scale_reads_ms_scale_latency_in_ms():
    from accelsim.dse._pareto import axis_scale

    assert axis_scale("latency_ns [ns]", [9.5e7, 7.6e8]) == (1e6, "latency [ms]")
    assert axis_scale("latency_ns [ns]", [3e3, 9e4]) == (1e3, "latency [us]")
    assert axis_scale("energy_pj [pJ]", [2.2e11]) == (1e9, "energy [mJ]")
    assert axis_scale("area_mm2 [mm2]", [50.0]) == (1.0, "area_mm2 [mm2]")
    assert axis_scale("throughput_tok_s [tokens/s] (max)", [1e3])[0] == 1.0


def test_pareto_plot_draws_the_constraint_line_in_ms(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import numpy as np
    from matplotlib.figure import Figure

    from accelsim.dse._envdef import Constraint
    from accelsim.dse._pareto import pareto_mask, plot_front

    figures = []
    real = Figure.savefig

    def keep(self, *args, **kwargs):
        figures.append(self)
        return real(self, *args, **kwargs)
    monkeypatch.setattr(Figure, "savefig", keep)
    feas = np.array([[9.5e7, 73.0], [1.9e8, 29.0], [3.8e8, 25.0], [7.6e8, 19.5], [4e8, 60.0]])
    infeas = np.array([[3e7, 400.0], [1e8, 120.0]])
    path = tmp_path / "pareto.png"
    assert plot_front(path, feas, feas[pareto_mask(feas)], ["latency_ns [ns]", "area_mm2 [mm2]"],
                      title="t", infeasible=infeas,
                      constraints=[Constraint("area", 75.0, "max"), ("power_w", 50.0, "max")])
    assert path.read_bytes().startswith(b"\x89PNG")
    ax = figures[0].axes[0]
    assert ax.get_xlabel() == "latency [ms]"
    assert ax.get_xlim()[0] < 95 < 760 < ax.get_xlim()[1]            # the data, in ms
    limit = [line for line in ax.get_lines() if line.get_label().startswith("constraint: ")]
    assert len(limit) == 1 and list(limit[0].get_ydata()) == [75.0, 75.0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "constraint: area_mm2 <= 75 mm2" in labels
    assert "constraint (not an axis): power_w <= 50" in labels


# ------------------------------------------------------------------ 5. --cache files
def _cache_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "cache.sqlite"
    if kind == "garbage":
        path.write_bytes(b"\x00\xffnot sqlite" * 300)
    elif kind == "text":
        path.write_text("hello\n")
    elif kind == "directory":
        path.mkdir()
    elif kind == "other database":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE results (a, b)")
        db.commit()
        db.close()
    elif kind == "corrupt database":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE results (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                   "seq INTEGER NOT NULL)")
        db.commit()
        db.close()
        data = path.read_bytes()
        path.write_bytes(data[:100] + b"\xff" * (len(data) - 100))
    elif kind == "under a file":
        (tmp_path / "f").write_text("x")
        path = tmp_path / "f" / "cache.sqlite"
    return path


CACHE_ERRORS = {"garbage": "not an SQLite database", "text": "not an SQLite database",
                "directory": "is a directory", "other database": "not an accelsim result cache",
                "corrupt database": "malformed", "under a file": "not a directory"}


@pytest.mark.parametrize("kind", list(CACHE_ERRORS))
def test_bad_cache_file_is_a_clear_error(tmp_path, kind):
    from accelsim.dse import ResultCache

    path = _cache_file(tmp_path, kind)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(AccelsimError, match=re.escape(CACHE_ERRORS[kind])) as info:
        ResultCache(path)
    assert str(path.parent if kind == "under a file" else path) in str(info.value)
    if kind not in ("directory", "under a file"):
        assert "delete it or pass another --cache path" in str(info.value)
        assert path.read_bytes() == before                       # never changed


def test_cache_entry_that_is_not_a_record_is_a_clear_error(tmp_path):
    from accelsim.dse import ResultCache

    path = tmp_path / "c.sqlite"
    cache = ResultCache(path)
    cache.put("k", {"status": "ok"})
    cache._conn().execute("UPDATE results SET value = '[1, 2' WHERE key = 'k'")
    cache.clear_memory()
    with pytest.raises(AccelsimError, match="is not a JSON record; delete it"):
        cache.get("k")
    cache.close()
    assert ResultCache(path).get("missing") is None          # an empty or valid file works


@pytest.mark.parametrize("kind", ["garbage", "directory"])
def test_dse_run_with_a_bad_cache_exits_2(tmp_path, capsys, kind):
    path = _cache_file(tmp_path, kind)
    assert main(["dse", "run", str(REPO / "envs/llama2-7b-decode-latency-under-area.yaml"),
                 "--budget", "2", "--workers", "1", "--no-progress", "--out",
                 str(tmp_path / "study"), "--cache", str(path)]) == 2
    _one_error_line(capsys, str(path))
    assert not (tmp_path / "study").exists()                  # refused before the study starts


# ------------------------------------------------------------------ 6. validate --reference
def test_validate_reference_missing_file_or_unreadable_is_exit_2(tmp_path, capsys, monkeypatch):
    assert main(["validate", "--quick", "--reference", str(tmp_path / "nope")]) == 2
    _one_error_line(capsys, str(tmp_path / "nope"), "reference data folder not found")
    (tmp_path / "file").write_text("x")
    assert main(["validate", "--quick", "--reference", str(tmp_path / "file")]) == 2
    _one_error_line(capsys, str(tmp_path / "file"), "not a directory")
    (tmp_path / "empty").mkdir()
    assert main(["validate", "--quick", "--reference", str(tmp_path / "empty")]) == 2
    _one_error_line(capsys, str(tmp_path / "empty"))            # names the missing file in it
    import os

    monkeypatch.setattr(os, "access", lambda *a, **k: False)  # root reads chmod 000 folders
    assert main(["validate", "--quick", "--reference", str(tmp_path / "empty")]) == 2
    _one_error_line(capsys, str(tmp_path / "empty"), "permission denied")


def test_validate_names_a_missing_default_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ACCELSIM_REFERENCE", str(tmp_path / "gone"))
    assert main(["validate", "--quick"]) == 2
    _one_error_line(capsys, str(tmp_path / "gone"), "$ACCELSIM_REFERENCE")


# ------------------------------------------------------------------ 7. README
def test_readme_examples_write_distinct_outputs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## The command line", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    outputs = []
    for line in block.splitlines():
        for flag in ("--plots", "-o", "--out", "--json", "--csv", "--timeline"):
            outputs += re.findall(rf"(?:^|\s){re.escape(flag)} (\S+)", line.split("#")[0])
    outputs = [o for o in outputs if not o.startswith("-")]
    assert len(outputs) >= 8 and len(outputs) == len(set(outputs)), outputs


def test_readme_says_where_the_reference_data_comes_from():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    text = " ".join(quick.split())
    assert "../shared/reference/" in text and "$ACCELSIM_REFERENCE" in text
    assert "reference data not found at PATH; set ACCELSIM_REFERENCE" in text
