// The N-API side of TrainPlan (train_plan.h): trainPlanCreate(layers, maxRows, loss) -> handle and
// trainPlanStep(handle, x, targets, rows, fused, lr, pred, activatePred, keys) -> mean loss.
//
// The plan keeps raw pointers into Float32Arrays the JS side owns (weights, gradients, moving
// statistics). The handle holds a reference to each of those arrays, so none can be collected
// while the plan lives, and every step re-reads each array's data pointer and length before any
// kernel runs: a detached, shrunk or replaced buffer fails the step with ERR_PLAN_STALE instead of
// letting a kernel touch freed memory.
#include <napi.h>

#include <cmath>
#include <initializer_list>
#include <utility>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "train_plan.h"

namespace {

using deepnode::Act;
using deepnode::PlanLayer;

[[noreturn]] void Fail(Napi::Env env, const char* code, const std::string& message, bool typeError = false) {
  Napi::Error err = typeError ? Napi::Error(Napi::TypeError::New(env, message)) : Napi::Error(Napi::RangeError::New(env, message));
  err.Set("code", Napi::String::New(env, code));
  throw err;
}

// Distinguishes our handles from any other External.
const napi_type_tag kPlanTag = {0x6465'6570'6e6f'6465ULL, 0x7472'6169'6e70'6c61ULL};

struct Held {
  napi_ref ref;
  float* data;
  int64_t need;  // elements the plan may touch
};

struct PlanHandle {
  deepnode::TrainPlan plan;
  std::vector<Held> held;
  std::vector<uint64_t> keys;  // a call's noise keys (kept: no allocation per step)
  PlanHandle(std::vector<PlanLayer> layers, int64_t max_rows, deepnode::PlanLoss loss)
      : plan(std::move(layers), max_rows, loss) {}
};

class Spec {
 public:
  Spec(Napi::Env env, Napi::Object o, size_t index) : env_(env), o_(o), where_("trainPlanCreate: layers[" + std::to_string(index) + "]") {}

  int64_t dim(const char* key) const {
    Napi::Value v = o_.Get(key);
    if (!v.IsNumber()) Fail(env_, "ERR_NATIVE_TYPE", where_ + "." + key + " must be a number", true);
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 1) || d != std::floor(d) || d > 2147483647.0)
      Fail(env_, "ERR_NATIVE_VALUE", where_ + "." + key + " must be an integer in [1, 2^31), received " + std::to_string(d));
    return static_cast<int64_t>(d);
  }

  double num(const char* key) const {
    Napi::Value v = o_.Get(key);
    if (!v.IsNumber()) Fail(env_, "ERR_NATIVE_TYPE", where_ + "." + key + " must be a number", true);
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) Fail(env_, "ERR_NATIVE_VALUE", where_ + "." + key + " must be finite, received " + std::to_string(d));
    return d;
  }

  bool flag(const char* key) const {
    Napi::Value v = o_.Get(key);
    if (!v.IsBoolean()) Fail(env_, "ERR_NATIVE_TYPE", where_ + "." + key + " must be a boolean", true);
    return v.As<Napi::Boolean>().Value();
  }

  // A weight penalty from `<prefix>L1` and `<prefix>L2`: each a non-negative finite factor, or
  // null / absent for no such term.
  deepnode::PlanPenalty penalty(const std::string& prefix) const {
    deepnode::PlanPenalty p;
    const auto term = [&](const std::string& key, bool* has, float* factor) {
      Napi::Value v = o_.Get(key);
      if (v.IsNull() || v.IsUndefined()) return;
      if (!v.IsNumber()) Fail(env_, "ERR_NATIVE_TYPE", where_ + "." + key + " must be a number or null", true);
      const double d = v.As<Napi::Number>().DoubleValue();
      if (!(d >= 0) || !std::isfinite(d))
        Fail(env_, "ERR_NATIVE_VALUE", where_ + "." + key + " must be a non-negative finite number, received " + std::to_string(d));
      *has = true;
      *factor = static_cast<float>(d);
    };
    term(prefix + "L1", &p.has_l1, &p.l1);
    term(prefix + "L2", &p.has_l2, &p.l2);
    return p;
  }

  std::string str(const char* key) const {
    Napi::Value v = o_.Get(key);
    if (!v.IsString()) Fail(env_, "ERR_NATIVE_TYPE", where_ + "." + key + " must be a string", true);
    return v.As<Napi::String>().Utf8Value();
  }

  // A Float32Array of at least `need` elements (or null when optional), remembered in `held`.
  float* array(const char* key, int64_t need, bool optional, std::vector<Held>& held) const {
    Napi::Value v = o_.Get(key);
    if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      Fail(env_, "ERR_NATIVE_TYPE", where_ + "." + key + " must be a Float32Array", true);
    auto a = v.As<Napi::Float32Array>();
    float* p = a.Data();
    const int64_t len = p == nullptr ? 0 : static_cast<int64_t>(a.ElementLength());
    if (len < need)
      Fail(env_, "ERR_NATIVE_SIZE", where_ + "." + key + " has " + std::to_string(len) + " elements, needs " + std::to_string(need));
    napi_ref ref = nullptr;
    if (napi_create_reference(env_, v, 1, &ref) != napi_ok) Fail(env_, "ERR_NATIVE_ALLOC", "trainPlanCreate: cannot hold " + where_ + "." + key);
    held.push_back({ref, p, need});
    return p;
  }

 private:
  Napi::Env env_;
  Napi::Object o_;
  std::string where_;
};

