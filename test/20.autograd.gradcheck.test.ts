/**
 * Finite-difference gradient checks of every op, every loss (fused and plain paths), the Dense
 * layer and a two-layer Sequential, plus the engine's buffer pool and gradient accumulation.
 *
 * Numerical gradients are central differences (f(x + h) - f(x - h)) / 2h evaluated in float64 on
 * the TypeScript side by re-running the op at perturbed inputs. The ops run in float32, so h is
 * 1e-3 (float32 rounding of the outputs stays ~1e-4 relative to the gradients) and the comparison
 * is scaled: max |analytic - numeric| / (max |numeric| + floor).
 *
 * Whole-model losses (a mean over a batch, ~1) carry float32 rounding of ~1e-7 * |loss| whose
 * pattern depends on the GEMM's summation order, i.e. on the CPU's kernel (AVX-512 12x32 tiles on
 * CI, AVX2 6x16 here). With h = 1e-3 that noise reached the tolerance on CI, so smooth graphs use
 * the five-point stencil (8(f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h with h = 1e-2: truncation
 * error O(h^4) ~ 1e-8, rounding noise 10x smaller than the two-point rule at 1e-3.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor';
import { ActId } from '../src/backend/native';
import { backward, noGrad, pool, scope } from '../src/autograd/engine';
import { abs, activation, add, dense, matmul, maximum, mean, minimum, mul, mulScalar, reshape, sigmoid, softmax, square, sub, sum } from '../src/ops';
import {
  BinaryCrossentropy,
  CategoricalCrossentropy,
  FunctionLoss,
  MeanSquaredError,
  SparseCategoricalCrossentropy,
} from '../src/losses';
import { Dense } from '../src/layers';
import { Sequential } from '../src/models/sequential';
import { setSeed } from '../src/random';
import { randArray, rng, scaledError } from './support/reference';

const H = 1e-3;

function leaf(data: Float32Array, shape: number[]): Tensor {
  const t = new Tensor(data, shape);
  t.requiresGrad = true;
  return t;
}

/**
 * Checks d(objective)/d(params). `build` returns the scalar loss tensor (recorded on the tape);
 * the numerical side evaluates the same graph without gradients at perturbed parameters.
 */
function gradcheck(params: Tensor[], build: () => Tensor, tol = 2e-3, floor = 1e-2, smooth = false): void {
  for (const p of params) p.grad = null;
  const loss = build();
  expect(loss.size).toBe(1);
  backward(loss);
  params.forEach((p, pi) => {
    expect(p.grad, `param ${pi} got no gradient`).not.toBeNull();
    const analytic = Float64Array.from(p.grad!);
    const numeric = new Float64Array(p.size);
    noGrad(() => {
      for (let i = 0; i < p.size; i++) {
        const orig = p.data[i]!;
        // f at orig + k*h, and the step actually taken in float32.
        const at = (step: number): [number, number] => {
          p.data[i] = orig + step;
          const taken = p.data[i]! - orig;
          const f = build().data[0]!;
          p.data[i] = orig;
          return [f, taken];
        };
        if (smooth) {
          const h = 1e-2;
          const [f1, s1] = at(h), [fm1, sm1] = at(-h), [f2, s2] = at(2 * h), [fm2, sm2] = at(-2 * h);
          const d1 = (f1 - fm1) / (s1 - sm1), d2 = (f2 - fm2) / (s2 - sm2);
          numeric[i] = (4 * d1 - d2) / 3; // = (8(f1 - fm1) - (f2 - fm2)) / 12h for exact steps
        } else {
          const [fp, up] = at(H), [fm, down] = at(-H);
          numeric[i] = (fp - fm) / (up - down);
        }
      }
    });
    const err = scaledError(analytic, numeric, floor);
    expect(err, `param ${pi}: analytic [${analytic.slice(0, 4).join(', ')}...] numeric [${numeric.slice(0, 4).join(', ')}...]`).toBeLessThan(tol);
  });
}

/** sum(w * y) with fixed random weights w: a scalar whose gradient w.r.t. y is w (non-trivial). */
function project(y: Tensor, seed = 99): Tensor {
  const w = new Tensor(randArray(rng(seed), y.size, -1, 1), y.shape);
  return sum(mul(y, w));
}

