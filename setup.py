"""Build of the one compiled part: the bank-level DRAM scheduler (accelsim/hw/dram_kernel.c).

Everything else is in pyproject.toml. The kernel is plain C99 called through ctypes (no Python or
numpy C API), built as a stable-ABI extension so one binary serves every Python version.
"""

import sys

from setuptools import Extension, setup

flags = ["/O2"] if sys.platform == "win32" else ["-O3", "-std=c99", "-fvisibility=hidden"]

setup(ext_modules=[Extension("accelsim.hw._dram_kernel", ["accelsim/hw/dram_kernel.c",
                                                        "accelsim/hw/dram_module.c"],
                             extra_compile_args=flags, py_limited_api=True)])
