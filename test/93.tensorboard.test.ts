/**
 * The TensorBoard callback's event files, checked against the format's specification rather than
 * against our encoder: records are split by hand (tensorflow/core/lib/io/record_writer.cc framing),
 * both CRCs recomputed with an independent bitwise CRC32C (checked on the standard test vector), and
 * each record decoded with protobufjs from .proto text written here with the field numbers of
 * tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto. The decoded scalars
 * must equal the History (as float32), the batch scalars the batch logs, and the histograms the
 * weights at each epoch end.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import protobuf from 'protobufjs';
import { Tensor } from '../src/tensor';
import * as callbacks from '../src/callbacks';
import { Sequential } from '../src/models/sequential';
import * as layers from '../src/layers';
import * as optimizers from '../src/optimizers';
import { setSeed } from '../src/random';
import { ValueError } from '../src/errors';

const PROTO = `
syntax = "proto3";
package tensorflow;
message HistogramProto {
  double min = 1;
  double max = 2;
  double num = 3;
  double sum = 4;
  double sum_squares = 5;
  repeated double bucket_limit = 6 [packed = true];
  repeated double bucket = 7 [packed = true];
}
message Summary {
  message Value {
    string node_name = 7;
    string tag = 1;
    oneof value {
      float simple_value = 2;
      bytes obsolete_old_style_histogram = 3;
      HistogramProto histo = 5;
    }
  }
  repeated Value value = 1;
}
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    bytes graph_def = 4;
    Summary summary = 5;
    bytes meta_graph_def = 9;
  }
}
`;
const Event = protobuf.parse(PROTO, { keepCase: true }).root.lookupType('tensorflow.Event');

/** CRC-32C, bit by bit from the reflected Castagnoli polynomial (no table, unlike src). */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
/** tensorflow/core/lib/hash/crc32c.h: Mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8, in uint32. */
function mask(crc: number): number {
  const rotated = (Math.floor(crc / 2 ** 15) + (crc % 2 ** 15) * 2 ** 17) % 2 ** 32;
  return (rotated + 0xa282ead8) % 2 ** 32;
}

interface DecodedValue {
  tag: string;
  simple_value?: number;
  histo?: { min: number; max: number; num: number; sum: number; sum_squares: number; bucket_limit: number[]; bucket: number[] };
  value?: string;
}
interface DecodedEvent {
  wall_time: number;
  step: number;
  file_version?: string;
  summary?: { value: DecodedValue[] };
}

/** Split a file into records, checking both CRCs of each, and decode every record as an Event. */
function readEvents(file: string): DecodedEvent[] {
  const buf = fs.readFileSync(file);
  const events: DecodedEvent[] = [];
  let off = 0;
  while (off < buf.length) {
    expect(buf.length - off).toBeGreaterThanOrEqual(16);
    const lengthBytes = buf.subarray(off, off + 8);
    const length = Number(buf.readBigUInt64LE(off));
    expect(buf.readUInt32LE(off + 8)).toBe(mask(crc32cBitwise(lengthBytes)));
    const data = buf.subarray(off + 12, off + 12 + length);
    expect(data.length).toBe(length);
    expect(buf.readUInt32LE(off + 12 + length)).toBe(mask(crc32cBitwise(data)));
    const message = Event.decode(data);
    const event = Event.toObject(message, { longs: Number, oneofs: true }) as DecodedEvent;
    event.step ??= 0; // proto3 default (we write it anyway; the decoder leaves an explicit 0 out)
    events.push(event);
    off += 12 + length + 4;
  }
  expect(off).toBe(buf.length); // the file ends with a whole record
  return events;
}

function eventFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith('events.out.tfevents.')).map((f) => path.join(dir, f));
}

/** tag -> step -> value, from every summary event. */
function scalars(events: DecodedEvent[]): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const e of events) {
    for (const v of e.summary?.value ?? []) {
      if (v.value !== 'simple_value') continue;
      if (!out.has(v.tag)) out.set(v.tag, new Map());
      const byStep = out.get(v.tag)!;
      expect(byStep.has(e.step)).toBe(false);
      byStep.set(e.step, v.simple_value!);
    }
  }
  return out;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-tb-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('CRC32C reference', () => {
  it('matches the standard check value CRC32C("123456789") = 0xE3069283', () => {
    expect(crc32cBitwise(Buffer.from('123456789', 'ascii'))).toBe(0xe3069283);
    // iSCSI (RFC 3720 B.4) vector: 32 bytes of zeros.
    expect(crc32cBitwise(new Uint8Array(32))).toBe(0x8a9136aa);
  });
});

