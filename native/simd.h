// DEEPNODE_ELEMENTWISE_CLONES: compile a function twice, for the x86-64-v2 baseline and for
// x86-64-v3 (AVX2 + FMA: 8 float lanes instead of 4, fused multiply-adds), the dynamic linker
// picking one at load (GCC function multi-versioning, an ifunc). For the element-wise and
// per-feature loops outside the GEMM (which has its own per-ISA builds). Elsewhere, under clang
// or with AddressSanitizer (whose runtime and ifuncs don't mix well) there is one version.
// OpenMP regions inside a cloned function are outlined into functions that are not cloned: put
// the loops in a cloned function that the parallel region calls, not the other way round.
#pragma once

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define DEEPNODE_ELEMENTWISE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DEEPNODE_ELEMENTWISE_CLONES
#endif

// For helpers of a cloned function: inlined into each clone, so they get its instruction set.
#define DEEPNODE_INLINE __attribute__((always_inline)) inline
