/**
 * Callbacks with Keras 3 semantics. Each is driven through a fake model with synthetic log
 * sequences whose expected outcome is worked out by hand from keras/src/callbacks/*.py (noted
 * beside each case), then EarlyStopping / ReduceLROnPlateau / LearningRateScheduler run inside a
 * real Sequential.fit.
 */
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tensor } from '../src/tensor';
import * as callbacks from '../src/callbacks';
import { Callback, Logs, TrainingModel, TrainingOptimizer } from '../src/callbacks';
import { exponentialDecay } from '../src/optimizers/schedules';
import { DeepnodeError, IOError, StateError, ValueError } from '../src/errors';
import { Sequential } from '../src/models/sequential';
import * as layers from '../src/layers';
import * as optimizers from '../src/optimizers';
import { setSeed } from '../src/random';

class FakeModel implements TrainingModel {
  stopTraining = false;
  optimizer: TrainingOptimizer | null;
  /** One scalar weight; the driver sets it to the epoch number before each epoch ends. */
  w = new Tensor(Float32Array.of(-1), [1]);
  constructor(lr: TrainingOptimizer['learningRate'] = 1) {
    this.optimizer = { learningRate: lr };
  }
  getWeights(): Tensor[] {
    return [new Tensor(Float32Array.from(this.w.data), [1])];
  }
  setWeights(values: readonly Tensor[]): void {
    this.w = new Tensor(Float32Array.from(values[0]!.data), [1]);
  }
}

interface Run {
  /** Epochs that ran (training stops after the epoch that set stopTraining). */
  epochs: number;
  /** learning_rate as each epoch's logs ended up, and the optimizer's rate after each epoch. */
  logged: number[];
  after: number[];
  model: FakeModel;
}

/** A fit loop in miniature: values[e] is the monitored quantity at the end of epoch e. */
function drive(cb: Callback, values: (number | undefined)[], key = 'val_loss', model = new FakeModel()): Run {
  cb.setModel(model);
  cb.setParams({ epochs: values.length, steps: 1, samples: 1, batchSize: 1, verbose: 0 });
  model.stopTraining = false;
  void cb.onTrainBegin({});
  const run: Run = { epochs: 0, logged: [], after: [], model };
  for (let e = 0; e < values.length && !model.stopTraining; e++) {
    void cb.onEpochBegin(e, {});
    model.w = new Tensor(Float32Array.of(e), [1]);
    const logs: Logs = { loss: 0 };
    if (typeof model.optimizer?.learningRate === 'number') logs.learning_rate = model.optimizer.learningRate;
    if (values[e] !== undefined) logs[key] = values[e]!;
    void cb.onEpochEnd(e, logs);
    run.epochs++;
    run.logged.push(logs.learning_rate!);
    run.after.push(model.optimizer?.learningRate as number);
  }
  void cb.onTrainEnd({});
  return run;
}

