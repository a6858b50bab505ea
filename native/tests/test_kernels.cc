// The element-wise, loss, optimizer, batch-norm, dropout, activation-layer and quantized kernels
// against plain double-precision references written out here, one scalar loop each. Every
// function of kernels.h, optimizers.h, batchnorm.h, dropout.h, activations_ext.h and quantized.h
// is called at least once, on sizes that cross its threading threshold too, so that the sanitizer
// and valgrind builds of scripts/native-sanitize.sh see every code path. Buffers are exact-size
// heap vectors: ASan's redzones and memcheck catch any access past them.
//
// Usage: test_kernels [--small]   (--small trims the big cases, for valgrind)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../activations_ext.h"
#include "../batchnorm.h"
#include "../dropout.h"
#include "../gemm.h"
#include "../kernels.h"
#include "../optimizers.h"
#include "../quantized.h"

namespace {

using Vec = std::vector<float>;
using DVec = std::vector<double>;
namespace dn = deepnode;

int g_checks = 0, g_failures = 0;
bool g_small = false;
std::mt19937 g_rng(20240601);

Vec rand_vec(int64_t n, float lo = -2.0f, float hi = 2.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  Vec v(static_cast<size_t>(n));
  for (auto& x : v) x = d(g_rng);
  return v;
}

// |got - want| <= abs + rel * |want|, NaN only matching NaN.
bool near(double got, double want, double rel, double abs) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= abs + rel * std::fabs(want);
}

void expect_near(const std::string& what, double got, double want, double rel = 1e-5, double abs = 1e-6) {
  ++g_checks;
  if (!near(got, want, rel, abs)) {
    ++g_failures;
    std::printf("FAIL %s: got %.9g, expected %.9g\n", what.c_str(), got, want);
  }
}

template <typename A, typename B>
void expect_all(const std::string& what, const A& got, const B& want, double rel = 1e-5, double abs = 1e-6) {
  ++g_checks;
  if (got.size() < want.size()) {
    ++g_failures;
    std::printf("FAIL %s: size %zu < %zu\n", what.c_str(), got.size(), want.size());
    return;
  }
  for (size_t i = 0; i < want.size(); ++i) {
    if (!near(got[i], want[i], rel, abs)) {
      ++g_failures;
      std::printf("FAIL %s[%zu]: got %.9g, expected %.9g\n", what.c_str(), i, static_cast<double>(got[i]),
                  static_cast<double>(want[i]));
      return;
    }
  }
}

void expect_true(const std::string& what, bool ok) {
  ++g_checks;
  if (!ok) {
    ++g_failures;
    std::printf("FAIL %s\n", what.c_str());
  }
}

// ---- kernels.h ---------------------------------------------------------------------------------

double sigm(double x) { return 1.0 / (1.0 + std::exp(-x)); }

double act_ref(dn::Act a, double x, double alpha) {
  const double scale = 1.0507009873554805, salpha = 1.6732632423543772;
  switch (a) {
    case dn::Act::Linear: return x;
    case dn::Act::Relu: return x > 0 ? x : 0;
    case dn::Act::LeakyRelu: return x > 0 ? x : alpha * x;
    case dn::Act::Elu: return x > 0 ? x : alpha * std::expm1(x);
    case dn::Act::Selu: return x > 0 ? scale * x : scale * salpha * std::expm1(x);
    case dn::Act::Sigmoid: return sigm(x);
    case dn::Act::Tanh: return std::tanh(x);
    case dn::Act::Softplus: return std::log1p(std::exp(x));
    case dn::Act::Swish: return x * sigm(alpha * x);
    case dn::Act::GeluExact: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case dn::Act::GeluTanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case dn::Act::HardSigmoid: return std::min(std::max(x + 3, 0.0), 6.0) / 6;
    case dn::Act::Softsign: return x / (1 + std::fabs(x));
    case dn::Act::Exponential: return std::exp(x);
    case dn::Act::Relu6: return std::min(std::max(x, 0.0), 6.0);
    default: return 0;
  }
}

void test_activations() {
  const int64_t n = 257;
  const float alpha = 0.7f;
  Vec x = rand_vec(n, -4, 4);
  for (auto& v : x)
    if (std::fabs(v) < 1e-2 || std::fabs(std::fabs(v) - 3) < 1e-2 || std::fabs(v - 6) < 1e-2) v += 0.05f;  // off the kinks
  for (int id = 0; id < static_cast<int>(dn::Act::Count); ++id) {
    const auto a = static_cast<dn::Act>(id);
    Vec y(n), dy = rand_vec(n), dx(n);
    dn::activation_forward(a, x.data(), y.data(), n, alpha);
    DVec want(n), dwant(n);
    for (int64_t i = 0; i < n; ++i) {
      want[i] = act_ref(a, x[i], alpha);
      const double h = 1e-5;  // central difference of the double reference
      dwant[i] = dy[i] * (act_ref(a, x[i] + h, alpha) - act_ref(a, x[i] - h, alpha)) / (2 * h);
    }
    expect_all("activation_forward " + std::to_string(id), y, want, 1e-5, 1e-6);
    dn::activation_backward(a, x.data(), y.data(), dy.data(), dx.data(), n, alpha);
    expect_all("activation_backward " + std::to_string(id), dx, dwant, 1e-3, 1e-4);
    Vec inplace = x;  // y may be x
    dn::activation_forward(a, inplace.data(), inplace.data(), n, alpha);
    expect_all("activation_forward in place " + std::to_string(id), inplace, want, 1e-5, 1e-6);
  }
}

