/**
 * Behaviour that an audit against Keras 3's sources found different, each checked against the
 * Keras rule it now follows (file named beside each case) or an independent computation:
 * 'accuracy' chosen from shapes, fit's callbacks and onTrainEnd logs, ModelCheckpoint without
 * its monitored value, ReduceLROnPlateau's direction, a frozen weightless BatchNormalization on
 * the one-call path, integer seeds with distinct streams, sparse cross-entropy on unnormalised
 * probabilities, excludeFromWeightDecay as regular expressions on the weight's own name, a
 * schedule assigned to learningRate, verbose on evaluate/predict, and Keras's layer names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Sequential } from '../src/models/sequential';
import { setTrainPlanEnabled } from '../src/models/train_plan';
import { BatchNormalization, Dense, Dropout, PReLU } from '../src/layers';
import { Callback, csvLogger, gradientStats, lambda, modelCheckpoint, reduceLROnPlateau } from '../src/callbacks';
import { formatValue } from '../src/callbacks/progbar';
import { csvToTensors } from '../src/datasets/csv';
import { trainTestSplit } from '../src/datasets/arrays';
import { Loss, SparseCategoricalCrossentropy, CategoricalCrossentropy } from '../src/losses';
import { AdamW, SGD } from '../src/optimizers';
import { exponentialDecay } from '../src/optimizers/schedules';
import { RandomNormal } from '../src/initializers';
import { Random, setSeed } from '../src/random';
import { Tensor } from '../src/tensor';
import { backward } from '../src/autograd/engine';
import { caught, randArray, rng } from './support/reference';
import * as tf from '@tensorflow/tfjs';
import { BinaryAccuracy } from '../src/metrics';
import { loadModel } from '../src/saving';
import { l1, l2 } from '../src/regularizers';
import { quantize } from '../src/inference';
import * as ops from '../src/ops';
import { ActId } from '../src/backend/native';
import { setNumThreads } from '../src';
import { Layer, SymbolicShape, Variable } from '../src/layers/layer';
import { MeanSquaredError } from '../src/losses';
import { LearningRateSchedule } from '../src/optimizers/schedules/schedule';

const r = rng(43);
let root = '';
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-43-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function data(n: number, classes = 3): { x: Tensor; y: Tensor; oneHot: Tensor } {
  const x = randArray(r, n * 4);
  const y = new Float32Array(n);
  const oneHot = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    y[i] = (x[i * 4]! > 0 ? 1 : 0) + (x[i * 4 + 1]! > 0.3 ? 1 : 0);
    oneHot[i * classes + y[i]!] = 1;
  }
  return { x: new Tensor(x, [n, 4]), y: new Tensor(y, [n]), oneHot: new Tensor(oneHot, [n, classes]) };
}

function classifier(): Sequential {
  return new Sequential([new Dense({ units: 8, activation: 'relu', inputShape: [4] }), new Dense({ units: 3, activation: 'softmax' })]);
}

/** Fraction of rows whose argmax equals the label, computed here from predict's output. */
function argmaxAccuracy(pred: Tensor, labels: Float32Array): number {
  const cols = pred.shape[1]!;
  let hits = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (pred.data[i * cols + j]! > pred.data[i * cols + best]!) best = j;
    if (best === labels[i]) hits++;
  }
  return hits / labels.length;
}

describe("'accuracy' chooses its variant from the shapes (Keras 3: trainers/compile_utils.py get_metric)", () => {
  const wrap = (inner: Loss, name: string): Loss => ({ name, compute: (p, t) => inner.compute(p, t) });

  it('a custom loss with integer labels gets sparse accuracy, logged under the id given', async () => {
    setSeed(5);
    const { x, y } = data(60);
    const m = classifier();
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: wrap(new SparseCategoricalCrossentropy(), 'my_sparse_ce'), metrics: ['acc'] });
    const h = await m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    expect(Object.keys(h.history)).toContain('acc');
    expect(Object.keys(h.history)).not.toContain('accuracy');
    const ev = m.evaluate(x, y, { batchSize: 7 });
    expect(ev.acc).toBeCloseTo(argmaxAccuracy(m.predict(x), y.data), 12);
  });

  it('a custom loss with one-hot targets gets categorical accuracy', () => {
    const { x, y, oneHot } = data(40);
    const m = classifier();
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: wrap(new CategoricalCrossentropy(), 'my_ce'), metrics: ['accuracy'] });
    expect(m.evaluate(x, oneHot).accuracy).toBeCloseTo(argmaxAccuracy(m.predict(x), y.data), 12);
  });

  it('targets that fit no variant are a ShapeError naming the metric, not a native error', () => {
    const { x } = data(8);
    const m = classifier();
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: wrap(new CategoricalCrossentropy(), 'my_ce'), metrics: ['categoricalAccuracy'] });
    // 8 x 3 predictions against 8 x 2 targets: the loss would object too, so call the metric directly.
    const metric = (m as unknown as { compiled: { metrics: { update(p: Tensor, t: Tensor): void }[] } }).compiled.metrics[0]!;
    const e = caught(() => metric.update(m.predict(x), new Tensor(new Float32Array(16), [8, 2])));
    expect(e.code).toBe('ERR_SHAPE');
    expect(e.message).toContain('metric "categorical_accuracy"');
  });
});

