/**
 * modelCheckpoint: Keras's filepath placeholders, saveBestOnly with min/max/auto modes, weights-only
 * checkpoints, batch-frequency saves, and checkpoints that reload into the model seen at that epoch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Sequential } from '../src/models/sequential';
import { Dense } from '../src/layers';
import { ModelCheckpoint, formatFilepath, lambda, modelCheckpoint } from '../src/callbacks';
import { loadModel } from '../src/saving';
import { Tensor } from '../src/tensor';
import { setSeed } from '../src/random';
import { caught, randArray, rng } from './support/reference';

const r = rng(82);
let root = '';
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-82-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function model(): Sequential {
  const m = new Sequential([new Dense({ units: 5, activation: 'relu', inputShape: [3] }), new Dense({ units: 2, activation: 'softmax' })]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}
const x = new Tensor(randArray(r, 30 * 3), [30, 3]);
const y = new Tensor(Float32Array.from({ length: 30 }, (_, i) => i % 2), [30]);
const vx = new Tensor(randArray(r, 10 * 3), [10, 3]);
const vy = new Tensor(Float32Array.from({ length: 10 }, (_, i) => (i + 1) % 2), [10]);

describe('filepath placeholders (Python str.format, as Keras)', () => {
  it('formats epoch and logged values', () => {
    expect(formatFilepath('ck/{epoch:02d}-{val_loss:.4f}', { epoch: 3, val_loss: 0.123456 })).toBe('ck/03-0.1235');
    expect(formatFilepath('w{epoch}', { epoch: 12 })).toBe('w12');
    expect(formatFilepath('{loss:.2e}', { loss: 0.0000123 })).toBe('1.23e-05');
    expect(formatFilepath('{accuracy:.1%}_{epoch:4d}', { accuracy: 0.875, epoch: 7 })).toBe('87.5%_   7');
    expect(formatFilepath('{loss:08.3f}', { loss: -1.5 })).toBe('-001.500');
  });

  it('rejects unknown names and malformed placeholders', () => {
    const e = caught(() => formatFilepath('{epoch}-{val_acc:.2f}', { epoch: 1, loss: 2 }));
    expect(e.code).toBe('ERR_VALUE');
    expect(e.message).toContain('uses {val_acc}, which is not logged; available: epoch, loss');
    expect(caught(() => modelCheckpoint('x/{epoch:zz}')).message).toContain('placeholder "{epoch:zz}"');
    expect(caught(() => modelCheckpoint('x', { monitor: 'weird', saveBestOnly: true })).message).toContain("pass mode: 'min' or mode: 'max'");
    expect(caught(() => modelCheckpoint('x', { saveFreq: 0 })).message).toContain('saveFreq must be an integer >= 1');
  });
});

describe('modelCheckpoint', () => {
  it('saves every epoch under the formatted name; each checkpoint reloads the weights of its epoch', async () => {
    setSeed(1);
    const m = model();
    const perEpoch: Tensor[][] = [];
    const ck = modelCheckpoint(path.join(root, 'every', 'ep{epoch:02d}'));
    await m.fit(x, y, { epochs: 3, batchSize: 10, verbose: 0, callbacks: [lambda({ onEpochEnd: () => void perEpoch.push(m.getWeights()) }), ck] });
    expect(fs.readdirSync(path.join(root, 'every')).sort()).toEqual(['ep01', 'ep02', 'ep03']);
    for (let e = 0; e < 3; e++) {
      const back = await loadModel(path.join(root, 'every', `ep0${e + 1}`));
      back.getWeights().forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(perEpoch[e]![i]!.data)));
      expect(back.optimizer!.iterations).toBe(3 * (e + 1)); // optimizer state saved with it
    }
  });

  it('saveBestOnly keeps the best epoch by val_loss (min) and by val_accuracy (max)', async () => {
    const m = model();
    const dir = path.join(root, 'best');
    const ck = new ModelCheckpoint(dir, { saveBestOnly: true });
    const acc = new ModelCheckpoint(path.join(root, 'best-acc-{epoch}'), { saveBestOnly: true, monitor: 'val_accuracy' });
    for (const c of [ck, acc]) {
      c.setModel(m);
      c.onTrainBegin();
    }
    const seq = [
      { val_loss: 0.5, val_accuracy: 0.6 },
      { val_loss: 0.4, val_accuracy: 0.55 },
      { val_loss: 0.6, val_accuracy: 0.7 },
      { val_loss: 0.3, val_accuracy: 0.7 },
    ];
    const snapshot: Record<number, Tensor[]> = {};
    for (let e = 0; e < seq.length; e++) {
      m.layers[1]!.setWeights(m.layers[1]!.getWeights().map((w) => new Tensor(w.data.map(() => e), w.shape)));
      snapshot[e] = m.getWeights();
      await ck.onEpochEnd(e, seq[e]!);
      await acc.onEpochEnd(e, seq[e]!);
    }
    expect(ck.saved).toEqual([dir, dir, dir]); // epochs 1, 2 and 4
    expect(ck.best).toBe(0.3);
    expect(acc.saved.map((p) => path.basename(p))).toEqual(['best-acc-1', 'best-acc-3']); // 0.7 again is not better
    const back = await loadModel(dir);
    expect(back.layers[1]!.getWeights()[1]!.data[0]).toBe(3);
    // A missing quantity saves anyway with a warning, as Keras 3 (model_checkpoint.py, _should_save_model).
    await ck.onEpochEnd(4, { loss: 0.1 });
    expect(ck.saved.length).toBe(4);
    expect(ck.best).toBe(0.3);
  });

  it('saveBestOnly during fit: the checkpoint holds the weights of the epoch with the lowest val_loss', async () => {
    setSeed(2);
    const m = model();
    const dir = path.join(root, 'fit-best');
    const seen: { loss: number; weights: Tensor[] }[] = [];
    await m.fit(x, y, {
      epochs: 6, batchSize: 5, verbose: 0, validationData: [vx, vy],
      callbacks: [lambda({ onEpochEnd: (_e, logs) => void seen.push({ loss: logs!.val_loss!, weights: m.getWeights() }) }), modelCheckpoint(dir, { saveBestOnly: true })],
    });
    const best = seen.reduce((a, b) => (b.loss < a.loss ? b : a));
    const back = await loadModel(dir);
    back.getWeights().forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(best.weights[i]!.data)));
    expect(back.evaluate(vx, vy).loss).toBeCloseTo(best.loss, 6);
  });

  it('saveWeightsOnly writes weights that model.loadWeights restores (and loadModel refuses)', async () => {
    const m = model();
    const dir = path.join(root, 'wo');
    await m.fit(x, y, { epochs: 1, verbose: 0, callbacks: [modelCheckpoint(dir, { saveWeightsOnly: true })] });
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(json.modelTopology).toBeNull();
    expect(json.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual(m.weights.map((w) => w.name));
    const other = model();
    await other.loadWeights(dir);
    other.getWeights().forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(m.getWeights()[i]!.data)));
    await expect(loadModel(dir)).rejects.toThrow(/no modelTopology/);
  });

  it('saveFreq in batches counts batches across epochs and fills {batch}', async () => {
    const m = model();
    const ck = modelCheckpoint(path.join(root, 'freq', 'e{epoch}-b{batch}'), { saveFreq: 4, saveWeightsOnly: true });
    await m.fit(x, y, { epochs: 2, batchSize: 5, verbose: 0, callbacks: [ck] }); // 6 batches per epoch
    expect(ck.saved.map((p) => path.basename(p))).toEqual(['e1-b4', 'e2-b2', 'e2-b6']);
  });
});
