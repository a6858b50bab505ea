/**
 * The one-call training step (src/models/train_plan.ts, native/train_plan.cc). Three kinds of
 * checks:
 *  - a step against a float64 reference written here from the formulas (Dense + LeakyReLU +
 *    softmax cross-entropy + SGD; BatchNormalization's batch statistics, gradients and moving
 *    averages);
 *  - differential: the same model trained from the same seed with the plan and with the per-op
 *    autograd path (itself checked by finite differences and PyTorch fixtures in test/20-36) ends
 *    with bit-identical weights, for fused SGD, Adam, BN, frozen layers, constraints and metrics
 *    (equal to 1e-5 when a BN layer comes first: the plan's one-GEMM shortcut sums differently);
 *  - the native API refuses malformed specs, stale or detached buffers, aliasing and bad labels
 *    with coded errors, and a randomized run of such calls never crashes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Sequential } from '../src/models/sequential';
import * as layers from '../src/layers';
import { Adagrad, Adam, Adamax, AdamW, Nadam, RMSprop, SGD, schedules } from '../src/optimizers';
import type { Optimizer } from '../src/optimizers';
import { constraints, initializers, regularizers } from '../src';
import { Tensor } from '../src/tensor';
import { globalRandom, setSeed } from '../src/random';
import { native } from '../src/backend/native';
import { BinaryCrossentropy, CategoricalCrossentropy } from '../src/losses';
import type { Loss } from '../src/losses';
import { setTrainPlanEnabled } from '../src/models/train_plan';
import { Callback, LambdaCallback } from '../src/callbacks/callback';
import { caught, expectClose, randArray, rng } from './support/reference';

afterEach(() => {
  setTrainPlanEnabled(true);
  vi.restoreAllMocks();
});

/** Counts the batches the plan trained: one per trainPlanStep call, plus what each trainPlanRun reports. */
function countPlanSteps(): { steps: () => number; perStep: () => number; chunked: () => number } {
  const one = vi.spyOn(native, 'trainPlanStep');
  const run = vi.spyOn(native, 'trainPlanRun');
  const chunked = () => run.mock.results.reduce((a, r) => a + (r.type === 'return' ? (r.value as number) : 0), 0);
  const perStep = () => one.mock.results.filter((r) => r.type === 'return' && Number.isFinite(r.value as number)).length;
  return { steps: () => perStep() + chunked(), perStep, chunked };
}

function data(n: number, features: number, classes: number, seed: number, oneHot = false): [Tensor, Tensor] {
  const r = rng(seed);
  const x = new Tensor(randArray(r, n * features, -1, 1), [n, features]);
  const labels = Array.from({ length: n }, () => Math.floor(r() * classes));
  if (!oneHot) return [x, new Tensor(Float32Array.from(labels), [n])];
  const y = new Float32Array(n * classes);
  labels.forEach((c, i) => (y[i * classes + c] = 1));
  return [x, new Tensor(y, [n, classes])];
}

interface Run {
  weights: Float32Array[];
  /** The optimizer's state after training (getWeights: 'iter' and every slot). */
  optimizer: { name: string; values: number[] }[];
  losses: number[];
  metrics: number[];
  planSteps: number;
  chunkedSteps: number;
}

async function train(
  build: () => Sequential, opt: () => Optimizer, plan: boolean, x: Tensor, y: Tensor,
  { loss = 'sparseCategoricalCrossentropy' as string | Loss, metrics = [] as string[], epochs = 3, batchSize = 8, callbacks = [] as Callback[] } = {},
): Promise<Run> {
  setTrainPlanEnabled(plan);
  setSeed(77);
  const model = build();
  model.compile({ loss: loss as never, optimizer: opt(), metrics: metrics as never });
  const counter = countPlanSteps();
  try {
    const h = await model.fit(x, y, { epochs, batchSize, verbose: 0, callbacks });
    return {
      weights: model.getWeights().map((w) => Float32Array.from(w.data)),
      optimizer: model.optimizer!.getWeights().map((w) => ({ name: w.name, values: Array.from(w.tensor.data) })),
      losses: h.history.loss as number[],
      metrics: metrics.length > 0 ? (h.history[Object.keys(h.history).find((k) => k.includes('acc'))!] as number[]) : [],
      planSteps: counter.steps(),
      chunkedSteps: counter.chunked(),
    };
  } finally {
    vi.restoreAllMocks();
  }
}

async function expectSameAsAutograd(
  build: () => Sequential, opt: () => Optimizer,
  options: Parameters<typeof train>[5] & { oneHot?: boolean; classes?: number; features?: number; inputShape?: number[]; chunked?: boolean; exact?: boolean; targets?: (x: Tensor) => Tensor } = {},
): Promise<Run> {
  const { oneHot = false, classes = 3, features = 6, inputShape, chunked = true, exact = true, targets, ...rest } = options;
  const [x2, labels] = data(44, features, classes, 5, oneHot);
  const y = targets ? targets(x2) : labels;
  const x = inputShape ? new Tensor(x2.data, [44, ...inputShape]) : x2;
  // Without batch callbacks several batches run per native call (plain SGD fused into the backward
  // pass, or the optimizer's own kernel after each batch's gradients); a callback watching each
  // batch keeps one call per batch. Both must match autograd bit for bit, optimizer state included.
  const planned = await train(build, opt, true, x, y, rest);
  const perBatch = await train(build, opt, true, x, y, { ...rest, callbacks: [new LambdaCallback({ onBatchEnd: () => {} })] });
  const autograd = await train(build, opt, false, x, y, rest);
  const steps = (rest.epochs ?? 3) * Math.ceil(44 / (rest.batchSize ?? 8));
  expect(planned.planSteps).toBe(steps);
  expect(planned.chunkedSteps).toBe(chunked ? steps : 0);
  expect(perBatch.planSteps).toBe(steps);
  expect(perBatch.chunkedSteps).toBe(0);
  expect(autograd.planSteps).toBe(0);
  for (const run of [planned, perBatch]) {
    expect(run.weights.length).toBe(autograd.weights.length);
    if (exact) {
      run.weights.forEach((w, i) => expect(Array.from(w), `weight ${i}`).toEqual(Array.from(autograd.weights[i]!)));
      expect(run.losses).toEqual(autograd.losses);
    } else {
      // The BN-first shortcut sums in another order: equal up to float rounding.
      run.weights.forEach((w, i) => expectClose(w, autograd.weights[i]!, 1e-5, 1e-6, `weight ${i}`));
      expectClose(run.losses, autograd.losses, 1e-6, 1e-7, 'losses');
    }
    expect(run.metrics).toEqual(autograd.metrics);
    // (The slot names carry each model's own layer names.)
    expect(run.optimizer.map((o) => o.values.length)).toEqual(autograd.optimizer.map((o) => o.values.length));
    if (exact) expect(run.optimizer.map((o) => o.values)).toEqual(autograd.optimizer.map((o) => o.values));
    else run.optimizer.forEach((o, i) => expectClose(o.values, autograd.optimizer[i]!.values, 1e-5, 1e-6, `optimizer ${o.name}`));
  }
  // Training moved the weights (the comparison is not between two untouched initialisations).
  setSeed(77);
  const init = build().getWeights();
  expect(planned.weights.some((w, i) => w.some((v, j) => Math.abs(v - init[i]!.data[j]!) > 1e-4))).toBe(true);
  return planned;
}

