#include "kernels.h"

#include "parallel.h"
#include "simd.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace deepnode {
namespace {

constexpr float kSeluScale = 1.0507009873554805f;
constexpr float kSeluAlpha = 1.6732632423543772f;
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;
constexpr float kGeluC = 0.044715f;

inline float sigmoid(float x) {
  // Two branches keep exp() from overflowing for large |x|.
  if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}

inline float softplus(float x) { return std::fmax(x, 0.0f) + std::log1p(std::exp(-std::fabs(x))); }

// exp(x) - 1 for x <= 0, written so that GCC vectorises loops that call it (std::expm1 is a libm
// call per element: on W3's 100 SELU layers that was most of the step). Range reduction
// x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so n ln2 is exact), a degree-7 Taylor
// polynomial of e^r - 1 (truncation < 2e-9 absolute), then 2^n (e^r - 1) + (2^n - 1). Below -87 it
// returns -1 like expm1 does to float precision. Absolute error <= 1.2e-7, i.e. within an ulp of
// the result's magnitude for x < -0.35 and of 1 near 0; the activations' tests compare it with
// PyTorch. No branch: both sides of every select are computed, so the loop if-converts under
// GCC's default -ftrapping-math.
__attribute__((always_inline)) inline float expm1_nonpositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = x * 1.44269504088896341f + kRound;
  const float n = t - kRound;
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  // e^r - 1 = r + r^2/2! + ... + r^7/7!, Horner form.
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  const float em1_r = p * r;
  // 2^n from the exponent bits (n in [-126, 0] here). A NaN x leaves n NaN, whose conversion to
  // an integer is undefined behaviour: convert 0 instead (r, hence the result, is NaN anyway).
  const float n_int = n == n ? n : 0.0f;
  const int32_t bits = (static_cast<int32_t>(n_int) + 127) << 23;
  const float two_n = __builtin_bit_cast(float, bits);
  return two_n * em1_r + (two_n - 1.0f);
}

// fmin(fmax(v, 0), 6) as selects, with the same results as the libm calls it replaces (NaN and -0
// give +0): GCC calls fminf/fmaxf per element otherwise, ~6 ns per element instead of ~0.2.
__attribute__((always_inline)) inline float clamp_0_6(float v) {
  const float u = v > 0.0f ? v : 0.0f;
  return u <= 6.0f ? u : 6.0f;
}

// Applies op(i) for i in [0, n); the loop bodies are simple enough for GCC to vectorise where the
// math allows it.
template <typename F>
inline void each(int64_t n, F op) {
  for (int64_t i = 0; i < n; ++i) op(i);
}

// The large element-wise passes (activations, their derivatives with the bias sums, column sums,
// the batch gather) split across threads when a pass holds more than kParallelMin units of work,
// each thread taking at least kPerThreadMin (so two threads from 2 * kPerThreadMin). A unit is one
// element of a ReLU pass, ~0.2 ns on one thread of the 2-vCPU Zen3 VM these were measured on.
// The passes run on the GEMM's pool (parallel.h), whose helper is usually awake between a training
// step's products: handing it a pass costs ~1 us. On a passive OpenMP team (woken per pass) these
// thresholds were 4x higher, and W4's [256, 1024] ReLU-backward-and-bias passes and 256-row
// gathers stayed on one thread; on the pool they split, and W4's 2-thread step went from 18.8 to
// 17.5-17.9 ms (1 thread: 32.5 ms; alternating epochs in one process, medians of 7). The
// libm-bound activations (milliseconds per large batch) split far above this.
constexpr int64_t kParallelMin = int64_t(1) << 18;
constexpr int64_t kPerThreadMin = int64_t(1) << 18;
// Threads claim element-wise work this many floats (64 KB) at a time.
constexpr int64_t kChunk = int64_t(1) << 14;

// Work units per element (one-thread time per element over ReLU's, measured on 2^18 floats).
// The libm-bound activations (sigmoid, tanh, softplus, swish, GELU, exp) cost 25-150 units.
int64_t work_per_element(Act act, bool backward) {
  switch (act) {
    case Act::Elu:
    case Act::Selu: return backward ? 1 : 3;
    case Act::Sigmoid: return backward ? 2 : 50;
    case Act::Tanh: return backward ? 3 : 130;
    case Act::Softplus: return backward ? 50 : 110;
    case Act::Swish: return 55;
    case Act::GeluExact: return 120;
    case Act::GeluTanh: return 150;
    case Act::Exponential: return backward ? 1 : 25;
    case Act::HardSigmoid:
    case Act::Relu6: return backward ? 2 : 1;
    default: return 1;
  }
}
// The derivative and the column sums of activation_backward_bias.
int64_t bias_work(Act act, int64_t rows, int64_t cols) { return rows * cols * (work_per_element(act, true) + 1); }
// A random batch gather waits on memory: ~5 units per float (256 rows of 784: ~200 us).
constexpr int64_t kGatherWork = 5;

