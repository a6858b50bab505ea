/**
 * BatchNormalization: native kernels against a float64 reference written from the paper's formulas
 * (Ioffe & Szegedy 2015) with Keras 3's rules (biased variance, epsilon inside the square root,
 * moving = moving * momentum + batch * (1 - momentum)); the layer against PyTorch golden numbers
 * (test/fixtures/batchnorm_torch.json, made by batchnorm_torch.py, which explains how torch's
 * momentum and unbiased running variance were adjusted to Keras's rule); finite-difference gradients.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../src/backend/native';
import { Tensor } from '../src/tensor';
import { BatchNormalization } from '../src/layers/normalization';
import { layers } from '../src/index';
import { Variable } from '../src/layers/layer';
import { layerFromConfig, serializeLayer } from '../src/layers/serialization';
import { backward } from '../src/autograd/engine';
import { mul, sum } from '../src/ops/arithmetic';
import type { Regularizer } from '../src/regularizers/regularizer';
import type { Constraint } from '../src/constraints/constraint';
import { caught, expectClose, gauss, randArray, rng, scaledError } from './support/reference';

// ---------------------------------------------------------------------------------------------
// float64 reference over an [outer, C, inner] view.

interface Ref {
  y: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
}

function refForward(
  x: ArrayLike<number>, outer: number, C: number, inner: number, gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null, eps: number, stats: { mean: ArrayLike<number>; variance: ArrayLike<number> } | null,
): Ref {
  const M = outer * inner;
  const mean = new Float64Array(C), variance = new Float64Array(C);
  const at = (o: number, c: number, i: number) => (o * C + c) * inner + i;
  for (let c = 0; c < C; c++) {
    if (stats) {
      mean[c] = stats.mean[c]!;
      variance[c] = stats.variance[c]!;
      continue;
    }
    let s = 0;
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) s += x[at(o, c, i)]!;
    mean[c] = s / M;
    let q = 0;
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) q += (x[at(o, c, i)]! - mean[c]!) ** 2;
    variance[c] = q / M; // biased, as Keras normalises with
  }
  const y = new Float64Array(x.length);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < inner; i++) {
        const k = at(o, c, i);
        y[k] = ((x[k]! - mean[c]!) / Math.sqrt(variance[c]! + eps)) * (gamma ? gamma[c]! : 1) + (beta ? beta[c]! : 0);
      }
  return { y, mean, variance };
}

/** Numeric gradient of L = sum(refForward(x).y * w) wrt x, gamma, beta (central differences, float64). */
function refNumericGrads(
  x: Float64Array, outer: number, C: number, inner: number, gamma: Float64Array, beta: Float64Array, eps: number,
  w: ArrayLike<number>, training: boolean, stats: { mean: ArrayLike<number>; variance: ArrayLike<number> },
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const L = () => {
    const { y } = refForward(x, outer, C, inner, gamma, beta, eps, training ? null : stats);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * w[i]!;
    return s;
  };
  const h = 1e-6;
  const grad = (v: Float64Array) => {
    const g = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const keep = v[i]!;
      v[i] = keep + h;
      const up = L();
      v[i] = keep - h;
      const down = L();
      v[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    return g;
  };
  return { dx: grad(x), dgamma: grad(gamma), dbeta: grad(beta) };
}

const f64 = (a: ArrayLike<number>) => Float64Array.from(a as ArrayLike<number>);

// ---------------------------------------------------------------------------------------------

describe('native batchnorm kernels', () => {
  const shapes: [number, number, number][] = [
    [7, 5, 1], [3, 4, 6], [1, 3, 1], [2, 300, 1],
    [4096, 256, 1], // 2^20 elements: the threaded path (features split over threads)
    [64, 16, 1024], // threaded, inner > 1
  ];
  for (const [outer, C, inner] of shapes) {
    it(`forward (training and inference) matches float64 for [${outer}, ${C}, ${inner}]`, () => {
      const r = rng(outer * 1000 + C * 10 + inner);
      const n = outer * C * inner;
      const x = randArray(r, n, -3, 5);
      for (let i = 0; i < n; i++) x[i] += 2 * (((i / inner) | 0) % C % 7); // per-feature offsets
      const gamma = randArray(r, C, 0.5, 2), beta = randArray(r, C, -1, 1);
      const y = new Float32Array(n), mean = new Float32Array(C), variance = new Float32Array(C);
      native.batchnormForward(x, y, outer, C, inner, gamma, beta, mean, variance, 1e-3, true);
      const ref = refForward(x, outer, C, inner, gamma, beta, 1e-3, null);
      expectClose(mean, ref.mean, 1e-5, 1e-5, 'batch mean');
      expectClose(variance, ref.variance, 1e-5, 1e-6, 'batch variance');
      expectClose(y, ref.y, 1e-4, 1e-4, 'y (training)');
      // Inference: given statistics are read, not written.
      const mm = randArray(r, C, -1, 1), mv = randArray(r, C, 0.5, 3);
      const mmCopy = Float32Array.from(mm), mvCopy = Float32Array.from(mv);
      native.batchnormForward(x, y, outer, C, inner, null, beta, mm, mv, 1e-3, false);
      expectClose(y, refForward(x, outer, C, inner, null, beta, 1e-3, { mean: mm, variance: mv }).y, 1e-5, 1e-4, 'y (inference)');
      expect(Array.from(mm)).toEqual(Array.from(mmCopy));
      expect(Array.from(mv)).toEqual(Array.from(mvCopy));
    });
  }

  it('backward matches float64 finite differences (training and inference)', () => {
    for (const [outer, C, inner] of [[6, 3, 1], [3, 2, 4]] as const) {
      for (const training of [true, false]) {
        const r = rng(77 + outer + (training ? 1 : 0));
        const n = outer * C * inner;
        const x = randArray(r, n, -2, 2), w = randArray(r, n, -1, 1);
        const gamma = randArray(r, C, 0.5, 2), beta = randArray(r, C, -1, 1);
        const stats = { mean: randArray(r, C, -0.5, 0.5), variance: randArray(r, C, 0.5, 2) };
        const mean = training ? new Float32Array(C) : Float32Array.from(stats.mean);
        const variance = training ? new Float32Array(C) : Float32Array.from(stats.variance);
        native.batchnormForward(x, new Float32Array(n), outer, C, inner, gamma, beta, mean, variance, 1e-3, training);
        // Gradients accumulate: start from a known non-zero value and subtract it.
        const dx = new Float32Array(n).fill(0.5), dgamma = new Float32Array(C).fill(0.25), dbeta = new Float32Array(C);
        native.batchnormBackward(x, w, outer, C, inner, mean, variance, gamma, 1e-3, training, dx, dgamma, dbeta);
        const num = refNumericGrads(f64(x), outer, C, inner, f64(gamma), f64(beta), 1e-3, w, training, stats);
        const what = `[${outer},${C},${inner}] ${training ? 'training' : 'inference'}`;
        expectClose(dx.map((v) => v - 0.5), num.dx, 1e-3, 1e-4, `dx ${what}`);
        expectClose(dgamma.map((v) => v - 0.25), num.dgamma, 1e-3, 1e-4, `dgamma ${what}`);
        expectClose(dbeta, num.dbeta, 1e-3, 1e-4, `dbeta ${what}`);
      }
    }
  });

  it('backward on the threaded path matches the closed-form float64 gradient', () => {
    const [outer, C, inner] = [8192, 128, 1]; // 2^20 elements: threaded
    const r = rng(5);
    const n = outer * C * inner;
    const x = randArray(r, n, -2, 3), dy = randArray(r, n, -1, 1), gamma = randArray(r, C, 0.5, 2);
    const mean = new Float32Array(C), variance = new Float32Array(C);
    native.batchnormForward(x, new Float32Array(n), outer, C, inner, gamma, null, mean, variance, 1e-3, true);
    const dx = new Float32Array(n), dgamma = new Float32Array(C), dbeta = new Float32Array(C);
    native.batchnormBackward(x, dy, outer, C, inner, mean, variance, gamma, 1e-3, true, dx, dgamma, dbeta);
    // Ioffe & Szegedy, section 3: dL/dx_i = gamma/sqrt(var+eps) * (dy_i - mean(dy) - xhat_i * mean(dy * xhat)).
    const ref = refForward(x, outer, C, 1, null, null, 1e-3, null);
    const rdx = new Float64Array(n), rdg = new Float64Array(C), rdb = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      let sdy = 0, sdyx = 0;
      for (let o = 0; o < outer; o++) {
        sdy += dy[o * C + c]!;
        sdyx += dy[o * C + c]! * ref.y[o * C + c]!;
      }
      rdg[c] = sdyx;
      rdb[c] = sdy;
      const k = gamma[c]! / Math.sqrt(ref.variance[c]! + 1e-3);
      for (let o = 0; o < outer; o++) {
        const i = o * C + c;
        rdx[i] = k * (dy[i]! - sdy / outer - ref.y[i]! * (sdyx / outer));
      }
    }
    expect(scaledError(dx, rdx)).toBeLessThan(1e-4);
    expect(scaledError(dgamma, rdg)).toBeLessThan(1e-4);
    expect(scaledError(dbeta, rdb)).toBeLessThan(1e-4);
    // Each feature is reduced by one thread in a fixed order: one thread gives the same bits.
    const threads = native.getNumThreads();
    try {
      native.setNumThreads(1);
      const dx1 = new Float32Array(n), y1 = new Float32Array(n), m1 = new Float32Array(C), v1 = new Float32Array(C);
      native.batchnormForward(x, y1, outer, C, inner, gamma, null, m1, v1, 1e-3, true);
      native.batchnormBackward(x, dy, outer, C, inner, m1, v1, gamma, 1e-3, true, dx1, null, null);
      expect(Buffer.from(m1.buffer).equals(Buffer.from(mean.buffer))).toBe(true);
      expect(Buffer.from(dx1.buffer).equals(Buffer.from(dx.buffer))).toBe(true);
    } finally {
      native.setNumThreads(threads);
    }
  });

  it('rejects bad sizes, epsilon and overlapping outputs with a code', () => {
    const x = new Float32Array(12), y = new Float32Array(12), m = new Float32Array(3), v = new Float32Array(3);
    expect(caught(() => native.batchnormForward(x, y, 4, 3, 2, null, null, m, v, 1e-3, true)).code).toBe('ERR_NATIVE_SIZE');
    expect(caught(() => native.batchnormForward(x, y, 4, 3, 1, null, null, m, v, 0, true)).code).toBe('ERR_NATIVE_VALUE');
    expect(caught(() => native.batchnormForward(x, y, 4, 3, 1, null, null, x.subarray(0, 3), v, 1e-3, true)).code)
      .toBe('ERR_NATIVE_OVERLAP');
    expect(caught(() => native.batchnormBackward(x, y, 4, 3, 1, m, v, null, 1e-3, true, y, null, null)).code)
      .toBe('ERR_NATIVE_OVERLAP');
  });
});