void ReleaseHeld(napi_env env, std::vector<Held>& held) {
  for (Held& h : held) napi_delete_reference(env, h.ref);
  held.clear();
}

void FinalizePlan(napi_env env, void* data, void*) {
  auto* handle = static_cast<PlanHandle*>(data);
  ReleaseHeld(env, handle->held);
  delete handle;
}

Napi::Value TrainPlanCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3) Fail(env, "ERR_NATIVE_ARGS", "trainPlanCreate: expected 3 arguments, received " + std::to_string(info.Length()), true);
  if (!info[0].IsArray()) Fail(env, "ERR_NATIVE_TYPE", "trainPlanCreate: layers must be an array", true);
  if (!info[1].IsNumber() || !info[2].IsNumber()) Fail(env, "ERR_NATIVE_TYPE", "trainPlanCreate: maxRows and loss must be numbers", true);
  const double max_rows = info[1].As<Napi::Number>().DoubleValue();
  if (!(max_rows >= 1) || max_rows != std::floor(max_rows) || max_rows > 1048576.0)
    Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: maxRows must be an integer in [1, 2^20], received " + std::to_string(max_rows));
  const double loss = info[2].As<Napi::Number>().DoubleValue();
  if (!(loss >= 0.0 && loss <= 3.0) || loss != std::floor(loss)) Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: unknown loss id " + std::to_string(loss));
  Napi::Array specs = info[0].As<Napi::Array>();
  std::vector<PlanLayer> layers;
  std::vector<Held> held;
  try {
    for (uint32_t i = 0; i < specs.Length(); ++i) {
      Napi::Value sv = specs.Get(i);
      if (!sv.IsObject()) Fail(env, "ERR_NATIVE_TYPE", "trainPlanCreate: layers[" + std::to_string(i) + "] must be an object", true);
      Spec s(env, sv.As<Napi::Object>(), i);
      PlanLayer l;
      const std::string kind = s.str("kind");
      if (kind == "dense") {
        deepnode::PlanDense& d = l.dense;
        d.in = s.dim("in");
        d.out = s.dim("out");
        if (d.in * d.out > (int64_t(1) << 31)) Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: a kernel of more than 2^31 elements");
        const double act = s.num("act");
        if (!(act >= 0) || act >= static_cast<double>(Act::Count) || act != std::floor(act))
          Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: unknown activation id " + std::to_string(act));
        d.act = static_cast<Act>(static_cast<int32_t>(act));
        d.alpha = static_cast<float>(s.num("alpha"));
        d.train_kernel = s.flag("trainKernel");
        d.train_bias = s.flag("trainBias");
        d.fuse_kernel = s.flag("fuseKernel");
        d.fuse_bias = s.flag("fuseBias");
        d.kernel = s.array("kernel", d.in * d.out, false, held);
        d.bias = s.array("bias", d.out, true, held);
        if (d.bias == nullptr && d.train_bias) Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: trainBias without a bias");
        d.kernel_grad = s.array("kernelGrad", d.in * d.out, !d.train_kernel, held);
        d.bias_grad = s.array("biasGrad", d.out, !d.train_bias, held);
        d.kernel_penalty = s.penalty("kernel");
        d.bias_penalty = s.penalty("bias");
      } else if (kind == "prelu") {
        l.kind = deepnode::PlanKind::PReLU;
        l.prelu.C = s.dim("C");
        l.prelu.alpha = s.array("alpha", l.prelu.C, false, held);
        l.prelu.alpha_grad = s.array("alphaGrad", l.prelu.C, true, held);
        l.prelu.penalty = s.penalty("alpha");
        if (l.prelu.penalty.any() && l.prelu.alpha_grad == nullptr)
          Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: a penalty on slopes that do not train");
      } else if (kind == "act") {
        l.kind = deepnode::PlanKind::Act;
        l.act.C = s.dim("C");
        const double act = s.num("act");
        if (!(act >= 1) || act >= static_cast<double>(Act::Count) || act != std::floor(act))
          Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: unknown or linear activation id " + std::to_string(act));
        l.act.act = static_cast<Act>(static_cast<int32_t>(act));
        l.act.alpha = static_cast<float>(s.num("alpha"));
      } else if (kind == "noise") {
        l.kind = deepnode::PlanKind::Noise;
        deepnode::PlanNoise& z = l.noise;
        z.C = s.dim("C");
        const std::string dist = s.str("dist");
        if (dist == "bernoulli") {
          z.dist = deepnode::NoiseDist::Bernoulli;
          z.rate = s.num("rate");
          if (!(z.rate >= 0.0 && z.rate < 1.0)) Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: rate must be in [0, 1), received " + std::to_string(z.rate));
          z.mul_keep = static_cast<float>(s.num("mulKeep"));
          z.mul_drop = static_cast<float>(s.num("mulDrop"));
          z.has_add = s.flag("hasAdd");
          if (z.has_add) {
            z.add_keep = static_cast<float>(s.num("addKeep"));
            z.add_drop = static_cast<float>(s.num("addDrop"));
          }
        } else if (dist == "normalMul" || dist == "normalAdd") {
          z.dist = dist == "normalMul" ? deepnode::NoiseDist::NormalMul : deepnode::NoiseDist::NormalAdd;
          z.stddev = static_cast<float>(s.num("stddev"));
          if (!(z.stddev >= 0.0f)) Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: stddev must be non-negative, received " + std::to_string(z.stddev));
        } else {
          Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: dist must be 'bernoulli', 'normalMul' or 'normalAdd', received '" + dist + "'");
        }
      } else if (kind == "batchnorm") {
        l.kind = deepnode::PlanKind::BatchNorm;
        deepnode::PlanBatchNorm& b = l.bn;
        b.C = s.dim("C");
        b.momentum = s.num("momentum");
        b.eps = static_cast<float>(s.num("epsilon"));
        if (!(b.eps > 0)) Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: epsilon must be positive");
        b.batch_stats = s.flag("batchStats");
        b.gamma = s.array("gamma", b.C, true, held);
        b.beta = s.array("beta", b.C, true, held);
        b.moving_mean = s.array("movingMean", b.C, false, held);
        b.moving_var = s.array("movingVariance", b.C, false, held);
        b.gamma_grad = s.array("gammaGrad", b.C, true, held);
        b.beta_grad = s.array("betaGrad", b.C, true, held);
        b.gamma_penalty = s.penalty("gamma");
        b.beta_penalty = s.penalty("beta");
        if ((b.gamma_grad != nullptr && b.gamma == nullptr) || (b.beta_grad != nullptr && b.beta == nullptr))
          Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: a gradient for an absent gamma or beta");
      } else {
        Fail(env, "ERR_NATIVE_VALUE", "trainPlanCreate: layers[" + std::to_string(i) + "].kind must be 'dense', 'batchnorm', 'noise', 'act' or 'prelu', received '" + kind + "'");
      }
      layers.push_back(l);
    }
    auto* handle = new PlanHandle(std::move(layers), static_cast<int64_t>(max_rows), static_cast<deepnode::PlanLoss>(static_cast<int32_t>(loss)));
    handle->held = std::move(held);
    held.clear();
    napi_value ext;
    if (napi_create_external(env, handle, FinalizePlan, nullptr, &ext) != napi_ok) {
      ReleaseHeld(env, handle->held);
      delete handle;
      Fail(env, "ERR_NATIVE_ALLOC", "trainPlanCreate: cannot create the plan handle");
    }
    napi_type_tag_object(env, ext, &kPlanTag);
    return Napi::Value(env, ext);
  } catch (const std::invalid_argument& e) {
    ReleaseHeld(env, held);
    Fail(env, "ERR_NATIVE_VALUE", std::string("trainPlanCreate: ") + e.what());
  } catch (const std::bad_alloc&) {
    ReleaseHeld(env, held);
    Fail(env, "ERR_NATIVE_ALLOC", "trainPlanCreate: out of memory for the plan's workspace");
  } catch (...) {
    ReleaseHeld(env, held);
    throw;
  }
}

