/**
 * The dropout family and MC Dropout. Statistical checks use large samples and bounds of several
 * standard errors of the published distributions (Srivastava et al. 2014 for inverted dropout,
 * Klambauer et al. 2017 for alpha dropout, whose a, b are recomputed here in float64); gradients are
 * checked against the mask the forward pass drew. Ends with a Sequential using BatchNormalization and
 * Dropout that learns a small generated problem.
 */
import { describe, expect, it } from 'vitest';
import { native } from '../src/backend/native';
import { Tensor } from '../src/tensor';
import { Sequential } from '../src/models/sequential';
import { mcPredict } from '../src/models/mc_dropout';
import { layers, setSeed } from '../src/index';
import { AlphaDropout, Dropout, GaussianDropout, GaussianNoise } from '../src/layers/dropout';
import { BatchNormalization } from '../src/layers/normalization';
import { layerFromConfig, serializeLayer } from '../src/layers/serialization';
import { Dense } from '../src/layers/dense';
import { SGD } from '../src/optimizers/sgd';
import { backward } from '../src/autograd/engine';
import { mul, sum } from '../src/ops/arithmetic';
import { caught, expectClose, gauss, randArray, rng } from './support/reference';

function moments(a: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  const mean = s / a.length;
  let q = 0;
  for (let i = 0; i < a.length; i++) q += (a[i]! - mean) ** 2;
  return { mean, variance: q / a.length };
}

/** Index of the first difference between two arrays (-1 when equal): cheap for large arrays. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Forward in training mode, then backward of sum(y * w); returns y and dL/dx. */
function forwardBackward(layer: { call(x: Tensor, a: { training: boolean }): Tensor }, x: Tensor, w: Float32Array) {
  x.requiresGrad = true;
  x.grad = null;
  const y = layer.call(x, { training: true });
  backward(sum(mul(y, new Tensor(w, x.shape))));
  return { y: Float32Array.from(y.data), dx: x.grad! };
}

const N = 1 << 18;
/** Over the kernels' threading threshold (2^20), and odd. */
const BIG = (1 << 20) + 3;

describe('native noise kernels', () => {
  it('bernoulliMask keeps a fraction 1 - rate, repeats per key, and does not depend on the thread count', () => {
    const N = BIG;
    const m = new Float32Array(N);
    native.bernoulliMask(m, 12, 34, 0.3, 2, -1);
    const kept = m.filter((v) => v === 2).length;
    expect(kept + m.filter((v) => v === -1).length).toBe(N);
    const sd = Math.sqrt(N * 0.3 * 0.7);
    expect(Math.abs(kept - 0.7 * N)).toBeLessThan(5 * sd);
    // Neighbouring elements are independent: P(both kept) ~ 0.49.
    let both = 0;
    for (let i = 0; i + 1 < N; i += 2) if (m[i] === 2 && m[i + 1] === 2) both++;
    expect(Math.abs(both / (N / 2) - 0.49)).toBeLessThan(0.01);
    const again = new Float32Array(N);
    native.bernoulliMask(again, 12, 34, 0.3, 2, -1);
    expect(firstDiff(again, m)).toBe(-1);
    const threads = native.getNumThreads();
    try {
      native.setNumThreads(1);
      native.bernoulliMask(again, 12, 34, 0.3, 2, -1);
      expect(firstDiff(again, m)).toBe(-1);
    } finally {
      native.setNumThreads(threads);
    }
    native.bernoulliMask(again, 12, 35, 0.3, 2, -1);
    expect(firstDiff(again, m)).not.toBe(-1);
  });

  it('normalFill draws N(mean, stddev^2), independent of the thread count', () => {
    const N = BIG - 1;
    const z = new Float32Array(N + 1); // odd length: the last value has no partner
    native.normalFill(z, 7, 9, 3, 2);
    const { mean, variance } = moments(z);
    expect(Math.abs(mean - 3)).toBeLessThan(5 * 2 / Math.sqrt(N));
    expect(Math.abs(variance - 4)).toBeLessThan(5 * 4 * Math.sqrt(2 / N));
    // P(|z - mean| < stddev) = 0.6827 for a normal.
    const inside = z.filter((v) => Math.abs(v - 3) < 2).length / z.length;
    expect(Math.abs(inside - 0.6827)).toBeLessThan(0.005);
    expect(Number.isFinite(z[N]!)).toBe(true);
    const threads = native.getNumThreads();
    try {
      native.setNumThreads(1);
      const z1 = new Float32Array(N + 1);
      native.normalFill(z1, 7, 9, 3, 2);
      expect(firstDiff(z1, z)).toBe(-1);
    } finally {
      native.setNumThreads(threads);
    }
  });

  it('noiseApply / noiseBackward compute x * mul + add and accumulate dy * mul', () => {
    const r = rng(1);
    const x = randArray(r, 50), mulv = randArray(r, 50), add = randArray(r, 50), dy = randArray(r, 50);
    const y = new Float32Array(50);
    native.noiseApply(x, mulv, add, y);
    expectClose(y, Array.from(x, (v, i) => v * mulv[i]! + add[i]!), 1e-6, 1e-7, 'apply');
    native.noiseApply(x, null, add, y);
    expectClose(y, Array.from(x, (v, i) => v + add[i]!), 1e-6, 1e-7, 'apply add only');
    const dx = new Float32Array(50).fill(1);
    native.noiseBackward(dy, mulv, dx);
    expectClose(dx, Array.from(dy, (v, i) => 1 + v * mulv[i]!), 1e-6, 1e-7, 'backward');
    expect(caught(() => native.noiseBackward(dy, mulv, dy)).code).toBe('ERR_NATIVE_OVERLAP');
    expect(caught(() => native.bernoulliMask(y, 1, 2, 1.5, 1, 0)).code).toBe('ERR_NATIVE_VALUE');
    expect(caught(() => native.normalFill(y, 2 ** 32, 0, 0, 1)).code).toBe('ERR_NATIVE_VALUE');
  });
});

