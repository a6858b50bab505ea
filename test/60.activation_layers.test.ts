/**
 * Activation layers (LeakyReLU, PReLU, RReLU, ELU, ReLU, Softmax) and the activations registry.
 *
 * References: golden numbers from PyTorch in float64 (test/fixtures/torch_activations.json, made
 * by make_torch_activations.py beside it; the script's docstring lists where torch and Keras
 * differ and how the fixture follows Keras), published formulas written out here in float64, and
 * central finite differences for gradients (the ops run in float32, so h = 1e-3 and errors are
 * scaled by the gradient's magnitude).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor';
import { backward, noGrad } from '../src/autograd/engine';
import { native } from '../src/backend/native';
import { mul, sum } from '../src/ops';
import {
  Activation, Dense, ELU, Layer, LeakyReLU, PReLU, ReLU, RReLU, Softmax,
  elu, leakyRelu, prelu, relu, rrelu, softmax,
} from '../src/layers';
import { Sequential } from '../src/models/sequential';
import { SGD } from '../src/optimizers';
import { gelu, getActivation } from '../src/activations';
import { l2 } from '../src/regularizers';
import { nonNeg } from '../src/constraints';
import { caught, expectClose, randArray, rng, scaledError } from './support/reference';

interface ElementwiseCase {
  name: string;
  params: Record<string, number>;
  shape: number[];
  x: number[];
  g: number[];
  y: number[];
  dx: number[];
}
interface PreluCase {
  shape: number[];
  x: number[];
  alpha: number[];
  alphaShape: number[];
  g: number[];
  y: number[];
  dx: number[];
  dalpha: number[];
  sharedAxes: number[] | null;
}
interface SoftmaxCase {
  axis: number | number[];
  shape: number[];
  x: number[];
  g: number[];
  y: number[];
  dx: number[];
}
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'torch_activations.json'), 'utf8')) as {
  elementwise: ElementwiseCase[];
  prelu: PreluCase[];
  softmax: SoftmaxCase[];
};

function leaf(data: ArrayLike<number>, shape: number[]): Tensor {
  const t = new Tensor(Float32Array.from(data), shape);
  t.requiresGrad = true;
  return t;
}

/** y = layer(x) and dx = d sum(g * y) / dx. */
function runLayer(layer: Layer, xData: ArrayLike<number>, shape: number[], g: ArrayLike<number>, training = false) {
  if (!layer.built) layer.build([null, ...shape.slice(1)]);
  const x = leaf(xData, shape);
  const y = layer.call(x, { training });
  backward(sum(mul(y, new Tensor(Float32Array.from(g), shape))));
  return { y: Float64Array.from(y.data), dx: Float64Array.from(x.grad!) };
}

/** Central differences of f at p (float64 objective of float32 data), compared with p.grad. */
function gradcheck(p: Tensor, f: () => number, analytic: ArrayLike<number>, tol = 2e-3): void {
  const h = 1e-3;
  const numeric = new Float64Array(p.size);
  noGrad(() => {
    for (let i = 0; i < p.size; i++) {
      const orig = p.data[i]!;
      p.data[i] = orig + h;
      const up = p.data[i]! - orig;
      const fp = f();
      p.data[i] = orig - h;
      const down = orig - p.data[i]!;
      const fm = f();
      p.data[i] = orig;
      numeric[i] = (fp - fm) / (up + down);
    }
  });
  expect(scaledError(analytic, numeric, 1e-2)).toBeLessThan(tol);
}

/** sum(g * y) in float64. */
function dot(y: ArrayLike<number>, g: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * g[i]!;
  return s;
}

