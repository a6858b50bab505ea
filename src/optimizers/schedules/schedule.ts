/**
 * A learning-rate schedule: the learning rate as a function of the optimizer's step counter
 * (Keras's `LearningRateSchedule`, evaluated once per training step).
 * Keras: `keras.optimizers.schedules.LearningRateSchedule`.
 */
export abstract class LearningRateSchedule {
  /** Keras class name ('ExponentialDecay', ...). */
  get className(): string {
    return this.constructor.name;
  }

  /** Learning rate at `step` (0 for the first update). */
  abstract call(step: number): number;

  /**
   * Momentum at `step` for schedules that cycle it (1cycle); undefined leaves the optimizer's own
   * momentum unchanged.
   */
  momentumAt(_step: number): number | undefined {
    return undefined;
  }

  /** The schedule's options as Keras serializes them (snake_case keys, e.g. `initial_learning_rate`). */
  abstract getConfig(): Record<string, unknown>;
}