describe('fit: callbacks (Keras 3: callbacks/callback_list.py, backend trainers)', () => {
  it('accepts one callback as well as a list, and onTrainEnd gets the last epoch logs', async () => {
    const { x, y } = data(32);
    const m = classifier();
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    let endLogs: Record<string, number> | null = null;
    let epochs = 0;
    const h = await m.fit(x, y, {
      epochs: 3,
      verbose: 0,
      validationSplit: 0.25,
      callbacks: lambda({ onEpochEnd: () => void epochs++, onTrainEnd: (logs) => void (endLogs = { ...logs }) }),
    });
    expect(epochs).toBe(3);
    const last = Object.fromEntries(Object.entries(h.history).map(([k, v]) => [k, v[v.length - 1]!]));
    expect(endLogs).toEqual(last);
    expect(Object.keys(endLogs!)).toContain('val_loss');
  });

  it('rejects what is not a callback with a ValueError naming its index, and a non-boolean shuffle', async () => {
    const { x, y } = data(8);
    const m = classifier();
    m.compile({ optimizer: new SGD(), loss: 'sparseCategoricalCrossentropy' });
    for (const [callbacks, where] of [[[null], 'callbacks[0]'], [[lambda({}), {}], 'callbacks[1]'], [42, 'callbacks']] as const) {
      const e = await m.fit(x, y, { verbose: 0, callbacks: callbacks as unknown as Callback[] }).catch((err: Error & { code?: string }) => err);
      expect((e as Error & { code?: string }).code).toBe('ERR_VALUE');
      expect((e as Error).message).toContain(`${where} must be a Callback`);
    }
    const e = await m.fit(x, y, { verbose: 0, shuffle: 'batch' as unknown as boolean }).catch((err: Error) => err);
    expect((e as Error).message).toContain('shuffle must be true or false, received "batch"');
  });
});

describe('callbacks that monitor a quantity', () => {
  it('ModelCheckpoint saveBestOnly saves every epoch when the quantity is not logged (Keras 3: model_checkpoint.py _should_save_model)', async () => {
    const { x, y } = data(16);
    const m = classifier();
    m.compile({ optimizer: new SGD(), loss: 'sparseCategoricalCrossentropy' });
    const ck = modelCheckpoint(path.join(root, 'ck_{epoch:02d}'), { saveBestOnly: true, monitor: 'val_loss' });
    const out = process.stdout.write.bind(process.stdout);
    const said: string[] = [];
    process.stdout.write = ((s: string) => (said.push(String(s)), true)) as typeof process.stdout.write;
    try {
      await m.fit(x, y, { epochs: 2, verbose: 0, callbacks: [ck] });
    } finally {
      process.stdout.write = out;
    }
    expect(ck.saved.map((d) => path.basename(d))).toEqual(['ck_01', 'ck_02']);
    expect(fs.existsSync(path.join(root, 'ck_02', 'model.json'))).toBe(true);
    expect(said.join('')).toContain('can save best model only with val_loss available, saving anyway');
  });

  it('ReduceLROnPlateau in auto mode refuses a name whose direction it cannot tell (Keras 3: monitor_callback.py)', () => {
    const e = caught(() => reduceLROnPlateau({ monitor: 'val_mean_io_u' }));
    expect(e.code).toBe('ERR_VALUE');
    expect(e.message).toContain("pass mode: 'min' or mode: 'max'");
    expect(() => reduceLROnPlateau({ monitor: 'val_mean_io_u', mode: 'max' })).not.toThrow();
    expect(() => reduceLROnPlateau({ monitor: 'val_accuracy' })).not.toThrow();
  });
});

