import { Callback, Logs } from './callback';
import { ValueError, describe } from '../errors';
import { MonitorMode, checkInt, checkMode, checkMonitor, checkNumber, checkVerbose, inferDirection, optionsOf, say, settableOptimizer } from './monitor';

/** Options of {@link ReduceLROnPlateau}; names mirror Keras's arguments in camelCase (`min_lr` is `minLr`, ...). */
export interface ReduceLROnPlateauArgs {
  /** Logged quantity to watch. Default 'val_loss'. Keras: `monitor`. */
  monitor?: string;
  /** new rate = rate * factor, in (0, 1). Default 0.1. Keras: `factor`. */
  factor?: number;
  /** Epochs without improvement before reducing. Default 10. Keras: `patience`. */
  patience?: number;
  /** 0 silent, 1 says when it reduces. Default 0. Keras: `verbose`. */
  verbose?: 0 | 1;
  /** 'min', 'max', or 'auto' (from the name: losses and errors min, accuracies and the like max; any other name is a ValueError, as Keras 3). Default 'auto'. Keras: `mode`. */
  mode?: MonitorMode;
  /** Improvement needed to count as one (>= 0). Default 1e-4. Keras: `min_delta`. */
  minDelta?: number;
  /** Epochs after a reduction during which plateaus are not counted. Default 0. Keras: `cooldown`. */
  cooldown?: number;
  /** Lower bound on the rate (>= 0). Default 0. Keras: `min_lr`. */
  minLr?: number;
}

/**
 * Keras's ReduceLROnPlateau (Géron's "performance scheduling"): when the monitored quantity has not
 * improved by more than minDelta for `patience` epochs, multiply the optimizer's learning rate by
 * `factor` (not below minLr), then wait `cooldown` epochs before counting again. Logs the rate the
 * epoch used as 'learning_rate'.
 * Keras: `keras.callbacks.ReduceLROnPlateau`.
 */
export class ReduceLROnPlateau extends Callback {
  /** Logged quantity to watch. Default 'val_loss'. Keras: `monitor`. */
  readonly monitor: string;
  /** new rate = rate * factor, in (0, 1). Default 0.1. Keras: `factor`. */
  readonly factor: number;
  /** Epochs without improvement before reducing. Default 10. Keras: `patience`. */
  readonly patience: number;
  /** 0 silent, 1 says when it reduces. Default 0. Keras: `verbose`. */
  readonly verbose: 0 | 1;
  /** 'min', 'max', or 'auto' (from the name: losses and errors min, accuracies and the like max; any other name is a ValueError, as Keras 3). Default 'auto'. Keras: `mode`. */
  readonly mode: MonitorMode;
  /** Improvement needed to count as one (>= 0). Default 1e-4. Keras: `min_delta`. */
  readonly minDelta: number;
  /** Epochs after a reduction during which plateaus are not counted. Default 0. Keras: `cooldown`. */
  readonly cooldown: number;
  /** Lower bound on the rate (>= 0). Default 0. Keras: `min_lr`. */
  readonly minLr: number;
  /** Epochs seen since the last improvement. */
  wait = 0;
  /** Epochs of cooldown left after the last reduction. */
  cooldownCounter = 0;
  /** Best monitored value seen (Infinity or -Infinity at the start). */
  best: number;
  private readonly minimize: boolean;
  private warned = false;

  constructor(args?: ReduceLROnPlateauArgs) {
    super();
    const o = 'ReduceLROnPlateau';
    const a = optionsOf(o, args, ['monitor', 'factor', 'patience', 'verbose', 'mode', 'minDelta', 'cooldown', 'minLr']);
    this.monitor = checkMonitor(o, a.monitor ?? 'val_loss');
    const factor = a.factor ?? 0.1;
    if (typeof factor !== 'number' || !(factor > 0 && factor < 1)) {
      throw new ValueError(`${o}: factor must be in (0, 1) (new rate = rate * factor), received factor=${describe(factor)}`);
    }
    this.factor = factor;
    this.patience = checkInt(o, 'patience', a.patience ?? 10, 0);
    this.verbose = checkVerbose(o, a.verbose ?? 0);
    this.mode = checkMode(o, a.mode ?? 'auto');
    this.minDelta = checkNumber(o, 'minDelta', a.minDelta ?? 1e-4, 0);
    this.cooldown = checkInt(o, 'cooldown', a.cooldown ?? 0, 0);
    this.minLr = checkNumber(o, 'minLr', a.minLr ?? 0, 0);
    // Keras 3 (callbacks/monitor_callback.py) raises for a name whose direction it cannot infer.
    const direction = this.mode === 'auto' ? inferDirection(this.monitor) : this.mode;
    if (direction === null) {
      throw new ValueError(
        `${o}: cannot tell whether monitor=${JSON.stringify(this.monitor)} should be minimized or maximized; ` +
          "pass mode: 'min' or mode: 'max'",
      );
    }
    this.minimize = direction === 'min';
    this.best = this.minimize ? Infinity : -Infinity;
  }

  private improved(current: number): boolean {
    return this.minimize ? current < this.best - this.minDelta : current > this.best + this.minDelta;
  }

  /** Whether a cooldown is running (plateaus are not counted). */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  override onTrainBegin(): void {
    settableOptimizer('ReduceLROnPlateau', this.model);
    this.best = this.minimize ? Infinity : -Infinity;
    this.cooldownCounter = 0;
    this.wait = 0;
    this.warned = false;
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    const opt = settableOptimizer('ReduceLROnPlateau', this.model);
    logs.learning_rate = opt.learningRate;
    const current = logs[this.monitor];
    if (current === undefined) {
      if (!this.warned) {
        this.warned = true;
        process.emitWarning(
          `Learning rate reduction is conditioned on metric '${this.monitor}' which is not available. Available metrics are: ${Object.keys(logs).join(',')}.`,
        );
      }
      return;
    }
    if (this.inCooldown) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (this.improved(current)) {
      this.best = current;
      this.wait = 0;
    } else if (!this.inCooldown) {
      this.wait++;
      if (this.wait >= this.patience) {
        const old = opt.learningRate;
        if (old > this.minLr) {
          const lr = Math.max(old * this.factor, this.minLr);
          opt.learningRate = lr;
          if (this.verbose > 0) say(`\nEpoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${lr}.`);
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
        }
      }
    }
  }
}
