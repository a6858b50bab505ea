// Event-loop responsiveness while fit runs: the worst delay the event loop suffers during one epoch
// of W1 (Dense 784-300-100-10, LeakyReLU, He init, SGD(1e-3), batch 32, 55,000 Fashion-MNIST images).
// fit yields to the event loop whenever ~10 ms passed since its last yield, so timers, I/O and
// progress output keep running; the target is a worst delay under 50 ms.
// Two measures: perf_hooks.monitorEventLoopDelay (resolution 1 ms: how late its 1 ms timer fired),
// and a setInterval(1 ms) whose gaps between callbacks are recorded directly.
//   npm run build:ts && node bench/responsiveness.mjs [--threads N] [--epochs N]
import { setNumThreads, getNumThreads, setSeed } from 'deepnode';
import { w1Data, w1Model } from '../bin/benchmarks.mjs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const threads = opt('threads', getNumThreads());
const epochs = opt('epochs', 1);
const limitMs = 50;

const { x, y } = await w1Data();

setNumThreads(threads);
setSeed(1);
const model = w1Model();

const histogram = monitorEventLoopDelay({ resolution: 1 });
const gaps = [];
const at = [];
let last = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  gaps.push(now - last);
  at.push(now - t0);
  last = now;
}, 1);

histogram.enable();
last = performance.now();
let t0 = performance.now();
const h = await model.fit(x, y, { epochs, batchSize: 32, verbose: 0 });
const seconds = (performance.now() - t0) / 1000;
histogram.disable();
clearInterval(timer);

const ms = (ns) => ns / 1e6;
const sorted = [...gaps].sort((a, b) => a - b);
const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
// The histogram's values include its own 1 ms resolution timer period.
const loopMax = ms(histogram.max);
const result = {
  threads,
  epochs,
  seconds: +seconds.toFixed(2),
  loss: +h.history.loss.at(-1).toFixed(4),
  monitorEventLoopDelay: {
    maxMs: +loopMax.toFixed(2),
    p99Ms: +ms(histogram.percentile(99)).toFixed(2),
    p50Ms: +ms(histogram.percentile(50)).toFixed(2),
    meanMs: +ms(histogram.mean).toFixed(2),
  },
  setInterval1ms: {
    callbacks: gaps.length,
    maxGapMs: +sorted.at(-1).toFixed(2),
    p99GapMs: +pct(99).toFixed(2),
    p50GapMs: +pct(50).toFixed(2),
    // The five longest gaps and when they ended (ms since fit started).
    worst: gaps
      .map((g, i) => [g, at[i]])
      .sort((a, b) => b[0] - a[0])
      .slice(0, 5)
      .map(([g, t]) => `${g.toFixed(1)} ms at ${t.toFixed(0)} ms`),
  },
};
console.log(JSON.stringify(result, null, 2));
const worst = Math.max(loopMax, sorted.at(-1));
console.log(`worst event-loop delay during fit: ${worst.toFixed(1)} ms (limit ${limitMs} ms): ${worst < limitMs ? 'OK' : 'TOO SLOW'}`);
process.exitCode = worst < limitMs ? 0 : 1;
