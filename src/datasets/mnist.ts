/**
 * MNIST (LeCun, Cortes & Burges, http://yann.lecun.com/exdb/mnist/): 28x28 grayscale handwritten
 * digits 0..9, 60000 for training and 10000 for testing, in the same four IDX files as
 * Fashion-MNIST (`idx_dataset.ts` holds the shared folder, cache and download code).
 *
 * `load()` reads `dir` if given, else the cache (`<cacheDir>/mnist`), else downloads the four `.gz`
 * files from `DEFAULT_BASE_URL`, checks each against its official MD5 and caches them as they are.
 * Images come back as float32 in [0, 1] with shape [n, 28, 28], labels as float32 digits [n].
 */
import {
  Checksums,
  CommonLoadOptions,
  DatasetSpec,
  IDX_FILES,
  IdxFile,
  ImageDataset,
  loadRawDataset,
  resolveOptions,
  toTensors,
} from './idx_dataset';

export { defaultCacheDir } from './idx_dataset';
export type { RawImageDataset as RawMnist, RawSplit, Split } from './idx_dataset';

/** Class names, indexed by label id: the digit itself. */
export const CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;

/** The four standard file names, without the `.gz` suffix. */
export type MnistFile = IdxFile;

/**
 * The four file names in load order: train images, train labels, t10k images, t10k labels
 * (without `.gz`).
 */
export const FILES: readonly MnistFile[] = IDX_FILES;

/**
 * MD5 of the official `.gz` files (the same bytes on every mirror), as torchvision checks them
 * (pytorch/vision `torchvision/datasets/mnist.py`, `MNIST.resources`).
 */
export const OFFICIAL_MD5: Checksums = Object.freeze({
  'train-images-idx3-ubyte': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
  'train-labels-idx1-ubyte': 'd53e105ee54ea40749a09fcbcd1e9432',
  't10k-images-idx3-ubyte': '9fb629c4189551a2d022fa330f9573f3',
  't10k-labels-idx1-ubyte': 'ec29112dd5afa0611ce80d1b7f02629c',
});

/**
 * The public mirror torchvision downloads from (yann.lecun.com, the original host, often refuses
 * downloads now).
 */
export const DEFAULT_BASE_URL = 'https://ossci-datasets.s3.amazonaws.com/mnist/';

/** Where `load()` reads the data from; see `LoadOptions` (default 'auto'). */
export type MnistSource = 'auto' | 'dir' | 'cache' | 'download';
const SOURCES: readonly MnistSource[] = ['auto', 'dir', 'cache', 'download'];

/**
 * `source` (default 'auto') tries, in order: `dir` if given; the cache folder if it holds all four
 * files; a download (unless `download` is false). 'dir', 'cache' and 'download' force one source;
 * 'download' refreshes the cache. The other options are described in `CommonLoadOptions`.
 */
export type LoadOptions = CommonLoadOptions<MnistSource>;

/**
 * What `load()` returns: `train` (60000 samples) and `test` (10000), each `{ x, y }` with images
 * [n, 28, 28] in [0, 1] and labels [n] as digits 0..9. Keras: `keras.datasets.mnist.load_data()`
 * (which returns uint8 arrays as `((x_train, y_train), (x_test, y_test))`).
 */
export type Mnist = ImageDataset;

const SPEC: DatasetSpec = {
  title: 'MNIST',
  where: 'mnist.load',
  folder: 'mnist',
  md5: OFFICIAL_MD5,
  baseUrl: DEFAULT_BASE_URL,
};

/** Load MNIST as float32 tensors; see `LoadOptions` for where the data comes from. */
export async function load(options: LoadOptions = {}): Promise<Mnist> {
  const raw = await loadRawDataset(SPEC, resolveOptions(SPEC, options, SOURCES));
  return { train: toTensors(raw.train), test: toTensors(raw.test) };
}