/** Kinks of each activation, where a finite difference would straddle a corner. */
const KINKS: Partial<Record<ActId, number[]>> = {
  [ActId.Relu]: [0],
  [ActId.LeakyRelu]: [0],
  [ActId.Elu]: [0],
  [ActId.Selu]: [0],
  [ActId.Softsign]: [0],
  [ActId.HardSigmoid]: [-3, 3],
  [ActId.Relu6]: [0, 6],
};
const ACT_ALPHA: Partial<Record<ActId, number>> = { [ActId.LeakyRelu]: 0.2, [ActId.Elu]: 0.7, [ActId.Swish]: 1.3 };
const ALL_ACTS = Object.values(ActId).filter((v): v is ActId => typeof v === 'number');

/** Values in [lo, hi) at least `gap` away from every kink. */
function awayFromKinks(r: () => number, n: number, kinks: number[], lo: number, hi: number, gap = 0.05): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = lo + (hi - lo) * r();
    while (kinks.some((k) => Math.abs(v - k) < gap));
    out[i] = v;
  }
  return out;
}

describe('ops', () => {
  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('matmul transA=%s transB=%s', (ta, tb) => {
    const r = rng(1);
    const m = 3, k = 5, n = 4;
    const a = leaf(randArray(r, m * k), ta ? [k, m] : [m, k]);
    const b = leaf(randArray(r, k * n), tb ? [n, k] : [k, n]);
    const out = matmul(a, b, ta, tb);
    expect(out.shape).toEqual([m, n]);
    gradcheck([a, b], () => project(matmul(a, b, ta, tb)));
  });

  const denseCases = ALL_ACTS.flatMap((act) => [true, false].map((withBias) => [ActId[act], act, withBias] as const));
  it.each(denseCases)('dense with %s, bias=%s', (_name, act, withBias) => {
    const r = rng(10 + act);
    const m = 4, k = 5, n = 3;
    const kinks = KINKS[act] ?? [];
    const alpha = ACT_ALPHA[act] ?? 0;
    // Redraw until no pre-activation sits within 0.05 of a kink (a finite step of 1e-3 in x or W
    // moves z by at most ~5e-3).
    let x: Tensor, W: Tensor, b: Tensor | null;
    for (;;) {
      x = leaf(randArray(r, m * k), [m, k]);
      W = leaf(randArray(r, k * n, -0.8, 0.8), [k, n]);
      b = withBias ? leaf(randArray(r, n, -0.5, 0.5), [n]) : null;
      const z = noGrad(() => dense(x, W, b, ActId.Linear, 0));
      if (!Array.from(z.data).some((v) => kinks.some((kk) => Math.abs(v - kk) < 0.05))) break;
    }
    // Softplus, tanh etc. are smooth; exponential/selu have larger values: same tolerance.
    gradcheck(b ? [x, W, b] : [x, W], () => project(dense(x, W, b, act, alpha)));
    // Forward equals matmul + bias + activation.
    noGrad(() => {
      const y = dense(x, W, b, act, alpha);
      const z = matmul(x, W);
      if (b) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) z.data[i * n + j] += b.data[j]!;
      const want = activation(z, act, alpha);
      for (let i = 0; i < y.size; i++) expect(y.data[i]).toBeCloseTo(want.data[i]!, 5);
    });
  });

  it.each(ALL_ACTS.map((a) => [ActId[a], a] as const))('activation op %s', (_name, act) => {
    const r = rng(30 + act);
    const x = leaf(awayFromKinks(r, 24, KINKS[act] ?? [], -4, 4), [4, 6]);
    const alpha = ACT_ALPHA[act] ?? 0;
    gradcheck([x], () => project(activation(x, act, alpha)));
  });

  it('softmax (rows of 5)', () => {
    const x = leaf(randArray(rng(2), 15, -3, 3), [3, 5]);
    gradcheck([x], () => project(softmax(x)));
  });

  it('sigmoid op', () => {
    const x = leaf(randArray(rng(3), 8, -4, 4), [2, 4]);
    gradcheck([x], () => project(sigmoid(x)));
  });

  it('reshape passes the gradient through unchanged', () => {
    const x = leaf(randArray(rng(4), 12), [3, 4]);
    gradcheck([x], () => project(reshape(x, [2, 6])));
  });

  it('add, mul, mulScalar, sum, mean', () => {
    const r = rng(5);
    const a = leaf(randArray(r, 6), [2, 3]);
    const b = leaf(randArray(r, 6), [2, 3]);
    gradcheck([a, b], () => project(add(a, b)));
    gradcheck([a, b], () => project(mul(a, b)));
    gradcheck([a], () => project(mulScalar(a, -2.5)));
    gradcheck([a], () => sum(a));
    gradcheck([a], () => mean(mul(a, a)));
    noGrad(() => {
      expect(sum(a).data[0]).toBeCloseTo(Array.from(a.data).reduce((s, v) => s + v, 0), 6);
      expect(mean(a).data[0]).toBeCloseTo(Array.from(a.data).reduce((s, v) => s + v, 0) / 6, 6);
    });
  });

  it('sub, abs, square, minimum, maximum: values by hand, gradients by differences, broadcast either way', () => {
    const r = rng(6);
    // Away from the kinks of abs (0) and from ties of minimum/maximum (|a - b| and |a - 0.3| > 0.05).
    const a = leaf(awayFromKinks(r, 6, [0, 0.3], -1, 1), [2, 3]);
    const bData = new Float32Array(6);
    for (let i = 0; i < 6; i++) bData[i] = awayFromKinks(r, 1, [a.data[i]!], -1, 1)[0]!;
    const b = leaf(bData, [2, 3]);
    const v = leaf(awayFromKinks(r, 3, [...a.data], -1, 1), [3]);
    for (const [x, y] of [[a, b], [a, v], [v, a]] as const) {
      gradcheck([x, y], () => project(sub(x, y)));
      gradcheck([x, y], () => project(minimum(x, y)));
      gradcheck([x, y], () => project(maximum(x, y)));
    }
    gradcheck([a], () => project(abs(a)));
    gradcheck([a], () => project(square(a)));
    gradcheck([a], () => project(minimum(a, 0.3)));
    gradcheck([a], () => project(maximum(a, 0.3)));
    noGrad(() => {
      const ad = Array.from(a.data), bd = Array.from(b.data), vd = Array.from(v.data);
      const near = (t: Tensor, want: number[]) => want.forEach((w, i) => expect(t.data[i]).toBeCloseTo(w, 6));
      near(sub(a, b), ad.map((x, i) => x - bd[i]!));
      near(sub(a, v), ad.map((x, i) => x - vd[i % 3]!));
      near(sub(v, a), ad.map((x, i) => vd[i % 3]! - x));
      near(abs(a), ad.map(Math.abs));
      near(minimum(a, v), ad.map((x, i) => Math.min(x, vd[i % 3]!)));
      near(maximum(v, a), ad.map((x, i) => Math.max(x, vd[i % 3]!)));
      near(minimum(a, 0.3), ad.map((x) => Math.min(x, 0.3)));
    });
    // Ties send the gradient to the first operand (TensorFlow's rule); abs' gradient at 0 is 0.
    const t = leaf(Float32Array.from([0.5, 0]), [2]);
    const u = leaf(Float32Array.from([0.5, 1]), [2]);
    backward(sum(add(minimum(t, u), abs(t))));
    expect(Array.from(t.grad!)).toEqual([2, 1]);
    expect(Array.from(u.grad!)).toEqual([0, 0]);
  });

  it('a composite: mean(h * h) with h = tanh(x W1 + b1) W2', () => {
    const r = rng(6);
    const x = leaf(randArray(r, 8), [2, 4]);
    const W1 = leaf(randArray(r, 12), [4, 3]);
    const b1 = leaf(randArray(r, 3), [3]);
    const W2 = leaf(randArray(r, 6), [3, 2]);
    gradcheck([x, W1, b1, W2], () => {
      const h = matmul(dense(x, W1, b1, ActId.Tanh, 0), W2);
      return mean(mul(h, h));
    });
  });
});

