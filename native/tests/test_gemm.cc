// deepnode::sgemm against a naive double-precision reference.
// Every matrix ends right before a PROT_NONE page, so a read or write past the logical
// matrix crashes the test; C's stride gaps hold a sentinel that must survive.
//
// Usage: test_gemm [expected-isa] [--small]   (run.sh runs it once per DEEPNODE_ISA value;
// --small trims the shape grid for valgrind, see scripts/native-sanitize.sh)
#include "../gemm.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

// `count` floats placed so that the last one is immediately followed by an inaccessible page.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(size_t count) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = count * sizeof(float);
    data_pages_ = (bytes + page - 1) / page * page;
    total_ = data_pages_ + page;
    base_ = static_cast<char*>(mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (base_ == MAP_FAILED) {
      std::perror("mmap");
      std::exit(2);
    }
    mprotect(base_ + data_pages_, page, PROT_NONE);
    data_ = reinterpret_cast<float*>(base_ + data_pages_ - bytes);
  }
  ~GuardedBuffer() { munmap(base_, total_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;
  float* data() { return data_; }

 private:
  char* base_;
  size_t data_pages_, total_;
  float* data_;
};

// Floats spanned by a rows x cols row-major matrix with leading dimension ld (0 if empty).
size_t span(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : static_cast<size_t>((rows - 1) * ld + cols);
}

struct Case {
  bool ta, tb;
  int64_t m, n, k;
  float alpha, beta;
  bool bias;
  int64_t pad;  // extra elements per row in lda, ldb, ldc
  int threads;
};

std::mt19937 g_rng(12345);
int g_failures = 0;
int g_cases = 0;

std::string describe(const Case& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "transA=%d transB=%d m=%lld n=%lld k=%lld alpha=%g beta=%g bias=%d pad=%lld threads=%d",
                c.ta, c.tb, (long long)c.m, (long long)c.n, (long long)c.k, c.alpha, c.beta, c.bias,
                (long long)c.pad, c.threads);
  return buf;
}

void run_case(const Case& c) {
  ++g_cases;
  // Stored shapes: A is m x k (or k x m), B is k x n (or n x k).
  const int64_t a_rows = c.ta ? c.k : c.m, a_cols = c.ta ? c.m : c.k;
  const int64_t b_rows = c.tb ? c.n : c.k, b_cols = c.tb ? c.k : c.n;
  const int64_t lda = (a_cols > 0 ? a_cols : 1) + c.pad;
  const int64_t ldb = (b_cols > 0 ? b_cols : 1) + c.pad;
  const int64_t ldc = (c.n > 0 ? c.n : 1) + c.pad;
  const size_t a_size = span(a_rows, a_cols, lda), b_size = span(b_rows, b_cols, ldb), c_size = span(c.m, c.n, ldc);
  GuardedBuffer A(a_size), B(b_size), C(c_size), bias(c.n);

  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float sentinel = 12345.0f;
  // Stride gaps of A and B hold NaN: reading them would poison the result.
  for (size_t i = 0; i < a_size; ++i) A.data()[i] = (i % lda) < (size_t)a_cols ? dist(g_rng) : nan;
  for (size_t i = 0; i < b_size; ++i) B.data()[i] = (i % ldb) < (size_t)b_cols ? dist(g_rng) : nan;
  for (size_t i = 0; i < c_size; ++i) {
    const bool inside = (i % ldc) < (size_t)c.n;
    C.data()[i] = !inside ? sentinel : (c.beta == 0.0f ? nan : dist(g_rng));
  }
  for (int64_t j = 0; j < c.n; ++j) bias.data()[j] = dist(g_rng);
  std::vector<float> c0(C.data(), C.data() + c_size);

  deepnode::set_num_threads(c.threads);
  deepnode::sgemm(c.ta, c.tb, c.m, c.n, c.k, c.alpha, a_size ? A.data() : nullptr, lda, b_size ? B.data() : nullptr,
                  ldb, c.beta, c_size ? C.data() : nullptr, ldc, c.bias ? bias.data() : nullptr);

  int bad = 0;
  for (int64_t i = 0; i < c.m && bad < 3; ++i) {
    for (int64_t j = 0; j < c.n && bad < 3; ++j) {
      double sum = 0.0, mag = 0.0;
      for (int64_t p = 0; p < c.k; ++p) {
        const double a = c.ta ? A.data()[p * lda + i] : A.data()[i * lda + p];
        const double b = c.tb ? B.data()[j * ldb + p] : B.data()[p * ldb + j];
        sum += a * b;
        mag += std::fabs(a * b);
      }
      double ref = c.alpha * sum, scale = std::fabs(c.alpha) * mag;
      if (c.beta != 0.0f) {
        ref += static_cast<double>(c.beta) * c0[i * ldc + j];
        scale += std::fabs(static_cast<double>(c.beta) * c0[i * ldc + j]);
      }
      if (c.bias) {
        ref += bias.data()[j];
        scale += std::fabs(bias.data()[j]);
      }
      const double got = C.data()[i * ldc + j];
      const double tol = 2e-7 * (c.k + 8) * scale + 1e-30;
      if (!(std::fabs(got - ref) <= tol)) {
        if (bad == 0) std::printf("FAIL %s\n", describe(c).c_str());
        std::printf("  C[%lld][%lld] = %.9g, expected %.9g (tol %.3g)\n", (long long)i, (long long)j, got, ref, tol);
        ++bad;
      }
    }
  }
  for (size_t i = 0; i < c_size && bad < 3; ++i) {
    if ((i % ldc) >= (size_t)c.n && C.data()[i] != sentinel) {
      if (bad == 0) std::printf("FAIL %s\n", describe(c).c_str());
      std::printf("  stride gap of C overwritten at offset %zu\n", i);
      ++bad;
    }
  }
  if (bad) ++g_failures;
}

