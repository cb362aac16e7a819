"""Energy, area and power of a simulated run (``docs/cost.md``).

``estimate(report, tech=None, *, cost=None, budget=None) -> CostReport`` prices the events a
simulation modelled with a technology file (``load_tech``; default ``7nm``, shipped in
``accelsim/data/tech/``). ``cost_section(report)`` is what the JSON report embeds.
PIM work is priced through the same path (the memory model's ``pim`` counts, ``extra_events``).
``docs/cost.md`` describes the model, the technology file and the budgets.
"""

from .config import Budget, CostConfig, check_budget, parse_budget, parse_cost_config
from .model import (AREA_COMPONENTS, ENERGY_COMPONENTS, CostReport, cost_section, estimate,
                    estimate_area)
from .tech import Technology, load_tech, tech_names

__all__ = ["estimate", "estimate_area", "cost_section", "CostReport", "load_tech", "Technology",
           "tech_names", "Budget", "CostConfig", "parse_cost_config", "parse_budget",
           "check_budget", "ENERGY_COMPONENTS", "AREA_COMPONENTS"]