describe('activations vs PyTorch (float64 golden numbers)', () => {
  for (const c of fixture.elementwise) {
    const label = `${c.name} ${JSON.stringify(c.params)}`;
    it(label, () => {
      let layer: Layer;
      switch (c.name) {
        case 'leaky_relu':
          layer = new LeakyReLU({ negativeSlope: c.params.negative_slope });
          break;
        case 'elu':
          layer = new ELU({ alpha: c.params.alpha });
          break;
        case 'rrelu_inference':
          layer = new RReLU({ lower: c.params.lower, upper: c.params.upper });
          break;
        default:
          layer = new Activation({ activation: c.name as 'selu' });
      }
      const { y, dx } = runLayer(layer, c.x, c.shape, c.g, false);
      // float32 against float64: a few ulps of the value, plus erf/tanh/exp library differences.
      expectClose(y, c.y, 2e-6, 2e-6, `${label} y`);
      expectClose(dx, c.dx, 2e-5, 2e-6, `${label} dx`);
    });
  }

  it('gelu({ approximate: true }) is the tanh form, reachable from Dense', () => {
    const c = fixture.elementwise.find((e) => e.name === 'gelu_approximate')!;
    expect(gelu({ approximate: true }).name).toBe('gelu_approximate');
    expect(getActivation(gelu()).name).toBe('gelu');
    const { y } = runLayer(new Activation({ activation: 'gelu_approximate' }), c.x, c.shape, c.g);
    expectClose(y, c.y, 2e-6, 2e-6, 'gelu tanh');
    // In a Dense with an identity kernel the fused kernel gives the same numbers.
    const d = new Dense({ units: 11, activation: gelu({ approximate: true }), kernelInitializer: 'identity' });
    d.build([null, 11]);
    const out = d.call(new Tensor(Float32Array.from(c.x), c.shape), { training: false });
    expectClose(out.data, c.y, 2e-6, 2e-6, 'dense gelu tanh');
    expect(d.getConfig().activation).toBe('gelu_approximate');
  });

  for (const c of fixture.prelu) {
    it(`PReLU alpha ${JSON.stringify(c.alphaShape)}${c.sharedAxes ? ` sharedAxes ${JSON.stringify(c.sharedAxes)}` : ''}: y, dx, dalpha`, () => {
      const layer = new PReLU({ sharedAxes: c.sharedAxes });
      layer.build([null, ...c.shape.slice(1)]);
      expect(layer.alpha!.shape).toEqual(c.alphaShape);
      layer.alpha!.data.set(c.alpha);
      layer.alpha!.grad = null;
      const { y, dx } = runLayer(layer, c.x, c.shape, c.g);
      expectClose(y, c.y, 1e-6, 1e-6, 'y');
      expectClose(dx, c.dx, 1e-6, 1e-6, 'dx');
      expectClose(layer.alpha!.grad!, c.dalpha, 1e-5, 1e-6, 'dalpha');
    });
  }

  for (const c of fixture.softmax) {
    it(`Softmax axis ${JSON.stringify(c.axis)}: y and dx`, () => {
      const { y, dx } = runLayer(new Softmax({ axis: c.axis }), c.x, c.shape, c.g);
      expectClose(y, c.y, 1e-5, 1e-7, 'y');
      expectClose(dx, c.dx, 1e-4, 1e-6, 'dx');
    });
  }
});

