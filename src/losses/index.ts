/**
 * Losses, reduced as Keras's default 'sum_over_batch_size' (the mean over samples). When the
 * prediction came out of a softmax or sigmoid op, cross-entropies are computed from its logits
 * (log-sum-exp, stable for any logits) and their gradient goes straight to the logits, as Keras's
 * backends do; otherwise they clip probabilities to [1e-7, 1 - 1e-7] like Keras.
 */
import { Tensor } from '../tensor';
import { native } from '../backend/native';
import { output, needsGrad, record, gradOf, isGradEnabled } from '../autograd/engine';
import { ShapeError, ValueError, checkOptions, describe, unknownId } from '../errors';
import { mean } from '../ops/arithmetic';

const EPSILON = 1e-7; // keras.config.epsilon()

/** A loss: maps (predictions, targets) to a scalar tensor to minimise. Keras: `keras.losses.Loss`. */
export interface Loss {
  /** Keras's serialised name. */
  readonly name: string;
  /**
   * Mean loss over the batch, as a scalar tensor that back-propagates to `pred`. With
   * `sampleWeight` (one weight per sample), each sample's loss is scaled by its weight before the
   * mean over the batch: sum(w_i * loss_i) / batch size, Keras's 'sum_over_batch_size' reduction.
   */
  compute(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): Tensor;
}

/**
 * Checks `w` (one weight per sample of `pred`, whose first axis is the batch) and returns it, or
 * null for none. `name` prefixes the error (a loss's or a metric's). Shared with the metrics.
 * @internal
 */
export function checkWeights(name: string, pred: Tensor, w: Float32Array | null | undefined): Float32Array | null {
  if (w === undefined || w === null) return null;
  const rows = pred.rank === 0 ? 1 : pred.shape[0]!;
  if (!(w instanceof Float32Array) || w.length !== rows) {
    throw new ShapeError(`${name}: sampleWeight must be a Float32Array of ${rows} weights (one per sample), received ${w instanceof Float32Array ? `${w.length} weights` : describe(w)}`);
  }
  return w;
}

/**
 * The weighted form of a loss whose sample r depends on its row alone: `row(r, scale)` runs the
 * unweighted kernel on row r, writing scale times its gradient into the row's gradient, and
 * returns the row's unscaled total. The result is sum_r w_r * total_r * scale.
 */
function weightedRows(rows: number, w: Float32Array, scale: number, row: (r: number, scale: number) => number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const wr = weightOfRow(w, r, rows);
    total += wr * row(r, wr * scale);
  }
  return total * scale;
}

/**
 * The weight of row r of `rows` rows that split evenly into w.length samples: a sample may span
 * several rows ([batch, steps, classes] predictions, or a sample's elements), and its weight covers
 * them all, as Keras broadcasts a [batch] sample_weight. Shared with the metrics.
 * @internal
 */
export function weightOfRow(w: Float32Array, r: number, rows: number): number {
  return w[Math.floor((r * w.length) / rows)]!;
}

function lastDim(t: Tensor): number {
  return t.shape[t.rank - 1] ?? 1;
}

/**
 * A scalar loss whose gradient with respect to `input` was already computed into `grad` by the
 * forward kernel: backward only scales it by the incoming seed and adds it.
 */
function scalarLoss(value: number, input: Tensor, grad: Float32Array | null): Tensor {
  const out = output([]);
  out.data[0] = value;
  if (grad === null) return out;
  return record(out, [input], () => native.axpy(out.grad![0]!, grad, gradOf(input)));
}

function checkRows(name: string, pred: Tensor, rows: number, target: Tensor): void {
  if (target.size !== rows) {
    throw new ShapeError(
      `${name}: predictions have shape [${pred.shape}] (${rows} samples), labels have shape [${target.shape}]; ` +
        `expected ${rows} integer labels`,
    );
  }
}

function checkSame(name: string, pred: Tensor, target: Tensor): void {
  if (pred.size !== target.size) {
    const cols = lastDim(pred);
    const ids = name === 'categoricalCrossentropy' && cols > 1 && target.size * cols === pred.size;
    throw new ShapeError(
      `${name}: predictions have shape [${pred.shape}], targets have shape [${target.shape}]` +
        (ids ? '; for one integer class id per sample use sparseCategoricalCrossentropy' : ''),
    );
  }
}

