/**
 * Per-sample loss weights (Keras 3's `sample_weight` and `class_weight` in fit, train_on_batch,
 * evaluate and test_on_batch). Keras's rules, from keras/src/losses/loss.py
 * (reduce_weighted_values: sum(w_i * loss_i) / batch size) and
 * keras/src/trainers/data_adapters/data_adapter_utils.py (class_weight_to_sample_weights: the
 * weight of each sample's class, by label or argmax of a one-hot row, 1.0 for a class not listed;
 * sample_weight and class_weight not together; validation_split splits sample_weight with the
 * data, class_weight reaches the training part only). The references are equalities that follow
 * from the formula: weights of 2 with plain SGD are a doubled learning rate; weights of 0 and 2 on
 * one full batch are training on the kept half alone; class weights are their sample weights.
 * Each loss's weighted value and gradient are checked in test/20.
 */
import { describe, expect, it } from 'vitest';
import { Sequential } from '../src/models/sequential';
import { Dense } from '../src/layers';
import { SGD } from '../src/optimizers';
import { Tensor } from '../src/tensor';
import { setSeed } from '../src/random';
import { caught, randArray, rng } from './support/reference';
import * as ops from '../src/ops';

const F = 4;
const C = 3;
const N = 24;

function data(seed: number) {
  const r = rng(seed);
  const x = new Tensor(randArray(r, N * F), [N, F]);
  const y = new Tensor(new Float32Array(N).map(() => Math.floor(r() * C)), [N]);
  const w = new Float32Array(N).map(() => Math.round(r() * 4) / 2);
  return { x, y, w };
}

function net(init?: Tensor[]): Sequential {
  setSeed(5);
  const m = new Sequential([new Dense({ units: 5, activation: 'tanh', inputShape: [F] }), new Dense({ units: C, activation: 'softmax' })]);
  m.build([null, F]);
  if (init) m.setWeights(init);
  return m;
}

function maxDiff(a: Sequential, b: Sequential): number {
  let worst = 0;
  a.getWeights().forEach((w, i) => {
    const v = b.getWeights()[i]!;
    for (let j = 0; j < w.size; j++) worst = Math.max(worst, Math.abs(w.data[j]! - v.data[j]!));
  });
  return worst;
}

const rows = (t: Tensor, idx: number[]) => {
  const per = t.size / t.shape[0]!;
  const out = new Float32Array(idx.length * per);
  idx.forEach((r, k) => out.set(t.data.subarray(r * per, (r + 1) * per), k * per));
  return new Tensor(out, [idx.length, ...t.shape.slice(1)]);
};

