// deepnode benchmarks: GEMM GFLOPS through the addon (1 and 2 threads, the MLP's shapes and 1024^3)
// and the W1 training epoch (Dense 784-300-100-10, LeakyReLU, He init, SGD(1e-3), batch 32,
// 55,000 Fashion-MNIST images). Medians of repeated runs; these machines are shared and noisy.
//   node bench/run.mjs [gemm|train|all] [--trials N] [--epochs N]
import { Sequential, layers, optimizers, datasets, setNumThreads, getNumThreads, info, setSeed, Tensor } from 'deepnode';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { native } = require('../dist/cjs/backend/native.js');

const args = process.argv.slice(2);
const what = args.find((a) => !a.startsWith('--')) ?? 'all';
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const trials = opt('trials', 7);
const epochs = opt('epochs', 3);
const threadCounts = [1, 2];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`deepnode ${JSON.stringify(info())}`);

function benchGemm() {
  // [label, transA, transB, m, n, k]
  const shapes = [
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
  const rows = [];
  for (const [label, ta, tb, m, n, k] of shapes) {
    const A = new Float32Array(m * k).map(() => Math.random() - 0.5);
    const B = new Float32Array(k * n).map(() => Math.random() - 0.5);
    const C = new Float32Array(m * n);
    const lda = ta ? m : k, ldb = tb ? k : n;
    const flops = 2 * m * n * k;
    const reps = Math.max(3, Math.round(2.5e9 / flops)); // about 50 ms per trial at 50 GFLOPS
    const row = [label];
    for (const t of threadCounts) {
      setNumThreads(t);
      const results = [];
      for (let trial = 0; trial < trials; trial++) {
        const t0 = process.hrtime.bigint();
        for (let r = 0; r < reps; r++) native.gemm(ta, tb, m, n, k, 1, A, lda, B, ldb, 0, C, n, null);
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        results.push(flops * reps / s / 1e9);
      }
      row.push(median(results).toFixed(1));
    }
    rows.push(row);
  }
  console.log(`\nGEMM GFLOPS (median of ${trials} trials), kernel ${info().isa}`);
  console.log('| shape (m x n x k) | 1 thread | 2 threads |');
  console.log('|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}

async function benchTrain() {
  const { train } = await datasets.fashionMnist.load();
  const n = 55000;
  const x = new Tensor(train.x.data.subarray(0, n * 784), [n, 28, 28]);
  const y = new Tensor(train.y.data.subarray(0, n), [n]);
  console.log(`\nW1: Dense 784-300-100-10 LeakyReLU, He init, SGD(1e-3), batch 32, ${n} images/epoch; median of ${epochs} epochs`);
  console.log('| threads | s/epoch (median) | epochs | loss after last epoch |');
  console.log('|---|---|---|---|');
  for (const t of threadCounts) {
    setNumThreads(t);
    setSeed(1);
    const model = new Sequential([
      layers.flatten({ inputShape: [28, 28] }),
      layers.dense({ units: 300, kernelInitializer: 'heNormal', activation: 'leaky_relu' }),
      layers.dense({ units: 100, kernelInitializer: 'heNormal', activation: 'leaky_relu' }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ]);
    model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-3 }) });
    const times = [];
    let loss = NaN;
    for (let e = 0; e < epochs; e++) {
      const t0 = performance.now();
      const h = await model.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0 });
      times.push((performance.now() - t0) / 1000);
      loss = h.history.loss[0];
    }
    console.log(`| ${t} | ${median(times).toFixed(3)} | ${times.map((s) => s.toFixed(3)).join(', ')} | ${loss.toFixed(4)} |`);
  }
}

const initialThreads = getNumThreads();
if (what === 'gemm' || what === 'all') benchGemm();
if (what === 'train' || what === 'all') await benchTrain();
setNumThreads(initialThreads);
