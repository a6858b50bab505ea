/**
 * Training steps of your own (Keras 3's custom training loop and its *_on_batch methods):
 * valueAndGrads (tf.GradientTape / tfjs variableGrads), Optimizer.applyGradients
 * (apply_gradients), Sequential.losses (model.losses), trainOnBatch, testOnBatch and
 * predictOnBatch. The references are fit itself on the same batches, hand-worked formulas
 * (gradients, SGD with momentum as Keras 3 writes it) and central finite differences.
 */
import { describe, expect, it, vi } from 'vitest';
import { Sequential } from '../src/models/sequential';
import { BatchNormalization, Dense } from '../src/layers';
import { Layer } from '../src/layers/layer';
import { SparseCategoricalCrossentropy } from '../src/losses';
import { Adam, SGD } from '../src/optimizers';
import { Tensor } from '../src/tensor';
import { noGrad, valueAndGrads } from '../src/autograd/engine';
import { l2 } from '../src/regularizers';
import { maxNorm } from '../src/constraints';
import * as ops from '../src/ops';
import { caught, randArray, rng } from './support/reference';

const F = 5;
const C = 3;
const N = 32;
const BATCH = 8;

function data(seed: number): { x: Float32Array; y: Float32Array } {
  const r = rng(seed);
  const x = randArray(r, N * F);
  const y = new Float32Array(N).map(() => Math.floor(r() * C));
  return { x, y };
}

/** A small model with a regularized kernel and batch normalization, weights from `init` when given. */
function makeModel(init?: Tensor[]): Sequential {
  const m = new Sequential([
    new Dense({ units: 6, activation: 'relu', inputShape: [F], kernelRegularizer: l2(1e-2) }),
    new BatchNormalization(),
    new Dense({ units: C, activation: 'softmax' }),
  ]);
  m.build([null, F]);
  if (init) m.setWeights(init);
  return m;
}

const batchOf = (d: { x: Float32Array; y: Float32Array }, b: number): [Tensor, Tensor] => [
  new Tensor(d.x.slice(b * BATCH * F, (b + 1) * BATCH * F), [BATCH, F]),
  new Tensor(d.y.slice(b * BATCH, (b + 1) * BATCH), [BATCH]),
];

function customStep(model: Sequential, optimizer: Adam | SGD, x: Tensor, y: Tensor): number {
  const loss = new SparseCategoricalCrossentropy();
  const vars = model.trainableWeights;
  const { value, grads } = valueAndGrads(() => {
    const total = loss.compute(model.call(x, true), y);
    return model.losses.reduce((t, r) => ops.add(t, r), total);
  }, vars);
  optimizer.applyGradients(grads.map((g, i) => [g, vars[i]!] as const));
  return value;
}

function expectSameWeights(a: Sequential, b: Sequential, tol: number): void {
  const wa = a.getWeights();
  const wb = b.getWeights();
  expect(wb.length).toBe(wa.length);
  wa.forEach((w, i) => {
    const v = wb[i]!;
    let worst = 0;
    for (let j = 0; j < w.size; j++) worst = Math.max(worst, Math.abs(w.data[j]! - v.data[j]!));
    expect(worst, `weight ${i}`).toBeLessThanOrEqual(tol);
  });
}

