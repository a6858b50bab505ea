/**
 * Weight initializers, with Keras's names, defaults and formulas (keras/src/initializers).
 * Glorot, He and LeCun are presets of VarianceScaling: variance = scale / fan, fan chosen by mode.
 */
import { Shape, sizeOf } from '../tensor';
import { Random, checkSeed, rngFor } from '../random';
import { ValueError, checkOptions, describe, unknownId } from '../errors';

/** Produces the initial values of a weight. Keras: `keras.initializers.Initializer`. */
export interface Initializer {
  /** Keras class name, used in configs and summaries. */
  readonly className: string;
  /** Fresh values for a weight of this shape. */
  generate(shape: Shape): Float32Array;
  /** The constructor options as Keras serializes them (snake_case, `seed: null` when unseeded). */
  getConfig(): Record<string, unknown>;
}

/** Which fan divides the variance in {@link VarianceScaling}: inputs, outputs or their mean. Keras: `mode`. */
export type FanMode = 'fanIn' | 'fanOut' | 'fanAvg';
/** Distribution {@link VarianceScaling} draws from. Keras: `distribution`. */
export type Distribution = 'truncatedNormal' | 'untruncatedNormal' | 'uniform';

/** Keras's fan computation: [in, out] for a matrix, receptive field times channels for convolutions. */
export function computeFans(shape: Shape): {
  /** Fan-in: inputs per output unit (times the receptive field for convolution kernels). */
  fanIn: number;
  /** Fan-out: outputs per input unit (times the receptive field for convolution kernels). */
  fanOut: number;
} {
  if (shape.length < 1) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0]!, fanOut: shape[0]! };
  if (shape.length === 2) return { fanIn: shape[0]!, fanOut: shape[1]! };
  const receptive = sizeOf(shape.slice(0, -2));
  return { fanIn: shape[shape.length - 2]! * receptive, fanOut: shape[shape.length - 1]! * receptive };
}

// Stddev of a standard normal truncated to [-2, 2]: dividing by it keeps the target variance.
const TRUNCATED_STD = 0.8796256610342398;

function fillTruncatedNormal(rng: Random, out: Float32Array, mean: number, stddev: number): void {
  for (let i = 0; i < out.length; i++) {
    let v: number;
    do v = rng.normal();
    while (v < -2 || v > 2);
    out[i] = mean + stddev * v;
  }
}

function checkPositive(name: string, option: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new ValueError(`${name}: ${option} must be a positive number, received ${describe(v)}`);
  }
}

function checkFinite(name: string, option: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ValueError(`${name}: ${option} must be a finite number, received ${describe(v)}`);
  }
}

/** Options of {@link VarianceScaling}. Keras: `keras.initializers.VarianceScaling`. */
export interface VarianceScalingOptions {
  /** Multiplier of the variance (default 1). */
  scale?: number;
  /** Which fan divides the variance (default 'fanIn'). Keras's 'fan_in' etc. are accepted. */
  mode?: FanMode | 'fan_in' | 'fan_out' | 'fan_avg';
  /** Default 'truncatedNormal'; Keras's 'truncated_normal', 'untruncated_normal', 'normal' accepted. */
  distribution?: Distribution | 'truncated_normal' | 'untruncated_normal' | 'normal';
  /** Seed: a seeded initializer returns the same values on every call (default: the global generator). Keras: `seed`. */
  seed?: number;
}

const MODES: Record<string, FanMode> = { fanin: 'fanIn', fanout: 'fanOut', fanavg: 'fanAvg' };
const DISTRIBUTIONS: Record<string, Distribution> = {
  truncatednormal: 'truncatedNormal',
  normal: 'truncatedNormal', // Keras accepts 'normal' as an alias of truncated normal
  untruncatednormal: 'untruncatedNormal',
  uniform: 'uniform',
};

