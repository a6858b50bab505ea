import { Optimizer, OptimizerArgs, Segment, checkRange } from './optimizer';
import { native } from '../backend/native';
import { ValueError, describe } from '../errors';

export interface SGDArgs extends OptimizerArgs {
  /** Default 0 (plain SGD). */
  momentum?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent, Keras 3's update (learning rate default 0.01):
 *   v = momentum * v - lr * g;  w += v              (momentum)
 *   w += momentum * v - lr * g                      (Nesterov, with the v just computed)
 *   w -= lr * g                                     (momentum == 0)
 */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;
  private velocity: Float32Array | null = null;

  constructor(args: SGDArgs = {}) {
    super(args, 0.01);
    this.momentum = checkRange('SGD', 'momentum', args.momentum ?? 0, 0, 1);
    if (args.nesterov !== undefined && typeof args.nesterov !== 'boolean') {
      throw new ValueError(`SGD: nesterov must be a boolean, received ${describe(args.nesterov)}`);
    }
    this.nesterov = args.nesterov ?? false;
  }

  override get className(): string {
    return 'SGD';
  }

  protected update(params: Float32Array, grads: Float32Array, lr: number, _segments: readonly Segment[]): void {
    if (this.momentum !== 0 && (this.velocity === null || this.velocity.length !== params.length)) {
      this.velocity = new Float32Array(params.length);
    }
    native.sgdStep(params, grads, this.momentum !== 0 ? this.velocity : null, lr, this.momentum, this.nesterov);
  }

  reset(): void {
    this.velocity = null;
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), momentum: this.momentum, nesterov: this.nesterov };
  }
}
