// Quantized inference kernels: float16 / int8 conversions and the products that read quantized
// weights directly (see quantized.h). Portable code lives here; quantized_avx2.cc has the
// AVX2/FMA/F16C versions, chosen once at load after a CPU check (DEEPNODE_ISA=generic forces the
// portable ones, as for the GEMM).
#include "quantized.h"
#include "scratch.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "gemm.h"
#include "parallel.h"

namespace {

// ---- portable scalar conversions -------------------------------------------------------------

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// binary32 -> binary16, round to nearest, ties to even (IEEE 754 default rounding).
uint16_t f32_to_f16_scalar(float f) {
  const uint32_t x = bits_of(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) {  // Inf, or NaN made quiet with the top payload bits kept (as vcvtps2ph)
    return a == 0x7f800000u ? static_cast<uint16_t>(sign | 0x7c00u)
                            : static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  }
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to Inf
  const uint32_t e = a >> 23;
  if (e < 113) {  // below 2^-14: a binary16 subnormal (or zero), in units of 2^-24
    const uint32_t shift = 126 - e;  // value = mant * 2^(e - 150) = (mant >> shift) units
    if (shift > 24) return sign;     // below 2^-25 (and 2^-25 itself ties to the even 0)
    const uint32_t mant = (a & 0x7fffffu) | (e ? 0x800000u : 0u);
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;  // may carry into the smallest normal
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = ((e - 112) << 10) | ((a & 0x7fffffu) >> 13);
  const uint32_t rem = a & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry moves into the exponent
  return static_cast<uint16_t>(sign | h);
}

float f16_to_f32_scalar(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (e == 0x1f) return float_of(sign | 0x7f800000u | (mant << 13));
  if (e == 0) {  // zero or subnormal: mant * 2^-24, exact in binary32
    const float v = static_cast<float>(mant) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  return float_of(sign | ((e + 112) << 23) | (mant << 13));
}

// ---- portable "vector" for the direct kernel: 8 floats the compiler may vectorise --------------

struct DnVec {
  float v[8];
};
#define DN_QV 8
inline DnVec dn_zero() { return DnVec{}; }
inline DnVec dn_set1(float a) {
  DnVec r;
  for (int i = 0; i < 8; ++i) r.v[i] = a;
  return r;
}
inline DnVec dn_fma(DnVec a, DnVec b, DnVec acc) {
  for (int i = 0; i < 8; ++i) acc.v[i] += a.v[i] * b.v[i];
  return acc;
}
inline DnVec dn_mul(DnVec a, DnVec b) {
  for (int i = 0; i < 8; ++i) a.v[i] *= b.v[i];
  return a;
}
inline DnVec dn_add(DnVec a, DnVec b) {
  for (int i = 0; i < 8; ++i) a.v[i] += b.v[i];
  return a;
}
inline DnVec dn_loadf(const float* p) {
  DnVec r;
  std::memcpy(r.v, p, sizeof r.v);
  return r;
}
inline void dn_storef(float* p, DnVec v) { std::memcpy(p, v.v, sizeof v.v); }
inline DnVec dn_loadw(const uint16_t* p) {
  DnVec r;
  for (int i = 0; i < 8; ++i) r.v[i] = f16_to_f32_scalar(p[i]);
  return r;
}
inline DnVec dn_loadw(const int8_t* p) {
  DnVec r;
  for (int i = 0; i < 8; ++i) r.v[i] = static_cast<float>(p[i]);
  return r;
}
inline float dn_w1(uint16_t h) { return f16_to_f32_scalar(h); }
inline float dn_w1(int8_t q) { return static_cast<float>(q); }

}  // namespace

#define DN_QCAT2(a, b) a##b
#define DN_QCAT(a, b) DN_QCAT2(a, b)
#define DN_QPREFIX deepnode_q_generic_
#include "quantized_kernel.inc"

// quantized_avx2.cc exists on x86-64 only; elsewhere the portable kernels above are the only ones.
#if defined(__x86_64__) || defined(_M_X64)
#define DEEPNODE_Q_X86 1
#else
#define DEEPNODE_Q_X86 0
#endif

#if DEEPNODE_Q_X86
#if defined(__clang__)
#include <cpuid.h>  // clang 14 rejects __builtin_cpu_supports("f16c"): read CPUID.1:ECX directly
#endif
extern "C" {
void deepnode_q_avx2_f32_to_f16(const float* x, uint16_t* y, int64_t n);
void deepnode_q_avx2_f16_to_f32(const uint16_t* x, float* y, int64_t n);
void deepnode_q_avx2_dequant_i8(const int8_t* q, const float* scales, int64_t rows, int64_t n, float* out);
void deepnode_q_avx2_direct_f16(int64_t m, int64_t n, int64_t k, const float* X, const uint16_t* W,
                                const float* bias, float* Y, int64_t j0, int64_t j1);
void deepnode_q_avx2_direct_i8(int64_t m, int64_t n, int64_t k, const float* X, const int8_t* q,
                               const float* scales, const float* bias, float* Y, int64_t j0, int64_t j1);
}
#endif

namespace deepnode {
namespace {

bool simd_supported() {
#if DEEPNODE_Q_X86 && defined(__clang__)
  __builtin_cpu_init();
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
#elif DEEPNODE_Q_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

bool choose_simd() {
  const char* forced = std::getenv("DEEPNODE_ISA");
  if (forced && std::strcmp(forced, "generic") == 0) return false;
  return simd_supported();
}

// Chosen once, when the library is loaded.
const bool g_simd_ok = simd_supported();
const bool g_simd = choose_simd();

void generic_f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16_scalar(x[i]);
}

void generic_f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32_scalar(x[i]);
}

void dequant_i8(const int8_t* q, const float* scales, int64_t rows, int64_t n, float* out) {
#if DEEPNODE_Q_X86
  if (g_simd) return deepnode_q_avx2_dequant_i8(q, scales, rows, n, out);
#endif
  for (int64_t p = 0; p < rows; ++p)
    for (int64_t j = 0; j < n; ++j) out[p * n + j] = static_cast<float>(q[p * n + j]) * scales[j];
}

// Batches of at most this many rows run the direct kernel (weights read once per 4 rows); larger
// ones convert k-panels of W to float32 and use the packed SGEMM, whose cost then dominates.
constexpr int64_t kDirectMaxRows = 8;
// Rows of W converted per panel: kPanelRows x n floats of scratch per call.
constexpr int64_t kPanelRows = 256;
// Scratch for one panel, reused across calls on the same thread.
thread_local AlignedScratch t_scratch;

// Threads for an m x n x k product split into blocks of `width` columns: as many as sgemm would
// give it (threads_for_flops), 1 when the pool backs off, and at most one per block.
int column_threads(int64_t m, int64_t n, int64_t k, int64_t width) {
  int threads = threads_for_flops(2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k));
  if (threads > 1 && pool_backing_off()) return 1;
  const int64_t blocks = (n + width - 1) / width;
  if (blocks < threads) threads = static_cast<int>(blocks);
  return std::max(threads, 1);
}

// Runs fn(j0, j1) over column ranges: on the calling thread, or in ranges of whole blocks of
// `width` columns (32 for the direct kernels: their SIMD blocks) claimed by `threads` of the pool's
// threads (column_threads; parallel.h), a few ranges per thread so that one thread can take over another's when that one
// waits for a core. fn must not throw (it may run on a helper thread).
template <typename Fn>
void split_columns(int64_t n, int threads, int64_t width, Fn fn) {
  const int64_t blocks = (n + width - 1) / width;
  for_each_chunk(n, threads, width * std::max<int64_t>(1, blocks / (4 * threads)), fn);
}

bool use_direct(int64_t m, QPath path) {
  return path == QPath::kDirectGeneric || path == QPath::kDirectSimd || (path == QPath::kAuto && m <= kDirectMaxRows);
}

bool simd_for(QPath path) {
  if (path == QPath::kDirectGeneric) return false;
  if (path == QPath::kDirectSimd) return g_simd_ok;
  return g_simd;
}

// Y = X W + bias with W given panel by panel as float32 (convert(p0, rows, j0, cols, out) fills
// one: rows [p0, p0 + rows) and columns [j0, j0 + cols) of W as a dense rows x cols block).
//
// On one thread, and for large batches (m > kSliceMaxRows), whole k-panels are converted and sgemm
// splits each panel's product across the threads. A small batch's panel products are too short
// for that: each one waited for the helper's block, and the helper read the panel that the caller
// had just converted alone (W1's first layer in int8, 32x300x784: 124 us on one thread, 178 on
// two). So on several threads a small batch goes by column ranges instead (whole blocks of
// kSliceCols), each converted and multiplied by the thread that claims it, from its own scratch:
// one wait per product, no panel crossing cores. A column's value does not depend on the range
// it is computed in: ranges start at multiples of kSliceCols, a multiple of every register
// tile's width, so each column meets the same micro-kernel (full tile, partial tile or edge) at
// the same depth steps as in the whole product; test/14 compares 1, 2 and 3 threads bit for bit.
constexpr int64_t kSliceMaxRows = 48, kSliceCols = 64;

template <typename Convert>
void panel_gemm(int64_t m, int64_t n, int64_t k, const float* X, const float* bias, float* Y, Convert convert) {
  const int64_t rows = k < kPanelRows ? k : kPanelRows;
  // Columns [j0, j0 + cols) of Y, panel by panel; false when memory runs out (the scratch, or
  // sgemm's workspace: it may run on a helper thread, which must not throw).
  auto columns = [&](int64_t j0, int64_t cols) noexcept {
    float* panel = t_scratch.get(rows * cols);
    if (!panel) return false;
    try {
      for (int64_t p0 = 0; p0 < k; p0 += rows) {
        const int64_t kc = k - p0 < rows ? k - p0 : rows;
        convert(p0, kc, j0, cols, panel);
        // The first panel writes Y (plus the bias); later ones accumulate into it.
        sgemm(false, false, m, cols, kc, 1.0f, X + p0, k, panel, cols, p0 == 0 ? 0.0f : 1.0f, Y + j0, n,
              p0 == 0 && bias ? bias + j0 : nullptr);
      }
    } catch (const std::bad_alloc&) {
      return false;
    }
    return true;
  };
  const int threads = m > kSliceMaxRows ? 1 : column_threads(m, n, k, kSliceCols);
  if (threads <= 1) {
    if (!columns(0, n)) throw std::bad_alloc();
    return;
  }
  std::atomic<bool> failed{false};
  split_columns(n, threads, kSliceCols, [&](int64_t j0, int64_t j1) {
    if (!columns(j0, j1 - j0)) failed.store(true, std::memory_order_relaxed);
  });
  if (failed.load()) throw std::bad_alloc();
}

// k == 0: Y = bias (or 0).
void bias_only(int64_t m, int64_t n, const float* bias, float* Y) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) Y[i * n + j] = bias ? bias[j] : 0.0f;
}

}  // namespace

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
#if DEEPNODE_Q_X86
  if (g_simd) deepnode_q_avx2_f32_to_f16(x, y, n);
  else