describe('a training step of your own matches fit', () => {
  it('valueAndGrads + applyGradients, compiled (in place) or not (copied), and trainOnBatch give fit’s weights and losses', async () => {
    const d = data(1);
    const init = makeModel().getWeights();
    const steps = N / BATCH;

    const viaFit = makeModel(init);
    viaFit.compile({ optimizer: new Adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy' });
    const fitLosses: number[] = [];
    await viaFit.fit(new Tensor(d.x, [N, F]), new Tensor(d.y, [N]), {
      batchSize: BATCH,
      shuffle: false,
      verbose: 0,
      callbacks: [
        new (class extends (await import('../src/callbacks')).Callback {
          private seen = 0;
          override onBatchEnd(_b: number, logs: Record<string, number>) {
            // fit logs the running mean: recover each batch's own loss.
            const k = ++this.seen;
            fitLosses.push(logs.loss! * k - fitLosses.reduce((s, v) => s + v, 0));
          }
        })(),
      ],
    });

    // Compiled: the trainable weights are views of one buffer, updated in place.
    const compiled = makeModel(init);
    const optA = new Adam({ learningRate: 1e-2 });
    compiled.compile({ optimizer: optA, loss: 'sparseCategoricalCrossentropy' });
    // Not compiled: separate buffers, gathered and written back.
    const loose = makeModel(init);
    const optB = new Adam({ learningRate: 1e-2 });
    const looseLosses: number[] = [];
    // trainOnBatch for the first half, then a custom loop on the same model and optimizer: the
    // optimizer's moments carry over from one to the other.
    const mixed = makeModel(init);
    const optC = new Adam({ learningRate: 1e-2 });
    mixed.compile({ optimizer: optC, loss: 'sparseCategoricalCrossentropy' });
    const mixedLosses: number[] = [];
    for (let b = 0; b < steps; b++) {
      const [x, y] = batchOf(d, b);
      customStep(compiled, optA, x, y);
      looseLosses.push(customStep(loose, optB, x, y));
      mixedLosses.push(b < steps / 2 ? (mixed.trainOnBatch(x, y) as number) : customStep(mixed, optC, x, y));
    }
    expect(optA.iterations).toBe(steps);
    expect(optC.iterations).toBe(steps);
    for (const m of [compiled, loose, mixed]) expectSameWeights(viaFit, m, 2e-6);
    for (const losses of [looseLosses, mixedLosses]) losses.forEach((l, i) => expect(l).toBeCloseTo(fitLosses[i]!, 5));
  });
});

describe('valueAndGrads', () => {
  // f(W) = mean over the batch and units of (x W)^2: df/dW = (2 / (n u)) x^T (x W), worked in float64.
  const n = 4;
  const k = 3;
  const u = 2;
  const r = rng(7);
  const xData = randArray(r, n * k);
  const wData = randArray(r, k * u);
  const f = (w: Float64Array | Float32Array) => {
    let s = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < u; j++) {
        let z = 0;
        for (let p = 0; p < k; p++) z += xData[i * k + p]! * w[p * u + j]!;
        s += z * z;
      }
    return s / (n * u);
  };

  it('returns the value and the gradient of the hand formula, checked by central differences too', () => {
    const W = new Tensor(Float32Array.from(wData), [k, u]);
    W.requiresGrad = true;
    const x = new Tensor(xData, [n, k]);
    const { value, grads } = valueAndGrads(() => {
      const z = ops.matmul(x, W);
      return ops.mean(ops.mul(z, z));
    }, [W]);
    expect(value).toBeCloseTo(f(wData), 6);
    const g = grads[0]!;
    expect(g.shape).toEqual([k, u]);
    for (let p = 0; p < k; p++)
      for (let j = 0; j < u; j++) {
        let hand = 0;
        for (let i = 0; i < n; i++) {
          let z = 0;
          for (let q = 0; q < k; q++) z += xData[i * k + q]! * wData[q * u + j]!;
          hand += (2 / (n * u)) * xData[i * k + p]! * z;
        }
        const h = 1e-4;
        const wp = Float64Array.from(wData);
        const wm = Float64Array.from(wData);
        wp[p * u + j]! += h;
        wm[p * u + j]! -= h;
        const numeric = (f(wp) - f(wm)) / (2 * h);
        expect(g.data[p * u + j]).toBeCloseTo(hand, 5);
        expect(g.data[p * u + j]).toBeCloseTo(numeric, 4);
      }
  });

  it('does not accumulate, leaves the variables’ own grad buffers alone, and gives null for a variable the value does not use', () => {
    const W = new Tensor(Float32Array.from(wData), [k, u]);
    W.requiresGrad = true;
    W.grad = new Float32Array(k * u).fill(7);
    const unused = new Tensor(new Float32Array(3), [3]);
    unused.requiresGrad = true;
    const x = new Tensor(xData, [n, k]);
    const run = () =>
      valueAndGrads(() => {
        const z = ops.matmul(x, W);
        return ops.mean(ops.mul(z, z));
      }, [W, unused]);
    const a = run();
    const b = run();
    expect(Array.from(b.grads[0]!.data)).toEqual(Array.from(a.grads[0]!.data));
    expect(Array.from(W.grad!)).toEqual(new Array(k * u).fill(7));
    expect(a.grads[1]).toBeNull();
  });

  it('refuses what it cannot differentiate, with typed errors', () => {
    const W = new Tensor(Float32Array.from(wData), [k, u]);
    W.requiresGrad = true;
    const frozen = new Tensor(new Float32Array(2), [2]);
    const x = new Tensor(xData, [n, k]);
    const scalar = () => ops.sum(ops.matmul(x, W));
    expect(caught(() => valueAndGrads(scalar, [frozen])).message).toMatch(/vars\[0\] does not record gradients/);
    expect(caught(() => valueAndGrads(scalar, [W, W])).message).toMatch(/vars\[1\] appears twice/);
    expect(caught(() => valueAndGrads(() => ops.matmul(x, W), [W])).message).toMatch(/scalar tensor, received shape \[4, 2\]/);
    expect(caught(() => valueAndGrads(() => 3 as unknown as Tensor, [W])).message).toMatch(/scalar tensor, received/);
    expect(caught(() => noGrad(() => valueAndGrads(scalar, [W]))).message).toMatch(/inside noGrad/);
    const model = makeModel();
    const [name] = model.trainableWeights.map((v) => v.name);
    model.layers[0]!.trainable = false;
    expect(caught(() => valueAndGrads(scalar, [model.layers[0]!.weights[0]!])).message).toContain(`("${name}")`);
  });
});

describe('Optimizer.applyGradients', () => {
  it('SGD with momentum on variables in any order: Keras 3’s v = m v − lr g, w += v, one step per call', () => {
    const a = new Tensor(Float32Array.from([1, -2, 3]), [3]);
    const b = new Tensor(Float32Array.from([0.5, 0.25]), [2]);
    a.requiresGrad = b.requiresGrad = true;
    const opt = new SGD({ learningRate: 0.1, momentum: 0.9 });
    const ga = [Float32Array.from([0.3, -0.6, 0.9]), Float32Array.from([0.1, 0.2, -0.4])];
    const gb = [Float32Array.from([-1, 2]), Float32Array.from([0.5, 0.5])];
    const wa = [1, -2, 3];
    const wb = [0.5, 0.25];
    const va = [0, 0, 0];
    const vb = [0, 0];
    for (let s = 0; s < 2; s++) {
      opt.applyGradients([
        [new Tensor(gb[s]!, [2]), b],
        [ga[s]!, a],
      ]);
      for (let i = 0; i < 3; i++) wa[i] += va[i] = 0.9 * va[i]! - 0.1 * ga[s]![i]!;
      for (let i = 0; i < 2; i++) wb[i] += vb[i] = 0.9 * vb[i]! - 0.1 * gb[s]![i]!;
    }
    expect(opt.iterations).toBe(2);
    wa.forEach((w, i) => expect(a.data[i]).toBeCloseTo(w, 6));
    wb.forEach((w, i) => expect(b.data[i]).toBeCloseTo(w, 6));
  });

  it('clips a copy (the caller’s gradients stay as given), skips a null gradient with one warning, applies constraints', () => {
    const model = new Sequential([new Dense({ units: 4, inputShape: [3], kernelConstraint: maxNorm({ maxValue: 0.5 }) })]);
    model.build([null, 3]);
    const [kernel, bias] = model.trainableWeights;
    const g = new Float32Array(12).fill(10);
    const before = Float32Array.from(bias!.data);
    const opt = new SGD({ learningRate: 1, clipnorm: 1 });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      opt.applyGradients([
        [g, kernel!],
        [null, bias!],
      ]);
      opt.applyGradients([
        [g, kernel!],
        [null, bias!],
      ]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/no gradient for "dense(_\d+)?\/bias"/);
    } finally {
      warn.mockRestore();
    }
    expect(Array.from(g)).toEqual(new Array(12).fill(10));
    expect(Array.from(bias!.data)).toEqual(Array.from(before));
    for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let i = 0; i < 3; i++) s += kernel!.data[i * 4 + j]! ** 2;
      expect(Math.sqrt(s)).toBeLessThanOrEqual(0.5 + 1e-6);
    }
  });

  it('refuses bad pairs and non-finite gradients, changing nothing', () => {
    const a = new Tensor(Float32Array.from([1, 2]), [2]);
    a.requiresGrad = true;
    const frozen = new Tensor(Float32Array.from([1]), [1]);
    const opt = new SGD({ learningRate: 0.1 });
    expect(caught(() => opt.applyGradients([[Float32Array.from([1]), a]])).message).toMatch(/has 1 values, the variable 2/);
    expect(caught(() => opt.applyGradients([[Float32Array.from([1]), frozen]])).message).toMatch(/not trainable/);
    expect(caught(() => opt.applyGradients([[Float32Array.from([1, 1]), a], [Float32Array.from([1, 1]), a]])).message).toMatch(/appears twice/);
    expect(caught(() => opt.applyGradients([[a] as unknown as [Tensor, Tensor]])).message).toMatch(/not a \[gradient, variable\] pair/);
    const nan = caught(() => opt.applyGradients([[Float32Array.from([0, Number.NaN]), a]]));
    expect(nan.code).toBe('ERR_NON_FINITE');
    expect(nan.message).toMatch(/holds NaN at index 1/);
    expect(Array.from(a.data)).toEqual([1, 2]);
    expect(opt.iterations).toBe(0);
  });
});

