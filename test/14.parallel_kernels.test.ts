/**
 * The threaded element-wise passes, Adam's hand-written AVX2 loop and batch norm's register-blocked
 * [N, C] path, each held against what it replaces or splits:
 * - split passes (activations, their derivatives, the batch gather) give the one-thread bits;
 * - large bias and column sums take blocks of rows fixed by the shape: the same bits at 1, 2 and 3
 *   threads, within the rounding bound of the float64 sums;
 * - clipnorm's norm sums fixed chunks: the same double at 1, 2 and 3 threads;
 * - Adam gives the same bits with DEEPNODE_ISA=generic (the compiler's scalar loop) and without
 *   (AVX2 when the CPU has it), at 1 and 2 threads, and matches the float64 formula;
 * - batch norm's 16-feature groups give the same bits as the per-feature tile code;
 * - batch norm, dropout's masks and noise and the quantized direct products, split into ranges
 *   claimed by the pool's threads, give the one-thread bits.
 * Thread counts and instruction sets are compared in child processes (test/support/parallel_child.cjs)
 * with DEEPNODE_PARALLEL_BACKOFF=0, so every pass above the thresholds really splits.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ActId, addonPath, native } from '../src/backend/native';
import * as ref from '../src/optimizers/reference';
import { expectClose, randArray, rng } from './support/reference';

const CHILD = path.join(__dirname, 'support', 'parallel_child.cjs');

type ChildBias = { dx: string; db: number[]; colsum: number[]; colsumAcc: number[] };
type ChildResult = Record<string, Record<string, string | ChildBias>>;

function runChild(threads: number[], env: Record<string, string> = {}, only: 'adam' | 'all' = 'all'): ChildResult {
  const res = spawnSync(process.execPath, [CHILD, addonPath(), threads.join(','), only], {
    env: { ...process.env, DEEPNODE_PARALLEL_BACKOFF: '0', ...env },
    encoding: 'utf8',
    timeout: 60000,
    maxBuffer: 64 << 20,
  });
  expect(res.status, res.stderr).toBe(0);
  return JSON.parse(res.stdout.trim().split('\n').pop()!) as ChildResult;
}

// The same bias-pass shapes and data as the child (randArray(rng(seed), n, lo, hi) is its `data`).
const BIAS_SHAPES = [[600, 1024], [57_001, 37], [2053, 300]] as const;

function biasInputs(rows: number, cols: number) {
  const n = rows * cols, x = randArray(rng(3), n, -3, 3), y = new Float32Array(n), dy = randArray(rng(4), n, -1, 1);
  native.activationForward(ActId.Selu, x, y, 0);
  const dx = new Float32Array(n);
  native.activationBackward(ActId.Selu, x, y, dy, dx, 0);
  return { x, y, dy, dx, db0: randArray(rng(5), cols, -1, 1), acc0: randArray(rng(6), cols, -1, 1) };
}

/** Float64 column sums of v and of |v|. */
function columnSums(v: Float32Array, rows: number, cols: number): { sum: Float64Array; abs: Float64Array } {
  const sum = new Float64Array(cols), abs = new Float64Array(cols);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < cols; j++) {
      sum[j] += v[r * cols + j]!;
      abs[j] += Math.abs(v[r * cols + j]!);
    }
  return { sum, abs };
}

