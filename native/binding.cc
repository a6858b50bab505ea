// The N-API layer: converts JS arguments, re-checks every size against the typed arrays it receives
// (so no call from JS can make a kernel read or write out of bounds), and maps failures to JS errors
// with a stable `code`. It holds no math: that lives in gemm.* and kernels.*.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "gemm.h"
#include "kernels.h"
#include "optimizers.h"  // optimizers block
#include <initializer_list>  // optimizers block
#include "activations_ext.h"
#include "batchnorm.h"
#include "dropout.h"
#include "quantized.h"  // quantized inference block

// binding_plan.cc: trainPlanCreate / trainPlanStep.
void RegisterTrainPlan(Napi::Env env, Napi::Object exports);

namespace {

using deepnode::Act;

[[noreturn]] void Fail(Napi::Env env, const char* code, const std::string& message, bool typeError = false) {
  if (typeError) {
    Napi::TypeError err = Napi::TypeError::New(env, message);
    err.Set("code", Napi::String::New(env, code));
    throw err;
  }
  Napi::RangeError err = Napi::RangeError::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  throw err;
}

// Reads arguments of one call, with the function's name for error messages.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t count) : info_(info), fn_(fn) {
    if (info.Length() != count)
      Fail(env(), "ERR_NATIVE_ARGS",
           std::string(fn) + ": expected " + std::to_string(count) + " arguments, received " +
               std::to_string(info.Length()),
           true);
  }

  Napi::Env env() const { return info_.Env(); }

  // A Float32Array holding at least `need` elements; returns its data (byteOffset included).
  float* f32(size_t i, const char* name, int64_t need) const {
    int64_t len = 0;
    float* p = f32any(i, name, &len);
    if (len < need)
      Fail(env(), "ERR_NATIVE_SIZE",
           std::string(fn_) + ": " + name + " has " + std::to_string(len) + " elements, needs " +
               std::to_string(need));
    return p;
  }

  // A Float32Array of any length; `len` receives its length.
  float* f32any(size_t i, const char* name, int64_t* len) const {
    Napi::Value v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      Fail(env(), "ERR_NATIVE_TYPE", std::string(fn_) + ": " + name + " must be a Float32Array", true);
    auto a = v.As<Napi::Float32Array>();
    *len = static_cast<int64_t>(a.ElementLength());
    // A detached buffer has no data; treat it as empty rather than dereferencing null.
    float* p = a.Data();
    if (p == nullptr) *len = 0;
    return p;
  }

  // A Float32Array or null/undefined (optional output or input).
  float* f32opt(size_t i, const char* name, int64_t need) const {
    if (info_[i].IsNull() || info_[i].IsUndefined()) return nullptr;
    return f32(i, name, need);
  }

  // A non-negative integer dimension, bounded so products of three fit in int64.
  int64_t dim(size_t i, const char* name) const {
    Napi::Value v = info_[i];
    if (!v.IsNumber()) Fail(env(), "ERR_NATIVE_TYPE", std::string(fn_) + ": " + name + " must be a number", true);
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d != std::floor(d) || d > 2147483647.0)
      Fail(env(), "ERR_NATIVE_VALUE",
           std::string(fn_) + ": " + name + " must be an integer in [0, 2^31), received " + std::to_string(d));
    return static_cast<int64_t>(d);
  }

  // A finite number, in double precision (num: the same, rounded to float).
  double real(size_t i, const char* name) const {
    Napi::Value v = info_[i];
    if (!v.IsNumber()) Fail(env(), "ERR_NATIVE_TYPE", std::string(fn_) + ": " + name + " must be a number", true);
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d))
      Fail(env(), "ERR_NATIVE_VALUE", std::string(fn_) + ": " + name + " must be finite, received " + std::to_string(d));
    return d;
  }

  float num(size_t i, const char* name) const { return static_cast<float>(real(i, name)); }

  bool flag(size_t i, const char* name) const {
    Napi::Value v = info_[i];
    if (!v.IsBoolean()) Fail(env(), "ERR_NATIVE_TYPE", std::string(fn_) + ": " + name + " must be a boolean", true);
    return v.As<Napi::Boolean>().Value();
  }

  // Output `out` (n elements) may be exactly `in` (in-place) but must not partly overlap it.
  void noPartialOverlap(const float* out, const float* in, int64_t n, const char* outName, const char* inName) const {
    if (!out || !in || out == in || n == 0) return;
    if (out < in + n && in < out + n)
      Fail(env(), "ERR_NATIVE_OVERLAP", std::string(fn_) + ": " + outName + " overlaps " + inName);
  }

  // Output `out` (n elements) must not overlap input `in` (m elements) at all.
  void noOverlap(const float* out, int64_t n, const float* in, int64_t m, const char* outName, const char* inName) const {
    if (!out || !in || n == 0 || m == 0) return;
    if (out < in + m && in < out + n)
      Fail(env(), "ERR_NATIVE_OVERLAP", std::string(fn_) + ": " + outName + " overlaps " + inName);
  }

 private:
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

// Elements a row-major matrix view needs: (rows-1)*ld + cols, or 0 when empty.
int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; }

// --- gemm wrapper (owner: gemm) ---
Act actArg(const Args& a, const Napi::CallbackInfo& info, size_t i);

// gemm(transA, transB, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias[, act, actAlpha, Y]):
// with the three trailing arguments, also Y = act(C) through the GEMM's epilogue (sgemm_act;
// Y has C's layout, ldc apart, and may be C itself).
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args a(info, "gemm", info.Length() > 14 ? 17 : 14);
  const bool ta = a.flag(0, "transA"), tb = a.flag(1, "transB");
  const int64_t m = a.dim(2, "m"), n = a.dim(3, "n"), k = a.dim(4, "k");
  const float alpha = a.num(5, "alpha");
  const int64_t lda = a.dim(7, "lda"), ldb = a.dim(9, "ldb"), ldc = a.dim(12, "ldc");
  const float beta = a.num(10, "beta");
  const int64_t arows = ta ? k : m, acols = ta ? m : k;
  const int64_t brows = tb ? n : k, bcols = tb ? k : n;
  if (lda < std::max<int64_t>(acols, 1) || ldb < std::max<int64_t>(bcols, 1) || ldc < std::max<int64_t>(n, 1))
    Fail(a.env(), "ERR_NATIVE_VALUE", "gemm: leading dimension smaller than the row length");
  const int64_t na = span(arows, acols, lda), nb = span(brows, bcols, ldb), nc = span(m, n, ldc);
  const float* A = a.f32(6, "A", na);
  const float* B = a.f32(8, "B", nb);
  float* C = a.f32(11, "C", nc);
  const float* bias = a.f32opt(13, "bias", n);
  a.noOverlap(C, nc, A, na, "C", "A");
  a.noOverlap(C, nc, B, nb, "C", "B");
  a.noOverlap(C, nc, bias, bias ? n : 0, "C", "bias");
  if (info.Length() == 17) {
    const Act act = actArg(a, info, 14);
    const float act_alpha = a.num(15, "actAlpha");
    float* Y = a.f32(16, "Y", nc);
    a.noPartialOverlap(Y, C, nc, "Y", "C");
    a.noOverlap(Y, nc, A, na, "Y", "A");
    a.noOverlap(Y, nc, B, nb, "Y", "B");
    a.noOverlap(Y, nc, bias, bias ? n : 0, "Y", "bias");
    deepnode::sgemm_act(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias, act, act_alpha, Y, ldc);
    return info.Env().Undefined();
  }
  deepnode::sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias);
  return info.Env().Undefined();
}
// --- end gemm wrapper ---