describe('one-call training step: against a float64 reference', () => {
  it('Dense LeakyReLU -> Dense softmax, sparse cross-entropy, one SGD step', async () => {
    const n = 5, f = 4, h = 6, c = 3, lr = 0.3, slope = 0.2;
    const r = rng(11);
    const W1 = randArray(r, f * h), b1 = randArray(r, h, -0.2, 0.2), W2 = randArray(r, h * c), b2 = randArray(r, c, -0.2, 0.2);
    const [x, y] = data(n, f, c, 12);
    const model = new Sequential([
      layers.dense({ units: h, activation: 'leaky_relu', inputShape: [f] }),
      layers.dense({ units: c, activation: 'softmax' }),
    ]);
    model.setWeights([W1, b1, W2, b2].map((a, i) => new Tensor(a.slice(), i % 2 ? [a.length] : [i === 0 ? f : h, i === 0 ? h : c])));
    model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new SGD({ learningRate: lr }) });
    const counter = countPlanSteps();
    const hist = await model.fit(x, y, { epochs: 1, batchSize: n, shuffle: false, verbose: 0 });
    expect(counter.steps()).toBe(1);

    // float64 reference
    const X = Array.from(x.data), Y = Array.from(y.data);
    const z1 = new Float64Array(n * h), a1 = new Float64Array(n * h), z2 = new Float64Array(n * c), p = new Float64Array(n * c);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < h; j++) {
        let s = b1[j]!;
        for (let k = 0; k < f; k++) s += X[i * f + k]! * W1[k * h + j]!;
        z1[i * h + j] = s;
        a1[i * h + j] = s > 0 ? s : slope * s;
      }
      let mx = -Infinity;
      for (let j = 0; j < c; j++) {
        let s = b2[j]!;
        for (let k = 0; k < h; k++) s += a1[i * h + k]! * W2[k * c + j]!;
        z2[i * c + j] = s;
        mx = Math.max(mx, s);
      }
      let se = 0;
      for (let j = 0; j < c; j++) se += Math.exp(z2[i * c + j]! - mx);
      for (let j = 0; j < c; j++) p[i * c + j] = Math.exp(z2[i * c + j]! - mx) / se;
    }
    let loss = 0;
    for (let i = 0; i < n; i++) loss -= Math.log(p[i * c + Y[i]!]!) / n;
    const dz2 = p.map((v, idx) => (v - (Y[Math.floor(idx / c)] === idx % c ? 1 : 0)) / n);
    const da1 = new Float64Array(n * h);
    for (let i = 0; i < n; i++) for (let k = 0; k < h; k++) for (let j = 0; j < c; j++) da1[i * h + k] += dz2[i * c + j]! * W2[k * c + j]!;
    const dz1 = da1.map((v, idx) => (z1[idx]! > 0 ? v : slope * v));
    const nW1 = Array.from(W1), nb1 = Array.from(b1), nW2 = Array.from(W2), nb2 = Array.from(b2);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < f; k++) for (let j = 0; j < h; j++) nW1[k * h + j] -= lr * X[i * f + k]! * dz1[i * h + j]!;
      for (let j = 0; j < h; j++) nb1[j] -= lr * dz1[i * h + j]!;
      for (let k = 0; k < h; k++) for (let j = 0; j < c; j++) nW2[k * c + j] -= lr * a1[i * h + k]! * dz2[i * c + j]!;
      for (let j = 0; j < c; j++) nb2[j] -= lr * dz2[i * c + j]!;
    }
    expect(hist.history.loss![0]).toBeCloseTo(loss, 5);
    const got = model.getWeights().map((w) => w.data);
    [nW1, nb1, nW2, nb2].forEach((want, i) => expectClose(got[i]!, want, 1e-5, 1e-6, `weight ${i}`));
  });

  // BN first: the plan gets dgamma, dbeta and the Dense kernel's gradient from one GEMM (xhat^T dz),
  // without the Dense layer's dx; with and without beta (center) since the shortcut uses it.
  it.each([true, false])('BatchNormalization (batch statistics, gamma/beta gradients, moving averages) -> Dense softmax, one SGD step (center %s)', async (center) => {
    const n = 6, f = 3, c = 2, lr = 0.5, momentum = 0.9, eps = 1e-3;
    const r = rng(21);
    const gamma = randArray(r, f, 0.5, 1.5), beta = randArray(r, f, -0.3, 0.3), mm0 = randArray(r, f), mv0 = randArray(r, f, 0.5, 2);
    const W = randArray(r, f * c), b = randArray(r, c, -0.1, 0.1);
    const [x, y] = data(n, f, c, 22);
    if (!center) beta.fill(0);
    const model = new Sequential([layers.batchNormalization({ inputShape: [f], momentum, epsilon: eps, center }), layers.dense({ units: c, activation: 'softmax' })]);
    const init = center ? [gamma, beta, mm0, mv0, W, b] : [gamma, mm0, mv0, W, b];
    model.setWeights(init.map((a) => new Tensor(a.slice(), a === W ? [f, c] : [a.length])));
    model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new SGD({ learningRate: lr }) });
    const counter = countPlanSteps();
    await model.fit(x, y, { epochs: 1, batchSize: n, shuffle: false, verbose: 0 });
    expect(counter.steps()).toBe(1);

    const X = Array.from(x.data), Y = Array.from(y.data);
    const mean = new Float64Array(f), vr = new Float64Array(f);
    for (let k = 0; k < f; k++) {
      for (let i = 0; i < n; i++) mean[k] += X[i * f + k]! / n;
      for (let i = 0; i < n; i++) vr[k] += (X[i * f + k]! - mean[k]!) ** 2 / n; // biased, as Keras
    }
    const xhat = X.map((v, idx) => (v - mean[idx % f]!) / Math.sqrt(vr[idx % f]! + eps));
    const a = xhat.map((v, idx) => gamma[idx % f]! * v + beta[idx % f]!);
    const dz = new Float64Array(n * c);
    for (let i = 0; i < n; i++) {
      const z = Array.from({ length: c }, (_, j) => b[j]! + Array.from({ length: f }, (_, k) => a[i * f + k]! * W[k * c + j]!).reduce((s, t) => s + t, 0));
      const mx = Math.max(...z);
      const e = z.map((v) => Math.exp(v - mx));
      const se = e.reduce((s, t) => s + t, 0);
      for (let j = 0; j < c; j++) dz[i * c + j] = (e[j]! / se - (Y[i] === j ? 1 : 0)) / n;
    }
    const da = new Float64Array(n * f);
    for (let i = 0; i < n; i++) for (let k = 0; k < f; k++) for (let j = 0; j < c; j++) da[i * f + k] += dz[i * c + j]! * W[k * c + j]!;
    const dgamma = new Float64Array(f), dbeta = new Float64Array(f);
    for (let i = 0; i < n; i++) for (let k = 0; k < f; k++) { dgamma[k] += da[i * f + k]! * xhat[i * f + k]!; dbeta[k] += da[i * f + k]!; }
    const dW = new Float64Array(f * c), dbias = new Float64Array(c);
    for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) { dbias[j] += dz[i * c + j]!; for (let k = 0; k < f; k++) dW[k * c + j] += a[i * f + k]! * dz[i * c + j]!; }
    const got = model.getWeights().map((w) => w.data);
    const at = center ? 0 : -1;
    expectClose(got[0]!, Array.from(gamma, (g, k) => g - lr * dgamma[k]!), 1e-5, 1e-6, 'gamma');
    if (center) expectClose(got[1]!, Array.from(beta, (v, k) => v - lr * dbeta[k]!), 1e-5, 1e-6, 'beta');
    expectClose(got[2 + at]!, Array.from(mm0, (v, k) => v * momentum + mean[k]! * (1 - momentum)), 1e-6, 1e-7, 'moving mean');
    expectClose(got[3 + at]!, Array.from(mv0, (v, k) => v * momentum + vr[k]! * (1 - momentum)), 1e-6, 1e-7, 'moving variance');
    expectClose(got[4 + at]!, Array.from(W, (v, k) => v - lr * dW[k]!), 1e-5, 1e-6, 'dense kernel');
    expectClose(got[5 + at]!, Array.from(b, (v, k) => v - lr * dbias[k]!), 1e-5, 1e-6, 'dense bias');
  });
});