// The call's argument count, and its first argument: a handle made by trainPlanCreate.
PlanHandle* PlanArg(const Napi::CallbackInfo& info, const char* fn, size_t count) {
  Napi::Env env = info.Env();
  if (info.Length() != count)
    Fail(env, "ERR_NATIVE_ARGS", std::string(fn) + ": expected " + std::to_string(count) + " arguments, received " + std::to_string(info.Length()), true);
  bool tagged = false;
  if (info[0].Type() != napi_external || napi_check_object_type_tag(env, info[0], &kPlanTag, &tagged) != napi_ok || !tagged)
    Fail(env, "ERR_NATIVE_TYPE", std::string(fn) + ": plan must be a handle from trainPlanCreate", true);
  return static_cast<PlanHandle*>(info[0].As<Napi::External<PlanHandle>>().Data());
}

// Argument i of a call: a Float32Array of at least `need` elements (or null when optional).
float* F32Arg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, int64_t need, bool optional) {
  if (optional && (info[i].IsNull() || info[i].IsUndefined())) return nullptr;
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    Fail(info.Env(), "ERR_NATIVE_TYPE", std::string(fn) + ": " + name + " must be a Float32Array", true);
  auto a = info[i].As<Napi::Float32Array>();
  float* p = a.Data();
  const int64_t len = p == nullptr ? 0 : static_cast<int64_t>(a.ElementLength());
  if (len < need)
    Fail(info.Env(), "ERR_NATIVE_SIZE", std::string(fn) + ": " + name + " has " + std::to_string(len) + " elements, needs " + std::to_string(need));
  return p;
}

