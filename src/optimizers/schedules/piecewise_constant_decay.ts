import { ValueError, describe } from '../../errors';
import { LearningRateSchedule } from './schedule';
import { checkStep, optionsObject, scheduleName } from './validate';

/** Options of {@link PiecewiseConstantDecay}; Keras: `boundaries`, `values`. */
export interface PiecewiseConstantDecayArgs {
  /** Strictly increasing step counts where the rate changes (at least one). */
  boundaries: number[];
  /** One more rate than boundaries: values[0] up to boundaries[0], ..., the last after the last boundary. */
  values: number[];
  /** Default 'PiecewiseConstant' (Keras's default name). */
  name?: string;
}

/**
 * Keras's PiecewiseConstantDecay, Géron's "piecewise constant scheduling": values[0] while
 * step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i], and the last value
 * once step > the last boundary. (PyTorch's MultiStepLR switches at step >= milestone instead.)
 * Keras: `keras.optimizers.schedules.PiecewiseConstantDecay`.
 */
export class PiecewiseConstantDecay extends LearningRateSchedule {
  /** Strictly increasing step counts where the rate changes (at least one). */
  readonly boundaries: readonly number[];
  /** One more rate than boundaries: values[0] up to boundaries[0], ..., the last after the last boundary. */
  readonly values: readonly number[];
  /** Default 'PiecewiseConstant' (Keras's default name). */
  readonly name: string;

  constructor(args: PiecewiseConstantDecayArgs) {
    super();
    const o = 'PiecewiseConstantDecay';
    optionsObject(o, args, '{ boundaries, values }', ['boundaries', 'values', 'name']);
    const { boundaries, values } = args;
    if (!Array.isArray(boundaries) || boundaries.length === 0 || boundaries.some((b) => typeof b !== 'number' || !Number.isFinite(b))) {
      throw new ValueError(`${o}: boundaries must be a non-empty array of finite numbers, received boundaries=${describe(boundaries)}`);
    }
    for (let i = 1; i < boundaries.length; i++) {
      if (!(boundaries[i]! > boundaries[i - 1]!)) {
        throw new ValueError(`${o}: boundaries must be strictly increasing, received boundaries=${describe(boundaries)}`);
      }
    }
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new ValueError(`${o}: values must be an array of finite numbers >= 0, received values=${describe(values)}`);
    }
    if (values.length !== boundaries.length + 1) {
      throw new ValueError(
        `${o}: values must have one more entry than boundaries, received boundaries=${describe(boundaries)} ` +
          `(length ${boundaries.length}) and values=${describe(values)} (length ${values.length})`,
      );
    }
    this.boundaries = [...boundaries];
    this.values = [...values];
    this.name = scheduleName(o, args.name ?? 'PiecewiseConstant');
  }

  call(step: number): number {
    checkStep(this.className, step);
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && step > b[i]!) i++;
    return this.values[i]!;
  }

  /** Keras config: `boundaries`, `values`, `name`. */
  getConfig(): Record<string, unknown> {
    return { boundaries: [...this.boundaries], values: [...this.values], name: this.name };
  }
}
