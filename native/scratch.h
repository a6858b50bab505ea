// A per-thread float buffer, 64-byte aligned, grown on demand and reused across calls, so kernels
// allocate nothing in the steady state. Used only from baseline translation units (gemm.cc,
// quantized.cc): never include it from an ISA-specific unit (see NATIVE-NOTES on shared inline code).
#pragma once
#include <cstdint>
#include <cstdlib>

namespace deepnode {

struct AlignedScratch {
  float* data = nullptr;
  int64_t floats = 0;
  ~AlignedScratch() { std::free(data); }
  // At least `need` floats, or nullptr when memory runs out (the pool's tasks must
  // not throw, so the caller decides what a failure means).
  float* get(int64_t need) {
    if (need > floats) {
      std::free(data);
      const size_t bytes = (static_cast<size_t>(need) * sizeof(float) + 63) / 64 * 64;
      data = static_cast<float*>(std::aligned_alloc(64, bytes));
      floats = data ? need : 0;
    }
    return data;
  }
};

}  // namespace deepnode
