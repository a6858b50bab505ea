// Export the benchmark's training data for the peer scripts (PyTorch, TensorFlow.js), read through
// deepnode's own Fashion-MNIST loader so every framework trains on byte-identical inputs.
//   node bench/peers/export-data.mjs [--n 55000] [--out bench/.peers/data] [--force]
// Writes <out>/train-x-<n>.f32 (raw little-endian float32 [n, 784], pixels in [0, 1]),
// <out>/train-y-<n>.u8 (uint8 [n], class ids 0..9) and <out>/train-<n>.json (shape, source).
// Does nothing when both files already exist with the right size (unless --force).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
export const DEFAULT_DATA_DIR = path.join(REPO, 'bench', '.peers', 'data');
export const DEFAULT_N = 55000;
const PIXELS = 784;

/** The three paths for n samples in dir. */
export function dataFiles(dir = DEFAULT_DATA_DIR, n = DEFAULT_N) {
  return {
    x: path.join(dir, `train-x-${n}.f32`),
    y: path.join(dir, `train-y-${n}.u8`),
    meta: path.join(dir, `train-${n}.json`),
  };
}

function sizeOf(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/** True when the exported files for n samples exist with the right sizes. */
export function haveData(dir = DEFAULT_DATA_DIR, n = DEFAULT_N) {
  const f = dataFiles(dir, n);
  return sizeOf(f.x) === n * PIXELS * 4 && sizeOf(f.y) === n;
}

/** Write the first n training images/labels to dir (skipped when already there). Returns the paths. */
export async function exportData({ n = DEFAULT_N, dir = DEFAULT_DATA_DIR, force = false, log = console.error } = {}) {
  if (!Number.isInteger(n) || n < 1 || n > 60000) throw new Error(`export-data: n must be an integer in 1..60000, received n=${n}`);
  const files = dataFiles(dir, n);
  if (!force && haveData(dir, n)) {
    log(`export-data: ${files.x} and ${files.y} already exist, skipping`);
    return files;
  }
  const require = createRequire(import.meta.url);
  const dn = require(path.join(REPO, 'dist', 'cjs', 'index.js'));
  const { train } = await dn.datasets.fashionMnist.load();
  const x = train.x.data;
  const y = train.y.data;
  if (train.x.shape[0] < n || x.length !== train.x.shape[0] * PIXELS) {
    throw new Error(`export-data: unexpected training images shape [${train.x.shape}]`);
  }
  const xs = x.subarray(0, n * PIXELS);
  const ys = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (!(Number.isInteger(v) && v >= 0 && v <= 9)) throw new Error(`export-data: label ${i} is ${v}, expected 0..9`);
    ys[i] = v;
  }
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('export-data: big-endian host not supported');
  fs.mkdirSync(dir, { recursive: true });
  // Write to temporary names then rename, so a half-written file is never taken for a finished one.
  const tmpX = `${files.x}.tmp${process.pid}`;
  const tmpY = `${files.y}.tmp${process.pid}`;
  fs.writeFileSync(tmpX, new Uint8Array(xs.buffer, xs.byteOffset, xs.byteLength));
  fs.writeFileSync(tmpY, ys);
  fs.renameSync(tmpX, files.x);
  fs.renameSync(tmpY, files.y);
  fs.writeFileSync(
    files.meta,
    JSON.stringify({ dataset: 'fashion-mnist', split: 'train', n, x: { dtype: 'float32', shape: [n, PIXELS], range: [0, 1] }, y: { dtype: 'uint8', shape: [n] }, loader: 'deepnode datasets.fashionMnist.load()' }, null, 2) + '\n',
  );
  log(`export-data: wrote ${n} images to ${files.x} and labels to ${files.y}`);
  return files;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  try {
    await exportData({ n: Number(opt('n', DEFAULT_N)), dir: path.resolve(opt('out', DEFAULT_DATA_DIR)), force: args.includes('--force') });
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