// Bits at 1 and 2 threads: every element of C goes through the same arithmetic whichever thread
// and block computes it. Two ways this failed (a scan of 12,096 products): the batch-32 weight
// gradients with a bias and beta, where an A^T edge's rows took a vector or an element-wise
// epilogue by their place in a chunk, which moves with the row split (36 products on the AVX2
// tile); and A^T B^T with n = 300, whose last 12 columns became a column block of their own at 2
// threads, computed as an edge along m instead of by the register tile (60 on AVX-512).
void check_thread_bits() {
  struct Shape { int64_t m, n, k; bool tb; };
  for (const Shape& s : {Shape{300, 100, 32, false}, Shape{200, 100, 64, false}, Shape{301, 100, 64, false},
                         Shape{150, 37, 32, false}, Shape{150, 200, 40, false}, Shape{100, 300, 100, true},
                         Shape{150, 300, 64, true}})
    for (float beta : {0.0f, 1.0f, 0.3f}) {
      uint32_t x = 12345;
      auto next = [&x] { x = x * 1664525u + 1013904223u; return static_cast<float>(x >> 8) / 8388608.0f - 1.0f; };
      std::vector<float> a(s.k * s.m), b(s.k * s.n), bias(s.n), c0(s.m * s.n);
      for (std::vector<float>* v : {&a, &b, &bias, &c0})
        for (float& e : *v) e = next();
      std::vector<float> c[2] = {c0, c0};
      for (int t = 1; t <= 2; ++t) {
        deepnode::set_num_threads(t);
        deepnode::sgemm(true, s.tb, s.m, s.n, s.k, 0.7f, a.data(), s.m, b.data(), s.tb ? s.k : s.n, beta, c[t - 1].data(),
                        s.n, bias.data());
      }
      ++g_cases;
      if (std::memcmp(c[0].data(), c[1].data(), c0.size() * sizeof(float)) != 0) {
        std::printf("FAIL thread bits: %lldx%lldx%lld A^T B%s, beta %g, bias: 1 and 2 threads differ\n", (long long)s.m,
                    (long long)s.n, (long long)s.k, s.tb ? "^T" : "", beta);
        ++g_failures;
      }
    }
}

