"""Energy and area breakdown plots (PNG, matplotlib ``Agg``; the optional ``plots`` extra).

``energy_breakdown_png``: one stacked bar per op class, stacked by energy component.
``area_breakdown_png``: one stacked bar of the die area by component (SRAM split by buffer).
matplotlib is imported only when a plot is made; without it the error says how to install it.
``energy_unit`` / ``format_energy`` pick the unit (pJ ... J) per magnitude for the plots and the
``accelsim cost`` table.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import AccelsimError
from ..units import energy_unit, format_energy
from .model import ENERGY_COMPONENTS, CostReport


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise AccelsimError("plots need matplotlib: pip install 'accelsim[plots]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def energy_breakdown_png(cost: CostReport, path: str | os.PathLike) -> Path:
    """Stacked bars: energy by component for each op class, in the unit (pJ ... J) of the
    tallest bar. Returns the path written."""
    plt = _pyplot()
    g = cost.by_op_class()
    comps = [c for c in ENERGY_COMPONENTS if c in g.columns and g[c].sum() > 0]
    scale, unit = energy_unit(max((g[comps].sum(axis=1).max() if comps else 0.0), 1.0))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(g) + 2), 4.5))
    bottom = [0.0] * len(g)
    x = range(len(g))
    for c in comps:
        vals = (g[c] / scale).tolist()
        ax.bar(x, vals, bottom=bottom, label=c)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(list(x))
    ax.set_xticklabels(list(g.index), rotation=35, ha="right")
    ax.set_ylabel(f"energy ({unit})")
    ax.set_title(f"energy by op class: {cost.arch_name} / {cost.trace_name}\n"
                 f"total {format_energy(cost.energy_pj)}, avg {cost.avg_power_w:,.1f} W "
                 f"({cost.tech.name} at {cost.tech.node_nm:g} nm)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, plt, path)


def area_breakdown_png(cost: CostReport, path: str | os.PathLike) -> Path:
    """One stacked bar of die area (mm2) by component. Returns the path written."""
    plt = _pyplot()
    parts = []
    for k, v in cost.area_breakdown_mm2.items():
        if k == "sram":
            parts += [(f"sram:{b}", a) for b, a in cost.sram_area_by_buffer_mm2.items()]
        elif v > 0:
            parts.append((k, v))
    fig, ax = plt.subplots(figsize=(4.5, 5.0))
    colors = plt.get_cmap("tab20").colors           # up to 20 parts without repeating a colour
    bottom = 0.0
    for i, (name, v) in enumerate(parts):
        ax.bar([0], [v], bottom=bottom, label=f"{name} ({v:,.1f})",
               color=colors[i % len(colors)])
        bottom += v
    handles, labels = ax.get_legend_handles_labels()
    ax.set_xticks([])
    ax.set_ylabel("area (mm2)")
    ax.set_title(f"area: {cost.arch_name}\n{cost.area_mm2:,.1f} mm2 "
                 f"({cost.tech.name} at {cost.tech.node_nm:g} nm)", fontsize=9)
    ax.legend(handles[::-1], labels[::-1], fontsize=7, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))                # top of the legend = top of the bar
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig, plt, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path