describe('losses', () => {
  const rows = 4, cols = 5;
  const labels = Tensor.from([3, 0, 4, 1], [rows]);
  const onehot = new Tensor(new Float32Array(rows * cols), [rows, cols]);
  labels.data.forEach((l, i) => (onehot.data[i * cols + l] = 1));
  const soft = new Tensor(randArray(rng(7), rows * cols, 0, 1), [rows, cols]);

  function refSoftmax(z: Float32Array): number[] {
    const out: number[] = [];
    for (let i = 0; i < rows; i++) {
      const row = Array.from(z.subarray(i * cols, (i + 1) * cols));
      const mx = Math.max(...row);
      const e = row.map((v) => Math.exp(v - mx));
      const s = e.reduce((a, b) => a + b);
      out.push(...e.map((v) => v / s));
    }
    return out;
  }

  it('sparse categorical CE through softmax (fused with the logits)', () => {
    const z = leaf(randArray(rng(8), rows * cols, -3, 3), [rows, cols]);
    const loss = new SparseCategoricalCrossentropy();
    gradcheck([z], () => loss.compute(softmax(z), labels));
    // Value: mean -log softmax(z)[label].
    const p = refSoftmax(z.data);
    const want = -labels.toArray().reduce((s, l, i) => s + Math.log(p[i * cols + l]!), 0) / rows;
    expect(noGrad(() => loss.compute(softmax(z), labels)).data[0]).toBeCloseTo(want, 5);
    // from_logits gives the same value and gradient.
    gradcheck([z], () => new SparseCategoricalCrossentropy(true).compute(z, labels));
    expect(noGrad(() => new SparseCategoricalCrossentropy(true).compute(z, labels)).data[0]).toBeCloseTo(want, 5);
  });

  it('sparse categorical CE from plain probabilities', () => {
    const p = leaf(randArray(rng(9), rows * cols, 0.05, 0.95), [rows, cols]);
    const loss = new SparseCategoricalCrossentropy();
    gradcheck([p], () => loss.compute(p, labels));
    // Keras 3 renormalises each row to sum 1 before the log (backend nn.sparse_categorical_crossentropy).
    const rowSum = (i: number) => Array.from(p.data.subarray(i * cols, (i + 1) * cols)).reduce((s, v) => s + v, 0);
    const want = -labels.toArray().reduce((s, l, i) => s + Math.log(p.data[i * cols + l]! / rowSum(i)), 0) / rows;
    expect(noGrad(() => loss.compute(p, labels)).data[0]).toBeCloseTo(want, 5);
  });

  it('categorical CE through softmax (one-hot and soft targets) and from logits', () => {
    const z = leaf(randArray(rng(10), rows * cols, -3, 3), [rows, cols]);
    const loss = new CategoricalCrossentropy();
    gradcheck([z], () => loss.compute(softmax(z), onehot));
    gradcheck([z], () => loss.compute(softmax(z), soft));
    gradcheck([z], () => new CategoricalCrossentropy(true).compute(z, soft));
    const p = refSoftmax(z.data);
    const want = -Array.from(soft.data).reduce((s, t, i) => s + t * Math.log(p[i]!), 0) / rows;
    expect(noGrad(() => loss.compute(softmax(z), soft)).data[0]).toBeCloseTo(want, 5);
  });

  it('categorical CE from plain (unnormalised) probabilities', () => {
    const p = leaf(randArray(rng(11), rows * cols, 0.05, 1), [rows, cols]);
    const loss = new CategoricalCrossentropy();
    gradcheck([p], () => loss.compute(p, soft));
    gradcheck([p], () => loss.compute(p, onehot));
    let want = 0;
    for (let i = 0; i < rows; i++) {
      const row = Array.from(p.data.subarray(i * cols, (i + 1) * cols));
      const s = row.reduce((a, b) => a + b);
      for (let j = 0; j < cols; j++) want -= soft.data[i * cols + j]! * Math.log(row[j]! / s);
    }
    expect(noGrad(() => loss.compute(p, soft)).data[0]).toBeCloseTo(want / rows, 5);
  });

  it('binary CE through sigmoid (fused), from logits, and from probabilities', () => {
    const n = 12;
    const z = leaf(randArray(rng(12), n, -4, 4), [n, 1]);
    const t = new Tensor(randArray(rng(13), n, 0, 1).map((v, i) => (i % 2 ? Math.round(v) : v)), [n, 1]);
    const loss = new BinaryCrossentropy();
    gradcheck([z], () => loss.compute(sigmoid(z), t));
    gradcheck([z], () => new BinaryCrossentropy(true).compute(z, t));
    const want =
      Array.from(z.data).reduce((s, zv, i) => s + Math.max(zv, 0) - zv * t.data[i]! + Math.log1p(Math.exp(-Math.abs(zv))), 0) / n;
    expect(noGrad(() => loss.compute(sigmoid(z), t)).data[0]).toBeCloseTo(want, 5);
    const p = leaf(randArray(rng(14), n, 0.05, 0.95), [n, 1]);
    gradcheck([p], () => loss.compute(p, t));
    const wantP = -Array.from(p.data).reduce((s, pv, i) => s + t.data[i]! * Math.log(pv) + (1 - t.data[i]!) * Math.log(1 - pv), 0) / n;
    expect(noGrad(() => loss.compute(p, t)).data[0]).toBeCloseTo(wantP, 5);
  });

  it('mean squared error', () => {
    const p = leaf(randArray(rng(15), 12, -2, 2), [4, 3]);
    const t = new Tensor(randArray(rng(16), 12, -2, 2), [4, 3]);
    gradcheck([p], () => new MeanSquaredError().compute(p, t));
    const want = Array.from(p.data).reduce((s, v, i) => s + (v - t.data[i]!) ** 2, 0) / 12;
    expect(noGrad(() => new MeanSquaredError().compute(p, t)).data[0]).toBeCloseTo(want, 5);
  });

  it('sample weights: sum(w_i * loss_i) / batch on every loss and path (Keras sum_over_batch_size), gradients by differences', () => {
    const w = Float32Array.from([0.5, 2, 0, 1.25]);
    const z = leaf(randArray(rng(30), rows * cols, -3, 3), [rows, cols]);
    const p = leaf(randArray(rng(31), rows * cols, 0.05, 0.95), [rows, cols]);
    const bt = new Tensor(randArray(rng(32), rows * cols, 0, 1), [rows, cols]);
    const mse = new MeanSquaredError();
    function squared(yTrue: Tensor, yPred: Tensor): Tensor {
      const d = sub(yPred, yTrue);
      return mul(d, d);
    }
    const row = (t: Tensor, i: number) => new Tensor(t.data.slice(i * cols, (i + 1) * cols), [1, cols]);
    const cases: [string, Tensor, (x: Tensor, w?: Float32Array) => Tensor, (i: number) => number][] = [
      ['sparse CE, softmax', z, (x, ww) => new SparseCategoricalCrossentropy().compute(softmax(x), labels, ww), (i) => new SparseCategoricalCrossentropy().compute(softmax(row(z, i)), Tensor.from([labels.data[i]!], [1])).data[0]!],
      ['sparse CE, logits', z, (x, ww) => new SparseCategoricalCrossentropy(true).compute(x, labels, ww), (i) => new SparseCategoricalCrossentropy(true).compute(row(z, i), Tensor.from([labels.data[i]!], [1])).data[0]!],
      ['sparse CE, probabilities', p, (x, ww) => new SparseCategoricalCrossentropy().compute(x, labels, ww), (i) => new SparseCategoricalCrossentropy().compute(row(p, i), Tensor.from([labels.data[i]!], [1])).data[0]!],
      ['categorical CE, softmax', z, (x, ww) => new CategoricalCrossentropy().compute(softmax(x), soft, ww), (i) => new CategoricalCrossentropy().compute(softmax(row(z, i)), row(soft, i)).data[0]!],
      ['categorical CE, probabilities', p, (x, ww) => new CategoricalCrossentropy().compute(x, soft, ww), (i) => new CategoricalCrossentropy().compute(row(p, i), row(soft, i)).data[0]!],
      ['binary CE, sigmoid', z, (x, ww) => new BinaryCrossentropy().compute(sigmoid(x), bt, ww), (i) => new BinaryCrossentropy().compute(sigmoid(row(z, i)), row(bt, i)).data[0]!],
      ['binary CE, probabilities', p, (x, ww) => new BinaryCrossentropy().compute(x, bt, ww), (i) => new BinaryCrossentropy().compute(row(p, i), row(bt, i)).data[0]!],
      ['mean squared error', z, (x, ww) => mse.compute(x, bt, ww), (i) => mse.compute(row(z, i), row(bt, i)).data[0]!],
      ['a loss function', z, (x, ww) => new FunctionLoss(squared).compute(x, bt, ww), (i) => mse.compute(row(z, i), row(bt, i)).data[0]!],
    ];
    for (const [what, x, f, perRow] of cases) {
      gradcheck([x], () => f(x, w));
      // The value against each sample's own unweighted loss, computed row by row.
      const want = noGrad(() => [0, 1, 2, 3].reduce((s, i) => s + w[i]! * perRow(i), 0)) / rows;
      expect(noGrad(() => f(x, w)).data[0], what).toBeCloseTo(want, 5);
      // Weights of 1 change nothing.
      expect(noGrad(() => f(x, new Float32Array(rows).fill(1))).data[0], what).toBeCloseTo(noGrad(() => f(x)).data[0]!, 6);
    }
    expect(() => mse.compute(z, bt, new Float32Array(3))).toThrow(/sampleWeight must be a Float32Array of 4 weights/);
  });

  it('a loss scaled afterwards back-propagates the seed (2 * loss)', () => {
    const z = leaf(randArray(rng(17), rows * cols, -3, 3), [rows, cols]);
    gradcheck([z], () => mulScalar(new SparseCategoricalCrossentropy().compute(softmax(z), labels), 2));
  });
});

