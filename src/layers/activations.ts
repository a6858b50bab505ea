/**
 * Activation layers with Keras 3's names, defaults and configs (keras/src/layers/activations):
 * LeakyReLU, PReLU, ELU, ReLU and Softmax, plus RReLU, which Keras lacks (PyTorch's defaults and
 * semantics: torch.nn.RReLU). Element-wise ones run a native kernel forward and backward.
 */
import { Tensor } from '../tensor';
import { Layer, LayerArgs, SymbolicShape, Variable, CallArgs } from './layer';
import { ActId } from '../backend/native';
import { activation as activationOp, softmax as softmaxOp } from '../ops/activation';
import { prelu as preluOp, rreluTrain, reluGeneral, softmaxAlong } from '../ops/activations_ext';
import { reshape } from '../ops/shape';
import { Initializer, InitializerId, SerializedInitializer, getInitializer, serializeInitializer } from '../initializers';
import { Regularizer, RegularizerIdentifier, getRegularizer, serializeRegularizer } from '../regularizers';
import { Constraint, ConstraintIdentifier, getConstraint, serializeConstraint } from '../constraints';
import { Random, checkSeed, rngFor } from '../random';
import { ShapeError, ValueError, describe } from '../errors';

/** The layer's options object, or {} when none was given; anything else is an error. */
function optionsOf<T extends object>(cls: string, args: T | undefined): T {
  if (args === undefined) return {} as T;
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new ValueError(`${cls}: expected an options object, received ${describe(args)}`);
  }
  return args;
}

function checkNumber(layer: Layer, option: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    const range = min === -Infinity ? 'a finite number' : `a finite number >= ${min}`;
    throw new ValueError(`${layer.describeSelf()}: ${option} must be ${range}, received ${option}=${describe(v)}`);
  }
  return v;
}

/** Base of the shape-preserving activation layers. */
abstract class ActivationLayer extends Layer {
  computeOutputShape(inputShape: SymbolicShape): SymbolicShape {
    return inputShape;
  }
}

/** Options of {@link LeakyReLU}. */
export interface LeakyReLUArgs extends LayerArgs {
  /** Slope for x < 0, >= 0 (default 0.3, Keras 3's LeakyReLU layer). Keras: `negative_slope`. */
  negativeSlope?: number;
  /** Keras 2's name for negativeSlope; give one or the other. Keras 2: `alpha`. */
  alpha?: number;
}

/** y = x > 0 ? x : negativeSlope * x. Keras: `keras.layers.LeakyReLU`. */
export class LeakyReLU extends ActivationLayer {
  /** Slope for x < 0, >= 0 (default 0.3, Keras 3's LeakyReLU layer). Keras: `negative_slope`. */
  readonly negativeSlope: number;

  constructor(args?: LeakyReLUArgs) {
    const o = optionsOf('LeakyReLU', args);
    const { negativeSlope, alpha, ...base } = o;
    super(base, ['negativeSlope', 'alpha']);
    if (negativeSlope !== undefined && alpha !== undefined) {
      throw new ValueError(
        `${this.describeSelf()}: give negativeSlope or its old name alpha, not both; ` +
          `received negativeSlope=${describe(negativeSlope)}, alpha=${describe(alpha)}`,
      );
    }
    const slope = negativeSlope ?? alpha ?? 0.3;
    this.negativeSlope = checkNumber(this, negativeSlope === undefined && alpha !== undefined ? 'alpha' : 'negativeSlope', slope, 0);
  }

  override get className(): string {
    return 'LeakyReLU';
  }

  call(x: Tensor, _args: CallArgs): Tensor {
    return activationOp(x, ActId.LeakyRelu, this.negativeSlope);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), negative_slope: this.negativeSlope };
  }
}

