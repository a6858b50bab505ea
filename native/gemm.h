// Single-precision GEMM: packed, cache-blocked, SIMD micro-kernel chosen at load time.
// Plain C++ (no N-API): the binding converts Float32Arrays and calls these.
#pragma once

#include <cstdint>

#include "kernels.h"  // Act and activation_forward, for sgemm_act

namespace deepnode {

// C[m x n] = alpha * op(A) * op(B) + beta * C  (+ bias[j] added to every row when bias != nullptr)
// Row-major. op(A) is m x k: A is m x k (lda >= k) when !transA, else k x m (lda >= m).
// op(B) is k x n likewise: B is k x n (ldb >= n) when !transB, else n x k (ldb >= k). ldc >= n.
// beta == 0 means C is write-only (its old contents, even NaN, are ignored), as in BLAS.
// k == 0 gives C = beta * C + bias; m == 0 or n == 0 does nothing.
// Throws std::bad_alloc only if its packing buffers cannot be allocated (never from a helper thread).
// Large products use up to get_num_threads() threads: the caller and helper threads of a pool
// owned by the GEMM, which share out blocks of C without a barrier and back off to
// the calling thread alone while another process holds the cores (see gemm.cc).
void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
           float* C, int64_t ldc, const float* bias = nullptr);

// The GEMM epilogue hook: sgemm_ex calls apply(ctx, i0, j0, rows, cols) on disjoint regions of C
// (rows [i0, i0 + rows), columns [j0, j0 + cols), absolute) that together cover C once, each as
// soon as it holds its final value Z = alpha op(A) op(B) + beta C + bias, by the thread that
// computed it, while the region is still in that core's cache. A region is a row block of one
// thread's block of C by a group of whole register-tile columns, at least 128 wide except the
// last of the block (kPostCols in gemm_kernel.inc). apply runs on the GEMM's helper threads too,
// concurrently on different regions: it must be thread-safe for disjoint regions and must not
// throw. (This header has inline code: include it from baseline translation units only, never
// from an ISA-specific one; see scratch.h.)
struct GemmEpilogue {
  void (*apply)(void* ctx, int64_t i0, int64_t j0, int64_t rows, int64_t cols);
  void* ctx;
};

// sgemm, then epilogue->apply on every region of C as it is finished (epilogue may be nullptr).
void sgemm_ex(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
              float* C, int64_t ldc, const float* bias, const GemmEpilogue* epilogue);

// The Dense forward in one pass: Z = alpha op(A) op(B) + beta C + bias into C (as sgemm), and
// Y = act(Z) (activation_forward of kernels.h, act_alpha its alpha) into Y (m x n, row stride
// ldy >= n), applied per finished region of C by the thread that computed it, so Z is read back
// from cache instead of memory. Y is bit-identical to sgemm followed by activation_forward on
// the same Z. Y may be C itself (ldy == ldc: Z is then overwritten) but must not partly overlap it.
inline void sgemm_act(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha,
                      const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                      int64_t ldc, const float* bias, Act act, float act_alpha, float* Y, int64_t ldy) {
  struct Ctx {
    const float* C;
    int64_t ldc;
    float* Y;
    int64_t ldy;
    Act act;
    float alpha;
  } ctx{C, ldc, Y, ldy, act, act_alpha};
  const GemmEpilogue ep{[](void* p, int64_t i0, int64_t j0, int64_t rows, int64_t cols) {
                          const Ctx& c = *static_cast<const Ctx*>(p);
                          if (cols == c.ldc && c.ldy == c.ldc) {
                            // Whole rows, contiguous in C and Y: one call per up to 16K floats (a
                            // pass that short stays on this thread; see kernels.cc).
                            const int64_t step = cols >= (int64_t{1} << 14) ? 1 : (int64_t{1} << 14) / cols;
                            for (int64_t i = i0; i < i0 + rows; i += step) {
                              const int64_t r = i0 + rows - i < step ? i0 + rows - i : step;
                              activation_forward(c.act, c.C + i * c.ldc, c.Y + i * c.ldy, r * cols, c.alpha);
                            }
                            return;
                          }
                          for (int64_t i = i0; i < i0 + rows; ++i)
                            activation_forward(c.act, c.C + i * c.ldc + j0, c.Y + i * c.ldy + j0, cols, c.alpha);
                        },
                        &ctx};
  sgemm_ex(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias, &ep);
}

// Threads used by large products and passes (n >= 1; values < 1 are taken as 1). A product or
// pass started while the pool is in use (from inside one of its tasks, or on another thread at the
// same time) runs on its calling thread. Default: OMP_NUM_THREADS when set to a positive number,
// else the CPUs the process may run on (see gemm.cc default_threads).
void set_num_threads(int n);
int get_num_threads();

// A split-k product (a batch-32 forward product with k >= 512, see gemm.cc) sums rows [0, h) of
// its weights on the calling thread and rows [h, k) on the pool's helper: h = split_k_rows(k). A
// pass over those weights that splits at h keeps each thread on the rows it reads.
int64_t split_k_rows(int64_t k);

// Runs fn(ctx, t) for every t in [0, tasks) on the calling thread and up to threads - 1 of the
// GEMM's helper threads, each task claimed by one thread; returns once all have run. Returns
// false, having run nothing, when the pool is in use (a product or another pass: a call from
// inside a task or an epilogue), backing off (see pool_backing_off), tasks or threads < 2, or
// tasks > kMaxPoolTasks: the caller then does the work itself. fn must not throw. The element-wise
// passes use it through parallel.h for_each_chunk.
using TaskFn = void (*)(void* ctx, int64_t task);
constexpr int64_t kMaxPoolTasks = 60000;
bool run_tasks(int64_t tasks, int threads, TaskFn fn, void* ctx);
// Threads a product of `flops` flops is worth by its work alone: 1 below 1.5 MFLOP (a fork/join
// costs more than it saves), else get_num_threads() capped at one per 0.75 MFLOP. sgemm and the
// quantized products (quantized.cc) size their splits with it; neither asks whether the pool is
// backing off (each caller does).
int threads_for_flops(double flops);
// Whether the pool is backing off (another process holds a core our threads need; see gemm.cc),
// so that passes stay on the calling thread; always false with DEEPNODE_PARALLEL_BACKOFF=0.
bool pool_backing_off();

// "avx512", "avx2" or "generic": the micro-kernel chosen at load
// (DEEPNODE_ISA=generic|avx2|avx512 forces one, falling back to the best supported).
const char* gemm_isa();

}  // namespace deepnode