describe('Dropout', () => {
  it('drops a fraction rate, scales the rest by 1/(1 - rate), keeps the mean, and is the identity at inference', () => {
    const rate = 0.4;
    const layer = new Dropout({ rate, seed: 1 });
    const x = new Tensor(Float32Array.from({ length: N }, (_, i) => 1 + (i % 5)), [N / 4, 4]);
    const y = layer.call(x, { training: true });
    let zeros = 0, wrong = -1;
    for (let i = 0; i < N; i++) {
      if (y.data[i] === 0) zeros++;
      else if (y.data[i] !== Math.fround(x.data[i]! * Math.fround(1 / (1 - rate))) && wrong < 0) wrong = i;
    }
    expect(wrong, 'first kept value not scaled by 1/(1 - rate)').toBe(-1);
    expect(Math.abs(zeros / N - rate)).toBeLessThan(5 * Math.sqrt(rate * (1 - rate) / N));
    expect(Math.abs(moments(y.data).mean - moments(x.data).mean)).toBeLessThan(0.02);
    expect(layer.call(x, { training: false })).toBe(x);
    expect(new Dropout({ rate: 0 }).call(x, { training: true })).toBe(x);
  });

  it('repeats with a seed (and with setSeed), and draws a new mask on each call', () => {
    const x = new Tensor(new Float32Array(1000).fill(1), [100, 10]);
    const a = new Dropout({ rate: 0.5, seed: 42 }), b = new Dropout({ rate: 0.5, seed: 42 });
    const a1 = Array.from(a.call(x, { training: true }).data), a2 = Array.from(a.call(x, { training: true }).data);
    expect(Array.from(b.call(x, { training: true }).data)).toEqual(a1);
    expect(Array.from(b.call(x, { training: true }).data)).toEqual(a2);
    expect(a2).not.toEqual(a1);
    setSeed(7);
    const u1 = Array.from(new Dropout({ rate: 0.5 }).call(x, { training: true }).data);
    setSeed(7);
    expect(Array.from(new Dropout({ rate: 0.5 }).call(x, { training: true }).data)).toEqual(u1);
  });

  it('back-propagates through the same mask', () => {
    const r = rng(4);
    const x = new Tensor(randArray(r, 600, 0.5, 2), [60, 10]);
    const w = randArray(r, 600);
    const { y, dx } = forwardBackward(new Dropout({ rate: 0.3, seed: 3 }), x, w);
    // dy/dx is the mask value y / x (0 where dropped, 1/0.7 where kept).
    expectClose(dx, Array.from(y, (v, i) => (v / x.data[i]!) * w[i]!), 1e-5, 1e-6, 'dx');
    expect(dx.filter((v) => v === 0).length).toBe(y.filter((v) => v === 0).length);
  });

  it('shares the mask along axes where noiseShape is 1', () => {
    const x = new Tensor(new Float32Array(8 * 5 * 6).fill(1), [8, 5, 6]);
    const y = new Dropout({ rate: 0.5, noiseShape: [null, 1, null], seed: 9 }).call(x, { training: true }).data;
    let differing = 0;
    for (let b = 0; b < 8; b++)
      for (let t = 1; t < 5; t++)
        for (let f = 0; f < 6; f++) if (y[(b * 5 + t) * 6 + f] !== y[b * 5 * 6 + f]) differing++;
    expect(differing).toBe(0);
    const zeros = y.filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(0);
    expect(zeros).toBeLessThan(y.length);
    const e = caught(() => new Dropout({ rate: 0.5, noiseShape: [null, 3, null], name: 'drop_ns' }).call(x, { training: true }));
    expect(e.code).toBe('ERR_SHAPE');
    expect(e.message).toMatch(/Dropout "drop_ns": noiseShape \[null, 3, null\] does not broadcast to the input shape \[8, 5, 6\]/);
  });

  it('getConfig uses Keras keys', () => {
    expect(layers.dropout({ rate: 0.25, seed: 5, name: 'drop_cfg' }).getConfig()).toEqual({
      name: 'drop_cfg', trainable: true, rate: 0.25, seed: 5, noise_shape: null,
    });
    expect(layers.alphaDropout({ rate: 0.1, noiseShape: [null, 1], name: 'ad_cfg' }).getConfig()).toEqual({
      name: 'ad_cfg', trainable: true, rate: 0.1, seed: null, noise_shape: [null, 1],
    });
    expect(layers.gaussianDropout({ rate: 0.2, name: 'gd_cfg' }).getConfig()).toEqual({
      name: 'gd_cfg', trainable: true, rate: 0.2, seed: null,
    });
    expect(layers.gaussianNoise({ stddev: 0.3, seed: 1, name: 'gn_cfg' }).getConfig()).toEqual({
      name: 'gn_cfg', trainable: true, stddev: 0.3, seed: 1,
    });
    expect(new AlphaDropout({ rate: 0.1 }).name).toMatch(/^alpha_dropout/);
    for (const layer of [
      new Dropout({ rate: 0.3, noiseShape: [null, 1], seed: 4 }), new AlphaDropout({ rate: 0.2 }),
      new GaussianDropout({ rate: 0.1, seed: 2 }), new GaussianNoise({ stddev: 0.4 }),
    ]) {
      const copy = layerFromConfig(serializeLayer(layer));
      expect(copy.className).toBe(layer.className);
      expect(copy.getConfig()).toEqual(layer.getConfig());
    }
  });

  it('rejects bad rates, stddevs, seeds and noise shapes, echoing the value', () => {
    const err = (fn: () => unknown, text: RegExp) => {
      const e = caught(fn);
      expect(e.code).toBe('ERR_VALUE');
      expect(e.message).toMatch(text);
    };
    err(() => new Dropout({ rate: 1, name: 'd1' }), /Dropout "d1": rate must be a number in \[0, 1\), received rate=1/);
    err(() => new Dropout({ rate: -0.1 }), /received rate=-0\.1/);
    err(() => new Dropout({ rate: '0.5' as unknown as number }), /received rate="0\.5"/);
    err(() => new AlphaDropout({ rate: NaN }), /AlphaDropout .*received rate=NaN/);
    err(() => new GaussianDropout({ rate: 1.2 }), /GaussianDropout .*received rate=1\.2/);
    err(() => new GaussianNoise({ stddev: 2 }), /stddev must be a number in \[0, 1\], received stddev=2/);
    err(() => new Dropout({ rate: 0.1, seed: NaN }), /seed must be an integer \(\|seed\| < 2\^53\), received seed=NaN/);
    err(() => new Dropout({ rate: 0.1, noiseShape: [0, 3] }), /noiseShape must be an array of positive integers or null, received noiseShape=\[0, 3\]/);
    err(() => new Dropout(undefined as unknown as { rate: number }), /expected an options object/);
  });
});

