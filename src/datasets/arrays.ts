/**
 * Tensors from plain arrays, and scikit-learn's `train_test_split`: the two steps between data a
 * program already holds and `model.fit`. Rows are samples; every dimension after the first is
 * one sample's features.
 */
import { ShapeError, ValueError, checkOptions, describe } from '../errors';
import { checkSeed, rngFor } from '../random';
import { Shape, Tensor, sizeOf } from '../tensor';

/** Inputs: a Tensor, rows of numbers, or a flat array (then `shape` is required). */
export type ArrayInput = Tensor | readonly (readonly number[])[] | Float32Array | readonly number[];
/** Labels: a Tensor, one number per sample, or one row per sample (one-hot, multi-output). */
export type LabelInput = Tensor | readonly number[] | readonly (readonly number[])[] | Float32Array;

/** Options of `fromArrays`. */
export interface FromArraysOptions {
  /** Shape of `x` when it is flat, e.g. [n, 28, 28]; its first dimension is the sample count. */
  shape?: readonly number[];
}

/** What `fromArrays` returns: float32 tensors ready for `model.fit(x, y)`. */
export interface ArrayDataset {
  /** Inputs, [n, ...features]. */
  x: Tensor;
  /** Labels, [n] or [n, k]; absent when no labels were given. */
  y?: Tensor;
}

/**
 * Build float32 tensors from JS arrays, checking what `fit` would trip on later: ragged rows,
 * values that are not finite numbers (named by row and column), a flat array that does not fit
 * `shape`, and labels whose count differs from the sample count.
 */
export function fromArrays(x: ArrayInput, y?: LabelInput, options: FromArraysOptions = {}): ArrayDataset {
  checkOptions('fromArrays', options, ['shape']);
  const xt = toTensor('fromArrays', 'x', x, options.shape);
  if (xt.rank < 1) throw new ShapeError(`fromArrays: x must have a sample dimension, received shape ${describe(xt.shape)}`);
  if (y === undefined) return { x: xt };
  const yt = toTensor('fromArrays', 'y', y, undefined);
  checkSameCount('fromArrays', xt, yt);
  return { x: xt, y: yt };
}

/**
 * Convert one input to a Tensor, validating as `fromArrays` does. `where` and `name` prefix the
 * errors: `fromArrays: x row 3 column 1 is NaN`.
 */
export function toTensor(where: string, name: string, value: unknown, shape?: readonly number[]): Tensor {
  let t: Tensor;
  if (value instanceof Tensor) {
    if (shape !== undefined) throw new ValueError(`${where}: shape is only for a flat ${name}, received a Tensor of shape ${describe(value.shape)}`);
    t = value;
  } else if (Array.isArray(value) && value.length > 0 && Array.isArray(value[0])) {
    if (shape !== undefined) throw new ValueError(`${where}: shape is only for a flat ${name}, received rows of arrays`);
    t = fromRows(where, name, value as unknown[]);
  } else if (value instanceof Float32Array || Array.isArray(value)) {
    const flat = value instanceof Float32Array ? value : Float32Array.from(value as number[]);
    if (Array.isArray(value)) {
      const bad = (value as unknown[]).findIndex((v) => typeof v !== 'number');
      if (bad >= 0) throw new ValueError(`${where}: ${name}[${bad}] must be a number, received ${describe((value as unknown[])[bad])}`);
    }
    const s = shape ?? [flat.length];
    if (!Array.isArray(s) || s.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new ShapeError(`${where}: shape must be an array of non-negative integers, received ${describe(s)}`);
    }
    if (sizeOf(s) !== flat.length) {
      throw new ShapeError(`${where}: shape ${describe(s)} needs ${sizeOf(s)} values, ${name} has ${flat.length}`);
    }
    t = new Tensor(flat, s);
  } else {
    throw new ValueError(
      `${where}: ${name} must be a Tensor, an array of rows, a number array or a Float32Array, received ${describe(value)}`,
    );
  }
  checkFinite(where, name, t);
  return t;
}

