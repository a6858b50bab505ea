/**
 * The binding never crashes and never writes out of bounds: every bad call throws a JS error with a
 * stable `code`, or (for zero sizes, in-place calls) gives the right answer. Ends with a seeded fuzz
 * loop over every exported function whose arrays sit inside guarded buffers, so a write past the
 * end of an output shows up as a changed guard.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { native, ActId } from '../src/backend/native';
import { caught, rng } from './support/reference';

const f32 = (n: number) => new Float32Array(n);

function detached(n: number): Float32Array {
  const buf = new ArrayBuffer(n * 4);
  const view = new Float32Array(buf);
  structuredClone(buf, { transfer: [buf] });
  return view;
}

const savedThreads = native.getNumThreads();
afterAll(() => native.setNumThreads(savedThreads));

function expectCode(fn: () => unknown, code: string, message?: string | RegExp): void {
  const e = caught(fn);
  expect(e).toBeInstanceOf(Error);
  expect(e.code, e.message).toBe(code);
  if (message !== undefined) expect(e.message).toMatch(message);
}

describe('argument counts and types', () => {
  it('wrong argument counts throw TypeError ERR_NATIVE_ARGS naming the function', () => {
    const e = caught(() => (native.sum as unknown as () => number)());
    expect(e).toBeInstanceOf(TypeError);
    expect(e.code).toBe('ERR_NATIVE_ARGS');
    expect(e.message).toBe('sum: expected 1 arguments, received 0');
    expectCode(() => (native.gemm as unknown as (...a: unknown[]) => void)(false, false, 1, 1, 1), 'ERR_NATIVE_ARGS', /gemm/);
    expectCode(() => (native.axpy as unknown as (...a: unknown[]) => void)(1, f32(1), f32(1), f32(1)), 'ERR_NATIVE_ARGS');
  });

  it.each([
    ['Float64Array', new Float64Array(4)],
    ['plain array', [1, 2, 3, 4]],
    ['number', 4],
    ['Int32Array', new Int32Array(4)],
    ['DataView', new DataView(new ArrayBuffer(16))],
    ['null (required input)', null],
  ])('a %s where a Float32Array is required throws TypeError ERR_NATIVE_TYPE', (_n, bad) => {
    const call = native.sum as unknown as (x: unknown) => number;
    const e = caught(() => call(bad));
    expect(e).toBeInstanceOf(TypeError);
    expect(e.code).toBe('ERR_NATIVE_TYPE');
    expect(e.message).toBe('sum: x must be a Float32Array');
    const sm = native.softmax as unknown as (...a: unknown[]) => void;
    expectCode(() => sm(f32(4), bad, 2, 2), 'ERR_NATIVE_TYPE', /y must be a Float32Array/);
  });

  it('non-boolean flags and non-number scalars throw ERR_NATIVE_TYPE', () => {
    const gemm = native.gemm as unknown as (...a: unknown[]) => void;
    expectCode(() => gemm(0, false, 1, 1, 1, 1, f32(1), 1, f32(1), 1, 0, f32(1), 1, null), 'ERR_NATIVE_TYPE', /transA/);
    expectCode(() => gemm(false, false, '1', 1, 1, 1, f32(1), 1, f32(1), 1, 0, f32(1), 1, null), 'ERR_NATIVE_TYPE', /\bm\b/);
    expectCode(() => (native.scale as unknown as (...a: unknown[]) => void)('2', f32(2)), 'ERR_NATIVE_TYPE', /alpha/);
    expectCode(() => (native.columnSum as unknown as (...a: unknown[]) => void)(f32(4), 2, 2, f32(2), 1), 'ERR_NATIVE_TYPE', /accumulate/);
  });
});

describe('sizes and dimensions', () => {
  it.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['2^31', 2 ** 31],
  ])('%s dimension throws RangeError ERR_NATIVE_VALUE', (_n, bad) => {
    const e = caught(() => native.softmax(f32(4), f32(4), bad, 2));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe('ERR_NATIVE_VALUE');
    expect(e.message).toMatch(/softmax: rows must be an integer in \[0, 2\^31\)/);
    expectCode(() => native.gemm(false, false, 2, bad, 2, 1, f32(4), 2, f32(4), 2, 0, f32(4), 2, null), 'ERR_NATIVE_VALUE');
  });

  it('non-finite scalars throw ERR_NATIVE_VALUE', () => {
    expectCode(() => native.scale(NaN, f32(2)), 'ERR_NATIVE_VALUE', /alpha must be finite/);
    expectCode(() => native.gemm(false, false, 1, 1, 1, Infinity, f32(1), 1, f32(1), 1, 0, f32(1), 1, null), 'ERR_NATIVE_VALUE');
    expectCode(() => native.sgdStep(f32(2), f32(2), null, NaN, 0, false), 'ERR_NATIVE_VALUE', /lr/);
  });

  it('too-short arrays throw ERR_NATIVE_SIZE with have/need counts', () => {
    expectCode(() => native.softmax(f32(5), f32(6), 2, 3), 'ERR_NATIVE_SIZE', 'softmax: x has 5 elements, needs 6');
    expectCode(() => native.gemm(false, false, 2, 3, 4, 1, f32(8), 4, f32(11), 3, 0, f32(6), 3, null), 'ERR_NATIVE_SIZE', /B has 11 elements, needs 12/);
    expectCode(() => native.gemm(false, false, 2, 3, 4, 1, f32(8), 4, f32(12), 3, 0, f32(6), 3, f32(2)), 'ERR_NATIVE_SIZE', /bias/);
    // A strided C needs (m - 1) * ldc + n elements.
    expectCode(() => native.gemm(false, false, 2, 3, 4, 1, f32(8), 4, f32(12), 3, 0, f32(7), 5, null), 'ERR_NATIVE_SIZE', /C has 7 elements, needs 8/);
    native.gemm(false, false, 2, 3, 4, 1, f32(8), 4, f32(12), 3, 0, f32(8), 5, null);
    expectCode(() => native.axpy(1, f32(5), f32(4)), 'ERR_NATIVE_SIZE');
    expectCode(() => native.activationBackward(ActId.Relu, f32(5), f32(5), f32(4), f32(5), 0), 'ERR_NATIVE_SIZE', /dy/);
    expectCode(() => native.sparseSoftmaxXent(f32(6), f32(1), 2, 3, null, 1, null), 'ERR_NATIVE_SIZE', /labels/);
    expectCode(() => native.sparseSoftmaxXent(f32(6), f32(2), 2, 3, null, 1, f32(1)), 'ERR_NATIVE_SIZE', /rowLoss/);
    expectCode(() => native.sgdStep(f32(4), f32(4), f32(3), 0.1, 0.9, false), 'ERR_NATIVE_SIZE', /velocity/);
  });

  it('dimensions whose product overflows 32 bits are checked in 64 bits', () => {
    const big = 2 ** 31 - 1;
    expectCode(() => native.softmax(f32(4), f32(4), big, big), 'ERR_NATIVE_SIZE');
    expectCode(() => native.gemm(false, false, big, big, big, 1, f32(4), big, f32(4), big, 0, f32(4), big, null), 'ERR_NATIVE_SIZE');
    expectCode(() => native.columnSum(f32(4), big, 2, f32(2), false), 'ERR_NATIVE_SIZE');
  });

  it('leading dimensions below the row length throw ERR_NATIVE_VALUE', () => {
    expectCode(() => native.gemm(false, false, 2, 2, 3, 1, f32(6), 2, f32(6), 2, 0, f32(4), 2, null), 'ERR_NATIVE_VALUE', /leading dimension/);
    expectCode(() => native.gemm(true, false, 2, 2, 3, 1, f32(6), 1, f32(6), 2, 0, f32(4), 2, null), 'ERR_NATIVE_VALUE');
    expectCode(() => native.gemm(false, false, 2, 2, 3, 1, f32(6), 3, f32(6), 2, 0, f32(4), 1, null), 'ERR_NATIVE_VALUE');
  });

  it('other value checks: activation id, thread count, empty class axis', () => {
    expectCode(() => native.activationForward(99 as ActId, f32(1), f32(1), 0), 'ERR_NATIVE_VALUE', /unknown activation id 99/);
    expectCode(() => native.activationForward(-1 as ActId, f32(1), f32(1), 0), 'ERR_NATIVE_VALUE');
    expectCode(() => native.setNumThreads(0), 'ERR_NATIVE_VALUE', /\[1, 1024\]/);
    expectCode(() => native.setNumThreads(5000), 'ERR_NATIVE_VALUE');
    expect(native.getNumThreads()).toBe(savedThreads);
    expectCode(() => native.sparseSoftmaxXent(f32(0), f32(2), 2, 0, null, 1, null), 'ERR_NATIVE_VALUE', /cols must be positive/);
    expectCode(() => native.sparseArgmaxMatches(f32(0), f32(2), 2, 0), 'ERR_NATIVE_VALUE');
  });

  it('zero sizes are valid and do nothing (or return 0)', () => {
    const e = f32(0);
    expect(native.sum(e)).toBe(0);
    expect(native.sumSquares(e)).toBe(0);
    expect(native.firstNonFinite(e)).toBe(-1);
    native.softmax(e, e, 0, 5);
    native.softmax(e, e, 3, 0);
    native.logSoftmax(e, e, 0, 0);
    native.softmaxBackward(e, e, e, 0, 4);
    expect(native.sparseSoftmaxXent(e, e, 0, 3, e, 1, e)).toBe(0);
    expect(native.softmaxXent(e, e, 0, 3, e, 1, e)).toBe(0);
    expect(native.sigmoidBce(e, e, e, 1)).toBe(0);
    expect(native.bce(e, e, 1e-7, e, 1)).toBe(0);
    expect(native.categoricalXent(e, e, 0, 3, 1e-7, e, 1)).toBe(0);
    expect(native.squaredError(e, e, null, 1)).toBe(0);
    native.activationForward(ActId.GeluExact, e, e, 0);
    native.activationBackward(ActId.Relu, e, e, e, e, 0);
    native.axpy(2, e, e);
    native.scale(2, e);
    native.sgdStep(e, e, e, 0.1, 0.9, true);
    expect(native.sparseArgmaxMatches(e, e, 0, 3)).toBe(0);
    expect(native.argmaxMatches(e, e, 0, 3)).toBe(0);
    expect(native.binaryMatches(e, e, 0.5)).toBe(0);
    const db = Float32Array.of(7, 7);
    native.columnSum(e, 0, 2, db, false);
    expect(Array.from(db)).toEqual([0, 0]);
  });
});

describe('aliasing', () => {
  it('gemm refuses C overlapping A, B or bias', () => {
    const buf = f32(32);
    expectCode(() => native.gemm(false, false, 2, 2, 2, 1, buf.subarray(0, 4), 2, f32(4), 2, 0, buf.subarray(2, 6), 2, null), 'ERR_NATIVE_OVERLAP', /C overlaps A/);
    expectCode(() => native.gemm(false, false, 2, 2, 2, 1, f32(4), 2, buf.subarray(4, 8), 2, 0, buf.subarray(4, 8), 2, null), 'ERR_NATIVE_OVERLAP', /C overlaps B/);
    expectCode(() => native.gemm(false, false, 2, 2, 2, 1, f32(4), 2, f32(4), 2, 0, buf.subarray(0, 4), 2, buf.subarray(3, 5)), 'ERR_NATIVE_OVERLAP', /bias/);
    // Adjacent, not overlapping: fine.
    native.gemm(false, false, 2, 2, 2, 1, buf.subarray(0, 4), 2, buf.subarray(4, 8), 2, 0, buf.subarray(8, 12), 2, buf.subarray(12, 14));
  });

  it('element-wise ops allow exact in-place but refuse partial overlap', () => {
    const buf = Float32Array.from({ length: 10 }, (_, i) => i - 5);
    expectCode(() => native.activationForward(ActId.Relu, buf.subarray(0, 6), buf.subarray(2, 8), 0), 'ERR_NATIVE_OVERLAP');
    expectCode(() => native.axpy(1, buf.subarray(0, 5), buf.subarray(1, 6)), 'ERR_NATIVE_OVERLAP');
    expectCode(() => native.softmax(buf.subarray(0, 4), buf.subarray(1, 5), 2, 2), 'ERR_NATIVE_OVERLAP');
    // dx may not alias x or y at all (it is read after dx is written).
    expectCode(() => native.activationBackward(ActId.Elu, buf, f32(10), f32(10), buf, 1), 'ERR_NATIVE_OVERLAP', /dx overlaps x/);
    const sm = Float32Array.of(1, 2, 3, 4);
    native.softmax(sm, sm, 2, 2);
    const e = Math.exp(1);
    expect(sm[0]).toBeCloseTo(1 / (1 + e), 6);
    expect(sm[3]).toBeCloseTo(e / (1 + e), 6);
  });

  it('losses refuse outputs overlapping their inputs or each other', () => {
    const buf = f32(64);
    const labels = f32(4);
    // grad over logits
    expectCode(() => native.sparseSoftmaxXent(buf.subarray(0, 12), labels, 4, 3, buf.subarray(6, 18), 1, null), 'ERR_NATIVE_OVERLAP');
    // rowLoss over logits (it is written before later rows are read)
    expectCode(() => native.sparseSoftmaxXent(buf.subarray(0, 12), labels, 4, 3, null, 1, buf.subarray(3, 7)), 'ERR_NATIVE_OVERLAP', /rowLoss/);
    // rowLoss over grad
    expectCode(() => native.sparseSoftmaxXent(buf.subarray(0, 12), labels, 4, 3, buf.subarray(20, 32), 1, buf.subarray(24, 28)), 'ERR_NATIVE_OVERLAP', /rowLoss/);
    expectCode(() => native.softmaxXent(buf.subarray(0, 12), f32(12), 4, 3, null, 1, buf.subarray(3, 7)), 'ERR_NATIVE_OVERLAP', /rowLoss/);
    expectCode(() => native.softmaxXent(buf.subarray(0, 12), buf.subarray(40, 52), 4, 3, null, 1, buf.subarray(44, 48)), 'ERR_NATIVE_OVERLAP', /rowLoss/);
    expectCode(() => native.sigmoidBce(buf.subarray(0, 8), f32(8), buf.subarray(4, 12), 1), 'ERR_NATIVE_OVERLAP');
    expectCode(() => native.squaredError(f32(8), buf.subarray(0, 8), buf.subarray(0, 8), 1), 'ERR_NATIVE_OVERLAP');
    expectCode(() => native.columnSum(buf.subarray(0, 12), 4, 3, buf.subarray(9, 12), false), 'ERR_NATIVE_OVERLAP');
    expectCode(() => native.sgdStep(buf.subarray(0, 8), buf.subarray(8, 16), buf.subarray(12, 20), 0.1, 0.9, false), 'ERR_NATIVE_OVERLAP');
  });
});

describe('detached buffers', () => {
  it('a detached Float32Array reads as empty: sums are 0, required sizes fail with ERR_NATIVE_SIZE', () => {
    const d = detached(8);
    expect(d.length).toBe(0);
    expect(native.sum(d)).toBe(0);
    expect(native.firstNonFinite(d)).toBe(-1);
    native.scale(3, d);
    expectCode(() => native.softmax(d, f32(4), 2, 2), 'ERR_NATIVE_SIZE', /x has 0 elements/);
    expectCode(() => native.gemm(false, false, 1, 1, 1, 1, f32(1), 1, f32(1), 1, 0, detached(1), 1, null), 'ERR_NATIVE_SIZE', /C has 0/);
    expectCode(() => native.axpy(1, f32(2), d), 'ERR_NATIVE_SIZE');
    expectCode(() => native.sgdStep(f32(2), f32(2), detached(2), 0.1, 0.9, false), 'ERR_NATIVE_SIZE');
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzz: every function, valid calls mutated at random.

const GUARD = 1234.5;
const GUARD_LEN = 16;
const CODES = new Set(['ERR_NATIVE_ARGS', 'ERR_NATIVE_TYPE', 'ERR_NATIVE_SIZE', 'ERR_NATIVE_VALUE', 'ERR_NATIVE_OVERLAP', 'ERR_LABEL']);

/** Arrays handed to the binding live inside a bigger buffer with guard values on both sides. */
class Arena {
  buffers: Float32Array[] = [];
  arr(n: number, r: () => number, lo = -2, hi = 2): Float32Array {
    const buf = new Float32Array(n + 2 * GUARD_LEN).fill(GUARD);
    const view = buf.subarray(GUARD_LEN, GUARD_LEN + n);
    for (let i = 0; i < n; i++) view[i] = lo + (hi - lo) * r();
    this.buffers.push(buf);
    return view;
  }
  guardsIntact(): boolean {
    return this.buffers.every((b) => {
      for (let i = 0; i < GUARD_LEN; i++) if (b[i] !== GUARD || b[b.length - 1 - i] !== GUARD) return false;
      return true;
    });
  }
}

