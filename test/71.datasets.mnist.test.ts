/**
 * The MNIST loader: folder, cache and download (MD5-checked, with progress when verbose), on small
 * generated IDX files served by a local HTTP server on 127.0.0.1; nothing touches the internet.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IOError, ValueError } from '../src/errors';
import { encodeIdx, fashionMnist, mnist } from '../src/datasets';
import type { MnistFile } from '../src/datasets/mnist';

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-mnist-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** n images whose pixel p of image i is (7i + p) mod 256, and digit labels (3i + salt) mod 10. */
function split(n: number, salt: number): { images: Uint8Array; labels: Uint8Array } {
  return {
    images: Uint8Array.from({ length: n * 784 }, (_, k) => (7 * Math.floor(k / 784) + (k % 784) + salt) % 256),
    labels: Uint8Array.from({ length: n }, (_, i) => (3 * i + salt) % 10),
  };
}
const thirds = (n: number): [number, number] => [Math.floor(n / 3), Math.floor((2 * n) / 3)];
const train = split(24, 1);
const test = split(8, 4);

const gz: Record<MnistFile, Buffer> = {
  'train-images-idx3-ubyte': encodeIdx(train.images, [24, 28, 28], { gzip: true }),
  'train-labels-idx1-ubyte': encodeIdx(train.labels, [24], { gzip: true }),
  't10k-images-idx3-ubyte': encodeIdx(test.images, [8, 28, 28], { gzip: true }),
  't10k-labels-idx1-ubyte': encodeIdx(test.labels, [8], { gzip: true }),
};
const md5 = Object.fromEntries(
  Object.entries(gz).map(([name, bytes]) => [name, crypto.createHash('md5').update(bytes).digest('hex')]),
) as Record<MnistFile, string>;

function expectData(data: mnist.Mnist): void {
  expect(data.train.x.shape).toEqual([24, 28, 28]);
  expect(data.test.x.shape).toEqual([8, 28, 28]);
  expect(Array.from(data.train.y.data)).toEqual(Array.from(train.labels));
  expect(Array.from(data.test.y.data)).toEqual(Array.from(test.labels));
  // Image 5, pixel 100 of train: (35 + 100 + 1) mod 256 = 136, scaled by 1/255.
  expect(data.train.x.data[5 * 784 + 100]).toBeCloseTo(136 / 255, 7);
  expect(data.test.x.data[3 * 784 + 250]).toBeCloseTo(((21 + 250 + 4) % 256) / 255, 7);
}

