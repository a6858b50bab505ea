/**
 * The dropout family (keras/src/layers/regularization): random in training, the identity at
 * inference. Each draws its noise from a native counter-based generator whose key comes from the
 * layer's seeded generator (`seed`, else the global one), so a seed repeats the masks exactly; the
 * backward pass reuses the forward pass's noise.
 *
 * - Dropout:         y = x * mask / (1 - rate), mask ~ Bernoulli(1 - rate)        (inverted dropout)
 * - AlphaDropout:    y = a * (x * mask + alpha' * (1 - mask)) + b, alpha' = -SELU alpha * SELU scale,
 *                    a = ((1 - rate)(1 + rate alpha'^2))^-1/2, b = -a alpha' rate  (Klambauer et al. 2017)
 * - GaussianDropout: y = x * n, n ~ N(1, rate / (1 - rate))
 * - GaussianNoise:   y = x + n, n ~ N(0, stddev^2)
 *
 * Difference from Keras 3: rate = 1 is refused (Keras accepts it; it would divide by zero here).
 */
import { Tensor, Shape, sizeOf } from '../tensor';
import { Layer, LayerArgs, SymbolicShape, CallArgs } from './layer';
import { Random, checkSeed, rngFor } from '../random';
import { native } from '../backend/native';
import { output, needsGrad, record, gradOf, pool } from '../autograd/engine';
import { ShapeError, ValueError, describe } from '../errors';
import { registerLayer, layerArgsFromConfig } from './serialization';

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

/** A dimension of a noise shape: a size, or null for "the input's size on that axis". */
export type NoiseShape = readonly (number | null)[];

/**
 * Base of the layers that add noise in training and are the identity at inference. `mcPredict`
 * runs exactly these layers in training mode.
 */
export abstract class NoiseLayer extends Layer {
  /** Seed of the layer's own noise generator; undefined (default) uses the global generator. Keras: `seed`. */
  readonly seed: number | undefined;
  /** The layer's own generator when seeded (Keras's SeedGenerator), else the global one. */
  protected readonly rng: Random;

  constructor(args: LayerArgs & { seed?: number }, known: readonly string[] = []) {
    super(args, ['seed', ...known]);
    if (args.seed !== undefined) checkSeed(this.describeSelf(), args.seed);
    this.seed = args.seed;
    this.rng = rngFor(args.seed);
  }

  computeOutputShape(inputShape: SymbolicShape): SymbolicShape {
    return inputShape;
  }

  /**
   * A fresh 64-bit key (two 32-bit words) for the native generator. Each training call draws
   * one; the one-call training step (models/train_plan.ts) draws them in the same order.
   */
  nextKey(): [number, number] {
    return [this.rng.nextUint32(), this.rng.nextUint32()];
  }

  /** The generator the keys come from (the training step snapshots it, to undo draws for a step that did not run). */
  get generator(): Random {
    return this.rng;
  }
}

function checkRate(layer: Layer, rate: unknown): number {
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) {
    throw new ValueError(`${layer.describeSelf()}: rate must be a number in [0, 1), received rate=${describe(rate)}`);
  }
  return rate;
}

function checkNoiseShape(layer: Layer, noiseShape: unknown): NoiseShape | null {
  if (noiseShape === undefined || noiseShape === null) return null;
  if (!Array.isArray(noiseShape) || noiseShape.some((d) => d !== null && (!Number.isInteger(d) || d <= 0))) {
    throw new ValueError(
      `${layer.describeSelf()}: noiseShape must be an array of positive integers or null, received noiseShape=${describe(noiseShape)}`,
    );
  }
  return [...(noiseShape as (number | null)[])];
}

/** The concrete noise shape for an input: null entries take the input's size; others must match it or be 1. */
function concreteNoiseShape(layer: Layer, noiseShape: NoiseShape, x: Tensor): number[] {
  const bad = () =>
    new ShapeError(
      `${layer.describeSelf()}: noiseShape ${describe(noiseShape)} does not broadcast to the input shape [${x.shape.join(', ')}] ` +
        '(each entry must be null, 1 or the input size)',
    );
  if (noiseShape.length !== x.rank) throw bad();
  return noiseShape.map((d, i) => {
    const n = x.shape[i]!;
    if (d === null) return n;
    if (d !== 1 && d !== n) throw bad();
    return d;
  });
}

