# The addon's source list, shared by binding.gyp (node-gyp) and CMakeLists.txt (cmake-js, which
# parses these lists), so the two builds cannot drift apart. Paths are relative to the repo root.
{
  'variables': {
    # Baseline code: -march=x86-64-v2.
    'deepnode_sources': [
      'native/binding.cc',
      'native/kernels.cc',
      'native/optimizers.cc',
      'native/gemm.cc',
      'native/gemm_generic.cc',
      'native/activations_ext.cc',
      'native/batchnorm.cc',
      'native/dropout.cc',
      'native/quantized.cc',
      'native/train_plan.cc',
      'native/binding_plan.cc',
    ],
    # Compiled with -mavx2 -mfma -mf16c; reached only through extern "C" entry points after a CPU check.
    # x86-64 only: the files compile to nothing elsewhere, and CMakeLists.txt leaves them out there.
    'deepnode_avx2_sources': [
      'native/gemm_avx2.cc',
      'native/quantized_avx2.cc',
    ],
    # Compiled with AVX-512 F/VL/BW/DQ; same rule.
    'deepnode_avx512_sources': [
      'native/gemm_avx512.cc',
    ],
  },
}
