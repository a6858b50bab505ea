import { Callback, Logs } from './callback';
import { ValueError, describe } from '../errors';
import { checkVerbose, optionsOf, say, settableOptimizer } from './monitor';

/** Learning rate for `epoch` (from 0) given the current one. */
export type EpochSchedule = (epoch: number, learningRate: number) => number;

/**
 * Keras's LearningRateScheduler: at the start of every epoch, sets the optimizer's learning rate to
 * schedule(epoch, currentRate) (Géron's per-epoch exponential or piecewise scheduling); at the end
 * of the epoch logs it as 'learning_rate'.
 * Keras: `keras.callbacks.LearningRateScheduler`.
 */
export class LearningRateScheduler extends Callback {
  /** 0 silent (default), 1 prints the rate set at each epoch. Keras: `verbose`. */
  readonly verbose: 0 | 1;

  constructor(
    /** Function (epoch, current learning rate) => new learning rate, called before each epoch. Keras: `schedule`. */
    readonly schedule: EpochSchedule,
    args?: { verbose?: 0 | 1 },
  ) {
    super();
    if (typeof schedule !== 'function') {
      throw new ValueError(`LearningRateScheduler: schedule must be a function (epoch, learningRate) => learningRate, received ${describe(schedule)}`);
    }
    this.verbose = checkVerbose('LearningRateScheduler', optionsOf('LearningRateScheduler', args, ['verbose']).verbose ?? 0);
  }

  override onTrainBegin(): void {
    settableOptimizer('LearningRateScheduler', this.model); // fail before the first epoch, not after it
  }

  override onEpochBegin(epoch: number): void {
    const opt = settableOptimizer('LearningRateScheduler', this.model);
    const lr: unknown = this.schedule(epoch, opt.learningRate);
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
      throw new ValueError(`LearningRateScheduler: the schedule function returned ${describe(lr)} at epoch ${epoch}; expected a finite number >= 0`);
    }
    opt.learningRate = lr;
    if (this.verbose > 0) say(`\nEpoch ${epoch + 1}: LearningRateScheduler setting learning rate to ${lr}.`);
  }

  override onEpochEnd(_epoch: number, logs: Logs): void {
    logs.learning_rate = settableOptimizer('LearningRateScheduler', this.model).learningRate;
  }
}
