/**
 * Regularizers, constraints and the orthogonal initializer, against Keras 3's formulas written
 * out in float64 (keras/src/regularizers/regularizers.py, keras/src/constraints/constraints.py,
 * keras/src/initializers/random_initializers.py) and the worked examples in Keras's docstrings.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor';
import { backward } from '../src/autograd/engine';
import { Dense } from '../src/layers';
import { Sequential } from '../src/models/sequential';
import { SGD } from '../src/optimizers';
import { LambdaCallback } from '../src/callbacks';
import {
  L1, L1L2, L2, getRegularizer, l1, l1l2, l2, serializeRegularizer,
} from '../src/regularizers';
import {
  MaxNorm, MinMaxNorm, NonNeg, UnitNorm, getConstraint, maxNorm, minMaxNorm, nonNeg, serializeConstraint, unitNorm,
} from '../src/constraints';
import type { Constraint } from '../src/constraints';
import { native } from '../src/backend/native';
import { Identity, Orthogonal, getInitializer, orthogonal } from '../src/initializers';
import { caught, expectClose, randArray, rng } from './support/reference';

const r = rng(61);

function leaf(data: Float32Array, shape: number[]): Tensor {
  const t = new Tensor(data, shape);
  t.requiresGrad = true;
  return t;
}

const sumAbs64 = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + Math.abs(v), 0);
const sumSq64 = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v * v, 0);

describe('regularizers: Keras 3 formulas and defaults', () => {
  const w = randArray(r, 60, -2, 2);
  w[7] = 0; // |x| has gradient 0 at 0 (TF and PyTorch's sign)

  it('L1 = l1 * sum|x|, gradient l1 * sign(x); default 0.01', () => {
    expect(l1().l1).toBe(0.01);
    const x = leaf(Float32Array.from(w), [6, 10]);
    const pen = l1(0.3).call(x);
    expect(pen.shape).toEqual([]);
    expect(pen.data[0]).toBeCloseTo(0.3 * sumAbs64(w), 4);
    backward(pen);
    expectClose(x.grad!, Array.from(w, (v) => 0.3 * Math.sign(v)), 1e-6, 1e-7, 'dL1');
  });

  it('L2 = l2 * sum(x^2) with no 1/2, gradient 2 * l2 * x; default 0.01', () => {
    expect(l2().l2).toBe(0.01);
    const x = leaf(Float32Array.from(w), [6, 10]);
    const pen = l2(0.05).call(x);
    expect(pen.data[0]).toBeCloseTo(0.05 * sumSq64(w), 4);
    backward(pen);
    expectClose(x.grad!, Array.from(w, (v) => 0.1 * v), 1e-6, 1e-7, 'dL2');
  });

  it('L1L2 = both terms; constructor defaults 0 and 0; the string l1_l2 means 0.01 and 0.01', () => {
    const x = leaf(Float32Array.from(w), [60]);
    const pen = l1l2({ l1: 0.2, l2: 0.3 }).call(x);
    expect(pen.data[0]).toBeCloseTo(0.2 * sumAbs64(w) + 0.3 * sumSq64(w), 3);
    backward(pen);
    expectClose(x.grad!, Array.from(w, (v) => 0.2 * Math.sign(v) + 0.6 * v), 1e-6, 1e-7, 'dL1L2');
    expect(l1l2().getConfig()).toEqual({ l1: 0, l2: 0 });
    expect(l1l2().call(new Tensor(Float32Array.from(w), [60])).data[0]).toBe(0);
    expect(getRegularizer('l1_l2')!.getConfig()).toEqual({ l1: 0.01, l2: 0.01 });
  });

  it("Keras's docstring example: L2(2.) on ones(5, 5) is 50", () => {
    expect(new L2(2).call(new Tensor(new Float32Array(25).fill(1), [5, 5])).data[0]).toBe(50);
  });

  it("Keras's docstring example: kernel L1(0.01) + activity L2(0.01) / batch = 5.25", () => {
    // Dense(5, kernel ones, kernel_regularizer=L1(0.01), activity_regularizer=L2(0.01)) on ones(5, 5) * 2:
    // kernel term 0.01 * 25 = 0.25; outputs are all 10, activity 0.01 * 25 * 100 / batch 5 = 5.
    const d = new Dense({ units: 5, inputDim: 5, kernelInitializer: 'ones', kernelRegularizer: new L1(0.01), activityRegularizer: new L2(0.01) });
    d.build([null, 5]);
    d.call(new Tensor(new Float32Array(25).fill(2), [5, 5]), { training: true });
    const total = [...d.regularizationLosses(), ...d.activityLosses].reduce((s, t) => s + t.data[0]!, 0);
    expect(total).toBeCloseTo(5.25, 5);
    // At inference too: Keras 3's Layer.__call__ records the activity loss on every call
    // (keras/src/layers/layer.py, "Record activity regularizer loss"), so evaluate includes it.
    d.activityLosses.length = 0;
    d.call(new Tensor(new Float32Array(25).fill(2), [5, 5]), { training: false });
    expect(d.activityLosses.map((t) => t.data[0])).toEqual([expect.closeTo(5, 5)]);
  });

  it('string ids, configs and errors', () => {
    expect(getRegularizer('l2')).toBeInstanceOf(L2);
    expect(getRegularizer('L1')!.getConfig()).toEqual({ l1: 0.01 });
    expect(getRegularizer(null)).toBeNull();
    expect(getRegularizer(undefined)).toBeNull();
    const reg = new L1L2({ l1: 0.001, l2: 0.002 });
    expect(getRegularizer(reg)).toBe(reg);
    const back = getRegularizer(serializeRegularizer(reg)!)!;
    expect(back).toBeInstanceOf(L1L2);
    expect(back.getConfig()).toEqual({ l1: 0.001, l2: 0.002 });
    expect(getRegularizer({ class_name: 'L2', config: { l2: 0.5 } })!.getConfig()).toEqual({ l2: 0.5 });
    const e = caught(() => getRegularizer('l3' as 'l2', 'Dense "d" kernelRegularizer'));
    expect(e.code).toBe('ERR_UNKNOWN_ID');
    expect(e.message).toContain('Dense "d" kernelRegularizer');
    expect(e.message).toContain("'l1', 'l2', 'l1_l2'");
    expect(caught(() => l2(-1)).message).toContain('l2=-1');
    expect(caught(() => new Dense({ units: 2, kernelRegularizer: 'l5' as 'l2' })).code).toBe('ERR_UNKNOWN_ID');
  });
});

describe('regularizers in a model', () => {
  // A linear model y = x W + b with MSE, small enough to differentiate by hand in float64.
  const x = [[0.5, -1, 2], [1.5, 0.25, -0.5], [-1, 1, 1], [0.2, 0.3, -0.7]];
  const y = [[1], [-2], [0.5], [0.25]];
  const W = [0.3, -0.6, 0.9];
  const b = 0.1;
  const lambda = 0.05;

  function build(): Sequential {
    const model = new Sequential([new Dense({ units: 1, inputShape: [3], kernelRegularizer: l2(lambda) })]);
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'mse' });
    model.layers[0]!.setWeights([new Tensor(Float32Array.from(W), [3, 1]), new Tensor(Float32Array.from([b]), [1])]);
    return model;
  }

  const residuals = () => x.map((row, i) => row.reduce((s, v, j) => s + v * W[j]!, b) - y[i]![0]!);

  it('evaluate: loss = data loss + l2 * sum(W^2), as Keras adds model.losses', () => {
    const model = build();
    const res = residuals();
    const dataLoss = res.reduce((s, v) => s + v * v, 0) / res.length;
    const penalty = lambda * sumSq64(W);
    const out = model.evaluate(x, y, { batchSize: 4 });
    expect(out.loss).toBeCloseTo(dataLoss + penalty, 5);
    expect(penalty).toBeGreaterThan(0.05); // the check is not vacuous
  });

  it('fit: one SGD step follows the penalized gradient 2/N X^T r + 2 l2 W (no penalty on the bias)', async () => {
    const model = build();
    const res = residuals();
    const n = res.length;
    const gW = W.map((w, j) => (2 / n) * res.reduce((s, rv, i) => s + x[i]![j]! * rv, 0) + 2 * lambda * w);
    const gb = (2 / n) * res.reduce((s, v) => s + v, 0);
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, shuffle: false });
    const [k, bias] = model.layers[0]!.getWeights();
    expectClose(k!.data, W.map((w, j) => w - 0.1 * gW[j]!), 1e-5, 1e-6, 'kernel');
    expectClose(bias!.data, [b - 0.1 * gb], 1e-5, 1e-6, 'bias');
  });

  it('fit: an activity penalty l2 * sum(out^2) / batch adds (2 l2 / N) X^T out to the kernel gradient', async () => {
    const model = new Sequential([new Dense({ units: 1, inputShape: [3], activityRegularizer: l2(lambda) })]);
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'mse' });
    model.layers[0]!.setWeights([new Tensor(Float32Array.from(W), [3, 1]), new Tensor(Float32Array.from([b]), [1])]);
    const res = residuals();
    const out = res.map((v, i) => v + y[i]![0]!);
    const n = res.length;
    const gW = W.map((_, j) =>
      (2 / n) * res.reduce((s, rv, i) => s + x[i]![j]! * rv, 0) + ((2 * lambda) / n) * out.reduce((s, o, i) => s + x[i]![j]! * o, 0));
    const gb = (2 / n) * res.reduce((s, v) => s + v, 0) + ((2 * lambda) / n) * out.reduce((s, o) => s + o, 0);
    const history = await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, shuffle: false });
    const [k, bias] = model.layers[0]!.getWeights();
    expectClose(k!.data, W.map((w, j) => w - 0.1 * gW[j]!), 1e-5, 1e-6, 'kernel');
    expectClose(bias!.data, [b - 0.1 * gb], 1e-5, 1e-6, 'bias');
    // The logged training loss includes the penalty.
    const dataLoss = res.reduce((s, v) => s + v * v, 0) / n;
    expect(history.history.loss![0]).toBeCloseTo(dataLoss + (lambda * sumSq64(out)) / n, 5);
  });
});

/** Norms of the slices of a [rows, cols] matrix over axis 0 (columns) or 1 (rows), float64. */
function norms2d(data: ArrayLike<number>, rows: number, cols: number, axis: 0 | 1): number[] {
  const out: number[] = [];
  const outer = axis === 0 ? cols : rows, inner = axis === 0 ? rows : cols;
  for (let o = 0; o < outer; o++) {
    let s = 0;
    for (let i = 0; i < inner; i++) {
      const v = axis === 0 ? data[i * cols + o]! : data[o * cols + i]!;
      s += v * v;
    }
    out.push(Math.sqrt(s));
  }
  return out;
}

