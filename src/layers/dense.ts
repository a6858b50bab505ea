import { Tensor } from '../tensor';
import { Layer, LayerArgs, SymbolicShape, Variable, CallArgs } from './layer';
import { Initializer, InitializerId, SerializedInitializer, getInitializer } from '../initializers';
import { ActivationId, ActivationSpec, getActivation, apply } from '../activations';
import { Regularizer, RegularizerIdentifier, getRegularizer, serializeRegularizer } from '../regularizers';
import { Constraint, ConstraintIdentifier, getConstraint, serializeConstraint } from '../constraints';
import { dense as denseOp } from '../ops/linalg';
import { mulScalar } from '../ops/arithmetic';
import { onScopeExit } from '../autograd/engine';
import { ActId } from '../backend/native';
import { ShapeError, ValueError, describe } from '../errors';

/** Options of {@link Dense}; names mirror Keras's arguments in camelCase (`use_bias` is `useBias`, ...). */
export interface DenseArgs extends LayerArgs {
  /** Output dimension (positive integer). Keras: `units`. */
  units: number;
  /** Activation applied to the output (default: none, i.e. linear). Keras: `activation`. */
  activation?: ActivationId | ActivationSpec | null;
  /** Whether to add a bias (default true). Keras: `use_bias`. */
  useBias?: boolean;
  /** Initializer of the kernel. Default 'glorotUniform', as Keras. Keras: `kernel_initializer`. */
  kernelInitializer?: InitializerId | Initializer | SerializedInitializer;
  /** Initializer of the bias. Default 'zeros'. Keras: `bias_initializer`. */
  biasInitializer?: InitializerId | Initializer | SerializedInitializer;
  /** Penalty on the kernel added to the loss, e.g. 'l2' or regularizers.l2(1e-4) (default none). Keras: `kernel_regularizer`. */
  kernelRegularizer?: RegularizerIdentifier | null;
  /** Penalty on the bias (default none). Keras: `bias_regularizer`. */
  biasRegularizer?: RegularizerIdentifier | null;
  /**
   * Penalty on the layer's output, divided by the batch size as Keras 3 does (default none). Added
   * on every call, as Keras 3 does: fit's and evaluate()'s losses both include it.
   * Keras: `activity_regularizer`.
   */
  activityRegularizer?: RegularizerIdentifier | null;
  /** Projection applied to the kernel after each optimizer step, e.g. constraints.maxNorm() (default none). Keras: `kernel_constraint`. */
  kernelConstraint?: ConstraintIdentifier | null;
  /** Projection applied to the bias after each step (default none). Keras: `bias_constraint`. */
  biasConstraint?: ConstraintIdentifier | null;
  /** Input dimension, for the first layer: same as inputShape: [inputDim] (default none). Keras: `input_dim`. */
  inputDim?: number;
}

/** Dense's own option names (inputDim is taken out before the base class checks the rest). */
const DENSE_OPTIONS = [
  'units', 'activation', 'useBias', 'kernelInitializer', 'biasInitializer', 'kernelRegularizer', 'biasRegularizer',
  'activityRegularizer', 'kernelConstraint', 'biasConstraint', 'inputDim',
];

/**
 * Densely-connected layer: output = activation(input · kernel + bias), kernel of shape
 * [inputDim, units]. Element-wise activations run inside the same native pass; softmax follows it.
 * Keras: `keras.layers.Dense`.
 */
export class Dense extends Layer {
  /** Output dimension (positive integer). Keras: `units`. */
  readonly units: number;
  /** Activation applied to the output (default: none, i.e. linear). Keras: `activation`. */
  readonly activation: ActivationSpec;
  /** Whether to add a bias (default true). Keras: `use_bias`. */
  readonly useBias: boolean;
  /** Initializer of the kernel. Default 'glorotUniform', as Keras. Keras: `kernel_initializer`. */
  readonly kernelInitializer: Initializer;
  /** Initializer of the bias. Default 'zeros'. Keras: `bias_initializer`. */
  readonly biasInitializer: Initializer;
  /** Penalty on the kernel added to the loss, e.g. 'l2' or regularizers.l2(1e-4) (default none). Keras: `kernel_regularizer`. */
  readonly kernelRegularizer: Regularizer | null;
  /** Penalty on the bias (default none). Keras: `bias_regularizer`. */
  readonly biasRegularizer: Regularizer | null;
  /** Penalty on the layer's output, divided by the batch size as Keras 3 does (default none). Added on every call, as Keras 3's Layer.__call__ does: fit's and evaluate()'s losses both include it. Keras: `activity_regularizer`. */
  readonly activityRegularizer: Regularizer | null;
  /** Projection applied to the kernel after each optimizer step, e.g. constraints.maxNorm() (default none). Keras: `kernel_constraint`. */
  readonly kernelConstraint: Constraint | null;
  /** Projection applied to the bias after each step (default none). Keras: `bias_constraint`. */
  readonly biasConstraint: Constraint | null;
  /** Weight matrix, shape [inputDim, units]; created by `build` (null before). */
  kernel: Variable | null = null;
  /** Bias vector, shape [units]; null before `build` or when `useBias` is false. */
  bias: Variable | null = null;

