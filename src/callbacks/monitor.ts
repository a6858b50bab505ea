/** What the monitoring callbacks share: option checks, the direction of a monitored quantity, the optimizer. */
import { StateError, ValueError, checkOptions, describe, unknownId } from '../errors';
import type { TrainingModel, TrainingOptimizer } from './callback';

/** Python's spelling of a non-finite float ('nan', 'inf', '-inf'), as Keras's progress bar and CSV log print them; null for a finite one. */
export function pythonNonFinite(v: number): string | null {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return null;
}

/** Whether the monitored quantity should go down (`'min'`), up (`'max'`), or be inferred from its name (`'auto'`). Keras: `mode`. */
export type MonitorMode = 'auto' | 'min' | 'max';

// Quantities that improve downwards / upwards, matched on the name without its 'val_' prefix.
const MINIMIZED = /loss|error|crossentropy|hinge|divergence|poisson|cosh|^(mse|mae|mape|msle|rmse)$/;
const MAXIMIZED = /acc|auc|precision|recall|f1|fbeta|iou|r2/;

/** 'min' or 'max' for a monitored name ('val_loss' -> min, 'accuracy' -> max), null when unknown. */
export function inferDirection(monitor: string): 'min' | 'max' | null {
  const name = monitor.startsWith('val_') ? monitor.slice(4) : monitor;
  if (MINIMIZED.test(name)) return 'min';
  if (MAXIMIZED.test(name)) return 'max';
  return null;
}

export function checkMode(owner: string, mode: unknown): MonitorMode {
  if (mode !== 'auto' && mode !== 'min' && mode !== 'max') return unknownId(`${owner} mode`, mode, ['auto', 'min', 'max']);
  return mode;
}

export function checkMonitor(owner: string, monitor: unknown): string {
  if (typeof monitor !== 'string' || monitor.length === 0) {
    throw new ValueError(`${owner}: monitor must be the name of a logged quantity such as 'val_loss', received monitor=${describe(monitor)}`);
  }
  return monitor;
}

export function checkInt(owner: string, option: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ValueError(`${owner}: ${option} must be an integer >= ${min}, received ${option}=${describe(v)}`);
  }
  return v;
}

export function checkNumber(owner: string, option: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ValueError(`${owner}: ${option} must be a finite number${min > -Infinity ? ` >= ${min}` : ''}, received ${option}=${describe(v)}`);
  }
  return v;
}

export function checkBool(owner: string, option: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ValueError(`${owner}: ${option} must be a boolean, received ${option}=${describe(v)}`);
  return v;
}

export function checkVerbose(owner: string, v: unknown): 0 | 1 {
  if (v !== 0 && v !== 1) throw new ValueError(`${owner}: verbose must be 0 or 1, received verbose=${describe(v)}`);
  return v;
}

/** The options argument: undefined (all defaults) or a plain object whose keys are all in `known`. */
export function optionsOf<T extends object>(owner: string, v: T | undefined, known: readonly (keyof T & string)[]): Partial<T> {
  if (v === undefined) return {};
  checkOptions(owner, v, known);
  return v;
}

export function requireModel(owner: string, model: TrainingModel | null): TrainingModel {
  if (!model) throw new StateError(`${owner}: no model set; pass the callback to model.fit({ callbacks: [...] })`);
  return model;
}

/**
 * The optimizer whose learning rate a callback sets. It must hold a plain number: as in Keras, a rate
 * given as a schedule is not settable (the schedule owns it).
 */
export function settableOptimizer(owner: string, model: TrainingModel | null): TrainingOptimizer & { learningRate: number } {
  const opt = requireModel(owner, model).optimizer;
  if (!opt) throw new StateError(`${owner}: the model has no optimizer; call model.compile({ optimizer, loss }) before fit`);
  const lr = opt.learningRate;
  const schedule = opt.learningRateSchedule ?? (typeof lr === 'number' ? null : lr);
  if (schedule !== null) {
    throw new StateError(
      `${owner}: the optimizer's learning rate is a ${schedule.className} schedule, which a callback cannot change; ` +
        'give the optimizer a number as learningRate, or use the schedule alone',
    );
  }
  return opt as TrainingOptimizer & { learningRate: number };
}

/** Keras prints callback messages on stdout. */
export function say(message: string): void {
  process.stdout.write(`${message}\n`);
}
