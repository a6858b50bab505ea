import { Optimizer, OptimizerArgs, SlotSpec, checkBoolean, checkRange } from './optimizer';
import { native, UpdateKernel, UpdateKind } from '../backend/native';
import { ValueError, describe } from '../errors';

/** Options of {@link SGD}, with those of {@link OptimizerArgs}; names mirror Keras's arguments in camelCase. */
export interface SGDArgs extends OptimizerArgs {
  /** In [0, 1]; default 0 (plain SGD). Keras: `momentum`. */
  momentum?: number;
  /** Nesterov momentum (default false). Keras: `nesterov`. */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent, Keras 3's update (learning rate default 0.01):
 *   v = momentum * v - lr * g;  w += v              (momentum)
 *   w += momentum * v - lr * g                      (Nesterov, with the v just computed)
 *   w -= lr * g                                     (momentum == 0)
 * A learning-rate schedule whose `momentumAt(step)` returns a number (1cycle) sets the momentum of
 * that step instead of `momentum`.
 * Keras: `keras.optimizers.SGD`.
 */
export class SGD extends Optimizer {
  /** In [0, 1]; default 0 (plain SGD). Keras: `momentum`. */
  readonly momentum: number;
  /** Nesterov momentum (default false). Keras: `nesterov`. */
  readonly nesterov: boolean;

  constructor(args: SGDArgs = {}) {
    super(args, { learningRate: 0.01, name: 'SGD' }, ['momentum', 'nesterov']);
    this.momentum = checkRange('SGD', 'momentum', args.momentum ?? 0, 0, 1);
    this.nesterov = checkBoolean('SGD', 'nesterov', args.nesterov, false);
  }

  override get className(): string {
    return 'SGD';
  }

  /** The momentum the next step uses: the schedule's when it cycles momentum, else `momentum`. */
  currentMomentum(): number {
    const m = this.learningRateSchedule?.momentumAt(this.iterations);
    if (m === undefined) return this.momentum;
    if (typeof m !== 'number' || !Number.isFinite(m) || m < 0 || m > 1) {
      throw new ValueError(
        `SGD: ${this.learningRateSchedule!.className}.momentumAt(${this.iterations}) returned ${describe(m)}, expected a number in [0, 1]`,
      );
    }
    return m;
  }

  override fusedSgdRate(): number | null {
    if (this.clipnorm !== null || this.clipvalue !== null || this.globalClipnorm !== null) return null;
    if (this.weightDecay !== null && this.weightDecay > 0) return null;
    if (this.slotSpecs().length > 0) return null; // momentum, or a schedule that cycles it
    return this.currentLearningRate();
  }

  protected slotSpecs(): readonly SlotSpec[] {
    const cycles = this.learningRateSchedule?.momentumAt(0) !== undefined;
    return this.momentum !== 0 || cycles ? [{ name: 'momentum', init: 0 }] : [];
  }

  protected override stepScalars(lr: number, decay: number, out: Float64Array, at: number): void {
    out[at] = lr;
    out[at + 1] = decay;
    out[at + 2] = this.currentMomentum();
  }

  protected override nativeUpdate(): UpdateKernel {
    return { kind: UpdateKind.Sgd, slots: [this.slots.get('momentum') ?? null, null, null], beta1: 0, beta2: 0, epsilon: 0, momentum: 0, nesterov: this.nesterov };
  }

  protected update(params: Float32Array, grads: Float32Array, lr: number, decay: number): void {
    const s = this.scratch;
    this.stepScalars(lr, decay, s, 0);
    native.sgdUpdate(params, grads, this.slots.get('momentum') ?? null, s[0]!, s[2]!, this.nesterov, s[1]!);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), momentum: this.momentum, nesterov: this.nesterov };
  }
}
