/**
 * Monte Carlo Dropout (Gal & Ghahramani 2016): keep dropout on at prediction time and average N
 * stochastic passes; their spread estimates the model's uncertainty.
 *
 * Only the noise layers (Dropout, AlphaDropout, GaussianDropout, GaussianNoise) run in training
 * mode; every other layer runs in inference mode, so BatchNormalization uses (and does not update)
 * its moving statistics. This is the usual recipe (an "MCDropout" layer) and differs from
 * `model.predict(x, { training: true })`, which would also switch BatchNormalization to batch
 * statistics and move its averages.
 */
import { Tensor, sizeOf } from '../tensor';
import type { Sequential } from './sequential';
import { NoiseLayer } from '../layers/dropout';
import { noGrad, scope } from '../autograd/engine';
import { ShapeError, ValueError, checkOptions, describe } from '../errors';
import { TensorLike, assertFinite, sliceRows, toTensor } from './data';

/** Options of {@link mcPredict}. */
export interface McPredictArgs {
  /** Stochastic passes (default 100). */
  samples?: number;
  /** Default 32. */
  batchSize?: number;
}

/** Result of {@link mcPredict}: per-element mean and spread of the stochastic passes. */
export interface McPrediction {
  /** Mean of the passes' outputs, shape of `model.predict(x)`. */
  mean: Tensor;
  /** Population standard deviation (divides by `samples`) of the passes' outputs, same shape. */
  std: Tensor;
}

/** Mean and standard deviation of `samples` predictions with the noise layers active. */
export function mcPredict(model: Sequential, x: TensorLike, args: McPredictArgs = {}): McPrediction {
  checkOptions('mcPredict', args, ['samples', 'batchSize']);
  const samples = args.samples ?? 100;
  const batchSize = args.batchSize ?? 32;
  for (const [option, v] of [['samples', samples], ['batchSize', batchSize]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new ValueError(`mcPredict: ${option} must be an integer >= 1, received ${option}=${describe(v)}`);
    }
  }
  const xt = toTensor(x, 'mcPredict x');
  if (xt.rank < 1) throw new ShapeError(`mcPredict: x must have a batch axis, received shape []`);
  assertFinite(xt, 'mcPredict x');
  if (!model.built) model.build([null, ...xt.shape.slice(1)]);
  const layers = model.layers;
  const n = xt.shape[0]!;
  let mean: Float64Array | null = null;
  let m2: Float64Array | null = null;
  let sampleShape: number[] = [];
  let per = 0;
  noGrad(() => {
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      const xb = sliceRows(xt, start, end);
      for (let s = 0; s < samples; s++) {
        scope(() => {
          let y = xb;
          for (const layer of layers) y = layer.call(y, { training: layer instanceof NoiseLayer });
          if (mean === null) {
            sampleShape = y.shape.slice(1);
            per = sizeOf(sampleShape);
            mean = new Float64Array(n * per);
            m2 = new Float64Array(n * per);
          }
          // Welford's running mean and sum of squared deviations, in float64.
          const off = start * per, d = y.data, mu = mean, q = m2!;
          const k = s + 1;
          for (let i = 0; i < d.length; i++) {
            const delta = d[i]! - mu[off + i]!;
            mu[off + i] += delta / k;
            q[off + i] += delta * (d[i]! - mu[off + i]!);
          }
        });
      }
    }
  });
  const total = n * per;
  const meanOut = new Float32Array(total);
  const stdOut = new Float32Array(total);
  if (mean !== null) {
    const mu: Float64Array = mean, q: Float64Array = m2!;
    for (let i = 0; i < total; i++) {
      meanOut[i] = mu[i]!;
      stdOut[i] = Math.sqrt(q[i]! / samples);
    }
  }
  return { mean: new Tensor(meanOut, [n, ...sampleShape]), std: new Tensor(stdOut, [n, ...sampleShape]) };
}
