import { Tensor } from '../tensor';

/**
 * A projection applied to a weight in place after every optimizer step (Keras's `constraints`),
 * e.g. max-norm rescales columns whose norm exceeds a bound.
 */
export interface Constraint {
  /** Keras class name (`'MaxNorm'`, `'NonNeg'`, ...), used in configs. */
  readonly className: string;
  /** Project `w` in place onto the constraint set. */
  apply(w: Tensor): void;
  /** The options as Keras serializes them (snake_case keys). */
  getConfig(): Record<string, unknown>;
}
