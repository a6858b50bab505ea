// A whole training step of a Sequential stack of Dense, BatchNormalization, dropout and activation
// layers (with L1/L2 weight penalties), run as one native call: forward, softmax cross-entropy,
// backward, and (for plain SGD) the weight update fused into the backward pass. It is the
// composition of the kernels the autograd path calls one by one (sgemm, activation_*,
// batchnorm_*, bernoulli_mask, sparse_softmax_xent, ...), in the same order and on the same
// values, so both paths train to the same weights bit for bit; what it saves is the per-op JS and
// N-API work between kernels (src/models/train_plan.ts decides when a model qualifies). One
// exception trades bit-equality for a GEMM: a trainable BatchNormalization layer with nothing
// trainable below it (typically the first layer) gets its gradients, and the Dense layer after it
// its kernel gradient, from one product xhat^T dz instead of two (step()); the result equals the
// two-GEMM one up to float rounding.
//
// Plain C++: raw pointers to memory the caller owns (weights, gradients, moving statistics) and
// workspace the plan owns. Nothing here knows N-API; the binding re-checks every size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels.h"

namespace deepnode {

// The loss on the last layer's output (the logits), as the JS losses compute it (src/losses):
enum class PlanLoss : int32_t {
  SparseSoftmaxXent = 0,  // softmax cross-entropy; targets: one float class id per row
  SoftmaxXent = 1,        // softmax cross-entropy; targets: a distribution per row (rows x classes)
  SigmoidBce = 2,         // binary cross-entropy of sigmoid(logits), mean over all elements; targets rows x classes
  MeanSquared = 3,        // mean squared error of the output itself, over all elements; targets rows x classes
};

// A weight penalty (Keras's L1, L2, L1L2 regularizers) added to the loss: l1 * sum|w| when has_l1,
// plus l2 * sum w^2 when has_l2; its gradient l1 * sign(w) + 2 l2 w goes into the weight's
// gradient before the data term is added, as the autograd path orders them (penalty_* in
// train_plan.cc). A regularized weight is never fused: its step needs the whole gradient.
struct PlanPenalty {
  bool has_l1 = false, has_l2 = false;
  float l1 = 0.0f, l2 = 0.0f;
  bool any() const { return has_l1 || has_l2; }
};

// y = act(x W + b), W of shape [in, out]. A weight's gradient goes to *_grad (overwritten, not
// accumulated) unless the step is fused and fuse_* is set, in which case the weight itself takes
// w -= lr * gradient. A frozen weight has train_* false and is only read.
struct PlanDense {
  int64_t in = 0, out = 0;
  float* kernel = nullptr;
  float* bias = nullptr;  // nullptr: no bias
  Act act = Act::Linear;
  float alpha = 0.0f;
  bool train_kernel = false, train_bias = false;
  bool fuse_kernel = false, fuse_bias = false;
  float* kernel_grad = nullptr;  // needed when train_kernel (a step may be unfused)
  float* bias_grad = nullptr;    // needed when train_bias
  PlanPenalty kernel_penalty, bias_penalty;  // only on trained weights
};

// Batch normalisation of a [rows, C] batch over its rows (axis -1). batch_stats: training mode
// (normalise with the batch's statistics and fold them into the moving ones with `momentum`, in
// double precision as the JS layer does); otherwise the moving statistics are constants. Gradients
// of gamma and beta are overwritten into *_grad when non-null.
struct PlanBatchNorm {
  int64_t C = 0;
  float* gamma = nullptr;  // nullptr: scale off
  float* beta = nullptr;   // nullptr: center off
  float* moving_mean = nullptr;
  float* moving_var = nullptr;
  double momentum = 0.99;
  float eps = 1e-3f;
  bool batch_stats = true;
  float* gamma_grad = nullptr;
  float* beta_grad = nullptr;
  PlanPenalty gamma_penalty, beta_penalty;  // only on trained weights
};

// Dropout's family in training mode (Keras's Dropout, AlphaDropout, GaussianDropout and
// GaussianNoise; src/layers/dropout.ts): y = x * mul + add over a [rows, C] batch, with the step's
// key for this layer (the JS layer's next key), so the plan draws exactly the noise the layer's
// own call would. Nothing in it trains.
//  - Bernoulli: each element is kept with probability 1 - rate; mul (add) takes mul_keep
//    (add_keep) where kept, mul_drop (add_drop) where dropped (bernoulli_mask).
//  - NormalMul: mul ~ N(1, stddev^2), no add (normal_fill).
//  - NormalAdd: add ~ N(0, stddev^2), mul = 1.
enum class NoiseDist : int32_t { Bernoulli, NormalMul, NormalAdd };

struct PlanNoise {
  int64_t C = 0;
  NoiseDist dist = NoiseDist::Bernoulli;
  double rate = 0.0;
  float mul_keep = 1.0f, mul_drop = 0.0f;
  bool has_add = false;
  float add_keep = 0.0f, add_drop = 0.0f;
  float stddev = 0.0f;  // the normal distributions
};

// An activation layer (Keras's Activation, LeakyReLU, ELU, ReLU; and a Dense layer's sigmoid,
// which the JS Dense runs as an op of its own): y = act(x) over a [rows, C] batch, through the
// kernels the JS op calls.
struct PlanAct {
  int64_t C = 0;
  Act act = Act::Linear;
  float alpha = 0.0f;
};

// PReLU with one learned slope per unit: y = x > 0 ? x : alpha * x over a [rows, C] batch. The
// slopes' gradient is overwritten into alpha_grad when non-null (null: frozen); they are never
// fused (with sgd_all they take their plain SGD step right after their gradient, like BN's gamma).
struct PlanPReLU {
  int64_t C = 0;
  float* alpha = nullptr;
  float* alpha_grad = nullptr;
  PlanPenalty penalty;  // only when trained
};

enum class PlanKind : int32_t { Dense, BatchNorm, Noise, Act, PReLU };

struct PlanLayer {
  PlanKind kind = PlanKind::Dense;
  PlanDense dense;
  PlanBatchNorm bn;
  PlanNoise noise;
  PlanAct act;
  PlanPReLU prelu;
  bool is_dense() const { return kind == PlanKind::Dense; }
  bool is_bn() const { return kind == PlanKind::BatchNorm; }
  int64_t in_width() const {
    switch (kind) {
      case PlanKind::Dense: return dense.in;
      case PlanKind::BatchNorm: return bn.C;
      case PlanKind::Noise: return noise.C;
      case PlanKind::Act: return act.C;
      case PlanKind::PReLU: return prelu.C;
    }
    return 0;
  }
  int64_t out_width() const { return kind == PlanKind::Dense ? dense.out : in_width(); }
};

// An optimizer's update of the model's flat parameter buffer (optimizers.h), which run() takes after
// each step's gradients when the optimizer is not plain SGD fused into the backward pass. It is the
// update the optimizer's own step would make (src/optimizers: the same kernel, the same arguments):
// the JS side works out each step's scalars (learning-rate schedule, bias corrections, Nadam's
// momentum cache) before the call.
enum class UpdateKind : int32_t { Sgd = 0, Adagrad = 1, Rmsprop = 2, Adam = 3, Adamax = 4, Nadam = 5 };
// Gradient clipping before the update, as Optimizer.clipGradients does it: every element to
// [-c, c]; each weight's gradient to norm c; or all of them together to global norm c (a
// non-finite global norm makes every gradient NaN, as Keras's clip_by_global_norm does).
enum class UpdateClip : int32_t { None = 0, Value = 1, Norm = 2, GlobalNorm = 3 };

struct PlanUpdate {
  static constexpr int kScalars = 6;  // per step
  UpdateKind kind = UpdateKind::Sgd;
  float* params = nullptr;
  float* grads = nullptr;  // clipped in place
  int64_t n = 0;
  UpdateClip clip = UpdateClip::None;
  double clip_value = 0.0;
  // Clip::Norm: the weights' (offset, size) in the flat buffers, segment_count pairs.
  const double* segments = nullptr;
  int64_t segment_count = 0;
  // Weight decay applied per weight (excludeFromWeightDecay): the (offset, size) pairs of the weights
  // it applies to, each scaled by 1 - d before the update (d: the step's scalar 5; the kernel's own
  // decay scalar is then 0), as Optimizer.apply does; null when the kernel decays all weights.
  const double* decay_segments = nullptr;
  int64_t decay_segment_count = 0;
  // The optimizer's slots in its declaration order, nullptr where an option leaves one out: SGD
  // momentum; Adagrad accumulator; RMSprop velocity, momentum, average gradient; Adam momentum,
  // velocity, velocity_hat (amsgrad); Adamax momentum, norm; Nadam momentum, velocity.
  float* slots[3] = {nullptr, nullptr, nullptr};
  double beta1 = 0.0, beta2 = 0.0;  // Adam, Adamax, Nadam; beta1 is rho for RMSprop
  double epsilon = 0.0;
  double momentum = 0.0;  // RMSprop's (SGD's may change per step: a scalar)
  bool nesterov = false;
  // kScalars per step: the rate (lr; Adam's alpha; Adamax's lr_hat), the kernel's decay
  // (weight_decay * lr, or 0), then SGD's momentum, or Nadam's cm, cg, cv, then the per-weight decay
  // (see decay_segments). Doubles, rounded to float as the optimizers' own calls round them.
  const double* scalars = nullptr;
};

// Step `step`'s update (u.scalars + step * kScalars).
void apply_update(const PlanUpdate& u, int64_t step);

// A weight's norm constraint, which run() applies after each step's update as the layer's
// applyConstraints would (src/constraints: MaxNorm, UnitNorm, MinMaxNorm over leading axes): the
// weight as a rows x cols matrix whose column norms are bounded (constrain_column_norms).
struct PlanConstraint {
  float* w = nullptr;
  int64_t rows = 0, cols = 0;
  NormConstraint kind = NormConstraint::Max;
  double min_value = 0.0, max_value = 0.0, rate = 0.0;
};

class TrainPlan {
 public:
  // The layers must chain (each in_width equals the previous out_width) and the last must be a
  // Dense layer with a linear activation: its output is the logits of the loss. max_rows bounds
  // the batch. Throws std::invalid_argument on a malformed stack, std::bad_alloc without memory.
  TrainPlan(std::vector<PlanLayer> layers, int64_t max_rows, PlanLoss loss);

