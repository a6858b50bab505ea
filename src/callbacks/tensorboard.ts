/**
 * Keras's TensorBoard callback (keras/src/callbacks/tensorboard.py): writes TensorFlow event files
 * that `tensorboard --logdir <logDir>` opens, one run per subdirectory like Keras:
 *   logDir/train/events.out.tfevents.<seconds>.<host>.<pid>.<n>       epoch_loss, epoch_accuracy,
 *                                                                     epoch_learning_rate, batch_*,
 *                                                                     <weight>/histogram
 *   logDir/validation/events.out.tfevents.<seconds>.<host>.<pid>.<n>  epoch_loss, epoch_accuracy
 *                                                                     (the val_* logs, prefix removed)
 * Scalars are legacy `simple_value` summaries and weights legacy `HistogramProto`s; TensorBoard
 * reads both (its data_compat layer converts them to the scalars and histograms plugins).
 *
 * File format (tensorflow/core/lib/io/record_writer.cc): a sequence of records
 *   uint64 length (little-endian) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
 * with masked_crc = ((crc >>> 15) | (crc << 17)) + 0xa282ead8 (mod 2^32), CRC32C the Castagnoli CRC.
 * The first record's Event carries file_version "brain.Event:2"; every later one a Summary.
 * Each epoch's records are appended with one write, and a failed write is cut back, so a file on
 * disk only ever ends with a whole record.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Callback, Logs } from './callback';
import { IOError, ValueError, describe } from '../errors';
import { checkInt, optionsOf } from './monitor';
import { appendWhole } from '../saving/atomic';

/** Options of {@link TensorBoard}; names mirror Keras's arguments in camelCase (`log_dir` is `logDir`, ...). */
export interface TensorBoardArgs {
  /** Directory of the run; 'train' and 'validation' subdirectories are created in it. Default 'logs' (Keras's log_dir). */
  logDir?: string;
  /**
   * 'epoch' (default): scalars once per epoch. A number N (or 'batch', meaning 1): also the batch
   * logs as `batch_<name>` every N training batches, at step = batches seen so far in this fit
   * (Keras's update_freq). They are written at the end of each epoch with that epoch's records.
   */
  updateFreq?: 'epoch' | 'batch' | number;
  /** Every this many epochs (counting from epoch 0), histograms of every weight; 0 (default) never (Keras's histogram_freq). */
  histogramFreq?: number;
}

/** A weight as the callback reads it from the model (Sequential's `weights`). */
interface NamedWeight {
  readonly name: string;
  readonly data: Float32Array;
}

/** Number of equal-width buckets of a weight histogram (tf.summary.histogram's default). */
export const HISTOGRAM_BUCKETS = 30;

/**
 * Writes TensorFlow event files for `tensorboard --logdir <logDir>`: epoch scalars (and, with
 * `updateFreq`, batch scalars and, with `histogramFreq`, weight histograms) under `logDir/train`,
 * the `val_*` logs under `logDir/validation`. Keras: `keras.callbacks.TensorBoard`.
 */
export class TensorBoard extends Callback {
  /** Directory of the run (default 'logs'). Keras: `log_dir`. */
  readonly logDir: string;
  /** 'epoch' (default) or the number of batches between batch-level scalars ('batch' is stored as 1). Keras: `update_freq`. */
  readonly updateFreq: 'epoch' | number;
  /** Epochs between weight histograms; 0 (default) never. Keras: `histogram_freq`. */
  readonly histogramFreq: number;
  /** Paths of the event files written by the latest fit (train first), once created. */
  readonly files: string[] = [];
  private writers = new Map<'train' | 'validation', EventFileWriter>();
  private pending: Uint8Array[] = [];
  private globalBatch = 0;

  constructor(args?: TensorBoardArgs) {
    super();
    const o = 'TensorBoard';
    const a = optionsOf(o, args, ['logDir', 'updateFreq', 'histogramFreq']);
    const logDir = a.logDir ?? 'logs';
    if (typeof logDir !== 'string' || logDir === '') {
      throw new ValueError(`${o}: logDir must be a non-empty directory path, received logDir=${describe(logDir)}`);
    }
    this.logDir = logDir;
    const freq = a.updateFreq ?? 'epoch';
    if (freq === 'epoch') this.updateFreq = 'epoch';
    else if (freq === 'batch') this.updateFreq = 1;
    else if (typeof freq === 'number') this.updateFreq = checkInt(o, 'updateFreq', freq, 1);
    else throw new ValueError(`${o}: updateFreq must be 'epoch', 'batch' or a positive integer, received updateFreq=${describe(freq)}`);
    this.histogramFreq = checkInt(o, 'histogramFreq', a.histogramFreq ?? 0, 0);
  }

