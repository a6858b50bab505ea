/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), unsigned-byte
 * arrays only:
 *
 *   bytes 0-1  zero
 *   byte  2    data type, 0x08 = unsigned byte (the only one supported here)
 *   byte  3    rank r
 *   then r big-endian uint32 dimensions, then the data, row-major, nothing after it.
 *
 * So images are magic 0x00000803 with shape [n, rows, cols] and labels 0x00000801 with shape [n].
 * Files may be raw or gzip-compressed (recognised by the gzip magic 1f 8b, not by the file name).
 * Every problem becomes an `IOError` that names the file and says what is wrong.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { IOError, ValueError, describe } from '../errors';

/** An unsigned-byte array read from an IDX file. */
export interface IdxArray {
  /** The values, row-major, `shape`'s product of them. */
  data: Uint8Array;
  /** The dimensions from the header, e.g. [60000, 28, 28] for images or [60000] for labels. */
  shape: number[];
}

/** Options of `decodeIdx`, `loadIdx` and `loadIdxSync`. */
export interface IdxReadOptions {
  /** Refuse files whose header declares more data bytes than this (default 1 GiB). */
  maxBytes?: number;
}

/** Options of `writeIdx`. */
export interface IdxWriteOptions {
  /** gzip the file; default: when the path ends in `.gz`. */
  gzip?: boolean;
}

const UBYTE = 0x08;
const MAX_RANK = 8;
const DEFAULT_MAX_BYTES = 2 ** 30;
const DTYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** True when `bytes` starts with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;

/**
 * Decode IDX bytes, raw or gzip-compressed. `name` (usually the file path) prefixes every error
 * message. The returned data is a copy that owns its memory.
 */
export function decodeIdx(bytes: Uint8Array, name: string, options: IdxReadOptions = {}): IdxArray {
  const maxBytes = checkMaxBytes(options.maxBytes);
  let raw = bytes;
  if (isGzip(bytes)) {
    try {
      // The cap bounds memory for corrupt or hostile input before the header can even be read.
      raw = zlib.gunzipSync(bytes, { maxOutputLength: maxBytes + 4 + 4 * MAX_RANK });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        throw new IOError(`${name}: gzip data expands beyond the ${maxBytes}-byte limit; the file is corrupt or not IDX`);
      }
      throw new IOError(`${name}: corrupt gzip data (${e.message})`);
    }
  }
  return parseIdxHeaderAndData(raw, name, maxBytes);
}

function parseIdxHeaderAndData(raw: Uint8Array, name: string, maxBytes: number): IdxArray {
  if (raw.length < 4) {
    throw new IOError(`${name}: too short for an IDX header, file has ${raw.length} bytes`);
  }
  if (raw[0] !== 0 || raw[1] !== 0) {
    const magic = ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0;
    throw new IOError(`${name}: not an IDX file, magic number is ${hex(magic, 8)}, expected 0x000008NN`);
  }
  const dtype = raw[2]!;
  if (dtype !== UBYTE) {
    const known = DTYPE_NAMES[dtype];
    throw new IOError(
      `${name}: unsupported IDX data type ${hex(dtype, 2)}${known ? ` (${known})` : ''}, only 0x08 (unsigned byte) is supported`,
    );
  }
  const rank = raw[3]!;
  if (rank < 1 || rank > MAX_RANK) {
    throw new IOError(`${name}: invalid IDX rank ${rank}, expected 1 to ${MAX_RANK}`);
  }
  const headerBytes = 4 + 4 * rank;
  if (raw.length < headerBytes) {
    throw new IOError(`${name}: truncated header, rank ${rank} needs ${headerBytes} bytes, file has ${raw.length}`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const shape: number[] = [];
  let declared = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    shape.push(d);
    declared *= d; // a float product; exact below 2^53, and anything near that is refused anyway
  }
  const dims = shape.join('x');
  if (declared > maxBytes) {
    throw new IOError(
      `${name}: header declares ${dims} = ${declared} bytes, more than the ${maxBytes}-byte limit; the file is corrupt or not IDX`,
    );
  }
  const actual = raw.length - headerBytes;
  if (actual < declared) {
    throw new IOError(`${name}: truncated, header declares ${dims} = ${declared} bytes, file has ${actual}`);
  }
  if (actual > declared) {
    throw new IOError(
      `${name}: header declares ${dims} = ${declared} bytes, file has ${actual} (${actual - declared} unexpected trailing bytes)`,
    );
  }
  // A plain Uint8Array (not a Buffer view) that owns its memory.
  return { data: new Uint8Array(raw.subarray(headerBytes, headerBytes + declared)), shape };
}

/** Read and decode an IDX file (raw or gzip). Throws `IOError` naming `file` on any problem. */
export async function loadIdx(file: string, options: IdxReadOptions = {}): Promise<IdxArray> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (err) {
    throw new IOError(`${file}: cannot read (${(err as Error).message})`);
  }
  return decodeIdx(bytes, file, options);
}

/** Synchronous `loadIdx`. */
export function loadIdxSync(file: string, options: IdxReadOptions = {}): IdxArray {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new IOError(`${file}: cannot read (${(err as Error).message})`);
  }
  return decodeIdx(bytes, file, options);
}

/** Encode an unsigned-byte array as IDX bytes (uncompressed unless `gzip`). */
export function encodeIdx(data: Uint8Array, shape: readonly number[], options: { gzip?: boolean } = {}): Buffer {
  if (!(data instanceof Uint8Array)) {
    throw new ValueError(`encodeIdx: expected data to be a Uint8Array, received ${describe(data)}`, 'ERR_DTYPE');
  }
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > MAX_RANK) {
    throw new ValueError(`encodeIdx: expected a shape of rank 1 to ${MAX_RANK}, received ${describe(shape)}`);
  }
  let size = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      throw new ValueError(`encodeIdx: invalid shape ${describe(shape)}, dimensions must be integers in 0..2^32-1`);
    }
    size *= d;
  }
  if (size !== data.length) {
    throw new ValueError(`encodeIdx: shape ${describe(shape)} needs ${size} bytes, received data of length ${data.length}`);
  }
  const headerBytes = 4 + 4 * shape.length;
  const out = Buffer.allocUnsafe(headerBytes + data.length);
  out.writeUInt32BE((UBYTE << 8) | shape.length, 0);
  shape.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(data, headerBytes);
  return options.gzip ? zlib.gzipSync(out) : out;
}

/**
 * Write `bytes` to `file` atomically: a temporary file in the same directory, then a rename, so
 * readers (and concurrent writers) see either the old file or the complete new one, never a part.
 * Creates the directory if needed.
 */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await fs.promises.mkdir(dir, { recursive: true });
    await fs.promises.writeFile(tmp, bytes);
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw new IOError(`${file}: cannot write (${(err as Error).message})`);
  }
}

/**
 * Write an unsigned-byte array as an IDX file, atomically (see `writeFileAtomic`). gzip-compressed
 * when `options.gzip` is true, or by default when `file` ends in `.gz`.
 */
export async function writeIdx(
  file: string,
  data: Uint8Array,
  shape: readonly number[],
  options: IdxWriteOptions = {},
): Promise<void> {
  const gzip = options.gzip ?? file.endsWith('.gz');
  await writeFileAtomic(file, encodeIdx(data, shape, { gzip }));
}

function checkMaxBytes(maxBytes: number | undefined): number {
  if (maxBytes === undefined) return DEFAULT_MAX_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new ValueError(`IDX: maxBytes must be a non-negative integer, received ${describe(maxBytes)}`);
  }
  return maxBytes;
}