/** Samples with variance `scale / fan`: truncated normal (stddev corrected for the truncation), plain normal, or uniform in [-sqrt(3 * variance), sqrt(3 * variance)]. Keras: `keras.initializers.VarianceScaling`. */
export class VarianceScaling implements Initializer {
  readonly className: string = 'VarianceScaling';
  /** Multiplier of the variance (default 1). */
  readonly scale: number;
  /** Which fan divides the variance (default 'fanIn'). Keras's 'fan_in' etc. are accepted. */
  readonly mode: FanMode;
  /** Default 'truncatedNormal'; Keras's 'truncated_normal', 'untruncated_normal', 'normal' accepted. */
  readonly distribution: Distribution;
  /** Seed, or undefined (default) for the global generator. Keras: `seed`. */
  readonly seed: number | undefined;

  constructor(options: VarianceScalingOptions = {}) {
    checkOptions('VarianceScaling', options, ['scale', 'mode', 'distribution', 'seed']);
    const { scale = 1, mode = 'fanIn', distribution = 'truncatedNormal', seed } = options;
    checkPositive('VarianceScaling', 'scale', scale);
    const m = MODES[String(mode).replace(/_/g, '').toLowerCase()];
    if (!m) unknownId('VarianceScaling mode', mode, ['fanIn', 'fanOut', 'fanAvg']);
    const d = DISTRIBUTIONS[String(distribution).replace(/_/g, '').toLowerCase()];
    if (!d) unknownId('VarianceScaling distribution', distribution, ['truncatedNormal', 'untruncatedNormal', 'uniform']);
    if (seed !== undefined) checkSeed('VarianceScaling', seed);
    this.scale = scale;
    this.mode = m;
    this.distribution = d;
    this.seed = seed;
  }

  generate(shape: Shape): Float32Array {
    // Keras 3: an initializer seeded with an integer returns the same values on every call.
    const rng = rngFor(this.seed);
    const { fanIn, fanOut } = computeFans(shape);
    const fan = this.mode === 'fanIn' ? fanIn : this.mode === 'fanOut' ? fanOut : (fanIn + fanOut) / 2;
    const variance = this.scale / Math.max(1, fan);
    const out = new Float32Array(sizeOf(shape));
    if (this.distribution === 'uniform') {
      const limit = Math.sqrt(3 * variance);
      for (let i = 0; i < out.length; i++) out[i] = (2 * rng.uniform() - 1) * limit;
    } else if (this.distribution === 'untruncatedNormal') {
      const std = Math.sqrt(variance);
      for (let i = 0; i < out.length; i++) out[i] = std * rng.normal();
    } else {
      fillTruncatedNormal(rng, out, 0, Math.sqrt(variance) / TRUNCATED_STD);
    }
    return out;
  }

  /** Keras config: `{ scale, mode, distribution, seed }` with snake_case values. */
  getConfig(): Record<string, unknown> {
    const snake = { fanIn: 'fan_in', fanOut: 'fan_out', fanAvg: 'fan_avg' }[this.mode];
    const dist = { truncatedNormal: 'truncated_normal', untruncatedNormal: 'untruncated_normal', uniform: 'uniform' }[
      this.distribution
    ];
    return { scale: this.scale, mode: snake, distribution: dist, seed: this.seed ?? null };
  }
}

/** A VarianceScaling preset that reports its own Keras class name. */
export type PresetInitializer = new (options?: { seed?: number }) => VarianceScaling;

function preset(className: string, scale: number, mode: FanMode, distribution: Distribution): PresetInitializer {
  return class extends VarianceScaling {
    override readonly className = className;
    constructor(options: { seed?: number } = {}) {
      checkOptions(className, options, ['seed']);
      if (options.seed !== undefined) checkSeed(className, options.seed);
      super({ scale, mode, distribution, seed: options.seed });
    }
    override getConfig(): Record<string, unknown> {
      return { seed: this.seed ?? null };
    }
  };
}

