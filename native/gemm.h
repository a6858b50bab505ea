// Single-precision GEMM: packed, cache-blocked, SIMD micro-kernel chosen at load time.
// Plain C++ (no N-API): the binding converts Float32Arrays and calls these.
#pragma once

#include <cstdint>

namespace deepnode {

// C[m x n] = alpha * op(A) * op(B) + beta * C  (+ bias[j] added to every row when bias != nullptr)
// Row-major. op(A) is m x k: A is m x k (lda >= k) when !transA, else k x m (lda >= m).
// op(B) is k x n likewise: B is k x n (ldb >= n) when !transB, else n x k (ldb >= k). ldc >= n.
// beta == 0 means C is write-only (its old contents, even NaN, are ignored), as in BLAS.
// k == 0 gives C = beta * C + bias; m == 0 or n == 0 does nothing.
// Throws std::bad_alloc only if its packing buffers cannot be allocated (never from a helper thread).
// Large products use up to get_num_threads() threads: the caller and helper threads of a pool
// owned by the GEMM (not OpenMP), which share out blocks of C without a barrier and back off to
// the calling thread alone while another process holds the cores (see gemm.cc).
void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
           float* C, int64_t ldc, const float* bias = nullptr);

// Threads used by large products (n >= 1; values < 1 are taken as 1). Inside an OpenMP parallel
// region products run on the calling thread. Default: omp_get_max_threads(), so
// OMP_NUM_THREADS is respected.
void set_num_threads(int n);
int get_num_threads();

// "avx512", "avx2" or "generic": the micro-kernel chosen at load
// (DEEPNODE_ISA=generic|avx2|avx512 forces one, falling back to the best supported).
const char* gemm_isa();

}  // namespace deepnode