// Argument i: the noise layers' keys for `steps` steps, a Uint32Array of (high, low) word pairs,
// into `out`; null is accepted only when the plan has no noise layer.
void KeysArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const deepnode::TrainPlan& plan, int64_t steps,
             std::vector<uint64_t>& out) {
  out.clear();
  const int64_t need = steps * plan.noise_layers();
  if (info[i].IsNull() || info[i].IsUndefined()) {
    if (need > 0) Fail(info.Env(), "ERR_NATIVE_TYPE", std::string(fn) + ": keys must be a Uint32Array: the plan has noise layers", true);
    return;
  }
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
    Fail(info.Env(), "ERR_NATIVE_TYPE", std::string(fn) + ": keys must be a Uint32Array or null", true);
  auto a = info[i].As<Napi::Uint32Array>();
  const uint32_t* p = a.Data();
  const int64_t len = p == nullptr ? 0 : static_cast<int64_t>(a.ElementLength());
  if (len < 2 * need)
    Fail(info.Env(), "ERR_NATIVE_SIZE", std::string(fn) + ": keys has " + std::to_string(len) + " elements, needs " + std::to_string(2 * need));
  out.resize(static_cast<size_t>(need));
  for (int64_t k = 0; k < need; ++k) out[k] = (static_cast<uint64_t>(p[2 * k]) << 32) | p[2 * k + 1];
}

// Every held array must still be where it was, at least as long: else refuse to run.
void CheckHeld(napi_env env, const PlanHandle& handle, const char* fn) {
  for (const Held& h : handle.held) {
    napi_value v;
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    if (napi_get_reference_value(env, h.ref, &v) != napi_ok || v == nullptr ||
        napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
        data != h.data || static_cast<int64_t>(length) < h.need)
      Fail(env, "ERR_PLAN_STALE", std::string(fn) + ": a weight or gradient buffer of the plan was detached or replaced; make a new plan");
  }
}

// The call's own arrays (pointer, elements) must not share bytes with anything the step writes,
// nor with each other.
using Span = std::pair<const void*, int64_t>;

void CheckApart(napi_env env, const PlanHandle& handle, const char* fn, const Span* spans, size_t count) {
  auto overlaps = [](const Span& a, const float* lo, int64_t n) {
    const float* p = static_cast<const float*>(a.first);
    return p != nullptr && a.second > 0 && n > 0 && p < lo + n && lo < p + a.second;
  };
  for (const Span* a = spans; a != spans + count; ++a) {
    for (const Held& h : handle.held)
      if (overlaps(*a, h.data, h.need)) Fail(env, "ERR_NATIVE_OVERLAP", std::string(fn) + ": an argument overlaps a buffer of the plan");
    for (const Span* b = spans; b != spans + count; ++b)
      if (a != b && a->first != nullptr && b->first != nullptr && overlaps(*a, static_cast<const float*>(b->first), b->second))
        Fail(env, "ERR_NATIVE_OVERLAP", std::string(fn) + ": two arguments overlap");
  }
}

void CheckApart(napi_env env, const PlanHandle& handle, const char* fn, std::initializer_list<Span> spans) {
  CheckApart(env, handle, fn, spans.begin(), spans.size());
}

Napi::Value TrainPlanStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlanHandle* handle = PlanArg(info, "trainPlanStep", 9);
  deepnode::TrainPlan& plan = handle->plan;

  auto f32 = [&](size_t i, const char* name, int64_t need, bool optional) { return F32Arg(info, i, "trainPlanStep", name, need, optional); };
  if (!info[3].IsNumber()) Fail(env, "ERR_NATIVE_TYPE", "trainPlanStep: rows must be a number", true);
  const double rows_d = info[3].As<Napi::Number>().DoubleValue();
  if (!(rows_d >= 1) || rows_d > static_cast<double>(plan.max_rows()) || rows_d != std::floor(rows_d))
    Fail(env, "ERR_NATIVE_VALUE", "trainPlanStep: rows must be an integer in [1, " + std::to_string(plan.max_rows()) + "], received " + std::to_string(rows_d));
  const int64_t rows = static_cast<int64_t>(rows_d);
  if (!info[4].IsBoolean() || !info[7].IsBoolean()) Fail(env, "ERR_NATIVE_TYPE", "trainPlanStep: fused and activatePred must be booleans", true);
  if (!info[5].IsNumber()) Fail(env, "ERR_NATIVE_TYPE", "trainPlanStep: lr must be a number", true);
  const bool fused = info[4].As<Napi::Boolean>().Value();
  const double lr = info[5].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(lr)) Fail(env, "ERR_NATIVE_VALUE", "trainPlanStep: lr must be finite, received " + std::to_string(lr));
  const int64_t classes = plan.classes();
  const float* x = f32(1, "x", rows * plan.in_width(), false);
  const float* targets = f32(2, "targets", rows * plan.target_width(), false);
  float* pred = f32(6, "pred", rows * classes, true);
  const bool activate_pred = info[7].As<Napi::Boolean>().Value();
  std::vector<uint64_t>& keys = handle->keys;
  KeysArg(info, 8, "trainPlanStep", plan, 1, keys);

  CheckHeld(env, *handle, "trainPlanStep");
  CheckApart(env, *handle, "trainPlanStep", {{x, rows * plan.in_width()}, {targets, rows * plan.target_width()},
                                             {pred, pred ? rows * classes : 0}});
  int64_t bad = -1;
  double loss = 0.0;
  try {
    loss = plan.step(x, targets, rows, fused, static_cast<float>(lr), pred, activate_pred, &bad, keys.empty() ? nullptr : keys.data());
  } catch (const std::bad_alloc&) {
    Fail(env, "ERR_NATIVE_ALLOC", "trainPlanStep: out of memory");
  }
  if (bad >= 0)
    Fail(env, "ERR_LABEL", "label at index " + std::to_string(bad) + " is " + std::to_string(targets[bad]) +
                               ", expected an integer class id in [0, " + std::to_string(classes) + ")");
  return Napi::Number::New(env, loss);
}