/** Options of {@link PReLU}. */
export interface PReLUArgs extends LayerArgs {
  /** Initial slopes (default 'zeros', as Keras: PReLU starts as ReLU). Keras: `alpha_initializer`. */
  alphaInitializer?: InitializerId | Initializer | SerializedInitializer;
  /** Penalty on the slopes added to the loss (default none). Keras: `alpha_regularizer`. */
  alphaRegularizer?: RegularizerIdentifier | null;
  /** Projection applied to the slopes after each optimizer step (default none). Keras: `alpha_constraint`. */
  alphaConstraint?: ConstraintIdentifier | null;
  /**
   * Input axes (1-based: axis 0 is the batch) along which one slope is shared, e.g. [1, 2] for
   * [batch, height, width, channels] gives one slope per channel. Default none: one slope per input
   * element. Keras: `shared_axes`.
   */
  sharedAxes?: number | readonly number[] | null;
}

/**
 * Parametric ReLU (He et al. 2015): y = x > 0 ? x : alpha * x with alpha learned. alpha has the
 * input's shape without the batch axis, with each shared axis collapsed to 1; for rank-2 inputs
 * that is one slope per unit. Keras: `keras.layers.PReLU`.
 */
export class PReLU extends ActivationLayer {
  /** Initial slopes (default 'zeros', as Keras: PReLU starts as ReLU). Keras: `alpha_initializer`. */
  readonly alphaInitializer: Initializer;
  /** Penalty on the slopes, or null (default). Keras: `alpha_regularizer`. */
  readonly alphaRegularizer: Regularizer | null;
  /** Constraint on the slopes, or null (default). Keras: `alpha_constraint`. */
  readonly alphaConstraint: Constraint | null;
  /** Input axes (1-based: axis 0 is the batch) along which one slope is shared, e.g. [1, 2] for [batch, height, width, channels] gives one slope per channel. Default none: one slope per input element. Keras: `shared_axes`. */
  readonly sharedAxes: number[] | null;
  /** The learned slopes, created by `build` (null before). */
  alpha: Variable | null = null;
  private alphaIndex: Int32Array | null = null;
  private sampleShape: number[] = [];

  constructor(args?: PReLUArgs) {
    const o = optionsOf('PReLU', args);
    const { alphaInitializer, alphaRegularizer, alphaConstraint, sharedAxes, ...base } = o;
    super(base, ['alphaInitializer', 'alphaRegularizer', 'alphaConstraint', 'sharedAxes']);
    this.alphaInitializer = getInitializer(alphaInitializer ?? 'zeros', `${this.describeSelf()} alphaInitializer`);
    this.alphaRegularizer = getRegularizer(alphaRegularizer, `${this.describeSelf()} alphaRegularizer`);
    this.alphaConstraint = getConstraint(alphaConstraint, `${this.describeSelf()} alphaConstraint`);
    if (sharedAxes === undefined || sharedAxes === null) {
      this.sharedAxes = null;
    } else {
      const axes = typeof sharedAxes === 'number' ? [sharedAxes] : Array.isArray(sharedAxes) ? [...sharedAxes] : null;
      if (!axes || axes.some((a) => !Number.isInteger(a) || a < 1)) {
        throw new ValueError(
          `${this.describeSelf()}: sharedAxes must be a positive integer or a list of them (axis 0 is the batch), ` +
            `received sharedAxes=${describe(sharedAxes)}`,
        );
      }
      this.sharedAxes = axes;
    }
  }

  override get className(): string {
    return 'PReLU';
  }

  override build(inputShape: SymbolicShape): void {
    const rest = inputShape.slice(1);
    if (inputShape.length < 2 || rest.some((d) => typeof d !== 'number')) {
      throw new ShapeError(
        `${this.describeSelf()}: expected input of rank >= 2 with known non-batch dimensions, ` +
          `received shape [${inputShape.map(String)}]`,
      );
    }
    const sample = rest as number[];
    const paramShape = [...sample];
    for (const a of this.sharedAxes ?? []) {
      if (a >= inputShape.length) {
        throw new ShapeError(
          `${this.describeSelf()}: sharedAxes contains ${a}, but the input shape [${inputShape.map(String)}] ` +
            `has axes 1..${inputShape.length - 1}`,
        );
      }
      paramShape[a - 1] = 1;
    }
    this.sampleShape = sample;
    this.alpha = this.addWeight('alpha', paramShape, this.alphaInitializer, {
      regularizer: this.alphaRegularizer,
      constraint: this.alphaConstraint,
    });
    this.alphaIndex = this.sharedAxes && this.sharedAxes.length > 0 ? broadcastIndex(sample, paramShape) : null;
    this.built = true;
  }

