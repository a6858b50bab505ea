import { Optimizer, OptimizerArgs, SlotSpec, checkPositive, checkRange } from './optimizer';
import { native, NativeUpdate, UpdateKernel, UpdateKind } from '../backend/native';

/** Options of {@link Adamax}, with those of {@link OptimizerArgs}; names mirror Keras's arguments in camelCase (`beta_1` is `beta1`, ...). */
export interface AdamaxArgs extends OptimizerArgs {
  /** Decay of the first-moment average, in [0, 1) (default 0.9). Keras: `beta_1`. */
  beta1?: number;
  /** Decay of the infinity norm, in [0, 1) (default 0.999). Keras: `beta_2`. */
  beta2?: number;
  /** > 0 (default 1e-7). Keras: `epsilon`. */
  epsilon?: number;
}

/**
 * Adamax (Kingma & Ba, 2014, section 7.1), Keras 3's update (learning rate default 0.001):
 *   m += (g - m)(1 - beta1);  u = max(beta2 u, |g|);  w -= lr / (1 - beta1^t) * m / (u + epsilon)
 * PyTorch instead folds epsilon into the norm: u = max(beta2 u, |g| + epsilon).
 * Keras: `keras.optimizers.Adamax`.
 */
export class Adamax extends Optimizer {
  /** Decay of the first-moment average, in [0, 1) (default 0.9). Keras: `beta_1`. */
  readonly beta1: number;
  /** Decay of the infinity norm, in [0, 1) (default 0.999). Keras: `beta_2`. */
  readonly beta2: number;
  /** > 0 (default 1e-7). Keras: `epsilon`. */
  readonly epsilon: number;

  constructor(args: AdamaxArgs = {}) {
    super(args, { learningRate: 0.001, name: 'adamax' }, ['beta1', 'beta2', 'epsilon']);
    this.beta1 = checkRange('Adamax', 'beta1', args.beta1 ?? 0.9, 0, 1, true);
    this.beta2 = checkRange('Adamax', 'beta2', args.beta2 ?? 0.999, 0, 1, true);
    this.epsilon = checkPositive('Adamax', 'epsilon', args.epsilon ?? 1e-7);
  }

  override get className(): string {
    return 'Adamax';
  }

  protected slotSpecs(): readonly SlotSpec[] {
    return [{ name: 'momentum', init: 0 }, { name: 'norm', init: 0 }];
  }

  /** The rate is lr_hat = lr / (1 - beta1^t). */
  protected override stepScalars(lr: number, decay: number, out: Float64Array, at: number): void {
    out[at] = lr / (1 - this.beta1 ** (this.iterations + 1));
    out[at + 1] = decay;
  }

  protected override nativeUpdate(): UpdateKernel {
    const slots: NativeUpdate['slots'] = [this.slot('momentum'), this.slot('norm'), null];
    return { kind: UpdateKind.Adamax, slots, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, momentum: 0, nesterov: false };
  }

  protected update(params: Float32Array, grads: Float32Array, lr: number, decay: number): void {
    const s = this.scratch;
    this.stepScalars(lr, decay, s, 0);
    native.adamaxUpdate(params, grads, this.slot('momentum'), this.slot('norm'), s[0]!, this.beta1, this.beta2, this.epsilon, s[1]!);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), beta_1: this.beta1, beta_2: this.beta2, epsilon: this.epsilon };
  }
}