// The pool's generic tasks (gemm.h run_tasks, the element-wise passes' split): every task runs
// exactly once, on up to the requested threads; a call from inside a task, and calls with fewer
// than 2 tasks or threads or too many tasks, run nothing and return false (the caller then does
// the work itself); a product inside a task runs on that thread, correctly.
void check_run_tasks() {
  struct Ctx {
    std::vector<std::atomic<int>> runs;
    std::atomic<int> nested_true{0};
    std::vector<float> a, b, c;
    explicit Ctx(size_t n) : runs(n), a(64 * 64, 0.5f), b(64 * 64, 0.25f), c(64 * 64) {}
  };
  auto fail = [](const char* what) {
    std::printf("FAIL run_tasks: %s\n", what);
    ++g_failures;
  };
  deepnode::set_num_threads(2);
  for (int64_t tasks : {2, 3, 64, 1000}) {
    ++g_cases;
    Ctx ctx(static_cast<size_t>(tasks));
    const bool ran = deepnode::run_tasks(tasks, 2, [](void* p, int64_t t) {
      auto& c = *static_cast<Ctx*>(p);
      c.runs[static_cast<size_t>(t)].fetch_add(1);
      // Nested: the pool is busy, so this runs nothing.
      if (deepnode::run_tasks(2, 2, [](void*, int64_t) {}, nullptr)) c.nested_true.fetch_add(1);
    }, &ctx);
    // false only while the pool backs off (another process holds a core): then nothing ran.
    for (int64_t t = 0; t < tasks; ++t)
      if (ctx.runs[static_cast<size_t>(t)].load() != (ran ? 1 : 0)) { fail("a task ran other than once"); break; }
    if (ctx.nested_true.load() != 0) fail("a call from inside a task returned true");
  }
  ++g_cases;
  {
    Ctx ctx(64);
    const bool ran = deepnode::run_tasks(64, 2, [](void* p, int64_t t) {
      auto& c = *static_cast<Ctx*>(p);
      // A product from inside a task stays on that thread (the pool is busy) and is still right.
      std::vector<float> out(64 * 64);
      deepnode::sgemm(false, false, 64, 64, 64, 1.0f, c.a.data(), 64, c.b.data(), 64, 0.0f, out.data(), 64);
      bool ok = true;
      for (float v : out) ok = ok && v == 8.0f;  // 64 * 0.5 * 0.25
      if (ok) c.runs[static_cast<size_t>(t)].fetch_add(1);
    }, &ctx);
    for (int64_t t = 0; t < 64; ++t)
      if (ctx.runs[static_cast<size_t>(t)].load() != (ran ? 1 : 0)) { fail("a product inside a task went wrong"); break; }
  }
  ++g_cases;
  auto never = [](void*, int64_t) { std::abort(); };
  if (deepnode::run_tasks(1, 2, never, nullptr) || deepnode::run_tasks(0, 2, never, nullptr) ||
      deepnode::run_tasks(8, 1, never, nullptr) || deepnode::run_tasks(deepnode::kMaxPoolTasks + 1, 2, never, nullptr))
    fail("a call with < 2 tasks or threads, or too many tasks, returned true");
}

}  // namespace

