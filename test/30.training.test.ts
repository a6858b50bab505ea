/**
 * End-to-end training with Sequential + SGD on generated data: accuracy, reproducibility under
 * setSeed, predict/evaluate/History contracts, validationSplit, the event loop during fit,
 * callbacks and stopTraining, and flat memory across epochs (the autograd pool stops growing).
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor';
import { Sequential } from '../src/models/sequential';
import { Dense } from '../src/layers';
import { SGD } from '../src/optimizers';
import { Callback, LambdaCallback } from '../src/callbacks';
import type { Logs } from '../src/callbacks';
import { setSeed } from '../src/random';
import { pool } from '../src/autograd/engine';
import { gauss, rng } from './support/reference';

const DIM = 12, CLASSES = 4;

/** `n` samples from CLASSES Gaussian blobs in DIM dimensions (centres ~3 apart, unit spread). */
function blobs(n: number, seed: number): { x: Tensor; y: Tensor } {
  const rc = rng(7); // the same centres for every call
  const centres = Array.from({ length: CLASSES }, () => Array.from({ length: DIM }, () => 1.5 * gauss(rc)));
  const r = rng(seed);
  const x = new Float32Array(n * DIM), y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % CLASSES;
    y[i] = c;
    for (let j = 0; j < DIM; j++) x[i * DIM + j] = centres[c]![j]! + gauss(r);
  }
  return { x: new Tensor(x, [n, DIM]), y: new Tensor(y, [n]) };
}