describe('BatchNormalization without gamma and beta, frozen after a fit on the one-call path', () => {
  it('keeps its moving statistics, as the per-batch path does (Keras 3: if training and self.trainable)', async () => {
    for (const planned of [true, false]) {
      const was = setTrainPlanEnabled(planned);
      try {
        setSeed(9);
        const { x, y } = data(48);
        const bn = new BatchNormalization({ center: false, scale: false });
        const m = new Sequential([new Dense({ units: 6, activation: 'relu', inputShape: [4] }), bn, new Dense({ units: 3, activation: 'softmax' })]);
        m.compile({ optimizer: new SGD({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy' });
        await m.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
        const mean = bn.movingMean!.data.slice(), variance = bn.movingVariance!.data.slice();
        bn.trainable = false;
        await m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
        expect(Array.from(bn.movingMean!.data), `planned=${planned}`).toEqual(Array.from(mean));
        expect(Array.from(bn.movingVariance!.data), `planned=${planned}`).toEqual(Array.from(variance));
      } finally {
        setTrainPlanEnabled(was);
      }
    }
  });
});

describe('seeds are integers, and distinct integers give distinct streams (Keras 3: random/seed_generator.py)', () => {
  const draw = (seed: number) => {
    const g = new Random(seed);
    return [g.nextUint32(), g.nextUint32(), g.nextUint32()];
  };

  it('negative seeds and seeds past 2^32 no longer fold onto others', () => {
    const pairs: [number, number][] = [[0, -1], [1, -2], [1, 2 ** 32 + 1], [7, 7 - 2 ** 32], [123, 123 + 2 ** 40], [-5, -5 - 2 ** 33]];
    for (const [a, b] of pairs) expect(draw(a), `${a} vs ${b}`).not.toEqual(draw(b));
    expect(draw(-3)).toEqual(draw(-3));
    expect(draw(2 ** 52 + 3)).toEqual(draw(2 ** 52 + 3));
  });

  it('a non-integer seed is a ValueError naming the layer or initializer', () => {
    for (const [make, where] of [
      [() => new Dropout({ rate: 0.5, seed: 1.5 }), 'Dropout'],
      [() => new RandomNormal({ seed: 7.9 }), 'RandomNormal'],
      [() => new RandomNormal({ seed: 'x' as unknown as number }), 'RandomNormal'],
      [() => setSeed(2 ** 53), 'setSeed'],
      [() => new Random(0.5), 'Random'],
    ] as const) {
      const e = caught(make);
      expect(e.code, where).toBe('ERR_VALUE');
      expect(e.message, where).toContain(where);
      expect(e.message, where).toContain('seed must be an integer');
    }
  });
});

describe('sparse categorical cross-entropy on probabilities that do not sum to 1 (Keras 3: backend nn.sparse_categorical_crossentropy)', () => {
  it('renormalises each row: the value and gradient of -log(p[label] / sum(p)), as categorical cross-entropy on one-hot targets', () => {
    const p = Float32Array.from([0.2, 0.2, 0.2, 0.9, 0.05, 0.9, 0.1, 0.3, 0.5]);
    const labels = Float32Array.from([0, 2, 1]);
    const oneHot = Float32Array.from([1, 0, 0, 0, 0, 1, 0, 1, 0]);
    // By hand: mean of -log(0.2/0.6), -log(0.9/1.85), -log(0.3/0.9).
    const byHand = -(Math.log(0.2 / 0.6) + Math.log(0.9 / 1.85) + Math.log(0.3 / 0.9)) / 3;
    const run = (loss: Loss, target: Float32Array, shape: number[]) => {
      const pred = new Tensor(p.slice(), [3, 3]);
      pred.requiresGrad = true;
      const out = loss.compute(pred, new Tensor(target, shape));
      backward(out);
      return { value: out.data[0]!, grad: Array.from(pred.grad!) };
    };
    const sparse = run(new SparseCategoricalCrossentropy(), labels, [3]);
    const dense = run(new CategoricalCrossentropy(), oneHot, [3, 3]);
    expect(sparse.value).toBeCloseTo(byHand, 6);
    expect(dense.value).toBeCloseTo(byHand, 6);
    for (let i = 0; i < 9; i++) expect(sparse.grad[i]!).toBeCloseTo(dense.grad[i]!, 5);
    // Finite differences of the hand formula for one entry of each row.
    const f = (q: Float32Array) => {
      let s = 0;
      for (let row = 0; row < 3; row++) {
        const sum = q[row * 3]! + q[row * 3 + 1]! + q[row * 3 + 2]!;
        s -= Math.log(q[row * 3 + labels[row]!]! / sum);
      }
      return s / 3;
    };
    for (const i of [0, 4, 7, 8]) {
      const up = Float64Array.from(p), down = Float64Array.from(p);
      up[i]! += 1e-4;
      down[i]! -= 1e-4;
      const fd = (f(up as unknown as Float32Array) - f(down as unknown as Float32Array)) / 2e-4;
      expect(sparse.grad[i]!).toBeCloseTo(fd, 4);
    }
  });
});

describe('optimizers', () => {
  const segs = [
    { name: 'dense/kernel', offset: 0, size: 1 },
    { name: 'dense/bias', offset: 1, size: 1 },
  ];
  const decayed = (names: string[]): number[] => {
    const o = new AdamW({ learningRate: 0.1, weightDecay: 0.5 });
    o.excludeFromWeightDecay({ varNames: names });
    const w = Float32Array.from([1, 1]);
    o.apply(w, new Float32Array(2), segs);
    return Array.from(w);
  };

  it('excludeFromWeightDecay searches regular expressions in the weight\'s own name (Keras 3: base_optimizer.py)', () => {
    // Zero gradients: Adam moves nothing, so only the decay w -= w * 0.5 * 0.1 shows.
    expect(decayed(['bias$'])).toEqual([Math.fround(0.95), 1]);
    expect(decayed(['^k'])).toEqual([1, Math.fround(0.95)]);
    expect(decayed(['dense'])).toEqual([Math.fround(0.95), Math.fround(0.95)]);
    const o = new AdamW({ learningRate: 0.1 });
    expect(caught(() => o.excludeFromWeightDecay({ varNames: ['('] })).message).toContain('not a valid regular expression');
    o.apply(Float32Array.from([1, 1]), new Float32Array(2), segs);
    expect(caught(() => o.excludeFromWeightDecay({ varNames: ['bias'] })).code).toBe('ERR_STATE');
  });

  it('a schedule can be assigned to learningRate; a number cannot replace a schedule', () => {
    const o = new SGD({ learningRate: 0.1 });
    const w = Float32Array.from([1]);
    o.apply(w, Float32Array.from([0]), [{ name: 'w', offset: 0, size: 1 }]);
    const schedule = exponentialDecay({ initialLearningRate: 0.2, decaySteps: 1, decayRate: 0.5 });
    o.learningRate = schedule;
    expect(o.learningRateSchedule).toBe(schedule);
    expect(o.learningRate).toBeCloseTo(0.1, 12); // 0.2 * 0.5^1 at step 1
    expect(caught(() => (o.learningRate = 0.3)).code).toBe('ERR_STATE');
  });
});

describe('evaluate and predict accept verbose; layer names follow Keras', () => {
  it('verbose 0, 1 or 2 is accepted and anything else is a ValueError', () => {
    const { x, y } = data(8);
    const m = classifier();
    m.compile({ optimizer: new SGD(), loss: 'sparseCategoricalCrossentropy' });
    expect(m.evaluate(x, y, { verbose: 0 })).toEqual(m.evaluate(x, y));
    expect(Array.from(m.predict(x, { verbose: 2 }).data)).toEqual(Array.from(m.predict(x).data));
    expect(caught(() => m.evaluate(x, y, { verbose: 3 as 0 })).message).toContain('verbose must be 0, 1 or 2, received 3');
  });

  it("default names use Keras's to_snake_case (utils/naming.py)", () => {
    expect(new PReLU().name).toMatch(/^p_re_lu(_\d+)?$/);
    expect(new BatchNormalization().name).toMatch(/^batch_normalization(_\d+)?$/);
  });
});

describe('saving: metrics, weight-decay exclusions, tfjs class names, overlapping saves', () => {
  it('an explicit metric keeps its name and threshold through save and load; an own metric asks for compile: false', async () => {
    const { x } = data(24);
    const yb = new Tensor(Float32Array.from({ length: 24 }, (_, i) => i % 2), [24, 1]);
    const m = new Sequential([new Dense({ units: 4, activation: 'relu', inputShape: [4] }), new Dense({ units: 1, activation: 'sigmoid' })]);
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'binaryCrossentropy', metrics: [new BinaryAccuracy('bacc', 0.9), 'acc'] });
    await m.fit(x, yb, { epochs: 1, verbose: 0 });
    const dir = path.join(root, 'metrics');
    await m.save(dir);
    const back = await loadModel(dir);
    const metrics = back.compileConfig!.metrics;
    expect(metrics.map((mm) => mm.name)).toEqual(['bacc', 'acc']);
    expect((metrics[0] as BinaryAccuracy).threshold).toBe(0.9);
    expect(back.evaluate(x, yb)).toEqual(m.evaluate(x, yb));

    const own = { name: 'mine', update() {}, result: () => 1, reset() {} };
    m.compile({ optimizer: new SGD(), loss: 'binaryCrossentropy', metrics: [own] });
    await m.save(dir);
    const e = await loadModel(dir).catch((err: Error) => err);
    expect((e as Error).message).toContain('"mine"');
    expect((e as Error).message).toContain('{ compile: false }');
    expect((await loadModel(dir, { compile: false })).compileConfig).toBeNull();
  });

  it('excludeFromWeightDecay is saved with the optimizer: training resumes exactly after a load', async () => {
    setSeed(3);
    const { x, y } = data(64);
    const make = () => {
      const o = new AdamW({ learningRate: 0.05, weightDecay: 0.3 });
      o.excludeFromWeightDecay({ varNames: ['bias'] });
      return o;
    };
    const a = classifier();
    a.compile({ optimizer: make(), loss: 'sparseCategoricalCrossentropy' });
    await a.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const dir = path.join(root, 'adamw');
    await a.save(dir);
    const b = await loadModel(dir);
    await a.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    await b.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    expect(b.getWeights().map((w) => Array.from(w.data))).toEqual(a.getWeights().map((w) => Array.from(w.data)));
  });

  it('writes LeCun initializers and L1/L2 under the names tfjs knows, reads them back as they were, and tfjs loads them', async () => {
    const m = new Sequential([
      new Dense({ units: 5, activation: 'selu', kernelInitializer: 'lecunNormal', kernelRegularizer: l2(0.01), inputShape: [4] }),
      new Dense({ units: 3, kernelInitializer: 'lecunUniform', biasRegularizer: l1(0.02) }),
    ]);
    const dir = path.join(root, 'tfjs-names');
    await m.save(dir);
    const text = fs.readFileSync(path.join(dir, 'model.json'), 'utf8');
    for (const name of ['"LeCunNormal"', '"LeCunUniform"', '"L1L2"']) expect(text).toContain(name);
    for (const name of ['"LecunNormal"', '"L2"', '"L1"']) expect(text).not.toContain(name);
    const back = await loadModel(dir);
    expect(back.layers.map((l) => l.getConfig())).toEqual(m.layers.map((l) => l.getConfig()));
    const tm = await tf.loadLayersModel(tf.io.http('http://deepnode.test/m/model.json', {
      fetchFunc: async (url: string) => new Response(fs.readFileSync(path.join(dir, decodeURIComponent(new URL(url).pathname.replace(/^\/m\//, ''))))),
    }));
    const xs = randArray(r, 6 * 4);
    const theirs = tf.tidy(() => (tm.predict(tf.tensor(xs, [6, 4])) as tf.Tensor).dataSync());
    const ours = m.predict(new Tensor(xs, [6, 4])).data;
    for (let i = 0; i < ours.length; i++) expect(theirs[i]!).toBeCloseTo(ours[i]!, 5);
    tm.dispose();
  });

  it('two overlapping saves into one directory leave the later one, complete', async () => {
    const a = classifier(), b = classifier();
    a.build([null, 4]);
    b.build([null, 4]);
    const dir = path.join(root, 'overlap');
    await Promise.all([a.save(dir), b.save(dir), a.save(dir), b.save(dir)]);
    const back = await loadModel(dir);
    expect(back.getWeights().map((w) => Array.from(w.data))).toEqual(b.getWeights().map((w) => Array.from(w.data)));
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.bin'))).toHaveLength(1);
  });
});

describe('quantize refuses weights it cannot represent', () => {
  it('a NaN or infinite kernel value, or beyond float16 range, is a ValueError naming the layer', () => {
    for (const [value, dtype, code] of [[Number.NaN, 'int8', 'ERR_NON_FINITE'], [Infinity, 'int8', 'ERR_NON_FINITE'], [Number.NaN, 'float16', 'ERR_NON_FINITE'], [1e5, 'float16', 'ERR_VALUE']] as const) {
      const m = new Sequential([new Dense({ units: 3, inputShape: [4] })]);
      m.layers[0]!.weights[0]!.data[5] = value; // setWeights itself refuses non-finite weights
      const e = caught(() => quantize(m, { dtype }));
      expect(e.code, `${value} ${dtype}`).toBe(code);
      expect(e.message, `${value} ${dtype}`).toContain('kernel value at index 5');
    }
  });
});

describe('ops check what plain JavaScript can pass, and messages point to the fix', () => {
  it('matmul transposes must be booleans; an activation must be an ActId (exported as a value)', () => {
    const a = new Tensor(randArray(r, 6), [2, 3]);
    expect(caught(() => ops.matmul(a, a, 1 as unknown as boolean, true)).message).toContain('transA and transB must be booleans');
    expect(caught(() => ops.activation(a, 'relu' as unknown as ActId)).message).toContain('act must be an ActId');
    expect(Array.from(ops.activation(a, ActId.Relu).data)).toEqual(Array.from(a.data, (v) => Math.max(v, 0)));
    expect(caught(() => setSeed(1.5)).message).toMatch(/^setSeed: seed must be an integer/);
    const e = caught(() => new CategoricalCrossentropy().compute(new Tensor(new Float32Array(6), [2, 3]), new Tensor(Float32Array.of(0, 2), [2])));
    expect(e.message).toContain('use sparseCategoricalCrossentropy');
  });
});

describe('datasets and the remaining callbacks (third audit round)', () => {
  it('a numeric label column with a blank or a typo is an error naming the cell, not a renumbering', () => {
    const e = caught(() => csvToTensors('f,label\n1,2\n2,10\n3,\n4,1\n', 'demo.csv', { labelColumn: 'label' }));
    expect(e.code).toBe('ERR_VALUE');
    expect(e.message).toContain('line 4 column 2 ("label", the label): expected a number');
    expect(caught(() => csvToTensors('f,label\n1,1e39\n', 'demo.csv', { labelColumn: 'label' })).code).toBe('ERR_NON_FINITE');
    const named = csvToTensors('f,label\n1,setosa\n2,virginica\n3,setosa\n', 'iris.csv', { labelColumn: 'label' });
    expect(named.classes).toEqual(['setosa', 'virginica']);
    expect(Array.from(named.y!.data)).toEqual([0, 1, 0]);
  });

  it('a stratified split refuses a side too small to hold every class (scikit-learn StratifiedShuffleSplit)', () => {
    const x = Array.from({ length: 12 }, (_, i) => [i]);
    const y = Array.from({ length: 12 }, (_, i) => i % 3);
    expect(caught(() => trainTestSplit(x, y, { testSize: 2, stratify: true, seed: 1 })).message).toContain('the test side would get 2 sample(s) for 3 classes');
    expect(caught(() => trainTestSplit(x, y, { testSize: 0.9, stratify: true, seed: 1 })).message).toContain('the train side would get 1 sample(s) for 3 classes');
    const ok = trainTestSplit(x, y, { testSize: 3, stratify: true, seed: 1 });
    expect(Array.from(ok.yTest.data).sort()).toEqual([0, 1, 2]);
  });

  it('each batch gets a logs object of its own; gradientStats every N keeps one value per epoch for History and plotHistory', async () => {
    const { x, y } = data(12);
    const m = classifier();
    m.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const seen: Record<string, number>[] = [];
    const h = await m.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0, callbacks: [lambda({ onBatchEnd: (_b, logs) => void seen.push(logs) }), gradientStats({ every: 5 })] });
    expect(seen).toHaveLength(9);
    expect(new Set(seen).size).toBe(9);
    expect(seen[0]!.loss).not.toBe(seen[1]!.loss);
    const keys = Object.keys(h.history).filter((k) => k.startsWith('grad_norm/'));
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(h.history[k], k).toHaveLength(3);
  });

  it('progress and CSV values print as Keras does', async () => {
    expect([formatValue(1.2e-6), formatValue(-5e-4), formatValue(0.5), formatValue(Number.NaN), formatValue(1e-3)]).toEqual(['1.2000e-06', '-5.0000e-04', '0.5000', 'nan', '1.0000e-03']);
    const { x, y } = data(8);
    const m = classifier();
    m.compile({ optimizer: new SGD(), loss: 'sparseCategoricalCrossentropy' });
    for (const [epochs, header] of [[2, true], [1, false]] as const) {
      let text = '';
      await m.fit(x, y, { epochs, verbose: 2, stream: { write: (s: string) => ((text += s), true), isTTY: false } });
      expect(text.includes('Epoch 1/'), `epochs ${epochs}`).toBe(header);
    }
    const file = path.join(root, 'log.csv');
    const cb = csvLogger(file);
    cb.setModel(m);
    cb.onTrainBegin();
    cb.onEpochEnd(0, { loss: Number.NaN, accuracy: Infinity });
    expect(fs.readFileSync(file, 'utf8')).toBe('epoch,accuracy,loss\n0,inf,nan\n');
  });
});

describe('odd inputs get typed errors, not native ones, hangs or silent NaN (robustness probe)', () => {
  it('a weight beyond 2^31 - 1 floats is refused before anything is allocated', () => {
    const t0 = performance.now();
    const e = caught(() => new Sequential([new Dense({ units: 1e9, inputShape: [4] })]));
    expect(e.code).toBe('ERR_SHAPE');
    expect(e.message).toContain('weight "kernel" of shape [4,1000000000]');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('ragged, holey or too deep nested arrays are errors naming the index, not re-cut rows', () => {
    const m = classifier();
    expect(caught(() => m.predict([[1, 2, 3, 4], [5, 6, 7, 8, 9, 10], [11, 12]])).message).toContain('[1] has 6 entries, expected 4');
    // eslint-disable-next-line no-sparse-arrays
    expect(caught(() => m.predict([[1, 2, 3, 4], [5, , 7, 8]] as number[][])).code).toBe('ERR_DTYPE');
    expect(caught(() => m.predict([[1, 2, 3, 4], [5, 6, [7, 8], 9]] as unknown as number[][])).message).toContain('element [1][2] is an array');
    expect(caught(() => Tensor.from([[1, 'a']] as unknown as number[][])).code).toBe('ERR_DTYPE');
    expect(caught(() => Tensor.from([[1, 2], undefined] as unknown as number[][])).code).toBe('ERR_SHAPE');
    expect(Tensor.from([[[1, 2]], [[3, 4]]]).shape).toEqual([2, 1, 2]);
  });

  it('predict and evaluate refuse a non-finite output or loss from finite inputs', () => {
    const m = classifier();
    m.compile({ optimizer: new SGD(), loss: 'meanSquaredError' });
    const big = new Tensor(new Float32Array(8).fill(3e38), [2, 4]);
    expect(caught(() => m.predict(big)).code).toBe('ERR_NON_FINITE');
    expect(caught(() => m.evaluate(big, new Tensor(new Float32Array(6), [2, 3]))).code).toBe('ERR_NON_FINITE');
  });

  it('setWeights refuses non-finite values and entries that are not tensors', () => {
    const m = classifier();
    m.build([null, 4]);
    const w = m.layers[0]!.getWeights();
    w[0]!.data[3] = Number.NaN;
    const e = caught(() => m.layers[0]!.setWeights(w));
    expect(e.code).toBe('ERR_NON_FINITE');
    expect(e.message).toContain('holds NaN at index 3');
    expect(caught(() => m.layers[0]!.setWeights(w.map((t) => t.toArray()) as unknown as Tensor[])).code).toBe('ERR_VALUE');
  });

  it('a batch larger than the one-call plan holds, a replaced data buffer, a zero-width input, thread counts, empty products', async () => {
    const { x, y } = data(5);
    const m = classifier();
    m.compile({ optimizer: new SGD(), loss: 'sparseCategoricalCrossentropy' });
    await expect(m.fit(x, y, { batchSize: 2 ** 20 + 1, verbose: 0 })).resolves.toBeTruthy();
    const broken = new Tensor(new Float32Array(20), [5, 4]);
    broken.data = new Float32Array(3);
    expect(caught(() => m.predict(broken)).code).toBe('ERR_SHAPE');
    expect(caught(() => new Sequential([new Dense({ units: 3 })]).predict(new Tensor(new Float32Array(0), [2, 0]))).message).toContain('feature axis of size 0');
    expect(caught(() => setNumThreads(1e6)).message).toContain('from 1 to 1024');
    const z = ops.matmul(new Tensor(new Float32Array(0), [2, 0]), new Tensor(new Float32Array(0), [0, 3]));
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('one fit at a time per model', () => {
  it('a second fit while one runs is a StateError; after it ends, or fails, fit runs again', async () => {
    const { x, y } = data(64);
    const m = classifier();
    m.compile({ optimizer: new SGD(), loss: 'sparseCategoricalCrossentropy' });
    const first = m.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0 });
    const second = await m.fit(x, y, { verbose: 0 }).catch((e: Error & { code?: string }) => e);
    expect((second as Error & { code?: string }).code).toBe('ERR_STATE');
    expect((second as Error).message).toContain('fit() is already running');
    await first;
    await expect(m.fit(x, y, { batchSize: 0, verbose: 0 })).rejects.toMatchObject({ code: 'ERR_VALUE' });
    await expect(m.fit(x, y, { verbose: 0 })).resolves.toBeTruthy();
  });
});

describe('extending the library: what cannot work says so (extensibility audit)', () => {
  class Holder extends Layer {
    inner = new Dense({ units: 2 });
    build(shape: SymbolicShape): void {
      this.inner.build(shape);
      this.built = true;
    }
    call(x: Tensor): Tensor {
      return this.inner.call(x);
    }
    computeOutputShape(shape: SymbolicShape): SymbolicShape {
      return [...shape.slice(0, -1), 2];
    }
  }

  it('a layer holding another layer is refused at build (its weights would never train or be saved)', () => {
    const e = caught(() => new Sequential([new Holder({ inputShape: [4] }), new Dense({ units: 3 })]));
    expect(e.code).toBe('ERR_VALUE');
    expect(e.message).toContain('in its property "inner"; deepnode does not track the weights of nested layers');
  });

  it('a layer without computeOutputShape, and addWeight with a string initializer (Keras add_weight)', () => {
    class NoShape extends Layer {
      build(): void {
        this.built = true;
      }
      call(x: Tensor): Tensor {
        return x;
      }
    }
    expect(caught(() => new Sequential([new (NoShape as unknown as new (a: object) => Layer)({ inputShape: [4] })])).message).toContain('has no computeOutputShape');
    class Scale extends Layer {
      w: Variable | null = null;
      build(shape: SymbolicShape): void {
        this.w = this.addWeight('w', [shape[shape.length - 1] as number], 'ones');
        this.built = true;
      }
      call(x: Tensor): Tensor {
        return x;
      }
      computeOutputShape(shape: SymbolicShape): SymbolicShape {
        return shape;
      }
    }
    const s = new Scale({ inputShape: [3] });
    new Sequential([s]);
    expect(Array.from(s.w!.data)).toEqual([1, 1, 1]);
  });

  it('a loss subclass or a schedule of ones own is not rebuilt as something else on load: the error says { compile: false }', async () => {
    class TenTimes extends MeanSquaredError {
      override compute(p: Tensor, t: Tensor): Tensor {
        return ops.mulScalar(super.compute(p, t), 10);
      }
    }
    const { x } = data(8);
    const y3 = new Tensor(new Float32Array(24), [8, 3]);
    const m = classifier();
    m.compile({ optimizer: new SGD(), loss: new TenTimes() });
    m.evaluate(x, y3);
    const dir = path.join(root, 'custom-loss');
    await m.save(dir);
    const e = await loadModel(dir).catch((err: Error) => err);
    expect((e as Error).message).toContain('a loss of your own ("mean_squared_error")');
    expect((e as Error).message).toContain('{ compile: false }');
    expect((await loadModel(dir, { compile: false })).predict(x).data).toEqual(m.predict(x).data);

    class Halving extends LearningRateSchedule {
      call(step: number): number {
        return 0.1 / 2 ** step;
      }
      getConfig(): Record<string, unknown> {
        return {};
      }
    }
    m.compile({ optimizer: new SGD({ learningRate: new Halving() }), loss: 'meanSquaredError' });
    await m.save(dir);
    const e2 = await loadModel(dir).catch((err: Error) => err);
    expect((e2 as Error).message).toContain('learning-rate schedule of your own cannot be rebuilt');
  });
});

describe('ops.add and ops.mul broadcast a per-feature vector (numpy/Keras), with gradients', () => {
  it('[3,4] + [4] then * [1,4]: values and the gradients of sum(...) by hand', () => {
    const leaf = (d: number[], shape: number[]) => {
      const t = new Tensor(Float32Array.from(d), shape);
      t.requiresGrad = true;
      return t;
    };
    const av = Array.from({ length: 12 }, (_, i) => (i - 5) * 0.25), bv = [0.5, -1, 2, 0.25], cv = [1.5, -0.5, 0.75, 2];
    const a = leaf(av, [3, 4]), b = leaf(bv, [4]), c = leaf(cv, [1, 4]);
    const y = ops.mul(ops.add(a, b), c);
    expect(y.shape).toEqual([3, 4]);
    for (let i = 0; i < 12; i++) expect(y.data[i]).toBeCloseTo((av[i]! + bv[i % 4]!) * cv[i % 4]!, 6);
    backward(ops.sum(y));
    for (let i = 0; i < 12; i++) expect(a.grad![i]).toBeCloseTo(cv[i % 4]!, 6);
    for (let j = 0; j < 4; j++) expect(b.grad![j]).toBeCloseTo(3 * cv[j]!, 6);
    for (let j = 0; j < 4; j++) expect(c.grad![j]).toBeCloseTo([0, 1, 2].reduce((s, r) => s + av[r * 4 + j]! + bv[j]!, 0), 5);
    // The vector on the left works the same; shapes that do not line up are still a ShapeError.
    expect(Array.from(ops.add(new Tensor(Float32Array.from(bv), [4]), new Tensor(Float32Array.from(av), [3, 4])).data)).toEqual(av.map((v, i) => Math.fround(v + bv[i % 4]!)));
    expect(caught(() => ops.add(new Tensor(new Float32Array(6), [2, 3]), new Tensor(new Float32Array(2), [2]))).message).toContain('do not broadcast');
  });
});