#endif
  generic_f32_to_f16(x, y, n);
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
#if DEEPNODE_Q_X86
  if (g_simd) deepnode_q_avx2_f16_to_f32(x, y, n);
  else
#endif
  generic_f16_to_f32(x, y, n);
}

void quantize_int8(const float* W, int64_t k, int64_t n, int8_t* q, float* scales) {
  if (n == 0) return;  // no columns (k may still be 2^31 - 1)
  for (int64_t j = 0; j < n; ++j) {
    float amax = 0.0f;
    for (int64_t p = 0; p < k; ++p) amax = std::fmax(amax, std::fabs(W[p * n + j]));
    scales[j] = static_cast<float>(static_cast<double>(amax) / 127.0);
  }
  for (int64_t p = 0; p < k; ++p) {
    for (int64_t j = 0; j < n; ++j) {
      const double s = scales[j];
      // Dividing by the stored (float) scale in double keeps |W - q * scale| <= scale / 2.
      double r = s > 0 ? std::round(static_cast<double>(W[p * n + j]) / s) : 0.0;
      if (r > 127) r = 127;
      if (r < -127) r = -127;
      q[p * n + j] = static_cast<int8_t>(r);
    }
  }
}

void gemm_f16(int64_t m, int64_t n, int64_t k, const float* X, const uint16_t* W, const float* bias,
              float* Y, QPath path) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return bias_only(m, n, bias, Y);
  if (use_direct(m, path)) {
    [[maybe_unused]] const bool simd = simd_for(path);  // unused off x86-64
    split_columns(n, column_threads(m, n, k, 32), 32, [&](int64_t j0, int64_t j1) {
#if DEEPNODE_Q_X86
      if (simd) deepnode_q_avx2_direct_f16(m, n, k, X, W, bias, Y, j0, j1);
  else
#endif
      deepnode_q_generic_direct_f16(m, n, k, X, W, bias, Y, j0, j1);
    });
    return;
  }
  panel_gemm(m, n, k, X, bias, Y, [&](int64_t p0, int64_t kc, int64_t j0, int64_t cols, float* out) {
    if (cols == n) return f16_to_f32(W + p0 * n, out, kc * n);
    for (int64_t p = 0; p < kc; ++p) f16_to_f32(W + (p0 + p) * n + j0, out + p * cols, cols);
  });
}

void gemm_i8(int64_t m, int64_t n, int64_t k, const float* X, const int8_t* q, const float* scales,
             const float* bias, float* Y, QPath path) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return bias_only(m, n, bias, Y);
  if (use_direct(m, path)) {
    [[maybe_unused]] const bool simd = simd_for(path);  // unused off x86-64
    split_columns(n, column_threads(m, n, k, 32), 32, [&](int64_t j0, int64_t j1) {
#if DEEPNODE_Q_X86
      if (simd) deepnode_q_avx2_direct_i8(m, n, k, X, q, scales, bias, Y, j0, j1);
  else
#endif
      deepnode_q_generic_direct_i8(m, n, k, X, q, scales, bias, Y, j0, j1);
    });
    return;
  }
  panel_gemm(m, n, k, X, bias, Y, [&](int64_t p0, int64_t kc, int64_t j0, int64_t cols, float* out) {
    if (cols == n) return dequant_i8(q + p0 * n, scales, kc, n, out);
    for (int64_t p = 0; p < kc; ++p) dequant_i8(q + (p0 + p) * n + j0, scales + j0, 1, cols, out + p * cols);
  });
}

const char* quantized_isa() { return g_simd ? "avx2" : "generic"; }

}  // namespace deepnode
