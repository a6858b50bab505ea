// SGEMM front end: ISA dispatch, trivial cases, thread split and per-thread workspaces.
// The packed/blocked algorithm itself is in gemm_kernel.inc, compiled once per ISA.
#include "gemm.h"
#include "scratch.h"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

// Each ISA translation unit exports these (see gemm_kernel.inc).
#define DN_GEMM_DECLARE(prefix)                                                              \
  int prefix##mr();                                                                          \
  int prefix##nr();                                                                          \
  int64_t prefix##work_floats(int64_t m, int64_t n, int64_t k);                              \
  void prefix##sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, \
                     const float* A, int64_t lda, const float* B, int64_t ldb, float beta,   \
                     float* C, int64_t ldc, const float* bias, float* work);
// The AVX2 and AVX-512 units exist on x86-64 only; elsewhere (aarch64: the generic unit's GCC
// vector extensions compile to NEON) the generic kernel is the only one.
#if defined(__x86_64__) || defined(_M_X64)
#define DEEPNODE_GEMM_X86 1
#else
#define DEEPNODE_GEMM_X86 0
#endif
extern "C" {
DN_GEMM_DECLARE(deepnode_gemm_generic_)
#if DEEPNODE_GEMM_X86
DN_GEMM_DECLARE(deepnode_gemm_avx2_)
DN_GEMM_DECLARE(deepnode_gemm_avx512_)
#endif
}
#undef DN_GEMM_DECLARE

