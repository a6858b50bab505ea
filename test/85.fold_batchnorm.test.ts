/**
 * foldBatchNorm: the folded model must predict what the original predicts in inference mode (to
 * 1e-5) with fewer layers, for several architectures, after a few training steps have moved the
 * BN statistics and parameters. One case also checks the folded weights against the folding
 * formulas evaluated here in float64 from the BN definition y = gamma (z - mean) / sqrt(var + eps) + beta.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor';
import { Sequential, layers, StateError } from '../src/index';
import { foldBatchNorm, foldBatchNormReport } from '../src/inference';
import { BatchNormalization } from '../src/layers/normalization';
import { Dense } from '../src/layers/dense';
import { caught, randArray, rng } from './support/reference';
import { setSeed } from '../src/random';

async function trained(model: Sequential, inputShape: number[], classes: number, seed: number): Promise<Tensor> {
  const r = rng(seed);
  const per = inputShape.reduce((a, b) => a * b, 1);
  const n = 64;
  const x = new Tensor(randArray(r, n * per, -2, 3), [n, ...inputShape]);
  const y = new Tensor(Float32Array.from({ length: n }, () => Math.floor(r() * classes)), [n]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  await model.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0 });
  return new Tensor(randArray(r, 40 * per, -2, 3), [40, ...inputShape]);
}

function expectSamePredictions(a: Sequential, b: Sequential, x: Tensor): void {
  const ya = a.predict(x).data, yb = b.predict(x).data;
  expect(yb.length).toBe(ya.length);
  let worst = 0;
  for (let i = 0; i < ya.length; i++) worst = Math.max(worst, Math.abs(ya[i]! - yb[i]!) / Math.max(1, Math.abs(ya[i]!)));
  expect(worst).toBeLessThan(1e-5);
}

const bn = () => layers.batchNormalization({ momentum: 0.5 });

describe('foldBatchNorm', () => {
  it("the chapter's network: Flatten, BN, then Dense (no bias) -> BN -> Activation twice: 9 layers become 4", async () => {
    setSeed(1);
    const model = new Sequential([
      layers.flatten({ inputShape: [4, 5] }),
      bn(),
      layers.dense({ units: 16, useBias: false, kernelInitializer: 'heNormal' }),
      bn(),
      layers.activation({ activation: 'elu' }),
      layers.dense({ units: 8, useBias: false, kernelInitializer: 'heNormal' }),
      bn(),
      layers.activation({ activation: 'elu' }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    const x = await trained(model, [4, 5], 3, 1);
    const weightsBefore = model.getWeights().map((w) => Float32Array.from(w.data));
    const folded = foldBatchNorm(model);
    expect(folded.layers.map((l) => l.className)).toEqual(['Flatten', 'Dense', 'Dense', 'Dense']);
    expect(folded.layers.map((l) => (l as Dense).activation?.name ?? null)).toEqual([null, 'elu', 'elu', 'softmax']);
    expectSamePredictions(model, folded, x);
    // The original is untouched.
    expect(model.layers.length).toBe(9);
    model.getWeights().forEach((w, i) => expect(w.data).toEqual(weightsBefore[i]));
    const report = foldBatchNormReport(model);
    expect(report.folded.map((f) => f.direction)).toEqual(['forward', 'backward', 'backward']);
    expect(report.kept).toEqual([]);
    expect([report.layersBefore, report.layersAfter]).toEqual([9, 4]);
  });

  it('BN after a nonlinearity folds forward into the next Dense; BN as first layer too', async () => {
    setSeed(2);
    const model = new Sequential([
      layers.batchNormalization({ momentum: 0.5, inputShape: [10] }),
      layers.dense({ units: 12, activation: 'relu' }),
      bn(),
      layers.dense({ units: 6, activation: 'tanh' }),
      bn(),
      layers.dense({ units: 4 }),
    ]);
    const x = await trained(model, [10], 4, 2);
    const folded = foldBatchNorm(model);
    expect(folded.layers.map((l) => l.className)).toEqual(['Dense', 'Dense', 'Dense']);
    expect(folded.inputShape).toEqual([null, 10]);
    expectSamePredictions(model, folded, x);
  });

  it('folded weights follow the formulas (float64 check), with a bias-less Dense and center/scale off', async () => {
    setSeed(3);
    const model = new Sequential([
      layers.dense({ units: 5, inputShape: [3] }),
      layers.batchNormalization({ momentum: 0.5, center: false }),
      layers.dense({ units: 2, useBias: false }),
    ]);
    await trained(model, [3], 2, 3);
    const [W, b] = [model.layers[0]!.getWeights()[0]!.data, model.layers[0]!.getWeights()[1]!.data];
    const norm = model.layers[1] as BatchNormalization;
    const gamma = norm.gamma!.data, mean = norm.movingMean!.data, variance = norm.movingVariance!.data;
    expect(norm.beta).toBeNull();
    const folded = foldBatchNorm(model);
    expect(folded.layers.length).toBe(2);
    const [W2, b2] = folded.layers[0]!.getWeights().map((t) => t.data);
    for (let j = 0; j < 5; j++) {
      const s = gamma[j]! / Math.sqrt(variance[j]! + 1e-3);
      const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(2 ** -23 * Math.abs(want));
      for (let p = 0; p < 3; p++) close(W2![p * 5 + j]!, W[p * 5 + j]! * s);
      close(b2![j]!, (b[j]! - mean[j]!) * s);
      expect(Math.abs(mean[j]!)).toBeGreaterThan(1e-3); // the statistics moved away from their initial values
      expect(Math.abs(variance[j]! - 1)).toBeGreaterThan(1e-3);
    }
    // The second Dense had no bias and no BN: copied as is.
    expect(folded.layers[1]!.getWeights().length).toBe(1);
  });

  it('keeps BNs it cannot fold, says why, and still predicts the same', async () => {
    setSeed(4);
    const model = new Sequential([
      layers.batchNormalization({ momentum: 0.5, axis: 1, inputShape: [3, 4] }), // normalizes axis 1, not the features
      layers.flatten(),
      layers.dense({ units: 6, activation: 'relu' }),
      layers.dropout({ rate: 0.2 }),
      bn(), // after Dropout, before the last BN: no Dense beside it
      bn(), // last layer
    ]);
    const x = await trained(model, [3, 4], 6, 4);
    const report = foldBatchNormReport(model);
    expect(report.folded).toEqual([]);
    expect(report.kept.map((k) => k.batchNormalization)).toEqual([model.layers[0]!.name, model.layers[4]!.name, model.layers[5]!.name]);
    expect(report.kept[0]!.reason).toMatch(/axis 1/);
    expect(report.kept[2]!.reason).toMatch(/last layer/);
    const folded = foldBatchNorm(model);
    expect(folded.layers.length).toBe(6);
    expectSamePredictions(model, folded, x);
  });

  it('errors: unbuilt model, not a model', () => {
    const e = caught(() => foldBatchNorm(new Sequential([layers.dense({ units: 2 }), layers.batchNormalization()])));
    expect(e).toBeInstanceOf(StateError);
    expect(e.message).toMatch(/not built/);
    expect(caught(() => foldBatchNorm(null as never)).code).toBe('ERR_VALUE');
  });
});