let stdout: MockInstance<typeof process.stdout.write>;
beforeEach(() => {
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterEach(() => {
  stdout.mockRestore();
});

describe('earlyStopping', () => {
  it('patience 0 stops at the first epoch without improvement', () => {
    const cb = callbacks.earlyStopping();
    expect(drive(cb, [1, 0.9, 0.95, 0.8]).epochs).toBe(3);
    expect(cb.stoppedEpoch).toBe(2);
    expect(cb.best).toBe(0.9);
  });

  it('patience counts consecutive epochs without improvement; an improvement resets it', () => {
    expect(drive(callbacks.earlyStopping({ patience: 2 }), [1, 0.9, 0.95, 0.92, 0.85, 0.8]).epochs).toBe(4);
    expect(drive(callbacks.earlyStopping({ patience: 2 }), [1, 0.9, 0.95, 0.85, 0.9, 0.91, 0.7]).epochs).toBe(6);
  });

  it('minDelta: an improvement must exceed it strictly; its sign is ignored', () => {
    // 0.75 + 0.25 < 1 is false: no improvement.
    expect(drive(callbacks.earlyStopping({ minDelta: 0.25, patience: 1 }), [1, 0.75, 0.5]).epochs).toBe(2);
    expect(drive(callbacks.earlyStopping({ minDelta: -0.25, patience: 1 }), [1, 0.75, 0.5]).epochs).toBe(2);
    const cb = callbacks.earlyStopping({ minDelta: 0.25, patience: 2 });
    expect(drive(cb, [1, 0.75, 0.5, 0.4, 0.3]).epochs).toBe(5); // 0.5 improves on 1; 0.4, 0.3 do not
    expect(cb.best).toBe(0.5);
    expect(cb.stoppedEpoch).toBe(4);
  });

  it("mode 'auto' maximizes accuracy and minimizes losses", () => {
    expect(drive(callbacks.earlyStopping({ monitor: 'accuracy' }), [0.5, 0.6, 0.55], 'accuracy').epochs).toBe(3);
    expect(drive(callbacks.earlyStopping({ monitor: 'val_accuracy' }), [0.5, 0.6, 0.55], 'val_accuracy').epochs).toBe(3);
    expect(drive(callbacks.earlyStopping({ monitor: 'accuracy', mode: 'min' }), [0.5, 0.6, 0.55], 'accuracy').epochs).toBe(2);
    expect(drive(callbacks.earlyStopping({ monitor: 'loss' }), [0.5, 0.6, 0.55], 'loss').epochs).toBe(2);
    expect(drive(callbacks.earlyStopping({ monitor: 'val_mae', mode: 'auto' }), [0.5, 0.6], 'val_mae').epochs).toBe(2);
    expect(() => callbacks.earlyStopping({ monitor: 'zebra' })).toThrow(/cannot tell whether monitor="zebra" should be minimized or maximized/);
    expect(drive(callbacks.earlyStopping({ monitor: 'zebra', mode: 'max' }), [1, 2, 1], 'zebra').epochs).toBe(3);
  });

  it('never stops at epoch 0, even when the first value is NaN', () => {
    expect(drive(callbacks.earlyStopping(), [NaN, NaN, NaN]).epochs).toBe(2);
  });

  it('baseline: wait only resets once the baseline is beaten', () => {
    // Keras 3: wait grows every epoch; improvements that do not beat 0.5 do not reset it.
    expect(drive(callbacks.earlyStopping({ patience: 2, baseline: 0.5 }), [0.9, 0.8, 0.85, 0.7]).epochs).toBe(3);
    expect(drive(callbacks.earlyStopping({ patience: 2 }), [0.9, 0.8, 0.85, 0.7]).epochs).toBe(4);
    // Improving every epoch never stops, baseline or not.
    expect(drive(callbacks.earlyStopping({ patience: 1, baseline: 0.5 }), [0.9, 0.8, 0.7, 0.6, 0.55]).epochs).toBe(5);
    // Beating the baseline at epoch 1 resets wait: two more flat epochs are needed.
    expect(drive(callbacks.earlyStopping({ patience: 2, baseline: 0.5 }), [0.9, 0.4, 0.45, 0.46, 0.47]).epochs).toBe(4);
  });

  it('restoreBestWeights puts back the best epoch, whether training stopped or not', () => {
    const cb = callbacks.earlyStopping({ patience: 2, restoreBestWeights: true });
    const run = drive(cb, [1, 0.5, 0.7, 0.8, 0.9]);
    expect(run.epochs).toBe(4);
    expect(cb.bestEpoch).toBe(1);
    expect(run.model.w.data[0]).toBe(1);
    const ran = drive(callbacks.earlyStopping({ patience: 5, restoreBestWeights: true }), [1, 0.5, 0.7]);
    expect(ran.epochs).toBe(3);
    expect(ran.model.w.data[0]).toBe(1);
    // Without it the last weights stay.
    expect(drive(callbacks.earlyStopping({ patience: 2 }), [1, 0.5, 0.7, 0.8]).model.w.data[0]).toBe(3);
    // Never improving (NaN): the first monitored epoch's weights are the ones kept.
    const nan = drive(callbacks.earlyStopping({ patience: 1, restoreBestWeights: true, startFromEpoch: 1 }), [NaN, NaN, NaN]);
    expect(nan.epochs).toBe(2);
    expect(nan.model.w.data[0]).toBe(1);
  });

  it('startFromEpoch ignores the warm-up epochs', () => {
    expect(drive(callbacks.earlyStopping({ patience: 1 }), [0.1, 0.9, 0.8, 0.85, 0.9]).epochs).toBe(2);
    const cb = callbacks.earlyStopping({ patience: 1, startFromEpoch: 2 });
    expect(drive(cb, [0.1, 0.9, 0.8, 0.85, 0.9]).epochs).toBe(4);
    expect(cb.best).toBe(0.8);
  });

  it('a missing monitor warns once and never stops; an instance can be reused', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const cb = callbacks.earlyStopping();
    expect(drive(cb, [undefined, undefined, undefined]).epochs).toBe(3);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/'val_loss' which is not available. Available metrics are: loss,learning_rate/);
    warn.mockRestore();
    expect(drive(cb, [1, 2]).epochs).toBe(2);
    expect(drive(cb, [5, 4, 3]).epochs).toBe(3); // best from the previous run is forgotten
  });

  it('validates its options', () => {
    expect(() => callbacks.earlyStopping({ patience: -1 })).toThrow(/EarlyStopping: patience must be an integer >= 0, received patience=-1/);
    expect(() => callbacks.earlyStopping({ mode: 'up' as never })).toThrow(/Unknown EarlyStopping mode: received "up"/);
    expect(() => callbacks.earlyStopping({ minDelta: NaN })).toThrow(/minDelta must be a finite number, received minDelta=NaN/);
    expect(() => callbacks.earlyStopping({ baseline: Infinity })).toThrow(/received baseline=Infinity/);
    expect(() => callbacks.earlyStopping({ restoreBestWeights: 1 as never })).toThrow(/restoreBestWeights must be a boolean, received restoreBestWeights=1/);
    expect(() => callbacks.earlyStopping({ monitor: '' })).toThrow(/received monitor=""/);
    expect(() => callbacks.earlyStopping({ startFromEpoch: 0.5 })).toThrow(ValueError);
  });
});