type Gen = (r: () => number, a: Arena) => unknown[];
const dim = (r: () => number) => Math.floor(r() * 6);
const SPECS: Record<string, Gen> = {
  gemm: (r, a) => {
    const ta = r() < 0.5, tb = r() < 0.5, m = dim(r), n = dim(r), k = dim(r);
    const lda = Math.max(ta ? m : k, 1) + (r() < 0.3 ? 2 : 0), ldb = Math.max(tb ? k : n, 1), ldc = Math.max(n, 1);
    return [ta, tb, m, n, k, 1, a.arr((ta ? k : m) * lda, r), lda, a.arr((tb ? n : k) * ldb, r), ldb, 0.5, a.arr(m * ldc, r), ldc, r() < 0.5 ? null : a.arr(n, r)];
  },
  activationForward: (r, a) => {
    const n = dim(r) * 3;
    return [Math.floor(r() * 15), a.arr(n, r), a.arr(n, r), 0.3];
  },
  activationBackward: (r, a) => {
    const n = dim(r) * 3;
    return [Math.floor(r() * 15), a.arr(n, r), a.arr(n, r), a.arr(n, r), a.arr(n, r), 0.3];
  },
  softmax: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r), a.arr(rows * cols, r), rows, cols]; },
  logSoftmax: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r), a.arr(rows * cols, r), rows, cols]; },
  softmaxBackward: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r), a.arr(rows * cols, r), a.arr(rows * cols, r), rows, cols]; },
  sparseSoftmaxXent: (r, a) => {
    const rows = dim(r), cols = dim(r) + 1;
    const labels = a.arr(rows, r);
    for (let i = 0; i < rows; i++) labels[i] = Math.floor(r() * cols);
    return [a.arr(rows * cols, r), labels, rows, cols, r() < 0.5 ? null : a.arr(rows * cols, r), 0.5, r() < 0.5 ? null : a.arr(rows, r)];
  },
  softmaxXent: (r, a) => {
    const rows = dim(r), cols = dim(r);
    return [a.arr(rows * cols, r), a.arr(rows * cols, r, 0, 1), rows, cols, a.arr(rows * cols, r), 0.5, a.arr(rows, r)];
  },
  sigmoidBce: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r, 0, 1), a.arr(n, r), 1]; },
  bce: (r, a) => { const n = dim(r); return [a.arr(n, r, 0, 1), a.arr(n, r, 0, 1), 1e-7, a.arr(n, r), 1]; },
  categoricalXent: (r, a) => {
    const rows = dim(r), cols = dim(r);
    return [a.arr(rows * cols, r, 0.1, 1), a.arr(rows * cols, r, 0, 1), rows, cols, 1e-7, a.arr(rows * cols, r), 1];
  },
  squaredError: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), a.arr(n, r), 1]; },
  columnSum: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r), rows, cols, a.arr(cols, r), r() < 0.5]; },
  sum: (r, a) => [a.arr(dim(r), r)],
  sumSquares: (r, a) => [a.arr(dim(r), r)],
  firstNonFinite: (r, a) => [a.arr(dim(r), r)],
  axpy: (r, a) => { const n = dim(r); return [0.5, a.arr(n, r), a.arr(n, r)]; },
  scale: (r, a) => [0.5, a.arr(dim(r), r)],
  sparseArgmaxMatches: (r, a) => { const rows = dim(r), cols = dim(r) + 1; return [a.arr(rows * cols, r), a.arr(rows, r), rows, cols]; },
  argmaxMatches: (r, a) => { const rows = dim(r), cols = dim(r) + 1; return [a.arr(rows * cols, r), a.arr(rows * cols, r), rows, cols]; },
  binaryMatches: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), 0.5]; },
  sgdStep: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), r() < 0.5 ? null : a.arr(n, r), 0.1, 0.9, r() < 0.5]; },
  setNumThreads: (r) => [1 + Math.floor(r() * 2)],
  getNumThreads: () => [],
  info: () => [],
};