describe('activation layers vs float64 formulas', () => {
  const r = rng(60);
  const n = 257;
  // Away from the kinks so that one-sided formulas are unambiguous.
  const xs = Array.from(randArray(r, n, -5, 5), (v) => (Math.abs(v) < 1e-3 ? 0.5 : v));
  const ones = new Array(n).fill(1);

  it('LeakyReLU: default slope 0.3 (Keras 3), alpha alias, formula', () => {
    expect(leakyRelu().negativeSlope).toBe(0.3);
    expect(new LeakyReLU({ alpha: 0.1 }).negativeSlope).toBe(0.1);
    const { y, dx } = runLayer(leakyRelu({ negativeSlope: 0.2 }), xs, [1, n], ones);
    expectClose(y, xs.map((v) => (v > 0 ? v : 0.2 * v)), 1e-7, 1e-7, 'y');
    expectClose(dx, xs.map((v) => (v > 0 ? 1 : 0.2)), 0, 1e-7, 'dx');
  });

  it('ELU: alpha * (exp(x) - 1) below 0', () => {
    const { y, dx } = runLayer(elu({ alpha: 0.7 }), xs, [1, n], ones);
    expectClose(y, xs.map((v) => (v > 0 ? v : 0.7 * Math.expm1(v))), 1e-6, 1e-7, 'y');
    expectClose(dx, xs.map((v) => (v > 0 ? 1 : 0.7 * Math.exp(v))), 1e-6, 1e-7, 'dx');
    expect(elu().alpha).toBe(1);
  });

  it('PReLU: per-unit slopes formula, zeros init behaves as ReLU', () => {
    const layer = prelu();
    layer.build([null, 3]);
    expect(Array.from(layer.alpha!.data)).toEqual([0, 0, 0]);
    const x = [-1, 2, -3, 4, -5, 6];
    // (-0 for the negatives: 0 * x; + 0 folds it into 0)
    expect(Array.from(runLayer(layer, x, [2, 3], ones.slice(0, 6)).y, (v) => v + 0)).toEqual([0, 2, 0, 4, 0, 6]);
    layer.alpha!.data.set([0.5, -1, 2]);
    const { y } = runLayer(layer, x, [2, 3], ones.slice(0, 6));
    expect(Array.from(y)).toEqual([-0.5, 2, -6, 4, 5, 6]); // column 1 has slope -1
  });

  it('PReLU alpha shapes: shared axes collapse to 1', () => {
    const a = prelu({ sharedAxes: [1, 2] });
    a.build([null, 5, 6, 3]);
    expect(a.alpha!.shape).toEqual([1, 1, 3]);
    const b = prelu({ sharedAxes: 3 });
    b.build([null, 5, 6, 3]);
    expect(b.alpha!.shape).toEqual([5, 6, 1]);
    const c = prelu();
    c.build([null, 5, 6, 3]);
    expect(c.alpha!.shape).toEqual([5, 6, 3]);
    // Formula with sharing over axis 2 of [batch, 2, 3]: slope index = i (axis 1).
    const d = prelu({ sharedAxes: [2], alphaInitializer: 'ones' });
    d.build([null, 2, 3]);
    d.alpha!.data.set([0.1, 0.9]);
    const x = Array.from(randArray(r, 12, -2, 2));
    const want = x.map((v, i) => (v > 0 ? v : [0.1, 0.9][Math.floor(i / 3) % 2]! * v));
    expectClose(runLayer(d, x, [2, 2, 3], new Array(12).fill(1)).y, want, 1e-6, 1e-7, 'shared');
  });

  it('PReLU gradient check wrt x and alpha (finite differences), with and without shared axes', () => {
    for (const [shape, shared] of [[[4, 3], null], [[3, 4, 2], [1]], [[2, 3, 2, 2], [1, 2]]] as const) {
      const layer = new PReLU({ sharedAxes: shared as number[] | null });
      layer.build([null, ...shape.slice(1)]);
      const alpha = layer.alpha!;
      alpha.data.set(randArray(r, alpha.size, -0.5, 1.5));
      const size = shape.reduce((p, q) => p * q, 1);
      const xd = Array.from(randArray(r, size, -2, 2), (v) => (Math.abs(v) < 0.05 ? 0.3 : v));
      const g = randArray(r, size, -1, 1);
      const x = leaf(xd, [...shape]);
      alpha.grad = null;
      const y = layer.call(x, { training: true });
      backward(sum(mul(y, new Tensor(g, [...shape]))));
      const f = () => dot(layer.call(x, { training: false }).data, g);
      gradcheck(x, f, Float64Array.from(x.grad!));
      gradcheck(alpha, f, Float64Array.from(alpha.grad!));
    }
  });

  it('ReLU(maxValue, negativeSlope, threshold) follows Keras: formula and gradient', () => {
    const cases: [number | null, number, number][] = [
      [null, 0, 0], [6, 0, 0], [null, 0.1, 0], [2.5, 0.2, 0], [null, 0, 1.5], [3, 0.3, 1], [0.5, 0.25, 2],
    ];
    for (const [maxValue, negativeSlope, threshold] of cases) {
      const layer = relu({ maxValue, negativeSlope, threshold });
      const want = xs.map((v) => {
        // Keras docs: max_value if x >= max_value; x if threshold <= x < max_value; else slope * (x - threshold)
        if (v > threshold) return maxValue !== null && v >= maxValue ? maxValue : v;
        return negativeSlope * (v - threshold);
      });
      const wantDx = xs.map((v) => (v > threshold ? (maxValue !== null && v >= maxValue ? 0 : 1) : negativeSlope));
      const { y, dx } = runLayer(layer, xs, [1, n], ones);
      const tag = JSON.stringify({ maxValue, negativeSlope, threshold });
      expectClose(y, want, 1e-6, 1e-6, `${tag} y`);
      expectClose(dx, wantDx, 0, 1e-7, `${tag} dx`);
      const x = leaf(xs, [1, n]);
      const g = randArray(r, n, -1, 1);
      backward(sum(mul(layer.call(x, { training: false }), new Tensor(g, [1, n]))));
      const kinks = [threshold, maxValue ?? Infinity];
      // Finite differences only where no kink lies within h.
      const safe = xs.every((v) => kinks.every((k) => Math.abs(v - k) > 2e-3));
      if (safe) gradcheck(x, () => dot(layer.call(x, { training: false }).data, g), Float64Array.from(x.grad!));
    }
  });

  it('Softmax over axis 1 of a rank-3 input: formula and gradient check', () => {
    const shape = [2, 5, 3];
    const xd = randArray(r, 30, -3, 3);
    const layer = softmax({ axis: 1 });
    const { y } = runLayer(layer, xd, shape, new Array(30).fill(0));
    const want = new Float64Array(30);
    for (let b = 0; b < 2; b++) {
      for (let j = 0; j < 3; j++) {
        let m = -Infinity, s = 0;
        for (let k = 0; k < 5; k++) m = Math.max(m, xd[b * 15 + k * 3 + j]!);
        for (let k = 0; k < 5; k++) s += Math.exp(xd[b * 15 + k * 3 + j]! - m);
        for (let k = 0; k < 5; k++) want[b * 15 + k * 3 + j] = Math.exp(xd[b * 15 + k * 3 + j]! - m) / s;
      }
    }
    expectClose(y, want, 1e-6, 1e-7, 'softmax axis 1');
    const x = leaf(xd, shape);
    const g = randArray(r, 30, -1, 1);
    backward(sum(mul(layer.call(x, { training: false }), new Tensor(g, shape))));
    gradcheck(x, () => dot(layer.call(x, { training: false }).data, g), Float64Array.from(x.grad!));
  });

  it('Softmax over the last axis is the tagged op that cross-entropy fuses with', () => {
    const y = softmax().call(new Tensor(new Float32Array([1, 2, 3, 4]), [2, 2]), { training: false });
    expect(y.op).toBe('softmax');
    expect(y.logits).not.toBeNull();
  });
});

