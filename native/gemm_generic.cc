// SGEMM for any x86-64-v2 CPU: 4-wide SSE vectors, 6x8 register tile.
// Built with the baseline flags only.
#define DN_GEMM_TILE DN_GEMM_TILE_SSE
#define DN_GEMM_PREFIX deepnode_gemm_generic_
#include "gemm_kernel.inc"
