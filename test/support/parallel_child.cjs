// Child process for test/14.parallel_kernels.test.ts: runs kernels on fixed data at several thread
// counts and prints one JSON line of FNV-1a digests of the result bits (and the raw column sums),
// so that the parent can compare thread counts and instruction sets (DEEPNODE_ISA) bit for bit.
// The parent sets DEEPNODE_PARALLEL_BACKOFF=0 so that every pass above the thresholds splits,
// even on a machine where other processes hold the cores.
// Usage: node parallel_child.cjs <addon.node> <threads,threads,...> [adam]   (adam: Adam cases only)
'use strict';
const native = require(process.argv[2]);
const threadCounts = process.argv[3].split(',').map(Number);
const adamOnly = process.argv[4] === 'adam';

const { rng } = require('./gemm_reference.cjs'); // the tests' mulberry32
const data = (seed, n, lo, hi) => {
  const r = rng(seed), out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
};
function digest(...arrays) {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193) >>> 0;
  }
  return h.toString(16);
}

const out = {};
for (const threads of threadCounts) {
  native.setNumThreads(threads);
  const res = (out[threads] = {});
  if (!adamOnly) elementwise(res);
  adam(res);
}
process.stdout.write(JSON.stringify(out) + '\n');

function elementwise(res) {
  // Element-wise passes: 1,100,001 floats (above the split threshold for every activation; many
  // chunks and a ragged end), every activation.
  const n = 1_100_001, x = data(1, n, -6, 6), dy = data(2, n, -1, 1);
  for (let act = 0; act < 15; act++) {
    const y = new Float32Array(n), dx = new Float32Array(n);
    native.activationForward(act, x, y, 0.3);
    native.activationBackward(act, x, y, dy, dx, 0.3);
    res[`act${act}`] = digest(y, dx);
  }
  // Bias passes (SELU) and column sums, all above the bias split threshold; the tall narrow one
  // above the column-sum threshold too, the others below it.
  for (const [rows, cols] of [[600, 1024], [57_001, 37], [2053, 300]]) {
    const m = rows * cols, bx = data(3, m, -3, 3), by = new Float32Array(m), bdy = data(4, m, -1, 1);
    native.activationForward(4, bx, by, 0);
    const dx = new Float32Array(m), db = data(5, cols, -1, 1);
    native.activationBackwardBias(4, bx, by, bdy, dx, 0, rows, cols, db, -0.25);
    const cs = new Float32Array(cols), acc = data(6, cols, -1, 1);
    native.columnSum(bdy, rows, cols, cs, false);
    native.columnSum(bdy, rows, cols, acc, true);
    res[`bias${rows}x${cols}`] = { dx: digest(dx), db: Array.from(db), colsum: Array.from(cs), colsumAcc: Array.from(acc) };
  }
  // The batch gather: 400 random rows of 784 out of 10,000 (above the split threshold).
  const src = data(7, 10_000 * 784, 0, 1), idx = new Int32Array(400), r = rng(8);
  for (let i = 0; i < 400; i++) idx[i] = Math.floor(r() * 10_000);
  const rows = new Float32Array(400 * 784);
  native.gatherRows(src, 10_000, 784, idx, 400, rows);
  res.gather = digest(rows);
  // Batch norm forward (training) and backward, above the split threshold: features split into
  // ranges claimed by the pool's threads ([N, C] and, with inner > 1, [N, C, inner]).
  for (const [outer, C, inner] of [[8192, 131, 1], [64, 37, 521]]) {
    const m = outer * C * inner, bx = data(21, m, -2, 3), bdy = data(22, m, -1, 1), gamma = data(23, C, 0.5, 2);
    const y = new Float32Array(m), mean = new Float32Array(C), variance = new Float32Array(C);
    native.batchnormForward(bx, y, outer, C, inner, gamma, data(24, C, -1, 1), mean, variance, 1e-3, true);
    const dx = new Float32Array(m), dgamma = new Float32Array(C), dbeta = new Float32Array(C);
    native.batchnormBackward(bx, bdy, outer, C, inner, mean, variance, gamma, 1e-3, true, dx, dgamma, dbeta);
    res[`bn${outer}x${C}x${inner}`] = digest(y, mean, variance, dx, dgamma, dbeta);
  }
  // Dropout's masks and Gaussian noise: an odd length above the split threshold.
  const mask = new Float32Array(1_100_001), noise = new Float32Array(1_100_001);
  native.bernoulliMask(mask, 12, 34, 0.3, 1 / 0.7, 0);
  native.normalFill(noise, 7, 9, 0, 1);
  res.dropout = digest(mask, noise);
  // Quantized inference (float16 and int8 weights): the direct products split by column blocks,
  // and the panel products (auto picks them above 8 rows) of a small batch by column ranges;
  // 264 columns leave an 8-column edge, 300 a 12-column one; k = 520 ends on an 8-row panel.
  for (const [qm, qn, qk] of [[32, 300, 784], [24, 264, 520]]) {
    const X = data(25, qm * qk, -1, 1), W = data(26, qk * qn, -0.1, 0.1), bias = data(27, qn, -1, 1);
    const h = new Uint16Array(qk * qn), q = new Int8Array(qk * qn), scales = new Float32Array(qn);
    native.f32ToF16(W, h);
    native.quantizeInt8(W, qk, qn, q, scales);
    for (const path of [0, 1, 2, 3]) {
      const yh = new Float32Array(qm * qn), yq = new Float32Array(qm * qn);
      native.gemmF16(qm, qn, qk, X, h, bias, yh, path);
      native.gemmI8(qm, qn, qk, X, q, scales, bias, yq, path);
      res[`quant${qm}x${qn}p${path}`] = digest(yh, yq);
    }
  }
  // clipnorm's per-weight norm (a double sum over fixed chunks) and the clipped gradient.
  for (const size of [65_536 + 13, 1_000_003]) {
    const g = data(20, size, -1, 1);
    const norm = native.clipByNorm(g, 0.5);
    res[`clip${size}`] = `${norm} ${digest(g)}`;
  }
}

function adam(res) {
  // Adam, 3 steps, plain and AMSGrad, with and without decoupled decay; sizes with every lane tail.
  for (const size of [1, 5, 8, 13, 1000, 65_536 + 13, 200_003])
    for (const amsgrad of [false, true])
      for (const decay of [0, 0.004]) {
        const w = data(9, size, -1, 1), m = new Float32Array(size), v = new Float32Array(size), vh = new Float32Array(size);
        for (let step = 1; step <= 3; step++) {
          const g = data(10 + step, size, -2, 2);
          native.adamUpdate(w, g, m, v, amsgrad ? vh : null, 0.01 * step, 0.9, 0.999, 1e-7, decay);
        }
        res[`adam${size}${amsgrad ? 'ams' : ''}${decay ? 'wd' : ''}`] = digest(w, m, v, vh);
      }
}