describe('threaded passes (child processes, 1, 2 and 3 threads)', () => {
  let out: ChildResult;
  beforeAll(() => {
    out = runChild([1, 2, 3]);
  });

  it('activations and their derivatives give the one-thread bits, every activation', () => {
    for (let act = 0; act < 15; act++) {
      expect(out[2]![`act${act}`], `act ${act}, 2 threads`).toBe(out[1]![`act${act}`]);
      expect(out[3]![`act${act}`], `act ${act}, 3 threads`).toBe(out[1]![`act${act}`]);
    }
  });

  it('gatherRows gives the one-thread bits', () => {
    expect(out[2]!.gather).toBe(out[1]!.gather);
    expect(out[3]!.gather).toBe(out[1]!.gather);
  });

  it('batch norm, dropout masks and noise, quantized products: the one-thread bits', () => {
    const quant = ['32x300', '24x264'].flatMap((shape) => [0, 1, 2, 3].map((path) => `quant${shape}p${path}`));
    const keys = ['bn8192x131x1', 'bn64x37x521', 'dropout', ...quant];
    for (const key of keys) {
      expect(out[1]![key], key).toMatch(/^[0-9a-f]+$/);
      expect(out[2]![key], `${key}, 2 threads`).toBe(out[1]![key]);
      expect(out[3]![key], `${key}, 3 threads`).toBe(out[1]![key]);
    }
  });

  it('activationBackwardBias and columnSum: the same bits at 1, 2 and 3 threads, within the rounding bound', () => {
    for (const [rows, cols] of BIAS_SHAPES) {
      const key = `bias${rows}x${cols}`;
      const one = out[1]![key] as ChildBias, two = out[2]![key] as ChildBias, three = out[3]![key] as ChildBias;
      // A large pass sums by blocks of rows fixed by the shape, whatever the thread count.
      for (const [name, got] of [['2 threads', two], ['3 threads', three]] as const) {
        expect(got.dx, `${key} dx, ${name}`).toBe(one.dx);
        expect(got.db, `${key} db, ${name}`).toEqual(one.db);
        expect(got.colsum, `${key} columnSum, ${name}`).toEqual(one.colsum);
        expect(got.colsumAcc, `${key} columnSum (accumulate), ${name}`).toEqual(one.colsumAcc);
      }
      // Both orders are within float32 summation error of the float64 sum: |err| <= rows * 2^-24 * sum |v|.
      const { dy, dx, db0, acc0 } = biasInputs(rows, cols);
      const d = columnSums(dx, rows, cols), g = columnSums(dy, rows, cols);
      const u = 2 ** -24;
      for (let j = 0; j < cols; j++) {
        const bound = (rows + 2) * u * 0.25 * d.abs[j]! + 2 * u * Math.abs(db0[j]! - 0.25 * d.sum[j]!);
        expect(Math.abs(one.db[j]! - (db0[j]! - 0.25 * d.sum[j]!)), `${key} db[${j}]`).toBeLessThanOrEqual(bound);
        expect(Math.abs(one.colsum[j]! - g.sum[j]!), `${key} colsum[${j}]`).toBeLessThanOrEqual((rows + 1) * u * g.abs[j]!);
        expect(Math.abs(one.colsumAcc[j]! - (acc0[j]! + g.sum[j]!)), `${key} colsumAcc[${j}]`)
          .toBeLessThanOrEqual((rows + 2) * u * (g.abs[j]! + Math.abs(acc0[j]!)));
      }
    }
  });

  it('large passes sum by blocks of rows even on one thread (the comparisons above are not vacuous)', () => {
    // The small passes' order, rows added one after another in float32, rounds differently on some
    // column of every bias shape here (all above the blocked-sum size) and of the 57,001-row column
    // sum (the only column sum above it): the 1-thread results took the blocked order too.
    const onePass = (v: Float32Array, rows: number, cols: number) => {
      const s = new Float32Array(cols);
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) s[j] = Math.fround(s[j]! + v[r * cols + j]!);
      return s;
    };
    for (const [rows, cols] of BIAS_SHAPES) {
      const one = out[1]![`bias${rows}x${cols}`] as ChildBias;
      const { dx, db0 } = biasInputs(rows, cols);
      const s = onePass(dx, rows, cols);
      const sequential = Array.from(db0, (b, j) => Math.fround(b + Math.fround(-0.25 * s[j]!)));
      expect(one.db.some((v, j) => v !== sequential[j]), `bias ${rows}x${cols}`).toBe(true);
    }
    const { dy } = biasInputs(57_001, 37);
    const s = onePass(dy, 57_001, 37);
    const one = out[1]!['bias57001x37'] as ChildBias;
    expect(one.colsum.some((v, j) => v !== s[j]), 'columnSum 57001x37').toBe(true);
  });

  it('clipByNorm: the same norm (a double) and clipped bits at 1, 2 and 3 threads', () => {
    for (const size of [65_536 + 13, 1_000_003]) {
      const key = `clip${size}`;
      expect(out[2]![key], `${key}, 2 threads`).toBe(out[1]![key]);
      expect(out[3]![key], `${key}, 3 threads`).toBe(out[1]![key]);
      // Not vacuous: the norm is the chunked sum, not one running sum (which differs in its last bits here).
      const g = randArray(rng(20), size, -1, 1);
      let sequential = 0;
      for (let i = 0; i < size; i++) sequential += g[i]! * g[i]!;
      const norm = Number((out[1]![key] as string).split(' ')[0]);
      expect(Math.abs(norm - Math.sqrt(sequential)) / norm).toBeLessThan(1e-12);
      if (size > 500_000) expect(norm).not.toBe(Math.sqrt(sequential));
    }
  });

  it('Adam gives the same bits at 1, 2 and 3 threads', () => {
    const keys = Object.keys(out[1]!).filter((k) => k.startsWith('adam'));
    expect(keys.length).toBe(28);
    for (const k of keys) {
      expect(out[2]![k], `${k}, 2 threads`).toBe(out[1]![k]);
      expect(out[3]![k], `${k}, 3 threads`).toBe(out[1]![k]);
    }
  });
});

