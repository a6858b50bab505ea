/**
 * Weight and activity penalties with Keras 3's names, defaults and formulas
 * (keras/src/regularizers/regularizers.py):
 *   L1:   l1 * sum(|x|)            (default l1 = 0.01)
 *   L2:   l2 * sum(x^2)            (default l2 = 0.01; no 1/2 factor, unlike "weight decay" texts)
 *   L1L2: l1 * sum(|x|) + l2 * sum(x^2)   (constructor defaults l1 = l2 = 0)
 * Each penalty is built from ops, so autograd carries its gradient to the weight.
 */
import { Tensor } from '../tensor';
import { add, mulScalar } from '../ops/arithmetic';
import { sumAbs, sumSquares } from '../ops/reductions';
import { ValueError, checkOptions, describe, unknownId } from '../errors';
import type { Regularizer } from './regularizer';

export type { Regularizer } from './regularizer';

/** Keras's serialized form of a regularizer, constraint or initializer. */
export interface SerializedObject {
  /** Keras class name, e.g. `'L2'`, `'MaxNorm'`, `'HeNormal'`. */
  class_name: string;
  /** Constructor options in Keras snake_case (default `{}`). */
  config?: Record<string, unknown>;
}

function checkFactor(cls: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new ValueError(`${cls}: ${name} must be a non-negative finite number, received ${name}=${describe(v)}`);
  }
  return v;
}

/** L1 penalty `l1 * sum(abs(x))`. Keras: `keras.regularizers.L1`. */
export class L1 implements Regularizer {
  readonly className = 'L1';
  /** Factor of the penalty (default 0.01). Keras: `l1`. */
  readonly l1: number;
  constructor(l1: number = 0.01) {
    this.l1 = checkFactor('L1', 'l1', l1);
  }
  call(x: Tensor): Tensor {
    return mulScalar(sumAbs(x), this.l1);
  }
  getConfig(): Record<string, unknown> {
    return { l1: this.l1 };
  }
}

/** L2 penalty `l2 * sum(x^2)` (no 1/2 factor). Keras: `keras.regularizers.L2`. */
export class L2 implements Regularizer {
  readonly className = 'L2';
  /** Factor of the penalty (default 0.01). Keras: `l2`. */
  readonly l2: number;
  constructor(l2: number = 0.01) {
    this.l2 = checkFactor('L2', 'l2', l2);
  }
  call(x: Tensor): Tensor {
    return mulScalar(sumSquares(x), this.l2);
  }
  getConfig(): Record<string, unknown> {
    return { l2: this.l2 };
  }
}

/** Sum of an L1 and an L2 penalty. Keras: `keras.regularizers.L1L2`. */
export class L1L2 implements Regularizer {
  readonly className = 'L1L2';
  /** L1 factor (default 0 in the constructor; 0.01 for the string id `'l1_l2'`, as Keras). Keras: `l1`. */
  readonly l1: number;
  /** L2 factor (default 0 in the constructor; 0.01 for the string id `'l1_l2'`, as Keras). Keras: `l2`. */
  readonly l2: number;
  constructor(options: { l1?: number; l2?: number } = {}) {
    checkOptions('L1L2', options, ['l1', 'l2']);
    this.l1 = checkFactor('L1L2', 'l1', options.l1 ?? 0);
    this.l2 = checkFactor('L1L2', 'l2', options.l2 ?? 0);
  }
  call(x: Tensor): Tensor {
    // Keras skips a zero term; the result is the same, the graph smaller.
    const l1 = this.l1 !== 0 ? mulScalar(sumAbs(x), this.l1) : null;
    const l2 = this.l2 !== 0 ? mulScalar(sumSquares(x), this.l2) : null;
    if (l1 && l2) return add(l1, l2);
    return l1 ?? l2 ?? mulScalar(sumSquares(x), 0);
  }
  getConfig(): Record<string, unknown> {
    return { l1: this.l1, l2: this.l2 };
  }
}

