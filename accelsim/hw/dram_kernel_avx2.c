/* dram_kernel.c compiled again for x86 CPUs with AVX2 (and BMI1/2, LZCNT, POPCNT, which every
 * AVX2 CPU has: Intel from Haswell, AMD from Excavator): its batch function as
 * dram_simulate_batch_avx2, the same code and results. NOTE(perf): see scripts/bench_dram.py --
 * the timing rules apply as four-lane vector maxima (raise4), which baseline x86-64 (SSE2, no
 * 64-bit compare) has to emulate, and BMI2's shifts take no flags (2 % more); dram_kernel.py
 * calls this build where dram_cpu_has_avx2() is 1 (all five there). Other compilers and CPUs
 * build nothing here and use the portable build. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2,bmi,bmi2,lzcnt,popcnt")
#define DRAM_KERNEL_VARIANT
#define dram_simulate_batch dram_simulate_batch_avx2
#include "dram_kernel.c"
#else
typedef int dram_kernel_avx2_not_built;   /* ISO C: a translation unit is not empty */
#endif
