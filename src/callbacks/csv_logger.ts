import * as fs from 'node:fs';
import { Callback, Logs } from './callback';
import { IOError, ValueError, describe } from '../errors';
import { checkBool, optionsOf, pythonNonFinite } from './monitor';
import { appendWhole } from '../saving/atomic';

/** Options of {@link CSVLogger}. Keras: `separator`, `append`. */
export interface CSVLoggerArgs {
  /** One character between fields. Default ','. */
  separator?: string;
  /** Add to an existing file (resuming training) instead of overwriting it. Default false. */
  append?: boolean;
}

/**
 * Keras's CSVLogger: one row per epoch, 'epoch' (from 0) then the logs' keys in sorted order as
 * they were at the first epoch ('NA' where a later epoch lacks one). Each epoch's text is written
 * with one append of whole lines and the file is closed again, so the file on disk only ever ends
 * with a complete line; a failed write is cut back to the previous end. Lines end in '\n' (Keras's
 * csv module writes '\r\n').
 * Keras: `keras.callbacks.CSVLogger`.
 */
export class CSVLogger extends Callback {
  /** One character between fields. Default ','. */
  readonly separator: string;
  /** Add to an existing file (resuming training) instead of overwriting it. Default false. */
  readonly append: boolean;
  private keys: string[] | null = null;
  private writeHeader = true;

  constructor(
    /** Path of the CSV file (one row per epoch: epoch, then the logs in sorted key order). Keras: `filename`. */
    readonly filename: string,
    args?: CSVLoggerArgs,
  ) {
    super();
    const o = 'CSVLogger';
    if (typeof filename !== 'string' || filename.length === 0) {
      throw new ValueError(`${o}: filename must be a non-empty path, received ${describe(filename)}`);
    }
    const a = optionsOf(o, args, ['separator', 'append']);
    const sep = a.separator ?? ',';
    if (typeof sep !== 'string' || sep.length !== 1 || sep === '"' || sep === '\n' || sep === '\r') {
      throw new ValueError(`${o}: separator must be one character other than a quote or a newline, received separator=${describe(sep)}`);
    }
    this.separator = sep;
    this.append = checkBool(o, 'append', a.append ?? false);
  }

  override onTrainBegin(): void {
    this.keys = null;
    try {
      if (this.append && fs.existsSync(this.filename)) {
        this.writeHeader = fs.statSync(this.filename).size === 0; // Keras: a header only into an empty file
      } else {
        fs.writeFileSync(this.filename, '');
        this.writeHeader = true;
      }
    } catch (e) {
      throw new IOError(`CSVLogger: cannot open ${JSON.stringify(this.filename)} for writing: ${(e as Error).message}`);
    }
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    if (this.keys === null) this.keys = Object.keys(logs).sort();
    let text = '';
    if (this.writeHeader) {
      text += this.row(['epoch', ...this.keys]);
      this.writeHeader = false;
    }
    text += this.row([String(epoch), ...this.keys.map((k) => (k in logs ? (pythonNonFinite(logs[k]!) ?? String(logs[k])) : 'NA'))]);
    this.writeWhole(text);
  }

  private row(fields: string[]): string {
    return fields.map((f) => this.quote(f)).join(this.separator) + '\n';
  }

  /** Quote a field holding the separator, a quote or a newline (Python csv's excel dialect). */
  private quote(f: string): string {
    return f.includes(this.separator) || /["\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f;
  }

  private writeWhole(text: string): void {
    appendWhole('CSVLogger', this.filename, Buffer.from(text, 'utf8'));
  }

}