/** Expected projection: w * factor(norm of its slice), float64. */
function projected(data: ArrayLike<number>, rows: number, cols: number, axis: 0 | 1, factor: (n: number) => number): number[] {
  const ns = norms2d(data, rows, cols, axis);
  return Array.from(data, (v, i) => v * factor(ns[axis === 0 ? i % cols : Math.floor(i / cols)]!));
}

describe('constraints: Keras 3 formulas (epsilon 1e-7)', () => {
  // Columns of norm 0.5, 1, 3 and 10 (axis 0), built from random directions.
  const rows = 5, cols = 4;
  const w = new Float32Array(rows * cols);
  [0.5, 1, 3, 10].forEach((target, c) => {
    const col = randArray(r, rows, -1, 1);
    const n = Math.sqrt(sumSq64(col));
    for (let i = 0; i < rows; i++) w[i * cols + c] = (col[i]! / n) * target;
  });

  it('MaxNorm leaves small columns alone and rescales big ones to maxValue; defaults 2 and axis 0', () => {
    const c = maxNorm();
    expect(c.getConfig()).toEqual({ max_value: 2, axis: 0 });
    const t = new Tensor(Float32Array.from(w), [rows, cols]);
    c.apply(t);
    expectClose(t.data, projected(w, rows, cols, 0, (n) => Math.min(n, 2) / (1e-7 + n)), 1e-6, 1e-7, 'maxNorm');
    const after = norms2d(t.data, rows, cols, 0);
    expectClose(after, [0.5, 1, 2, 2], 1e-6, 0, 'norms');
    // Columns under the bound are unchanged up to the factor n / (n + 1e-7).
    for (let i = 0; i < rows; i++) expect(t.data[i * cols]).toBeCloseTo(w[i * cols]!, 6);
  });

  it('MaxNorm over rows (axis 1), negative axis, and all axes', () => {
    const a = new Tensor(Float32Array.from(w), [rows, cols]);
    new MaxNorm({ maxValue: 1.5, axis: 1 }).apply(a);
    expectClose(a.data, projected(w, rows, cols, 1, (n) => Math.min(n, 1.5) / (1e-7 + n)), 1e-6, 1e-7, 'axis 1');
    const b = new Tensor(Float32Array.from(w), [rows, cols]);
    new MaxNorm({ maxValue: 1.5, axis: -1 }).apply(b);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    const c = new Tensor(Float32Array.from(w), [rows, cols]);
    new MaxNorm({ maxValue: 1, axis: [0, 1] }).apply(c);
    expect(Math.sqrt(sumSq64(c.data))).toBeCloseTo(1, 6);
  });

  it('UnitNorm: w / (1e-7 + norm)', () => {
    const t = new Tensor(Float32Array.from(w), [rows, cols]);
    unitNorm().apply(t);
    expectClose(t.data, projected(w, rows, cols, 0, (n) => 1 / (1e-7 + n)), 1e-6, 1e-7, 'unitNorm');
    expectClose(norms2d(t.data, rows, cols, 0), [1, 1, 1, 1], 1e-6, 0, 'unit norms');
  });

  it('MinMaxNorm: strict (rate 1) and gradual (rate 0.25)', () => {
    const strict = new Tensor(Float32Array.from(w), [rows, cols]);
    new MinMaxNorm({ minValue: 0.8, maxValue: 2 }).apply(strict);
    expectClose(norms2d(strict.data, rows, cols, 0), [0.8, 1, 2, 2], 1e-6, 0, 'strict norms');
    const soft = new Tensor(Float32Array.from(w), [rows, cols]);
    minMaxNorm({ minValue: 0.8, maxValue: 2, rate: 0.25 }).apply(soft);
    const f = (n: number) => (0.25 * Math.min(Math.max(n, 0.8), 2) + 0.75 * n) / (1e-7 + n);
    expectClose(soft.data, projected(w, rows, cols, 0, f), 1e-6, 1e-7, 'rate 0.25');
    expect(minMaxNorm().getConfig()).toEqual({ min_value: 0, max_value: 1, rate: 1, axis: 0 });
  });

  it('NonNeg: max(w, 0)', () => {
    const t = new Tensor(Float32Array.from(w), [rows, cols]);
    nonNeg().apply(t);
    expect(Array.from(t.data)).toEqual(Array.from(w, (v) => Math.max(v, 0)));
  });

  it('string ids, configs and errors', () => {
    expect(getConstraint('max_norm')).toBeInstanceOf(MaxNorm);
    expect(getConstraint('nonNeg')).toBeInstanceOf(NonNeg);
    expect(getConstraint('UnitNorm')).toBeInstanceOf(UnitNorm);
    expect(getConstraint('min_max_norm')).toBeInstanceOf(MinMaxNorm);
    const c = new MinMaxNorm({ minValue: 0.1, maxValue: 3, rate: 0.5, axis: [0, 1] });
    const back = getConstraint(serializeConstraint(c)!)!;
    expect(back).toBeInstanceOf(MinMaxNorm);
    expect(back.getConfig()).toEqual(c.getConfig());
    const e = caught(() => getConstraint('max' as 'max_norm'));
    expect(e.code).toBe('ERR_UNKNOWN_ID');
    expect(e.message).toContain("'max_norm', 'non_neg', 'unit_norm', 'min_max_norm'");
    expect(caught(() => maxNorm({ maxValue: -1 })).message).toContain('maxValue=-1');
    expect(caught(() => minMaxNorm({ minValue: 2, maxValue: 1 })).message).toContain('minValue=2, maxValue=1');
    expect(caught(() => new MaxNorm({ axis: 2 }).apply(new Tensor(new Float32Array(4), [2, 2]))).code).toBe('ERR_SHAPE');
  });

  it('Sequential.fit applies constraints after every step', async () => {
    const model = new Sequential([
      new Dense({ units: 3, inputShape: [4], kernelConstraint: maxNorm({ maxValue: 0.5 }), biasConstraint: 'non_neg' }),
    ]);
    model.compile({ optimizer: new SGD({ learningRate: 0.5 }), loss: 'mse' });
    const x = randArray(r, 40, -2, 2);
    // Targets that pull the kernel far beyond norm 0.5 and the bias below 0.
    const y = new Float32Array(30).fill(-5);
    const d = model.layers[0] as Dense;
    let checks = 0;
    const check = new LambdaCallback({
      onBatchEnd: () => {
        for (const n of norms2d(d.kernel!.data, 4, 3, 0)) expect(n).toBeLessThanOrEqual(0.5 + 1e-6);
        for (const v of d.bias!.data) expect(v).toBeGreaterThanOrEqual(0);
        checks++;
      },
    });
    await model.fit(new Tensor(x, [10, 4]), new Tensor(y, [10, 3]), { epochs: 3, batchSize: 2, verbose: 0, callbacks: [check] });
    expect(checks).toBe(15);
    // The constraint was active: some column sits on the bound.
    expect(Math.max(...norms2d(d.kernel!.data, 4, 3, 0))).toBeCloseTo(0.5, 5);
  });
});

