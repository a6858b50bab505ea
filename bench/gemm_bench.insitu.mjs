// GEMM speed *in situ*: the products of a W1 or W3 training step (batch 32, plain SGD fused into
// the dW product, as `fit` runs them), cycled with the same buffers training uses, the batch
// gathered from a dataset far larger than the caches, and the activation passes in between.
// A hot loop on one product hides what training pays: cold weights between passes, cold inputs,
// per-call setup. Each addon given is timed in turn, round after round, in this one process, so
// a noisy shared machine moves them alike (in a fresh order each round; compare the medians and
// the paired ratios, not single rounds).
//
//   node bench/gemm_bench.insitu.mjs [--seq W1|W3] [--rounds 15] [--steps 200] [--threads 1] [--fused] [--hot] ADDON...
//
// ADDON: paths of deepnode.node builds (e.g. build-gemm-base/Release/deepnode.node and
// build-gemm/Release/deepnode.node; PATH+fused for one entry; PATH@avx2 loads that entry with
// DEEPNODE_ISA=avx2, which needs its own copy of the file, since a path loads once per process).
// At 2 threads this host's speed drifted by up to 2x for minutes at a time (seen here on Zen 4,
// one entry or several): compare entries over several alternating runs, not one.
// --fused forwards every entry through the gemm activation epilogue (gemm with trailing act,
// alpha, y: the addon must have it).
// --hot also times each product in a hot loop. Prints per-product µs and GFLOPS and the whole
// step, median over rounds, and each entry's step time over entry 0's, paired by round.
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const seq = opt('seq', 'W1').toUpperCase();
const rounds = Number(opt('rounds', 15));
const steps = Number(opt('steps', 200));
const threads = Number(opt('threads', 1));
const hotFlag = args.indexOf('--hot');
const hot = hotFlag >= 0;
if (hot) args.splice(hotFlag, 1);
const fusedFlag = args.indexOf('--fused');
const fused = fusedFlag >= 0;
if (fused) args.splice(fusedFlag, 1);
if (args.length === 0) {
  console.error('usage: node bench/gemm_bench.insitu.mjs [--seq W1|W3] [--rounds N] [--steps N] [--threads N] [--fused] [--hot] ADDON[+fused]...');
  process.exit(2);
}
// PATH+fused: that entry forwards through the activation epilogue (the same addon may be given
// twice, with and without).
const addons = args.map((entry) => {
  const [p, isa] = entry.split('@');
  // The kernel is chosen when the addon loads (native/gemm.cc select_kernel).
  if (isa) process.env.DEEPNODE_ISA = isa;
  else delete process.env.DEEPNODE_ISA;
  const file = p.replace(/\+fused$/, '');
  return { name: entry, fused: fused || file !== p, native: require(path.resolve(file)) };
});
for (const a of addons) a.native.setNumThreads?.(threads);

const SELU = 4, LEAKY = 2, LINEAR = 0;
const widths = seq === 'W1' ? [784, 300, 100, 10] : [784, 300, ...Array(99).fill(100), 10];
const act = seq === 'W1' ? LEAKY : SELU;
const alpha = seq === 'W1' ? 0.3 : 0;
const batch = 32, lr = 1e-3;
const datasetRows = 16384; // 51 MB of inputs: each batch comes from memory, as in an epoch

let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
const filled = (n, scale) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand() * scale;
  return a;
};
const dataset = filled(datasetRows * 784, 2);

// One model's buffers per addon, so that each addon trains its own weights.
function makeModel() {
  const layers = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const k = widths[l], n = widths[l + 1];
    layers.push({
      k, n,
      act: l + 2 === widths.length ? LINEAR : act,
      W: filled(k * n, 2 / Math.sqrt(k)),
      b: filled(n, 0.1),
      z: new Float32Array(batch * n),
      y: new Float32Array(batch * n),
      dy: new Float32Array(batch * n),
      dz: new Float32Array(batch * n),
    });
  }
  return { x: new Float32Array(batch * 784), layers, index: new Int32Array(batch) };
}