/** Glorot/Xavier uniform: VarianceScaling(scale 1, fanAvg, uniform), limit sqrt(6 / (fanIn + fanOut)). Dense's default kernel initializer. Keras: `GlorotUniform`. */
export const GlorotUniform = preset('GlorotUniform', 1, 'fanAvg', 'uniform');
/** Glorot/Xavier normal: VarianceScaling(scale 1, fanAvg, truncatedNormal). Keras: `GlorotNormal`. */
export const GlorotNormal = preset('GlorotNormal', 1, 'fanAvg', 'truncatedNormal');
/** He uniform: VarianceScaling(scale 2, fanIn, uniform), for ReLU-family activations. Keras: `HeUniform`. */
export const HeUniform = preset('HeUniform', 2, 'fanIn', 'uniform');
/** He normal: VarianceScaling(scale 2, fanIn, truncatedNormal), for ReLU-family activations. Keras: `HeNormal`. */
export const HeNormal = preset('HeNormal', 2, 'fanIn', 'truncatedNormal');
/** LeCun uniform: VarianceScaling(scale 1, fanIn, uniform). Keras: `LecunUniform`. */
export const LecunUniform = preset('LecunUniform', 1, 'fanIn', 'uniform');
/** LeCun normal: VarianceScaling(scale 1, fanIn, truncatedNormal), the initializer SELU needs. Keras: `LecunNormal`. */
export const LecunNormal = preset('LecunNormal', 1, 'fanIn', 'truncatedNormal');

/** Fills every element with `value`. Keras: `keras.initializers.Constant`. */
export class Constant implements Initializer {
  readonly className: string = 'Constant';
  /** @param value The fill value (default 0). Keras: `value`. */
  constructor(readonly value: number = 0) {
    checkFinite('Constant', 'value', value);
  }
  generate(shape: Shape): Float32Array {
    return new Float32Array(sizeOf(shape)).fill(this.value);
  }
  /** Keras config: `{ value }`. */
  getConfig(): Record<string, unknown> {
    return { value: this.value };
  }
}

/** All zeros (Dense's default bias initializer). Keras: `keras.initializers.Zeros`. */
export class Zeros extends Constant {
  override readonly className = 'Zeros';
  constructor() {
    super(0);
  }
  /** Keras config: `{}`. */
  override getConfig(): Record<string, unknown> {
    return {};
  }
}

/** All ones. Keras: `keras.initializers.Ones`. */
export class Ones extends Constant {
  override readonly className = 'Ones';
  constructor() {
    super(1);
  }
  /** Keras config: `{}`. */
  override getConfig(): Record<string, unknown> {
    return {};
  }
}

/** Normal samples with the given mean and stddev. Keras: `keras.initializers.RandomNormal`. */
export class RandomNormal implements Initializer {
  /** Keras class name. */
  get className(): string {
    return 'RandomNormal';
  }
  /** Mean of the samples (default 0). Keras: `mean`. */
  readonly mean: number;
  /** Standard deviation (default 0.05). Keras: `stddev`. */
  readonly stddev: number;
  /** Seed, or undefined (default) for the global generator. Keras: `seed`. */
  readonly seed: number | undefined;
  /** Keras defaults: mean 0, stddev 0.05. */
  constructor(options: { mean?: number; stddev?: number; seed?: number } = {}) {
    checkOptions(this.className, options, ['mean', 'stddev', 'seed']);
    const { mean = 0, stddev = 0.05, seed } = options;
    checkFinite(this.className, 'mean', mean);
    checkPositive(this.className, 'stddev', stddev);
    if (seed !== undefined) checkSeed(this.className, seed);
    this.mean = mean;
    this.stddev = stddev;
    this.seed = seed;
  }
  generate(shape: Shape): Float32Array {
    // Keras 3: an initializer seeded with an integer returns the same values on every call.
    const rng = rngFor(this.seed);
    const out = new Float32Array(sizeOf(shape));
    for (let i = 0; i < out.length; i++) out[i] = this.mean + this.stddev * rng.normal();
    return out;
  }
  /** Keras config: `{ mean, stddev, seed }`. */
  getConfig(): Record<string, unknown> {
    return { mean: this.mean, stddev: this.stddev, seed: this.seed ?? null };
  }
}

