import { Optimizer, OptimizerArgs, SlotSpec, checkPositive, checkRange } from './optimizer';
import { native, NativeUpdate, UpdateKernel, UpdateKind } from '../backend/native';

/** Options of {@link Nadam}, with those of {@link OptimizerArgs}; names mirror Keras's arguments in camelCase (`beta_1` is `beta1`, ...). */
export interface NadamArgs extends OptimizerArgs {
  /** Decay of the first-moment average, in [0, 1) (default 0.9). Keras: `beta_1`. */
  beta1?: number;
  /** Decay of the second-moment average, in [0, 1) (default 0.999). Keras: `beta_2`. */
  beta2?: number;
  /** > 0 (default 1e-7). Keras: `epsilon`. */
  epsilon?: number;
}

/** Keras's fixed momentum-cache decay: u_t = beta1 * (1 - 0.5 * 0.96^t). */
const MOMENTUM_CACHE_DECAY = 0.96;

/**
 * Nadam (Dozat, 2015): Adam with Nesterov momentum, Keras 3's update (learning rate default 0.001),
 * step t = iterations + 1, u_t = beta1 (1 - 0.5 * 0.96^t), P_t = u_1 ... u_t:
 *   m, v as Adam;  m_hat = u_{t+1} m / (1 - P_t u_{t+1}) + (1 - u_t) g / (1 - P_t)
 *   w -= lr * m_hat / (sqrt(v / (1 - beta2^t)) + epsilon)
 * PyTorch's NAdam uses 0.96^(0.004 t) by default (its momentum_decay).
 * Keras: `keras.optimizers.Nadam`.
 */
export class Nadam extends Optimizer {
  /** Decay of the first-moment average, in [0, 1) (default 0.9). Keras: `beta_1`. */
  readonly beta1: number;
  /** Decay of the second-moment average, in [0, 1) (default 0.999). Keras: `beta_2`. */
  readonly beta2: number;
  /** > 0 (default 1e-7). Keras: `epsilon`. */
  readonly epsilon: number;
  /** P_k = u_1 ... u_k for k = uProductStep (Keras's `_u_product`). */
  private uProduct = 1;
  private uProductStep = 0;

  constructor(args: NadamArgs = {}) {
    super(args, { learningRate: 0.001, name: 'nadam' }, ['beta1', 'beta2', 'epsilon']);
    this.beta1 = checkRange('Nadam', 'beta1', args.beta1 ?? 0.9, 0, 1, true);
    this.beta2 = checkRange('Nadam', 'beta2', args.beta2 ?? 0.999, 0, 1, true);
    this.epsilon = checkPositive('Nadam', 'epsilon', args.epsilon ?? 1e-7);
  }

  override get className(): string {
    return 'Nadam';
  }

  protected slotSpecs(): readonly SlotSpec[] {
    return [{ name: 'momentum', init: 0 }, { name: 'velocity', init: 0 }];
  }

  /** The scalars lr, decay, cm, cg, cv; advances the momentum-cache product P to this step. */
  protected override stepScalars(lr: number, decay: number, out: Float64Array, at: number): void {
    const t = this.iterations + 1;
    const ut = this.beta1 * (1 - 0.5 * MOMENTUM_CACHE_DECAY ** t);
    const ut1 = this.beta1 * (1 - 0.5 * MOMENTUM_CACHE_DECAY ** (t + 1));
    // P_t from P_{t-1}; recomputed when the step counter was changed from outside (restored state).
    if (this.uProductStep !== t - 1) {
      this.uProduct = momentumCacheProduct(this.beta1, t - 1);
    }
    this.uProduct *= ut;
    this.uProductStep = t;
    const cm = ut1 / (1 - this.uProduct * ut1);
    const cg = (1 - ut) / (1 - this.uProduct);
    const cv = 1 / (1 - this.beta2 ** t);
    out[at] = lr;
    out[at + 1] = decay;
    out[at + 2] = cm;
    out[at + 3] = cg;
    out[at + 4] = cv;
  }

  /** The momentum-cache product and its step, which `stepScalars` advances. */
  protected override saveStepState(): unknown {
    return [this.uProduct, this.uProductStep];
  }

  /** Puts back the momentum-cache product saved by `saveStepState`. */
  protected override restoreStepState(state: unknown): void {
    [this.uProduct, this.uProductStep] = state as [number, number];
  }

  protected override nativeUpdate(): UpdateKernel {
    const slots: NativeUpdate['slots'] = [this.slot('momentum'), this.slot('velocity'), null];
    return { kind: UpdateKind.Nadam, slots, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, momentum: 0, nesterov: false };
  }

  protected update(params: Float32Array, grads: Float32Array, lr: number, decay: number): void {
    const s = this.scratch;
    this.stepScalars(lr, decay, s, 0);
    native.nadamUpdate(params, grads, this.slot('momentum'), this.slot('velocity'), s[0]!, this.beta1, this.beta2, this.epsilon, s[2]!, s[3]!, s[4]!, s[1]!);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), beta_1: this.beta1, beta_2: this.beta2, epsilon: this.epsilon };
  }
}

/** u_1 * ... * u_t with u_i = beta1 (1 - 0.5 * 0.96^i). */
function momentumCacheProduct(beta1: number, t: number): number {
  let p = 1;
  for (let i = 1; i <= t; i++) p *= beta1 * (1 - 0.5 * MOMENTUM_CACHE_DECAY ** i);
  return p;
}
