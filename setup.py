"""Build of the one compiled part: the bank-level DRAM scheduler (accelsim/hw/dram_kernel.c).

Everything else is in pyproject.toml. The kernel is plain C99 called through ctypes (no Python or
numpy C API), built as a stable-ABI extension so one binary serves every Python version.
"""

import hashlib
import sys
from pathlib import Path

from setuptools import Extension, setup

# -fno-wrapv undoes the -fwrapv of Python's own CFLAGS (made for CPython's C): the kernel's integers
# never overflow (ticks stay below 2^60: hbm.py bounds timings and organizations), and without
# wrapping semantics GCC simplifies its index arithmetic (NOTE(perf): see scripts/bench_dram.py).
flags = ["/O2"] if sys.platform == "win32" else ["-O3", "-std=c99", "-fvisibility=hidden",
                                                 "-fno-wrapv"]
# The library remembers which version of the source it was built from; dram_kernel.py refuses a
# stale build (a checkout edited or pulled without rebuilding), whose array layouts may differ.
SOURCE = "accelsim/hw/dram_kernel.c"
source_hash = hashlib.sha256((Path(__file__).parent / SOURCE).read_bytes()).hexdigest()[:16]

setup(ext_modules=[Extension("accelsim.hw._dram_kernel", [SOURCE,
                                                        "accelsim/hw/dram_module.c"],
                             define_macros=[("DRAM_SOURCE_HASH", f'"{source_hash}"')],
                             extra_compile_args=flags, py_limited_api=True)])