describe('Adam: AVX2 loop vs the compiler-generated loop', () => {
  // The portable loop is GCC's x86-64-v3 clone on Linux x64 (fused multiply-adds, like the AVX2
  // loop). Other builds (clang, which gets no clones) round the portable loop without fusing, so
  // there the two agree to the formula's tolerance (next test), not to the bit.
  it.runIf(process.platform === 'linux' && process.arch === 'x64')(
    'DEEPNODE_ISA=generic (portable loop) gives the same bits as the default (AVX2 where supported)',
    () => {
      const fast = runChild([1, 2], {}, 'adam'), generic = runChild([1, 2], { DEEPNODE_ISA: 'generic' }, 'adam');
      for (const t of [1, 2])
        for (const k of Object.keys(fast[1]!).filter((key) => key.startsWith('adam')))
          expect(fast[t]![k], `${k}, ${t} thread(s)`).toBe(generic[t]![k]);
    },
  );

  it('matches the float64 formula at every lane tail, plain and AMSGrad, with decoupled decay', () => {
    for (const n of [1, 3, 7, 8, 9, 15, 16, 17, 1023])
      for (const amsgrad of [false, true]) {
        const r = rng(n * 7 + (amsgrad ? 1 : 0));
        const w = randArray(r, n, -1, 1), wr = w.slice();
        const slots = () => [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
        const s = slots(), sr = slots();
        for (let step = 1; step <= 4; step++) {
          const g = randArray(r, n, -2, 2);
          native.adamUpdate(w, g, s[0]!, s[1]!, amsgrad ? s[2]! : null, 0.01 * step, 0.9, 0.999, 1e-7, 0.004);
          ref.adamUpdate(wr, g, sr[0]!, sr[1]!, amsgrad ? sr[2]! : null, 0.01 * step, 0.9, 0.999, 1e-7, 0.004);
        }
        expectClose(w, wr, 1e-5, 1e-6, `adam n=${n} amsgrad=${amsgrad} weights`);
        s.forEach((x, i) => expectClose(x, sr[i]!, 1e-5, 1e-7, `adam n=${n} amsgrad=${amsgrad} slot ${i}`));
      }
  });
});

describe('activationBackwardBias on one thread: its summation order, chosen by the shape', () => {
  it('db = db0 + scale * (rows added one after another in float32), or by blocks of 16,384 floats from 2^18 elements', () => {
    const threads = native.getNumThreads();
    native.setNumThreads(1);
    try {
      // SELU's backward pass with its bias sums is 2 work units per element: blocked from 2^19 units.
      for (const [rows, cols, blocked] of [[256, 1024, true], [33, 100, false], [4099, 37, false], [7089, 37, true]] as const) {
        const { x, y, dy, dx, db0 } = biasInputs(rows, cols);
        const db = db0.slice(), got = new Float32Array(rows * cols);
        native.activationBackwardBias(ActId.Selu, x, y, dy, got, 0, rows, cols, db, -0.25);
        expect(Array.from(got)).toEqual(Array.from(dx));
        const per = blocked ? Math.floor(16384 / cols) : rows; // rows per block
        for (let j = 0; j < cols; j++) {
          let s = 0;
          for (let r0 = 0; r0 < rows; r0 += per) {
            let p = 0;
            for (let r = r0; r < Math.min(rows, r0 + per); r++) p = Math.fround(p + dx[r * cols + j]!);
            s = r0 === 0 ? p : Math.fround(s + p);
          }
          // The final db0 + scale * s is fused (one rounding) in the AVX2 clone, two roundings otherwise.
          const fused = Math.fround(db0[j]! + -0.25 * s), unfused = Math.fround(db0[j]! + Math.fround(-0.25 * s));
          expect([fused, unfused], `${rows}x${cols} db[${j}]`).toContain(db[j]);
        }
      }
    } finally {
      native.setNumThreads(threads);
    }
  });
});

describe('batch norm: 16-feature register-blocked groups vs the per-feature tile code', () => {
  // Each feature of a [N, C] batch is normalised on its own, so feature j of a 37-feature batch
  // (two groups of 16 + a 5-feature tail) must be the same bits as a [N, 1] batch of column j
  // (tile code only).
  const N = 33, C = 37;
  const column = (a: Float32Array, j: number) => Float32Array.from({ length: N }, (_, r) => a[r * C + j]!);

  for (const training of [true, false])
    for (const affine of [true, false])
      it(`forward and backward, training=${training}, gamma/beta ${affine ? 'given' : 'null'}`, () => {
        const r = rng(training ? 11 : 12);
        const x = randArray(r, N * C, -2, 5), dy = randArray(r, N * C, -1, 1);
        const gamma = affine ? randArray(r, C, 0.5, 1.5) : null, beta = affine ? randArray(r, C, -1, 1) : null;
        const mean = training ? new Float32Array(C) : randArray(r, C, 0, 2), vr = training ? new Float32Array(C) : randArray(r, C, 0.5, 2);
        const y = new Float32Array(N * C);
        native.batchnormForward(x, y, N, C, 1, gamma, beta, mean, vr, 1e-3, training);
        const dx = randArray(r, N * C, -1, 1), dg = randArray(r, C, -1, 1), dbt = randArray(r, C, -1, 1);
        const dx0 = dx.slice(), dg0 = dg.slice(), dbt0 = dbt.slice();
        native.batchnormBackward(x, dy, N, C, 1, mean, vr, gamma, 1e-3, training, dx, dg, dbt);
        for (let j = 0; j < C; j++) {
          const g1 = gamma ? gamma.subarray(j, j + 1) : null, b1 = beta ? beta.subarray(j, j + 1) : null;
          const m1 = training ? new Float32Array(1) : mean.slice(j, j + 1), v1 = training ? new Float32Array(1) : vr.slice(j, j + 1);
          const y1 = new Float32Array(N);
          native.batchnormForward(column(x, j), y1, N, 1, 1, g1, b1, m1, v1, 1e-3, training);
          expect(Array.from(y1), `y, feature ${j}`).toEqual(Array.from(column(y, j)));
          expect([m1[0], v1[0]], `mean and var, feature ${j}`).toEqual([mean[j], vr[j]]);
          const dx1 = column(dx0, j), dg1 = dg0.slice(j, j + 1), db1 = dbt0.slice(j, j + 1);
          native.batchnormBackward(column(x, j), column(dy, j), N, 1, 1, m1, v1, g1, 1e-3, training, dx1, dg1, db1);
          expect(Array.from(dx1), `dx, feature ${j}`).toEqual(Array.from(column(dx, j)));
          expect([dg1[0], db1[0]], `dgamma and dbeta, feature ${j}`).toEqual([dg[j], dbt[j]]);
        }
      });
});
