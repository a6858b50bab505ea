/**
 * native.gemm against a float64 reference: odd shapes, all four transposes, alpha/beta, bias,
 * strided and offset (subarray) operands, 1 and 2 threads, a product above the threading threshold,
 * and the generic and AVX2 micro-kernels (each in its own child process, since DEEPNODE_ISA is
 * read once at load).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../src/backend/native';

type Case = {
  ta: boolean; tb: boolean; m: number; n: number; k: number; alpha: number; beta: number;
  withBias: boolean; extraLd: number; nanC: boolean; rowStep?: number;
};
interface GemmRef {
  rng(seed: number): () => number;
  checkCase(n: typeof native, r: () => number, c: Case): string | null;
  randomCases(seed: number, count: number): Case[];
  referenceGemm(
    ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number, A: Float32Array, lda: number,
    B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number, bias: Float32Array | null, rowStep?: number,
  ): { out: Float64Array; bound: Float64Array };
  matrix(r: () => number, rows: number, ld: number, pad: number): Float32Array;
}
const requireCjs = createRequire(import.meta.url);
const REF_PATH = path.join(__dirname, 'support', 'gemm_reference.cjs');
const ref = requireCjs(REF_PATH) as GemmRef;

let savedThreads = 1;
beforeAll(() => {
  savedThreads = native.getNumThreads();
});
afterAll(() => {
  native.setNumThreads(savedThreads);
});

const SEED = 20240611;
const TRANSPOSES: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

/** Checks each case against the float64 reference on 2 threads, drawing operands from rng(seed); the failures. */
function failuresOn2Threads(seed: number, cases: Case[]): string[] {
  native.setNumThreads(2);
  try {
    const r = ref.rng(seed);
    return cases.map((c) => ref.checkCase(native, r, c)).filter((e): e is string => e !== null);
  } finally {
    native.setNumThreads(savedThreads);
  }
}

describe.each([1, 2])('gemm with %i thread(s)', (threads) => {
  beforeAll(() => native.setNumThreads(threads));

  it(`matches the float64 reference on 120 random cases (seed ${SEED + threads})`, () => {
    expect(native.getNumThreads()).toBe(threads);
    const r = ref.rng(SEED + threads);
    const failures: string[] = [];
    for (const c of ref.randomCases(SEED + threads, 120)) {
      const f = ref.checkCase(native, r, c);
      if (f) failures.push(f);
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });

  it('covers every transpose x bias x size combination of 1, 7, 33, 257', () => {
    const r = ref.rng(7 + threads);
    const failures: string[] = [];
    const shapes: [number, number, number][] = [
      [1, 1, 1], [7, 7, 7], [33, 33, 33], [1, 257, 7], [257, 1, 33], [7, 33, 257], [33, 257, 1], [257, 7, 1], [2, 3, 257],
    ];
    for (const [m, n, k] of shapes) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          for (const withBias of [false, true]) {
            const c = { ta, tb, m, n, k, alpha: 1, beta: 0, withBias, extraLd: 0, nanC: false };
            const f = ref.checkCase(native, r, c);
            if (f) failures.push(f);
          }
        }
      }
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });

  it('crosses the threading threshold: 256 x 300 x 784 with bias and beta (every 5th row checked)', () => {
    const r = ref.rng(31 + threads);
    const failures: string[] = [];
    // All four transposes on 2 threads; the plain and the doubly transposed product on 1.
    const combos = threads === 2 ? TRANSPOSES : [[false, false], [true, true]];
    for (const [ta, tb] of combos as [boolean, boolean][]) {
      const f = ref.checkCase(native, r, {
        ta, tb, m: 256, n: 300, k: 784, alpha: 0.5, beta: ta ? 1 : 0, withBias: true, extraLd: tb ? 2 : 0, nanC: !ta, rowStep: 5,
      });
      if (f) failures.push(f);
    }
    expect(failures).toEqual([]);
  });
});