const now = () => process.hrtime.bigint();
function step(native, model, acc, fused) {
  const { x, layers, index } = model;
  for (let r = 0; r < batch; r++) index[r] = Math.floor((rand() + 0.5) * datasetRows);
  native.gatherRows(dataset, datasetRows, 784, index, batch, x);
  const time = (key, flops, f) => {
    if (hotCalls) hotCalls.set(key, { flops, f });
    const t0 = now();
    f();
    const e = (acc[key] ??= { ns: 0, calls: 0, flops });
    e.ns += Number(now() - t0);
    e.calls++;
  };
  let input = x;
  for (const L of layers) {
    const canFuse = fused && L.act !== LINEAR;
    const inp = input;
    // A fused entry's forward time includes the activation (which the unfused one runs outside).
    time(`${batch}x${L.n}x${L.k}`, 2 * batch * L.n * L.k, () => {
      if (canFuse) native.gemm(false, false, batch, L.n, L.k, 1, inp, L.k, L.W, L.n, 0, L.z, L.n, L.b, L.act, alpha, L.y);
      else native.gemm(false, false, batch, L.n, L.k, 1, inp, L.k, L.W, L.n, 0, L.z, L.n, L.b);
    });
    if (!canFuse) {
      if (L.act === LINEAR) L.y.set(L.z);
      else native.activationForward(L.act, L.z, L.y, alpha);
    }
    L.input = input;
    input = L.y;
  }
  const last = layers[layers.length - 1];
  for (let i = 0; i < last.dy.length; i++) last.dy[i] = last.y[i] * 0.01;
  for (let l = layers.length - 1; l >= 0; l--) {
    const L = layers[l];
    const dz = L.act === LINEAR ? L.dy : L.dz;
    if (L.act === LINEAR) native.axpy(-lr * batch, sumRows(L.dy, L.n), L.b);
    else native.activationBackwardBias(L.act, L.z, L.y, L.dy, L.dz, alpha, batch, L.n, L.b, -lr);
    if (l > 0) {
      const prev = layers[l - 1];
      time(`${batch}x${L.k}x${L.n} tB`, 2 * batch * L.n * L.k, () =>
        native.gemm(false, true, batch, L.k, L.n, 1, dz, L.n, L.W, L.n, 0, prev.dy, L.k, null));
    }
    time(`${L.k}x${L.n}x${batch} tA`, 2 * batch * L.n * L.k, () =>
      native.gemm(true, false, L.k, L.n, batch, -lr, L.input, L.k, dz, L.n, 1, L.W, L.n, null));
  }
}
// --hot: each product is also timed in a hot loop (the same call 30 times in a row, after the
// step that set up its buffers), in the same rounds, to show what in situ costs against it.
let hotCalls = null;
function hotRound(native, model, acc, fused) {
  hotCalls = new Map();
  step(native, model, {}, fused);
  const calls = hotCalls;
  hotCalls = null;
  for (const [key, { flops, f }] of calls) {
    f();
    const t0 = now();
    for (let i = 0; i < 30; i++) f();
    const e = (acc[key] ??= { ns: 0, calls: 0, flops });
    e.ns += Number(now() - t0);
    e.calls += 30;
  }
}
const colSums = new Map();
function sumRows(a, n) {
  let s = colSums.get(n);
  if (!s) colSums.set(n, (s = new Float32Array(n)));
  s.fill(0);
  for (let i = 0; i < a.length; i++) s[i % n] += a[i] / batch;
  return s;
}

const results = addons.map(() => ({ perShape: new Map(), step: [], hot: new Map() }));
const models = addons.map(() => makeModel());
for (let i = 0; i < addons.length; i++) for (let s = 0; s < 20; s++) step(addons[i].native, models[i], {}, addons[i].fused);
for (let r = 0; r < rounds; r++) {
  // A fresh order each round, so that no addon always follows the same one.
  const order = addons.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor((rand() + 0.5) * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const i of order) {
    const acc = {};
    const t0 = now();
    for (let s = 0; s < steps; s++) step(addons[i].native, models[i], acc, addons[i].fused);
    results[i].step.push(Number(now() - t0) / steps / 1e3);
    for (const [key, e] of Object.entries(acc)) {
      const list = results[i].perShape.get(key) ?? [];
      list.push({ us: e.ns / e.calls / 1e3, flops: e.flops, perStep: e.calls / steps });
      results[i].perShape.set(key, list);
    }
    if (hot) {
      const hacc = {};
      hotRound(addons[i].native, models[i], hacc, addons[i].fused);
      for (const [key, e] of Object.entries(hacc)) {
        const list = results[i].hot.get(key) ?? [];
        list.push(e.ns / e.calls / 1e3);
        results[i].hot.set(key, list);
      }
    }
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`${seq} products in situ, batch ${batch}, ${threads} thread(s), ${rounds} rounds x ${steps} steps, medians over rounds`);
const keys = [...results[0].perShape.keys()];
const head = ['product', 'calls/step', ...addons.flatMap((a, i) => [`µs [${i}]`, `GFLOPS [${i}]`, ...(hot ? [`hot µs [${i}]`] : [])])];
console.log(head.join('\t'));
for (const key of keys) {
  const row = [key, results[0].perShape.get(key)[0].perStep];
  for (const res of results) {
    const list = res.perShape.get(key) ?? [];
    const us = median(list.map((e) => e.us));
    row.push(us.toFixed(2), (list[0].flops / us / 1e3).toFixed(1));
    if (hot) row.push(median(res.hot.get(key) ?? [NaN]).toFixed(2));
  }
  console.log(row.join('\t'));
}
const gemmPerStep = (res) => median(res.perShape.size ? [...Array(rounds).keys()].map((r) =>
  [...res.perShape.values()].reduce((s, list) => s + list[r].us * list[r].perStep, 0)) : [0]);
console.log(['gemm µs/step', '', ...results.flatMap((res) => [gemmPerStep(res).toFixed(1), '', ...(hot ? [''] : [])])].join('\t'));
console.log(['step µs', '', ...results.flatMap((res) => [median(res.step).toFixed(1), '', ...(hot ? [''] : [])])].join('\t'));
// Paired: each round's step time over addon 0's in the same round (cancels the machine's drift).
if (addons.length > 1) {
  const ratios = results.map((res) => median(res.step.map((t, r) => t / results[0].step[r])));
  console.log(['step / [0], paired', '', ...ratios.flatMap((x) => [x.toFixed(3), '', ...(hot ? [''] : [])])].join('\t'));
}
addons.forEach((a, i) => console.log(`[${i}] ${a.name}`));
