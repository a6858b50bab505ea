/**
 * plotHistory and plot.render: the chart's data rows hold exactly the History's series, the files
 * written are what their extension says (an SVG whose line paths have one vertex per finite epoch,
 * a PNG with the right size that is not blank, an offline HTML page with the SVG and the spec), the
 * learning-rate panel appears only when the rate changes, writes are atomic, inputs are validated,
 * and the ES-module loading works from a CommonJS build as well as under vitest.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { plotHistory, historySpec, render } from '../src/plot';
import type { HistoryPoint } from '../src/plot';
import { Tensor } from '../src/tensor';
import { Sequential } from '../src/models/sequential';
import * as layers from '../src/layers';
import * as optimizers from '../src/optimizers';
import { setSeed } from '../src/random';
import { ValueError } from '../src/errors';

const root = path.resolve(__dirname, '..');

const HISTORY = {
  loss: [0.9, 0.6, 0.5, 0.45],
  accuracy: [0.7, 0.8, 0.83, 0.85],
  val_loss: [0.7, NaN, 0.5, 0.48],
  val_accuracy: [0.75, 0.81, 0.83, 0.84],
  learning_rate: [0.01, 0.01, 0.005, 0.005],
};

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-plot-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The `d` attributes of the line marks' paths, per <g class="mark-line ..."> group, in order. */
function linePaths(svg: string): string[] {
  const out: string[] = [];
  for (const group of svg.split('<g class="mark-line role-mark').slice(1)) {
    const body = group.slice(0, group.indexOf('</g>'));
    for (const m of body.matchAll(/<path [^>]*\bd="([^"]*)"/g)) out.push(m[1]!);
  }
  return out;
}

/** Vertices per sub-path of an SVG path: "M1,2L3,4L5,6M7,8L9,10" -> [3, 2]. */
function segments(d: string): number[] {
  return d
    .split('M')
    .filter((s) => s.length > 0)
    .map((s) => s.split('L').length);
}

function pngInfo(bytes: Buffer): { width: number; height: number; distinctBytes: number } {
  expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(bytes.toString('ascii', 12, 16)).toBe('IHDR');
  const idat: Buffer[] = [];
  for (let off = 8; off < bytes.length; ) {
    const len = bytes.readUInt32BE(off);
    if (bytes.toString('ascii', off + 4, off + 8) === 'IDAT') idat.push(bytes.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const pixels = zlib.inflateSync(Buffer.concat(idat));
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20), distinctBytes: new Set(pixels).size };
}

describe('historySpec', () => {
  it('holds one row per epoch and series, 1-based epochs, NaN as a gap, val_* as validation', () => {
    const spec = historySpec(HISTORY) as { vconcat: { data: { values: HistoryPoint[] } }[] };
    expect(spec.vconcat).toHaveLength(2); // the rate changes: curves, then the learning-rate panel
    const rows = spec.vconcat[0]!.data.values;
    expect(rows).toHaveLength(16);
    expect(rows.filter((r) => r.series === 'val_loss')).toEqual([
      { epoch: 1, metric: 'loss', split: 'validation', series: 'val_loss', value: 0.7 },
      { epoch: 2, metric: 'loss', split: 'validation', series: 'val_loss', value: null },
      { epoch: 3, metric: 'loss', split: 'validation', series: 'val_loss', value: 0.5 },
      { epoch: 4, metric: 'loss', split: 'validation', series: 'val_loss', value: 0.48 },
    ]);
    for (const k of ['loss', 'accuracy', 'val_accuracy'] as const) {
      expect(rows.filter((r) => r.series === k).map((r) => r.value)).toEqual(HISTORY[k]);
    }
    const lr = spec.vconcat[1]!.data.values as unknown as { epoch: number; value: number }[];
    expect(lr.map((r) => [r.epoch, r.value])).toEqual([[1, 0.01], [2, 0.01], [3, 0.005], [4, 0.005]]);
  });

  it('leaves out a constant learning rate unless asked, and follows History.epoch', () => {
    const flat = { ...HISTORY, learning_rate: [0.001, 0.001, 0.001, 0.001] };
    expect(historySpec(flat).vconcat).toBeUndefined();
    expect((historySpec(flat, { learningRate: true }).vconcat as unknown[]).length).toBe(2);
    expect(historySpec(HISTORY, { learningRate: false }).vconcat).toBeUndefined();
    const resumed = historySpec({ history: { loss: [3, 2] }, epoch: [5, 6] }) as { data: { values: HistoryPoint[] } };
    expect(resumed.data.values.map((r) => r.epoch)).toEqual([6, 7]);
    const only = historySpec(HISTORY, { metrics: ['accuracy'], learningRate: false }) as { data: { values: HistoryPoint[] } };
    expect([...new Set(only.data.values.map((r) => r.series))]).toEqual(['accuracy', 'val_accuracy']);
    const panels = historySpec(HISTORY, { layout: 'panels', learningRate: false }) as { facet: { field: string } };
    expect(panels.facet.field).toBe('metric');
  });

  it('rejects malformed histories and options with messages that echo the value', () => {
    expect(() => historySpec({})).toThrow(/history is empty/);
    expect(() => historySpec({ loss: [1, 2], accuracy: [1] })).toThrow(/history.loss has 2, history.accuracy has 1/);
    expect(() => historySpec({ loss: [] })).toThrow(/no epochs/);
    expect(() => historySpec({ loss: [1, '2'] } as never)).toThrow(/history.loss\[1\] must be a number, received "2"/);
    expect(() => historySpec({ loss: 3 } as never)).toThrow(/history.loss must be an array/);
    expect(() => historySpec(null as never)).toThrow(ValueError);
    expect(() => historySpec({ history: { loss: [1] }, epoch: [0, 1] })).toThrow(/history.epoch must list 1 epoch/);
    expect(() => historySpec(HISTORY, { layuot: 'panels' } as never)).toThrow(/unknown option.*'layuot'.*did you mean 'layout'/);
    expect(() => historySpec(HISTORY, { layout: 'grid' as never })).toThrow(/layout must be 'combined' or 'panels', received layout="grid"/);
    expect(() => historySpec(HISTORY, { metrics: ['auc'] })).toThrow(/metrics \["auc"\] are not in the history/);
    expect(() => historySpec(HISTORY, { yDomain: [1, 0] })).toThrow(/yDomain/);
    expect(() => historySpec(HISTORY, { width: 0 })).toThrow(/width must be/);
    expect(() => historySpec({ loss: [1, 2] }, { learningRate: true })).toThrow(/no learning_rate/);
  });
});

