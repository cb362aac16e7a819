"""Raw metrics of one simulated design, with units; the one adapter to ``accelsim.cost``.

Metric columns (unit in the name): ``latency_ns`` (one forward step of the workload),
``throughput_tok_s`` (tokens that step produces / its latency), and, through ``accelsim.cost``,
``energy_pj``, ``area_mm2``, ``power_w`` (average) and ``edp_pj_ns`` (energy x latency).

Latency/throughput-only envs never import ``accelsim.cost``; the light path below skips
building the ``Report`` as well (``NOTE(perf)``, benchmark: ``scripts/bench_dse.py``).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..errors import AccelsimError

_COST_MISSING = ("accelsim.cost (energy, area, power) cannot be imported; reinstall "
                 "accelsim, or use a latency/throughput-only env")


def cost_unavailable() -> str | None:
    """None when ``accelsim.cost.estimate`` can be imported, else the reason."""
    try:
        import accelsim.cost as cost  # noqa: F401  (lazy: only envs that need it)
    except ImportError as exc:
        return f"{_COST_MISSING} ({exc})"
    if not hasattr(cost, "estimate"):
        return f"{_COST_MISSING} (accelsim.cost has no estimate())"
    return None


def _require_cost() -> None:
    reason = cost_unavailable()
    if reason:
        raise AccelsimError(reason)


def cost_metrics(report, tech: str | None = None) -> dict[str, float]:
    """Energy (pJ), area (mm2) and average power (W) of a simulated ``report``
    (``accelsim.cost.estimate``).

    Raises:
        AccelsimError: ``accelsim.cost`` cannot be imported, with what to do instead.
    """
    _require_cost()
    from ..cost import estimate

    est = estimate(report, tech)
    return {"energy_pj": est.energy_pj, "area_mm2": est.area_mm2, "power_w": est.avg_power_w}


def area_metrics(arch, tech: str | None = None) -> dict[str, float]:
    """Area (mm2) of an architecture without simulating (``accelsim.cost.estimate_area``)."""
    _require_cost()
    from ..cost import estimate_area

    return {"area_mm2": float(estimate_area(arch, tech)["area_mm2"])}


def tokens_per_step(meta: Mapping[str, Any]) -> int:
    """Tokens one step of the workload produces (decode: batch; prefill: batch x seq_len)."""
    batch = int(meta.get("batch", 1) or 1)
    if meta.get("phase") == "prefill":
        return batch * int(meta.get("seq_len", 1) or 1)
    return batch


def base_metrics(total_time_ns: float, tokens: int) -> dict[str, float]:
    latency = float(total_time_ns)
    thr = tokens / (latency * 1e-9) if latency > 0 else 0.0
    return {"latency_ns": latency, "throughput_tok_s": thr}


def finite(metrics: Mapping[str, float]) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in metrics.values())


UNITS = {"latency_ns": "ns", "throughput_tok_s": "tokens/s", "energy_pj": "pJ", "area_mm2": "mm2",
         "power_w": "W", "edp_pj_ns": "pJ*ns", "goodput_rps": "req/s", "ttft_p99_ms": "ms",
         "tpot_p99_ms": "ms", "energy_per_token_j": "J/token"}