DVec softmax_ref(const Vec& x, int64_t outer, int64_t axis, int64_t inner, bool log) {
  DVec y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      double mx = -INFINITY, s = 0;
      for (int64_t k = 0; k < axis; ++k) mx = std::max(mx, static_cast<double>(x[(o * axis + k) * inner + j]));
      for (int64_t k = 0; k < axis; ++k) s += std::exp(x[(o * axis + k) * inner + j] - mx);
      for (int64_t k = 0; k < axis; ++k) {
        const double z = x[(o * axis + k) * inner + j] - mx;
        y[(o * axis + k) * inner + j] = log ? z - std::log(s) : std::exp(z) / s;
      }
    }
  return y;
}

void test_softmax_and_losses() {
  const int64_t rows = 13, cols = 11, n = rows * cols;
  Vec x = rand_vec(n, -5, 5), y(n), ly(n), dy = rand_vec(n), dx(n);
  x[3] = 1e4f;  // a large logit stays finite
  dn::softmax_rows(x.data(), y.data(), rows, cols);
  expect_all("softmax_rows", y, softmax_ref(x, rows, cols, 1, false));
  dn::log_softmax_rows(x.data(), ly.data(), rows, cols);
  expect_all("log_softmax_rows", ly, softmax_ref(x, rows, cols, 1, true), 1e-5, 1e-5);
  dn::softmax_rows_backward(y.data(), dy.data(), dx.data(), rows, cols);
  DVec dref(n);
  for (int64_t r = 0; r < rows; ++r) {
    double dot = 0;
    for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(y[r * cols + j]) * dy[r * cols + j];
    for (int64_t j = 0; j < cols; ++j) dref[r * cols + j] = y[r * cols + j] * (dy[r * cols + j] - dot);
  }
  expect_all("softmax_rows_backward", dx, dref, 1e-4, 1e-6);
  dn::softmax_rows(nullptr, nullptr, 1 << 30, 0);  // empty rows: returns at once
  dn::log_softmax_rows(nullptr, nullptr, 1 << 30, 0);

  // Sparse and dense softmax cross-entropy.
  Vec labels(rows), t(n, 0.0f), grad(n), grad2(n), rl(rows), rl2(rows);
  for (int64_t r = 0; r < rows; ++r) {
    labels[r] = static_cast<float>(g_rng() % cols);
    t[r * cols + static_cast<int64_t>(labels[r])] = 1.0f;
  }
  const DVec lp = softmax_ref(x, rows, cols, 1, true);
  double want = 0;
  DVec gref(n);
  for (int64_t r = 0; r < rows; ++r) {
    want -= lp[r * cols + static_cast<int64_t>(labels[r])];
    for (int64_t j = 0; j < cols; ++j) gref[r * cols + j] = (std::exp(lp[r * cols + j]) - t[r * cols + j]) * 0.5;
  }
  int64_t bad = 0;
  expect_near("sparse_softmax_xent", dn::sparse_softmax_xent(x.data(), labels.data(), rows, cols, grad.data(), 0.5f, rl.data(), &bad), want, 1e-5, 1e-4);
  expect_true("sparse_softmax_xent labels valid", bad == -1);
  expect_all("sparse_softmax_xent grad", grad, gref, 1e-4, 1e-6);
  expect_near("softmax_xent", dn::softmax_xent(x.data(), t.data(), rows, cols, grad2.data(), 0.5f, rl2.data()), want, 1e-5, 1e-4);
  expect_all("softmax_xent grad", grad2, gref, 1e-4, 1e-6);
  expect_all("softmax_xent rowLoss", rl2, rl, 1e-5, 1e-5);
  labels[5] = 2.5f;
  dn::sparse_softmax_xent(x.data(), labels.data(), rows, cols, nullptr, 1, nullptr, &bad);
  expect_true("sparse_softmax_xent reports the first bad label", bad == 5);
  expect_near("softmax_xent with no columns", dn::softmax_xent(nullptr, nullptr, 3, 0, nullptr, 1, rl.data()), 0);

  // Binary losses.
  const int64_t m = 101;
  Vec z = rand_vec(m, -6, 6), tb = rand_vec(m, 0, 1), p = rand_vec(m, 0.001f, 0.999f), gb(m);
  p[0] = 0.0f;  // clipped
  double sb = 0, bb = 0, se = 0;
  DVec gsb(m), gbb(m), gse(m);
  const double eps = 1e-7;
  for (int64_t i = 0; i < m; ++i) {
    sb += std::log1p(std::exp(-std::fabs(z[i]))) + std::max<double>(z[i], 0) - z[i] * tb[i];
    gsb[i] = (sigm(z[i]) - tb[i]) * 2;
    const double pc = std::min(std::max<double>(p[i], eps), 1 - eps);
    bb -= tb[i] * std::log(pc) + (1 - tb[i]) * std::log(1 - pc);
    gbb[i] = p[i] > eps && p[i] < 1 - eps ? (pc - tb[i]) / (pc * (1 - pc)) : 0;
    se += (static_cast<double>(p[i]) - tb[i]) * (p[i] - tb[i]);
    gse[i] = 2 * (static_cast<double>(p[i]) - tb[i]);
  }
  expect_near("sigmoid_bce", dn::sigmoid_bce(z.data(), tb.data(), m, gb.data(), 2), sb, 1e-5, 1e-4);
  expect_all("sigmoid_bce grad", gb, gsb, 1e-4, 1e-6);
  expect_near("bce", dn::bce(p.data(), tb.data(), m, static_cast<float>(eps), gb.data(), 1), bb, 1e-4, 1e-3);
  expect_all("bce grad", gb, gbb, 1e-3, 1e-4);
  expect_near("squared_error", dn::squared_error(p.data(), tb.data(), m, gb.data(), 1), se, 1e-5, 1e-6);
  expect_all("squared_error grad", gb, gse, 1e-5, 1e-6);

  // Categorical cross-entropy from probabilities (rows renormalised, then clipped).
  Vec pc = rand_vec(n, 0.05f, 1), tc = rand_vec(n, 0, 1), gc(n);
  double cx = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t j = 0; j < cols; ++j) s += pc[r * cols + j];
    for (int64_t j = 0; j < cols; ++j) cx -= tc[r * cols + j] * std::log(pc[r * cols + j] / s);
  }
  expect_near("categorical_xent", dn::categorical_xent(pc.data(), tc.data(), rows, cols, 1e-7f, gc.data(), 1), cx, 1e-4, 1e-4);
  // Its gradient by central differences of the double reference, one element.
  {
    const int64_t r = 2, j = 4;
    auto loss_row = [&](double pj) {
      double s = 0, l = 0;
      for (int64_t k = 0; k < cols; ++k) s += k == j ? pj : pc[r * cols + k];
      for (int64_t k = 0; k < cols; ++k) l -= tc[r * cols + k] * std::log((k == j ? pj : pc[r * cols + k]) / s);
      return l;
    };
    const double h = 1e-6, pj = pc[r * cols + j];
    expect_near("categorical_xent grad", gc[r * cols + j], (loss_row(pj + h) - loss_row(pj - h)) / (2 * h), 1e-3, 1e-4);
  }
}

