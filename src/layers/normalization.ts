/**
 * BatchNormalization (Ioffe & Szegedy 2015) with Keras 3's semantics
 * (keras/src/layers/normalization/batch_normalization.py):
 *
 *   y = gamma * (x - mean) / sqrt(var + epsilon) + beta        per feature along `axis`
 *
 * Training (`training` true AND `layer.trainable`): mean and var are the batch mean and the biased
 * batch variance over every other axis, and the moving statistics are updated in the same call with
 *   moving_mean     = moving_mean * momentum     + mean * (1 - momentum)
 *   moving_variance = moving_variance * momentum + var  * (1 - momentum)   (biased var, as Keras)
 * Otherwise the moving statistics are used. A frozen layer (`trainable = false`) therefore runs in
 * inference mode even inside `fit`, as in Keras 3.
 *
 * Differences from Keras 3: `axis` may also be a list of axes (as tf.keras 2 allowed); the weights
 * then have the shape of those axes' dimensions, in increasing axis order.
 */
import { Tensor, sizeOf } from '../tensor';
import { Layer, LayerArgs, SymbolicShape, Variable, CallArgs, formatShape } from './layer';
import { Initializer, InitializerId, SerializedInitializer, getInitializer, serializeInitializer } from '../initializers';
import { Regularizer, RegularizerIdentifier, getRegularizer, serializeRegularizer } from '../regularizers';
import { Constraint, ConstraintIdentifier, getConstraint, serializeConstraint } from '../constraints';
import { registerLayer, layerArgsFromConfig } from './serialization';
import { native } from '../backend/native';
import { output, needsGrad, record, gradOf, pool } from '../autograd/engine';
import { ShapeError, ValueError, describe } from '../errors';

/** Options of {@link BatchNormalization}; names mirror Keras's arguments in camelCase (`beta_initializer` is `betaInitializer`, ...). */
export interface BatchNormalizationArgs extends LayerArgs {
  /** The feature axis (or axes) to normalise; negative counts from the end. Default -1. Keras: `axis`. */
  axis?: number | readonly number[];
  /** Momentum of the moving averages, in [0, 1]. Default 0.99. Keras: `momentum`. */
  momentum?: number;
  /** Added to the variance before the square root, > 0. Default 1e-3. Keras: `epsilon`. */
  epsilon?: number;
  /** Add the learned offset beta (default true). Keras: `center`. */
  center?: boolean;
  /** Multiply by the learned scale gamma (default true). Keras: `scale`. */
  scale?: boolean;
  /** Initializer of beta. Default 'zeros'. Keras: `beta_initializer`. */
  betaInitializer?: InitializerId | Initializer | SerializedInitializer;
  /** Initializer of gamma. Default 'ones'. Keras: `gamma_initializer`. */
  gammaInitializer?: InitializerId | Initializer | SerializedInitializer;
  /** Initializer of the moving mean. Default 'zeros'. Keras: `moving_mean_initializer`. */
  movingMeanInitializer?: InitializerId | Initializer | SerializedInitializer;
  /** Initializer of the moving variance. Default 'ones'. Keras: `moving_variance_initializer`. */
  movingVarianceInitializer?: InitializerId | Initializer | SerializedInitializer;
  /** Penalty on beta added to the loss, e.g. 'l2' or regularizers.l2(1e-4) (default none). Keras: `beta_regularizer`. */
  betaRegularizer?: RegularizerIdentifier | null;
  /** Penalty on gamma (default none). Keras: `gamma_regularizer`. */
  gammaRegularizer?: RegularizerIdentifier | null;
  /** Projection applied to beta after each optimizer step (default none). Keras: `beta_constraint`. */
  betaConstraint?: ConstraintIdentifier | null;
  /** Projection applied to gamma after each optimizer step, e.g. 'nonNeg' (default none). Keras: `gamma_constraint`. */
  gammaConstraint?: ConstraintIdentifier | null;
}