describe('layers and models', () => {
  it.each(['relu', 'tanh', 'sigmoid', 'softmax', 'elu', 'linear'] as const)('Dense layer (%s) w.r.t. kernel, bias and input', (act) => {
    const r = rng(20);
    setSeed(20); // the initializers draw from the global generator, which otherwise starts from the clock
    const layer = new Dense({ units: 3, activation: act, kernelInitializer: 'glorotUniform', biasInitializer: 'randomNormal' });
    layer.build([null, 4]);
    const x = leaf(randArray(r, 8), [2, 4]);
    if (act === 'relu') {
      // Keep every pre-activation at least 0.05 from the kink: a central difference across it
      // averages the two slopes. Shifting a column's bias moves both samples, so re-check until
      // none is near 0 (each value passes 0 at most once, so this ends within a few shifts).
      for (let shifts = 0; shifts < 10; shifts++) {
        const z = noGrad(() => dense(x, layer.kernel!, layer.bias!, ActId.Linear, 0));
        const near = Array.from(z.data).findIndex((v) => Math.abs(v) < 0.05);
        if (near < 0) break;
        layer.bias!.data[near % 3] += 0.2;
      }
      const z = noGrad(() => dense(x, layer.kernel!, layer.bias!, ActId.Linear, 0));
      expect(Math.min(...Array.from(z.data, Math.abs))).toBeGreaterThanOrEqual(0.05);
    }
    gradcheck([layer.kernel!, layer.bias!, x], () => project(layer.call(x, { training: true })));
  });

  it('2-layer Sequential: sparse CE loss w.r.t. every weight', () => {
    const r = rng(21);
    const model = new Sequential([
      new Dense({ units: 6, activation: 'tanh', inputShape: [5] }),
      new Dense({ units: 3, activation: 'softmax' }),
    ]);
    const x = new Tensor(randArray(r, 8 * 5), [8, 5]);
    const y = Tensor.from([0, 1, 2, 0, 1, 2, 2, 1], [8]);
    const loss = new SparseCategoricalCrossentropy();
    const weights = model.trainableWeights;
    expect(weights.map((w) => w.shape)).toEqual([[5, 6], [6], [6, 3], [3]]);
    gradcheck(weights, () => loss.compute(model.call(x, true), y), 2e-3, 1e-2, true);
  });

  it('2-layer Sequential with MSE and a sigmoid output', () => {
    const r = rng(22);
    const model = new Sequential([
      new Dense({ units: 4, activation: 'elu', inputShape: [3] }),
      new Dense({ units: 2, activation: 'sigmoid' }),
    ]);
    const x = new Tensor(randArray(r, 6 * 3), [6, 3]);
    const y = new Tensor(randArray(r, 12, 0, 1), [6, 2]);
    gradcheck(model.trainableWeights, () => new MeanSquaredError().compute(model.call(x, true), y), 2e-3, 1e-2, true);
  });
});

