"""Lab 5: a multi-core NPU on a 2-D mesh NoC. Core-count scaling, link bandwidth, and where
communication dominates.

    python docs/labs/lab5_mesh/starter.py [--out lab5_out]

This is the lab's harness; ``parallel_efficiency`` and ``link_bandwidth_gbps`` are not here:
``run(out, impl)`` takes them from ``impl`` (``starter.py``, or the reference solution).

Each point is a k x k block of cores with a column of memory controllers on the west and east
edges (a (k+2) x k mesh), built from ``arch_configs/mesh4x4_npu_hbm.yaml``: every core is a
64x64 bf16 WS array with 2.5 MiB SRAM; the memory (819 GB/s) stays the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import labkit  # noqa: E402

import accelsim  # noqa: E402

BASE = "mesh4x4_npu_hbm"
MODEL = "llama2-7b"
SIDES = [1, 2, 4]                  # 1, 4, 16 cores
FLITS = [32, 64, 256]              # link width, bytes per cycle at 1 GHz (= GB/s)


# ----------------------------------------------------------------------------- the runs
def missing() -> str | None:
    """Why this lab cannot run in this checkout (None if it can)."""
    import importlib.util

    if importlib.util.find_spec("accelsim.engine.multicore") is None:
        return "accelsim.engine.multicore (the multi-core mesh engine) is not installed"
    if not labkit.repo_path("arch_configs", f"{BASE}.yaml").is_file():
        return f"arch_configs/{BASE}.yaml is missing"
    return None


def mesh_arch(k: int, flit_bytes: int = 256):
    return accelsim.load_arch(BASE, overrides={
        "noc.columns": k + 2, "noc.rows": k, "noc.flit_bytes": flit_bytes,
        "noc.memory_controllers": {"placement": "columns", "columns": [0, k + 1]}})


def summarize(rep) -> dict:
    d = rep.to_dict()
    noc = d["noc"]
    ops = rep.ops
    sys_ops = ops[ops["unit"] == "systolic"]
    return {"time_us": rep.total_time_ns / 1e3,
            "noc_share": float(ops["noc_cycles"].sum() / max(1, ops["total_cycles"].sum())),
            "gemm_noc_share": float(sys_ops["noc_cycles"].sum() / max(1, sys_ops["total_cycles"].sum())),
            "avg_packet_latency_cycles": noc["avg_packet_latency_cycles"],
            "flit_hops": noc["flit_hops"], "bytes_sent": noc["bytes_sent"],
            "link_gbps": noc["link_bandwidth_gbps"],
            "max_link_util": float(max(max(r) for r in noc["link_utilization"]))}


def run(out_dir: str | Path | None, impl) -> dict:
    traces = {"prefill": accelsim.generate_trace(MODEL, "prefill", batch=1, seq_len=512, layers=1,
                                       attention="unfused"),
              "decode": accelsim.generate_trace(MODEL, "decode", batch=8, context=1024, layers=1,
                                       attention="unfused")}
    res: dict = {"scaling": {}, "links": []}
    last = None
    for phase, tr in traces.items():
        rows = []
        for k in SIDES:
            rep = accelsim.simulate(mesh_arch(k), tr)
            s = summarize(rep)
            s["cores"] = k * k
            rows.append(s)
            if phase == "prefill" and k == SIDES[-1]:
                last = rep
        for s in rows:
            s["speedup"] = rows[0]["time_us"] / s["time_us"]
            s["efficiency"] = impl.parallel_efficiency(rows[0]["time_us"], s["time_us"], s["cores"])
        res["scaling"][phase] = rows
    k = SIDES[-1]
    for flit in FLITS:
        if flit == 256:
            s = dict(res["scaling"]["prefill"][-1])
        else:
            s = summarize(accelsim.simulate(mesh_arch(k, flit), traces["prefill"]))
        s["flit_bytes"] = flit
        s["my_link_gbps"] = impl.link_bandwidth_gbps(flit, 1000.0)
        res["links"].append(s)
    if out_dir is not None and labkit.have("matplotlib") and last is not None:
        from accelsim.report.noc_plots import link_heatmap

        with labkit.work_dir(out_dir) as work:
            link_heatmap(last, work / "lab5_links_16cores_prefill.png")
    return res


# ----------------------------------------------------------------------------- handout blocks
def blocks(res: dict) -> dict[str, str]:
    rows = []
    for phase, ss in res["scaling"].items():
        for s in ss:
            rows.append([phase, s["cores"], f"{s['time_us']:,.0f}", f"{s['speedup']:.2f}×",
                         f"{100 * s['efficiency']:.0f}%", f"{100 * s['noc_share']:.1f}%",
                         f"{s['avg_packet_latency_cycles']:,.0f}", f"{100 * s['max_link_util']:.0f}%"])
    sc = labkit.md_table(["phase", "cores", "layer µs", "speed-up", "efficiency", "NoC share",
                          "avg packet latency (cycles)", "hottest link"], rows)
    ln = labkit.md_table(["flit bytes", "link GB/s", "prefill layer µs (16 cores)",
                          "NoC share", "avg packet latency (cycles)", "hottest link"],
                         [[s["flit_bytes"], f"{s['my_link_gbps']:g}", f"{s['time_us']:,.0f}",
                           f"{100 * s['noc_share']:.1f}%", f"{s['avg_packet_latency_cycles']:,.0f}",
                           f"{100 * s['max_link_util']:.0f}%"] for s in res["links"]])
    return {"lab5:scaling": sc, "lab5:links": ln}


def main(impl=None) -> None:
    """Run the lab with ``impl``'s functions and print its tables (``labkit.lab_main``)."""
    labkit.lab_main(sys.modules[__name__], impl, "link heat map: {out}/lab5_links_16cores_prefill.png")


if __name__ == "__main__":
    main()
