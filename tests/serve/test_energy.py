"""Serving energy is the cost model's energy of the iterations that ran."""

import pytest

from accelsim.api import simulate
from accelsim.cost import estimate
from accelsim.serving import Pool, Settings, serve
from accelsim.serving.output import dump_trace
from accelsim.workload.requests import synthesize_requests
from accelsim.workload.trace import load_trace


def test_dynamic_energy_equals_the_cost_model_on_the_dumped_trace(tmp_path):
    reqs = synthesize_requests("alpaca", rate=40, num_requests=12, seed=4)
    res = serve(reqs, "tiny-llama-gqa-test", pools=[Pool("h100_like")],
                settings=Settings(progress=False, record_iterations=True))
    [(path, rows)] = dump_trace(res, "tiny-llama-gqa-test", tmp_path / "ops.csv",
                                tp={"serve": 1})
    trace = load_trace(path)
    cost = estimate(simulate("h100_like", trace, fidelity="analytical", progress=False))
    dynamic_pj = cost.energy_pj - cost.energy_breakdown_pj["leakage"]
    assert res.summary["energy_dynamic_j"] * 1e12 == pytest.approx(dynamic_pj, rel=1e-9)
    # static power runs over the whole makespan, idle time included
    assert res.summary["energy_static_j"] == pytest.approx(
        cost.static_power_w * res.summary["makespan_s"], rel=1e-9)
    # and the serving clock is the engine's: the iterations' times sum to the trace's time
    busy_ps = int(res.iterations["duration_ps"].sum())
    assert busy_ps == simulate("h100_like", trace, fidelity="analytical",
                               progress=False).result.end_ps