describe('RReLU', () => {
  it('training: slopes drawn uniformly in [lower, upper] per element, gradient = slope', () => {
    const n = 200000;
    const lower = 0.1, upper = 0.4;
    const layer = rrelu({ lower, upper, seed: 7 });
    const x = leaf(new Float32Array(n).fill(-2), [100, n / 100]);
    const y = layer.call(x, { training: true });
    backward(sum(y));
    const slopes = Float64Array.from(y.data, (v) => v / -2);
    let mean = 0, m2 = 0, min = Infinity, max = -Infinity;
    const bins = new Array(10).fill(0);
    for (const s of slopes) {
      mean += s;
      min = Math.min(min, s);
      max = Math.max(max, s);
      bins[Math.min(9, Math.floor(((s - lower) / (upper - lower)) * 10))]++;
    }
    mean /= n;
    for (const s of slopes) m2 += (s - mean) ** 2;
    const variance = m2 / (n - 1);
    const uVar = (upper - lower) ** 2 / 12;
    expect(min).toBeGreaterThanOrEqual(lower);
    expect(max).toBeLessThanOrEqual(upper);
    // Mean within 5 standard errors; variance of U(a, b) is (b - a)^2 / 12.
    expect(Math.abs(mean - (lower + upper) / 2)).toBeLessThan(5 * Math.sqrt(uVar / n));
    expect(Math.abs(variance / uVar - 1)).toBeLessThan(0.02);
    // Each tenth of the range holds about a tenth of the draws (binomial sd ~ 0.0007 n).
    for (const b of bins) expect(Math.abs(b / n - 0.1)).toBeLessThan(0.004);
    // dy/dx is the slope drawn for that element.
    expectClose(x.grad!, slopes, 1e-6, 0, 'grad = slope');
  });

  it('training: positives pass unchanged; fresh slopes every call; a seed repeats them', () => {
    const xd = new Float32Array([3, -1, -1, -1, 0.5, -1, -1, -1]);
    const a = rrelu({ seed: 3 }), b = rrelu({ seed: 3 });
    const y1 = Array.from(a.call(new Tensor(xd, [2, 4]), { training: true }).data);
    const y2 = Array.from(a.call(new Tensor(xd, [2, 4]), { training: true }).data);
    expect(y1[0]).toBe(3);
    expect(y1[4]).toBe(0.5);
    expect(y1).not.toEqual(y2);
    expect(Array.from(b.call(new Tensor(xd, [2, 4]), { training: true }).data)).toEqual(y1);
    for (const v of y1.filter((_, i) => xd[i]! < 0)) {
      expect(-v).toBeGreaterThanOrEqual(1 / 8);
      expect(-v).toBeLessThanOrEqual(1 / 3);
    }
  });

  it('inference: the slope is exactly (lower + upper) / 2 (PyTorch defaults 1/8, 1/3)', () => {
    const layer = new RReLU();
    expect(layer.lower).toBe(1 / 8);
    expect(layer.upper).toBe(1 / 3);
    const slope = Math.fround((1 / 8 + 1 / 3) / 2);
    const xd = [-4, -1, -0.25, 0.5, 2];
    const { y, dx } = runLayer(layer, xd, [1, 5], [1, 1, 1, 1, 1]);
    expectClose(y, xd.map((v) => (v > 0 ? v : Math.fround(slope * v))), 0, 0, 'y');
    expectClose(dx, xd.map((v) => (v > 0 ? 1 : slope)), 0, 0, 'dx');
  });
});