/** How an input is laid out for the kernels: [outer, C, inner], after an optional permutation. */
interface Plan {
  /** Sorted, non-negative feature axes. */
  axes: number[];
  /** null when the feature axes are contiguous (a zero-copy view suffices). */
  perm: number[] | null;
}

/**
 * Normalises each feature along `axis`: y = gamma * (x - mean) / sqrt(var + epsilon) + beta. In
 * training (`training` true and the layer trainable) mean and var are the batch mean and biased
 * variance, and they update the moving averages; otherwise the moving averages are used, so a frozen
 * layer runs in inference mode even inside `fit`, as in Keras 3. Unlike Keras 3, `axis` may be a
 * list of axes. Keras: `keras.layers.BatchNormalization`.
 */
export class BatchNormalization extends Layer {
  /** The feature axis (or axes) to normalise; negative counts from the end. Default -1. Keras: `axis`. */
  readonly axis: number | readonly number[];
  /** Momentum of the moving averages, in [0, 1]. Default 0.99. Keras: `momentum`. */
  readonly momentum: number;
  /** Added to the variance before the square root, > 0. Default 1e-3. Keras: `epsilon`. */
  readonly epsilon: number;
  /** Add the learned offset beta (default true). Keras: `center`. */
  readonly center: boolean;
  /** Multiply by the learned scale gamma (default true). Keras: `scale`. */
  readonly scale: boolean;
  /** Initializer of beta. Default 'zeros'. Keras: `beta_initializer`. */
  readonly betaInitializer: Initializer;
  /** Initializer of gamma. Default 'ones'. Keras: `gamma_initializer`. */
  readonly gammaInitializer: Initializer;
  /** Initializer of the moving mean. Default 'zeros'. Keras: `moving_mean_initializer`. */
  readonly movingMeanInitializer: Initializer;
  /** Initializer of the moving variance. Default 'ones'. Keras: `moving_variance_initializer`. */
  readonly movingVarianceInitializer: Initializer;
  /** Penalty on beta added to the loss, e.g. 'l2' or regularizers.l2(1e-4) (default none). Keras: `beta_regularizer`. */
  readonly betaRegularizer: Regularizer | null;
  /** Penalty on gamma (default none). Keras: `gamma_regularizer`. */
  readonly gammaRegularizer: Regularizer | null;
  /** Projection applied to beta after each optimizer step (default none). Keras: `beta_constraint`. */
  readonly betaConstraint: Constraint | null;
  /** Projection applied to gamma after each optimizer step, e.g. 'nonNeg' (default none). Keras: `gamma_constraint`. */
  readonly gammaConstraint: Constraint | null;
  /** Learned scale per feature; null before `build` or when `scale` is false. */
  gamma: Variable | null = null;
  /** Learned offset per feature; null before `build` or when `center` is false. */
  beta: Variable | null = null;
  /** Moving average of the batch means (non-trainable), used at inference. */
  movingMean: Variable | null = null;
  /** Moving average of the batch variances (non-trainable), used at inference. */
  movingVariance: Variable | null = null;
  private plan: Plan | null = null;
  private inputRank = 0;

