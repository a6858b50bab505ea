// Element-wise, row-wise and optimizer kernels of deepnode. Plain C++: raw pointers and sizes, no
// N-API. Every function is safe for n == 0 and never throws; argument checking is the binding's job.
//
// activation_forward, activation_backward, activation_backward_bias, column_sum and gather_rows
// split large passes across up to deepnode::get_num_threads() threads of the GEMM's pool
// (thresholds in kernels.cc; native/parallel.h has the split and its back-off under contention).
// Element-wise results are the same bits for any thread count. A large column sum
// (activation_backward_bias's db, column_sum) adds blocks of rows fixed by the shape, and the
// blocks in order, at any thread count (one thread too): the same bits for any count, within
// float32 rounding of the small passes' order (rows one after another).
#pragma once
#include <cstdint>

namespace deepnode {

// Activation ids. The numbering is part of the binding's ABI (src/backend/native.ts mirrors it).
enum class Act : int32_t {
  Linear = 0,
  Relu = 1,
  LeakyRelu = 2,   // alpha = negative slope
  Elu = 3,         // alpha
  Selu = 4,
  Sigmoid = 5,
  Tanh = 6,
  Softplus = 7,
  Swish = 8,       // x * sigmoid(alpha * x), alpha = beta of the paper (1 for SiLU)
  GeluExact = 9,   // x * Phi(x)
  GeluTanh = 10,   // tanh approximation
  HardSigmoid = 11,// Keras 3: relu6(x + 3) / 6
  Softsign = 12,
  Exponential = 13,
  Relu6 = 14,
  Count = 15,
};

// y = f(x). x and y may be the same buffer.
void activation_forward(Act act, const float* x, float* y, int64_t n, float alpha);

// dx = dy * f'(x); some derivatives read y = f(x) (must be the forward output of x). dx may alias dy.
void activation_backward(Act act, const float* x, const float* y, const float* dy, float* dx,
                         int64_t n, float alpha);

// The Dense layer's backward epilogue in one pass over a [rows, cols] batch: dx = dy * f'(x) as
// above, and db[j] += db_scale * sum_r dx[r, j] (db_scale = 1 accumulates the bias gradient;
// -lr applies a plain SGD step to the bias itself).
void activation_backward_bias(Act act, const float* x, const float* y, const float* dy, float* dx,
                              int64_t rows, int64_t cols, float alpha, float* db, float db_scale);

// Row-wise softmax over the last axis of a [rows, cols] matrix, max-subtracted.
void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols);
// dx = y * (dy - sum(dy * y)) per row.
void softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols);
// Row-wise log-softmax.
void log_softmax_rows(const float* x, float* y, int64_t rows, int64_t cols);

// Softmax fused with sparse categorical cross-entropy, from logits.
// loss_i = logsumexp(z_i) - z_i[label_i]; returns sum_i loss_i (double accumulation).
// If grad != nullptr: grad_i = (softmax(z_i) - onehot(label_i)) * grad_scale.
// If row_loss != nullptr it receives loss_i. Labels are float class ids; returns the sum, and sets
// *bad_label to the index of the first label that is not an integer in [0, cols) (else -1), in which
// case nothing useful has been computed.
double sparse_softmax_xent(const float* logits, const float* labels, int64_t rows, int64_t cols,
                           float* grad, float grad_scale, float* row_loss, int64_t* bad_label);

// Softmax fused with categorical cross-entropy against a target distribution t (rows x cols):
// loss_i = logsumexp(z_i) * sum(t_i) - sum(t_i * z_i); grad_i = (softmax(z_i) * sum(t_i) - t_i) * scale.
double softmax_xent(const float* logits, const float* targets, int64_t rows, int64_t cols,
                    float* grad, float grad_scale, float* row_loss);

// Binary cross-entropy from logits z: max(z,0) - z*t + log1p(exp(-|z|)); grad = (sigmoid(z) - t) * scale.
double sigmoid_bce(const float* logits, const float* targets, int64_t n, float* grad, float grad_scale);