void test_reductions_and_updates() {
  const int64_t rows = 37, cols = 29, n = rows * cols;
  Vec dy = rand_vec(n), db = rand_vec(cols), db0 = db;
  dn::column_sum(dy.data(), rows, cols, db.data(), true);
  DVec want(cols);
  for (int64_t j = 0; j < cols; ++j) {
    want[j] = db0[j];
    for (int64_t r = 0; r < rows; ++r) want[j] += dy[r * cols + j];
  }
  expect_all("column_sum accumulate", db, want, 1e-5, 1e-5);
  dn::column_sum(dy.data(), rows, cols, db.data(), false);
  for (int64_t j = 0; j < cols; ++j) want[j] -= db0[j];
  expect_all("column_sum", db, want, 1e-5, 1e-5);

  double s = 0, ss = 0, sa = 0;
  for (float v : dy) s += v, ss += static_cast<double>(v) * v, sa += std::fabs(v);
  expect_near("sum", dn::sum(dy.data(), n), s, 1e-12, 1e-12);
  expect_near("sum_squares", dn::sum_squares(dy.data(), n), ss, 1e-12, 1e-12);
  expect_near("sum_abs", dn::sum_abs(dy.data(), n), sa, 1e-12, 1e-12);
  expect_true("first_non_finite none", dn::first_non_finite(dy.data(), n) == -1);
  dy[700] = std::numeric_limits<float>::infinity();
  dy[900] = std::numeric_limits<float>::quiet_NaN();
  expect_true("first_non_finite", dn::first_non_finite(dy.data(), n) == 700);

  Vec x = rand_vec(n), y = rand_vec(n), y0 = y;
  dn::axpy(0.25f, x.data(), y.data(), n);
  DVec ay(n);
  for (int64_t i = 0; i < n; ++i) ay[i] = y0[i] + 0.25 * x[i];
  expect_all("axpy", y, ay);
  dn::scale(-3.0f, y.data(), n);
  for (auto& v : ay) v *= -3;
  expect_all("scale", y, ay, 1e-5, 1e-5);

  Vec pred = rand_vec(n), tgt = rand_vec(n), lab(rows);
  int64_t sparse = 0, dense = 0, binary = 0;
  for (int64_t r = 0; r < rows; ++r) {
    lab[r] = static_cast<float>(g_rng() % cols);
    auto am = [&](const Vec& v) {
      int64_t b = 0;
      for (int64_t j = 1; j < cols; ++j)
        if (v[r * cols + j] > v[r * cols + b]) b = j;
      return b;
    };
    sparse += am(pred) == static_cast<int64_t>(lab[r]);
    dense += am(pred) == am(tgt);
  }
  for (int64_t i = 0; i < n; ++i) binary += (pred[i] > 0.1f) == (tgt[i] > 0.5f);
  expect_true("sparse_argmax_matches", dn::sparse_argmax_matches(pred.data(), lab.data(), rows, cols) == sparse);
  expect_true("argmax_matches", dn::argmax_matches(pred.data(), tgt.data(), rows, cols) == dense);
  expect_true("binary_matches", dn::binary_matches(pred.data(), tgt.data(), n, 0.1f) == binary);

  for (int variant = 0; variant < 3; ++variant) {
    Vec p = rand_vec(n), g = rand_vec(n), v = rand_vec(n), p0 = p, v0 = v;
    const float lr = 0.1f, mom = variant == 0 ? 0.0f : 0.9f;
    dn::sgd_step(p.data(), g.data(), v.data(), n, lr, mom, variant == 2);
    DVec pw(n);
    for (int64_t i = 0; i < n; ++i) {
      if (variant == 0) pw[i] = p0[i] - lr * g[i];
      else {
        const double nv = mom * v0[i] - lr * g[i];
        pw[i] = variant == 2 ? p0[i] + mom * nv - lr * g[i] : p0[i] + nv;
      }
    }
    expect_all("sgd_step " + std::to_string(variant), p, pw, 1e-5, 1e-6);
  }
}

