// SGEMM for AVX2 + FMA CPUs: 8-wide vectors, 6x16 register tile.
// Built with -mavx2 -mfma -mf16c on top of the baseline flags; called only when the CPU has them.
// On other architectures this unit compiles to nothing (gemm.cc never declares its symbols there).
#if defined(__x86_64__) || defined(_M_X64)
#if !defined(__AVX2__) || !defined(__FMA__)
#error "gemm_avx2.cc must be compiled with -mavx2 -mfma"
#endif
#define DN_GEMM_TILE DN_GEMM_TILE_AVX2
#define DN_GEMM_PREFIX deepnode_gemm_avx2_
#include "gemm_kernel.inc"
#endif