// ---------------------------------------------------------------------------------------------

interface TorchCase {
  name: string;
  shape: number[];
  channel_axis: number;
  gamma: number[];
  beta: number[];
  epsilon: number;
  momentum: number;
  x: number[][];
  w: number[][];
  y: number[][];
  dx: number[][];
  dgamma: number[][];
  dbeta: number[][];
  moving_mean: number[];
  moving_variance_keras: number[];
  x_eval: number[];
  y_eval: number[];
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'batchnorm_torch.json'), 'utf8'),
) as { cases: TorchCase[] };

/** Forward in training mode and backward of sum(y * w); returns y and the gradients. */
function trainStep(layer: BatchNormalization, xv: ArrayLike<number>, shape: number[], w: ArrayLike<number>) {
  const x = new Tensor(Float32Array.from(xv), shape);
  x.requiresGrad = true;
  for (const v of layer.trainableWeights) v.grad = null;
  const y = layer.call(x, { training: true });
  backward(sum(mul(y, new Tensor(Float32Array.from(w), shape))));
  return { y: y.data, dx: x.grad!, dgamma: layer.gamma!.grad!, dbeta: layer.beta!.grad! };
}

describe('BatchNormalization layer vs PyTorch (Keras-adjusted)', () => {
  for (const c of fixture.cases) {
    it(`${c.name}: training outputs, gradients, moving statistics and inference`, () => {
      const layer = new BatchNormalization({ axis: c.channel_axis, epsilon: c.epsilon, momentum: c.momentum });
      layer.build([null, ...c.shape.slice(1)]);
      layer.gamma!.data.set(c.gamma);
      layer.beta!.data.set(c.beta);
      c.x.forEach((xv, step) => {
        const g = trainStep(layer, xv, c.shape, c.w[step]!);
        expectClose(g.y, c.y[step]!, 1e-4, 1e-4, `${c.name} y step ${step}`);
        expectClose(g.dx, c.dx[step]!, 1e-3, 1e-4, `${c.name} dx step ${step}`);
        expectClose(g.dgamma, c.dgamma[step]!, 1e-4, 1e-4, `${c.name} dgamma step ${step}`);
        expectClose(g.dbeta, c.dbeta[step]!, 1e-5, 1e-5, `${c.name} dbeta step ${step}`);
      });
      expectClose(layer.movingMean!.data, c.moving_mean, 1e-5, 1e-6, `${c.name} moving_mean`);
      expectClose(layer.movingVariance!.data, c.moving_variance_keras, 1e-5, 1e-6, `${c.name} moving_variance`);
      const yEval = layer.call(new Tensor(Float32Array.from(c.x_eval), c.shape), { training: false });
      expectClose(yEval.data, c.y_eval, 1e-4, 1e-4, `${c.name} inference`);
    });
  }
});

