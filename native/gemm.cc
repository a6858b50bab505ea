// SGEMM front end: ISA dispatch, trivial cases, thread split, the helper-thread pool and
// per-thread workspaces.
// The packed/blocked algorithm itself is in gemm_kernel.inc, compiled once per ISA.
#include "gemm.h"
#include "scratch.h"

#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

// Each ISA translation unit exports these (see gemm_kernel.inc).
#define DN_GEMM_DECLARE(prefix)                                                              \
  int prefix##mr();                                                                          \
  int prefix##nr();                                                                          \
  int64_t prefix##work_floats(int64_t m, int64_t n, int64_t k);                              \
  int64_t prefix##shared_a_floats(int64_t m, int64_t k);                                     \
  int prefix##reads_b_in_place(int trans_b, int64_t m);                                      \
  int prefix##reads_a_in_place(int trans_a, int64_t m, int64_t k);                           \
  void prefix##pack_a(int trans_a, int64_t m, int64_t k, const float* A, int64_t lda, float* dst, int64_t i0, int64_t i1); \
  void prefix##sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, \
                     const float* A, int64_t lda, const float* B, int64_t ldb, float beta,   \
                     float* C, int64_t ldc, const float* bias, const float* packed_a, float* work, \
                     void (*post)(void*, int64_t, int64_t, int64_t, int64_t), void* post_ctx);
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
  int64_t (*shared_a_floats)(int64_t m, int64_t k);
  int (*reads_b_in_place)(int trans_b, int64_t m);
  int (*reads_a_in_place)(int trans_a, int64_t m, int64_t k);
  void (*pack_a)(int, int64_t, int64_t, const float*, int64_t, float*, int64_t, int64_t);
  void (*sgemm)(int, int, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                int64_t, float, float*, int64_t, const float*, const float*, float*,
                void (*)(void*, int64_t, int64_t, int64_t, int64_t), void*);
};

#define DN_GEMM_KERNEL(name, prefix)                                                           \
  Kernel {                                                                                     \
    name, prefix##mr(), prefix##nr(), prefix##work_floats, prefix##shared_a_floats,             \
        prefix##reads_b_in_place, prefix##reads_a_in_place, prefix##pack_a, prefix##sgemm      \
  }

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

std::atomic<int> g_num_threads{0};  // 0: not set, use default_threads()

// Products below this many flops stay on the calling thread and never wake the helpers:
// handing out blocks costs ~1 us, and waking a sleeping helper far more.
constexpr double kParallelMinFlops = 1.5e6;
// Each extra thread must get at least this much work.
constexpr double kMinFlopsPerThread = 0.75e6;
constexpr int kBlocksPerThread = 4;
constexpr int kMaxBlocks = 256;
// Column-block products of at least this many flops shrink their blocks towards the end (sgemm_ex).
constexpr double kGuidedMinFlops = 5e7;

// Per-thread packing buffer (nullptr when memory runs out; helper threads must not throw).
thread_local AlignedScratch t_workspace;
// The caller's copy of op(A) packed once and shared by the column blocks of a product (see sgemm).
thread_local AlignedScratch t_shared_a;
// The caller's buffer for the second half-sum of a split-k product (see sgemm_ex).
thread_local AlignedScratch t_split_k;

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
  const float* packed_a;  // op(A) packed whole for blocks spanning all m rows, or nullptr
  const GemmEpilogue* epilogue;  // or nullptr
  // When the pool packs op(A) (see sgemm): packed_a again, writable, and the packing's two row
  // ranges [0, pack_split) and [pack_split, m); else nullptr.
  float* pack_into;
  int64_t pack_split;
  // Guided column blocks (see sgemm_ex): block b is register-tile panels [col_panels[b],
  // col_panels[b + 1]) of all m rows; nullptr for the even tm x tn grid.
  const int64_t* col_panels = nullptr;
};

// Pack task t (0 or 1) of a product whose pool packs op(A): one of the two row ranges.
void run_pack(const Problem& p, int t) noexcept {
  const int64_t i0 = t == 0 ? 0 : p.pack_split, i1 = t == 0 ? p.pack_split : p.m;
  g_kernel.pack_a(p.trans_a, p.m, p.k, p.A, p.lda, p.pack_into, i0, i1);
}

// Passes a block's finished regions to the user's epilogue in C's coordinates.
struct BlockPost {
  const GemmEpilogue* epilogue;
  int64_t i0, j0;
  static void apply(void* p, int64_t i0, int64_t j0, int64_t rows, int64_t cols) {
    const BlockPost& b = *static_cast<const BlockPost*>(p);
    b.epilogue->apply(b.epilogue->ctx, b.i0 + i0, b.j0 + j0, rows, cols);
  }
};

