#!/usr/bin/env bash
# Builds native/tests/test_gemm.cc against the GEMM sources with plain g++ and runs it for every
# kernel this CPU can execute, plus the AVX-512 12x32 tile compiled for AVX2 (its logic, run here).
# Exit status is non-zero if any build or test fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
native="$(dirname "$here")"
out="${BUILD_DIR:-/tmp/deepnode-gemm-tests}"  # not build/: node-gyp rebuild wipes it
mkdir -p "$out"

CXX="${CXX:-g++}"
base=(-O3 -fno-trapping-math -march=x86-64-v2 -pthread -fPIC -std=c++17 -Wall -Wextra)
avx2=(-mavx2 -mfma -mf16c)
avx512=(-mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma)

# Production build: each ISA unit with its own flags, exactly as the addon compiles them.
"$CXX" "${base[@]}" -c "$native/gemm.cc" -o "$out/gemm.o"
"$CXX" "${base[@]}" -c "$native/gemm_generic.cc" -o "$out/gemm_generic.o"
"$CXX" "${base[@]}" "${avx2[@]}" -c "$native/gemm_avx2.cc" -o "$out/gemm_avx2.o"
"$CXX" "${base[@]}" "${avx512[@]}" -c "$native/gemm_avx512.cc" -o "$out/gemm_avx512.o"
"$CXX" "${base[@]}" -c "$here/test_gemm.cc" -o "$out/test_gemm.o"
"$CXX" -pthread "$out/test_gemm.o" "$out/gemm.o" "$out/gemm_generic.o" "$out/gemm_avx2.o" "$out/gemm_avx512.o" -o "$out/test_gemm"

# Wide-tile build: the AVX-512 source configuration compiled with AVX2 flags.
"$CXX" "${base[@]}" -DDEEPNODE_GEMM_WIDE_ON_AVX2 -c "$native/gemm.cc" -o "$out/gemm_wide.o"
"$CXX" "${base[@]}" "${avx2[@]}" -Wno-psabi -DDEEPNODE_GEMM_WIDE_ON_AVX2 -c "$native/gemm_avx512.cc" -o "$out/gemm_avx512_on_avx2.o"
"$CXX" -pthread "$out/test_gemm.o" "$out/gemm_wide.o" "$out/gemm_generic.o" "$out/gemm_avx2.o" "$out/gemm_avx512_on_avx2.o" -o "$out/test_gemm_wide"

flags="$(grep -m1 '^flags' /proc/cpuinfo || true)"
has() { [[ " $flags " == *" $1 "* ]]; }

status=0
run() {  # run <label> <expected isa> <binary> [env...]
  local label="$1" expect="$2" bin="$3"; shift 3
  echo "== $label"
  if ! env "$@" "$bin" "$expect"; then status=1; fi
}
run "generic (SSE 6x8)" generic "$out/test_gemm" DEEPNODE_ISA=generic
if has avx2 && has fma; then
  run "avx2 (6x16)" avx2 "$out/test_gemm" DEEPNODE_ISA=avx2
  run "avx512 tile (12x32) on AVX2" avx512 "$out/test_gemm_wide" DEEPNODE_ISA=avx512
  # Forcing an unsupported ISA must fall back to the best supported one.
  if ! has avx512f; then run "DEEPNODE_ISA=avx512 without AVX-512 falls back" avx2 "$out/test_gemm" DEEPNODE_ISA=avx512; fi
else
  echo "== avx2: CPU lacks AVX2/FMA, skipped"
fi
if has avx512f && has avx512vl && has avx512bw && has avx512dq; then
  run "avx512 (12x32)" avx512 "$out/test_gemm" DEEPNODE_ISA=avx512
else
  echo "== avx512 native: CPU lacks AVX-512, skipped (its tile was tested above on AVX2)"
fi
# The default thread count: OMP_NUM_THREADS when set, else the CPUs in the affinity mask.
run "default ISA, OMP_NUM_THREADS=2" "" "$out/test_gemm" OMP_NUM_THREADS=2
run "default ISA, OMP_NUM_THREADS=3,1 (the first number)" "" "$out/test_gemm" OMP_NUM_THREADS=3,1 DEEPNODE_EXPECT_THREADS=3
if command -v taskset >/dev/null; then
  echo "== default threads without OMP_NUM_THREADS, under taskset -c 0"
  if ! env -u OMP_NUM_THREADS DEEPNODE_EXPECT_THREADS=1 taskset -c 0 "$out/test_gemm" "" --small; then status=1; fi
fi

if [[ $status -eq 0 ]]; then echo "gemm tests: all runs passed"; else echo "gemm tests: FAILED"; fi
exit $status
