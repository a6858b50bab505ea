/**
 * The weights API (Keras order, shape checks naming the layer), save/load round trips, exact
 * resumption of training from a save (optimizer state included), crash safety of the save, and
 * clear errors for missing, truncated, corrupted and hostile files.
 */
import { afterAll, beforeAll, afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Sequential } from '../src/models/sequential';
import { BatchNormalization, Dense, Dropout, serializeLayer } from '../src/layers';
import { Adam, Nadam, SGD, schedules } from '../src/optimizers';
import { loadModel, saveWeights } from '../src/saving';
import { setFaultHook } from '../src/saving/atomic';
import { Tensor } from '../src/tensor';
import { setSeed } from '../src/random';
import { caught, randArray, rng } from './support/reference';

const r = rng(80);
let root = '';
let n = 0;
const fresh = (tag: string) => path.join(root, `${tag}-${n++}`);

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-80-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => setFaultHook(null));

function bnModel(): Sequential {
  return new Sequential([
    new Dense({ units: 6, activation: 'relu', inputShape: [4], name: 'd1' }),
    new BatchNormalization({ name: 'bn' }),
    new Dropout({ rate: 0.2, name: 'drop' }),
    new Dense({ units: 3, activation: 'softmax', name: 'd2' }),
  ]);
}

const data = (() => {
  const x = new Tensor(randArray(r, 40 * 4, -2, 2), [40, 4]);
  const y = new Tensor(Float32Array.from({ length: 40 }, (_, i) => (i * 5) % 3), [40]);
  return { x, y };
})();

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('weights API', () => {
  it('lists weights in Keras order: per layer kernel, bias; BN gamma, beta, moving_mean, moving_variance', () => {
    const m = bnModel();
    expect(m.weights.map((w) => w.name)).toEqual([
      'd1/kernel', 'd1/bias', 'bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance', 'd2/kernel', 'd2/bias',
    ]);
    expect(m.getWeights().map((w) => w.shape)).toEqual([[4, 6], [6], [6], [6], [6], [6], [6, 3], [3]]);
    // Freezing does not reorder a layer's weights.
    m.layers[1]!.trainable = false;
    expect(m.layers[1]!.weights.map((w) => w.name)).toEqual(['bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance']);
  });

  it('getWeights returns copies; setWeights writes values, and checks count and shapes naming the layer', () => {
    const m = bnModel();
    const ws = m.getWeights();
    ws[0]!.data[0] = 123;
    expect(m.weights[0]!.data[0]).not.toBe(123);
    const values = ws.map((w) => new Tensor(randArray(r, w.size), w.shape));
    m.setWeights(values);
    m.getWeights().forEach((w, i) => expect(sameBits(w.data, values[i]!.data)).toBe(true));

    const e1 = caught(() => m.setWeights(values.slice(1)));
    expect(e1.code).toBe('ERR_SHAPE');
    expect(e1.message).toContain('setWeights expected 8 arrays, received 7');
    const bad = [...values];
    bad[2] = new Tensor(new Float32Array(5), [5]);
    const e2 = caught(() => m.setWeights(bad));
    expect(e2.code).toBe('ERR_SHAPE');
    expect(e2.message).toContain('BatchNormalization "bn": weight "bn/gamma" has shape [6], received [5]');
    const e3 = caught(() => m.layers[0]!.setWeights([new Tensor(new Float32Array(24), [6, 4]), values[1]!]));
    expect(e3.message).toContain('Dense "d1": weight "d1/kernel" has shape [4,6], received [6,4]');
  });
});