// Computes one block of C on the calling thread; false if no workspace could be allocated.
bool run_block(const Problem& p, const Block& b) noexcept {
  const int64_t m = b.i1 - b.i0, n = b.j1 - b.j0;
  if (m <= 0 || n <= 0) return true;
  float* work = t_workspace.get(g_kernel.work_floats(m, n, p.k));
  if (!work) return false;
  const float* a = p.trans_a ? p.A + b.i0 : p.A + b.i0 * p.lda;
  const float* bm = p.trans_b ? p.B + b.j0 * p.ldb : p.B + b.j0;
  BlockPost post{p.epilogue, b.i0, b.j0};
  g_kernel.sgemm(p.trans_a, p.trans_b, m, n, p.k, p.alpha, a, p.lda, bm, p.ldb, p.beta,
                 p.C + b.i0 * p.ldc + b.j0, p.ldc, p.bias ? p.bias + b.j0 : nullptr,
                 b.i0 == 0 && b.i1 == p.m ? p.packed_a : nullptr, work,
                 p.epilogue ? &BlockPost::apply : nullptr, &post);
  return true;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Column panels that a split of n columns deals out: whole register-tile panels, a partial last
// one merged with the panel before it (the block that ends at n takes it). A block of the partial
// panel alone is a C narrower than the tile, which the kernels compute another way (an A^T edge
// of up to kEdgeMaxCols columns along m, gemm_kernel.inc): n = 300 split into column blocks then
// gave its last 12 columns other bits at 2 threads than at 1 (A^T B^T on AVX-512).
int64_t split_panels(int64_t n) { return std::max<int64_t>(1, n / g_kernel.nr); }

// An op(B) of up to this many floats (256 KiB) stays in L2 while several block rows read it.
constexpr int64_t kSmallBFloats = 64 * 1024;

// Splits C into tm x tn blocks (tm * tn == threads) aligned to the register tile, choosing the
// split with the least estimated per-thread time: its compute (including the padding of
// partial tiles) plus the packing of its A rows (none when short blocks read them in place, see
// gemm_kernel.inc read_a_in_place; once for all blocks when the grid has one block row, see
// sgemm) and of its B columns, which every block does itself unless it reads them in place
// (short blocks, see gemm_kernel.inc read_b_in_place). That last term decides
// W1's 32x100x300 at 2 threads: two row blocks (18 and 14 rows, B read in place) instead of
// two column blocks of 64 and 36 columns; 9-20% faster in alternating hot loops.
// Two exceptions, weight gradients (op(A) = A^T, op(B) = B) that split into row blocks whatever
// the estimate says:
// - C holds at most kSmallCFloats. Its column blocks write parts of the same short rows of C from
//   both threads, and each ran 40-70% slower than alone: W1's 300x100x32 at 2 threads (AVX-512,
//   Zen 4) took 24.8 us in two column blocks (64 and 36 columns), 16.8 in two row blocks, 24.4 on
//   one thread (hot loops). The cause is false sharing: a column boundary falls inside a 64-byte
//   line of C on every row unless C's rows start on line boundaries (ldc a multiple of 16 and C
//   itself aligned, which a Float32Array's 16-byte alignment does not give). Hot loops of
//   768x256x32, beta = 1, halves run by two threads (Sapphire Rapids): 52-54 us with C on a line
//   boundary, 90-93 us 16 bytes off it, 76-83 on one thread.
// - C is the weights of a split-k forward product (see split_k_shape): one row block per thread,
//   the rows that thread's half of the forward product reads.
constexpr int64_t kSmallCFloats = 64 * 1024;
bool split_k_gradient(bool trans_a, bool trans_b, int64_t m, int64_t k);
void choose_grid(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int threads, int64_t* tm_out,
                 int64_t* tn_out) {
  const int64_t mr = g_kernel.mr, nr = g_kernel.nr;
  if ((trans_a && !trans_b && m * n <= kSmallCFloats) || split_k_gradient(trans_a, trans_b, m, k))
    for (int64_t tm = threads; tm > 1; --tm)
      if (threads % tm == 0 && ceil_div(m, mr) >= tm) {
        *tm_out = tm;
        *tn_out = threads / tm;
        return;
      }
  double best = -1;
  *tm_out = 1;
  *tn_out = threads;
  for (int64_t tm = 1; tm <= threads; ++tm) {
    if (threads % tm) continue;
    const int64_t tn = threads / tm;
    if (ceil_div(m, mr) < tm || split_panels(n) < tn) continue;  // some thread would idle
    const int64_t mb = ceil_div(ceil_div(m, mr), tm) * mr, nb = ceil_div(ceil_div(n, nr), tn) * nr;
    // A block that reads op(A) in place packs none of it; with one block row, op(A) is packed
    // once and shared (see sgemm): its cost is spread.
    double a_packs = 1.0;
    if (g_kernel.reads_a_in_place(trans_a, std::min(mb, m), k)) a_packs = 0.0;
    else if (tm == 1 && g_kernel.shared_a_floats(m, k) > 0) a_packs = 1.0 / tn;
    // A block that reads op(B) in place has no B packing to pay for, when that B stays cached: one
    // block row reads each column once, and several block rows share a small B from L2.
    const bool b_in_place = g_kernel.reads_b_in_place(trans_b, std::min(mb, m)) && (tm == 1 || n * k <= kSmallBFloats);
    const double b_packs = b_in_place ? 0.0 : 1.0;
    const double cost = static_cast<double>(mb) * nb * k / 8.0 + 6.0 * (a_packs * mb + b_packs * nb) * k;
    if (best < 0 || cost < best) {
      best = cost;
      *tm_out = tm;
      *tn_out = tn;
    }
  }
}

Block block_of(int64_t m, int64_t n, int64_t tm, int64_t tn, int64_t index, const int64_t* col_panels) {
  const int64_t mr = g_kernel.mr, nr = g_kernel.nr;
  const int64_t npan = split_panels(n);
  if (col_panels) return Block{0, m, col_panels[index] * nr, col_panels[index + 1] >= npan ? n : col_panels[index + 1] * nr};
  // Column-major: the caller, claiming blocks from the first, takes the first block column, and a
  // helper, claiming from the last (see Pool::work), the last. A 2-D grid then leaves each thread
  // the same columns of C from one product to the next, and the columns whose weights it read in
  // the forward product when C is a weight matrix (W1's 784x300x32 dW on a 4x2 grid, whose
  // forward product 32x300x784 splits the same columns): in-situ W1 steps at 2 threads 293-296
  // us against 301-309 with the row-major order (alternating processes, 5 rounds).
  const int64_t bi = index % tm, bj = index / tm;
  const int64_t mpan = ceil_div(m, mr);
  // Whole micro-panels per block, the remainder spread over the first blocks.
  auto lo = [](int64_t panels, int64_t parts, int64_t part) {
    return panels / parts * part + (part < panels % parts ? part : panels % parts);
  };
  Block b;
  b.i0 = lo(mpan, tm, bi) * mr;
  b.i1 = lo(mpan, tm, bi + 1) * mr;
  b.j0 = lo(npan, tn, bj) * nr;
  b.j1 = bj + 1 == tn ? n : lo(npan, tn, bj + 1) * nr;
  if (b.i1 > m) b.i1 = m;
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

// The GEMM's own thread pool. The caller always works too, and the blocks of C are claimed one
// at a time, so the caller never waits for a helper to *start*: a helper
// that does not get a core (another process holds it) simply claims nothing, and the product
// finishes at one-thread speed instead of stalling at a barrier (the collapse of spin-barrier
// pools on a shared machine). The caller waits only for blocks a helper has already claimed.
// Idle helpers spin until the job they worked on is done (the other thread's last block; at most
// kMaxJobWait), then for kSpinMicros more (the next product of a training step usually follows
// within that), then sleep on a condition variable. A helper that slept through the caller's last
// block was woken late for the next product: 256x1024x1024 products at 2 threads, back to back or
// 80 us apart, found it asleep at 25-60% of them, and a tenth of them got their second thread
// 0.1-1.5 ms late; counting from the job's end, asleep at 1-18%, and the tenth 1-100 us late.
// The caller, once its own blocks are done, spins while the helpers' last blocks take a normal
// time (see run).
// The caller claims tasks from the first, helpers from the last (after any pack tasks, which
// come first): each thread then runs the same part of C, or of a pass's range, from one product
// to the next, as long as the threads keep pace, and finds it in its own cache. With one shared
// counter the blocks went to whichever thread came first: W1's in-situ step at 2 threads took
// 320-326 us against 301-309 with the two ends (alternating processes, 5 rounds), its 784x300x32
// dW product (C = the first layer's weights, updated in place) 137 against 122 us.
// The pool also runs the element-wise passes' chunks (run_tasks, parallel.h), the same way, so
// that one helper per extra thread serves a whole training step and stays awake through it.
constexpr int kSpinMicros = 150;
constexpr std::chrono::milliseconds kMaxJobWait{20};
// Slack before a wait for a helper's block counts as a sign that the helper lost its core.
constexpr int kStrandedMicros = 200;

// Back-off while another process holds the cores our helpers need. Two signs, both absent on
// a quiet machine: the caller was stranded for W waiting for a block that a helper claimed and
// then lost its core in the middle of (products then run on the calling thread alone for the
// next kStrandedFactor * W, when such stalls, over the last kLedgerWindow of products, cost
// more than the helpers' blocks saved), or, for a short
// product, a helper that was awake (spinning) when the product was published still claimed no
// block in the product's whole duration D (alone for kAbsentFactor * D). A stall then costs a
// small fraction of the time whatever the product size, and on the calling thread alone the
// helpers fall asleep instead of taking the caller's CPU share. A helper that was asleep and
// starts late is no sign (the caller simply takes its blocks). Large products rarely back off:
// for them two threads stay ahead even through a stall, and one stall must not serialise the
// products that follow (a benchmark of a few large products would then measure one thread).
// Absences in a row (no product in between that a helper took part in) double the back-off, up
// to kAbsentMaxDoublings times: while another process keeps a core busy they recur, and each
// new try costs a wake-up and a spin. While the pool backs off, idle helpers sleep at once: no
// product is split then, and a helper queued on the caller's CPU would spin on its time.
constexpr int kStrandedFactor = 32;
constexpr std::chrono::duration<double> kLedgerWindow{0.05};  // seconds
constexpr int kAbsentFactor = 8;
constexpr int kAbsentMaxDoublings = 6;
constexpr std::chrono::microseconds kAbsentMaxProduct{10 * kSpinMicros};
std::atomic<int64_t> g_serial_until_ns{0};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool backing_off() { return now_ns() < g_serial_until_ns.load(std::memory_order_relaxed); }

void back_off_for(std::chrono::nanoseconds t) {
  if (t.count() > 0) g_serial_until_ns.store(now_ns() + t.count(), std::memory_order_relaxed);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// One step of a spin-wait. Every few steps it yields the core: if the other thread of the
// product (or the caller's next serial work) shares this core because another process holds
// the rest, the spinner must not take the core from it. On a free core the yield returns at once.
inline void spin_step(int i) {
  if ((i & 15) == 0)
    std::this_thread::yield();
  else
    cpu_relax();
}

class Pool {
 public:
  static Pool& instance() {
    static Pool pool;
    return pool;
  }

  // Runs blocks [0, blocks) of the product on the caller and up to `helpers` helper threads,
  // after two tasks that pack op(A) for them when p.pack_into is set (run_pack): the threads
  // claim the pack tasks first, and a thread that claims a block waits until both packs are done
  // (a pack, once claimed, is running: the wait is at most one pack's time).
  // done[b] says whether block b ran (false: its thread had no workspace; the caller retries).
  // Returns false, having run nothing, when another thread is using the pool (the caller then
  // runs serially) or helper threads cannot be created. Never throws.
  // *backoff: how long to run products serially after this one (see back_off_for), else zero.
  bool run(const Problem& p, int64_t tm, int64_t tn, int blocks, int helpers, bool* done,
           std::chrono::nanoseconds* backoff) noexcept {
    std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    if (!ensure_helpers(helpers)) return false;
    problem_ = p;
    tm_ = tm;
    tn_ = tn;
    done_ = done;
    task_fn_ = nullptr;
    const int packs = p.pack_into ? 2 : 0;
    packs_.store(packs, std::memory_order_relaxed);
    packs_done_.store(0, std::memory_order_relaxed);
    publish_and_work(packs + blocks, helpers, backoff);
    return true;
  }

  // Runs fn(ctx, t) for t in [0, tasks) on the caller and up to `helpers` helper threads, claimed
  // one at a time as run() claims a product's blocks (see deepnode::run_tasks). Returns false,
  // having run nothing, as run() does. fn must not throw.
  bool run_tasks(int tasks, int helpers, TaskFn fn, void* ctx, std::chrono::nanoseconds* backoff) noexcept {
    std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    if (!ensure_helpers(helpers)) return false;
    task_fn_ = fn;
    task_ctx_ = ctx;
    packs_.store(0, std::memory_order_relaxed);
    packs_done_.store(0, std::memory_order_relaxed);
    publish_and_work(tasks, helpers, backoff);
    return true;
  }

 private:
  // Publishes `tasks` tasks of the job run() or run_tasks() set up, runs the caller's share of
  // them and waits for the rest (run_mu_ held).
  void publish_and_work(const int tasks, int helpers, std::chrono::nanoseconds* backoff) noexcept {
    completed_.store(0, std::memory_order_relaxed);
    active_helpers_.store(helpers, std::memory_order_relaxed);
    const uint64_t gen = (++generation_) & 0xffffffffu;
    caller_cpu_.store(current_cpu(), std::memory_order_relaxed);
    // Publishing the state (seq_cst) releases everything above to the helpers that claim a block.
    tasks_.store(tasks, std::memory_order_relaxed);
    state_.store(gen << 32 | static_cast<uint64_t>(tasks), std::memory_order_seq_cst);
    const bool all_awake = sleepers_.load(std::memory_order_seq_cst) == 0;
    if (!all_awake) {
      keep_helpers_off(caller_cpu_.load(std::memory_order_relaxed));
      std::lock_guard<std::mutex> lock(mu_);
      cv_work_.notify_all();
    }
    const auto start = std::chrono::steady_clock::now();
    const int mine = work(static_cast<uint32_t>(gen), false);
    *backoff = std::chrono::nanoseconds{0};
    const auto caller_done = std::chrono::steady_clock::now();
    // An absent helper costs this product nothing (the caller ran it all); it only matters for
    // short products, where its spinning between them can take the caller's CPU share.
    if (mine < tasks) absences_ = 0;
    if (mine == tasks && all_awake && caller_done - start < kAbsentMaxProduct) {
      *backoff = (kAbsentFactor << std::min(absences_, kAbsentMaxDoublings)) *
                 std::chrono::duration_cast<std::chrono::nanoseconds>(caller_done - start);
      ++absences_;
    }
    // Only blocks already claimed by a helper remain. Blocks are of about equal size, so a helper's
    // last block should end within about one block's time of the caller's: the caller spins (and
    // yields) that long, and sleeps only past it, when the helper has lost its core mid-block (a
    // stall). It must not sleep on a normal wait: the helper's notify would wake it on the
    // helper's own CPU (the scheduler's wake-affine placement), and the two threads would then
    // share one CPU for the next products, at one thread's speed, until the load balancer parts
    // them (seen here on 256x1024x784: 2-thread products at 77-88 GFLOPS after such waits, 135-141
    // once the caller spins through them; OpenBLAS 129-141).
    std::chrono::nanoseconds stall{0};
    if (completed_.load(std::memory_order_acquire) != tasks) {
      const auto block_time = mine > 0 ? (caller_done - start) / mine : caller_done - start;
      const auto normal_wait = 2 * block_time + std::chrono::microseconds(kStrandedMicros);
      const auto spin_end = caller_done + normal_wait;
      for (int i = 1; completed_.load(std::memory_order_acquire) != tasks; ++i) {
        spin_step(i);
        if ((i & 63) == 0 && std::chrono::steady_clock::now() > spin_end) {
          std::unique_lock<std::mutex> lock(mu_);
          caller_waiting_.store(true, std::memory_order_seq_cst);
          while (completed_.load(std::memory_order_seq_cst) != tasks)
            cv_done_.wait_for(lock, std::chrono::milliseconds(1));
          caller_waiting_.store(false, std::memory_order_relaxed);
          break;
        }
      }
      const auto waited = std::chrono::steady_clock::now() - caller_done;
      if (waited > normal_wait) stall = std::chrono::duration_cast<std::chrono::nanoseconds>(waited);
    }
    // Back off when the recent stalls cost more than the helpers' blocks saved: both summed over
    // the last ~kLedgerWindow of products (decaying exponentially), a helper's block counted at
    // the caller's time per block. Measured against the last few products alone (a moving average
    // of the stalls against this product's time), one stall of ~1 ms on a quiet machine (a
    // helper preempted by the process's own GC or compiler threads, or the host) serialised the
    // next 30-40 ms: a tenth of W1's 2-thread epochs ran 15-35% slower (Emerald Rapids,
    // alternating 1T/2T epochs of 8,192 images). While another process holds a core the stalls
    // recur every few ms and outweigh the gains as before.
    const auto now = std::chrono::steady_clock::now();
    const double decay = std::exp(-std::chrono::duration<double>(now - ledger_time_).count() / kLedgerWindow.count());
    ledger_time_ = now;
    const auto block_time = mine > 0 ? (caller_done - start) / mine : caller_done - start;
    saved_ns_ = saved_ns_ * decay + static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(block_time).count()) * (tasks - mine);
    lost_ns_ = lost_ns_ * decay + static_cast<double>(stall.count());
    if (stall.count() > 0 && lost_ns_ > saved_ns_ && kStrandedFactor * stall > *backoff)
      *backoff = kStrandedFactor * stall;
  }

 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      // A state change wakes the sleepers; the new generation has no blocks to claim.
      state_.store(((++generation_) & 0xffffffffu) << 32, std::memory_order_seq_cst);
      cv_work_.notify_all();
    }
    for (std::thread& t : threads_) {
#ifdef _WIN32
      t.detach();  // joining in a DLL's static destructor deadlocks on the loader lock
#else
      t.join();
#endif
    }
  }

 private:
  Pool() = default;

  // A helper thread's affinity state (see keep_helpers_off).
  struct Helper {
#ifdef __linux__
    cpu_set_t mask;  // the affinity it was created with
#endif
    bool has_mask = false;
    std::atomic<bool> narrowed{false};
  };

  static uint32_t gen_of(uint64_t s) { return static_cast<uint32_t>(s >> 32); }

  bool ensure_helpers(int helpers) noexcept {
    try {
      while (static_cast<int>(threads_.size()) < helpers) {
        const int index = static_cast<int>(threads_.size());
        // Its state, at a fixed address (a deque's elements stay put as it grows) that the thread
        // itself gets, since the caller may grow the deque while helpers run.
        Helper* h = &helpers_.emplace_back();
#ifdef __linux__
        // A new thread inherits its creator's affinity: the mask a narrowed helper returns to.
        h->has_mask = pthread_getaffinity_np(pthread_self(), sizeof h->mask, &h->mask) == 0;
#endif
        try {
          threads_.emplace_back([this, index, h] { helper_main(index, *h); });
        } catch (...) {
          helpers_.pop_back();  // helpers_[i] stays the state of threads_[i]
          throw;
        }
      }
    } catch (...) {
      return false;  // std::system_error (no more threads) or bad_alloc
    }
    return true;
  }

  // Claims and runs tasks (packs, then blocks) of generation `gen` until none is left; returns
  // how many it ran.
  int work(uint32_t gen, bool from_back) noexcept {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (int ran = 0;; ++ran) {
      if (gen_of(s) != gen) return ran;
      const int front = static_cast<int>((s >> 16) & 0xffff), back = static_cast<int>(s & 0xffff);
      if (front >= back) return ran;
      // Read before the claim, these may already belong to the next job; the claim then fails.
      const int packs = packs_.load(std::memory_order_relaxed), tasks = tasks_.load(std::memory_order_relaxed);
      const bool take_front = !from_back || front < packs;
      const int next = take_front ? front : back - 1;
      if (!state_.compare_exchange_weak(s, take_front ? s + (uint64_t{1} << 16) : s - 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        --ran;
        continue;
      }
      // The claim pins the job: its caller waits for this task before changing anything.
      if (task_fn_ != nullptr) {
        task_fn_(task_ctx_, next);
      } else if (next < packs) {
        run_pack(problem_, next);
        packs_done_.fetch_add(1, std::memory_order_release);
      } else {
        for (int i = 1; packs_done_.load(std::memory_order_acquire) != packs; ++i) spin_step(i);
        done_[next - packs] = run_block(problem_, block_of(problem_.m, problem_.n, tm_, tn_, next - packs, problem_.col_panels));
      }
      if (completed_.fetch_add(1, std::memory_order_seq_cst) + 1 == tasks &&
          caller_waiting_.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lock(mu_);
        cv_done_.notify_all();
      }
      s = state_.load(std::memory_order_acquire);
    }
  }

  void helper_main(int index, Helper& self) noexcept {
    uint32_t seen = gen_of(state_.load(std::memory_order_acquire));
    for (;;) {
      uint64_t s = state_.load(std::memory_order_acquire);
      if (gen_of(s) == seen) {
        // kSpinMicros count from the end of the job this helper last worked on: until then
        // another thread is still running the job's last task, and the next job comes after it.
        const auto start = std::chrono::steady_clock::now();
        auto spin_end = start + std::chrono::microseconds(kSpinMicros);
        bool job_done = false;
        for (int i = 1; gen_of(s = state_.load(std::memory_order_acquire)) == seen; ++i) {
          spin_step(i);
          if ((i & 63) != 0) continue;
          const auto now = std::chrono::steady_clock::now();
          const int tasks = tasks_.load(std::memory_order_relaxed);
          if (!job_done && (completed_.load(std::memory_order_acquire) == tasks || now - start > kMaxJobWait)) {
            job_done = true;
            spin_end = now + std::chrono::microseconds(kSpinMicros);
          }
          if ((job_done && now > spin_end) || backing_off()) break;
        }
        if (gen_of(s) == seen) {
          {
            std::unique_lock<std::mutex> lock(mu_);
            sleepers_.fetch_add(1, std::memory_order_seq_cst);
            while (gen_of(s = state_.load(std::memory_order_seq_cst)) == seen && !stop_) cv_work_.wait(lock);
            sleepers_.fetch_sub(1, std::memory_order_relaxed);
            if (stop_) return;
          }
          if (!widen(self)) move_off_callers_cpu();
        }
      }
      seen = gen_of(s);
      if (index < active_helpers_.load(std::memory_order_relaxed)) work(seen, true);
      widen(self);  // narrowed while it was awake (another helper slept)
    }
  }

  static int current_cpu() noexcept {
#ifdef __linux__
    return sched_getcpu();
#else
    return -1;
#endif
  }

  // A helper woken from its sleep is often placed on the CPU of the thread that woke it, the
  // caller's (the scheduler's wake-affine placement), though the other CPU is idle. There it
  // cannot run until the caller pauses, and the caller then runs the product alone; on short
  // products the load balancer may take tens of milliseconds to part them. Seen here after
  // every pause of 150 ms on the batch-32 products: the helper on the caller's CPU at nearly
  // every product it missed, 2-thread 32x300x784 products at one thread's speed for the next
  // 10-20 ms. So a helper that wakes on the caller's CPU moves itself off it: its affinity is
  // narrowed to exclude that CPU (the kernel migrates it at once) and then restored, so the
  // scheduler stays free to place it afterwards and a user's own mask is kept. Since
  // keep_helpers_off narrows a helper before waking it, this is the fallback for a helper that
  // was not narrowed (the call failed, or it was woken otherwise).
#ifdef __linux__
  // *out = mask without cpu; false when cpu is not in mask (or out of range) or nothing is left.
  static bool all_but(const cpu_set_t& mask, int cpu, cpu_set_t* out) noexcept {
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &mask)) return false;
    *out = mask;
    CPU_CLR(cpu, out);
    return CPU_COUNT(out) > 0;
  }
