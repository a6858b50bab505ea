import { Callback, Logs } from './callback';
import { pythonNonFinite } from './monitor';

/** Where progress is written: `process.stdout`, a stream, or any object with `write`. */
export interface Writable {
  /** Write a chunk of text. */
  write(s: string): unknown;
  /** True for a terminal: the progress bar is then redrawn in place. */
  isTTY?: boolean;
}

function formatDuration(seconds: number): string {
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}:${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}:${String(Math.floor(seconds % 60)).padStart(2, '0')}`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, '0')}`;
  return `${Math.round(seconds)}s`;
}

function formatPerStep(seconds: number): string {
  if (seconds >= 1) return `${seconds.toFixed(0)}s/step`;
  if (seconds >= 1e-3) return `${Math.round(seconds * 1e3)}ms/step`;
  return `${Math.round(seconds * 1e6)}us/step`;
}

/** A logged value as Keras's Progbar prints it: 4 decimals, or 4 in scientific form at or below 1e-3 in magnitude (Python's `.4e`: 1.2000e-06). */
export function formatValue(v: number): string {
  const special = pythonNonFinite(v);
  if (special !== null) return special;
  if (Math.abs(v) > 1e-3) return v.toFixed(4);
  const [mantissa, exp] = v.toExponential(4).split('e') as [string, string];
  const e = Number(exp);
  return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

function formatLogs(logs: Logs): string {
  return Object.keys(logs)
    .sort((a, b) => Number(a.startsWith('val_')) - Number(b.startsWith('val_')) || a.localeCompare(b))
    .map((k) => ` - ${k}: ${formatValue(logs[k]!)}`)
    .join('');
}

/**
 * Keras's progress output. verbose 1 on a terminal: a live bar per epoch (steps done/total,
 * elapsed or ETA, time per step, running loss and metrics), redrawn at most every 50 ms.
 * verbose 1 elsewhere (a pipe, a log file) and verbose 2: one plain line per epoch.
 * Keras: `keras.callbacks.ProgbarLogger`.
 */
export class ProgbarLogger extends Callback {
  private start = 0;
  private lastDraw = 0;
  private epochs = 0;
  private steps = 0;
  private live: boolean;

  constructor(
    /** 1 (default): a live bar on a terminal, one line per epoch elsewhere; 2: one line per epoch. Keras: `verbose`. */
    readonly verbose: 1 | 2 = 1,
    private readonly stream: Writable = process.stdout,
  ) {
    super();
    this.live = verbose === 1 && stream.isTTY === true;
  }

  override onTrainBegin(): void {
    this.epochs = this.params?.epochs ?? 0;
    this.steps = this.params?.steps ?? 0;
  }

  override onEpochBegin(epoch: number): void {
    // Keras (callbacks/progbar_logger.py): the header at any verbosity, when there is more than one epoch.
    if (this.epochs > 1) this.stream.write(`Epoch ${epoch + 1}/${this.epochs}\n`);
    this.start = performance.now();
    this.lastDraw = 0;
  }

  override onBatchEnd(batch: number, logs: Logs): void {
    if (!this.live) return;
    const now = performance.now();
    if (now - this.lastDraw < 50 && batch + 1 < this.steps) return;
    this.lastDraw = now;
    this.stream.write(`\r${this.line(batch + 1, logs, now, true)}\x1b[K`);
  }

  override onEpochEnd(_epoch: number, logs: Logs): void {
    const now = performance.now();
    if (this.verbose === 2) {
      const elapsed = (now - this.start) / 1000;
      this.stream.write(
        `${this.steps}/${this.steps} - ${formatDuration(elapsed)} - ${formatPerStep(elapsed / Math.max(1, this.steps))}${formatLogs(logs)}\n`,
      );
      return;
    }
    this.stream.write(`${this.live ? '\r' : ''}${this.line(this.steps, logs, now, false)}${this.live ? '\x1b[K' : ''}\n`);
  }

  private line(done: number, logs: Logs, now: number, running: boolean): string {
    const width = 20;
    const filled = this.steps === 0 ? width : Math.floor((width * done) / this.steps);
    const bar = '━'.repeat(filled) + (filled < width ? '─'.repeat(width - filled) : '');
    const elapsed = (now - this.start) / 1000;
    const perStep = elapsed / Math.max(1, done);
    const time = running && done < this.steps ? formatDuration(perStep * (this.steps - done)) : formatDuration(elapsed);
    const total = String(this.steps);
    return `${String(done).padStart(total.length)}/${total} ${bar} ${time} ${formatPerStep(perStep)}${formatLogs(logs)}`;
  }
}
