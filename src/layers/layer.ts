/**
 * The Keras layer lifecycle: the constructor validates options and resolves string ids; `build`
 * creates weights through `addWeight` once the input shape is known; `call` is the forward pass
 * (ops record their own gradients); `getConfig` returns what reconstructs the layer.
 */
import { Tensor, Shape, sizeOf } from '../tensor';
import { native } from '../backend/native';
import { Initializer, getInitializer } from '../initializers';
import type { Regularizer } from '../regularizers/regularizer';
import type { Constraint } from '../constraints/constraint';
import { ShapeError, StateError, ValueError, checkOptions, describe } from '../errors';

/** A shape whose first (batch) dimension may be unknown. */
export type SymbolicShape = readonly (number | null)[];

/** Options every layer accepts (Keras's base `Layer` keyword arguments). */
export interface LayerArgs {
  /** Layer name; default is the snake_case class name plus a counter ('dense', 'dense_1', ...). Keras: `name`. */
  name?: string;
  /** Shape of one sample (without the batch axis), for the first layer of a model. Default none. Keras: `input_shape`. */
  inputShape?: readonly number[];
  /** Full input shape including the batch axis (null for any batch size). Default none. Keras: `batch_input_shape`. */
  batchInputShape?: SymbolicShape;
  /** Whether the layer's weights are updated by training (default true). Keras: `trainable`. */
  trainable?: boolean;
}

/** A weight owned by a layer: a tensor plus its name and whether training updates it. */
export class Variable extends Tensor {
  constructor(
    data: Float32Array,
    shape: Shape,
    /** Full weight name, `'<layer>/<weight>'` (e.g. `'dense/kernel'`); keys optimizer state and saved files. */
    readonly name: string,
    /** Whether the optimizer updates this weight (false for e.g. BatchNormalization's moving statistics). */
    public trainable: boolean,
  ) {
    super(data, shape);
    this.requiresGrad = trainable;
  }
  /**
   * The projection applied after each optimizer step (the `constraint` of `addWeight`, e.g. a Dense
   * kernel's `kernelConstraint`), or null. Keras: `Variable.constraint`.
   */
  constraint: Constraint | null = null;
}

/** Arguments of {@link Layer.call}. */
export interface CallArgs {
  /** True inside `fit` (dropout active, batch statistics used); false in `evaluate`/`predict` (Keras's `training` argument). */
  training: boolean;
}

/** Options of {@link Layer.addWeight} (Keras's `add_weight` keyword arguments). */
export interface AddWeightOptions {
  /** Updated by the optimizer (default true). Non-trainable weights (BN moving stats) are not. */
  trainable?: boolean;
  /** Penalty added to the loss (Keras: `regularizer`; default none). */
  regularizer?: Regularizer | null;
  /** Projection applied after each optimizer step (Keras: `constraint`; default none). */
  constraint?: Constraint | null;
}

/** The option names every layer accepts (LayerArgs). */
export const LAYER_OPTIONS: readonly string[] = ['name', 'inputShape', 'batchInputShape', 'trainable'];

const nameCounts = new Map<string, number>();

