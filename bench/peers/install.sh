#!/usr/bin/env bash
# Install the peers for deepnode's training benchmark (`npm run bench:peers`); never run by npm test.
#  1. PyTorch: Debian's python3-torch for /usr/bin/python3 (apt-get, only when root).
#  2. TensorFlow.js 4.22 (tfjs + wasm backend) into the scratch folder bench/.peers (gitignored).
#  3. The benchmark data: the first 55,000 Fashion-MNIST training images, exported through
#     deepnode's own loader to bench/.peers/data (needs `npm run build:ts` first).
# Idempotent: each step is skipped when already done.
set -u
cd "$(dirname "$0")/../.."
PEERS=bench/.peers
TFJS_VERSION=4.22.0
status=0

# 1. PyTorch
if TORCH_VERSION=$(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null); then
  echo "bench:peers: PyTorch $TORCH_VERSION already installed"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "bench:peers: installing python3-torch with apt-get"
  if ! (apt-get install -y python3-torch || (apt-get update && apt-get install -y python3-torch)); then
    echo "bench:peers: apt-get install python3-torch failed; the PyTorch peer will be skipped" >&2
    status=1
  fi
else
  echo "bench:peers: PyTorch is missing; install it with:  sudo apt-get install -y python3-torch" >&2
  echo "bench:peers: (the PyTorch peer will be skipped until then)" >&2
fi

# 2. TensorFlow.js into the scratch folder
have_tfjs() {
  node -e '
    const v = (p) => require(require("path").resolve(process.argv[1], "node_modules", p, "package.json")).version;
    process.exit(v("@tensorflow/tfjs") === process.argv[2] && v("@tensorflow/tfjs-backend-wasm") === process.argv[2] ? 0 : 1);
  ' "$PEERS" "$TFJS_VERSION" >/dev/null 2>&1
}
mkdir -p "$PEERS"
if [ ! -f "$PEERS/package.json" ]; then
  printf '{\n  "name": "deepnode-bench-peers",\n  "private": true,\n  "description": "Scratch install of the benchmark peers (bench/peers/install.sh); not part of deepnode"\n}\n' > "$PEERS/package.json"
fi
if have_tfjs; then
  echo "bench:peers: TensorFlow.js $TFJS_VERSION already installed in $PEERS"
else
  echo "bench:peers: installing TensorFlow.js $TFJS_VERSION into $PEERS"
  if ! npm install --prefix "$PEERS" --no-save --no-package-lock --no-audit --no-fund \
      "@tensorflow/tfjs@$TFJS_VERSION" "@tensorflow/tfjs-backend-wasm@$TFJS_VERSION"; then
    echo "bench:peers: npm install of TensorFlow.js failed; the tfjs peers will be skipped" >&2
    status=1
  fi
fi

# 3. Data
if [ ! -f dist/cjs/index.js ]; then
  echo "bench:peers: dist/ is missing; building deepnode's TypeScript first (npm run build:ts)"
  npm run build:ts || { echo "bench:peers: build:ts failed" >&2; exit 1; }
fi
node bench/peers/export-data.mjs || status=1
exit $status