/** Repeat `noise` (shape `ns`) along the axes where ns is 1 to fill `shape`. */
function broadcast(noise: Float32Array, ns: Shape, shape: Shape): Float32Array {
  const out = pool.acquire(sizeOf(shape));
  const rank = shape.length;
  const strides = new Array<number>(rank);
  let s = 1;
  for (let a = rank - 1; a >= 0; a--) {
    strides[a] = ns[a] === 1 && shape[a] !== 1 ? 0 : s;
    s *= ns[a]!;
  }
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = noise[src]!;
    for (let a = rank - 1; a >= 0; a--) {
      idx[a] = idx[a]! + 1;
      src += strides[a]!;
      if (idx[a]! < shape[a]!) break;
      src -= strides[a]! * shape[a]!;
      idx[a] = 0;
    }
  }
  return out;
}

/** y = x * mul + add with its gradient dx += dy * mul (the noise is held by the closure). */
function applyNoise(x: Tensor, mul: Float32Array | null, add: Float32Array | null): Tensor {
  const y = output(x.shape);
  native.noiseApply(x.data, mul, add, y.data);
  if (!needsGrad(x)) return y;
  return record(y, [x], () => native.noiseBackward(y.grad!, mul, gradOf(x)));
}

/** Options of {@link Dropout} and {@link AlphaDropout}. */
export interface DropoutArgs extends LayerArgs {
  /** Fraction of the inputs to drop, in [0, 1). Keras: `rate`. */
  rate: number;
  /** Shape of the mask, broadcast over axes of size 1; null entries take the input's size. Default none (the input's shape). Keras: `noise_shape`. */
  noiseShape?: NoiseShape | null;
  /** Seed for the dropout masks (default: the global generator, see `setSeed`). Keras: `seed`. */
  seed?: number;
}

/** Inverted dropout: drops inputs with probability `rate` and scales the rest by 1 / (1 - rate). Keras: `keras.layers.Dropout`. */
export class Dropout extends NoiseLayer {
  /** Fraction of the inputs to drop, in [0, 1). Keras: `rate`. */
  readonly rate: number;
  /** Shape of the mask, broadcast over axes of size 1; null entries take the input's size. Default none (the input's shape). Keras: `noise_shape`. */
  readonly noiseShape: NoiseShape | null;

  constructor(args: DropoutArgs) {
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`Dropout: expected an options object like { rate: 0.5 }, received ${describe(args)}`);
    }
    super(args, ['rate', 'noiseShape']);
    this.rate = checkRate(this, args.rate);
    this.noiseShape = checkNoiseShape(this, args.noiseShape);
  }

  override get className(): string {
    return 'Dropout';
  }

  /** Bernoulli keep/drop values over the (possibly broadcast) noise shape, one key for all. */
  protected mask(x: Tensor, key: [number, number], keep: number, drop: number): Float32Array {
    const ns = this.noiseShape ? concreteNoiseShape(this, this.noiseShape, x) : x.shape;
    const m = pool.acquire(sizeOf(ns));
    native.bernoulliMask(m, key[0], key[1], this.rate, keep, drop);
    return this.noiseShape && ns.some((d, i) => d !== x.shape[i]) ? broadcast(m, ns, x.shape) : m;
  }

  /**
   * The values a training call gives kept and dropped units: y = x * mul + add, with
   * mul = mulKeep or mulDrop, and add (null: none) likewise. The training plan uses the same.
   */
  noiseValues(): { mulKeep: number; mulDrop: number; add: { keep: number; drop: number } | null } {
    return { mulKeep: 1 / (1 - this.rate), mulDrop: 0, add: null };
  }

  call(x: Tensor, args: CallArgs): Tensor {
    if (!args.training || this.rate === 0) return x;
    const v = this.noiseValues();
    const key = this.nextKey();
    // Same key: the same units are kept in both.
    const mul = this.mask(x, key, v.mulKeep, v.mulDrop);
    return applyNoise(x, mul, v.add ? this.mask(x, key, v.add.keep, v.add.drop) : null);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      rate: this.rate,
      seed: this.seed ?? null,
      noise_shape: this.noiseShape ? [...this.noiseShape] : null,
    };
  }
}

/**
 * Dropout that keeps SELU's self-normalising mean and variance: dropped units take SELU's negative
 * saturation value alpha', then an affine map a * x + b restores mean 0 and variance 1.
 * Keras: `keras.layers.AlphaDropout`.
 */
export class AlphaDropout extends Dropout {
  override get className(): string {
    return 'AlphaDropout';
  }

