"""Energy of a serving run from the cost model (``accelsim.cost``).

Dynamic energy is linear in the operators run: each operator shape the timer counted is priced
once by ``cost.estimate`` (a one-row-per-shape trace simulated at the run's fidelity) and
multiplied by its count. Static (leakage) power runs for the whole makespan, idle time included.
Both scale with the ``tp`` devices of a replica.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..arch.config import Arch
from ..cost.model import ENERGY_COMPONENTS, estimate
from ..engine.core import Simulation
from ..report.report import Report
from ..workload.trace import from_records


@dataclass(frozen=True)
class PoolEnergy:
    dynamic_j: float
    static_w: float          # per device

    def total_j(self, makespan_s: float, devices: int) -> float:
        return self.dynamic_j + self.static_w * devices * makespan_s


def pool_energy(arch: Arch, timer, *, devices_per_replica: int = 1,
                fidelity: str = "analytical") -> PoolEnergy:
    """Dynamic energy (J, all replicas sharing ``timer``) and static power (W per device)."""
    counts = timer.counted_shapes()
    shapes = [k for k in counts if k in timer.shape_rows]
    rows = [{**timer.shape_rows[k], "op_id": i} for i, k in enumerate(shapes)]
    if not rows:            # a fixed timer, or nothing ran
        return PoolEnergy(0.0, _static_w(arch))
    trace = from_records(rows, {"name": "serve_shapes"})
    sim = Simulation(arch, trace, fidelity=fidelity, progress=False)
    sim.plans = dict(getattr(timer, "plans", {}))     # planned once, while timing
    result = sim.run()
    cost = estimate(Report(arch, trace, result, fidelity=fidelity))
    dyn = [c for c in ENERGY_COMPONENTS if c != "leakage" and c in cost.ops.columns]
    per_row_pj = cost.ops[dyn].sum(axis=1).to_numpy()[: len(rows)]
    dynamic_pj = sum(float(e) * counts[k] for e, k in zip(per_row_pj, shapes))
    return PoolEnergy(dynamic_pj * 1e-12 * devices_per_replica, cost.static_power_w)


def _static_w(arch: Arch) -> float:
    from ..cost.model import estimate_area

    return float(estimate_area(arch).get("static_power_w", 0.0))
