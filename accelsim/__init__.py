"""accelsim: a cycle-approximate simulator of AI accelerators for LLM inference.

Public API (documented in the README; ``tests/test_public_api.py`` keeps the two in step)::

    arch = accelsim.load_arch("npu_128x128_bf16_hbm2", overrides=["systolic.dataflow=os"])
    trace = accelsim.generate_trace(model="llama2-7b", phase="decode", batch=32, context=2048)
    report = accelsim.simulate(arch, trace)
    report.ops, report.total_cycles, report.to_json()
"""

__version__ = "0.1.0"

from .api import (Arch, OpTrace, Report, generate_trace, load_arch, load_trace, serve,  # noqa: E402
                  simulate)
from .errors import AccelsimError  # noqa: E402
from . import gym as _gym  # noqa: F401,E402  (registers the accelsim/* Gym ids; envs load on make)

__all__ = ["load_arch", "load_trace", "generate_trace", "simulate", "serve", "Report", "Arch",
           "OpTrace",
           "AccelsimError", "__version__"]
