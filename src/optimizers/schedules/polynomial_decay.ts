import { LearningRateSchedule } from './schedule';
import { bool, checkStep, finiteNumber, optionsObject, scheduleName } from './validate';

/** Options of {@link PolynomialDecay}; names mirror Keras's arguments in camelCase. */
export interface PolynomialDecayArgs {
  /** The rate at step 0 (required). Keras: `initial_learning_rate`. */
  initialLearningRate: number;
  /** Steps to go from the initial to the end rate (> 0). */
  decaySteps: number;
  /** Default 1e-4 (Keras). */
  endLearningRate?: number;
  /** Exponent of the polynomial (> 0), default 1 (linear). */
  power?: number;
  /** Restart from a new multiple of decaySteps instead of staying at the end rate. Default false. */
  cycle?: boolean;
  /** Default 'PolynomialDecay'. */
  name?: string;
}

/**
 * Keras's PolynomialDecay: with s = min(step, decaySteps) and d = decaySteps,
 * lr = (initial - end) * (1 - s / d) ^ power + end. With `cycle`, s = step and d is the first
 * multiple of decaySteps >= step (decaySteps itself at step 0).
 * Keras: `keras.optimizers.schedules.PolynomialDecay`.
 */
export class PolynomialDecay extends LearningRateSchedule {
  /** The rate at step 0. Keras: `initial_learning_rate`. */
  readonly initialLearningRate: number;
  /** Steps to go from the initial to the end rate (> 0). */
  readonly decaySteps: number;
  /** Default 1e-4 (Keras). */
  readonly endLearningRate: number;
  /** Exponent of the polynomial (> 0), default 1 (linear). */
  readonly power: number;
  /** Restart from a new multiple of decaySteps instead of staying at the end rate. Default false. */
  readonly cycle: boolean;
  /** Default 'PolynomialDecay'. */
  readonly name: string;

  constructor(args: PolynomialDecayArgs) {
    super();
    const o = 'PolynomialDecay';
    optionsObject(o, args, '{ initialLearningRate, decaySteps, endLearningRate?, power?, cycle? }', ['initialLearningRate', 'decaySteps', 'endLearningRate', 'power', 'cycle', 'name']);
    this.initialLearningRate = finiteNumber(o, 'initialLearningRate', args.initialLearningRate, 0);
    this.decaySteps = finiteNumber(o, 'decaySteps', args.decaySteps, 0, true);
    this.endLearningRate = finiteNumber(o, 'endLearningRate', args.endLearningRate ?? 1e-4, 0);
    this.power = finiteNumber(o, 'power', args.power ?? 1, 0, true);
    this.cycle = bool(o, 'cycle', args.cycle ?? false);
    this.name = scheduleName(o, args.name ?? 'PolynomialDecay');
  }

  call(step: number): number {
    let s = checkStep(this.className, step);
    let d = this.decaySteps;
    if (this.cycle) d *= s === 0 ? 1 : Math.ceil(s / d);
    else s = Math.min(s, d);
    return (this.initialLearningRate - this.endLearningRate) * Math.pow(1 - s / d, this.power) + this.endLearningRate;
  }

  /** Keras config: `initial_learning_rate`, `decay_steps`, `end_learning_rate`, `power`, `cycle`, `name`. */
  getConfig(): Record<string, unknown> {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      end_learning_rate: this.endLearningRate,
      power: this.power,
      cycle: this.cycle,
      name: this.name,
    };
  }
}
