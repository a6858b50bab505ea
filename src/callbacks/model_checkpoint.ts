/**
 * Keras's ModelCheckpoint (keras/src/callbacks/model_checkpoint.py) on top of the crash-safe save:
 * save the model (or only its weights) every epoch or every `saveFreq` batches, or only when the
 * monitored quantity improves. A crash mid-save leaves the previous checkpoint loadable.
 *
 * `filepath` names a directory (our save format is a directory: model.json + weights file) and may
 * hold Python-format placeholders as in Keras: `{epoch}` / `{epoch:02d}` (1-based), `{batch}` with
 * saveFreq in batches, and any logged quantity, e.g. 'ckpt/{epoch:02d}-{val_loss:.4f}'.
 * With saveWeightsOnly the directory holds the weights only (model.json without topology): restore
 * them with `model.loadWeights(dir)`. Otherwise `loadModel(dir)` rebuilds the compiled model with
 * its optimizer state.
 */
import { Callback, Logs } from './callback';
import { Sequential } from '../models/sequential';
import { saveModel, saveWeights } from '../saving/model_io';
import { StateError, ValueError, describe } from '../errors';
import { MonitorMode, checkBool, checkInt, checkMode, checkMonitor, checkNumber, checkVerbose, inferDirection, optionsOf, requireModel, say } from './monitor';

/** Options of {@link ModelCheckpoint}; names mirror Keras's arguments in camelCase (`save_best_only` is `saveBestOnly`, ...). */
export interface ModelCheckpointArgs {
  /** Logged quantity to watch with saveBestOnly. Default 'val_loss'. Keras: `monitor`. */
  monitor?: string;
  /** 0 silent, 1 says when it saves. Default 0. Keras: `verbose`. */
  verbose?: 0 | 1;
  /** Save only when the monitored quantity improves on the best seen. Default false. Keras: `save_best_only`. */
  saveBestOnly?: boolean;
  /** Save only the weights (restore with model.loadWeights). Default false. Keras: `save_weights_only`. */
  saveWeightsOnly?: boolean;
  /** 'min', 'max', or 'auto' to infer from the name ('loss' min, 'accuracy' max). Default 'auto'. Keras: `mode`. */
  mode?: MonitorMode;
  /** 'epoch' (default) or a number of batches between saves. Keras: `save_freq`. */
  saveFreq?: 'epoch' | number;
  /** With saveBestOnly, save only once the quantity beats this value. Default none. Keras: `initial_value_threshold`. */
  initialValueThreshold?: number | null;
}

/** Saves the model (or its weights) to a directory during training. Keras: `keras.callbacks.ModelCheckpoint`. */
export class ModelCheckpoint extends Callback {
  /** Directory to save to; may hold placeholders such as `{epoch:02d}` or `{val_loss:.4f}`. Keras: `filepath`. */
  readonly filepath: string;
  /** Logged quantity to watch with saveBestOnly. Default 'val_loss'. Keras: `monitor`. */
  readonly monitor: string;
  /** 0 silent, 1 says when it saves. Default 0. Keras: `verbose`. */
  readonly verbose: 0 | 1;
  /** Save only when the monitored quantity improves on the best seen. Default false. Keras: `save_best_only`. */
  readonly saveBestOnly: boolean;
  /** Save only the weights (restore with model.loadWeights). Default false. Keras: `save_weights_only`. */
  readonly saveWeightsOnly: boolean;
  /** 'min', 'max', or 'auto' to infer from the name ('loss' min, 'accuracy' max). Default 'auto'. Keras: `mode`. */
  readonly mode: MonitorMode;
  /** 'epoch' (default) or a number of batches between saves. Keras: `save_freq`. */
  readonly saveFreq: 'epoch' | number;
  /** Best monitored value saved so far. */
  best: number;
  /** Directories written, in order. */
  readonly saved: string[] = [];
  private readonly better: (current: number, best: number) => boolean;
  private readonly initialBest: number;
  private batchesSinceSave = 0;
  private currentEpoch = 0;

  constructor(filepath: string, args?: ModelCheckpointArgs) {
    super();
    const o = 'ModelCheckpoint';
    if (typeof filepath !== 'string' || filepath === '') {
      throw new ValueError(`${o}: filepath must be a non-empty path string, received ${describe(filepath)}`);
    }
    const a = optionsOf(o, args, ['monitor', 'verbose', 'saveBestOnly', 'saveWeightsOnly', 'mode', 'saveFreq', 'initialValueThreshold']);
    this.filepath = filepath;
    this.monitor = checkMonitor(o, a.monitor ?? 'val_loss');
    this.verbose = checkVerbose(o, a.verbose ?? 0);
    this.saveBestOnly = checkBool(o, 'saveBestOnly', a.saveBestOnly ?? false);
    this.saveWeightsOnly = checkBool(o, 'saveWeightsOnly', a.saveWeightsOnly ?? false);
    this.mode = checkMode(o, a.mode ?? 'auto');
    const freq = a.saveFreq ?? 'epoch';
    this.saveFreq = freq === 'epoch' ? 'epoch' : checkInt(o, 'saveFreq', freq, 1);
    const direction = this.mode === 'auto' ? inferDirection(this.monitor) : this.mode;
    if (direction === null) {
      throw new ValueError(
        `${o}: cannot tell whether monitor=${JSON.stringify(this.monitor)} should be minimized or maximized; pass mode: 'min' or mode: 'max'`,
      );
    }
    this.better = direction === 'min' ? (c, b) => c < b : (c, b) => c > b;
    const threshold = a.initialValueThreshold;
    this.initialBest = threshold == null ? (direction === 'min' ? Infinity : -Infinity) : checkNumber(o, 'initialValueThreshold', threshold);
    this.best = this.initialBest;
    // Fail now, not after the first epoch, on a malformed placeholder.
    parsePlaceholders(filepath);
  }

