#!/usr/bin/env bash
# Builds and runs the sgemm benchmark. Compares with OpenBLAS (benchmark only, never the
# library) when libopenblas-dev is installed: apt-get install -y libopenblas-dev.
# Usage: bench/gemm_bench.sh [trials]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${BUILD_DIR:-/tmp/deepnode-gemm-bench}"  # not build/: node-gyp rebuild wipes it
mkdir -p "$out"
CXX="${CXX:-g++}"
base=(-O3 -march=x86-64-v2 -pthread -fPIC -std=c++17)

"$CXX" "${base[@]}" -c "$root/native/gemm.cc" -o "$out/gemm.o"
"$CXX" "${base[@]}" -c "$root/native/gemm_generic.cc" -o "$out/gemm_generic.o"
"$CXX" "${base[@]}" -mavx2 -mfma -mf16c -c "$root/native/gemm_avx2.cc" -o "$out/gemm_avx2.o"
"$CXX" "${base[@]}" -mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma -c "$root/native/gemm_avx512.cc" -o "$out/gemm_avx512.o"

extra=()
if echo 'int main(){}' | "$CXX" -x c++ - -lopenblas -o "$out/probe" 2>/dev/null; then
  extra=(-DWITH_OPENBLAS)
  libs=(-lopenblas)
else
  echo "(OpenBLAS not found: apt-get install -y libopenblas-dev to compare)"
  libs=()
fi
"$CXX" "${base[@]}" "${extra[@]}" "$root/bench/gemm_bench.cc" "$out/gemm.o" "$out/gemm_generic.o" "$out/gemm_avx2.o" \
  "$out/gemm_avx512.o" "${libs[@]}" -o "$out/gemm_bench"
"$out/gemm_bench" "$@"
