import { LearningRateSchedule } from './schedule';
import { bool, checkStep, finiteNumber, optionsObject, scheduleName } from './validate';

/** Options of {@link InverseTimeDecay}; names mirror Keras's arguments in camelCase. */
export interface InverseTimeDecayArgs {
  /** The rate at step 0 (required). Keras: `initial_learning_rate`. */
  initialLearningRate: number;
  /** Steps per unit of decay (> 0). */
  decaySteps: number;
  /** How fast the rate falls (>= 0; 0 keeps it constant). */
  decayRate: number;
  /** Use floor(step / decaySteps), so the rate changes every `decaySteps` steps. Default false. */
  staircase?: boolean;
  /** Default 'InverseTimeDecay'. */
  name?: string;
}

/**
 * Keras's InverseTimeDecay, Géron's "power scheduling" with c = 1:
 * lr(step) = initialLearningRate / (1 + decayRate * step / decaySteps), with floor(step / decaySteps)
 * when `staircase` is set.
 * Keras: `keras.optimizers.schedules.InverseTimeDecay`.
 */
export class InverseTimeDecay extends LearningRateSchedule {
  /** The rate at step 0. Keras: `initial_learning_rate`. */
  readonly initialLearningRate: number;
  /** Steps per unit of decay (> 0). */
  readonly decaySteps: number;
  /** How fast the rate falls (>= 0; 0 keeps it constant). */
  readonly decayRate: number;
  /** Use floor(step / decaySteps), so the rate changes every `decaySteps` steps. Default false. */
  readonly staircase: boolean;
  /** Default 'InverseTimeDecay'. */
  readonly name: string;

  constructor(args: InverseTimeDecayArgs) {
    super();
    const o = 'InverseTimeDecay';
    optionsObject(o, args, '{ initialLearningRate, decaySteps, decayRate, staircase? }', ['initialLearningRate', 'decaySteps', 'decayRate', 'staircase', 'name']);
    this.initialLearningRate = finiteNumber(o, 'initialLearningRate', args.initialLearningRate, 0);
    this.decaySteps = finiteNumber(o, 'decaySteps', args.decaySteps, 0, true);
    this.decayRate = finiteNumber(o, 'decayRate', args.decayRate, 0);
    this.staircase = bool(o, 'staircase', args.staircase ?? false);
    this.name = scheduleName(o, args.name ?? 'InverseTimeDecay');
  }

  call(step: number): number {
    let p = checkStep(this.className, step) / this.decaySteps;
    if (this.staircase) p = Math.floor(p);
    return this.initialLearningRate / (1 + this.decayRate * p);
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
