"""How the DRAM kernel (``dram_kernel.c``) is compiled: ``setup.py`` builds the extension with these
flags and ``scripts/bench_dram.py`` times a build with them. Plain data, no imports from the
package: ``setup.py`` reads this file before anything is installed."""

import sys

# -fno-wrapv undoes the -fwrapv of Python's own CFLAGS (made for CPython's C): the kernel's integers
# never overflow (ticks stay below 2^60: hbm.py bounds timings and organizations), and without
# wrapping semantics GCC simplifies its index arithmetic (NOTE(perf): see scripts/bench_dram.py).
CFLAGS = ["/O2"] if sys.platform == "win32" else ["-O3", "-std=c99", "-fvisibility=hidden",
                                                  "-fno-wrapv"]
SOURCE = "accelsim/hw/dram_kernel.c"     # relative to the checkout
# the sources compiled into the library: the kernel, and the kernel again for AVX2 CPUs
SOURCES = [SOURCE, "accelsim/hw/dram_kernel_avx2.c"]
