/**
 * Learning curves from a training History, as the chapter draws them with
 * `pd.DataFrame(history.history).plot(grid=True, xlabel="Epoch")`: every logged quantity per epoch,
 * each metric in its own colour, training solid and validation (`val_*`) dashed. The learning rate
 * gets its own panel below, and only when it changed during training (a constant rate says nothing
 * and would flatten the other curves).
 */
import { ValueError, checkOptions, describe } from '../errors';
import { PlotFormat, VegaLiteSpec, checkRenderOptions, formatOf, toSVG, writeOutput } from './render';

/** A History (from `fit`), Keras's `history.history` dict, or `{ history, epoch }`. */
export type HistoryLike =
  | {
      /** Per log key, its value at each epoch (History's `history`). */
      readonly history: Readonly<Record<string, readonly number[]>>;
      /** 0-based epoch indices (History's `epoch`); default 0, 1, 2, ... */
      readonly epoch?: readonly number[];
    }
  | Readonly<Record<string, readonly number[]>>;

/** Options of {@link plotHistory} and {@link historySpec}. */
export interface PlotHistoryOptions {
  /** Chart title. Default none. */
  title?: string;
  /** Base names of the quantities to draw ('loss', 'accuracy'; val_* follow their base). Default all. */
  metrics?: string[];
  /** 'combined' (default): one chart, as the chapter's pandas plot. 'panels': one chart per metric, each with its own y scale. */
  layout?: 'combined' | 'panels';
  /** 'auto' (default): draw learning_rate (or lr) in its own panel when it changes; true always; false never. */
  learningRate?: 'auto' | boolean;
  /** Fixed y range of the loss/metric chart, e.g. [0, 1] as the chapter's ylim. Default: fitted to the data. */
  yDomain?: [number, number];
  /** Width and height of one chart, in SVG units. Default 480 x 300. */
  width?: number;
  /** Height of one chart, in SVG units. Default 300. */
  height?: number;
  /** PNG pixels per SVG unit. Default 2. */
  scale?: number;
}

/** One point of a curve, as the chart's data rows hold it. */
export interface HistoryPoint {
  /** 1-based epoch number, as `fit` prints it. */
  epoch: number;
  /** Base name: 'loss', 'accuracy', ... */
  metric: string;
  /** Whether the point comes from the training logs or the validation (`val_*`) logs. */
  split: 'training' | 'validation';
  /** The History key: 'loss', 'val_loss', ... */
  series: string;
  /** null where the logged value was NaN or infinite (the line breaks there). */
  value: number | null;
}

const LR_KEYS = ['learning_rate', 'lr'];

interface Normalised {
  keys: string[];
  values: Record<string, readonly number[]>;
  epochs: number[];
}

function normalise(where: string, history: unknown): Normalised {
  if (history === null || typeof history !== 'object' || Array.isArray(history)) {
    throw new ValueError(`${where}: history must be a History, its .history record or { history, epoch }, received ${describe(history)}`);
  }
  const h = history as { history?: unknown; epoch?: unknown };
  const wrapped = h.history !== null && typeof h.history === 'object' && !Array.isArray(h.history);
  const record = (wrapped ? h.history : history) as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 0) throw new ValueError(`${where}: the history is empty (no logged quantity); train with fit first`);
  let length = -1;
  const values: Record<string, readonly number[]> = {};
  for (const k of keys) {
    const v = record[k];
    if (!Array.isArray(v) && !(v instanceof Float32Array) && !(v instanceof Float64Array)) {
      throw new ValueError(`${where}: history.${k} must be an array of numbers (one per epoch), received ${describe(v)}`);
    }
    const arr = Array.from(v as ArrayLike<unknown>);
    const bad = arr.findIndex((x) => typeof x !== 'number');
    if (bad >= 0) throw new ValueError(`${where}: history.${k}[${bad}] must be a number, received ${describe(arr[bad])}`);
    if (length >= 0 && arr.length !== length) {
      throw new ValueError(`${where}: every history entry needs one value per epoch; history.${keys[0]} has ${length}, history.${k} has ${arr.length}`);
    }
    length = arr.length;
    values[k] = arr as number[];
  }
  if (length === 0) throw new ValueError(`${where}: the history has no epochs yet`);
  let epochs = Array.from({ length }, (_, i) => i + 1);
  if (wrapped && h.epoch !== undefined) {
    const e = h.epoch;
    if (!Array.isArray(e) || e.length !== length || !e.every((x) => Number.isInteger(x) && x >= 0)) {
      throw new ValueError(`${where}: history.epoch must list ${length} epoch indices (integers >= 0), received ${describe(e)}`);
    }
    epochs = e.map((x: number) => x + 1);
  }
  return { keys, values, epochs };
}

