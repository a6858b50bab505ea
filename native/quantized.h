// Post-training weight quantization for inference: float16 and per-output-channel int8 weights,
// and the matrix products that consume them directly (activations stay float32).
// Plain C++ (no N-API): the binding converts typed arrays and re-checks sizes.
//
// Weights keep the Dense kernel's row-major layout [k x n] (k inputs, n units):
//   float16: IEEE 754 binary16 bit patterns, converted with round-to-nearest-even;
//   int8:    q[p, j] = round(W[p, j] / scale[j]) in [-127, 127], scale[j] = max_p |W[p, j]| / 127
//            (symmetric, per output channel; an all-zero column gets scale 0 and q 0).
#pragma once

#include <cstdint>

namespace deepnode {

// IEEE binary16 <-> binary32, round-to-nearest-even; NaN stays NaN, overflow gives +-Inf,
// tiny values become subnormals or signed zeros. F16C instructions when the CPU has them.
void f32_to_f16(const float* x, uint16_t* y, int64_t n);
void f16_to_f32(const uint16_t* x, float* y, int64_t n);

// Per-output-channel symmetric int8 quantization of W [k x n] (see above); ties round away from 0.
void quantize_int8(const float* W, int64_t k, int64_t n, int8_t* q, float* scales);

// How a quantized product runs: kAuto picks by batch size; the others force one path (for tests).
enum class QPath : int {
  kAuto = 0,
  kDirectGeneric = 1,  // row-block dot loop, portable C++
  kDirectSimd = 2,     // the same loop with AVX2/F16C (falls back to generic without them)
  kPanel = 3,          // dequantize k-panels of W to float32 and run sgemm on them
};

// Y[m x n] = X[m x k] * W + bias (bias may be null), W stored as float16 bits [k x n].
// Throws std::bad_alloc if a panel buffer cannot be allocated.
void gemm_f16(int64_t m, int64_t n, int64_t k, const float* X, const uint16_t* W, const float* bias,
              float* Y, QPath path = QPath::kAuto);

// Y[m x n] = X[m x k] * (q * scales) + bias, q int8 [k x n], scales [n].
void gemm_i8(int64_t m, int64_t n, int64_t k, const float* X, const int8_t* q, const float* scales,
             const float* bias, float* Y, QPath path = QPath::kAuto);

// "avx2" when the SIMD kernels are used, else "generic".
const char* quantized_isa();

}  // namespace deepnode