  constructor(args: BatchNormalizationArgs = {}) {
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`BatchNormalization: expected an options object, received ${describe(args)}`);
    }
    super(args, [
      'axis', 'momentum', 'epsilon', 'center', 'scale', 'betaInitializer', 'gammaInitializer', 'movingMeanInitializer',
      'movingVarianceInitializer', 'betaRegularizer', 'gammaRegularizer', 'betaConstraint', 'gammaConstraint',
    ]);
    const axis = args.axis ?? -1;
    const axes = typeof axis === 'number' ? [axis] : axis;
    if (!Array.isArray(axes) || axes.length === 0 || axes.some((a) => !Number.isInteger(a))) {
      throw new ValueError(
        `${this.describeSelf()}: axis must be an integer or a non-empty array of integers, received axis=${describe(axis)}`,
      );
    }
    this.axis = typeof axis === 'number' ? axis : [...axis];
    const momentum = args.momentum ?? 0.99;
    if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
      throw new ValueError(`${this.describeSelf()}: momentum must be a number in [0, 1], received momentum=${describe(momentum)}`);
    }
    this.momentum = momentum;
    const epsilon = args.epsilon ?? 1e-3;
    if (typeof epsilon !== 'number' || !(epsilon > 0) || !Number.isFinite(epsilon)) {
      throw new ValueError(`${this.describeSelf()}: epsilon must be a positive finite number, received epsilon=${describe(epsilon)}`);
    }
    this.epsilon = epsilon;
    for (const flag of ['center', 'scale'] as const) {
      const v = args[flag];
      if (v !== undefined && typeof v !== 'boolean') {
        throw new ValueError(`${this.describeSelf()}: ${flag} must be a boolean, received ${flag}=${describe(v)}`);
      }
    }
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
    const where = (o: string) => `${this.describeSelf()} ${o}`;
    this.betaInitializer = getInitializer(args.betaInitializer ?? 'zeros', where('betaInitializer'));
    this.gammaInitializer = getInitializer(args.gammaInitializer ?? 'ones', where('gammaInitializer'));
    this.movingMeanInitializer = getInitializer(args.movingMeanInitializer ?? 'zeros', where('movingMeanInitializer'));
    this.movingVarianceInitializer = getInitializer(args.movingVarianceInitializer ?? 'ones', where('movingVarianceInitializer'));
    this.betaRegularizer = getRegularizer(args.betaRegularizer, where('betaRegularizer'));
    this.gammaRegularizer = getRegularizer(args.gammaRegularizer, where('gammaRegularizer'));
    this.betaConstraint = getConstraint(args.betaConstraint, where('betaConstraint'));
    this.gammaConstraint = getConstraint(args.gammaConstraint, where('gammaConstraint'));
  }

  override get className(): string {
    return 'BatchNormalization';
  }

  override build(inputShape: SymbolicShape): void {
    const rank = inputShape.length;
    const raw = typeof this.axis === 'number' ? [this.axis] : this.axis;
    const axes = raw.map((a) => {
      if (a < -rank || a >= rank) {
        throw new ValueError(
          `${this.describeSelf()}: axis ${a} is out of range for input of rank ${rank} (shape ${formatShape(inputShape)}), ` +
            `received axis=${describe(this.axis)}`,
        );
      }
      return a < 0 ? a + rank : a;
    });
    const sorted = [...new Set(axes)].sort((p, q) => p - q);
    if (sorted.length !== axes.length) {
      throw new ValueError(`${this.describeSelf()}: axis lists the same axis twice, received axis=${describe(this.axis)}`);
    }
    const dims = sorted.map((a) => inputShape[a]);
    if (dims.some((d) => typeof d !== 'number')) {
      throw new ShapeError(
        `${this.describeSelf()}: the normalised axis must have a known size, received axis=${describe(this.axis)} ` +
          `for input shape ${formatShape(inputShape)}`,
      );
    }
    const contiguous = sorted[sorted.length - 1]! - sorted[0]! === sorted.length - 1;
    const rest = [...Array(rank).keys()].filter((a) => !sorted.includes(a));
    this.plan = { axes: sorted, perm: contiguous ? null : [...rest, ...sorted] };
    this.inputRank = rank;
    const shape = dims as number[];
    if (this.scale) {
      this.gamma = this.addWeight('gamma', shape, this.gammaInitializer, {
        regularizer: this.gammaRegularizer,
        constraint: this.gammaConstraint,
      });
    }
    if (this.center) {
      this.beta = this.addWeight('beta', shape, this.betaInitializer, {
        regularizer: this.betaRegularizer,
        constraint: this.betaConstraint,
      });
    }
    this.movingMean = this.addWeight('moving_mean', shape, this.movingMeanInitializer, { trainable: false });
    this.movingVariance = this.addWeight('moving_variance', shape, this.movingVarianceInitializer, { trainable: false });
    this.built = true;
  }

  call(x: Tensor, args: CallArgs): Tensor {
    this.assertBuilt();
    const plan = this.plan!;
    const mm = this.movingMean!;
    if (x.rank !== this.inputRank || plan.axes.some((a, i) => x.shape[a] !== mm.shape[i])) {
      throw new ShapeError(
        `${this.describeSelf()}: expected input of rank ${this.inputRank} with dimension(s) [${mm.shape.join(', ')}] ` +
          `on axis ${describe(this.axis)}, received shape [${x.shape.join(', ')}]`,
      );
    }
    // Keras 3: a frozen BatchNormalization layer runs in inference mode.
    const useBatch = args.training && this.trainable;
    const C = mm.size;
    let mean: Float32Array, variance: Float32Array;
    if (useBatch) {
      mean = pool.acquire(C);
      variance = pool.acquire(C);
    } else {
      // Copies: the backward pass must see the statistics the forward pass used.
      mean = pool.acquire(C);
      mean.set(mm.data);
      variance = pool.acquire(C);
      variance.set(this.movingVariance!.data);
    }
    const y = batchNormalize(x, plan, this.gamma, this.beta, mean, variance, this.epsilon, useBatch);
    if (useBatch && x.size > 0) {
      // An empty batch has no statistics: leave the moving averages alone.
      const m = this.momentum;
      const md = mm.data, vd = this.movingVariance!.data;
      for (let c = 0; c < C; c++) {
        md[c] = md[c]! * m + mean[c]! * (1 - m);
        vd[c] = vd[c]! * m + variance[c]! * (1 - m);
      }
    }
    return y;
  }

  computeOutputShape(inputShape: SymbolicShape): SymbolicShape {
    return inputShape;
  }

  override getConfig(): Record<string, unknown> {
    const init = serializeInitializer;
    return {
      ...super.getConfig(),
      axis: typeof this.axis === 'number' ? this.axis : [...this.axis],
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
      beta_initializer: init(this.betaInitializer),
      gamma_initializer: init(this.gammaInitializer),
      moving_mean_initializer: init(this.movingMeanInitializer),
      moving_variance_initializer: init(this.movingVarianceInitializer),
      beta_regularizer: serializeRegularizer(this.betaRegularizer),
      gamma_regularizer: serializeRegularizer(this.gammaRegularizer),
      beta_constraint: serializeConstraint(this.betaConstraint),
      gamma_constraint: serializeConstraint(this.gammaConstraint),
      synchronized: false,
    };
  }
}

