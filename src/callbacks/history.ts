import { Callback, Logs } from './callback';

/** Records the logs of every epoch: history.history.loss[epoch], history.history.val_accuracy[...]. Keras: `keras.callbacks.History`. */
export class History extends Callback {
  /** Indices (0-based) of the epochs recorded. */
  readonly epoch: number[] = [];
  /** Per log key (`loss`, `val_loss`, `accuracy`, `learning_rate`, ...), its value at each recorded epoch. Keras: `history.history`. */
  readonly history: Record<string, number[]> = {};

  override onTrainBegin(): void {
    // Keras keeps one History per fit call; a fresh fit starts an empty record.
    this.epoch.length = 0;
    for (const k of Object.keys(this.history)) delete this.history[k];
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }
}