  call(x: Tensor, _args: CallArgs): Tensor {
    this.assertBuilt();
    const s = this.sampleShape;
    if (x.rank !== s.length + 1 || s.some((d, i) => x.shape[i + 1] !== d)) {
      throw new ShapeError(
        `${this.describeSelf()}: expected input shape [batch, ${s.join(', ')}], received shape [${x.shape.join(', ')}]`,
      );
    }
    return preluOp(x, this.alpha!, this.alphaIndex);
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      alpha_initializer: serializeInitializer(this.alphaInitializer),
      alpha_regularizer: serializeRegularizer(this.alphaRegularizer),
      alpha_constraint: serializeConstraint(this.alphaConstraint),
      shared_axes: this.sharedAxes ? [...this.sharedAxes] : null,
    };
  }
}

/** For each element of a `sample`-shaped array, the flat index of its entry in a broadcast `param`. */
function broadcastIndex(sample: readonly number[], param: readonly number[]): Int32Array {
  const size = sample.reduce((a, b) => a * b, 1);
  const idx = new Int32Array(size);
  const rank = sample.length;
  const pstrides = new Array<number>(rank);
  let ps = 1;
  for (let d = rank - 1; d >= 0; d--) {
    pstrides[d] = param[d] === 1 ? 0 : ps;
    ps *= param[d]!;
  }
  const counter = new Array<number>(rank).fill(0);
  for (let i = 0; i < size; i++) {
    let p = 0;
    for (let d = 0; d < rank; d++) p += counter[d]! * pstrides[d]!;
    idx[i] = p;
    for (let d = rank - 1; d >= 0; d--) {
      if (++counter[d]! < sample[d]!) break;
      counter[d] = 0;
    }
  }
  return idx;
}

/** Options of {@link RReLU} (PyTorch's names; Keras has no RReLU). */
export interface RReLUArgs extends LayerArgs {
  /** Lower bound of the random slope (default 1/8, PyTorch's). */
  lower?: number;
  /** Upper bound of the random slope (default 1/3, PyTorch's). */
  upper?: number;
  /** Seed of this layer's slope draws (default: the global generator, see setSeed). */
  seed?: number;
}

/**
 * Randomized leaky ReLU (Xu et al. 2015). In training each element with x <= 0 gets its own slope
 * drawn from U(lower, upper) (fresh every call); at inference the slope is fixed to
 * (lower + upper) / 2. Keras has no RReLU: names, defaults and semantics are PyTorch's
 * (torch.nn.RReLU, lower = 1/8, upper = 1/3).
 */
export class RReLU extends ActivationLayer {
  /** Lower bound of the random slope (default 1/8, PyTorch's). */
  readonly lower: number;
  /** Upper bound of the random slope (default 1/3, PyTorch's). */
  readonly upper: number;
  /** Seed of this layer's slope draws (default: the global generator, see setSeed). */
  readonly seed: number | undefined;
  private readonly rng: Random;

  constructor(args?: RReLUArgs) {
    const o = optionsOf('RReLU', args);
    const { lower, upper, seed, ...base } = o;
    super(base, ['lower', 'upper', 'seed']);
    this.lower = checkNumber(this, 'lower', lower ?? 1 / 8);
    this.upper = checkNumber(this, 'upper', upper ?? 1 / 3);
    if (this.lower > this.upper) {
      throw new ValueError(
        `${this.describeSelf()}: lower must not exceed upper, received lower=${this.lower}, upper=${this.upper}`,
      );
    }
    if (seed !== undefined) checkSeed(this.describeSelf(), seed);
    this.seed = seed;
    this.rng = rngFor(seed);
  }