/**
 * The batch-normalisation op with its gradient. `training`: mean and variance are filled with the
 * batch statistics of x (and the gradient flows through them); otherwise they are used as constants.
 */
function batchNormalize(
  x: Tensor, plan: Plan, gamma: Tensor | null, beta: Tensor | null,
  mean: Float32Array, variance: Float32Array, eps: number, training: boolean,
): Tensor {
  const shape = x.shape;
  const { axes, perm } = plan;
  const C = mean.length;
  let outer: number, inner: number;
  let xk = x.data; // x in kernel layout
  if (perm === null) {
    outer = sizeOf(shape.slice(0, axes[0]!));
    inner = sizeOf(shape.slice(axes[axes.length - 1]! + 1));
  } else {
    outer = x.size / C;
    inner = 1;
    xk = pool.acquire(x.size);
    permuteInto(x.data, shape, perm, xk, false);
  }
  const y = output(shape);
  const yk = perm === null ? y.data : pool.acquire(x.size);
  native.batchnormForward(xk, yk, outer, C, inner, gamma?.data ?? null, beta?.data ?? null, mean, variance, eps, training);
  const kshape = perm === null ? shape : perm.map((a) => shape[a]!);
  if (perm !== null) permuteInto(yk, kshape, inversePerm(perm), y.data, false);
  const parents = [x, gamma, beta].filter((t): t is Tensor => t !== null);
  if (!needsGrad(...parents)) return y;
  return record(y, parents, () => {
    const dyk = perm === null ? y.grad! : pool.acquire(x.size);
    if (perm !== null) permuteInto(y.grad!, shape, perm, dyk, false);
    const wantDx = x.requiresGrad;
    // With a permutation, dx is computed in kernel layout, then added back in x's layout.
    const dxk = !wantDx ? null : perm === null ? gradOf(x) : pool.acquire(x.size).fill(0);
    native.batchnormBackward(
      xk, dyk, outer, C, inner, mean, variance, gamma?.data ?? null, eps, training, dxk,
      gamma?.requiresGrad ? gradOf(gamma) : null, beta?.requiresGrad ? gradOf(beta) : null,
    );
    if (dxk && perm !== null) permuteInto(dxk, kshape, inversePerm(perm), gradOf(x), true);
  });
}

