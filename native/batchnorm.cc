#include "batchnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gemm.h"
#include "parallel.h"
#include "simd.h"

namespace deepnode {
namespace {

// Below this many elements a split costs more than the reductions it would share.
constexpr int64_t kParallelMinElements = int64_t{1} << 20;
// Features of an [N, C] batch (inner == 1) are read a row segment at a time: give each task a
// multiple of a cache line's worth of them (so no two threads write one line of y or dx), and work
// on a tile at a time with its accumulators on the stack.
constexpr int64_t kMinFeaturesPerThread = 16;
constexpr int64_t kTile = 256;
// Tasks per thread when the features are split: claimed one at a time (parallel.h), so a thread
// that runs while another waits for a core takes over the waiting thread's share.
constexpr int64_t kTasksPerThread = 4;

// Calls fn(c0, c1) over [0, C): on the calling thread, or in feature ranges claimed by the pool's
// threads (parallel.h) when the work is large enough. Each feature's statistics and outputs are
// computed the same way in any range (the group and tile paths below agree bit for bit), so the
// split never changes the bits.
template <typename F>
void for_features(int64_t outer, int64_t C, int64_t inner, F fn) {
  if (C <= 0) return;
  const int64_t per = inner == 1 ? kMinFeaturesPerThread : 1;
  const int threads = static_cast<int>(std::min<int64_t>(threads_for(outer * C * inner, kParallelMinElements - 1, 1), C / per));
  if (threads <= 1) {
    fn(int64_t{0}, C);
    return;
  }
  const int64_t tasks = kTasksPerThread * threads;
  const int64_t chunk = ((C + tasks - 1) / tasks + per - 1) / per * per;
  for_each_chunk(C, threads, chunk, fn);
}

inline float inv_std(float var, float eps) { return 1.0f / std::sqrt(var + eps); }

#if DEEPNODE_X86_SIMD
DEEPNODE_TARGET_AVX2 void inv_std_avx2(const float* var, float eps, float* istd, int64_t n) {
  const __m256 e = _mm256_set1_ps(eps), one = _mm256_set1_ps(1.0f);
  int64_t c = 0;
  for (; c + 8 <= n; c += 8)
    _mm256_storeu_ps(istd + c, _mm256_div_ps(one, _mm256_sqrt_ps(_mm256_add_ps(_mm256_loadu_ps(var + c), e))));
  for (; c < n; ++c) istd[c] = inv_std(var[c], eps);
}
#endif

// istd[c] = inv_std(var[c], eps) for c in [0, n): 8 at a time with AVX2 (the build's -fmath-errno
// keeps std::sqrt loops scalar, see simd.h). Square root and division are correctly rounded
// either way: the same bits.
void inv_std_range(const float* var, float eps, float* istd, int64_t n) {
#if DEEPNODE_X86_SIMD
  if (use_avx2_fma()) return inv_std_avx2(var, eps, istd, n);
#endif
  for (int64_t c = 0; c < n; ++c) istd[c] = inv_std(var[c], eps);
}

// Per-feature scratch: on the stack for up to 1024 features, else on the heap.
class FeatureScratch {
 public:
  explicit FeatureScratch(int64_t C) {
    if (C > kStack) heap_.resize(static_cast<size_t>(C));
  }
  float* data() { return heap_.empty() ? stack_ : heap_.data(); }

