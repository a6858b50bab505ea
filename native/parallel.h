// The OpenMP split shared by the element-wise, optimizer and per-column kernels: one thread below
// a size threshold (waking the passive team and joining it costs ~12-15 us on a 2-vCPU VM, more
// than a short memory-bound pass gains) or inside another parallel region; otherwise up to
// deepnode::get_num_threads() threads that claim fixed chunks of the index range one at a time.
//
// Chunks are claimed, not assigned: when another process holds a core and a team thread starts
// late, the threads that run take its chunks, and the pass waits for the late thread only to
// arrive at the join, not to do a share of the work (a static split waits for both).
// Which thread runs a chunk never changes the result: a chunk is a fixed index range and kernels
// must compute it the same way wherever it runs.
//
// The join still waits for every team thread to arrive, and a thread that has no core (another
// process holds it) may arrive milliseconds late: in one W4 run a ~0.12 ms ReLU pass took ~2 ms.
// So a pass whose join waited long, or whose other threads woke too late to take a single chunk,
// is a sign of contention: passes then run on the calling thread alone for a multiple of the
// wait (the GEMM's pool backs off the same way). On a quiet machine neither happens.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "gemm.h"

namespace deepnode {

namespace parallel_detail {
// A join wait above this (beyond the caller's own chunks) counts as a stall.
constexpr int64_t kStallNs = 200 * 1000;
constexpr int64_t kBackOffFactor = 32;
// When the caller ran every chunk: serial for this many times the pass's duration.
constexpr int64_t kAbsentFactor = 8;
inline std::atomic<int64_t> serial_until_ns{0};

// DEEPNODE_PARALLEL_BACKOFF=0 turns the back-off off, so that a pass above the thresholds always
// splits (tests that compare split and one-thread results, benchmarks of the split itself).
inline bool backoff_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("DEEPNODE_PARALLEL_BACKOFF");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return enabled;
}

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace parallel_detail

// Threads for a pass over n elements: 1 when n <= min_total, already inside a parallel region or
// backing off (see above); otherwise as many as get_num_threads() allows with at least
// per_thread elements each.
inline int threads_for(int64_t n, int64_t min_total, int64_t per_thread) {
  if (n <= min_total || omp_in_parallel()) return 1;
  if (parallel_detail::now_ns() < parallel_detail::serial_until_ns.load(std::memory_order_relaxed)) return 1;
  const int64_t t = std::min<int64_t>(get_num_threads(), n / std::max<int64_t>(per_thread, 1));
  return static_cast<int>(std::max<int64_t>(t, 1));
}

// Calls op(i0, i1) for the chunks [i0, i1) of [0, n), `chunk` elements each (the last one
// shorter), claimed by a team of `threads`; or op(0, n) once on the calling thread when
// threads <= 1. Keep chunk a multiple of 16 floats so that threads never write the same cache line.
template <typename F>
void for_each_chunk(int64_t n, int threads, int64_t chunk, F op) {
  if (threads <= 1 || n <= chunk) {
    op(int64_t{0}, n);
    return;
  }
  std::atomic<int64_t> next{0};
  const int64_t chunks = (n + chunk - 1) / chunk;
  const int64_t start_ns = parallel_detail::now_ns();
  int64_t caller_done_ns = 0, caller_chunks = 0;
#pragma omp parallel num_threads(threads)
  {
    int64_t mine = 0;
    for (int64_t c = next.fetch_add(1, std::memory_order_relaxed); c < chunks;
         c = next.fetch_add(1, std::memory_order_relaxed), ++mine)
      op(c * chunk, std::min(n, (c + 1) * chunk));
    if (omp_get_thread_num() == 0) {
      caller_done_ns = parallel_detail::now_ns();
      caller_chunks = mine;
    }
  }
  // Back off when the join waited long (a team thread lost its core mid-chunk or woke late), or
  // when no other thread woke in time to take a single chunk (a quiet machine wakes one in ~15 us,
  // less than a pass above the thresholds takes).
  const int64_t end_ns = parallel_detail::now_ns(), stall = end_ns - caller_done_ns;
  int64_t back_off = 0;
  if (stall > parallel_detail::kStallNs) back_off = parallel_detail::kBackOffFactor * stall;
  if (caller_chunks == chunks) back_off = std::max(back_off, parallel_detail::kAbsentFactor * (end_ns - start_ns));
  if (back_off > 0 && parallel_detail::backoff_enabled()) parallel_detail::serial_until_ns.store(end_ns + back_off, std::memory_order_relaxed);
}

}  // namespace deepnode
