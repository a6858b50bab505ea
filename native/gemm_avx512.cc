// SGEMM for AVX-512 CPUs: 16-wide vectors, 12x32 register tile.
// Built with -mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma; called only when the CPU has them.
//
// Tests also build this file with -mavx2 -mfma -DDEEPNODE_GEMM_WIDE_ON_AVX2 (and gemm.cc with the
// same macro): the same 12x32 tile then runs as pairs of 32-byte operations on AVX2 machines.
//
// On other architectures this unit compiles to nothing (gemm.cc never declares its symbols there).
#if defined(__x86_64__) || defined(_M_X64)
#if !defined(DEEPNODE_GEMM_WIDE_ON_AVX2) && !defined(__AVX512F__)
#error "gemm_avx512.cc must be compiled with -mavx512f (or -mavx2 -mfma -DDEEPNODE_GEMM_WIDE_ON_AVX2 for tests)"
#endif
#define DN_GEMM_TILE DN_GEMM_TILE_AVX512
#define DN_GEMM_PREFIX deepnode_gemm_avx512_
#include "gemm_kernel.inc"
#endif