#endif

  void move_off_callers_cpu() noexcept {
#ifdef __linux__
    const int cpu = current_cpu(), callers = caller_cpu_.load(std::memory_order_relaxed);
    if (cpu < 0 || cpu != callers || cpu >= CPU_SETSIZE) return;
    cpu_set_t allowed, others;
    if (pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed) != 0 || !all_but(allowed, cpu, &others)) return;
    if (pthread_setaffinity_np(pthread_self(), sizeof others, &others) == 0)
      pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
#endif
  }

  // Wakes sleeping helpers where the caller is not. Woken by the caller, a helper is usually
  // placed on the caller's CPU (wake-affine; see move_off_callers_cpu), where it cannot run while
  // the caller computes, so it could move itself off only after the caller paused or the load
  // balancer stepped in: after a 150 ms pause, the helper claimed its first block of a 2-thread
  // 256x1024x784 product 2.6 ms after the caller published it (the product takes ~2.5 ms). So
  // before the wake-up the caller narrows each helper's affinity to exclude its own CPU; the
  // kernel then wakes the helper elsewhere, and the helper takes its mask back once it runs
  // (widen). Here that cut the delay to 0.7 ms (the other vCPU's own wake-up) and took that
  // product from 82 to 98 GFLOPS (OpenBLAS 90-96 in the same run).
  void keep_helpers_off(int cpu) noexcept {
#ifdef __linux__
    for (size_t i = 0; i < threads_.size(); ++i) {
      Helper& h = helpers_[i];
      cpu_set_t others;
      if (!h.has_mask || !all_but(h.mask, cpu, &others)) continue;
      if (pthread_setaffinity_np(threads_[i].native_handle(), sizeof others, &others) == 0)
        h.narrowed.store(true, std::memory_order_release);
    }
#else
    (void)cpu;
#endif
  }

  // A helper that keep_helpers_off narrowed takes its own mask back; returns whether it was narrowed.
  static bool widen(Helper& h) noexcept {
#ifdef __linux__
    if (!h.narrowed.load(std::memory_order_relaxed) || !h.narrowed.exchange(false, std::memory_order_acq_rel)) return false;
    pthread_setaffinity_np(pthread_self(), sizeof h.mask, &h.mask);
    return true;
#else
    (void)h;
    return false;
#endif
  }

  std::deque<Helper> helpers_;  // one per thread in threads_ (a deque: an atomic cannot move)
  std::atomic<int> caller_cpu_{-1};  // where the caller published the current product
  std::mutex run_mu_;  // one product at a time uses the helpers
  std::vector<std::thread> threads_;
  uint64_t generation_ = 0;
  // generation (32 bits) | next task from the front (16) | one past the next task from the back (16),
  // claimed by compare-exchange; no task is left when the two meet.
  std::atomic<uint64_t> state_{0};
  std::atomic<int> tasks_{0};  // of the current job
  std::atomic<int> completed_{0};
  std::atomic<int> active_helpers_{0};
  Problem problem_{};
  int64_t tm_ = 1, tn_ = 1;
  bool* done_ = nullptr;
  std::atomic<int> packs_{0};  // pack tasks before the blocks (run())
  std::atomic<int> packs_done_{0};
  TaskFn task_fn_ = nullptr;  // run_tasks()'s function and its argument; nullptr for a product
  void* task_ctx_ = nullptr;
  // The stranded back-off's ledger (guarded by run_mu_): time the helpers' blocks saved and
  // time lost to stalls, decayed to ledger_time_.
  double saved_ns_ = 0.0, lost_ns_ = 0.0;
  std::chrono::steady_clock::time_point ledger_time_{};
  int absences_ = 0;  // absent-helper back-offs since a helper last ran a task (guarded by run_mu_)
  std::mutex mu_;  // guards sleeping and waking
  std::condition_variable cv_work_, cv_done_;
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_waiting_{false};
  bool stop_ = false;
};

}  // namespace

