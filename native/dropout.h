// Noise kernels for the dropout family (Dropout, AlphaDropout, GaussianDropout, GaussianNoise).
// Plain C++: raw pointers and sizes, no N-API; every function is safe for n == 0 and never throws.
//
// Random numbers come from a counter-based generator: element i of a call with key k uses
// splitmix64(k + (i / 2 + 1) * golden) (one 64-bit draw feeds two elements), so the result depends only on (key, i), never on the thread
// count, and the caller's seeded JS generator supplies the key (seed -> same masks).
#pragma once
#include <cstdint>

namespace deepnode {

// out[i] = u_i >= rate ? keep_value : drop_value, with u_i uniform in [0, 1) (32 bits).
// Two calls with the same key and rate draw the same keep/drop pattern.
void bernoulli_mask(float* out, int64_t n, uint64_t key, double rate, float keep_value, float drop_value);

// out[i] = mean + stddev * z_i, z_i standard normal (Box-Muller on pairs of uniforms).
void normal_fill(float* out, int64_t n, uint64_t key, float mean, float stddev);

// y = x * mul + add, element-wise (mul == nullptr means 1, add == nullptr means 0). y may be x.
void noise_apply(const float* x, const float* mul, const float* add, float* y, int64_t n);

// dx += dy * mul (mul == nullptr means 1): the gradient of noise_apply wrt x. dx must not overlap
// dy or mul.
void noise_backward(const float* dy, const float* mul, float* dx, int64_t n);

}  // namespace deepnode
