import { Tensor } from '../tensor';

/**
 * A penalty on a weight or an activation, added to the training loss (Keras's `regularizers`).
 * `call` returns a scalar tensor built from ops, so its gradient reaches the weight through autograd.
 */
export interface Regularizer {
  readonly className: string;
  call(x: Tensor): Tensor;
  getConfig(): Record<string, unknown>;
}
