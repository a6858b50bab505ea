import { Callback, Logs } from './callback';
import type { Tensor } from '../tensor';
import { StateError, ValueError } from '../errors';
import { MonitorMode, checkBool, checkInt, checkMode, checkMonitor, checkNumber, checkVerbose, inferDirection, optionsOf, requireModel, say } from './monitor';

/** Options of {@link EarlyStopping}; names mirror Keras's `EarlyStopping` arguments in camelCase (`min_delta` is `minDelta`, ...). */
export interface EarlyStoppingArgs {
  /** Logged quantity to watch. Default 'val_loss'. Keras: `monitor`. */
  monitor?: string;
  /** Smallest change that counts as an improvement (its absolute value is used). Default 0. Keras: `min_delta`. */
  minDelta?: number;
  /** Epochs without improvement before stopping. Default 0. Keras: `patience`. */
  patience?: number;
  /** 0 silent, 1 says when it stops and restores. Default 0. Keras: `verbose`. */
  verbose?: 0 | 1;
  /** 'min', 'max', or 'auto' to infer from the name (losses and errors min, accuracies and the like max; any other name is a ValueError, as Keras 3). Default 'auto'. Keras: `mode`. */
  mode?: MonitorMode;
  /** Patience only resets once the quantity beats this value. Default none. Keras: `baseline`. */
  baseline?: number | null;
  /** At the end of training, restore the weights of the best epoch seen. Default false. Keras: `restore_best_weights`. */
  restoreBestWeights?: boolean;
  /** Epochs to let pass before monitoring (a warm-up). Default 0. Keras: `start_from_epoch`. */
  startFromEpoch?: number;
}

/**
 * Keras's EarlyStopping: stop training when the monitored quantity has not improved (by more than
 * minDelta) for `patience` epochs. Keras 3 rules: every monitored epoch adds one to `wait`; an
 * improvement records the best (and its weights) and resets `wait` only if it also beats `baseline`;
 * training stops when `wait >= patience` on an epoch without improvement (never at epoch 0). With
 * restoreBestWeights, the best epoch's weights are put back when training ends, stopped or not.
 * Keras: `keras.callbacks.EarlyStopping`.
 */
export class EarlyStopping extends Callback {
  /** Logged quantity to watch. Default 'val_loss'. Keras: `monitor`. */
  readonly monitor: string;
  /** Smallest change that counts as an improvement (its absolute value is used). Default 0. Keras: `min_delta`. */
  readonly minDelta: number;
  /** Epochs without improvement before stopping. Default 0. Keras: `patience`. */
  readonly patience: number;
  /** 0 silent, 1 says when it stops and restores. Default 0. Keras: `verbose`. */
  readonly verbose: 0 | 1;
  /** 'min', 'max', or 'auto' to infer from the name (losses and errors min, accuracies and the like max; any other name is a ValueError, as Keras 3). Default 'auto'. Keras: `mode`. */
  readonly mode: MonitorMode;
  /** Patience only resets once the quantity beats this value. Default none. Keras: `baseline`. */
  readonly baseline: number | null;
  /** At the end of training, restore the weights of the best epoch seen. Default false. Keras: `restore_best_weights`. */
  readonly restoreBestWeights: boolean;
  /** Epochs to let pass before monitoring (a warm-up). Default 0. Keras: `start_from_epoch`. */
  readonly startFromEpoch: number;
  /** Epochs seen since the last improvement over the baseline. */
  wait = 0;
  /** Epoch at which training was stopped (0 when it ran to the end). */
  stoppedEpoch = 0;
  /** Best monitored value seen (Infinity or -Infinity before the first monitored epoch). */
  best: number;
  /** Epoch (0-based) of the best monitored value. */
  bestEpoch = 0;
  /** Weights of the best epoch, kept only with `restoreBestWeights`; null otherwise. */
  bestWeights: Tensor[] | null = null;
  private readonly better: (a: number, b: number) => boolean;
  private readonly initialBest: number;
  private warned = false;

  constructor(args?: EarlyStoppingArgs) {
    super();
    const o = 'EarlyStopping';
    const a = optionsOf(o, args, ['monitor', 'minDelta', 'patience', 'verbose', 'mode', 'baseline', 'restoreBestWeights', 'startFromEpoch']);
    this.monitor = checkMonitor(o, a.monitor ?? 'val_loss');
    this.minDelta = Math.abs(checkNumber(o, 'minDelta', a.minDelta ?? 0));
    this.patience = checkInt(o, 'patience', a.patience ?? 0, 0);
    this.verbose = checkVerbose(o, a.verbose ?? 0);
    this.mode = checkMode(o, a.mode ?? 'auto');
    this.baseline = a.baseline == null ? null : checkNumber(o, 'baseline', a.baseline);
    this.restoreBestWeights = checkBool(o, 'restoreBestWeights', a.restoreBestWeights ?? false);
    this.startFromEpoch = checkInt(o, 'startFromEpoch', a.startFromEpoch ?? 0, 0);
    const direction = this.mode === 'auto' ? inferDirection(this.monitor) : this.mode;
    if (direction === null) {
      throw new ValueError(
        `${o}: cannot tell whether monitor=${JSON.stringify(this.monitor)} should be minimized or maximized; ` +
          "pass mode: 'min' or mode: 'max'",
      );
    }
    const d = this.minDelta;
    this.better = direction === 'min' ? (cur, ref) => cur + d < ref : (cur, ref) => cur - d > ref;
    this.best = direction === 'min' ? Infinity : -Infinity;
    this.initialBest = this.best;
  }

  override onTrainBegin(): void {
    // Instances can be reused across fit calls.
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.best = this.initialBest;
    this.bestEpoch = 0;
    this.bestWeights = null;
    this.warned = false;
    if (this.restoreBestWeights) {
      const m = requireModel('EarlyStopping', this.model);
      if (!m.getWeights || !m.setWeights) throw new StateError('EarlyStopping: restoreBestWeights needs a model with getWeights() and setWeights()');
    }
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    const current = logs[this.monitor];
    if (current === undefined) {
      if (!this.warned) {
        this.warned = true;
        process.emitWarning(
          `EarlyStopping conditioned on metric '${this.monitor}' which is not available. Available metrics are: ${Object.keys(logs).join(',')}`,
        );
      }
      return;
    }
    if (epoch < this.startFromEpoch) return;
    const model = requireModel('EarlyStopping', this.model);
    // The first monitored epoch is the best so far even if it does not beat the start value (NaN).
    if (this.restoreBestWeights && this.bestWeights === null) {
      this.bestWeights = model.getWeights!();
      this.bestEpoch = epoch;
    }
    this.wait++;
    if (this.better(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = model.getWeights!();
      if (this.baseline === null || this.better(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      model.stopTraining = true;
    }
  }

  override onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose > 0) say(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
    if (this.restoreBestWeights && this.bestWeights !== null) {
      if (this.verbose > 0) say(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
      requireModel('EarlyStopping', this.model).setWeights!(this.bestWeights);
    }
  }
}