// Threads for a pass of `work` units.
int threads_for(int64_t work) { return deepnode::threads_for(work, kParallelMin, kPerThreadMin); }
// Whether a column-sum pass of `work` units is large enough that 2 threads would split it: such a
// pass sums by blocks of rows at any thread count (split_column_sums).
bool blocked_sums(int64_t work) { return work > kParallelMin && work / kPerThreadMin >= 2; }

}  // namespace

namespace {
DEEPNODE_INLINE void forward_body(Act act, const float* x, float* y, int64_t n, float alpha) {
  switch (act) {
    case Act::Linear:
      if (x != y) each(n, [=](int64_t i) { y[i] = x[i]; });
      return;
    case Act::Relu:
      each(n, [=](int64_t i) { y[i] = x[i] > 0.0f ? x[i] : 0.0f; });
      return;
    case Act::LeakyRelu:
      // Both sides computed, then selected: vectorises (a conditional multiply would not).
      each(n, [=](int64_t i) {
        const float v = x[i], neg = alpha * v;
        y[i] = v > 0.0f ? v : neg;
      });
      return;
    case Act::Elu:
      each(n, [=](int64_t i) {
        const float v = x[i], neg = alpha * expm1_nonpositive(v > 0.0f ? 0.0f : v);
        y[i] = v > 0.0f ? v : neg;
      });
      return;
    case Act::Selu:
      each(n, [=](int64_t i) {
        const float v = x[i], pos = kSeluScale * v;
        const float neg = (kSeluScale * kSeluAlpha) * expm1_nonpositive(v > 0.0f ? 0.0f : v);
        y[i] = v > 0.0f ? pos : neg;
      });
      return;
    case Act::Sigmoid:
      each(n, [=](int64_t i) { y[i] = sigmoid(x[i]); });
      return;
    case Act::Tanh:
      each(n, [=](int64_t i) { y[i] = std::tanh(x[i]); });
      return;
    case Act::Softplus:
      each(n, [=](int64_t i) { y[i] = softplus(x[i]); });
      return;
    case Act::Swish:
      each(n, [=](int64_t i) { y[i] = x[i] * sigmoid(alpha * x[i]); });
      return;
    case Act::GeluExact:
      each(n, [=](int64_t i) { y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2)); });
      return;
    case Act::GeluTanh:
      each(n, [=](int64_t i) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * (v + kGeluC * v * v * v)));
      });
      return;
    case Act::HardSigmoid:
      each(n, [=](int64_t i) { y[i] = clamp_0_6(x[i] + 3.0f) / 6.0f; });
      return;
    case Act::Softsign:
      each(n, [=](int64_t i) { y[i] = x[i] / (1.0f + std::fabs(x[i])); });
      return;
    case Act::Exponential:
      each(n, [=](int64_t i) { y[i] = std::exp(x[i]); });
      return;
    case Act::Relu6:
      each(n, [=](int64_t i) { y[i] = clamp_0_6(x[i]); });
      return;
    case Act::Count:
      return;
  }
}

