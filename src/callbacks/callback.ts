/**
 * Callbacks observe (and may steer) training, with Keras's hooks. Logs hold the running means of
 * the loss and metrics ('loss', 'accuracy', and 'val_*' at epoch end).
 */
import type { Tensor } from '../tensor';
import type { LearningRateSchedule } from '../optimizers/schedules/schedule';
import { ValueError, checkOptions, describe } from '../errors';

/** Running means of the loss and metrics, by name ('loss', 'accuracy', 'val_loss', 'learning_rate', ...). Keras: `logs`. */
export type Logs = Record<string, number>;

/** The part of an optimizer that learning-rate callbacks read and set. */
export interface TrainingOptimizer {
  /** The learning rate: a number, or the schedule that drives it. Keras: `optimizer.learning_rate`. */
  learningRate: number | LearningRateSchedule;
  /** Set when a schedule drives the rate (then learningRate may read as its current value). */
  readonly learningRateSchedule?: LearningRateSchedule | null;
}

/** What a callback may see and steer of the model being trained. */
export interface TrainingModel {
  /** Set to true to stop training after the current batch. */
  stopTraining: boolean;
  /** The compiled optimizer (reduceLROnPlateau and learningRateScheduler set its learning rate). */
  readonly optimizer?: TrainingOptimizer | null;
  /** Copies of the weights (earlyStopping with restoreBestWeights). */
  getWeights?(): Tensor[];
  /** Restores weights taken with getWeights (earlyStopping with restoreBestWeights). */
  setWeights?(values: readonly Tensor[]): void;
}

/** What `fit` tells callbacks before training (Keras: `callback.params`). */
export interface TrainingParams {
  /** Epochs `fit` will run. */
  epochs: number;
  /** Batches per epoch. */
  steps: number;
  /** Training samples per epoch. */
  samples: number;
  /** Samples per batch. */
  batchSize: number;
  /** `fit`'s verbosity: 0 silent, 1 progress bar, 2 one line per epoch. */
  verbose: 0 | 1 | 2;
}

/** Base class of callbacks: override the hooks you need. `fit` awaits a hook that returns a promise. Keras: `keras.callbacks.Callback`. */
export abstract class Callback {
  /** The model being trained (set by `fit`); set `model.stopTraining = true` to stop. Keras: `self.model`. */
  model: TrainingModel | null = null;
  /** Training parameters (set by `fit`). Keras: `self.params`. */
  params: TrainingParams | null = null;

  /** Called by `fit` before training. Keras: `set_model`. */
  setModel(model: TrainingModel): void {
    this.model = model;
  }
  /** Called by `fit` before training. Keras: `set_params`. */
  setParams(params: TrainingParams): void {
    this.params = params;
  }
  /** Called once when `fit` starts. Keras: `on_train_begin`. */
  onTrainBegin(_logs: Logs): void | Promise<void> {}
  /** Called once when `fit` ends, with the last epoch's logs. Keras: `on_train_end`. */
  onTrainEnd(_logs: Logs): void | Promise<void> {}
  /** Called at the start of each epoch (0-based). Keras: `on_epoch_begin`. */
  onEpochBegin(_epoch: number, _logs: Logs): void | Promise<void> {}
  /** Called at the end of each epoch with the epoch's training and validation logs. Keras: `on_epoch_end`. */
  onEpochEnd(_epoch: number, _logs: Logs): void | Promise<void> {}
  /** Called before each training batch (0-based within the epoch). Keras: `on_train_batch_begin`. */
  onBatchBegin(_batch: number, _logs: Logs): void | Promise<void> {}
  /** Called after each training batch with the running logs. Keras: `on_train_batch_end`. */
  onBatchEnd(_batch: number, _logs: Logs): void | Promise<void> {}
}

/** Calls a list of callbacks in order; awaits only when a callback returned a promise. Keras: `keras.callbacks.CallbackList`. */
export class CallbackList {
  /** @param callbacks The callbacks, called in this order. */
  constructor(readonly callbacks: Callback[]) {}

  private async each(fn: (cb: Callback) => void | Promise<void>): Promise<void> {
    for (const cb of this.callbacks) {
      const r = fn(cb);
      if (r instanceof Promise) await r;
    }
  }

  /** Give every callback the model. */
  setModel(model: TrainingModel): void {
    for (const cb of this.callbacks) cb.setModel(model);
  }
  /** Give every callback the training parameters. */
  setParams(params: TrainingParams): void {
    for (const cb of this.callbacks) cb.setParams(params);
  }
  /** Run every callback's `onTrainBegin` in order. */
  onTrainBegin(logs: Logs) {
    return this.each((cb) => cb.onTrainBegin(logs));
  }
  /** Run every callback's `onTrainEnd` in order. */
  onTrainEnd(logs: Logs) {
    return this.each((cb) => cb.onTrainEnd(logs));
  }
  /** Run every callback's `onEpochBegin` in order. */
  onEpochBegin(epoch: number, logs: Logs) {
    return this.each((cb) => cb.onEpochBegin(epoch, logs));
  }
  /** Run every callback's `onEpochEnd` in order. */
  onEpochEnd(epoch: number, logs: Logs) {
    return this.each((cb) => cb.onEpochEnd(epoch, logs));
  }
  /** Synchronous fast path for the per-batch hooks when no callback returns a promise. */
  onBatchBegin(batch: number, logs: Logs): Promise<void> | void {
    return this.maybeSync((cb) => cb.onBatchBegin(batch, logs));
  }
  /** Run every callback's `onBatchEnd` in order (synchronously when none returns a promise). */
  onBatchEnd(batch: number, logs: Logs): Promise<void> | void {
    return this.maybeSync((cb) => cb.onBatchEnd(batch, logs));
  }

  private maybeSync(fn: (cb: Callback) => void | Promise<void>): Promise<void> | void {
    for (let i = 0; i < this.callbacks.length; i++) {
      const r = fn(this.callbacks[i]!);
      if (r instanceof Promise) {
        const rest = this.callbacks.slice(i + 1);
        return r.then(() => new CallbackList(rest).each(fn));
      }
    }
  }
}

/** A callback from plain functions: callbacks.lambda({ onEpochEnd: (epoch, logs) => ... }). Keras: `keras.callbacks.LambdaCallback`. */
export class LambdaCallback extends Callback {
  constructor(hooks: Partial<Pick<Callback, 'onTrainBegin' | 'onTrainEnd' | 'onEpochBegin' | 'onEpochEnd' | 'onBatchBegin' | 'onBatchEnd'>>) {
    super();
    const names = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;
    // A misspelt hook ('onEpochEnds') would never run: reject it, and hooks that are not functions.
    checkOptions('LambdaCallback', hooks, names);
    for (const name of names) {
      const hook = (hooks as Record<string, unknown> | undefined)?.[name];
      if (hook !== undefined && typeof hook !== 'function') {
        throw new ValueError(`LambdaCallback: ${name} must be a function, received ${name}=${describe(hook)}`);
      }
    }
    Object.assign(this, hooks);
  }
}