// ---- optimizers.h ------------------------------------------------------------------------------

void test_optimizers(int64_t n) {
  const std::string tag = " n=" + std::to_string(n);
  const double lr = 0.01, decay = 0.001;
  {  // sgd_update: plain, momentum, nesterov
    for (int variant = 0; variant < 3; ++variant) {
      Vec w = rand_vec(n), g = rand_vec(n), v = rand_vec(n), w0 = w, v0 = v;
      dn::sgd_update(w.data(), g.data(), variant ? v.data() : nullptr, n, lr, 0.9f, variant == 2, decay);
      DVec ww(n);
      for (int64_t i = 0; i < n; ++i) {
        const double wi = w0[i] - w0[i] * decay;
        const double nv = 0.9 * v0[i] - lr * g[i];
        ww[i] = variant == 0 ? wi - lr * g[i] : variant == 1 ? wi + nv : wi + 0.9 * nv - lr * g[i];
      }
      expect_all("sgd_update " + std::to_string(variant) + tag, w, ww, 1e-5, 1e-6);
    }
  }
  {
    Vec w = rand_vec(n), g = rand_vec(n), acc = rand_vec(n, 0, 1), w0 = w, a0 = acc;
    dn::adagrad_update(w.data(), g.data(), acc.data(), n, lr, 1e-7f, decay);
    DVec ww(n);
    for (int64_t i = 0; i < n; ++i) {
      const double a = a0[i] + static_cast<double>(g[i]) * g[i];
      ww[i] = w0[i] - w0[i] * decay - lr * g[i] / std::sqrt(a + 1e-7);
    }
    expect_all("adagrad_update" + tag, w, ww, 1e-4, 1e-6);
  }
  for (int variant = 0; variant < 4; ++variant) {  // rmsprop: centered x momentum
    const bool centered = variant & 1, withMom = variant & 2;
    Vec w = rand_vec(n), g = rand_vec(n), v = rand_vec(n, 1, 2), mom = rand_vec(n), avg = rand_vec(n, -0.1f, 0.1f);
    const Vec w0 = w, v0 = v, m0 = mom, a0 = avg;
    dn::rmsprop_update(w.data(), g.data(), v.data(), withMom ? mom.data() : nullptr, centered ? avg.data() : nullptr, n, lr, 0.9,
                       0.5f, 1e-7f, decay);
    DVec ww(n);
    for (int64_t i = 0; i < n; ++i) {
      const double vi = 0.9 * v0[i] + 0.1 * g[i] * g[i];
      double d = vi + 1e-7;
      if (centered) {
        const double ai = 0.9 * a0[i] + 0.1 * g[i];
        d = vi - ai * ai + 1e-7;
      }
      const double inc = lr * g[i] / std::sqrt(d);
      ww[i] = w0[i] - w0[i] * decay - (withMom ? 0.5 * m0[i] + inc : inc);
    }
    expect_all("rmsprop_update " + std::to_string(variant) + tag, w, ww, 1e-4, 1e-6);
  }
  for (int ams = 0; ams < 2; ++ams) {
    Vec w = rand_vec(n), g = rand_vec(n), m = rand_vec(n), v = rand_vec(n, 0, 1), vh = rand_vec(n, 0, 1);
    const Vec w0 = w, m0 = m, v0 = v, vh0 = vh;
    const double alpha = 0.003;
    dn::adam_update(w.data(), g.data(), m.data(), v.data(), ams ? vh.data() : nullptr, n, alpha, 0.9, 0.999, 1e-7f, decay);
    DVec ww(n);
    for (int64_t i = 0; i < n; ++i) {
      const double mi = m0[i] + (g[i] - m0[i]) * 0.1, vi = v0[i] + (static_cast<double>(g[i]) * g[i] - v0[i]) * 0.001;
      const double vv = ams ? std::max<double>(vh0[i], vi) : vi;
      ww[i] = w0[i] - w0[i] * decay - mi * alpha / (std::sqrt(vv) + 1e-7);
    }
    expect_all("adam_update " + std::to_string(ams) + tag, w, ww, 1e-4, 1e-6);
  }
  {
    Vec w = rand_vec(n), g = rand_vec(n), m = rand_vec(n), u = rand_vec(n, 0, 1);
    const Vec w0 = w, m0 = m, u0 = u;
    dn::adamax_update(w.data(), g.data(), m.data(), u.data(), n, 0.002f, 0.9, 0.999, 1e-7f, decay);
    DVec ww(n);
    for (int64_t i = 0; i < n; ++i) {
      const double mi = m0[i] + (g[i] - m0[i]) * 0.1, ui = std::max(0.999 * u0[i], std::fabs(static_cast<double>(g[i])));
      ww[i] = w0[i] - w0[i] * decay - 0.002 * mi / (ui + 1e-7);
    }
    expect_all("adamax_update" + tag, w, ww, 1e-4, 1e-6);
  }
  {
    Vec w = rand_vec(n), g = rand_vec(n), m = rand_vec(n), v = rand_vec(n, 0, 1);
    const Vec w0 = w, m0 = m, v0 = v;
    const double cm = 5.0, cg = 0.5, cv = 1000.0;
    dn::nadam_update(w.data(), g.data(), m.data(), v.data(), n, lr, 0.9, 0.999, 1e-7f, cm, cg, cv, decay);
    DVec ww(n);
    for (int64_t i = 0; i < n; ++i) {
      const double mi = m0[i] + (g[i] - m0[i]) * 0.1, vi = v0[i] + (static_cast<double>(g[i]) * g[i] - v0[i]) * 0.001;
      ww[i] = w0[i] - w0[i] * decay - lr * (cm * mi + cg * g[i]) / (std::sqrt(vi * cv) + 1e-7);
    }
    expect_all("nadam_update" + tag, w, ww, 1e-4, 1e-6);
  }
  {
    Vec g = rand_vec(n), g0 = g;
    dn::clip_by_value(g.data(), n, 0.5f);
    DVec gw(n);
    for (int64_t i = 0; i < n; ++i) gw[i] = std::min(std::max<double>(g0[i], -0.5), 0.5);
    expect_all("clip_by_value" + tag, g, gw, 0, 0);
    Vec h = g0;
    double norm = 0;
    for (float v : h) norm += static_cast<double>(v) * v;
    norm = std::sqrt(norm);
    expect_near("clip_by_norm returns the norm" + tag, dn::clip_by_norm(h.data(), n, 1.0f), norm, 1e-12, 1e-12);
    for (int64_t i = 0; i < n; ++i) gw[i] = g0[i] / norm;
    expect_all("clip_by_norm" + tag, h, gw, 1e-5, 1e-7);
    h[n / 2] = std::numeric_limits<float>::infinity();
    dn::clip_by_norm(h.data(), n, 1.0f);
    expect_true("clip_by_norm with Inf sets NaN" + tag, std::isnan(h[0]) && std::isnan(h[n - 1]));
  }
}

