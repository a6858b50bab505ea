/**
 * Ops behind the activation layers (native/activations_ext.h): PReLU with a learned slope, RReLU's
 * random slopes, Keras's general ReLU (threshold, max value, negative slope), softmax over any
 * axis and Mish. Each records its gradient beside its forward pass; the native backward kernels
 * accumulate straight into the input gradients.
 */
import { Tensor } from '../tensor';
import { native } from '../backend/native';
import { ShapeError } from '../errors';
import { output, needsGrad, record, gradOf } from '../autograd/engine';

/**
 * PReLU: y = x > 0 ? x : alpha * x, alpha broadcast over the batch axis. `alphaIndex[j]` gives the
 * slope of element j of a sample (shared axes map several elements to one slope); null means alpha
 * has exactly one slope per sample element. Gradients reach both x and alpha (summed over the batch).
 */
export function prelu(x: Tensor, alpha: Tensor, alphaIndex: Int32Array | null = null): Tensor {
  const batch = x.rank === 0 ? 1 : x.shape[0]!;
  const sample = batch === 0 ? 0 : x.size / batch;
  const expected = alphaIndex ? alphaIndex.length : alpha.size;
  if (sample !== expected && batch !== 0) {
    throw new ShapeError(
      `prelu: input shape [${x.shape}] has ${sample} elements per sample, alpha shape [${alpha.shape}] covers ${expected}`,
    );
  }
  const y = output(x.shape);
  native.preluForward(x.data, alpha.data, alphaIndex, y.data, batch, sample);
  if (!needsGrad(x, alpha)) return y;
  return record(y, [x, alpha], () => {
    native.preluBackward(
      x.data, alpha.data, alphaIndex, y.grad!,
      x.requiresGrad ? gradOf(x) : null, alpha.requiresGrad ? gradOf(alpha) : null, batch, sample,
    );
  });
}

/**
 * RReLU in training: each element with x <= 0 gets a slope drawn from U(lower, upper); the draw is
 * a function of (seed, index), so a seed repeats it exactly. At inference RReLU is a leaky ReLU with
 * slope (lower + upper) / 2 (use `activation(x, ActId.LeakyRelu, slope)`).
 */
export function rreluTrain(x: Tensor, lower: number, upper: number, seed: number): Tensor {
  const y = output(x.shape);
  const noise = output(x.shape);
  // The binding takes seeds in [0, 2^31).
  native.rreluForwardTrain(x.data, y.data, noise.data, lower, upper, seed >>> 1);
  if (!needsGrad(x)) return y;
  return record(y, [x], () => native.rreluBackward(noise.data, y.grad!, gradOf(x)));
}

/** Parameters of {@link reluGeneral} (Keras's `relu(x, negative_slope, max_value, threshold)`). */
export interface ReluOptions {
  /** Slope below the threshold. Keras: `negative_slope`. */
  negativeSlope: number;
  /** Inputs above it pass through (up to `maxValue`). Keras: `threshold`. */
  threshold: number;
  /** null: no upper bound. */
  maxValue: number | null;
}

/**
 * Keras's general ReLU: y = x > threshold ? min(x, maxValue) : negativeSlope * (x - threshold).
 */
export function reluGeneral(x: Tensor, o: ReluOptions): Tensor {
  const hasMax = o.maxValue !== null;
  const maxValue = o.maxValue ?? 0;
  const y = output(x.shape);
  native.reluGeneralForward(x.data, y.data, o.negativeSlope, o.threshold, hasMax, maxValue);
  if (!needsGrad(x)) return y;
  return record(y, [x], () =>
    native.reluGeneralBackward(x.data, y.grad!, gradOf(x), o.negativeSlope, o.threshold, hasMax, maxValue),
  );
}

/**
 * Softmax along one axis (negative counts from the end), max-subtracted:
 * y = exp(x - max) / sum(exp(x - max)) over that axis; dx = y * (dy - sum(dy * y)).
 */
export function softmaxAlong(x: Tensor, axis: number): Tensor {
  const rank = x.rank;
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new ShapeError(`softmax: axis ${axis} is out of range for input of shape [${x.shape}] (rank ${rank})`);
  }
  let outer = 1, inner = 1;
  for (let i = 0; i < a; i++) outer *= x.shape[i]!;
  for (let i = a + 1; i < rank; i++) inner *= x.shape[i]!;
  const len = x.shape[a]!;
  const y = output(x.shape);
  native.softmaxAxis(x.data, y.data, outer, len, inner);
  if (!needsGrad(x)) return y;
  return record(y, [x], () => native.softmaxAxisBackward(y.data, y.grad!, gradOf(x), outer, len, inner));
}

/** Mish: y = x * tanh(softplus(x)) (Misra 2019). */
export function mish(x: Tensor): Tensor {
  const y = output(x.shape);
  native.mishForward(x.data, y.data);
  if (!needsGrad(x)) return y;
  return record(y, [x], () => native.mishBackward(x.data, y.grad!, gradOf(x)));
}