describe('one-call training step: same training as the autograd path', () => {
  it('W1-like stack with fused plain SGD (leaky_relu, selu without bias, softmax), Flatten first', async () => {
    await expectSameAsAutograd(
      () => new Sequential([
        layers.flatten({ inputShape: [2, 3] }),
        layers.dense({ units: 7, activation: 'leaky_relu', kernelInitializer: 'heNormal' }),
        layers.dense({ units: 5, activation: 'selu', useBias: false }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]),
      () => new SGD({ learningRate: 0.1 }),
      { inputShape: [2, 3] },
    );
  });

  it('BatchNormalization stack (W2 shape) with a learning-rate schedule and accuracy', async () => {
    await expectSameAsAutograd(
      () => new Sequential([
        layers.batchNormalization({ inputShape: [6] }),
        layers.dense({ units: 9, activation: 'relu' }),
        layers.batchNormalization({ momentum: 0.9 }),
        layers.dense({ units: 5, activation: 'elu' }),
        layers.batchNormalization({ center: false }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]),
      () => new SGD({ learningRate: schedules.exponentialDecay({ initialLearningRate: 0.2, decaySteps: 3, decayRate: 0.5 }) }),
      { metrics: ['accuracy'], exact: false },
    );
  });

  it('Adam with clipnorm (each weight clipped before the update, in the multi-batch call), categorical cross-entropy from logits, batch 16 with a short last batch', async () => {
    await expectSameAsAutograd(
      () => new Sequential([
        layers.dense({ units: 8, activation: 'tanh', inputShape: [6] }),
        layers.batchNormalization({ scale: false }),
        layers.dense({ units: 4, activation: 'swish' }),
        layers.dense({ units: 4 }),
      ]),
      () => new Adam({ learningRate: 0.01, clipnorm: 0.5 }),
      { loss: new CategoricalCrossentropy(true), oneHot: true, classes: 4, metrics: ['accuracy'], batchSize: 16 },
    );
  });

  it('SGD with momentum, a frozen Dense, a frozen BatchNormalization (inference mode) and a max-norm constraint', async () => {
    await expectSameAsAutograd(
      () => {
        const m = new Sequential([
          layers.dense({ units: 8, activation: 'relu', inputShape: [6], kernelConstraint: constraints.maxNorm({ maxValue: 0.5 }) }),
          layers.batchNormalization(),
          layers.dense({ units: 7, activation: 'gelu' }),
          layers.dense({ units: 3, activation: 'softmax' }),
        ]);
        m.layers[1]!.trainable = false;
        m.layers[2]!.trainable = false;
        return m;
      },
      () => new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
    );
  });

  // Norm constraints over a weight's leading axes run natively after each step's update, in the
  // layers' order; the others (NonNeg, a norm over trailing axes) keep one call per batch.
  it('max-norm with fused plain SGD (the chapter\'s max-norm regularization), unit-norm and min-max-norm with Adam, a frozen constrained layer; NonNeg and axis 1 fall back', async () => {
    const build = (kernel: () => Record<string, unknown>, bias?: () => Record<string, unknown>) => () => new Sequential([
      layers.dense({ units: 9, activation: 'relu', inputShape: [6], kernelConstraint: constraints.maxNorm({ maxValue: 0.4 }) as never }),
      layers.dense({ units: 7, activation: 'elu', ...kernel(), ...(bias ? bias() : {}) }),
      layers.dense({ units: 3, activation: 'softmax', kernelConstraint: constraints.maxNorm({ maxValue: 1 }) as never }),
    ]);
    const plain = build(() => ({ kernelConstraint: constraints.maxNorm({ maxValue: 0.3 }) }));
    await expectSameAsAutograd(plain, () => new SGD({ learningRate: 0.2 }));
    const mixed = build(() => ({ kernelConstraint: constraints.unitNorm() }), () => ({ biasConstraint: constraints.minMaxNorm({ minValue: 0.5, maxValue: 0.8, rate: 0.5 }) }));
    await expectSameAsAutograd(mixed, () => new Adam({ learningRate: 0.02 }));
    const frozen = () => {
      const m = plain();
      m.layers[0]!.trainable = false;
      return m;
    };
    await expectSameAsAutograd(frozen, () => new Adam({ learningRate: 0.02 }));
    await expectSameAsAutograd(build(() => ({ kernelConstraint: constraints.nonNeg() })), () => new SGD({ learningRate: 0.2 }), { chunked: false });
    await expectSameAsAutograd(build(() => ({ kernelConstraint: constraints.maxNorm({ maxValue: 0.5, axis: 1 }) })), () => new Adam({ learningRate: 0.02 }), { chunked: false });
  });

  // Every optimizer with a native kernel runs in the multi-batch call, its scalars worked out in JS
  // for each step ahead (schedules, bias corrections, Nadam's momentum cache, weight decay) exactly
  // as its own apply() would, its gradient clipping through the same kernels, its weight decay per
  // weight under excludeFromWeightDecay.
  it('each optimizer kernel in the multi-batch call: momentum and Nesterov SGD under 1cycle, Adagrad, RMSprop (plain, centered with momentum), Adam (amsgrad, piecewise rate), AdamW, Adamax, Nadam', async () => {
    const build = () => new Sequential([
      layers.dense({ units: 9, activation: 'relu', inputShape: [6] }),
      layers.batchNormalization(),
      layers.dense({ units: 5, activation: 'elu' }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    const total = 3 * Math.ceil(44 / 8);
    const optimizers: [string, () => Optimizer][] = [
      ['SGD momentum, 1cycle (momentum cycles)', () => new SGD({ learningRate: schedules.oneCycle({ maxLearningRate: 0.2, totalSteps: total }), momentum: 0.9 })],
      ['SGD Nesterov with weight decay', () => new SGD({ learningRate: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01 })],
      ['Adagrad', () => new Adagrad({ learningRate: 0.1 })],
      ['RMSprop', () => new RMSprop({ learningRate: 0.01 })],
      ['RMSprop centered with momentum', () => new RMSprop({ learningRate: 0.01, momentum: 0.5, centered: true, rho: 0.8 })],
      ['Adam amsgrad, piecewise rate', () => new Adam({ learningRate: schedules.piecewiseConstantDecay({ boundaries: [5, 11], values: [0.05, 0.02, 0.005] }), amsgrad: true })],
      ['AdamW', () => new AdamW({ learningRate: 0.02, weightDecay: 0.05 })],
      ['Adamax', () => new Adamax({ learningRate: 0.02 })],
      ['Nadam', () => new Nadam({ learningRate: 0.02 })],
    ];
    for (const [what, opt] of optimizers) {
      const run = await expectSameAsAutograd(build, opt, { metrics: ['accuracy'] });
      expect(run.optimizer[0], what).toEqual({ name: 'iter', values: [total] });
    }
  });

  it('the multi-batch call reproduces a per-batch run exactly (no BN shortcut): Nadam over two fits, RMSprop, clipvalue, clipnorm and globalClipnorm (clipping and not), AdamW and SGD excluding weights from decay', async () => {
    const build = () => new Sequential([
      layers.dense({ units: 7, activation: 'tanh', inputShape: [6] }),
      layers.dense({ units: 5, activation: 'relu' }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    await expectSameAsAutograd(build, () => new Nadam({ learningRate: 0.05 }), { epochs: 4 });
    await expectSameAsAutograd(build, () => new RMSprop({ learningRate: 0.01, momentum: 0.3 }));
    // Thresholds below and above the gradients' sizes here (each clips some steps, or none).
    for (const opt of [
      () => new Adam({ learningRate: 0.01, clipvalue: 0.01 }),
      () => new SGD({ learningRate: 0.1, clipvalue: 10 }),
      () => new RMSprop({ learningRate: 0.01, globalClipnorm: 0.1 }),
      () => new Nadam({ learningRate: 0.01, globalClipnorm: 100 }),
      () => new SGD({ learningRate: 0.2, momentum: 0.5, clipnorm: 0.05 }),
      () => new Adagrad({ learningRate: 0.1, clipnorm: 100 }),
    ])
      await expectSameAsAutograd(build, opt);
    const excluding = () => {
      const o = new AdamW({ learningRate: 0.01, weightDecay: 0.1 });
      o.excludeFromWeightDecay({ varNames: ['bias'] });
      return o;
    };
    await expectSameAsAutograd(build, excluding);
    await expectSameAsAutograd(build, () => {
      const o = new SGD({ learningRate: schedules.exponentialDecay({ initialLearningRate: 0.2, decaySteps: 4, decayRate: 0.5 }), momentum: 0.5, weightDecay: 0.05 });
      o.excludeFromWeightDecay({ varNames: ['kernel'] });
      return o;
    });
    // Nadam's momentum-cache product continues across fits as in the per-batch path.
    const [x, y] = data(44, 6, 3, 9);
    const twice = async (plan: boolean) => {
      setTrainPlanEnabled(plan);
      setSeed(3);
      const m = build();
      m.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new Nadam({ learningRate: 0.05 }) });
      await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
      await m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
      return m.getWeights().map((w) => Array.from(w.data));
    };
    expect(await twice(true)).toEqual(await twice(false));
  });

  // Weight penalties: the plan adds each to the loss and its gradient under the data term's, in
  // the autograd path's order and through the same kernels, so losses and weights match bit for bit.
  it('L2 kernel penalties with fused plain SGD (the penalised kernels take the step after their gradient, the biases fused)', async () => {
    const run = await expectSameAsAutograd(
      () => new Sequential([
        layers.flatten({ inputShape: [2, 3] }),
        layers.dense({ units: 7, activation: 'leaky_relu', kernelRegularizer: regularizers.l2(0.05) }),
        layers.dense({ units: 5, activation: 'relu', kernelRegularizer: regularizers.l2(0.02) }),
        layers.dense({ units: 3, activation: 'softmax', kernelRegularizer: 'l2' }),
      ]),
      () => new SGD({ learningRate: 0.1 }),
      { inputShape: [2, 3] },
    );
    // The penalty is in the logged loss: it is above the same model's data loss alone.
    setSeed(77);
    const bare = new Sequential([
      layers.flatten({ inputShape: [2, 3] }),
      layers.dense({ units: 7, activation: 'leaky_relu' }), layers.dense({ units: 5, activation: 'relu' }), layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    bare.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1 }) });
    const [x, y] = data(44, 6, 3, 5);
    const firstEpoch = (await bare.fit(new Tensor(x.data, [44, 2, 3]), y, { epochs: 1, batchSize: 8, verbose: 0 })).history.loss[0]!;
    expect(run.losses[0]).toBeGreaterThan(firstEpoch + 0.01);
  });

  it('L1, L1L2 (one factor zero, then both) and bias penalties with Adam; a linear hidden layer; a frozen penalised layer adds nothing', async () => {
    await expectSameAsAutograd(
      () => {
        const m = new Sequential([
          layers.dense({ units: 8, activation: 'elu', inputShape: [6], kernelRegularizer: regularizers.l1(0.01), biasRegularizer: regularizers.l1l2({ l1: 0.02, l2: 0.03 }) }),
          layers.dense({ units: 6, kernelRegularizer: regularizers.l1l2({ l1: 0, l2: 0.01 }), biasRegularizer: regularizers.l2(0.1) }),
          layers.dense({ units: 5, activation: 'tanh', kernelRegularizer: regularizers.l1l2({ l1: 0.005, l2: 0 }), biasRegularizer: regularizers.l1l2() }),
          layers.dense({ units: 4, activation: 'relu', kernelRegularizer: regularizers.l2(0.5) }),
          layers.dense({ units: 3, activation: 'softmax', biasRegularizer: regularizers.l1(0.2) }),
        ]);
        m.layers[3]!.trainable = false;
        return m;
      },
      () => new Adam({ learningRate: 0.02 }),
      {},
    );
  });

  it('BatchNormalization gamma and beta penalties, and a penalised kernel above a BN-first layer (the shortcut: equal to rounding)', async () => {
    await expectSameAsAutograd(
      () => new Sequential([
        layers.dense({ units: 9, activation: 'relu', inputShape: [6] }),
        layers.batchNormalization({ gammaRegularizer: regularizers.l2(0.1), betaRegularizer: regularizers.l1(0.05) }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]),
      () => new SGD({ learningRate: 0.1, momentum: 0.5 }),
      {},
    );
    await expectSameAsAutograd(
      () => new Sequential([
        layers.batchNormalization({ inputShape: [6], gammaRegularizer: regularizers.l1l2({ l1: 0.01, l2: 0.02 }) }),
        layers.dense({ units: 9, activation: 'relu', kernelRegularizer: regularizers.l2(0.05), biasRegularizer: regularizers.l2(0.05) }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]),
      () => new SGD({ learningRate: 0.1 }),
      { exact: false },
    );
  });

  // Activation layers run the element-wise kernels their calls run, so the chapter's
  // "BatchNormalization before the activation" and separate LeakyReLU / ELU layers stay on the plan.
  it('BN before the activation (Dense without bias -> BN -> Activation), LeakyReLU / ELU / ReLU layers, a hidden sigmoid, a linear Activation', async () => {
    await expectSameAsAutograd(
      () => new Sequential([
        layers.flatten({ inputShape: [2, 3] }),
        layers.batchNormalization(),
        layers.dense({ units: 12, kernelInitializer: 'heNormal', useBias: false }),
        layers.batchNormalization(),
        layers.activation({ activation: 'elu' }),
        layers.dense({ units: 10, kernelInitializer: 'heNormal' }),
        layers.leakyRelu({ negativeSlope: 0.2 }),
        layers.dense({ units: 9, activation: 'sigmoid' }),
        layers.elu({ alpha: 0.5 }),
        layers.dense({ units: 8 }),
        layers.relu(),
        layers.dense({ units: 8 }),
        layers.relu({ maxValue: 6 }),
        layers.activation({ activation: 'linear' }),
        layers.dense({ units: 7 }),
        layers.relu({ negativeSlope: 0.1 }),
        layers.activation({ activation: 'gelu' }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]),
      () => new SGD({ learningRate: 0.1, momentum: 0.9 }),
      { inputShape: [2, 3], exact: false },
    );
    // Without a BN layer first (no shortcut), bit for bit, with fused plain SGD.
    await expectSameAsAutograd(
      () => new Sequential([
        layers.dense({ units: 12, inputShape: [6], useBias: false }),
        layers.batchNormalization(),
        layers.activation({ activation: 'swish' }),
        layers.dense({ units: 10, activation: 'sigmoid', kernelRegularizer: regularizers.l2(0.01) }),
        layers.leakyRelu(),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]),
      () => new SGD({ learningRate: 0.1 }),
    );
  });

  it('PReLU layers: learned slopes (initialised away from zero), one with an l2 penalty, one frozen; with fused plain SGD and with Adam', async () => {
    const build = () => {
      const m = new Sequential([
        layers.dense({ units: 10, inputShape: [6] }),
        layers.prelu({ alphaInitializer: initializers.constant({ value: 0.25 }) }),
        layers.dense({ units: 8 }),
        layers.prelu({ alphaInitializer: initializers.constant({ value: 0.1 }), alphaRegularizer: regularizers.l2(0.05) }),
        layers.dense({ units: 8 }),
        layers.prelu({ alphaInitializer: initializers.constant({ value: 0.3 }) }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]);
      m.layers[5]!.trainable = false;
      return m;
    };
    const run = await expectSameAsAutograd(build, () => new SGD({ learningRate: 0.2 }));
    // The slopes trained (and the frozen ones did not).
    expect(run.weights[2]!.some((v) => Math.abs(v - 0.25) > 1e-4)).toBe(true);
    expect(Array.from(run.weights[8]!)).toEqual(new Array(8).fill(Math.fround(0.3)));
    await expectSameAsAutograd(build, () => new Adam({ learningRate: 0.02 }));
  });

  // The binary cross-entropy on a sigmoid output (or on logits) and the mean squared error on a
  // linear output: the plan's loss is the JS loss's kernel (sigmoid_bce, squared_error).
  const perRow = (x: Tensor, width: number, f: (row: Float32Array, j: number) => number) => {
    const n = x.shape[0]!, d = x.shape[1]!;
    return new Tensor(Float32Array.from({ length: n * width }, (_, i) => f(x.data.subarray(Math.floor(i / width) * d, Math.floor(i / width) * d + d), i % width)), [n, width]);
  };
  it('binary cross-entropy: a sigmoid output with accuracy and fused SGD, two sigmoid outputs with Dropout and Adam, and logits', async () => {
    const binary = (x: Tensor) => perRow(x, 1, (r) => (r[0]! + r[1]! * r[2]! > 0 ? 1 : 0));
    const run = await expectSameAsAutograd(
      () => new Sequential([
        layers.dense({ units: 8, activation: 'relu', inputShape: [6], kernelRegularizer: regularizers.l2(0.01) }),
        layers.dense({ units: 1, activation: 'sigmoid' }),
      ]),
      () => new SGD({ learningRate: 0.2 }),
      { loss: 'binaryCrossentropy', metrics: ['accuracy'], targets: binary },
    );
    expect(run.losses[2]).toBeLessThan(run.losses[0]!);
    await expectSameAsAutograd(
      () => new Sequential([
        layers.dense({ units: 8, activation: 'tanh', inputShape: [6] }),
        layers.dropout({ rate: 0.25 }),
        layers.dense({ units: 2, activation: 'sigmoid' }),
      ]),
      () => new Adam({ learningRate: 0.02 }),
      { loss: 'binaryCrossentropy', metrics: ['accuracy'], targets: (x) => perRow(x, 2, (r, j) => (r[j]! > 0 ? 1 : 0)) },
    );
    await expectSameAsAutograd(
      () => new Sequential([layers.dense({ units: 8, activation: 'elu', inputShape: [6] }), layers.dense({ units: 1 })]),
      () => new SGD({ learningRate: 0.1 }),
      { loss: new BinaryCrossentropy(true), metrics: ['accuracy'], targets: binary },
    );
  });

  it('mean squared error: a regression MLP with BatchNormalization, fused SGD and momentum SGD, one and two outputs', async () => {
    const regression = (width: number) => (x: Tensor) => perRow(x, width, (r, j) => r[j]! * 2 - r[3]! * r[4]! + 0.5);
    for (const [width, opt] of [[1, () => new SGD({ learningRate: 0.05 })], [2, () => new SGD({ learningRate: 0.02, momentum: 0.9 })]] as const) {
      const run = await expectSameAsAutograd(
        () => new Sequential([
          layers.dense({ units: 12, activation: 'relu', inputShape: [6] }),
          layers.batchNormalization(),
          layers.dense({ units: 8, activation: 'selu' }),
          layers.dense({ units: width }),
        ]),
        opt,
        { loss: 'meanSquaredError', targets: regression(width) },
      );
      expect(run.losses[2]).toBeLessThan(run.losses[0]!);
    }
  });

  // Dropout and AlphaDropout: the plan draws each layer's key per step from the layer's generator,
  // in the order the layers' calls would, so it drops the same units as the autograd path.
  it('Dropout between layers and on the input, with fused plain SGD; a rate-0 Dropout is the identity', async () => {
    await expectSameAsAutograd(
      () => new Sequential([
        layers.flatten({ inputShape: [2, 3] }),
        layers.dropout({ rate: 0.2 }),
        layers.dense({ units: 16, activation: 'leaky_relu', kernelInitializer: 'heNormal' }),
        layers.dropout({ rate: 0.5 }),
        layers.dense({ units: 8, activation: 'relu', kernelRegularizer: regularizers.l2(0.01) }),
        layers.dropout({ rate: 0 }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]),
      () => new SGD({ learningRate: 0.1 }),
      { inputShape: [2, 3], metrics: ['accuracy'] },
    );
  });

  it('AlphaDropout in a SELU net and a seeded Dropout, with Adam and BatchNormalization', async () => {
    await expectSameAsAutograd(
      () => new Sequential([
        layers.dense({ units: 12, activation: 'selu', kernelInitializer: 'lecunNormal', inputShape: [6] }),
        layers.alphaDropout({ rate: 0.1 }),
        layers.dense({ units: 12, activation: 'selu', kernelInitializer: 'lecunNormal' }),
        layers.batchNormalization(),
        layers.dropout({ rate: 0.3, seed: 11 }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]),
      () => new Adam({ learningRate: 0.01 }),
      {},
    );
  });

  it('GaussianDropout and GaussianNoise (one seeded), with fused plain SGD and with Adam; stddev 0 is the identity', async () => {
    const build = () => new Sequential([
      layers.gaussianNoise({ stddev: 0.3, inputShape: [6] }),
      layers.dense({ units: 10, activation: 'relu' }),
      layers.gaussianDropout({ rate: 0.3 }),
      layers.dense({ units: 8, activation: 'tanh' }),
      layers.gaussianNoise({ stddev: 0.1, seed: 4 }),
      layers.gaussianNoise({ stddev: 0 }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    await expectSameAsAutograd(build, () => new SGD({ learningRate: 0.1 }));
    await expectSameAsAutograd(build, () => new Adam({ learningRate: 0.01 }));
  });

  it('Dropout really drops in the plan: a different seed trains to different weights, and prediction runs without it', async () => {
    const [x, y] = data(44, 6, 3, 5);
    const build = (seed: number) => () => new Sequential([
      layers.dense({ units: 8, activation: 'relu', inputShape: [6] }), layers.dropout({ rate: 0.5, seed }), layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    const a = await train(build(1), () => new SGD({ learningRate: 0.1 }), true, x, y);
    const b = await train(build(2), () => new SGD({ learningRate: 0.1 }), true, x, y);
    expect(a.planSteps).toBe(18);
    expect(a.weights[0]).not.toEqual(b.weights[0]);
  });

  it('after a non-finite loss the noise generators stand where the autograd path leaves them', async () => {
    const [x, y] = data(48, 6, 3, 8);
    const bad = Float32Array.from(x.data);
    bad.fill(3e38, 2 * 8 * 6, 2 * 8 * 6 + 6); // first row of batch 3 (no shuffling)
    const xb = new Tensor(bad, x.shape);
    const attempt = async (plan: boolean, perBatch: boolean) => {
      setTrainPlanEnabled(plan);
      setSeed(5);
      const model = new Sequential([
        layers.dense({ units: 4, activation: 'relu', inputShape: [6] }), layers.dropout({ rate: 0.25 }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]);
      model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1 }) });
      const callbacks = perBatch ? [new LambdaCallback({ onBatchEnd: () => {} })] : [];
      const counter = countPlanSteps();
      const err = (await model.fit(xb, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0, callbacks }).then(() => null, (e: unknown) => e)) as Error | null;
      const steps = counter.steps();
      vi.restoreAllMocks();
      return { err, steps, next: [globalRandom.nextUint32(), globalRandom.nextUint32()], weights: model.getWeights().map((t) => Array.from(t.data)) };
    };
    const autograd = await attempt(false, false);
    expect(autograd.err).not.toBeNull();
    for (const perBatch of [false, true]) {
      const planned = await attempt(true, perBatch);
      expect(planned.steps, `perBatch ${perBatch}`).toBe(2);
      const unnamed = (m: string | undefined) => m?.replace(/sequential_\d+/g, 'sequential').replace(/(dense|dropout)_\d+/g, '$1');
      expect(unnamed(planned.err?.message)).toBe(unnamed(autograd.err?.message));
      expect(planned.next).toEqual(autograd.next);
      expect(planned.weights).toEqual(autograd.weights);
    }
  });

  it('models outside the plan keep the autograd path (a noise shape, a custom or activity regularizer, MSE on a relu output, BCE on a linear output without fromLogits, mish, a thresholded ReLU, a shared PReLU slope, a softmax layer)', async () => {
    const [x, y] = data(16, 6, 3, 9);
    const custom = { className: 'Custom', call: (w: Tensor) => regularizers.l2(0.01).call(w), getConfig: () => ({}) };
    const cases: [() => Sequential, string][] = [
      [() => new Sequential([layers.dense({ units: 5, inputShape: [6], activation: 'relu' }), layers.dropout({ rate: 0.2, noiseShape: [1, null] }), layers.dense({ units: 3, activation: 'softmax' })]), 'sparseCategoricalCrossentropy'],
      [() => new Sequential([layers.dense({ units: 5, inputShape: [6], kernelRegularizer: custom }), layers.dense({ units: 3, activation: 'softmax' })]), 'sparseCategoricalCrossentropy'],
      [() => new Sequential([layers.dense({ units: 5, inputShape: [6], activityRegularizer: 'l2' }), layers.dense({ units: 3, activation: 'softmax' })]), 'sparseCategoricalCrossentropy'],
      [() => new Sequential([layers.dense({ units: 5, inputShape: [6], activation: 'mish' }), layers.dense({ units: 3, activation: 'softmax' })]), 'sparseCategoricalCrossentropy'],
      [() => new Sequential([layers.dense({ units: 5, inputShape: [6] }), layers.relu({ threshold: 0.5 }), layers.dense({ units: 3, activation: 'softmax' })]), 'sparseCategoricalCrossentropy'],
      [() => new Sequential([layers.dense({ units: 5, inputShape: [6] }), layers.prelu({ sharedAxes: [1] }), layers.dense({ units: 3, activation: 'softmax' })]), 'sparseCategoricalCrossentropy'],
      [() => new Sequential([layers.dense({ units: 5, inputShape: [6] }), layers.dense({ units: 3 }), layers.activation({ activation: 'softmax' })]), 'sparseCategoricalCrossentropy'],
      [() => new Sequential([layers.dense({ units: 5, inputShape: [6] }), layers.dense({ units: 1, activation: 'relu' })]), 'meanSquaredError'],
      [() => new Sequential([layers.dense({ units: 5, inputShape: [6] }), layers.dense({ units: 1 })]), 'binaryCrossentropy'],
      // softmax output with fromLogits-style linear loss mismatch: a linear last layer and a probability loss
      [() => new Sequential([layers.dense({ units: 5, inputShape: [6] }), layers.dense({ units: 3 })]), 'sparseCategoricalCrossentropy'],
    ];
    for (const [build, loss] of cases) {
      const target =
        loss === 'meanSquaredError' ? new Tensor(x.data.subarray(0, 16), [16, 1])
        : loss === 'binaryCrossentropy' ? new Tensor(x.data.subarray(0, 16).map((v) => (v > 0 ? 1 : 0)), [16, 1])
        : y;
      const run = await train(build, () => new SGD({ learningRate: 0.1 }), true, x, target, { loss, epochs: 1, metrics: [] });
      expect(run.planSteps, loss).toBe(0);
      expect(run.losses[0]).toBeGreaterThan(0);
    }
  });

  it('a non-finite loss changes nothing and is diagnosed by the autograd path', async () => {
    const [x, y] = data(16, 6, 3, 3);
    setSeed(1);
    const model = new Sequential([layers.batchNormalization({ inputShape: [6] }), layers.dense({ units: 4, activation: 'relu' }), layers.dense({ units: 3, activation: 'softmax' })]);
    model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1 }) });
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    // A kernel at the edge of float range: the second layer's output overflows on any batch.
    const w = model.getWeights();
    w[4] = new Tensor(new Float32Array(w[4]!.size).fill(3e38), w[4]!.shape);
    model.setWeights(w);
    const before = model.getWeights().map((t) => Float32Array.from(t.data));
    const spy = vi.spyOn(native, 'trainPlanStep');
    const err = (await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 }).then(() => null, (e: unknown) => e)) as (Error & { code?: string }) | null;
    expect(spy).toHaveBeenCalledTimes(1);
    expect(err?.code).toBe('ERR_NON_FINITE');
    expect(err?.message).toMatch(/the first non-finite value appeared in the output of Dense "dense\w*" \(layer 2 of 3\)/);
    model.getWeights().forEach((t, i) => expect(Array.from(t.data), `weight ${i}`).toEqual(Array.from(before[i]!)));
  });

  it('a non-finite loss in the middle of a multi-batch call: the batches before it are kept, the error names its batch', async () => {
    const [x, y] = data(48, 6, 3, 8);
    const bad = Float32Array.from(x.data);
    bad.fill(3e38, 2 * 8 * 6, 2 * 8 * 6 + 6); // first row of batch 3 (no shuffling)
    const xb = new Tensor(bad, x.shape);
    const attempt = async (plan: boolean) => {
      setTrainPlanEnabled(plan);
      setSeed(5);
      const model = new Sequential([layers.dense({ units: 4, activation: 'relu', inputShape: [6] }), layers.dense({ units: 3, activation: 'softmax' })]);
      model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1 }) });
      const counter = countPlanSteps();
      const err = (await model.fit(xb, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 }).then(() => null, (e: unknown) => e)) as (Error & { code?: string }) | null;
      const chunked = counter.chunked();
      vi.restoreAllMocks();
      return { err, chunked, weights: model.getWeights().map((t) => Array.from(t.data)) };
    };
    const planned = await attempt(true);
    const autograd = await attempt(false);
    expect(planned.chunked).toBe(2);
    expect(planned.err?.code).toBe('ERR_NON_FINITE');
    expect(planned.err?.message).toMatch(/at epoch 1, batch 3;/);
    const unnamed = (m: string | undefined) => m?.replace(/sequential_\d+/g, 'sequential').replace(/dense_\d+/g, 'dense');
    expect(unnamed(planned.err?.message)).toBe(unnamed(autograd.err?.message));
    expect(planned.weights).toEqual(autograd.weights);
  });

  it('freezing a layer between fits re-plans (the old plan would point at the old buffers)', async () => {
    const [x, y] = data(24, 6, 3, 4);
    setSeed(2);
    const model = new Sequential([layers.dense({ units: 5, activation: 'relu', inputShape: [6] }), layers.dense({ units: 3, activation: 'softmax' })]);
    model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: new SGD({ learningRate: 0.1 }) });
    await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    model.layers[0]!.trainable = false;
    const frozen = Float32Array.from(model.layers[0]!.getWeights()[0]!.data);
    const counter = countPlanSteps();
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    expect(counter.steps()).toBe(6);
    expect(Array.from(model.layers[0]!.getWeights()[0]!.data)).toEqual(Array.from(frozen));
  });
});