  // One step on `rows` samples (1 <= rows <= max_rows). x: rows x in_width(); targets as the
  // loss says. fused: apply w -= lr * gradient to the weights marked fuse_* during the backward
  // pass (dx is always computed from the weights before the step). pred, when non-null, receives
  // the model's output when activate_pred (the loss's output activation of the logits: softmax for
  // the softmax cross-entropies, sigmoid for the binary one), else the logits.
  //
  // Returns the mean loss plus the weights' penalties (of the weights before the step), rounded
  // to float as the JS loss tensor is. When it is not finite, or a
  // sparse label is not a class id (*bad_label receives its row, else -1), nothing is changed:
  // no weight, gradient or moving statistic is written.
  //
  // sgd_all (with fused): the weights not marked fuse_* (BatchNormalization's gamma and beta)
  // take the same plain SGD step right after their gradient is written, through sgd_update as the
  // optimizer would (so a whole plain-SGD step happens here).
  //
  // keys: noise_layers() keys, one per noise layer in order (null when there is none).
  double step(const float* x, const float* targets, int64_t rows, bool fused, float lr, float* pred,
              bool activate_pred, int64_t* bad_label, const uint64_t* keys, bool sgd_all = false);

  // Up to `steps` training steps over consecutive batches of a dataset: plain SGD (sgd_all, lrs[j]
  // step j's learning rate) when update is null, else each step's gradients and then update's
  // step j (lrs unused); then the constraints, in order. Batch j holds
  // rows [start + j * batch, ...) of the epoch's order (index null: in storage order), at most
  // `batch` of them and none past n. x_src holds n rows of in_width() floats, t_src n rows of
  // targets (1 float per row for a sparse loss, classes() otherwise). losses[j] receives step j's loss; preds (steps x batch x classes) and targets_out
  // (steps x batch x target width) receive each step's model output and gathered targets when
  // non-null. Stops at the first step whose loss is not finite or whose label is bad (that step
  // changes nothing; *bad_label as in step) and returns the number of steps completed. keys:
  // steps * noise_layers() keys, step j's at keys + j * noise_layers().
  int64_t run(const float* x_src, const float* t_src, const int32_t* index, int64_t n, int64_t start,
              int64_t batch, int64_t steps, const float* lrs, double* losses, float* preds, float* targets_out,
              bool activate_pred, int64_t* bad_label, const uint64_t* keys, const PlanUpdate* update = nullptr,
              const PlanConstraint* constraints = nullptr, int64_t constraint_count = 0);