Act actArg(const Args& a, const Napi::CallbackInfo& info, size_t i) {
  const int64_t id = a.dim(i, "activation");
  if (id >= static_cast<int64_t>(Act::Count))
    Fail(info.Env(), "ERR_NATIVE_VALUE", "unknown activation id " + std::to_string(id));
  return static_cast<Act>(id);
}

Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
  Args a(info, "activationForward", 4);
  const Act act = actArg(a, info, 0);
  int64_t n = 0;
  const float* x = a.f32any(1, "x", &n);
  float* y = a.f32(2, "y", n);
  a.noPartialOverlap(y, x, n, "y", "x");
  deepnode::activation_forward(act, x, y, n, a.num(3, "alpha"));
  return info.Env().Undefined();
}

Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  Args a(info, "activationBackward", 6);
  const Act act = actArg(a, info, 0);
  int64_t n = 0;
  const float* x = a.f32any(1, "x", &n);
  const float* y = a.f32(2, "y", n);
  const float* dy = a.f32(3, "dy", n);
  float* dx = a.f32(4, "dx", n);
  a.noOverlap(dx, n, x, n, "dx", "x");
  a.noOverlap(dx, n, y, n, "dx", "y");
  a.noPartialOverlap(dx, dy, n, "dx", "dy");
  deepnode::activation_backward(act, x, y, dy, dx, n, a.num(5, "alpha"));
  return info.Env().Undefined();
}

// activationBackwardBias(act, x, y, dy, dx, alpha, rows, cols, db, dbScale)
Napi::Value ActivationBackwardBias(const Napi::CallbackInfo& info) {
  Args a(info, "activationBackwardBias", 10);
  const Act act = actArg(a, info, 0);
  const int64_t rows = a.dim(6, "rows"), cols = a.dim(7, "cols"), n = rows * cols;
  const float* x = a.f32(1, "x", n);
  const float* y = a.f32(2, "y", n);
  const float* dy = a.f32(3, "dy", n);
  float* dx = a.f32(4, "dx", n);
  float* db = a.f32(8, "db", cols);
  a.noOverlap(dx, n, x, n, "dx", "x");
  a.noOverlap(dx, n, y, n, "dx", "y");
  a.noPartialOverlap(dx, dy, n, "dx", "dy");
  a.noOverlap(db, cols, x, n, "db", "x");
  a.noOverlap(db, cols, y, n, "db", "y");
  a.noOverlap(db, cols, dy, n, "db", "dy");
  a.noOverlap(db, cols, dx, n, "db", "dx");
  deepnode::activation_backward_bias(act, x, y, dy, dx, rows, cols, a.num(5, "alpha"), db, a.num(9, "dbScale"));
  return info.Env().Undefined();
}

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Args a(info, "softmax", 4);
  const int64_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  float* y = a.f32(1, "y", rows * cols);
  a.noPartialOverlap(y, x, rows * cols, "y", "x");
  deepnode::softmax_rows(x, y, rows, cols);
  return info.Env().Undefined();
}

Napi::Value LogSoftmax(const Napi::CallbackInfo& info) {
  Args a(info, "logSoftmax", 4);
  const int64_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");
  const float* x = a.f32(0, "x", rows * cols);
  float* y = a.f32(1, "y", rows * cols);
  a.noPartialOverlap(y, x, rows * cols, "y", "x");
  deepnode::log_softmax_rows(x, y, rows, cols);
  return info.Env().Undefined();
}

Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxBackward", 5);
  const int64_t rows = a.dim(3, "rows"), cols = a.dim(4, "cols"), n = rows * cols;
  const float* y = a.f32(0, "y", n);
  const float* dy = a.f32(1, "dy", n);
  float* dx = a.f32(2, "dx", n);
  a.noOverlap(dx, n, y, n, "dx", "y");
  a.noOverlap(dx, n, dy, n, "dx", "dy");
  deepnode::softmax_rows_backward(y, dy, dx, rows, cols);
  return info.Env().Undefined();
}

Napi::Value SparseSoftmaxXent(const Napi::CallbackInfo& info) {
  Args a(info, "sparseSoftmaxXent", 7);
  const int64_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");
  if (rows > 0 && cols == 0) Fail(a.env(), "ERR_NATIVE_VALUE", "sparseSoftmaxXent: cols must be positive");
  const float* z = a.f32(0, "logits", rows * cols);
  const float* labels = a.f32(1, "labels", rows);
  float* grad = a.f32opt(4, "grad", rows * cols);
  float* rowLoss = a.f32opt(6, "rowLoss", rows);
  a.noOverlap(grad, grad ? rows * cols : 0, z, rows * cols, "grad", "logits");
  a.noOverlap(grad, grad ? rows * cols : 0, labels, rows, "grad", "labels");
  // rowLoss[r] is written while later rows are still to be read (and before grad's row r).
  a.noOverlap(rowLoss, rowLoss ? rows : 0, z, rows * cols, "rowLoss", "logits");
  a.noOverlap(rowLoss, rowLoss ? rows : 0, labels, rows, "rowLoss", "labels");
  a.noOverlap(rowLoss, rowLoss ? rows : 0, grad, grad ? rows * cols : 0, "rowLoss", "grad");
  int64_t bad = -1;
  const double total = deepnode::sparse_softmax_xent(z, labels, rows, cols, grad, a.num(5, "scale"), rowLoss, &bad);
  if (bad >= 0)
    Fail(a.env(), "ERR_LABEL",
         "label at index " + std::to_string(bad) + " is " + std::to_string(labels[bad]) +
             ", expected an integer class id in [0, " + std::to_string(cols) + ")");
  return Napi::Number::New(info.Env(), total);
}

Napi::Value SoftmaxXent(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxXent", 7);
  const int64_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols"), n = rows * cols;
  const float* z = a.f32(0, "logits", n);
  const float* t = a.f32(1, "targets", n);
  float* grad = a.f32opt(4, "grad", n);
  float* rowLoss = a.f32opt(6, "rowLoss", rows);
  a.noOverlap(grad, grad ? n : 0, z, n, "grad", "logits");
  a.noOverlap(grad, grad ? n : 0, t, n, "grad", "targets");
  a.noOverlap(rowLoss, rowLoss ? rows : 0, z, n, "rowLoss", "logits");
  a.noOverlap(rowLoss, rowLoss ? rows : 0, t, n, "rowLoss", "targets");
  a.noOverlap(rowLoss, rowLoss ? rows : 0, grad, grad ? n : 0, "rowLoss", "grad");
  return Napi::Number::New(info.Env(), deepnode::softmax_xent(z, t, rows, cols, grad, a.num(5, "scale"), rowLoss));
}

Napi::Value SigmoidBce(const Napi::CallbackInfo& info) {
  Args a(info, "sigmoidBce", 4);
  int64_t n = 0;
  const float* z = a.f32any(0, "logits", &n);
  const float* t = a.f32(1, "targets", n);
  float* grad = a.f32opt(2, "grad", n);
  a.noOverlap(grad, grad ? n : 0, z, n, "grad", "logits");
  a.noOverlap(grad, grad ? n : 0, t, n, "grad", "targets");
  return Napi::Number::New(info.Env(), deepnode::sigmoid_bce(z, t, n, grad, a.num(3, "scale")));
}

Napi::Value Bce(const Napi::CallbackInfo& info) {
  Args a(info, "bce", 5);
  int64_t n = 0;
  const float* p = a.f32any(0, "probs", &n);
  const float* t = a.f32(1, "targets", n);
  float* grad = a.f32opt(3, "grad", n);
  a.noOverlap(grad, grad ? n : 0, p, n, "grad", "probs");
  a.noOverlap(grad, grad ? n : 0, t, n, "grad", "targets");
  return Napi::Number::New(info.Env(), deepnode::bce(p, t, n, a.num(2, "eps"), grad, a.num(4, "scale")));
}