  constructor(args: DenseArgs) {
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`Dense: expected an options object like { units: 10 }, received ${describe(args)}`);
    }
    const { inputDim, ...rest } = args;
    if (inputDim !== undefined && (!Number.isInteger(inputDim) || inputDim <= 0)) {
      throw new ValueError(`Dense: inputDim must be a positive integer, received ${describe(inputDim)}`);
    }
    super(inputDim !== undefined && rest.inputShape === undefined ? { ...rest, inputShape: [inputDim] } : rest, DENSE_OPTIONS);
    if (!Number.isInteger(args.units) || args.units <= 0) {
      throw new ValueError(`${this.describeSelf()}: units must be a positive integer, received units=${describe(args.units)}`);
    }
    if (args.useBias !== undefined && typeof args.useBias !== 'boolean') {
      throw new ValueError(`${this.describeSelf()}: useBias must be a boolean, received useBias=${describe(args.useBias)}`);
    }
    this.units = args.units;
    this.activation = getActivation(args.activation, `${this.describeSelf()} activation`);
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = getInitializer(args.kernelInitializer ?? 'glorotUniform', `${this.describeSelf()} kernelInitializer`);
    this.biasInitializer = getInitializer(args.biasInitializer ?? 'zeros', `${this.describeSelf()} biasInitializer`);
    this.kernelRegularizer = getRegularizer(args.kernelRegularizer, `${this.describeSelf()} kernelRegularizer`);
    this.biasRegularizer = getRegularizer(args.biasRegularizer, `${this.describeSelf()} biasRegularizer`);
    this.activityRegularizer = getRegularizer(args.activityRegularizer, `${this.describeSelf()} activityRegularizer`);
    this.kernelConstraint = getConstraint(args.kernelConstraint, `${this.describeSelf()} kernelConstraint`);
    this.biasConstraint = getConstraint(args.biasConstraint, `${this.describeSelf()} biasConstraint`);
  }

  override get className(): string {
    return 'Dense';
  }

  override build(inputShape: SymbolicShape): void {
    const inputDim = inputShape[inputShape.length - 1];
    if (inputShape.length < 2 || typeof inputDim !== 'number') {
      throw new ShapeError(
        `${this.describeSelf()}: expected input of rank >= 2 with a known last dimension, received shape [${inputShape.map(String)}]`,
      );
    }
    this.kernel = this.addWeight('kernel', [inputDim, this.units], this.kernelInitializer, {
      regularizer: this.kernelRegularizer,
      constraint: this.kernelConstraint,
    });
    if (this.useBias) {
      this.bias = this.addWeight('bias', [this.units], this.biasInitializer, {
        regularizer: this.biasRegularizer,
        constraint: this.biasConstraint,
      });
    }
    this.built = true;
  }

  call(x: Tensor, _args: CallArgs): Tensor {
    const y = this.forward(x);
    // Keras 3 (Layer.__call__): the activity penalty of an output, divided by its batch size, on
    // every call (training or not: evaluate's loss includes it too). Made in a scope, it is dropped
    // when the scope ends, with the buffers it points into.
    if (this.activityRegularizer) {
      const batch = y.shape[0] ?? 1;
      this.activityLosses.push(mulScalar(this.activityRegularizer.call(y), batch > 0 ? 1 / batch : 0));
      onScopeExit(() => (this.activityLosses.length = 0));
    }
    return y;
  }

  private forward(x: Tensor): Tensor {
    this.assertBuilt();
    const kernel = this.kernel!;
    const inputDim = kernel.shape[0];
    if (x.rank < 2 || x.shape[x.rank - 1] !== inputDim) {
      throw new ShapeError(
        `${this.describeSelf()}: expected input with last dimension ${inputDim}, received shape [${x.shape.join(', ')}]`,
      );
    }
    // Element-wise activations run inside the dense op; softmax and sigmoid run as their own op so
    // that cross-entropy can find their logits.
    const fused = this.activation.id !== null && this.activation.id !== ActId.Sigmoid;
    const y = denseOp(x, kernel, this.bias, fused ? this.activation.id! : ActId.Linear, this.activation.alpha);
    if (fused) return y;
    return apply(this.activation, y);
  }

  /** The kernel and bias: the dense op's backward pass can apply a plain SGD step to them itself. */
  override fusableWeights(): Variable[] {
    return this.withoutRegularizer([this.kernel, this.bias]);
  }

  computeOutputShape(inputShape: SymbolicShape): SymbolicShape {
    return [...inputShape.slice(0, -1), this.units];
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      units: this.units,
      activation: this.activation.name,
      use_bias: this.useBias,
      kernel_initializer: { class_name: this.kernelInitializer.className, config: this.kernelInitializer.getConfig() },
      bias_initializer: { class_name: this.biasInitializer.className, config: this.biasInitializer.getConfig() },
      kernel_regularizer: serializeRegularizer(this.kernelRegularizer),
      bias_regularizer: serializeRegularizer(this.biasRegularizer),
      activity_regularizer: serializeRegularizer(this.activityRegularizer),
      kernel_constraint: serializeConstraint(this.kernelConstraint),
      bias_constraint: serializeConstraint(this.biasConstraint),
    };
  }
}
