/**
 * Weight constraints with Keras 3's names, defaults and formulas (keras/src/constraints): each is
 * a projection the model applies to a weight in place after every optimizer step. Norms are taken
 * over `axis` (default 0: for a Dense kernel [inputDim, units], each unit's incoming weights), and
 * Keras's epsilon 1e-7 sits in the denominators:
 *   MaxNorm:    w * clip(n, 0, maxValue) / (1e-7 + n)
 *   UnitNorm:   w / (1e-7 + n)
 *   MinMaxNorm: w * (rate * clip(n, minValue, maxValue) + (1 - rate) * n) / (1e-7 + n)
 *   NonNeg:     max(w, 0)
 */
import { Tensor } from '../tensor';
import { native } from '../backend/native';
import { ShapeError, ValueError, checkOptions, describe, unknownId } from '../errors';
import type { Constraint, NativeConstraintForm } from './constraint';
import type { SerializedObject } from '../regularizers';

export type { Constraint } from './constraint';

/** Keras's backend.epsilon(). */
const EPSILON = 1e-7;

/** An axis or a list of axes; negative values count from the end. */
export type Axis = number | readonly number[];

function checkAxis(cls: string, axis: unknown): Axis {
  const ok = (a: unknown): boolean => Number.isInteger(a);
  if (ok(axis)) return axis as number;
  if (Array.isArray(axis) && axis.length > 0 && axis.every(ok) && new Set(axis).size === axis.length) return [...axis];
  throw new ValueError(`${cls}: axis must be an integer or a non-empty list of distinct integers, received axis=${describe(axis)}`);
}

function checkNumber(cls: string, name: string, v: unknown, min = 0): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new ValueError(`${cls}: ${name} must be a finite number >= ${min}, received ${name}=${describe(v)}`);
  }
  return v;
}

/**
 * The L2 norm of each slice over `axis`, and for every element the index of its slice. Sums are
 * accumulated in double.
 */
// Group (slice) index of every element, for a shape and reduced axes. Constraints run after every
// optimizer step on the same weights, so the index is computed once per (shape, axes) and cached.
const groupCache = new Map<string, { group: Int32Array; groups: number }>();

function groupIndex(shape: readonly number[], axes: readonly number[]): { group: Int32Array; groups: number } {
  const key = `${shape.join(',')}|${[...axes].sort().join(',')}`;
  const hit = groupCache.get(key);
  if (hit) return hit;
  const rank = shape.length;
  const reduced = new Set(axes);
  // Row-major strides of the weight and of the array of groups (the kept axes).
  const strides: number[] = new Array(rank);
  const gstrides: number[] = new Array(rank).fill(0);
  let s = 1, gs = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
    if (!reduced.has(d)) {
      gstrides[d] = gs;
      gs *= shape[d]!;
    }
  }
  const group = new Int32Array(s);
  for (let i = 0; i < s; i++) {
    let g = 0;
    for (let d = 0; d < rank; d++) if (gstrides[d] !== 0) g += (Math.floor(i / strides[d]!) % shape[d]!) * gstrides[d]!;
    group[i] = g;
  }
  if (groupCache.size >= 64) groupCache.clear();
  const entry = { group, groups: gs };
  groupCache.set(key, entry);
  return entry;
}

/** The axes as non-negative indices, checked against the weight's rank. */
function resolveAxes(cls: string, w: Tensor, axis: Axis): number[] {
  const rank = w.rank;
  const axes = (typeof axis === 'number' ? [axis] : [...axis]).map((a) => (a < 0 ? a + rank : a));
  if (rank === 0 || axes.some((a) => a < 0 || a >= rank)) {
    throw new ShapeError(`${cls}: axis=${describe(axis)} is out of range for a weight of shape [${w.shape}]`);
  }
  return axes;
}

/**
 * When the norms run over the weight's leading axes (a Dense kernel's axis 0, a convolution
 * kernel's spatial and input axes), the weight is a [rows, cols] matrix whose column norms they
 * are: the native kernel then does the whole projection, with the same double arithmetic in the
 * same order as the loops below (bit for bit). Returns false for other axes.
 */
