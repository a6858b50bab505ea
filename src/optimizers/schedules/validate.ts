/** Argument checks shared by the schedules; every message names the schedule, the option and the value. */
import { ValueError, checkOptions, describe } from '../../errors';

export function finiteNumber(owner: string, option: string, v: unknown, min: number, minOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (minOpen ? v <= min : v < min)) {
    throw new ValueError(`${owner}: ${option} must be a finite number ${minOpen ? '>' : '>='} ${min}, received ${option}=${describe(v)}`);
  }
  return v;
}

export function inRange(owner: string, option: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
    throw new ValueError(`${owner}: ${option} must be in [${lo}, ${hi}], received ${option}=${describe(v)}`);
  }
  return v;
}

export function integer(owner: string, option: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ValueError(`${owner}: ${option} must be an integer >= ${min}, received ${option}=${describe(v)}`);
  }
  return v;
}

export function bool(owner: string, option: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ValueError(`${owner}: ${option} must be a boolean, received ${option}=${describe(v)}`);
  return v;
}

export function scheduleName(owner: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new ValueError(`${owner}: name must be a non-empty string, received name=${describe(v)}`);
  return v;
}

/**
 * The options object itself: a plain object, not undefined or a number passed positionally, whose
 * keys are all in `known` (a misspelt option must not fall back to its default).
 */
export function optionsObject<T>(owner: string, v: T | undefined, example: string, known: readonly string[]): T {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new ValueError(`${owner}: expected an options object ${example}, received ${describe(v)}`);
  }
  checkOptions(owner, v, known);
  return v;
}

/** The optimizer step a schedule is evaluated at: a finite number >= 0 (0 for the first update). */
export function checkStep(owner: string, step: unknown): number {
  if (typeof step !== 'number' || !Number.isFinite(step) || step < 0) {
    throw new ValueError(`${owner}: step must be a finite number >= 0, received step=${describe(step)}`);
  }
  return step;
}