function fromRows(where: string, name: string, rows: unknown[]): Tensor {
  const cols = (rows[0] as unknown[]).length;
  const out = new Float32Array(rows.length * cols);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    if (!Array.isArray(row)) throw new ValueError(`${where}: ${name} row ${r} must be an array, received ${describe(row)}`);
    if (row.length !== cols) throw new ShapeError(`${where}: ${name} has ragged rows, row 0 has ${cols} values, row ${r} has ${row.length}`);
    for (let c = 0; c < cols; c++) {
      const v: unknown = row[c];
      if (typeof v !== 'number') throw new ValueError(`${where}: ${name} row ${r} column ${c} must be a number, received ${describe(v)}`);
      out[r * cols + c] = v;
    }
  }
  return new Tensor(out, [rows.length, cols]);
}

function checkFinite(where: string, name: string, t: Tensor): void {
  const d = t.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i]!)) {
      const width = t.rank > 1 ? d.length / t.shape[0]! : 1;
      const at = t.rank > 1 ? `row ${Math.floor(i / width)} column ${i % width}` : `[${i}]`;
      throw new ValueError(`${where}: ${name} ${at} is ${d[i]}, expected a finite number`, 'ERR_NON_FINITE');
    }
  }
}

function checkSameCount(where: string, x: Tensor, y: Tensor): void {
  if (y.rank < 1 || y.shape[0] !== x.shape[0]) {
    throw new ShapeError(
      `${where}: x has ${x.shape[0]} samples (shape ${describe(x.shape)}) but y has shape ${describe(y.shape)}; they must have the same first dimension`,
    );
  }
}

/** Rows `index` of `t`, in that order. */
export function takeRows(t: Tensor, index: ArrayLike<number>): Tensor {
  const width = t.shape[0] === 0 ? 0 : t.size / t.shape[0]!;
  const out = new Float32Array(index.length * width);
  for (let i = 0; i < index.length; i++) {
    const r = index[i]!;
    out.set(t.data.subarray(r * width, (r + 1) * width), i * width);
  }
  return new Tensor(out, [index.length, ...t.shape.slice(1)]);
}

// ---------------------------------------------------------------------------------------------
// trainTestSplit

/**
 * Options of `trainTestSplit`, named after scikit-learn's `train_test_split` arguments (`test_size`,
 * `shuffle`, `random_state`, `stratify`); there is no `train_size`: the training set is the rest.
 */
export interface TrainTestSplitOptions {
  /**
   * Fraction of the samples in the test set (0 < testSize < 1), rounded up as in scikit-learn
   * (ceil(testSize * n)), or a sample count (an integer >= 1). Default 0.25.
   */
  testSize?: number;
  /** Shuffle before splitting (default true); false takes the last samples as the test set. */
  shuffle?: boolean;
  /**
   * Seed of the shuffle (scikit-learn's `random_state`); without it (the default) the global
   * generator (`setSeed`) is used.
   */
  seed?: number;
  /**
   * Keep each class's share equal in both sets: true stratifies by `y` (class ids [n], or one-hot
   * rows [n, k] read by argmax), or give the class ids to stratify by. Needs `shuffle`.
   */
  stratify?: boolean | Tensor | readonly number[];
}

/**
 * What `trainTestSplit` returns: scikit-learn's `X_train, X_test, y_train, y_test`, as named fields.
 * Each is a float32 copy; rows of `x` and `y` stay paired.
 */
export interface TrainTestSplit {
  /** Training inputs, [nTrain, ...features]. */
  xTrain: Tensor;
  /** Test inputs, [nTest, ...features]. */
  xTest: Tensor;
  /** Training labels, [nTrain] or [nTrain, k], in the same row order as `xTrain`. */
  yTrain: Tensor;
  /** Test labels, [nTest] or [nTest, k], in the same row order as `xTest`. */
  yTest: Tensor;
}

/**
 * Split samples into a training and a test set, like scikit-learn's `train_test_split`: with
 * `shuffle`, a random permutation's first nTest samples are the test set and the next nTrain the
 * training set; without, the first nTrain are training and the rest test. With `stratify`, each
 * class c gets nTest_c test samples, where the nTest_c are the class shares of nTest rounded by
 * largest remainder (so they add up to nTest exactly) and each class's samples are drawn at random.
 */