DEEPNODE_INLINE void backward_body(Act act, const float* x, const float* y, const float* dy, float* dx, int64_t n,
                                   float alpha) {
  switch (act) {
    case Act::Linear:
      if (dx != dy) each(n, [=](int64_t i) { dx[i] = dy[i]; });
      return;
    case Act::Relu:
      each(n, [=](int64_t i) { dx[i] = x[i] > 0.0f ? dy[i] : 0.0f; });
      return;
    case Act::LeakyRelu:
      each(n, [=](int64_t i) {
        const float g = dy[i], neg = alpha * g;
        dx[i] = x[i] > 0.0f ? g : neg;
      });
      return;
    case Act::Elu:  // d/dx alpha (e^x - 1) = alpha e^x = y + alpha
      each(n, [=](int64_t i) {
        const float g = dy[i], neg = g * (y[i] + alpha);
        dx[i] = x[i] > 0.0f ? g : neg;
      });
      return;
    case Act::Selu:
      each(n, [=](int64_t i) {
        const float g = dy[i], pos = g * kSeluScale, neg = g * (y[i] + kSeluScale * kSeluAlpha);
        dx[i] = x[i] > 0.0f ? pos : neg;
      });
      return;
    case Act::Sigmoid:
      each(n, [=](int64_t i) { dx[i] = dy[i] * y[i] * (1.0f - y[i]); });
      return;
    case Act::Tanh:
      each(n, [=](int64_t i) { dx[i] = dy[i] * (1.0f - y[i] * y[i]); });
      return;
    case Act::Softplus:
      each(n, [=](int64_t i) { dx[i] = dy[i] * sigmoid(x[i]); });
      return;
    case Act::Swish:  // s + a x s (1 - s)
      each(n, [=](int64_t i) {
        const float s = sigmoid(alpha * x[i]);
        dx[i] = dy[i] * (s + alpha * x[i] * s * (1.0f - s));
      });
      return;
    case Act::GeluExact:  // Phi(x) + x phi(x)
      each(n, [=](int64_t i) {
        const float v = x[i];
        const float cdf = 0.5f * (1.0f + std::erf(v * kInvSqrt2));
        const float pdf = kInvSqrt2Pi * std::exp(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
      });
      return;
    case Act::GeluTanh:
      each(n, [=](int64_t i) {
        const float v = x[i];
        const float t = std::tanh(kSqrt2OverPi * (v + kGeluC * v * v * v));
        const float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluC * v * v);
        dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
      });
      return;
    case Act::HardSigmoid:
      each(n, [=](int64_t i) { dx[i] = (x[i] > -3.0f && x[i] < 3.0f) ? dy[i] / 6.0f : 0.0f; });
      return;
    case Act::Softsign:
      each(n, [=](int64_t i) {
        const float d = 1.0f + std::fabs(x[i]);
        dx[i] = dy[i] / (d * d);
      });
      return;
    case Act::Exponential:
      each(n, [=](int64_t i) { dx[i] = dy[i] * y[i]; });
      return;
    case Act::Relu6:
      each(n, [=](int64_t i) { dx[i] = (x[i] > 0.0f && x[i] < 6.0f) ? dy[i] : 0.0f; });
      return;
    case Act::Count:
      return;
  }
}

DEEPNODE_ELEMENTWISE_CLONES
void activation_forward_range(Act act, const float* x, float* y, int64_t n, float alpha) {
  forward_body(act, x, y, n, alpha);
}

DEEPNODE_ELEMENTWISE_CLONES
void activation_backward_range(Act act, const float* x, const float* y, const float* dy, float* dx, int64_t n,
                               float alpha) {
  backward_body(act, x, y, dy, dx, n, alpha);
}

// The splits live outside the cloned functions (see simd.h); each chunk runs the clone.
__attribute__((noinline)) void activation_forward_split(Act act, const float* x, float* y, int64_t n, float alpha,
                                                        int threads) {
  for_each_chunk(n, threads, kChunk,
                 [=](int64_t i0, int64_t i1) { activation_forward_range(act, x + i0, y + i0, i1 - i0, alpha); });
}

__attribute__((noinline)) void activation_backward_split(Act act, const float* x, const float* y, const float* dy,
                                                         float* dx, int64_t n, float alpha, int threads) {
  for_each_chunk(n, threads, kChunk, [=](int64_t i0, int64_t i1) {
    activation_backward_range(act, x + i0, y + i0, dy + i0, dx + i0, i1 - i0, alpha);
  });
}

// Rows [r0, r1) of activation_backward_bias: dx for those rows and their column sums into
// sums[0, cols) (overwritten).
DEEPNODE_ELEMENTWISE_CLONES
void backward_bias_rows(Act act, const float* x, const float* y, const float* dy, float* dx, int64_t r0,
                        int64_t r1, int64_t cols, float alpha, float* sums) {
  // The derivative a block of whole rows (~16 KB) per call, so that the call and the vector loop's
  // start-up are paid per block, not per row (W3's rows are 100 wide); then the block's column
  // sums, while it is still in L1.
  for (int64_t j = 0; j < cols; ++j) sums[j] = 0.0f;
  const int64_t block = std::max<int64_t>(1, 4096 / std::max<int64_t>(cols, 1));
  for (int64_t b0 = r0; b0 < r1; b0 += block) {
    const int64_t b1 = std::min(r1, b0 + block), at = b0 * cols;
    backward_body(act, x + at, y + at, dy + at, dx + at, (b1 - b0) * cols, alpha);
    for (int64_t r = b0; r < b1; ++r) {
      const float* row = dx + r * cols;
      for (int64_t j = 0; j < cols; ++j) sums[j] += row[j];
    }
  }
}

