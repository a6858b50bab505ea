#include "optimizers.h"


#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "parallel.h"
#include "simd.h"

namespace deepnode {
namespace {

// Below this many elements a step is memory-bound and shorter than handing out its chunks.
constexpr int64_t kParallelMin = int64_t(1) << 16;
// Each thread gets at least this many elements.
constexpr int64_t kPerThreadMin = int64_t(1) << 14;
// Threads claim this many elements at a time (W4's 1.86M parameters: 29 chunks).
constexpr int64_t kChunk = int64_t(1) << 16;

int threads_for(int64_t n) { return deepnode::threads_for(n, kParallelMin, kPerThreadMin); }

// Applies op(i) for i in [0, n), on one thread or in chunks claimed by the pool (parallel.h). The
// bodies are branch-free so GCC can vectorise them; loops with std::sqrt cannot (see below).
template <typename F>
void for_each_index(int64_t n, F op) {
  for_each_chunk(n, threads_for(n), kChunk, [=](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) op(i);
  });
}

#if DEEPNODE_X86_SIMD
// Adagrad, RMSprop and Nadam take a square root per element, and the build's -fmath-errno keeps
// std::sqrt scalar: `#pragma GCC optimize("no-math-errno")` and the function attribute change
// nothing in GCC 12 (checked), and -fno-math-errno as a build flag would reach every unit and build
// script. So, as for Adam, they get 8-lane loops written here and chosen by use_avx2_fma(); GCC and
// clang (macOS, clang-cl) both compile them (both have operators on __m256).
// Unlike Adam's portable loop, their scalar loops are not cloned: they are x86-64-v2 code, each
// multiply and add rounded on its own. So this target is AVX2 WITHOUT FMA: the compiler cannot
// contract a * b + c into a fused multiply-add (GCC would, under -ffp-contract=fast), and with the
// same operators in the same order lane i rounds exactly as the scalar loop's element i does
// (test/15.optimizer_simd.test.ts holds the two paths to the same bits).
#define DEEPNODE_TARGET_AVX2_UNFUSED __attribute__((target("avx2")))

// Elements [i, i + 8) of the flat buffers, or the last 1-7 of a range (full == false: masked loads
// and stores touch only those).
struct Lanes8 {
  int64_t i;
  __m256i mask;
  bool full;
  DEEPNODE_TARGET_AVX2_UNFUSED DEEPNODE_INLINE __m256 load(const float* p) const {
    return full ? _mm256_loadu_ps(p + i) : _mm256_maskload_ps(p + i, mask);
  }
  DEEPNODE_TARGET_AVX2_UNFUSED DEEPNODE_INLINE void store(float* p, __m256 x) const {
    if (full) _mm256_storeu_ps(p + i, x);
    else _mm256_maskstore_ps(p + i, mask, x);
  }
};

// Calls body(Lanes8) over [i0, i1), 8 elements at a time and the (i1 - i0) % 8 tail at the end.
template <typename Body>
DEEPNODE_TARGET_AVX2_UNFUSED DEEPNODE_INLINE void for_each_8(int64_t i0, int64_t i1, Body body) {
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) body(Lanes8{i, _mm256_set1_epi32(-1), true});
  if (i < i1) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    body(Lanes8{i, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(i1 - i)), idx), false});
  }
}
#endif

// The sum of squares in double, by fixed chunks of kChunk elements whose partial sums are added in
// chunk order: the chunks, and so the bits, depend only on n, never on the thread count.
double sum_of_squares(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks));
  double* p = partial.data();
  for_each_chunk(n, threads_for(n), kChunk, [=](int64_t i0, int64_t i1) {
    // One chunk per call, or all of them at once on one thread: each gets its own partial.
    for (int64_t c0 = i0; c0 < i1; c0 += kChunk) {
      const int64_t c1 = std::min(i1, c0 + kChunk);
      double s = 0.0;
      for (int64_t i = c0; i < c1; ++i) s += static_cast<double>(x[i]) * x[i];
      p[c0 / kChunk] = s;
    }
  });
  double total = 0.0;
  for (double v : partial) total += v;
  return total;
}

}  // namespace

