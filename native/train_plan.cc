#include "train_plan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "activations_ext.h"
#include "batchnorm.h"
#include "dropout.h"
#include "gemm.h"
#include "optimizers.h"
#include "parallel.h"
#include "simd.h"

namespace deepnode {
namespace {

void zero(float* p, int64_t n) {
  if (p != nullptr && n > 0) std::memset(p, 0, static_cast<size_t>(n) * sizeof(float));
}

// A weight's penalty as the JS regularizer computes it (src/regularizers): each term in float,
// l * float(sum), and an L1L2's two terms added in float.
float penalty_value(const PlanPenalty& p, const float* w, int64_t n) {
  const float t1 = p.has_l1 ? p.l1 * static_cast<float>(sum_abs(w, n)) : 0.0f;
  const float t2 = p.has_l2 ? p.l2 * static_cast<float>(sum_squares(w, n)) : 0.0f;
  if (p.has_l1 && p.has_l2) return t1 + t2;
  return p.has_l1 ? t1 : t2;
}

// g += the penalty's gradient through the kernels the JS ops call, the L2 term's first (the
// autograd path records an L1L2's L1 term first, so it runs its backward second).
void penalty_grad_add(const PlanPenalty& p, const float* w, float* g, int64_t n) {
  if (p.has_l2) axpy(2.0f * p.l2, w, g, n);
  if (p.has_l1) add_sign(p.l1, w, g, n);
}

// g = the penalty's gradient, or 0 without one: the start of a gradient the data term is then
// added to, as in the autograd path (the penalties' backward runs before any layer's).
void penalty_grad_init(const PlanPenalty& p, const float* w, float* g, int64_t n) {
  zero(g, n);
  penalty_grad_add(p, w, g, n);
}

// xhat[r, c] = (x[r, c] - mean[c]) / sqrt(var[c] + eps): the normalised input of a BN layer.
DEEPNODE_ELEMENTWISE_CLONES
void normalise_rows(const float* x, const float* mean, const float* var, float eps, int64_t rows, int64_t C,
                    float* istd, float* xhat) {
  for (int64_t c = 0; c < C; ++c) istd[c] = 1.0f / std::sqrt(var[c] + eps);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
    float* o = xhat + r * C;
    for (int64_t c = 0; c < C; ++c) o[c] = (xr[c] - mean[c]) * istd[c];
  }
}

// The BatchNormalization -> Dense pair's weight gradients from G = xhat^T dz and s = colsum(dz)
// (see TrainPlan::step): per feature c, dgamma[c] = W[c,:] . G[c,:], dbeta[c] = W[c,:] . s (with
// W before the update), and dW[c, :] = gamma[c] G[c, :] + beta[c] s, which goes to `grad` or, when
// `grad` is null, straight into W as W -= lr dW. One pass over W and G, in 8-float vectors (GCC
// vector extensions: AVX in the x86-64-v3 clone, pairs of SSE registers in the baseline one).
typedef float v8f __attribute__((vector_size(32)));
// W's elements from which bn_dense_grads runs on two threads (W1-sized layers: 784 x 300).
constexpr int64_t kBnDenseParallelMin = int64_t{1} << 16;

DEEPNODE_ELEMENTWISE_CLONES
void bn_dense_grads(int64_t C, int64_t out, float* W, const float* G, const float* s, const float* gamma,
                    const float* beta, float* dgamma, float* dbeta, float* grad, float lr) {
  for (int64_t c = 0; c < C; ++c) {
    float* w = W + c * out;
    const float* g = G + c * out;
    float* d = grad != nullptr ? grad + c * out : nullptr;
    const float gc = gamma != nullptr ? gamma[c] : 1.0f, bc = beta != nullptr ? beta[c] : 0.0f;
    v8f ag = {}, ab = {};
    int64_t j = 0;
    for (; j + 8 <= out; j += 8) {
      v8f w8, g8, s8;
      std::memcpy(&w8, w + j, sizeof w8);
      std::memcpy(&g8, g + j, sizeof g8);
      std::memcpy(&s8, s + j, sizeof s8);
      ag += w8 * g8;
      ab += w8 * s8;
      const v8f u = gc * g8 + bc * s8;
      const v8f next = w8 - lr * u;
      if (d != nullptr) std::memcpy(d + j, &u, sizeof u);
      else std::memcpy(w + j, &next, sizeof next);
    }
    float tg = 0.0f, tb = 0.0f;
    for (int k = 0; k < 8; ++k) {
      tg += ag[k];
      tb += ab[k];
    }
    for (; j < out; ++j) {
      tg += w[j] * g[j];
      tb += w[j] * s[j];
      const float u = gc * g[j] + bc * s[j];
      if (d != nullptr) d[j] = u;
      else w[j] -= lr * u;
    }
    if (dgamma != nullptr) dgamma[c] = tg;
    if (dbeta != nullptr) dbeta[c] = tb;
  }
}

}  // namespace