 private:
  static constexpr int64_t kStack = 1024;
  float stack_[kStack];
  std::vector<float> heap_;
};

// --- Register-blocked [N, C] paths (inner == 1) ---------------------------------------------------
// A group of kGroup features walks the whole batch with its accumulators in registers, instead of
// a tile of 256 whose accumulators live in memory and are loaded and stored for every row. The
// loops over the group are fully unrolled so that GCC's SLP vectoriser packs them (4 doubles or 8
// floats per AVX2 register in the x86-64-v3 clone). Each feature's sums still run over the rows in
// order and every value is computed with the same expression as in the tile code below, so both
// paths give the same bits.
constexpr int64_t kGroup = 16;

// moments_rows for features [c, c + kGroup).
DEEPNODE_INLINE void moments_group(const float* x, int64_t M, int64_t C, int64_t c, float* mean, float* var) {
  double acc[kGroup] = {};
  double mu[kGroup];
  for (int64_t r = 0; r < M; ++r) {
    const float* row = x + r * C + c;
#pragma GCC unroll 16
    for (int j = 0; j < kGroup; ++j) acc[j] += row[j];
  }
#pragma GCC unroll 16
  for (int j = 0; j < kGroup; ++j) {
    mu[j] = acc[j] / static_cast<double>(M);
    acc[j] = 0.0;
  }
  for (int64_t r = 0; r < M; ++r) {
    const float* row = x + r * C + c;
#pragma GCC unroll 16
    for (int j = 0; j < kGroup; ++j) {
      const double d = row[j] - mu[j];
      acc[j] += d * d;
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < kGroup; ++j) {
    mean[c + j] = static_cast<float>(mu[j]);
    var[c + j] = static_cast<float>(acc[j] / static_cast<double>(M));
  }
}

// normalize for features [c, c + kGroup) of an [M, C] batch.
DEEPNODE_INLINE void normalize_group(const float* x, float* y, int64_t M, int64_t C, int64_t c, const float* gamma,
                                     const float* beta, const float* mean, const float* istd) {
  float k[kGroup], b[kGroup], mu[kGroup];
#pragma GCC unroll 16
  for (int j = 0; j < kGroup; ++j) {
    k[j] = istd[c + j] * (gamma ? gamma[c + j] : 1.0f);
    b[j] = beta ? beta[c + j] : 0.0f;
    mu[j] = mean[c + j];
  }
  for (int64_t r = 0; r < M; ++r) {
    const float* xr = x + r * C + c;
    float* yr = y + r * C + c;
#pragma GCC unroll 16
    for (int j = 0; j < kGroup; ++j) yr[j] = (xr[j] - mu[j]) * k[j] + b[j];
  }
}

// backward_block for features [c, c + kGroup) of an [M, C] batch (M = outer).
DEEPNODE_INLINE void backward_group(const float* x, const float* dy, int64_t outer, int64_t C, int64_t c, int64_t M,
                                    const float* mean, const float* istd, const float* gamma, bool training, float* dx,
                                    float* dgamma, float* dbeta) {
  float mu[kGroup], is[kGroup];
#pragma GCC unroll 16
  for (int j = 0; j < kGroup; ++j) {
    mu[j] = mean[c + j];
    is[j] = istd[c + j];
  }
  double sdy[kGroup] = {};
  double sdyx[kGroup] = {};
  if (dgamma || dbeta || (dx && training)) {
    // Two passes, one sum each: with both in one loop GCC's SLP gives up and the loop runs scalar.
    for (int64_t r = 0; r < outer; ++r) {
      const float* gr = dy + r * C + c;
#pragma GCC unroll 16
      for (int j = 0; j < kGroup; ++j) sdy[j] += gr[j];
    }
    for (int64_t r = 0; r < outer; ++r) {
      const float* xr = x + r * C + c;
      const float* gr = dy + r * C + c;
#pragma GCC unroll 16
      for (int j = 0; j < kGroup; ++j) sdyx[j] += gr[j] * ((xr[j] - mu[j]) * is[j]);
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < kGroup; ++j) {
    if (dbeta) dbeta[c + j] += static_cast<float>(sdy[j]);
    if (dgamma) dgamma[c + j] += static_cast<float>(sdyx[j]);
  }
  if (!dx) return;
  float k[kGroup], a[kGroup], b[kGroup];
  const float invM = 1.0f / static_cast<float>(M);
#pragma GCC unroll 16
  for (int j = 0; j < kGroup; ++j) {
    k[j] = (gamma ? gamma[c + j] : 1.0f) * is[j];
    a[j] = training ? -k[j] * static_cast<float>(sdyx[j]) * invM : 0.0f;
    b[j] = training ? -k[j] * static_cast<float>(sdy[j]) * invM : 0.0f;
  }
  for (int64_t r = 0; r < outer; ++r) {
    const float* xr = x + r * C + c;
    const float* gr = dy + r * C + c;
    float* dr = dx + r * C + c;
#pragma GCC unroll 16
    for (int j = 0; j < kGroup; ++j) dr[j] += k[j] * gr[j] + a[j] * ((xr[j] - mu[j]) * is[j]) + b[j];
  }
}

// --- Forward ---------------------------------------------------------------------------------

// Batch mean and biased variance of features [c0, c1) of an [M, C] matrix (inner == 1).
DEEPNODE_INLINE void moments_rows(const float* x, int64_t M, int64_t C, int64_t c0, int64_t c1, float* mean, float* var) {
  for (int64_t t0 = c0; t0 < c1; t0 += kTile) {
    const int64_t w = std::min(kTile, c1 - t0);
    double acc[kTile];
    double mu[kTile];
    for (int64_t j = 0; j < w; ++j) acc[j] = 0.0;
    for (int64_t r = 0; r < M; ++r) {
      const float* row = x + r * C + t0;
      for (int64_t j = 0; j < w; ++j) acc[j] += row[j];
    }
    for (int64_t j = 0; j < w; ++j) {
      mu[j] = M > 0 ? acc[j] / static_cast<double>(M) : 0.0;
      acc[j] = 0.0;
    }
    for (int64_t r = 0; r < M; ++r) {
      const float* row = x + r * C + t0;
      for (int64_t j = 0; j < w; ++j) {
        const double d = row[j] - mu[j];
        acc[j] += d * d;
      }
    }
    for (int64_t j = 0; j < w; ++j) {
      mean[t0 + j] = static_cast<float>(mu[j]);
      var[t0 + j] = M > 0 ? static_cast<float>(acc[j] / static_cast<double>(M)) : 0.0f;
    }
  }
}

// Same for one feature c of an [outer, C, inner] tensor (inner > 1).
DEEPNODE_INLINE void moments_feature(const float* x, int64_t outer, int64_t C, int64_t inner, int64_t c, float* mean, float* var) {
  const int64_t M = outer * inner;
  double s = 0.0;
  for (int64_t o = 0; o < outer; ++o) {
    const float* seg = x + (o * C + c) * inner;
    for (int64_t i = 0; i < inner; ++i) s += seg[i];
  }
  const double mu = M > 0 ? s / static_cast<double>(M) : 0.0;
  double q = 0.0;
  for (int64_t o = 0; o < outer; ++o) {
    const float* seg = x + (o * C + c) * inner;
    for (int64_t i = 0; i < inner; ++i) {
      const double d = seg[i] - mu;
      q += d * d;
    }
  }
  mean[c] = static_cast<float>(mu);
  var[c] = M > 0 ? static_cast<float>(q / static_cast<double>(M)) : 0.0f;
}

// y = (x - mean) * k + beta per feature, with k = gamma * istd. (Folding mean into the offset,
// x * k + (beta - mean * k), would cancel catastrophically when |mean| >> std.)
DEEPNODE_INLINE void normalize(const float* x, float* y, int64_t outer, int64_t C, int64_t inner, int64_t c0, int64_t c1,
               const float* gamma, const float* beta, const float* mean, const float* istd) {
  for (int64_t t0 = c0; t0 < c1; t0 += kTile) {
    const int64_t w = std::min(kTile, c1 - t0);
    float k[kTile];
    float b[kTile];
    float mu[kTile];
    for (int64_t j = 0; j < w; ++j) {
      const int64_t c = t0 + j;
      k[j] = istd[c] * (gamma ? gamma[c] : 1.0f);
      b[j] = beta ? beta[c] : 0.0f;
      mu[j] = mean[c];
    }
    if (inner == 1) {
      for (int64_t r = 0; r < outer; ++r) {
        const float* xr = x + r * C + t0;
        float* yr = y + r * C + t0;
        for (int64_t j = 0; j < w; ++j) yr[j] = (xr[j] - mu[j]) * k[j] + b[j];
      }
    } else {
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t j = 0; j < w; ++j) {
          const int64_t base = (o * C + t0 + j) * inner;
          const float kj = k[j], bj = b[j], mj = mu[j];
          for (int64_t i = 0; i < inner; ++i) y[base + i] = (x[base + i] - mj) * kj + bj;
        }
      }
    }
  }
}

// --- Backward --------------------------------------------------------------------------------

// Per-feature sums of dy and dy * xhat over [c0, c0 + w) into sdy, sdyx.
DEEPNODE_INLINE void grad_sums(const float* x, const float* dy, int64_t outer, int64_t C, int64_t inner, int64_t t0, int64_t w,
               const float* mean, const float* istd, double* sdy, double* sdyx) {
  for (int64_t j = 0; j < w; ++j) sdy[j] = sdyx[j] = 0.0;
  if (inner == 1) {
    for (int64_t r = 0; r < outer; ++r) {
      const float* xr = x + r * C + t0;
      const float* gr = dy + r * C + t0;
      for (int64_t j = 0; j < w; ++j) {
        sdy[j] += gr[j];
        sdyx[j] += gr[j] * ((xr[j] - mean[t0 + j]) * istd[j]);
      }
    }
    return;
  }
  for (int64_t j = 0; j < w; ++j) {
    const float mu = mean[t0 + j], is = istd[j];
    double a = 0.0, b = 0.0;
    for (int64_t o = 0; o < outer; ++o) {
      const int64_t base = (o * C + t0 + j) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        const float g = dy[base + i];
        a += g;
        b += g * ((x[base + i] - mu) * is);
      }
    }
    sdy[j] = a;
    sdyx[j] = b;
  }
}


// Features [c0, c1) of the forward statistics.
DEEPNODE_ELEMENTWISE_CLONES
void moments_block(const float* x, int64_t outer, int64_t C, int64_t inner, int64_t c0, int64_t c1, float* mean,
                   float* var) {
  if (inner == 1) {
    int64_t c = c0;
    for (; c + kGroup <= c1; c += kGroup) moments_group(x, outer, C, c, mean, var);
    if (c < c1) moments_rows(x, outer, C, c, c1, mean, var);
  } else {
    for (int64_t c = c0; c < c1; ++c) moments_feature(x, outer, C, inner, c, mean, var);
  }
}

// Features [c0, c1) of the normalisation, istd = inv_std(var, eps) given.
DEEPNODE_ELEMENTWISE_CLONES
void normalize_block(const float* x, float* y, int64_t outer, int64_t C, int64_t inner, int64_t c0, int64_t c1,
                     const float* gamma, const float* beta, const float* mean, const float* istd) {
  int64_t c = c0;
  if (inner == 1)
    for (; c + kGroup <= c1; c += kGroup) normalize_group(x, y, outer, C, c, gamma, beta, mean, istd);
  if (c < c1) normalize(x, y, outer, C, inner, c, c1, gamma, beta, mean, istd);
}

// Features [c0, c1) of the backward pass.
DEEPNODE_ELEMENTWISE_CLONES
void backward_block(const float* x, const float* dy, int64_t outer, int64_t C, int64_t inner, int64_t M,
                    int64_t c0, int64_t c1, const float* mean, const float* istd_all, const float* gamma,
                    bool training, float* dx, float* dgamma, float* dbeta) {
  if (inner == 1)
    for (; c0 + kGroup <= c1; c0 += kGroup)
      backward_group(x, dy, outer, C, c0, M, mean, istd_all, gamma, training, dx, dgamma, dbeta);
  for (int64_t t0 = c0; t0 < c1; t0 += kTile) {
    const int64_t w = std::min(kTile, c1 - t0);
    const float* istd = istd_all + t0;
    double sdy[kTile];
    double sdyx[kTile];
    const bool need_sums = dgamma || dbeta || (dx && training);
    if (need_sums) grad_sums(x, dy, outer, C, inner, t0, w, mean, istd, sdy, sdyx);
    for (int64_t j = 0; j < w; ++j) {
      if (dbeta) dbeta[t0 + j] += static_cast<float>(sdy[j]);
      if (dgamma) dgamma[t0 + j] += static_cast<float>(sdyx[j]);
    }
    if (!dx) continue;
    // dx = k * dy + a * xhat + b  (a = b = 0 at inference), with xhat = (x - mean) * istd.
    float k[kTile];
    float a[kTile];
    float b[kTile];
    const float invM = 1.0f / static_cast<float>(M);
    for (int64_t j = 0; j < w; ++j) {
      k[j] = (gamma ? gamma[t0 + j] : 1.0f) * istd[j];
      a[j] = training ? -k[j] * static_cast<float>(sdyx[j]) * invM : 0.0f;
      b[j] = training ? -k[j] * static_cast<float>(sdy[j]) * invM : 0.0f;
    }
    if (inner == 1) {
      for (int64_t r = 0; r < outer; ++r) {
        const float* xr = x + r * C + t0;
        const float* gr = dy + r * C + t0;
        float* dr = dx + r * C + t0;
        for (int64_t j = 0; j < w; ++j) dr[j] += k[j] * gr[j] + a[j] * ((xr[j] - mean[t0 + j]) * istd[j]) + b[j];
      }
    } else {
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t j = 0; j < w; ++j) {
          const int64_t base = (o * C + t0 + j) * inner;
          const float kj = k[j], aj = a[j], bj = b[j], mu = mean[t0 + j], is = istd[j];
          for (int64_t i = 0; i < inner; ++i) dx[base + i] += kj * dy[base + i] + aj * ((x[base + i] - mu) * is) + bj;
        }
      }
    }
  }
}

}  // namespace