namespace deepnode {
namespace {

struct Kernel {
  const char* isa;
  int mr, nr;
  int64_t (*work_floats)(int64_t m, int64_t n, int64_t k);
  void (*sgemm)(int, int, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                int64_t, float, float*, int64_t, const float*, float*);
};

#define DN_GEMM_KERNEL(name, prefix) \
  Kernel { name, prefix##mr(), prefix##nr(), prefix##work_floats, prefix##sgemm }

#if DEEPNODE_GEMM_X86
bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool cpu_has_avx512() {
#ifdef DEEPNODE_GEMM_WIDE_ON_AVX2
  // Test build: gemm_avx512.cc was compiled with AVX2 flags, so AVX2 is all it needs.
  return cpu_has_avx2();
#else
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && cpu_has_avx2();
#endif
}
#endif  // DEEPNODE_GEMM_X86

// Best supported kernel, or the one DEEPNODE_ISA names when the CPU supports it.
// On other architectures generic is the only kernel (DEEPNODE_ISA=avx2|avx512 falls back to it).
Kernel select_kernel() {
#if DEEPNODE_GEMM_X86
  const char* forced = std::getenv("DEEPNODE_ISA");
  const bool avx512 = cpu_has_avx512(), avx2 = cpu_has_avx2();
  if (forced) {
    if (std::strcmp(forced, "generic") == 0) return DN_GEMM_KERNEL("generic", deepnode_gemm_generic_);
    if (std::strcmp(forced, "avx2") == 0 && avx2) return DN_GEMM_KERNEL("avx2", deepnode_gemm_avx2_);
    if (std::strcmp(forced, "avx512") == 0 && avx512) return DN_GEMM_KERNEL("avx512", deepnode_gemm_avx512_);
  }
  if (avx512) return DN_GEMM_KERNEL("avx512", deepnode_gemm_avx512_);
  if (avx2) return DN_GEMM_KERNEL("avx2", deepnode_gemm_avx2_);
#endif
  return DN_GEMM_KERNEL("generic", deepnode_gemm_generic_);
}
#undef DN_GEMM_KERNEL

// Chosen once, when the library is loaded.
const Kernel g_kernel = select_kernel();

std::atomic<int> g_num_threads{0};  // 0: not set, use omp_get_max_threads()

// Products below this many flops stay on the calling thread and never enter OpenMP:
// a fork/join costs ~1 us, and on a shared machine a busy core can stall it for much longer.
constexpr double kParallelMinFlops = 1.5e6;
// Each extra thread must get at least this much work.
constexpr double kMinFlopsPerThread = 0.75e6;
constexpr int kBlocksPerThread = 4;
constexpr int kMaxBlocks = 256;

// Back-off when threads are not getting cores: after a parallel call whose helpers started
// too late, the next `g_serial_left` calls run on one thread; the back-off doubles while the
// contention lasts (up to 1024 calls) and decays when parallel calls run cleanly.
std::atomic<int> g_serial_left{0};
std::atomic<int> g_backoff{0};

bool backing_off() {
  if (g_serial_left.load(std::memory_order_relaxed) <= 0) return false;
  g_serial_left.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

void note_contention(bool contended) {
  int b = g_backoff.load(std::memory_order_relaxed);
  if (contended) {
    b = b < 4 ? 4 : (b >= 1024 ? 1024 : b * 2);
    g_serial_left.store(b, std::memory_order_relaxed);
  } else {
    b /= 2;
  }
  g_backoff.store(b, std::memory_order_relaxed);
}

// Per-thread packing buffer (nullptr when memory runs out; callers must not throw in OpenMP regions).
thread_local AlignedScratch t_workspace;

// One thread's share of C: rows [i0, i1) x columns [j0, j1).
struct Block {
  int64_t i0, i1, j0, j1;
};

struct Problem {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float beta;
  float* C;
  int64_t ldc;
  const float* bias;
};

// Computes one block of C on the calling thread; false if no workspace could be allocated.
bool run_block(const Problem& p, const Block& b) noexcept {
  const int64_t m = b.i1 - b.i0, n = b.j1 - b.j0;
  if (m <= 0 || n <= 0) return true;
  float* work = t_workspace.get(g_kernel.work_floats(m, n, p.k));
  if (!work) return false;
  const float* a = p.trans_a ? p.A + b.i0 : p.A + b.i0 * p.lda;
  const float* bm = p.trans_b ? p.B + b.j0 * p.ldb : p.B + b.j0;
  g_kernel.sgemm(p.trans_a, p.trans_b, m, n, p.k, p.alpha, a, p.lda, bm, p.ldb, p.beta,
                 p.C + b.i0 * p.ldc + b.j0, p.ldc, p.bias ? p.bias + b.j0 : nullptr, work);
  return true;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits C into tm x tn blocks (tm * tn == threads) aligned to the register tile, choosing the
// split with the least estimated per-thread time: its compute (including the padding of
// partial tiles) plus the packing of its A rows and B columns, which every thread does itself.
void choose_grid(int64_t m, int64_t n, int64_t k, int threads, int64_t* tm_out, int64_t* tn_out) {
  const int64_t mr = g_kernel.mr, nr = g_kernel.nr;
  double best = -1;
  *tm_out = 1;
  *tn_out = threads;
  for (int64_t tm = 1; tm <= threads; ++tm) {
    if (threads % tm) continue;
    const int64_t tn = threads / tm;
    if (ceil_div(m, mr) < tm || ceil_div(n, nr) < tn) continue;  // some thread would idle
    const int64_t mb = ceil_div(ceil_div(m, mr), tm) * mr, nb = ceil_div(ceil_div(n, nr), tn) * nr;
    const double cost = static_cast<double>(mb) * nb * k / 8.0 + 6.0 * (mb + nb) * k;
    if (best < 0 || cost < best) {
      best = cost;
      *tm_out = tm;
      *tn_out = tn;
    }
  }
}

Block block_of(int64_t m, int64_t n, int64_t tm, int64_t tn, int64_t index) {
  const int64_t mr = g_kernel.mr, nr = g_kernel.nr;
  const int64_t bi = index / tn, bj = index % tn;
  const int64_t mpan = ceil_div(m, mr), npan = ceil_div(n, nr);
  // Whole micro-panels per block, the remainder spread over the first blocks.
  auto lo = [](int64_t panels, int64_t parts, int64_t part) {
    return panels / parts * part + (part < panels % parts ? part : panels % parts);
  };
  Block b;
  b.i0 = lo(mpan, tm, bi) * mr;
  b.i1 = lo(mpan, tm, bi + 1) * mr;
  b.j0 = lo(npan, tn, bj) * nr;
  b.j1 = lo(npan, tn, bj + 1) * nr;
  if (b.i1 > m) b.i1 = m;
  if (b.j1 > n) b.j1 = n;
  return b;
}

// C = beta * C + bias, for k == 0 or alpha == 0 (A and B are not read, as in BLAS).
void scale_c(int64_t m, int64_t n, float beta, float* C, int64_t ldc, const float* bias) {
  for (int64_t i = 0; i < m; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < n; ++j) {
      const float base = beta == 0.0f ? 0.0f : beta * c[j];
      c[j] = bias ? base + bias[j] : base;
    }
  }
}

}  // namespace

void set_num_threads(int n) { g_num_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed); }

int get_num_threads() {
  const int n = g_num_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : omp_get_max_threads();
}

const char* gemm_isa() { return g_kernel.isa; }

void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
           const float* bias) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    scale_c(m, n, beta, C, ldc, bias);
    return;
  }
  const Problem p{transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias};
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);

  int threads = 1;
  if (flops >= kParallelMinFlops && !omp_in_parallel() && !backing_off()) {
    threads = get_num_threads();
    const double by_work = flops / kMinFlopsPerThread;
    if (by_work < threads) threads = static_cast<int>(by_work);
    if (threads > kMaxBlocks / kBlocksPerThread) threads = kMaxBlocks / kBlocksPerThread;
    if (threads < 1) threads = 1;
  }
  if (threads <= 1) {
    if (!run_block(p, Block{0, m, 0, n})) throw std::bad_alloc();
    return;
  }
  // A few blocks per thread, so that a thread that runs while another waits for a core
  // takes over that thread's work instead of leaving it for later.
  int blocks = threads * kBlocksPerThread;
  while (blocks > threads && flops / blocks < kMinFlopsPerThread) blocks -= threads;
  int64_t tm = 1, tn = 1;
  choose_grid(m, n, k, blocks, &tm, &tn);
  blocks = static_cast<int>(tm * tn);

  // Each thread claims disjoint blocks of C and packs its own panels: no barrier, no sharing.
  // Claiming (rather than block = thread id) also covers a runtime that grants fewer threads.
  bool done[kMaxBlocks];
  for (int b = 0; b < blocks; ++b) done[b] = false;
  std::atomic<int> next_block{0};
  std::atomic<int> helpers_that_worked{0};
  using Clock = std::chrono::steady_clock;
  float block_seconds[kMaxBlocks];
  Clock::time_point caller_done;