// The one-thread column_sum: rows added into db one after another.
DEEPNODE_ELEMENTWISE_CLONES
void column_sum_range(const float* dy, int64_t rows, int64_t cols, float* db, bool accumulate) {
  if (!accumulate) each(cols, [=](int64_t j) { db[j] = 0.0f; });
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = dy + r * cols;
    each(cols, [=](int64_t j) { db[j] += row[j]; });
  }
}

// Column sums of rows [r0, r1) into sums[0, cols) (overwritten).
DEEPNODE_ELEMENTWISE_CLONES
void column_sum_rows(const float* dy, int64_t r0, int64_t r1, int64_t cols, float* sums) {
  each(cols, [=](int64_t j) { sums[j] = 0.0f; });
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = dy + r * cols;
    each(cols, [=](int64_t j) { sums[j] += row[j]; });
  }
}

// db[j] = base[j] + scale * (sum over blocks b, in order, of partial[b * cols + j]). The blocks'
// rows are added into the first one a whole row at a time (contiguous, vectorised); each
// column's order stays b = 0, 1, 2, ...
DEEPNODE_ELEMENTWISE_CLONES
void combine_partials(float* partial, int64_t blocks, int64_t cols, const float* base, float scale, float* db) {
  for (int64_t b = 1; b < blocks; ++b) {
    const float* row = partial + b * cols;
    each(cols, [=](int64_t j) { partial[j] += row[j]; });
  }
  if (base) each(cols, [=](int64_t j) { db[j] = base[j] + scale * partial[j]; });
  else each(cols, [=](int64_t j) { db[j] = scale * partial[j]; });
}

// Column sums of a large pass, by blocks of rows: each block of kChunk floats (whole rows) sums its
// rows into its own partial row, and the partials are added up in block order; the blocks are
// split across threads when there are threads. Whether a pass is summed this way, and its blocks,
// depend only on the shape (the work above which any thread count > 1 would split it), never on
// the thread count, so 1, 2 or more threads give the same bits (test/14, test/36). It differs
// from the small passes' order (rows added one after another) by rounding only:
// |difference| <= ~(rows / rows_per_block + rows_per_block) * 2^-24 * sum_r |v[r, j]| per column.
// sum_block(r0, r1, sums) computes the block's partial; `work` is the pass's size in work units.
// Returns false for a small pass (the caller then runs its one-pass loop).
template <typename SumBlock>
bool split_column_sums(int64_t work, int64_t rows, int64_t cols, const float* base, float scale, float* db,
                       SumBlock sum_block) {
  const int64_t rows_per_block = std::max<int64_t>(1, kChunk / std::max<int64_t>(cols, 1));
  if (!blocked_sums(work) || rows < 2 * rows_per_block) return false;
  const int threads = threads_for(work);
  const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  std::vector<float> partial(static_cast<size_t>(blocks * cols));
  float* p = partial.data();
  for_each_chunk(blocks, threads, 1, [=](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      sum_block(b * rows_per_block, std::min(rows, (b + 1) * rows_per_block), p + b * cols);
  });
  combine_partials(p, blocks, cols, base, scale, db);
  return true;
}
}  // namespace

// Small passes (and every pass on one thread) run in the clone itself, as they did before the split.
DEEPNODE_ELEMENTWISE_CLONES
void activation_forward(Act act, const float* x, float* y, int64_t n, float alpha) {
  const int threads = threads_for(n * work_per_element(act, false));
  if (threads > 1) return activation_forward_split(act, x, y, n, alpha, threads);
  forward_body(act, x, y, n, alpha);
}

DEEPNODE_ELEMENTWISE_CLONES
void activation_backward(Act act, const float* x, const float* y, const float* dy, float* dx, int64_t n,
                         float alpha) {
  const int threads = threads_for(n * work_per_element(act, true));
  if (threads > 1) return activation_backward_split(act, x, y, dy, dx, n, alpha, threads);
  backward_body(act, x, y, dy, dx, n, alpha);
}

