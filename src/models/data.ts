/** Turning user data into tensors, validating it, and cutting it into batches without garbage. */
import { Tensor, fromNested, sizeOf } from '../tensor';
import { ShapeError, ValueError, describe } from '../errors';
import { native } from '../backend/native';

/** What fit/evaluate/predict accept: a Tensor, or nested arrays of numbers. */
export type TensorLike = Tensor | number[] | number[][] | number[][][] | Float32Array;

/** Convert to a float32 Tensor; `what` names the argument in errors ('x', 'y', 'validationData[0]'). */
export function toTensor(v: unknown, what: string): Tensor {
  if (v instanceof Tensor) {
    // data is a public field: a replaced or detached buffer must not reach the kernels.
    if (!(v.data instanceof Float32Array) || v.data.length !== sizeOf(v.shape)) {
      throw new ShapeError(`${what}: the tensor's data holds ${describe(v.data)}, its shape [${v.shape}] needs ${sizeOf(v.shape)} floats`);
    }
    return v;
  }
  if (v instanceof Float32Array) return new Tensor(v, [v.length]);
  if (ArrayBuffer.isView(v)) {
    throw new ValueError(
      `${what}: expected float32 data (a Tensor, Float32Array or array of numbers), received ${describe(v)}; ` +
        'convert it with Float32Array.from(...)',
      'ERR_DTYPE',
    );
  }
  if (!Array.isArray(v)) {
    throw new ValueError(`${what}: expected a Tensor or an array of numbers, received ${describe(v)}`, 'ERR_DTYPE');
  }
  return fromNested(v, what);
}

/** Throw if x holds NaN or Inf, naming the sample and the position inside it. */
export function assertFinite(t: Tensor, what: string): void {
  const i = native.firstNonFinite(t.data);
  if (i < 0) return;
  const per = t.rank > 0 && t.shape[0]! > 0 ? t.size / t.shape[0]! : 1;
  throw new ValueError(
    `${what}: value ${t.data[i]} at flat index ${i} (sample ${Math.floor(i / per)}, element ${i % per}); ` +
      'inputs and labels must be finite',
    'ERR_NON_FINITE',
  );
}

/** Copies rows of a [N, ...] tensor into reusable batch buffers. */
export class Batcher {
  private readonly per: number;
  private readonly full: Float32Array;

  constructor(
    private readonly source: Tensor,
    private readonly batchSize: number,
  ) {
    const n = source.shape[0] ?? 0;
    this.per = n === 0 ? 0 : source.size / n;
    this.full = new Float32Array(this.per * Math.min(batchSize, Math.max(n, 1)));
  }

  /** The rows `index[start..end)` as a tensor of shape [end-start, ...]; valid until the next call. */
  gather(index: Int32Array | null, start: number, end: number): Tensor {
    const rows = end - start;
    const per = this.per;
    const src = this.source.data;
    if (index === null) {
      // Contiguous rows: a zero-copy view.
      return new Tensor(src.subarray(start * per, end * per), [rows, ...this.source.shape.slice(1)]);
    }
    const out = this.full.subarray(0, rows * per);
    // Native: rows drawn at random from a large set cost a cache miss each, which it overlaps.
    native.gatherRows(src, this.source.shape[0]!, per, index.subarray(start, end), rows, out);
    return new Tensor(out, [rows, ...this.source.shape.slice(1)]);
  }
}

/** Rows [from, to) of a [N, ...] tensor as a zero-copy view. */
export function sliceRows(t: Tensor, from: number, to: number): Tensor {
  const n = t.shape[0] ?? 0;
  const per = n === 0 ? 0 : t.size / n;
  return new Tensor(t.data.subarray(from * per, to * per), [to - from, ...t.shape.slice(1)]);
}
