/**
 * Learning-rate schedules (keras.optimizers.schedules): pass one as an optimizer's learningRate and
 * it is evaluated at the optimizer's step counter before every update.
 */
import { ValueError, describe, unknownId } from '../../errors';
import { LearningRateSchedule } from './schedule';
import { ExponentialDecay, ExponentialDecayArgs } from './exponential_decay';
import { InverseTimeDecay, InverseTimeDecayArgs } from './inverse_time_decay';
import { PiecewiseConstantDecay, PiecewiseConstantDecayArgs } from './piecewise_constant_decay';
import { PolynomialDecay, PolynomialDecayArgs } from './polynomial_decay';
import { CosineDecay, CosineDecayArgs } from './cosine_decay';
import { OneCycle, OneCycleArgs } from './one_cycle';

export { LearningRateSchedule, ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay, CosineDecay, OneCycle };
export type { ExponentialDecayArgs, InverseTimeDecayArgs, PiecewiseConstantDecayArgs, PolynomialDecayArgs, CosineDecayArgs, OneCycleArgs };

/** Creates a new {@link ExponentialDecay} (same as `new ExponentialDecay(...)`). Keras: `keras.optimizers.schedules.ExponentialDecay`. */
export const exponentialDecay = (args: ExponentialDecayArgs) => new ExponentialDecay(args);
/** Creates a new {@link InverseTimeDecay} (same as `new InverseTimeDecay(...)`). Keras: `keras.optimizers.schedules.InverseTimeDecay`. */
export const inverseTimeDecay = (args: InverseTimeDecayArgs) => new InverseTimeDecay(args);
/** Creates a new {@link PiecewiseConstantDecay} (same as `new PiecewiseConstantDecay(...)`). Keras: `keras.optimizers.schedules.PiecewiseConstantDecay`. */
export const piecewiseConstantDecay = (args: PiecewiseConstantDecayArgs) => new PiecewiseConstantDecay(args);
/** Creates a new {@link PolynomialDecay} (same as `new PolynomialDecay(...)`). Keras: `keras.optimizers.schedules.PolynomialDecay`. */
export const polynomialDecay = (args: PolynomialDecayArgs) => new PolynomialDecay(args);
/** Creates a new {@link CosineDecay} (same as `new CosineDecay(...)`). Keras: `keras.optimizers.schedules.CosineDecay`. */
export const cosineDecay = (args: CosineDecayArgs) => new CosineDecay(args);
/** Creates a new {@link OneCycle} (same as `new OneCycle(...)`). */
export const oneCycle = (args: OneCycleArgs) => new OneCycle(args);

/** Class names of the built-in schedules, as written in `class_name`. */
export type ScheduleClassName = 'ExponentialDecay' | 'InverseTimeDecay' | 'PiecewiseConstantDecay' | 'PolynomialDecay' | 'CosineDecay' | 'OneCycle';

/** A schedule as `serialize` writes it: Keras's { class_name, config } with snake_case config keys. */
export interface SerializedSchedule {
  /** The schedule's class name. */
  class_name: ScheduleClassName;
  /** The schedule's `getConfig()` (snake_case keys). */
  config: Record<string, unknown>;
}

/** Keras's serialized form of a schedule: `{ class_name, config }`. Keras: `keras.optimizers.schedules.serialize`. */
export function serialize(schedule: LearningRateSchedule): SerializedSchedule {
  return { class_name: schedule.className as ScheduleClassName, config: schedule.getConfig() };
}

const snakeToCamel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** Rebuild a schedule from `serialize`'s output (Keras's keras.optimizers.schedules.deserialize). */
export function deserialize(value: SerializedSchedule): LearningRateSchedule {
  if (value === null || typeof value !== 'object' || typeof value.config !== 'object' || value.config === null) {
    throw new ValueError(`schedules.deserialize: expected { class_name, config }, received ${describe(value)}`);
  }
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value.config)) args[snakeToCamel(k)] = v;
  switch (value.class_name) {
    case 'ExponentialDecay':
      return new ExponentialDecay(args as unknown as ExponentialDecayArgs);
    case 'InverseTimeDecay':
      return new InverseTimeDecay(args as unknown as InverseTimeDecayArgs);
    case 'PiecewiseConstantDecay':
      return new PiecewiseConstantDecay(args as unknown as PiecewiseConstantDecayArgs);
    case 'PolynomialDecay':
      return new PolynomialDecay(args as unknown as PolynomialDecayArgs);
    case 'CosineDecay':
      return new CosineDecay(args as unknown as CosineDecayArgs);
    case 'OneCycle':
      return new OneCycle(args as unknown as OneCycleArgs);
    default:
      return unknownId('learning-rate schedule class_name', value.class_name, [
        'ExponentialDecay', 'InverseTimeDecay', 'PiecewiseConstantDecay', 'PolynomialDecay', 'CosineDecay', 'OneCycle',
      ]);
  }
}