describe('Sequential.losses, trainOnBatch, testOnBatch, predictOnBatch', () => {
  it('losses: the weight penalties (l2 = 0.01 Σw²) and the activity penalties of the last call only', () => {
    const model = new Sequential([
      new Dense({ units: 3, inputShape: [2], kernelRegularizer: l2(0.01), activityRegularizer: l2(0.1) }),
    ]);
    model.build([null, 2]);
    const x = new Tensor(Float32Array.from([1, 2, -1, 0.5]), [2, 2]);
    model.call(x, true);
    const out = noGrad(() => model.call(x, true));
    const ls = model.losses;
    expect(ls.length).toBe(2);
    const k = model.layers[0]!.weights[0]!.data;
    expect(ls[0]!.data[0]).toBeCloseTo(0.01 * k.reduce((s, v) => s + v * v, 0), 6);
    // Keras 3: the activity penalty is divided by the batch size.
    expect(ls[1]!.data[0]).toBeCloseTo((0.1 * out.data.reduce((s, v) => s + v * v, 0)) / 2, 5);
  });

  it('trainOnBatch returns the loss, [loss, metric] or a dict; its metric is this batch’s own', () => {
    const d = data(3);
    const model = new Sequential([new Dense({ units: 8, activation: 'relu', inputShape: [F] }), new Dense({ units: C, activation: 'softmax' })]);
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const results: number[][] = [];
    for (let b = 0; b < 3; b++) {
      const [x, y] = batchOf(d, b);
      // Accuracy on the forward pass before this batch's update (no dropout or batch norm here).
      const p = model.predict(x);
      let right = 0;
      for (let i = 0; i < BATCH; i++) {
        const row = Array.from(p.data.subarray(i * C, (i + 1) * C));
        if (row.indexOf(Math.max(...row)) === y.data[i]) right++;
      }
      const r = model.trainOnBatch(x, y) as number[];
      expect(r.length).toBe(2);
      expect(r[1]).toBeCloseTo(right / BATCH, 6);
      results.push(r);
    }
    const [x, y] = batchOf(d, 3);
    const dict = model.trainOnBatch(x, y, { returnDict: true }) as Record<string, number>;
    expect(Object.keys(dict)).toEqual(['loss', 'accuracy']);
    const bare = new Sequential([new Dense({ units: C, activation: 'softmax', inputShape: [F] })]);
    bare.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    expect(typeof bare.trainOnBatch(x, y)).toBe('number');
    expect(caught(() => model.trainOnBatch(x, y, { returnDict: 1 } as never)).message).toMatch(/returnDict must be a boolean/);
  });

  it('testOnBatch is evaluate on one batch; predictOnBatch is predict', () => {
    const d = data(4);
    const model = makeModel();
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const [x, y] = batchOf(d, 0);
    const ev = model.evaluate(x, y, { batchSize: BATCH });
    const [loss, acc] = model.testOnBatch(x, y) as number[];
    expect(loss).toBeCloseTo(ev.loss!, 6);
    expect(acc).toBeCloseTo(ev.accuracy!, 6);
    expect(Array.from(model.predictOnBatch(x).data)).toEqual(Array.from(model.predict(x).data));
  });

  it('trainOnBatch refuses to run inside a fit, and a non-finite loss leaves the weights and throws', async () => {
    const d = data(5);
    const model = new Sequential([new Dense({ units: C, activation: 'softmax', inputShape: [F] })]);
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const [x, y] = batchOf(d, 0);
    const during = model.fit(new Tensor(d.x, [N, F]), new Tensor(d.y, [N]), { verbose: 0, batchSize: BATCH });
    expect(caught(() => model.trainOnBatch(x, y)).message).toMatch(/while fit\(\) runs/);
    await during;
    // Every logit +Inf (positive kernel, huge inputs): softmax and the loss are NaN.
    const [kernel, bias] = model.getWeights();
    model.setWeights([new Tensor(new Float32Array(kernel!.size).fill(1), kernel!.shape), bias!]);
    const before = model.getWeights().map((w) => Array.from(w.data));
    const huge = new Tensor(new Float32Array(BATCH * F).fill(3e38), [BATCH, F]);
    const err = caught(() => model.trainOnBatch(huge, y));
    expect(err.code).toBe('ERR_NON_FINITE');
    expect(model.getWeights().map((w) => Array.from(w.data))).toEqual(before);
  });
});