  override get className(): string {
    return 'RReLU';
  }

  /** The slope used at inference. */
  get inferenceSlope(): number {
    return (this.lower + this.upper) / 2;
  }

  call(x: Tensor, args: CallArgs): Tensor {
    if (args.training) return rreluTrain(x, this.lower, this.upper, this.rng.nextUint32());
    return activationOp(x, ActId.LeakyRelu, this.inferenceSlope);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), lower: this.lower, upper: this.upper, seed: this.seed ?? null };
  }
}

/** Options of {@link ELU}. */
export interface ELUArgs extends LayerArgs {
  /** Scale of the negative part (default 1). Keras: `alpha`. */
  alpha?: number;
}

/** y = x > 0 ? x : alpha * (exp(x) - 1) (Clevert et al. 2015). Keras: `keras.layers.ELU`. */
export class ELU extends ActivationLayer {
  /** Scale of the negative part (default 1). Keras: `alpha`. */
  readonly alpha: number;

  constructor(args?: ELUArgs) {
    const o = optionsOf('ELU', args);
    const { alpha, ...base } = o;
    super(base, ['alpha']);
    this.alpha = checkNumber(this, 'alpha', alpha ?? 1);
  }

  override get className(): string {
    return 'ELU';
  }

  call(x: Tensor, _args: CallArgs): Tensor {
    return activationOp(x, ActId.Elu, this.alpha);
  }

  override getConfig(): Record<string, unknown> {
    // Keras's ELU leaves alpha out of its config (so it does not round-trip); we keep it.
    return { ...super.getConfig(), alpha: this.alpha };
  }
}

/** Options of {@link ReLU}. */
export interface ReLUArgs extends LayerArgs {
  /** Upper bound of the output, >= 0 (default none). Keras: `max_value`. */
  maxValue?: number | null;
  /** Slope below the threshold, >= 0 (default 0). Keras: `negative_slope`. */
  negativeSlope?: number;
  /** Values above it pass, >= 0 (default 0). Keras: `threshold`. */
  threshold?: number;
}

/**
 * Keras's general ReLU: y = min(x, maxValue) for x > threshold, else negativeSlope * (x - threshold).
 * Keras: `keras.layers.ReLU`.
 */
export class ReLU extends ActivationLayer {
  /** Upper bound of the output, >= 0 (default none). Keras: `max_value`. */
  readonly maxValue: number | null;
  /** Slope below the threshold, >= 0 (default 0). Keras: `negative_slope`. */
  readonly negativeSlope: number;
  /** Values above it pass, >= 0 (default 0). Keras: `threshold`. */
  readonly threshold: number;

  constructor(args?: ReLUArgs) {
    const o = optionsOf('ReLU', args);
    const { maxValue, negativeSlope, threshold, ...base } = o;
    super(base, ['maxValue', 'negativeSlope', 'threshold']);
    this.maxValue = maxValue === undefined || maxValue === null ? null : checkNumber(this, 'maxValue', maxValue, 0);
    this.negativeSlope = checkNumber(this, 'negativeSlope', negativeSlope ?? 0, 0);
    this.threshold = checkNumber(this, 'threshold', threshold ?? 0, 0);
  }

  override get className(): string {
    return 'ReLU';
  }

  call(x: Tensor, _args: CallArgs): Tensor {
    const { maxValue, negativeSlope, threshold } = this;
    // The common cases run the fused activation kernels.
    if (threshold === 0 && maxValue === null) {
      return negativeSlope === 0 ? activationOp(x, ActId.Relu) : activationOp(x, ActId.LeakyRelu, negativeSlope);
    }
    if (threshold === 0 && negativeSlope === 0 && maxValue === 6) return activationOp(x, ActId.Relu6);
    return reluGeneral(x, { negativeSlope, threshold, maxValue });
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), max_value: this.maxValue, negative_slope: this.negativeSlope, threshold: this.threshold };
  }
}

