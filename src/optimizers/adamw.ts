import { Adam, AdamArgs } from './adam';
import { ValueError, describe } from '../errors';

/** Options of {@link AdamW}: those of {@link AdamArgs}, with `weightDecay` defaulting to 0.004. */
export interface AdamWArgs extends AdamArgs {
  /** Decoupled weight decay, >= 0 (default 0.004). Keras: `weight_decay`. */
  weightDecay?: number;
}

/**
 * AdamW (Loshchilov & Hutter, 2019) is Adam with decoupled weight decay `w -= w * weightDecay * lr`
 * before each step, which every optimizer here supports; AdamW only makes it default to 0.004.
 * Keras: `keras.optimizers.AdamW`.
 */
export class AdamW extends Adam {
  constructor(args: AdamWArgs = {}) {
    if (args !== null && typeof args === 'object' && args.weightDecay === null) {
      throw new ValueError(`AdamW: weightDecay must be a number, received ${describe(args.weightDecay)}`);
    }
    super({ ...args, weightDecay: args?.weightDecay ?? 0.004 }, { learningRate: 0.001, name: 'adamw' });
  }

  override get className(): string {
    return 'AdamW';
  }
}
