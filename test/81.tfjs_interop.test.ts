/**
 * Interoperability with a real client, TensorFlow.js 4.22 (`@tensorflow/tfjs`, a devDependency; its
 * pure-JS 'cpu' backend): models trained and saved by deepnode load with `tf.loadLayersModel`
 * through tfjs's own HTTP loader (model.json parsing, weight paths, shards) and predict the same
 * numbers; models trained and saved by tfjs load with `loadModel` and predict the same numbers.
 * tfjs is imported statically: if it is missing, this file fails rather than skips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Sequential } from '../src/models/sequential';
import { BatchNormalization, Dense, Dropout, ELU, LeakyReLU, Softmax, Activation, Flatten } from '../src/layers';
import { loadModel } from '../src/saving';
import { Tensor } from '../src/tensor';
import { setSeed } from '../src/random';
import { randArray, rng } from './support/reference';

const r = rng(81);
let root = '';

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-81-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** tfjs's own loader over HTTP, with a fetch that serves the directory's files. */
function tfjsHandler(dir: string): tf.io.IOHandler {
  return tf.io.http('http://deepnode.test/model/model.json', {
    fetchFunc: async (url: string) => {
      const name = new URL(url).pathname.replace(/^\/model\//, '');
      const file = path.join(dir, decodeURIComponent(name));
      if (!fs.existsSync(file)) return new Response('not found', { status: 404 });
      return new Response(fs.readFileSync(file));
    },
  });
}

/** Write artifacts as tfjs-node's file:// handler does: model.json + weights.bin (optionally in shards). */
function writeTfjsArtifacts(dir: string, a: tf.io.ModelArtifacts, shards = 1): void {
  fs.mkdirSync(dir, { recursive: true });
  const data = new Uint8Array(a.weightData as ArrayBuffer);
  const per = Math.ceil(data.length / shards);
  const paths: string[] = [];
  for (let i = 0; i < shards; i++) {
    const name = shards === 1 ? 'weights.bin' : `group1-shard${i + 1}of${shards}.bin`;
    fs.writeFileSync(path.join(dir, name), data.subarray(i * per, Math.min(data.length, (i + 1) * per)));
    paths.push(name);
  }
  const json: Record<string, unknown> = {
    modelTopology: a.modelTopology,
    format: a.format,
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy,
    weightsManifest: [{ paths, weights: a.weightSpecs }],
  };
  if (a.trainingConfig) json.trainingConfig = a.trainingConfig;
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
}

async function tfjsArtifacts(model: tf.LayersModel, includeOptimizer: boolean): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer },
  );
  return saved!;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function tfjsPredict(model: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array);
}

describe('deepnode -> TensorFlow.js', () => {
  it('a trained Dense/relu/softmax model, saved with its Adam state, predicts the same in tfjs', async () => {
    setSeed(1);
    const model = new Sequential([
      new Dense({ units: 16, activation: 'relu', inputShape: [6] }),
      new Dense({ units: 8, activation: 'tanh' }),
      new Dense({ units: 3, activation: 'softmax' }),
    ]);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const x = new Tensor(randArray(r, 64 * 6), [64, 6]);
    const y = new Tensor(Float32Array.from({ length: 64 }, (_, i) => i % 3), [64]);
    await model.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0 });
    const dir = path.join(root, 'dn-mlp');
    await model.save(dir);

    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    // The optimizer state rides along as tfjs does (group 'optimizer'); tfjs must skip it here.
    expect(json.weightsManifest[0].weights.some((w: { group?: string }) => w.group === 'optimizer')).toBe(true);

    const tm = await tf.loadLayersModel(tfjsHandler(dir));
    expect(tm.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
    expect(tm.optimizer).toBeFalsy(); // no tfjs training config: tfjs loads it uncompiled
    const xt = randArray(r, 10 * 6, -2, 2);
    const ours = model.predict(new Tensor(xt, [10, 6])).data;
    const theirs = tfjsPredict(tm, xt, [10, 6]);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-5);
    // And tfjs holds the very weights we wrote.
    const k = (tm.layers[0]!.getWeights()[0]!.dataSync() as Float32Array);
    expect(maxAbsDiff(k, model.layers[0]!.getWeights()[0]!.data)).toBe(0);
    tm.dispose();
  });

  it('BatchNormalization (trained moving statistics), Dropout and activation layers predict the same in tfjs', async () => {
    setSeed(2);
    const model = new Sequential([
      new Flatten({ inputShape: [2, 3] }),
      new Dense({ units: 12 }),
      new BatchNormalization({ momentum: 0.8, epsilon: 0.01 }),
      new LeakyReLU({ negativeSlope: 0.1 }),
      new Dropout({ rate: 0.3 }),
      new Dense({ units: 8, kernelInitializer: 'heNormal', biasInitializer: 'ones' }),
      new ELU(), // tfjs 4.22 refuses ELU alpha != 1 (NotImplementedError)
      new Dense({ units: 4 }),
      new Activation({ activation: 'sigmoid' }),
      new Dense({ units: 3, useBias: false }),
      new Softmax(),
    ]);
    model.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy' });
    const x = new Tensor(randArray(r, 96 * 6, 0, 3), [96, 2, 3]);
    const y = new Tensor(Float32Array.from({ length: 96 }, (_, i) => (i * 7) % 3), [96]);
    await model.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0 });
    const bn = model.layers[2] as BatchNormalization;
    expect(Math.abs(bn.movingMean!.data[0]!)).toBeGreaterThan(1e-3); // the statistics really moved
    const dir = path.join(root, 'dn-bn');
    await model.save(dir, { includeOptimizer: false });

    const tm = await tf.loadLayersModel(tfjsHandler(dir));
    const xt = randArray(r, 20 * 6, 0, 3);
    const ours = model.predict(new Tensor(xt, [20, 2, 3])).data;
    const theirs = tfjsPredict(tm, xt, [20, 2, 3]);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-5);
    const names = tm.getWeights().map((w) => w.name);
    expect(names).toContain('batch_normalization/moving_mean');
    tm.dispose();
  });
});