/** Options of {@link Softmax}. */
export interface SoftmaxArgs extends LayerArgs {
  /** Axis (or contiguous axes) to normalize over; negative counts from the end (default -1). Keras: `axis`. */
  axis?: number | readonly number[];
}

/**
 * Softmax over any axis, or over several contiguous axes at once. Over the last axis it is the same
 * op as activation 'softmax', so a following cross-entropy still uses the fused, stable path.
 * Keras: `keras.layers.Softmax`.
 */
export class Softmax extends ActivationLayer {
  /** Axis (or contiguous axes) to normalize over; negative counts from the end (default -1). Keras: `axis`. */
  readonly axis: number | number[];

  constructor(args?: SoftmaxArgs) {
    const o = optionsOf('Softmax', args);
    const { axis, ...base } = o;
    super(base, ['axis']);
    const a = axis ?? -1;
    const ok = Number.isInteger(a) || (Array.isArray(a) && a.length > 0 && a.every((v) => Number.isInteger(v)));
    if (!ok) {
      throw new ValueError(`${this.describeSelf()}: axis must be an integer or a non-empty list of integers, received axis=${describe(axis)}`);
    }
    this.axis = typeof a === 'number' ? a : [...a];
  }

  override get className(): string {
    return 'Softmax';
  }

  call(x: Tensor, _args: CallArgs): Tensor {
    const rank = x.rank;
    const axes = (typeof this.axis === 'number' ? [this.axis] : this.axis).map((a) => (a < 0 ? a + rank : a));
    axes.sort((p, q) => p - q);
    if (axes.some((a, i) => a < 0 || a >= rank || (i > 0 && a !== axes[i - 1]! + 1))) {
      throw new ShapeError(
        `${this.describeSelf()}: axis=${describe(this.axis)} must name distinct contiguous axes of the input, ` +
          `received shape [${x.shape.join(', ')}] (rank ${rank})`,
      );
    }
    const first = axes[0]!, last = axes[axes.length - 1]!;
    if (last === rank - 1 && first === last) return softmaxOp(x);
    if (first === last) return softmaxAlong(x, first);
    // Several contiguous axes: view them as one, normalize, view back.
    const merged = [...x.shape.slice(0, first), x.shape.slice(first, last + 1).reduce((p, q) => p * q, 1), ...x.shape.slice(last + 1)];
    return reshape(softmaxAlong(reshape(x, merged), first), x.shape);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), axis: Array.isArray(this.axis) ? [...this.axis] : this.axis };
  }
}

// Factories in the style of tfjs-layers: layers.leakyRelu({ negativeSlope: 0.1 }).
/** Creates a new {@link LeakyReLU} (same as `new LeakyReLU(...)`). Keras: `keras.layers.LeakyReLU`. */
export const leakyRelu = (args?: LeakyReLUArgs): LeakyReLU => new LeakyReLU(args);
/** Creates a new {@link PReLU} (same as `new PReLU(...)`). Keras: `keras.layers.PReLU`. */
export const prelu = (args?: PReLUArgs): PReLU => new PReLU(args);
/** Creates a new {@link RReLU} (same as `new RReLU(...)`). */
export const rrelu = (args?: RReLUArgs): RReLU => new RReLU(args);
/** Creates a new {@link ELU} (same as `new ELU(...)`). Keras: `keras.layers.ELU`. */
export const elu = (args?: ELUArgs): ELU => new ELU(args);
/** Creates a new {@link ReLU} (same as `new ReLU(...)`). Keras: `keras.layers.ReLU`. */
export const relu = (args?: ReLUArgs): ReLU => new ReLU(args);
/** Creates a new {@link Softmax} (same as `new Softmax(...)`). Keras: `keras.layers.Softmax`. */
export const softmax = (args?: SoftmaxArgs): Softmax => new Softmax(args);