void sgd_update(float* w, const float* g, float* velocity, int64_t n, float lr, float momentum, bool nesterov,
                float decay) {
  if (velocity == nullptr) {
    for_each_index(n, [=](int64_t i) {
      const float wi = w[i] - w[i] * decay;
      w[i] = wi - lr * g[i];
    });
  } else if (nesterov) {
    for_each_index(n, [=](int64_t i) {
      const float wi = w[i] - w[i] * decay;
      const float v = momentum * velocity[i] - lr * g[i];
      velocity[i] = v;
      w[i] = wi + (momentum * v - lr * g[i]);
    });
  } else {
    for_each_index(n, [=](int64_t i) {
      const float wi = w[i] - w[i] * decay;
      const float v = momentum * velocity[i] - lr * g[i];
      velocity[i] = v;
      w[i] = wi + v;
    });
  }
}

namespace {
#if DEEPNODE_X86_SIMD
// adagrad_update's loop over [i0, i1), 8 lanes at a time (same bits: see Lanes8).
DEEPNODE_TARGET_AVX2_UNFUSED void adagrad_avx2(float* w, const float* g, float* acc, int64_t i0, int64_t i1,
                                               float lr, float eps, float decay) {
  const __m256 lr8 = _mm256_set1_ps(lr), eps8 = _mm256_set1_ps(eps), decay8 = _mm256_set1_ps(decay);
  for_each_8(i0, i1, [&](Lanes8 x) DEEPNODE_TARGET_AVX2_UNFUSED {
    const __m256 wo = x.load(w), gi = x.load(g);
    const __m256 wi = wo - wo * decay8;
    const __m256 a = x.load(acc) + gi * gi;
    x.store(acc, a);
    x.store(w, wi - lr8 * gi / _mm256_sqrt_ps(a + eps8));
  });
}
#endif
}  // namespace

void adagrad_update(float* w, const float* g, float* acc, int64_t n, float lr, float eps, float decay) {
  for_each_chunk(n, threads_for(n), kChunk, [=](int64_t i0, int64_t i1) {
#if DEEPNODE_X86_SIMD
    if (use_avx2_fma()) return adagrad_avx2(w, g, acc, i0, i1, lr, eps, decay);
#endif
    for (int64_t i = i0; i < i1; ++i) {
      const float wi = w[i] - w[i] * decay;
      const float a = acc[i] + g[i] * g[i];
      acc[i] = a;
      w[i] = wi - lr * g[i] / std::sqrt(a + eps);
    }
  });
}