export function trainTestSplit(x: ArrayInput, y: LabelInput, options: TrainTestSplitOptions = {}): TrainTestSplit {
  const where = 'trainTestSplit';
  checkOptions(where, options, ['testSize', 'shuffle', 'seed', 'stratify']);
  const xt = toTensor(where, 'x', x);
  const yt = toTensor(where, 'y', y);
  checkSameCount(where, xt, yt);
  const n = xt.shape[0]!;
  const nTest = testCount(where, options.testSize ?? 0.25, n);
  const nTrain = n - nTest;

  const shuffle = options.shuffle ?? true;
  if (typeof shuffle !== 'boolean') throw new ValueError(`${where}: shuffle must be a boolean, received ${describe(shuffle)}`);
  const seed = options.seed;
  if (seed !== undefined) checkSeed(where, seed);
  const stratify = options.stratify ?? false;

  let trainIndex: Uint32Array;
  let testIndex: Uint32Array;
  if (stratify === false) {
    const order = Uint32Array.from({ length: n }, (_, i) => i);
    if (shuffle) {
      rngFor(seed).shuffle(order);
      testIndex = order.subarray(0, nTest);
      trainIndex = order.subarray(nTest);
    } else {
      trainIndex = order.subarray(0, nTrain);
      testIndex = order.subarray(nTrain);
    }
  } else {
    if (!shuffle) throw new ValueError(`${where}: stratify needs shuffle: true (scikit-learn's rule), received shuffle=false`);
    const classes = stratify === true ? classIds(where, 'y', yt) : classIds(where, 'stratify', toTensor(where, 'stratify', stratify));
    if (classes.length !== n) {
      throw new ShapeError(`${where}: stratify has ${classes.length} labels, x has ${n} samples`);
    }
    [trainIndex, testIndex] = stratifiedIndices(where, classes, nTest, rngFor(seed));
  }
  return {
    xTrain: takeRows(xt, trainIndex),
    xTest: takeRows(xt, testIndex),
    yTrain: takeRows(yt, trainIndex),
    yTest: takeRows(yt, testIndex),
  };
}

function testCount(where: string, testSize: unknown, n: number): number {
  if (typeof testSize !== 'number' || !Number.isFinite(testSize) || testSize <= 0) {
    throw new ValueError(`${where}: testSize must be a fraction in (0, 1) or a sample count >= 1, received ${describe(testSize)}`);
  }
  let nTest: number;
  if (testSize < 1) nTest = Math.ceil(testSize * n);
  else if (Number.isInteger(testSize)) nTest = testSize;
  else throw new ValueError(`${where}: testSize must be a fraction in (0, 1) or an integer count, received ${testSize}`);
  if (nTest >= n || nTest < 1) {
    throw new ValueError(
      `${where}: testSize=${testSize} with ${n} samples leaves ${n - nTest} for training and ${nTest} for testing; both need at least one`,
    );
  }
  return nTest;
}

/** Class ids from [n] integers or [n, k] one-hot rows (argmax). */
function classIds(where: string, name: string, t: Tensor): Int32Array {
  const n = t.shape[0]!;
  const out = new Int32Array(n);
  if (t.rank === 2 && t.shape[1]! > 1) {
    const k = t.shape[1]!;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (t.data[i * k + j]! > t.data[i * k + best]!) best = j;
      out[i] = best;
    }
    return out;
  }
  if (t.size !== n) throw new ShapeError(`${where}: ${name} must be class ids [n] or one-hot [n, k] to stratify, received shape ${describe(t.shape)}`);
  for (let i = 0; i < n; i++) {
    const v = t.data[i]!;
    if (!Number.isInteger(v)) throw new ValueError(`${where}: ${name}[${i}] is ${v}; stratify needs integer class ids`);
    out[i] = v;
  }
  return out;
}