// ---- batchnorm.h -------------------------------------------------------------------------------

void test_batchnorm(int64_t outer, int64_t C, int64_t inner) {
  const std::string tag = " [" + std::to_string(outer) + "," + std::to_string(C) + "," + std::to_string(inner) + "]";
  const int64_t n = outer * C * inner, M = outer * inner;
  const float eps = 1e-3f;
  Vec x = rand_vec(n, -3, 5), gamma = rand_vec(C, 0.5f, 1.5f), beta = rand_vec(C), y(n), mean(C), var(C);
  // Reference moments.
  DVec mu(C, 0.0), s2(C, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) mu[c] += x[(o * C + c) * inner + i];
    mu[c] /= M;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) s2[c] += (x[(o * C + c) * inner + i] - mu[c]) * (x[(o * C + c) * inner + i] - mu[c]);
    s2[c] /= M;
  }
  auto at = [&](int64_t o, int64_t c, int64_t i) { return (o * C + c) * inner + i; };
  for (int training = 1; training >= 0; --training) {
    const bool withAffine = training;  // gamma/beta null in the inference round
    if (!training) mean = rand_vec(C, -1, 1), var = rand_vec(C, 0.5f, 2);
    const Vec mean_in = mean, var_in = var;
    dn::batchnorm_forward(x.data(), y.data(), outer, C, inner, withAffine ? gamma.data() : nullptr,
                          withAffine ? beta.data() : nullptr, mean.data(), var.data(), eps, training);
    if (training) {
      expect_all("batchnorm mean" + tag, mean, mu, 1e-5, 1e-5);
      expect_all("batchnorm var" + tag, var, s2, 1e-4, 1e-5);
    }
    DVec yw(n);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < inner; ++i) {
          const double m = training ? mu[c] : mean_in[c], v = training ? s2[c] : var_in[c];
          yw[at(o, c, i)] = (x[at(o, c, i)] - m) / std::sqrt(v + eps) * (withAffine ? gamma[c] : 1.0) + (withAffine ? beta[c] : 0.0);
        }
    expect_all(std::string("batchnorm_forward ") + (training ? "training" : "inference") + tag, y, yw, 1e-4, 1e-4);

    // Backward, accumulating into non-zero buffers.
    Vec dy = rand_vec(n), dx = rand_vec(n), dg = rand_vec(C), dbt = rand_vec(C);
    const Vec dx0 = dx, dg0 = dg, db0 = dbt;
    dn::batchnorm_backward(x.data(), dy.data(), outer, C, inner, mean.data(), var.data(), withAffine ? gamma.data() : nullptr, eps,
                           training, dx.data(), dg.data(), dbt.data());
    DVec dxw(n), dgw(C), dbw(C);
    for (int64_t c = 0; c < C; ++c) {
      const double m = mean[c], istd = 1 / std::sqrt(static_cast<double>(var[c]) + eps), gm = withAffine ? gamma[c] : 1.0;
      double sdy = 0, sdyx = 0;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          sdy += dy[at(o, c, i)];
          sdyx += dy[at(o, c, i)] * (x[at(o, c, i)] - m) * istd;
        }
      dgw[c] = dg0[c] + sdyx;
      dbw[c] = db0[c] + sdy;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const double xh = (x[at(o, c, i)] - m) * istd, g = dy[at(o, c, i)];
          dxw[at(o, c, i)] = dx0[at(o, c, i)] + (training ? gm * istd / M * (M * g - sdy - xh * sdyx) : gm * istd * g);
        }
    }
    expect_all("batchnorm_backward dx" + tag, dx, dxw, 1e-3, 1e-3);
    expect_all("batchnorm_backward dgamma" + tag, dg, dgw, 1e-4, 1e-3);
    expect_all("batchnorm_backward dbeta" + tag, dbt, dbw, 1e-4, 1e-3);
  }
  // Empty batch in training: statistics 0, nothing read.
  Vec m1(C, 5), v1(C, 5);
  dn::batchnorm_forward(nullptr, nullptr, 0, C, 1 << 30, nullptr, nullptr, m1.data(), v1.data(), eps, true);
  expect_true("batchnorm_forward empty batch" + tag, m1[0] == 0 && v1[C - 1] == 0);
}