describe('save and load', () => {
  it('round-trips topology, weights (bit for bit), predictions and the compile settings', async () => {
    setSeed(5);
    const m = bnModel();
    m.compile({ optimizer: new Adam({ learningRate: 0.01, clipnorm: 1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await m.fit(data.x, data.y, { epochs: 2, batchSize: 8, verbose: 0 });
    const dir = fresh('rt');
    const res = await m.save(dir);
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(['model.json', path.basename(res.weightsPath)]);
    expect(path.basename(res.weightsPath)).toMatch(/^weights\.[0-9a-f]{16}\.bin$/);

    const json = JSON.parse(fs.readFileSync(res.modelPath, 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.convertedBy).toBeNull();
    expect(json.modelTopology.class_name).toBe('Sequential');
    expect(json.modelTopology.config.layers[0].config.batch_input_shape).toEqual([null, 4]);
    expect(json.modelTopology.config.layers.every((l: { config: { dtype: string } }) => l.config.dtype === 'float32')).toBe(true);
    const specs = json.weightsManifest[0].weights as { name: string; dtype: string; group?: string }[];
    expect(specs.filter((s) => !s.group).map((s) => s.name)).toEqual(m.weights.map((w) => w.name));
    expect(specs.filter((s) => s.group === 'optimizer').map((s) => s.name).slice(0, 2)).toEqual(['iter', 'd1/kernel/momentum']);
    expect(specs.find((s) => s.name === 'iter')!.dtype).toBe('int32');
    // File size: 4 bytes per model parameter and per optimizer value (iter + 2 slots per trainable weight).
    const trainable = m.trainableWeights.reduce((k, w) => k + w.size, 0);
    expect(res.weightBytes).toBe(4 * (m.countParams() + 1 + 2 * trainable));

    const back = await loadModel(dir);
    expect(back.name).toBe(m.name);
    expect(back.layers.map(serializeLayer)).toEqual(m.layers.map(serializeLayer));
    back.getWeights().forEach((w, i) => expect(sameBits(w.data, m.getWeights()[i]!.data)).toBe(true));
    const xt = new Tensor(randArray(r, 9 * 4), [9, 4]);
    expect(sameBits(back.predict(xt).data, m.predict(xt).data)).toBe(true);
    expect(back.optimizer!.className).toBe('Adam');
    expect(back.optimizer!.getConfig()).toEqual(m.optimizer!.getConfig());
    expect(back.optimizer!.iterations).toBe(m.optimizer!.iterations);
    expect(back.evaluate(data.x, data.y)).toEqual(m.evaluate(data.x, data.y));
    // The directory's model.json may also be named directly.
    expect((await loadModel(res.modelPath)).layers.length).toBe(4);
  });

  // N epochs, save, load, M epochs == N + M epochs, bit for bit. No shuffling and no dropout: loading
  // draws initial weights from the global generator, which would shift the dropout masks.
  const noDropout = () =>
    new Sequential([
      new Dense({ units: 6, activation: 'relu', inputShape: [4], name: 'd1' }),
      new BatchNormalization({ name: 'bn' }),
      new Dense({ units: 3, activation: 'softmax', name: 'd2' }),
    ]);
  async function resumeMatches(makeOpt: () => SGD | Adam | Nadam, includeOptimizer = true): Promise<boolean> {
    setSeed(11);
    const a = noDropout();
    const init = a.getWeights();
    a.compile({ optimizer: makeOpt(), loss: 'sparseCategoricalCrossentropy' });
    const c = noDropout();
    c.setWeights(init);
    c.compile({ optimizer: makeOpt(), loss: 'sparseCategoricalCrossentropy' });

    setSeed(12);
    await c.fit(data.x, data.y, { epochs: 5, batchSize: 8, shuffle: false, verbose: 0 });
    setSeed(12);
    await a.fit(data.x, data.y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    const dir = fresh('resume');
    await a.save(dir, { includeOptimizer });
    const b = await loadModel(dir);
    if (!includeOptimizer) b.compile({ optimizer: makeOpt(), loss: 'sparseCategoricalCrossentropy' });
    await b.fit(data.x, data.y, { epochs: 3, batchSize: 8, shuffle: false, verbose: 0 });
    const wb = b.getWeights();
    return c.getWeights().every((w, i) => sameBits(w.data, wb[i]!.data));
  }

  it('resumes training exactly with Adam (amsgrad), Nadam and SGD momentum + a schedule', async () => {
    expect(await resumeMatches(() => new Adam({ learningRate: 0.01, amsgrad: true }))).toBe(true);
    expect(await resumeMatches(() => new Nadam({ learningRate: 0.005 }))).toBe(true);
    expect(
      await resumeMatches(() => new SGD({ momentum: 0.9, nesterov: true, learningRate: new schedules.ExponentialDecay({ initialLearningRate: 0.05, decaySteps: 3, decayRate: 0.5 }) })),
    ).toBe(true);
  });

  it('without the optimizer state, resuming does not match (the check above can fail)', async () => {
    expect(await resumeMatches(() => new Adam({ learningRate: 0.01 }), false)).toBe(false);
  });

  it('a second save replaces the weights file and removes the old one; loadWeights reads either kind of save', async () => {
    const m = bnModel();
    const dir = fresh('twice');
    const first = await m.save(dir);
    m.layers[0]!.setWeights(m.layers[0]!.getWeights().map((w) => new Tensor(randArray(r, w.size), w.shape)));
    const second = await m.save(dir);
    expect(second.weightsPath).not.toBe(first.weightsPath);
    expect(fs.readdirSync(dir).sort()).toEqual(['model.json', path.basename(second.weightsPath)]);

    const other = bnModel();
    await other.loadWeights(dir);
    other.getWeights().forEach((w, i) => expect(sameBits(w.data, m.getWeights()[i]!.data)).toBe(true));

    const wdir = fresh('weights-only');
    await saveWeights(m, wdir);
    expect(JSON.parse(fs.readFileSync(path.join(wdir, 'model.json'), 'utf8')).modelTopology).toBeNull();
    const third = bnModel();
    await third.loadWeights(wdir);
    third.getWeights().forEach((w, i) => expect(sameBits(w.data, m.getWeights()[i]!.data)).toBe(true));
    // Built again in code with other layer names: deepnode's files load by position, shapes checked.
    const renamed = new Sequential([
      new Dense({ units: 6, activation: 'relu', inputShape: [4] }), new BatchNormalization(), new Dropout({ rate: 0.2 }), new Dense({ units: 3 }),
    ]);
    await renamed.loadWeights(wdir);
    renamed.getWeights().forEach((w, i) => expect(sameBits(w.data, m.getWeights()[i]!.data)).toBe(true));
    const wider = new Sequential([
      new Dense({ units: 7, inputShape: [4] }), new BatchNormalization(), new Dropout({ rate: 0.2 }), new Dense({ units: 3 }),
    ]);
    const shapeErr = await rejection(wider.loadWeights(wdir));
    expect(shapeErr.code).toBe('ERR_SHAPE');
    expect(shapeErr.message).toMatch(/Dense "dense(_\d+)?": weight "dense(_\d+)?\/kernel" has shape \[4,7\], the file has \[4,6\]/);
    const err = await rejection(loadModel(wdir));
    expect(err.message).toMatch(/has no modelTopology.*loadWeights/);
  });
});

/** The rejection of a promise (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('crash safety', () => {
  const steps = ['mkdir', 'write:weights', 'rename:weights', 'weights-written', 'write:model.json', 'rename:model.json'];

  for (const step of steps) {
    it(`a crash at "${step}" leaves the previous save loadable and intact`, async () => {
      const m = bnModel();
      const dir = fresh('crash');
      await m.save(dir);
      const before = m.getWeights();
      m.setWeights(before.map((w) => new Tensor(randArray(r, w.size), w.shape)));
      setFaultHook((s) => {
        if (s === step || s.startsWith(`${step}.`)) throw new Error(`simulated crash at ${s}`);
      });
      const e = await rejection(m.save(dir));
      expect(e.message).toContain('simulated crash');
      setFaultHook(null);
      const back = await loadModel(dir);
      back.getWeights().forEach((w, i) => expect(sameBits(w.data, before[i]!.data)).toBe(true));
      // No temporary files are left behind, and the next save works and cleans up.
      expect(fs.readdirSync(dir).some((f) => f.startsWith('.deepnode-tmp-'))).toBe(false);
      await m.save(dir);
      expect(fs.readdirSync(dir).length).toBe(2);
      (await loadModel(dir)).getWeights().forEach((w, i) => expect(sameBits(w.data, m.getWeights()[i]!.data)).toBe(true));
    });
  }

  it('a crash after model.json was replaced (before clean-up) gives the new save', async () => {
    const m = bnModel();
    const dir = fresh('crash-late');
    await m.save(dir);
    m.setWeights(m.getWeights().map((w) => new Tensor(randArray(r, w.size), w.shape)));
    setFaultHook((s) => {
      if (s === 'model-json-written') throw new Error('simulated crash');
    });
    await rejection(m.save(dir));
    setFaultHook(null);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).length).toBe(2); // the old one is now stale
    (await loadModel(dir)).getWeights().forEach((w, i) => expect(sameBits(w.data, m.getWeights()[i]!.data)).toBe(true));
    // Temp files of a dead process are removed by the next save.
    fs.writeFileSync(path.join(dir, '.deepnode-tmp-999999999-abcdef-model.json'), 'partial');
    await m.save(dir);
    expect(fs.readdirSync(dir).length).toBe(2);
  });
});

describe('errors name the file and the problem', () => {
  async function saved(): Promise<{ dir: string; json: Record<string, any>; bin: string }> {
    const dir = fresh('err');
    const res = await bnModel().save(dir);
    return { dir, json: JSON.parse(fs.readFileSync(res.modelPath, 'utf8')), bin: res.weightsPath };
  }
  const writeJson = (dir: string, json: unknown) => fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));

  it('missing directory, missing model.json, missing weights file', async () => {
    const nowhere = path.join(root, 'does-not-exist');
    let e = await rejection(loadModel(nowhere));
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toContain(nowhere);
    const empty = fresh('empty');
    fs.mkdirSync(empty);
    e = await rejection(loadModel(empty));
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toContain(path.join(empty, 'model.json'));
    const { dir, bin } = await saved();
    fs.rmSync(bin);
    e = await rejection(loadModel(dir));
    expect(e.message).toContain(`${bin}: weights file named by`);
  });

  it('truncated or padded weights', async () => {
    const { dir, bin } = await saved();
    const bytes = fs.readFileSync(bin);
    fs.writeFileSync(bin, bytes.subarray(0, bytes.length - 4));
    let e = await rejection(loadModel(dir));
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toContain(bin);
    expect(e.message).toContain(`truncated: ${bytes.length - 4} bytes, but`);
    expect(e.message).toContain(`describes ${bytes.length} bytes`);
    fs.writeFileSync(bin, Buffer.concat([bytes, Buffer.alloc(8)]));
    e = await rejection(loadModel(dir));
    expect(e.message).toContain('corrupted');
  });

  it('corrupted JSON, wrong format, newer format version', async () => {
    const { dir, json } = await saved();
    const file = path.join(dir, 'model.json');
    fs.writeFileSync(file, JSON.stringify(json).slice(0, 100));
    let e = await rejection(loadModel(dir));
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON`));
    writeJson(dir, { ...json, format: 'graph-model' });
    e = await rejection(loadModel(dir));
    expect(e.message).toContain(`${file}: format "graph-model" is not supported`);
    writeJson(dir, { ...json, deepnode: { formatVersion: 99 } });
    e = await rejection(loadModel(dir));
    expect(e.message).toContain('written by a newer deepnode (format version 99)');
    writeJson(dir, { ...json, modelTopology: { class_name: 'Functional', config: {} } });
    e = await rejection(loadModel(dir));
    expect(e.message).toContain(`model class_name "Functional" is not supported`);
  });

  it('unknown layer class lists the known ones', async () => {
    const { dir, json } = await saved();
    json.modelTopology.config.layers[1].class_name = 'Conv2D';
    writeJson(dir, json);
    const e = await rejection(loadModel(dir));
    expect(e.code).toBe('ERR_UNKNOWN_ID');
    expect(e.message).toContain(path.join(dir, 'model.json'));
    expect(e.message).toContain('layer 1 (Conv2D "bn")');
    expect(e.message).toContain('"Conv2D"');
    expect(e.message).toContain("'BatchNormalization', 'Dense'");
  });

  it('hostile manifests: absurd shapes and escaping paths are refused before any allocation or read', async () => {
    const { dir, json } = await saved();
    const huge = structuredClone(json);
    huge.weightsManifest[0].weights[0].shape = [1e6, 1e6, 1e6];
    writeJson(dir, huge);
    let e = await rejection(loadModel(dir));
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toMatch(/weight "d1\/kernel" has shape \[1000000,1000000,1000000\].*refusing/);
    const neg = structuredClone(json);
    neg.weightsManifest[0].weights[0].shape = [-4, 6];
    writeJson(dir, neg);
    expect((await rejection(loadModel(dir))).message).toContain('non-negative integers');
    for (const p of ['../outside.bin', '/etc/passwd', 'sub/../../x.bin', 'C:\\x.bin']) {
      const hostile = structuredClone(json);
      hostile.weightsManifest[0].paths = [p];
      writeJson(dir, hostile);
      e = await rejection(loadModel(dir));
      expect(e.code).toBe('ERR_IO');
      expect(e.message).toContain(`refusing weight file path ${JSON.stringify(p)}`);
    }
    const dtype = structuredClone(json);
    dtype.weightsManifest[0].weights[0].dtype = 'complex64';
    writeJson(dir, dtype);
    expect((await rejection(loadModel(dir))).message).toContain(`dtype "complex64"`);
  });

  it('a hostile topology (Dense with 1e9 units) is refused before its weights are allocated', async () => {
    const { dir, json } = await saved();
    const dense = json.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'Dense');
    dense.config.units = 1e9;
    writeJson(dir, json);
    const before = process.memoryUsage().arrayBuffers;
    const e = await rejection(loadModel(dir));
    expect(e.code).toBe('ERR_SHAPE');
    expect(e.message).toContain(path.join(dir, 'model.json'));
    expect(e.message).toMatch(/would create weight "kernel" of shape \[\d+,1000000000\].*more than the \d+ floats left in the weights file/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('weights that do not fit the topology: missing, extra, wrong shape', async () => {
    const { dir, json } = await saved();
    const renamed = structuredClone(json);
    renamed.weightsManifest[0].weights[1].name = 'd1/bias_typo';
    writeJson(dir, renamed);
    let e = await rejection(loadModel(dir));
    expect(e.message).toContain('1 weight(s) of the model are missing from the file: d1/bias; the file has instead: d1/bias_typo');
    const reshaped = structuredClone(json);
    reshaped.modelTopology.config.layers[0].config.units = 5; // kernel [4,5] vs file [4,6]
    writeJson(dir, reshaped);
    e = await rejection(loadModel(dir));
    expect(e.code).toBe('ERR_SHAPE');
    expect(e.message).toContain('Dense "d1": weight "d1/kernel" has shape [4,5], the file has [4,6]');
  });
});