// A layer of one's own trains in a custom loop as well (its weights are plain Variables).
class Scale extends Layer {
  scale: Tensor | null = null;
  override build(inputShape: readonly (number | null)[]) {
    this.scale = this.addWeight('scale', [inputShape.at(-1) as number], 'ones');
    this.built = true;
  }
  override call(x: Tensor) {
    return ops.mul(x, this.scale!);
  }
  override computeOutputShape(s: readonly (number | null)[]) {
    return [...s];
  }
}

describe('a custom layer in a custom loop', () => {
  it('learns y = 2x with SGD: the scale converges to 2', () => {
    const model = new Sequential([new Scale({ inputShape: [2] })]);
    const opt = new SGD({ learningRate: 0.1 });
    const x = new Tensor(Float32Array.from([1, -1, 0.5, 2, -2, 1]), [3, 2]);
    const y = new Tensor(x.data.map((v) => 2 * v), [3, 2]);
    const vars = model.trainableWeights;
    for (let s = 0; s < 200; s++) {
      const { grads } = valueAndGrads(() => {
        const diff = ops.add(model.call(x, true), ops.mul(y, new Tensor(Float32Array.from([-1, -1]), [2])));
        return ops.mean(ops.mul(diff, diff));
      }, vars);
      opt.applyGradients(grads.map((g, i) => [g, vars[i]!] as const));
    }
    for (const v of vars[0]!.data) expect(v).toBeCloseTo(2, 4);
  });
});