// ---- dropout.h ---------------------------------------------------------------------------------

void test_dropout(int64_t n) {
  const std::string tag = " n=" + std::to_string(n);
  Vec a(n), b(n);
  dn::set_num_threads(2);
  dn::bernoulli_mask(a.data(), n, 0x1234567890ull, 0.3, 2.0f, 0.0f);
  dn::set_num_threads(1);
  dn::bernoulli_mask(b.data(), n, 0x1234567890ull, 0.3, 2.0f, 0.0f);
  expect_true("bernoulli_mask same with 1 and 2 threads" + tag, a == b);
  int64_t kept = 0;
  bool values_ok = true;
  for (float v : a) kept += v == 2.0f, values_ok = values_ok && (v == 2.0f || v == 0.0f);
  expect_true("bernoulli_mask values" + tag, values_ok);
  const double p = 0.7, sd = std::sqrt(n * p * (1 - p));
  expect_true("bernoulli_mask keep rate within 5 sd" + tag, std::fabs(kept - n * p) <= 5 * sd + 1);
  dn::bernoulli_mask(a.data(), n, 1, 0.0, 1.0f, 0.0f);
  expect_true("bernoulli_mask rate 0 keeps all" + tag, dn::sum(a.data(), n) == n);
  dn::bernoulli_mask(a.data(), n, 1, 1.0, 1.0f, 0.0f);
  expect_true("bernoulli_mask rate 1 drops all" + tag, dn::sum(a.data(), n) == 0);

  dn::set_num_threads(2);
  dn::normal_fill(a.data(), n, 99, 1.5f, 2.0f);
  dn::set_num_threads(1);
  dn::normal_fill(b.data(), n, 99, 1.5f, 2.0f);
  expect_true("normal_fill same with 1 and 2 threads" + tag, a == b);
  double s = 0, q = 0;
  for (float v : a) s += v, q += static_cast<double>(v) * v;
  const double mean = s / n, var = q / n - mean * mean;
  expect_near("normal_fill mean" + tag, mean, 1.5, 0, 5 * 2 / std::sqrt(static_cast<double>(n)));
  expect_near("normal_fill variance" + tag, var, 4.0, 0, 5 * 4 * std::sqrt(2.0 / n));

  const int64_t m = 203;
  Vec x = rand_vec(m), mul = rand_vec(m), add = rand_vec(m);
  for (int variant = 0; variant < 4; ++variant) {
    const bool wm = variant & 1, wa = variant & 2;
    Vec y(m);
    dn::noise_apply(x.data(), wm ? mul.data() : nullptr, wa ? add.data() : nullptr, y.data(), m);
    DVec yw(m);
    for (int64_t i = 0; i < m; ++i) yw[i] = static_cast<double>(x[i]) * (wm ? mul[i] : 1.0f) + (wa ? add[i] : 0.0f);
    expect_all("noise_apply " + std::to_string(variant), y, yw, 1e-6, 1e-6);
    Vec dx = rand_vec(m), dx0 = dx;
    dn::noise_backward(add.data(), wm ? mul.data() : nullptr, dx.data(), m);
    for (int64_t i = 0; i < m; ++i) yw[i] = dx0[i] + static_cast<double>(add[i]) * (wm ? mul[i] : 1.0f);
    expect_all("noise_backward " + std::to_string(variant), dx, yw, 1e-6, 1e-6);
  }
  Vec inplace = x;
  dn::noise_apply(inplace.data(), nullptr, nullptr, inplace.data(), m);
  expect_true("noise_apply identity in place", inplace == x);
}

// ---- activations_ext.h -------------------------------------------------------------------------