/** Cross-entropy with integer class ids as targets (one id per sample) and one probability (or logit) per class as predictions. Keras: `keras.losses.SparseCategoricalCrossentropy`. */
export class SparseCategoricalCrossentropy implements Loss {
  readonly name = 'sparse_categorical_crossentropy';
  /** @param fromLogits Whether predictions are raw logits rather than probabilities (default false; output of a softmax op is detected and handled from its logits either way). Keras: `from_logits`. */
  constructor(readonly fromLogits = false) {
    if (typeof fromLogits !== 'boolean') {
      throw new ValueError(`SparseCategoricalCrossentropy: fromLogits must be a boolean, received fromLogits=${describe(fromLogits)}`);
    }
  }

  compute(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): Tensor {
    const cols = lastDim(pred);
    const rows = cols === 0 ? 0 : pred.size / cols;
    checkRows('sparseCategoricalCrossentropy', pred, rows, target);
    const w = checkWeights('sparseCategoricalCrossentropy', pred, sampleWeight);
    const scale = rows === 0 ? 0 : 1 / rows;
    // Checked here for both paths, so a bad label is always a ValueError with the same message (the
    // fused kernel would otherwise report it as a native RangeError).
    for (let r = 0; r < rows; r++) {
      const label = target.data[r]!;
      if (!Number.isInteger(label) || label < 0 || label >= cols) {
        throw new ValueError(`sparseCategoricalCrossentropy: label at index ${r} is ${label}, expected an integer class id in [0, ${cols})`);
      }
    }
    const logits = this.fromLogits ? pred : pred.op === 'softmax' ? pred.logits : null;
    if (logits) {
      const grad = needsGrad(logits) ? output(logits.shape).data : null;
      if (w) {
        const ld = logits.data, td = target.data;
        const value = weightedRows(rows, w, scale, (r, sc) =>
          native.sparseSoftmaxXent(ld.subarray(r * cols, (r + 1) * cols), td.subarray(r, r + 1), 1, cols, grad && grad.subarray(r * cols, (r + 1) * cols), sc, null),
        );
        return scalarLoss(value, logits, grad);
      }
      const total = native.sparseSoftmaxXent(logits.data, target.data, rows, cols, grad, scale, null);
      return scalarLoss(total * scale, logits, grad);
    }
    // Probabilities from elsewhere, as Keras 3 and categoricalCrossentropy take them: each row
    // renormalised to sum 1, then -log(clip(q[label], eps, 1 - eps)). A row summing to 0 counts as
    // q = 0 (clipped) rather than NaN.
    const grad = needsGrad(pred) ? output(pred.shape).data : null;
    if (grad) grad.fill(0);
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const label = target.data[r]!;
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += pred.data[r * cols + j]!;
      const p = pred.data[r * cols + label]!;
      const q = sum > 0 ? p / sum : 0;
      const wr = w ? weightOfRow(w, r, rows) : 1;
      total -= wr * Math.log(Math.min(Math.max(q, EPSILON), 1 - EPSILON));
      // d/dp_j of -log(p_label / sum) = 1/sum - [j = label]/p_label where q is not clipped, else 0.
      if (grad && q > EPSILON && q < 1 - EPSILON) {
        const sc = wr * scale;
        for (let j = 0; j < cols; j++) grad[r * cols + j] = sc / sum;
        grad[r * cols + label]! -= sc / p;
      }
    }
    return scalarLoss(total * scale, pred, grad);
  }
}

/** Cross-entropy with one-hot (or soft) target distributions. Keras: `keras.losses.CategoricalCrossentropy`. */
export class CategoricalCrossentropy implements Loss {
  readonly name = 'categorical_crossentropy';
  /** @param fromLogits Whether predictions are raw logits rather than probabilities (default false; output of a softmax op is detected and handled from its logits either way). Keras: `from_logits`. */
  constructor(readonly fromLogits = false) {
    if (typeof fromLogits !== 'boolean') {
      throw new ValueError(`CategoricalCrossentropy: fromLogits must be a boolean, received fromLogits=${describe(fromLogits)}`);
    }
  }