namespace {
// activation_backward_bias across threads; false (nothing done) when the batch is too small.
__attribute__((noinline)) bool backward_bias_split(Act act, const float* x, const float* y, const float* dy, float* dx,
                                                   int64_t rows, int64_t cols, float alpha, float* db, float db_scale) {
  const auto block = [=](int64_t r0, int64_t r1, float* sums) {
    backward_bias_rows(act, x, y, dy, dx, r0, r1, cols, alpha, sums);
  };
  return split_column_sums(bias_work(act, rows, cols), rows, cols, db, db_scale, db, block);
}
}  // namespace

DEEPNODE_ELEMENTWISE_CLONES
void activation_backward_bias(Act act, const float* x, const float* y, const float* dy, float* dx,
                              int64_t rows, int64_t cols, float alpha, float* db, float db_scale) {
  // No columns: nothing to write (the row loop below would still walk every row).
  if (cols == 0) return;
  // Large batches: blocks of rows, across threads when there are threads (split_column_sums). The
  // size test here too, not only in the split: without it the one-pass loop below measured 5-9%
  // slower.
  if (blocked_sums(bias_work(act, rows, cols)) && backward_bias_split(act, x, y, dy, dx, rows, cols, alpha, db, db_scale))
    return;
  // One thread: the derivative a block of whole rows (~16 KB) per call, so that the call and the
  // vector loop's start-up are paid per block, not per row (W3's rows are 100 wide); then the
  // block's column sums, while it is still in L1. The sums live on the stack up to 512 columns.
  constexpr int64_t kStackCols = 512;
  float stack_sums[kStackCols];
  std::vector<float> heap_sums;
  float* sums = stack_sums;
  if (cols > kStackCols) {
    heap_sums.resize(static_cast<size_t>(cols));
    sums = heap_sums.data();
  }
  for (int64_t j = 0; j < cols; ++j) sums[j] = 0.0f;
  const int64_t block = std::max<int64_t>(1, 4096 / std::max<int64_t>(cols, 1));
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t r1 = std::min(rows, r0 + block), at = r0 * cols;
    activation_backward(act, x + at, y + at, dy + at, dx + at, (r1 - r0) * cols, alpha);
    for (int64_t r = r0; r < r1; ++r) {
      const float* row = dx + r * cols;
      for (int64_t j = 0; j < cols; ++j) sums[j] += row[j];
    }
  }
  for (int64_t j = 0; j < cols; ++j) db[j] += db_scale * sums[j];
}

void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  if (cols == 0) return;  // empty rows: without this, up to 2^31 of them would still be looped over
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < cols; ++j) mx = std::fmax(mx, xr[j]);
    float s = 0.0f;
    for (int64_t j = 0; j < cols; ++j) {
      yr[j] = std::exp(xr[j] - mx);
      s += yr[j];
    }
    const float inv = 1.0f / s;
    for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

void softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  if (cols == 0) return;
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float* dr = dx + r * cols;
    float dot = 0.0f;
    for (int64_t j = 0; j < cols; ++j) dot += gr[j] * yr[j];
    for (int64_t j = 0; j < cols; ++j) dr[j] = yr[j] * (gr[j] - dot);
  }
}

namespace {
// log-sum-exp of one row kept as two parts, max and log(sum(exp(x - max))): x - lse is then
// computed as (x - max) - log_sum, which stays exact for large logits (adding log_sum to a max of
// 1e4 first would round it to float spacing ~1e-3).
struct RowLse {
  float max;
  float log_sum;
};

inline RowLse row_logsumexp(const float* xr, int64_t cols) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < cols; ++j) mx = std::fmax(mx, xr[j]);
  float s = 0.0f;
  for (int64_t j = 0; j < cols; ++j) s += std::exp(xr[j] - mx);
  return {mx, std::log(s)};
}

// log softmax(x)_j = x_j - lse.
inline float log_prob(float xj, RowLse lse) { return (xj - lse.max) - lse.log_sum; }
}  // namespace

void log_softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  if (cols == 0) return;
  for (int64_t r = 0; r < rows; ++r) {
    const RowLse lse = row_logsumexp(x + r * cols, cols);
    for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = log_prob(x[r * cols + j], lse);
  }
}

