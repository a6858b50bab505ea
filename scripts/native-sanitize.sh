#!/usr/bin/env bash
# Native memory-safety checks (npm run test:native-sanitize; CI runs it after the test suite):
#   1. native/tests/test_gemm.cc and test_kernels.cc built with AddressSanitizer + UndefinedBehavior-
#      Sanitizer (-fsanitize=address,undefined -fno-sanitize-recover=all -g -O1) and run: any report
#      aborts the binary, so exit 0 means zero reports.
#   2. The same tests built without sanitizers (-O1 -g) run under valgrind memcheck with
#      --error-exitcode=1 --leak-check=full, on 1 thread and on 2, small sizes.
#   3. The ASan build of the addon itself (all of native/, binding.cc included) loaded into node
#      with LD_PRELOAD=libasan and the native vitest files run on it (DEEPNODE_SANITIZE_ADDON=0 skips).
# Exit status is non-zero if any build, test, sanitizer report or memcheck error occurs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
native="$root/native"
out="${BUILD_DIR:-/tmp/deepnode-sanitize}"  # not build/: node-gyp rebuild wipes it
mkdir -p "$out"
CXX="${CXX:-g++}"
t_all=$SECONDS

base=(-fno-trapping-math -march=x86-64-v2 -pthread -fPIC -std=gnu++17 -Wall -Wextra -Wno-unused-parameter)
avx2=(-mavx2 -mfma -mf16c)
avx512=(-mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma)
san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1)
plain=(-g -O1)

# The kernel sources (everything in native/ but the N-API binding) with their per-ISA flags.
kernel_srcs=(kernels optimizers batchnorm dropout activations_ext quantized gemm gemm_generic train_plan)

# build <dir> <flags...>: objects of every kernel unit and both tests, linked into two binaries.
build() {
  local dir="$1"; shift
  local flags=("$@") objs=() src pids=()
  mkdir -p "$dir"
  for src in "${kernel_srcs[@]}"; do
    "$CXX" "${base[@]}" "${flags[@]}" -c "$native/$src.cc" -o "$dir/$src.o" & pids+=($!)
    objs+=("$dir/$src.o")
  done
  "$CXX" "${base[@]}" "${flags[@]}" "${avx2[@]}" -c "$native/gemm_avx2.cc" -o "$dir/gemm_avx2.o" & pids+=($!)
  "$CXX" "${base[@]}" "${flags[@]}" "${avx2[@]}" -c "$native/quantized_avx2.cc" -o "$dir/quantized_avx2.o" & pids+=($!)
  "$CXX" "${base[@]}" "${flags[@]}" "${avx512[@]}" -c "$native/gemm_avx512.cc" -o "$dir/gemm_avx512.o" & pids+=($!)
  "$CXX" "${base[@]}" "${flags[@]}" -c "$native/tests/test_gemm.cc" -o "$dir/test_gemm.o" & pids+=($!)
  "$CXX" "${base[@]}" "${flags[@]}" -c "$native/tests/test_kernels.cc" -o "$dir/test_kernels.o" & pids+=($!)
  local pid status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  ((status == 0)) || return 1
  objs+=("$dir/gemm_avx2.o" "$dir/quantized_avx2.o" "$dir/gemm_avx512.o")
  "$CXX" -pthread "${flags[@]}" "$dir/test_gemm.o" "${objs[@]}" -o "$dir/test_gemm"
  "$CXX" -pthread "${flags[@]}" "$dir/test_kernels.o" "${objs[@]}" -o "$dir/test_kernels"
}

status=0
fail() { echo "FAILED: $*"; status=1; }
run() {  # run <label> <command...>: prints the command and the test's summary line
  local label="$1"; shift
  local t=$SECONDS log
  log="$(mktemp)"
  echo "== $label: $*"
  if "$@" >"$log" 2>&1; then
    echo "   ok in $((SECONDS - t)) s: $(grep -E 'passed|checks|ERROR SUMMARY' "$log" | tail -2 | paste -sd' ' -)"
  else
    cat "$log"
    fail "$label"
  fi
  rm -f "$log"
}

echo "::: building the native tests with ASan + UBSan, and plain -O1 -g for valgrind"
t=$SECONDS
build "$out/asan" "${san[@]}" &
p1=$!
build "$out/plain" "${plain[@]}" &
p2=$!
wait $p1 || fail "ASan/UBSan build"
wait $p2 || fail "plain build"
echo "    built in $((SECONDS - t)) s"
((status == 0)) || exit 1