function constrainNative(w: Tensor, axes: readonly number[], n: NativeNorm): boolean {
  const f = columnForm(w, axes, n);
  if (f === null) return false;
  native.constrainColumnNorms(w.data, f.rows, f.cols, f.kind, f.minValue, f.maxValue, f.rate);
  return true;
}

/** The [rows, cols] form of a norm constraint over `axes` of w, or null when they are not its leading axes. */
function columnForm(w: Tensor, axes: readonly number[], n: NativeNorm): NativeConstraintForm | null {
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.some((a, i) => a !== i)) return null;
  const rows = w.shape.slice(0, sorted.length).reduce((a, b) => a * b, 1);
  return { rows, cols: rows === 0 ? 0 : w.size / rows, kind: n.kind, minValue: n.minValue ?? 0, maxValue: n.maxValue ?? 0, rate: n.rate ?? 0 };
}

/** The native kernel's form of a norm constraint (kind 0 max, 1 unit, 2 min-max; native/kernels.h). */
interface NativeNorm {
  kind: 0 | 1 | 2;
  minValue?: number;
  maxValue?: number;
  rate?: number;
}

const UNIT_NORM: NativeNorm = { kind: 1 };

function groupNorms(w: Tensor, axes: readonly number[]): { group: Int32Array; norms: Float64Array } {
  const { group, groups } = groupIndex(w.shape, axes);
  const sq = new Float64Array(groups);
  const data = w.data;
  for (let i = 0; i < data.length; i++) sq[group[i]!] += data[i]! * data[i]!;
  for (let g = 0; g < groups; g++) sq[g] = Math.sqrt(sq[g]!);
  return { group, norms: sq };
}

/**
 * w[i] *= factor(norm of i's slice), in place: natively (`nativeForm`) when the norms run over the
 * leading axes, else by the loops here (any axes).
 */
function rescale(cls: string, w: Tensor, axis: Axis, nativeForm: NativeNorm, factor: (norm: number) => number): void {
  const axes = resolveAxes(cls, w, axis);
  if (constrainNative(w, axes, nativeForm)) return;
  const { group, norms } = groupNorms(w, axes);
  const f = new Float64Array(norms.length);
  for (let g = 0; g < norms.length; g++) f[g] = factor(norms[g]!);
  const data = w.data;
  for (let i = 0; i < data.length; i++) data[i] = data[i]! * f[group[i]!]!;
}

/** Rescales each slice along `axis` whose L2 norm exceeds `maxValue` down to that norm. Keras: `keras.constraints.MaxNorm`. */
export class MaxNorm implements Constraint {
  readonly className = 'MaxNorm';
  /** Largest allowed norm (default 2). Keras: `max_value`. */
  readonly maxValue: number;
  /** Axis (or axes) the norms are computed over (default 0). Keras: `axis`. */
  readonly axis: Axis;
  /** Keras defaults: maxValue 2, axis 0. */
  constructor(options: { maxValue?: number; axis?: Axis } = {}) {
    checkOptions('MaxNorm', options, ['maxValue', 'axis']);
    this.maxValue = checkNumber('MaxNorm', 'maxValue', options.maxValue ?? 2);
    this.axis = checkAxis('MaxNorm', options.axis ?? 0);
  }
  apply(w: Tensor): void {
    const max = this.maxValue;
    rescale(this.className, w, this.axis, this.norm, (n) => Math.min(Math.max(n, 0), max) / (EPSILON + n));
  }
  /** @internal */
  nativeForm(w: Tensor): NativeConstraintForm | null {
    return columnForm(w, resolveAxes(this.className, w, this.axis), this.norm);
  }
  private get norm(): NativeNorm {
    return { kind: 0, maxValue: this.maxValue };
  }
  getConfig(): Record<string, unknown> {
    return { max_value: this.maxValue, axis: this.axis };
  }
}