describe('engine', () => {
  it('backward accumulates the gradient of a tensor used twice: d/da sum(a * a + a) = 2a + 1', () => {
    const a = leaf(Float32Array.of(0.5, -1, 2), [3]);
    backward(sum(add(mul(a, a), a)));
    expect(Array.from(a.grad!)).toEqual([2, -1, 5]);
    // Leaves accumulate across backward calls until reset.
    backward(sum(a));
    expect(Array.from(a.grad!)).toEqual([3, 0, 6]);
    a.grad = null;
    backward(sum(add(a, a)));
    expect(Array.from(a.grad!)).toEqual([2, 2, 2]);
  });

  it('matmul of a tensor with itself (a a^T, a^T a) accumulates both operand gradients', () => {
    const a = leaf(randArray(rng(26), 12), [3, 4]);
    gradcheck([a], () => project(matmul(a, a, false, true)));
    gradcheck([a], () => project(matmul(a, a, true, false)));
  });

  it('a tensor feeding two branches of a graph gets the sum of both gradients', () => {
    const x = leaf(randArray(rng(23), 6), [2, 3]);
    const W = leaf(randArray(rng(24), 12), [3, 4]);
    gradcheck([x, W], () => add(project(matmul(x, W), 1), project(activation(matmul(x, W), ActId.Tanh), 2)));
  });

  it('noGrad records nothing', () => {
    const a = leaf(Float32Array.of(1, 2), [2]);
    const y = noGrad(() => sum(mul(a, a)));
    expect(y.requiresGrad).toBe(false);
    expect(y.backwardFn).toBeNull();
  });

  it('backward rejects a non-scalar loss and one that needs no gradient', () => {
    const a = leaf(Float32Array.of(1, 2), [2]);
    expect(() => backward(mul(a, a))).toThrow(/scalar/);
    expect(() => backward(sum(new Tensor(Float32Array.of(1), [1])))).toThrow(/does not depend/);
  });

  it('scope() returns buffers to the pool and the next scope reuses the same arrays', () => {
    const r = rng(25);
    const x = new Tensor(randArray(r, 32 * 7), [32, 7]);
    const W = leaf(randArray(r, 7 * 5), [7, 5]);
    const b = leaf(randArray(r, 5), [5]);
    const step = () =>
      scope(() => {
        W.grad = null;
        b.grad = null;
        const y = dense(x, W, b, ActId.Relu, 0);
        const loss = mean(mul(y, y));
        backward(loss);
        return { y: y.data, value: loss.data[0]! };
      });
    const first = step();
    const pooled = pool.pooledFloats();
    expect(pooled).toBeGreaterThan(0);
    const second = step();
    // The same Float32Array object came back from the pool, and nothing new was pooled.
    expect(second.y).toBe(first.y);
    expect(second.value).toBe(first.value);
    for (let i = 0; i < 5; i++) step();
    expect(pool.pooledFloats()).toBe(pooled);
    // Outside a scope, outputs are fresh arrays.
    const o1 = noGrad(() => dense(x, W, b, ActId.Relu, 0)).data;
    const o2 = noGrad(() => dense(x, W, b, ActId.Relu, 0)).data;
    expect(o1).not.toBe(o2);
  });

  it('pooled gradient buffers are zeroed on reuse (no stale gradients leak between scopes)', () => {
    const x = leaf(Float32Array.of(1, 2, 3, 4), [2, 2]);
    const W = leaf(Float32Array.of(1, 0, 0, 1), [2, 2]);
    const run = () =>
      scope(() => {
        x.grad = null;
        W.grad = null;
        const h = matmul(x, W); // intermediate: its grad comes from the pool
        backward(sum(mul(h, h)));
        return Array.from(W.grad!);
      });
    const g1 = run();
    const g2 = run();
    expect(g2).toEqual(g1);
    // d/dW sum((xW)^2) = 2 x^T x W = 2 [[10, 14], [14, 20]].
    expect(g1).toEqual([20, 28, 28, 40]);
  });
});