describe('plotHistory files', () => {
  it('.svg: one line path per series, with one vertex per finite epoch', async () => {
    const file = path.join(dir, 'curves.svg');
    const result = await plotHistory(HISTORY, file);
    expect(result).toEqual({ file, format: 'svg', series: ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'learning_rate'] });
    const svg = fs.readFileSync(file, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const paths = linePaths(svg);
    expect(paths).toHaveLength(5);
    // val_loss is NaN at epoch 2: its line breaks into a 1-point and a 2-point piece; the learning
    // rate is drawn as steps (4 points, 3 steps of 2 vertices each).
    expect(paths.map(segments)).toEqual([[4], [4], [1, 2], [4], [7]]);
    for (const label of ['loss', 'accuracy', 'training', 'validation', 'Epoch', 'learning rate']) expect(svg).toContain(`>${label}<`);
    expect(fs.readdirSync(dir)).toEqual(['curves.svg']); // no temporary file left behind
  });

  it('.png: the SVG rasterised at `scale`, not blank', async () => {
    const svgFile = path.join(dir, 'c.svg');
    const pngFile = path.join(dir, 'c.png');
    await plotHistory(HISTORY, svgFile, { learningRate: false });
    await plotHistory(HISTORY, pngFile, { learningRate: false, scale: 1.5 });
    const svg = fs.readFileSync(svgFile, 'utf8');
    const [, w, h] = /<svg[^>]*width="([\d.]+)" height="([\d.]+)"/.exec(svg)!;
    const png = pngInfo(fs.readFileSync(pngFile));
    expect(png.width).toBe(Math.round(Number(w) * 1.5));
    expect(png.height).toBe(Math.round(Number(h) * 1.5));
    expect(png.distinctBytes).toBeGreaterThan(50); // antialiased lines and text, not one colour
  });

  it('.html: an offline page with the rendered SVG and the spec as JSON; replaces an existing file', async () => {
    const file = path.join(dir, 'curves.html');
    fs.writeFileSync(file, 'old');
    await plotHistory(HISTORY, file, { title: 'A <title>' });
    const html = fs.readFileSync(file, 'utf8');
    expect(html).toContain('<title>A &lt;title&gt;</title>');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script(?![^>]*type="application\/json")/); // no script runs: works offline
    const json = /<script type="application\/json" id="vega-lite-spec">\n([\s\S]*?)\n<\/script>/.exec(html)![1]!;
    const spec = JSON.parse(json) as { vconcat: { data: { values: HistoryPoint[] } }[] };
    expect(spec.vconcat[0]!.data.values.filter((r) => r.series === 'accuracy').map((r) => r.value)).toEqual(HISTORY.accuracy);
  });

  it('checks the file name and the output directory', async () => {
    await expect(plotHistory(HISTORY, path.join(dir, 'c.jpg'))).rejects.toThrow(/must end in .svg, .png or .html, received ".*c.jpg"/);
    await expect(plotHistory(HISTORY, '' as never)).rejects.toThrow(ValueError);
    await expect(plotHistory(HISTORY, path.join(dir, 'missing-dir', 'c.svg'))).rejects.toThrow(/ENOENT/);

    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('draws the History of a real fit', async () => {
    setSeed(3);
    const x = Tensor.from(Array.from({ length: 64 }, (_, i) => Math.sin(i)), [32, 2]);
    const y = Tensor.from(Array.from({ length: 32 }, (_, i) => i % 2), [32, 1]);
    const model = new Sequential([layers.dense({ units: 1, activation: 'sigmoid', inputShape: [2] })]);
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
    const history = await model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, validationSplit: 0.25 });
    const result = await plotHistory(history, path.join(dir, 'fit.svg'));
    // A constant learning rate is left out.
    expect(result.series).toEqual(['loss', 'accuracy', 'val_loss', 'val_accuracy']);
    expect(linePaths(fs.readFileSync(path.join(dir, 'fit.svg'), 'utf8')).map(segments)).toEqual([[3], [3], [3], [3]]);
  });

  it('plot.render writes any Vega-Lite spec', async () => {
    const file = path.join(dir, 'bars.svg');
    await render({ data: { values: [{ a: 'x', b: 2 }, { a: 'y', b: 5 }] }, mark: 'bar', encoding: { x: { field: 'a' }, y: { field: 'b', type: 'quantitative' } } }, file);
    const svg = fs.readFileSync(file, 'utf8');
    expect(svg).toContain('mark-rect');
    await expect(render(null as never, file)).rejects.toThrow(/spec must be a Vega-Lite specification object/);
    await expect(render({}, file, { scale: 0 })).rejects.toThrow(/scale must be a number in \(0, 16\], received scale=0/);
  });
});