describe('activation layers in a model', () => {
  it('PReLU alpha is trained by fit; its regularizer and constraint are applied', async () => {
    const model = new Sequential([
      new Dense({ units: 4, inputShape: [3], kernelInitializer: 'ones' }),
      new PReLU({ alphaInitializer: { class_name: 'Constant', config: { value: 0.25 } }, alphaRegularizer: l2(0.1), alphaConstraint: nonNeg() }),
      new Dense({ units: 1, kernelInitializer: 'ones' }),
    ]);
    model.compile({ optimizer: new SGD({ learningRate: 0.05 }), loss: 'mse' });
    const p = model.layers[1] as PReLU;
    expect(p.regularizationLosses().length).toBe(1);
    expect(p.regularizationLosses()[0]!.data[0]).toBeCloseTo(0.1 * 4 * 0.0625, 6);
    const before = Array.from(p.alpha!.data);
    const x = new Tensor(new Float32Array([-1, -2, -1, -0.5, -1, -2]), [2, 3]);
    const y = new Tensor(new Float32Array([3, 2]), [2, 1]);
    await model.fit(x, y, { epochs: 3, batchSize: 2, verbose: 0, shuffle: false });
    const after = Array.from(p.alpha!.data);
    expect(after).not.toEqual(before);
    for (const v of after) expect(v).toBeGreaterThanOrEqual(0);
  });
});

describe('activation layer errors', () => {
  it('LeakyReLU: alpha and negativeSlope together, or a negative slope', () => {
    const e = caught(() => new LeakyReLU({ negativeSlope: 0.1, alpha: 0.2, name: 'lr' }));
    expect(e.code).toBe('ERR_VALUE');
    expect(e.message).toContain('LeakyReLU "lr"');
    expect(e.message).toContain('negativeSlope=0.1, alpha=0.2');
    expect(caught(() => new LeakyReLU({ negativeSlope: -1 })).message).toContain('negativeSlope=-1');
    expect(caught(() => new LeakyReLU({ alpha: -1 })).message).toContain('alpha=-1');
  });

  it('ReLU: negative maxValue / negativeSlope / threshold', () => {
    expect(caught(() => new ReLU({ maxValue: -1 })).message).toContain('maxValue=-1');
    expect(caught(() => new ReLU({ negativeSlope: -0.1 })).message).toContain('negativeSlope=-0.1');
    expect(caught(() => new ReLU({ threshold: -2 })).message).toContain('threshold=-2');
  });

  it('RReLU: lower > upper', () => {
    const e = caught(() => new RReLU({ lower: 0.5, upper: 0.1 }));
    expect(e.code).toBe('ERR_VALUE');
    expect(e.message).toContain('lower=0.5, upper=0.1');
  });

  it('PReLU: bad sharedAxes, wrong input shape', () => {
    expect(caught(() => new PReLU({ sharedAxes: 0 })).message).toContain('sharedAxes=0');
    const p = new PReLU({ sharedAxes: [3] });
    const e = caught(() => p.build([null, 4, 2]));
    expect(e.code).toBe('ERR_SHAPE');
    expect(e.message).toContain('sharedAxes contains 3');
    const q = new PReLU({ name: 'pr' });
    q.build([null, 4]);
    const f = caught(() => q.call(new Tensor(new Float32Array(6), [2, 3]), { training: false }));
    expect(f.code).toBe('ERR_SHAPE');
    expect(f.message).toContain('PReLU "pr": expected input shape [batch, 4], received shape [2, 3]');
  });

  it('Softmax: axes must be contiguous and in range', () => {
    const x = new Tensor(new Float32Array(24), [2, 3, 4]);
    expect(caught(() => new Softmax({ axis: [0, 2] }).call(x, { training: false })).code).toBe('ERR_SHAPE');
    expect(caught(() => new Softmax({ axis: 3 }).call(x, { training: false })).message).toContain('axis=3');
    expect(caught(() => new Softmax({ axis: 1.5 })).code).toBe('ERR_VALUE');
  });

  it('options must be an object', () => {
    expect(caught(() => new ELU(3 as unknown as object)).message).toContain('ELU: expected an options object');
  });
});