/** Whether a list of logged learning rates changes (relative difference above float32 noise). */
function changes(v: readonly number[]): boolean {
  const finite = v.filter(Number.isFinite);
  if (finite.length < 2) return false;
  const lo = Math.min(...finite), hi = Math.max(...finite);
  return hi - lo > 1e-6 * Math.max(Math.abs(hi), Math.abs(lo));
}

function checkPositive(where: string, name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 20 || v > 10000) {
    throw new ValueError(`${where}: ${name} must be a number of SVG units in [20, 10000], received ${name}=${describe(v)}`);
  }
  return v;
}

/**
 * The Vega-Lite specification plotHistory renders, with the curves as data rows
 * (`spec.data.values` of the loss/metric chart are HistoryPoint rows). Use it to customise the
 * chart and render it with `plot.render(spec, file)`.
 */
export function historySpec(history: HistoryLike, options?: PlotHistoryOptions): VegaLiteSpec {
  const where = 'plotHistory';
  checkOptions(where, options, ['title', 'metrics', 'layout', 'learningRate', 'yDomain', 'width', 'height', 'scale']);
  const o = options ?? {};
  const { keys, values, epochs } = normalise(where, history);
  const layout = o.layout ?? 'combined';
  if (layout !== 'combined' && layout !== 'panels') {
    throw new ValueError(`${where}: layout must be 'combined' or 'panels', received layout=${describe(layout)}`);
  }
  const lrOption = o.learningRate ?? 'auto';
  if (lrOption !== 'auto' && typeof lrOption !== 'boolean') {
    throw new ValueError(`${where}: learningRate must be 'auto', true or false, received learningRate=${describe(lrOption)}`);
  }
  if (o.title !== undefined && typeof o.title !== 'string') throw new ValueError(`${where}: title must be a string, received title=${describe(o.title)}`);
  const width = checkPositive(where, 'width', o.width, 480);
  const height = checkPositive(where, 'height', o.height, 300);
  if (o.yDomain !== undefined) {
    const d = o.yDomain;
    if (!Array.isArray(d) || d.length !== 2 || !d.every(Number.isFinite) || !(d[0] < d[1])) {
      throw new ValueError(`${where}: yDomain must be [low, high] with low < high, received yDomain=${describe(d)}`);
    }
  }

  const lrKey = keys.find((k) => LR_KEYS.includes(k));
  const baseOf = (k: string) => (k.startsWith('val_') ? k.slice(4) : k);
  let curveKeys = keys.filter((k) => !LR_KEYS.includes(k) && !LR_KEYS.includes(baseOf(k)));
  const bases = [...new Set(curveKeys.map(baseOf))];
  if (o.metrics !== undefined) {
    if (!Array.isArray(o.metrics) || !o.metrics.every((m) => typeof m === 'string')) {
      throw new ValueError(`${where}: metrics must be an array of names, received metrics=${describe(o.metrics)}`);
    }
    const missing = o.metrics.filter((m) => !bases.includes(m) && !LR_KEYS.includes(m));
    if (missing.length > 0) {
      throw new ValueError(`${where}: metrics ${describe(missing)} are not in the history, which holds ${describe(bases)}`);
    }
    curveKeys = curveKeys.filter((k) => o.metrics!.includes(baseOf(k)));
  }
  const metricOrder = bases.filter((b) => curveKeys.some((k) => baseOf(k) === b));

  const rows: HistoryPoint[] = [];
  for (const k of curveKeys) {
    values[k]!.forEach((v, i) =>
      rows.push({ epoch: epochs[i]!, metric: baseOf(k), split: k.startsWith('val_') ? 'validation' : 'training', series: k, value: Number.isFinite(v) ? v : null }),
    );
  }
  const drawLr = lrKey !== undefined && (lrOption === true || (lrOption === 'auto' && changes(values[lrKey]!)));
  if (lrOption === true && lrKey === undefined) {
    throw new ValueError(`${where}: learningRate: true but the history has no learning_rate (or lr) entry`);
  }
  if (rows.length === 0 && !drawLr) throw new ValueError(`${where}: nothing to draw: the history holds only ${describe(keys)}`);

  const epochAxis = { field: 'epoch', type: 'quantitative', title: 'Epoch', axis: { tickMinStep: 1, format: 'd' }, scale: { domain: [epochs[0]!, epochs[epochs.length - 1]!], nice: false } };
  const y = {
    field: 'value',
    type: 'quantitative',
    title: layout === 'combined' ? metricOrder.join(' / ') : null,
    scale: o.yDomain ? { domain: o.yDomain, clamp: true } : { zero: false },
  };
  const strokeDash = {
    field: 'split',
    type: 'nominal',
    title: null,
    scale: { domain: ['training', 'validation'], range: [[1, 0], [6, 3]] },
    // In the combined chart no colour belongs to a split: draw its legend's lines in grey.
    legend: { encode: { symbols: { update: { stroke: { value: '#555555' } } } } },
  };
  const tooltip = [
    { field: 'series', type: 'nominal', title: 'series' },
    { field: 'epoch', type: 'quantitative', title: 'epoch' },
    { field: 'value', type: 'quantitative', title: 'value', format: '.4~g' },
  ];
  const mark = { type: 'line', strokeWidth: 2, point: { filled: true, size: 36 }, clip: true };
  let main: VegaLiteSpec | null = null;
  if (rows.length > 0) {
    main =
      layout === 'combined'
        ? {
            width,
            height,
            data: { values: rows },
            mark,
            encoding: {
              x: epochAxis,
              y,
              color: { field: 'metric', type: 'nominal', title: null, sort: metricOrder, scale: { domain: metricOrder } },
              strokeDash,
              detail: { field: 'series' },
              tooltip,
            },
          }
        : {
            data: { values: rows },
            facet: { field: 'metric', type: 'nominal', title: null, sort: metricOrder, header: { labelFontSize: 13, labelFontWeight: 'bold' } },
            columns: Math.min(2, metricOrder.length),
            spec: {
              width,
              height,
              mark,
              encoding: {
                x: epochAxis,
                y,
                color: { field: 'split', type: 'nominal', title: null, scale: { domain: ['training', 'validation'], range: ['#1f77b4', '#d62728'] } },
                strokeDash,
                tooltip,
              },
            },
            resolve: { scale: { y: 'independent' } },
          };
  }
  let lrChart: VegaLiteSpec | null = null;
  if (drawLr) {
    const lr = values[lrKey!]!;
    const finite = lr.filter((v) => Number.isFinite(v) && v > 0);
    const logScale = finite.length === lr.length && Math.max(...finite) / Math.min(...finite) > 20;
    lrChart = {
      width,
      height: Math.round(height / 2),
      title: { text: 'learning rate', anchor: 'start', fontSize: 12 },
      data: { values: lr.map((v, i) => ({ epoch: epochs[i]!, series: lrKey, value: Number.isFinite(v) ? v : null })) },
      mark: { type: 'line', strokeWidth: 2, color: '#2ca02c', point: { filled: true, size: 30, color: '#2ca02c' }, interpolate: 'step-before' },
      encoding: {
        x: epochAxis,
        y: { field: 'value', type: 'quantitative', title: lrKey, scale: logScale ? { type: 'log' } : { zero: false }, axis: { format: logScale ? '.1~e' : '.3~g' } },
        tooltip: tooltip,
      },
    };
  }
  const parts = [main, lrChart].filter((p): p is VegaLiteSpec => p !== null);
  const body: VegaLiteSpec = parts.length === 1 ? parts[0]! : { vconcat: parts, resolve: { scale: { color: 'independent', strokeDash: 'independent' } } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(o.title !== undefined ? { title: { text: o.title, anchor: 'start', fontSize: 15 } } : {}),
    background: 'white',
    padding: 10,
    ...body,
    config: { axis: { grid: true, labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 12, symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 500, orient: 'right' } },
  };
}

