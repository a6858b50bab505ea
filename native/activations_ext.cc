#include "activations_ext.h"

#include <cmath>
#include <vector>

namespace deepnode {
namespace {

inline float sigmoidf(float x) {
  if (x >= 0) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}

inline float softplusf(float x) { return std::fmax(x, 0.0f) + std::log1p(std::exp(-std::fabs(x))); }

// splitmix64: a well-mixed 64-bit hash of a counter, so element i's draw depends only on (seed, i).
inline uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) from the top 24 bits (exactly representable in float).
inline float uniform01(uint64_t seed, int64_t i) {
  const uint64_t h = splitmix64(seed * 0xD1B54A32D192ED03ull + static_cast<uint64_t>(i));
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

}  // namespace

void prelu_forward(const float* x, const float* alpha, const int32_t* alpha_index, float* y,
                   int64_t batch, int64_t sample) {
  if (sample == 0) return;  // else up to 2^31 empty samples would be looped over
  for (int64_t b = 0; b < batch; ++b) {
    const float* xr = x + b * sample;
    float* yr = y + b * sample;
    if (alpha_index) {
      for (int64_t j = 0; j < sample; ++j) yr[j] = xr[j] > 0.0f ? xr[j] : alpha[alpha_index[j]] * xr[j];
    } else {
      for (int64_t j = 0; j < sample; ++j) yr[j] = xr[j] > 0.0f ? xr[j] : alpha[j] * xr[j];
    }
  }
}

void prelu_backward(const float* x, const float* alpha, const int32_t* alpha_index, const float* dy,
                    float* dx, float* dalpha, int64_t batch, int64_t sample, int64_t alpha_size) {
  if (sample == 0) return;
  if (dx) {
    for (int64_t b = 0; b < batch; ++b) {
      const float* xr = x + b * sample;
      const float* gr = dy + b * sample;
      float* dr = dx + b * sample;
      for (int64_t j = 0; j < sample; ++j) {
        const float a = alpha[alpha_index ? alpha_index[j] : j];
        dr[j] += gr[j] * (xr[j] > 0.0f ? 1.0f : a);
      }
    }
  }
  if (dalpha && alpha_size > 0) {
    // Row by row (contiguous reads) into double partial sums, then one add into dalpha.
    std::vector<double> acc(static_cast<size_t>(alpha_size), 0.0);
    for (int64_t b = 0; b < batch; ++b) {
      const float* xr = x + b * sample;
      const float* gr = dy + b * sample;
      for (int64_t j = 0; j < sample; ++j) {
        if (xr[j] > 0.0f) continue;
        acc[static_cast<size_t>(alpha_index ? alpha_index[j] : j)] += static_cast<double>(gr[j]) * xr[j];
      }
    }
    for (int64_t k = 0; k < alpha_size; ++k) dalpha[k] += static_cast<float>(acc[static_cast<size_t>(k)]);
  }
}

void rrelu_forward_train(const float* x, float* y, float* noise, int64_t n, float lower, float upper,
                         uint32_t seed) {
  const float width = upper - lower;
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] > 0.0f) {
      noise[i] = 1.0f;
      y[i] = x[i];
    } else {
      const float r = lower + width * uniform01(seed, i);
      noise[i] = r;
      y[i] = r * x[i];
    }
  }
}

void rrelu_backward(const float* noise, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * noise[i];
}

void relu_general_forward(const float* x, float* y, int64_t n, float negative_slope, float threshold,
                          bool has_max, float max_value) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (v > threshold) {
      y[i] = has_max && v > max_value ? max_value : v;
    } else {
      y[i] = negative_slope * (v - threshold);
    }
  }
}

void relu_general_backward(const float* x, const float* dy, float* dx, int64_t n, float negative_slope,
                           float threshold, bool has_max, float max_value) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    float d;
    if (v > threshold) {
      d = has_max && v >= max_value ? 0.0f : 1.0f;
    } else {
      d = negative_slope;
    }
    dx[i] += dy[i] * d;
  }
}

void softmax_axis(const float* x, float* y, int64_t outer, int64_t axis, int64_t inner) {
  // outer == 0 too: nothing to do, and inner may then be huge (its scratch must not be allocated).
  if (outer == 0 || axis == 0 || inner == 0) return;
  // Column-wise over [axis, inner] blocks: running max and sum per inner position keep every read
  // contiguous.
  std::vector<float> mx(static_cast<size_t>(inner));
  std::vector<double> sum(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    const float* xb = x + o * axis * inner;
    float* yb = y + o * axis * inner;
    for (int64_t j = 0; j < inner; ++j) mx[j] = xb[j];
    for (int64_t k = 1; k < axis; ++k)
      for (int64_t j = 0; j < inner; ++j) mx[j] = std::fmax(mx[j], xb[k * inner + j]);
    for (int64_t j = 0; j < inner; ++j) sum[j] = 0.0;
    for (int64_t k = 0; k < axis; ++k)
      for (int64_t j = 0; j < inner; ++j) {
        const float e = std::exp(xb[k * inner + j] - mx[j]);
        yb[k * inner + j] = e;
        sum[j] += e;
      }
    for (int64_t k = 0; k < axis; ++k)
      for (int64_t j = 0; j < inner; ++j) yb[k * inner + j] = static_cast<float>(yb[k * inner + j] / sum[j]);
  }
}

void softmax_axis_backward(const float* y, const float* dy, float* dx, int64_t outer, int64_t axis,
                           int64_t inner) {
  if (outer == 0 || axis == 0 || inner == 0) return;
  std::vector<double> dot(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    const int64_t base = o * axis * inner;
    for (int64_t j = 0; j < inner; ++j) dot[j] = 0.0;
    for (int64_t k = 0; k < axis; ++k)
      for (int64_t j = 0; j < inner; ++j) dot[j] += static_cast<double>(dy[base + k * inner + j]) * y[base + k * inner + j];
    for (int64_t k = 0; k < axis; ++k)
      for (int64_t j = 0; j < inner; ++j) {
        const int64_t i = base + k * inner + j;
        dx[i] += y[i] * static_cast<float>(dy[i] - dot[j]);
      }
  }
}

void mish_forward(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * std::tanh(softplusf(x[i]));
}

void mish_backward(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float t = std::tanh(softplusf(x[i]));
    dx[i] += dy[i] * (t + x[i] * sigmoidf(x[i]) * (1.0f - t * t));
  }
}

}  // namespace deepnode
