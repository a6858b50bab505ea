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

  float num(size_t i, const char* name) const {
    Napi::Value v = info_[i];
    if (!v.IsNumber()) Fail(env(), "ERR_NATIVE_TYPE", std::string(fn_) + ": " + name + " must be a number", true);
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d))
      Fail(env(), "ERR_NATIVE_VALUE", std::string(fn_) + ": " + name + " must be finite, received " + std::to_string(d));
    return static_cast<float>(d);
  }

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

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Args a(info, "gemm", 14);
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
  deepnode::sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias);
  return info.Env().Undefined();
}

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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("activationForward", Napi::Function::New(env, ActivationForward, "activationForward"));
  exports.Set("activationBackward", Napi::Function::New(env, ActivationBackward, "activationBackward"));
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
  exports.Set("scale", Napi::Function::New(env, Scale, "scale"));
  exports.Set("sparseArgmaxMatches", Napi::Function::New(env, SparseArgmaxMatches, "sparseArgmaxMatches"));
  exports.Set("argmaxMatches", Napi::Function::New(env, ArgmaxMatches, "argmaxMatches"));
  exports.Set("binaryMatches", Napi::Function::New(env, BinaryMatches, "binaryMatches"));
  exports.Set("sgdStep", Napi::Function::New(env, SgdStep, "sgdStep"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  return exports;
}

}  // namespace

NODE_API_MODULE(deepnode, Init)