describe('gemm semantics', () => {
  it('beta = 0 ignores C even when it holds NaN and Inf', () => {
    const A = Float32Array.from([1, 2, 3, 4, 5, 6]); // 2x3
    const B = Float32Array.from([1, 0, 0, 1, 1, 1]); // 3x2
    const C = Float32Array.from([NaN, Infinity, -Infinity, NaN]);
    native.gemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2, null);
    // Worked by hand: [1,2,3]·cols = [1+3, 2+3], [4+6, 5+6].
    expect(Array.from(C)).toEqual([4, 5, 10, 11]);
  });

  it('computes alpha op(A) op(B) + beta C + bias, hand-worked 2x2', () => {
    const A = Float32Array.from([1, 2, 3, 4]);
    const B = Float32Array.from([5, 6, 7, 8]);
    const C = Float32Array.from([1, 1, 1, 1]);
    const bias = Float32Array.from([10, 20]);
    // A^T B = [[1,3],[2,4]] [[5,6],[7,8]] = [[26, 30], [38, 44]]; 2*that - 1*C + bias.
    native.gemm(true, false, 2, 2, 2, 2, A, 2, B, 2, -1, C, 2, bias);
    expect(Array.from(C)).toEqual([2 * 26 - 1 + 10, 2 * 30 - 1 + 20, 2 * 38 - 1 + 10, 2 * 44 - 1 + 20]);
    // A B^T = [[1,2],[3,4]] [[5,7],[6,8]] = [[17, 23], [39, 53]].
    C.fill(0);
    native.gemm(false, true, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2, null);
    expect(Array.from(C)).toEqual([17, 23, 39, 53]);
    // A^T B^T = (B A)^T; B A = [[23, 34], [31, 46]].
    native.gemm(true, true, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2, null);
    expect(Array.from(C)).toEqual([23, 31, 34, 46]);
  });

  it('k = 0 gives beta C + bias; m = 0 or n = 0 writes nothing', () => {
    const C = Float32Array.from([1, 2, 3, 4, 5, 6]);
    native.gemm(false, false, 2, 3, 0, 1, new Float32Array(0), 1, new Float32Array(0), 3, 2, C, 3, Float32Array.from([1, 0, -1]));
    expect(Array.from(C)).toEqual([3, 4, 5, 9, 10, 11]);
    // k = 0 with beta = 0: C = bias, old NaNs ignored.
    C.fill(NaN);
    native.gemm(true, true, 2, 3, 0, 1, new Float32Array(0), 2, new Float32Array(0), 1, 0, C, 3, Float32Array.from([1, 0, -1]));
    expect(Array.from(C)).toEqual([1, 0, -1, 1, 0, -1]);
    const D = Float32Array.from([7, 7]);
    native.gemm(false, false, 0, 2, 3, 1, new Float32Array(0), 3, new Float32Array(6), 2, 0, D, 2, null);
    native.gemm(false, false, 1, 0, 3, 1, new Float32Array(3), 3, new Float32Array(0), 1, 0, D, 1, null);
    expect(Array.from(D)).toEqual([7, 7]);
  });

  it('multiplies blocks of larger matrices through lda/ldb/ldc and subarray offsets', () => {
    // A 10x12 matrix; take the 5x4 block at row 3, column 2 as A (lda 12), similarly for B and C.
    const r = ref.rng(99);
    const bigA = ref.matrix(r, 10, 12, 0), bigB = ref.matrix(r, 9, 11, 0), bigC = ref.matrix(r, 8, 13, 0);
    const A = bigA.subarray(3 * 12 + 2), B = bigB.subarray(1 * 11 + 4), C = bigC.subarray(2 * 13 + 1);
    const snapshot = Float32Array.from(bigC);
    const want = ref.referenceGemm(false, false, 5, 6, 4, 1, A, 12, B, 11, 0.5, C, 13, null);
    native.gemm(false, false, 5, 6, 4, 1, A, 12, B, 11, 0.5, C, 13, null);
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 13; j++) {
        const inBlock = i >= 2 && i < 7 && j >= 1 && j < 7;
        const got = bigC[i * 13 + j]!;
        if (inBlock) expect(got).toBeCloseTo(want.out[(i - 2) * 6 + (j - 1)]!, 5);
        else expect(got, `outside the block at ${i},${j}`).toBe(snapshot[i * 13 + j]);
      }
    }
  });

  it('gives the same product on 1 and 2 threads for a large shape (within rounding)', () => {
    const r = ref.rng(5);
    const m = 200, n = 180, k = 400;
    const A = ref.matrix(r, m, k, 0), B = ref.matrix(r, k, n, 0);
    const C1 = new Float32Array(m * n), C2 = new Float32Array(m * n);
    native.setNumThreads(1);
    native.gemm(false, false, m, n, k, 1, A, k, B, n, 0, C1, n, null);
    native.setNumThreads(2);
    native.gemm(false, false, m, n, k, 1, A, k, B, n, 0, C2, n, null);
    native.setNumThreads(savedThreads);
    let maxDiff = 0;
    for (let i = 0; i < C1.length; i++) maxDiff = Math.max(maxDiff, Math.abs(C1[i]! - C2[i]!));
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it('splits short products with a small op(B) by rows on 2 threads (B read in place by both blocks)', () => {
    // m <= 48 reads op(B) = B in place; with n * k <= 64K floats two row blocks beat two uneven
    // column blocks (native/gemm.cc choose_grid), e.g. W1's 32 x 100 x 300. Above 1.5 MFLOP, so split.
    const cases: Case[] = [];
    for (const m of [13, 24, 31, 32, 41, 48])
      for (const n of [100, 57])
        for (const [ta, tb] of TRANSPOSES)
          cases.push({ ta, tb, m, n, k: 300 + (m % 5), alpha: 1, beta: m % 2 === 0 ? 0.5 : 0, withBias: n === 100, extraLd: m % 3 === 1 ? 5 : 0, nanC: false });
    expect(failuresOn2Threads(93, cases)).toEqual([]);
  });

  it('packs a shared op(A) in two row ranges on 2 threads: every m across the split limits, all transposes', () => {
    // Column blocks share one packing of op(A) (small m, wide n), which the pool's threads pack in
    // two row ranges when the second holds at least mr + 4 rows (native/gemm.cc sgemm_ex): m from
    // 1 to 40 and a few larger cross that limit for the 6-row (AVX2) and 12-row (AVX-512) tiles.
    // A non-transposed op(A) of up to 48 rows is read in place instead (gemm_kernel.inc
    // read_a_in_place): the same cases then check that path on 2 threads, and the transposed-A
    // cases and m = 64, 97, 130 the shared packing.
    const cases: Case[] = [];
    for (const m of [...Array.from({ length: 40 }, (_, i) => i + 1), 64, 97, 130])
      for (const [ta, tb] of TRANSPOSES)
        cases.push({ ta, tb, m, n: 512, k: 96 + (m % 41), alpha: 1, beta: m % 3 === 0 ? 0.5 : 0, withBias: m % 2 === 0, extraLd: m % 4 === 1 ? 3 : 0, nanC: false });
    expect(failuresOn2Threads(91, cases)).toEqual([]);
  });
});

