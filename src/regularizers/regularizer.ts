import { Tensor } from '../tensor';

/**
 * A penalty on a weight or an activation, added to the training loss (Keras's `regularizers`).
 * `call` returns a scalar tensor built from ops, so its gradient reaches the weight through autograd.
 */
export interface Regularizer {
  /** Keras class name (`'L1'`, `'L2'`, `'L1L2'`), used in configs. */
  readonly className: string;
  /** The penalty for `x`, as a scalar tensor that back-propagates to `x`. */
  call(x: Tensor): Tensor;
  /** The factors as Keras serializes them, e.g. `{ l2: 0.01 }`. */
  getConfig(): Record<string, unknown>;
}
