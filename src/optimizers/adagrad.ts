import { Optimizer, OptimizerArgs, SlotSpec, checkPositive } from './optimizer';
import { native, NativeUpdate, UpdateKernel, UpdateKind } from '../backend/native';
import { ValueError, describe } from '../errors';

/** Options of {@link Adagrad}, with those of {@link OptimizerArgs}; names mirror Keras's arguments in camelCase. */
export interface AdagradArgs extends OptimizerArgs {
  /** Starting value of the accumulators, >= 0 (default 0.1). Keras: `initial_accumulator_value`. */
  initialAccumulatorValue?: number;
  /** > 0, added inside the square root (default 1e-7). Keras: `epsilon`. */
  epsilon?: number;
}

/**
 * Adagrad (Duchi et al., 2011), Keras 3's update (learning rate default 0.001):
 *   acc += g^2;  w -= lr * g / sqrt(acc + epsilon)
 * PyTorch differs: accumulators start at 0 and epsilon is added outside the root.
 * Keras: `keras.optimizers.Adagrad`.
 */
export class Adagrad extends Optimizer {
  /** Starting value of the accumulators, >= 0 (default 0.1). Keras: `initial_accumulator_value`. */
  readonly initialAccumulatorValue: number;
  /** > 0, added inside the square root (default 1e-7). Keras: `epsilon`. */
  readonly epsilon: number;

  constructor(args: AdagradArgs = {}) {
    super(args, { learningRate: 0.001, name: 'adagrad' }, ['initialAccumulatorValue', 'epsilon']);
    const init = args.initialAccumulatorValue ?? 0.1;
    if (typeof init !== 'number' || !Number.isFinite(init) || init < 0) {
      throw new ValueError(`Adagrad: initialAccumulatorValue must be a non-negative number, received ${describe(init)}`);
    }
    this.initialAccumulatorValue = init;
    this.epsilon = checkPositive('Adagrad', 'epsilon', args.epsilon ?? 1e-7);
  }

  override get className(): string {
    return 'Adagrad';
  }

  protected slotSpecs(): readonly SlotSpec[] {
    return [{ name: 'accumulator', init: this.initialAccumulatorValue }];
  }

  protected override nativeUpdate(): UpdateKernel {
    const slots: NativeUpdate['slots'] = [this.slot('accumulator'), null, null];
    return { kind: UpdateKind.Adagrad, slots, beta1: 0, beta2: 0, epsilon: this.epsilon, momentum: 0, nesterov: false };
  }

  protected update(params: Float32Array, grads: Float32Array, lr: number, decay: number): void {
    native.adagradUpdate(params, grads, this.slot('accumulator'), lr, this.epsilon, decay);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), initial_accumulator_value: this.initialAccumulatorValue, epsilon: this.epsilon };
  }
}
