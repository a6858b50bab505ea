// Determinism: the same seed and thread count give bit-identical weights after an epoch (Dropout,
// BatchNormalization, Adam, shuffling); and across thread counts, 1 vs 2 threads also give
// bit-identical weights, because every threaded kernel splits its output (GEMM: blocks of C, each
// computed with the full K loop; BatchNormalization: channels; Dropout: chunks drawing from a
// counter-based stream; optimizers: element ranges), and the reductions that do split (large bias
// and column sums, clipnorm's per-weight norm) add fixed partials chosen by the shape, never by the
// thread count.
import { afterAll, describe, expect, it } from 'vitest';
import { Sequential, Tensor, getNumThreads, layers, optimizers, setNumThreads, setSeed } from '../src';

const initialThreads = getNumThreads();
afterAll(() => setNumThreads(initialThreads));

function data(n: number, features: number, classes: number): { x: Tensor; y: Tensor } {
  const x = new Float32Array(n * features);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let j = 0; j < features; j++) x[i * features + j] = Math.sin(i * 0.37 + j * 1.3) + (j % classes === i % classes ? 0.5 : 0);
  }
  return { x: new Tensor(x, [n, features]), y: new Tensor(y, [n]) };
}

/**
 * One epoch from a seed (default 7). Sizes are chosen so the threaded paths are taken with 2 threads: the
 * products are above the GEMM's 1.5 Mflop threshold (128 x 256 x 256 = 16.8 Mflop), and Adam steps
 * 2 x 65,536+ parameters (its threshold is 65,536 elements).
 */
async function trainOnce(threads: number, opts: { seed?: number; clipnorm?: number; units?: number; batchSize?: number } = {}): Promise<Float32Array[]> {
  setNumThreads(threads);
  setSeed(opts.seed ?? 7);
  const { x, y } = data(1024, 256, 10);
  const units = opts.units ?? 256;
  const model = new Sequential([
    layers.dense({ units, activation: 'relu', inputShape: [256] }),
    layers.batchNormalization(),
    layers.dropout({ rate: 0.3 }),
    layers.dense({ units: 256, activation: 'relu' }),
    layers.gaussianNoise({ stddev: 0.1 }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-3, clipnorm: opts.clipnorm ?? null }), loss: 'sparseCategoricalCrossentropy' });
  await model.fit(x, y, { epochs: 1, batchSize: opts.batchSize ?? 128, verbose: 0 });
  return model.getWeights().map((w) => Float32Array.from(w.data));
}

function bitsEqual(a: Float32Array[], b: Float32Array[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((w, i) => {
    const u = new Uint32Array(w.buffer, w.byteOffset, w.length);
    const v = new Uint32Array(b[i]!.buffer, b[i]!.byteOffset, b[i]!.length);
    return u.length === v.length && u.every((bits, j) => bits === v[j]);
  });
}

describe('determinism', () => {
  it('the same seed and thread count give bit-identical weights after an epoch', async () => {
    const a = await trainOnce(2);
    const b = await trainOnce(2);
    expect(bitsEqual(a, b)).toBe(true);
    // The comparison is not vacuous: another seed gives other weights.
    const c = await trainOnce(2, { seed: 8 });
    expect(bitsEqual(a, c)).toBe(false);
  }, 30_000);

  it('1 and 2 threads give bit-identical weights (no thread-count-dependent reduction on the training path)', async () => {
    const one = await trainOnce(1);
    const two = await trainOnce(2);
    expect(bitsEqual(one, two)).toBe(true);
  }, 30_000);

  it('clipnorm: its per-weight norm sums fixed chunks, so 1 and 2 threads give bit-identical weights too', async () => {
    // Its first two kernels have 256 x 257 = 65,792 elements: above clipByNorm's split size (65,536), two chunks.
    const one = await trainOnce(1, { clipnorm: 0.01, units: 257 });
    const two = await trainOnce(2, { clipnorm: 0.01, units: 257 });
    expect(bitsEqual(one, two)).toBe(true);
    expect(bitsEqual(two, await trainOnce(2, { units: 257 }))).toBe(false); // the clipping did act
  }, 30_000);

  it('a [256, 1024] ReLU layer (bias sums by blocks of rows, split at 2 threads): 1 and 2 threads bit-identical', async () => {
    const one = await trainOnce(1, { units: 1024, batchSize: 256 });
    const two = await trainOnce(2, { units: 1024, batchSize: 256 });
    expect(bitsEqual(one, two)).toBe(true);
  }, 30_000);

  // W2's first pair: BatchNormalization over 784 inputs, then Dense 300. The training plan's
  // shortcut updates that Dense kernel (784 x 300) in one pass, run in two row blocks on two
  // threads (split where the split-k forward product splits the rows): each row on its own, so the
  // same bits at 1 and 2 threads, with plain SGD fused into the pass and with Adam (the pass writes
  // the gradient).
  async function trainBnFirst(threads: number, optimizer: 'sgd' | 'adam'): Promise<Float32Array[]> {
    setNumThreads(threads);
    setSeed(11);
    const { x, y } = data(256, 784, 10);
    const model = new Sequential([
      layers.batchNormalization({ inputShape: [784] }),
      layers.dense({ units: 300, activation: 'relu' }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ]);
    model.compile({ optimizer: optimizer === 'sgd' ? optimizers.sgd({ learningRate: 0.05 }) : optimizers.adam({ learningRate: 1e-3 }), loss: 'sparseCategoricalCrossentropy' });
    await model.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0 });
    return model.getWeights().map((w) => Float32Array.from(w.data));
  }

  it('a BatchNormalization(784) -> Dense(300) pair at batch 32 (the plan\'s shortcut, in two row blocks): 1 and 2 threads bit-identical', async () => {
    for (const opt of ['sgd', 'adam'] as const) {
      const one = await trainBnFirst(1, opt);
      const two = await trainBnFirst(2, opt);
      expect(bitsEqual(one, two)).toBe(true);
      // Both halves of the kernel moved (the first is the BN's gamma, beta, moving mean, variance).
      const before = await (async () => {
        setSeed(11);
        const m = new Sequential([layers.batchNormalization({ inputShape: [784] }), layers.dense({ units: 300, activation: 'relu' }), layers.dense({ units: 10, activation: 'softmax' })]);
        return m.getWeights().map((w) => Float32Array.from(w.data));
      })();
      const kernel = two[4]!, kernel0 = before[4]!;
      expect(kernel.length).toBe(784 * 300);
      const moved = (from: number, to: number) => kernel.subarray(from, to).some((v, i) => v !== kernel0[from + i]);
      expect(moved(0, 392 * 300)).toBe(true);
      expect(moved(392 * 300, 784 * 300)).toBe(true);
    }
  }, 60_000);
});