void test_activation_layers() {
  const int64_t batch = 7, sample = 12, n = batch * sample;
  Vec x = rand_vec(n), dy = rand_vec(n);
  for (int shared = 0; shared < 2; ++shared) {
    const int64_t L = shared ? 3 : sample;
    Vec alpha = rand_vec(L, 0, 0.5f), y(n), dx = rand_vec(n), da = rand_vec(L);
    std::vector<int32_t> idx(sample);
    for (int64_t j = 0; j < sample; ++j) idx[j] = static_cast<int32_t>(j % L);
    const int32_t* ip = shared ? idx.data() : nullptr;
    dn::prelu_forward(x.data(), alpha.data(), ip, y.data(), batch, sample);
    DVec yw(n), dxw(n), daw(da.begin(), da.end());
    for (int64_t i = 0; i < n; ++i) {
      const int64_t a = shared ? idx[i % sample] : i % sample;
      yw[i] = x[i] > 0 ? x[i] : alpha[a] * x[i];
      dxw[i] = dx[i] + dy[i] * (x[i] > 0 ? 1.0 : alpha[a]);
      if (!(x[i] > 0)) daw[a] += static_cast<double>(dy[i]) * x[i];
    }
    expect_all("prelu_forward " + std::to_string(shared), y, yw);
    dn::prelu_backward(x.data(), alpha.data(), ip, dy.data(), dx.data(), da.data(), batch, sample, L);
    expect_all("prelu_backward dx " + std::to_string(shared), dx, dxw);
    expect_all("prelu_backward dalpha " + std::to_string(shared), da, daw, 1e-5, 1e-5);
  }
  {
    Vec y(n), noise(n), y2(n), noise2(n), dx = rand_vec(n), dx0 = dx;
    dn::rrelu_forward_train(x.data(), y.data(), noise.data(), n, 0.125f, 0.333f, 42);
    dn::rrelu_forward_train(x.data(), y2.data(), noise2.data(), n, 0.125f, 0.333f, 42);
    expect_true("rrelu same seed, same slopes", noise == noise2 && y == y2);
    bool ok = true;
    for (int64_t i = 0; i < n; ++i)
      ok = ok && (x[i] > 0 ? noise[i] == 1.0f && y[i] == x[i] : noise[i] >= 0.125f && noise[i] <= 0.333f && y[i] == noise[i] * x[i]);
    expect_true("rrelu_forward_train slopes in [lower, upper]", ok);
    dn::rrelu_backward(noise.data(), dy.data(), dx.data(), n);
    DVec w(n);
    for (int64_t i = 0; i < n; ++i) w[i] = dx0[i] + static_cast<double>(dy[i]) * noise[i];
    expect_all("rrelu_backward", dx, w);
  }
  for (int hasMax = 0; hasMax < 2; ++hasMax) {
    Vec y(n), dx = rand_vec(n), dx0 = dx;
    dn::relu_general_forward(x.data(), y.data(), n, 0.2f, 0.1f, hasMax, 1.0f);
    dn::relu_general_backward(x.data(), dy.data(), dx.data(), n, 0.2f, 0.1f, hasMax, 1.0f);
    DVec yw(n), dw(n);
    for (int64_t i = 0; i < n; ++i) {
      const double v = x[i];
      yw[i] = v > 0.1 ? (hasMax && v > 1 ? 1.0 : v) : 0.2 * (v - 0.1f);
      dw[i] = dx0[i] + dy[i] * (v > 0.1 ? (hasMax && v >= 1 ? 0.0 : 1.0) : 0.2);
    }
    expect_all("relu_general_forward " + std::to_string(hasMax), y, yw);
    expect_all("relu_general_backward " + std::to_string(hasMax), dx, dw);
  }
  {
    const int64_t o = 3, ax = 5, in = 4, m = o * ax * in;
    Vec xs = rand_vec(m, -4, 4), y(m), g = rand_vec(m), dx = rand_vec(m), dx0 = dx;
    dn::softmax_axis(xs.data(), y.data(), o, ax, in);
    expect_all("softmax_axis", y, softmax_ref(xs, o, ax, in, false));
    dn::softmax_axis_backward(y.data(), g.data(), dx.data(), o, ax, in);
    DVec w(m);
    for (int64_t a = 0; a < o; ++a)
      for (int64_t j = 0; j < in; ++j) {
        double dot = 0;
        for (int64_t k = 0; k < ax; ++k) dot += static_cast<double>(g[(a * ax + k) * in + j]) * y[(a * ax + k) * in + j];
        for (int64_t k = 0; k < ax; ++k) {
          const int64_t i = (a * ax + k) * in + j;
          w[i] = dx0[i] + y[i] * (g[i] - dot);
        }
      }
    expect_all("softmax_axis_backward", dx, w, 1e-5, 1e-6);
    dn::softmax_axis(nullptr, nullptr, 0, 1, int64_t{1} << 40);  // outer 0: no scratch allocated
  }
  {
    Vec y(n), dx = rand_vec(n), dx0 = dx;
    dn::mish_forward(x.data(), y.data(), n);
    dn::mish_backward(x.data(), dy.data(), dx.data(), n);
    DVec yw(n), dw(n);
    auto mish = [](double v) { return v * std::tanh(std::log1p(std::exp(v))); };
    for (int64_t i = 0; i < n; ++i) {
      yw[i] = mish(x[i]);
      dw[i] = dx0[i] + dy[i] * (mish(x[i] + 1e-6) - mish(x[i] - 1e-6)) / 2e-6;
    }
    expect_all("mish_forward", y, yw);
    expect_all("mish_backward", dx, dw, 1e-4, 1e-5);
  }
}

// ---- quantized.h -------------------------------------------------------------------------------

double half_to_double(uint16_t h) {
  const int s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e == 0) return s * std::ldexp(m, -24);
  if (e == 31) return m ? std::numeric_limits<double>::quiet_NaN() : s * INFINITY;
  return s * std::ldexp(1024 + m, e - 25);
}

