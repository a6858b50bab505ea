/**
 * Render a Vega-Lite specification to a file: `.svg` (Vega's own SVG renderer), `.png` (that SVG
 * rasterised by the optional dependency @resvg/resvg-js) or `.html` (a self-contained page holding
 * the rendered SVG and the specification as JSON, viewable offline; no script runs in it).
 *
 * vega and vega-lite are ES modules only. This package is compiled to CommonJS, where TypeScript
 * turns `import()` into `require()`; the import below is built with `new Function` so it stays a
 * real dynamic import, given the resolved file URL so that it works wherever deepnode is installed.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFileAtomic } from '../saving/atomic';
import { DeepnodeError, ValueError, checkOptions, describe } from '../errors';

/** A Vega-Lite specification (https://vega.github.io/vega-lite/docs/spec.html), as a plain JSON object. */
export type VegaLiteSpec = Record<string, unknown>;

/** Output formats, chosen by the file's extension. */
export type PlotFormat = 'svg' | 'png' | 'html';

/** Options of {@link render}. */
export interface RenderOptions {
  /** PNG pixels per SVG unit (a 480-unit-wide chart at scale 2 is 960 pixels wide). Default 2. */
  scale?: number;
  /** Page title of an .html file. Default the file's name. */
  title?: string;
}

/** Fonts tried in order; DejaVu Sans and Liberation Sans are the fonts most Linux systems have. */
export const FONT_STACK = 'Helvetica, Arial, DejaVu Sans, Liberation Sans, sans-serif';

const FORMATS: Record<string, PlotFormat> = { '.svg': 'svg', '.png': 'png', '.html': 'html' };

/** The format a file name asks for, or a ValueError naming the accepted extensions. */
export function formatOf(where: string, file: unknown): PlotFormat {
  if (typeof file !== 'string' || file === '') {
    throw new ValueError(`${where}: file must be a path ending in .svg, .png or .html, received ${describe(file)}`);
  }
  const format = FORMATS[path.extname(file).toLowerCase()];
  if (format === undefined) {
    throw new ValueError(`${where}: file must end in .svg, .png or .html, received ${describe(file)}`);
  }
  return format;
}

interface VegaModule {
  parse(spec: unknown): unknown;
  textMetrics: { width: TextWidth; estimateWidth: TextWidth };
  View: new (runtime: unknown, options: { renderer: 'none' }) => { toSVG(scale?: number): Promise<string>; finalize(): void };
}
interface VegaLiteModule {
  compile(spec: unknown): { spec: unknown };
}

const dynamicImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;
let modules: Promise<{ vega: VegaModule; vegaLite: VegaLiteModule }> | null = null;

async function importVega(): Promise<unknown[]> {
  const url = (name: string) => pathToFileURL(require.resolve(name)).href;
  try {
    return await Promise.all([dynamicImport(url('vega')), dynamicImport(url('vega-lite'))]);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code !== 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING' && !/dynamic import callback/i.test(err.message ?? '')) throw e;
    // Code evaluated by a module runner without Node's import hook (vitest's vite-node): a plain
    // import(), which such runners rewrite to their own loader (and tsc to require(), which loads
    // ES modules on Node >= 20.19).
    return Promise.all(['vega', 'vega-lite'].map((name) => import(name)));
  }
}

type TextWidth = (item: { fontSize?: number; fontWeight?: string | number }, text: string) => number;

// Advance widths of DejaVu Sans (em units, the widest of the fonts in FONT_STACK), for text
// measurement without a canvas.
const LOWER = [0.613, 0.635, 0.55, 0.635, 0.615, 0.352, 0.635, 0.634, 0.278, 0.278, 0.579, 0.278, 0.974,
  0.634, 0.612, 0.635, 0.635, 0.411, 0.521, 0.392, 0.634, 0.592, 0.818, 0.592, 0.592, 0.525];
const UPPER = [0.684, 0.686, 0.698, 0.77, 0.632, 0.575, 0.775, 0.752, 0.295, 0.295, 0.656, 0.557, 0.863,
  0.748, 0.787, 0.603, 0.787, 0.695, 0.635, 0.611, 0.732, 0.684, 0.989, 0.685, 0.611, 0.685];

/**
 * Text width from per-character advance widths. Without the `canvas` package vega estimates every
 * character at 0.8 em, which leaves legends and axis titles far too much room (or truncates them).
 */
export const estimateTextWidth: TextWidth = (item, text) => {
  const size = item.fontSize ?? 11;
  const bold = item.fontWeight === 'bold' || (typeof item.fontWeight === 'number' && item.fontWeight >= 600);
  let em = 0;
  for (const ch of String(text)) {
    const c = ch.charCodeAt(0);
    if (c >= 97 && c <= 122) em += LOWER[c - 97]!;
    else if (c >= 65 && c <= 90) em += UPPER[c - 65]!;
    else if (c >= 48 && c <= 57) em += 0.636;
    else if (ch === ' ' || ch === '.' || ch === ',' || ch === ':' || ch === ';' || ch === '!' || ch === "'" || ch === '|') em += 0.318;
    else if (ch === '(' || ch === ')' || ch === '[' || ch === ']' || ch === '-' || ch === '/') em += 0.39;
    else em += 0.7;
  }
  return Math.ceil(em * size * (bold ? 1.1 : 1) * 1.04); // 4% to spare: kerning and hinting differ by renderer
};