int main(int argc, char** argv) {
  const char* isa = deepnode::gemm_isa();
  bool small = false;
  const char* expect = "";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--small") == 0) small = true;
    else expect = argv[i];
  }
  std::printf("gemm_isa() = %s%s\n", isa, small ? " (small sizes)" : "");
  if (expect[0] && std::strcmp(expect, isa) != 0) {
    std::printf("FAIL expected ISA %s, got %s\n", expect, isa);
    std::printf("0 passed, 1 failed\n");
    return 1;
  }

  // Before any set_num_threads, the default follows OMP_NUM_THREADS ("4,2" means 4), else the CPUs
  // the process may run on: run.sh sets DEEPNODE_EXPECT_THREADS for a run under taskset.
  const char* omp = std::getenv("OMP_NUM_THREADS");
  const char* want = std::getenv("DEEPNODE_EXPECT_THREADS");
  if (omp || want) {
    const int expected = want ? std::atoi(want) : std::atoi(omp);
    ++g_cases;
    if (deepnode::get_num_threads() != expected) {
      std::printf("FAIL get_num_threads() = %d, expected %d (OMP_NUM_THREADS=%s)\n", deepnode::get_num_threads(),
                  expected, omp ? omp : "unset");
      ++g_failures;
    }
  }

  const bool T[] = {false, true};
  const float alphas[] = {1.0f, -0.5f, 2.25f};
  const float betas[] = {0.0f, 1.0f, -1.5f, 0.3f};
  const std::vector<int64_t> sizes = small ? std::vector<int64_t>{0, 1, 7, 33} : std::vector<int64_t>{0, 1, 7, 33, 257};
  unsigned config = 0;
  // Every size triple and transpose pair, cycling alpha, beta, bias, padding and threads so
  // each appears with every shape class.
  for (int64_t m : sizes)
    for (int64_t n : sizes)
      for (int64_t k : sizes)
        for (bool ta : T)
          for (bool tb : T) {
            const unsigned c = config++;
            run_case({ta, tb, m, n, k, alphas[c % 3], betas[(c / 3) % 4], (c / 12) % 2 == 0, (int64_t)(c % 5), 1 + (int)((c / 2) % 2)});
          }
  // Full parameter grid on shapes that cross the block sizes (KC = 256; MC = 96/144/384;
  // NC = 2048/4096) and that are large enough to run on two threads. Also the small-m paths:
  // B read in place (m <= 48, partial right panel of 11 and of 4 columns: the one-vector tile),
  // op(A) packed once and shared by column blocks (m <= MC), and short last row panels split
  // in two (m = 45 -> ..., 5, 4; m = 20 -> 6, 6, 4, 4). 96 x 1030 x 300 (59 Mflop) takes the
  // guided column blocks of large products, down to the last ragged panel. 100 x 100 x 32 and
  // 300 x 100 x 32 are batch-32 weight gradients: with op(A) = A^T, A and B are read in place
  // (m <= 384, k <= 64) and the 4-column right edge runs along m. 64 x 200 x 40 takes the wide
  // A^T tiles of AVX-512 twice (columns 0-127), a register tile (128-191) and an 8-column edge.
  struct Shape { int64_t m, n, k; };
  const std::vector<Shape> shapes = small ? std::vector<Shape>{{7, 4100, 9}, {100, 33, 270}, {13, 37, 530}}
                                           : std::vector<Shape>{{257, 257, 257}, {400, 70, 300}, {7, 4100, 33}, {32, 300, 784}, {785, 33, 20}, {13, 37, 530},
                                                {45, 203, 600}, {20, 100, 300}, {150, 520, 260}, {96, 1030, 300}, {100, 100, 32}, {300, 100, 32},
                                                {64, 200, 40}};
  for (const Shape& s : shapes)
    for (bool ta : T)
      for (bool tb : T)
        for (float beta : {0.0f, 1.0f, 0.3f})
          for (int threads : {1, 2})
            run_case({ta, tb, s.m, s.n, s.k, beta == 1.0f ? 1.0f : -0.75f, beta, beta != 1.0f, 3, threads});
  // alpha == 0 and k == 0 reduce to C = beta * C + bias (A and B unread, NaN-filled gaps aside).
  for (int threads : {1, 2}) {
    run_case({false, false, 33, 17, 0, 1.0f, 0.0f, true, 2, threads});
    run_case({true, false, 33, 17, 0, 1.0f, -2.0f, true, 2, threads});
    run_case({false, true, 33, 17, 9, 0.0f, 0.5f, false, 2, threads});
    run_case({true, true, 64, 64, 64, 0.0f, 0.0f, true, 0, threads});
  }

  check_run_tasks();
  check_thread_bits();

  std::printf("%s: %d passed, %d failed\n", isa, g_cases - g_failures, g_failures);
  return g_failures ? 1 : 0;
}