Napi::Value CategoricalXent(const Napi::CallbackInfo& info) {
  Args a(info, "categoricalXent", 7);
  const int64_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols"), n = rows * cols;
  const float* p = a.f32(0, "probs", n);
  const float* t = a.f32(1, "targets", n);
  float* grad = a.f32opt(5, "grad", n);
  a.noOverlap(grad, grad ? n : 0, p, n, "grad", "probs");
  a.noOverlap(grad, grad ? n : 0, t, n, "grad", "targets");
  return Napi::Number::New(info.Env(),
                           deepnode::categorical_xent(p, t, rows, cols, a.num(4, "eps"), grad, a.num(6, "scale")));
}

Napi::Value SquaredError(const Napi::CallbackInfo& info) {
  Args a(info, "squaredError", 4);
  int64_t n = 0;
  const float* p = a.f32any(0, "pred", &n);
  const float* t = a.f32(1, "targets", n);
  float* grad = a.f32opt(2, "grad", n);
  a.noOverlap(grad, grad ? n : 0, p, n, "grad", "pred");
  a.noOverlap(grad, grad ? n : 0, t, n, "grad", "targets");
  return Napi::Number::New(info.Env(), deepnode::squared_error(p, t, n, grad, a.num(3, "scale")));
}

Napi::Value ColumnSum(const Napi::CallbackInfo& info) {
  Args a(info, "columnSum", 5);
  const int64_t rows = a.dim(1, "rows"), cols = a.dim(2, "cols");
  const float* dy = a.f32(0, "dy", rows * cols);
  float* db = a.f32(3, "db", cols);
  a.noOverlap(db, cols, dy, rows * cols, "db", "dy");
  deepnode::column_sum(dy, rows, cols, db, a.flag(4, "accumulate"));
  return info.Env().Undefined();
}

Napi::Value Sum(const Napi::CallbackInfo& info) {
  Args a(info, "sum", 1);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  return Napi::Number::New(info.Env(), deepnode::sum(x, n));
}

Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Args a(info, "sumSquares", 1);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  return Napi::Number::New(info.Env(), deepnode::sum_squares(x, n));
}

Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  Args a(info, "firstNonFinite", 1);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  return Napi::Number::New(info.Env(), static_cast<double>(deepnode::first_non_finite(x, n)));
}

Napi::Value Axpy(const Napi::CallbackInfo& info) {
  Args a(info, "axpy", 3);
  int64_t n = 0;
  const float* x = a.f32any(1, "x", &n);
  float* y = a.f32(2, "y", n);
  a.noPartialOverlap(y, x, n, "y", "x");
  deepnode::axpy(a.num(0, "alpha"), x, y, n);
  return info.Env().Undefined();
}

Napi::Value AddSign(const Napi::CallbackInfo& info) {
  Args a(info, "addSign", 3);
  int64_t n = 0;
  const float* x = a.f32any(1, "x", &n);
  float* y = a.f32(2, "y", n);
  a.noPartialOverlap(y, x, n, "y", "x");
  deepnode::add_sign(a.num(0, "g"), x, y, n);
  return info.Env().Undefined();
}

Napi::Value ConstrainColumnNorms(const Napi::CallbackInfo& info) {
  Args a(info, "constrainColumnNorms", 7);
  const int64_t rows = a.dim(1, "rows"), cols = a.dim(2, "cols");
  float* w = a.f32(0, "w", rows * cols);
  const int64_t kind = a.dim(3, "kind");
  if (kind > 2) Fail(a.env(), "ERR_NATIVE_VALUE", "constrainColumnNorms: kind must be 0 (max), 1 (unit) or 2 (min-max), received " + std::to_string(kind));
  const double min_value = a.real(4, "minValue"), max_value = a.real(5, "maxValue"), rate = a.real(6, "rate");
  deepnode::constrain_column_norms(w, rows, cols, static_cast<deepnode::NormConstraint>(kind), min_value, max_value, rate);
  return info.Env().Undefined();
}

Napi::Value Scale(const Napi::CallbackInfo& info) {
  Args a(info, "scale", 2);
  int64_t n = 0;
  float* x = a.f32any(1, "x", &n);
  deepnode::scale(a.num(0, "alpha"), x, n);
  return info.Env().Undefined();
}

Napi::Value SparseArgmaxMatches(const Napi::CallbackInfo& info) {
  Args a(info, "sparseArgmaxMatches", 4);
  const int64_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");
  if (rows > 0 && cols == 0) Fail(a.env(), "ERR_NATIVE_VALUE", "sparseArgmaxMatches: cols must be positive");
  const float* p = a.f32(0, "pred", rows * cols);
  const float* l = a.f32(1, "labels", rows);
  return Napi::Number::New(info.Env(), static_cast<double>(deepnode::sparse_argmax_matches(p, l, rows, cols)));
}

Napi::Value ArgmaxMatches(const Napi::CallbackInfo& info) {
  Args a(info, "argmaxMatches", 4);
  const int64_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");
  if (rows > 0 && cols == 0) Fail(a.env(), "ERR_NATIVE_VALUE", "argmaxMatches: cols must be positive");
  const float* p = a.f32(0, "pred", rows * cols);
  const float* t = a.f32(1, "targets", rows * cols);
  return Napi::Number::New(info.Env(), static_cast<double>(deepnode::argmax_matches(p, t, rows, cols)));
}

Napi::Value BinaryMatches(const Napi::CallbackInfo& info) {
  Args a(info, "binaryMatches", 3);
  int64_t n = 0;
  const float* p = a.f32any(0, "pred", &n);
  const float* t = a.f32(1, "targets", n);
  return Napi::Number::New(info.Env(), static_cast<double>(deepnode::binary_matches(p, t, n, a.num(2, "threshold"))));
}

Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  Args a(info, "sgdStep", 6);
  int64_t n = 0;
  float* p = a.f32any(0, "param", &n);
  const float* g = a.f32(1, "grad", n);
  float* v = a.f32opt(2, "velocity", n);
  a.noOverlap(p, n, g, n, "param", "grad");
  a.noOverlap(v, v ? n : 0, p, n, "velocity", "param");
  a.noOverlap(v, v ? n : 0, g, n, "velocity", "grad");
  deepnode::sgd_step(p, g, v, n, a.num(3, "lr"), a.num(4, "momentum"), a.flag(5, "nesterov"));
  return info.Env().Undefined();
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Args a(info, "setNumThreads", 1);
  const int64_t n = a.dim(0, "n");
  if (n < 1 || n > 1024) Fail(a.env(), "ERR_NATIVE_VALUE", "setNumThreads: n must be in [1, 1024], received " + std::to_string(n));
  deepnode::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), deepnode::get_num_threads());
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", Napi::String::New(info.Env(), deepnode::gemm_isa()));
  o.Set("threads", Napi::Number::New(info.Env(), deepnode::get_num_threads()));
  o.Set("napiVersion", Napi::Number::New(info.Env(), NAPI_VERSION));
  return o;
}

// ---- BatchNormalization and the dropout family (batchnorm.*, dropout.*) -------------------------

// outer * C * inner, failing when it would not fit in int64.
int64_t volume3(const Args& a, const char* fn, int64_t outer, int64_t C, int64_t inner) {
  const int64_t ci = C * inner;  // each < 2^31, so this fits
  if (ci > 0 && outer > INT64_MAX / ci)
    Fail(a.env(), "ERR_NATIVE_VALUE", std::string(fn) + ": outer * C * inner is too large");
  return outer * ci;
}

