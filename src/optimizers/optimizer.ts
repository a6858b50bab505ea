/**
 * The optimizer base owns what every optimizer shares: the step counter, the learning rate and
 * argument checks. A concrete optimizer declares its slots and one update step, which runs as a
 * single native call over the model's whole (contiguous) parameter buffer.
 */
import { ValueError, describe } from '../errors';

/** One weight's place in the flat parameter buffer. */
export interface Segment {
  name: string;
  offset: number;
  size: number;
}

export interface OptimizerArgs {
  learningRate?: number;
}

export abstract class Optimizer {
  learningRate: number;
  /** Number of update steps applied so far (Keras's `iterations`). */
  iterations = 0;

  constructor(args: OptimizerArgs, defaultLearningRate: number) {
    const lr = args.learningRate ?? defaultLearningRate;
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) {
      throw new ValueError(`${this.className}: learningRate must be a non-negative number, received ${describe(lr)}`);
    }
    this.learningRate = lr;
  }

  /** Keras class name ('SGD', 'Adam', ...); subclasses override it. */
  get className(): string {
    return this.constructor.name;
  }

  /**
   * Apply one step to the flat parameter buffer `params` using `grads` (same length). `segments`
   * tells where each weight lies (for per-weight rules); slots are (re)created when the size changes.
   */
  apply(params: Float32Array, grads: Float32Array, segments: readonly Segment[]): void {
    if (params.length !== grads.length) {
      throw new ValueError(`${this.className}: ${params.length} parameters but ${grads.length} gradients`);
    }
    this.update(params, grads, this.learningRate, segments);
    this.iterations++;
  }

  /** The learning rate the next step will use (a schedule's value at the current step). */
  currentLearningRate(): number {
    return this.learningRate;
  }

  protected abstract update(params: Float32Array, grads: Float32Array, lr: number, segments: readonly Segment[]): void;

  /** Forget slot state (e.g. when the set of trained weights changes). */
  abstract reset(): void;

  getConfig(): Record<string, unknown> {
    return { name: this.className, learning_rate: this.learningRate };
  }
}

export function checkRange(owner: string, option: string, v: unknown, lo: number, hi: number, hiOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || (hiOpen ? v >= hi : v > hi)) {
    throw new ValueError(`${owner}: ${option} must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, received ${describe(v)}`);
  }
  return v;
}