void batchnorm_forward(const float* x, float* y, int64_t outer, int64_t C, int64_t inner,
                       const float* gamma, const float* beta, float* mean, float* var, float eps,
                       bool training) {
  if (outer == 0 || inner == 0) {  // M == 0: nothing to normalise (outer or inner may still be 2^31 - 1)
    if (training)
      for (int64_t c = 0; c < C; ++c) mean[c] = var[c] = 0.0f;
    return;
  }
  FeatureScratch istd(C);
  for_features(outer, C, inner, [&](int64_t c0, int64_t c1) {
    if (training) moments_block(x, outer, C, inner, c0, c1, mean, var);
    inv_std_range(var + c0, eps, istd.data() + c0, c1 - c0);
    normalize_block(x, y, outer, C, inner, c0, c1, gamma, beta, mean, istd.data());
  });
}

void batchnorm_backward(const float* x, const float* dy, int64_t outer, int64_t C, int64_t inner,
                        const float* mean, const float* var, const float* gamma, float eps,
                        bool training, float* dx, float* dgamma, float* dbeta) {
  const int64_t M = outer * inner;
  if (M == 0) return;
  FeatureScratch istd(C);
  inv_std_range(var, eps, istd.data(), C);
  for_features(outer, C, inner, [&](int64_t c0, int64_t c1) {
    backward_block(x, dy, outer, C, inner, M, c0, c1, mean, istd.data(), gamma, training, dx, dgamma, dbeta);
  });
}

}  // namespace deepnode