describe('reduceLROnPlateau', () => {
  it('divides the rate after `patience` flat epochs and logs the rate each epoch used', () => {
    const run = drive(callbacks.reduceLROnPlateau({ patience: 2, factor: 0.5 }), [1, 1, 1, 1, 1, 1]);
    expect(run.logged).toEqual([1, 1, 1, 0.5, 0.5, 0.25]);
    expect(run.after).toEqual([1, 1, 0.5, 0.5, 0.25, 0.25]);
  });

  it('minDelta: an improvement must beat best - minDelta strictly', () => {
    const run = drive(callbacks.reduceLROnPlateau({ patience: 1, factor: 0.5, minDelta: 0.25 }), [1, 0.75, 0.5, 0.5]);
    expect(run.after).toEqual([1, 0.5, 0.5, 0.25]);
    // The default minDelta 1e-4 ignores tiny gains.
    expect(drive(callbacks.reduceLROnPlateau({ patience: 1 }), [1, 0.99995]).after).toEqual([1, 0.1]);
  });

  it('cooldown: epochs after a reduction do not count towards patience', () => {
    const run = drive(callbacks.reduceLROnPlateau({ patience: 1, factor: 0.5, cooldown: 2 }), Array(8).fill(1));
    expect(run.after).toEqual([1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625]);
    const none = drive(callbacks.reduceLROnPlateau({ patience: 1, factor: 0.5 }), Array(4).fill(1));
    expect(none.after).toEqual([1, 0.5, 0.25, 0.125]);
  });

  it('minLr bounds the rate', () => {
    const run = drive(callbacks.reduceLROnPlateau({ patience: 0, factor: 0.1, minLr: 0.05 }), [1, 1, 1, 1]);
    expect(run.after[1]).toBeCloseTo(0.1, 15);
    expect(run.after.slice(2)).toEqual([0.05, 0.05]);
  });

  it("mode 'auto' maximizes accuracy", () => {
    const acc = drive(callbacks.reduceLROnPlateau({ monitor: 'val_accuracy', patience: 1, factor: 0.5 }), [0.5, 0.6, 0.6, 0.7], 'val_accuracy');
    expect(acc.after).toEqual([1, 1, 0.5, 0.5]);
    const min = drive(callbacks.reduceLROnPlateau({ monitor: 'val_accuracy', mode: 'min', patience: 1, factor: 0.5 }), [0.5, 0.6, 0.6, 0.7], 'val_accuracy');
    expect(min.after).toEqual([1, 0.5, 0.25, 0.125]);
  });

  it('refuses an optimizer whose rate is a schedule, or no optimizer', () => {
    const sched = new FakeModel(exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 }));
    expect(() => drive(callbacks.reduceLROnPlateau(), [1], 'val_loss', sched)).toThrow(StateError);
    expect(() => drive(callbacks.reduceLROnPlateau(), [1], 'val_loss', sched)).toThrow(/learning rate is a ExponentialDecay schedule, which a callback cannot change/);
    const bare = new FakeModel();
    bare.optimizer = null;
    expect(() => drive(callbacks.reduceLROnPlateau(), [1], 'val_loss', bare)).toThrow(/the model has no optimizer/);
  });

  it('validates its options', () => {
    expect(() => callbacks.reduceLROnPlateau({ factor: 1 })).toThrow(/ReduceLROnPlateau: factor must be in \(0, 1\) .*received factor=1/);
    expect(() => callbacks.reduceLROnPlateau({ cooldown: -2 })).toThrow(/received cooldown=-2/);
    expect(() => callbacks.reduceLROnPlateau({ minLr: -1 })).toThrow(/minLr must be a finite number >= 0, received minLr=-1/);
    expect(() => callbacks.reduceLROnPlateau({ minDelta: -1e-4 })).toThrow(/received minDelta=-0.0001/);
  });
});