namespace {
#if DEEPNODE_X86_SIMD
// rmsprop_loop over [i0, i1), 8 lanes at a time (same bits: see Lanes8).
template <bool kCentered, bool kMomentum>
DEEPNODE_TARGET_AVX2_UNFUSED void rmsprop_avx2(float* w, const float* g, float* v, float* mom, float* avg, int64_t i0,
                                               int64_t i1, float lr, float rho_f, float one_minus_rho, float momentum,
                                               float eps, float decay) {
  const __m256 lr8 = _mm256_set1_ps(lr), rho8 = _mm256_set1_ps(rho_f), omr8 = _mm256_set1_ps(one_minus_rho);
  const __m256 mom8 = _mm256_set1_ps(momentum), eps8 = _mm256_set1_ps(eps), decay8 = _mm256_set1_ps(decay);
  for_each_8(i0, i1, [&](Lanes8 x) DEEPNODE_TARGET_AVX2_UNFUSED {
    const __m256 wo = x.load(w), gi = x.load(g);
    const __m256 wi = wo - wo * decay8;
    const __m256 vi = rho8 * x.load(v) + omr8 * gi * gi;
    x.store(v, vi);
    __m256 denom = vi + eps8;
    if (kCentered) {
      const __m256 ai = rho8 * x.load(avg) + omr8 * gi;
      x.store(avg, ai);
      denom = vi - ai * ai + eps8;
    }
    const __m256 inc = lr8 * gi / _mm256_sqrt_ps(denom);
    if (kMomentum) {
      const __m256 mi = mom8 * x.load(mom) + inc;
      x.store(mom, mi);
      x.store(w, wi - mi);
    } else {
      x.store(w, wi - inc);
    }
  });
}
#endif

// The optional slots are template flags so that each variant is a branch-free loop.
template <bool kCentered, bool kMomentum>
void rmsprop_loop(float* w, const float* g, float* v, float* mom, float* avg, int64_t n, float lr, double rho,
                  float momentum, float eps, float decay) {
  const float rho_f = static_cast<float>(rho), one_minus_rho = static_cast<float>(1.0 - rho);
  for_each_chunk(n, threads_for(n), kChunk, [=](int64_t i0, int64_t i1) {
#if DEEPNODE_X86_SIMD
    if (use_avx2_fma()) {
      return rmsprop_avx2<kCentered, kMomentum>(w, g, v, mom, avg, i0, i1, lr, rho_f, one_minus_rho, momentum, eps,
                                                 decay);
    }
#endif
    for (int64_t i = i0; i < i1; ++i) {
      const float wi = w[i] - w[i] * decay;
      const float gi = g[i];
      const float vi = rho_f * v[i] + one_minus_rho * gi * gi;
      v[i] = vi;
      float denom = vi + eps;
      if (kCentered) {
        const float ai = rho_f * avg[i] + one_minus_rho * gi;
        avg[i] = ai;
        denom = vi - ai * ai + eps;
      }
      const float inc = lr * gi / std::sqrt(denom);
      if (kMomentum) {
        const float mi = momentum * mom[i] + inc;
        mom[i] = mi;
        w[i] = wi - mi;
      } else {
        w[i] = wi - inc;
      }
    }
  });
}

template <bool kAmsgrad>
DEEPNODE_INLINE void adam_loop(float* w, const float* g, float* m, float* v, float* vhat, int64_t i0, int64_t i1,
                               float alpha, float c1, float c2, float eps, float decay) {
  for (int64_t i = i0; i < i1; ++i) {
    const float wi = w[i] - w[i] * decay;
    const float gi = g[i];
    const float mi = m[i] + (gi - m[i]) * c1;
    float vi = v[i] + (gi * gi - v[i]) * c2;
    m[i] = mi;
    v[i] = vi;
    if (kAmsgrad) {
      vi = std::max(vhat[i], vi);
      vhat[i] = vi;
    }
    w[i] = wi - mi * alpha / (std::sqrt(vi) + eps);
  }
}

// Adam over [i0, i1), portable code (the -fmath-errno sqrt keeps it scalar: see simd.h).
DEEPNODE_ELEMENTWISE_CLONES
void adam_range(float* w, const float* g, float* m, float* v, float* vhat, int64_t i0, int64_t i1, float alpha,
                float c1, float c2, float eps, float decay) {
  if (vhat) adam_loop<true>(w, g, m, v, vhat, i0, i1, alpha, c1, c2, eps, decay);
  else adam_loop<false>(w, g, m, v, vhat, i0, i1, alpha, c1, c2, eps, decay);
}

#if DEEPNODE_X86_SIMD
// adam_loop 8 lanes at a time, with the same operations and fused multiply-adds GCC gives the
// scalar x86-64-v3 clone (w - w*decay, (g - m)*c1 + m and (g*g - v)*c2 + v fused; then
// (m*alpha) / (sqrt(v') + eps), rounded once each), so both give the same bits. The last n % 8
// elements go through the same code with masked loads and stores. The loop reads 4 streams (5
// with amsgrad) and writes 3 (4): at ~28 bytes per element it is memory-bound even at 8 lanes.
template <bool kAmsgrad>
DEEPNODE_TARGET_AVX2 void adam_avx2(float* w, const float* g, float* m, float* v, float* vhat, int64_t i0,
                                    int64_t i1, float alpha, float c1, float c2, float eps, float decay) {
  const __m256 va = _mm256_set1_ps(alpha), vc1 = _mm256_set1_ps(c1), vc2 = _mm256_set1_ps(c2);
  const __m256 veps = _mm256_set1_ps(eps), vdecay = _mm256_set1_ps(decay);
  const auto lanes = [&](int64_t i, __m256i mask, bool full) DEEPNODE_TARGET_AVX2 {
    const auto load = [&](const float* p) DEEPNODE_TARGET_AVX2 {
      return full ? _mm256_loadu_ps(p + i) : _mm256_maskload_ps(p + i, mask);
    };
    const auto store = [&](float* p, __m256 x) DEEPNODE_TARGET_AVX2 {
      if (full) _mm256_storeu_ps(p + i, x);
      else _mm256_maskstore_ps(p + i, mask, x);
    };
    const __m256 gi = load(g), mo = load(m), vo = load(v), wo = load(w);
    const __m256 wi = _mm256_fnmadd_ps(wo, vdecay, wo);
    const __m256 mi = _mm256_fmadd_ps(_mm256_sub_ps(gi, mo), vc1, mo);
    __m256 vi = _mm256_fmadd_ps(_mm256_fmsub_ps(gi, gi, vo), vc2, vo);
    store(m, mi);
    store(v, vi);
    if (kAmsgrad) {
      vi = _mm256_max_ps(vi, load(vhat));  // std::max(vhat, v): vhat unless v > vhat
      store(vhat, vi);
    }
    const __m256 step = _mm256_div_ps(_mm256_mul_ps(mi, va), _mm256_add_ps(_mm256_sqrt_ps(vi), veps));
    store(w, _mm256_sub_ps(wi, step));
  };
  int64_t i = i0;
  const __m256i all = _mm256_set1_epi32(-1);
  for (; i + 8 <= i1; i += 8) lanes(i, all, true);
  if (i < i1) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    lanes(i, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(i1 - i)), idx), false);
  }
}
#endif

}  // namespace