/**
 * Draw the learning curves of a History to `file`: `.svg`, `.png` (needs the optional dependency
 * @resvg/resvg-js) or `.html` (the SVG and its Vega-Lite specification in one offline page).
 * Resolves with the file, its format and the History keys drawn (learning_rate included when
 * drawn). The file is replaced atomically.
 *
 *   const history = await model.fit(x, y, { epochs: 30, validationData: [xv, yv] });
 *   await plotHistory(history, 'curves.png');
 */
export async function plotHistory(
  history: HistoryLike,
  file: string,
  options?: PlotHistoryOptions,
): Promise<{
  /** The file written. */
  file: string;
  /** Its format, from the extension. */
  format: PlotFormat;
  /** The History keys drawn, in order. */
  series: string[];
}> {
  const format = formatOf('plotHistory', file);
  const spec = historySpec(history, options);
  const render = checkRenderOptions('plotHistory', options?.scale === undefined ? undefined : { scale: options.scale });
  const svg = await toSVG(spec);
  await writeOutput(file, format, svg, spec, { scale: render.scale, title: options?.title ?? 'Learning curves' });
  return { file, format, series: seriesOf(spec) };
}

/** The History keys a spec from historySpec draws, in order. */
function seriesOf(spec: VegaLiteSpec): string[] {
  const charts = (spec.vconcat as VegaLiteSpec[] | undefined) ?? [spec];
  const out: string[] = [];
  for (const c of charts) {
    const rows = ((c.data as { values?: { series: string }[] } | undefined)?.values ?? []);
    for (const r of rows) if (!out.includes(r.series)) out.push(r.series);
  }
  return out;
}
