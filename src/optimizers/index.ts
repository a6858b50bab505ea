import { Optimizer } from './optimizer';
import { SGD, SGDArgs } from './sgd';
import { Adam, AdamArgs } from './adam';
import { AdamW, AdamWArgs } from './adamw';
import { Adagrad, AdagradArgs } from './adagrad';
import { RMSprop, RMSpropArgs } from './rmsprop';
import { Adamax, AdamaxArgs } from './adamax';
import { Nadam, NadamArgs } from './nadam';
import { LearningRateSchedule } from './schedules/schedule';
import { deserialize as deserializeSchedule, SerializedSchedule } from './schedules';
import { ValueError, describe, unknownId } from '../errors';

export { Optimizer, SGD, Adam, AdamW, Adagrad, RMSprop, Adamax, Nadam };
export type { SGDArgs, AdamArgs, AdamWArgs, AdagradArgs, RMSpropArgs, AdamaxArgs, NadamArgs };
export type { Segment, OptimizerArgs, SlotSpec } from './optimizer';
export { LearningRateSchedule };
export * as schedules from './schedules';

/** Creates a new {@link SGD} (same as `new SGD(...)`). Keras: `keras.optimizers.SGD`. */
export const sgd = (args?: SGDArgs) => new SGD(args);
/** Creates a new {@link Adam} (same as `new Adam(...)`). Keras: `keras.optimizers.Adam`. */
export const adam = (args?: AdamArgs) => new Adam(args);
/** Creates a new {@link AdamW} (same as `new AdamW(...)`). Keras: `keras.optimizers.AdamW`. */
export const adamw = (args?: AdamWArgs) => new AdamW(args);
/** Creates a new {@link Adagrad} (same as `new Adagrad(...)`). Keras: `keras.optimizers.Adagrad`. */
export const adagrad = (args?: AdagradArgs) => new Adagrad(args);
/** Creates a new {@link RMSprop} (same as `new RMSprop(...)`). Keras: `keras.optimizers.RMSprop`. */
export const rmsprop = (args?: RMSpropArgs) => new RMSprop(args);
/** Creates a new {@link Adamax} (same as `new Adamax(...)`). Keras: `keras.optimizers.Adamax`. */
export const adamax = (args?: AdamaxArgs) => new Adamax(args);
/** Creates a new {@link Nadam} (same as `new Nadam(...)`). Keras: `keras.optimizers.Nadam`. */
export const nadam = (args?: NadamArgs) => new Nadam(args);

/** Optimizer ids: Keras's short names and class names. */
export type OptimizerId =
  | 'sgd' | 'SGD'
  | 'adam' | 'Adam'
  | 'adamw' | 'AdamW'
  | 'adagrad' | 'Adagrad'
  | 'rmsprop' | 'RMSprop'
  | 'adamax' | 'Adamax'
  | 'nadam' | 'Nadam';

const FACTORIES: Record<string, (args: Record<string, unknown>) => Optimizer> = {
  sgd: (a) => new SGD(a),
  adam: (a) => new Adam(a),
  adamw: (a) => new AdamW(a),
  adagrad: (a) => new Adagrad(a),
  rmsprop: (a) => new RMSprop(a),
  adamax: (a) => new Adamax(a),
  nadam: (a) => new Nadam(a),
};

/**
 * Whether `opt` is exactly one of the built-in optimizers (not a subclass or one of the user's own),
 * so that its class name and config rebuild it: a subclass inherits the built-in's name and would
 * silently come back as the built-in.
 */
export function isBuiltinOptimizer(opt: Optimizer): boolean {
  const proto = Object.getPrototypeOf(opt);
  return [SGD, Adam, AdamW, Adagrad, RMSprop, Adamax, Nadam].some((c) => c.prototype === proto);
}

/** Resolve an id ('adam', 'RMSprop', ...) to a new optimizer with Keras defaults, or pass one through. */
export function getOptimizer(id: OptimizerId | Optimizer | string): Optimizer {
  if (id instanceof Optimizer) return id;
  const make = typeof id === 'string' ? FACTORIES[id.toLowerCase()] : undefined;
  if (make === undefined) return unknownId('optimizer', id, Object.keys(FACTORIES));
  return make({});
}

/** Keras snake_case config keys and our option names. */
const CONFIG_KEYS: Record<string, string> = {
  name: 'name',
  learning_rate: 'learningRate',
  weight_decay: 'weightDecay',
  clipnorm: 'clipnorm',
  clipvalue: 'clipvalue',
  global_clipnorm: 'globalClipnorm',
  momentum: 'momentum',
  nesterov: 'nesterov',
  beta_1: 'beta1',
  beta_2: 'beta2',
  epsilon: 'epsilon',
  amsgrad: 'amsgrad',
  rho: 'rho',
  centered: 'centered',
  initial_accumulator_value: 'initialAccumulatorValue',
};

/** Keras options we do not implement, with their off values (ema_momentum only matters with use_ema). */
const UNSUPPORTED_OFF: Record<string, unknown> = {
  use_ema: false,
  ema_momentum: 0.99,
  ema_overwrite_frequency: null,
  loss_scale_factor: null,
  gradient_accumulation_steps: null,
};

/**
 * Rebuild an optimizer from its class name and `getConfig()` (the inverse of getConfig). A schedule
 * learning rate may be its { class_name, config } or an instance; Keras options we do not implement
 * (use_ema, loss_scale_factor, ...) are accepted only at their off values.
 */
export function optimizerFromConfig(className: string, config: Record<string, unknown>): Optimizer {
  const make = typeof className === 'string' ? FACTORIES[className.toLowerCase()] : undefined;
  if (make === undefined) return unknownId('optimizer', className, Object.keys(FACTORIES));
  const args: Record<string, unknown> = {};
  let excludes: unknown = undefined;
  for (const [key, value] of Object.entries(config ?? {})) {
    if (key === 'exclude_from_weight_decay') {
      excludes = value;
      continue;
    }
    if (key in UNSUPPORTED_OFF && (value === UNSUPPORTED_OFF[key] || value === undefined || key === 'ema_momentum')) continue;
    const option = CONFIG_KEYS[key];
    if (option === undefined) {
      throw new ValueError(`optimizerFromConfig(${describe(className)}): unsupported config key ${describe(key)} = ${describe(value)}`);
    }
    const isScheduleConfig =
      key === 'learning_rate' && value !== null && typeof value === 'object' && !(value instanceof LearningRateSchedule);
    args[option] = isScheduleConfig ? deserializeSchedule(value as SerializedSchedule) : value;
  }
  const optimizer = make(args);
  if (excludes !== undefined && excludes !== null) optimizer.excludeFromWeightDecay({ varNames: excludes as string[] });
  return optimizer;
}