// A child that wakes the pool's sleeping helper for a 2-thread product (gemm.cc keep_helpers_off
// narrows the helper's CPU affinity for the wake-up, widen restores it) and then prints every
// thread's Cpus_allowed_list. Linux only: it reads /proc/self/task.
const AFFINITY_CHILD = `
const fs = require('node:fs');
const native = process.env.DEEPNODE_ADDON ? require(process.env.DEEPNODE_ADDON) : require('node-gyp-build')(${JSON.stringify(path.join(__dirname, '..'))});
const masks = () => fs.readdirSync('/proc/self/task').map((t) => {
  const status = fs.readFileSync('/proc/self/task/' + t + '/status', 'utf8');
  return status.match(/^Cpus_allowed_list:\\s*(\\S+)/m)[1];
});
const m = 256, n = 1024, k = 512;
const A = new Float32Array(m * k).fill(0.5), B = new Float32Array(k * n).fill(0.25), C = new Float32Array(m * n);
native.setNumThreads(2);
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const products = [];
for (let i = 0; i < 6; i++) {
  sleep(60); // the helper falls asleep after ~150 us without work
  C.fill(1);
  native.gemm(false, false, m, n, k, 1, A, k, B, n, 0, C, n, null);
  products.push(C.every((v) => v === 64)); // 512 x 0.5 x 0.25, exact in float32
}
let after = masks();
for (let i = 0; i < 100 && new Set(after).size > 1; i++) { sleep(10); after = masks(); }
console.log(JSON.stringify({ products, main: masks()[0], after }));
`;

