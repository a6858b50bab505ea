import { Tensor } from '../tensor';

/**
 * A projection applied to a weight in place after every optimizer step (Keras's `constraints`),
 * e.g. max-norm rescales columns whose norm exceeds a bound.
 */
export interface Constraint {
  readonly className: string;
  apply(w: Tensor): void;
  getConfig(): Record<string, unknown>;
}