void rmsprop_update(float* w, const float* g, float* v, float* mom, float* avg, int64_t n, float lr, double rho,
                    float momentum, float eps, float decay) {
  if (avg && mom) rmsprop_loop<true, true>(w, g, v, mom, avg, n, lr, rho, momentum, eps, decay);
  else if (avg) rmsprop_loop<true, false>(w, g, v, mom, avg, n, lr, rho, momentum, eps, decay);
  else if (mom) rmsprop_loop<false, true>(w, g, v, mom, avg, n, lr, rho, momentum, eps, decay);
  else rmsprop_loop<false, false>(w, g, v, mom, avg, n, lr, rho, momentum, eps, decay);
}

void adam_update(float* w, const float* g, float* m, float* v, float* vhat, int64_t n, float alpha, double beta1,
                 double beta2, float eps, float decay) {
  const float c1 = static_cast<float>(1.0 - beta1), c2 = static_cast<float>(1.0 - beta2);
  for_each_chunk(n, threads_for(n), kChunk, [=](int64_t i0, int64_t i1) {
#if DEEPNODE_X86_SIMD
    if (use_avx2_fma()) {
      if (vhat) adam_avx2<true>(w, g, m, v, vhat, i0, i1, alpha, c1, c2, eps, decay);
      else adam_avx2<false>(w, g, m, v, vhat, i0, i1, alpha, c1, c2, eps, decay);
      return;
    }
#endif
    adam_range(w, g, m, v, vhat, i0, i1, alpha, c1, c2, eps, decay);
  });
}