function stratifiedIndices(
  where: string,
  classes: Int32Array,
  nTest: number,
  rng: { shuffle<T extends Uint32Array>(a: T): T },
): [Uint32Array, Uint32Array] {
  const n = classes.length;
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const list = members.get(classes[i]!);
    if (list) list.push(i);
    else members.set(classes[i]!, [i]);
  }
  const ids = [...members.keys()].sort((a, b) => a - b);
  for (const c of ids) {
    const count = members.get(c)!.length;
    if (count < 2) throw new ValueError(`${where}: class ${c} has ${count} sample; stratify needs at least 2 per class`);
  }
  // scikit-learn's StratifiedShuffleSplit: each side must be able to hold every class.
  for (const [side, count] of [['test', nTest], ['train', n - nTest]] as const) {
    if (count < ids.length) {
      throw new ValueError(`${where}: the ${side} side would get ${count} sample(s) for ${ids.length} classes; with stratify each side needs at least one per class`);
    }
  }
  // Largest remainder: floor of each share, then one more to the largest fractional parts
  // (ties to the smaller class id), so the counts add up to nTest exactly.
  const quota = ids.map((c) => (members.get(c)!.length * nTest) / n);
  const take = quota.map(Math.floor);
  let left = nTest - take.reduce((a, b) => a + b, 0);
  const byRemainder = ids.map((_, k) => k).sort((a, b) => quota[b]! - take[b]! - (quota[a]! - take[a]!) || a - b);
  for (const k of byRemainder) {
    if (left === 0) break;
    take[k]!++;
    left--;
  }
  const train: number[] = [];
  const test: number[] = [];
  ids.forEach((c, k) => {
    const idx = rng.shuffle(Uint32Array.from(members.get(c)!));
    for (let i = 0; i < idx.length; i++) (i < take[k]! ? test : train).push(idx[i]!);
  });
  // Mix the classes within each set.
  return [rng.shuffle(Uint32Array.from(train)), rng.shuffle(Uint32Array.from(test))];
}

/** The sample count and per-sample width of `t` (its features: every dimension after the first). */
export function rowsAndWidth(t: Tensor): { rows: number; width: number; features: Shape } {
  const rows = t.shape[0]!;
  const features = t.shape.slice(1);
  return { rows, width: sizeOf(features), features };
}

/**
 * Integer class labels as one-hot rows: shape `[...labels, numClasses]` (a trailing axis of size 1
 * is dropped first, as Keras does), `numClasses` defaulting to the largest label + 1. Keras:
 * `keras.utils.to_categorical(y, num_classes)`. Labels must be integers in [0, numClasses).
 */
export function toCategorical(labels: Tensor | ArrayLike<number>, numClasses?: number): Tensor {
  const where = 'toCategorical';
  const t =
    labels instanceof Tensor
      ? labels
      : toTensor(where, 'labels', ArrayBuffer.isView(labels) && !(labels instanceof Float32Array) ? Float32Array.from(labels) : labels);
  // The labels as given when they are not float32 (an Int32Array label above 2^24 would round).
  const d: ArrayLike<number> = labels instanceof Tensor || labels instanceof Float32Array || !ArrayBuffer.isView(labels) ? t.data : labels;
  let max = -1;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (!Number.isInteger(v) || v < 0) throw new ValueError(`${where}: label at index ${i} is ${v}; labels must be integers >= 0`);
    if (v > max) max = v;
  }
  if (numClasses !== undefined && (!Number.isInteger(numClasses) || numClasses < 1)) {
    throw new ValueError(`${where}: numClasses must be an integer >= 1, received ${describe(numClasses)}`);
  }
  const classes = numClasses ?? max + 1;
  if (max >= classes) {
    throw new ValueError(`${where}: label ${max} at index ${Array.prototype.indexOf.call(d, max)} is not below numClasses=${classes}`);
  }
  const shape = t.rank > 1 && t.shape[t.rank - 1] === 1 ? t.shape.slice(0, -1) : [...t.shape];
  const out = new Float32Array(d.length * classes);
  for (let i = 0; i < d.length; i++) out[i * classes + d[i]!] = 1;
  return new Tensor(out, [...shape, classes]);
}
