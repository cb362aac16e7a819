"""Lab 3: SRAM size and HBM channels / bandwidth; the compute-bound <-> memory-bound crossover.

    python docs/labs/lab3_memory/starter.py [--out lab3_out]

This is the lab's harness; ``knee`` and ``crossover_batch`` are not here: ``run(out, impl)``
takes them from ``impl`` (``starter.py``, or the reference solution).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import labkit  # noqa: E402

import accelsim  # noqa: E402

BASE = "npu_128x128_bf16_hbm2"           # 128x128 bf16 WS, 1 GHz: 32.8 TFLOP/s; 8 x 32 GB/s
MODEL = "llama2-7b"
CHANNELS = [1, 2, 4, 8, 16, 32]           # x 32 GB/s
BATCHES = [1, 8, 32, 64, 128, 256]
SRAM_KIB = [128, 256, 512, 1024, 2048, 4096, 8192]     # ifmap = filter = S, ofmap = S / 2
MEMTEST_REQUESTS = 100_000


# ----------------------------------------------------------------------------- the runs
def arch(**over):
    return accelsim.load_arch(BASE, overrides=over)


def decode_trace(batch: int = 8):
    return accelsim.generate_trace(MODEL, "decode", batch=batch, context=1024, layers=1,
                                       attention="unfused")


def prefill_trace():
    return accelsim.generate_trace(MODEL, "prefill", batch=1, seq_len=512, layers=1,
                                       attention="unfused")


def stall_share(rep) -> float:
    ops = rep.ops[rep.ops["unit"] == "systolic"]
    return float(ops["stall_cycles"].sum() / max(1, ops["total_cycles"].sum()))


def run(out_dir: str | Path | None, impl) -> dict:
    res: dict = {}
    dec, pre = decode_trace(), prefill_trace()

    # A. bandwidth sweep
    bw = []
    for ch in CHANNELS:
        a = arch(**{"memory.channels": ch})
        rd, rp = accelsim.simulate(a, dec), accelsim.simulate(a, pre)
        bw.append({"gbps": 32 * ch, "decode_us": rd.total_time_ns / 1e3,
                   "prefill_us": rp.total_time_ns / 1e3, "decode_stall": stall_share(rd),
                   "prefill_stall": stall_share(rp),
                   "prefill_memory_bound_gemms": int(((rp.ops["op_class"] == "gemm")
                                                      & (rp.ops["bound"] == "memory")).sum())})
    res["bandwidth"] = bw
    xs = [b["gbps"] for b in bw]
    res["knee_decode_gbps"] = impl.knee(xs, [b["decode_us"] for b in bw])
    res["knee_prefill_gbps"] = impl.knee(xs, [b["prefill_us"] for b in bw])

    # B. batch sweep (decode, 256 GB/s)
    a = arch()
    batch = []
    for b in BATCHES:
        rep = accelsim.simulate(a, decode_trace(b))
        o = rep.ops[rep.ops["name"] == "ffn_up"].iloc[0]
        batch.append({"batch": b, "layer_us": rep.total_time_ns / 1e3,
                      "tokens_per_s_per_layer": b / (rep.total_time_ns * 1e-9),
                      "ffn_up_us": o["total_cycles"] / 1e3, "ffn_up_bound": o["bound"],
                      "ffn_up_intensity": o["flops"] / (o["dram_read_bytes"] + o["dram_write_bytes"])})
    res["batch"] = batch
    ridge = 2 * 128 * 128 * 1e9 / 256e9
    res["predicted_crossover_batch"] = impl.crossover_batch(ridge, 2)
    res["simulated_crossover_batch"] = next((e["batch"] for e in batch
                                             if e["ffn_up_bound"] == "compute"), None)

    # C. SRAM sweep (prefill, 256 GB/s)
    sram = []
    for kib in SRAM_KIB:
        rep = accelsim.simulate(arch(**{"sram.ifmap_kib": kib, "sram.filter_kib": kib,
                                        "sram.ofmap_kib": kib // 2}), pre)
        g = rep.ops[rep.ops["op_class"] == "gemm"]
        gbytes = int(g["dram_read_bytes"].sum() + g["dram_write_bytes"].sum())
        sram.append({"kib": kib, "total_kib": kib * 5 // 2, "prefill_us": rep.total_time_ns / 1e3,
                     "gemm_dram_mb": gbytes / 1e6,
                     "gemm_intensity": float(g["flops"].sum() / gbytes),
                     "memory_bound_gemms": int((g["bound"] == "memory").sum()),
                     "gemms": len(g)})
    res["sram"] = sram
    res["knee_sram_kib"] = impl.knee([s["kib"] for s in sram], [s["prefill_us"] for s in sram])

    # D. the bank-level HBM model: synthetic patterns, then the prefill layer
    mt = {}
    for pattern in ("stream", "random"):
        out = labkit.run_cli(["memtest", "--memory", "hbm2", "--channels", "8", "--pattern",
                              pattern, "--requests", str(MEMTEST_REQUESTS), "--json"])
        mt[pattern] = json.loads(out)
    res["memtest"] = {p: {"gbps": d["bandwidth_gbps"], "row_hit": d["row_hit_frac"],
                          "avg_latency_ns": d["avg_latency_ns"]} for p, d in mt.items()}
    hbm = accelsim.simulate(arch(memory={"impl": "hbm", "preset": "hbm2_2000", "channels": 8}), pre)
    ana = accelsim.simulate(arch(), pre)
    ms = hbm.result.memory_stats
    res["hbm_prefill"] = {"analytical_us": ana.total_time_ns / 1e3,
                          "hbm_us": hbm.total_time_ns / 1e3,
                          "hbm_row_hit": ms["row_hit_frac"],
                          "hbm_avg_gbps": ms["bandwidth_gbps"]}
    if out_dir is not None and labkit.have("matplotlib"):
        with labkit.work_dir(out_dir) as work:
            plot(res, work / "lab3_memory.png")
    return res


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    bw = res["bandwidth"]
    x = [b["gbps"] for b in bw]
    ax[0].plot(x, [b["decode_us"] for b in bw], "o-", label="decode (batch 8)")
    ax[0].plot(x, [b["prefill_us"] for b in bw], "s-", label="prefill (512 tokens)")
    ax[0].set(xscale="log", yscale="log", xlabel="DRAM bandwidth (GB/s)", ylabel="layer time (µs)")
    ax[0].legend()
    b = res["batch"]
    ax[1].plot([e["batch"] for e in b], [e["tokens_per_s_per_layer"] for e in b], "o-")
    ax[1].set(xscale="log", yscale="log", xlabel="decode batch", ylabel="tokens/s (one layer)")
    s = res["sram"]
    ax[2].plot([e["kib"] for e in s], [e["prefill_us"] for e in s], "o-", label="time (µs)")
    ax[2].plot([e["kib"] for e in s], [e["gemm_dram_mb"] for e in s], "s--", label="GEMM DRAM MB")
    ax[2].set(xscale="log", yscale="log", xlabel="ifmap = filter SRAM (KiB)")
    ax[2].legend()
    for a in ax:
        a.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ----------------------------------------------------------------------------- handout blocks
def blocks(res: dict) -> dict[str, str]:
    bw = labkit.md_table(["DRAM GB/s", "decode layer µs", "decode stall", "prefill layer µs",
                          "prefill stall", "prefill GEMMs memory-bound"],
                         [[b["gbps"], f"{b['decode_us']:,.0f}", f"{100 * b['decode_stall']:.0f}%",
                           f"{b['prefill_us']:,.0f}", f"{100 * b['prefill_stall']:.0f}%",
                           f"{b['prefill_memory_bound_gemms']} of 5"] for b in res["bandwidth"]])
    bw += (f"\n\nKnee (within 5 % of the best): decode at **{res['knee_decode_gbps']} GB/s**, "
           f"prefill at **{res['knee_prefill_gbps']} GB/s**.")
    bt = labkit.md_table(["batch", "layer µs", "tokens/s (one layer)", "`ffn_up` µs",
                          "`ffn_up` FLOP/B", "`ffn_up` bound"],
                         [[e["batch"], f"{e['layer_us']:,.0f}", f"{e['tokens_per_s_per_layer']:,.0f}",
                           f"{e['ffn_up_us']:,.0f}", f"{e['ffn_up_intensity']:.1f}", e["ffn_up_bound"]]
                          for e in res["batch"]])
    bt += (f"\n\nRoofline prediction of the crossover batch: **{res['predicted_crossover_batch']:g}**;"
           f" first simulated batch with `ffn_up` compute bound: "
           f"**{res['simulated_crossover_batch']}**.")
    sr = labkit.md_table(["ifmap = filter KiB", "total SRAM KiB", "prefill layer µs",
                          "GEMM DRAM MB", "GEMM FLOP/B", "memory-bound GEMMs"],
                         [[s["kib"], f"{s['total_kib']:,}", f"{s['prefill_us']:,.0f}",
                           f"{s['gemm_dram_mb']:,.0f}", f"{s['gemm_intensity']:.0f}",
                           f"{s['memory_bound_gemms']} of {s['gemms']}"] for s in res["sram"]])
    sr += f"\n\nKnee: **{res['knee_sram_kib']} KiB** per input buffer."
    mt = res["memtest"]
    h = res["hbm_prefill"]
    hb = labkit.md_table(["experiment", "bandwidth GB/s (peak 256)", "row-buffer hit rate",
                          "time"], [
        ["memtest stream", f"{mt['stream']['gbps']:.1f}", f"{mt['stream']['row_hit']:.3f}",
         f"avg read latency {mt['stream']['avg_latency_ns']:.0f} ns"],
        ["memtest random", f"{mt['random']['gbps']:.1f}", f"{mt['random']['row_hit']:.3f}",
         f"avg read latency {mt['random']['avg_latency_ns']:.0f} ns"],
        ["prefill layer, analytical 8 × 32 GB/s", "256 (by definition)", "—",
         f"{h['analytical_us']:,.0f} µs"],
        ["prefill layer, bank-level `hbm2_2000` × 8 ch", f"{h['hbm_avg_gbps']:.1f} (average)",
         f"{h['hbm_row_hit']:.3f}", f"{h['hbm_us']:,.0f} µs"]])
    return {"lab3:bandwidth": bw, "lab3:batch": bt, "lab3:sram": sr, "lab3:hbm": hb}


def main(impl=None) -> None:
    """Run the lab with ``impl``'s functions and print its tables (``labkit.lab_main``)."""
    labkit.lab_main(sys.modules[__name__], impl, "plot: {out}/lab3_memory.png")


if __name__ == "__main__":
    main()
