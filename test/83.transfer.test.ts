// Transfer learning semantics (issue 4 part 3): layers reused in a new model are shared (Keras),
// cloneModel shares nothing, freezing excludes weights from updates without disturbing the
// optimizer state of the others (tfjs issue #4290), and unfreezing resumes training.
import { describe, expect, it } from 'vitest';
import { Sequential, Tensor, cloneModel, layers, optimizers, setSeed } from '../src';
import type { Layer } from '../src/layers';

function blobs(n: number, d: number, classes: number, seed: number): { x: Tensor; y: Tensor } {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const x = new Float32Array(n * d);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = (j % classes === c ? 2 : 0) + (rand() - 0.5) * 2;
  }
  return { x: new Tensor(x, [n, d]), y: new Tensor(y, [n]) };
}

const copy = (l: Layer) => l.getWeights().map((w) => Float32Array.from(w.data));
const same = (a: Float32Array[], b: Float32Array[]) => a.length === b.length && a.every((w, i) => w.every((v, j) => v === b[i]![j]));

function modelA(): Sequential {
  return new Sequential([
    layers.dense({ units: 16, activation: 'relu', inputShape: [8] }),
    layers.dense({ units: 16, activation: 'relu' }),
    layers.dense({ units: 4, activation: 'softmax' }),
  ]);
}

describe('reusing layers shares them (Keras semantics)', () => {
  it('training model B changes model A, and training A afterwards changes B', async () => {
    setSeed(3);
    const { x, y } = blobs(256, 8, 4, 1);
    const a = modelA();
    a.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 0.05 }) });
    await a.fit(x, y, { epochs: 1, verbose: 0 });
    const b = new Sequential([...a.layers.slice(0, -1), layers.dense({ units: 1, activation: 'sigmoid', name: 'b_out' })]);
    b.compile({ loss: 'binaryCrossentropy', optimizer: optimizers.sgd({ learningRate: 0.05 }) });
    const yb = new Tensor(y.data.map((v) => (v < 2 ? 1 : 0)), [256, 1]);
    const before = copy(a.layers[0]!);
    await b.fit(x, yb, { epochs: 1, verbose: 0 });
    const afterB = copy(a.layers[0]!);
    expect(same(before, afterB)).toBe(false);
    expect(same(afterB, copy(b.layers[0]!))).toBe(true);
    // Training A again must update the shared weights that B sees (they were packed into B's buffer).
    await a.fit(x, y, { epochs: 1, verbose: 0 });
    const afterA = copy(b.layers[0]!);
    expect(same(afterA, afterB)).toBe(false);
    expect(same(afterA, copy(a.layers[0]!))).toBe(true);
  });

  it('cloneModel copies the structure only; after setWeights it predicts the same, and training it leaves the original alone', async () => {
    setSeed(4);
    const { x, y } = blobs(128, 8, 4, 2);
    const a = modelA();
    const clone = cloneModel(a);
    expect(clone.layers.map((l) => l.className)).toEqual(a.layers.map((l) => l.className));
    expect(clone.layers.every((l, i) => l !== a.layers[i])).toBe(true);
    clone.setWeights(a.getWeights());
    expect(Array.from(clone.predict(x).data)).toEqual(Array.from(a.predict(x).data));
    const original = a.getWeights().map((w) => Float32Array.from(w.data));
    clone.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd' });
    await clone.fit(x, y, { epochs: 1, verbose: 0 });
    expect(same(original, a.getWeights().map((w) => w.data))).toBe(true);
    expect(same(original, clone.getWeights().map((w) => w.data))).toBe(false);
  });

  it('refuses two layers with the same name in one model', () => {
    const d = layers.dense({ units: 2, name: 'twin', inputShape: [3] });
    expect(() => new Sequential([d, layers.dense({ units: 2, name: 'twin' })])).toThrow(/unique names.*twin/);
  });
});

describe('freezing and unfreezing', () => {
  it('a frozen layer keeps its weights while the others train; unfreezing with a lower learning rate trains it again', async () => {
    setSeed(5);
    const { x, y } = blobs(256, 8, 4, 3);
    const m = modelA();
    m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
    await m.fit(x, y, { epochs: 1, verbose: 0 });
    const [l0, l1] = m.layers as [Layer, Layer];
    l0.trainable = false;
    m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }) });
    expect(m.trainableWeights.length).toBe(4);
    const frozen = copy(l0);
    const other = copy(l1);
    await m.fit(x, y, { epochs: 2, verbose: 0 });
    expect(same(frozen, copy(l0))).toBe(true);
    expect(same(other, copy(l1))).toBe(false);
    l0.trainable = true;
    m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 0.005 }) });
    expect(m.trainableWeights.length).toBe(6);
    await m.fit(x, y, { epochs: 1, verbose: 0 });
    expect(same(frozen, copy(l0))).toBe(false);
  });

  it('freezing a layer does not shift the Adam state of the layers that stay trainable (tfjs #4290)', async () => {
    // Train all layers with Adam, freeze layer 0, take one more step with the SAME optimizer. For
    // every weight still trained, Adam's moments must satisfy m1 = b1 m0 + (1-b1) g and
    // v1 = b2 v0 + (1-b2) g^2 for ONE gradient g, where m0, v0 are that weight's own moments from
    // before the freeze. Slots re-used by position (the tfjs bug) would pair layer 1 with layer 0's
    // moments and break the identity.
    setSeed(6);
    const { x, y } = blobs(64, 8, 4, 4);
    const m = modelA();
    const adam = optimizers.adam({ learningRate: 0.01 });
    m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: adam });
    await m.fit(x, y, { epochs: 2, batchSize: 64, verbose: 0, shuffle: false });
    const m0 = Float32Array.from(adam.slots.get('momentum')!);
    const v0 = Float32Array.from(adam.slots.get('velocity')!);
    m.layers[0]!.trainable = false;
    await m.fit(x, y, { epochs: 1, batchSize: 64, verbose: 0, shuffle: false });
    const m1 = adam.slots.get('momentum')!;
    const v1 = adam.slots.get('velocity')!;
    const n0 = 8 * 16 + 16; // layer 0's kernel and bias came first before the freeze
    expect(m1.length).toBe(m0.length - n0);
    let checked = 0;
    for (let i = 0; i < m1.length; i++) {
      const g = (m1[i]! - 0.9 * m0[n0 + i]!) / 0.1;
      const expected = 0.999 * v0[n0 + i]! + 0.001 * g * g;
      expect(Math.abs(v1[i]! - expected)).toBeLessThanOrEqual(1e-4 * Math.max(1e-6, expected) + 1e-9);
      if (Math.abs(g) > 1e-4) checked++;
    }
    expect(checked).toBeGreaterThan(m1.length / 4);
  });
});
