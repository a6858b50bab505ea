/**
 * scikit-learn's `StandardScaler`: z = (x - mean) / scale per feature, with mean and scale fitted on
 * the training set only and then applied unchanged to validation and test data (fitting on the test
 * set leaks it into training). SELU's self-normalisation assumes standardised inputs.
 *
 * Features are every dimension after the first (an image [n, 28, 28] has 784). `scale` is the
 * population standard deviation (divisor n, numpy's default ddof=0), accumulated in float64 by two
 * passes; a constant feature gets scale 1 so it maps to 0 instead of dividing by zero.
 */
import { ShapeError, StateError, ValueError, checkOptions, describe } from '../errors';
import { Tensor } from '../tensor';
import { ArrayInput, rowsAndWidth, toTensor } from './arrays';

/** Options of `StandardScaler` (scikit-learn's `with_mean` and `with_std`; there is no `copy`). */
export interface StandardScalerOptions {
  /** Subtract the mean (default true; `with_mean` in scikit-learn). */
  withMean?: boolean;
  /** Divide by the standard deviation (default true; `with_std`). */
  withStd?: boolean;
}

/**
 * Standardise features: z = (x - mean) / scale, like scikit-learn's
 * `sklearn.preprocessing.StandardScaler` (its `mean_`, `var_`, `scale_`, `n_samples_seen_` are
 * `mean`, `variance`, `scale`, `nSamplesSeen` here; `fit_transform` and `inverse_transform` are
 * `fitTransform` and `inverseTransform`). Call `fit` on the training set, then `transform` every
 * split with the same scaler. `scale` is the population standard deviation (ddof=0), and a constant
 * feature gets scale 1. Also made by `standardScaler(options)`.
 */
export class StandardScaler {
  /** Whether `transform` subtracts the mean (option `withMean`, default true). */
  readonly withMean: boolean;
  /** Whether `transform` divides by the standard deviation (option `withStd`, default true). */
  readonly withStd: boolean;
  /** Per-feature mean of the fitted data (zeros when `withMean` is false); null before `fit`. */
  mean: Float64Array | null = null;
  /** Per-feature population variance of the fitted data; null before `fit`. */
  variance: Float64Array | null = null;
  /** Per-feature divisor: the standard deviation, 1 where it is 0 or `withStd` is false; null before `fit`. */
  scale: Float64Array | null = null;
  /** Samples seen by `fit`. */
  nSamplesSeen = 0;
  private features: readonly number[] | null = null;

  constructor(options: StandardScalerOptions = {}) {
    checkOptions('standardScaler', options, ['withMean', 'withStd']);
    for (const name of ['withMean', 'withStd'] as const) {
      const v = options[name];
      if (v !== undefined && typeof v !== 'boolean') {
        throw new ValueError(`standardScaler: ${name} must be a boolean, received ${describe(v)}`);
      }
    }
    this.withMean = options.withMean ?? true;
    this.withStd = options.withStd ?? true;
  }

  /** Learn each feature's mean and standard deviation from `x` ([n, ...features], n >= 1). */
  fit(x: ArrayInput): this {
    const t = toTensor('StandardScaler.fit', 'x', x);
    const { rows, width, features } = rowsAndWidth(t);
    if (t.rank < 2 || rows < 1) {
      throw new ShapeError(`StandardScaler.fit: expected x of shape [n, ...features] with n >= 1, received shape ${describe(t.shape)}`);
    }
    const d = t.data;
    const mean = new Float64Array(width);
    for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) mean[j]! += d[r * width + j]!;
    for (let j = 0; j < width; j++) mean[j]! /= rows;
    const variance = new Float64Array(width);
    const constant = new Uint8Array(width).fill(1);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < width; j++) {
        const v = d[r * width + j]!;
        const diff = v - mean[j]!;
        variance[j]! += diff * diff;
        if (v !== d[j]) constant[j] = 0;
      }
    }
    const scale = new Float64Array(width);
    for (let j = 0; j < width; j++) {
      variance[j]! /= rows;
      // Exactly constant features: their float64 variance can come out as rounding noise, not 0.
      if (constant[j]) variance[j] = 0;
      scale[j] = this.withStd && variance[j]! > 0 ? Math.sqrt(variance[j]!) : 1;
    }
    this.mean = this.withMean ? mean : new Float64Array(width);
    this.variance = variance;
    this.scale = scale;
    this.nSamplesSeen = rows;
    this.features = features;
    return this;
  }

  /** (x - mean) / scale with the fitted statistics; x must have the fitted feature shape. */
  transform(x: ArrayInput): Tensor {
    const { t, width, mean, scale } = this.prepare('transform', x);
    const out = new Float32Array(t.size);
    for (let i = 0; i < out.length; i++) {
      const j = i % width;
      out[i] = (t.data[i]! - mean[j]!) / scale[j]!;
    }
    return new Tensor(out, t.shape);
  }

  /** x * scale + mean: undo `transform`. */
  inverseTransform(x: ArrayInput): Tensor {
    const { t, width, mean, scale } = this.prepare('inverseTransform', x);
    const out = new Float32Array(t.size);
    for (let i = 0; i < out.length; i++) {
      const j = i % width;
      out[i] = t.data[i]! * scale[j]! + mean[j]!;
    }
    return new Tensor(out, t.shape);
  }

  /** `fit(x)` then `transform(x)`: for the training set only. */
  fitTransform(x: ArrayInput): Tensor {
    return this.fit(x).transform(x);
  }

  private prepare(method: string, x: ArrayInput): { t: Tensor; width: number; mean: Float64Array; scale: Float64Array } {
    const where = `StandardScaler.${method}`;
    if (this.mean === null || this.scale === null || this.features === null) {
      throw new StateError(`${where}: the scaler is not fitted yet; call fit(xTrain) first`);
    }
    const t = toTensor(where, 'x', x);
    const { width, features } = rowsAndWidth(t);
    if (t.rank < 2 || features.length !== this.features.length || features.some((d, i) => d !== this.features![i])) {
      throw new ShapeError(
        `${where}: expected x of shape [n, ${this.features.join(', ')}] (the fitted features), received shape ${describe(t.shape)}`,
      );
    }
    return { t, width, mean: this.mean, scale: this.scale };
  }
}

/** A new, unfitted `StandardScaler`. */
export function standardScaler(options: StandardScalerOptions = {}): StandardScaler {
  return new StandardScaler(options);
}