void test_quantized(int64_t bigM) {
  const int64_t cnt = 1001;
  Vec x = rand_vec(cnt, -70000, 70000), back(cnt);
  x[0] = 0.0f, x[1] = -0.0f, x[2] = 1e-8f, x[3] = 65519.0f, x[4] = 65520.0f, x[5] = std::numeric_limits<float>::quiet_NaN();
  x[6] = -std::numeric_limits<float>::infinity(), x[7] = 6.1e-5f, x[8] = 3e-7f;
  std::vector<uint16_t> h(cnt);
  dn::f32_to_f16(x.data(), h.data(), cnt);
  dn::f16_to_f32(h.data(), back.data(), cnt);
  bool ok = true;
  for (int64_t i = 0; i < cnt && ok; ++i) {
    const double v = x[i], got = half_to_double(h[i]);
    if (std::isnan(v)) ok = std::isnan(got);
    else if (std::fabs(v) >= 65520) ok = got == (v > 0 ? INFINITY : -INFINITY);
    else ok = std::fabs(got - v) <= std::max(std::fabs(v) * std::ldexp(1, -11), std::ldexp(1, -25));
    ok = ok && (std::isnan(got) ? std::isnan(back[i]) : back[i] == got);
    if (!ok) std::printf("  f16 of %.9g is %04x (%.9g), back %.9g\n", v, h[i], got, back[i]);
  }
  expect_true("f32_to_f16 / f16_to_f32 round to nearest and decode exactly", ok);

  const int64_t k = 64, n = 45;  // m = 300 is then just above the direct kernel's threading threshold
  Vec W = rand_vec(k * n), scales(n);
  for (int64_t p = 0; p < k; ++p) W[p * n + 3] = 0.0f;  // an all-zero column: scale 0
  std::vector<int8_t> q(k * n);
  dn::quantize_int8(W.data(), k, n, q.data(), scales.data());
  ok = scales[3] == 0.0f;
  for (int64_t p = 0; p < k && ok; ++p)
    for (int64_t j = 0; j < n && ok; ++j) ok = std::fabs(W[p * n + j] - q[p * n + j] * static_cast<double>(scales[j])) <= scales[j] / 2 + 1e-7;
  expect_true("quantize_int8 within half a step", ok);

  std::vector<uint16_t> Wh(k * n);
  dn::f32_to_f16(W.data(), Wh.data(), k * n);
  for (int64_t m : {int64_t{1}, int64_t{3}, int64_t{4}, int64_t{9}, bigM}) {
    Vec X = rand_vec(m * k), bias = rand_vec(n);
    DVec yf(m * n), yi(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sf = bias[j], si = bias[j];
        for (int64_t p = 0; p < k; ++p) {
          sf += static_cast<double>(X[i * k + p]) * half_to_double(Wh[p * n + j]);
          si += static_cast<double>(X[i * k + p]) * q[p * n + j] * scales[j];
        }
        yf[i * n + j] = sf, yi[i * n + j] = si;
      }
    for (int path = 0; path < 4; ++path) {
      const std::string tag = " m=" + std::to_string(m) + " path=" + std::to_string(path);
      Vec Y(m * n);
      dn::gemm_f16(m, n, k, X.data(), Wh.data(), bias.data(), Y.data(), static_cast<dn::QPath>(path));
      expect_all("gemm_f16" + tag, Y, yf, 1e-4, 1e-4);
      dn::gemm_i8(m, n, k, X.data(), q.data(), scales.data(), bias.data(), Y.data(), static_cast<dn::QPath>(path));
      expect_all("gemm_i8" + tag, Y, yi, 1e-4, 1e-4);
    }
  }
  Vec Y0(2 * n);
  dn::gemm_f16(2, n, 0, nullptr, nullptr, nullptr, Y0.data());
  expect_true("gemm_f16 with k = 0 gives zeros", dn::sum_abs(Y0.data(), 2 * n) == 0);
  const char* isa = dn::quantized_isa();
  expect_true("quantized_isa", std::strcmp(isa, "avx2") == 0 || std::strcmp(isa, "generic") == 0);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) g_small = g_small || std::strcmp(argv[i], "--small") == 0;
  std::printf("test_kernels: gemm %s, quantized %s, %d threads%s\n", dn::gemm_isa(), dn::quantized_isa(),
              dn::get_num_threads(), g_small ? ", small sizes" : "");
  const int threads = dn::get_num_threads() > 1 ? dn::get_num_threads() : 2;
  test_activations();
  test_softmax_and_losses();
  test_reductions_and_updates();
  dn::set_num_threads(threads);
  test_optimizers(1000);
  test_optimizers((int64_t{1} << 16) + 77);  // above the threading threshold: split over threads
  test_batchnorm(17, 5, 1);
  test_batchnorm(3, 300, 1);  // two feature tiles of 256
  test_batchnorm(4, 3, 9);
  if (!g_small) test_batchnorm(1100, 1000, 1);  // >= 2^20 elements: features split over threads
  else test_batchnorm(64, 64, 260);             // >= 2^20 elements, fewer features
  test_dropout(1001);
  test_dropout((int64_t{1} << 21) + 3);  // threaded chunks with an odd tail
  dn::set_num_threads(threads);
  test_activation_layers();
  test_quantized(300);  // m = 300: the panel path, and the direct paths split over 2 threads
  std::printf("test_kernels: %d checks, %d failed\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