#pragma omp parallel num_threads(threads)
  {
    bool worked = false;
    for (int b = next_block.fetch_add(1, std::memory_order_relaxed); b < blocks;
         b = next_block.fetch_add(1, std::memory_order_relaxed)) {
      const auto start = Clock::now();
      done[b] = run_block(p, block_of(m, n, tm, tn, b));
      block_seconds[b] = std::chrono::duration<float>(Clock::now() - start).count();
      worked = true;
    }
    if (omp_get_thread_num() == 0)
      caller_done = Clock::now();
    else if (worked)
      helpers_that_worked.fetch_add(1, std::memory_order_relaxed);
  }
  // Signs that another process holds our cores (the blocks are of about equal size): a helper
  // never got a block, a block took far longer than another (its thread lost its core), or
  // the caller waited long for the team at the join. Then run the next calls on one thread.
  const float join_wait = std::chrono::duration<float>(Clock::now() - caller_done).count();
  float fastest = block_seconds[0], slowest = block_seconds[0];
  for (int b = 1; b < blocks; ++b) {
    if (block_seconds[b] < fastest) fastest = block_seconds[b];
    if (block_seconds[b] > slowest) slowest = block_seconds[b];
  }
  note_contention(helpers_that_worked.load() == 0 || slowest > 4 * fastest + 50e-6f || join_wait > 200e-6f);
  // A worker that could not allocate its workspace left its block for the caller.
  for (int b = 0; b < blocks; ++b)
    if (!done[b] && !run_block(p, block_of(m, n, tm, tn, b))) throw std::bad_alloc();
}

}  // namespace deepnode