/**
 * Functions without a dedicated spec (kernels added later) still get fuzzed: random argument lists
 * drawn from small guarded Float32Arrays, Int32Arrays, small integers, floats, booleans and null.
 */
function genericArgs(r: () => number, a: Arena): unknown[] {
  const n = Math.floor(r() * 14);
  const args: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const kind = Math.floor(r() * 7);
    if (kind <= 2) args.push(a.arr(Math.floor(r() * 9), r));
    else if (kind === 3) args.push(Math.floor(r() * 4));
    else if (kind === 4) args.push(r() < 0.5 ? 0.5 : 1e-3);
    else if (kind === 5) args.push(r() < 0.5);
    else args.push(r() < 0.5 ? null : new Int32Array(Math.floor(r() * 4)));
  }
  return args;
}

describe('fuzz', () => {
  const exported = Object.keys(native).sort();
  const generic = exported.filter((k) => !(k in SPECS));

  it('every dedicated fuzz spec names an exported function', () => {
    expect(exported).toEqual(expect.arrayContaining(Object.keys(SPECS)));
    // Functions fuzzed only with generic argument lists (worth a dedicated spec):
    if (generic.length > 0) console.info(`generic fuzz only: ${generic.join(', ')}`);
  });

  const FUZZ_SEED = 0xdee9;
  const CASES = 4000;
  it(`${CASES} mutated calls (seed ${FUZZ_SEED}) throw a coded error or leave the guards intact`, () => {
    const r = rng(FUZZ_SEED);
    const names = Object.keys(SPECS);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const problems: string[] = [];
    let threw = 0;
    for (let c = 0; c < CASES && problems.length < 5; c++) {
      const name = pick(names);
      const arena = new Arena();
      const args = SPECS[name]!(r, arena);
      const mutations = Math.floor(r() * 3); // 0: the valid call itself
      const log: string[] = [];
      for (let k = 0; k < mutations; k++) {
        const kind = Math.floor(r() * 6);
        if (kind === 0) {
          if (r() < 0.5) args.pop();
          else args.push(f32(1));
          log.push('arity');
          continue;
        }
        if (args.length === 0) continue;
        const i = Math.floor(r() * args.length);
        const arrays = args.filter((v): v is Float32Array => v instanceof Float32Array && v.buffer.byteLength > 0);
        const bad: unknown[] = [
          undefined, null, -1, 0, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 40, 1e6, 'x', {}, [1, 2], true,
          new Float64Array(4), new Int32Array(4), arena.arr(Math.floor(r() * 3), r), detached(4),
          arrays.length ? pick(arrays) : f32(0), // aliasing another argument
          arrays.length ? pick(arrays).subarray(1) : f32(0), // partial overlap
        ];
        const v = pick(bad);
        args[i] = v;
        log.push(`arg ${i} := ${v instanceof Float32Array ? `Float32Array(${v.length})` : String(v)}`);
      }
      const fn = (native as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
      try {
        fn(...args);
      } catch (e) {
        threw++;
        const code = (e as { code?: unknown }).code;
        if (!(e instanceof Error) || typeof code !== 'string' || !CODES.has(code)) {
          problems.push(`case ${c} ${name} [${log.join('; ')}]: threw ${String(e)} with code ${String(code)}`);
        }
      }
      if (!arena.guardsIntact()) problems.push(`case ${c} ${name} [${log.join('; ')}]: wrote outside its arrays`);
    }
    native.setNumThreads(savedThreads);
    expect(problems).toEqual([]);
    // The loop exercised both paths.
    expect(threw).toBeGreaterThan(CASES / 5);
    expect(threw).toBeLessThan(CASES);
    // And the addon still computes.
    const C = f32(1);
    native.gemm(false, false, 1, 1, 2, 1, Float32Array.of(1, 2), 2, Float32Array.of(3, 4), 1, 0, C, 1, null);
    expect(C[0]).toBe(11);
  });

  it.runIf(generic.length > 0)(`functions without a dedicated spec: 300 random argument lists each (seed ${FUZZ_SEED + 1})`, () => {
    const r = rng(FUZZ_SEED + 1);
    const problems: string[] = [];
    for (const name of generic) {
      const fn = (native as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
      for (let c = 0; c < 300 && problems.length < 5; c++) {
        const arena = new Arena();
        const args = genericArgs(r, arena);
        const shown = args.map((v) => (ArrayBuffer.isView(v) ? `${v.constructor.name}(${(v as Float32Array).length})` : String(v)));
        try {
          fn(...args);
        } catch (e) {
          const code = (e as { code?: unknown }).code;
          if (!(e instanceof Error) || typeof code !== 'string' || !code.startsWith('ERR_')) {
            problems.push(`${name}(${shown.join(', ')}): threw ${String(e)} with code ${String(code)}`);
          }
        }
        if (!arena.guardsIntact()) problems.push(`${name}(${shown.join(', ')}): wrote outside its arrays`);
      }
    }
    native.setNumThreads(savedThreads);
    expect(problems).toEqual([]);
  });
});