  compute(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): Tensor {
    checkSame('categoricalCrossentropy', pred, target);
    const cols = lastDim(pred);
    const rows = cols === 0 ? 0 : pred.size / cols;
    const scale = rows === 0 ? 0 : 1 / rows;
    const w = checkWeights('categoricalCrossentropy', pred, sampleWeight);
    const td = target.data;
    const logits = this.fromLogits ? pred : pred.op === 'softmax' ? pred.logits : null;
    if (logits) {
      const grad = needsGrad(logits) ? output(logits.shape).data : null;
      if (w) {
        const ld = logits.data;
        const row = (r: number, sc: number) =>
          native.softmaxXent(ld.subarray(r * cols, (r + 1) * cols), td.subarray(r * cols, (r + 1) * cols), 1, cols, grad && grad.subarray(r * cols, (r + 1) * cols), sc, null);
        return scalarLoss(weightedRows(rows, w, scale, row), logits, grad);
      }
      const total = native.softmaxXent(logits.data, td, rows, cols, grad, scale, null);
      return scalarLoss(total * scale, logits, grad);
    }
    const grad = needsGrad(pred) ? output(pred.shape).data : null;
    if (w) {
      const pd = pred.data;
      const row = (r: number, sc: number) =>
        native.categoricalXent(pd.subarray(r * cols, (r + 1) * cols), td.subarray(r * cols, (r + 1) * cols), 1, cols, EPSILON, grad && grad.subarray(r * cols, (r + 1) * cols), sc);
      return scalarLoss(weightedRows(rows, w, scale, row), pred, grad);
    }
    const total = native.categoricalXent(pred.data, td, rows, cols, EPSILON, grad, scale);
    return scalarLoss(total * scale, pred, grad);
  }
}

/** Binary cross-entropy, element-wise over independent 0/1 targets. Keras: `keras.losses.BinaryCrossentropy`. */
export class BinaryCrossentropy implements Loss {
  readonly name = 'binary_crossentropy';
  /** @param fromLogits Whether predictions are raw logits rather than probabilities (default false; output of a sigmoid op is detected and handled from its logits either way). Keras: `from_logits`. */
  constructor(readonly fromLogits = false) {
    if (typeof fromLogits !== 'boolean') {
      throw new ValueError(`BinaryCrossentropy: fromLogits must be a boolean, received fromLogits=${describe(fromLogits)}`);
    }
  }

  compute(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): Tensor {
    checkSame('binaryCrossentropy', pred, target);
    const scale = pred.size === 0 ? 0 : 1 / pred.size;
    // A sample's loss is the mean over its row (Keras: the mean over the last axis), so the
    // weighted mean over the batch is sum_r w_r * (row r's sum) / size.
    const w = checkWeights('binaryCrossentropy', pred, sampleWeight);
    const per = w && w.length > 0 ? pred.size / w.length : 0;
    const td = target.data;
    const logits = this.fromLogits ? pred : pred.op === 'sigmoid' ? pred.logits : null;
    if (logits) {
      const grad = needsGrad(logits) ? output(logits.shape).data : null;
      if (w) {
        const ld = logits.data;
        const row = (r: number, sc: number) =>
          native.sigmoidBce(ld.subarray(r * per, (r + 1) * per), td.subarray(r * per, (r + 1) * per), grad && grad.subarray(r * per, (r + 1) * per), sc);
        return scalarLoss(weightedRows(w.length, w, scale, row), logits, grad);
      }
      const total = native.sigmoidBce(logits.data, td, grad, scale);
      return scalarLoss(total * scale, logits, grad);
    }
    const grad = needsGrad(pred) ? output(pred.shape).data : null;
    if (w) {
      const pd = pred.data;
      const row = (r: number, sc: number) =>
        native.bce(pd.subarray(r * per, (r + 1) * per), td.subarray(r * per, (r + 1) * per), EPSILON, grad && grad.subarray(r * per, (r + 1) * per), sc);
      return scalarLoss(weightedRows(w.length, w, scale, row), pred, grad);
    }
    const total = native.bce(pred.data, td, EPSILON, grad, scale);
    return scalarLoss(total * scale, pred, grad);
  }
}