describe('loading vega from a CommonJS build', () => {
  it('works through a real dynamic import() in code compiled by tsc to CommonJS', async () => {
    const out = path.join(dir, 'cjs');
    const tsc = require.resolve('typescript/bin/tsc');
    const run = (args: string[], env?: NodeJS.ProcessEnv) =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stdout}${stderr}`)) : resolve(stdout),
        ),
      );
    await run([tsc, '--outDir', out, '--rootDir', path.join(root, 'src'), '--module', 'commonjs', '--target', 'es2022', '--moduleResolution', 'node',
      '--esModuleInterop', '--skipLibCheck', '--strict', '--types', 'node', path.join(root, 'src/plot/index.ts')]);
    const compiled = fs.readFileSync(path.join(out, 'plot/render.js'), 'utf8');
    expect(compiled).toContain("new Function('specifier', 'return import(specifier)')");
    // The compiled module lives outside the repo: vega is found through NODE_PATH as a user's
    // node_modules would provide it.
    const script = `require(${JSON.stringify(path.join(out, 'plot/index.js'))}).plotHistory({ loss: [2, 1] }, ${JSON.stringify(path.join(dir, 'cjs.svg'))}).then((r) => console.log(JSON.stringify(r)))`;
    const stdout = await run(['-e', script], { NODE_PATH: path.join(root, 'node_modules') });
    expect(JSON.parse(stdout)).toEqual({ file: path.join(dir, 'cjs.svg'), format: 'svg', series: ['loss'] });
    expect(linePaths(fs.readFileSync(path.join(dir, 'cjs.svg'), 'utf8')).map(segments)).toEqual([[2]]);

    // Without @resvg/resvg-js (hidden from the resolver in a fresh process), .png fails saying what
    // to install, and .svg still works.
    const hide = `const M = require('node:module'); const r = M._resolveFilename; M._resolveFilename = function (q, ...a) {
      if (q === '@resvg/resvg-js') throw Object.assign(new Error("Cannot find module '" + q + "'"), { code: 'MODULE_NOT_FOUND' });
      return r.call(this, q, ...a); };`;
    const plot = `require(${JSON.stringify(path.join(out, 'plot/index.js'))})`;
    const noPng = `${hide} ${plot}.plotHistory({ loss: [2, 1] }, ${JSON.stringify(path.join(dir, 'x.png'))})
      .then(() => console.log('no error'), (e) => console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })))`;
    const error = JSON.parse(await run(['-e', noPng], { NODE_PATH: path.join(root, 'node_modules') })) as { name: string; code: string; message: string };
    expect(error.name).toBe('DeepnodeError');
    expect(error.code).toBe('ERR_STATE');
    expect(error.message).toMatch(/writing \.png needs the optional dependency @resvg\/resvg-js.*Install it with `npm install @resvg\/resvg-js`, or write \.svg or \.html instead/);
    expect(fs.existsSync(path.join(dir, 'x.png'))).toBe(false);
  }, 60_000);
});