describe('learningRateScheduler', () => {
  it('sets schedule(epoch, lr) at each epoch start and logs it (Keras docstring example)', () => {
    const model = new FakeModel(0.01);
    const run = drive(callbacks.learningRateScheduler((epoch, lr) => (epoch < 10 ? lr : lr * Math.exp(-0.1))), Array(15).fill(0), 'x', model);
    expect(Math.round((model.optimizer!.learningRate as number) * 1e5) / 1e5).toBe(0.00607);
    expect(run.logged.slice(9, 12)).toEqual([0.01, 0.01 * Math.exp(-0.1), 0.01 * Math.exp(-0.1) * Math.exp(-0.1)]);
  });

  it('passes the epoch index and current rate, and rejects a bad return value', () => {
    const seen: [number, number][] = [];
    drive(callbacks.learningRateScheduler((e, lr) => (seen.push([e, lr]), lr / 2)), [0, 0, 0], 'x', new FakeModel(0.8));
    expect(seen).toEqual([[0, 0.8], [1, 0.4], [2, 0.2]]);
    expect(() => drive(callbacks.learningRateScheduler(() => NaN), [0])).toThrow(/returned NaN at epoch 0; expected a finite number >= 0/);
    expect(() => drive(callbacks.learningRateScheduler(() => '0.1' as never), [0])).toThrow(/returned "0.1"/);
    expect(() => callbacks.learningRateScheduler(0.1 as never)).toThrow(/schedule must be a function .* received 0.1/);
  });
});

describe('terminateOnNaN', () => {
  it('stops on a NaN or infinite loss after a batch, or throws with raiseError', () => {
    const model = new FakeModel();
    const cb = callbacks.terminateOnNaN();
    cb.setModel(model);
    cb.onBatchEnd(0, { loss: 1 });
    cb.onBatchEnd(1, {});
    expect(model.stopTraining).toBe(false);
    cb.onBatchEnd(2, { loss: NaN });
    expect(model.stopTraining).toBe(true);
    expect(stdout).toHaveBeenCalledWith('Batch 2: Invalid loss, terminating training\n');
    model.stopTraining = false;
    cb.onBatchEnd(3, { loss: -Infinity });
    expect(model.stopTraining).toBe(true);
    const strict = callbacks.terminateOnNaN({ raiseError: true });
    strict.setModel(new FakeModel());
    let err: unknown;
    try {
      strict.onBatchEnd(7, { loss: Infinity });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DeepnodeError);
    expect((err as DeepnodeError).code).toBe('ERR_NON_FINITE');
    expect((err as Error).message).toMatch(/at batch 7, loss=Infinity/);
  });
});