/** Mean of the squared differences over all elements. Keras: `keras.losses.MeanSquaredError`. */
export class MeanSquaredError implements Loss {
  readonly name = 'mean_squared_error';

  compute(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): Tensor {
    checkSame('meanSquaredError', pred, target);
    const scale = pred.size === 0 ? 0 : 1 / pred.size;
    const grad = needsGrad(pred) ? output(pred.shape).data : null;
    // As binaryCrossentropy: a sample's loss is the mean over its row.
    const w = checkWeights('meanSquaredError', pred, sampleWeight);
    if (w) {
      const per = w.length > 0 ? pred.size / w.length : 0;
      const pd = pred.data, td = target.data;
      const row = (r: number, sc: number) =>
        native.squaredError(pd.subarray(r * per, (r + 1) * per), td.subarray(r * per, (r + 1) * per), grad && grad.subarray(r * per, (r + 1) * per), sc);
      return scalarLoss(weightedRows(w.length, w, scale, row), pred, grad);
    }
    const total = native.squaredError(pred.data, target.data, grad, scale);
    return scalarLoss(total * scale, pred, grad);
  }
}

/** String ids accepted by `compile({ loss })` (camelCase or Keras snake_case; `'mse'` too). */
export type LossId =
  | 'sparseCategoricalCrossentropy' | 'sparse_categorical_crossentropy'
  | 'categoricalCrossentropy' | 'categorical_crossentropy'
  | 'binaryCrossentropy' | 'binary_crossentropy'
  | 'meanSquaredError' | 'mean_squared_error' | 'mse';

const BY_KEY: Record<string, () => Loss> = {
  sparsecategoricalcrossentropy: () => new SparseCategoricalCrossentropy(),
  categoricalcrossentropy: () => new CategoricalCrossentropy(),
  binarycrossentropy: () => new BinaryCrossentropy(),
  meansquarederror: () => new MeanSquaredError(),
  mse: () => new MeanSquaredError(),
};

/**
 * A loss written as a function of the labels and the predictions, in Keras's order
 * `(yTrue, yPred)`, with the differentiable `ops`. It returns the loss per sample (a tensor whose
 * first axis is the batch) or already reduced (a scalar); compile takes it as it is.
 */
export type LossFn = (yTrue: Tensor, yPred: Tensor) => Tensor;

/**
 * A {@link LossFn} as a Loss: the mean of everything the function returns (Keras's
 * `LossFunctionWrapper` with its default 'sum_over_batch_size' reduction). Named after the
 * function (Keras: `fn.__name__`). Saved with a model as class 'Custom'.
 */
export class FunctionLoss implements Loss {
  /** The function's name, or 'custom_loss' for an anonymous one. */
  readonly name: string;
  /** The wrapped function. */
  readonly fn: LossFn;
  /** @param fn `(yTrue, yPred) => tensor` of per-sample losses, or their mean. */
  constructor(fn: LossFn) {
    if (typeof fn !== 'function') throw new ValueError(`FunctionLoss: expected a function (yTrue, yPred) => tensor, received ${describe(fn)}`);
    this.fn = fn;
    this.name = fn.name || 'custom_loss';
  }
  /** The mean of what the function returns for (yTrue = target, yPred = pred), weighted per sample with `sampleWeight`. */
  compute(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): Tensor {
    const values = this.fn(target, pred);
    if (!(values instanceof Tensor)) {
      throw new ValueError(`loss function "${this.name}": must return a tensor (per-sample losses or their mean), received ${describe(values)}`);
    }
    if (values.size !== 1 && (values.rank === 0 || values.shape[0] !== (pred.shape[0] ?? 1))) {
      throw new ShapeError(
        `loss function "${this.name}": returned shape [${values.shape}] for a batch of ${pred.shape[0]} (predictions [${pred.shape}]); ` +
          'expected a scalar or one loss per sample (the batch on the first axis)',
      );
    }
    if (isGradEnabled() && pred.requiresGrad && !values.requiresGrad) {
      throw new ValueError(`loss function "${this.name}": its value does not depend on yPred (built from plain numbers or from yTrue alone?), so it cannot train the model`);
    }
    const w = checkWeights(`loss function "${this.name}"`, pred, sampleWeight);
    if (w === null) return values.rank === 0 ? values : mean(values);
    if (values.rank === 0 || values.shape[0] !== w.length) {
      throw new ShapeError(`loss function "${this.name}": returned shape [${values.shape}], which cannot be weighted per sample (${w.length} samples); return one loss per sample`);
    }
    return weightedMean(values, w);
  }
}

