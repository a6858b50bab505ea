// AVX2 + FMA + F16C versions of the quantized kernels (see quantized.h). Compiled with
// -mavx2 -mfma -mf16c and reached only through these extern "C" entry points, after quantized.cc
// has checked the CPU at load. On other architectures this unit compiles to nothing.
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstdint>

namespace {

using DnVec = __m256;
#define DN_QV 8
inline DnVec dn_zero() { return _mm256_setzero_ps(); }
inline DnVec dn_set1(float a) { return _mm256_set1_ps(a); }
inline DnVec dn_fma(DnVec a, DnVec b, DnVec acc) { return _mm256_fmadd_ps(a, b, acc); }
inline DnVec dn_mul(DnVec a, DnVec b) { return _mm256_mul_ps(a, b); }
inline DnVec dn_add(DnVec a, DnVec b) { return _mm256_add_ps(a, b); }
inline DnVec dn_loadf(const float* p) { return _mm256_loadu_ps(p); }
inline void dn_storef(float* p, DnVec v) { _mm256_storeu_ps(p, v); }
inline DnVec dn_loadw(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline DnVec dn_loadw(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
inline float dn_w1(uint16_t h) { return _cvtsh_ss(h); }
inline float dn_w1(int8_t q) { return static_cast<float>(q); }

}  // namespace

#define DN_QCAT2(a, b) a##b
#define DN_QCAT(a, b) DN_QCAT2(a, b)
#define DN_QPREFIX deepnode_q_avx2_
#include "quantized_kernel.inc"

extern "C" {

// Round-to-nearest-even in hardware (vcvtps2ph imm 0); the tail goes through the same instruction.
void deepnode_q_avx2_f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

void deepnode_q_avx2_f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  for (; i < n; ++i) y[i] = _cvtsh_ss(x[i]);
}

// out[p, j] = q[p, j] * scales[j] for rows [0, rows) of an int8 [rows x n] block.
void deepnode_q_avx2_dequant_i8(const int8_t* q, const float* scales, int64_t rows, int64_t n, float* out) {
  for (int64_t p = 0; p < rows; ++p) {
    const int8_t* qp = q + p * n;
    float* op = out + p * n;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(op + j, _mm256_mul_ps(dn_loadw(qp + j), _mm256_loadu_ps(scales + j)));
    for (; j < n; ++j) op[j] = static_cast<float>(qp[j]) * scales[j];
  }
}

}  // extern "C"

#endif  // x86-64