function model(seed: number, hidden = 16): Sequential {
  setSeed(seed);
  const m = new Sequential([
    new Dense({ units: hidden, activation: 'relu', inputShape: [DIM] }),
    new Dense({ units: CLASSES, activation: 'softmax' }),
  ]);
  m.compile({ optimizer: new SGD({ learningRate: 0.05, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

const train = blobs(800, 1);
const test = blobs(400, 2);

describe('training', () => {
  it('reaches >= 95% accuracy on held-out Gaussian blobs in a few epochs (seed 42)', async () => {
    const m = model(42);
    const t0 = performance.now();
    const history = await m.fit(train.x, train.y, { epochs: 8, batchSize: 32, verbose: 0 });
    const seconds = (performance.now() - t0) / 1000;
    expect(seconds).toBeLessThan(5);
    const losses = history.history.loss!;
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]!);
    expect(history.history.accuracy![history.history.accuracy!.length - 1]).toBeGreaterThanOrEqual(0.95);
    const { accuracy, loss } = m.evaluate(test.x, test.y);
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
    expect(loss).toBeLessThan(0.3);
  });

  it('the same seed twice gives bit-identical weights; another seed does not', async () => {
    const run = async (seed: number) => {
      const m = model(seed);
      await m.fit(train.x, train.y, { epochs: 2, batchSize: 50, verbose: 0 });
      return m.getWeights().map((w) => Array.from(w.data));
    };
    const a = await run(123), b = await run(123), c = await run(124);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('predict returns [n, classes] probabilities in input order, for any batch size', () => {
    const m = model(5);
    const p = m.predict(test.x, { batchSize: 37 });
    expect(p.shape).toEqual([400, CLASSES]);
    for (let i = 0; i < 400; i++) {
      let s = 0;
      for (let j = 0; j < CLASSES; j++) s += p.data[i * CLASSES + j]!;
      expect(s).toBeCloseTo(1, 5);
    }
    const one = m.predict(new Tensor(test.x.data.slice(5 * DIM, 6 * DIM), [1, DIM]));
    expect(one.shape).toEqual([1, CLASSES]);
    expect(Array.from(one.data)).toEqual(Array.from(p.data.subarray(5 * CLASSES, 6 * CLASSES)));
    const nested = m.predict([Array.from(test.x.data.subarray(0, DIM))]);
    expect(nested.shape).toEqual([1, CLASSES]);
  });

  it('evaluate returns {loss, accuracy} matching a TS computation from predict', () => {
    const m = model(6);
    const res = m.evaluate(test.x, test.y, { batchSize: 64 });
    expect(Object.keys(res).sort()).toEqual(['accuracy', 'loss']);
    const p = m.predict(test.x);
    let loss = 0, hits = 0;
    for (let i = 0; i < 400; i++) {
      const row = Array.from(p.data.subarray(i * CLASSES, (i + 1) * CLASSES));
      const label = test.y.data[i]!;
      loss -= Math.log(row[label]!);
      if (row.indexOf(Math.max(...row)) === label) hits++;
    }
    expect(res.loss).toBeCloseTo(loss / 400, 4);
    expect(res.accuracy).toBe(hits / 400);
  });

  it('History has per-epoch loss, accuracy, val_loss, val_accuracy; validationSplit takes the last fraction', async () => {
    const m = model(7);
    let samples = -1;
    const history = await m.fit(train.x, train.y, {
      epochs: 3,
      batchSize: 64,
      validationSplit: 0.25,
      verbose: 0,
      callbacks: [
        new (class extends Callback {
          override onTrainBegin(): void {
            samples = this.params!.samples;
          }
        })(),
      ],
    });
    expect(samples).toBe(600);
    expect(history.epoch).toEqual([0, 1, 2]);
    expect(Object.keys(history.history)).toEqual(expect.arrayContaining(['accuracy', 'loss', 'val_accuracy', 'val_loss']));
    for (const v of Object.values(history.history)) expect(v).toHaveLength(3);
    // After the last epoch the weights no longer change: its val_* are the metrics of samples 600..799.
    const tail = {
      x: new Tensor(train.x.data.slice(600 * DIM), [200, DIM]),
      y: new Tensor(train.y.data.slice(600), [200]),
    };
    const head = { x: new Tensor(train.x.data.slice(0, 200 * DIM), [200, DIM]), y: new Tensor(train.y.data.slice(0, 200), [200]) };
    const last = m.evaluate(tail.x, tail.y, { batchSize: 64 });
    expect(history.history.val_loss![2]).toBeCloseTo(last.loss!, 6);
    expect(history.history.val_accuracy![2]).toBe(last.accuracy);
    expect(m.evaluate(head.x, head.y, { batchSize: 64 }).loss).not.toBeCloseTo(last.loss!, 6);
  });

  it('validationData is evaluated at every epoch end', async () => {
    const m = model(8);
    const history = await m.fit(train.x, train.y, { epochs: 2, verbose: 0, validationData: [test.x, test.y] });
    expect(history.history.val_accuracy).toHaveLength(2);
    expect(history.history.val_loss![1]).toBeCloseTo(m.evaluate(test.x, test.y).loss!, 6);
  });

  it('fit is async and the event loop keeps running during a longer fit', async () => {
    const big = blobs(20000, 3);
    const m = model(9, 128);
    let ticks = 0, batches = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    // 10 epochs: 2 took only 27 ms on a Sapphire Rapids core, too short for 3 ticks of a 5 ms timer.
    const promise = m.fit(big.x, big.y, {
      epochs: 10,
      batchSize: 32,
      verbose: 0,
      callbacks: [new LambdaCallback({ onBatchEnd: () => void batches++ })],
    });
    expect(promise).toBeInstanceOf(Promise);
    expect(batches).toBe(0); // nothing ran synchronously
    let ticksBeforeEnd = 0;
    await promise.then(() => (ticksBeforeEnd = ticks));
    clearInterval(timer);
    expect(batches).toBe(10 * Math.ceil(20000 / 32));
    // At least a few timer callbacks ran while training (fit yields every ~10 ms).
    expect(ticksBeforeEnd, `${ticksBeforeEnd} ticks in ${Math.round(performance.now() - t0)} ms`).toBeGreaterThanOrEqual(3);
  });

  it('callbacks receive the hooks in order with logs', async () => {
    const m = model(10);
    const events: string[] = [];
    const epochLogs: Logs[] = [];
    const batchLogs: Logs[] = [];
    await m.fit(train.x, train.y, {
      epochs: 2,
      batchSize: 400,
      verbose: 0,
      callbacks: [
        new LambdaCallback({
          onTrainBegin: () => void events.push('trainBegin'),
          onEpochBegin: (e) => void events.push(`epochBegin ${e}`),
          onBatchBegin: (b) => void events.push(`batchBegin ${b}`),
          onBatchEnd: (b, logs) => {
            events.push(`batchEnd ${b}`);
            batchLogs.push({ ...logs });
          },
          onEpochEnd: (e, logs) => {
            events.push(`epochEnd ${e}`);
            epochLogs.push({ ...logs });
          },
          onTrainEnd: () => void events.push('trainEnd'),
        }),
      ],
    });
    expect(events).toEqual([
      'trainBegin',
      'epochBegin 0', 'batchBegin 0', 'batchEnd 0', 'batchBegin 1', 'batchEnd 1', 'epochEnd 0',
      'epochBegin 1', 'batchBegin 0', 'batchEnd 0', 'batchBegin 1', 'batchEnd 1', 'epochEnd 1',
      'trainEnd',
    ]);
    for (const logs of [...epochLogs, ...batchLogs]) {
      expect(Number.isFinite(logs.loss)).toBe(true);
      expect(logs.accuracy).toBeGreaterThanOrEqual(0);
      expect(logs.accuracy).toBeLessThanOrEqual(1);
    }
    // Epoch logs are the running means at the end of the epoch.
    expect(epochLogs[0]!.loss).toBe(batchLogs[1]!.loss);
    expect(epochLogs[0]!.loss).toBeCloseTo((batchLogs[0]!.loss! + (2 * batchLogs[1]!.loss! - batchLogs[0]!.loss!)) / 2, 6);
  });

  it('async callbacks are awaited', async () => {
    const m = model(11);
    const order: string[] = [];
    await m.fit(train.x, train.y, {
      epochs: 1,
      batchSize: 400,
      verbose: 0,
      callbacks: [
        new LambdaCallback({
          onBatchEnd: async (b) => {
            await new Promise((r) => setTimeout(r, 5));
            order.push(`slow ${b}`);
          },
        }),
        new LambdaCallback({ onBatchEnd: (b) => void order.push(`fast ${b}`) }),
      ],
    });
    expect(order).toEqual(['slow 0', 'fast 0', 'slow 1', 'fast 1']);
  });

  it('stopTraining set from a callback stops after the current batch', async () => {
    const m = model(12);
    let batches = 0;
    const history = await m.fit(train.x, train.y, {
      epochs: 5,
      batchSize: 32,
      verbose: 0,
      callbacks: [
        new (class extends Callback {
          override onBatchEnd(b: number): void {
            batches++;
            if (b === 2) this.model!.stopTraining = true; // Keras: self.model.stop_training = True
          }
        })(),
      ],
    });
    expect(batches).toBe(3);
    expect(history.epoch.length).toBeLessThanOrEqual(1);
    // From onEpochEnd: finishes that epoch only.
    const history2 = await m.fit(train.x, train.y, {
      epochs: 5,
      verbose: 0,
      callbacks: [new LambdaCallback({ onEpochEnd: (e) => void (e === 1 && (m.stopTraining = true)) })],
    });
    expect(history2.epoch).toEqual([0, 1]);
  });

  it('memory is flat: the autograd pool holds the same floats at every epoch end after warm-up', async () => {
    const m = model(13);
    const args = { batchSize: 48, verbose: 0 as const, validationSplit: 0.2 };
    await m.fit(train.x, train.y, { ...args, epochs: 3 });
    const warm = pool.pooledFloats();
    expect(warm).toBeGreaterThan(0);
    const perEpoch: number[] = [];
    await m.fit(train.x, train.y, {
      ...args,
      epochs: 10,
      callbacks: [new LambdaCallback({ onEpochEnd: () => void perEpoch.push(pool.pooledFloats()) })],
    });
    expect(perEpoch).toEqual(new Array(10).fill(warm));
  });
});