describe('tensorBoard callback: event files', () => {
  it('writes the file version, per-epoch and per-batch scalars and weight histograms that decode to the training values', async () => {
    setSeed(7);
    const n = 40;
    const x = Tensor.from(Array.from({ length: n * 3 }, (_, i) => Math.sin(i * 0.7)), [n, 3]);
    const y = Tensor.from(Array.from({ length: n }, (_, i) => (Math.cos(i) > 0 ? 1 : 0)), [n, 1]);
    const xv = Tensor.from(Array.from({ length: 12 * 3 }, (_, i) => Math.cos(i * 0.3)), [12, 3]);
    const yv = Tensor.from(Array.from({ length: 12 }, (_, i) => i % 2), [12, 1]);
    const model = new Sequential([layers.dense({ units: 4, activation: 'relu', inputShape: [3] }), layers.dense({ units: 1, activation: 'sigmoid' })]);
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'binaryCrossentropy', metrics: ['accuracy'] });

    const batchLogs: Record<string, number>[] = [];
    const weightsAtEpochEnd: Map<string, Float32Array>[] = [];
    const spy = callbacks.lambda({
      onBatchEnd: (_b, logs) => void batchLogs.push({ ...logs }),
      onEpochEnd: () => void weightsAtEpochEnd.push(new Map(model.weights.map((w) => [w.name, Float32Array.from(w.data)]))),
    });
    const tb = callbacks.tensorBoard({ logDir: dir, updateFreq: 2, histogramFreq: 2 });
    const epochs = 3;
    const history = await model.fit(x, y, { epochs, batchSize: 8, verbose: 0, validationData: [xv, yv], callbacks: [spy, tb] });

    const trainFiles = eventFiles(path.join(dir, 'train'));
    const valFiles = eventFiles(path.join(dir, 'validation'));
    expect(trainFiles).toHaveLength(1);
    expect(valFiles).toHaveLength(1);
    expect(path.basename(trainFiles[0]!)).toMatch(new RegExp(`^events\\.out\\.tfevents\\.\\d+\\.${os.hostname().replace(/\./g, '\\.')}\\.`));

    const train = readEvents(trainFiles[0]!);
    const validation = readEvents(valFiles[0]!);
    for (const events of [train, validation]) {
      expect(events[0]!.file_version).toBe('brain.Event:2');
      expect(events.slice(1).every((e) => e.summary !== undefined)).toBe(true);
      for (const e of events) expect(Math.abs(e.wall_time - Date.now() / 1000)).toBeLessThan(120);
    }

    // Epoch scalars: train logs as epoch_<name>, val_<name> as epoch_<name> in the validation run.
    const t = scalars(train);
    const v = scalars(validation);
    const steps = [0, 1, 2];
    for (const name of ['loss', 'accuracy', 'learning_rate']) {
      expect([...t.get(`epoch_${name}`)!.keys()]).toEqual(steps);
      for (const e of steps) expect(t.get(`epoch_${name}`)!.get(e)).toBe(Math.fround(history.history[name]![e]!));
    }
    for (const name of ['loss', 'accuracy']) {
      expect([...v.get(`epoch_${name}`)!.keys()]).toEqual(steps);
      for (const e of steps) expect(v.get(`epoch_${name}`)!.get(e)).toBe(Math.fround(history.history[`val_${name}`]![e]!));
    }
    expect([...v.keys()].sort()).toEqual(['epoch_accuracy', 'epoch_loss']);

    // Batch scalars every 2nd batch, at step = batches seen (1-based), 5 batches an epoch.
    expect(batchLogs).toHaveLength(15);
    const batchSteps = [2, 4, 6, 8, 10, 12, 14];
    for (const name of ['loss', 'accuracy']) {
      expect([...t.get(`batch_${name}`)!.keys()]).toEqual(batchSteps);
      for (const s of batchSteps) expect(t.get(`batch_${name}`)!.get(s)).toBe(Math.fround(batchLogs[s - 1]![name]!));
    }

    // Histograms at epochs 0 and 2 (histogramFreq 2), one per weight, from the weights at that epoch end.
    const histos = train.flatMap((e) => (e.summary?.value ?? []).filter((x) => x.value === 'histo').map((x) => ({ step: e.step, ...x })));
    const names = model.weights.map((w) => w.name);
    expect(names.map((nm) => nm.replace(/^.*\//, ''))).toEqual(['kernel', 'bias', 'kernel', 'bias']);
    expect(histos.map((h) => `${h.step}:${h.tag}`)).toEqual([0, 2].flatMap((s) => names.map((nm) => `${s}:${nm}/histogram`)));
    for (const h of histos) {
      const values = Array.from(weightsAtEpochEnd[h.step]!.get(h.tag.replace(/\/histogram$/, ''))!);
      const p = h.histo!;
      expect(p.min).toBe(Math.min(...values));
      expect(p.max).toBe(Math.max(...values));
      expect(p.num).toBe(values.length);
      expect(p.sum).toBeCloseTo(values.reduce((a, b) => a + b, 0), 12);
      expect(p.sum_squares).toBeCloseTo(values.reduce((a, b) => a + b * b, 0), 12);
      // HistogramProto: bucket i counts (bucket_limit[i-1], bucket_limit[i]], the first from -DBL_MAX.
      const limits = p.bucket_limit;
      const counts = p.bucket;
      expect(limits.length).toBe(counts.length);
      expect(limits[limits.length - 1]).toBe(p.max);
      for (let i = 1; i < limits.length; i++) expect(limits[i]!).toBeGreaterThan(limits[i - 1]!);
      const expected = limits.map((hi, i) => values.filter((val) => val <= hi && (i === 0 || val > limits[i - 1]!)).length);
      expect(counts).toEqual(expected);
    }
  });

  it('writes a zero scalar (the oneof stays set), no validation run without val_ logs, and a new file per fit', () => {
    const tb = callbacks.tensorBoard({ logDir: dir });
    tb.setModel({ stopTraining: false });
    tb.onTrainBegin({});
    tb.onEpochEnd(0, { loss: 0, accuracy: 1 });
    tb.onEpochEnd(1, { loss: -2.5, accuracy: 0.25 });
    tb.onTrainEnd({});
    expect(fs.existsSync(path.join(dir, 'validation'))).toBe(false);
    const [file] = eventFiles(path.join(dir, 'train'));
    const events = readEvents(file!);
    expect(events).toHaveLength(3);
    const first = events[1]!.summary!.value.find((x) => x.tag === 'epoch_loss')!;
    expect(first.value).toBe('simple_value');
    expect(first.simple_value).toBe(0);
    expect(events[1]!.step).toBe(0);
    expect(scalars(events).get('epoch_loss')!.get(1)).toBe(-2.5);

    tb.onTrainBegin({});
    tb.onEpochEnd(0, { loss: 1 });
    expect(eventFiles(path.join(dir, 'train'))).toHaveLength(2);
  });

  it('histograms of a constant weight use one bucket', () => {
    const tb = callbacks.tensorBoard({ logDir: dir, histogramFreq: 1 });
    const w = { name: 'd/bias', data: new Float32Array(5).fill(0.5) };
    tb.setModel({ stopTraining: false, weights: [w] } as never);
    tb.onTrainBegin({});
    tb.onEpochEnd(0, { loss: 1 });
    const events = readEvents(eventFiles(path.join(dir, 'train'))[0]!);
    expect(events).toHaveLength(3); // file_version, epoch scalars, histograms
    const h = events[2]!.summary!.value.find((x) => x.value === 'histo')!;
    expect(h.tag).toBe('d/bias/histogram');
    expect(h.histo).toEqual({ min: 0.5, max: 0.5, num: 5, sum: 2.5, sum_squares: 1.25, bucket_limit: [0.5], bucket: [5] });
  });

  it('validates its options', () => {
    expect(() => callbacks.tensorBoard({ logDir: '' })).toThrow(ValueError);
    expect(() => callbacks.tensorBoard({ updateFreq: 0 })).toThrow(/updateFreq must be an integer >= 1, received updateFreq=0/);
    expect(() => callbacks.tensorBoard({ updateFreq: 'step' as never })).toThrow(/updateFreq must be 'epoch', 'batch' or a positive integer/);
    expect(() => callbacks.tensorBoard({ histogramFreq: -1 })).toThrow(/histogramFreq/);
    expect(() => callbacks.tensorBoard({ log_dir: 'x' } as never)).toThrow(/unknown option/);
    expect(callbacks.tensorBoard({ updateFreq: 'batch' }).updateFreq).toBe(1);
    expect(callbacks.tensorBoard().logDir).toBe('logs');
  });
});
