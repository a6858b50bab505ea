// Optimizer update steps and gradient clipping: one fused pass over a flat parameter buffer each.
// Plain C++ (raw pointers and sizes, no N-API); every function is safe for n == 0 and never throws.
// The formulas are Keras 3's (keras/src/optimizers/*.py); scalars that depend only on the step
// (bias corrections, Nadam's momentum cache) are computed by the caller in double precision.
//
// Every step first applies decoupled weight decay, w -= w * decay (decay = weight_decay * lr, 0 for
// none), as Keras's BaseOptimizer._apply_weight_decay does before update_step. Large buffers
// (> 2^16 elements) are split across up to deepnode::get_num_threads() threads of the GEMM's pool
// (parallel.h); buffers must not overlap one another (the binding checks that). Decay rates (rho,
// beta1, beta2) arrive as double so that 1 - beta is formed before rounding: 1 - float(0.999) is
// 1.3e-5 away from 0.001.
#pragma once
#include <cstdint>

namespace deepnode {

// SGD (velocity == nullptr: plain w -= lr * g; with a velocity, momentum may be 0 for a step):
//   v = momentum * v - lr * g;  w += v                 (momentum)
//   w += momentum * v - lr * g  (with the new v)       (nesterov)
void sgd_update(float* w, const float* g, float* velocity, int64_t n, float lr, float momentum, bool nesterov,
                float decay);

// Adagrad: acc += g^2;  w -= lr * g / sqrt(acc + eps)   (epsilon inside the root, as Keras)
void adagrad_update(float* w, const float* g, float* acc, int64_t n, float lr, float eps, float decay);

// RMSprop: v = rho v + (1 - rho) g^2;  centered: a = rho a + (1 - rho) g, d = v - a^2 + eps, else d = v + eps;
//   inc = lr * g / sqrt(d);  momentum (mom != nullptr): mom = momentum * mom + inc, w -= mom;  else w -= inc
void rmsprop_update(float* w, const float* g, float* v, float* mom, float* avg, int64_t n, float lr, double rho,
                    float momentum, float eps, float decay);

// Adam: m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  amsgrad (vhat != nullptr): vhat = max(vhat, v), v' = vhat;
//   w -= alpha * m / (sqrt(v') + eps),  alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
void adam_update(float* w, const float* g, float* m, float* v, float* vhat, int64_t n, float alpha, double beta1,
                 double beta2, float eps, float decay);

// Adamax: m += (g - m)(1 - b1);  u = max(b2 u, |g|);  w -= lr_hat * m / (u + eps),  lr_hat = lr / (1 - b1^t)
void adamax_update(float* w, const float* g, float* m, float* u, int64_t n, float lr_hat, double beta1, double beta2,
                   float eps, float decay);

// Nadam (Dozat 2015, Keras's momentum cache): m, v as Adam;
//   w -= lr * (cm * m + cg * g) / (sqrt(cv * v) + eps)
// with cm = u_{t+1} / (1 - prod_{i<=t+1} u_i), cg = (1 - u_t) / (1 - prod_{i<=t} u_i), cv = 1 / (1 - b2^t).
void nadam_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, double beta1, double beta2,
                  float eps, float cm, float cg, float cv, float decay);

// g = clip(g, -clipvalue, clipvalue)
void clip_by_value(float* g, int64_t n, float clipvalue);

// Scales g by clipnorm / max(||g||_2, clipnorm) (Keras's _clip_by_norm); returns ||g||_2 before clipping
// (sum of squares in double). A NaN/Inf norm sets g to NaN, as Keras's formula does (the failure then
// shows in the weights and the loss instead of being silently clipped away).
double clip_by_norm(float* g, int64_t n, float clipnorm);

}  // namespace deepnode
