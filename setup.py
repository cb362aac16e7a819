"""Build of the one compiled part: the bank-level DRAM scheduler (accelsim/hw/dram_kernel.c).

Everything else is in pyproject.toml. The kernel is plain C99 called through ctypes (no Python or
numpy C API), built as a stable-ABI extension so one binary serves every Python version.
"""

import hashlib
import runpy
import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
# compiler flags and source: accelsim/hw/dram_build.py (read as a file: nothing is installed yet)
build = runpy.run_path(str(ROOT / "accelsim" / "hw" / "dram_build.py"))
SOURCE = build["SOURCE"]
# The library remembers which version of the source it was built from; dram_kernel.py refuses a
# stale build (a checkout edited or pulled without rebuilding), whose array layouts may differ.
source_hash = hashlib.sha256((ROOT / SOURCE).read_bytes()).hexdigest()[:16]

# The declarative folders the package reads (accelsim/paths.py: data_root): in a checkout or an
# editable install they are read where they are; a wheel carries a copy under accelsim/_shipped/.
SHIPPED = ["arch_configs", "traces", "envs", "docs/silicon"]


class BuildPyWithData(build_py):
    """build_py, plus a copy of SHIPPED into the built package (accelsim/_shipped/...)."""

    def run(self):
        super().run()
        for folder in SHIPPED:
            target = Path(self.build_lib) / "accelsim" / "_shipped" / folder
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(ROOT / folder, target,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithData},
      ext_modules=[Extension("accelsim.hw._dram_kernel",
                             build["SOURCES"] + ["accelsim/hw/dram_module.c"],
                             define_macros=[("DRAM_SOURCE_HASH", f'"{source_hash}"')],
                             extra_compile_args=build["CFLAGS"], py_limited_api=True)])
