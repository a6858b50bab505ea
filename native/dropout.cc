#include "dropout.h"

#include <algorithm>
#include <cmath>

#include "gemm.h"
#include "parallel.h"

namespace deepnode {
namespace {

constexpr int64_t kParallelMinElements = int64_t{1} << 20;
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

// splitmix64's output function (Steele, Lea & Flood 2014): a bijective 64-bit mix.
inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline uint64_t draw(uint64_t key, int64_t i) { return mix(key + (static_cast<uint64_t>(i) + 1) * kGolden); }

// Calls fn(i0, i1) over [0, n): on the calling thread, or in chunks of kChunk elements claimed
// by the pool's threads (parallel.h) when n is large. Every element's value depends only on the
// key and its index (and a chunk starts at an even index, so the pairs that share one draw stay
// together): the split never changes the result.
constexpr int64_t kChunk = int64_t{1} << 16;
template <typename F>
void for_range(int64_t n, F fn) {
  for_each_chunk(n, threads_for(n, kParallelMinElements - 1, kParallelMinElements / 2), kChunk, fn);
}

}  // namespace

void bernoulli_mask(float* out, int64_t n, uint64_t key, double rate, float keep_value, float drop_value) {
  // One 64-bit draw gives the 32-bit uniforms of two neighbouring elements; u < rate * 2^32 drops.
  const uint64_t threshold = static_cast<uint64_t>(std::ceil(rate * 4294967296.0));
  // A table lookup instead of a branch: the outcome is random, so a branch would mispredict half the time.
  const float value[2] = {drop_value, keep_value};
  for_range(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i += 2) {
      const uint64_t h = draw(key, i >> 1);
      out[i] = value[(h & 0xffffffffULL) >= threshold];
      if (i + 1 < i1) out[i + 1] = value[(h >> 32) >= threshold];
    }
  });
}

void normal_fill(float* out, int64_t n, uint64_t key, float mean, float stddev) {
  constexpr float kTwoPi = 6.28318530717958647692f;
  // Box-Muller: one 64-bit draw gives u1 in (0, 1] and u2 in [0, 1), i.e. two normals (tails cut
  // at sqrt(2 ln 2^32) = 6.66 standard deviations).
  for_range(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i += 2) {
      const uint64_t h = draw(key, i >> 1);
      const float u1 = static_cast<float>(static_cast<double>((h >> 32) + 1) * 0x1.0p-32);
      const float u2 = static_cast<float>(static_cast<double>(h & 0xffffffffULL) * 0x1.0p-32);
      const float r = stddev * std::sqrt(-2.0f * std::log(u1));
      out[i] = mean + r * std::cos(kTwoPi * u2);
      if (i + 1 < i1) out[i + 1] = mean + r * std::sin(kTwoPi * u2);
    }
  });
}

void noise_apply(const float* x, const float* mul, const float* add, float* y, int64_t n) {
  if (mul && add) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * mul[i] + add[i];
  } else if (mul) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * mul[i];
  } else if (add) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] + add[i];
  } else if (x != y) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i];
  }
}

void noise_backward(const float* dy, const float* mul, float* dx, int64_t n) {
  if (mul) {
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * mul[i];
  } else {
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i];
  }
}

}  // namespace deepnode
