// deepnode inference benchmarks (issue 4 part 6), on Fashion-MNIST:
//   fold      the chapter's BN network (Flatten, BN, Dense 300 no bias, BN, ELU, Dense 100 no bias,
//             BN, ELU, Dense 10 softmax), trained 1 epoch, against its foldBatchNorm() copy:
//             predict latency at batch 1 and throughput at batch 256.
//   quantize  the MLP 784-300-100-10 ReLU trained a few epochs with SGD momentum, against its
//             float16 and int8 quantize() copies: test accuracy, weight bytes, predict time.
// Medians of repeated runs (these machines are shared and noisy), at 1 and 2 threads.
//   node bench/inference.mjs [fold|quantize|all] [--trials N] [--epochs N]
// DEEPNODE_ENTRY=<path to a compiled dist/cjs/index.js> benchmarks that build instead of 'deepnode'.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const dn = process.env.DEEPNODE_ENTRY ? require(process.env.DEEPNODE_ENTRY) : await import('deepnode');
const { Sequential, layers, optimizers, datasets, setNumThreads, getNumThreads, info, setSeed, Tensor, inference } = dn;

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
const { train, test } = await datasets.fashionMnist.load();
const nTrain = 55000;
const xTrain = new Tensor(train.x.data.subarray(0, nTrain * 784), [nTrain, 28, 28]);
const yTrain = new Tensor(train.y.data.subarray(0, nTrain), [nTrain]);
const nTest = test.y.size;

function accuracy(model) {
  const p = model.predict(test.x, { batchSize: 256 }).data;
  let ok = 0;
  for (let i = 0; i < nTest; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (p[i * 10 + c] > p[i * 10 + best]) best = c;
    if (best === test.y.data[i]) ok++;
  }
  return ok / nTest;
}

/** Median ms to predict the 10,000 test images in batches of batchSize. */
function msPer10k(model, batchSize = 256) {
  model.predict(test.x, { batchSize }); // warm-up
  const times = [];
  for (let t = 0; t < trials; t++) {
    const t0 = performance.now();
    model.predict(test.x, { batchSize });
    times.push(performance.now() - t0);
  }
  return median(times) * (10000 / nTest);
}

/** Median µs per single-image predict() call (batch 1), over 500 images per trial. */
function usPerImage(model) {
  const singles = Array.from({ length: 500 }, (_, i) => new Tensor(test.x.data.subarray(i * 784, (i + 1) * 784), [1, 28, 28]));
  for (const s of singles.slice(0, 50)) model.predict(s, { batchSize: 1 });
  const times = [];
  for (let t = 0; t < trials; t++) {
    const t0 = performance.now();
    for (const s of singles) model.predict(s, { batchSize: 1 });
    times.push(((performance.now() - t0) * 1000) / singles.length);
  }
  return median(times);
}

function maxAbsDiff(a, b) {
  const pa = a.predict(test.x, { batchSize: 256 }).data, pb = b.predict(test.x, { batchSize: 256 }).data;
  let m = 0;
  for (let i = 0; i < pa.length; i++) m = Math.max(m, Math.abs(pa[i] - pb[i]));
  return m;
}

async function benchFold() {
  setSeed(42);
  setNumThreads(2);
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.batchNormalization(),
    layers.dense({ units: 300, useBias: false, kernelInitializer: 'heNormal' }),
    layers.batchNormalization(),
    layers.activation({ activation: 'elu' }),
    layers.dense({ units: 100, useBias: false, kernelInitializer: 'heNormal' }),
    layers.batchNormalization(),
    layers.activation({ activation: 'elu' }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-2, momentum: 0.9 }) });
  await model.fit(xTrain, yTrain, { epochs: 1, batchSize: 32, verbose: 0 });
  const folded = inference.foldBatchNorm(model);
  console.log(`\nfoldBatchNorm: the chapter's BN network, 1 epoch SGD(0.01, momentum 0.9); ${model.layers.length} layers -> ${folded.layers.length}`);
  console.log(`  test accuracy ${accuracy(model).toFixed(4)} -> ${accuracy(folded).toFixed(4)}; max |difference| of the 10,000 x 10 softmax outputs ${maxAbsDiff(model, folded).toExponential(2)}`);
  console.log(`| model | threads | batch 1: µs/image | batch 256: ms per 10k images |`);
  console.log('|---|---|---|---|');
  const rows = [];
  for (const t of threadCounts) {
    setNumThreads(t);
    for (const [name, m] of [['with BN', model], ['folded', folded]]) {
      const r = { name, t, b1: usPerImage(m), b256: msPer10k(m) };
      rows.push(r);
      console.log(`| ${name} | ${t} | ${r.b1.toFixed(1)} | ${r.b256.toFixed(1)} |`);
    }
  }
  for (const t of threadCounts) {
    const [a, b] = rows.filter((r) => r.t === t);
    console.log(`  speed-up at ${t} thread(s): batch 1 x${(a.b1 / b.b1).toFixed(2)}, batch 256 x${(a.b256 / b.b256).toFixed(2)}`);
  }
}

async function benchQuantize() {
  setSeed(7);
  setNumThreads(2);
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 300, activation: 'relu', kernelInitializer: 'heNormal' }),
    layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-2, momentum: 0.9 }) });
  await model.fit(xTrain, yTrain, { epochs, batchSize: 32, verbose: 0 });
  const models = [
    ['float32', model],
    ['float16', inference.quantize(model, { dtype: 'float16' })],
    ['int8', inference.quantize(model, { dtype: 'int8' })],
  ];
  const acc0 = accuracy(model);
  console.log(`\nquantize: MLP 784-300-100-10 ReLU, ${epochs} epochs SGD(0.01, momentum 0.9); CPU kernels: ${info().isa}`);
  console.log('| weights | test accuracy | change | weight bytes | ms/10k 1 thread (b256) | ms/10k 2 threads (b256) | ms/10k 1 thread (b32) | ms/10k 2 threads (b32) | µs/image 1 thread (b1) | µs/image 2 threads (b1) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const [name, m] of models) {
    const acc = accuracy(m);
    const cells = [];
    for (const batch of [256, 32])
      for (const t of threadCounts) {
        setNumThreads(t);
        cells.push(msPer10k(m, batch).toFixed(1));
      }
    const lat = [];
    for (const t of threadCounts) {
      setNumThreads(t);
      lat.push(usPerImage(m).toFixed(1));
    }
    const change = name === 'float32' ? '' : `${((acc - acc0) * 100).toFixed(2)} pt`;
    console.log(`| ${name} | ${acc.toFixed(4)} | ${change} | ${inference.weightBytes(m).toLocaleString('en-US')} | ${cells.join(' | ')} | ${lat.join(' | ')} |`);
  }
}

const initialThreads = getNumThreads();
if (what === 'fold' || what === 'all') await benchFold();
if (what === 'quantize' || what === 'all') await benchQuantize();
setNumThreads(initialThreads);
