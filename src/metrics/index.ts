/**
 * Metrics accumulate over an epoch and report the mean, weighted by samples, like Keras's
 * stateful metrics. 'accuracy' resolves to the sparse, categorical or binary variant from the
 * shapes of the labels and predictions, as Keras 3's compile does.
 */
import { Tensor } from '../tensor';
import { native } from '../backend/native';
import { ShapeError, ValueError, describe, unknownId } from '../errors';
import { noGrad } from '../autograd/engine';
import { checkWeights, weightOfRow } from '../losses';

/** A streaming metric: `update` per batch, `result` for the running value, `reset` at each epoch. Keras: `keras.metrics.Metric`. */
export interface Metric {
  /** Key in logs and history ('accuracy'). */
  readonly name: string;
  /**
   * Add a batch; with `sampleWeight` (one weight per sample: a `weightedMetrics` entry of compile),
   * each sample counts with its weight (Keras's `update_state(y_true, y_pred, sample_weight)`).
   */
  update(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): void;
  /** The metric over every sample added since the last reset. */
  result(): number;
  /** Forget all added batches. */
  reset(): void;
}

abstract class MeanMetric implements Metric {
  /** Sum of per-sample scores added so far. */
  protected total = 0;
  /** Number of samples added so far. */
  protected count = 0;
  /** @param name Key in logs and history. */
  constructor(readonly name: string) {}
  abstract update(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): void;
  /**
   * Adds `rows` rows of which `hit(r)` tells whether row r scores (1) or not (0), row r counting
   * with the weight of its sample (a sample spans rows / w.length rows).
   */
  protected addWeighted(rows: number, w: Float32Array, hit: (r: number) => number): void {
    for (let r = 0; r < rows; r++) {
      const wr = weightOfRow(w, r, rows);
      this.total += wr * hit(r);
      this.count += wr;
    }
  }
  /** Mean score over the samples added since the last reset (0 when none). */
  result(): number {
    return this.count === 0 ? 0 : this.total / this.count;
  }
  /** Forget all added samples. */
  reset(): void {
    this.total = 0;
    this.count = 0;
  }
}

function split(pred: Tensor): [number, number] {
  const cols = pred.shape[pred.rank - 1] ?? 1;
  return [cols === 0 ? 0 : pred.size / cols, cols];
}

function mismatch(name: string, pred: Tensor, target: Tensor, expected: string): never {
  throw new ShapeError(`metric "${name}": predictions have shape [${pred.shape}], targets have shape [${target.shape}]; expected ${expected}`);
}

/** Fraction of samples whose argmax equals the integer label. Keras: `keras.metrics.SparseCategoricalAccuracy`. */
export class SparseCategoricalAccuracy extends MeanMetric {
  /** @param name Key in logs (default 'sparse_categorical_accuracy'). Keras: `name`. */
  constructor(name = 'sparse_categorical_accuracy') {
    super(name);
  }
  /** Add a batch: predictions [batch, classes] and integer labels [batch]. */
  update(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): void {
    const [rows, cols] = split(pred);
    if (target.size !== rows) mismatch(this.name, pred, target, `${rows} integer labels`);
    const w = checkMetricWeights(this.name, pred, sampleWeight);
    if (w) {
      const pd = pred.data, td = target.data;
      this.addWeighted(rows, w, (r) => native.sparseArgmaxMatches(pd.subarray(r * cols, (r + 1) * cols), td.subarray(r, r + 1), 1, cols));
      return;
    }
    this.total += native.sparseArgmaxMatches(pred.data, target.data, rows, cols);
    this.count += rows;
  }
}

/** Fraction of samples whose argmax equals the target's argmax (one-hot targets). Keras: `keras.metrics.CategoricalAccuracy`. */
export class CategoricalAccuracy extends MeanMetric {
  /** @param name Key in logs (default 'categorical_accuracy'). Keras: `name`. */
  constructor(name = 'categorical_accuracy') {
    super(name);
  }
  /** Add a batch: predictions and one-hot targets, both [batch, classes]. */
  update(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): void {
    const [rows, cols] = split(pred);
    if (target.size !== pred.size) mismatch(this.name, pred, target, `one-hot targets of ${pred.size} values`);
    const w = checkMetricWeights(this.name, pred, sampleWeight);
    if (w) {
      const pd = pred.data, td = target.data;
      this.addWeighted(rows, w, (r) => native.argmaxMatches(pd.subarray(r * cols, (r + 1) * cols), td.subarray(r * cols, (r + 1) * cols), 1, cols));
      return;
    }
    this.total += native.argmaxMatches(pred.data, target.data, rows, cols);
    this.count += rows;
  }
}

