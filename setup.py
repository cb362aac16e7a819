"""Build of the one compiled part: the bank-level DRAM scheduler (accelsim/hw/dram_kernel.c).

Everything else is in pyproject.toml. The kernel is plain C99 called through ctypes (no Python or
numpy C API), built as a stable-ABI extension so one binary serves every Python version.
"""

import hashlib
import runpy
from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).parent
# compiler flags and source: accelsim/hw/dram_build.py (read as a file: nothing is installed yet)
build = runpy.run_path(str(ROOT / "accelsim" / "hw" / "dram_build.py"))
SOURCE = build["SOURCE"]
# The library remembers which version of the source it was built from; dram_kernel.py refuses a
# stale build (a checkout edited or pulled without rebuilding), whose array layouts may differ.
source_hash = hashlib.sha256((ROOT / SOURCE).read_bytes()).hexdigest()[:16]

setup(ext_modules=[Extension("accelsim.hw._dram_kernel",
                             build["SOURCES"] + ["accelsim/hw/dram_module.c"],
                             define_macros=[("DRAM_SOURCE_HASH", f'"{source_hash}"')],
                             extra_compile_args=build["CFLAGS"], py_limited_api=True)])