/** Keras's `utils.naming.to_snake_case`: 'BatchNormalization' -> 'batch_normalization', 'PReLU' -> 'p_re_lu'. */
function snakeCase(s: string): string {
  return s
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Keras-style unique default names: 'dense', 'dense_1', 'dense_2', ... */
export function uniqueName(base: string): string {
  const n = nameCounts.get(base) ?? 0;
  nameCounts.set(base, n + 1);
  return n === 0 ? base : `${base}_${n}`;
}

/** Base class of all layers, with the Keras lifecycle: the constructor validates options, `build(inputShape)` creates the weights through `addWeight`, `call(x, { training })` computes the output, `getConfig()` serializes. Keras: `keras.layers.Layer`. */
export abstract class Layer {
  /** Layer name; default is the snake_case class name plus a counter ('dense', 'dense_1', ...). */
  readonly name: string;
  /** Input shape including batch axis, when given at construction. */
  readonly batchInputShape: SymbolicShape | null;
  /** @internal Backing field of {@link Layer.trainable}. */
  protected _trainable: boolean;
  /** True once `build` created the weights (Keras: `built`). */
  built = false;
  private readonly _weights: Variable[] = [];
  private readonly _regularized: [Variable, Regularizer][] = [];
  private readonly _constrained: [Variable, Constraint][] = [];
  /**
   * Losses a layer adds while it runs in training mode (activity regularization). The model reads
   * them after the forward pass and clears them.
   */
  readonly activityLosses: Tensor[] = [];

  /**
   * `known` lists the subclass's own option names (those it passes on to here); any key that is
   * neither one of them nor a LayerArgs key is rejected, as Keras rejects unknown keyword arguments.
   */
  constructor(args: LayerArgs = {}, known: readonly string[] = []) {
    checkOptions(
      typeof args?.name === 'string' && args.name !== '' ? `${this.className} "${args.name}"` : this.className,
      args,
      [...LAYER_OPTIONS, ...known],
    );
    if (args.name !== undefined && (typeof args.name !== 'string' || args.name === '')) {
      throw new ValueError(`${this.className}: name must be a non-empty string, received ${describe(args.name)}`);
    }
    this.name = args.name ?? uniqueName(snakeCase(this.className));
    if (args.inputShape !== undefined && args.batchInputShape !== undefined) {
      throw new ValueError(`${this.describeSelf()}: give inputShape or batchInputShape, not both`);
    }
    if (args.inputShape !== undefined) {
      checkShapeArg(this, 'inputShape', args.inputShape);
      this.batchInputShape = [null, ...args.inputShape];
    } else if (args.batchInputShape !== undefined) {
      const b = args.batchInputShape as unknown;
      if (!Array.isArray(b) || b.length < 2 || (b[0] !== null && !(Number.isInteger(b[0]) && b[0] > 0))) {
        throw new ValueError(
          `${this.className}: batchInputShape must be [batch or null, ...positive integers], received ${describe(b)}`,
        );
      }
      checkShapeArg(this, 'batchInputShape', b.slice(1) as number[]);
      this.batchInputShape = [...args.batchInputShape];
    } else {
      this.batchInputShape = null;
    }
    if (args.trainable !== undefined && typeof args.trainable !== 'boolean') {
      throw new ValueError(`${this.describeSelf()}: trainable must be a boolean, received trainable=${describe(args.trainable)}`);
    }
    this._trainable = args.trainable ?? true;
  }

  /** Keras class name ('Dense', 'Flatten', ...); subclasses override it. */
  get className(): string {
    return this.constructor.name;
  }

  /** Create the layer's weights for this input shape. Default: no weights. */
  build(inputShape: SymbolicShape): void {
    void inputShape;
    this.built = true;
  }

  /** Forward pass on a batch. */
  abstract call(x: Tensor, args: CallArgs): Tensor;

  /** Output shape for an input shape (batch axis included, may be null). */
  abstract computeOutputShape(inputShape: SymbolicShape): SymbolicShape;

  /** Options that reconstruct this layer (Keras snake_case keys). */
  getConfig(): Record<string, unknown> {
    const config: Record<string, unknown> = { name: this.name, trainable: this.trainable };
    if (this.batchInputShape) config.batch_input_shape = [...this.batchInputShape];
    return config;
  }

  /** Whether training updates this layer's weights (default true). Setting false freezes them (transfer learning) and makes BatchNormalization run in inference mode, as Keras 3. Keras: `trainable`. */
  get trainable(): boolean {
    return this._trainable;
  }

  /** Freeze (`false`) or unfreeze (`true`) the layer's weights; the model re-packs its parameters on the next fit. */
  set trainable(value: boolean) {
    if (typeof value !== 'boolean') {
      throw new ValueError(`${this.describeSelf()}: trainable must be a boolean, received trainable=${describe(value)}`);
    }
    this._trainable = value;
    for (const w of this._weights) w.requiresGrad = value && w.trainable;
  }

  /** All weights, trainable first, in creation order (Keras order). */
  get weights(): Variable[] {
    return [...this.trainableWeights, ...this.nonTrainableWeights];
  }

  /** The weights the optimizer updates: none when the layer is frozen. Keras: `trainable_weights`. */
  get trainableWeights(): Variable[] {
    return this._trainable ? this._weights.filter((w) => w.trainable) : [];
  }

  /** The weights the optimizer leaves alone (e.g. BatchNormalization's moving statistics; all weights when frozen). Keras: `non_trainable_weights`. */
  get nonTrainableWeights(): Variable[] {
    return this._trainable ? this._weights.filter((w) => !w.trainable) : [...this._weights];
  }

  /** Number of scalars in all weights, trainable or not. Keras: `count_params()`. */
  countParams(): number {
    return this._weights.reduce((n, w) => n + w.size, 0);
  }

  /** Copies of the weights' values, in `weights` order. */
  getWeights(): Tensor[] {
    return this.weights.map((w) => new Tensor(Float32Array.from(w.data), w.shape));
  }

  /** Overwrite the weights' values, in `weights` order, checking each shape. */
  setWeights(values: readonly Tensor[]): void {
    const ws = this.weights;
    if (values.length !== ws.length) {
      throw new ShapeError(`${this.describeSelf()}: setWeights expected ${ws.length} arrays, received ${values.length}`);
    }
    ws.forEach((w, i) => {
      const v = values[i];
      if (!(v instanceof Tensor) || !(v.data instanceof Float32Array) || v.data.length !== sizeOf(v.shape)) {
        throw new ValueError(`${this.describeSelf()}: setWeights: entry ${i} (weight "${w.name}") must be a Tensor of shape [${w.shape}], received ${describe(v)}`);
      }
      if (v.shape.length !== w.shape.length || v.shape.some((d, j) => d !== w.shape[j])) {
        throw new ShapeError(
          `${this.describeSelf()}: weight "${w.name}" has shape [${w.shape}], received [${v.shape}]`,
        );
      }
      // A NaN weight hides behind a ReLU (NaN > 0 is false) and trains on silently.
      const bad = native.firstNonFinite(v.data);
      if (bad >= 0) {
        throw new ValueError(`${this.describeSelf()}: setWeights: weight "${w.name}" holds ${v.data[bad]} at index ${bad}; weights must be finite`, 'ERR_NON_FINITE');
      }
    });
    ws.forEach((w, i) => w.data.set(values[i]!.data));
  }

  /** 'Dense "dense_2"', for error messages. */
  describeSelf(): string {
    return `${this.className} "${this.name}"`;
  }

  /** Creates a weight, registers its regularizer and constraint; the only way `build` should create weights. Keras: `add_weight`. */
  protected addWeight(name: string, shape: Shape, initializer: Initializer | string = 'glorotUniform', options: AddWeightOptions = {}): Variable {
    // Keras's add_weight takes an initializer or its string id, glorot_uniform by default.
    if (typeof initializer === 'string') initializer = getInitializer(initializer);
    chargeWeightBudget(this, name, shape);
    const trainable = options.trainable ?? true;
    const v = new Variable(initializer.generate(shape), shape, `${this.name}/${name}`, trainable);
    v.requiresGrad = trainable && this._trainable;
    this._weights.push(v);
    if (options.regularizer) this._regularized.push([v, options.regularizer]);
    if (options.constraint) {
      this._constrained.push([v, options.constraint]);
      v.constraint = options.constraint;
    }
    return v;
  }

  /**
   * @internal The weights this layer's op can update in place during the backward pass when the
   * model fuses a plain SGD step into it (see `withFusedSgd`): none by default. A weight with a
   * regularizer never qualifies, since its penalty's gradient arrives separately.
   */
  fusableWeights(): Variable[] {
    return [];
  }

  /** Those of `vars` that have no regularizer (for `fusableWeights`). */
  protected withoutRegularizer(vars: readonly (Variable | null)[]): Variable[] {
    return vars.filter((v): v is Variable => v !== null && !this._regularized.some(([r]) => r === v));
  }

  /** The weight penalties of this layer as scalar tensors (recorded for autograd). */
  regularizationLosses(): Tensor[] {
    return this._regularized.filter(([v]) => v.requiresGrad).map(([v, r]) => r.call(v));
  }

  /** Whether the layer has a weight constraint (so the model must call applyConstraints after a step). */
  get hasConstraints(): boolean {
    return this._constrained.length > 0;
  }

  /** @internal The constrained weights and their constraints, in the order applyConstraints takes them. */
  get constraintPairs(): readonly (readonly [Variable, Constraint])[] {
    return this._constrained;
  }

  /** Project constrained weights back into their sets; the model calls this after each step. */
  applyConstraints(): void {
    for (const [v, c] of this._constrained) if (v.requiresGrad) c.apply(v);
  }

  /** Throw unless the layer has been built. */
  protected assertBuilt(): void {
    if (!this.built) throw new StateError(`${this.describeSelf()}: used before it was built`);
  }
}

function checkShapeArg(layer: Layer, option: string, dims: readonly unknown[]): void {
  if (!Array.isArray(dims) || dims.some((d) => !Number.isInteger(d) || (d as number) <= 0)) {
    throw new ValueError(
      `${layer.className}: ${option} must be an array of positive integers, received ${describe(dims)}`,
    );
  }
}

/** Format a symbolic shape like Keras: (None, 300). */
export function formatShape(shape: SymbolicShape): string {
  const parts = shape.map((d) => (d === null ? 'None' : String(d)));
  return `(${parts.join(', ')}${parts.length === 1 ? ',' : ''})`;
}

// While a model is rebuilt from a file, weights may only be created up to the number of floats the
// file holds: a hostile topology (Dense with units: 1e9) fails before allocating anything.
let weightBudget: { floats: number; where: string } | null = null;

/** Most floats one weight may hold: 2^31 - 1 (8 GiB), the native kernels' and the tfjs format's index range. */
export const MAX_WEIGHT_FLOATS = 2 ** 31 - 1;

function chargeWeightBudget(layer: Layer, name: string, shape: Shape): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (weightBudget === null) {
    if (!(n <= MAX_WEIGHT_FLOATS)) {
      throw new ShapeError(
        `${layer.describeSelf()}: weight "${name}" of shape [${shape}] would hold ${n} floats, more than ${MAX_WEIGHT_FLOATS} (8 GiB) in one weight`,
      );
    }
    return;
  }
  if (!(n <= weightBudget.floats)) {
    throw new ShapeError(
      `${weightBudget.where}: ${layer.describeSelf()} would create weight "${name}" of shape [${shape}] ` +
        `(${n} floats), more than the ${weightBudget.floats} floats left in the weights file`,
    );
  }
  weightBudget.floats -= n;
}

/** Run fn (which builds layers) allowing at most `floats` weight elements in total. */
export function withWeightBudget<T>(floats: number, where: string, fn: () => T): T {
  const saved = weightBudget;
  weightBudget = { floats, where };
  try {
    return fn();
  } finally {
    weightBudget = saved;
  }
}