  int64_t in_width() const { return layers_.front().in_width(); }
  int64_t classes() const { return layers_.back().out_width(); }
  int64_t max_rows() const { return max_rows_; }
  // Floats of target per row: one class id for the sparse loss, else a distribution over classes().
  int64_t target_width() const { return loss_ == PlanLoss::SparseSoftmaxXent ? 1 : classes(); }
  size_t size() const { return layers_.size(); }
  // The number of noise layers, each taking one key per step.
  int64_t noise_layers() const { return noise_layers_; }
  const PlanLayer& layer(size_t i) const { return layers_[i]; }

 private:
  std::vector<PlanLayer> layers_;
  int64_t max_rows_;
  PlanLoss loss_;
  int64_t noise_layers_ = 0;
  // need_dx_[i]: a trainable weight lies in a layer before i, so layer i passes a gradient back.
  std::vector<bool> need_dx_;
  // shortcut_[i]: Dense layer i takes a BN layer's output and that BN layer's gradients come from
  // G = xhat^T dz without forming the Dense layer's dx (step()).
  std::vector<bool> shortcut_;
  std::vector<float> g_, istd_;
  // Per layer: pre-activation z (Dense with an activation only), output y, and a BN layer's batch
  // mean and variance. Layer i reads layers i-1's y (or x).
  std::vector<std::vector<float>> z_, y_, mean_, var_;
  std::vector<std::vector<float>> mul_;  // a noise layer's multiplier, kept for the backward pass
  std::vector<float> add_;               // a noise layer's addend (forward only)
  std::vector<float> dlogits_, dz_, grad_a_, grad_b_, bias_step_;
  std::vector<float> x_batch_, t_batch_;  // run()'s gathered batch
  std::vector<float> penalties_;          // step()'s weight penalties, in the loss's order
};

}  // namespace deepnode
