import { LearningRateSchedule } from './schedule';
import { bool, checkStep, finiteNumber, optionsObject, scheduleName } from './validate';

/** Options of {@link ExponentialDecay}; names mirror Keras's arguments in camelCase. */
export interface ExponentialDecayArgs {
  /** The rate at step 0 (required). Keras: `initial_learning_rate`. */
  initialLearningRate: number;
  /** Steps over which the rate is multiplied by `decayRate` once (> 0). */
  decaySteps: number;
  /** Factor per `decaySteps` steps (> 0; below 1 decays). */
  decayRate: number;
  /** Decay in whole multiples of `decaySteps` (a staircase) instead of smoothly. Default false. */
  staircase?: boolean;
  /** Default 'ExponentialDecay'. */
  name?: string;
}

/**
 * Keras's ExponentialDecay: lr(step) = initialLearningRate * decayRate ^ (step / decaySteps), with
 * floor(step / decaySteps) when `staircase` is set. Géron's "exponential scheduling".
 * Keras: `keras.optimizers.schedules.ExponentialDecay`.
 */
export class ExponentialDecay extends LearningRateSchedule {
  /** The rate at step 0. Keras: `initial_learning_rate`. */
  readonly initialLearningRate: number;
  /** Steps over which the rate is multiplied by `decayRate` once (> 0). */
  readonly decaySteps: number;
  /** Factor per `decaySteps` steps (> 0; below 1 decays). */
  readonly decayRate: number;
  /** Decay in whole multiples of `decaySteps` (a staircase) instead of smoothly. Default false. */
  readonly staircase: boolean;
  /** Default 'ExponentialDecay'. */
  readonly name: string;

  constructor(args: ExponentialDecayArgs) {
    super();
    const o = 'ExponentialDecay';
    optionsObject(o, args, '{ initialLearningRate, decaySteps, decayRate, staircase? }', ['initialLearningRate', 'decaySteps', 'decayRate', 'staircase', 'name']);
    this.initialLearningRate = finiteNumber(o, 'initialLearningRate', args.initialLearningRate, 0);
    this.decaySteps = finiteNumber(o, 'decaySteps', args.decaySteps, 0, true);
    this.decayRate = finiteNumber(o, 'decayRate', args.decayRate, 0, true);
    this.staircase = bool(o, 'staircase', args.staircase ?? false);
    this.name = scheduleName(o, args.name ?? 'ExponentialDecay');
  }

  call(step: number): number {
    let p = checkStep(this.className, step) / this.decaySteps;
    if (this.staircase) p = Math.floor(p);
    return this.initialLearningRate * Math.pow(this.decayRate, p);
  }

  /** Keras config: `initial_learning_rate`, `decay_steps`, `decay_rate`, `staircase`, `name`. */
  getConfig(): Record<string, unknown> {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      decay_rate: this.decayRate,
      staircase: this.staircase,
      name: this.name,
    };
  }
}