// Binary cross-entropy from probabilities p, clipped to [eps, 1-eps] as Keras does.
// grad = (p - t) / (p (1 - p)) * scale where p is inside the clip range, 0 outside.
double bce(const float* probs, const float* targets, int64_t n, float eps, float* grad, float grad_scale);

// Categorical cross-entropy from probabilities (Keras: p / sum(p), clipped to [eps, 1-eps]).
double categorical_xent(const float* probs, const float* targets, int64_t rows, int64_t cols, float eps,
                        float* grad, float grad_scale);

// Mean squared error sum: sum (p - t)^2; grad = 2 (p - t) * scale.
double squared_error(const float* pred, const float* targets, int64_t n, float* grad, float grad_scale);

// db[j] (+)= sum_i dy[i, j]: the bias gradient of y = x W + b.
void column_sum(const float* dy, int64_t rows, int64_t cols, float* db, bool accumulate);

// Whole-array sums in double precision (a fixed order of additions, so repeatable bit for bit):
// sum x_i, sum x_i^2 (the L2 penalty's sum), sum |x_i| (the L1 penalty's).
double sum(const float* x, int64_t n);
double sum_squares(const float* x, int64_t n);
double sum_abs(const float* x, int64_t n);
// Keras's norm constraints (src/constraints) on a [rows, cols] weight whose norms run over its
// rows (a Dense kernel's axis 0, or any weight's leading axes): n_j = sqrt(sum_r w[r,j]^2) in
// double, rows in order, then w[r,j] = float(w[r,j] * f(n_j)) with f in double, eps = 1e-7:
//   Max:    min(max(n, 0), max_value) / (eps + n)
//   Unit:   1 / (eps + n)
//   MinMax: (rate * min(max(n, min_value), max_value) + (1 - rate) * n) / (eps + n)
enum class NormConstraint : int32_t { Max = 0, Unit = 1, MinMax = 2 };
void constrain_column_norms(float* w, int64_t rows, int64_t cols, NormConstraint kind, double min_value,
                            double max_value, double rate);
// y_i += g where x_i > 0, y_i -= g where x_i < 0 (the L1 penalty's gradient, 0 at x_i = 0); y_i is
// left as it is where x_i is 0 or NaN.
void add_sign(float g, const float* x, float* y, int64_t n);
// Index of the first NaN/Inf in x, or -1.
int64_t first_non_finite(const float* x, int64_t n);

// out[r, :] = src[index[r], :] for r in [0, count), rows of `per` floats (index null: row r).
// Rows a few ahead are prefetched while one is copied, so a batch drawn at random from a large
// dataset waits on memory once per few rows rather than once per row.
void gather_rows(const float* src, int64_t per, const int32_t* index, int64_t count, float* out);

// y += alpha * x
void axpy(float alpha, const float* x, float* y, int64_t n);
// x *= alpha
void scale(float alpha, float* x, int64_t n);

// Count of rows whose argmax equals the label (sparse) — ties resolve to the first maximum.
int64_t sparse_argmax_matches(const float* pred, const float* labels, int64_t rows, int64_t cols);
// Count of rows whose argmax equals the argmax of the target row (categorical).
int64_t argmax_matches(const float* pred, const float* targets, int64_t rows, int64_t cols);
// Count of elements with (pred > threshold) == (target > 0.5) (binary).
int64_t binary_matches(const float* pred, const float* targets, int64_t n, float threshold);

// SGD over one contiguous parameter buffer, Keras 3 semantics:
//   momentum == 0:  p -= lr * g
//   otherwise:      v = momentum * v - lr * g;  p += nesterov ? momentum * v - lr * g : v
void sgd_step(float* param, const float* grad, float* velocity, int64_t n, float lr, float momentum,
              bool nesterov);

}  // namespace deepnode