TrainPlan::TrainPlan(std::vector<PlanLayer> layers, int64_t max_rows, PlanLoss loss)
    : layers_(std::move(layers)), max_rows_(max_rows), loss_(loss) {
  if (layers_.empty()) throw std::invalid_argument("a training plan needs at least one layer");
  if (max_rows_ < 1) throw std::invalid_argument("max_rows must be positive");
  const PlanLayer& last = layers_.back();
  if (!last.is_dense() || last.dense.act != Act::Linear)
    throw std::invalid_argument("the last layer of a training plan must be a linear Dense layer (the logits)");
  int64_t width = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const PlanLayer& l = layers_[i];
    if (l.in_width() < 1 || l.out_width() < 1)
      throw std::invalid_argument("layer " + std::to_string(i) + " has an empty width");
    if (i > 0 && l.in_width() != layers_[i - 1].out_width())
      throw std::invalid_argument("layer " + std::to_string(i) + " takes " + std::to_string(l.in_width()) +
                                  " features, the layer before gives " + std::to_string(layers_[i - 1].out_width()));
    if (l.is_dense()) {
      const PlanDense& d = l.dense;
      if (d.kernel == nullptr || (d.train_kernel && d.kernel_grad == nullptr) ||
          (d.train_bias && (d.bias == nullptr || d.bias_grad == nullptr)))
        throw std::invalid_argument("layer " + std::to_string(i) + " lacks a kernel, bias or gradient buffer it trains");
      if ((d.kernel_penalty.any() && (!d.train_kernel || d.fuse_kernel)) || (d.bias_penalty.any() && (!d.train_bias || d.fuse_bias)))
        throw std::invalid_argument("layer " + std::to_string(i) + " has a penalty on a weight it does not train or fuses");
    } else if (l.kind == PlanKind::PReLU) {
      if (l.prelu.alpha == nullptr || (l.prelu.penalty.any() && l.prelu.alpha_grad == nullptr))
        throw std::invalid_argument("layer " + std::to_string(i) + " lacks its slopes, or has a penalty on slopes it does not train");
    } else if (l.kind == PlanKind::Act) {
      if (l.act.act == Act::Linear || static_cast<int32_t>(l.act.act) < 0 || l.act.act >= Act::Count)
        throw std::invalid_argument("layer " + std::to_string(i) + " has no activation to run");
    } else if (l.kind == PlanKind::Noise) {
      if (!(l.noise.rate >= 0.0 && l.noise.rate < 1.0))
        throw std::invalid_argument("layer " + std::to_string(i) + " has a drop rate outside [0, 1)");
      if (!(l.noise.stddev >= 0.0f) || (l.noise.dist != NoiseDist::Bernoulli && l.noise.has_add))
        throw std::invalid_argument("layer " + std::to_string(i) + " has a negative stddev, or an addend besides normal noise");
      ++noise_layers_;
    } else if (l.bn.moving_mean == nullptr || l.bn.moving_var == nullptr ||
               (l.bn.gamma_grad != nullptr && l.bn.gamma == nullptr) || (l.bn.beta_grad != nullptr && l.bn.beta == nullptr)) {
      throw std::invalid_argument("layer " + std::to_string(i) + " lacks a statistic, gamma or beta buffer it uses");
    } else if ((l.bn.gamma_penalty.any() && l.bn.gamma_grad == nullptr) || (l.bn.beta_penalty.any() && l.bn.beta_grad == nullptr)) {
      throw std::invalid_argument("layer " + std::to_string(i) + " has a penalty on a weight it does not train");
    }
    width = std::max({width, l.in_width(), l.out_width()});
  }
  const size_t n = layers_.size();
  need_dx_.assign(n, false);
  bool trainable_before = false;
  for (size_t i = 0; i < n; ++i) {
    need_dx_[i] = trainable_before;
    const PlanLayer& l = layers_[i];
    trainable_before = trainable_before ||
                       (l.is_dense() ? (l.dense.train_kernel || l.dense.train_bias)
                        : l.is_bn() ? (l.bn.gamma_grad != nullptr || l.bn.beta_grad != nullptr)
                        : l.kind == PlanKind::PReLU ? l.prelu.alpha_grad != nullptr
                                    : false);
  }
  // A trainable BN layer with nothing trainable below it, followed by a Dense layer that trains its
  // kernel: the Dense layer's gradient w.r.t. its input is only reduced into dgamma and dbeta, so
  // it is never formed (see step).
  shortcut_.assign(n, false);
  int64_t g_size = 0;
  for (size_t i = 1; i < n; ++i) {
    const PlanLayer& b = layers_[i - 1];
    const PlanLayer& d = layers_[i];
    if (b.is_bn() && !need_dx_[i - 1] && b.bn.batch_stats && (b.bn.gamma_grad != nullptr || b.bn.beta_grad != nullptr) &&
        d.is_dense() && d.dense.train_kernel) {
      shortcut_[i] = true;
      g_size = std::max(g_size, d.dense.in * d.dense.out);
    }
  }
  g_.resize(static_cast<size_t>(g_size));
  istd_.resize(static_cast<size_t>(width));
  z_.resize(n);
  y_.resize(n);
  mean_.resize(n);
  var_.resize(n);
  mul_.resize(n);
  bool any_add = false;
  for (size_t i = 0; i < n; ++i) {
    const PlanLayer& l = layers_[i];
    const size_t out = static_cast<size_t>(max_rows_ * l.out_width());
    y_[i].resize(out);
    if (l.is_dense() && l.dense.act != Act::Linear) z_[i].resize(out);
    if (l.kind == PlanKind::Noise) {
      if (l.noise.dist != NoiseDist::NormalAdd) mul_[i].resize(out);
      any_add = any_add || l.noise.has_add || l.noise.dist == NoiseDist::NormalAdd;
    }
    if (l.is_bn()) {
      mean_[i].resize(static_cast<size_t>(l.bn.C));
      var_[i].resize(static_cast<size_t>(l.bn.C));
    }
  }
  const size_t wide = static_cast<size_t>(max_rows_ * width);
  if (any_add) add_.resize(wide);
  dlogits_.resize(static_cast<size_t>(max_rows_ * classes()));
  dz_.resize(wide);
  grad_a_.resize(wide);
  grad_b_.resize(wide);
  bias_step_.resize(static_cast<size_t>(width));
  x_batch_.resize(static_cast<size_t>(max_rows_ * in_width()));
  t_batch_.resize(static_cast<size_t>(max_rows_ * target_width()));
}

