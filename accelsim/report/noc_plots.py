"""Mesh NoC plots: a per-link utilization heat map of a multi-core run.

``link_heatmap`` accepts a ``Report`` (its ``.result`` a ``MeshSimResult``), a ``MeshSimResult``
itself, or a report dict with a ``noc`` section (``Report.to_dict()`` / a loaded ``--json``), so
the CLI and the API draw the same picture. Every directed router-to-router link is an arrow
coloured by the share of cycles it carried a flit (``link_utilization``: nodes x 5 output ports,
0 = ejection); nodes are squares coloured by their ejection port's utilization, memory
controllers outlined in black, and the hottest link is labelled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AccelsimError
from .plots import _plt, _save

# port -> (dx, dy) of the neighbour it leads to
_PORT_DIR = {1: (1, 0), 2: (-1, 0), 3: (0, 1), 4: (0, -1)}
_PORT_NAMES = ("local", "east", "west", "north", "south")


def noc_section(report_or_result: Any) -> dict[str, Any]:
    """The plain ``noc`` dict: ``columns, rows, link_utilization`` (nested lists or array),
    ``memory_controller_nodes``, ``avg_packet_latency_cycles``."""
    obj = report_or_result
    if isinstance(obj, dict):
        if "noc" not in obj or not obj["noc"]:
            raise AccelsimError("this report has no noc section (not a multi-core mesh run)")
        return obj["noc"]
    result = getattr(obj, "result", obj)
    noc, mesh = getattr(result, "noc", None), getattr(result, "mesh", None)
    if not noc or not mesh:
        raise AccelsimError("this result has no mesh statistics (not a multi-core mesh run)")
    return {**noc, "columns": mesh["columns"], "rows": mesh["rows"],
            "memory_controller_nodes": mesh["memory_controller_nodes"]}


def link_heatmap(report_or_result: Any, path: str | os.PathLike) -> Path:
    """Draw the mesh with every directed link coloured by its utilization; returns ``path``."""
    plt = _plt()
    from matplotlib import cm, colors
    from matplotlib.patches import FancyArrow, Rectangle

    noc = noc_section(report_or_result)
    cols, rows = int(noc["columns"]), int(noc["rows"])
    util = np.asarray(noc["link_utilization"], dtype=np.float64).reshape(cols * rows, 5)
    mcs = set(noc.get("memory_controller_nodes", ()))
    vmax = max(float(util.max()), 1e-9)
    norm = colors.Normalize(vmin=0.0, vmax=vmax)
    cmap = plt.get_cmap("inferno_r")
    size = max(4.0, min(14.0, 0.55 * max(cols, rows) + 3))
    fig, ax = plt.subplots(figsize=(size * 1.15, size))
    node_w = 0.42
    thin = max(cols, rows) > 16
    for n in range(cols * rows):
        x, y = n % cols, n // cols
        ax.add_patch(Rectangle((x - node_w / 2, y - node_w / 2), node_w, node_w,
                               facecolor=cmap(norm(util[n, 0])),
                               edgecolor="black" if n in mcs else "0.7",
                               lw=1.8 if n in mcs else 0.5, zorder=2))
        if not thin:                   # node numbers, as the "hottest: node N" label names them
            ax.text(x, y, f"MC {n}" if n in mcs else str(n), ha="center", va="center",
                    fontsize=6 if n in mcs else 7, color="tab:blue" if n in mcs else "0.25",
                    zorder=3)
        for port, (dx, dy) in _PORT_DIR.items():
            tx, ty = x + dx, y + dy
            if not (0 <= tx < cols and 0 <= ty < rows):
                continue
            off = 0.09 if port in (1, 3) else -0.09         # the two directions side by side
            ox, oy = (0.0, off) if dx else (off, 0.0)
            start = 0.5 * node_w
            length = 1.0 - node_w - 0.04
            u = util[n, port]
            ax.add_patch(FancyArrow(x + dx * start + ox, y + dy * start + oy, dx * length,
                                    dy * length, width=0.05, head_width=0.12,
                                    head_length=0.08, length_includes_head=True,
                                    color=cmap(norm(u)), lw=0, zorder=1))
    hot = int(np.argmax(util[:, 1:])) if util[:, 1:].size else 0
    hn, hp = divmod(hot, 4)
    if util[:, 1:].size and util[hn, hp + 1] > 0:
        ax.annotate(f"hottest: node {hn} {_PORT_NAMES[hp + 1]} {util[hn, hp + 1]:.0%}",
                    xy=(hn % cols, hn // cols), xytext=(0.01, 1.01), textcoords="axes fraction",
                    fontsize=9)
    ax.set_xlim(-0.7, cols - 0.3)
    ax.set_ylim(-0.7, rows - 0.3)
    ax.set_aspect("equal")
    ax.set_xlabel("x (column)")
    ax.set_ylabel("y (row)")
    lat = noc.get("avg_packet_latency_cycles")
    title = f"NoC link utilization, {cols}x{rows} mesh"
    if lat is not None:
        title += f" | avg packet latency {lat:,.0f} cycles"
    ax.set_title(title, fontsize=10, pad=18)
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, fraction=0.04, pad=0.02,
                 label="busy share of cycles (links: arrows, ejection: squares)")
    return _save(fig, path)
