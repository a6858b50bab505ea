/**
 * sparsity / prune: exact zero counts on kernels with known values (counted here independently),
 * fraction pruning removes exactly floor(fraction * size) weights per kernel and only the smallest,
 * biases and BN parameters are left alone, quantized kernels are counted and pruned too, and the
 * chapter's use: l1-trained weights pruned with little change in the predictions.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor';
import { Sequential, layers, regularizers } from '../src/index';
import { prune, sparsity, quantize } from '../src/inference';
import { caught, randArray, rng } from './support/reference';
import { setSeed } from '../src/random';

function model(seed: number): Sequential {
  const m = new Sequential([
    layers.dense({ units: 7, activation: 'relu', inputShape: [5] }),
    layers.batchNormalization(),
    layers.dense({ units: 3 }),
  ]);
  const r = rng(seed);
  m.setWeights(m.getWeights().map((w) => new Tensor(randArray(r, w.size, -1, 1), w.shape)));
  return m;
}

describe('sparsity', () => {
  it('counts exact zeros of the kernels only', () => {
    const m = model(1);
    const [k1, b1, g, beta, mm, mv, k2, b2] = m.getWeights();
    k1!.data.fill(0, 0, 10); // 10 of 35
    k1!.data[20] = -0; // negative zero counts
    b1!.data.fill(0); // biases are not counted
    k2!.data[4] = 0; // 1 of 21
    m.setWeights([k1!, b1!, g!, beta!, mm!, mv!, k2!, b2!]);
    const s = sparsity(m);
    expect(s.total).toBe(35 + 21);
    expect(s.zeros).toBe(12);
    expect(s.fraction).toBeCloseTo(12 / 56, 12);
    expect(s.perLayer).toEqual([
      { layer: m.layers[0]!.name, weight: `${m.layers[0]!.name}/kernel`, total: 35, zeros: 11, fraction: 11 / 35 },
      { layer: m.layers[2]!.name, weight: `${m.layers[2]!.name}/kernel`, total: 21, zeros: 1, fraction: 1 / 21 },
    ]);
  });
});

describe('prune', () => {
  it('threshold: zeroes exactly the kernel weights with |w| < threshold', () => {
    const m = model(2);
    const before = m.getWeights().map((w) => Float32Array.from(w.data));
    const expected = [before[0]!, before[6]!].map((k) => k.filter((v) => Math.abs(v) < 0.3).length);
    const report = prune(m, { threshold: 0.3 });
    expect(report.perLayer.map((l) => l.zeros)).toEqual(expected);
    expect(report.zeros).toBe(expected[0]! + expected[1]!);
    const after = m.getWeights();
    for (const idx of [0, 6]) {
      after[idx]!.data.forEach((v, i) => expect(v).toBe(Math.abs(before[idx]![i]!) < 0.3 ? 0 : before[idx]![i]!));
    }
    for (const idx of [1, 2, 3, 4, 5, 7]) expect(after[idx]!.data).toEqual(before[idx]); // biases, BN untouched
    // threshold 0 changes nothing
    expect(prune(m, { threshold: 0 }).zeros).toBe(report.zeros);
  });

  it('fraction: floor(fraction * size) smallest magnitudes per kernel, ties by position', () => {
    const m = model(3);
    const before = m.getWeights().map((w) => Float32Array.from(w.data));
    const report = prune(m, { fraction: 0.5 });
    expect(report.perLayer.map((l) => l.zeros)).toEqual([17, 10]); // floor(35 / 2), floor(21 / 2)
    const after = m.getWeights();
    for (const idx of [0, 6]) {
      const orig = before[idx]!, now = after[idx]!.data;
      const zeroed = [...orig].filter((_, i) => now[i] === 0).map(Math.abs);
      const kept = [...orig].filter((_, i) => now[i] !== 0).map(Math.abs);
      expect(Math.max(...zeroed)).toBeLessThanOrEqual(Math.min(...kept));
    }
    // Ties: equal magnitudes, the first ones go.
    const t = new Sequential([layers.dense({ units: 2, inputShape: [2], useBias: false })]);
    t.setWeights([new Tensor(new Float32Array([0.5, -0.5, 0.5, 1]), [2, 2])]);
    expect(prune(t, { fraction: 0.5 }).zeros).toBe(2);
    expect(Array.from(t.getWeights()[0]!.data)).toEqual([0, 0, 0.5, 1]);
    expect(prune(model(4), { fraction: 1 }).fraction).toBe(1);
    expect(prune(model(4), { fraction: 0 }).zeros).toBe(0);
  });

  it('counts and prunes quantized kernels', () => {
    const q = quantize(model(5), { dtype: 'int8' });
    const s0 = sparsity(q);
    expect(s0.total).toBe(56);
    const r = prune(q, { fraction: 0.25 });
    expect(r.perLayer.map((l) => l.zeros)).toEqual([Math.max(8, s0.perLayer[0]!.zeros), Math.max(5, s0.perLayer[1]!.zeros)]);
    const h = quantize(model(5), { dtype: 'float16' });
    expect(prune(h, { threshold: 10 }).fraction).toBe(1);
  });

  it('after l1 training, pruning tiny weights barely changes the predictions', async () => {
    setSeed(5);
    const r = rng(5);
    const n = 256;
    const x = new Tensor(randArray(r, n * 20), [n, 20]);
    // Only the first 3 features matter.
    const y = new Tensor(Float32Array.from({ length: n }, (_, i) => (x.data[i * 20]! + x.data[i * 20 + 1]! - x.data[i * 20 + 2]! > 0 ? 1 : 0)), [n]);
    const m = new Sequential([
      layers.dense({ units: 8, activation: 'relu', inputShape: [20], kernelRegularizer: regularizers.l1(1e-2) }),
      layers.dense({ units: 2, activation: 'softmax', kernelRegularizer: regularizers.l1(1e-2) }),
    ]);
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await m.fit(x, y, { epochs: 40, batchSize: 32, verbose: 0 });
    const acc = m.evaluate(x, y).accuracy!;
    const report = prune(m, { threshold: 0.05 });
    expect(acc).toBeGreaterThan(0.9);
    expect(report.fraction).toBeGreaterThan(0.4);
    expect(m.evaluate(x, y).accuracy!).toBeGreaterThanOrEqual(acc - 0.02);
  });

  it('errors name the option and echo the value', () => {
    expect(caught(() => prune(model(1), {} as never)).message).toMatch(/exactly one of threshold and fraction/);
    expect(caught(() => prune(model(1), { threshold: 1, fraction: 0.5 } as never)).code).toBe('ERR_VALUE');
    expect(caught(() => prune(model(1), { threshold: -1 })).message).toMatch(/threshold=-1/);
    expect(caught(() => prune(model(1), { fraction: 1.5 })).message).toMatch(/fraction=1.5/);
    expect(caught(() => sparsity([] as never)).code).toBe('ERR_VALUE');
  });
});