describe('BatchNormalization layer', () => {
  it('has Keras defaults, weight order and names', () => {
    const bn = new BatchNormalization({ name: 'bn_defaults' });
    expect(bn.momentum).toBe(0.99);
    expect(bn.epsilon).toBe(1e-3);
    bn.build([null, 4]);
    expect(bn.weights.map((w) => w.name)).toEqual([
      'bn_defaults/gamma', 'bn_defaults/beta', 'bn_defaults/moving_mean', 'bn_defaults/moving_variance',
    ]);
    expect(bn.trainableWeights.map((w) => w.name)).toEqual(['bn_defaults/gamma', 'bn_defaults/beta']);
    expect(Array.from(bn.gamma!.data)).toEqual([1, 1, 1, 1]);
    expect(Array.from(bn.beta!.data)).toEqual([0, 0, 0, 0]);
    expect(Array.from(bn.movingMean!.data)).toEqual([0, 0, 0, 0]);
    expect(Array.from(bn.movingVariance!.data)).toEqual([1, 1, 1, 1]);
    expect(bn.countParams()).toBe(16);
    const noAffine = new BatchNormalization({ center: false, scale: false, name: 'bn_plain' });
    noAffine.build([null, 3]);
    expect(noAffine.weights.map((w) => w.name)).toEqual(['bn_plain/moving_mean', 'bn_plain/moving_variance']);
  });

  it('gradient wrt x, gamma and beta matches finite differences of the layer (training, float32)', () => {
    const r = rng(11);
    const shape = [8, 3];
    const bn = new BatchNormalization({ momentum: 0.5 });
    bn.build([null, 3]);
    bn.gamma!.data.set([0.7, 1.3, 2.1]);
    bn.beta!.data.set([0.1, -0.4, 0.9]);
    const xv = randArray(r, 24, -2, 2), w = randArray(r, 24, -1, 1);
    const g = trainStep(bn, xv, shape, w);
    const loss = () => {
      const y = bn.call(new Tensor(Float32Array.from(xv), shape), { training: true });
      let s = 0;
      for (let i = 0; i < y.size; i++) s += y.data[i]! * w[i]!;
      return s;
    };
    const numeric = (v: Float32Array) =>
      Array.from(v, (_, i) => {
        const keep = v[i]!, h = 1e-2;
        v[i] = keep + h;
        const up = loss();
        v[i] = keep - h;
        const down = loss();
        v[i] = keep;
        return (up - down) / (2 * h);
      });
    expect(scaledError(g.dx, numeric(xv))).toBeLessThan(5e-3);
    expect(scaledError(g.dgamma, numeric(bn.gamma!.data))).toBeLessThan(5e-3);
    expect(scaledError(g.dbeta, numeric(bn.beta!.data))).toBeLessThan(5e-3);
  });

  it('updates the moving statistics with the biased batch variance over N steps (float64 reference)', () => {
    const r = rng(3);
    const bn = new BatchNormalization({ momentum: 0.9 });
    bn.build([null, 4]);
    const mm = new Float64Array(4), mv = new Float64Array(4).fill(1);
    for (let step = 0; step < 5; step++) {
      const xv = Float32Array.from({ length: 40 }, (_, i) => 3 * gauss(r) + (i % 4) - 1);
      bn.call(new Tensor(xv, [10, 4]), { training: true });
      const { mean, variance } = refForward(xv, 10, 4, 1, null, null, 1e-3, null);
      for (let c = 0; c < 4; c++) {
        mm[c] = mm[c]! * 0.9 + mean[c]! * 0.1;
        mv[c] = mv[c]! * 0.9 + variance[c]! * 0.1;
      }
    }
    expectClose(bn.movingMean!.data, mm, 1e-5, 1e-6, 'moving_mean');
    expectClose(bn.movingVariance!.data, mv, 1e-5, 1e-6, 'moving_variance');
    // Inference calls leave them alone.
    const before = Array.from(bn.movingMean!.data);
    bn.call(new Tensor(new Float32Array(40).fill(100), [10, 4]), { training: false });
    expect(Array.from(bn.movingMean!.data)).toEqual(before);
    // So does an empty batch in training.
    expect(bn.call(Tensor.zeros([0, 4]), { training: true }).shape).toEqual([0, 4]);
    expect(Array.from(bn.movingMean!.data)).toEqual(before);
  });

  it('inference uses the moving statistics', () => {
    const bn = new BatchNormalization({ epsilon: 0.01 });
    bn.build([null, 2]);
    bn.setWeights([Tensor.from([2, 0.5], [2]), Tensor.from([1, -1], [2]), Tensor.from([3, -2], [2]), Tensor.from([4, 0.25], [2])]);
    const y = bn.call(Tensor.from([[5, 0], [3, -2]]), { training: false });
    expectClose(y.data, [
      2 * (5 - 3) / Math.sqrt(4.01) + 1, 0.5 * (0 + 2) / Math.sqrt(0.26) - 1,
      2 * (3 - 3) / Math.sqrt(4.01) + 1, 0.5 * (-2 + 2) / Math.sqrt(0.26) - 1,
    ], 1e-6, 1e-6, 'inference');
  });

  it('trainable = false runs in inference mode even when training, and freezes the statistics', () => {
    const bn = new BatchNormalization();
    bn.build([null, 3]);
    bn.setWeights([Tensor.from([1.5, 1, 0.5], [3]), Tensor.from([0, 1, 2], [3]), Tensor.from([1, 2, 3], [3]), Tensor.from([2, 2, 2], [3])]);
    bn.trainable = false;
    expect(bn.trainableWeights).toEqual([]);
    const x = Tensor.from([[1, 2, 3], [4, 5, 6], [-1, 0, 7]]);
    x.requiresGrad = true;
    const yTrain = bn.call(x, { training: true });
    const yInfer = bn.call(x, { training: false });
    expect(Array.from(yTrain.data)).toEqual(Array.from(yInfer.data));
    expect(Array.from(bn.movingMean!.data)).toEqual([1, 2, 3]);
    // The gradient still reaches x, through the constant statistics: dx = gamma / sqrt(var + eps).
    backward(sum(yTrain));
    const k = [1.5, 1, 0.5].map((g) => g / Math.sqrt(2.001));
    expectClose(x.grad!, [...k, ...k, ...k], 1e-6, 1e-7, 'frozen dx');
    expect(bn.gamma!.grad).toBeNull();
  });

  it('normalises several axes, contiguous or not, with correct gradients', () => {
    const r = rng(21);
    const shape = [3, 2, 4, 3];
    const n = 72;
    const xv = randArray(r, n, -2, 2), w = randArray(r, n, -1, 1);
    for (const axis of [[1, 3], [-3, -2], [2]] as number[][]) {
      const bn = new BatchNormalization({ axis: axis.length === 1 ? axis[0]! : axis });
      bn.build([null, 2, 4, 3]);
      const norm = axis.map((a) => (a < 0 ? a + 4 : a)).sort();
      expect(bn.gamma!.shape).toEqual(norm.map((a) => shape[a]));
      const C = bn.gamma!.size;
      bn.gamma!.data.set(randArray(r, C, 0.5, 1.5));
      bn.beta!.data.set(randArray(r, C, -0.5, 0.5));
      // Reference: move the feature axes last ([rest, features]) and normalise columns.
      const rest = [0, 1, 2, 3].filter((a) => !norm.includes(a));
      const perm = [...rest, ...norm];
      const strides = [24, 12, 3, 1];
      const src: number[] = []; // src[k] = index in x of element k of the permuted layout
      const dims = perm.map((a) => shape[a]!);
      const walk = (d: number, off: number) => {
        if (d === 4) return void src.push(off);
        for (let i = 0; i < dims[d]!; i++) walk(d + 1, off + i * strides[perm[d]!]!);
      };
      walk(0, 0);
      const xp = src.map((i) => xv[i]!), wp = src.map((i) => w[i]!);
      const ref = refForward(xp, n / C, C, 1, bn.gamma!.data, bn.beta!.data, 1e-3, null);
      const num = refNumericGrads(f64(xp), n / C, C, 1, f64(bn.gamma!.data), f64(bn.beta!.data), 1e-3, wp, true,
        { mean: [], variance: [] });
      const g = trainStep(bn, xv, shape, w);
      const unperm = (a: ArrayLike<number>) => {
        const out = new Float64Array(n);
        src.forEach((i, k) => (out[i] = a[k]!));
        return out;
      };
      expectClose(g.y, unperm(ref.y), 1e-4, 1e-4, `y axis ${axis}`);
      expectClose(g.dx, unperm(num.dx), 1e-3, 1e-4, `dx axis ${axis}`);
      expectClose(g.dgamma, num.dgamma, 1e-3, 1e-4, `dgamma axis ${axis}`);
      expectClose(g.dbeta, num.dbeta, 1e-3, 1e-4, `dbeta axis ${axis}`);
    }
  });

  it('passes regularizers and constraints to its weights', () => {
    const calls: string[] = [];
    const reg: Regularizer = {
      className: 'Probe',
      call: (v) => {
        calls.push(`reg ${(v as Variable).name}`);
        return sum(v);
      },
      getConfig: () => ({}),
    };
    const con: Constraint = {
      className: 'NonNeg',
      apply: (v) => {
        calls.push(`con ${(v as Variable).name}`);
        v.data.forEach((x, i) => (v.data[i] = Math.max(0, x)));
      },
      getConfig: () => ({}),
    };
    const bn = new BatchNormalization({ name: 'bn_reg', gammaRegularizer: reg, betaConstraint: con });
    bn.build([null, 2]);
    expect(bn.regularizationLosses()).toHaveLength(1);
    bn.beta!.data.set([-1, 2]);
    bn.applyConstraints();
    expect(Array.from(bn.beta!.data)).toEqual([0, 2]);
    expect(calls).toEqual(['reg bn_reg/gamma', 'con bn_reg/beta']);
    const config = bn.getConfig();
    expect(config.gamma_regularizer).toEqual({ class_name: 'Probe', config: {} });
    expect(config.beta_constraint).toEqual({ class_name: 'NonNeg', config: {} });
    expect(config.beta_regularizer).toBeNull();
  });

  it('getConfig uses Keras keys and round-trips through the constructor', () => {
    const bn = layers.batchNormalization({ axis: 1, momentum: 0.9, epsilon: 1e-5, center: false, name: 'bn_cfg' });
    const config = bn.getConfig();
    expect(config).toMatchObject({
      name: 'bn_cfg', trainable: true, axis: 1, momentum: 0.9, epsilon: 1e-5, center: false, scale: true,
      beta_initializer: { class_name: 'Zeros' }, gamma_initializer: { class_name: 'Ones' },
      moving_mean_initializer: { class_name: 'Zeros' }, moving_variance_initializer: { class_name: 'Ones' },
      gamma_regularizer: null, gamma_constraint: null, synchronized: false,
    });
    const again = layerFromConfig(serializeLayer(bn));
    expect(again).toBeInstanceOf(BatchNormalization);
    expect(again.getConfig()).toEqual(config);
    // Several axes, regularizers and constraints by id survive the trip too.
    const full = new BatchNormalization({ axis: [1, 3], gammaRegularizer: 'l2', betaConstraint: 'nonNeg', gammaInitializer: 'heNormal' });
    const copy = layerFromConfig(serializeLayer(full)) as BatchNormalization;
    expect(copy.getConfig()).toEqual({ ...full.getConfig(), name: full.name });
    expect(copy.getConfig().axis).toEqual([1, 3]);
    expect(copy.gammaRegularizer?.className).toBe('L2');
  });

  it('rejects bad options and inputs, echoing the value', () => {
    const err = (fn: () => unknown, code: string, text: RegExp) => {
      const e = caught(fn);
      expect(e.code).toBe(code);
      expect(e.message).toMatch(text);
    };
    err(() => new BatchNormalization({ momentum: 1.5 }), 'ERR_VALUE', /momentum must be a number in \[0, 1\], received momentum=1\.5/);
    err(() => new BatchNormalization({ momentum: NaN }), 'ERR_VALUE', /received momentum=NaN/);
    err(() => new BatchNormalization({ epsilon: 0 }), 'ERR_VALUE', /epsilon must be a positive finite number, received epsilon=0/);
    err(() => new BatchNormalization({ epsilon: -1e-3 }), 'ERR_VALUE', /received epsilon=-0\.001/);
    err(() => new BatchNormalization({ axis: 1.5 }), 'ERR_VALUE', /axis must be an integer .* received axis=1\.5/);
    err(() => new BatchNormalization({ axis: [] }), 'ERR_VALUE', /received axis=\[\]/);
    err(() => new BatchNormalization({ center: 'yes' as unknown as boolean }), 'ERR_VALUE', /center must be a boolean, received center="yes"/);
    err(() => new BatchNormalization({ axis: 2 }).build([null, 4]), 'ERR_VALUE', /axis 2 is out of range for input of rank 2 \(shape \(None, 4\)\)/);
    err(() => new BatchNormalization({ axis: [1, -1] }).build([null, 4]), 'ERR_VALUE', /same axis twice, received axis=\[1, -1\]/);
    err(() => new BatchNormalization({ axis: 0 }).build([null, 4]), 'ERR_SHAPE', /known size, received axis=0/);
    const bn = new BatchNormalization({ name: 'bn_shape' });
    bn.build([null, 4]);
    err(() => bn.call(Tensor.zeros([2, 5]), { training: true }), 'ERR_SHAPE', /BatchNormalization "bn_shape": expected input of rank 2 with dimension\(s\) \[4\].*received shape \[2, 5\]/);
    err(() => new BatchNormalization().call(Tensor.zeros([2, 5]), { training: false }), 'ERR_STATE', /before it was built/);
  });
});