# --- 1. ASan + UBSan --------------------------------------------------------------------------
# detect_leaks: LeakSanitizer runs at exit (the GEMM pool's helpers are joined by then).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
flags="$(grep -m1 '^flags' /proc/cpuinfo || true)"
has() { [[ " $flags " == *" $1 "* ]]; }
echo "::: ASan + UBSan"
for isa in generic avx2 avx512; do
  if [[ $isa == avx2 ]] && ! has avx2; then continue; fi
  if [[ $isa == avx512 ]] && ! has avx512f; then continue; fi
  run "test_gemm (asan+ubsan, DEEPNODE_ISA=$isa)" env DEEPNODE_ISA=$isa OMP_NUM_THREADS=2 "$out/asan/test_gemm" ""
done
run "test_kernels (asan+ubsan, 2 threads)" env OMP_NUM_THREADS=2 "$out/asan/test_kernels"
run "test_kernels (asan+ubsan, DEEPNODE_ISA=generic, 1 thread)" env DEEPNODE_ISA=generic OMP_NUM_THREADS=1 "$out/asan/test_kernels"
unset ASAN_OPTIONS UBSAN_OPTIONS

# --- 2. valgrind memcheck ---------------------------------------------------------------------
echo "::: valgrind memcheck"
if ! command -v valgrind >/dev/null; then
  fail "valgrind not installed (apt-get install -y valgrind)"
else
  # No suppressions: the GEMM pool joins its helpers at exit, and nothing else starts threads.
  vg=(valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect,possible
      --errors-for-leak-kinds=definite,indirect,possible -q)
  # valgrind does not emulate AVX-512; its CPUID hides it, so the AVX2 kernels run (and generic).
  run "test_gemm (memcheck, DEEPNODE_ISA=generic, 1 thread)" env DEEPNODE_ISA=generic OMP_NUM_THREADS=1 "${vg[@]}" "$out/plain/test_gemm" --small
  run "test_gemm (memcheck, default ISA, 2 threads)" env OMP_NUM_THREADS=2 "${vg[@]}" "$out/plain/test_gemm" --small
  run "test_kernels (memcheck, 1 thread)" env OMP_NUM_THREADS=1 "${vg[@]}" "$out/plain/test_kernels" --small
  run "test_kernels (memcheck, DEEPNODE_ISA=generic, 2 threads)" env DEEPNODE_ISA=generic OMP_NUM_THREADS=2 "${vg[@]}" "$out/plain/test_kernels" --small
fi

# --- 3. the ASan addon under node --------------------------------------------------------------
if [[ "${DEEPNODE_SANITIZE_ADDON:-1}" == 1 ]]; then
  echo "::: the addon built with ASan + UBSan, loaded into node"
  inc=("-I$root/node_modules/node-addon-api" "-I/usr/include/node")
  if [[ ! -f /usr/include/node/node_api.h ]]; then
    napi_inc="$(node -p "require('node-api-headers').include_dir" 2>/dev/null || true)"
    inc=("-I$root/node_modules/node-addon-api" "-I$napi_inc")
  fi
  defs=(-DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_CPP_EXCEPTIONS_ALL -DBUILDING_NODE_EXTENSION)
  addon="$out/asan/deepnode.node"
  t=$SECONDS
  if "$CXX" "${base[@]}" "${san[@]}" -fvisibility=hidden "${defs[@]}" "${inc[@]}" -c "$native/binding.cc" -o "$out/asan/binding.o" &&
     "$CXX" "${base[@]}" "${san[@]}" -fvisibility=hidden "${defs[@]}" "${inc[@]}" -c "$native/binding_plan.cc" -o "$out/asan/binding_plan.o" &&
     "$CXX" -shared -pthread "${san[@]}" "$out/asan/binding.o" "$out/asan/binding_plan.o" "$out/asan/"{kernels,optimizers,batchnorm,dropout,activations_ext,quantized,gemm,gemm_generic,gemm_avx2,quantized_avx2,gemm_avx512,train_plan}.o -o "$addon"; then
    echo "    built in $((SECONDS - t)) s"
    # Node itself is not instrumented: leak checking would report V8's own allocations, so it is off
    # here (the C++ tests above run LeakSanitizer); every other ASan/UBSan report aborts node.
    run "vitest on the ASan addon (fuzz ${DEEPNODE_FUZZ_CASES:-12000} cases + kernel, optimizer and training-plan tests)" env \
      LD_PRELOAD="$("$CXX" -print-file-name=libasan.so) $("$CXX" -print-file-name=libubsan.so)" \
      ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
      DEEPNODE_ADDON="$addon" OMP_NUM_THREADS=2 \
      "$root/node_modules/.bin/vitest" run --root "$root" test/12.native.errors.test.ts test/10.kernels.gemm.test.ts test/11.kernels.elementwise.test.ts test/39.train_plan.test.ts test/15.optimizer_simd.test.ts test/40.optimizers.test.ts
  else
    fail "ASan addon build"
  fi
fi

echo "::: native sanitize: $([[ $status == 0 ]] && echo passed || echo FAILED) in $((SECONDS - t_all)) s"
exit $status
