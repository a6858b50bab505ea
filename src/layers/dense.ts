import { Tensor } from '../tensor';
import { Layer, LayerArgs, SymbolicShape, Variable, CallArgs } from './layer';
import { Initializer, InitializerId, getInitializer } from '../initializers';
import { ActivationId, ActivationSpec, getActivation, apply } from '../activations';
import { dense as denseOp } from '../ops/linalg';
import { ActId } from '../backend/native';
import { ShapeError, ValueError, describe } from '../errors';

export interface DenseArgs extends LayerArgs {
  /** Output dimension (positive integer). */
  units: number;
  /** Activation applied to the output (default: none, i.e. linear). */
  activation?: ActivationId | null;
  /** Whether to add a bias (default true). */
  useBias?: boolean;
  /** Default 'glorotUniform', as Keras. */
  kernelInitializer?: InitializerId | Initializer;
  /** Default 'zeros'. */
  biasInitializer?: InitializerId | Initializer;
  /** Input dimension, for the first layer (Keras's input_dim): same as inputShape: [inputDim]. */
  inputDim?: number;
}

/**
 * Densely-connected layer: output = activation(input · kernel + bias), kernel of shape
 * [inputDim, units]. Element-wise activations run inside the same native pass; softmax follows it.
 */
export class Dense extends Layer {
  readonly units: number;
  readonly activation: ActivationSpec;
  readonly useBias: boolean;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  kernel: Variable | null = null;
  bias: Variable | null = null;

  constructor(args: DenseArgs) {
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`Dense: expected an options object like { units: 10 }, received ${describe(args)}`);
    }
    const { inputDim, ...rest } = args;
    if (inputDim !== undefined && (!Number.isInteger(inputDim) || inputDim <= 0)) {
      throw new ValueError(`Dense: inputDim must be a positive integer, received ${describe(inputDim)}`);
    }
    super(inputDim !== undefined && rest.inputShape === undefined ? { ...rest, inputShape: [inputDim] } : rest);
    if (!Number.isInteger(args.units) || args.units <= 0) {
      throw new ValueError(`${this.describeSelf()}: units must be a positive integer, received units=${describe(args.units)}`);
    }
    this.units = args.units;
    this.activation = getActivation(args.activation, `${this.describeSelf()} activation`);
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = getInitializer(args.kernelInitializer ?? 'glorotUniform', `${this.describeSelf()} kernelInitializer`);
    this.biasInitializer = getInitializer(args.biasInitializer ?? 'zeros', `${this.describeSelf()} biasInitializer`);
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
    this.kernel = this.addWeight('kernel', [inputDim, this.units], this.kernelInitializer);
    if (this.useBias) this.bias = this.addWeight('bias', [this.units], this.biasInitializer);
    this.built = true;
  }

  call(x: Tensor, _args: CallArgs): Tensor {
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
    };
  }
}
