// Shared helpers for the chapter-11 examples ("Training Deep Neural Networks", Hands-On ML):
// load Fashion-MNIST, split it like the chapter, standardise it for SELU nets, train, report.
import * as path from 'node:path';
import { Tensor, datasets, setSeed } from 'deepnode';

/** A positive integer from the environment, or `fallback`. */
export function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, received ${JSON.stringify(raw)}`);
  return n;
}

const script = path.basename(process.argv[1] ?? 'example', '.mjs');

/** Seed deepnode's generator (weights, shuffling, dropout masks); SEED=n overrides 42. */
export function seed(value = envInt('SEED', 42)) {
  setSeed(value);
}

/** Rows [start, end) of a [N, ...] tensor, copied. */
function rows(t, start, end) {
  const per = t.size / t.shape[0];
  return new Tensor(t.data.slice(start * per, end * per), [end - start, ...t.shape.slice(1)]);
}

/**
 * Fashion-MNIST split as in the chapter: the last 5,000 training images are the validation set,
 * the first 55,000 the training set (trainSize, default TRAIN_SIZE or 55000, keeps only the first
 * trainSize of those, to keep an example short on a small machine). With standardize, every pixel
 * is scaled to mean 0 and standard deviation 1 over the training images (the chapter's
 * `(X - pixel_means) / pixel_stds`, needed for self-normalising SELU nets); a pixel that is constant
 * over the training set is only centred.
 */
export async function loadData({ standardize = false, trainSize = envInt('TRAIN_SIZE', 55000) } = {}) {
  const { train, test } = await datasets.fashionMnist.load();
  const nTrain = Math.min(trainSize, 55000);
  const data = {
    xTrain: rows(train.x, 0, nTrain), yTrain: rows(train.y, 0, nTrain),
    xValid: rows(train.x, 55000, 60000), yValid: rows(train.y, 55000, 60000),
    xTest: test.x, yTest: test.y,
  };
  if (standardize) {
    const n = data.xTrain.shape[0], per = data.xTrain.size / n;
    const mean = new Float64Array(per), sq = new Float64Array(per);
    const d = data.xTrain.data;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < per; j++) {
        const v = d[i * per + j];
        mean[j] += v;
        sq[j] += v * v;
      }
    }
    const scale = new Float64Array(per);
    for (let j = 0; j < per; j++) {
      mean[j] /= n;
      const std = Math.sqrt(Math.max(0, sq[j] / n - mean[j] * mean[j]));
      scale[j] = std > 1e-7 ? 1 / std : 1;
    }
    const standardise = (t) => {
      const out = new Float32Array(t.size);
      for (let i = 0; i < t.size; i++) out[i] = (t.data[i] - mean[i % per]) * scale[i % per];
      return new Tensor(out, t.shape);
    };
    data.xTrain = standardise(data.xTrain);
    data.xValid = standardise(data.xValid);
    data.xTest = standardise(data.xTest);
  }
  console.log(
    `Fashion-MNIST: train ${data.xTrain.shape[0]}, valid ${data.xValid.shape[0]}, test ${data.xTest.shape[0]}` +
      (standardize ? ' (standardised per pixel)' : ' (pixels in [0, 1])'),
  );
  return data;
}

/** model.fit on the training set with the validation set; the history also records the seconds taken. */
export async function train(model, data, { epochs, batchSize = 32, callbacks = [], verbose = 2 } = {}) {
  const t0 = performance.now();
  const history = await model.fit(data.xTrain, data.yTrain, {
    epochs, batchSize, callbacks, verbose, validationData: [data.xValid, data.yValid],
  });
  history.seconds = (performance.now() - t0) / 1000;
  return history;
}

/** The validation accuracy of the last epoch trained. */
export function finalValAccuracy(history) {
  const acc = history.history.val_accuracy;
  return acc[acc.length - 1];
}

/**
 * The summary line: `RESULT <script> | <name> | val_accuracy 0.8612 | epochs 3 | 12.3 s`, with the
 * last epoch's validation accuracy, or `valAccuracy` when given (e.g. after restoring weights).
 */
export function report(name, history, valAccuracy = finalValAccuracy(history)) {
  const epochs = history.history.val_accuracy.length;
  const seconds = history.seconds === undefined ? '' : ` | ${history.seconds.toFixed(1)} s`;
  console.log(`RESULT ${script} | ${name} | val_accuracy ${valAccuracy.toFixed(4)} | epochs ${epochs}${seconds}`);
}

/** Print rows of objects as an aligned table. */
export function table(rowsToPrint) {
  const cols = Object.keys(rowsToPrint[0]);
  const cell = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rowsToPrint.map((r) => cell(r[c]).length)));
  const line = (vals) => vals.map((v, i) => v.padEnd(width[i])).join('  ');
  console.log(line(cols));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of rowsToPrint) console.log(line(cols.map((c) => cell(r[c]))));
}
