"""Lab 4: processing-in-memory for decode attention (NeuPIMs, ASPLOS'24). When does offloading
attention to PIM win, and what do dual row buffers, channel bin packing and sub-batch
interleaving buy?

    python docs/labs/lab4_pim/starter.py [--out lab4_out]

This is the lab's harness; ``pim_peak_gbps`` and ``pim_wins_from`` are not here:
``run(out, impl)`` takes them from ``impl`` (``starter.py``, or the reference solution).

Systems (``neupims_npu_hbm`` with ``pim:`` settings, ``accelsim.validation.neupims.
SYSTEM_SETTINGS``; each run is ``accelsim simulate`` of a decode step): ``npu_only`` (attention
on the NPU through the HBM interface), ``naive`` (Newton-style PIM, one row buffer per bank, round-robin channels),
``drb`` (+ NeuPIMs' dual row buffers), ``drb_gmlbp`` (+ greedy min-load bin packing of requests
onto channels), ``neupims`` (+ sub-batch interleaving of NPU and PIM work, batch >= 256).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import labkit  # noqa: E402

MODEL = "gpt3-7b"
TP = 4
BATCHES = [32, 64, 128, 256, 512]
SYSTEMS = ["npu_only", "naive", "drb", "drb_gmlbp", "neupims"]
LABELS = {"npu_only": "NPU only", "naive": "naive NPU+PIM", "drb": "+ dual row buffer",
          "drb_gmlbp": "+ bin packing", "neupims": "+ sub-batch interleaving (NeuPIMs)"}


# ----------------------------------------------------------------------------- the runs
def missing() -> str | None:
    """Why this lab cannot run in this checkout (None if it can)."""
    import importlib.util

    if importlib.util.find_spec("accelsim.pim_decode") is None:
        return "accelsim.pim_decode (PIM decode steps through simulate) is not installed"
    return None


def run(out_dir: str | Path | None, impl) -> dict:
    from accelsim.mapping.pim import pim_setup
    from accelsim.mapping.pim_batches import steady_state_batch
    from accelsim.pim_decode import simulate_decode_step
    from accelsim.validation.neupims import system_arch
    from accelsim.workload.models import load_model

    m = load_model(MODEL)
    systems = {n: system_arch(n) for n in SYSTEMS}
    spec = pim_setup(systems["neupims"]).spec
    res: dict = {"tokens_per_s": {n: [] for n in SYSTEMS}, "batches": BATCHES, "util": {}}
    for batch in BATCHES:
        b = steady_state_batch("sharegpt", batch, model=m, tp=TP, spec=spec, seed=0)
        for n, s in systems.items():
            r = simulate_decode_step(s, m, b, tp=TP)
            res["tokens_per_s"][n].append(r.tokens_per_s)
            if batch == BATCHES[-1]:
                res["util"][n] = {"npu_busy": r.npu_busy_fraction, "pim_busy": r.pim_busy_fraction,
                                  "npu_mac": r.npu_mac_utilization,
                                  "load_imbalance": r.channel_load_max_over_mean}
    banks = spec.ranks * spec.bank_groups * spec.banks_per_group
    comp = max(spec.burst_cycles, spec.t["tCCD_S"])
    res["pim_peak_gbps"] = impl.pim_peak_gbps(spec.channels, banks, spec.macs_per_bank,
                                           spec.element_bytes, comp, 1e6 / spec.tCK_ps)
    res["external_gbps"] = 1024.0          # neupims_npu_hbm: 32 channels x 32 GB/s
    tps = res["tokens_per_s"]
    res["pim_wins_from"] = {n: impl.pim_wins_from(BATCHES, tps["npu_only"], tps[n])
                            for n in SYSTEMS if n != "npu_only"}
    if out_dir is not None and labkit.have("matplotlib"):
        with labkit.work_dir(out_dir) as work:
            plot(res, work / "lab4_pim.png")
    return res


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for n in SYSTEMS:
        ax.plot(res["batches"], res["tokens_per_s"][n], "o-", label=LABELS[n])
    ax.set(xscale="log", xlabel="decode batch (requests)", ylabel="tokens/s",
           title=f"{MODEL}, TP {TP}, ShareGPT-like batches")
    ax.set_xticks(res["batches"], [str(b) for b in res["batches"]])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ----------------------------------------------------------------------------- handout blocks
def blocks(res: dict) -> dict[str, str]:
    tps = res["tokens_per_s"]
    rows = []
    for n in SYSTEMS:
        rows.append([LABELS[n], *(f"{x:,.0f}" for x in tps[n])])
    rows.append(["NeuPIMs / NPU only", *(f"{a / b:.2f}×" for a, b in zip(tps["neupims"], tps["npu_only"]))])
    rows.append(["naive PIM / NPU only", *(f"{a / b:.2f}×" for a, b in zip(tps["naive"], tps["npu_only"]))])
    table = labkit.md_table(["system \\ batch", *(str(b) for b in res["batches"])], rows)
    wins = ", ".join(f"{LABELS[n]}: **{w if w is not None else 'never'}**"
                     for n, w in res["pim_wins_from"].items())
    table += f"\n\nBatch from which each PIM system beats NPU-only: {wins}."
    peak = (f"PIM peak (all banks' MAC units reading their row buffers): "
            f"**{res['pim_peak_gbps']:,.0f} GB/s**, {res['pim_peak_gbps'] / res['external_gbps']:.0f}× "
            f"the {res['external_gbps']:,.0f} GB/s the NPU sees through the HBM interface.")
    u = res["util"]
    util = labkit.md_table(["system (batch 512)", "NPU busy", "NPU MAC utilization", "PIM busy",
                            "channel load max/mean"],
                           [[LABELS[n], f"{100 * u[n]['npu_busy']:.0f}%", f"{100 * u[n]['npu_mac']:.0f}%",
                             f"{100 * u[n]['pim_busy']:.0f}%", f"{u[n]['load_imbalance']:.2f}"]
                            for n in SYSTEMS])
    return {"lab4:peak": peak, "lab4:throughput": table, "lab4:util": util}


def main(impl=None) -> None:
    """Run the lab with ``impl``'s functions and print its tables (``labkit.lab_main``)."""
    labkit.lab_main(sys.modules[__name__], impl, "plot: {out}/lab4_pim.png")


if __name__ == "__main__":
    main()