void adamax_update(float* w, const float* g, float* m, float* u, int64_t n, float lr_hat, double beta1, double beta2,
                   float eps, float decay) {
  const float c1 = static_cast<float>(1.0 - beta1), b2 = static_cast<float>(beta2);
  for_each_index(n, [=](int64_t i) {
    const float wi = w[i] - w[i] * decay;
    const float gi = g[i];
    const float mi = m[i] + (gi - m[i]) * c1;
    const float ui = std::max(b2 * u[i], std::fabs(gi));
    m[i] = mi;
    u[i] = ui;
    w[i] = wi - lr_hat * mi / (ui + eps);
  });
}

namespace {
#if DEEPNODE_X86_SIMD
// nadam_update's loop over [i0, i1), 8 lanes at a time (same bits: see Lanes8).
DEEPNODE_TARGET_AVX2_UNFUSED void nadam_avx2(float* w, const float* g, float* m, float* v, int64_t i0, int64_t i1,
                                             float lr, float c1, float c2, float eps, float cm, float cg, float cv,
                                             float decay) {
  const __m256 lr8 = _mm256_set1_ps(lr), c1_8 = _mm256_set1_ps(c1), c2_8 = _mm256_set1_ps(c2);
  const __m256 cm8 = _mm256_set1_ps(cm), cg8 = _mm256_set1_ps(cg), cv8 = _mm256_set1_ps(cv);
  const __m256 eps8 = _mm256_set1_ps(eps), decay8 = _mm256_set1_ps(decay);
  for_each_8(i0, i1, [&](Lanes8 x) DEEPNODE_TARGET_AVX2_UNFUSED {
    const __m256 wo = x.load(w), gi = x.load(g), mo = x.load(m), vo = x.load(v);
    const __m256 wi = wo - wo * decay8;
    const __m256 mi = mo + (gi - mo) * c1_8;
    const __m256 vi = vo + (gi * gi - vo) * c2_8;
    x.store(m, mi);
    x.store(v, vi);
    const __m256 m_hat = cm8 * mi + cg8 * gi;
    x.store(w, wi - m_hat * lr8 / (_mm256_sqrt_ps(vi * cv8) + eps8));
  });
}
#endif
}  // namespace

void nadam_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, double beta1, double beta2,
                  float eps, float cm, float cg, float cv, float decay) {
  const float c1 = static_cast<float>(1.0 - beta1), c2 = static_cast<float>(1.0 - beta2);
  for_each_chunk(n, threads_for(n), kChunk, [=](int64_t i0, int64_t i1) {
#if DEEPNODE_X86_SIMD
    if (use_avx2_fma()) return nadam_avx2(w, g, m, v, i0, i1, lr, c1, c2, eps, cm, cg, cv, decay);
#endif
    for (int64_t i = i0; i < i1; ++i) {
      const float wi = w[i] - w[i] * decay;
      const float gi = g[i];
      const float mi = m[i] + (gi - m[i]) * c1;
      const float vi = v[i] + (gi * gi - v[i]) * c2;
      m[i] = mi;
      v[i] = vi;
      const float m_hat = cm * mi + cg * gi;
      w[i] = wi - m_hat * lr / (std::sqrt(vi * cv) + eps);
    }
  });
}

void clip_by_value(float* g, int64_t n, float clipvalue) {
  for_each_index(n, [=](int64_t i) { g[i] = std::min(std::max(g[i], -clipvalue), clipvalue); });
}

double clip_by_norm(float* g, int64_t n, float clipnorm) {
  const double norm = std::sqrt(sum_of_squares(g, n));
  if (!std::isfinite(norm)) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for_each_index(n, [=](int64_t i) { g[i] = nan; });
  } else if (norm > clipnorm) {
    const float s = static_cast<float>(clipnorm / norm);
    for_each_index(n, [=](int64_t i) { g[i] *= s; });
  }
  return norm;
}

}  // namespace deepnode