void apply_update(const PlanUpdate& u, int64_t step) {
  const double* s = u.scalars + step * PlanUpdate::kScalars;
  const auto f = [](double v) { return static_cast<float>(v); };
  switch (u.clip) {
    case UpdateClip::None:
      break;
    case UpdateClip::Value:
      clip_by_value(u.grads, u.n, f(u.clip_value));
      break;
    case UpdateClip::Norm:
      for (int64_t i = 0; i < u.segment_count; ++i)
        clip_by_norm(u.grads + static_cast<int64_t>(u.segments[2 * i]), static_cast<int64_t>(u.segments[2 * i + 1]),
                     f(u.clip_value));
      break;
    case UpdateClip::GlobalNorm: {
      const double norm = std::sqrt(sum_squares(u.grads, u.n));
      if (!std::isfinite(norm))
        std::fill(u.grads, u.grads + u.n, std::numeric_limits<float>::quiet_NaN());
      else if (norm > u.clip_value)
        scale(f(u.clip_value / norm), u.grads, u.n);
      break;
    }
  }
  if (s[5] > 0)
    for (int64_t i = 0; i < u.decay_segment_count; ++i)
      scale(f(1.0 - s[5]), u.params + static_cast<int64_t>(u.decay_segments[2 * i]),
            static_cast<int64_t>(u.decay_segments[2 * i + 1]));
  float* const* slot = u.slots;
  switch (u.kind) {
    case UpdateKind::Sgd:
      sgd_update(u.params, u.grads, slot[0], u.n, f(s[0]), f(s[2]), u.nesterov, f(s[1]));
      break;
    case UpdateKind::Adagrad:
      adagrad_update(u.params, u.grads, slot[0], u.n, f(s[0]), f(u.epsilon), f(s[1]));
      break;
    case UpdateKind::Rmsprop:
      rmsprop_update(u.params, u.grads, slot[0], slot[1], slot[2], u.n, f(s[0]), u.beta1, f(u.momentum), f(u.epsilon),
                     f(s[1]));
      break;
    case UpdateKind::Adam:
      adam_update(u.params, u.grads, slot[0], slot[1], slot[2], u.n, f(s[0]), u.beta1, u.beta2, f(u.epsilon), f(s[1]));
      break;
    case UpdateKind::Adamax:
      adamax_update(u.params, u.grads, slot[0], slot[1], u.n, f(s[0]), u.beta1, u.beta2, f(u.epsilon), f(s[1]));
      break;
    case UpdateKind::Nadam:
      nadam_update(u.params, u.grads, slot[0], slot[1], u.n, f(s[0]), u.beta1, u.beta2, f(u.epsilon), f(s[2]), f(s[3]),
                   f(s[4]), f(s[1]));
      break;
  }
}

