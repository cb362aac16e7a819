"""The engine side of PIM: runs decode attention groups on the PIM channels during the replay.

``make_pim_runner(sim)`` returns ``None`` unless the arch has an enabled ``pim:`` whose
scheduler puts attention on PIM and the trace has decode attention rows. Otherwise the runner:

* wraps the arch's memory model in ``hw.pim_channels.PimMemory`` (NPU traffic keeps going
  through the same memory; the row-buffer mode decides how it shares channels with PIM);
* runs a row whose plan is on the ``pim`` unit (``mapping/pim.py``): the first row of a group
  queues its phases on the channels (QK^T, the softmax tail on the vector unit, S.V for a fused
  row), waits for them, and records per-channel timeline slices; the other rows of the group
  take no time;
* reports per-channel statistics, the NPU/PIM overlap and the event counts the cost model
  prices (``cost/pim.py``).
"""

from __future__ import annotations

from typing import Any

from ..mapping.pim import PimPlanner, pim_setup
from ..units import cycles_to_ps


def make_pim_runner(sim, *, always: bool = False) -> "PimRunner | GemvRunner | None":
    """The runner of ``sim``'s trace (``None`` without PIM work); ``always``: also for a trace
    with no decode attention yet (a streamed run sets the rows per iteration, ``next_rows``)."""
    setup = pim_setup(sim.arch)
    if setup is None or not (setup.on_pim or setup.on_npu_gemv):
        return None
    trace = getattr(sim, "trace", None)
    planner = PimPlanner(sim.arch, sim.rows, trace.meta if trace is not None else {})
    if not planner.groups and not always:
        return None
    return (PimRunner if setup.on_pim else GemvRunner)(sim, planner)


class _Rows:
    def next_rows(self, rows, meta=None) -> None:
        """A streamed run's next iteration: its rows; placed requests keep their channels."""
        self.planner = PimPlanner(self.sim.arch, rows, meta or {}, previous=self.planner)
        self.group_rows = set(self.planner.group_of)
        self._work = {}
        self._merged = {}


class GemvRunner(_Rows):
    """``npu-only``: the decode attention rows of a layer run as one GEMV kernel on the vector
    unit (their plans back to back, on its first row), as a paged-attention kernel serves the
    whole batch; the other rows of the group take no time."""

    on_pim = False

    def __init__(self, sim, planner: PimPlanner):
        from ..mapping.pim import merge_plans

        self.sim = sim
        self.planner = planner
        self.group_rows = set(planner.group_of)
        self._merged: dict[tuple, Any] = {}
        self._merge = merge_plans

    def bind(self, env, memory):
        self.env = env
        return memory

    def merged(self, g):
        plan = self._merged.get(g.key)
        if plan is None:
            from ..units import cycles_to_ps_array

            sim = self.sim
            parts = [sim.plan(i) for i in g.rows]
            plan = self._merge(parts, sim.arch.engine.max_tiles_per_op)
            plan.compute_ps = cycles_to_ps_array(plan.compute_cycles, sim.arch.clock_mhz)
            plan.launch_ps = parts[0].launch_ps
            plan.tile_lists = (plan.load_bytes.tolist(), plan.store_bytes.tolist(),
                               plan.compute_ps.tolist())
            plan.base_address = parts[0].base_address
            self._merged[g.key] = plan
        return plan

    def instance(self, row: int, plan):
        sim, env = self.sim, self.env
        g = self.planner.group_of[row]
        if g.rows[0] != row:
            sim._finished(row, _empty(plan), env.now, env.now, False)
            return
        merged = self.merged(g)
        sim.active += 1
        sim.epoch += 1
        sim.state[row] = ("waiting", merged.unit)
        with sim.units[merged.unit].request() as grant:
            yield grant
            sim.state[row] = ("running", merged.unit)
            start = env.now
            yield from sim._tiles(merged, merged.base_address, sim.rows[row])
        sim.active -= 1
        sim._finished(row, merged, start, env.now, False)

    def analytical_ps(self) -> dict[int, int]:
        from .core import _analytical_ps

        memory = self.sim.arch.build_memory()
        import simpy

        memory.bind(simpy.Environment())
        out = {}
        for g in self.planner.groups.values():
            out.update(dict.fromkeys(g.rows, 0))
            out[g.rows[0]] = _analytical_ps(self.merged(g), memory, self.sim.arch.clock_mhz)
        return out

    def stats(self, end_ps: int) -> None:
        return None


def _empty(plan):
    from ..mapping.lower import OpPlan
    import numpy as np

    z = np.zeros(1, dtype=np.int64)
    return OpPlan(plan.unit, z, z.copy(), z.copy(), 0, work=0,
                  peak_work_per_cycle=plan.peak_work_per_cycle)