/** Fraction of outputs on the right side of the threshold (default 0.5). Keras: `keras.metrics.BinaryAccuracy`. */
export class BinaryAccuracy extends MeanMetric {
  /**
   * @param name Key in logs (default 'binary_accuracy'). Keras: `name`.
   * @param threshold Predictions above it count as 1 (default 0.5); targets above 0.5 count as 1. Keras: `threshold`.
   */
  constructor(name = 'binary_accuracy', readonly threshold = 0.5) {
    super(name);
  }
  /** Add a batch: predictions and 0/1 targets of the same shape; every element counts. */
  update(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): void {
    if (target.size !== pred.size) mismatch(this.name, pred, target, `targets of ${pred.size} values`);
    const w = checkMetricWeights(this.name, pred, sampleWeight);
    if (w) {
      // As the native kernel compares: in float32.
      const pd = pred.data, td = target.data, thr = Math.fround(this.threshold);
      this.addWeighted(pred.size, w, (i) => ((pd[i]! > thr) === (td[i]! > 0.5) ? 1 : 0));
      return;
    }
    this.total += native.binaryMatches(pred.data, target.data, this.threshold);
    this.count += pred.size;
  }
}

/** Mean of a scalar per batch weighted by batch size (Keras's loss tracker). Keras: `keras.metrics.Mean`. */
export class Mean {
  private total = 0;
  private count = 0;
  /** @param name Key in logs and history (e.g. 'loss'). */
  constructor(readonly name: string) {}
  /** Add `value` with weight `weight` (the batch size). */
  update(value: number, weight: number): void {
    this.total += value * weight;
    this.count += weight;
  }
  /** Weighted mean of the added values (0 when none). */
  result(): number {
    return this.count === 0 ? 0 : this.total / this.count;
  }
  /** Forget all added values. */
  reset(): void {
    this.total = 0;
    this.count = 0;
  }
}

/** String ids accepted by `compile({ metrics })`; `'accuracy'`/`'acc'` pick the accuracy matching the labels. */
export type MetricId =
  | 'accuracy' | 'acc'
  | 'sparseCategoricalAccuracy' | 'sparse_categorical_accuracy'
  | 'categoricalAccuracy' | 'categorical_accuracy'
  | 'binaryAccuracy' | 'binary_accuracy';

/**
 * 'accuracy' or 'acc', logged under the id as given. The variant is chosen from the batch's shapes,
 * as Keras 3's compile does (`compile_utils.get_metric`): binary when the predictions have one
 * column, sparse when the labels have fewer axes than the predictions or one column against
 * several, categorical otherwise. One difference, kept on purpose: with binary cross-entropy the
 * accuracy is binary whatever the width (Keras 3 picks categorical for a multi-label output,
 * where tf.keras picked binary).
 */
class Accuracy implements Metric {
  private chosen: Metric | null = null;
  constructor(
    readonly name: string,
    private readonly lossName: string,
  ) {}
  update(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): void {
    if (this.chosen === null) {
      const predCols = pred.shape[pred.rank - 1] ?? 1;
      const targetCols = target.shape[target.rank - 1] ?? 1;
      if (this.lossName === 'binary_crossentropy' || predCols === 1) this.chosen = new BinaryAccuracy(this.name);
      else if (target.rank < pred.rank || (targetCols === 1 && predCols > 1)) this.chosen = new SparseCategoricalAccuracy(this.name);
      else this.chosen = new CategoricalAccuracy(this.name);
    }
    this.chosen.update(pred, target, sampleWeight);
  }
  result(): number {
    return this.chosen === null ? 0 : this.chosen.result();
  }
  /** Forget all added batches; the next batch chooses the variant again. */
  reset(): void {
    this.chosen = null;
  }
}

/** One weight per sample of `pred` (its first axis), checked as the losses check theirs, or null for none. */
const checkMetricWeights = (name: string, pred: Tensor, w: Float32Array | null | undefined) => checkWeights(`metric "${name}"`, pred, w);

/**
 * A metric written as a function of the labels and the predictions, in Keras's order
 * `(yTrue, yPred)`: it returns one value per sample (or per element; a scalar counts once per
 * call), and the metric is their running mean.
 */
export type MetricFn = (yTrue: Tensor, yPred: Tensor) => Tensor;

/**
 * A {@link MetricFn} as a Metric: the running mean of every value the function returns (Keras's
 * `MeanMetricWrapper`), computed without recording gradients. Logged under the function's name
 * (Keras: `fn.__name__`). Saved with a model as class 'Custom'.
 */
export class FunctionMetric extends MeanMetric {
  /** The wrapped function. */
  readonly fn: MetricFn;
  /**
   * @param fn `(yTrue, yPred) => tensor` of per-sample values.
   * @param name Key in logs (default: the function's name, or 'custom_metric' for an anonymous one).
   */
  constructor(fn: MetricFn, name?: string) {
    if (typeof fn !== 'function') throw new ValueError(`FunctionMetric: expected a function (yTrue, yPred) => tensor, received ${describe(fn)}`);
    if (name !== undefined && (typeof name !== 'string' || name === '')) throw new ValueError(`FunctionMetric: name must be a non-empty string, received ${describe(name)}`);
    super(name ?? (fn.name || 'custom_metric'));
    this.fn = fn;
  }
  /** Add a batch: the function's values for (yTrue = target, yPred = pred), each counted once. */
  update(pred: Tensor, target: Tensor, sampleWeight?: Float32Array | null): void {
    const values = noGrad(() => this.fn(target, pred));
    if (!(values instanceof Tensor)) {
      throw new ValueError(`metric function "${this.name}": must return a tensor (one value per sample), received ${describe(values)}`);
    }
    const w = checkMetricWeights(this.name, pred, sampleWeight);
    if (w) {
      if (values.rank === 0 || values.shape[0] !== w.length) {
        throw new ShapeError(`metric function "${this.name}": returned shape [${values.shape}], which cannot be weighted per sample (${w.length} samples)`);
      }
      const vd = values.data;
      this.addWeighted(values.size, w, (i) => vd[i]!);
      return;
    }
    this.total += native.sum(values.data);
    this.count += values.size;
  }
}