double sparse_softmax_xent(const float* logits, const float* labels, int64_t rows, int64_t cols,
                           float* grad, float grad_scale, float* row_loss, int64_t* bad_label) {
  *bad_label = -1;
  for (int64_t r = 0; r < rows; ++r) {
    const float l = labels[r];
    if (!(l >= 0.0f) || !(l < static_cast<float>(cols)) || l != std::floor(l)) {
      *bad_label = r;
      return 0.0;
    }
  }
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* zr = logits + r * cols;
    const int64_t label = static_cast<int64_t>(labels[r]);
    const RowLse lse = row_logsumexp(zr, cols);
    const float loss = -log_prob(zr[label], lse);
    total += loss;
    if (row_loss) row_loss[r] = loss;
    if (grad) {
      float* gr = grad + r * cols;
      for (int64_t j = 0; j < cols; ++j) gr[j] = std::exp(log_prob(zr[j], lse)) * grad_scale;
      gr[label] -= grad_scale;
    }
  }
  return total;
}

double softmax_xent(const float* logits, const float* targets, int64_t rows, int64_t cols,
                    float* grad, float grad_scale, float* row_loss) {
  if (cols == 0) {  // every row's loss is an empty sum
    if (row_loss) for (int64_t r = 0; r < rows; ++r) row_loss[r] = 0.0f;
    return 0.0;
  }
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* zr = logits + r * cols;
    const float* tr = targets + r * cols;
    const RowLse lse = row_logsumexp(zr, cols);
    float tsum = 0.0f, loss = 0.0f;
    for (int64_t j = 0; j < cols; ++j) {
      tsum += tr[j];
      loss -= tr[j] * log_prob(zr[j], lse);
    }
    total += loss;
    if (row_loss) row_loss[r] = loss;
    if (grad) {
      float* gr = grad + r * cols;
      for (int64_t j = 0; j < cols; ++j) gr[j] = (std::exp(log_prob(zr[j], lse)) * tsum - tr[j]) * grad_scale;
    }
  }
  return total;
}

double sigmoid_bce(const float* logits, const float* targets, int64_t n, float* grad, float grad_scale) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float z = logits[i], t = targets[i];
    total += std::fmax(z, 0.0f) - z * t + std::log1p(std::exp(-std::fabs(z)));
    if (grad) grad[i] = (sigmoid(z) - t) * grad_scale;
  }
  return total;
}

double bce(const float* probs, const float* targets, int64_t n, float eps, float* grad, float grad_scale) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float p0 = probs[i];
    const float p = std::fmin(std::fmax(p0, eps), 1.0f - eps);
    const float t = targets[i];
    total -= t * std::log(p) + (1.0f - t) * std::log(1.0f - p);
    if (grad) {
      const bool inside = p0 > eps && p0 < 1.0f - eps;
      grad[i] = inside ? (p - t) / (p * (1.0f - p)) * grad_scale : 0.0f;
    }
  }
  return total;
}

double categorical_xent(const float* probs, const float* targets, int64_t rows, int64_t cols, float eps,
                        float* grad, float grad_scale) {
  // Keras: p = p / sum(p); p = clip(p, eps, 1 - eps); loss = -sum(t log p).
  if (cols == 0) return 0.0;
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* pr = probs + r * cols;
    const float* tr = targets + r * cols;
    float s = 0.0f;
    for (int64_t j = 0; j < cols; ++j) s += pr[j];
    float loss = 0.0f, tsum = 0.0f, inner = 0.0f;
    for (int64_t j = 0; j < cols; ++j) {
      const float q = pr[j] / s;
      const float qc = std::fmin(std::fmax(q, eps), 1.0f - eps);
      loss -= tr[j] * std::log(qc);
      tsum += tr[j];
      if (q > eps && q < 1.0f - eps) inner += tr[j] / qc * q;  // sum_k t_k/q_k * q_k over unclipped k
    }
    total += loss;
    if (grad) {
      // d/dp_j of -sum_k t_k log(p_k / s) = -t_j/p_j * [unclipped_j] + (sum_k unclipped t_k) / s.
      float* gr = grad + r * cols;
      for (int64_t j = 0; j < cols; ++j) {
        const float q = pr[j] / s;
        const bool inside = q > eps && q < 1.0f - eps;
        gr[j] = ((inside ? -tr[j] / pr[j] : 0.0f) + inner / s) * grad_scale;
      }
    }
    (void)tsum;
  }
  return total;
}

double squared_error(const float* pred, const float* targets, int64_t n, float* grad, float grad_scale) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = pred[i] - targets[i];
    total += static_cast<double>(d) * d;
    if (grad) grad[i] = 2.0f * d * grad_scale;
  }
  return total;
}

