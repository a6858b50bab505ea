{
  'includes': ['native/sources.gypi'],
  'target_defaults': {
    'defines': ['NAPI_VERSION=8', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
    'cflags!': ['-fno-exceptions'],
    'cflags_cc!': ['-fno-exceptions'],
    # -fno-trapping-math: we never read FP exception flags, and without it GCC will not vectorise
    # a loop with a float comparison in it (LeakyReLU, SELU, clipping: 5-10x slower scalar code).
    'cflags': ['-O3', '-fno-trapping-math', '-fvisibility=hidden', '-fPIC', '-Wall', '-Wextra', '-Wno-unused-parameter'],
    'cflags_cc': ['-O3', '-fno-trapping-math', '-fvisibility=hidden', '-fPIC', '-std=gnu++17'],
    'conditions': [
      ['target_arch=="x64"', {
        'cflags': ['-march=x86-64-v2'],
        'cflags_cc': ['-march=x86-64-v2'],
      }],
      # The thread pool (native/gemm.cc) uses std::thread: glibc before 2.34 keeps pthreads in
      # libpthread, which the old-glibc prebuild image has.
      ['OS=="linux"', {
        'cflags': ['-pthread'],
        'cflags_cc': ['-pthread'],
      }],
      # macOS (clang via Xcode settings; cflags above are the make generator's, unused there).
      ['OS=="mac"', {
        'xcode_settings': {
          'CLANG_CXX_LANGUAGE_STANDARD': 'gnu++17',
          'CLANG_CXX_LIBRARY': 'libc++',
          'GCC_ENABLE_CPP_EXCEPTIONS': 'YES',
          'GCC_OPTIMIZATION_LEVEL': '3',
          'GCC_SYMBOLS_PRIVATE_EXTERN': 'YES',
          'OTHER_CPLUSPLUSFLAGS': ['-Wall', '-Wextra', '-Wno-unused-parameter'],
        },
      }],
      ['OS=="mac" and target_arch=="x64"', {
        'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-march=x86-64-v2']},
      }],
      # Windows: the kernels use GCC vector extensions and __builtin_cpu_supports, which MSVC lacks;
      # clang-cl (Visual Studio's "C++ Clang tools" component) compiles them.
      ['OS=="win"', {
        'msbuild_toolset': 'ClangCL',
        'msvs_settings': {
          'VCCLCompilerTool': {
            'AdditionalOptions': ['/std:c++17', '/O2', '-Wno-unused-parameter', '-Wno-unknown-pragmas'],
          },
        },
      }],
      ['OS=="win" and target_arch=="x64"', {
        'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['/clang:-march=x86-64-v2']}},
      }],
    ],
  },
  'targets': [
    # The ISA units exist for x64 only: elsewhere (arm64) their sources are #if'd out, the libraries
    # are empty and gemm.cc / quantized.cc use the generic kernels.
    {
      'target_name': 'deepnode_avx2',
      'type': 'static_library',
      'sources': ['<@(deepnode_avx2_sources)'],
      'conditions': [
        ['target_arch=="x64"', {
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-mavx2', '-mfma', '-mf16c']},
          'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['/clang:-mavx2', '/clang:-mfma', '/clang:-mf16c']}},
        }],
      ],
    },
    {
      'target_name': 'deepnode_avx512',
      'type': 'static_library',
      'sources': ['<@(deepnode_avx512_sources)'],
      'conditions': [
        ['target_arch=="x64"', {
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512vl', '-mavx512bw', '-mavx512dq'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512vl', '-mavx512bw', '-mavx512dq']},
          'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['/clang:-mavx2', '/clang:-mfma', '/clang:-mf16c', '/clang:-mavx512f', '/clang:-mavx512vl', '/clang:-mavx512bw', '/clang:-mavx512dq']}},
        }],
      ],
    },
    {
      'target_name': 'deepnode',
      'sources': ['<@(deepnode_sources)'],
      'dependencies': [
        'deepnode_avx2',
        'deepnode_avx512',
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all",
      ],
      'ldflags': ['-pthread', '-Wl,--as-needed'],
    },
  ],
}