describe('gemm thread pool and CPU affinity (Linux)', () => {
  const linux = process.platform === 'linux';
  it.skipIf(!linux)('a helper woken from its sleep ends with the affinity it was created with', () => {
    const res = spawnSync(process.execPath, ['-e', AFFINITY_CHILD], { encoding: 'utf8', timeout: 60000 });
    expect(res.status, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { products: boolean[]; main: string; after: string[] };
    expect(out.products).toEqual([true, true, true, true, true, true]);
    // Every thread, the pool's helper included, has the process's mask back (the child polls up
    // to a second for a helper that has not run since its wake-up).
    expect(new Set(out.after)).toEqual(new Set([out.main]));
  });
});

describe('gemm per ISA (child processes, DEEPNODE_ISA)', () => {
  const rank: Record<string, number> = { generic: 0, avx2: 1, avx512: 2 };
  const defaultIsa = native.info().isa;

  it.each(['generic', 'avx2', 'avx512'])('DEEPNODE_ISA=%s selects that kernel (when supported) and it matches the reference', (isa) => {
    const res = spawnSync(process.execPath, [REF_PATH], {
      env: { ...process.env, DEEPNODE_ISA: isa },
      encoding: 'utf8',
      timeout: 60000,
    });
    expect(res.status, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { isa: string; failures: string[] };
    // A forced ISA the CPU lacks falls back to the best supported one.
    const expected = rank[isa]! <= rank[defaultIsa]! ? isa : defaultIsa;
    expect(out.isa).toBe(expected);
    expect(out.failures.slice(0, 5)).toEqual([]);
  });
});

describe('split-k products (m <= 48, k >= 512) and their weight gradients', () => {
  // A short, deep product is always the sum of two half-depth products (native/gemm.cc
  // split_k_shape), one per thread on two threads, so its bits must not depend on the thread count;
  // and the weight gradient of those weights (op(A) = A^T, C = W) splits into row blocks.
  function run(threads: number): { z: Float32Array; y: Float32Array; w: Float32Array } {
    const r = ref.rng(99);
    const m = 32, n = 300, k = 784;
    const x = ref.matrix(r, m, k, 0), w = ref.matrix(r, k, n, 0), b = ref.matrix(r, 1, n, 0), dz = ref.matrix(r, m, n, 0);
    const z = new Float32Array(m * n), y = new Float32Array(m * n);
    native.setNumThreads(threads);
    try {
      native.gemm(false, false, m, n, k, 1, x, k, w, n, 0, z, n, b, 2, 0.2, y);  // + LeakyReLU epilogue
      native.gemm(true, false, k, n, m, -1e-3, x, k, dz, n, 1, w, n, null);  // W -= lr X^T dZ in place
    } finally {
      native.setNumThreads(savedThreads);
    }
    return { z, y, w };
  }

  it('give the same bits at 1 and 2 threads, and match the float64 reference', () => {
    const one = run(1), two = run(2);
    for (const key of ['z', 'y', 'w'] as const) expect(Buffer.from(two[key].buffer).equals(Buffer.from(one[key].buffer)), key).toBe(true);
    const r = ref.rng(5);
    const failures: string[] = [];
    for (const threads of [1, 2]) {
      native.setNumThreads(threads);
      for (const [m, k, beta, withBias, extraLd] of [[32, 784, 0, true, 0], [13, 530, 0.5, false, 3], [48, 512, 1, true, 1], [1, 600, 0, false, 0]] as const) {
        const f = ref.checkCase(native, r, { ta: false, tb: false, m, n: 70, k, alpha: 0.75, beta, withBias, extraLd, nanC: beta === 0 });
        if (f) failures.push(`${threads}T: ${f}`);
        const g = ref.checkCase(native, r, { ta: true, tb: false, m: k, n: 70, k: m, alpha: -0.5, beta: 1, withBias: false, extraLd, nanC: false });
        if (g) failures.push(`${threads}T dW: ${g}`);
      }
    }
    native.setNumThreads(savedThreads);
    expect(failures).toEqual([]);
  });
});