/**
 * Normal samples redrawn when beyond 2 stddev from the mean: RandomNormal's options, defaults and
 * config with a truncated draw. Keras: `keras.initializers.TruncatedNormal`.
 */
export class TruncatedNormal extends RandomNormal {
  override get className(): string {
    return 'TruncatedNormal';
  }
  override generate(shape: Shape): Float32Array {
    // Keras 3: an initializer seeded with an integer returns the same values on every call.
    const rng = rngFor(this.seed);
    const out = new Float32Array(sizeOf(shape));
    fillTruncatedNormal(rng, out, this.mean, this.stddev);
    return out;
  }
}

/** Uniform samples in [minval, maxval). Keras: `keras.initializers.RandomUniform`. */
export class RandomUniform implements Initializer {
  readonly className: string = 'RandomUniform';
  /** Lower bound (default -0.05). Keras: `minval`. */
  readonly minval: number;
  /** Upper bound (default 0.05). Keras: `maxval`. */
  readonly maxval: number;
  /** Seed, or undefined (default) for the global generator. Keras: `seed`. */
  readonly seed: number | undefined;
  /** Keras defaults: minval -0.05, maxval 0.05. */
  constructor(options: { minval?: number; maxval?: number; seed?: number } = {}) {
    checkOptions(this.className, options, ['minval', 'maxval', 'seed']);
    const { minval = -0.05, maxval = 0.05, seed } = options;
    checkFinite(this.className, 'minval', minval);
    checkFinite(this.className, 'maxval', maxval);
    if (!(maxval > minval)) {
      throw new ValueError(`RandomUniform: maxval must exceed minval, received minval=${minval}, maxval=${maxval}`);
    }
    if (seed !== undefined) checkSeed(this.className, seed);
    this.minval = minval;
    this.maxval = maxval;
    this.seed = seed;
  }
  generate(shape: Shape): Float32Array {
    // Keras 3: an initializer seeded with an integer returns the same values on every call.
    const rng = rngFor(this.seed);
    const out = new Float32Array(sizeOf(shape));
    const w = this.maxval - this.minval;
    for (let i = 0; i < out.length; i++) out[i] = this.minval + w * rng.uniform();
    return out;
  }
  /** Keras config: `{ minval, maxval, seed }`. */
  getConfig(): Record<string, unknown> {
    return { minval: this.minval, maxval: this.maxval, seed: this.seed ?? null };
  }
}

/**
 * Orthogonal matrix (Saxe et al. 2014), Keras's recipe: draw a normal matrix of shape
 * (max(rows, cols), min(rows, cols)) with rows = product of all but the last dimension, take the
 * Q of its QR decomposition with the signs fixed so R's diagonal is positive, transpose it when
 * rows < cols, and multiply by `gain`. Q is computed here by modified Gram-Schmidt, run twice for
 * orthogonality to float64 precision; Gram-Schmidt's R has a positive diagonal by construction, so
 * no sign fix is needed.
 * Keras: `keras.initializers.Orthogonal`.
 */
