// Child process for test/14.parallel_kernels.test.ts: runs kernels on fixed data at several thread
// counts and prints one JSON line of FNV-1a digests of the result bits (and the raw column sums),
// so that the parent can compare thread counts and instruction sets (DEEPNODE_ISA) bit for bit.
// The parent sets DEEPNODE_PARALLEL_BACKOFF=0 so that every pass above the thresholds splits,
// even on a machine where other processes hold the cores.
// Usage: node parallel_child.cjs <addon.node> <threads,threads,...> [adam]   (adam: Adam cases only)
'use strict';
process.env.OMP_WAIT_POLICY ??= 'passive';
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