describe('constraints: the native projection over leading axes', () => {
  // The loops the native kernel replaced (and that still run for other axes): per-slice sums of
  // squares in double in storage order, the factor in double, each weight rounded once to float.
  function reference(w: Float32Array, shape: number[], axes: number[], factor: (n: number) => number): Float32Array {
    const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
    const groupOf = (i: number) => kept.reduce((g, d) => g * shape[d]! + (Math.floor(i / strides[d]!) % shape[d]!), 0);
    const groups = kept.reduce((a, d) => a * shape[d]!, 1);
    const sq = new Float64Array(groups);
    for (let i = 0; i < w.length; i++) sq[groupOf(i)] += w[i]! * w[i]!;
    const out = Float32Array.from(w);
    for (let i = 0; i < w.length; i++) out[i] = w[i]! * factor(Math.sqrt(sq[groupOf(i)]!));
    return out;
  }
  const eps = 1e-7;
  type Axis = number | number[];
  const cases: [string, (axis: Axis) => Constraint, (n: number) => number][] = [
    ['maxNorm(0.9)', (axis) => new MaxNorm({ maxValue: 0.9, axis }), (n) => Math.min(Math.max(n, 0), 0.9) / (eps + n)],
    ['unitNorm', (axis) => new UnitNorm({ axis }), (n) => 1 / (eps + n)],
    ['minMaxNorm(0.4, 1.1, 0.7)', (axis) => new MinMaxNorm({ minValue: 0.4, maxValue: 1.1, rate: 0.7, axis }), (n) => (0.7 * Math.min(Math.max(n, 0.4), 1.1) + (1 - 0.7) * n) / (eps + n)],
  ];
  it('MaxNorm, UnitNorm and MinMaxNorm equal the per-slice loops bit for bit, over leading axes (native) and others', () => {
    const r = rng(61);
    const shapes: [number[], number[]][] = [[[784, 30], [0]], [[7, 5], [0]], [[3, 4, 5], [0, 1]], [[3, 4, 5], [1, 0]], [[9], [0]], [[4, 6], [0, 1]], [[4, 6], [1]], [[3, 4, 5], [2]], [[0, 3], [0]]];
    for (const [shape, axes] of shapes) {
      for (const [name, make, factor] of cases) {
        const size = shape.reduce((a, b) => a * b, 1);
        const w0 = randArray(r, size, -0.2, 0.2);
        // Some slices well above the bounds, some below.
        for (let i = 0; i < size; i += 3) w0[i] = w0[i]! * 10;
        const w = new Tensor(Float32Array.from(w0), shape);
        make(axes.length === 1 ? axes[0]! : axes).apply(w);
        expect(Array.from(w.data), `${name} on [${shape}] axes [${axes}]`).toEqual(Array.from(reference(w0, shape, axes, factor)));
      }
    }
  });

  it('constrainColumnNorms refuses an unknown kind and non-finite bounds with coded errors', () => {
    const w = new Float32Array(6);
    expect(caught(() => native.constrainColumnNorms(w, 2, 3, 3, 0, 1, 1)).code).toBe('ERR_NATIVE_VALUE');
    expect(caught(() => native.constrainColumnNorms(w, 2, 3, 0, 0, Infinity, 1)).code).toBe('ERR_NATIVE_VALUE');
    expect(caught(() => native.constrainColumnNorms(w, 3, 3, 0, 0, 1, 1)).code).toBe('ERR_NATIVE_SIZE');
  });
});

