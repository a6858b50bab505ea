// Kernels behind the activation layers (PReLU, RReLU, Keras's general ReLU, softmax over any axis,
// Mish) and the L1 reduction used by regularizers. Plain C++: raw pointers and sizes, no N-API.
// Every function is safe for n == 0 and never throws; argument checking is the binding's job.
// Backward kernels ACCUMULATE (dx += ..., dalpha += ...), as autograd gradients do.
#pragma once
#include <cstdint>

namespace deepnode {

// PReLU (He et al. 2015): y = x > 0 ? x : alpha[a(j)] * x for sample element j = i % sample.
// x and y hold `batch` samples of `sample` elements each. a(j) = alpha_index[j] when alpha_index is
// given (shared axes map several elements to one slope), else j (alpha has `sample` elements).
void prelu_forward(const float* x, const float* alpha, const int32_t* alpha_index, float* y,
                   int64_t batch, int64_t sample);

// dx += dy * (x > 0 ? 1 : alpha[a(j)]);  dalpha[a(j)] += sum over the batch of dy * (x > 0 ? 0 : x).
// dx or dalpha may be null (skipped). The alpha reduction is summed in double over the batch.
// alpha_size is the number of slopes (dalpha's length).
void prelu_backward(const float* x, const float* alpha, const int32_t* alpha_index, const float* dy,
                    float* dx, float* dalpha, int64_t batch, int64_t sample, int64_t alpha_size);

// RReLU in training (Xu et al. 2015, PyTorch's semantics): for x <= 0 a slope r ~ U(lower, upper)
// is drawn per element and y = r * x; for x > 0, y = x and r = 1. The slopes go to `noise` for the
// backward pass. Randomness is counter-based (splitmix64 of seed and index): the same seed gives
// the same slopes whatever the threading.
void rrelu_forward_train(const float* x, float* y, float* noise, int64_t n, float lower, float upper,
                         uint32_t seed);

// dx += dy * noise (noise from rrelu_forward_train).
void rrelu_backward(const float* noise, const float* dy, float* dx, int64_t n);

// Keras's ReLU layer: y = x > threshold ? min(x, max_value) : negative_slope * (x - threshold)
// (max_value applies only when has_max). dx += dy * (x > threshold ? (x < max_value ? 1 : 0)
// : negative_slope).
void relu_general_forward(const float* x, float* y, int64_t n, float negative_slope, float threshold,
                          bool has_max, float max_value);
void relu_general_backward(const float* x, const float* dy, float* dx, int64_t n, float negative_slope,
                           float threshold, bool has_max, float max_value);

// Softmax along the middle axis of a [outer, axis, inner] array (row-major), max-subtracted.
void softmax_axis(const float* x, float* y, int64_t outer, int64_t axis, int64_t inner);
// dx += y * (dy - sum_axis(dy * y)).
void softmax_axis_backward(const float* y, const float* dy, float* dx, int64_t outer, int64_t axis,
                           int64_t inner);

// Mish (Misra 2019): y = x * tanh(softplus(x));
// dx += dy * (tanh(sp) + x * sigmoid(x) * (1 - tanh(sp)^2)), sp = softplus(x).
void mish_forward(const float* x, float* y, int64_t n);
void mish_backward(const float* x, const float* dy, float* dx, int64_t n);

}  // namespace deepnode