describe('losses and metrics given as functions (yTrue, yPred) => tensor', () => {
  function squared_error(yTrue: Tensor, yPred: Tensor): Tensor {
    const d = ops.add(yPred, ops.mulScalar(yTrue, -1));
    return ops.mul(d, d);
  }
  const regression = (seed: number) => {
    const r = rng(seed);
    const x = randArray(r, N * F);
    const y = randArray(r, N * 2);
    return { x: new Tensor(x, [N, F]), y: new Tensor(y, [N, 2]) };
  };
  const net = (init?: Tensor[]) => {
    const m = new Sequential([new Dense({ units: 4, activation: 'tanh', inputShape: [F] }), new Dense({ units: 2 })]);
    m.build([null, F]);
    if (init) m.setWeights(init);
    return m;
  };

  it('a per-element loss function trains as the built-in MSE (its mean, Keras’s sum_over_batch_size), logged the same', async () => {
    const { x, y } = regression(11);
    const init = net().getWeights();
    const builtin = net(init);
    builtin.compile({ optimizer: new SGD({ learningRate: 0.05 }), loss: 'mse' });
    const own = net(init);
    own.compile({ optimizer: new SGD({ learningRate: 0.05 }), loss: squared_error });
    const h1 = await builtin.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false, verbose: 0 });
    const h2 = await own.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false, verbose: 0 });
    expectSameWeights(builtin, own, 1e-6);
    h1.history.loss!.forEach((l, i) => expect(h2.history.loss![i]).toBeCloseTo(l, 6));
    // A function that already reduces (a scalar) is taken as it is.
    const scalarOwn = net(init);
    scalarOwn.compile({ optimizer: new SGD({ learningRate: 0.05 }), loss: (t: Tensor, p: Tensor) => ops.mean(squared_error(t, p)) });
    await scalarOwn.fit(x, y, { epochs: 3, batchSize: BATCH, shuffle: false, verbose: 0 });
    expectSameWeights(builtin, scalarOwn, 1e-6);
  });

  it('a metric function is the running mean of its values, logged under the function’s name', () => {
    const { x, y } = regression(12);
    const m = net();
    m.compile({ optimizer: 'sgd', loss: 'mse', metrics: [squared_error] });
    const r = m.evaluate(x, y, { batchSize: 5 });
    const p = m.predict(x).data;
    let hand = 0;
    for (let i = 0; i < p.length; i++) hand += (p[i]! - y.data[i]!) ** 2;
    expect(Object.keys(r)).toEqual(['loss', 'squared_error']);
    expect(r.squared_error).toBeCloseTo(hand / p.length, 6);
    expect(r.loss).toBeCloseTo(hand / p.length, 6);
  });

  it('refuses a function that returns no tensor, the wrong shape, or a value without yPred', async () => {
    const { x, y } = regression(13);
    const fitWith = async (loss: (t: Tensor, p: Tensor) => unknown) => {
      const m = net();
      m.compile({ optimizer: 'sgd', loss: loss as (t: Tensor, p: Tensor) => Tensor });
      try {
        await m.fit(x, y, { batchSize: BATCH, verbose: 0 });
      } catch (e) {
        return e as Error;
      }
      return expect.fail('expected a throw');
    };
    expect((await fitWith(function three() { return 3; })).message).toMatch(/loss function "three": must return a tensor/);
    expect((await fitWith(function cut(t: Tensor, p: Tensor) { return ops.reshape(squared_error(t, p), [2, BATCH]); })).message).toMatch(/returned shape/);
    expect((await fitWith(function labelsOnly(t: Tensor) { return ops.mean(ops.mul(t, t)); })).message).toMatch(/does not depend on yPred/);
  });
});

describe('the Huber loss of Hands-On ML chapter 12, written with ops', () => {
  // huber(e) = e²/2 where |e| < 1, |e| − 1/2 elsewhere, as m²/2 + (|e| − m) with m = min(|e|, 1).
  function huber_fn(yTrue: Tensor, yPred: Tensor): Tensor {
    const err = ops.abs(ops.sub(yTrue, yPred));
    const m = ops.minimum(err, 1);
    return ops.add(ops.mulScalar(ops.square(m), 0.5), ops.sub(err, m));
  }

  it('has the book’s values and trains a regression with outliers', async () => {
    const t = new Tensor(Float32Array.from([0, 1, 2, -3]), [4, 1]);
    const p = new Tensor(Float32Array.from([0.5, -1, 2.25, 1]), [4, 1]);
    const hand = [0.125, 1.5, 0.03125, 3.5];
    const loss = noGrad(() => huber_fn(t, p));
    hand.forEach((h, i) => expect(loss.data[i]).toBeCloseTo(h, 6));
    const r = rng(21);
    const x = randArray(r, 64 * 2);
    const y = new Float32Array(64).map((_, i) => 3 * x[2 * i]! - 2 * x[2 * i + 1]! + (i % 16 === 0 ? 40 : 0));
    const model = new Sequential([new Dense({ units: 1, inputShape: [2] })]);
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: huber_fn });
    const h = await model.fit(new Tensor(x, [64, 2]), new Tensor(y, [64, 1]), { epochs: 60, batchSize: 16, verbose: 0 });
    // The 4 outliers alone keep the mean near 4 × (40 − 1/2) / 64 ≈ 2.47.
    expect(h.history.loss!.at(-1)!).toBeLessThan(h.history.loss![0]!);
    expect(h.history.loss!.at(-1)!).toBeLessThan(2.6);
    // The outliers barely pull the fit (Huber's point): the slopes come out near 3 and −2.
    const k = model.layers[0]!.weights[0]!.data;
    expect(k[0]).toBeGreaterThan(2.5);
    expect(k[1]).toBeLessThan(-1.5);
  });
});

