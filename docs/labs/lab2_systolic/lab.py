"""Lab 2: systolic array size, aspect ratio and dataflow (OS / WS / IS) for prefill vs decode
GEMMs.

    python docs/labs/lab2_systolic/starter.py [--out lab2_out]

This is the lab's harness; ``pe_utilization`` and ``first_order_cycles`` are not here:
``run(out, impl)`` takes them from ``impl`` (``starter.py``, or the reference solution).

Memory is ``ideal`` (no bandwidth limit) so that only the array's own timing shows; the
simulator's ``compute_cycles`` are SCALE-Sim's closed form (exact against SCALE-Sim v3).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import labkit  # noqa: E402

import accelsim  # noqa: E402

BASE = "npu_128x128_bf16_hbm2"
MODEL = "llama2-7b"
SQUARE = [32, 64, 128, 256]
SHAPES = [(32, 512), (64, 256), (128, 128), (256, 64), (512, 32)]     # 16,384 PEs each
DATAFLOWS = ["os", "ws", "is"]
GEMM = "qkv_proj"          # M = tokens, K = 4096, N = 12288


# ----------------------------------------------------------------------------- the runs
def traces() -> dict:
    return {"prefill": accelsim.generate_trace(MODEL, "prefill", batch=1, seq_len=512, layers=1,
                                       attention="unfused"),
            "decode": accelsim.generate_trace(MODEL, "decode", batch=8, context=1024, layers=1,
                                       attention="unfused")}


def simulate(trace, rows: int, cols: int, dataflow: str):
    arch = accelsim.load_arch(BASE, overrides={"systolic.rows": rows, "systolic.cols": cols,
                                               "systolic.dataflow": dataflow,
                                               "memory": {"impl": "ideal"}})
    return accelsim.simulate(arch, trace, fidelity="analytical")


def op_row(report, name: str) -> dict:
    """The first instance of operator ``name`` with its trace shape."""
    i = int((report.ops["name"] == name).to_numpy().argmax())
    row = report.ops.iloc[i].to_dict()
    t = report.trace.ops.iloc[i]
    row.update(M=int(t["M"]), K=int(t["K"]), N=int(t["N"]), batch=int(t["batch"]))
    return row


def run(out_dir: str | Path | None, impl) -> dict:
    tr = traces()
    res: dict = {"square": [], "aspect": [], "model": []}
    for d in SQUARE:
        entry = {"rows": d, "cols": d}
        for phase, trace in tr.items():
            rep = simulate(trace, d, d, "ws")
            o = op_row(rep, GEMM)
            entry[phase] = {"cycles": int(o["compute_cycles"]), "step_cycles": rep.total_cycles,
                            "mapping_efficiency": float(o["mapping_efficiency"]),
                            "utilization": impl.pe_utilization(o["M"], o["K"], o["N"],
                                                               o["compute_cycles"], d, d)}
        res["square"].append(entry)
    for rows, cols in SHAPES:
        for df in DATAFLOWS:
            entry = {"rows": rows, "cols": cols, "dataflow": df}
            for phase, trace in tr.items():
                rep = simulate(trace, rows, cols, df)
                o = op_row(rep, GEMM)
                a = op_row(rep, "attn_score")
                model = impl.first_order_cycles(o["M"], o["K"], o["N"], rows, cols, df)
                entry[phase] = {"gemm_cycles": int(o["compute_cycles"]),
                                "attn_cycles": int(a["compute_cycles"]),
                                "step_cycles": rep.total_cycles,
                                "mapping_efficiency": float(o["mapping_efficiency"]),
                                "utilization": impl.pe_utilization(o["M"], o["K"], o["N"],
                                                                   o["compute_cycles"], rows,
                                                                   cols)}
                res["model"].append({"phase": phase, "rows": rows, "cols": cols, "dataflow": df,
                                     "M": o["M"], "K": o["K"], "N": o["N"],
                                     "sim": int(o["compute_cycles"]), "model": int(model)})
            res["aspect"].append(entry)
    for phase in ("prefill", "decode"):
        best = min(res["aspect"], key=lambda e: e[phase]["step_cycles"])
        res[f"best_{phase}"] = (best["rows"], best["cols"], best["dataflow"])
    if out_dir is not None and labkit.have("matplotlib"):
        with labkit.work_dir(out_dir) as work:
            plot(res, work / "lab2_aspect.png")
    return res


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    labels = [f"{r}x{c}" for r, c in SHAPES]
    for ax, phase in zip(axes, ("prefill", "decode")):
        for df in DATAFLOWS:
            ys = [e[phase]["gemm_cycles"] for e in res["aspect"] if e["dataflow"] == df]
            ax.plot(labels, ys, marker="o", label=df)
        ax.set_yscale("log")
        ax.set_title(f"{phase}: {GEMM} compute cycles (16,384 PEs)")
        ax.set_xlabel("rows x cols")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ----------------------------------------------------------------------------- handout blocks
def blocks(res: dict) -> dict[str, str]:
    base = res["square"][0]
    sq = labkit.md_table(
        ["array", "PEs", "prefill cycles", "speed-up", "util.", "decode cycles", "speed-up",
         "util.", "mapping eff. (decode)"],
        [[f"{e['rows']}×{e['cols']}", f"{e['rows'] * e['cols']:,}",
          f"{e['prefill']['cycles']:,}", f"{base['prefill']['cycles'] / e['prefill']['cycles']:.1f}×",
          f"{100 * e['prefill']['utilization']:.1f}%",
          f"{e['decode']['cycles']:,}", f"{base['decode']['cycles'] / e['decode']['cycles']:.1f}×",
          f"{100 * e['decode']['utilization']:.2f}%",
          f"{100 * e['decode']['mapping_efficiency']:.0f}%"] for e in res["square"]])
    rows = []
    for e in res["aspect"]:
        rows.append([f"{e['rows']}×{e['cols']}", e["dataflow"],
                     f"{e['prefill']['gemm_cycles']:,}", f"{e['prefill']['attn_cycles']:,}",
                     f"{e['prefill']['step_cycles']:,}",
                     f"{e['decode']['gemm_cycles']:,}", f"{e['decode']['attn_cycles']:,}",
                     f"{e['decode']['step_cycles']:,}"])
    asp = labkit.md_table(["array", "dataflow", f"prefill `{GEMM}`", "prefill `attn_score`",
                           "prefill layer", f"decode `{GEMM}`", "decode `attn_score`",
                           "decode layer"], rows)
    pick = [m for m in res["model"] if (m["rows"], m["cols"]) in ((128, 128), (32, 512), (512, 32))]
    mod = labkit.md_table(["phase", "array", "dataflow", "M, K, N", "simulated", "first-order",
                           "error"],
                          [[m["phase"], f"{m['rows']}×{m['cols']}", m["dataflow"],
                            f"{m['M']}, {m['K']}, {m['N']}", f"{m['sim']:,}", f"{m['model']:,}",
                            f"{100 * (m['model'] - m['sim']) / m['sim']:+.2f}%"] for m in pick])
    bp, bd = res["best_prefill"], res["best_decode"]
    best = (f"Fastest layer at 16,384 PEs: prefill **{bp[0]}×{bp[1]} {bp[2]}**, "
            f"decode **{bd[0]}×{bd[1]} {bd[2]}**.")
    return {"lab2:square": sq, "lab2:aspect": asp + "\n\n" + best, "lab2:model": mod}


def main(impl=None) -> None:
    """Run the lab with ``impl``'s functions and print its tables (``labkit.lab_main``)."""
    labkit.lab_main(sys.modules[__name__], impl, "plot: {out}/lab2_aspect.png")


if __name__ == "__main__":
    main()
