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


#: Axis units chosen per magnitude: metric-column suffix -> ((factor from the raw unit, unit), ...),
#: largest first. A ms-scale latency reads in ms, a J-scale energy in J.
AXIS_UNITS = {"_ns": ((1e9, "s"), (1e6, "ms"), (1e3, "us"), (1.0, "ns")),
              "_pj": ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ"), (1.0, "pJ"))}


def _column(label: str) -> str:
    """``"latency_ns [ns] (max)"`` -> ``"latency_ns"`` (the labels ``front_points`` writes)."""
    return label.split(" [")[0].split(" (")[0].strip()


def axis_scale(label: str, values) -> tuple[float, str]:
    """``(divisor, label)`` for an axis: a time or energy column in the unit its largest value
    reaches (``latency_ns [ns]`` with values of 2e8 -> ``(1e6, "latency [ms]")``), any other
    column unchanged."""
    column = _column(label)
    data = np.abs(np.asarray(values, dtype=float).ravel())
    data = data[np.isfinite(data)]
    for suffix, ladder in AXIS_UNITS.items():
        if column.endswith(suffix):
            top = data.max() if len(data) else 0.0
            factor, unit = next(((f, u) for f, u in ladder if top >= f), ladder[-1])
            rest = label.split("]", 1)[1] if "]" in label else ""
            return factor, f"{column[:-len(suffix)]} [{unit}]{rest}"
    return 1.0, label


def _constraint(c) -> tuple[str, float, str]:
    """``(metric column, bound, "max" | "min")`` of an env ``Constraint`` or such a tuple."""
    if isinstance(c, (tuple, list)):
        column, bound, kind = c
        return str(column), float(bound), str(kind)
    return c.column, float(c.bound), c.kind


def plot_front(path, points: np.ndarray, front: np.ndarray, labels: Sequence[str], *,
               title: str = "", infeasible: np.ndarray | None = None, log: bool = True,
               constraints: Sequence = ()) -> bool:
    """Scatter of all feasible points with the Pareto front highlighted; returns False (and
    writes nothing) when matplotlib is not installed.

    ``constraints`` (the env's ``Constraint`` objects, or ``(column, bound, "max"|"min")``):
    one on a plotted axis is drawn as a dashed red line at its bound with the infeasible side
    shaded; any other is listed in the legend. Time and energy axes read in the unit their
    values reach (``axis_scale``: a ms-scale latency in ms)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    pts = np.asarray(points, dtype=float)
    fr = np.asarray(front, dtype=float)
    inf = np.asarray(infeasible, dtype=float) if infeasible is not None else np.zeros((0, 0))
    dims = max(pts.shape[1] if pts.ndim == 2 else 1, 1)
    labels = list(labels) + ["evaluation"] * (2 - len(labels))
    scales, names = [], []
    for i, label in enumerate(labels[:2]):
        values = [a[:, i] for a in (pts, fr, inf) if a.ndim == 2 and len(a) and a.shape[1] > i]
        factor, name = axis_scale(label, np.concatenate(values) if values else [])
        scales.append(factor if i < dims else 1.0)
        names.append(name if i < dims else label)
    scale = np.array(scales[:dims])

    def scaled(a: np.ndarray) -> np.ndarray:
        return a / scale if a.ndim == 2 and len(a) else a

    pts, fr, inf = scaled(pts), scaled(fr), scaled(inf)
    if len(inf):
        ax.scatter(inf[:, 0], inf[:, 1] if inf.shape[1] > 1 else np.zeros(len(inf)), s=10,
                   marker="x", color="#d62728", alpha=0.5, label="infeasible")
    if len(pts):
        ys = pts[:, 1] if pts.shape[1] > 1 else np.arange(len(pts))
        ax.scatter(pts[:, 0], ys, s=12, color="#7f7f7f", alpha=0.6, label="feasible")
    if len(fr):
        fr = fr[np.argsort(fr[:, 0], kind="stable")]
        ys = fr[:, 1] if fr.shape[1] > 1 else np.zeros(len(fr))
        ax.step(fr[:, 0], ys, where="post", color="#1f77b4")
        ax.scatter(fr[:, 0], ys, s=28, color="#1f77b4", label="Pareto front")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    columns = [_column(label) for label in labels[:dims]]
    lines = []                                  # (axis index, bound in axis units, kind)
    for c in constraints:
        column, bound, kind = _constraint(c)
        op = "<=" if kind == "max" else ">="
        if column in columns:
            i = columns.index(column)
            value = bound / scales[i]
            unit = names[i].split("[", 1)[1].split("]")[0] if "[" in names[i] else ""
            draw = ax.axvline if i == 0 else ax.axhline
            draw(value, color="#d62728", ls="--", lw=1.2,
                 label=f"constraint: {_column(names[i])} {op} {value:g} {unit}".rstrip())
            lines.append((i, value, kind))
        else:
            ax.plot([], [], " ", label=f"constraint (not an axis): {column} {op} {bound:g}")
    if log:
        for axis, data in ((ax.set_xscale, pts[:, 0] if len(pts) else []),
                           (ax.set_yscale, pts[:, 1] if len(pts) and pts.shape[1] > 1 else [])):
            if len(data) and np.all(np.asarray(data) > 0):
                axis("log")
    from matplotlib.ticker import LogFormatter

    for axis in (ax.xaxis, ax.yaxis):           # plain numbers (30, 40), not 3x10^1 overlapping
        if axis.get_scale() == "log":
            axis.set_major_formatter(LogFormatter(labelOnlyBase=False))
            axis.set_minor_formatter(LogFormatter(labelOnlyBase=False,
                                                  minor_thresholds=(1.2, 0.5)))
    for i, value, kind in lines:                # shade the side that breaks the constraint
        lo, hi = ax.get_xlim() if i == 0 else ax.get_ylim()
        side = (value, max(hi, value)) if kind == "max" else (min(lo, value), value)
        (ax.axvspan if i == 0 else ax.axhspan)(*side, color="#d62728", alpha=0.06, lw=0)
        (ax.set_xlim if i == 0 else ax.set_ylim)(lo, hi)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