function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** dst (shape perm.map(a => shape[a])) = src (shape `shape`) with its axes reordered; or += it. */
function permuteInto(src: Float32Array, shape: readonly number[], perm: readonly number[], dst: Float32Array, accumulate: boolean): void {
  const rank = shape.length;
  const srcStrides = new Array<number>(rank);
  let s = 1;
  for (let a = rank - 1; a >= 0; a--) {
    srcStrides[a] = s;
    s *= shape[a]!;
  }
  const dims = perm.map((a) => shape[a]!);
  const strides = perm.map((a) => srcStrides[a]!);
  const n = dst.length;
  if (n === 0) return;
  const last = rank - 1;
  const lastDim = dims[last]!, lastStride = strides[last]!;
  const idx = new Array<number>(rank).fill(0);
  let base = 0; // source offset of the current row of dst
  for (let i = 0; i < n; i += lastDim) {
    if (accumulate) for (let j = 0; j < lastDim; j++) dst[i + j] += src[base + j * lastStride]!;
    else for (let j = 0; j < lastDim; j++) dst[i + j] = src[base + j * lastStride]!;
    // Advance the odometer over all but the last axis.
    for (let a = last - 1; a >= 0; a--) {
      idx[a] = idx[a]! + 1;
      base += strides[a]!;
      if (idx[a]! < dims[a]!) break;
      base -= strides[a]! * dims[a]!;
      idx[a] = 0;
    }
  }
}

/** config[key] unless it is missing or null. */
function opt<T>(config: Record<string, unknown>, key: string): T | undefined {
  const v = config[key];
  return v === undefined || v === null ? undefined : (v as T);
}

registerLayer('BatchNormalization', (c) =>
  new BatchNormalization({
    ...layerArgsFromConfig(c),
    axis: opt<number | number[]>(c, 'axis'),
    momentum: opt<number>(c, 'momentum'),
    epsilon: opt<number>(c, 'epsilon'),
    center: opt<boolean>(c, 'center'),
    scale: opt<boolean>(c, 'scale'),
    betaInitializer: opt<SerializedInitializer>(c, 'beta_initializer'),
    gammaInitializer: opt<SerializedInitializer>(c, 'gamma_initializer'),
    movingMeanInitializer: opt<SerializedInitializer>(c, 'moving_mean_initializer'),
    movingVarianceInitializer: opt<SerializedInitializer>(c, 'moving_variance_initializer'),
    betaRegularizer: opt<RegularizerIdentifier>(c, 'beta_regularizer'),
    gammaRegularizer: opt<RegularizerIdentifier>(c, 'gamma_regularizer'),
    betaConstraint: opt<ConstraintIdentifier>(c, 'beta_constraint'),
    gammaConstraint: opt<ConstraintIdentifier>(c, 'gamma_constraint'),
  }),
);