/** sum_i w_i * sum_j v[i, j] / size(v): the mean of v with row i scaled by w_i (Keras's weighted 'sum_over_batch_size'). */
function weightedMean(v: Tensor, w: Float32Array): Tensor {
  const y = output([]);
  const per = v.size / w.length;
  const vd = v.data;
  let total = 0;
  for (let i = 0; i < w.length; i++) {
    let row = 0;
    for (let j = 0; j < per; j++) row += vd[i * per + j]!;
    total += w[i]! * row;
  }
  const scale = v.size === 0 ? 0 : 1 / v.size;
  y.data[0] = total * scale;
  if (!needsGrad(v)) return y;
  return record(y, [v], () => {
    const g = y.grad![0]! * scale;
    const gv = gradOf(v);
    for (let i = 0; i < w.length; i++) for (let j = 0; j < per; j++) gv[i * per + j] += g * w[i]!;
  });
}

/** Resolve 'sparseCategoricalCrossentropy', 'sparse_categorical_crossentropy', ..., pass a Loss through, or wrap a {@link LossFn}. */
export function getLoss(id: LossId | Loss | LossFn | string): Loss {
  if (typeof id === 'function') return new FunctionLoss(id as LossFn);
  if (typeof id === 'object' && id !== null && typeof (id as Loss).compute === 'function') return id as Loss;
  const make = typeof id === 'string' ? BY_KEY[id.replace(/_/g, '').toLowerCase()] : undefined;
  if (!make) {
    return unknownId('loss', id, ['sparseCategoricalCrossentropy', 'categoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError']);
  }
  return make();
}

const lossOptions = (cls: string, o: { fromLogits?: boolean }) => (checkOptions(cls, o, ['fromLogits']), o.fromLogits ?? false);
/** Creates a new {@link SparseCategoricalCrossentropy} (same as `new SparseCategoricalCrossentropy(...)`). Keras: `keras.losses.SparseCategoricalCrossentropy`. */
export const sparseCategoricalCrossentropy = (o: { fromLogits?: boolean } = {}) =>
  new SparseCategoricalCrossentropy(lossOptions('SparseCategoricalCrossentropy', o));
/** Creates a new {@link CategoricalCrossentropy} (same as `new CategoricalCrossentropy(...)`). Keras: `keras.losses.CategoricalCrossentropy`. */
export const categoricalCrossentropy = (o: { fromLogits?: boolean } = {}) => new CategoricalCrossentropy(lossOptions('CategoricalCrossentropy', o));
/** Creates a new {@link BinaryCrossentropy} (same as `new BinaryCrossentropy(...)`). Keras: `keras.losses.BinaryCrossentropy`. */
export const binaryCrossentropy = (o: { fromLogits?: boolean } = {}) => new BinaryCrossentropy(lossOptions('BinaryCrossentropy', o));
/** Creates a new {@link MeanSquaredError} (same as `new MeanSquaredError(...)`). Keras: `keras.losses.MeanSquaredError`. */
export const meanSquaredError = () => new MeanSquaredError();

void describe;

/** Whether `loss` is exactly one of the built-in losses (not a subclass or an object of the user's own), so that its name rebuilds it. */
export function isBuiltinLoss(loss: Loss): boolean {
  const proto = Object.getPrototypeOf(loss);
  return [SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError].some((c) => c.prototype === proto);
}