describe('Sequential: pop, getLayer, trainable, nonTrainableWeights, metricsNames (Keras names)', () => {
  it('pop() then a new head: the reused layers keep their weights and the model trains with its new output', async () => {
    const d = data(31);
    const base = makeModel();
    base.compile({ optimizer: new Adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await base.fit(new Tensor(d.x, [N, F]), new Tensor(d.y, [N]), { epochs: 2, batchSize: BATCH, verbose: 0 });
    const head = base.pop();
    expect(head).toBeInstanceOf(Dense);
    expect(base.layers.length).toBe(2);
    expect(base.outputShape).toEqual([null, 6]);
    const kept = base.getLayer(0).weights.map((w) => Array.from(w.data));
    base.add(new Dense({ units: 2, activation: 'softmax', name: 'new_head' }));
    expect(base.outputShape).toEqual([null, 2]);
    base.getLayer(0).trainable = false;
    const y2 = new Tensor(d.y.map((v) => v % 2), [N]);
    const h = await base.fit(new Tensor(d.x, [N, F]), y2, { epochs: 3, batchSize: BATCH, verbose: 0 });
    expect(h.history.loss!.length).toBe(3);
    expect(base.predict(new Tensor(d.x, [N, F])).shape).toEqual([N, 2]);
    expect(base.getLayer(0).weights.map((w) => Array.from(w.data))).toEqual(kept);
    expect(base.getLayer('new_head')).toBe(base.getLayer(-1));
    expect(caught(() => base.getLayer('nope')).message).toMatch(/no layer named "nope"; its layers are/);
    expect(caught(() => base.getLayer(3)).message).toMatch(/index 3 is out of range for 3 layers/);
    expect(caught(() => new Sequential().pop()).message).toMatch(/no layers/);
  });

  it('model.trainable = false freezes every layer (fit changes nothing), true unfreezes; nonTrainableWeights and metricsNames', async () => {
    const d = data(32);
    const model = makeModel();
    expect(model.metricsNames).toEqual([]);
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    expect(model.metricsNames).toEqual(['loss', 'accuracy']);
    // BatchNormalization's moving mean and variance.
    expect(model.nonTrainableWeights.map((w) => w.name.split('/')[1])).toEqual(['moving_mean', 'moving_variance']);
    model.trainable = false;
    expect(model.trainable).toBe(false);
    expect(model.trainableWeights).toEqual([]);
    expect(model.nonTrainableWeights.length).toBe(model.weights.length);
    const before = model.getWeights().map((w) => Array.from(w.data));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await model.fit(new Tensor(d.x, [N, F]), new Tensor(d.y, [N]), { epochs: 1, batchSize: BATCH, verbose: 0 });
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/does not have any trainable weights/);
    } finally {
      warn.mockRestore();
    }
    expect(model.getWeights().map((w) => Array.from(w.data))).toEqual(before);
    model.trainable = true;
    await model.fit(new Tensor(d.x, [N, F]), new Tensor(d.y, [N]), { epochs: 1, batchSize: BATCH, verbose: 0 });
    expect(model.getWeights()[0]!.data).not.toEqual(Float32Array.from(before[0]!));
    expect(caught(() => (model.trainable = 'no' as never)).message).toMatch(/trainable must be a boolean/);
  });
});