void set_num_threads(int n) { g_num_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed); }

namespace {
// The thread count before any set_num_threads: OMP_NUM_THREADS when it starts with a positive
// number (the convention BLAS libraries, PyTorch and earlier deepnode builds follow; "4,2" means 4),
// else the CPUs this process may run on (its affinity mask on Linux, so `taskset -c 0` gives 1),
// else the hardware's thread count.
int default_threads() {
  if (const char* v = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (end != v && n > 0) return static_cast<int>(std::min<long>(n, 1024));
  }
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(std::min<unsigned>(hw, 1024)) : 1;
}
}  // namespace

int get_num_threads() {
  const int n = g_num_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  static const int fallback = default_threads();
  return fallback;
}

const char* gemm_isa() { return g_kernel.isa; }

namespace {
// DEEPNODE_PARALLEL_BACKOFF=0: passes split whatever the pool's back-off says, and never start
// one (tests that compare split and one-thread results; benchmarks of the split itself).
bool passes_back_off() {
  static const bool enabled = [] {
    const char* v = std::getenv("DEEPNODE_PARALLEL_BACKOFF");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return enabled;
}
}  // namespace

bool pool_backing_off() { return passes_back_off() && backing_off(); }

int threads_for_flops(double flops) {
  if (flops < kParallelMinFlops) return 1;
  int threads = get_num_threads();
  const double by_work = flops / kMinFlopsPerThread;
  if (by_work < threads) threads = static_cast<int>(by_work);
  if (threads > kMaxBlocks / kBlocksPerThread) threads = kMaxBlocks / kBlocksPerThread;
  return threads < 1 ? 1 : threads;
}

bool run_tasks(int64_t tasks, int threads, TaskFn fn, void* ctx) {
  if (tasks < 2 || threads < 2 || tasks > kMaxPoolTasks || pool_backing_off()) return false;
  std::chrono::nanoseconds backoff{0};
  if (!Pool::instance().run_tasks(static_cast<int>(tasks), threads - 1, fn, ctx, &backoff)) return false;
  if (passes_back_off()) back_off_for(backoff);
  return true;
}

// The two halves' depth split (see gemm.h): a multiple of 8.
int64_t split_k_rows(int64_t k) { return (k / 2 + 7) / 8 * 8; }

namespace {
// Split-k products: a short product (m <= kSplitKMaxM rows, the batch-32 forward products) with a
// deep k (>= kSplitKMinK: the first layer's 784 inputs) is the sum of two half-depth products,
// C = (alpha op(A)[:, :h] B[:h, :] + beta C + bias) + alpha op(A)[:, h:] B[h:, :], always, at any
// thread count, so its bits do not depend on the thread count; on two threads each half is one
// task. Each thread then reads one half of the rows of B, the layer's weights, and the weight
// gradient (op(A) = A^T, C = those weights, updated in place by fused SGD) splits into two row
// blocks, so each thread also writes the rows it reads (see choose_grid). Split along n, as
// before, the forward product had each thread read half of the columns, every one of the rows the
// other thread had written, and both threads wrote parts of the same 64-byte lines of C at the
// column boundary (false sharing): W1's layer-1 forward and weight gradient at 2 threads took
// 172-177 us against 180-184 on one (Sapphire Rapids; 102 us with rows owned, a C++ emulation).
constexpr int64_t kSplitKMaxM = 48, kSplitKMinK = 512;

bool split_k_shape(bool trans_a, bool trans_b, int64_t m, int64_t k) {
  return !trans_a && !trans_b && m <= kSplitKMaxM && k >= kSplitKMinK;
}

// Whether an m x n x k product (op(A) = A^T, op(B) = B) is the weight gradient of a split-k
// forward product's weights (C, m x n): m is that product's depth and k its rows (the batch).
bool split_k_gradient(bool trans_a, bool trans_b, int64_t m, int64_t k) {
  return trans_a && !trans_b && split_k_shape(false, false, k, m);
}

struct SplitK {
  const Problem* p;
  int64_t h;    // depth of the first half
  float* s;     // m x n, the second half-sum
  bool done[2];  // written by the task's thread, read by the caller after the tasks finished
};

void split_k_task(void* ctx, int64_t t) {
  SplitK& c = *static_cast<SplitK*>(ctx);
  const Problem& p = *c.p;
  const int64_t k0 = t == 0 ? 0 : c.h, kc = t == 0 ? c.h : p.k - c.h;
  float* work = t_workspace.get(g_kernel.work_floats(p.m, p.n, kc));
  c.done[t] = work != nullptr;
  if (!work) return;
  if (t == 0)
    g_kernel.sgemm(0, 0, p.m, p.n, kc, p.alpha, p.A, p.lda, p.B, p.ldb, p.beta, p.C, p.ldc, p.bias, nullptr, work,
                   nullptr, nullptr);
  else
    g_kernel.sgemm(0, 0, p.m, p.n, kc, p.alpha, p.A + k0, p.lda, p.B + k0 * p.ldb, p.ldb, 0.0f, c.s, p.n, nullptr,
                   nullptr, work, nullptr, nullptr);
}

void run_split_k(const Problem& p, int threads) {
  float* s = t_split_k.get(p.m * p.n);
  if (!s) throw std::bad_alloc();
  SplitK ctx{&p, split_k_rows(p.k), s, {false, false}};
  std::chrono::nanoseconds backoff{0};
  if (threads > 1 && Pool::instance().run_tasks(2, 1, &split_k_task, &ctx, &backoff)) {
    back_off_for(backoff);
  } else {
    split_k_task(&ctx, 0);
    split_k_task(&ctx, 1);
  }
  for (int t = 0; t < 2; ++t)
    if (!ctx.done[t]) {  // its thread had no workspace
      split_k_task(&ctx, t);
      if (!ctx.done[t]) throw std::bad_alloc();
    }
  for (int64_t i = 0; i < p.m; ++i) {
    float* __restrict c = p.C + i * p.ldc;
    const float* __restrict si = s + i * p.n;
    for (int64_t j = 0; j < p.n; ++j) c[j] += si[j];
  }
  if (p.epilogue) p.epilogue->apply(p.epilogue->ctx, 0, 0, p.m, p.n);
}
}  // namespace

void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
           const float* bias) {
  sgemm_ex(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias, nullptr);
}