export class Orthogonal implements Initializer {
  readonly className: string = 'Orthogonal';
  /** Multiplier of the orthogonal matrix (default 1). Keras: `gain`. */
  readonly gain: number;
  /** Seed, or undefined (default) for the global generator. Keras: `seed`. */
  readonly seed: number | undefined;
  /** Keras defaults: gain 1. */
  constructor(options: { gain?: number; seed?: number } = {}) {
    checkOptions('Orthogonal', options, ['gain', 'seed']);
    const { gain = 1, seed } = options;
    checkFinite('Orthogonal', 'gain', gain);
    if (seed !== undefined) checkSeed('Orthogonal', seed);
    this.gain = gain;
    this.seed = seed;
  }
  generate(shape: Shape): Float32Array {
    if (shape.length < 2) {
      throw new ValueError(
        `Orthogonal: the weight must be at least two-dimensional, received shape ${describe([...shape])} of rank ${shape.length}`,
      );
    }
    // Same convention as the other seeded initializers: a seed gives the same values on every call.
    const rng = rngFor(this.seed);
    const rows = sizeOf(shape.slice(0, -1));
    const cols = shape[shape.length - 1]!;
    const m = Math.max(rows, cols), k = Math.min(rows, cols);
    const out = new Float32Array(rows * cols);
    if (k === 0) return out;
    // Column-major m x k: column j is q.subarray(j * m, (j + 1) * m).
    const q = new Float64Array(m * k);
    for (let i = 0; i < q.length; i++) q[i] = rng.normal();
    for (let j = 0; j < k; j++) {
      const cj = q.subarray(j * m, (j + 1) * m);
      for (let pass = 0; pass < 2; pass++) {
        for (let p = 0; p < j; p++) {
          const cp = q.subarray(p * m, (p + 1) * m);
          let dot = 0;
          for (let i = 0; i < m; i++) dot += cp[i]! * cj[i]!;
          for (let i = 0; i < m; i++) cj[i] -= dot * cp[i]!;
        }
      }
      let norm = 0;
      for (let i = 0; i < m; i++) norm += cj[i]! * cj[i]!;
      norm = Math.sqrt(norm);
      for (let i = 0; i < m; i++) cj[i] /= norm;
    }
    // rows >= cols: W[r][c] = Q[r][c]; rows < cols: W = Q^T, W[r][c] = Q[c][r].
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        out[r * cols + c] = this.gain * (rows >= cols ? q[c * m + r]! : q[r * m + c]!);
      }
    }
    return out;
  }
  /** Keras config: `{ gain, seed }`. */
  getConfig(): Record<string, unknown> {
    return { gain: this.gain, seed: this.seed ?? null };
  }
}

/** gain times the identity matrix (2-D weights only; rectangular allowed), as Keras's Identity. Keras: `keras.initializers.Identity`. */
export class Identity implements Initializer {
  readonly className: string = 'Identity';
  /** Multiplier of the identity matrix (default 1). Keras: `gain`. */
  readonly gain: number;
  constructor(options: { gain?: number } = {}) {
    checkOptions('Identity', options, ['gain']);
    const { gain = 1 } = options;
    checkFinite('Identity', 'gain', gain);
    this.gain = gain;
  }
  generate(shape: Shape): Float32Array {
    if (shape.length !== 2) {
      throw new ValueError(`Identity: only 2-D weights can be initialized, received shape ${describe([...shape])}`);
    }
    const [r, c] = shape as [number, number];
    const out = new Float32Array(r * c);
    for (let i = 0; i < Math.min(r, c); i++) out[i * c + i] = this.gain;
    return out;
  }
  /** Keras config: `{ gain }`. */
  getConfig(): Record<string, unknown> {
    return { gain: this.gain };
  }
}