Napi::Value BatchnormForward(const Napi::CallbackInfo& info) {
  Args a(info, "batchnormForward", 11);
  const int64_t outer = a.dim(2, "outer"), C = a.dim(3, "C"), inner = a.dim(4, "inner");
  const int64_t n = volume3(a, "batchnormForward", outer, C, inner);
  const float* x = a.f32(0, "x", n);
  float* y = a.f32(1, "y", n);
  const float* gamma = a.f32opt(5, "gamma", C);
  const float* beta = a.f32opt(6, "beta", C);
  float* mean = a.f32(7, "mean", C);
  float* var = a.f32(8, "var", C);
  const float eps = a.num(9, "eps");
  if (!(eps > 0.0f)) Fail(a.env(), "ERR_NATIVE_VALUE", "batchnormForward: eps must be positive, received " + std::to_string(eps));
  const bool training = a.flag(10, "training");
  a.noPartialOverlap(y, x, n, "y", "x");
  a.noOverlap(y, n, gamma, gamma ? C : 0, "y", "gamma");
  a.noOverlap(y, n, beta, beta ? C : 0, "y", "beta");
  a.noOverlap(y, n, mean, C, "y", "mean");
  a.noOverlap(y, n, var, C, "y", "var");
  if (training) {  // mean and var are written
    a.noOverlap(mean, C, var, C, "mean", "var");
    a.noOverlap(mean, C, x, n, "mean", "x");
    a.noOverlap(var, C, x, n, "var", "x");
    a.noOverlap(mean, C, gamma, gamma ? C : 0, "mean", "gamma");
    a.noOverlap(var, C, gamma, gamma ? C : 0, "var", "gamma");
    a.noOverlap(mean, C, beta, beta ? C : 0, "mean", "beta");
    a.noOverlap(var, C, beta, beta ? C : 0, "var", "beta");
  }
  deepnode::batchnorm_forward(x, y, outer, C, inner, gamma, beta, mean, var, eps, training);
  return info.Env().Undefined();
}

Napi::Value BatchnormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "batchnormBackward", 13);
  const int64_t outer = a.dim(2, "outer"), C = a.dim(3, "C"), inner = a.dim(4, "inner");
  const int64_t n = volume3(a, "batchnormBackward", outer, C, inner);
  const float* x = a.f32(0, "x", n);
  const float* dy = a.f32(1, "dy", n);
  const float* mean = a.f32(5, "mean", C);
  const float* var = a.f32(6, "var", C);
  const float* gamma = a.f32opt(7, "gamma", C);
  const float eps = a.num(8, "eps");
  if (!(eps > 0.0f)) Fail(a.env(), "ERR_NATIVE_VALUE", "batchnormBackward: eps must be positive, received " + std::to_string(eps));
  const bool training = a.flag(9, "training");
  float* dx = a.f32opt(10, "dx", n);
  float* dgamma = a.f32opt(11, "dgamma", C);
  float* dbeta = a.f32opt(12, "dbeta", C);
  const struct { const float* p; int64_t len; const char* name; } ins[] = {
      {x, n, "x"}, {dy, n, "dy"}, {mean, C, "mean"}, {var, C, "var"}, {gamma, gamma ? C : 0, "gamma"}};
  const struct { float* p; int64_t len; const char* name; } outs[] = {
      {dx, dx ? n : 0, "dx"}, {dgamma, dgamma ? C : 0, "dgamma"}, {dbeta, dbeta ? C : 0, "dbeta"}};
  for (const auto& o : outs) {
    for (const auto& in : ins) a.noOverlap(o.p, o.len, in.p, in.len, o.name, in.name);
    for (const auto& o2 : outs)
      if (&o2 != &o) a.noOverlap(o.p, o.len, o2.p, o2.len, o.name, o2.name);
  }
  deepnode::batchnorm_backward(x, dy, outer, C, inner, mean, var, gamma, eps, training, dx, dgamma, dbeta);
  return info.Env().Undefined();
}

// A 64-bit generator key from two numbers, each an integer in [0, 2^32).
uint64_t keyArg(const Args& a, const Napi::CallbackInfo& info, const char* fn, size_t i) {
  uint64_t parts[2];
  for (size_t k = 0; k < 2; ++k) {
    Napi::Value v = info[i + k];
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1.0;
    if (!(d >= 0) || d != std::floor(d) || d > 4294967295.0)
      Fail(a.env(), "ERR_NATIVE_VALUE", std::string(fn) + ": key words must be integers in [0, 2^32)");
    parts[k] = static_cast<uint64_t>(d);
  }
  return (parts[0] << 32) | parts[1];
}

Napi::Value BernoulliMask(const Napi::CallbackInfo& info) {
  Args a(info, "bernoulliMask", 6);
  int64_t n = 0;
  float* out = a.f32any(0, "out", &n);
  const uint64_t key = keyArg(a, info, "bernoulliMask", 1);
  if (!info[3].IsNumber()) Fail(a.env(), "ERR_NATIVE_TYPE", "bernoulliMask: rate must be a number", true);
  const double rate = info[3].As<Napi::Number>().DoubleValue();
  if (!(rate >= 0.0 && rate <= 1.0))
    Fail(a.env(), "ERR_NATIVE_VALUE", "bernoulliMask: rate must be in [0, 1], received " + std::to_string(rate));
  deepnode::bernoulli_mask(out, n, key, rate, a.num(4, "keepValue"), a.num(5, "dropValue"));
  return info.Env().Undefined();
}

Napi::Value NormalFill(const Napi::CallbackInfo& info) {
  Args a(info, "normalFill", 5);
  int64_t n = 0;
  float* out = a.f32any(0, "out", &n);
  const uint64_t key = keyArg(a, info, "normalFill", 1);
  deepnode::normal_fill(out, n, key, a.num(3, "mean"), a.num(4, "stddev"));
  return info.Env().Undefined();
}

Napi::Value NoiseApply(const Napi::CallbackInfo& info) {
  Args a(info, "noiseApply", 4);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  const float* mul = a.f32opt(1, "mul", n);
  const float* add = a.f32opt(2, "add", n);
  float* y = a.f32(3, "y", n);
  a.noPartialOverlap(y, x, n, "y", "x");
  a.noOverlap(y, n, mul, mul ? n : 0, "y", "mul");
  a.noOverlap(y, n, add, add ? n : 0, "y", "add");
  deepnode::noise_apply(x, mul, add, y, n);
  return info.Env().Undefined();
}

Napi::Value NoiseBackward(const Napi::CallbackInfo& info) {
  Args a(info, "noiseBackward", 3);
  int64_t n = 0;
  const float* dy = a.f32any(0, "dy", &n);
  const float* mul = a.f32opt(1, "mul", n);
  float* dx = a.f32(2, "dx", n);
  a.noOverlap(dx, n, dy, n, "dx", "dy");
  a.noOverlap(dx, n, mul, mul ? n : 0, "dx", "mul");
  deepnode::noise_backward(dy, mul, dx, n);
  return info.Env().Undefined();
}

// ---- end BatchNormalization and the dropout family ----------------------------------------------

// ---- activation layers (activations_ext.h): PReLU, RReLU, general ReLU, softmax over an axis, Mish ----