void sgemm_ex(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
              const float* bias, const GemmEpilogue* epilogue) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    scale_c(m, n, beta, C, ldc, bias);
    if (epilogue) epilogue->apply(epilogue->ctx, 0, 0, m, n);
    return;
  }
  Problem p{transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias, nullptr, epilogue, nullptr, 0};
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);

  int threads = threads_for_flops(flops);
  if (threads > 1 && backing_off()) threads = 1;
  if (split_k_shape(transA, transB, m, k)) {
    run_split_k(p, threads);
    return;
  }
  if (threads > 1) {
    // A few blocks per thread, so that a thread that runs while another waits for a core
    // takes over that thread's work instead of leaving it for later.
    int blocks = threads * kBlocksPerThread;
    while (blocks > threads && flops / blocks < kMinFlopsPerThread) blocks -= threads;
    // The weight gradient of a split-k product's weights: one row block per thread (see split_k_shape).
    if (split_k_gradient(transA, transB, m, k)) blocks = threads;
    int64_t tm = 1, tn = 1;
    choose_grid(transA, transB, m, n, k, blocks, &tm, &tn);
    blocks = static_cast<int>(tm * tn);
    // Large products split into column blocks of shrinking width: each takes 1/(2 x threads) of
    // the register-tile panels left, at least one. The threads then finish
    // within about one panel of each other, not one even block: on W4's 256x1024 products at 2
    // threads the caller waited 150-450 us per product for the helper's last 128-column block,
    // and the paired 2-thread speed-up of W4 training went from 1.65 to 1.83-1.86 (alternating
    // processes, 3 rounds). Which thread computes a column never changes its bits.
    int64_t guided[kMaxBlocks + 1];
    if (tm == 1 && flops >= kGuidedMinFlops) {
      const int64_t npan = split_panels(n);
      // The widths in claiming order, then laid out from both ends inwards: the caller claims
      // from the first block and the helpers from the last (see Pool), so each end starts with
      // the widest blocks and the narrowest meet in the middle. (Shrinking from the first block to
      // the last, the helper's first claims were the narrowest and the threads met at wide blocks:
      // W4's 2-thread speed-up fell from 1.86 to 1.61-1.69.)
      int64_t width[kMaxBlocks];
      int b = 0;
      for (int64_t at = 0; at < npan; ++b) {
        width[b] = b + 1 == kMaxBlocks ? npan - at : std::max<int64_t>(1, ceil_div(npan - at, 2 * threads));
        at += width[b];
      }
      guided[0] = 0;
      guided[b] = npan;
      for (int i = 0, front = 0, back = b; i < b; ++i) {
        if (i % 2 == 0) {
          guided[front + 1] = guided[front] + width[i];
          ++front;
        } else {
          guided[back - 1] = guided[back] - width[i];
          --back;
        }
      }
      if (b > 1) {
        blocks = b;
        tn = b;
        p.col_panels = guided;
      }
    }
    // Column blocks would each pack all of op(A) (the batch-32 and batch-256 layers split along
    // n): it is packed once and shared, by the pool's threads in two row ranges when op(A) has
    // enough rows (on the caller alone, that pack was ~4% of a 2-thread 256x1024x784 product).
    // Not when the blocks read op(A) in place (short products, see gemm_kernel.inc read_a_in_place).
    const int64_t shared =
        tm == 1 && blocks > 1 && !g_kernel.reads_a_in_place(transA, m, k) ? g_kernel.shared_a_floats(m, k) : 0;
    if (shared > 0) {
      float* pa = t_shared_a.get(shared);
      if (!pa) throw std::bad_alloc();
      p.packed_a = pa;
      // Ranges as pack_a allows (gemm_kernel.inc pack_a_whole): a split on the register tile with
      // at least mr + 4 rows after it.
      const int64_t split = m / 2 / g_kernel.mr * g_kernel.mr;
      if (split >= g_kernel.mr && m - split >= g_kernel.mr + 4) {
        p.pack_into = pa;
        p.pack_split = split;
      } else {
        g_kernel.pack_a(transA, m, k, A, lda, pa, 0, m);
      }
    }
    bool done[kMaxBlocks];
    std::chrono::nanoseconds backoff{0};
    if (blocks > 1 && Pool::instance().run(p, tm, tn, blocks, threads - 1, done, &backoff)) {
      back_off_for(backoff);
      // A thread that could not allocate its workspace left its block for the caller.
      for (int b = 0; b < blocks; ++b)
        if (!done[b] && !run_block(p, block_of(m, n, tm, tn, b, p.col_panels))) throw std::bad_alloc();
      return;
    }
    if (p.pack_into) g_kernel.pack_a(transA, m, k, A, lda, p.pack_into, 0, m);  // the pool was busy
  }
  if (!run_block(p, Block{0, m, 0, n})) throw std::bad_alloc();
}

}  // namespace deepnode
