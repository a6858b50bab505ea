// The split shared by the element-wise, optimizer, per-column, batch-norm, dropout and quantized
// kernels: one thread below a size threshold; otherwise up to deepnode::get_num_threads() threads
// that claim fixed chunks of the index range one at a time. The library has no other threads.
//
// The threads are the GEMM's own pool (gemm.h run_tasks), not an OpenMP team. A training step
// alternates products and passes (W4: forward products, ReLU backward and bias sums, dX and dW
// products, then Adam over 1.86M floats and the next batch's gather). With the passes on a
// passive OpenMP team, the pool's helper fell asleep during each pass and was woken late for the
// next product, while libgomp's worker was woken for each pass on the caller's CPU (wake-affine
// placement) where it could not run: Adam took 1.30 ms per W4 step at 2 threads against 1.51 at
// 1, and the products after a pass ran at 1.5-1.7x their 1-thread speed instead of the 1.85-1.95x
// of back-to-back products. On one pool the helper that runs the passes is the one the next
// product needs, awake and off the caller's CPU.
//
// Chunks are claimed, not assigned: when another process holds a core and the helper starts late,
// the caller takes its chunks, and the pass waits only for a chunk the helper has already claimed.
// Which thread runs a chunk never changes the result: a chunk is a fixed index range and kernels
// must compute it the same way wherever it runs. A pass whose helper was stranded or absent makes
// the pool back off (gemm.cc): passes and products then run on the calling thread alone for a
// while. DEEPNODE_PARALLEL_BACKOFF=0 turns that off for passes.
#pragma once

#include <algorithm>
#include <cstdint>

#include "gemm.h"

namespace deepnode {

// Threads for a pass over n elements: 1 when n <= min_total or while the pool backs off (see
// above); otherwise as many as get_num_threads() allows with at least per_thread elements each.
inline int threads_for(int64_t n, int64_t min_total, int64_t per_thread) {
  if (n <= min_total || pool_backing_off()) return 1;
  const int64_t t = std::min<int64_t>(get_num_threads(), n / std::max<int64_t>(per_thread, 1));
  return static_cast<int>(std::max<int64_t>(t, 1));
}

// Calls op(i0, i1) for the chunks [i0, i1) of [0, n), `chunk` elements each (the last one
// shorter), claimed by up to `threads` threads of the pool; or op(0, n) once on the calling thread
// when threads <= 1 or the pool is busy (a call from inside a task or a product's epilogue).
// Keep chunk a multiple of 16 floats so that threads never write the same cache line.
// op must not throw.
template <typename F>
void for_each_chunk(int64_t n, int threads, int64_t chunk, F op) {
  const int64_t chunks = chunk > 0 ? (n + chunk - 1) / chunk : 0;
  if (threads <= 1 || chunks <= 1) {
    op(int64_t{0}, n);
    return;
  }
  // A task is one chunk, or several consecutive ones when there are more than the pool takes.
  const int64_t per_task = (chunks + kMaxPoolTasks - 1) / kMaxPoolTasks;
  struct Ctx {
    F* op;
    int64_t n, chunk, chunks, per_task;
  } ctx{&op, n, chunk, chunks, per_task};
  const auto task = [](void* p, int64_t t) {
    const Ctx& c = *static_cast<const Ctx*>(p);
    const int64_t end = std::min(c.chunks, (t + 1) * c.per_task);
    for (int64_t i = t * c.per_task; i < end; ++i) (*c.op)(i * c.chunk, std::min(c.n, (i + 1) * c.chunk));
  };
  if (!run_tasks((chunks + per_task - 1) / per_task, threads, task, &ctx)) op(int64_t{0}, n);
}

}  // namespace deepnode
