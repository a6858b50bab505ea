import { Optimizer, OptimizerArgs, SlotSpec, checkBoolean, checkPositive, checkRange } from './optimizer';
import { native, NativeUpdate, UpdateKernel, UpdateKind } from '../backend/native';

/** Options of {@link RMSprop}, with those of {@link OptimizerArgs}; names mirror Keras's arguments in camelCase. */
export interface RMSpropArgs extends OptimizerArgs {
  /** Discounting factor of the squared-gradient average, in [0, 1) (default 0.9). Keras: `rho`. */
  rho?: number;
  /** In [0, 1] (default 0: no momentum slot). Keras: `momentum`. */
  momentum?: number;
  /** > 0, added inside the square root (default 1e-7). Keras: `epsilon`. */
  epsilon?: number;
  /** Normalise by the estimated variance instead of the second moment (default false). Keras: `centered`. */
  centered?: boolean;
}

/**
 * RMSprop (Hinton, 2012), Keras 3's update (learning rate default 0.001):
 *   v = rho v + (1 - rho) g^2;   centered: a = rho a + (1 - rho) g
 *   inc = lr g / sqrt(v + eps)   (centered: sqrt(v - a^2 + eps))
 *   w -= inc,  or with momentum: mom = momentum * mom + inc;  w -= mom
 * PyTorch adds epsilon outside the root instead.
 * Keras: `keras.optimizers.RMSprop`.
 */
export class RMSprop extends Optimizer {
  /** Discounting factor of the squared-gradient average, in [0, 1) (default 0.9). Keras: `rho`. */
  readonly rho: number;
  /** In [0, 1] (default 0: no momentum slot). Keras: `momentum`. */
  readonly momentum: number;
  /** > 0, added inside the square root (default 1e-7). Keras: `epsilon`. */
  readonly epsilon: number;
  /** Normalise by the estimated variance instead of the second moment (default false). Keras: `centered`. */
  readonly centered: boolean;

  constructor(args: RMSpropArgs = {}) {
    super(args, { learningRate: 0.001, name: 'rmsprop' }, ['rho', 'momentum', 'epsilon', 'centered']);
    this.rho = checkRange('RMSprop', 'rho', args.rho ?? 0.9, 0, 1, true);
    this.momentum = checkRange('RMSprop', 'momentum', args.momentum ?? 0, 0, 1);
    this.epsilon = checkPositive('RMSprop', 'epsilon', args.epsilon ?? 1e-7);
    this.centered = checkBoolean('RMSprop', 'centered', args.centered, false);
  }

  override get className(): string {
    return 'RMSprop';
  }

  protected slotSpecs(): readonly SlotSpec[] {
    const specs: SlotSpec[] = [{ name: 'velocity', init: 0 }];
    if (this.momentum > 0) specs.push({ name: 'momentum', init: 0 });
    if (this.centered) specs.push({ name: 'average_gradient', init: 0 });
    return specs;
  }

  protected override nativeUpdate(): UpdateKernel {
    const slots: NativeUpdate['slots'] = [
      this.slot('velocity'), this.momentum > 0 ? this.slot('momentum') : null, this.centered ? this.slot('average_gradient') : null,
    ];
    return { kind: UpdateKind.Rmsprop, slots, beta1: this.rho, beta2: 0, epsilon: this.epsilon, momentum: this.momentum, nesterov: false };
  }

  protected update(params: Float32Array, grads: Float32Array, lr: number, decay: number): void {
    native.rmspropUpdate(
      params, grads, this.slot('velocity'),
      this.momentum > 0 ? this.slot('momentum') : null,
      this.centered ? this.slot('average_gradient') : null,
      lr, this.rho, this.momentum, this.epsilon, decay,
    );
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), rho: this.rho, momentum: this.momentum, epsilon: this.epsilon, centered: this.centered };
  }
}