// Factories in the library's camelCase style: initializers.heNormal({ seed: 42 }).
/** Creates a new {@link GlorotUniform} (same as `new GlorotUniform(...)`). Keras: `keras.initializers.GlorotUniform`. */
export const glorotUniform = (o?: { seed?: number }) => new GlorotUniform(o);
/** Creates a new {@link GlorotNormal} (same as `new GlorotNormal(...)`). Keras: `keras.initializers.GlorotNormal`. */
export const glorotNormal = (o?: { seed?: number }) => new GlorotNormal(o);
/** Creates a new {@link HeUniform} (same as `new HeUniform(...)`). Keras: `keras.initializers.HeUniform`. */
export const heUniform = (o?: { seed?: number }) => new HeUniform(o);
/** Creates a new {@link HeNormal} (same as `new HeNormal(...)`). Keras: `keras.initializers.HeNormal`. */
export const heNormal = (o?: { seed?: number }) => new HeNormal(o);
/** Creates a new {@link LecunUniform} (same as `new LecunUniform(...)`). Keras: `keras.initializers.LecunUniform`. */
export const lecunUniform = (o?: { seed?: number }) => new LecunUniform(o);
/** Creates a new {@link LecunNormal} (same as `new LecunNormal(...)`). Keras: `keras.initializers.LecunNormal`. */
export const lecunNormal = (o?: { seed?: number }) => new LecunNormal(o);
/** Creates a new {@link VarianceScaling} (same as `new VarianceScaling(...)`). Keras: `keras.initializers.VarianceScaling`. */
export const varianceScaling = (o?: VarianceScalingOptions) => new VarianceScaling(o);
/** Creates a new {@link Zeros} (same as `new Zeros(...)`). Keras: `keras.initializers.Zeros`. */
export const zeros = () => new Zeros();
/** Creates a new {@link Ones} (same as `new Ones(...)`). Keras: `keras.initializers.Ones`. */
export const ones = () => new Ones();
/** Creates a new {@link Constant} with `value` (required). Keras: `keras.initializers.Constant`. */
export const constant = (o: { value: number }): Constant => {
  if (o === undefined) throw new ValueError('constant: expected an options object like { value: 0.1 }, received undefined');
  checkOptions('Constant', o, ['value']);
  return new Constant(o.value);
};
/** Creates a new {@link RandomNormal} (same as `new RandomNormal(...)`). Keras: `keras.initializers.RandomNormal`. */
export const randomNormal = (o?: { mean?: number; stddev?: number; seed?: number }) => new RandomNormal(o);
/** Creates a new {@link RandomUniform} (same as `new RandomUniform(...)`). Keras: `keras.initializers.RandomUniform`. */
export const randomUniform = (o?: { minval?: number; maxval?: number; seed?: number }) => new RandomUniform(o);
/** Creates a new {@link TruncatedNormal} (same as `new TruncatedNormal(...)`). Keras: `keras.initializers.TruncatedNormal`. */
export const truncatedNormal = (o?: { mean?: number; stddev?: number; seed?: number }) => new TruncatedNormal(o);

/** Creates a new {@link Orthogonal} (same as `new Orthogonal(...)`). Keras: `keras.initializers.Orthogonal`. */
export const orthogonal = (o?: { gain?: number; seed?: number }) => new Orthogonal(o);
/** Creates a new {@link Identity} (same as `new Identity(...)`). Keras: `keras.initializers.Identity`. */
export const identity = (o?: { gain?: number }) => new Identity(o);

/** String ids accepted wherever an initializer is (camelCase or Keras snake_case). */
export type InitializerId =
  | 'glorotUniform' | 'glorot_uniform' | 'glorotNormal' | 'glorot_normal'
  | 'heUniform' | 'he_uniform' | 'heNormal' | 'he_normal'
  | 'lecunUniform' | 'lecun_uniform' | 'lecunNormal' | 'lecun_normal'
  | 'zeros' | 'ones' | 'randomNormal' | 'random_normal' | 'randomUniform' | 'random_uniform'
  | 'truncatedNormal' | 'truncated_normal' | 'varianceScaling' | 'variance_scaling'
  | 'orthogonal' | 'identity';

/** Keras's serialized form of an initializer: { class_name: 'HeNormal', config: { seed: null } }. */
export interface SerializedInitializer {
  /** Keras class name, e.g. `'HeNormal'`. */
  class_name: string;
  /** Constructor options in Keras snake_case (default `{}`). */
  config?: Record<string, unknown>;
}

type Config = Record<string, unknown>;
const num = (c: Config, key: string): number | undefined => (c[key] === null || c[key] === undefined ? undefined : (c[key] as number));
const seeded = (c: Config): { seed?: number } => (num(c, 'seed') === undefined ? {} : { seed: num(c, 'seed')! });