void column_sum(const float* dy, int64_t rows, int64_t cols, float* db, bool accumulate) {
  if (cols == 0) return;
  const auto block = [=](int64_t r0, int64_t r1, float* sums) { column_sum_rows(dy, r0, r1, cols, sums); };
  // Column sums cost about half a work unit per element.
  if (split_column_sums(rows * cols / 2, rows, cols, accumulate ? db : nullptr, 1.0f, db, block)) return;
  column_sum_range(dy, rows, cols, db, accumulate);
}

namespace {
typedef float v4f __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
enum class Reduce { Sum, Squares, Abs };

// v = term(v), in place (a function returning a 32-byte vector would change the ABI of the
// baseline clone, which has no AVX registers).
template <Reduce R, class T>
inline __attribute__((always_inline)) void reduce_term(T& v) {
  if constexpr (R == Reduce::Squares) v = v * v;
  else if constexpr (R == Reduce::Abs) v = v < 0 ? -v : v;
}

// sum_i term(x_i) in double, in 16 independent partial sums (four 4-double vectors): one running
// double sum is a chain of dependent adds, 4 cycles each (0.3 ms per step on a 784x300 kernel's
// L2 penalty); this runs at the load rate. The order of the additions is fixed, so every clone
// and every call gives the same result for the same x.
template <Reduce R>
inline __attribute__((always_inline)) double reduce_f64(const float* x, int64_t n) {
  v4d a0 = {}, a1 = {}, a2 = {}, a3 = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    v4f x0, x1, x2, x3;
    std::memcpy(&x0, x + i, sizeof x0);
    std::memcpy(&x1, x + i + 4, sizeof x1);
    std::memcpy(&x2, x + i + 8, sizeof x2);
    std::memcpy(&x3, x + i + 12, sizeof x3);
    v4d d0 = __builtin_convertvector(x0, v4d), d1 = __builtin_convertvector(x1, v4d);
    v4d d2 = __builtin_convertvector(x2, v4d), d3 = __builtin_convertvector(x3, v4d);
    reduce_term<R>(d0);
    reduce_term<R>(d1);
    reduce_term<R>(d2);
    reduce_term<R>(d3);
    a0 += d0;
    a1 += d1;
    a2 += d2;
    a3 += d3;
  }
  const v4d a = (a0 + a1) + (a2 + a3);
  double s = (a[0] + a[1]) + (a[2] + a[3]);
  for (; i < n; ++i) {
    double v = x[i];
    reduce_term<R>(v);
    s += v;
  }
  return s;
}
}  // namespace

DEEPNODE_ELEMENTWISE_CLONES
double sum(const float* x, int64_t n) { return reduce_f64<Reduce::Sum>(x, n); }

DEEPNODE_ELEMENTWISE_CLONES
double sum_squares(const float* x, int64_t n) { return reduce_f64<Reduce::Squares>(x, n); }

DEEPNODE_ELEMENTWISE_CLONES
double sum_abs(const float* x, int64_t n) { return reduce_f64<Reduce::Abs>(x, n); }

// No FMA contraction (and no AVX2 clone, whose FMA would contract anyway): each product and sum is
// rounded as the JS loop it replaces rounds it, so the weights come out bit for bit the same.
__attribute__((optimize("fp-contract=off")))
void constrain_column_norms(float* w, int64_t rows, int64_t cols, NormConstraint kind, double min_value,
                            double max_value, double rate) {
  if (rows <= 0 || cols <= 0) return;
  // Column sums of squares, a row at a time (each column's terms in row order, the order of the
  // JS loop this replaces; the columns are independent lanes).
  std::vector<double> f(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = w + r * cols;
    for (int64_t j = 0; j < cols; ++j) {
      const double v = row[j];
      f[j] += v * v;
    }
  }
  constexpr double kEps = 1e-7;
  for (int64_t j = 0; j < cols; ++j) {
    const double n = std::sqrt(f[j]);
    switch (kind) {
      case NormConstraint::Max: f[j] = std::min(std::max(n, 0.0), max_value) / (kEps + n); break;
      case NormConstraint::Unit: f[j] = 1.0 / (kEps + n); break;
      case NormConstraint::MinMax:
        f[j] = (rate * std::min(std::max(n, min_value), max_value) + (1.0 - rate) * n) / (kEps + n);
        break;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    float* row = w + r * cols;
    for (int64_t j = 0; j < cols; ++j) row[j] = static_cast<float>(static_cast<double>(row[j]) * f[j]);
  }
}

DEEPNODE_ELEMENTWISE_CLONES
void add_sign(float g, const float* x, float* y, int64_t n) {
  // y unchanged where x is 0 or NaN (not y + 0, which would turn a -0 into +0).
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = v > 0.0f ? y[i] + g : v < 0.0f ? y[i] - g : y[i];
  }
}

