import { Tensor } from '../tensor';
import { Layer, LayerArgs, SymbolicShape, CallArgs } from './layer';
import { ActivationId, ActivationSpec, getActivation, apply } from '../activations';
import { ValueError, describe } from '../errors';

/** Options of {@link Activation}. */
export interface ActivationArgs extends LayerArgs {
  /** Activation to apply, e.g. `'relu'`, `'selu'`, `'softmax'` (required). Keras: `activation`. */
  activation: ActivationId;
}

/** Applies an activation function to its input. Keras: `keras.layers.Activation`. */
export class Activation extends Layer {
  /** The resolved activation. */
  readonly activation: ActivationSpec;

  constructor(args: ActivationArgs) {
    if (args === null || typeof args !== 'object') {
      throw new ValueError(`Activation: expected an options object like { activation: 'relu' }, received ${describe(args)}`);
    }
    super(args, ['activation']);
    this.activation = getActivation(args.activation, `${this.describeSelf()} activation`);
  }

  override get className(): string {
    return 'Activation';
  }

  call(x: Tensor, _args: CallArgs): Tensor {
    return apply(this.activation, x);
  }

  computeOutputShape(inputShape: SymbolicShape): SymbolicShape {
    return inputShape;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), activation: this.activation.name };
  }
}
