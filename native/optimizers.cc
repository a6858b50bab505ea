#include "optimizers.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "gemm.h"
#include "simd.h"

namespace deepnode {
namespace {

// Below this many elements a step is memory-bound and shorter than waking a thread team.
constexpr int64_t kParallelMin = int64_t(1) << 16;
// Each thread gets at least this many elements.
constexpr int64_t kPerThreadMin = int64_t(1) << 14;

int threads_for(int64_t n) {
  if (n <= kParallelMin || omp_in_parallel()) return 1;
  const int64_t t = std::min<int64_t>(get_num_threads(), n / kPerThreadMin);
  return static_cast<int>(std::max<int64_t>(t, 1));
}

// Applies op(i) for i in [0, n), on one thread or split statically across a team. The bodies are
// branch-free so GCC can vectorise them (those with std::sqrt only under -fno-math-errno).
template <typename F>
void for_each_index(int64_t n, F op) {
  const int threads = threads_for(n);
  if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; ++i) op(i);
  } else {
    for (int64_t i = 0; i < n; ++i) op(i);
  }
}

double sum_of_squares(const float* x, int64_t n) {
  const int threads = threads_for(n);
  double total = 0.0;
  if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
  } else {
    for (int64_t i = 0; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
  }
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

void adagrad_update(float* w, const float* g, float* acc, int64_t n, float lr, float eps, float decay) {
  for_each_index(n, [=](int64_t i) {
    const float wi = w[i] - w[i] * decay;
    const float a = acc[i] + g[i] * g[i];
    acc[i] = a;
    w[i] = wi - lr * g[i] / std::sqrt(a + eps);
  });
}

namespace {
// The optional slots are template flags so that each variant is a branch-free (vectorisable) loop.
template <bool kCentered, bool kMomentum>
void rmsprop_loop(float* w, const float* g, float* v, float* mom, float* avg, int64_t n, float lr, double rho,
                  float momentum, float eps, float decay) {
  const float rho_f = static_cast<float>(rho), one_minus_rho = static_cast<float>(1.0 - rho);
  for_each_index(n, [=](int64_t i) {
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

// Adam over [i0, i1), compiled for AVX2 too (the square root and division dominate: 8 lanes
// instead of 4); the OpenMP split is outside, in adam_update.
DEEPNODE_ELEMENTWISE_CLONES
void adam_range(float* w, const float* g, float* m, float* v, float* vhat, int64_t i0, int64_t i1, float alpha,
                float c1, float c2, float eps, float decay) {
  if (vhat) adam_loop<true>(w, g, m, v, vhat, i0, i1, alpha, c1, c2, eps, decay);
  else adam_loop<false>(w, g, m, v, vhat, i0, i1, alpha, c1, c2, eps, decay);
}

// Calls op(i0, i1) on contiguous shares of [0, n), one per thread when n is large enough.
template <typename F>
void for_each_range(int64_t n, F op) {
  const int threads = threads_for(n);
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = omp_get_thread_num(), count = omp_get_num_threads();
      op(n * t / count, n * (t + 1) / count);
    }
  } else {
    op(0, n);
  }
}
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
  for_each_range(n, [=](int64_t i0, int64_t i1) { adam_range(w, g, m, v, vhat, i0, i1, alpha, c1, c2, eps, decay); });
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

void nadam_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, double beta1, double beta2,
                  float eps, float cm, float cg, float cv, float decay) {
  const float c1 = static_cast<float>(1.0 - beta1), c2 = static_cast<float>(1.0 - beta2);
  for_each_index(n, [=](int64_t i) {
    const float wi = w[i] - w[i] * decay;
    const float gi = g[i];
    const float mi = m[i] + (gi - m[i]) * c1;
    const float vi = v[i] + (gi * gi - v[i]) * c2;
    m[i] = mi;
    v[i] = vi;
    const float m_hat = cm * mi + cg * gi;
    w[i] = wi - m_hat * lr / (std::sqrt(vi * cv) + eps);
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
