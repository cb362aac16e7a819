"""Pictures of a serving run (matplotlib, PNG): latency CDFs, and batch size, KV-cache occupancy
and queue length over time (per replica, binned into ~400 intervals so hour-long runs stay
readable)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PLOTS = ("latency_cdf", "over_time")


def write_plots(requests: pd.DataFrame, iterations: pd.DataFrame, kv_blocks: dict[str, int],
                out_dir: str | Path) -> list[Path]:
    """Write ``latency_cdf.png`` and ``over_time.png`` into ``out_dir``; return the paths."""
    from ..report.plots import _plt

    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    done = requests[requests["status"] == "finished"]
    for ax, col, title in zip(axes, ("ttft_ms", "tpot_ms", "e2e_ms"),
                              ("time to first token", "time per output token",
                               "end-to-end latency")):
        v = np.sort(done[col].dropna().to_numpy())
        if len(v):
            ax.plot(v, np.arange(1, len(v) + 1) / len(v), color="#1f77b4")
            for p, style in ((50, ":"), (99, "--")):
                x = np.percentile(v, p)
                ax.axvline(x, color="grey", ls=style, lw=0.8)
                ax.text(x, 0.02 + (0.1 if p == 99 else 0), f" p{p} {x:,.1f}", fontsize=7)
            if v[-1] > 0 and v[-1] / max(v[0], 1e-9) > 100:
                ax.set_xscale("log")
        ax.set_xlabel(f"{col.replace('_ms', '')} (ms)")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 1.01)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of finished requests")
    fig.suptitle(f"{len(done)} finished requests", fontsize=10)
    fig.tight_layout()
    paths.append(out / "latency_cdf.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    for (pool, rep), it in iterations.groupby(["pool", "replica"], sort=True):
        if it.empty:
            continue
        t_s = it["t_start_ps"].to_numpy() / 1e12
        bins = np.linspace(0, t_s.max() + 1e-9, min(400, len(it)) + 1)
        which = np.clip(np.digitize(t_s, bins) - 1, 0, len(bins) - 2)
        centers = (bins[:-1] + bins[1:]) / 2
        label = f"{pool} {rep}"
        for ax, col, scale in ((axes[0], "requests", 1.0),
                               (axes[1], "kv_blocks_used", 100.0 / max(kv_blocks[pool], 1)),
                               (axes[2], "queue_length", 1.0)):
            mean = pd.Series(it[col].to_numpy() * scale).groupby(which).mean()
            ax.plot(centers[mean.index], mean.to_numpy(), lw=1, label=label)
    axes[0].set_ylabel("batch size\n(requests)")
    axes[1].set_ylabel("KV cache\noccupancy (%)")
    axes[1].set_ylim(0, 105)
    axes[2].set_ylabel("queue length\n(waiting)")
    axes[2].set_xlabel("simulated time (s)")
    axes[0].set_ylim(bottom=0)
    axes[2].set_ylim(bottom=0, top=max(1.0, float(iterations["queue_length"].max()) * 1.05))
    for ax in axes:
        ax.grid(alpha=0.3)
    if iterations.groupby(["pool", "replica"]).ngroups <= 8:
        axes[0].legend(fontsize=7, loc="upper right")
    fig.suptitle("per iteration, averaged over time bins", fontsize=10)
    fig.tight_layout()
    paths.append(out / "over_time.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths
