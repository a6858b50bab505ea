/**
 * Golden numbers from PyTorch (test/fixtures/torch_mlp.json, written by make_torch_mlp.py; CI only
 * reads the committed fixture). Two small MLPs with fixed weights: forward probabilities, sparse
 * categorical cross-entropy, gradients of every weight, and three full-batch steps of plain SGD,
 * momentum 0.9 and Nesterov 0.9 run through Sequential.fit.
 *
 * PyTorch's momentum buffer differs from Keras's velocity only by a factor: with a constant
 * learning rate, v_keras = -lr * buf_torch, so both produce the same weights (see the fixture's
 * momentumNote).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor';
import { Sequential } from '../src/models/sequential';
import { Dense } from '../src/layers';
import { SGD } from '../src/optimizers';
import { SparseCategoricalCrossentropy } from '../src/losses';
import { LambdaCallback } from '../src/callbacks';
import { backward } from '../src/autograd/engine';
import { expectClose } from './support/reference';

interface Training {
  learningRate: number;
  momentum: number;
  nesterov?: boolean;
  losses: number[];
  weightsAfterStep: number[][][];
}
interface Case {
  name: string;
  layers: { units: number; activation: 'relu' | 'tanh' | 'sigmoid' | 'elu' | 'softmax' }[];
  inputDim: number;
  x: number[];
  xShape: [number, number];
  y: number[];
  weights: { shape: number[]; data: number[] }[];
  probs: number[];
  loss: number;
  grads: number[][];
  training: Record<'sgd' | 'momentum' | 'nesterov', Training>;
}

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'torch_mlp.json'), 'utf8')) as {
  momentumNote: string;
  cases: Case[];
};

/** |ours - torch| <= 1e-5 relative to the largest magnitude in the tensor (plus a tiny floor). */
function expectTensorClose(ours: ArrayLike<number>, torch: number[], what: string): void {
  const scale = Math.max(...torch.map(Math.abs), 1e-3);
  expectClose(ours, torch, 1e-5, 1e-5 * scale, what);
}

function buildModel(c: Case): Sequential {
  const model = new Sequential(
    c.layers.map((l, i) => new Dense({ units: l.units, activation: l.activation, ...(i === 0 ? { inputShape: [c.inputDim] } : {}) })),
  );
  model.setWeights(c.weights.map((w) => new Tensor(Float32Array.from(w.data), w.shape)));
  return model;
}

const x = (c: Case) => new Tensor(Float32Array.from(c.x), c.xShape);
const y = (c: Case) => new Tensor(Float32Array.from(c.y), [c.y.length]);

describe.each(fixture.cases.map((c) => [c.name, c] as const))('PyTorch reference: %s', (_name, c) => {
  it('the fixture is self-consistent (weights match layer shapes, float32 inputs)', () => {
    expect(c.weights.length).toBe(2 * c.layers.length);
    for (const v of c.x) expect(Math.fround(v)).toBe(v);
    expect(fixture.momentumNote).toMatch(/v_keras = -lr \* buf_torch/);
  });

  it('predict gives the softmax probabilities', () => {
    const model = buildModel(c);
    const p = model.predict(x(c), { batchSize: 3 }); // batches of 3, 3, 2
    expect(p.shape).toEqual([c.y.length, c.layers[c.layers.length - 1]!.units]);
    expectTensorClose(p.data, c.probs, 'probs');
  });

  it('evaluate gives the mean sparse categorical cross-entropy', () => {
    const model = buildModel(c);
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const { loss } = model.evaluate(x(c), y(c), { batchSize: c.y.length });
    expect(Math.abs(loss! - c.loss) / c.loss).toBeLessThan(1e-5);
  });

  it('backward gives the gradient of every kernel and bias', () => {
    const model = buildModel(c);
    const weights = model.trainableWeights;
    for (const w of weights) w.grad = null;
    const loss = new SparseCategoricalCrossentropy().compute(model.call(x(c), true), y(c));
    expect(Math.abs(loss.data[0]! - c.loss) / c.loss).toBeLessThan(1e-5);
    backward(loss);
    weights.forEach((w, i) => expectTensorClose(w.grad!, c.grads[i]!, `grad of ${w.name}`));
  });

  it.each(['sgd', 'momentum', 'nesterov'] as const)('3 full-batch steps of %s through fit() match weight by weight', async (opt) => {
    const t = c.training[opt];
    const model = buildModel(c);
    model.compile({
      optimizer: new SGD({ learningRate: t.learningRate, momentum: t.momentum, nesterov: t.nesterov ?? false }),
      loss: 'sparse_categorical_crossentropy',
    });
    const after: Tensor[][] = [];
    const history = await model.fit(x(c), y(c), {
      epochs: t.losses.length,
      batchSize: c.y.length,
      shuffle: false,
      verbose: 0,
      callbacks: [new LambdaCallback({ onBatchEnd: () => void after.push(model.getWeights()) })],
    });
    expect(after.length).toBe(t.losses.length);
    // One batch per epoch: the epoch loss is the loss before that step's update.
    expectClose(history.history.loss!, t.losses, 1e-5, 0, 'losses');
    t.weightsAfterStep.forEach((ws, step) =>
      ws.forEach((w, i) => expectTensorClose(after[step]![i]!.data, w, `step ${step + 1}, weight ${i}`)),
    );
  });
});