describe('csvLogger', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-csv-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function epochs(cb: Callback, rows: Logs[], check?: (e: number) => void): void {
    cb.setModel(new FakeModel());
    void cb.onTrainBegin({});
    rows.forEach((logs, e) => {
      void cb.onEpochEnd(e, { ...logs });
      check?.(e);
    });
    void cb.onTrainEnd({});
  }

  it('writes a sorted header and one complete line per epoch as it goes', () => {
    const file = path.join(dir, 'log.csv');
    const rows = [
      { val_loss: 0.5, loss: 0.75, accuracy: 0.625, learning_rate: 0.01 },
      { val_loss: 0.25, loss: 0.5, accuracy: 0.875, learning_rate: 0.001 },
    ];
    epochs(callbacks.csvLogger(file), rows, (e) => {
      const text = fs.readFileSync(file, 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      expect(text.split('\n').length - 1).toBe(e + 2);
    });
    expect(fs.readFileSync(file, 'utf8')).toBe('epoch,accuracy,learning_rate,loss,val_loss\n0,0.625,0.01,0.75,0.5\n1,0.875,0.001,0.5,0.25\n');
  });

  it('append keeps the file and adds no second header; the default overwrites', () => {
    const file = path.join(dir, 'log.csv');
    epochs(callbacks.csvLogger(file), [{ loss: 1 }]);
    epochs(callbacks.csvLogger(file, { append: true }), [{ loss: 0.5 }, { loss: 0.25 }]);
    expect(fs.readFileSync(file, 'utf8')).toBe('epoch,loss\n0,1\n0,0.5\n1,0.25\n');
    epochs(callbacks.csvLogger(file), [{ loss: 2 }]);
    expect(fs.readFileSync(file, 'utf8')).toBe('epoch,loss\n0,2\n');
    const fresh = path.join(dir, 'new.csv');
    epochs(callbacks.csvLogger(fresh, { append: true }), [{ loss: 3 }]);
    expect(fs.readFileSync(fresh, 'utf8')).toBe('epoch,loss\n0,3\n');
  });

  it('separator, NA for a missing key, quoting, non-finite values', () => {
    const file = path.join(dir, 'log.tsv');
    epochs(callbacks.csvLogger(file, { separator: ';' }), [{ 'a;b': 1, loss: NaN }, { loss: Infinity }]);
    // Non-finite values as Python's str writes them (Keras's csv module): nan, inf.
    expect(fs.readFileSync(file, 'utf8')).toBe('epoch;"a;b";loss\n0;1;nan\n1;NA;inf\n');
  });

  it('reports files it cannot write and rejects bad options', () => {
    const cb: Callback = callbacks.csvLogger(path.join(dir, 'missing', 'log.csv'));
    cb.setModel(new FakeModel());
    expect(() => cb.onTrainBegin({})).toThrow(IOError);
    expect(() => callbacks.csvLogger('')).toThrow(/filename must be a non-empty path, received ""/);
    expect(() => callbacks.csvLogger('x.csv', { separator: '::' })).toThrow(/separator must be one character .* received separator="::"/);
    expect(() => callbacks.csvLogger('x.csv', { append: 'yes' as never })).toThrow(/append must be a boolean, received append="yes"/);
  });
});

