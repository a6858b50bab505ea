// Batch normalization kernels (Ioffe & Szegedy 2015), Keras 3 semantics. Plain C++: raw pointers and
// sizes, no N-API; every function is safe for empty inputs and never throws.
//
// The input is viewed as [outer, C, inner] (row-major): C features ("channels"), each normalised over
// the outer * inner values it holds. A rank-2 [N, C] batch with axis -1 is outer = N, inner = 1.
// Work is split over features among the pool's threads (parallel.h) when the tensor is large; the
// bits do not depend on the thread count.
#pragma once
#include <cstdint>

namespace deepnode {

// y = (x - mean) / sqrt(var + eps) * gamma + beta, per feature c.
// training: mean and var are OUTPUTS, receiving the batch mean and the biased batch variance
//   (sum (x - mean)^2 / M, M = outer * inner; accumulated in double, two passes).
// otherwise: mean and var are inputs (the moving statistics).
// gamma == nullptr means 1, beta == nullptr means 0. y may be x. M == 0 in training leaves y empty
// and writes mean = 0, var = 0.
void batchnorm_forward(const float* x, float* y, int64_t outer, int64_t C, int64_t inner,
                       const float* gamma, const float* beta, float* mean, float* var, float eps,
                       bool training);

// Gradients of batchnorm_forward, ACCUMULATED (+=) into dx, dgamma and dbeta (each may be nullptr
// when not wanted). With xhat = (x - mean) * istd, istd = 1 / sqrt(var + eps), M = outer * inner:
//   dbeta[c]  += sum dy
//   dgamma[c] += sum dy * xhat
//   training (mean, var were the batch statistics of x, so they depend on x):
//     dx += gamma * istd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
//   otherwise (mean, var are constants):
//     dx += gamma * istd * dy
// dx must not overlap x or dy.
void batchnorm_backward(const float* x, const float* dy, int64_t outer, int64_t C, int64_t inner,
                        const float* mean, const float* var, const float* gamma, float eps,
                        bool training, float* dx, float* dgamma, float* dbeta);

}  // namespace deepnode