describe('orthogonal and identity initializers', () => {
  /** A^T A for a [rows, cols] matrix (cols x cols), float64. */
  function gram(a: ArrayLike<number>, rows: number, cols: number, transpose = false): number[] {
    const [m, k] = transpose ? [cols, rows] : [rows, cols];
    const at = (i: number, j: number) => (transpose ? a[j * cols + i]! : a[i * cols + j]!);
    const out: number[] = [];
    for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += at(i, p) * at(i, q);
      out.push(s);
    }
    return out;
  }
  const eye = (k: number, g = 1) => Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? g * g : 0));

  it('tall: W^T W = I; wide: W W^T = I; conv shapes flatten to [prod(shape[:-1]), last]', () => {
    const tall = orthogonal({ seed: 1 }).generate([9, 4]);
    expectClose(gram(tall, 9, 4), eye(4), 0, 1e-6, 'tall');
    const wide = orthogonal({ seed: 2 }).generate([3, 7]);
    expectClose(gram(wide, 3, 7, true), eye(3), 0, 1e-6, 'wide');
    const conv = orthogonal({ seed: 3 }).generate([3, 3, 2, 5]);
    expectClose(gram(conv, 18, 5), eye(5), 0, 1e-6, 'conv');
    const square = orthogonal({ seed: 4, gain: 2 }).generate([6, 6]);
    expectClose(gram(square, 6, 6), eye(6, 2), 0, 4e-6, 'gain 2');
    expectClose(gram(square, 6, 6, true), eye(6, 2), 0, 4e-6, 'gain 2 rows');
  });

  it('seeded: repeatable; different seeds differ; not just a permutation of the identity', () => {
    const a = orthogonal({ seed: 5 }).generate([8, 8]);
    expect(Array.from(orthogonal({ seed: 5 }).generate([8, 8]))).toEqual(Array.from(a));
    expect(Array.from(orthogonal({ seed: 6 }).generate([8, 8]))).not.toEqual(Array.from(a));
    expect(a.filter((v) => Math.abs(v) > 1e-3).length).toBeGreaterThan(32);
  });

  it('Keras names, config, errors; Dense accepts it', () => {
    expect(getInitializer('orthogonal')).toBeInstanceOf(Orthogonal);
    expect(new Orthogonal({ gain: 1.5, seed: 9 }).getConfig()).toEqual({ gain: 1.5, seed: 9 });
    expect(caught(() => orthogonal().generate([5])).message).toContain('at least two-dimensional');
    const d = new Dense({ units: 4, kernelInitializer: 'orthogonal' });
    d.build([null, 10]);
    expectClose(gram(d.kernel!.data, 10, 4), eye(4), 0, 1e-6, 'dense kernel');
  });

  it('Identity: gain * eye, rectangular allowed, 2-D only', () => {
    expect(Array.from(new Identity({ gain: 3 }).generate([2, 3]))).toEqual([3, 0, 0, 0, 3, 0]);
    expect(getInitializer('identity').generate([2, 2])).toEqual(new Float32Array([1, 0, 0, 1]));
    expect(caught(() => new Identity().generate([2, 2, 2])).code).toBe('ERR_VALUE');
  });
});