// Keys: lower-cased, underscores removed, so 'HeNormal', 'he_normal' and 'heNormal' all match.
// Each builds the initializer from a Keras config (snake_case keys; {} gives the defaults).
const FROM_CONFIG: Record<string, (c: Config) => Initializer> = {
  glorotuniform: (c) => new GlorotUniform(seeded(c)),
  glorotnormal: (c) => new GlorotNormal(seeded(c)),
  heuniform: (c) => new HeUniform(seeded(c)),
  henormal: (c) => new HeNormal(seeded(c)),
  lecununiform: (c) => new LecunUniform(seeded(c)),
  lecunnormal: (c) => new LecunNormal(seeded(c)),
  zeros: () => new Zeros(),
  zero: () => new Zeros(),
  ones: () => new Ones(),
  one: () => new Ones(),
  constant: (c) => new Constant(num(c, 'value') ?? 0),
  randomnormal: (c) => new RandomNormal({ mean: num(c, 'mean'), stddev: num(c, 'stddev'), ...seeded(c) }),
  normal: (c) => new RandomNormal({ mean: num(c, 'mean'), stddev: num(c, 'stddev'), ...seeded(c) }),
  randomuniform: (c) => new RandomUniform({ minval: num(c, 'minval'), maxval: num(c, 'maxval'), ...seeded(c) }),
  uniform: (c) => new RandomUniform({ minval: num(c, 'minval'), maxval: num(c, 'maxval'), ...seeded(c) }),
  truncatednormal: (c) => new TruncatedNormal({ mean: num(c, 'mean'), stddev: num(c, 'stddev'), ...seeded(c) }),
  variancescaling: (c) =>
    new VarianceScaling({
      scale: num(c, 'scale'),
      mode: (c.mode ?? undefined) as VarianceScalingOptions['mode'],
      distribution: (c.distribution ?? undefined) as VarianceScalingOptions['distribution'],
      ...seeded(c),
    }),
  orthogonal: (c) => new Orthogonal({ gain: num(c, 'gain'), ...seeded(c) }),
  orthogonalinitializer: (c) => new Orthogonal({ gain: num(c, 'gain'), ...seeded(c) }),
  identity: (c) => new Identity({ gain: num(c, 'gain') }),
  identityinitializer: (c) => new Identity({ gain: num(c, 'gain') }),
};

const VALID_IDS = ['glorotUniform', 'glorotNormal', 'heUniform', 'heNormal', 'lecunUniform', 'lecunNormal', 'zeros',
  'ones', 'constant', 'randomNormal', 'randomUniform', 'truncatedNormal', 'varianceScaling', 'orthogonal', 'identity'];

/**
 * Resolve an id ('heNormal', 'he_normal', 'HeNormal') or a serialized initializer
 * ({ class_name: 'VarianceScaling', config: { scale: 2, mode: 'fan_in', ... } }), or pass an
 * Initializer through.
 */
export function getInitializer(
  id: InitializerId | Initializer | SerializedInitializer | string,
  where = 'initializer',
): Initializer {
  if (typeof id === 'object' && id !== null && typeof (id as Initializer).generate === 'function') return id as Initializer;
  if (typeof id === 'object' && id !== null && typeof (id as SerializedInitializer).class_name === 'string') {
    const { class_name: name, config } = id as SerializedInitializer;
    const make = FROM_CONFIG[name.replace(/_/g, '').toLowerCase()];
    if (!make) unknownId(`${where} class_name`, name, VALID_IDS.map((v) => v[0]!.toUpperCase() + v.slice(1)));
    return make(config ?? {});
  }
  if (typeof id !== 'string') unknownId(where, id, VALID_IDS);
  const make = FROM_CONFIG[id.replace(/_/g, '').toLowerCase()];
  if (!make) unknownId(where, id, VALID_IDS);
  return make({});
}

/** Keras's serialized form of an initializer, which `getInitializer` turns back into one. */
export function serializeInitializer(init: Initializer): SerializedInitializer {
  return { class_name: init.className, config: init.getConfig() };
}