describe('one-call training step: the native API refuses bad input', () => {
  const dense = (over: Record<string, unknown> = {}) => ({
    kind: 'dense', in: 3, out: 2, kernel: new Float32Array(6), bias: new Float32Array(2), act: 0, alpha: 0,
    trainKernel: true, trainBias: true, fuseKernel: true, fuseBias: true, kernelGrad: new Float32Array(6), biasGrad: new Float32Array(2), ...over,
  });

  it('setTrainPlanEnabled takes a boolean and says what it received', () => {
    for (const bad of [0, 'false', null, undefined]) {
      const e = caught(() => setTrainPlanEnabled(bad as never));
      expect(e.name).toBe('ValueError');
      expect(e.message).toMatch(/^setTrainPlanEnabled: on must be a boolean, received /);
    }
    expect(setTrainPlanEnabled(false)).toBe(true);
    expect(setTrainPlanEnabled(true)).toBe(false);
  });

  it('malformed specs throw coded errors naming the field', () => {
    const cases: [unknown[], string, RegExp][] = [
      [[[dense({ in: 0 })], 4, 0], 'ERR_NATIVE_VALUE', /layers\[0\]\.in/],
      [[[dense({ kernel: new Float32Array(5) })], 4, 0], 'ERR_NATIVE_SIZE', /layers\[0\]\.kernel has 5 elements, needs 6/],
      [[[dense({ kernelGrad: null })], 4, 0], 'ERR_NATIVE_TYPE', /layers\[0\]\.kernelGrad must be a Float32Array/],
      [[[dense({ act: 99 })], 4, 0], 'ERR_NATIVE_VALUE', /activation id/],
      [[[dense({ act: 1 })], 4, 0], 'ERR_NATIVE_VALUE', /last layer .* linear Dense/],
      [[[dense(), dense()], 4, 0], 'ERR_NATIVE_VALUE', /takes 3 features, the layer before gives 2/],
      [[[{ kind: 'conv' }], 4, 0], 'ERR_NATIVE_VALUE', /kind must be/],
      [[[dense({ bias: 'x' })], 4, 0], 'ERR_NATIVE_TYPE', /layers\[0\]\.bias must be a Float32Array/],
      [[[], 4, 0], 'ERR_NATIVE_VALUE', /at least one layer/],
      [[[dense()], 0, 0], 'ERR_NATIVE_VALUE', /maxRows/],
      [[[dense()], 4, 7], 'ERR_NATIVE_VALUE', /loss id/],
      [[[dense()], 4], 'ERR_NATIVE_ARGS', /expected 3 arguments/],
      [[[dense({ kernelL2: -1 })], 4, 0], 'ERR_NATIVE_VALUE', /layers\[0\]\.kernelL2 must be a non-negative finite number/],
      [[[dense({ biasL1: 'a' })], 4, 0], 'ERR_NATIVE_TYPE', /layers\[0\]\.biasL1 must be a number or null/],
      [[[dense({ kernelL2: 0.1, fuseKernel: true })], 4, 0], 'ERR_NATIVE_VALUE', /penalty on a weight it does not train or fuses/],
      [[[{ kind: 'act', C: 3, act: 0, alpha: 0 }, dense()], 4, 0], 'ERR_NATIVE_VALUE', /unknown or linear activation id 0/],
      [[[{ kind: 'prelu', C: 3 }, dense()], 4, 0], 'ERR_NATIVE_TYPE', /layers\[0\]\.alpha must be a Float32Array/],
      [[[{ kind: 'prelu', C: 3, alpha: new Float32Array(3), alphaL2: 0.1 }, dense()], 4, 0], 'ERR_NATIVE_VALUE', /penalty on slopes that do not train/],
      [[[{ kind: 'noise', C: 2, dist: 'bernoulli', rate: 1, mulKeep: 1, mulDrop: 0, hasAdd: false }, dense()], 4, 0], 'ERR_NATIVE_VALUE', /rate must be in \[0, 1\)/],
      [[[{ kind: 'noise', C: 2, dist: 'bernoulli', rate: 0.5, mulKeep: 2, mulDrop: 0, hasAdd: true }, dense()], 4, 0], 'ERR_NATIVE_TYPE', /layers\[0\]\.addKeep must be a number/],
      [[[{ kind: 'noise', C: 2, dist: 'normalAdd', stddev: -1 }, dense()], 4, 0], 'ERR_NATIVE_VALUE', /stddev must be non-negative/],
      [[[{ kind: 'noise', C: 2, dist: 'uniform' }, dense()], 4, 0], 'ERR_NATIVE_VALUE', /dist must be 'bernoulli', 'normalMul' or 'normalAdd', received 'uniform'/],
    ];
    for (const [args, code, msg] of cases) {
      const e = caught(() => (native.trainPlanCreate as (...a: unknown[]) => unknown)(...args));
      expect(e.code, String(e)).toBe(code);
      expect(e.message).toMatch(msg);
    }
  });

  it('a step refuses foreign handles, bad rows, short or aliasing batches, bad labels, and stale or detached buffers', () => {
    const spec = dense();
    const plan = native.trainPlanCreate([spec], 4, 0);
    const x = new Float32Array(12), y = Float32Array.from([0, 1, 1, 0]);
    expect(native.trainPlanStep(plan, x, y, 4, true, 0.1, null, true, null)).toBeCloseTo(Math.log(2), 6);
    const step = (...a: unknown[]) => caught(() => (native.trainPlanStep as (...b: unknown[]) => unknown)(...a));
    expect(step({}, x, y, 4, true, 0.1, null, true, null).code).toBe('ERR_NATIVE_TYPE');
    expect(step(plan, x, y, 5, true, 0.1, null, true, null).code).toBe('ERR_NATIVE_VALUE');
    expect(step(plan, x.subarray(0, 11), y, 4, true, 0.1, null, true, null).code).toBe('ERR_NATIVE_SIZE');
    expect(step(plan, x, y, 4, true, NaN, null, true, null).code).toBe('ERR_NATIVE_VALUE');
    expect(step(plan, x, y, 4, true, 0.1, x, true, null).code).toBe('ERR_NATIVE_OVERLAP');
    expect(step(plan, x, y.subarray(0, 3), 4, true, 0.1, null, true, null).code).toBe('ERR_NATIVE_SIZE');
    const kernelBefore = Float32Array.from(spec.kernel);
    const e = step(plan, x, Float32Array.from([0, 2, 1, 0]), 4, true, 0.1, null, true, null);
    expect(e.code).toBe('ERR_LABEL');
    expect(e.message).toMatch(/label at index 1 is 2/);
    expect(Array.from(spec.kernel)).toEqual(Array.from(kernelBefore)); // nothing was applied
    structuredClone(spec.kernelGrad.buffer, { transfer: [spec.kernelGrad.buffer] });
    expect(step(plan, x, y, 4, false, 0.1, null, true, null).code).toBe('ERR_PLAN_STALE');
  });

  it("a multi-batch call's optimizer update: Adam's step on the model's flat buffers, and coded errors for a malformed update", () => {
    // One Dense 3 -> 2 whose kernel and bias are views of flat params / grads, as a model's are.
    const params = new Float32Array(8), grads = new Float32Array(8);
    params.set([0.1, -0.2, 0.3, 0.4, -0.5, 0.6]);
    const spec = dense({ kernel: params.subarray(0, 6), bias: params.subarray(6), kernelGrad: grads.subarray(0, 6), biasGrad: grads.subarray(6), fuseKernel: false, fuseBias: false });
    const plan = native.trainPlanCreate([spec], 4, 0);
    const x = Float32Array.from([1, 2, -1, 0.5, -1, 2]), y = Float32Array.from([0, 1]);
    const m = new Float32Array(8), v = new Float32Array(8);
    const update = (over: Record<string, unknown> = {}) => ({
      kind: 3, params, grads, slots: [m, v, null], beta1: 0.9, beta2: 0.999, epsilon: 1e-7, momentum: 0, nesterov: false,
      scalars: Float64Array.from([0.01, 0, 0, 0, 0, 0]), clip: 0, clipValue: 0, segments: null, decaySegments: null, ...over,
    });
    const run = (u: unknown, lrs = new Float32Array(1), cons: unknown = null) =>
      (native.trainPlanRun as (...a: unknown[]) => number)(plan, x, y, null, 2, 0, 2, 1, lrs, new Float64Array(1), null, null, true, null, u, cons);
    // The step's gradients, then w -= alpha m / (sqrt(v) + eps) with m = 0.1 g, v = 0.001 g^2 (float64 here).
    const before = Float64Array.from(params);
    expect(run(update())).toBe(1);
    for (let i = 0; i < 8; i++) {
      const g = grads[i]!;
      const mi = 0.1 * g, vi = 0.001 * g * g;
      expect(m[i]).toBeCloseTo(mi, 7);
      expect(params[i]!).toBeCloseTo(before[i]! - (0.01 * mi) / (Math.sqrt(vi) + 1e-7), 6);
    }
    expect(grads.some((g) => g !== 0)).toBe(true);
    const code = (u: unknown) => caught(() => run(u)).code;
    expect(code(update({ kind: 6 }))).toBe('ERR_NATIVE_VALUE');
    expect(code(update({ kind: 1.5 }))).toBe('ERR_NATIVE_VALUE');
    expect(code(update({ slots: [m, null, null] }))).toBe('ERR_NATIVE_TYPE'); // Adam needs velocity
    expect(code(update({ kind: 4, slots: [m, v, new Float32Array(8)] }))).toBe('ERR_NATIVE_VALUE'); // Adamax has two slots
    expect(code(update({ slots: [m, new Float32Array(7), null] }))).toBe('ERR_NATIVE_SIZE');
    expect(code(update({ grads: new Float32Array(9) }))).toBe('ERR_NATIVE_SIZE');
    expect(code(update({ params: new Float32Array(0), grads: new Float32Array(0) }))).toBe('ERR_NATIVE_SIZE');
    expect(code(update({ slots: [m, m, null] }))).toBe('ERR_NATIVE_OVERLAP');
    expect(code(update({ slots: [params, v, null] }))).toBe('ERR_NATIVE_OVERLAP');
    expect(code(update({ scalars: Float64Array.from([NaN, 0, 0, 0, 0, 0]) }))).toBe('ERR_NATIVE_VALUE');
    expect(code(update({ scalars: new Float64Array(5) }))).toBe('ERR_NATIVE_SIZE');
    expect(code(update({ decaySegments: Float64Array.from([0, 9]) }))).toBe('ERR_NATIVE_VALUE');
    expect(code(update({ decaySegments: Float64Array.from([0]) }))).toBe('ERR_NATIVE_SIZE');
    expect(code(update({ decaySegments: [0, 6] }))).toBe('ERR_NATIVE_TYPE');
    expect(code(update({ scalars: new Float32Array(5) }))).toBe('ERR_NATIVE_TYPE');
    expect(code(update({ beta1: Infinity }))).toBe('ERR_NATIVE_VALUE');
    expect(code(update({ nesterov: 1 }))).toBe('ERR_NATIVE_TYPE');
    expect(code(update({ slots: [m, v] }))).toBe('ERR_NATIVE_TYPE');
    expect(code(7)).toBe('ERR_NATIVE_TYPE');
    expect(code(update({ clip: 4, clipValue: 1 }))).toBe('ERR_NATIVE_VALUE');
    expect(code(update({ clip: 1, clipValue: 0 }))).toBe('ERR_NATIVE_VALUE');
    expect(code(update({ clip: 3, clipValue: NaN }))).toBe('ERR_NATIVE_VALUE');
    expect(code(update({ clip: 2, clipValue: 1 }))).toBe('ERR_NATIVE_TYPE'); // clipnorm needs the weights' segments
    expect(code(update({ clip: 2, clipValue: 1, segments: Float64Array.from([0, 6, 6]) }))).toBe('ERR_NATIVE_SIZE');
    expect(code(update({ clip: 2, clipValue: 1, segments: Float64Array.from([0, 6, 6, 3]) }))).toBe('ERR_NATIVE_VALUE');
    expect(code(update({ clip: 2, clipValue: 1, segments: Float64Array.from([-1, 2]) }))).toBe('ERR_NATIVE_VALUE');
    expect(code(update({ clip: 2, clipValue: 1, segments: Float64Array.from([0.5, 2]) }))).toBe('ERR_NATIVE_VALUE');
    // A slot sharing bytes with the data, or params with the learning rates, is refused.
    const big = new Float32Array(20);
    const e = caught(() => (native.trainPlanRun as (...a: unknown[]) => number)(plan, big.subarray(0, 6), y, null, 2, 0, 2, 1, new Float32Array(1), new Float64Array(1), null, null, true, null, update({ slots: [big.subarray(4, 12), v, null] }), null));
    expect(e.code).toBe('ERR_NATIVE_OVERLAP');
    expect(run(update())).toBe(1);
    expect(caught(() => run(update(), params.subarray(0, 1))).code).toBe('ERR_NATIVE_OVERLAP');
    // Constraints after the update: the kernel's columns rescaled to norm <= 0.1 (MaxNorm, kind 0).
    expect(run(update(), new Float32Array(1), { params, list: Float64Array.from([0, 3, 2, 0, 0, 0.1, 0]) })).toBe(1);
    for (let j = 0; j < 2; j++) expect(Math.hypot(params[j]!, params[2 + j]!, params[4 + j]!)).toBeLessThanOrEqual(0.1 + 1e-6);
    const cons = (list: number[], p: Float32Array = params) => caught(() => run(update(), new Float32Array(1), { params: p, list: Float64Array.from(list) })).code;
    expect(cons([0, 3, 2, 0, 0, 0.1])).toBe('ERR_NATIVE_SIZE');
    expect(cons([3, 3, 2, 0, 0, 0.1, 0])).toBe('ERR_NATIVE_VALUE'); // past the end of params
    expect(cons([0, 0, 2, 0, 0, 0.1, 0])).toBe('ERR_NATIVE_VALUE');
    expect(cons([0, 3, 2, 3, 0, 0.1, 0])).toBe('ERR_NATIVE_VALUE');
    expect(cons([0, 3, 2, 0, 0, NaN, 0])).toBe('ERR_NATIVE_VALUE');
    expect(cons([0, 1, 1, 0, 0, 1, 0], x)).toBe('ERR_NATIVE_OVERLAP'); // the data as the constrained weights
    expect(caught(() => run(update(), new Float32Array(1), { params, list: new Float32Array(7) })).code).toBe('ERR_NATIVE_TYPE');
    // A refused call changed nothing.
    const after = Float32Array.from(params);
    code(update({ kind: 9 }));
    expect(Array.from(params)).toEqual(Array.from(after));
  });

  it('x sharing bytes with a weight the step writes is refused', () => {
    const buf = new Float32Array(64);
    const spec = dense({ kernel: buf.subarray(0, 6) });
    const plan = native.trainPlanCreate([spec], 2, 0);
    const e = caught(() => native.trainPlanStep(plan, buf.subarray(4, 10), Float32Array.from([0, 1]), 2, true, 0.1, null, true, null));
    expect(e.code).toBe('ERR_NATIVE_OVERLAP');
  });

  it('a randomized run of malformed and valid calls ends each in a coded error or a finite loss', () => {
    const r = rng(2024);
    const pick = <T,>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
    const junk = [null, undefined, 0, -1, 1.5, NaN, 'a', {}, [], new Float32Array(0), new Float64Array(4), true];
    let ok = 0;
    for (let t = 0; t < 400; t++) {
      const inF = 1 + Math.floor(r() * 4), outF = 1 + Math.floor(r() * 4), rows = 1 + Math.floor(r() * 3);
      const bn = r() < 0.4;
      const specs: Record<string, unknown>[] = [];
      const noisy = r() < 0.3;
      if (bn) specs.push({ kind: 'batchnorm', C: inF, gamma: randArray(r, inF), beta: randArray(r, inF), movingMean: new Float32Array(inF), movingVariance: new Float32Array(inF).fill(1), momentum: 0.9, epsilon: 1e-3, batchStats: r() < 0.5, gammaGrad: new Float32Array(inF), betaGrad: new Float32Array(inF), gammaL2: r() < 0.3 ? 0.01 : null });
      if (r() < 0.2) specs.push({ kind: 'act', C: inF, act: 1 + Math.floor(r() * 14), alpha: 0.1 });
      if (r() < 0.2) specs.push({ kind: 'prelu', C: inF, alpha: randArray(r, inF), alphaGrad: r() < 0.5 ? new Float32Array(inF) : null });
      if (noisy) {
        const dist = pick(['bernoulli', 'normalMul', 'normalAdd']);
        specs.push({ kind: 'noise', C: inF, dist, rate: 0.3, mulKeep: 1 / 0.7, mulDrop: 0, hasAdd: r() < 0.5, addKeep: 0.1, addDrop: -1, stddev: 0.4 });
      }
      // A penalised weight is never fused.
      const kernelL1 = r() < 0.3 ? 0.01 : null, biasL2 = r() < 0.3 ? 0.02 : null;
      specs.push({ ...dense({ in: inF, out: outF, kernel: randArray(r, inF * outF), bias: randArray(r, outF), kernelGrad: new Float32Array(inF * outF), biasGrad: new Float32Array(outF), kernelL1, biasL2, fuseKernel: kernelL1 === null, fuseBias: biasL2 === null }) });
      const args: unknown[] = [specs, rows, Math.floor(r() * 4)]; // the four losses
      if (r() < 0.5) {
        const s = pick(specs);
        s[pick(Object.keys(s))] = pick(junk);
      }
      let plan: object;
      try {
        plan = (native.trainPlanCreate as (...a: unknown[]) => object)(...args);
      } catch (e) {
        expect((e as { code?: string }).code, String(e)).toMatch(/^ERR_NATIVE_/);
        continue;
      }
      const sparse = args[2] === 0;
      const x = randArray(r, rows * inF, -3, 3);
      const y = sparse ? Float32Array.from({ length: rows }, () => Math.floor(r() * outF)) : randArray(r, rows * outF, 0, 1);
      const keys = (steps: number) => (noisy ? Uint32Array.from({ length: 2 * steps }, () => Math.floor(r() * 2 ** 32)) : null);
      const stepArgs: unknown[] = [plan, x, y, rows, r() < 0.5, 0.1, r() < 0.5 ? new Float32Array(rows * outF) : null, true, keys(1)];
      if (r() < 0.5) stepArgs[1 + Math.floor(r() * 8)] = pick(junk);
      try {
        const loss = (native.trainPlanStep as (...a: unknown[]) => number)(...stepArgs);
        expect(typeof loss).toBe('number');
        ok++;
      } catch (e) {
        expect((e as { code?: string }).code, String(e)).toMatch(/^ERR_(NATIVE_|LABEL|PLAN_STALE)/);
      }
      // Several batches over a small dataset, in a random order or in storage order.
      const n = 1 + Math.floor(r() * 7), steps = Math.floor(r() * 4), batch = 1 + Math.floor(r() * rows);
      const xs = randArray(r, n * inF, -3, 3);
      const ys = sparse ? Float32Array.from({ length: n }, () => Math.floor(r() * outF)) : randArray(r, n * outF, 0, 1);
      const index = r() < 0.5 ? null : Int32Array.from({ length: n }, () => Math.floor(r() * n));
      const runArgs: unknown[] = [plan, xs, ys, index, n, Math.floor(r() * n), batch, steps, new Float32Array(steps).fill(0.05), new Float64Array(steps),
        r() < 0.5 ? new Float32Array(steps * batch * outF) : null, r() < 0.5 ? new Float32Array(steps * batch * (sparse ? 1 : outF)) : null, true, keys(steps), null, null];
      if (r() < 0.3) runArgs[15] = { params: randArray(r, 8), list: Float64Array.from([Math.floor(r() * 4), 1 + Math.floor(r() * 2), 1 + Math.floor(r() * 2), Math.floor(r() * 3), 0.1, 0.5, 0.5]) };
      if (r() < 0.5) {
        // An optimizer's update after each step, over flat buffers of its own (a field junk at times).
        const len = 1 + Math.floor(r() * 9), kind = Math.floor(r() * 6);
        const slot = (j: number) => (j < [1, 1, 3, 3, 2, 2][kind]! && (j < [0, 1, 1, 2, 2, 2][kind]! || r() < 0.5) ? randArray(r, len, 0, 1) : null);
        const u: Record<string, unknown> = {
          kind, params: randArray(r, len), grads: randArray(r, len), slots: [slot(0), slot(1), slot(2)], beta1: 0.9, beta2: 0.99,
          epsilon: 1e-7, momentum: 0.5, nesterov: r() < 0.5, scalars: Float64Array.from({ length: steps * 6 }, () => r() * 0.1),
          clip: Math.floor(r() * 4), clipValue: 0.5, segments: Float64Array.from([0, Math.ceil(len / 2), Math.ceil(len / 2), Math.floor(len / 2)]),
          decaySegments: r() < 0.5 ? null : Float64Array.from([0, Math.ceil(len / 2)]),
        };
        if (r() < 0.3) u[pick(Object.keys(u))] = pick(junk);
        runArgs[14] = u;
      }
      if (r() < 0.5) runArgs[1 + Math.floor(r() * 15)] = pick([...junk, -1, 2 ** 31, 1e9]);
      if (index && r() < 0.2) index[Math.floor(r() * n)] = pick([-1, n, 2 ** 31 - 1]);
      try {
        const done = (native.trainPlanRun as (...a: unknown[]) => number)(...runArgs);
        expect(done).toBeGreaterThanOrEqual(0);
        expect(done).toBeLessThanOrEqual(steps);
        ok++;
      } catch (e) {
        expect((e as { code?: string }).code, String(e)).toMatch(/^ERR_(NATIVE_|LABEL|PLAN_STALE)/);
      }
    }
    expect(ok).toBeGreaterThan(40);
  });
});