DEEPNODE_ELEMENTWISE_CLONES
int64_t first_non_finite(const float* x, int64_t n) {
  // A block at a time with a branch-free test that vectorises (the exponent bits all ones means
  // NaN or Inf), then the exact index inside the first block that has one: fit checks its whole
  // dataset with this before training (43M floats for Fashion-MNIST).
  constexpr int64_t kBlock = 1024;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    uint32_t bad = 0;
    for (int64_t i = b; i < e; ++i) {
      uint32_t bits;
      std::memcpy(&bits, x + i, sizeof bits);
      bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (bad)
      for (int64_t i = b; i < e; ++i)
        if (!std::isfinite(x[i])) return i;
  }
  return -1;
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  each(n, [=](int64_t i) { y[i] += alpha * x[i]; });
}

void scale(float alpha, float* x, int64_t n) {
  each(n, [=](int64_t i) { x[i] *= alpha; });
}

namespace {
inline int64_t row_argmax(const float* r, int64_t cols) {
  int64_t best = 0;
  for (int64_t j = 1; j < cols; ++j)
    if (r[j] > r[best]) best = j;
  return best;
}
}  // namespace

int64_t sparse_argmax_matches(const float* pred, const float* labels, int64_t rows, int64_t cols) {
  int64_t hits = 0;
  for (int64_t r = 0; r < rows; ++r)
    if (static_cast<float>(row_argmax(pred + r * cols, cols)) == labels[r]) ++hits;
  return hits;
}

int64_t argmax_matches(const float* pred, const float* targets, int64_t rows, int64_t cols) {
  int64_t hits = 0;
  for (int64_t r = 0; r < rows; ++r)
    if (row_argmax(pred + r * cols, cols) == row_argmax(targets + r * cols, cols)) ++hits;
  return hits;
}

int64_t binary_matches(const float* pred, const float* targets, int64_t n, float threshold) {
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i)
    if ((pred[i] > threshold) == (targets[i] > 0.5f)) ++hits;
  return hits;
}

namespace {
void gather_rows_range(const float* src, int64_t per, const int32_t* index, int64_t r0, int64_t r1, float* out) {
  constexpr int64_t kAhead = 4;
  const auto row = [=](int64_t r) { return src + (index ? static_cast<int64_t>(index[r]) : r) * per; };
  for (int64_t r = r0; r < r1 && r < r0 + kAhead; ++r)
    for (int64_t j = 0; j < per; j += 16) __builtin_prefetch(row(r) + j);
  for (int64_t r = r0; r < r1; ++r) {
    if (r + kAhead < r1) {
      const float* next = row(r + kAhead);
      for (int64_t j = 0; j < per; j += 16) __builtin_prefetch(next + j);
    }
    std::memcpy(out + r * per, row(r), static_cast<size_t>(per) * sizeof(float));
  }
}
}  // namespace

void gather_rows(const float* src, int64_t per, const int32_t* index, int64_t count, float* out) {
  if (per == 0 || count == 0) return;  // the buffers may be empty (null) typed arrays
  // Rows split across threads: a random batch waits on memory, and two threads wait in parallel.
  // Chunks of rows of about kChunk floats.
  const int64_t rows_per_chunk = std::max<int64_t>(1, kChunk / per);
  const int threads = threads_for(count * per * kGatherWork);
  for_each_chunk(count, threads, rows_per_chunk,
                 [=](int64_t r0, int64_t r1) { gather_rows_range(src, per, index, r0, r1, out); });
}

void sgd_step(float* param, const float* grad, float* velocity, int64_t n, float lr, float momentum,
              bool nesterov) {
  if (momentum == 0.0f || velocity == nullptr) {
    each(n, [=](int64_t i) { param[i] -= lr * grad[i]; });
  } else if (nesterov) {
    each(n, [=](int64_t i) {
      const float v = momentum * velocity[i] - lr * grad[i];
      velocity[i] = v;
      param[i] += momentum * v - lr * grad[i];
    });
  } else {
    each(n, [=](int64_t i) {
      const float v = momentum * velocity[i] - lr * grad[i];
      velocity[i] = v;
      param[i] += v;
    });
  }
}

}  // namespace deepnode