/** Sets negative weights to zero. Keras: `keras.constraints.NonNeg`. */
export class NonNeg implements Constraint {
  readonly className = 'NonNeg';
  apply(w: Tensor): void {
    const d = w.data;
    for (let i = 0; i < d.length; i++) if (d[i]! < 0) d[i] = 0;
  }
  getConfig(): Record<string, unknown> {
    return {};
  }
}

/** Rescales each slice along `axis` to unit L2 norm. Keras: `keras.constraints.UnitNorm`. */
export class UnitNorm implements Constraint {
  readonly className = 'UnitNorm';
  /** Axis (or axes) the norms are computed over (default 0). Keras: `axis`. */
  readonly axis: Axis;
  /** Keras default: axis 0. */
  constructor(options: { axis?: Axis } = {}) {
    checkOptions('UnitNorm', options, ['axis']);
    this.axis = checkAxis('UnitNorm', options.axis ?? 0);
  }
  apply(w: Tensor): void {
    rescale(this.className, w, this.axis, UNIT_NORM, (n) => 1 / (EPSILON + n));
  }
  /** @internal */
  nativeForm(w: Tensor): NativeConstraintForm | null {
    return columnForm(w, resolveAxes(this.className, w, this.axis), UNIT_NORM);
  }
  getConfig(): Record<string, unknown> {
    return { axis: this.axis };
  }
}

/** Moves each slice's L2 norm towards [minValue, maxValue] by the fraction `rate`. Keras: `keras.constraints.MinMaxNorm`. */
export class MinMaxNorm implements Constraint {
  readonly className = 'MinMaxNorm';
  /** Smallest allowed norm (default 0). Keras: `min_value`. */
  readonly minValue: number;
  /** Largest allowed norm (default 1). Keras: `max_value`. */
  readonly maxValue: number;
  /** Fraction of the way to the clipped norm taken each step, in [0, 1] (default 1: strict). Keras: `rate`. */
  readonly rate: number;
  /** Axis (or axes) the norms are computed over (default 0). Keras: `axis`. */
  readonly axis: Axis;
  /** Keras defaults: minValue 0, maxValue 1, rate 1 (strict), axis 0. */
  constructor(options: { minValue?: number; maxValue?: number; rate?: number; axis?: Axis } = {}) {
    checkOptions('MinMaxNorm', options, ['minValue', 'maxValue', 'rate', 'axis']);
    this.minValue = checkNumber('MinMaxNorm', 'minValue', options.minValue ?? 0);
    this.maxValue = checkNumber('MinMaxNorm', 'maxValue', options.maxValue ?? 1);
    if (this.maxValue < this.minValue) {
      throw new ValueError(
        `MinMaxNorm: maxValue must be >= minValue, received minValue=${this.minValue}, maxValue=${this.maxValue}`,
      );
    }
    this.rate = checkNumber('MinMaxNorm', 'rate', options.rate ?? 1);
    if (this.rate > 1) throw new ValueError(`MinMaxNorm: rate must be in [0, 1], received rate=${this.rate}`);
    this.axis = checkAxis('MinMaxNorm', options.axis ?? 0);
  }
  apply(w: Tensor): void {
    const { minValue, maxValue, rate } = this;
    rescale(this.className, w, this.axis, this.norm, (n) => {
      const desired = rate * Math.min(Math.max(n, minValue), maxValue) + (1 - rate) * n;
      return desired / (EPSILON + n);
    });
  }
  /** @internal */
  nativeForm(w: Tensor): NativeConstraintForm | null {
    return columnForm(w, resolveAxes(this.className, w, this.axis), this.norm);
  }
  private get norm(): NativeNorm {
    const { minValue, maxValue, rate } = this;
    return { kind: 2, minValue, maxValue, rate };
  }
  getConfig(): Record<string, unknown> {
    return { min_value: this.minValue, max_value: this.maxValue, rate: this.rate, axis: this.axis };
  }
}

