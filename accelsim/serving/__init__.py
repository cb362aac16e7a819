"""Serving on simulated hardware: continuous batching driven by the simulator's clock.

``serve(requests, model, pools=[Pool(arch)])`` runs a vLLM-style scheduler (``scheduler.py``)
over paged KV blocks (``kv.py``) on replicas behind a router (``loop.py``); each iteration is
timed by the engine, memoized by operator shape (``timing.py``). Metrics (``metrics.py``),
energy (``energy.py``) and plots (``plots.py``). See ``docs/serving.md``.
"""

from .kv import KvSpace, kv_space
from .metrics import parse_slo
from .run import Pool, ServeResult, Settings, serve
from .scheduler import Request, Scheduler, SchedulerConfig
from .timing import FixedTimer, IterationTimer

__all__ = ["serve", "Pool", "Settings", "ServeResult", "SchedulerConfig", "Scheduler",
           "Request", "IterationTimer", "FixedTimer", "KvSpace", "kv_space", "parse_slo"]