  override onTrainBegin(): void {
    // Like Keras, each fit writes new event files (TensorBoard merges all files of a run directory).
    this.writers.clear();
    this.files.length = 0;
    this.pending = [];
    this.globalBatch = 0;
  }

  override onBatchEnd(_batch: number, logs: Logs): void {
    this.globalBatch++;
    if (this.updateFreq === 'epoch' || this.globalBatch % this.updateFreq !== 0) return;
    const values = Object.entries(logs).map(([name, v]) => scalarValue(`batch_${name}`, v));
    if (values.length > 0) this.pending.push(encodeEvent(nowSeconds(), this.globalBatch, { summary: values }));
  }

  override onEpochEnd(epoch: number, logs: Logs): void {
    const wall = nowSeconds();
    const train: Uint8Array[] = [];
    const validation: Uint8Array[] = [];
    for (const [name, v] of Object.entries(logs)) {
      if (name.startsWith('val_')) validation.push(scalarValue(`epoch_${name.slice(4)}`, v));
      else train.push(scalarValue(`epoch_${name}`, v));
    }
    const events = this.pending;
    this.pending = [];
    if (train.length > 0) events.push(encodeEvent(wall, epoch, { summary: train }));
    if (this.histogramFreq > 0 && epoch % this.histogramFreq === 0) {
      const weights = (this.model as { weights?: readonly NamedWeight[] } | null)?.weights ?? [];
      const histos = weights.map((w) => histogramValue(`${w.name.replace(/:/g, '_')}/histogram`, w.data));
      if (histos.length > 0) events.push(encodeEvent(wall, epoch, { summary: histos }));
    }
    if (events.length > 0) this.writer('train').append(events);
    if (validation.length > 0) this.writer('validation').append([encodeEvent(wall, epoch, { summary: validation })]);
  }

  override onTrainEnd(): void {
    // Batch records after the last epoch end (training stopped mid-epoch).
    if (this.pending.length > 0) this.writer('train').append(this.pending);
    this.pending = [];
  }

  /** The run's writer, created (with its file_version record) on first use, as Keras creates its writers lazily. */
  private writer(run: 'train' | 'validation'): EventFileWriter {
    let w = this.writers.get(run);
    if (!w) {
      w = new EventFileWriter(path.join(this.logDir, run));
      this.writers.set(run, w);
      this.files.push(w.file);
    }
    return w;
  }
}

let fileCounter = 0;

/** Appends whole records to one new event file. */
class EventFileWriter {
  readonly file: string;

  constructor(dir: string) {
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new IOError(`TensorBoard: cannot create ${JSON.stringify(dir)}: ${(e as Error).message}`);
    }
    // TensorFlow's name: events.out.tfevents.<seconds>.<host>.<pid>.<counter> (the counter keeps
    // two writers of one process in one second apart).
    const name = `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${os.hostname()}.${process.pid}.${fileCounter++}`;
    this.file = path.join(dir, name);
    this.append([encodeEvent(nowSeconds(), 0, { fileVersion: 'brain.Event:2' })], 'wx');
  }

  /** Frame the events as records and append them with one write; on failure cut the file back. */
  append(events: readonly Uint8Array[], flag: 'a' | 'wx' = 'a'): void {
    appendWhole('TensorBoard', this.file, Buffer.concat(events.map(frameRecord)), flag);
  }
}

const nowSeconds = () => Date.now() / 1000;

// ---- Record framing -----------------------------------------------------------------------

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1; // Castagnoli, reflected
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli) of bytes. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TensorFlow's masked CRC (tensorflow/core/lib/hash/crc32c.h: Mask). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function frameRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

// ---- Protobuf encoding --------------------------------------------------------------------
// Field numbers from tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto.
// A tag is (field_number << 3) | wire_type, wire types 0 varint, 1 fixed64, 2 length-delimited,
// 5 fixed32. Zero values are written too: Summary.Value's `value` is a oneof, and an omitted
// simple_value of 0 would leave it unset.

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

