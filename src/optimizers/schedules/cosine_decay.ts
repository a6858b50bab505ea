import { ValueError, describe } from '../../errors';
import { LearningRateSchedule } from './schedule';
import { checkStep, finiteNumber, inRange, integer, optionsObject, scheduleName } from './validate';

/** Options of {@link CosineDecay}; names mirror Keras's `CosineDecay` arguments in camelCase. */
export interface CosineDecayArgs {
  /** The starting rate (of the warmup when there is one, else of the decay). */
  initialLearningRate: number;
  /** Steps of the cosine decay (> 0), counted after the warmup. */
  decaySteps: number;
  /** Final rate as a fraction of the decay's starting rate, in [0, 1]. Default 0. */
  alpha?: number;
  /** Rate reached at the end of a linear warmup; omit (or null) for no warmup. */
  warmupTarget?: number | null;
  /** Steps of linear warmup from initialLearningRate to warmupTarget. Default 0. */
  warmupSteps?: number;
  /** Default 'CosineDecay'. */
  name?: string;
}

/**
 * Keras's CosineDecay (SGDR without restarts, Loshchilov & Hutter 2016) with Goyal et al.'s linear
 * warmup. Warmup (step < warmupSteps): lr = initial + (warmupTarget - initial) * step / warmupSteps.
 * Decay from r0 (warmupTarget, or initial without warmup) with t = min(step - warmupSteps, decaySteps):
 * lr = r0 * ((1 - alpha) * 0.5 * (1 + cos(pi * t / decaySteps)) + alpha).
 * Keras: `keras.optimizers.schedules.CosineDecay`.
 */
export class CosineDecay extends LearningRateSchedule {
  /** The starting rate (of the warmup when there is one, else of the decay). */
  readonly initialLearningRate: number;
  /** Steps of the cosine decay (> 0), counted after the warmup. */
  readonly decaySteps: number;
  /** Final rate as a fraction of the decay's starting rate, in [0, 1]. Default 0. */
  readonly alpha: number;
  /** Rate reached at the end of a linear warmup; omit (or null) for no warmup. */
  readonly warmupTarget: number | null;
  /** Steps of linear warmup from initialLearningRate to warmupTarget. Default 0. */
  readonly warmupSteps: number;
  /** Default 'CosineDecay'. */
  readonly name: string;

  constructor(args: CosineDecayArgs) {
    super();
    const o = 'CosineDecay';
    optionsObject(o, args, '{ initialLearningRate, decaySteps, alpha?, warmupTarget?, warmupSteps? }', ['initialLearningRate', 'decaySteps', 'alpha', 'warmupTarget', 'warmupSteps', 'name']);
    this.initialLearningRate = finiteNumber(o, 'initialLearningRate', args.initialLearningRate, 0);
    this.decaySteps = finiteNumber(o, 'decaySteps', args.decaySteps, 0, true);
    this.alpha = inRange(o, 'alpha', args.alpha ?? 0, 0, 1);
    this.warmupTarget = args.warmupTarget == null ? null : finiteNumber(o, 'warmupTarget', args.warmupTarget, 0);
    this.warmupSteps = integer(o, 'warmupSteps', args.warmupSteps ?? 0, 0);
    if (this.warmupTarget === null && this.warmupSteps > 0) {
      // Keras silently ignores warmupSteps here; a warmup with no target is almost surely a mistake.
      throw new ValueError(`${o}: warmupSteps=${this.warmupSteps} needs a warmupTarget (the rate to warm up to), received warmupTarget=${describe(args.warmupTarget)}`);
    }
    this.name = scheduleName(o, args.name ?? 'CosineDecay');
  }

  call(step: number): number {
    const s = checkStep(this.className, step);
    const from = this.warmupTarget ?? this.initialLearningRate;
    const w = this.warmupTarget === null ? 0 : this.warmupSteps;
    if (s < w) return this.initialLearningRate + (from - this.initialLearningRate) * (s / w);
    const t = Math.min(s - w, this.decaySteps);
    const cosine = 0.5 * (1 + Math.cos((Math.PI * t) / this.decaySteps));
    return from * ((1 - this.alpha) * cosine + this.alpha);
  }

  /** Keras config: `initial_learning_rate`, `decay_steps`, `alpha`, `warmup_target`, `warmup_steps`, `name`. */
  getConfig(): Record<string, unknown> {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      alpha: this.alpha,
      name: this.name,
      warmup_target: this.warmupTarget,
      warmup_steps: this.warmupSteps,
    };
  }
}