int64_t TrainPlan::run(const float* x_src, const float* t_src, const int32_t* index, int64_t n, int64_t start,
                       int64_t batch, int64_t steps, const float* lrs, double* losses, float* preds, float* targets_out,
                       bool activate_pred, int64_t* bad_label, const uint64_t* keys, const PlanUpdate* update,
                       const PlanConstraint* constraints, int64_t constraint_count) {
  *bad_label = -1;
  const int64_t in = in_width(), classes = this->classes(), t_width = target_width();
  const int64_t rows_max = std::min(batch, max_rows_);
  for (int64_t j = 0; j < steps; ++j) {
    const int64_t from = start + j * batch;
    if (from >= n) return j;
    const int64_t rows = std::min(rows_max, n - from);
    const int32_t* idx = index != nullptr ? index + from : nullptr;
    // Contiguous rows need no copy.
    const float* xb = x_src + from * in;
    const float* tb = t_src + from * t_width;
    if (idx != nullptr) {
      gather_rows(x_src, in, idx, rows, x_batch_.data());
      gather_rows(t_src, t_width, idx, rows, t_batch_.data());
      xb = x_batch_.data();
      tb = t_batch_.data();
    }
    float* pred = preds != nullptr ? preds + j * batch * classes : nullptr;
    const uint64_t* step_keys = keys != nullptr ? keys + j * noise_layers_ : nullptr;
    const double loss = update == nullptr ? step(xb, tb, rows, true, lrs[j], pred, activate_pred, bad_label, step_keys, true)
                                          : step(xb, tb, rows, false, 0.0f, pred, activate_pred, bad_label, step_keys);
    losses[j] = loss;
    if (*bad_label >= 0 || !std::isfinite(loss)) return j;
    if (update != nullptr) apply_update(*update, j);
    for (int64_t c = 0; c < constraint_count; ++c) {
      const PlanConstraint& k = constraints[c];
      constrain_column_norms(k.w, k.rows, k.cols, k.kind, k.min_value, k.max_value, k.rate);
    }
    if (targets_out != nullptr)
      std::memcpy(targets_out + j * batch * t_width, tb, static_cast<size_t>(rows * t_width) * sizeof(float));
  }
  return steps;
}

