"""Lab 1: run an LLM trace from the CLI, read the report, explain it with the roofline.

    python docs/labs/lab1_cli_roofline/starter.py [--out lab1_out]

This is the lab's harness. It runs exactly the handout's commands (``accelsim trace gen`` and
``accelsim simulate --json``, in this process), then reads the JSON reports and puts every
operator next to its roofline bound. The four roofline functions are not here: ``run(out, impl)``
takes them from ``impl``, the module that calls it (``starter.py``, or the reference solution).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import labkit  # noqa: E402

ARCH = "npu_128x128_bf16_hbm2"
MODEL = "llama2-7b"
LAYERS = 2
DECODE = {"batch": 8, "context": 1024}
PREFILL = {"batch": 1, "seq_len": 512}


# ----------------------------------------------------------------------------- the runs
def commands(work: Path, plots: bool) -> list[list[str]]:
    """The handout's command lines (without the leading ``accelsim``)."""
    cmds = []
    for phase, shape in (("decode", DECODE), ("prefill", PREFILL)):
        size = (["--context", str(shape["context"])] if phase == "decode"
                else ["--seq-len", str(shape["seq_len"])])
        cmds.append(["trace", "gen", "--model", MODEL, "--phase", phase,
                     "--batch", str(shape["batch"]), *size, "--layers", str(LAYERS),
                     "--attention", "unfused",
                     "-o", str(work / f"{phase}.csv"), "--force"])
        sim = ["simulate", "--arch", ARCH, "--trace", str(work / f"{phase}.csv"),
               "--json", str(work / f"{phase}.json"), "--quiet", "--no-progress", "--force"]
        if plots:
            sim += ["--plots", str(work / f"{phase}_plots")]
        cmds.append(sim)
    return cmds


def peaks(report: dict, impl) -> dict:
    """Peak FLOP/s of the systolic array and peak DRAM bandwidth, from a JSON report."""
    sa = report["arch"]["systolic"]
    pes = sa["rows"] * sa["cols"] * sa.get("count", 1)
    peak = 2 * pes * report["clock_mhz"] * 1e6            # 2 FLOP per MAC per PE per cycle
    bw = report["memory"]["peak_bandwidth_gbps"] * 1e9
    return {"peak_flops_per_s": peak, "bandwidth_bytes_per_s": bw,
            "ridge": impl.ridge_point(peak, bw)}


def analyse(report: dict, impl) -> dict:
    """Per operator name (summed over layers): intensity, roofline bound and time, simulated
    time, and the report's own ``bound`` column. ``impl``: the module whose ``ridge_point``,
    ``arithmetic_intensity``, ``roofline_time_ns`` and ``roofline_bound`` are used (the starter
    passes itself)."""
    p = peaks(report, impl)
    clock_hz = report["clock_mhz"] * 1e6
    total_ns = report["total_time_ns"]
    rows: dict[str, dict] = {}
    for op in report["ops"]:
        r = rows.setdefault(op["name"], {"op_class": op["op_class"], "unit": op["unit"],
                                         "flops": 0, "bytes": 0, "sim_ns": 0.0, "bound": set()})
        r["flops"] += op["flops"]
        r["bytes"] += op["dram_read_bytes"] + op["dram_write_bytes"]
        r["sim_ns"] += op["total_cycles"] / clock_hz * 1e9
        r["bound"].add(op["bound"])
    out = {}
    for name, r in rows.items():
        if r["unit"] != "systolic":          # the roofline below is the systolic array's
            continue
        ai = impl.arithmetic_intensity(r["flops"], r["bytes"])
        roof = impl.roofline_time_ns(r["flops"], r["bytes"], p["peak_flops_per_s"],
                                     p["bandwidth_bytes_per_s"])
        out[name] = {"op_class": r["op_class"], "intensity": ai,
                     "roofline_bound": impl.roofline_bound(ai, p["ridge"]),
                     "roofline_ns": roof, "sim_ns": r["sim_ns"],
                     "sim_over_roofline": r["sim_ns"] / roof if roof else float("nan"),
                     "achieved_tflops": r["flops"] / r["sim_ns"] / 1e3,
                     "share": r["sim_ns"] / total_ns,
                     "report_bound": "/".join(sorted(r["bound"]))}
    by_class = {s["op_class"]: s["share"] for s in report["summary"]}
    return {"peaks": p, "total_us": total_ns / 1e3, "ops": out, "class_share": by_class,
            "total_flops": report["total_flops"],
            "dram_bytes": report["dram_read_bytes"] + report["dram_write_bytes"]}


