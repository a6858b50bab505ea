#!/usr/bin/env bash
# Runs the built addon on emulated older CPUs (qemu-user: apt-get install -y qemu-user) to prove the
# baseline (-march=x86-64-v2) code and the load-time kernel choice never execute an instruction the
# CPU lacks: Nehalem (SSE4.2, no AVX) must pick "generic", Haswell (AVX2+FMA) "avx2". On each it
# checks a gemm against a float64 reference and trains a tiny model through the package.
# Usage: scripts/check-old-cpus.sh [addon.node ...]   (default: every build found in the repo)
# On a Core 2 (below x86-64-v2, which the baseline code needs) loading must fail with deepnode's
# error (native/binding.cc checks the CPU at load), not kill node with SIGILL.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v qemu-x86_64 >/dev/null || { echo "qemu-x86_64 not found: apt-get install -y qemu-user" >&2; exit 1; }
[[ "$(uname -m)" == x86_64 ]] || { echo "x86_64 only" >&2; exit 1; }

addons=()
for a in "$@"; do addons+=("$(realpath "$a")"); done
if ((${#addons[@]} == 0)); then
  for f in "$root"/build/Release/deepnode.node "$root"/build-cmake/Release/deepnode.node "$root"/prebuilds/linux-x64/*.node; do
    [[ -f "$f" ]] && addons+=("$f")
  done
fi
((${#addons[@]})) || { echo "no addon built: npm run build:native (or build:cmake, prebuild)" >&2; exit 1; }

probe="$(mktemp --suffix=.js)"
trap 'rm -f "$probe"' EXIT
cat >"$probe" <<'EOF'
const addon = require(process.argv[2]);
const r = (() => { let s = 7; return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296) * 2 - 1; })();
const [m, n, k] = [67, 45, 131];  // odd sizes: edge tiles of every micro-kernel
const A = Float32Array.from({ length: m * k }, r), B = Float32Array.from({ length: k * n }, r);
const C = new Float32Array(m * n), bias = Float32Array.from({ length: n }, r);
addon.gemm(false, false, m, n, k, 1, A, k, B, n, 0, C, n, bias);
let worst = 0;
for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
  let s = bias[j];
  for (let p = 0; p < k; p++) s += A[i * k + p] * B[p * n + j];
  worst = Math.max(worst, Math.abs(C[i * n + j] - s));
}
if (!(worst < 1e-3)) throw new Error(`gemm differs from the reference by ${worst}`);
let line = `isa=${addon.info().isa} gemm max|err|=${worst.toExponential(1)}`;
if (process.argv[3]) {  // train through the package (dist/), which loads its own build
  const dn = require(process.argv[3]);
  const x = new dn.Tensor(Float32Array.from({ length: 120 }, (_, i) => (i % 2 ? 1 : -1) * (1 + (i % 7) / 10)), [60, 2]);
  const y = new dn.Tensor(Float32Array.from({ length: 60 }, (_, i) => i % 2), [60]);  // a smoke run, not a benchmark
  const model = new dn.Sequential([dn.layers.dense({ units: 8, activation: 'relu', inputShape: [2] }), dn.layers.dense({ units: 2, activation: 'softmax' })]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: dn.optimizers.sgd({ learningRate: 0.1 }), metrics: ['accuracy'] });
  model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 }).then(() => {
    console.log(`${line}; package isa=${dn.info().isa} trained, accuracy=${model.evaluate(x, y).accuracy}`);
  }, (e) => { console.error(e); process.exit(1); });
} else {
  console.log(line);
}
EOF

pkg=""
[[ -f "$root/dist/cjs/index.js" ]] && pkg="$root"
status=0
check() {  # check <qemu cpu> <expected isa or "info"> <addon> [DEEPNODE_ISA to force]
  local cpu="$1" want="$2" addon="$3" forced="${4:-}" out rc=0 label="$1"
  [[ -n "$forced" ]] && label="$cpu DEEPNODE_ISA=$forced"
  out="$(env ${forced:+DEEPNODE_ISA=$forced} timeout 300 qemu-x86_64 -cpu "$cpu" "$(command -v node)" "$probe" "$addon" "$pkg" 2>&1)" || rc=$?
  out="$(grep -v "TCG doesn.t support requested feature" <<<"$out" || true)"
  if [[ "$want" == refuse ]]; then
    # Through the package when it is built (a DeepnodeError), else the addon's own error.
    local target="${pkg:-$addon}"
    rc=0
    out="$(timeout 300 qemu-x86_64 -cpu "$cpu" "$(command -v node)" -e "try { require(process.argv[1]); } catch (e) { console.log(e.name, e.code, e.message.split('\\n')[0]); process.exit(3); }" "$target" 2>&1)" || rc=$?
    out="$(grep -v "TCG doesn.t support requested feature" <<<"$out" || true)"
    if ((rc == 3)) && [[ "$out" == *"ERR_NATIVE deepnode: this CPU lacks SSE4.2/POPCNT (x86-64-v2)"* ]]; then
      echo "  $label (below x86-64-v2): ok, refused: $out"
    else
      echo "  $label (below x86-64-v2): FAIL (exit $rc, expected deepnode's CPU error): $out"
      status=1
    fi
  elif ((rc != 0)) || [[ "$out" != *"isa=$want "* ]]; then
    echo "  $label: FAIL (exit $rc, expected isa=$want): $out"
    status=1
  else
    echo "  $label: ok: $out"
  fi
}
for addon in "${addons[@]}"; do
  echo "== ${addon#"$root"/}"
  check Nehalem generic "$addon"
  check Haswell avx2 "$addon"
  check Haswell avx2 "$addon" avx512  # a forced ISA the CPU lacks must fall back
  check core2duo refuse "$addon"
done
exit $status