describe('sampleWeight and classWeight in fit', () => {
  it('weights of 2 with plain SGD train as a doubled learning rate, and log twice the loss', async () => {
    const { x, y } = data(1);
    const init = net().getWeights();
    const a = net(init);
    a.compile({ optimizer: new SGD({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy' });
    const b = net(init);
    b.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const ha = await a.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0, sampleWeight: new Float32Array(N).fill(2) });
    const hb = await b.fit(x, y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    expect(maxDiff(a, b)).toBeLessThan(1e-6);
    ha.history.loss!.forEach((l, i) => expect(l).toBeCloseTo(2 * hb.history.loss![i]!, 5));
  });

  it('weights 0 and 2 on one full batch train as the kept half alone (the shuffled order does not matter)', async () => {
    const { x, y } = data(2);
    const keep = [...Array(N).keys()].filter((i) => i % 3 !== 0);
    const w = new Float32Array(N).map((_, i) => (i % 3 !== 0 ? N / keep.length : 0));
    const init = net().getWeights();
    const a = net(init);
    a.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const b = net(init);
    b.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    await a.fit(x, y, { epochs: 4, batchSize: N, verbose: 0, sampleWeight: w });
    await b.fit(rows(x, keep), rows(y, keep), { epochs: 4, batchSize: N, verbose: 0 });
    expect(maxDiff(a, b)).toBeLessThan(1e-6);
  });

  it('classWeight is the sample weight of each sample’s class (1 for a class not listed), by label or by one-hot argmax', async () => {
    const { x, y } = data(3);
    const byHand = new Float32Array(N).map((_, i) => (y.data[i] === 0 ? 3 : y.data[i] === 2 ? 0.5 : 1));
    const init = net().getWeights();
    const fitWith = async (extra: object, loss = 'sparseCategoricalCrossentropy', labels: Tensor = y) => {
      const m = net(init);
      m.compile({ optimizer: new SGD({ learningRate: 0.1, momentum: 0.9 }), loss: loss as 'sparseCategoricalCrossentropy' });
      const h = await m.fit(x, labels, { epochs: 2, batchSize: 5, shuffle: false, verbose: 0, ...extra });
      return { m, h };
    };
    const ref = await fitWith({ sampleWeight: byHand });
    for (const classWeight of [{ 0: 3, 2: 0.5 }, new Map([[0, 3], [2, 0.5]]), [3, 1, 0.5]]) {
      const got = await fitWith({ classWeight });
      expect(maxDiff(ref.m, got.m)).toBe(0);
      expect(got.h.history.loss).toEqual(ref.h.history.loss);
    }
    const onehot = new Tensor(new Float32Array(N * C), [N, C]);
    y.data.forEach((c, i) => (onehot.data[i * C + c] = 1));
    const hot = await fitWith({ classWeight: { 0: 3, 2: 0.5 } }, 'categoricalCrossentropy', onehot);
    expect(maxDiff(ref.m, hot.m)).toBeLessThan(1e-6);
  });

  it('validation: split sample weights weight val_loss; class weights do not; [x, y, w] validation data is weighted', async () => {
    const { x, y, w } = data(4);
    const model = net();
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const at = Math.floor(N * 0.75);
    const valX = rows(x, [...Array(N - at).keys()].map((i) => at + i));
    const valY = rows(y, [...Array(N - at).keys()].map((i) => at + i));
    const valW = w.slice(at);
    let h = await model.fit(x, y, { epochs: 1, verbose: 0, validationSplit: 0.25, sampleWeight: w });
    expect(h.history.val_loss![0]).toBeCloseTo(model.evaluate(valX, valY, { sampleWeight: valW }).loss!, 6);
    h = await model.fit(x, y, { epochs: 1, verbose: 0, validationSplit: 0.25, classWeight: { 0: 10 } });
    expect(h.history.val_loss![0]).toBeCloseTo(model.evaluate(valX, valY).loss!, 6);
    h = await model.fit(x, y, { epochs: 1, verbose: 0, validationData: [valX, valY, valW] });
    expect(h.history.val_loss![0]).toBeCloseTo(model.evaluate(valX, valY, { sampleWeight: valW }).loss!, 6);
  });

  it('evaluate, testOnBatch and trainOnBatch take weights as fit does', async () => {
    const { x, y, w } = data(5);
    const model = net();
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    // Each sample's own loss, then sum(w_i * loss_i) / N: the same at any batch size.
    const own = [...Array(N).keys()].map((i) => model.evaluate(rows(x, [i]), rows(y, [i])).loss!);
    const want = own.reduce((s, l, i) => s + w[i]! * l, 0) / N;
    for (const batchSize of [N, 7]) expect(model.evaluate(x, y, { batchSize, sampleWeight: w }).loss).toBeCloseTo(want, 5);
    const [loss, acc] = model.testOnBatch(x, y, { sampleWeight: w }) as number[];
    expect(loss).toBeCloseTo(want, 5);
    // Metrics stay unweighted (Keras's compile metrics).
    expect(acc).toBeCloseTo(model.evaluate(x, y).accuracy!, 6);
    const init = model.getWeights();
    const viaFit = net(init);
    viaFit.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    await viaFit.fit(x, y, { batchSize: N, shuffle: false, verbose: 0, classWeight: { 1: 4 } });
    const step = net(init);
    step.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    step.trainOnBatch(x, y, { classWeight: { 1: 4 } });
    expect(maxDiff(viaFit, step)).toBe(0);
  });

  it('refuses both together, negative, non-finite or misshapen weights and bad class keys', async () => {
    const { x, y, w } = data(6);
    const model = net();
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const fitErr = async (extra: object) => {
      try {
        await model.fit(x, y, { verbose: 0, ...extra });
      } catch (e) {
        return (e as Error).message;
      }
      return expect.fail('expected a throw');
    };
    expect(await fitErr({ sampleWeight: w, classWeight: { 0: 2 } })).toMatch(/cannot be given together/);
    expect(await fitErr({ sampleWeight: w.map((v, i) => (i === 3 ? -1 : v)) })).toMatch(/sampleWeight\[3\] is -1/);
    expect(await fitErr({ sampleWeight: w.map((v, i) => (i === 5 ? Number.NaN : v)) })).toMatch(/sampleWeight\[5\] is NaN/);
    expect(await fitErr({ sampleWeight: w.slice(1) })).toMatch(/shape \[24\], received shape \[23\]/);
    expect(await fitErr({ classWeight: { a: 2 } })).toMatch(/classWeight key "a" is not a class index/);
    expect(await fitErr({ classWeight: { 1: -2 } })).toMatch(/classWeight\[1\] is -2/);
    expect(await fitErr({ classWeight: {} })).toMatch(/classWeight must map class indices/);
    expect(caught(() => model.evaluate(x, y, { classWeight: { 0: 1 } } as never)).message).toMatch(/classWeight/);
  });
});

describe('weightedMetrics (Keras 3 weighted_metrics)', () => {
  it('count each sample with its weight; a name already taken is logged as weighted_<name>; without weights they equal the plain metric', async () => {
    const { x, y, w } = data(7);
    const model = net();
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], weightedMetrics: ['accuracy'] });
    expect(model.metricsNames).toEqual(['loss', 'accuracy', 'weighted_accuracy']);
    const p = model.predict(x).data;
    let hits = 0, whits = 0, wsum = 0;
    for (let i = 0; i < N; i++) {
      const row = Array.from(p.subarray(i * C, (i + 1) * C));
      const hit = row.indexOf(Math.max(...row)) === y.data[i] ? 1 : 0;
      hits += hit;
      whits += w[i]! * hit;
      wsum += w[i]!;
    }
    const r = model.evaluate(x, y, { sampleWeight: w, batchSize: 7 });
    expect(r.accuracy).toBeCloseTo(hits / N, 6);
    expect(r.weighted_accuracy).toBeCloseTo(whits / wsum, 6);
    const plain = model.evaluate(x, y);
    expect(plain.weighted_accuracy).toBeCloseTo(plain.accuracy!, 6);
    // trainOnBatch: class weights reach the weighted metric (predictions before the step).
    const byClass = new Float32Array(N).map((_, i) => (y.data[i] === 1 ? 3 : 1));
    let cw = 0, cs = 0;
    for (let i = 0; i < N; i++) {
      const row = Array.from(p.subarray(i * C, (i + 1) * C));
      cw += byClass[i]! * (row.indexOf(Math.max(...row)) === y.data[i] ? 1 : 0);
      cs += byClass[i]!;
    }
    const [, acc, wacc] = model.trainOnBatch(x, y, { classWeight: { 1: 3 } }) as number[];
    expect(acc).toBeCloseTo(hits / N, 6);
    expect(wacc).toBeCloseTo(cw / cs, 6);
  });

  it('a weighted metric function is the weighted mean of its values; weighted metrics survive save and load', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { loadModel } = await import('../src/saving');
    const { x, y, w } = data(8);
    const onehot = new Tensor(new Float32Array(N * C), [N, C]);
    y.data.forEach((c, i) => (onehot.data[i * C + c] = 1));
    const model = net();
    function sq(t: Tensor, p: Tensor) {
      return ops.square(ops.sub(t, p));
    }
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy', weightedMetrics: [sq, 'categoricalAccuracy'] });
    const r = model.evaluate(x, onehot, { sampleWeight: w });
    const p = model.predict(x).data;
    let num = 0, den = 0;
    for (let i = 0; i < N; i++) for (let j = 0; j < C; j++) {
      num += w[i]! * (p[i * C + j]! - onehot.data[i * C + j]!) ** 2;
      den += w[i]!;
    }
    expect(r.sq).toBeCloseTo(num / den, 5);
    const model2 = net();
    model2.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], weightedMetrics: ['accuracy', 'sparseCategoricalAccuracy'] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dn-wm-'));
    try {
      await model2.save(dir);
      const back = (await loadModel(dir)) as Sequential;
      expect(back.metricsNames).toEqual(model2.metricsNames);
      expect(back.evaluate(x, y, { sampleWeight: w })).toEqual(model2.evaluate(x, y, { sampleWeight: w }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