// An optional Int32Array of exactly `need` elements whose values lie in [0, bound).
const int32_t* ActExtIndex(const Args& a, const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name,
                           int64_t need, int64_t bound) {
  Napi::Value v = info[i];
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    Fail(a.env(), "ERR_NATIVE_TYPE", std::string(fn) + ": " + name + " must be an Int32Array or null", true);
  auto arr = v.As<Napi::Int32Array>();
  const int64_t len = static_cast<int64_t>(arr.ElementLength());
  const int32_t* p = arr.Data();
  if (len != need || (need > 0 && p == nullptr))
    Fail(a.env(), "ERR_NATIVE_SIZE",
         std::string(fn) + ": " + name + " has " + std::to_string(len) + " elements, needs " + std::to_string(need));
  for (int64_t j = 0; j < len; ++j)
    if (p[j] < 0 || p[j] >= bound)
      Fail(a.env(), "ERR_NATIVE_VALUE",
           std::string(fn) + ": " + name + "[" + std::to_string(j) + "] = " + std::to_string(p[j]) +
               " is outside [0, " + std::to_string(bound) + ")");
  return p;
}

// An output of n floats must not share bytes with the alphaIndex Int32Array (a view of the same
// ArrayBuffer): the kernels read the validated indices again after writing the output.
void ActExtNoIndexOverlap(const Args& a, const char* fn, const float* out, int64_t n, const char* outName,
                          const int32_t* idx, int64_t idxLen, const char* idxName = "alphaIndex") {
  if (!out || !idx || n == 0 || idxLen == 0) return;
  const char* o = reinterpret_cast<const char*>(out);
  const char* s = reinterpret_cast<const char*>(idx);
  if (o < s + idxLen * 4 && s < o + n * 4)
    Fail(a.env(), "ERR_NATIVE_OVERLAP", std::string(fn) + ": " + outName + " overlaps " + idxName);
}

// gatherRows(src, rows, per, index | null, count, out): out[r] = src[index[r]] (rows of per floats).
Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  Args a(info, "gatherRows", 6);
  const int64_t rows = a.dim(1, "rows"), per = a.dim(2, "per"), count = a.dim(4, "count");
  const float* src = a.f32(0, "src", rows * per);
  const int32_t* idx = ActExtIndex(a, info, 3, "gatherRows", "index", count, rows);
  if (!idx && count > rows)
    Fail(a.env(), "ERR_NATIVE_SIZE",
         "gatherRows: count " + std::to_string(count) + " exceeds rows " + std::to_string(rows) + " (index is null)");
  float* out = a.f32(5, "out", count * per);
  a.noOverlap(out, count * per, src, rows * per, "out", "src");
  ActExtNoIndexOverlap(a, "gatherRows", out, count * per, "out", idx, idx ? count : 0, "index");
  deepnode::gather_rows(src, per, idx, count, out);
  return info.Env().Undefined();
}

// preluForward(x, alpha, alphaIndex | null, y, batch, sample)
Napi::Value PreluForward(const Napi::CallbackInfo& info) {
  Args a(info, "preluForward", 6);
  const int64_t batch = a.dim(4, "batch"), sample = a.dim(5, "sample"), n = batch * sample;
  const float* x = a.f32(0, "x", n);
  int64_t alphaLen = 0;
  const float* alpha = a.f32any(1, "alpha", &alphaLen);
  const int32_t* idx = ActExtIndex(a, info, 2, "preluForward", "alphaIndex", sample, alphaLen);
  if (!idx && alphaLen < sample)
    Fail(a.env(), "ERR_NATIVE_SIZE",
         "preluForward: alpha has " + std::to_string(alphaLen) + " elements, needs " + std::to_string(sample));
  float* y = a.f32(3, "y", n);
  a.noPartialOverlap(y, x, n, "y", "x");
  a.noOverlap(y, n, alpha, alphaLen, "y", "alpha");
  // The kernel re-reads alphaIndex for every sample: y written over it would redirect later reads.
  ActExtNoIndexOverlap(a, "preluForward", y, n, "y", idx, sample);
  deepnode::prelu_forward(x, alpha, idx, y, batch, sample);
  return info.Env().Undefined();
}

// preluBackward(x, alpha, alphaIndex | null, dy, dx | null, dalpha | null, batch, sample); accumulates.
Napi::Value PreluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "preluBackward", 8);
  const int64_t batch = a.dim(6, "batch"), sample = a.dim(7, "sample"), n = batch * sample;
  const float* x = a.f32(0, "x", n);
  int64_t alphaLen = 0;
  const float* alpha = a.f32any(1, "alpha", &alphaLen);
  const int32_t* idx = ActExtIndex(a, info, 2, "preluBackward", "alphaIndex", sample, alphaLen);
  if (!idx && alphaLen < sample)
    Fail(a.env(), "ERR_NATIVE_SIZE",
         "preluBackward: alpha has " + std::to_string(alphaLen) + " elements, needs " + std::to_string(sample));
  const float* dy = a.f32(3, "dy", n);
  float* dx = a.f32opt(4, "dx", n);
  float* dalpha = a.f32opt(5, "dalpha", alphaLen);
  a.noOverlap(dx, dx ? n : 0, x, n, "dx", "x");
  a.noOverlap(dx, dx ? n : 0, dy, n, "dx", "dy");
  a.noOverlap(dx, dx ? n : 0, alpha, alphaLen, "dx", "alpha");
  a.noOverlap(dalpha, dalpha ? alphaLen : 0, x, n, "dalpha", "x");
  a.noOverlap(dalpha, dalpha ? alphaLen : 0, dy, n, "dalpha", "dy");
  a.noOverlap(dalpha, dalpha ? alphaLen : 0, alpha, alphaLen, "dalpha", "alpha");
  a.noOverlap(dalpha, dalpha ? alphaLen : 0, dx, dx ? n : 0, "dalpha", "dx");
  ActExtNoIndexOverlap(a, "preluBackward", dx, dx ? n : 0, "dx", idx, sample);
  ActExtNoIndexOverlap(a, "preluBackward", dalpha, dalpha ? alphaLen : 0, "dalpha", idx, sample);
  deepnode::prelu_backward(x, alpha, idx, dy, dx, dalpha, batch, sample, alphaLen);
  return info.Env().Undefined();
}

// rreluForwardTrain(x, y, noise, lower, upper, seed)
Napi::Value RreluForwardTrain(const Napi::CallbackInfo& info) {
  Args a(info, "rreluForwardTrain", 6);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  float* y = a.f32(1, "y", n);
  float* noise = a.f32(2, "noise", n);
  const float lower = a.num(3, "lower"), upper = a.num(4, "upper");
  if (!(lower <= upper))
    Fail(a.env(), "ERR_NATIVE_VALUE", "rreluForwardTrain: lower must not exceed upper, received lower=" +
                                          std::to_string(lower) + ", upper=" + std::to_string(upper));
  const int64_t seed = a.dim(5, "seed");
  a.noPartialOverlap(y, x, n, "y", "x");
  a.noOverlap(noise, n, x, n, "noise", "x");
  a.noOverlap(noise, n, y, n, "noise", "y");
  deepnode::rrelu_forward_train(x, y, noise, n, lower, upper, static_cast<uint32_t>(seed));
  return info.Env().Undefined();
}

// rreluBackward(noise, dy, dx); accumulates.
Napi::Value RreluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "rreluBackward", 3);
  int64_t n = 0;
  const float* noise = a.f32any(0, "noise", &n);
  const float* dy = a.f32(1, "dy", n);
  float* dx = a.f32(2, "dx", n);
  a.noOverlap(dx, n, noise, n, "dx", "noise");
  a.noOverlap(dx, n, dy, n, "dx", "dy");
  deepnode::rrelu_backward(noise, dy, dx, n);
  return info.Env().Undefined();
}