describe('AlphaDropout, GaussianDropout, GaussianNoise', () => {
  // Klambauer et al. 2017, section "New dropout technique", from SELU's published constants.
  const alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946;
  const alphaP = -alpha * scale;

  it('AlphaDropout keeps mean 0 and variance 1 of standard normal input, with the paper\'s affine map', () => {
    const rate = 0.2;
    const a = 1 / Math.sqrt((1 - rate) * (1 + rate * alphaP ** 2));
    const b = -a * alphaP * rate;
    const r = rng(8);
    const x = new Tensor(Float32Array.from({ length: N }, () => gauss(r)), [N / 8, 8]);
    const w = randArray(r, N);
    const { y, dx } = forwardBackward(new AlphaDropout({ rate, seed: 2 }), x, w);
    const dropped = Math.fround(a * alphaP + b);
    let nDropped = 0, wrong = -1;
    for (let i = 0; i < N; i++) {
      if (y[i] === dropped && dx[i] === 0) nDropped++;
      else if (!(Math.abs(y[i]! - (a * x.data[i]! + b)) < 1e-5 && Math.abs(dx[i]! - a * w[i]!) < 1e-6) && wrong < 0) wrong = i;
    }
    expect(wrong, 'first kept unit not mapped to a * x + b (or its gradient not a * dy)').toBe(-1);
    expect(Math.abs(nDropped / N - rate)).toBeLessThan(5 * Math.sqrt(rate * (1 - rate) / N));
    const m = moments(y);
    expect(Math.abs(m.mean)).toBeLessThan(0.01);
    expect(Math.abs(m.variance - 1)).toBeLessThan(0.02);
    expect(new AlphaDropout({ rate }).call(x, { training: false })).toBe(x);
  });

  it('GaussianDropout multiplies by N(1, rate / (1 - rate)) and back-propagates through the same noise', () => {
    const rate = 0.3;
    const x = new Tensor(new Float32Array(N).fill(1), [N / 4, 4]);
    const w = randArray(rng(2), N);
    const { y, dx } = forwardBackward(new GaussianDropout({ rate, seed: 6 }), x, w);
    const m = moments(y);
    const v = rate / (1 - rate);
    expect(Math.abs(m.mean - 1)).toBeLessThan(5 * Math.sqrt(v / N));
    expect(Math.abs(m.variance - v)).toBeLessThan(5 * v * Math.sqrt(2 / N));
    expectClose(dx, Array.from(y, (n, i) => n * w[i]!), 1e-6, 1e-7, 'dx = noise * dy');
    expect(new GaussianDropout({ rate }).call(x, { training: false })).toBe(x);
  });

  it('GaussianNoise adds N(0, stddev^2) in training only; its gradient is dy', () => {
    const x = new Tensor(new Float32Array(N).fill(5), [N / 4, 4]);
    const w = randArray(rng(3), N);
    const { y, dx } = forwardBackward(new GaussianNoise({ stddev: 0.5, seed: 1 }), x, w);
    const m = moments(y);
    expect(Math.abs(m.mean - 5)).toBeLessThan(5 * 0.5 / Math.sqrt(N));
    expect(Math.abs(m.variance - 0.25)).toBeLessThan(5 * 0.25 * Math.sqrt(2 / N));
    expect(firstDiff(dx, w)).toBe(-1);
    expect(new GaussianNoise({ stddev: 0.5 }).call(x, { training: false })).toBe(x);
  });
});

