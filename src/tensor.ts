import { ShapeError, ValueError, describe } from './errors';

/** Dimensions of a tensor, outermost first (row-major), e.g. `[batch, features]`. */
export type Shape = readonly number[];

/** Number of elements of a tensor of this shape (product of the dimensions; 1 for `[]`). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * A float32 tensor. Its storage is a JS-owned Float32Array (never memory allocated in C++), passed
 * zero-copy to native kernels. `grad` is filled by `backward()` when `requiresGrad` is set.
 */
export class Tensor {
  /** Row-major element storage (JS-owned, passed zero-copy to native kernels). */
  data: Float32Array;
  /** Dimensions, outermost first; frozen. */
  readonly shape: Shape;
  /** Gradient of the last `backward()` w.r.t. this tensor (same layout as `data`); `null` until computed. */
  grad: Float32Array | null = null;
  /** Whether autograd records ops on this tensor and fills `grad`. Default `false`. */
  requiresGrad = false;
  /** Set by the autograd tape: how to push this tensor's gradient to its inputs. */
  backwardFn: (() => void) | null = null;
  /** Inputs this tensor was computed from (autograd graph edges). */
  parents: readonly Tensor[] = [];
  /** Op tag, e.g. 'softmax'; lets a loss fuse with the op that produced its input. */
  op = '';
  /** For op === 'softmax': the logits, so cross-entropy can be computed from them stably. */
  logits: Tensor | null = null;

  constructor(data: Float32Array, shape: Shape) {
    if (!(data instanceof Float32Array)) {
      throw new ValueError(`Tensor: expected data to be a Float32Array, received ${describe(data)}`, 'ERR_DTYPE');
    }
    if (!Array.isArray(shape)) throw new ShapeError(`Tensor: shape must be an array of dimensions, received ${describe(shape)}`);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new ShapeError(`Tensor: invalid shape ${describe(shape)}`);
    }
    if (sizeOf(shape) !== data.length) {
      throw new ShapeError(
        `Tensor: shape ${describe(shape)} needs ${sizeOf(shape)} elements, received data of length ${data.length}`,
      );
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  /** Number of elements (`data.length`). */
  get size(): number {
    return this.data.length;
  }

  /** Number of dimensions (`shape.length`). */
  get rank(): number {
    return this.shape.length;
  }

  /** A new zero-filled tensor of the given shape. */
  static zeros(shape: Shape): Tensor {
    return new Tensor(new Float32Array(sizeOf(shape)), shape);
  }

  /** Build from nested arrays (any depth, every level of equal length) or a flat array plus shape. */
  static from(values: ArrayLike<number> | number[][] | number[][][], shape?: Shape): Tensor {
    if (shape === undefined && Array.isArray(values)) return fromNested(values, 'Tensor.from');
    const flat = Float32Array.from(values as ArrayLike<number>);
    if (Array.isArray(values)) checkNumbers(values, 'Tensor.from');
    return new Tensor(flat, shape ?? [flat.length]);
  }

  /** Same storage, new shape. */
  reshape(shape: Shape): Tensor {
    return new Tensor(this.data, shape);
  }

  /** The elements as a plain flat JS array (row-major). */
  toArray(): number[] {
    return Array.from(this.data);
  }

  /** Short description with the shape, e.g. `Tensor(shape=[2, 3])`. */
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}])`;
  }
}

function checkNumbers(values: readonly unknown[], where: string): void {
  for (let i = 0; i < values.length; i++) {
    if (typeof values[i] !== 'number') {
      throw new ValueError(`${where}: element ${i} is ${describe(values[i])}, expected a number`, 'ERR_DTYPE');
    }
  }
}

/**
 * A tensor from nested arrays, checked level by level: every array at one depth has the length of
 * the first, no holes, numbers only at the innermost level (a ragged array is a ShapeError naming
 * the index path rather than rows silently re-cut).
 */
export function fromNested(values: readonly unknown[], where: string): Tensor {
  const shape: number[] = [];
  for (let cur: unknown = values; Array.isArray(cur); cur = cur[0]) shape.push(cur.length);
  const data = new Float32Array(sizeOf(shape));
  let at = 0;
  const walk = (v: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number') {
        const what = Array.isArray(v) ? `an array (deeper than element [0]${'[0]'.repeat(depth - 1)})` : describe(v);
        throw new ValueError(`${where}: element ${path} is ${what}, expected a number`, 'ERR_DTYPE');
      }
      data[at++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      const got = Array.isArray(v) ? `${v.length} entries` : describe(v);
      throw new ShapeError(`${where}: ragged nested array: ${path || 'the array'} has ${got}, expected ${shape[depth]} (shape [${shape}] from the first element at each depth)`);
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${path}[${i}]`);
  };
  walk(values, 0, '');
  return new Tensor(data, shape);
}