  /** y = x * a + b where kept, a * alpha' + b where dropped. */
  override noiseValues(): { mulKeep: number; mulDrop: number; add: { keep: number; drop: number } } {
    const rate = this.rate;
    const alphaP = -SELU_ALPHA * SELU_SCALE;
    const a = ((1 - rate) * (1 + rate * alphaP * alphaP)) ** -0.5;
    const b = -a * alphaP * rate;
    return { mulKeep: a, mulDrop: 0, add: { keep: b, drop: a * alphaP + b } };
  }
}

/** Options of {@link GaussianDropout}. */
export interface GaussianDropoutArgs extends LayerArgs {
  /** Drop probability, in [0, 1): the noise has standard deviation sqrt(rate / (1 - rate)). Keras: `rate`. */
  rate: number;
  /** Seed for the multiplicative noise (default: the global generator, see `setSeed`). Keras: `seed`. */
  seed?: number;
}

/** Multiplicative 1-centred Gaussian noise, stddev sqrt(rate / (1 - rate)). Keras: `keras.layers.GaussianDropout`. */
export class GaussianDropout extends NoiseLayer {
  /** Drop probability, in [0, 1): the noise has standard deviation sqrt(rate / (1 - rate)). Keras: `rate`. */
  readonly rate: number;

  constructor(args: GaussianDropoutArgs) {
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`GaussianDropout: expected an options object like { rate: 0.2 }, received ${describe(args)}`);
    }
    super(args, ['rate']);
    this.rate = checkRate(this, args.rate);
  }

  override get className(): string {
    return 'GaussianDropout';
  }

  /** Standard deviation of the multiplicative noise, sqrt(rate / (1 - rate)) (the training plan uses the same). */
  get noiseStddev(): number {
    return Math.sqrt(this.rate / (1 - this.rate));
  }

  call(x: Tensor, args: CallArgs): Tensor {
    if (!args.training || this.rate === 0) return x;
    const n = pool.acquire(x.size);
    const [hi, lo] = this.nextKey();
    native.normalFill(n, hi, lo, 1, this.noiseStddev);
    return applyNoise(x, n, null);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed ?? null };
  }
}

/** Options of {@link GaussianNoise}. */
export interface GaussianNoiseArgs extends LayerArgs {
  /** Standard deviation of the additive noise, in [0, 1] as Keras 3 requires. Keras: `stddev`. */
  stddev: number;
  /** Seed for the additive noise (default: the global generator, see `setSeed`). Keras: `seed`. */
  seed?: number;
}

/** Additive zero-centred Gaussian noise (training only). Keras: `keras.layers.GaussianNoise`. */
export class GaussianNoise extends NoiseLayer {
  /** Standard deviation of the additive noise, in [0, 1] as Keras 3 requires. Keras: `stddev`. */
  readonly stddev: number;

  constructor(args: GaussianNoiseArgs) {
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`GaussianNoise: expected an options object like { stddev: 0.1 }, received ${describe(args)}`);
    }
    super(args, ['stddev']);
    const s = args.stddev;
    if (typeof s !== 'number' || !(s >= 0 && s <= 1)) {
      throw new ValueError(`${this.describeSelf()}: stddev must be a number in [0, 1], received stddev=${describe(s)}`);
    }
    this.stddev = s;
  }

  override get className(): string {
    return 'GaussianNoise';
  }

  call(x: Tensor, args: CallArgs): Tensor {
    if (!args.training || this.stddev === 0) return x;
    const n = pool.acquire(x.size);
    const [hi, lo] = this.nextKey();
    native.normalFill(n, hi, lo, 0, this.stddev);
    return applyNoise(x, null, n);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), stddev: this.stddev, seed: this.seed ?? null };
  }
}

/** config[key] unless it is missing or null. */
function opt<T>(config: Record<string, unknown>, key: string): T | undefined {
  const v = config[key];
  return v === undefined || v === null ? undefined : (v as T);
}

registerLayer('Dropout', (c) =>
  new Dropout({ ...layerArgsFromConfig(c), rate: c.rate as number, noiseShape: opt(c, 'noise_shape'), seed: opt(c, 'seed') }),
);
registerLayer('AlphaDropout', (c) =>
  new AlphaDropout({ ...layerArgsFromConfig(c), rate: c.rate as number, noiseShape: opt(c, 'noise_shape'), seed: opt(c, 'seed') }),
);
registerLayer('GaussianDropout', (c) =>
  new GaussianDropout({ ...layerArgsFromConfig(c), rate: c.rate as number, seed: opt(c, 'seed') }),
);
registerLayer('GaussianNoise', (c) =>
  new GaussianNoise({ ...layerArgsFromConfig(c), stddev: c.stddev as number, seed: opt(c, 'seed') }),
);