// reluGeneralForward(x, y, negativeSlope, threshold, hasMax, maxValue)
Napi::Value ReluGeneralForward(const Napi::CallbackInfo& info) {
  Args a(info, "reluGeneralForward", 6);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  float* y = a.f32(1, "y", n);
  a.noPartialOverlap(y, x, n, "y", "x");
  deepnode::relu_general_forward(x, y, n, a.num(2, "negativeSlope"), a.num(3, "threshold"), a.flag(4, "hasMax"),
                                 a.num(5, "maxValue"));
  return info.Env().Undefined();
}

// reluGeneralBackward(x, dy, dx, negativeSlope, threshold, hasMax, maxValue); accumulates.
Napi::Value ReluGeneralBackward(const Napi::CallbackInfo& info) {
  Args a(info, "reluGeneralBackward", 7);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  const float* dy = a.f32(1, "dy", n);
  float* dx = a.f32(2, "dx", n);
  a.noOverlap(dx, n, x, n, "dx", "x");
  a.noOverlap(dx, n, dy, n, "dx", "dy");
  deepnode::relu_general_backward(x, dy, dx, n, a.num(3, "negativeSlope"), a.num(4, "threshold"), a.flag(5, "hasMax"),
                                  a.num(6, "maxValue"));
  return info.Env().Undefined();
}

// softmaxAxis(x, y, outer, axis, inner)
Napi::Value SoftmaxAxis(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxAxis", 5);
  const int64_t outer = a.dim(2, "outer"), axis = a.dim(3, "axis"), inner = a.dim(4, "inner");
  const int64_t n = volume3(a, "softmaxAxis", outer, axis, inner);  // a plain product of three can overflow
  const float* x = a.f32(0, "x", n);
  float* y = a.f32(1, "y", n);
  a.noPartialOverlap(y, x, n, "y", "x");
  deepnode::softmax_axis(x, y, outer, axis, inner);
  return info.Env().Undefined();
}

// softmaxAxisBackward(y, dy, dx, outer, axis, inner); accumulates.
Napi::Value SoftmaxAxisBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxAxisBackward", 6);
  const int64_t outer = a.dim(3, "outer"), axis = a.dim(4, "axis"), inner = a.dim(5, "inner");
  const int64_t n = volume3(a, "softmaxAxisBackward", outer, axis, inner);  // a plain product of three can overflow
  const float* y = a.f32(0, "y", n);
  const float* dy = a.f32(1, "dy", n);
  float* dx = a.f32(2, "dx", n);
  a.noOverlap(dx, n, y, n, "dx", "y");
  a.noOverlap(dx, n, dy, n, "dx", "dy");
  deepnode::softmax_axis_backward(y, dy, dx, outer, axis, inner);
  return info.Env().Undefined();
}

// mishForward(x, y)
Napi::Value MishForward(const Napi::CallbackInfo& info) {
  Args a(info, "mishForward", 2);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  float* y = a.f32(1, "y", n);
  a.noPartialOverlap(y, x, n, "y", "x");
  deepnode::mish_forward(x, y, n);
  return info.Env().Undefined();
}

// mishBackward(x, dy, dx); accumulates.
Napi::Value MishBackward(const Napi::CallbackInfo& info) {
  Args a(info, "mishBackward", 3);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  const float* dy = a.f32(1, "dy", n);
  float* dx = a.f32(2, "dx", n);
  a.noOverlap(dx, n, x, n, "dx", "x");
  a.noOverlap(dx, n, dy, n, "dx", "dy");
  deepnode::mish_backward(x, dy, dx, n);
  return info.Env().Undefined();
}

Napi::Value SumAbs(const Napi::CallbackInfo& info) {
  Args a(info, "sumAbs", 1);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  return Napi::Number::New(info.Env(), deepnode::sum_abs(x, n));
}

// ---- end activation layers ----

// ---- optimizers (native/optimizers.h): update steps and gradient clipping ----
// Every buffer of one step is n elements and no two may overlap: a kernel reads each element of
// every buffer once and writes it back, so any aliasing would mix two different quantities.
struct OptBuffer {
  const float* p;
  const char* name;
};

// A decay rate kept in double (the kernel forms 1 - rate before rounding); validated by Args::num.
double optRate(const Args& a, const Napi::CallbackInfo& info, size_t i, const char* name) {
  a.num(i, name);
  return info[i].As<Napi::Number>().DoubleValue();
}

void optDistinct(const Args& a, int64_t n, std::initializer_list<OptBuffer> bufs) {
  for (auto i = bufs.begin(); i != bufs.end(); ++i)
    for (auto j = i + 1; j != bufs.end(); ++j) a.noOverlap(i->p, i->p ? n : 0, j->p, j->p ? n : 0, i->name, j->name);
}

Napi::Value SgdUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "sgdUpdate", 7);
  int64_t n = 0;
  float* w = a.f32any(0, "param", &n);
  const float* g = a.f32(1, "grad", n);
  float* vel = a.f32opt(2, "velocity", n);
  optDistinct(a, n, {{w, "param"}, {g, "grad"}, {vel, "velocity"}});
  deepnode::sgd_update(w, g, vel, n, a.num(3, "lr"), a.num(4, "momentum"), a.flag(5, "nesterov"), a.num(6, "decay"));
  return info.Env().Undefined();
}

Napi::Value AdagradUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "adagradUpdate", 6);
  int64_t n = 0;
  float* w = a.f32any(0, "param", &n);
  const float* g = a.f32(1, "grad", n);
  float* acc = a.f32(2, "accumulator", n);
  optDistinct(a, n, {{w, "param"}, {g, "grad"}, {acc, "accumulator"}});
  deepnode::adagrad_update(w, g, acc, n, a.num(3, "lr"), a.num(4, "epsilon"), a.num(5, "decay"));
  return info.Env().Undefined();
}

Napi::Value RmspropUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "rmspropUpdate", 10);
  int64_t n = 0;
  float* w = a.f32any(0, "param", &n);
  const float* g = a.f32(1, "grad", n);
  float* v = a.f32(2, "velocity", n);
  float* mom = a.f32opt(3, "momentum", n);
  float* avg = a.f32opt(4, "averageGradient", n);
  optDistinct(a, n, {{w, "param"}, {g, "grad"}, {v, "velocity"}, {mom, "momentum"}, {avg, "averageGradient"}});
  deepnode::rmsprop_update(w, g, v, mom, avg, n, a.num(5, "lr"), optRate(a, info, 6, "rho"), a.num(7, "momentum"),
                           a.num(8, "epsilon"), a.num(9, "decay"));
  return info.Env().Undefined();
}

Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "adamUpdate", 10);
  int64_t n = 0;
  float* w = a.f32any(0, "param", &n);
  const float* g = a.f32(1, "grad", n);
  float* m = a.f32(2, "momentum", n);
  float* v = a.f32(3, "velocity", n);
  float* vhat = a.f32opt(4, "velocityHat", n);
  optDistinct(a, n, {{w, "param"}, {g, "grad"}, {m, "momentum"}, {v, "velocity"}, {vhat, "velocityHat"}});
  deepnode::adam_update(w, g, m, v, vhat, n, a.num(5, "alpha"), optRate(a, info, 6, "beta1"),
                        optRate(a, info, 7, "beta2"), a.num(8, "epsilon"), a.num(9, "decay"));
  return info.Env().Undefined();
}

