#!/usr/bin/env bash
# Opt-in portability check (not run in CI): cross-compiles the native C++ tests
# (native/tests/test_gemm.cc and test_kernels.cc with every kernel source, the AVX2/AVX-512 units
# included, which must compile to nothing on aarch64) for aarch64 Linux and runs them under
# qemu-user: the generic GEMM kernel (GCC vector extensions -> NEON) and the portable quantized
# kernels, on 1 and 2 threads of the GEMM's pool, plus DEEPNODE_ISA=avx512 falling back to generic.
#
# Needs: apt-get install -y g++-aarch64-linux-gnu qemu-user
# Time (2 vCPU x86-64 host): about 15 s to build and 30 s of emulated runs with the default --small
# sizes (about 45 s in all); AARCH64_FULL=1 runs the full sizes, about 2 minutes per test_gemm run
# under qemu (about 5 minutes in all).
# Exit status is non-zero if any build or test fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
native="$root/native"
out="${BUILD_DIR:-/tmp/deepnode-aarch64}"
mkdir -p "$out"
CXX="${CXX:-aarch64-linux-gnu-g++}"
QEMU="${QEMU:-qemu-aarch64}"
SYSROOT="${SYSROOT:-/usr/aarch64-linux-gnu}"
t_all=$SECONDS

for tool in "$CXX" "$QEMU"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y g++-aarch64-linux-gnu qemu-user)"; exit 1; }
done

# Same warnings as the addon; no -march (the aarch64 baseline, ARMv8-A with NEON, as a prebuild).
base=(-O2 -fPIC -std=gnu++17 -Wall -Wextra -Wno-unused-parameter -Werror)
base+=(-pthread)
# Every native unit but the N-API binding, the x86-only ones too (they must be empty here).
kernel_srcs=(kernels optimizers batchnorm dropout activations_ext quantized gemm gemm_generic
             gemm_avx2 gemm_avx512 quantized_avx2)

echo "::: building for aarch64 with $("$CXX" --version | head -1)"
t=$SECONDS
pids=() objs=()
for src in "${kernel_srcs[@]}"; do
  "$CXX" "${base[@]}" -c "$native/$src.cc" -o "$out/$src.o" & pids+=($!)
  objs+=("$out/$src.o")
done
for test in test_gemm test_kernels; do
  "$CXX" "${base[@]}" -c "$native/tests/$test.cc" -o "$out/$test.o" & pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
((status == 0)) || { echo "FAILED: aarch64 build"; exit 1; }
# The x86-only units must define no symbol at all on aarch64.
for src in gemm_avx2 gemm_avx512 quantized_avx2; do
  syms="$(aarch64-linux-gnu-nm --defined-only "$out/$src.o" | grep -v ' [aAnN] ' || true)"
  if [[ -n "$syms" ]]; then echo "FAILED: $src.o defines symbols on aarch64:"; echo "$syms"; exit 1; fi
done
"$CXX" -pthread "$out/test_gemm.o" "${objs[@]}" -o "$out/test_gemm"
"$CXX" -pthread "$out/test_kernels.o" "${objs[@]}" -o "$out/test_kernels"
file "$out/test_gemm" | sed 's/^/    /'
echo "    built in $((SECONDS - t)) s"

size=(--small)
[[ "${AARCH64_FULL:-0}" == 1 ]] && size=()

run() {  # run <label> <env...> -- <binary> [args...]: prints the test's summary line
  local label="$1"; shift
  local envs=() t=$SECONDS log
  while [[ "$1" != -- ]]; do envs+=("$1"); shift; done
  shift
  log="$(mktemp)"
  echo "== $label"
  if env "${envs[@]}" "$QEMU" -L "$SYSROOT" "$@" >"$log" 2>&1; then
    echo "   ok in $((SECONDS - t)) s: $(grep -E 'passed|checks|isa|test_kernels:' "$log" | tail -2 | paste -sd' ' -)"
  else
    cat "$log"
    echo "FAILED: $label"
    status=1
  fi
  rm -f "$log"
}

echo "::: running under $QEMU"
run "test_gemm, generic expected, 1 thread" OMP_NUM_THREADS=1 -- "$out/test_gemm" generic "${size[@]}"
run "test_kernels, 1 thread" OMP_NUM_THREADS=1 -- "$out/test_kernels" "${size[@]}"
run "test_gemm, generic expected, 2 threads" OMP_NUM_THREADS=2 -- "$out/test_gemm" generic "${size[@]}"
run "test_gemm, DEEPNODE_ISA=avx512 falls back to generic" DEEPNODE_ISA=avx512 OMP_NUM_THREADS=2 -- "$out/test_gemm" generic --small
run "test_kernels, 2 threads" OMP_NUM_THREADS=2 -- "$out/test_kernels" "${size[@]}"

echo "::: aarch64 check: $([[ $status == 0 ]] && echo passed || echo FAILED) in $((SECONDS - t_all)) s"
exit $status