class PimRunner(_Rows):
    on_pim = True

    def __init__(self, sim, planner: PimPlanner):
        self.sim = sim
        self.planner = planner
        self.spec = planner.spec
        self.tck_ps = self.spec.tCK_ps
        self.group_rows = set(planner.group_of)
        self._work: dict[tuple, dict[str, Any]] = {}

    def bind(self, env, memory):
        """Fresh channel state for a run; returns the memory the engine uses."""
        from ..hw.pim_channels import PimChannels, PimMemory

        self.env = env
        self.channels = PimChannels(self.spec)
        self.events = {"pim_macs": 0, "pim_host_bytes": 0}
        return PimMemory(memory, self.channels, self.sim.arch.clock_mhz)

    def _phase_work(self, g, kind: str) -> dict[str, Any]:
        key = (g.key, kind)
        w = self._work.get(key)
        if w is None:
            w = self._work[key] = self.planner.phase_work(g, kind)
        return w

    def instance(self, row: int, plan):
        """SimPy body of one instance of a PIM row (the engine's ``_instance`` for unit pim)."""
        sim, env = self.sim, self.env
        sim.active += 1
        sim.epoch += 1
        start = env.now
        g = self.planner.group_of[row]
        if g.rows[0] == row:
            sim.state[row] = ("running", "pim")
            steps = ("logit", "tail", "attend") if g.kind == "fused" else (g.kind,)
            for step in steps:
                if step == "tail":
                    cycles = self.planner.softmax_tail_cycles(g)
                    yield env.timeout(cycles_to_ps(cycles, sim.arch.clock_mhz))
                    continue
                yield from self._phase(row, g, step)
        sim.active -= 1
        sim._finished(row, plan, start, env.now, False)

    def _phase(self, row: int, g, kind: str):
        env, tck = self.env, self.tck_ps
        w = self._phase_work(g, kind)
        label = {"logit": "QK^T", "attend": "S.V"}[kind]
        it, stream, layer, _ = g.key
        name = f"{label} L{layer}" + (f" s{stream}" if stream else "")
        phase = self.channels.run_phase(name, -(-env.now // tck), w["ops"], w["comp"],
                                        w["macs"], host_requests=w["host_requests"], write=True)
        while phase.end * tck > env.now:         # blocked mode: NPU accesses may push it later
            yield env.timeout(phase.end * tck - env.now)
        self.events["pim_macs"] += w["pim_macs"]
        self.events["pim_host_bytes"] += w["host_bytes"]
        self.channels.count(w["pim_macs"], w["host_bytes"])
        tl = self.sim.timeline
        if tl is not None:
            op_id = int(self.sim.rows[row]["op_id"])
            for c in range(self.channels.channels):
                if phase.active[c]:
                    tl.add(f"pim ch{c:02d}", name, int(phase.starts[c]) * tck,
                           int(phase.ends[c]) * tck,
                           {"op_id": op_id, "gemv_cycles": int(phase.comp_cycles[c]),
                            "refresh_stall_cycles": int(phase.refresh_stall[c]),
                            "npu_service_cycles": int(phase.npu_delay[c])})

    def analytical_ps(self) -> dict[int, int]:
        """Analytical fidelity: each group's time on idle channels (its phases and softmax
        tail, no refresh offset between groups, no NPU contention), on its first row."""
        from ..hw.pim_channels import PimChannels

        out: dict[int, int] = {}
        tck, clock = self.tck_ps, self.sim.arch.clock_mhz
        self.events = {"pim_macs": 0, "pim_host_bytes": 0}
        self.channels = PimChannels(self.spec)        # totals over the groups (statistics)
        for g in self.planner.groups.values():
            channels = PimChannels(self.spec)
            t = 0
            steps = ("logit", "tail", "attend") if g.kind == "fused" else (g.kind,)
            for step in steps:
                if step == "tail":
                    t += cycles_to_ps(self.planner.softmax_tail_cycles(g), clock)
                    continue
                w = self._phase_work(g, step)
                phase = channels.run_phase(step, -(-t // tck), w["ops"], w["comp"], w["macs"],
                                           host_requests=w["host_requests"], write=True)
                t = phase.end * tck
                self.events["pim_macs"] += w["pim_macs"]
                self.events["pim_host_bytes"] += w["host_bytes"]
                self.channels.count(w["pim_macs"], w["host_bytes"])
            self.channels.phases.extend(channels.phases)
            out.update(dict.fromkeys(g.rows, 0))
            out[g.rows[0]] = t
        return out

    def stats(self, end_ps: int) -> dict[str, Any]:
        """Per-channel utilization, NPU/PIM overlap and event counts of the run."""
        tck = self.tck_ps
        out = self.channels.stats(-(-end_ps // tck))
        # PIM-active time: the spans of the PIM operators (a group runs on its first row)
        pim_spans = _union([(r.start_ps, r.end_ps) for r in self.sim.records if r.unit == "pim"])
        npu_spans = _union([(r.start_ps, r.end_ps) for r in self.sim.records
                            if r.unit in ("systolic", "vector")])
        pim_ps = sum(b - a for a, b in pim_spans)
        npu_ps = sum(b - a for a, b in npu_spans)
        both = _intersection_ps(pim_spans, npu_spans)
        out.update({
            "scheduler": self.planner.setup.scheduler.impl_name,
            "preset": self.spec.name, "tCK_ps": tck,
            "pim_active_ps": pim_ps, "npu_active_ps": npu_ps, "overlap_ps": both,
            "overlap_fraction_of_pim": both / pim_ps if pim_ps else 0.0,
            "requests": len(self.planner.channel),
            "channel_requests": _counts(self.planner.channel.values(), self.spec.channels),
            **self.events})
        return out


def _counts(values, n: int) -> list[int]:
    out = [0] * n
    for v in values:
        out[v] += 1
    return out


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _intersection_ps(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> int:
    i = j = total = 0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if b > a:
            total += b - a
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return total


__all__ = ["make_pim_runner", "PimRunner"]