Napi::Value AdamaxUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "adamaxUpdate", 9);
  int64_t n = 0;
  float* w = a.f32any(0, "param", &n);
  const float* g = a.f32(1, "grad", n);
  float* m = a.f32(2, "momentum", n);
  float* u = a.f32(3, "norm", n);
  optDistinct(a, n, {{w, "param"}, {g, "grad"}, {m, "momentum"}, {u, "norm"}});
  deepnode::adamax_update(w, g, m, u, n, a.num(4, "lrHat"), optRate(a, info, 5, "beta1"), optRate(a, info, 6, "beta2"),
                          a.num(7, "epsilon"), a.num(8, "decay"));
  return info.Env().Undefined();
}

Napi::Value NadamUpdate(const Napi::CallbackInfo& info) {
  Args a(info, "nadamUpdate", 12);
  int64_t n = 0;
  float* w = a.f32any(0, "param", &n);
  const float* g = a.f32(1, "grad", n);
  float* m = a.f32(2, "momentum", n);
  float* v = a.f32(3, "velocity", n);
  optDistinct(a, n, {{w, "param"}, {g, "grad"}, {m, "momentum"}, {v, "velocity"}});
  deepnode::nadam_update(w, g, m, v, n, a.num(4, "lr"), optRate(a, info, 5, "beta1"), optRate(a, info, 6, "beta2"),
                         a.num(7, "epsilon"), a.num(8, "cm"), a.num(9, "cg"), a.num(10, "cv"), a.num(11, "decay"));
  return info.Env().Undefined();
}

Napi::Value ClipByValue(const Napi::CallbackInfo& info) {
  Args a(info, "clipByValue", 2);
  int64_t n = 0;
  float* g = a.f32any(0, "grad", &n);
  deepnode::clip_by_value(g, n, a.num(1, "clipvalue"));
  return info.Env().Undefined();
}

Napi::Value ClipByNorm(const Napi::CallbackInfo& info) {
  Args a(info, "clipByNorm", 2);
  int64_t n = 0;
  float* g = a.f32any(0, "grad", &n);
  return Napi::Number::New(info.Env(), deepnode::clip_by_norm(g, n, a.num(1, "clipnorm")));
}
// ---- end optimizers ----

// ---- quantized inference (quantized.h): float16 / int8 weights and their products ----
// A typed array of the given type holding at least `need` elements.
template <typename T>
T* QTyped(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* typeName,
          const char* fn, const char* name, int64_t need, int64_t* lenOut = nullptr) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    Fail(info.Env(), "ERR_NATIVE_TYPE", std::string(fn) + ": " + name + " must be a " + typeName, true);
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  T* p = reinterpret_cast<T*>(static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset());
  int64_t len = static_cast<int64_t>(t.ElementLength());
  if (t.ArrayBuffer().Data() == nullptr) len = 0;
  if (len < need)
    Fail(info.Env(), "ERR_NATIVE_SIZE",
         std::string(fn) + ": " + name + " has " + std::to_string(len) + " elements, needs " + std::to_string(need));
  if (lenOut) *lenOut = len;
  return p;
}

// Output bytes [out, out + outBytes) must not overlap input bytes [in, in + inBytes).
void QNoOverlap(Napi::Env env, const char* fn, const void* out, int64_t outBytes, const void* in, int64_t inBytes,
                const char* outName, const char* inName) {
  if (!out || !in || outBytes == 0 || inBytes == 0) return;
  const char* o = static_cast<const char*>(out);
  const char* s = static_cast<const char*>(in);
  if (o < s + inBytes && s < o + outBytes)
    Fail(env, "ERR_NATIVE_OVERLAP", std::string(fn) + ": " + outName + " overlaps " + inName);
}

deepnode::QPath QPathArg(const Args& a, size_t i) {
  const int64_t p = a.dim(i, "path");
  if (p > 3) Fail(a.env(), "ERR_NATIVE_VALUE", "quantized path must be 0..3, received " + std::to_string(p));
  return static_cast<deepnode::QPath>(p);
}

Napi::Value F32ToF16(const Napi::CallbackInfo& info) {
  Args a(info, "f32ToF16", 2);
  int64_t n = 0;
  const float* x = a.f32any(0, "x", &n);
  uint16_t* y = QTyped<uint16_t>(info, 1, napi_uint16_array, "Uint16Array", "f32ToF16", "y", n);
  QNoOverlap(info.Env(), "f32ToF16", y, n * 2, x, n * 4, "y", "x");
  deepnode::f32_to_f16(x, y, n);
  return info.Env().Undefined();
}

Napi::Value F16ToF32(const Napi::CallbackInfo& info) {
  Args a(info, "f16ToF32", 2);
  int64_t n = 0;
  const uint16_t* x = QTyped<uint16_t>(info, 0, napi_uint16_array, "Uint16Array", "f16ToF32", "x", 0, &n);
  float* y = a.f32(1, "y", n);
  QNoOverlap(info.Env(), "f16ToF32", y, n * 4, x, n * 2, "y", "x");
  deepnode::f16_to_f32(x, y, n);
  return info.Env().Undefined();
}

Napi::Value QuantizeInt8(const Napi::CallbackInfo& info) {
  Args a(info, "quantizeInt8", 5);
  const int64_t k = a.dim(1, "k"), n = a.dim(2, "n");
  const float* W = a.f32(0, "W", k * n);
  int8_t* q = QTyped<int8_t>(info, 3, napi_int8_array, "Int8Array", "quantizeInt8", "q", k * n);
  float* scales = a.f32(4, "scales", n);
  QNoOverlap(info.Env(), "quantizeInt8", q, k * n, W, k * n * 4, "q", "W");
  QNoOverlap(info.Env(), "quantizeInt8", scales, n * 4, W, k * n * 4, "scales", "W");
  QNoOverlap(info.Env(), "quantizeInt8", scales, n * 4, q, k * n, "scales", "q");
  deepnode::quantize_int8(W, k, n, q, scales);
  return info.Env().Undefined();
}

Napi::Value GemmF16(const Napi::CallbackInfo& info) {
  Args a(info, "gemmF16", 8);
  const int64_t m = a.dim(0, "m"), n = a.dim(1, "n"), k = a.dim(2, "k");
  const float* X = a.f32(3, "X", m * k);
  const uint16_t* W = QTyped<uint16_t>(info, 4, napi_uint16_array, "Uint16Array", "gemmF16", "W", k * n);
  const float* bias = a.f32opt(5, "bias", n);
  float* Y = a.f32(6, "Y", m * n);
  const deepnode::QPath path = QPathArg(a, 7);
  a.noOverlap(Y, m * n, X, m * k, "Y", "X");
  a.noOverlap(Y, m * n, bias, bias ? n : 0, "Y", "bias");
  QNoOverlap(info.Env(), "gemmF16", Y, m * n * 4, W, k * n * 2, "Y", "W");
  deepnode::gemm_f16(m, n, k, X, W, bias, Y, path);
  return info.Env().Undefined();
}

Napi::Value GemmI8(const Napi::CallbackInfo& info) {
  Args a(info, "gemmI8", 9);
  const int64_t m = a.dim(0, "m"), n = a.dim(1, "n"), k = a.dim(2, "k");
  const float* X = a.f32(3, "X", m * k);
  const int8_t* q = QTyped<int8_t>(info, 4, napi_int8_array, "Int8Array", "gemmI8", "q", k * n);
  const float* scales = a.f32(5, "scales", n);
  const float* bias = a.f32opt(6, "bias", n);
  float* Y = a.f32(7, "Y", m * n);
  const deepnode::QPath path = QPathArg(a, 8);
  a.noOverlap(Y, m * n, X, m * k, "Y", "X");
  a.noOverlap(Y, m * n, bias, bias ? n : 0, "Y", "bias");
  a.noOverlap(Y, m * n, scales, n, "Y", "scales");
  QNoOverlap(info.Env(), "gemmI8", Y, m * n * 4, q, k * n, "Y", "q");
  deepnode::gemm_i8(m, n, k, X, q, scales, bias, Y, path);
  return info.Env().Undefined();
}

