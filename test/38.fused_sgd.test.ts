/**
 * Plain SGD fused into the backward pass (Sequential's training step; autograd/engine
 * withFusedSgd): Dense layers subtract lr * gradient from their kernel and bias inside the backward
 * GEMM instead of writing a gradient for the optimizer. Its result must be Keras's step — every
 * gradient from the weights before the step — so each test trains the same model twice from the
 * same seed, once fused and once on the ordinary path (an SGD with a clipvalue too large to clip
 * anything cannot fuse), and compares the weights. The two differ only in rounding (the fused GEMM
 * scales and adds in one epilogue), so they agree to float32 precision, not bit for bit.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Sequential } from '../src/models/sequential';
import * as layers from '../src/layers';
import { SGD, schedules } from '../src/optimizers';
import type { Optimizer, LearningRateSchedule } from '../src/optimizers';
import { Tensor } from '../src/tensor';
import { setSeed } from '../src/random';
import { setTrainPlanEnabled } from '../src/models/train_plan';
import { expectClose, randArray, rng } from './support/reference';

type Build = () => Sequential;

function data(n: number, features: number, classes: number, seed: number): [Tensor, Tensor] {
  const r = rng(seed);
  const x = new Tensor(randArray(r, n * features, -1, 1), [n, features]);
  const y = new Tensor(Float32Array.from({ length: n }, () => Math.floor(r() * classes)), [n]);
  return [x, y];
}

/** Trains build() with `opt` and returns its weights and how many steps went the fused way. */
async function train(build: Build, opt: Optimizer, x: Tensor, y: Tensor, epochs = 3): Promise<{ weights: Float32Array[]; fused: number; plain: number }> {
  setSeed(123);
  const model = build();
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: opt });
  const fused = vi.spyOn(opt, 'finishFusedStep');
  const plain = vi.spyOn(opt, 'apply');
  await model.fit(x, y, { epochs, batchSize: 8, verbose: 0 });
  return { weights: model.getWeights().map((w) => Float32Array.from(w.data)), fused: fused.mock.calls.length, plain: plain.mock.calls.length };
}

async function expectSameTraining(build: Build, lr: number | (() => LearningRateSchedule), expectFused: boolean): Promise<void> {
  const [x, y] = data(40, 6, 3, 5);
  const steps = 3 * Math.ceil(40 / 8);
  const mk = (extra: object) => new SGD({ learningRate: typeof lr === 'number' ? lr : lr(), ...extra });
  const a = await train(build, mk({}), x, y);
  const b = await train(build, mk({ clipvalue: 1e30 }), x, y);
  expect(b.fused).toBe(0);
  expect(b.plain).toBe(steps);
  expect(a.fused).toBe(expectFused ? steps : 0);
  expect(a.plain).toBe(expectFused ? 0 : steps);
  expect(a.weights.length).toBe(b.weights.length);
  a.weights.forEach((w, i) => expectClose(w, b.weights[i]!, 1e-5, 1e-6, `weight ${i}`));
  // Training moved the weights: the comparison is not between two untouched initialisations.
  setSeed(123);
  const init = build().getWeights();
  const moved = a.weights.some((w, i) => w.some((v, j) => Math.abs(v - init[i]!.data[j]!) > 1e-4));
  expect(moved).toBe(true);
}

describe('fused plain SGD', () => {
  // These are the autograd path's fused step; test/39 covers the one-call plan, which runs the
  // same models by default.
  beforeAll(() => setTrainPlanEnabled(false));
  afterAll(() => setTrainPlanEnabled(true));

  it('Dense stack: same weights as the unfused step, and the fused path is taken', async () => {
    await expectSameTraining(
      () =>
        new Sequential([
          layers.dense({ units: 7, activation: 'leaky_relu', inputShape: [6] }),
          layers.dense({ units: 5, activation: 'selu', useBias: false }),
          layers.dense({ units: 3, activation: 'softmax' }),
        ]),
      0.1,
      true,
    );
  });

  it('with BatchNormalization and Dropout (their weights take the ordinary update) and a learning-rate schedule', async () => {
    await expectSameTraining(
      () =>
        new Sequential([
          layers.batchNormalization({ inputShape: [6] }),
          layers.dense({ units: 8, activation: 'relu' }),
          layers.dropout({ rate: 0.3 }),
          layers.batchNormalization(),
          layers.dense({ units: 3, activation: 'softmax' }),
        ]),
      () => schedules.exponentialDecay({ initialLearningRate: 0.2, decaySteps: 3, decayRate: 0.5 }),
      true,
    );
  });

  it('a regularized kernel and a frozen layer are left to the ordinary path', async () => {
    await expectSameTraining(
      () => {
        const m = new Sequential([
          layers.dense({ units: 7, activation: 'tanh', inputShape: [6], kernelRegularizer: 'l2' }),
          layers.dense({ units: 6, activation: 'relu' }),
          layers.dense({ units: 3, activation: 'softmax', biasRegularizer: 'l1' }),
        ]);
        m.layers[1]!.trainable = false;
        return m;
      },
      0.05,
      true,
    );
  });

  it('momentum, weight decay and clipping never fuse', () => {
    expect(new SGD({ learningRate: 0.1 }).fusedSgdRate()).toBe(0.1);
    expect(new SGD({ learningRate: 0.1, momentum: 0.9 }).fusedSgdRate()).toBeNull();
    expect(new SGD({ learningRate: 0.1, weightDecay: 0.01 }).fusedSgdRate()).toBeNull();
    expect(new SGD({ learningRate: 0.1, clipnorm: 1 }).fusedSgdRate()).toBeNull();
    expect(new SGD({ learningRate: 0.1, globalClipnorm: 1 }).fusedSgdRate()).toBeNull();
    expect(new SGD({ learningRate: 0.1, clipvalue: 1 }).fusedSgdRate()).toBeNull();
  });
});