describe('native entry points re-check their arguments', () => {
  const f = (n: number) => new Float32Array(n);
  const code = (fn: () => unknown) => caught(fn).code;

  it('prelu: alpha too short, alphaIndex out of range or of the wrong type, outputs too short', () => {
    expect(code(() => native.preluForward(f(6), f(2), null, f(6), 2, 3))).toBe('ERR_NATIVE_SIZE');
    expect(code(() => native.preluForward(f(6), f(2), new Int32Array([0, 1, 2]), f(6), 2, 3))).toBe('ERR_NATIVE_VALUE');
    expect(code(() => native.preluForward(f(6), f(2), new Int32Array([0, 1]), f(6), 2, 3))).toBe('ERR_NATIVE_SIZE');
    expect(code(() => native.preluForward(f(6), f(3), new Float32Array(3) as unknown as Int32Array, f(6), 2, 3))).toBe('ERR_NATIVE_TYPE');
    expect(code(() => native.preluForward(f(6), f(3), null, f(5), 2, 3))).toBe('ERR_NATIVE_SIZE');
    expect(code(() => native.preluBackward(f(6), f(3), null, f(6), f(6), f(2), 2, 3))).toBe('ERR_NATIVE_SIZE');
    const shared = f(6);
    expect(code(() => native.preluBackward(f(6), f(3), null, f(6), shared, shared.subarray(0, 3), 2, 3))).toBe('ERR_NATIVE_OVERLAP');
  });

  it('rrelu, general relu, softmax over an axis, mish, sumAbs', () => {
    expect(code(() => native.rreluForwardTrain(f(4), f(4), f(4), 0.5, 0.1, 1))).toBe('ERR_NATIVE_VALUE');
    expect(code(() => native.rreluForwardTrain(f(4), f(4), f(3), 0.1, 0.5, 1))).toBe('ERR_NATIVE_SIZE');
    expect(code(() => native.rreluForwardTrain(f(4), f(4), f(4), 0.1, 0.5, -1))).toBe('ERR_NATIVE_VALUE');
    expect(code(() => native.rreluBackward(f(4), f(4), f(3)))).toBe('ERR_NATIVE_SIZE');
    expect(code(() => native.reluGeneralForward(f(4), f(3), 0, 0, false, 0))).toBe('ERR_NATIVE_SIZE');
    expect(code(() => native.reluGeneralForward(f(4), f(4), NaN, 0, false, 0))).toBe('ERR_NATIVE_VALUE');
    expect(code(() => native.softmaxAxis(f(24), f(23), 2, 3, 4))).toBe('ERR_NATIVE_SIZE');
    expect(code(() => native.softmaxAxisBackward(f(24), f(24), f(24), 2, 3, 5))).toBe('ERR_NATIVE_SIZE');
    expect(code(() => native.mishForward(f(4), f(3)))).toBe('ERR_NATIVE_SIZE');
    expect(code(() => (native.sumAbs as (...a: unknown[]) => number)(f(4), 1))).toBe('ERR_NATIVE_ARGS');
    expect(native.sumAbs(new Float32Array([-1.5, 2, -0.25]))).toBe(3.75);
  });
});