// Argument i of trainPlanRun: the optimizer's update (train_plan.h PlanUpdate) as { kind, params,
// grads, slots: [3 x Float32Array | null], beta1, beta2, epsilon, momentum, nesterov, scalars:
// Float64Array of steps x kScalars, clip, clipValue, segments: Float64Array of (offset, size)
// pairs, read for clip 2, decaySegments: the same or null }, or null for plain SGD. Returns false
// for null.
bool UpdateArg(const Napi::CallbackInfo& info, size_t i, int64_t steps, deepnode::PlanUpdate* u) {
  Napi::Env env = info.Env();
  if (info[i].IsNull() || info[i].IsUndefined()) return false;
  const std::string where = "trainPlanRun: update";
  if (!info[i].IsObject()) Fail(env, "ERR_NATIVE_TYPE", where + " must be an object or null", true);
  Napi::Object o = info[i].As<Napi::Object>();
  auto number = [&](const char* key) {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) Fail(env, "ERR_NATIVE_TYPE", where + "." + key + " must be a number", true);
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) Fail(env, "ERR_NATIVE_VALUE", where + "." + key + " must be finite, received " + std::to_string(d));
    return d;
  };
  auto f32 = [&](Napi::Value v, const std::string& name, int64_t need, bool optional) -> float* {
    if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      Fail(env, "ERR_NATIVE_TYPE", where + "." + name + (optional ? " must be a Float32Array or null" : " must be a Float32Array"), true);
    auto a = v.As<Napi::Float32Array>();
    const int64_t len = a.Data() == nullptr ? 0 : static_cast<int64_t>(a.ElementLength());
    if (len != need) Fail(env, "ERR_NATIVE_SIZE", where + "." + name + " has " + std::to_string(len) + " elements, needs " + std::to_string(need));
    return a.Data();
  };
  const double kind = number("kind");
  if (kind != std::floor(kind) || kind < 0 || kind > static_cast<double>(deepnode::UpdateKind::Nadam))
    Fail(env, "ERR_NATIVE_VALUE", where + ".kind must be an integer in [0, 5], received " + std::to_string(kind));
  u->kind = static_cast<deepnode::UpdateKind>(static_cast<int32_t>(kind));
  Napi::Value pv = o.Get("params");
  if (!pv.IsTypedArray() || pv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    Fail(env, "ERR_NATIVE_TYPE", where + ".params must be a Float32Array", true);
  u->n = static_cast<int64_t>(pv.As<Napi::Float32Array>().ElementLength());
  if (u->n < 1) Fail(env, "ERR_NATIVE_SIZE", where + ".params is empty");
  u->params = f32(pv, "params", u->n, false);
  u->grads = f32(o.Get("grads"), "grads", u->n, false);
  Napi::Value sv = o.Get("slots");
  if (!sv.IsArray() || sv.As<Napi::Array>().Length() != 3) Fail(env, "ERR_NATIVE_TYPE", where + ".slots must be an array of 3", true);
  // Per kind: how many slots it may have, and how many of those it must have.
  static const int kMay[] = {1, 1, 3, 3, 2, 2}, kMust[] = {0, 1, 1, 2, 2, 2};
  const int k = static_cast<int>(kind);
  for (uint32_t j = 0; j < 3; ++j) {
    Napi::Value v = sv.As<Napi::Array>().Get(j);
    const std::string name = "slots[" + std::to_string(j) + "]";
    if (static_cast<int>(j) >= kMay[k]) {
      if (!v.IsNull() && !v.IsUndefined()) Fail(env, "ERR_NATIVE_VALUE", where + "." + name + " must be null for kind " + std::to_string(k));
      u->slots[j] = nullptr;
    } else {
      u->slots[j] = f32(v, name, u->n, static_cast<int>(j) >= kMust[k]);
    }
  }
  u->beta1 = number("beta1");
  u->beta2 = number("beta2");
  u->epsilon = number("epsilon");
  u->momentum = number("momentum");
  Napi::Value nv = o.Get("nesterov");
  if (!nv.IsBoolean()) Fail(env, "ERR_NATIVE_TYPE", where + ".nesterov must be a boolean", true);
  u->nesterov = nv.As<Napi::Boolean>().Value();
  Napi::Value cv = o.Get("scalars");
  if (!cv.IsTypedArray() || cv.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    Fail(env, "ERR_NATIVE_TYPE", where + ".scalars must be a Float64Array", true);
  auto sc = cv.As<Napi::Float64Array>();
  const int64_t need = steps * deepnode::PlanUpdate::kScalars;
  if ((sc.Data() == nullptr ? 0 : static_cast<int64_t>(sc.ElementLength())) < need)
    Fail(env, "ERR_NATIVE_SIZE", where + ".scalars has " + std::to_string(sc.ElementLength()) + " elements, needs " + std::to_string(need));
  u->scalars = sc.Data();
  for (int64_t j = 0; j < need; ++j)
    if (!std::isfinite(u->scalars[j])) Fail(env, "ERR_NATIVE_VALUE", where + ".scalars[" + std::to_string(j) + "] is not finite");
  const double clip = number("clip");
  if (clip != std::floor(clip) || clip < 0 || clip > static_cast<double>(deepnode::UpdateClip::GlobalNorm))
    Fail(env, "ERR_NATIVE_VALUE", where + ".clip must be an integer in [0, 3], received " + std::to_string(clip));
  u->clip = static_cast<deepnode::UpdateClip>(static_cast<int32_t>(clip));
  u->clip_value = number("clipValue");
  if (u->clip != deepnode::UpdateClip::None && !(u->clip_value > 0))
    Fail(env, "ERR_NATIVE_VALUE", where + ".clipValue must be positive, received " + std::to_string(u->clip_value));
  // (offset, size) pairs of weights inside the flat buffers, from o[key] (a Float64Array; null allowed when optional).
  auto segments = [&](const char* key, bool optional, int64_t* count) -> const double* {
    Napi::Value gv = o.Get(key);
    *count = 0;
    if (optional && (gv.IsNull() || gv.IsUndefined())) return nullptr;
    if (!gv.IsTypedArray() || gv.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      Fail(env, "ERR_NATIVE_TYPE", where + "." + key + " must be a Float64Array", true);
    auto g = gv.As<Napi::Float64Array>();
    const double* d = g.Data();
    const int64_t len = d == nullptr ? 0 : static_cast<int64_t>(g.ElementLength());
    if (len % 2 != 0) Fail(env, "ERR_NATIVE_SIZE", where + "." + key + " must hold (offset, size) pairs, received " + std::to_string(len) + " numbers");
    for (int64_t j = 0; j < len / 2; ++j) {
      const double off = d[2 * j], size = d[2 * j + 1];
      if (off != std::floor(off) || size != std::floor(size) || off < 0 || size < 0 || off + size > static_cast<double>(u->n))
        Fail(env, "ERR_NATIVE_VALUE", where + "." + key + "[" + std::to_string(j) + "] = (" + std::to_string(off) + ", " + std::to_string(size) +
                                          ") is not a range of integers inside [0, " + std::to_string(u->n) + ")");
    }
    *count = len / 2;
    return d;
  };
  if (u->clip == deepnode::UpdateClip::Norm) u->segments = segments("segments", false, &u->segment_count);
  u->decay_segments = segments("decaySegments", true, &u->decay_segment_count);
  // No two of the update's buffers may share bytes (each is read and written element by element).
  const float* bufs[] = {u->params, u->grads, u->slots[0], u->slots[1], u->slots[2]};
  for (int a = 0; a < 5; ++a)
    for (int b = a + 1; b < 5; ++b)
      if (bufs[a] != nullptr && bufs[b] != nullptr && bufs[a] < bufs[b] + u->n && bufs[b] < bufs[a] + u->n)
        Fail(env, "ERR_NATIVE_OVERLAP", where + ": two of params, grads and slots overlap");
  return true;
}

// Argument i of trainPlanRun: the norm constraints to apply after each step (train_plan.h
// PlanConstraint) as { params: Float32Array, list: Float64Array of (offset, rows, cols, kind,
// minValue, maxValue, rate) per constraint, the weight at params[offset...] }, or null. `params`
// receives the range it spans, for the overlap checks.
std::vector<deepnode::PlanConstraint> ConstraintsArg(const Napi::CallbackInfo& info, size_t i, Span* params) {
  Napi::Env env = info.Env();
  std::vector<deepnode::PlanConstraint> out;
  *params = {nullptr, 0};
  if (info[i].IsNull() || info[i].IsUndefined()) return out;
  const std::string where = "trainPlanRun: constraints";
  if (!info[i].IsObject()) Fail(env, "ERR_NATIVE_TYPE", where + " must be an object or null", true);
  Napi::Object o = info[i].As<Napi::Object>();
  Napi::Value pv = o.Get("params"), lv = o.Get("list");
  if (!pv.IsTypedArray() || pv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    Fail(env, "ERR_NATIVE_TYPE", where + ".params must be a Float32Array", true);
  if (!lv.IsTypedArray() || lv.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    Fail(env, "ERR_NATIVE_TYPE", where + ".list must be a Float64Array", true);
  auto pa = pv.As<Napi::Float32Array>();
  auto la = lv.As<Napi::Float64Array>();
  float* p = pa.Data();
  const int64_t n = p == nullptr ? 0 : static_cast<int64_t>(pa.ElementLength());
  const double* l = la.Data();
  const int64_t len = l == nullptr ? 0 : static_cast<int64_t>(la.ElementLength());
  if (len % 7 != 0) Fail(env, "ERR_NATIVE_SIZE", where + ".list must hold 7 numbers per constraint, received " + std::to_string(len));
  *params = {p, n};
  for (int64_t c = 0; c < len / 7; ++c) {
    const double* e = l + 7 * c;
    const std::string at = where + ".list[" + std::to_string(c) + "]";
    for (int q = 0; q < 7; ++q)
      if (!std::isfinite(e[q])) Fail(env, "ERR_NATIVE_VALUE", at + ": its numbers must be finite");
    const double off = e[0], rows = e[1], cols = e[2], kind = e[3];
    if (off != std::floor(off) || rows != std::floor(rows) || cols != std::floor(cols) || off < 0 || rows < 1 || cols < 1 ||
        off + rows * cols > static_cast<double>(n))
      Fail(env, "ERR_NATIVE_VALUE", at + ": offset " + std::to_string(off) + ", " + std::to_string(rows) + " x " + std::to_string(cols) +
                                        " is not a whole matrix inside params (" + std::to_string(n) + " elements)");
    if (kind != std::floor(kind) || kind < 0 || kind > 2)
      Fail(env, "ERR_NATIVE_VALUE", at + ": kind must be 0 (max), 1 (unit) or 2 (min-max), received " + std::to_string(kind));
    deepnode::PlanConstraint k;
    k.w = p + static_cast<int64_t>(off);
    k.rows = static_cast<int64_t>(rows);
    k.cols = static_cast<int64_t>(cols);
    k.kind = static_cast<deepnode::NormConstraint>(static_cast<int32_t>(kind));
    k.min_value = e[4];
    k.max_value = e[5];
    k.rate = e[6];
    out.push_back(k);
  }
  return out;
}

// trainPlanRun(plan, xSrc, tSrc, index, n, start, batch, steps, lrs, losses, preds, targetsOut, activatePred, keys, update, constraints) -> steps done
Napi::Value TrainPlanRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PlanHandle* handle = PlanArg(info, "trainPlanRun", 16);
  deepnode::TrainPlan& plan = handle->plan;
  auto count = [&](size_t i, const char* name, double lo, double hi) -> int64_t {
    if (!info[i].IsNumber()) Fail(env, "ERR_NATIVE_TYPE", std::string("trainPlanRun: ") + name + " must be a number", true);
    const double d = info[i].As<Napi::Number>().DoubleValue();
    if (!(d >= lo) || !(d <= hi) || d != std::floor(d))
      Fail(env, "ERR_NATIVE_VALUE", std::string("trainPlanRun: ") + name + " must be an integer in [" + std::to_string(static_cast<int64_t>(lo)) + ", " +
                                        std::to_string(static_cast<int64_t>(hi)) + "], received " + std::to_string(d));
    return static_cast<int64_t>(d);
  };
  const int64_t n = count(4, "n", 0, 2147483647.0);
  const int64_t start = count(5, "start", 0, 2147483647.0);
  const int64_t batch = count(6, "batch", 1, static_cast<double>(plan.max_rows()));
  const int64_t steps = count(7, "steps", 0, 1048576.0);
  const int64_t in = plan.in_width(), classes = plan.classes(), t_width = plan.target_width();
  auto f32 = [&](size_t i, const char* name, int64_t need, bool optional) { return F32Arg(info, i, "trainPlanRun", name, need, optional); };
  const float* x = f32(1, "xSrc", n * in, false);
  const float* t = f32(2, "tSrc", n * t_width, false);
  // The rows the steps will read: [start, min(n, start + steps * batch)).
  const int64_t end = std::min<int64_t>(n, start + steps * batch);
  const int32_t* index = nullptr;
  if (!info[3].IsNull() && !info[3].IsUndefined()) {
    if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      Fail(env, "ERR_NATIVE_TYPE", "trainPlanRun: index must be an Int32Array or null", true);
    auto a = info[3].As<Napi::Int32Array>();
    index = a.Data();
    const int64_t len = index == nullptr ? 0 : static_cast<int64_t>(a.ElementLength());
    if (len < n) Fail(env, "ERR_NATIVE_SIZE", "trainPlanRun: index has " + std::to_string(len) + " elements, needs " + std::to_string(n));
    for (int64_t i = start; i < end; ++i)
      if (index[i] < 0 || index[i] >= n)
        Fail(env, "ERR_NATIVE_VALUE", "trainPlanRun: index[" + std::to_string(i) + "] = " + std::to_string(index[i]) + " is outside [0, " + std::to_string(n) + ")");
  }
  const float* lrs = f32(8, "lrs", steps, false);
  for (int64_t j = 0; j < steps; ++j)
    if (!std::isfinite(lrs[j])) Fail(env, "ERR_NATIVE_VALUE", "trainPlanRun: lrs[" + std::to_string(j) + "] is not finite");
  if (!info[9].IsTypedArray() || info[9].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    Fail(env, "ERR_NATIVE_TYPE", "trainPlanRun: losses must be a Float64Array", true);
  auto lossArr = info[9].As<Napi::Float64Array>();
  double* losses = lossArr.Data();
  if ((losses == nullptr ? 0 : static_cast<int64_t>(lossArr.ElementLength())) < steps)
    Fail(env, "ERR_NATIVE_SIZE", "trainPlanRun: losses needs " + std::to_string(steps) + " elements");
  float* preds = f32(10, "preds", steps * batch * classes, true);
  float* tout = f32(11, "targetsOut", steps * batch * t_width, true);
  if (!info[12].IsBoolean()) Fail(env, "ERR_NATIVE_TYPE", "trainPlanRun: activatePred must be a boolean", true);
  const bool activate_pred = info[12].As<Napi::Boolean>().Value();
  std::vector<uint64_t>& keys = handle->keys;
  KeysArg(info, 13, "trainPlanRun", plan, steps, keys);
  deepnode::PlanUpdate update;
  const bool has_update = UpdateArg(info, 14, steps, &update);
  Span cparams;
  const std::vector<deepnode::PlanConstraint> constraints = ConstraintsArg(info, 15, &cparams);
  CheckHeld(env, *handle, "trainPlanRun");
  const int64_t un = has_update ? update.n : 0;
  // The call's own arrays (the update's slots and scalars among them): apart from the plan's
  // buffers and from each other.
  const Span own[] = {{x, n * in}, {t, n * t_width}, {index, index ? n : 0}, {lrs, steps}, {losses, steps * 2},
                      {preds, preds ? steps * batch * classes : 0}, {tout, tout ? steps * batch * t_width : 0},
                      {update.slots[0], un}, {update.slots[1], un}, {update.slots[2], un},
                      {update.scalars, has_update ? steps * deepnode::PlanUpdate::kScalars * 2 : 0}};
  CheckApart(env, *handle, "trainPlanRun", own, sizeof(own) / sizeof(own[0]));
  // The update's params and grads, and the constrained weights, are the model's flat buffers (they
  // hold the plan's weights and gradients): each must stay apart from the call's own arrays only.
  auto apart = [&](const void* buffer, int64_t len, const char* what) {
    const float* p = static_cast<const float*>(buffer);
    for (const auto& a : own) {
      const float* q = static_cast<const float*>(a.first);
      if (p != nullptr && len > 0 && q != nullptr && a.second > 0 && q < p + len && p < q + a.second)
        Fail(env, "ERR_NATIVE_OVERLAP", std::string("trainPlanRun: ") + what + " overlap another argument");
    }
  };
  apart(update.params, un, "the update's params");
  apart(update.grads, un, "the update's grads");
  if (!constraints.empty()) apart(cparams.first, cparams.second, "the constrained weights");

  int64_t bad = -1, done = 0;
  try {
    done = plan.run(x, t, index, n, start, batch, steps, lrs, losses, preds, tout, activate_pred, &bad, keys.empty() ? nullptr : keys.data(),
                    has_update ? &update : nullptr, constraints.data(), static_cast<int64_t>(constraints.size()));
  } catch (const std::bad_alloc&) {
    Fail(env, "ERR_NATIVE_ALLOC", "trainPlanRun: out of memory");
  }
  if (bad >= 0) {
    const int64_t row = start + done * batch + bad;
    Fail(env, "ERR_LABEL", "label at row " + std::to_string(index ? index[row] : row) + " is " +
                               std::to_string(t[(index ? index[row] : row) * t_width]) + ", expected an integer class id in [0, " +
                               std::to_string(classes) + ")");
  }
  return Napi::Number::New(env, static_cast<double>(done));
}

}  // namespace

void RegisterTrainPlan(Napi::Env env, Napi::Object exports) {
  exports.Set("trainPlanRun", Napi::Function::New(env, TrainPlanRun, "trainPlanRun"));
  exports.Set("trainPlanCreate", Napi::Function::New(env, TrainPlanCreate, "trainPlanCreate"));
  exports.Set("trainPlanStep", Napi::Function::New(env, TrainPlanStep, "trainPlanStep"));
}
