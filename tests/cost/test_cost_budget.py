"""Budgets: over-budget designs are flagged with violation amounts (constraint <= 0 feasible)."""

import pytest

from accelsim.api import generate_trace, simulate
from accelsim.cost import Budget, check_budget, estimate, parse_cost_config
from accelsim.errors import ConfigError


@pytest.fixture(scope="module")
def report():
    return simulate("npu_128x128_bf16_hbm2",
                    generate_trace("tiny-llama-gqa-test", "decode", batch=4, context=64),
                    fidelity="analytical", progress=False)


def test_over_budget_design_is_flagged_with_amounts(report):
    free = estimate(report)
    area, power = free.area_mm2, free.avg_power_w
    c = estimate(report, budget={"area_mm2": area / 2, "power_w": 2 * power})
    assert c.over_budget
    assert c.budget["violations"] == {"area_mm2": pytest.approx(area / 2)}
    assert c.budget["constraints"]["power_w"] == pytest.approx(-power)
    assert c.to_dict()["over_budget"] is True
    ok = estimate(report, budget={"area_mm2": 2 * area, "power_w": 2 * power,
                                  "peak_power_w": 2 * c.peak_power_w,
                                  "power_density_w_per_mm2": 1.0})
    assert not ok.over_budget and all(v <= 0 for v in ok.budget["constraints"].values())
    assert "within budget" in ok.table() and "OVER BUDGET" in c.table()


def test_budget_from_cost_section_and_override(report):
    c = estimate(report, cost={"budget": {"power_w": 1e-6}})
    assert c.over_budget and set(c.budget["violations"]) == {"power_w"}
    c = estimate(report, cost={"budget": {"power_w": 1e-6}}, budget={"power_w": 1e6})
    assert not c.over_budget


def test_check_budget_is_a_pure_function():
    v = check_budget(Budget(area_mm2=100, power_density_w_per_mm2=0.5), area_mm2=120,
                     avg_power_w=30, peak_power_w=50)
    assert v["over_budget"] and v["violations"] == {"area_mm2": 20}
    assert v["constraints"]["power_density_w_per_mm2"] == pytest.approx(0.25 - 0.5)


@pytest.mark.parametrize("raw, fragment", [
    ({"budget": {"area": 10}}, "cost.budget.area: unknown key (did you mean 'area_mm2'?)"),
    ({"budget": {"power_w": 0}}, "cost.budget.power_w: expected a number > 0"),
    ({"budget": {"power_w": "lots"}}, "cost.budget.power_w: expected a number"),
    ({"dram": {"stacks": 0}}, "cost.dram.stacks: expected a value >= 1"),
    ({"io": {"nvlink5_link": 2}}, "cost.io.nvlink5_link: unknown PHY (did you mean"),
    ({"tech": {"node": "tiny"}}, "cost.tech.node: expected a node like 7nm"),
    ({"tech": 7}, "cost.tech: expected a technology name"),
    ({"colour": 1}, "cost.colour: unknown key"),
])
def test_bad_cost_sections(raw, fragment):
    with pytest.raises(ConfigError) as err:
        parse_cost_config(raw, file="arch.yaml")
    assert fragment in str(err.value) and "arch.yaml" in str(err.value)