double TrainPlan::step(const float* x, const float* targets, int64_t rows, bool fused, float lr, float* pred,
                       bool activate_pred, int64_t* bad_label, const uint64_t* keys, bool sgd_all) {
  const bool sgd_rest = fused && sgd_all;
  *bad_label = -1;
  const size_t n = layers_.size();

  // The weights' penalties, from the weights before the step, in the order the JS model adds them
  // to the loss (layer by layer; kernel then bias, gamma then beta).
  penalties_.clear();
  for (const PlanLayer& l : layers_) {
    if (l.is_dense()) {
      const PlanDense& d = l.dense;
      if (d.kernel_penalty.any()) penalties_.push_back(penalty_value(d.kernel_penalty, d.kernel, d.in * d.out));
      if (d.bias_penalty.any()) penalties_.push_back(penalty_value(d.bias_penalty, d.bias, d.out));
    } else if (l.kind == PlanKind::PReLU) {
      if (l.prelu.penalty.any()) penalties_.push_back(penalty_value(l.prelu.penalty, l.prelu.alpha, l.prelu.C));
    } else if (l.is_bn()) {
      const PlanBatchNorm& b = l.bn;
      if (b.gamma_penalty.any()) penalties_.push_back(penalty_value(b.gamma_penalty, b.gamma, b.C));
      if (b.beta_penalty.any()) penalties_.push_back(penalty_value(b.beta_penalty, b.beta, b.C));
    }
  }

  // Forward. A BN layer in training mode writes the batch statistics to its scratch; the moving
  // statistics are folded in only once the loss is known to be finite.
  const float* h = x;
  int64_t noise_index = 0;
  for (size_t i = 0; i < n; ++i) {
    const PlanLayer& l = layers_[i];
    float* y = y_[i].data();
    if (l.kind == PlanKind::PReLU) {
      prelu_forward(h, l.prelu.alpha, nullptr, y, rows, l.prelu.C);
    } else if (l.kind == PlanKind::Act) {
      activation_forward(l.act.act, h, y, rows * l.act.C, l.act.alpha);
    } else if (l.kind == PlanKind::Noise) {
      // As the layer's call: the noise from the step's key, then y = x * mul + add.
      const PlanNoise& z = l.noise;
      const uint64_t key = keys[noise_index++];
      const int64_t count = rows * z.C;
      float* mul = mul_[i].data();
      float* add = nullptr;
      switch (z.dist) {
        case NoiseDist::Bernoulli:
          // The multiplier, then the addend from the same key (the same units kept).
          bernoulli_mask(mul, count, key, z.rate, z.mul_keep, z.mul_drop);
          if (z.has_add) bernoulli_mask(add = add_.data(), count, key, z.rate, z.add_keep, z.add_drop);
          break;
        case NoiseDist::NormalMul:
          normal_fill(mul, count, key, 1.0f, z.stddev);
          break;
        case NoiseDist::NormalAdd:
          normal_fill(add = add_.data(), count, key, 0.0f, z.stddev);
          mul = nullptr;
          break;
      }
      noise_apply(h, mul, add, y, count);
    } else if (l.is_dense()) {
      const PlanDense& d = l.dense;
      float* z = d.act == Act::Linear ? y : z_[i].data();
      if (d.act == Act::Linear)
        sgemm(false, false, rows, d.out, d.in, 1.0f, h, d.in, d.kernel, d.out, 0.0f, z, d.out, d.bias);
      else  // the activation runs on each block of z as the GEMM finishes it
        sgemm_act(false, false, rows, d.out, d.in, 1.0f, h, d.in, d.kernel, d.out, 0.0f, z, d.out, d.bias, d.act, d.alpha,
                  y, d.out);
    } else {
      const PlanBatchNorm& b = l.bn;
      float* mean = b.batch_stats ? mean_[i].data() : b.moving_mean;
      float* var = b.batch_stats ? var_[i].data() : b.moving_var;
      batchnorm_forward(h, y, rows, b.C, 1, b.gamma, b.beta, mean, var, b.eps, b.batch_stats);
    }
    h = y;
  }

  // The loss from the logits, its gradient (already divided by what the mean divides by) into dlogits_.
  const float* logits = h;
  const int64_t classes = this->classes();
  const bool per_row = loss_ == PlanLoss::SparseSoftmaxXent || loss_ == PlanLoss::SoftmaxXent;
  const double inv = 1.0 / static_cast<double>(per_row ? rows : rows * classes);
  double total = 0.0;
  switch (loss_) {
    case PlanLoss::SparseSoftmaxXent:
      total = sparse_softmax_xent(logits, targets, rows, classes, dlogits_.data(), static_cast<float>(inv), nullptr,
                                  bad_label);
      if (*bad_label >= 0) return std::nan("");
      break;
    case PlanLoss::SoftmaxXent:
      total = softmax_xent(logits, targets, rows, classes, dlogits_.data(), static_cast<float>(inv), nullptr);
      break;
    case PlanLoss::SigmoidBce:
      total = sigmoid_bce(logits, targets, rows * classes, dlogits_.data(), static_cast<float>(inv));
      break;
    case PlanLoss::MeanSquared:
      total = squared_error(logits, targets, rows * classes, dlogits_.data(), static_cast<float>(inv));
      break;
  }
  float loss_f = static_cast<float>(total * inv);
  for (const float p : penalties_) loss_f += p;
  const double loss = loss_f;
  if (!std::isfinite(loss)) return loss;

  if (pred != nullptr) {
    if (activate_pred && per_row) softmax_rows(logits, pred, rows, classes);
    else if (activate_pred && loss_ == PlanLoss::SigmoidBce) activation_forward(Act::Sigmoid, logits, pred, rows * classes, 0.0f);
    else std::memcpy(pred, logits, static_cast<size_t>(rows * classes) * sizeof(float));
  }
  for (size_t i = 0; i < n; ++i) {
    const PlanLayer& l = layers_[i];
    if (!l.is_bn() || !l.bn.batch_stats) continue;
    const double m = l.bn.momentum;
    float* mm = l.bn.moving_mean;
    float* mv = l.bn.moving_var;
    for (int64_t c = 0; c < l.bn.C; ++c) {
      mm[c] = static_cast<float>(static_cast<double>(mm[c]) * m + static_cast<double>(mean_[i][c]) * (1.0 - m));
      mv[c] = static_cast<float>(static_cast<double>(mv[c]) * m + static_cast<double>(var_[i][c]) * (1.0 - m));
    }
  }

  // Backward, last layer first. dy is the gradient w.r.t. layer i's output; layer i writes the
  // gradient w.r.t. its input into whichever of grad_a_ / grad_b_ dy is not.
  const float* dy = dlogits_.data();
  for (size_t i = n; i-- > 0;) {
    const PlanLayer& l = layers_[i];
    const float* in = i == 0 ? x : y_[i - 1].data();
    float* dx = nullptr;
    if (need_dx_[i]) dx = dy == grad_a_.data() ? grad_b_.data() : grad_a_.data();
    if (l.kind == PlanKind::PReLU) {
      // Both accumulate in the kernel, as into the autograd path's fresh (or penalty-started) gradients.
      const PlanPReLU& pr = l.prelu;
      zero(dx, rows * pr.C);
      if (pr.alpha_grad != nullptr) penalty_grad_init(pr.penalty, pr.alpha, pr.alpha_grad, pr.C);
      prelu_backward(in, pr.alpha, nullptr, dy, dx, pr.alpha_grad, rows, pr.C, pr.C);
      if (sgd_rest && pr.alpha_grad != nullptr) sgd_update(pr.alpha, pr.alpha_grad, nullptr, pr.C, lr, 0.0f, false, 0.0f);
    } else if (l.kind == PlanKind::Act) {
      // Written directly, as the JS op writes a first gradient contribution.
      if (dx != nullptr) activation_backward(l.act.act, in, y_[i].data(), dy, dx, rows * l.act.C, l.act.alpha);
    } else if (l.kind == PlanKind::Noise) {
      // dx = 0 + dy * mul, as the autograd path accumulates into a fresh gradient (so a dropped
      // unit's gradient is +0 there too, not -0).
      if (dx != nullptr) {
        zero(dx, rows * l.noise.C);
        noise_backward(dy, l.noise.dist == NoiseDist::NormalAdd ? nullptr : mul_[i].data(), dx, rows * l.noise.C);
      }
    } else if (l.is_dense()) {
      const PlanDense& d = l.dense;
      const int64_t out_n = rows * d.out;
      const bool bias_step = d.train_bias && d.fuse_bias && fused;
      float* db = !d.train_bias ? nullptr : bias_step ? d.bias : d.bias_grad;
      const float db_scale = bias_step ? -lr : 1.0f;
      const float* dz = dy;
      bool bias_done = false;
      if (d.act != Act::Linear) {
        if (db != nullptr) {
          if (!bias_step) penalty_grad_init(d.bias_penalty, d.bias, db, d.out);
          activation_backward_bias(d.act, z_[i].data(), y_[i].data(), dy, dz_.data(), rows, d.out, d.alpha, db,
                                   db_scale);
          bias_done = true;
        } else {
          activation_backward(d.act, z_[i].data(), y_[i].data(), dy, dz_.data(), out_n, d.alpha);
        }
        dz = dz_.data();
      }
      if (shortcut_[i]) {
        // Layer i-1 is a trainable BatchNormalization with nothing trainable below it: it needs
        // only dgamma[c] = sum_r dy[r,c] xhat[r,c] and dbeta[c] = sum_r dy[r,c] of dy = dz W^T. Both
        // come from G = xhat^T dz (k x n, one GEMM) and s = colsum(dz):
        //   dgamma[c] = W[c,:] . G[c,:],   dbeta[c] = W[c,:] . s,
        // and this layer's kernel gradient a^T dz, a = gamma xhat + beta, is gamma[c] G[c,:] + beta[c] s.
        // One GEMM instead of two (dx and dW); equal to the two-GEMM result up to rounding.
        const PlanLayer& bl = layers_[i - 1];
        const PlanBatchNorm& b = bl.bn;
        const float* bx = i == 1 ? x : y_[i - 2].data();
        float* xhat = dy == grad_a_.data() ? grad_b_.data() : grad_a_.data();
        normalise_rows(bx, mean_[i - 1].data(), var_[i - 1].data(), b.eps, rows, b.C, istd_.data(), xhat);
        sgemm(true, false, d.in, d.out, rows, 1.0f, xhat, d.in, dz, d.out, 0.0f, g_.data(), d.out);
        column_sum(dz, rows, d.out, bias_step_.data(), false);
        if (db != nullptr && !bias_done) {
          if (bias_step) {
            axpy(-lr, bias_step_.data(), d.bias, d.out);
          } else {
            std::memcpy(db, bias_step_.data(), static_cast<size_t>(d.out) * sizeof(float));
            penalty_grad_add(d.bias_penalty, d.bias, db, d.out);
          }
        }
        const bool fuse_k = d.fuse_kernel && fused;
        // In two row blocks on two threads, split where the split-k forward product splits W's
        // rows (split_k_rows): each thread then updates the rows it reads in the next forward
        // product. On one thread this pass left all of W in the caller's cache for the helper's
        // half-sum to fetch, and W2 gained nothing from a second thread (paired 1.01x; 1.43x
        // op by op). Rows are independent: the same bits at any thread count.
        const float* G = g_.data();
        const float* s = bias_step_.data();
        float* grad = fuse_k ? nullptr : d.kernel_grad;
        const int64_t C = b.C, out = d.out;
        const int threads = deepnode::threads_for(C * out, kBnDenseParallelMin, kBnDenseParallelMin / 2);
        deepnode::for_each_chunk(C, threads, deepnode::split_k_rows(C), [&](int64_t c0, int64_t c1) {
          bn_dense_grads(c1 - c0, out, d.kernel + c0 * out, G + c0 * out, s, b.gamma ? b.gamma + c0 : nullptr,
                         b.beta ? b.beta + c0 : nullptr, b.gamma_grad ? b.gamma_grad + c0 : nullptr,
                         b.beta_grad ? b.beta_grad + c0 : nullptr, grad ? grad + c0 * out : nullptr, lr);
        });
        // Penalties after the data terms here (the shortcut's sums are not the autograd path's anyway).
        if (!fuse_k) penalty_grad_add(d.kernel_penalty, d.kernel, d.kernel_grad, d.in * d.out);
        if (b.gamma_grad != nullptr) penalty_grad_add(b.gamma_penalty, b.gamma, b.gamma_grad, b.C);
        if (b.beta_grad != nullptr) penalty_grad_add(b.beta_penalty, b.beta, b.beta_grad, b.C);
        if (!fuse_k && sgd_rest) sgd_update(d.kernel, d.kernel_grad, nullptr, d.in * d.out, lr, 0.0f, false, 0.0f);
        if (sgd_rest && d.train_bias && !bias_step) sgd_update(d.bias, d.bias_grad, nullptr, d.out, lr, 0.0f, false, 0.0f);
        if (sgd_rest) {
          if (b.gamma_grad != nullptr) sgd_update(b.gamma, b.gamma_grad, nullptr, b.C, lr, 0.0f, false, 0.0f);
          if (b.beta_grad != nullptr) sgd_update(b.beta, b.beta_grad, nullptr, b.C, lr, 0.0f, false, 0.0f);
        }
        break;  // the BN layer is done and nothing below it trains
      }
      // dx before the kernel changes under a fused step.
      if (dx != nullptr) sgemm(false, true, rows, d.in, d.out, 1.0f, dz, d.out, d.kernel, d.out, 0.0f, dx, d.in);
      if (db != nullptr && !bias_done) {
        if (bias_step) {
          column_sum(dz, rows, d.out, bias_step_.data(), false);
          axpy(-lr, bias_step_.data(), d.bias, d.out);
        } else if (d.bias_penalty.any()) {
          penalty_grad_init(d.bias_penalty, d.bias, db, d.out);
          column_sum(dz, rows, d.out, db, true);
        } else {
          column_sum(dz, rows, d.out, db, false);
        }
      }
      if (d.train_kernel) {
        if (d.fuse_kernel && fused) {
          sgemm(true, false, d.in, d.out, rows, -lr, in, d.in, dz, d.out, 1.0f, d.kernel, d.out);
        } else {
          // With a penalty, its gradient first and the data term accumulated onto it (the autograd order).
          const bool pen = d.kernel_penalty.any();
          if (pen) penalty_grad_init(d.kernel_penalty, d.kernel, d.kernel_grad, d.in * d.out);
          sgemm(true, false, d.in, d.out, rows, 1.0f, in, d.in, dz, d.out, pen ? 1.0f : 0.0f, d.kernel_grad, d.out);
          if (sgd_rest) sgd_update(d.kernel, d.kernel_grad, nullptr, d.in * d.out, lr, 0.0f, false, 0.0f);
        }
      }
      if (sgd_rest && d.train_bias && !bias_step) sgd_update(d.bias, d.bias_grad, nullptr, d.out, lr, 0.0f, false, 0.0f);
    } else {
      const PlanBatchNorm& b = l.bn;
      const float* mean = b.batch_stats ? mean_[i].data() : b.moving_mean;
      const float* var = b.batch_stats ? var_[i].data() : b.moving_var;
      zero(dx, rows * b.C);
      if (b.gamma_grad != nullptr) penalty_grad_init(b.gamma_penalty, b.gamma, b.gamma_grad, b.C);
      if (b.beta_grad != nullptr) penalty_grad_init(b.beta_penalty, b.beta, b.beta_grad, b.C);
      batchnorm_backward(in, dy, rows, b.C, 1, mean, var, b.gamma, b.eps, b.batch_stats, dx, b.gamma_grad,
                         b.beta_grad);
      if (sgd_rest) {
        // dx above used gamma before this update.
        if (b.gamma_grad != nullptr) sgd_update(b.gamma, b.gamma_grad, nullptr, b.C, lr, 0.0f, false, 0.0f);
        if (b.beta_grad != nullptr) sgd_update(b.beta, b.beta_grad, nullptr, b.C, lr, 0.0f, false, 0.0f);
      }
    }
    if (dx == nullptr) break;  // nothing trainable below this layer
    dy = dx;
  }
  return loss;
}

}  // namespace deepnode
