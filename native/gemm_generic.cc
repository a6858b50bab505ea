// SGEMM for any CPU: 4-wide vectors (SSE on x86-64-v2, NEON on aarch64), 6x8 register tile.
// Built with the baseline flags only; the only kernel on non-x86 architectures.
#define DN_GEMM_TILE DN_GEMM_TILE_SSE
#define DN_GEMM_PREFIX deepnode_gemm_generic_
#include "gemm_kernel.inc"