Napi::Value QuantizedIsa(const Napi::CallbackInfo& info) {
  Args a(info, "quantizedIsa", 0);
  return Napi::String::New(info.Env(), deepnode::quantized_isa());
}
// ---- end quantized inference ----

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
// The addon's baseline code is compiled for x86-64-v2 (SSSE3, SSE4.1/4.2, POPCNT): an older x86-64
// CPU (Core 2, Athlon 64) would die of SIGILL at the first call into it. This check is compiled
// without those extensions, so on such a CPU loading fails with an error instead (the Core 2 run
// of scripts/check-old-cpus.sh).
__attribute__((target("no-ssse3,no-sse4.1,no-sse4.2,no-popcnt"), noinline)) bool cpu_below_baseline() {
  __builtin_cpu_init();
  return !(__builtin_cpu_supports("ssse3") && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("sse4.2") &&
           __builtin_cpu_supports("popcnt"));
}
#else
bool cpu_below_baseline() { return false; }
#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (cpu_below_baseline()) {
    // Plain N-API with literal strings: nothing here may use the extensions the CPU lacks.
    napi_throw_error(env, "ERR_NATIVE",
                     "deepnode: this CPU lacks SSE4.2/POPCNT (x86-64-v2), which deepnode's native code requires "
                     "(any x86-64 CPU from 2009 on has them)");
    return exports;
  }
  ::RegisterTrainPlan(env, exports);
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("activationForward", Napi::Function::New(env, ActivationForward, "activationForward"));
  exports.Set("activationBackward", Napi::Function::New(env, ActivationBackward, "activationBackward"));
  exports.Set("activationBackwardBias", Napi::Function::New(env, ActivationBackwardBias, "activationBackwardBias"));
  exports.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
  exports.Set("logSoftmax", Napi::Function::New(env, LogSoftmax, "logSoftmax"));
  exports.Set("softmaxBackward", Napi::Function::New(env, SoftmaxBackward, "softmaxBackward"));
  exports.Set("sparseSoftmaxXent", Napi::Function::New(env, SparseSoftmaxXent, "sparseSoftmaxXent"));
  exports.Set("softmaxXent", Napi::Function::New(env, SoftmaxXent, "softmaxXent"));
  exports.Set("sigmoidBce", Napi::Function::New(env, SigmoidBce, "sigmoidBce"));
  exports.Set("bce", Napi::Function::New(env, Bce, "bce"));
  exports.Set("categoricalXent", Napi::Function::New(env, CategoricalXent, "categoricalXent"));
  exports.Set("squaredError", Napi::Function::New(env, SquaredError, "squaredError"));
  exports.Set("columnSum", Napi::Function::New(env, ColumnSum, "columnSum"));
  exports.Set("sum", Napi::Function::New(env, Sum, "sum"));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares, "sumSquares"));
  exports.Set("firstNonFinite", Napi::Function::New(env, FirstNonFinite, "firstNonFinite"));
  exports.Set("axpy", Napi::Function::New(env, Axpy, "axpy"));
  exports.Set("gatherRows", Napi::Function::New(env, GatherRows, "gatherRows"));
  exports.Set("scale", Napi::Function::New(env, Scale, "scale"));
  exports.Set("sparseArgmaxMatches", Napi::Function::New(env, SparseArgmaxMatches, "sparseArgmaxMatches"));
  exports.Set("argmaxMatches", Napi::Function::New(env, ArgmaxMatches, "argmaxMatches"));
  exports.Set("binaryMatches", Napi::Function::New(env, BinaryMatches, "binaryMatches"));
  exports.Set("sgdStep", Napi::Function::New(env, SgdStep, "sgdStep"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  // optimizers
  exports.Set("sgdUpdate", Napi::Function::New(env, SgdUpdate, "sgdUpdate"));
  exports.Set("adagradUpdate", Napi::Function::New(env, AdagradUpdate, "adagradUpdate"));
  exports.Set("rmspropUpdate", Napi::Function::New(env, RmspropUpdate, "rmspropUpdate"));
  exports.Set("adamUpdate", Napi::Function::New(env, AdamUpdate, "adamUpdate"));
  exports.Set("adamaxUpdate", Napi::Function::New(env, AdamaxUpdate, "adamaxUpdate"));
  exports.Set("nadamUpdate", Napi::Function::New(env, NadamUpdate, "nadamUpdate"));
  exports.Set("clipByValue", Napi::Function::New(env, ClipByValue, "clipByValue"));
  exports.Set("clipByNorm", Napi::Function::New(env, ClipByNorm, "clipByNorm"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  // BatchNormalization and the dropout family
  exports.Set("batchnormForward", Napi::Function::New(env, BatchnormForward, "batchnormForward"));
  exports.Set("batchnormBackward", Napi::Function::New(env, BatchnormBackward, "batchnormBackward"));
  exports.Set("bernoulliMask", Napi::Function::New(env, BernoulliMask, "bernoulliMask"));
  exports.Set("normalFill", Napi::Function::New(env, NormalFill, "normalFill"));
  exports.Set("noiseApply", Napi::Function::New(env, NoiseApply, "noiseApply"));
  exports.Set("noiseBackward", Napi::Function::New(env, NoiseBackward, "noiseBackward"));
  // activation layers (activations_ext.h)
  exports.Set("preluForward", Napi::Function::New(env, PreluForward, "preluForward"));
  exports.Set("preluBackward", Napi::Function::New(env, PreluBackward, "preluBackward"));
  exports.Set("rreluForwardTrain", Napi::Function::New(env, RreluForwardTrain, "rreluForwardTrain"));
  exports.Set("rreluBackward", Napi::Function::New(env, RreluBackward, "rreluBackward"));
  exports.Set("reluGeneralForward", Napi::Function::New(env, ReluGeneralForward, "reluGeneralForward"));
  exports.Set("reluGeneralBackward", Napi::Function::New(env, ReluGeneralBackward, "reluGeneralBackward"));
  exports.Set("softmaxAxis", Napi::Function::New(env, SoftmaxAxis, "softmaxAxis"));
  exports.Set("softmaxAxisBackward", Napi::Function::New(env, SoftmaxAxisBackward, "softmaxAxisBackward"));
  exports.Set("mishForward", Napi::Function::New(env, MishForward, "mishForward"));
  exports.Set("mishBackward", Napi::Function::New(env, MishBackward, "mishBackward"));
  exports.Set("sumAbs", Napi::Function::New(env, SumAbs, "sumAbs"));
  exports.Set("addSign", Napi::Function::New(env, AddSign, "addSign"));
  exports.Set("constrainColumnNorms", Napi::Function::New(env, ConstrainColumnNorms, "constrainColumnNorms"));
  // end activation layers
  // quantized inference (quantized.h)
  exports.Set("f32ToF16", Napi::Function::New(env, F32ToF16, "f32ToF16"));
  exports.Set("f16ToF32", Napi::Function::New(env, F16ToF32, "f16ToF32"));
  exports.Set("quantizeInt8", Napi::Function::New(env, QuantizeInt8, "quantizeInt8"));
  exports.Set("gemmF16", Napi::Function::New(env, GemmF16, "gemmF16"));
  exports.Set("gemmI8", Napi::Function::New(env, GemmI8, "gemmI8"));
  exports.Set("quantizedIsa", Napi::Function::New(env, QuantizedIsa, "quantizedIsa"));
  // end quantized inference
  return exports;
}

}  // namespace

NODE_API_MODULE(deepnode, Init)