def run(out_dir: str | Path | None, impl) -> dict:
    plots = out_dir is not None and labkit.have("matplotlib")
    with labkit.work_dir(out_dir) as work:
        for argv in commands(work, plots):
            labkit.run_cli(argv)
        console = labkit.run_cli(["simulate", "--arch", ARCH, "--trace", str(work / "decode.csv"),
                                  "--top", "6", "--no-progress"])
        decode = json.loads((work / "decode.json").read_text())
        prefill = json.loads((work / "prefill.json").read_text())
    res = {"decode": analyse(decode, impl), "prefill": analyse(prefill, impl),
           # the console report, without its last line (wall time differs run to run)
           "console": "\n".join(l for l in console.rstrip().splitlines()
                                if not l.startswith("simulated in ")).rstrip()}
    return res


# ----------------------------------------------------------------------------- the handout blocks
def _op_table(a: dict) -> str:
    rows = []
    for name, o in sorted(a["ops"].items(), key=lambda kv: -kv[1]["sim_ns"]):
        rows.append([f"`{name}`", f"{o['intensity']:.1f}", o["roofline_bound"],
                     f"{o['roofline_ns'] / 1e3:,.1f}", f"{o['sim_ns'] / 1e3:,.1f}",
                     f"{o['sim_over_roofline']:.2f}", f"{o['achieved_tflops']:.2f}",
                     f"{100 * o['share']:.1f}%", o["report_bound"]])
    return labkit.md_table(["operator", "FLOP/B", "roofline says", "roofline µs", "simulated µs",
                            "sim / roofline", "TFLOP/s", "share of step", "report `bound`"], rows)


def blocks(res: dict) -> dict[str, str]:
    p = res["decode"]["peaks"]
    peaks_md = labkit.md_table(["peak compute", "peak DRAM bandwidth", "ridge point"], [[
        f"{p['peak_flops_per_s'] / 1e12:.2f} TFLOP/s", f"{p['bandwidth_bytes_per_s'] / 1e9:.0f} GB/s",
        f"{p['ridge']:.0f} FLOP/B"]])
    d, f = res["decode"], res["prefill"]
    totals = labkit.md_table(["step", "simulated time", "GFLOP", "DRAM GB", "GEMM share",
                              "attention share"], [
        [f"decode (batch {DECODE['batch']}, context {DECODE['context']}, {LAYERS} layers)",
         f"{d['total_us']:,.0f} µs", f"{d['total_flops'] / 1e9:.2f}", f"{d['dram_bytes'] / 1e9:.3f}",
         f"{100 * d['class_share'].get('gemm', 0):.1f}%",
         f"{100 * (d['class_share'].get('attention_score', 0) + d['class_share'].get('attention_context', 0)):.1f}%"],
        [f"prefill (batch {PREFILL['batch']}, {PREFILL['seq_len']} tokens, {LAYERS} layers)",
         f"{f['total_us']:,.0f} µs", f"{f['total_flops'] / 1e9:.2f}", f"{f['dram_bytes'] / 1e9:.3f}",
         f"{100 * f['class_share'].get('gemm', 0):.1f}%",
         f"{100 * (f['class_share'].get('attention_score', 0) + f['class_share'].get('attention_context', 0)):.1f}%"]])
    return {"lab1:console": "```text\n" + res["console"] + "\n```", "lab1:peaks": peaks_md, "lab1:totals": totals,
            "lab1:decode": _op_table(d), "lab1:prefill": _op_table(f)}


def main(impl=None) -> None:
    """Run the lab with ``impl``'s functions and print its tables (``labkit.lab_main``)."""
    labkit.lab_main(sys.modules[__name__], impl, "reports, traces and plots are in {out}/")


if __name__ == "__main__":
    main()