describe('inside Sequential.fit', () => {
  function problem() {
    setSeed(7);
    const n = 64;
    const x = new Float32Array(n * 3);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 3; j++) x[i * 3 + j] = Math.sin(i * 1.7 + j * 2.3);
      y[i] = 0.5 * x[i * 3]! - 1.5 * x[i * 3 + 1]! + 0.25 * x[i * 3 + 2]! + 0.1;
    }
    const model = new Sequential([layers.dense({ units: 1, inputShape: [3] })]);
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.05 }), loss: 'mse' });
    return { model, x: new Tensor(x, [n, 3]), y: new Tensor(y, [n, 1]) };
  }

  it('earlyStopping stops early and restores the best weights', async () => {
    const { model, x, y } = problem();
    let afterFirst: Tensor[] = [];
    const snap = callbacks.lambda({ onEpochEnd: (epoch) => void (epoch === 0 && (afterFirst = model.getWeights())) });
    // A huge minDelta makes epoch 0 the only improvement: patience 2 stops at epoch 2.
    const stop = callbacks.earlyStopping({ monitor: 'loss', minDelta: 1e9, patience: 2, restoreBestWeights: true });
    const history = await model.fit(x, y, { epochs: 20, batchSize: 16, verbose: 0, callbacks: [snap, stop] });
    expect(history.epoch).toEqual([0, 1, 2]);
    expect(history.history.loss![2]).toBeLessThan(history.history.loss![0]!);
    expect(stop.stoppedEpoch).toBe(2);
    expect(model.getWeights().map((t) => Array.from(t.data))).toEqual(afterFirst.map((t) => Array.from(t.data)));
  });

  it('earlyStopping on val_loss lets a learning model run to the end', async () => {
    const { model, x, y } = problem();
    const history = await model.fit(x, y, { epochs: 5, batchSize: 16, verbose: 0, validationSplit: 0.25, callbacks: [callbacks.earlyStopping()] });
    expect(history.epoch).toEqual([0, 1, 2, 3, 4]);
  });

  it('reduceLROnPlateau lowers the logged learning_rate', async () => {
    const { model, x, y } = problem();
    const reduce = callbacks.reduceLROnPlateau({ monitor: 'loss', minDelta: 1e9, patience: 1, factor: 0.5 });
    const history = await model.fit(x, y, { epochs: 5, batchSize: 16, verbose: 0, callbacks: [reduce] });
    const lrs = history.history.learning_rate!;
    [0.05, 0.05, 0.025, 0.0125, 0.00625].forEach((v, i) => expect(lrs[i]).toBeCloseTo(v, 12));
    expect(model.optimizer!.learningRate).toBeCloseTo(0.003125, 12);
  });

  it('learning-rate callbacks refuse an optimizer driven by a schedule before the first epoch', async () => {
    const { model, x, y } = problem();
    model.compile({ optimizer: optimizers.sgd({ learningRate: exponentialDecay({ initialLearningRate: 0.1, decaySteps: 4, decayRate: 0.5 }) }), loss: 'mse' });
    let epochs = 0;
    const count = callbacks.lambda({ onEpochBegin: () => void epochs++ });
    await expect(model.fit(x, y, { epochs: 2, verbose: 0, callbacks: [callbacks.reduceLROnPlateau({ monitor: 'loss' }), count] })).rejects.toThrow(
      /ReduceLROnPlateau: the optimizer's learning rate is a ExponentialDecay schedule/,
    );
    await expect(model.fit(x, y, { epochs: 2, verbose: 0, callbacks: [callbacks.learningRateScheduler((_, lr) => lr), count] })).rejects.toThrow(StateError);
    expect(epochs).toBe(0);
  });

  it('learningRateScheduler drives the rate the optimizer steps with', async () => {
    const { model, x, y } = problem();
    const before = model.getWeights().map((t) => Array.from(t.data));
    const frozen = await model.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0, callbacks: [callbacks.learningRateScheduler(() => 0)] });
    expect(frozen.history.learning_rate).toEqual([0, 0]);
    expect(model.getWeights().map((t) => Array.from(t.data))).toEqual(before);
    const moving = await model.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, callbacks: [callbacks.learningRateScheduler((e) => 0.1 / (e + 1))] });
    moving.history.learning_rate!.forEach((v, i) => expect(v).toBeCloseTo(0.1 / (i + 1), 12));
    expect(model.getWeights().map((t) => Array.from(t.data))).not.toEqual(before);
  });
});