describe('audit fixes (helper audit of this file’s features)', () => {
  it('applyGradients over changing sets of variables: each keeps its own momentum (parked while absent), unnamed tensors too', () => {
    const p = new Tensor(Float32Array.from([0]), [1]);
    const q = new Tensor(Float32Array.from([0]), [1]);
    p.requiresGrad = q.requiresGrad = true;
    const opt = new SGD({ learningRate: 1, momentum: 0.9 });
    const one = Float32Array.from([1]);
    const steps: number[] = [];
    for (let round = 0; round < 3; round++) {
      const before = p.data[0]!;
      opt.applyGradients([[one, p]]);
      steps.push(before - p.data[0]!);
      opt.applyGradients([[one, q]]);
    }
    // Momentum SGD with g = 1: steps 1, 1.9, 2.71 for p, though q's steps came in between.
    [1, 1.9, 2.71].forEach((s, i) => expect(steps[i]).toBeCloseTo(s, 5));
    expect(q.data[0]).toBeCloseTo(-(1 + 1.9 + 2.71), 5);
    // A second unnamed tensor does not inherit the first's state by position.
    const r = new Tensor(Float32Array.from([0]), [1]);
    r.requiresGrad = true;
    opt.applyGradients([[one, r]]);
    expect(r.data[0]).toBeCloseTo(-1, 6);
  });

  it('applyGradients refuses no pairs, all-null gradients and a gradient of the wrong shape; valueAndGrads refuses empty vars and a value computed outside fn', () => {
    const a = new Tensor(new Float32Array(6), [2, 3]);
    a.requiresGrad = true;
    const opt = new SGD({ learningRate: 0.1 });
    expect(caught(() => opt.applyGradients([])).message).toMatch(/no \[gradient, variable\] pairs/);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(caught(() => opt.applyGradients([[null, a]])).message).toMatch(/no gradients provided for any variable/);
    } finally {
      warn.mockRestore();
    }
    expect(caught(() => opt.applyGradients([[new Tensor(new Float32Array(6), [3, 2]), a]])).message).toMatch(/has shape \[3, 2\], the variable \[2, 3\]/);
    expect(opt.iterations).toBe(0);
    expect(caught(() => valueAndGrads(() => ops.sum(a), [])).message).toMatch(/vars is empty/);
    const outside = ops.sum(ops.mul(a, a));
    expect(caught(() => valueAndGrads(() => outside, [a])).message).toMatch(/does not depend on any of vars/);
  });

  it('sample weights on [batch, steps, classes] predictions weigh each sample’s steps (Keras broadcasts [batch] weights)', () => {
    const B = 3, T = 2, K = 4;
    const z = new Tensor(randArray(rng(41), B * T * K, -2, 2), [B, T, K]);
    const labels = new Tensor(Float32Array.from([0, 3, 1, 1, 2, 0]), [B, T]);
    const w = Float32Array.from([0.5, 2, 1.5]);
    const sample = (b: number) => [new Tensor(z.data.slice(b * T * K, (b + 1) * T * K), [1, T, K]), new Tensor(labels.data.slice(b * T, (b + 1) * T), [1, T])] as const;
    for (const loss of [new SparseCategoricalCrossentropy(true), new SparseCategoricalCrossentropy()]) {
      const pred = (t: Tensor) => (loss.fromLogits ? t : ops.softmaxAlong(t, -1));
      const got = noGrad(() => loss.compute(pred(z), labels, w)).data[0]!;
      const want = noGrad(() => [0, 1, 2].reduce((s, b) => s + w[b]! * loss.compute(pred(sample(b)[0]), sample(b)[1]).data[0]!, 0)) / B;
      expect(got).toBeCloseTo(want, 5);
    }
  });

  it('two anonymous metric functions get custom_metric and custom_metric_1; a metric named like the loss is renamed; other clashes are errors', () => {
    const model = new Sequential([new Dense({ units: 2, inputShape: [3] })]);
    model.compile({ optimizer: 'sgd', loss: 'mse', metrics: [(t: Tensor, p: Tensor) => ops.abs(ops.sub(t, p)), (t: Tensor, p: Tensor) => ops.square(ops.sub(t, p))] });
    expect(model.metricsNames).toEqual(['loss', 'custom_metric', 'custom_metric_1']);
    function loss(t: Tensor, p: Tensor) {
      return ops.abs(ops.sub(t, p));
    }
    model.compile({ optimizer: 'sgd', loss: 'mse', metrics: [loss] });
    expect(model.metricsNames).toEqual(['loss', 'loss_1']);
    const x = new Tensor(randArray(rng(42), 12), [4, 3]);
    const y = new Tensor(randArray(rng(43), 8), [4, 2]);
    const r = model.evaluate(x, y);
    const p = model.predict(x).data;
    expect(r.loss).toBeCloseTo(p.reduce((s, v, i) => s + (v - y.data[i]!) ** 2, 0) / 8, 5);
    expect(caught(() => model.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['accuracy', 'accuracy'] })).message).toMatch(/metrics\[1\] is named "accuracy"/);
  });

  it('activity penalties count in evaluate and testOnBatch as in fit (Keras adds them on every call), and model.losses never keeps a released one', () => {
    const model = new Sequential([new Dense({ units: 2, inputShape: [2], useBias: false, kernelInitializer: 'ones', activityRegularizer: l2(0.1) })]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    const x = new Tensor(Float32Array.from([1, 2, 3, 1]), [2, 2]);
    const y = new Tensor(Float32Array.from([3, 3, 4, 4]), [2, 2]);
    // Outputs [[3, 3], [4, 4]] equal y: the data loss is 0, the penalty 0.1 * (9 + 9 + 16 + 16) / 2 = 2.5.
    expect(model.evaluate(x, y).loss).toBeCloseTo(2.5, 5);
    expect(model.testOnBatch(x, y)).toBeCloseTo(2.5, 5);
    valueAndGrads(() => ops.sum(model.call(x, true)), model.trainableWeights);
    expect(model.losses).toEqual([]);
    noGrad(() => model.call(x, false));
    expect(model.losses.map((t) => t.data[0])).toEqual([expect.closeTo(2.5, 5)]);
  });

  it('minimum and maximum give NaN where either operand is NaN, in both orders', () => {
    const nanFirst = new Tensor(Float32Array.from([Number.NaN, 1]), [2]);
    const half = new Tensor(Float32Array.from([0.5, 0.5]), [2]);
    for (const op of [ops.minimum, ops.maximum]) {
      expect(Number.isNaN(op(nanFirst, 0.5).data[0]!)).toBe(true);
      expect(Number.isNaN(op(half, nanFirst).data[0]!)).toBe(true);
    }
  });

  it('trainOnBatch warns once on a model with nothing trainable; call converts arrays and checks training; classWeight rounds labels half to even', () => {
    const model = new Sequential([new Dense({ units: 1, inputShape: [1] })]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    model.trainable = false;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      model.trainOnBatch([[1]], [[1]]);
      model.trainOnBatch([[1]], [[1]]);
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
    expect(model.call([[2]] as never).shape).toEqual([1, 1]);
    expect(caught(() => model.call(new Tensor(Float32Array.from([2]), [1, 1]), 'yes' as never)).message).toMatch(/training must be a boolean/);
    model.trainable = true;
    // Labels 0.5 and 2.5 are classes 0 and 2 (numpy's round), so { 1: 10, 3: 10 } weighs neither.
    const lr = new Sequential([new Dense({ units: 1, inputShape: [1], kernelInitializer: 'zeros' })]);
    lr.compile({ optimizer: new SGD({ learningRate: 0 }), loss: 'mse' });
    const x = new Tensor(Float32Array.from([1, 1]), [2, 1]);
    const y = new Tensor(Float32Array.from([0.5, 2.5]), [2, 1]);
    expect(lr.trainOnBatch(x, y, { classWeight: { 1: 10, 3: 10 } })).toBeCloseTo(lr.testOnBatch(x, y) as number, 6);
  });
});