describe('mcPredict', () => {
  it('returns mean and std of the right shape; std > 0 with dropout and exactly 0 without', () => {
    setSeed(1);
    const x = randArray(rng(5), 7 * 6);
    const withDropout = new Sequential([
      new Dense({ units: 16, activation: 'relu', inputShape: [6] }),
      new Dropout({ rate: 0.5 }),
      new Dense({ units: 3 }),
    ]);
    const p = mcPredict(withDropout, new Tensor(x, [7, 6]), { samples: 20, batchSize: 3 });
    expect(p.mean.shape).toEqual([7, 3]);
    expect(p.std.shape).toEqual([7, 3]);
    expect(Math.min(...p.std.data)).toBeGreaterThan(0);
    const plain = new Sequential([new Dense({ units: 16, activation: 'relu', inputShape: [6] }), new Dense({ units: 3 })]);
    const q = mcPredict(plain, new Tensor(x, [7, 6]), { samples: 5 });
    expect(Array.from(q.std.data)).toEqual(new Array(21).fill(0));
    expect(Array.from(q.mean.data)).toEqual(Array.from(plain.predict(new Tensor(x, [7, 6])).data));
  });

  it('averages to the deterministic prediction for a linear model (inverted dropout keeps the expectation)', () => {
    setSeed(2);
    const model = new Sequential([new Dropout({ rate: 0.3, inputShape: [5] }), new Dense({ units: 2 })]);
    const x = new Tensor(randArray(rng(6), 4 * 5), [4, 5]);
    const p = mcPredict(model, x, { samples: 4000 });
    expectClose(p.mean.data, model.predict(x).data, 0, 0.05, 'MC mean');
  });

  it('keeps BatchNormalization in inference mode and its moving statistics untouched', () => {
    setSeed(3);
    const bn = new BatchNormalization({ inputShape: [4] });
    const model = new Sequential([bn, new Dropout({ rate: 0.2 }), new Dense({ units: 1 })]);
    const before = model.getWeights().map((t) => Array.from(t.data));
    const x = new Tensor(randArray(rng(7), 12, 10, 20), [3, 4]);
    mcPredict(model, x, { samples: 10 });
    expect(model.getWeights().map((t) => Array.from(t.data))).toEqual(before);
    const e = caught(() => mcPredict(model, x, { samples: 0 }));
    expect(e.message).toMatch(/mcPredict: samples must be an integer >= 1, received samples=0/);
  });
});

