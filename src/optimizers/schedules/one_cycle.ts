import { ValueError, describe } from '../../errors';
import { LearningRateSchedule } from './schedule';
import { bool, checkStep, finiteNumber, inRange, integer, optionsObject, scheduleName } from './validate';

/** Options of {@link OneCycle}. */
export interface OneCycleArgs {
  /** Peak rate, reached at the end of the rising phase (> 0). */
  maxLearningRate: number;
  /** Optimizer steps in the whole run (epochs * batches per epoch). */
  totalSteps: number;
  /** Rate at step 0 and at the end of the falling phase. Default maxLearningRate / 10. */
  startLearningRate?: number;
  /** Rate at the last step, after the final annihilation phase. Default startLearningRate / 1000. */
  endLearningRate?: number;
  /**
   * Fraction of totalSteps spent rising (the falling phase is as long), in (0, 0.5]; the remaining
   * 1 - 2 * phasePct is the annihilation phase. Default 0.45, so the last 10% of steps drop the rate.
   */
  phasePct?: number;
  /** Cycle momentum inversely to the rate (SGD reads it through momentumAt). Default true. */
  cycleMomentum?: boolean;
  /** Momentum at the start, end of the falling phase and through the annihilation. Default 0.95. */
  maxMomentum?: number;
  /** Momentum at the peak learning rate. Default 0.85. */
  minMomentum?: number;
  /** Default 'OneCycle'. */
  name?: string;
}

/**
 * 1cycle (Leslie Smith 2018, as Géron's chapter 11 describes it): the rate rises linearly from
 * startLearningRate to maxLearningRate, falls linearly back to startLearningRate over as many steps,
 * then falls linearly to endLearningRate (several orders of magnitude lower) over the last steps.
 * Momentum moves the other way: maxMomentum -> minMomentum -> maxMomentum, then stays at maxMomentum.
 *
 * Phase ends sit at steps phasePct*T - 1, 2*phasePct*T - 2 and T - 1 (T = totalSteps), as in
 * PyTorch's OneCycleLR(three_phase=True, anneal_strategy='linear'), so step 0 uses the start rate
 * and the last step (T - 1) exactly the end rate. Steps past T - 1 keep the end rate (PyTorch throws).
 */
export class OneCycle extends LearningRateSchedule {
  /** Peak rate, reached at the end of the rising phase (> 0). */
  readonly maxLearningRate: number;
  /** Optimizer steps in the whole run (epochs * batches per epoch). */
  readonly totalSteps: number;
  /** Rate at step 0 and at the end of the falling phase. Default maxLearningRate / 10. */
  readonly startLearningRate: number;
  /** Rate at the last step, after the final annihilation phase. Default startLearningRate / 1000. */
  readonly endLearningRate: number;
  /** Fraction of totalSteps spent rising (the falling phase is as long), in (0, 0.5]; the remaining 1 - 2 * phasePct is the annihilation phase. Default 0.45, so the last 10% of steps drop the rate. */
  readonly phasePct: number;
  /** Cycle momentum inversely to the rate (SGD reads it through momentumAt). Default true. */
  readonly cycleMomentum: boolean;
  /** Momentum at the start, end of the falling phase and through the annihilation. Default 0.95. */
  readonly maxMomentum: number;
  /** Momentum at the peak learning rate. Default 0.85. */
  readonly minMomentum: number;
  /** Default 'OneCycle'. */
  readonly name: string;
  /** Steps at which the rising, falling and annihilation phases end. */
  private readonly ends: [number, number, number];

  constructor(args: OneCycleArgs) {
    super();
    const o = 'OneCycle';
    optionsObject(o, args, '{ maxLearningRate, totalSteps, startLearningRate?, endLearningRate?, phasePct? }', ['maxLearningRate', 'totalSteps', 'startLearningRate', 'endLearningRate', 'phasePct', 'cycleMomentum', 'maxMomentum', 'minMomentum', 'name']);
    this.maxLearningRate = finiteNumber(o, 'maxLearningRate', args.maxLearningRate, 0, true);
    this.totalSteps = integer(o, 'totalSteps', args.totalSteps, 2);
    this.startLearningRate = inRange(o, 'startLearningRate', args.startLearningRate ?? this.maxLearningRate / 10, 0, this.maxLearningRate);
    this.endLearningRate = inRange(o, 'endLearningRate', args.endLearningRate ?? this.startLearningRate / 1000, 0, this.maxLearningRate);
    const pct = args.phasePct ?? 0.45;
    if (typeof pct !== 'number' || !(pct > 0 && pct <= 0.5)) {
      throw new ValueError(`${o}: phasePct must be in (0, 0.5], received phasePct=${describe(pct)}`);
    }
    this.phasePct = pct;
    const rise = pct * this.totalSteps;
    if (!(rise > 1)) {
      throw new ValueError(
        `${o}: phasePct * totalSteps must be > 1 so each phase spans at least one step, ` +
          `received phasePct=${pct}, totalSteps=${this.totalSteps}`,
      );
    }
    this.cycleMomentum = bool(o, 'cycleMomentum', args.cycleMomentum ?? true);
    this.maxMomentum = inRange(o, 'maxMomentum', args.maxMomentum ?? 0.95, 0, 1);
    this.minMomentum = inRange(o, 'minMomentum', args.minMomentum ?? 0.85, 0, 1);
    if (this.minMomentum > this.maxMomentum) {
      throw new ValueError(`${o}: minMomentum must be <= maxMomentum, received minMomentum=${this.minMomentum}, maxMomentum=${this.maxMomentum}`);
    }
    this.name = scheduleName(o, args.name ?? 'OneCycle');
    this.ends = [rise - 1, 2 * rise - 2, this.totalSteps - 1];
  }

  /** Interpolates linearly through the three phases' (start, end) values. */
  private at(step: number, phases: [number, number][]): number {
    let begin = 0;
    for (let i = 0; i < 3; i++) {
      const end = this.ends[i]!;
      const [from, to] = phases[i]!;
      if (step <= end || i === 2) {
        const t = Math.min(1, (step - begin) / (end - begin));
        return from + (to - from) * t;
      }
      begin = end;
    }
    return phases[2]![1];
  }

  call(step: number): number {
    checkStep(this.className, step);
    const { startLearningRate: lo, maxLearningRate: hi, endLearningRate: end } = this;
    return this.at(step, [[lo, hi], [hi, lo], [lo, end]]);
  }

  override momentumAt(step: number): number | undefined {
    if (!this.cycleMomentum) return undefined;
    checkStep(this.className, step);
    const { maxMomentum: hi, minMomentum: lo } = this;
    return this.at(step, [[hi, lo], [lo, hi], [hi, hi]]);
  }

  /** The schedule's options in snake_case (Keras has no OneCycle; the keys follow its conventions). */
  getConfig(): Record<string, unknown> {
    return {
      max_learning_rate: this.maxLearningRate,
      total_steps: this.totalSteps,
      start_learning_rate: this.startLearningRate,
      end_learning_rate: this.endLearningRate,
      phase_pct: this.phasePct,
      cycle_momentum: this.cycleMomentum,
      max_momentum: this.maxMomentum,
      min_momentum: this.minMomentum,
      name: this.name,
    };
  }
}