describe('parked optimizer state is saved with the model', () => {
  it('freeze, save, load, unfreeze: the loaded model resumes the frozen layer’s Adam moments as the model in memory does', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { loadModel } = await import('../src/saving');
    const d = data(51);
    const x = new Tensor(d.x, [N, F]);
    const y = new Tensor(d.y, [N]);
    const init = makeModel().getWeights();
    const run = async (viaDisk: boolean) => {
      let m = makeModel(init);
      m.compile({ optimizer: new Adam({ learningRate: 1e-2 }), loss: 'sparseCategoricalCrossentropy' });
      await m.fit(x, y, { epochs: 2, batchSize: BATCH, shuffle: false, verbose: 0 });
      m.getLayer(0).trainable = false;
      await m.fit(x, y, { epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
      if (viaDisk) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dn-parked-'));
        await m.save(dir);
        m = (await loadModel(dir)) as Sequential;
        fs.rmSync(dir, { recursive: true, force: true });
      }
      m.getLayer(0).trainable = true;
      await m.fit(x, y, { epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
      return m;
    };
    const inMemory = await run(false);
    const loaded = await run(true);
    expectSameWeights(inMemory, loaded, 1e-6);
  });
});

describe('docs check fixes', () => {
  it('a subclass of a built-in optimizer saves as Custom: loadModel asks for { compile: false } instead of rebuilding the plain built-in', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { loadModel } = await import('../src/saving');
    class ScaledSgd extends SGD {}
    const model = new Sequential([new Dense({ units: 2, inputShape: [3] })]);
    model.compile({ optimizer: new ScaledSgd({ learningRate: 0.1 }), loss: 'mse' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dn-optsub-'));
    try {
      await model.save(dir);
      const err = await loadModel(dir).then(
        () => expect.fail('expected loadModel to refuse'),
        (e: Error) => e,
      );
      expect(err.message).toMatch(/compile: false/);
      const back = await loadModel(dir, { compile: false });
      expect(back.predict(new Tensor(new Float32Array(3), [1, 3])).data).toEqual(model.predict(new Tensor(new Float32Array(3), [1, 3])).data);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('add, sub and mul refuse a number with a typed error that points to mulScalar', () => {
    const t = new Tensor(new Float32Array(6), [3, 2]);
    for (const op of [ops.add, ops.sub, ops.mul]) {
      expect(caught(() => op(t, 2 as never)).message).toMatch(/both operands must be tensors, received "a tensor of shape \[3,2\]" and 2 \(for a number use mulScalar/);
    }
  });
});
