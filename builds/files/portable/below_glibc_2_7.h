/* Included first in every C file compiled for a glibc below 2.7 (EL5's 2.5).
   Dynamic CPU sets came with glibc 2.7, yet zig's headers for 2.5 define CPU_ALLOC and its
   kin: code that tests for them (psutil's cpu_affinity) would then need
   __sched_cpualloc@GLIBC_2.7. Without them it takes its fixed-size cpu_set_t path, as
   it did when built on EL5. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <sched.h>
#undef CPU_ALLOC
#undef CPU_ALLOC_SIZE
#undef CPU_FREE
#undef CPU_COUNT
#undef CPU_COUNT_S