function loadVega(): Promise<{ vega: VegaModule; vegaLite: VegaLiteModule }> {
  modules ??= importVega().then(([v, vegaLite]) => {
    const vega = v as VegaModule;
    // Only replace vega's fallback estimate, never a real canvas measurement.
    if (vega.textMetrics.width === vega.textMetrics.estimateWidth) vega.textMetrics.width = estimateTextWidth;
    return { vega, vegaLite: vegaLite as VegaLiteModule };
  });
  modules.catch(() => {
    modules = null; // let a later call retry (e.g. after installing a missing dependency)
  });
  return modules;
}

/** Compile a Vega-Lite specification and render it to an SVG document string. */
export async function toSVG(spec: VegaLiteSpec): Promise<string> {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new ValueError(`plot.toSVG: spec must be a Vega-Lite specification object, received ${describe(spec)}`);
  }
  const { vega, vegaLite } = await loadVega();
  // Our font stack unless the spec sets a font: vega's default 'sans-serif' alone may resolve to
  // no font at all in resvg.
  const config = (spec.config ?? {}) as Record<string, unknown>;
  const compiled = vegaLite.compile({ ...spec, config: { font: FONT_STACK, ...config } }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

interface ResvgModule {
  Resvg: new (
    svg: string,
    options: { fitTo: { mode: 'zoom'; value: number }; background: string; font: { loadSystemFonts: boolean } },
  ) => { render(): { asPng(): Uint8Array } };
}

/** Rasterise an SVG document to PNG bytes with @resvg/resvg-js (an optional dependency). */
export function svgToPNG(svg: string, scale = 2): Uint8Array {
  let resvg: ResvgModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    resvg = require('@resvg/resvg-js') as ResvgModule;
  } catch (e) {
    throw new DeepnodeError(
      'ERR_STATE',
      `plot: writing .png needs the optional dependency @resvg/resvg-js, which could not be loaded ` +
        `(${(e as Error).message.split('\n')[0]}). Install it with \`npm install @resvg/resvg-js\`, ` +
        'or write .svg or .html instead',
    );
  }
  return new resvg.Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, background: 'white', font: { loadSystemFonts: true } }).render().asPng();
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A page that works offline: the chart as inline SVG, and the Vega-Lite specification in a
 * `<script type="application/json" id="vega-lite-spec">` block (open it in the Vega editor, or
 * pass it to vega-embed, for an interactive chart).
 */
export function htmlPage(svg: string, spec: VegaLiteSpec, title: string): string {
  const json = JSON.stringify(spec, null, 1).replace(/</g, '\\u003c');
  return (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    `<title>${escapeHtml(title)}</title>\n` +
    `<style>body { font-family: ${FONT_STACK}; margin: 2em; background: white; }</style>\n` +
    '</head>\n<body>\n' +
    `<figure>\n${svg}\n</figure>\n` +
    '<!-- The Vega-Lite specification of this chart (https://vega.github.io/editor/ opens it). -->\n' +
    `<script type="application/json" id="vega-lite-spec">\n${json}\n</script>\n` +
    '</body>\n</html>\n'
  );
}

/**
 * Render a Vega-Lite specification to `file` (.svg, .png or .html, by extension). The file is
 * replaced atomically: a reader sees the previous file or the new one, never half of one.
 */
export async function render(spec: VegaLiteSpec, file: string, options?: RenderOptions): Promise<{
  /** The file written. */
  file: string;
  /** Its format, from the extension. */
  format: PlotFormat;
}> {
  const format = formatOf('plot.render', file);
  const o = checkRenderOptions('plot.render', options);
  const svg = await toSVG(spec);
  await writeOutput(file, format, svg, spec, o);
  return { file, format };
}

export function checkRenderOptions(where: string, options: RenderOptions | undefined): Required<Pick<RenderOptions, 'scale'>> & RenderOptions {
  checkOptions(where, options, ['scale', 'title']);
  const scale = options?.scale ?? 2;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0 || scale > 16) {
    throw new ValueError(`${where}: scale must be a number in (0, 16], received scale=${describe(scale)}`);
  }
  if (options?.title !== undefined && typeof options.title !== 'string') {
    throw new ValueError(`${where}: title must be a string, received title=${describe(options.title)}`);
  }
  return { ...options, scale };
}

export async function writeOutput(
  file: string,
  format: PlotFormat,
  svg: string,
  spec: VegaLiteSpec,
  options: { scale: number; title?: string },
): Promise<void> {
  let bytes: Uint8Array;
  if (format === 'svg') bytes = Buffer.from(svg, 'utf8');
  else if (format === 'png') bytes = svgToPNG(svg, options.scale);
  else bytes = Buffer.from(htmlPage(svg, spec, options.title ?? path.basename(file)), 'utf8');
  const target = path.resolve(file);
  await writeFileAtomic(path.dirname(target), path.basename(target), bytes);
}