describe('Sequential with BatchNormalization and Dropout', () => {
  it('learns a badly scaled problem (BN first, after Dense without bias, before an activation)', async () => {
    setSeed(11);
    const r = rng(12);
    const n = 512;
    const x = new Float32Array(n * 4), y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      // Features on wildly different scales and offsets: BN stands in for a scaler.
      const f = [gauss(r), gauss(r), gauss(r), gauss(r)];
      x.set([1000 + 300 * f[0]!, 0.01 * f[1]!, -50 + 20 * f[2]!, f[3]!], i * 4);
      y[i] = f[0]! * f[1]! + 0.5 * f[2]! > 0 ? 1 : 0;
    }
    const model = new Sequential([
      layers.batchNormalization({ inputShape: [4] }),
      layers.dense({ units: 32, useBias: false }),
      layers.batchNormalization(),
      layers.activation({ activation: 'relu' }),
      layers.dropout({ rate: 0.1 }),
      layers.dense({ units: 32, activation: 'relu' }),
      layers.batchNormalization({ momentum: 0.9 }),
      layers.dense({ units: 1, activation: 'sigmoid' }),
    ]);
    model.compile({ optimizer: new SGD({ learningRate: 0.1, momentum: 0.9 }), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const before = model.evaluate(new Tensor(x, [n, 4]), new Tensor(y, [n, 1]));
    const history = await model.fit(new Tensor(x, [n, 4]), new Tensor(y, [n, 1]), { epochs: 30, batchSize: 32, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.6);
    const after = model.evaluate(new Tensor(x, [n, 4]), new Tensor(y, [n, 1]));
    expect(after.loss).toBeLessThan(before.loss!);
    expect(after.accuracy).toBeGreaterThan(0.85);
    // The first layer's moving statistics found the raw feature scales.
    const bn0 = model.layers[0] as BatchNormalization;
    expect(Math.abs(bn0.movingMean!.data[0]! - 1000)).toBeLessThan(60);
    expect(Math.abs(Math.sqrt(bn0.movingVariance!.data[0]!) - 300)).toBeLessThan(60);
    // Moving stats are not trainable: they are not in the optimizer's weights.
    expect(model.trainableWeights.some((w) => w.name.includes('moving'))).toBe(false);
  });
});