describe('TensorFlow.js -> deepnode', () => {
  async function trainedTfjsModel(): Promise<tf.Sequential> {
    const m = tf.sequential({ name: 'from_tfjs' });
    m.add(tf.layers.dense({ units: 10, inputShape: [5], activation: 'relu', name: 'hidden' }));
    m.add(tf.layers.batchNormalization({ momentum: 0.9 }));
    m.add(tf.layers.dropout({ rate: 0.25 }));
    m.add(tf.layers.dense({ units: 6, activation: 'elu' }));
    m.add(tf.layers.leakyReLU({ alpha: 0.05 }));
    m.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    m.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const xs = tf.tensor(randArray(r, 48 * 5, -1, 2), [48, 5]);
    const ys = tf.oneHot(tf.tensor1d(Array.from({ length: 48 }, (_, i) => i % 3), 'int32'), 3);
    await m.fit(xs, ys, { epochs: 3, batchSize: 16, verbose: 0 });
    tf.dispose([xs, ys]);
    return m;
  }

  it('a model trained and saved by tfjs (file layout of tfjs-node) loads and predicts the same', async () => {
    const tm = await trainedTfjsModel();
    const artifacts = await tfjsArtifacts(tm, false);
    const dir = path.join(root, 'tfjs-plain');
    writeTfjsArtifacts(dir, artifacts);
    const model = await loadModel(dir);
    expect(model.name).toBe('from_tfjs');
    expect(model.layers.map((l) => l.className)).toEqual(['Dense', 'BatchNormalization', 'Dropout', 'Dense', 'LeakyReLU', 'Dense']);
    expect((model.layers[4] as LeakyReLU).negativeSlope).toBeCloseTo(0.05, 7);
    const x = randArray(r, 12 * 5, -1, 2);
    const ours = model.predict(new Tensor(x, [12, 5])).data;
    const theirs = tfjsPredict(tm, x, [12, 5]);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-5);
    // Keras order inside a layer, whatever order tfjs wrote the file in (it lists all trainable weights first).
    const bnWeights = model.layers[1]!.getWeights();
    const tfBn = tm.layers[1]!.getWeights().map((w) => w.dataSync() as Float32Array);
    bnWeights.forEach((w, i) => expect(maxAbsDiff(w.data, tfBn[i]!)).toBe(0));
    tm.dispose();
  });

  it('a tfjs save with its optimizer state, in several shards, loads (tfjs training config is not used)', async () => {
    const tm = await trainedTfjsModel();
    const artifacts = await tfjsArtifacts(tm, true);
    expect(artifacts.weightSpecs!.some((s) => s.group === 'optimizer' && s.dtype === 'int32')).toBe(true);
    const dir = path.join(root, 'tfjs-opt');
    writeTfjsArtifacts(dir, artifacts, 3);
    const model = await loadModel(dir);
    expect(model.optimizer).toBeNull();
    const x = randArray(r, 7 * 5);
    expect(maxAbsDiff(model.predict(new Tensor(x, [7, 5])).data, tfjsPredict(tm, x, [7, 5]))).toBeLessThan(1e-5);
    tm.dispose();
  });

  it('round trip: deepnode -> tfjs -> tfjs.save -> deepnode keeps every weight bit for bit', async () => {
    setSeed(3);
    const model = new Sequential([
      new Dense({ units: 5, activation: 'selu', inputShape: [4] }),
      new BatchNormalization(),
      new Dense({ units: 2, activation: 'sigmoid' }),
    ]);
    const bn = model.layers[1] as BatchNormalization;
    bn.setWeights([1, 2, 3, 4].map((k) => new Tensor(randArray(r, 5, 0.5 * k, k), [5])));
    const dir = path.join(root, 'rt-dn');
    await model.save(dir);
    const tm = await tf.loadLayersModel(tfjsHandler(dir));
    const back = path.join(root, 'rt-tfjs');
    writeTfjsArtifacts(back, await tfjsArtifacts(tm, false));
    const again = await loadModel(back);
    const a = model.getWeights();
    const b = again.getWeights();
    expect(b.length).toBe(a.length);
    a.forEach((w, i) => {
      expect(b[i]!.shape).toEqual(w.shape);
      expect(maxAbsDiff(b[i]!.data, w.data)).toBe(0);
    });
    tm.dispose();
  });
});