/** Appends protobuf fields to a growing list of chunks. */
class ProtoWriter {
  private chunks: Uint8Array[] = [];

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** A non-negative integer up to 2^53 as a base-128 varint. */
  varint(n: number): void {
    const bytes: number[] = [];
    while (n >= 0x80) {
      bytes.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    bytes.push(n);
    this.chunks.push(Uint8Array.from(bytes));
  }

  uint64(field: number, n: number): void {
    this.tag(field, VARINT);
    this.varint(n);
  }

  double(field: number, v: number): void {
    this.tag(field, FIXED64);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.chunks.push(b);
  }

  float(field: number, v: number): void {
    this.tag(field, FIXED32);
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.chunks.push(b);
  }

  bytes(field: number, data: Uint8Array): void {
    this.tag(field, LEN);
    this.varint(data.length);
    this.chunks.push(data);
  }

  string(field: number, s: string): void {
    this.bytes(field, Buffer.from(s, 'utf8'));
  }

  packedDoubles(field: number, values: ArrayLike<number>): void {
    const b = Buffer.alloc(8 * values.length);
    for (let i = 0; i < values.length; i++) b.writeDoubleLE(values[i]!, 8 * i);
    this.bytes(field, b);
  }

  finish(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

/** Event { double wall_time = 1; int64 step = 2; oneof { string file_version = 3; Summary summary = 5; } } */
export function encodeEvent(wallTime: number, step: number, what: { fileVersion: string } | { summary: Uint8Array[] }): Uint8Array {
  const w = new ProtoWriter();
  w.double(1, wallTime);
  w.uint64(2, step);
  if ('fileVersion' in what) {
    w.string(3, what.fileVersion);
  } else {
    // Summary { repeated Value value = 1; }
    const s = new ProtoWriter();
    for (const value of what.summary) s.bytes(1, value);
    w.bytes(5, s.finish());
  }
  return w.finish();
}

/** Summary.Value { string tag = 1; float simple_value = 2; } */
function scalarValue(tag: string, value: number): Uint8Array {
  const w = new ProtoWriter();
  w.string(1, tag);
  w.float(2, value);
  return w.finish();
}

/** Summary.Value { string tag = 1; HistogramProto histo = 5; } */
function histogramValue(tag: string, data: Float32Array): Uint8Array {
  const w = new ProtoWriter();
  w.string(1, tag);
  w.bytes(5, encodeHistogram(data));
  return w.finish();
}

/**
 * HistogramProto { double min = 1; max = 2; num = 3; sum = 4; sum_squares = 5;
 *   repeated double bucket_limit = 6 [packed]; repeated double bucket = 7 [packed]; }
 * Bucket i counts values in (bucket_limit[i-1], bucket_limit[i]] (the first from -DBL_MAX). We use
 * HISTOGRAM_BUCKETS equal-width buckets over [min, max] (one bucket when all values are equal);
 * non-finite values are left out.
 */
export function histogramStats(data: ArrayLike<number>): {
  min: number; max: number; num: number; sum: number; sumSquares: number; bucketLimit: number[]; bucket: number[];
} {
  let min = Infinity, max = -Infinity, num = 0, sum = 0, sumSquares = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    num++;
    sum += v;
    sumSquares += v * v;
  }
  if (num === 0) return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
  if (min === max) return { min, max, num, sum, sumSquares, bucketLimit: [max], bucket: [num] };
  const k = HISTOGRAM_BUCKETS;
  const width = (max - min) / k;
  const bucketLimit = Array.from({ length: k }, (_, i) => (i === k - 1 ? max : min + (i + 1) * width));
  const bucket = new Array<number>(k).fill(0);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) continue;
    let b = Math.ceil((v - min) / width) - 1;
    if (b < 0) b = 0;
    if (b >= k) b = k - 1;
    // Floating-point edges: move to the bucket whose (lower, upper] really holds v.
    while (b > 0 && v <= bucketLimit[b - 1]!) b--;
    while (b < k - 1 && v > bucketLimit[b]!) b++;
    bucket[b] = bucket[b]! + 1;
  }
  return { min, max, num, sum, sumSquares, bucketLimit, bucket };
}

function encodeHistogram(data: Float32Array): Uint8Array {
  const h = histogramStats(data);
  const w = new ProtoWriter();
  w.double(1, h.min);
  w.double(2, h.max);
  w.double(3, h.num);
  w.double(4, h.sum);
  w.double(5, h.sumSquares);
  w.packedDoubles(6, h.bucketLimit);
  w.packedDoubles(7, h.bucket);
  return w.finish();
}
