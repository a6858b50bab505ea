{
  'includes': ['native/sources.gypi'],
  'target_defaults': {
    'defines': ['NAPI_VERSION=8', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
    'cflags!': ['-fno-exceptions'],
    'cflags_cc!': ['-fno-exceptions'],
    'cflags': ['-O3', '-fopenmp', '-fvisibility=hidden', '-fPIC', '-Wall', '-Wextra', '-Wno-unused-parameter'],
    'cflags_cc': ['-O3', '-fopenmp', '-fvisibility=hidden', '-fPIC', '-std=gnu++17'],
    'conditions': [
      ['target_arch=="x64"', {
        'cflags': ['-march=x86-64-v2'],
        'cflags_cc': ['-march=x86-64-v2'],
      }],
    ],
  },
  'targets': [
    {
      'target_name': 'deepnode_avx2',
      'type': 'static_library',
      'sources': ['<@(deepnode_avx2_sources)'],
      'cflags_cc': ['-mavx2', '-mfma', '-mf16c'],
    },
    {
      'target_name': 'deepnode_avx512',
      'type': 'static_library',
      'sources': ['<@(deepnode_avx512_sources)'],
      'cflags_cc': ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512vl', '-mavx512bw', '-mavx512dq'],
    },
    {
      'target_name': 'deepnode',
      'sources': ['<@(deepnode_sources)'],
      'dependencies': [
        'deepnode_avx2',
        'deepnode_avx512',
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all",
      ],
      # libgomp is found beside the .node first (prebuilds ship it there), then on the system.
      'ldflags': ['-fopenmp', "-Wl,-rpath,'$$ORIGIN'", '-Wl,--as-needed'],
    },
  ],
}