describe('mnist: constants and options', () => {
  it('checks downloads against the official MD5s torchvision lists for the .gz files', () => {
    // pytorch/vision torchvision/datasets/mnist.py, MNIST.resources.
    expect(mnist.OFFICIAL_MD5).toEqual({
      'train-images-idx3-ubyte': 'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      'train-labels-idx1-ubyte': 'd53e105ee54ea40749a09fcbcd1e9432',
      't10k-images-idx3-ubyte': '9fb629c4189551a2d022fa330f9573f3',
      't10k-labels-idx1-ubyte': 'ec29112dd5afa0611ce80d1b7f02629c',
    });
    expect(mnist.DEFAULT_BASE_URL).toBe('https://ossci-datasets.s3.amazonaws.com/mnist/');
    expect(mnist.FILES).toEqual(fashionMnist.FILES);
    expect(mnist.CLASS_NAMES).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('echoes bad options, naming mnist.load', async () => {
    const cases: [unknown, string[]][] = [
      [{ npmPackageDir: '/x' }, ['mnist.load', 'unknown option "npmPackageDir"', `'timeoutMs'`]],
      [{ source: 'npm' }, ['mnist.load source', '"npm"', `'download'`]],
      [{ baseUrl: 'file:///tmp/' }, ['baseUrl', '"file:///tmp/"']],
      [{ verbose: 1 }, ['verbose must be a boolean, received 1']],
      [{ source: 'dir' }, [`source 'dir' needs the dir option`]],
      [{ checksums: { ...md5, 'train-images-idx3-ubyte': '12' } }, [`checksums['train-images-idx3-ubyte']`, '"12"']],
    ];
    for (const [options, parts] of cases) {
      const err = await rejection(() => mnist.load(options as mnist.LoadOptions));
      expect(err).toBeInstanceOf(ValueError);
      for (const p of parts) expect(err.message).toContain(p);
    }
  });
});

describe('mnist: dir and cache', () => {
  it('reads a folder of .gz files', async () => {
    const dir = tmpDir();
    for (const [name, bytes] of Object.entries(gz)) fs.writeFileSync(path.join(dir, `${name}.gz`), bytes);
    expectData(await mnist.load({ dir, cacheDir: tmpDir() }));
  });

  it('keeps its own cache folder, separate from Fashion-MNIST', async () => {
    const cacheDir = tmpDir();
    fs.mkdirSync(path.join(cacheDir, 'mnist'));
    for (const [name, bytes] of Object.entries(gz)) fs.writeFileSync(path.join(cacheDir, 'mnist', `${name}.gz`), bytes);
    expectData(await mnist.load({ cacheDir, download: false }));
    const err = await rejection(() => fashionMnist.load({ cacheDir, source: 'cache' }));
    expect(err.message).toContain(path.join(cacheDir, 'fashion-mnist'));
  });

  it('says where it looked when nothing is found and download is false', async () => {
    const cacheDir = tmpDir();
    const err = await rejection(() => mnist.load({ cacheDir, download: false }));
    expect(err).toBeInstanceOf(IOError);
    expect(err.message).toContain(`MNIST not found: no dir given, cache folder ${path.join(cacheDir, 'mnist')} lacks`);
    expect(err.message).toContain('and download is false');
  });
});

describe('mnist: download from a local mirror', () => {
  let server: http.Server;
  let root = '';
  const hits: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      hits.push(url);
      const [, area, name] = url.split('/');
      const bytes = gz[(name ?? '').replace(/\.gz$/, '') as MnistFile];
      if (bytes === undefined) {
        res.writeHead(404);
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': bytes.length });
      if (area === 'slow' && name === 'train-images-idx3-ubyte.gz') {
        // A third now, a third after the 1 s progress interval (a verbose load reports the
        // percentage then), the rest soon after.
        const [a, b] = thirds(bytes.length);
        res.write(bytes.subarray(0, a));
        setTimeout(() => res.write(bytes.subarray(a, b)), 1100);
        setTimeout(() => res.end(bytes.subarray(b)), 1200);
      } else {
        res.end(bytes);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('downloads, verifies the MD5s, caches the .gz files byte for byte, then reads the cache', async () => {
    const cacheDir = tmpDir();
    hits.length = 0;
    expectData(await mnist.load({ baseUrl: `${root}/files/`, cacheDir, checksums: md5 }));
    expect(hits.sort()).toEqual(mnist.FILES.map((f) => `/files/${f}.gz`).sort());
    for (const f of mnist.FILES) {
      expect(fs.readFileSync(path.join(cacheDir, 'mnist', `${f}.gz`)).equals(gz[f])).toBe(true);
    }
    hits.length = 0;
    expectData(await mnist.load({ baseUrl: `${root}/files/`, cacheDir }));
    expect(hits).toEqual([]);
  });

  it('rejects files that are not the official ones, caching nothing', async () => {
    const cacheDir = tmpDir();
    const err = await rejection(() => mnist.load({ baseUrl: `${root}/files/`, cacheDir }));
    expect(err).toBeInstanceOf(IOError);
    expect(err.message).toContain(
      `${root}/files/train-images-idx3-ubyte.gz: MD5 checksum mismatch, expected f68b3c2dcbeaaa9fbdd348bbdeb94873, received ${md5['train-images-idx3-ubyte']}`,
    );
    expect(fs.existsSync(path.join(cacheDir, 'mnist'))).toBe(false);
  });

  it('names the URL of a missing file', async () => {
    const err = await rejection(() => mnist.load({ source: 'download', baseUrl: `${root}/files/nope/`, cacheDir: tmpDir() }));
    expect(err.message).toContain(`GET ${root}/files/nope/train-images-idx3-ubyte.gz: HTTP 404`);
  });

  it('reports progress on stderr when verbose, and nothing otherwise', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      await mnist.load({ source: 'download', baseUrl: `${root}/files/`, cacheDir: tmpDir(), checksums: md5 });
      expect(lines).toEqual([]);
      await mnist.load({ source: 'download', baseUrl: `${root}/slow/`, cacheDir: tmpDir(), checksums: md5, verbose: true });
    } finally {
      spy.mockRestore();
    }
    const text = lines.join('');
    const size = gz['train-images-idx3-ubyte'].length;
    expect(text).toContain(`deepnode: downloading ${root}/slow/train-images-idx3-ubyte.gz (${(size / 2 ** 20).toFixed(1)} MiB)`);
    // The progress line when the second third arrives: two thirds of the file, rounded.
    const pct = Math.round((100 * thirds(size)[1]) / size);
    expect(pct).toBeGreaterThan(60);
    expect(text).toContain(`deepnode:   0.0 MiB ${pct}%\n`);
    expect(text).toContain(`done, ${size} bytes`);
    expect(text).toContain(`MD5 ${md5['t10k-labels-idx1-ubyte']} verified`);
    expect(text).toContain('cached MNIST in');
  });
});