  override onTrainBegin(): void {
    const model = requireModel('ModelCheckpoint', this.model);
    if (!(model instanceof Sequential)) {
      throw new StateError(`ModelCheckpoint: can only save a Sequential model, received ${describe(model)}`);
    }
    this.batchesSinceSave = 0;
  }

  override onEpochBegin(epoch: number): void {
    this.currentEpoch = epoch;
  }

  override async onBatchEnd(batch: number, logs: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') return;
    this.batchesSinceSave++;
    if (this.batchesSinceSave < this.saveFreq) return;
    this.batchesSinceSave = 0;
    await this.save(this.currentEpoch, batch, logs);
  }

  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') await this.save(epoch, null, logs);
  }

  private async save(epoch: number, batch: number | null, logs: Logs): Promise<void> {
    const model = this.model as Sequential;
    const dir = formatFilepath(this.filepath, { epoch: epoch + 1, ...(batch !== null ? { batch: batch + 1 } : {}), ...logs });
    if (this.saveBestOnly) {
      const current = logs[this.monitor];
      if (typeof current !== 'number') {
        // Keras 3 (callbacks/model_checkpoint.py, _should_save_model) warns and saves anyway when
        // the quantity is not logged (e.g. val_loss without validation data).
        say(`ModelCheckpoint: can save best model only with ${this.monitor} available, saving anyway (logged: ${Object.keys(logs).join(', ') || 'nothing'})`);
      } else if (!this.better(current, this.best)) {
        if (this.verbose) say(`\nEpoch ${epoch + 1}: ${this.monitor} did not improve from ${fmt(this.best)}`);
        return;
      } else {
        if (this.verbose) say(`\nEpoch ${epoch + 1}: ${this.monitor} improved from ${fmt(this.best)} to ${fmt(current)}, saving model to ${dir}`);
        this.best = current;
      }
    } else if (this.verbose) {
      say(`\nEpoch ${epoch + 1}: saving model to ${dir}`);
    }
    if (this.saveWeightsOnly) await saveWeights(model, dir);
    else await saveModel(model, dir);
    this.saved.push(dir);
  }
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toFixed(5) : String(v);
}

const PLACEHOLDER = /\{([^{}:]*)(?::([^{}]*))?\}/g;
const SPEC = /^(0)?(\d+)?(?:\.(\d+))?([dfeg%])?$/;

function parsePlaceholders(filepath: string): { key: string; spec: string }[] {
  const out: { key: string; spec: string }[] = [];
  for (const m of filepath.matchAll(PLACEHOLDER)) {
    const key = m[1]!;
    const spec = m[2] ?? '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || !SPEC.test(spec)) {
      throw new ValueError(
        `ModelCheckpoint: filepath placeholder ${describe(m[0])} is not of the form {name} or {name:format} ` +
          `(format like 02d, .4f, .3e); received filepath=${describe(filepath)}`,
      );
    }
    out.push({ key, spec });
  }
  return out;
}

/** Python str.format for the placeholders Keras users write: {epoch:02d}, {val_loss:.4f}, {loss:.2e}. */
export function formatFilepath(filepath: string, values: Record<string, number>): string {
  parsePlaceholders(filepath);
  return filepath.replace(PLACEHOLDER, (whole, key: string, spec: string | undefined) => {
    const v = values[key];
    if (v === undefined) {
      throw new ValueError(
        `ModelCheckpoint: filepath ${describe(filepath)} uses {${key}}, which is not logged; available: ${Object.keys(values).join(', ')}`,
      );
    }
    return formatNumber(v, spec ?? '');
  });
}

function formatNumber(v: number, spec: string): string {
  const [, zero, width, precision, type] = SPEC.exec(spec)!;
  const p = precision === undefined ? 6 : Number(precision);
  let s: string;
  switch (type) {
    case 'd':
      s = String(Math.trunc(v));
      break;
    case 'f':
      s = v.toFixed(p);
      break;
    case '%':
      s = `${(v * 100).toFixed(p)}%`;
      break;
    case 'e': {
      // Python writes at least two exponent digits: 1.5e-05.
      s = v.toExponential(p).replace(/e([+-])(\d)$/, 'e$10$2');
      break;
    }
    case 'g':
      s = String(Number(v.toPrecision(precision === undefined ? 6 : Math.max(1, p))));
      break;
    default:
      s = precision === undefined ? String(v) : String(Number(v.toPrecision(Math.max(1, p))));
  }
  const w = width === undefined ? 0 : Number(width);
  if (s.length >= w) return s;
  if (zero) return s.startsWith('-') ? `-${s.slice(1).padStart(w - 1, '0')}` : s.padStart(w, '0');
  return s.padStart(w, ' ');
}
