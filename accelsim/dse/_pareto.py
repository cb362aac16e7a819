"""Pareto fronts, hypervolume and the front plot (matplotlib, Agg; imported lazily).

All functions take points as rows of *minimized* values (negate maximized objectives first;
``Result.minimized()`` does it).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Boolean mask of non-dominated rows (minimization; duplicates are all kept)."""
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        dominated = np.all(pts <= pts[i], axis=1) & np.any(pts < pts[i], axis=1)
        if dominated.any():
            keep[i] = False
    return keep


def hypervolume(points: np.ndarray, reference: Sequence[float]) -> float:
    """Dominated hypervolume of ``points`` w.r.t. ``reference`` (minimization, exact).

    1-D: ``ref - min``; 2-D: sweep; higher dimensions: recursive slicing (fine for the few
    hundred points a study produces).
    """
    ref = np.asarray(reference, dtype=float)
    pts = np.asarray(points, dtype=float).reshape(-1, len(ref))
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[pareto_mask(pts)]
    return float(_hv(pts, ref))


def _hv(pts: np.ndarray, ref: np.ndarray) -> float:
    d = pts.shape[1]
    if d == 1:
        return float(ref[0] - pts[:, 0].min())
    if d == 2:
        order = np.argsort(pts[:, 0], kind="stable")
        vol, best_y = 0.0, ref[1]
        for x, y in pts[order]:
            if y < best_y:
                vol += (ref[0] - x) * (best_y - y)
                best_y = y
        return vol
    order = np.argsort(pts[:, -1], kind="stable")
    pts = pts[order]
    vol = 0.0
    for i in range(len(pts)):
        upper = pts[i + 1, -1] if i + 1 < len(pts) else ref[-1]
        depth = upper - pts[i, -1]
        if depth > 0:
            sub = pts[: i + 1, :-1]
            vol += depth * _hv(sub[pareto_mask(sub)], ref[:-1])
    return vol


def plot_front(path, points: np.ndarray, front: np.ndarray, labels: Sequence[str], *,
               title: str = "", infeasible: np.ndarray | None = None, log: bool = True) -> bool:
    """Scatter of all feasible points with the Pareto front highlighted; returns False (and
    writes nothing) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    pts = np.asarray(points, dtype=float)
    if infeasible is not None and len(infeasible):
        inf = np.asarray(infeasible, dtype=float)
        ax.scatter(inf[:, 0], inf[:, 1] if inf.shape[1] > 1 else np.zeros(len(inf)), s=10,
                   marker="x", color="#d62728", alpha=0.5, label="infeasible")
    if len(pts):
        ys = pts[:, 1] if pts.shape[1] > 1 else np.arange(len(pts))
        ax.scatter(pts[:, 0], ys, s=12, color="#7f7f7f", alpha=0.6, label="feasible")
    fr = np.asarray(front, dtype=float)
    if len(fr):
        fr = fr[np.argsort(fr[:, 0], kind="stable")]
        ys = fr[:, 1] if fr.shape[1] > 1 else np.zeros(len(fr))
        ax.step(fr[:, 0], ys, where="post", color="#1f77b4")
        ax.scatter(fr[:, 0], ys, s=28, color="#1f77b4", label="Pareto front")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1] if len(labels) > 1 else "evaluation")
    if log:
        for axis, data in ((ax.set_xscale, pts[:, 0] if len(pts) else []),
                           (ax.set_yscale, pts[:, 1] if len(pts) and pts.shape[1] > 1 else [])):
            if len(data) and np.all(np.asarray(data) > 0):
                axis("log")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