// Factories in the library's camelCase style: constraints.maxNorm({ maxValue: 3 }).
/** Creates a new {@link MaxNorm} (same as `new MaxNorm(...)`). Keras: `keras.constraints.MaxNorm`. */
export const maxNorm = (o?: { maxValue?: number; axis?: Axis }): MaxNorm => new MaxNorm(o);
/** Creates a new {@link NonNeg} (same as `new NonNeg(...)`). Keras: `keras.constraints.NonNeg`. */
export const nonNeg = (): NonNeg => new NonNeg();
/** Creates a new {@link UnitNorm} (same as `new UnitNorm(...)`). Keras: `keras.constraints.UnitNorm`. */
export const unitNorm = (o?: { axis?: Axis }): UnitNorm => new UnitNorm(o);
/** Creates a new {@link MinMaxNorm} (same as `new MinMaxNorm(...)`). Keras: `keras.constraints.MinMaxNorm`. */
export const minMaxNorm = (o?: { minValue?: number; maxValue?: number; rate?: number; axis?: Axis }): MinMaxNorm =>
  new MinMaxNorm(o);

/** String ids of the constraints (camelCase, snake_case or Keras class name), each with Keras's defaults. */
export type ConstraintId =
  | 'maxNorm' | 'max_norm' | 'MaxNorm' | 'nonNeg' | 'non_neg' | 'NonNeg'
  | 'unitNorm' | 'unit_norm' | 'UnitNorm' | 'minMaxNorm' | 'min_max_norm' | 'MinMaxNorm';
/** Anything accepted where a constraint is: an instance, a string id or a serialized `{ class_name, config }`. */
export type ConstraintIdentifier = ConstraintId | Constraint | SerializedObject;

const VALID_IDS = ['max_norm', 'non_neg', 'unit_norm', 'min_max_norm'];

// Keys: lower-cased, underscores removed. Configs use Keras's snake_case keys.
const FROM_CONFIG: Record<string, (c: Record<string, unknown>) => Constraint> = {
  maxnorm: (c) => new MaxNorm({ maxValue: c.max_value as number | undefined, axis: c.axis as Axis | undefined }),
  nonneg: () => new NonNeg(),
  unitnorm: (c) => new UnitNorm({ axis: c.axis as Axis | undefined }),
  minmaxnorm: (c) =>
    new MinMaxNorm({
      minValue: c.min_value as number | undefined,
      maxValue: c.max_value as number | undefined,
      rate: c.rate as number | undefined,
      axis: c.axis as Axis | undefined,
    }),
};

function isConstraint(v: unknown): v is Constraint {
  return typeof v === 'object' && v !== null && typeof (v as Constraint).apply === 'function';
}

/**
 * Resolve a constraint: an instance passes through; 'max_norm', 'nonNeg', 'UnitNorm', ... give
 * Keras's defaults; { class_name, config } rebuilds a serialized one; null/undefined mean none.
 */
export function getConstraint(id: ConstraintIdentifier | null | undefined, where = 'constraint'): Constraint | null {
  if (id === undefined || id === null) return null;
  if (isConstraint(id)) return id;
  if (typeof id === 'string') {
    const make = FROM_CONFIG[id.replace(/_/g, '').toLowerCase()];
    if (!make) unknownId(where, id, VALID_IDS);
    return make({});
  }
  if (typeof id === 'object' && typeof (id as SerializedObject).class_name === 'string') {
    const { class_name: name, config } = id as SerializedObject;
    const make = FROM_CONFIG[name.replace(/_/g, '').toLowerCase()];
    if (!make) unknownId(`${where} class_name`, name, ['MaxNorm', 'NonNeg', 'UnitNorm', 'MinMaxNorm']);
    return make(config ?? {});
  }
  return unknownId(where, id, VALID_IDS);
}

/** Keras's serialized form ({ class_name, config }), or null for no constraint. */
export function serializeConstraint(c: Constraint | null | undefined): SerializedObject | null {
  return c ? { class_name: c.className, config: c.getConfig() } : null;
}
