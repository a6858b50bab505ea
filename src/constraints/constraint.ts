import { Tensor } from '../tensor';

/** @internal A norm constraint as the native kernel takes it: w as a [rows, cols] matrix whose column norms are bounded. */
export interface NativeConstraintForm {
  rows: number;
  cols: number;
  /** 0 max, 1 unit, 2 min-max (native/kernels.h NormConstraint). */
  kind: 0 | 1 | 2;
  minValue: number;
  maxValue: number;
  rate: number;
}

/**
 * A projection applied to a weight in place after every optimizer step, e.g. max-norm rescales
 * columns whose norm exceeds a bound. Keras: `keras.constraints.Constraint`.
 */
export interface Constraint {
  /** Keras class name (`'MaxNorm'`, `'NonNeg'`, ...), used in configs. */
  readonly className: string;
  /** Project `w` in place onto the constraint set. */
  apply(w: Tensor): void;
  /**
   * @internal The native kernel's form of `apply(w)` (a training plan runs it after each step,
   * native/train_plan.h PlanConstraint), or null (or absent) when there is none: the model then
   * trains one batch per native call and calls `apply` itself.
   */
  nativeForm?(w: Tensor): NativeConstraintForm | null;
  /** The options as Keras serializes them (snake_case keys). */
  getConfig(): Record<string, unknown>;
}