// Factories in the library's camelCase style: regularizers.l2(0.001).
/** Creates a new {@link L1} (same as `new L1(...)`). Keras: `keras.regularizers.L1`. */
export const l1 = (factor?: number): L1 => new L1(factor);
/** Creates a new {@link L2} (same as `new L2(...)`). Keras: `keras.regularizers.L2`. */
export const l2 = (factor?: number): L2 => new L2(factor);
/** Creates a new {@link L1L2} (same as `new L1L2(...)`). Keras: `keras.regularizers.L1L2`. */
export const l1l2 = (options?: { l1?: number; l2?: number }): L1L2 => new L1L2(options);

/** String ids of the regularizers, each giving Keras's default factors. */
export type RegularizerId = 'l1' | 'L1' | 'l2' | 'L2' | 'l1l2' | 'l1_l2' | 'L1L2';
/** Anything accepted where a regularizer is: an instance, a string id or a serialized `{ class_name, config }`. */
export type RegularizerIdentifier = RegularizerId | Regularizer | SerializedObject;

const VALID_IDS = ['l1', 'l2', 'l1_l2'];

// Keys: lower-cased, underscores removed. The string 'l1_l2' means l1 = l2 = 0.01, as Keras documents
// (its L1L2 constructor defaults to 0, which would make the string id a no-op).
const FROM_CONFIG: Record<string, (c: Record<string, unknown>) => Regularizer> = {
  l1: (c) => new L1(c.l1 === undefined || c.l1 === null ? 0.01 : (c.l1 as number)),
  l2: (c) => new L2(c.l2 === undefined || c.l2 === null ? 0.01 : (c.l2 as number)),
  // An L1L2 with one factor 0 is the L1 or L2 it was saved from (tfjs has no L1 or L2 class, so
  // our saves write them as L1L2; see saving/model_io.ts).
  l1l2: (c) => {
    const l1 = (c.l1 as number | null) ?? 0, l2 = (c.l2 as number | null) ?? 0;
    if (l1 === 0 && typeof l2 === 'number' && l2 > 0) return new L2(l2);
    if (l2 === 0 && typeof l1 === 'number' && l1 > 0) return new L1(l1);
    return new L1L2({ l1, l2 });
  },
};

function isRegularizer(v: unknown): v is Regularizer {
  return typeof v === 'object' && v !== null && typeof (v as Regularizer).call === 'function';
}

/**
 * Resolve a regularizer: an instance passes through; 'l1', 'l2', 'l1_l2' (any case, with or
 * without underscores) give Keras's defaults; { class_name, config } rebuilds a serialized one;
 * null/undefined mean none.
 */
export function getRegularizer(id: RegularizerIdentifier | null | undefined, where = 'regularizer'): Regularizer | null {
  if (id === undefined || id === null) return null;
  if (isRegularizer(id)) return id;
  if (typeof id === 'string') {
    const key = id.replace(/_/g, '').toLowerCase();
    if (key === 'l1l2') return new L1L2({ l1: 0.01, l2: 0.01 });
    const make = FROM_CONFIG[key];
    if (!make) unknownId(where, id, VALID_IDS);
    return make({});
  }
  if (typeof id === 'object' && typeof (id as SerializedObject).class_name === 'string') {
    const { class_name: name, config = {} } = id as SerializedObject;
    const make = FROM_CONFIG[name.replace(/_/g, '').toLowerCase()];
    if (!make) unknownId(`${where} class_name`, name, ['L1', 'L2', 'L1L2']);
    return make(config ?? {});
  }
  return unknownId(where, id, VALID_IDS);
}

/** Keras's serialized form ({ class_name, config }), or null for no regularizer. */
export function serializeRegularizer(r: Regularizer | null | undefined): SerializedObject | null {
  return r ? { class_name: r.className, config: r.getConfig() } : null;
}
