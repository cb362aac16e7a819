"""The bank-level kernel's compiled code is cached on disk (a second process loads it instead of
compiling for ~20 s), and a machine without a writable cache directory still imports it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from numba.core.caching import FunctionCache
from numba.core.registry import CPUDispatcher

from accelsim.hw import dram_kernel as K

ROOT = Path(__file__).resolve().parents[2]


def _dispatchers(module) -> dict:
    return {k: v for k, v in vars(module).items() if isinstance(v, CPUDispatcher)}


def test_every_kernel_function_caches_its_machine_code():
    found = _dispatchers(K)
    assert "simulate_batch" in found and "issue_bank_command" in found
    for name, disp in found.items():
        assert isinstance(disp._cache, FunctionCache), name


def test_kernel_imports_without_a_writable_cache_directory():
    """``NUMBA_CACHE_LOCATOR_CLASSES`` names a locator that never applies outside IPython: numba
    then refuses ``cache=True`` (RuntimeError at decoration); the kernel compiles uncached."""
    code = ("from numba.core.caching import NullCache\n"
            "from numba.core.registry import CPUDispatcher\n"
            "from accelsim.hw import dram_kernel as K\n"
            "d = [v for v in vars(K).values() if isinstance(v, CPUDispatcher)]\n"
            "print(len(d), all(isinstance(v._cache, NullCache) for v in d))\n")
    env = dict(os.environ, NUMBA_CACHE_LOCATOR_CLASSES="_IPythonCacheLocator",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert int(out[0]) == len(_dispatchers(K)) and out[1] == "True"
