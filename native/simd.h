// DEEPNODE_ELEMENTWISE_CLONES: compile a function twice, for the x86-64-v2 baseline and for
// x86-64-v3 (AVX2 + FMA: 8 float lanes instead of 4, fused multiply-adds), the dynamic linker
// picking one at load (GCC function multi-versioning, an ifunc). For the element-wise and
// per-feature loops outside the GEMM (which has its own per-ISA builds). Elsewhere, under clang
// or with AddressSanitizer (whose runtime and ifuncs don't mix well) there is one version.
// The pool's tasks (parallel.h) inside a cloned function run outlined code
// that is not cloned: put the loops in a cloned function that the split calls, not the other way
// round.
//
// A loop that calls std::sqrt does NOT vectorise in either clone: the build keeps -fmath-errno,
// so GCC guards every square root with a branch to libm's sqrtf (for errno on negative input),
// and the function-level optimize("no-math-errno") attribute has no effect on that in GCC 12.
// Such loops get hand-written AVX2 code instead: a function marked DEEPNODE_TARGET_AVX2 (x86-64
// only, DEEPNODE_X86_SIMD), called when use_avx2_fma() says the CPU has AVX2 and FMA.
#pragma once

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define DEEPNODE_ELEMENTWISE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DEEPNODE_ELEMENTWISE_CLONES
#endif

// For helpers of a cloned function: inlined into each clone, so they get its instruction set.
#define DEEPNODE_INLINE __attribute__((always_inline)) inline

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DEEPNODE_X86_SIMD 1
#include <immintrin.h>
#define DEEPNODE_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define DEEPNODE_X86_SIMD 0
#endif

namespace deepnode {

// True when the hand-written AVX2 + FMA loops may run: the CPU has both, and DEEPNODE_ISA is not
// "generic" (which forces the portable code everywhere, as it does for the GEMM). Decided once.
inline bool use_avx2_fma() {
#if DEEPNODE_X86_SIMD
  static const bool ok = [] {
    const char* forced = std::getenv("DEEPNODE_ISA");
    if (forced && std::strcmp(forced, "generic") == 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok;
#else
  return false;
#endif
}

}  // namespace deepnode
