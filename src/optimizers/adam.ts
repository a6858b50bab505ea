import { Optimizer, OptimizerArgs, SlotSpec, checkBoolean, checkPositive, checkRange } from './optimizer';
import { native, NativeUpdate, UpdateKernel, UpdateKind } from '../backend/native';

/** Options of {@link Adam}, with those of {@link OptimizerArgs}; names mirror Keras's arguments in camelCase (`beta_1` is `beta1`, ...). */
export interface AdamArgs extends OptimizerArgs {
  /** Decay of the first-moment average, in [0, 1) (default 0.9). Keras: `beta_1`. */
  beta1?: number;
  /** Decay of the second-moment average, in [0, 1) (default 0.999). Keras: `beta_2`. */
  beta2?: number;
  /** > 0, Kingma & Ba's "epsilon hat" (default 1e-7). Keras: `epsilon`. */
  epsilon?: number;
  /** AMSGrad variant (Reddi et al., 2018): divide by the running maximum of v (default false). Keras: `amsgrad`. */
  amsgrad?: boolean;
}

/**
 * Adam (Kingma & Ba, 2014), Keras 3's update (learning rate default 0.001), step t = iterations + 1:
 *   m += (g - m)(1 - beta1);  v += (g^2 - v)(1 - beta2);  (amsgrad: v' = vhat = max(vhat, v))
 *   w -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v') + epsilon)
 * Epsilon is added to the uncorrected sqrt(v) ("epsilon hat"); PyTorch adds it to sqrt(v / (1 - beta2^t)).
 * Keras: `keras.optimizers.Adam`.
 */
export class Adam extends Optimizer {
  /** Decay of the first-moment average, in [0, 1) (default 0.9). Keras: `beta_1`. */
  readonly beta1: number;
  /** Decay of the second-moment average, in [0, 1) (default 0.999). Keras: `beta_2`. */
  readonly beta2: number;
  /** > 0, Kingma & Ba's "epsilon hat" (default 1e-7). Keras: `epsilon`. */
  readonly epsilon: number;
  /** AMSGrad variant (Reddi et al., 2018): divide by the running maximum of v (default false). Keras: `amsgrad`. */
  readonly amsgrad: boolean;

  constructor(args: AdamArgs = {}, defaults = { learningRate: 0.001, name: 'adam' }) {
    super(args, defaults, ['beta1', 'beta2', 'epsilon', 'amsgrad']);
    this.beta1 = checkRange(this.className, 'beta1', args.beta1 ?? 0.9, 0, 1, true);
    this.beta2 = checkRange(this.className, 'beta2', args.beta2 ?? 0.999, 0, 1, true);
    this.epsilon = checkPositive(this.className, 'epsilon', args.epsilon ?? 1e-7);
    this.amsgrad = checkBoolean(this.className, 'amsgrad', args.amsgrad, false);
  }

  override get className(): string {
    return 'Adam';
  }

  protected slotSpecs(): readonly SlotSpec[] {
    const specs: SlotSpec[] = [{ name: 'momentum', init: 0 }, { name: 'velocity', init: 0 }];
    if (this.amsgrad) specs.push({ name: 'velocity_hat', init: 0 });
    return specs;
  }

  /** The rate is alpha = lr sqrt(1 - beta2^t) / (1 - beta1^t). */
  protected override stepScalars(lr: number, decay: number, out: Float64Array, at: number): void {
    const t = this.iterations + 1;
    out[at] = (lr * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    out[at + 1] = decay;
  }

  protected override nativeUpdate(): UpdateKernel {
    const slots: NativeUpdate['slots'] = [this.slot('momentum'), this.slot('velocity'), this.amsgrad ? this.slot('velocity_hat') : null];
    return { kind: UpdateKind.Adam, slots, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, momentum: 0, nesterov: false };
  }

  protected update(params: Float32Array, grads: Float32Array, lr: number, decay: number): void {
    const s = this.scratch;
    this.stepScalars(lr, decay, s, 0);
    native.adamUpdate(
      params, grads, this.slot('momentum'), this.slot('velocity'), this.amsgrad ? this.slot('velocity_hat') : null,
      s[0]!, this.beta1, this.beta2, this.epsilon, s[1]!,
    );
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), beta_1: this.beta1, beta_2: this.beta2, epsilon: this.epsilon, amsgrad: this.amsgrad };
  }
}