/**
 * The metric an id names ('accuracy', 'binaryAccuracy', ...), a metric object itself, or a function
 * wrapped as a {@link FunctionMetric}. 'accuracy' (or 'acc') chooses its variant from the labels'
 * and predictions' shapes at the first batch after each reset (see `Accuracy`); `lossName`, the
 * compiled loss's name, makes it binary for binary cross-entropy.
 */
export function getMetric(id: MetricId | Metric | MetricFn | string, lossName: string, name?: string): Metric {
  if (typeof id === 'function') return new FunctionMetric(id as MetricFn, name);
  if (typeof id === 'object' && id !== null && typeof (id as Metric).update === 'function') return id as Metric;
  const key = typeof id === 'string' ? id.replace(/_/g, '').toLowerCase() : '';
  switch (key) {
    case 'accuracy':
    case 'acc':
      return new Accuracy(name ?? (id as string), lossName);
    case 'sparsecategoricalaccuracy':
      return new SparseCategoricalAccuracy(name);
    case 'categoricalaccuracy':
      return new CategoricalAccuracy(name);
    case 'binaryaccuracy':
      return new BinaryAccuracy(name);
    default:
      return unknownId('metric', id, ['accuracy', 'acc', 'sparseCategoricalAccuracy', 'categoricalAccuracy', 'binaryAccuracy']);
  }
}

/** How a compiled metric is saved in a model's training config: its id string, or `{ class_name, config }` (Keras 3 keeps the metric object's config the same way). */
export type MetricSpec = string | { class_name: string; config: Record<string, unknown> };

/**
 * A compiled metric as saved with the model: 'accuracy'/'acc' as the id given (it resolves again
 * from the shapes), the explicit accuracies with their name (and threshold), any other metric
 * (one of the user's own, or a subclass) as class 'Custom' with its name (loading it then needs
 * `{ compile: false }`).
 */
export function metricToSpec(m: Metric): MetricSpec {
  // Exact classes only: a subclass would come back as its base class.
  const proto = Object.getPrototypeOf(m);
  if (proto === Accuracy.prototype) return m.name === 'accuracy' || m.name === 'acc' ? m.name : { class_name: 'accuracy', config: { name: m.name } };
  if (proto === BinaryAccuracy.prototype) return { class_name: 'BinaryAccuracy', config: { name: m.name, threshold: (m as BinaryAccuracy).threshold } };
  if (proto === SparseCategoricalAccuracy.prototype) return { class_name: 'SparseCategoricalAccuracy', config: { name: m.name } };
  if (proto === CategoricalAccuracy.prototype) return { class_name: 'CategoricalAccuracy', config: { name: m.name } };
  return { class_name: 'Custom', config: { name: m.name } };
}

/** The metric a {@link MetricSpec} describes (the inverse of {@link metricToSpec}). */
export function metricFromSpec(spec: unknown, lossName: string): Metric {
  if (typeof spec === 'string') return getMetric(spec, lossName);
  const s = spec as { class_name?: unknown; config?: Record<string, unknown> } | null;
  const config = s?.config ?? {};
  const name = config.name;
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw new ValueError(`metric ${describe(s?.class_name)}: config.name must be a non-empty string, received ${describe(name)}`);
  }
  switch (s?.class_name) {
    case 'Custom':
      throw new ValueError(`metric ${describe(name)} is one of your own`);
    case 'accuracy': // 'accuracy' under another name (a weighted metric's `weighted_accuracy`)
      return new Accuracy(name ?? 'accuracy', lossName);
    case 'BinaryAccuracy': {
      const threshold = config.threshold ?? 0.5;
      if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
        throw new ValueError(`metric BinaryAccuracy: config.threshold must be a finite number, received ${describe(threshold)}`);
      }
      return new BinaryAccuracy(name ?? undefined, threshold);
    }
    case 'SparseCategoricalAccuracy':
      return new SparseCategoricalAccuracy(name ?? undefined);
    case 'CategoricalAccuracy':
      return new CategoricalAccuracy(name ?? undefined);
    default:
      return unknownId('metric class', s?.class_name, ['BinaryAccuracy', 'SparseCategoricalAccuracy', 'CategoricalAccuracy']);
  }
}
