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

describe('regressions found by the fuzz', () => {
  it('softmaxAxis dimensions whose product wraps around 64 bits are refused (was a segfault)', () => {
    // 2^30 * 2^30 * 16 = 2^64 wrapped to 0 elements: the size check passed and the kernel ran off the array.
    expectCode(() => native.softmaxAxis(f32(0), f32(0), 2 ** 30, 2 ** 30, 16), 'ERR_NATIVE_VALUE', /too large/);
    expectCode(() => native.softmaxAxisBackward(f32(0), f32(0), f32(0), 2 ** 30, 16, 2 ** 30), 'ERR_NATIVE_VALUE', /too large/);
  });

  it('softmaxAxis with outer = 0 allocates nothing even for a huge inner (was a 24 GB zero-filled scratch)', () => {
    native.softmaxAxis(f32(0), f32(0), 0, 1, 2 ** 31 - 1);
    native.softmaxAxisBackward(f32(0), f32(0), f32(0), 0, 1, 2 ** 31 - 1);
  });

  it('activationBackwardBias with no columns returns at once for any row count (walked 2^31 empty rows: 4.4 s under ASan)', () => {
    const db = f32(0);
    native.activationBackwardBias(ActId.Relu, f32(0), f32(0), f32(0), f32(0), 0.3, 2 ** 31 - 1, 0, db, -0.01);
    expect(db.length).toBe(0);
  });

  it('PReLU refuses an output sharing bytes with alphaIndex (was an out-of-bounds read of alpha)', () => {
    const buf = new ArrayBuffer(64);
    const idx = new Int32Array(buf, 0, 4);
    const x = Float32Array.from({ length: 8 }, () => -1e30);
    const alpha = Float32Array.of(3e9);
    expectCode(() => native.preluForward(x, alpha, idx, new Float32Array(buf, 0, 8), 2, 4), 'ERR_NATIVE_OVERLAP', /y overlaps alphaIndex/);
    expectCode(() => native.preluBackward(x, alpha, idx, f32(8), new Float32Array(buf, 8, 8), null, 2, 4), 'ERR_NATIVE_OVERLAP', /dx overlaps alphaIndex/);
    expectCode(() => native.preluBackward(x, alpha, idx, f32(8), null, new Float32Array(buf, 12, 1), 2, 4), 'ERR_NATIVE_OVERLAP', /dalpha overlaps alphaIndex/);
    // Adjacent bytes are fine.
    native.preluForward(x, alpha, idx, new Float32Array(buf, 16, 8), 2, 4);
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzz: every exported function has a spec that builds a valid call (with the role of each
// argument), which is then mutated at random: argument counts, wrong types and typed-array kinds,
// bad and huge sizes, too-short / detached / overlapping arrays, NaN/Inf data, extreme scalars.
// Every array lives inside a buffer with guard bytes on both sides. A single mutation has a known
// outcome (e.g. a wrong type must throw ERR_NATIVE_TYPE); unmutated calls are checked against a
// plain-JS reference where one is short to write, and for finite outputs otherwise.
// Replay: DEEPNODE_FUZZ_SEED=<seed> [DEEPNODE_FUZZ_CASES=<n>] npx vitest run test/12.native.errors

const CODES = new Set(['ERR_NATIVE_ARGS', 'ERR_NATIVE_TYPE', 'ERR_NATIVE_SIZE', 'ERR_NATIVE_VALUE', 'ERR_NATIVE_OVERLAP', 'ERR_LABEL']);
const GUARD_BYTES = 64;
const GUARD = 0xa5;

type TypedCtor = Float32ArrayConstructor | Uint16ArrayConstructor | Int8ArrayConstructor | Int32ArrayConstructor;
type Typed = Float32Array | Uint16Array | Int8Array | Int32Array;

/** Arrays handed to the binding live inside bigger buffers whose first and last 64 bytes are guards. */
class Arena {
  buffers: ArrayBuffer[] = [];
  private alloc<T extends Typed>(C: TypedCtor, n: number, extraElems = 0): T {
    const bytes = (n + extraElems) * C.BYTES_PER_ELEMENT;
    const buf = new ArrayBuffer(bytes + 2 * GUARD_BYTES);
    new Uint8Array(buf).fill(GUARD);
    this.buffers.push(buf);
    return new C(buf, GUARD_BYTES, n + extraElems) as T;
  }
  arr(n: number, r: () => number, lo = -2, hi = 2): Float32Array {
    const v = this.alloc<Float32Array>(Float32Array, n);
    for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * r();
    return v;
  }
  of(values: ArrayLike<number>): Float32Array {
    const v = this.alloc<Float32Array>(Float32Array, values.length);
    v.set(values);
    return v;
  }
  typed<T extends Typed>(C: TypedCtor, values: ArrayLike<number>): T {
    const v = this.alloc<T>(C, values.length);
    v.set(values);
    return v;
  }
  /** A fresh guarded buffer of `bytes` bytes (for overlapping views). */
  raw(bytes: number): ArrayBuffer {
    const buf = new ArrayBuffer(bytes + 2 * GUARD_BYTES);
    new Uint8Array(buf).fill(GUARD);
    this.buffers.push(buf);
    return buf;
  }
  guardsIntact(): boolean {
    return this.buffers.every((b) => {
      if (b.byteLength === 0) return true; // detached since
      const u = new Uint8Array(b);
      for (let i = 0; i < GUARD_BYTES; i++) if (u[i] !== GUARD || u[u.length - 1 - i] !== GUARD) return false;
      return true;
    });
  }
}

function detachedOf<T extends Typed>(C: TypedCtor, n: number): T {
  const buf = new ArrayBuffer(n * C.BYTES_PER_ELEMENT);
  const view = new C(buf) as T;
  structuredClone(buf, { transfer: [buf] });
  return view;
}

/**
 * Roles: f32 = Float32Array whose needed length the other arguments fix (exact in the valid call);
 * f32n = Float32Array that sets n itself (any length is valid); f32? = optional f32 (null allowed);
 * u16 / i8 = Uint16Array / Int8Array of fixed length, u16n = Uint16Array setting n; i32? = optional
 * Int32Array index of exact length; dim = size dimension; int = other non-negative integer (seed);
 * act / path / threads = small enumerations; key = 32-bit generator key word; num = finite scalar;
 * bool = boolean.
 */
type Role = 'f32' | 'f32n' | 'f32?' | 'u16' | 'u16n' | 'i8' | 'i32?' | 'dim' | 'int' | 'act' | 'path' | 'threads' | 'key' | 'num' | 'bool';
type Check = (ret: unknown, after: unknown[], before: unknown[]) => string | undefined;
interface Spec {
  roles: Role[];
  gen(r: () => number, a: Arena): unknown[];
  /** Reference check of a successful unmutated call: a message when wrong. */
  check?: Check;
  /** Run `check` after every successful call, mutated or not (it only needs the arrays it got). */
  always?: boolean;
  /** The function ignores its arguments (no count check). */
  noArgs?: boolean;
}

const F = (v: unknown): Float32Array => v as Float32Array;
const isF32 = (v: unknown): v is Float32Array => ArrayBuffer.isView(v) && v instanceof Float32Array;
/** The elements the binding sees: a detached view reads as empty. */
const live = <T extends Typed>(v: T): T => (v.buffer.byteLength === 0 ? (new (v.constructor as TypedCtor)(0) as T) : v);
/** Tolerant comparison: |got - want| <= abs + rel * |want|; NaN matches NaN. */
/**
 * A sum's result against the sequential double sum, within the error any summation order may make:
 * relative to sum(|x|), not to the sum itself. With +3.4e38 and -3.4e38 among the values the
 * small ones that meet a huge partial sum are lost, and which ones depends on the order (the
 * kernel adds in several lanes): seed 222519499 returned 0.998 where the sequential sum gave
 * another value of the same size, which a tolerance relative to the sum called wrong.
 */
function sumClose(got: number, xs: number[]): boolean {
  const want = xs.reduce((s, v) => s + v, 0);
  if (!Number.isFinite(want)) return close(got, want);
  return Math.abs(got - want) <= 1e-9 + 1e-9 * xs.reduce((s, v) => s + Math.abs(v), 0);
}

function close(got: number, want: number, rel = 1e-4, abs = 1e-5): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (!Number.isFinite(want)) return got === want;
  return Math.abs(got - want) <= abs + rel * Math.abs(want);
}
function compareArrays(name: string, got: ArrayLike<number>, want: ArrayLike<number>, rel = 1e-4, abs = 1e-5): string | undefined {
  if (got.length < want.length) return `${name}: length ${got.length} < ${want.length}`;
  for (let i = 0; i < want.length; i++) if (!close(got[i]!, want[i]!, rel, abs)) return `${name}[${i}] = ${got[i]}, expected ${want[i]}`;
  return undefined;
}
function allFinite(...xs: unknown[]): string | undefined {
  for (const x of xs) {
    if (typeof x === 'number' && !Number.isFinite(x)) return `returned ${x}`;
    if (isF32(x)) for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return `non-finite output ${x[i]} at ${i}`;
  }
  return undefined;
}
/** Checks that the outputs at the given argument positions are finite (and a numeric return value). */
const finiteAt = (...idx: number[]): Check => (ret, after) => allFinite(ret, ...idx.map((i) => after[i]));

function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
function naiveGemm(m: number, n: number, k: number, X: ArrayLike<number>, w: (p: number, j: number) => number, bias: ArrayLike<number> | null): Float64Array {
  const Y = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      for (let p = 0; p < k; p++) s += X[i * k + p]! * w(p, j);
      Y[i * n + j] = s;
    }
  return Y;
}
function softmaxRef(x: ArrayLike<number>, outer: number, axis: number, inner: number, log = false): Float64Array {
  const y = new Float64Array(outer * axis * inner);
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) {
      let mx = -Infinity;
      for (let k = 0; k < axis; k++) mx = Math.max(mx, x[(o * axis + k) * inner + j]!);
      let s = 0;
      for (let k = 0; k < axis; k++) s += Math.exp(x[(o * axis + k) * inner + j]! - mx);
      for (let k = 0; k < axis; k++) {
        const z = x[(o * axis + k) * inner + j]! - mx;
        y[(o * axis + k) * inner + j] = log ? z - Math.log(s) : Math.exp(z) / s;
      }
    }
  return y;
}
const argmax = (x: ArrayLike<number>, off: number, n: number): number => {
  let b = 0;
  for (let j = 1; j < n; j++) if (x[off + j]! > x[off + b]!) b = j;
  return b;
};

/** Dimensions: mostly 0..5, sometimes up to 40 (SIMD blocks and tails of the quantized kernels). */
const dim = (r: () => number): number => (r() < 0.85 ? Math.floor(r() * 6) : 6 + Math.floor(r() * 35));
const pos = (r: () => number): number => 1 + Math.floor(r() * 5);

const SPECS: Record<string, Spec> = {
  gemm: {
    roles: ['bool', 'bool', 'dim', 'dim', 'dim', 'num', 'f32', 'dim', 'f32', 'dim', 'num', 'f32', 'dim', 'f32?'],
    gen: (r, a) => {
      const ta = r() < 0.5, tb = r() < 0.5, m = dim(r), n = dim(r), k = dim(r);
      const lda = Math.max(ta ? m : k, 1) + (r() < 0.3 ? 2 : 0), ldb = Math.max(tb ? k : n, 1), ldc = Math.max(n, 1) + (r() < 0.3 ? 1 : 0);
      const span = (rows: number, cols: number, ld: number) => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);
      return [ta, tb, m, n, k, 1.5, a.arr(span(ta ? k : m, ta ? m : k, lda), r), lda, a.arr(span(tb ? n : k, tb ? k : n, ldb), r), ldb,
        r() < 0.5 ? 0 : 0.5, a.arr(span(m, n, ldc), r), ldc, r() < 0.5 ? null : a.arr(n, r)];
    },
    check: (_ret, after, before) => {
      const [ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, , ldc, bias] = before as [boolean, boolean, number, number, number, number, Float32Array, number, Float32Array, number, number, Float32Array, number, Float32Array | null];
      const C0 = F(before[11]), C = F(after[11]);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += (ta ? A[p * lda + i]! : A[i * lda + p]!) * (tb ? B[j * ldb + p]! : B[p * ldb + j]!);
          const want = alpha * s + (beta !== 0 ? beta * C0[i * ldc + j]! : 0) + (bias ? bias[j]! : 0);
          if (!close(C[i * ldc + j]!, want, 1e-4, 1e-4)) return `C[${i},${j}] = ${C[i * ldc + j]}, expected ${want}`;
        }
      for (let i = 0; i < C.length; i++) if (i % ldc >= n && C[i] !== C0[i]) return `C stride gap ${i} written`;
      return undefined;
    },
  },
  activationForward: { roles: ['act', 'f32n', 'f32', 'num'], gen: (r, a) => { const n = dim(r); return [Math.floor(r() * 15), a.arr(n, r), a.arr(n, r), 0.3]; }, check: finiteAt(2) },
  activationBackward: {
    roles: ['act', 'f32n', 'f32', 'f32', 'f32', 'num'],
    gen: (r, a) => { const n = dim(r); return [Math.floor(r() * 15), a.arr(n, r), a.arr(n, r, 0, 1), a.arr(n, r), a.arr(n, r), 0.3]; },
    check: finiteAt(4),
  },
  activationBackwardBias: {
    roles: ['act', 'f32', 'f32', 'f32', 'f32', 'num', 'dim', 'dim', 'f32', 'num'],
    gen: (r, a) => {
      const rows = dim(r), cols = dim(r), n = rows * cols;
      return [Math.floor(r() * 15), a.arr(n, r), a.arr(n, r, 0, 1), a.arr(n, r), a.arr(n, r), 0.3, rows, cols, a.arr(cols, r), r() < 0.5 ? 1 : -0.01];
    },
    // The fused pass must equal activationBackward followed by column sums scaled into db.
    check: (_r, after, b) => {
      const rows = b[6] as number, cols = b[7] as number, scale = b[9] as number;
      const dx = new Float32Array(rows * cols);
      native.activationBackward(b[0] as number, F(b[1]), F(b[2]), F(b[3]), dx, 0.3);
      const bad = compareArrays('dx', F(after[4]), Array.from(dx));
      if (bad) return bad;
      const db0 = F(b[8]);
      return compareArrays('db', F(after[8]), Array.from({ length: cols }, (_, j) => {
        let s = 0;
        for (let i = 0; i < rows; i++) s += dx[i * cols + j]!;
        return db0[j]! + scale * s;
      }));
    },
  },
  softmax: {
    roles: ['f32', 'f32', 'dim', 'dim'],
    gen: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r), a.arr(rows * cols, r), rows, cols]; },
    check: (_r, after, before) => compareArrays('y', F(after[1]), softmaxRef(F(before[0]), before[2] as number, before[3] as number, 1)),
  },
  logSoftmax: {
    roles: ['f32', 'f32', 'dim', 'dim'],
    gen: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r), a.arr(rows * cols, r), rows, cols]; },
    check: (_r, after, before) => compareArrays('y', F(after[1]), softmaxRef(F(before[0]), before[2] as number, before[3] as number, 1, true)),
  },
  softmaxBackward: {
    roles: ['f32', 'f32', 'f32', 'dim', 'dim'],
    gen: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r, 0, 1), a.arr(rows * cols, r), a.arr(rows * cols, r), rows, cols]; },
    check: (_r, after, before) => {
      const [y, dy] = [F(before[0]), F(before[1])], rows = before[3] as number, cols = before[4] as number;
      const want = new Float64Array(rows * cols);
      for (let i = 0; i < rows; i++) {
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += y[i * cols + j]! * dy[i * cols + j]!;
        for (let j = 0; j < cols; j++) want[i * cols + j] = y[i * cols + j]! * (dy[i * cols + j]! - dot);
      }
      return compareArrays('dx', F(after[2]), want);
    },
  },
  sparseSoftmaxXent: {
    roles: ['f32', 'f32', 'dim', 'dim', 'f32?', 'num', 'f32?'],
    gen: (r, a) => {
      const rows = dim(r), cols = pos(r);
      return [a.arr(rows * cols, r), a.of(Array.from({ length: rows }, () => Math.floor(r() * cols))), rows, cols,
        r() < 0.5 ? null : a.arr(rows * cols, r), 0.5, r() < 0.5 ? null : a.arr(rows, r)];
    },
    check: (ret, _after, before) => {
      const z = F(before[0]), labels = F(before[1]), rows = before[2] as number, cols = before[3] as number;
      const lp = softmaxRef(z, rows, cols, 1, true);
      let want = 0;
      for (let i = 0; i < rows; i++) want -= lp[i * cols + labels[i]!]!;
      return close(ret as number, want) ? undefined : `returned ${String(ret)}, expected ${want}`;
    },
  },
  softmaxXent: {
    roles: ['f32', 'f32', 'dim', 'dim', 'f32?', 'num', 'f32?'],
    gen: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r), a.arr(rows * cols, r, 0, 1), rows, cols, a.arr(rows * cols, r), 0.5, a.arr(rows, r)]; },
    check: (ret, after, before) => {
      const z = F(before[0]), t = F(before[1]), rows = before[2] as number, cols = before[3] as number;
      const lp = softmaxRef(z, rows, cols, 1, true);
      let want = 0;
      for (let i = 0; i < rows * cols; i++) want -= t[i]! * lp[i]!;
      return close(ret as number, want) ? allFinite(after[4], after[6]) : `returned ${String(ret)}, expected ${want}`;
    },
  },
  sigmoidBce: {
    roles: ['f32n', 'f32', 'f32?', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r, 0, 1), a.arr(n, r), 1]; },
    check: (ret, after, before) => {
      const z = F(before[0]), t = F(before[1]);
      let want = 0;
      for (let i = 0; i < z.length; i++) want += Math.log(1 + Math.exp(-z[i]!)) + (1 - t[i]!) * z[i]!;
      return close(ret as number, want) ? allFinite(after[2]) : `returned ${String(ret)}, expected ${want}`;
    },
  },
  bce: { roles: ['f32n', 'f32', 'num', 'f32?', 'num'], gen: (r, a) => { const n = dim(r); return [a.arr(n, r, 0, 1), a.arr(n, r, 0, 1), 1e-7, a.arr(n, r), 1]; }, check: finiteAt(3) },
  categoricalXent: {
    roles: ['f32', 'f32', 'dim', 'dim', 'num', 'f32?', 'num'],
    gen: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r, 0.1, 1), a.arr(rows * cols, r, 0, 1), rows, cols, 1e-7, a.arr(rows * cols, r), 1]; },
    check: finiteAt(5),
  },
  squaredError: {
    roles: ['f32n', 'f32', 'f32?', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), a.arr(n, r), 1]; },
    check: (ret, after, before) => {
      const p = F(before[0]), t = F(before[1]);
      let want = 0;
      for (let i = 0; i < p.length; i++) want += (p[i]! - t[i]!) ** 2;
      return close(ret as number, want) ? compareArrays('grad', F(after[2]), Array.from(p, (v, i) => 2 * (v - t[i]!))) : `returned ${String(ret)}, expected ${want}`;
    },
  },
  columnSum: {
    roles: ['f32', 'dim', 'dim', 'f32', 'bool'],
    gen: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r), rows, cols, a.arr(cols, r), r() < 0.5]; },
    check: (_r, after, before) => {
      const dy = F(before[0]), rows = before[1] as number, cols = before[2] as number, db0 = F(before[3]);
      const want = Array.from({ length: cols }, (_, j) => (before[4] ? db0[j]! : 0) + Array.from({ length: rows }, (_, i) => dy[i * cols + j]!).reduce((s, v) => s + v, 0));
      return compareArrays('db', F(after[3]), want);
    },
  },
  sum: { roles: ['f32n'], gen: (r, a) => [a.arr(dim(r), r)], always: true, check: (ret, _a, b) => (isF32(b[0]) && !sumClose(ret as number, Array.from(live(b[0]))) ? `returned ${String(ret)}` : undefined) },
  sumSquares: { roles: ['f32n'], gen: (r, a) => [a.arr(dim(r), r)], always: true, check: (ret, _a, b) => (isF32(b[0]) && !close(ret as number, Array.from(live(b[0])).reduce((s, v) => s + v * v, 0), 1e-9, 1e-9) ? `returned ${String(ret)}` : undefined) },
  sumAbs: { roles: ['f32n'], gen: (r, a) => [a.arr(dim(r), r)], always: true, check: (ret, _a, b) => (isF32(b[0]) && !close(ret as number, Array.from(live(b[0])).reduce((s, v) => s + Math.abs(v), 0), 1e-9, 1e-9) ? `returned ${String(ret)}` : undefined) },
  firstNonFinite: {
    roles: ['f32n'], gen: (r, a) => [a.arr(dim(r), r)], always: true,
    check: (ret, _a, b) => (isF32(b[0]) && ret !== Array.from(live(b[0])).findIndex((v) => !Number.isFinite(v)) ? `returned ${String(ret)}` : undefined),
  },
  gatherRows: {
    roles: ['f32', 'dim', 'dim', 'i32?', 'dim', 'f32'],
    gen: (r, a) => {
      const rows = pos(r), per = dim(r), count = dim(r);
      const idx = count <= rows && r() < 0.2 ? null : a.typed<Int32Array>(Int32Array, Array.from({ length: count }, () => Math.floor(r() * rows)));
      return [a.arr(rows * per, r), rows, per, idx, count, a.arr(count * per, r)];
    },
    check: (_r, after, b) => {
      const src = F(b[0]), per = b[2] as number, idx = b[3] as Int32Array | null, count = b[4] as number;
      const want = Array.from({ length: count * per }, (_, i) => src[(idx ? idx[Math.floor(i / per)]! : Math.floor(i / per)) * per + (i % per)]!);
      return compareArrays('out', F(after[5]), want);
    },
  },
  axpy: {
    roles: ['num', 'f32n', 'f32'],
    gen: (r, a) => { const n = dim(r); return [0.5, a.arr(n, r), a.arr(n, r)]; },
    check: (_r, after, before) => compareArrays('y', F(after[2]), Array.from(F(before[1]), (v, i) => F(before[2])[i]! + 0.5 * v)),
  },
  addSign: {
    roles: ['num', 'f32n', 'f32'],
    gen: (r, a) => { const n = dim(r); return [0.5, a.arr(n, r), a.arr(n, r)]; },
    check: (_r, after, before) => compareArrays('y', F(after[2]), Array.from(F(before[1]), (v, i) => F(before[2])[i]! + (v > 0 ? 0.5 : v < 0 ? -0.5 : 0))),
  },
  constrainColumnNorms: {
    roles: ['f32', 'dim', 'dim', 'int', 'num', 'num', 'num'],
    gen: (r, a) => { const rows = dim(r), cols = dim(r); return [a.arr(rows * cols, r), rows, cols, Math.floor(r() * 3), 0.1, 0.5, 0.7]; },
    check: (_r, after, before) => {
      const w0 = F(before[0]), rows = before[1] as number, cols = before[2] as number, kind = before[3] as number;
      const [lo, hi, rate] = [before[4], before[5], before[6]] as number[];
      const want = Array.from(w0.subarray(0, rows * cols));
      for (let j = 0; j < cols; j++) {
        let sq = 0;
        for (let i = 0; i < rows; i++) sq += w0[i * cols + j]! ** 2;
        const n = Math.sqrt(sq);
        const f = kind === 0 ? Math.min(Math.max(n, 0), hi!) / (1e-7 + n) : kind === 1 ? 1 / (1e-7 + n) : (rate! * Math.min(Math.max(n, lo!), hi!) + (1 - rate!) * n) / (1e-7 + n);
        for (let i = 0; i < rows; i++) want[i * cols + j] = w0[i * cols + j]! * f;
      }
      return compareArrays('w', F(after[0]), want);
    },
  },
  scale: { roles: ['num', 'f32n'], gen: (r, a) => [0.5, a.arr(dim(r), r)], check: (_r, after, before) => compareArrays('x', F(after[1]), Array.from(F(before[1]), (v) => 0.5 * v)) },
  sparseArgmaxMatches: {
    roles: ['f32', 'f32', 'dim', 'dim'],
    gen: (r, a) => { const rows = dim(r), cols = pos(r); return [a.arr(rows * cols, r), a.of(Array.from({ length: rows }, () => Math.floor(r() * cols))), rows, cols]; },
    check: (ret, _a, b) => {
      const p = F(b[0]), l = F(b[1]), rows = b[2] as number, cols = b[3] as number;
      let want = 0;
      for (let i = 0; i < rows; i++) if (argmax(p, i * cols, cols) === l[i]) want++;
      return ret === want ? undefined : `returned ${String(ret)}, expected ${want}`;
    },
  },
  argmaxMatches: {
    roles: ['f32', 'f32', 'dim', 'dim'],
    gen: (r, a) => { const rows = dim(r), cols = pos(r); return [a.arr(rows * cols, r), a.arr(rows * cols, r), rows, cols]; },
    check: (ret, _a, b) => {
      const p = F(b[0]), t = F(b[1]), rows = b[2] as number, cols = b[3] as number;
      let want = 0;
      for (let i = 0; i < rows; i++) if (argmax(p, i * cols, cols) === argmax(t, i * cols, cols)) want++;
      return ret === want ? undefined : `returned ${String(ret)}, expected ${want}`;
    },
  },
  binaryMatches: {
    roles: ['f32n', 'f32', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r, 0, 1), a.arr(n, r, 0, 1), 0.5]; },
    check: (ret, _a, b) => {
      const want = Array.from(F(b[0]), (p, i) => (p > 0.5) === (F(b[1])[i]! > 0.5)).filter(Boolean).length;
      return ret === want ? undefined : `returned ${String(ret)}, expected ${want}`;
    },
  },
  sgdStep: {
    roles: ['f32n', 'f32', 'f32?', 'num', 'num', 'bool'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), r() < 0.5 ? null : a.arr(n, r), 0.1, 0.9, r() < 0.5]; },
    check: (_r, after, b) => {
      const p = F(b[0]), g = F(b[1]), v = b[2] as Float32Array | null;
      const want = Array.from(p, (w, i) => {
        if (!v) return w - 0.1 * g[i]!;
        const nv = 0.9 * v[i]! - 0.1 * g[i]!;
        return b[5] ? w + 0.9 * nv - 0.1 * g[i]! : w + nv;
      });
      return compareArrays('param', F(after[0]), want);
    },
  },
  setNumThreads: { roles: ['threads'], gen: (r) => [1 + Math.floor(r() * 2)], check: (_r, _a, b) => (native.getNumThreads() === b[0] ? undefined : `getNumThreads() = ${native.getNumThreads()}`) },
  getNumThreads: { roles: [], noArgs: true, gen: () => [], always: true, check: (ret) => (Number.isInteger(ret) && (ret as number) >= 1 ? undefined : `returned ${String(ret)}`) },
  info: {
    roles: [], noArgs: true, gen: () => [], always: true,
    check: (ret) => {
      const o = ret as { isa?: unknown; threads?: unknown };
      return ['avx512', 'avx2', 'generic'].includes(o.isa as string) && Number.isInteger(o.threads) ? undefined : `returned ${JSON.stringify(ret)}`;
    },
  },
  sgdUpdate: {
    roles: ['f32n', 'f32', 'f32?', 'num', 'num', 'bool', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), r() < 0.5 ? null : a.arr(n, r), 0.1, 0.9, r() < 0.5, 0.01]; },
    check: (_r, after, b) => {
      const p = F(b[0]), g = F(b[1]), v = b[2] as Float32Array | null;
      const want = Array.from(p, (w0, i) => {
        const w = w0 - w0 * 0.01;
        if (!v) return w - 0.1 * g[i]!;
        const nv = 0.9 * v[i]! - 0.1 * g[i]!;
        return b[5] ? w + 0.9 * nv - 0.1 * g[i]! : w + nv;
      });
      return compareArrays('param', F(after[0]), want);
    },
  },
  adagradUpdate: {
    roles: ['f32n', 'f32', 'f32', 'num', 'num', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), a.arr(n, r, 0, 1), 0.1, 1e-7, 0]; },
    check: (_r, after, b) => compareArrays('param', F(after[0]), Array.from(F(b[0]), (w, i) => { const g = F(b[1])[i]!, acc = F(b[2])[i]! + g * g; return w - (0.1 * g) / Math.sqrt(acc + 1e-7); }), 1e-4, 1e-4),
  },
  rmspropUpdate: {
    roles: ['f32n', 'f32', 'f32', 'f32?', 'f32?', 'num', 'num', 'num', 'num', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), a.arr(n, r, 1, 2), r() < 0.5 ? null : a.arr(n, r), r() < 0.5 ? null : a.arr(n, r, -0.1, 0.1), 0.01, 0.9, 0.5, 1e-7, 0]; },
    check: finiteAt(0, 2, 3, 4),
  },
  adamUpdate: {
    roles: ['f32n', 'f32', 'f32', 'f32', 'f32?', 'num', 'num', 'num', 'num', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), a.arr(n, r), a.arr(n, r, 0, 1), r() < 0.5 ? null : a.arr(n, r, 0, 1), 0.01, 0.9, 0.999, 1e-7, 0.001]; },
    check: (_r, after, b) => {
      if (b[4]) return allFinite(after[0], after[2], after[3], after[4]);
      return compareArrays('param', F(after[0]), Array.from(F(b[0]), (w0, i) => {
        const g = F(b[1])[i]!, m = F(b[2])[i]! + (g - F(b[2])[i]!) * 0.1, v = F(b[3])[i]! + (g * g - F(b[3])[i]!) * 0.001;
        return w0 - w0 * 0.001 - (m * 0.01) / (Math.sqrt(v) + 1e-7);
      }), 1e-4, 1e-4);
    },
  },
  adamaxUpdate: {
    roles: ['f32n', 'f32', 'f32', 'f32', 'num', 'num', 'num', 'num', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), a.arr(n, r), a.arr(n, r, 0, 1), 0.01, 0.9, 0.999, 1e-7, 0]; },
    check: finiteAt(0, 2, 3),
  },
  nadamUpdate: {
    roles: ['f32n', 'f32', 'f32', 'f32', 'num', 'num', 'num', 'num', 'num', 'num', 'num', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), a.arr(n, r), a.arr(n, r, 0, 1), 0.01, 0.9, 0.999, 1e-7, 5, 0.5, 1000, 0]; },
    check: finiteAt(0, 2, 3),
  },
  clipByValue: { roles: ['f32n', 'num'], gen: (r, a) => [a.arr(dim(r), r), 0.5], check: (_r, after, b) => compareArrays('grad', F(after[0]), Array.from(F(b[0]), (v) => Math.min(Math.max(v, -0.5), 0.5))) },
  clipByNorm: {
    roles: ['f32n', 'num'], gen: (r, a) => [a.arr(dim(r), r), 1],
    check: (ret, after, b) => {
      const g = F(b[0]), norm = Math.sqrt(Array.from(g).reduce((s, v) => s + v * v, 0));
      if (!close(ret as number, norm, 1e-9, 1e-9)) return `returned ${String(ret)}, expected ${norm}`;
      return compareArrays('grad', F(after[0]), Array.from(g, (v) => (norm > 1 ? v / norm : v)));
    },
  },
  batchnormForward: {
    roles: ['f32', 'f32', 'dim', 'dim', 'dim', 'f32?', 'f32?', 'f32', 'f32', 'num', 'bool'],
    gen: (r, a) => {
      const o = dim(r), c = dim(r), i = pos(r), n = o * c * i;
      return [a.arr(n, r), a.arr(n, r), o, c, i, r() < 0.3 ? null : a.arr(c, r), r() < 0.3 ? null : a.arr(c, r), a.arr(c, r), a.arr(c, r, 0.1, 2), 1e-3, r() < 0.5];
    },
    check: (_r, after, b) => {
      const [x, outer, C, inner, gamma, beta] = [F(b[0]), b[2] as number, b[3] as number, b[4] as number, b[5] as Float32Array | null, b[6] as Float32Array | null];
      const M = outer * inner, want = new Float64Array(outer * C * inner);
      for (let c = 0; c < C; c++) {
        let mean = F(b[7])[c]!, v = F(b[8])[c]!;
        if (b[10]) {
          let s = 0, q = 0;
          for (let o = 0; o < outer; o++) for (let k = 0; k < inner; k++) s += x[(o * C + c) * inner + k]!;
          mean = M ? s / M : 0;
          for (let o = 0; o < outer; o++) for (let k = 0; k < inner; k++) q += (x[(o * C + c) * inner + k]! - mean) ** 2;
          v = M ? q / M : 0;
          if (!close(F(after[7])[c]!, mean) || !close(F(after[8])[c]!, v)) return `batch moments of feature ${c} wrong`;
        }
        for (let o = 0; o < outer; o++)
          for (let k = 0; k < inner; k++) {
            const idx = (o * C + c) * inner + k;
            want[idx] = ((x[idx]! - mean) / Math.sqrt(v + 1e-3)) * (gamma ? gamma[c]! : 1) + (beta ? beta[c]! : 0);
          }
      }
      return compareArrays('y', F(after[1]), want, 1e-3, 1e-3);
    },
  },
  batchnormBackward: {
    roles: ['f32', 'f32', 'dim', 'dim', 'dim', 'f32', 'f32', 'f32?', 'num', 'bool', 'f32?', 'f32?', 'f32?'],
    gen: (r, a) => {
      const o = dim(r), c = dim(r), i = pos(r), n = o * c * i;
      return [a.arr(n, r), a.arr(n, r), o, c, i, a.arr(c, r), a.arr(c, r, 0.1, 2), r() < 0.3 ? null : a.arr(c, r), 1e-3, r() < 0.5,
        r() < 0.3 ? null : a.arr(n, r), r() < 0.3 ? null : a.arr(c, r), r() < 0.3 ? null : a.arr(c, r)];
    },
    check: (_r, after, b) => {
      const [x, dy, outer, C, inner] = [F(b[0]), F(b[1]), b[2] as number, b[3] as number, b[4] as number];
      const dbeta0 = b[12] as Float32Array | null;
      if (!dbeta0 || outer * inner === 0) return allFinite(after[10], after[11], after[12]);
      const want = Array.from({ length: C }, (_, c) => {
        let s = dbeta0[c]!;
        for (let o = 0; o < outer; o++) for (let k = 0; k < inner; k++) s += dy[(o * C + c) * inner + k]!;
        return s;
      });
      void x;
      return compareArrays('dbeta', F(after[12]), want, 1e-4, 1e-4) ?? allFinite(after[10], after[11]);
    },
  },
  bernoulliMask: {
    roles: ['f32n', 'key', 'key', 'num', 'num', 'num'],
    gen: (r, a) => [a.arr(dim(r), r), Math.floor(r() * 2 ** 32), Math.floor(r() * 2 ** 32), r(), 2, 0],
    check: (_r, after) => (Array.from(F(after[0])).every((v) => v === 2 || v === 0) ? undefined : 'a mask value is neither keep nor drop'),
  },
  normalFill: { roles: ['f32n', 'key', 'key', 'num', 'num'], gen: (r, a) => [a.arr(dim(r), r), Math.floor(r() * 2 ** 32), 7, 0.5, 2], check: (_r, after) => (Array.from(F(after[0])).every((v) => Math.abs(v - 0.5) <= 2 * 6.67) ? undefined : 'a draw beyond 6.67 sd') },
  noiseApply: {
    roles: ['f32n', 'f32?', 'f32?', 'f32'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), r() < 0.3 ? null : a.arr(n, r), r() < 0.3 ? null : a.arr(n, r), a.arr(n, r)]; },
    check: (_r, after, b) => {
      const mul = b[1] as Float32Array | null, add = b[2] as Float32Array | null;
      return compareArrays('y', F(after[3]), Array.from(F(b[0]), (v, i) => v * (mul ? mul[i]! : 1) + (add ? add[i]! : 0)));
    },
  },
  noiseBackward: {
    roles: ['f32n', 'f32?', 'f32'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), r() < 0.3 ? null : a.arr(n, r), a.arr(n, r)]; },
    check: (_r, after, b) => { const mul = b[1] as Float32Array | null; return compareArrays('dx', F(after[2]), Array.from(F(b[0]), (v, i) => F(b[2])[i]! + v * (mul ? mul[i]! : 1))); },
  },
  preluForward: {
    roles: ['f32', 'f32n', 'i32?', 'f32', 'dim', 'dim'],
    gen: (r, a) => {
      const batch = dim(r), sample = dim(r), shared = r() < 0.5, L = shared ? pos(r) : sample;
      const idx = shared ? a.typed<Int32Array>(Int32Array, Array.from({ length: sample }, () => Math.floor(r() * L))) : null;
      return [a.arr(batch * sample, r), a.arr(L, r), idx, a.arr(batch * sample, r), batch, sample];
    },
    check: (_r, after, b) => {
      const x = F(b[0]), alpha = F(b[1]), idx = b[2] as Int32Array | null, sample = b[5] as number;
      return compareArrays('y', F(after[3]), Array.from(x, (v, i) => (v > 0 ? v : alpha[idx ? idx[i % sample]! : i % sample]! * v)));
    },
  },
  preluBackward: {
    roles: ['f32', 'f32n', 'i32?', 'f32', 'f32?', 'f32?', 'dim', 'dim'],
    gen: (r, a) => {
      const batch = dim(r), sample = dim(r), shared = r() < 0.5, L = shared ? pos(r) : sample;
      const idx = shared ? a.typed<Int32Array>(Int32Array, Array.from({ length: sample }, () => Math.floor(r() * L))) : null;
      return [a.arr(batch * sample, r), a.arr(L, r), idx, a.arr(batch * sample, r), r() < 0.3 ? null : a.arr(batch * sample, r), r() < 0.3 ? null : a.arr(L, r), batch, sample];
    },
    check: (_r, after, b) => {
      const x = F(b[0]), alpha = F(b[1]), idx = b[2] as Int32Array | null, dy = F(b[3]), dx0 = b[4] as Float32Array | null, da0 = b[5] as Float32Array | null, sample = b[7] as number;
      const a = (i: number) => (idx ? idx[i % sample]! : i % sample);
      if (dx0) { const e = compareArrays('dx', F(after[4]), Array.from(x, (v, i) => dx0[i]! + dy[i]! * (v > 0 ? 1 : alpha[a(i)]!))); if (e) return e; }
      if (da0) {
        const want = Array.from(da0);
        x.forEach((v, i) => { if (!(v > 0)) want[a(i)]! += dy[i]! * v; });
        return compareArrays('dalpha', F(after[5]), want, 1e-4, 1e-4);
      }
      return undefined;
    },
  },
  rreluForwardTrain: {
    roles: ['f32n', 'f32', 'f32', 'num', 'num', 'int'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), a.arr(n, r), 0.125, 0.333, Math.floor(r() * 1000)]; },
    check: (_r, after, b) => {
      const x = F(b[0]), y = F(after[1]), noise = F(after[2]);
      for (let i = 0; i < x.length; i++) {
        const ok = x[i]! > 0 ? noise[i] === 1 && y[i] === x[i] : noise[i]! >= 0.125 && noise[i]! <= 0.333 && close(y[i]!, noise[i]! * x[i]!);
        if (!ok) return `element ${i}: x=${x[i]} y=${y[i]} noise=${noise[i]}`;
      }
      return undefined;
    },
  },
  rreluBackward: {
    roles: ['f32n', 'f32', 'f32'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r, 0, 1), a.arr(n, r), a.arr(n, r)]; },
    check: (_r, after, b) => compareArrays('dx', F(after[2]), Array.from(F(b[0]), (v, i) => F(b[2])[i]! + v * F(b[1])[i]!)),
  },
  reluGeneralForward: {
    roles: ['f32n', 'f32', 'num', 'num', 'bool', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), 0.2, 0.1, r() < 0.5, 1]; },
    check: (_r, after, b) => compareArrays('y', F(after[1]), Array.from(F(b[0]), (v) => (v > 0.1 ? (b[4] && v > 1 ? 1 : v) : 0.2 * (v - 0.1)))),
  },
  reluGeneralBackward: {
    roles: ['f32n', 'f32', 'f32', 'num', 'num', 'bool', 'num'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r), a.arr(n, r), a.arr(n, r), 0.2, 0.1, r() < 0.5, 1]; },
    check: (_r, after, b) => compareArrays('dx', F(after[2]), Array.from(F(b[0]), (v, i) => F(b[2])[i]! + F(b[1])[i]! * (v > 0.1 ? (b[5] && v >= 1 ? 0 : 1) : 0.2))),
  },
  softmaxAxis: {
    roles: ['f32', 'f32', 'dim', 'dim', 'dim'],
    gen: (r, a) => { const o = dim(r), ax = dim(r), i = dim(r), n = o * ax * i; return [a.arr(n, r), a.arr(n, r), o, ax, i]; },
    check: (_r, after, b) => compareArrays('y', F(after[1]), softmaxRef(F(b[0]), b[2] as number, b[3] as number, b[4] as number)),
  },
  softmaxAxisBackward: {
    roles: ['f32', 'f32', 'f32', 'dim', 'dim', 'dim'],
    gen: (r, a) => { const o = dim(r), ax = dim(r), i = dim(r), n = o * ax * i; return [a.arr(n, r, 0, 1), a.arr(n, r), a.arr(n, r), o, ax, i]; },
    check: finiteAt(2),
  },
  mishForward: {
    roles: ['f32n', 'f32'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r, -6, 6), a.arr(n, r)]; },
    check: (_r, after, b) => compareArrays('y', F(after[1]), Array.from(F(b[0]), (v) => v * Math.tanh(Math.log1p(Math.exp(v))))),
  },
  mishBackward: { roles: ['f32n', 'f32', 'f32'], gen: (r, a) => { const n = dim(r); return [a.arr(n, r, -6, 6), a.arr(n, r), a.arr(n, r)]; }, check: finiteAt(2) },
  f32ToF16: {
    roles: ['f32n', 'u16'],
    gen: (r, a) => { const n = dim(r); return [a.arr(n, r, -70000, 70000), a.typed<Uint16Array>(Uint16Array, new Array(n).fill(0))]; },
    always: true,
    check: (_r, after, b) => {
      if (!isF32(b[0]) || !(after[1] instanceof Uint16Array)) return undefined;
      const x = live(b[0]), h = after[1];
      for (let i = 0; i < x.length; i++) {
        const got = f16ToNumber(h[i]!), v = x[i]!;
        const ok = Number.isNaN(v) ? Number.isNaN(got) : Math.abs(v) >= 65520 ? got === Math.sign(v) * Infinity : Math.abs(got - v) <= Math.max(Math.abs(v) * 2 ** -11, 2 ** -25);
        if (!ok) return `f16 of ${v} decodes to ${got}`;
      }
      return undefined;
    },
  },
  f16ToF32: {
    roles: ['u16n', 'f32'],
    gen: (r, a) => { const n = dim(r); return [a.typed<Uint16Array>(Uint16Array, Array.from({ length: n }, () => Math.floor(r() * 65536))), a.arr(n, r)]; },
    always: true,
    check: (_r, after, b) => {
      if (!(b[0] instanceof Uint16Array) || !isF32(after[1])) return undefined;
      return compareArrays('y', after[1], Array.from(live(b[0]), f16ToNumber), 0, 0);
    },
  },
  quantizeInt8: {
    roles: ['f32', 'dim', 'dim', 'i8', 'f32'],
    gen: (r, a) => { const k = dim(r), n = dim(r); return [a.arr(k * n, r), k, n, a.typed<Int8Array>(Int8Array, new Array(k * n).fill(0)), a.arr(n, r)]; },
    check: (_r, after, b) => {
      const W = F(b[0]), k = b[1] as number, n = b[2] as number, q = after[3] as Int8Array, s = F(after[4]);
      for (let p = 0; p < k; p++)
        for (let j = 0; j < n; j++) if (!(Math.abs(W[p * n + j]! - q[p * n + j]! * s[j]!) <= s[j]! / 2 + 1e-6)) return `W[${p},${j}] = ${W[p * n + j]} quantized to ${q[p * n + j]} * ${s[j]}`;
      return undefined;
    },
  },
  gemmF16: {
    roles: ['dim', 'dim', 'dim', 'f32', 'u16', 'f32?', 'f32', 'path'],
    gen: (r, a) => {
      const m = dim(r), n = dim(r), k = dim(r), W = new Uint16Array(k * n);
      native.f32ToF16(Float32Array.from({ length: k * n }, () => 2 * r() - 1), W);
      return [m, n, k, a.arr(m * k, r), a.typed<Uint16Array>(Uint16Array, W), r() < 0.5 ? null : a.arr(n, r), a.arr(m * n, r), Math.floor(r() * 4)];
    },
    check: (_r, after, b) => {
      const [m, n, k] = b as number[], W = b[4] as Uint16Array;
      return compareArrays('Y', F(after[6]), naiveGemm(m!, n!, k!, F(b[3]), (p, j) => f16ToNumber(W[p * n! + j]!), b[5] as Float32Array | null), 1e-4, 1e-4);
    },
  },
  gemmI8: {
    roles: ['dim', 'dim', 'dim', 'f32', 'i8', 'f32', 'f32?', 'f32', 'path'],
    gen: (r, a) => {
      const m = dim(r), n = dim(r), k = dim(r);
      return [m, n, k, a.arr(m * k, r), a.typed<Int8Array>(Int8Array, Array.from({ length: k * n }, () => Math.floor(r() * 255) - 127)), a.arr(n, r, 0, 0.02),
        r() < 0.5 ? null : a.arr(n, r), a.arr(m * n, r), Math.floor(r() * 4)];
    },
    check: (_r, after, b) => {
      const [m, n, k] = b as number[], q = b[4] as Int8Array, s = F(b[5]);
      return compareArrays('Y', F(after[7]), naiveGemm(m!, n!, k!, F(b[3]), (p, j) => q[p * n! + j]! * s[j]!, b[6] as Float32Array | null), 1e-4, 1e-4);
    },
  },
  quantizedIsa: { roles: [], gen: () => [], always: true, check: (ret) => (ret === 'avx2' || ret === 'generic' ? undefined : `returned ${String(ret)}`) },
};

// ---- mutations ----

const NOT_ARRAYS: unknown[] = [undefined, null, 0, 1, -1, NaN, 'x', '', {}, [], [1, 2, 3, 4], true, false, Symbol('s'), () => 0, 3n,
  new Proxy(new Float32Array(4), {}), Object.create(Float32Array.prototype) as unknown, new ArrayBuffer(16)];
const WRONG_KIND: Record<string, () => unknown[]> = {
  f32: () => [new Float64Array(4), new Int32Array(4), new Uint32Array(4), new Uint8Array(16), new Uint16Array(8), new Int8Array(16), new Uint8ClampedArray(16), new BigInt64Array(2), new DataView(new ArrayBuffer(16)), [1, 2, 3, 4]],
  u16: () => [new Float32Array(4), new Int16Array(8), new Uint8Array(16), new Uint32Array(4), new Float64Array(2), new DataView(new ArrayBuffer(16))],
  i8: () => [new Uint8Array(16), new Uint8ClampedArray(16), new Int16Array(8), new Float32Array(4), new DataView(new ArrayBuffer(16))],
  i32: () => [new Uint32Array(4), new Float32Array(4), new Int16Array(8), new BigInt64Array(2), [0, 0]],
};
const BAD_INTS = [-1, -0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, 2 ** 64, -(2 ** 31)];
const NOT_NUMBERS: unknown[] = ['3', '', null, undefined, true, {}, [2], 3n, new Float32Array(1)];
const EXTREME_NUMS = [0, -0, -1, 1e38, -1e38, 1e300, -1e300, 5e-324, 2 ** 31, 0.9999999];
const NASTY_FLOATS = [NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45, -0];

const ctorFor = (role: Role): TypedCtor => (role === 'u16' || role === 'u16n' ? Uint16Array : role === 'i8' ? Int8Array : role === 'i32?' ? Int32Array : Float32Array);
const isTypedRole = (role: Role) => ['f32', 'f32n', 'f32?', 'u16', 'u16n', 'i8', 'i32?'].includes(role);

function show(v: unknown): string {
  if (typeof v === 'symbol') return 'Symbol';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'function';
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Float32Array).length ?? v.byteLength}${v.byteLength === 0 && (v as Float32Array).buffer?.byteLength === 0 ? ', detached' : ''})`;
  if (Array.isArray(v)) return `[${v.length} items]`;
  if (v instanceof ArrayBuffer) return `ArrayBuffer(${v.byteLength})`;
  if (typeof v === 'object' && v !== null) return 'object';
  return Object.is(v, -0) ? '-0' : String(v);
}

/** What a single mutation must produce: a specific code, some error, or (null) either outcome. */
type Expect = string | 'any-error' | null;
interface Mutated { log: string; expect: Expect }

function mutate(spec: Spec, args: unknown[], r: () => number, a: Arena): Mutated {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const roles = spec.roles;
  const kind = Math.floor(r() * 100);
  // Argument count (10%).
  if (kind < 10 || roles.length === 0) {
    const before = args.length;
    const how = Math.floor(r() * 3);
    if (how === 0 && args.length > 0) args.pop();
    else if (how === 1) args.push(pick([null, 0, new Float32Array(2), 'extra']));
    else args.length = Math.floor(r() * (args.length + 1)) === before ? 0 : Math.floor(r() * before);
    if (args.length === before) args.push(undefined);
    return { log: `arity ${before} -> ${args.length}`, expect: spec.noArgs ? null : 'ERR_NATIVE_ARGS' };
  }
  // All size dimensions huge at once (5%): their products overflow 32 (and 64) bits.
  if (kind < 15 && roles.includes('dim')) {
    const v = pick([2 ** 31 - 1, 2 ** 30, 2 ** 16, 2 ** 21]);
    roles.forEach((role, i) => { if (role === 'dim') args[i] = v; });
    return { log: `all dims := ${v}`, expect: 'any-error' };
  }
  const i = Math.floor(r() * roles.length);
  const role = roles[i]!;
  const name = `arg ${i} (${role})`;
  const sub = r();
  if (isTypedRole(role)) {
    // Later mutations of a position already mutated act only on a live array of the role's own kind.
    const proper = (v: unknown, ro: Role): v is Typed => ArrayBuffer.isView(v) && v instanceof ctorFor(ro) && (v as Typed).buffer.byteLength > 0;
    const cur = proper(args[i], role) ? (args[i] as Typed) : null;
    const len = cur ? cur.length : 0;
    const family = role.startsWith('f32') ? 'f32' : role === 'u16n' ? 'u16' : role === 'i32?' ? 'i32' : role;
    if (sub < 0.15) {
      const v = pick(NOT_ARRAYS);
      args[i] = v;
      const allowedNull = (role === 'f32?' || role === 'i32?') && (v === null || v === undefined);
      return { log: `${name} := ${show(v)}`, expect: allowedNull ? null : 'ERR_NATIVE_TYPE' };
    }
    if (sub < 0.3) {
      const v = pick(WRONG_KIND[family]!());
      args[i] = v;
      return { log: `${name} := ${show(v)}`, expect: 'ERR_NATIVE_TYPE' };
    }
    if (sub < 0.45 && len > 0 && cur !== null) {
      // Off by one (or more) too short; keeps the leading values.
      const drop = r() < 0.7 ? 1 : len;
      const C = ctorFor(role);
      args[i] = a.typed(C, Array.from((cur as Float32Array).subarray(0, len - drop)));
      const fixed = role === 'f32' || role === 'f32?' || role === 'u16' || role === 'i8' || role === 'i32?';
      return { log: `${name} shortened ${len} -> ${len - drop}`, expect: fixed ? 'ERR_NATIVE_SIZE' : null };
    }
    if (sub < 0.55) {
      args[i] = detachedOf(ctorFor(role), Math.max(len, 1));
      const fixed = (role === 'f32' || role === 'f32?' || role === 'u16' || role === 'i8') && len > 0;
      return { log: `${name} detached`, expect: fixed ? 'ERR_NATIVE_SIZE' : role === 'i32?' && len > 0 ? 'ERR_NATIVE_SIZE' : null };
    }
    if (sub < 0.75 && cur !== null && len > 0) {
      // NaN/Inf/huge data; Int32Array indices out of range; Int8 -128; float16 Inf/NaN bits.
      const at = Math.floor(r() * len);
      const v = role === 'i32?' ? pick([-1, 2 ** 31 - 1, len + 100]) : role === 'i8' ? -128 : role === 'u16' || role === 'u16n' ? pick([0x7c00, 0xfc00, 0x7e00, 0x7bff]) : pick(NASTY_FLOATS);
      (cur as Float32Array)[at] = v;
      return { log: `${name}[${at}] := ${show(v)}`, expect: role === 'i32?' ? 'ERR_NATIVE_VALUE' : null };
    }
    // Overlap with another typed argument: same bytes, shifted or exact.
    const others = roles.map((_ro, j) => j).filter((j) => j !== i && proper(args[j], roles[j]!) && (args[j] as Typed).length > 0);
    if (others.length > 0 && cur !== null && len > 0) {
      const j = pick(others);
      const other = args[j] as Typed;
      const shift = r() < 0.3 ? 0 : Math.floor(r() * other.byteLength) & ~3;
      const self = cur as Typed;
      const buf = a.raw(Math.max(other.byteLength, shift + self.byteLength) + 8);
      const Cj = other.constructor as TypedCtor, Ci = self.constructor as TypedCtor;
      const nj = new Cj(buf, GUARD_BYTES, other.length), ni = new Ci(buf, GUARD_BYTES + shift, self.length);
      nj.set(other as never);
      ni.set(self as never); // the mutated argument's values win where they overlap (keeps indices valid)
      args[j] = nj;
      args[i] = ni;
      return { log: `${name} overlaps arg ${j} at byte ${shift}`, expect: null };
    }
    if (cur !== null && len > 0) {
      // Exact alias of another Float32Array argument.
      const same = roles.map((_ro, j) => j).filter((j) => j !== i && proper(args[j], 'f32') && (args[j] as Float32Array).length >= len);
      if (same.length > 0 && isF32(cur)) {
        const j = pick(same);
        args[i] = (args[j] as Float32Array).subarray(0, len);
        return { log: `${name} aliases arg ${j}`, expect: null };
      }
    }
    args[i] = detachedOf(ctorFor(role), 4);
    return { log: `${name} detached (fallback)`, expect: null };
  }
  if (role === 'bool') {
    const v = pick([0, 1, 'true', null, undefined, {}, [true]]);
    args[i] = v;
    return { log: `${name} := ${show(v)}`, expect: 'ERR_NATIVE_TYPE' };
  }
  if (role === 'num') {
    if (sub < 0.3) { const v = pick(NOT_NUMBERS); args[i] = v; return { log: `${name} := ${show(v)}`, expect: 'ERR_NATIVE_TYPE' }; }
    if (sub < 0.55) { const v = pick([NaN, Infinity, -Infinity]); args[i] = v; return { log: `${name} := ${v}`, expect: 'ERR_NATIVE_VALUE' }; }
    const v = pick(EXTREME_NUMS);
    args[i] = v;
    return { log: `${name} := ${show(v)}`, expect: null };
  }
  // Integer roles: dim, int, act, path, threads, key.
  if (sub < 0.25) {
    const v = pick(NOT_NUMBERS);
    args[i] = v;
    return { log: `${name} := ${show(v)}`, expect: role === 'key' ? 'ERR_NATIVE_VALUE' : 'ERR_NATIVE_TYPE' };
  }
  if (sub < 0.6) {
    const v = pick(role === 'key' ? [...BAD_INTS.filter((x) => !(x >= 2 ** 31 && x < 2 ** 32)), 2 ** 32] : BAD_INTS);
    args[i] = v;
    return { log: `${name} := ${show(v)}`, expect: 'ERR_NATIVE_VALUE' };
  }
  const cur = typeof args[i] === 'number' ? (args[i] as number) : 0;
  const v = pick([0, -0, cur + 1, cur - 1 >= 0 ? cur - 1 : 0, 2 ** 31 - 1, 15, 4, 1024, 1025]);
  args[i] = v;
  return { log: `${name} := ${show(v)}`, expect: null };
}

function snapshot(args: unknown[]): unknown[] {
  return args.map((v) => (ArrayBuffer.isView(v) && !(v instanceof DataView) && v.buffer.byteLength > 0 ? (v as Float32Array).slice() : v));
}

/** Every fuzz input is at most a few thousand elements: a call slower than this loops over nothing. */
const SLOW_MS = 250;

const envInt = (name: string): number | undefined => {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, received ${v}`);
  return n;
};

describe('fuzz', () => {
  // The training-plan pair takes a layer-spec array and a handle, not flat positional arguments:
  // test/39 fuzzes it with its own generator.
  const OWN_FUZZ = ["trainPlanCreate", "trainPlanStep", "trainPlanRun"];
  const exported = Object.keys(native).filter((k) => !OWN_FUZZ.includes(k)).sort();

  it('every exported native function has a dedicated fuzz spec, and every spec an export', () => {
    expect(exported.filter((k) => !(k in SPECS))).toEqual([]);
    expect(Object.keys(SPECS).filter((k) => !exported.includes(k))).toEqual([]);
    for (const [name, spec] of Object.entries(SPECS)) {
      const args = spec.gen(rng(1), new Arena());
      expect(args.length, name).toBe(spec.roles.length);
    }
  });

  const SEED = envInt('DEEPNODE_FUZZ_SEED') ?? (Date.now() ^ (process.pid << 8)) >>> 0;
  const CASES = envInt('DEEPNODE_FUZZ_CASES') ?? 12000;
  it(`${CASES} generated cases over every function end in a coded error or a checked result (seed ${SEED})`, () => {
    console.info(`native fuzz: seed ${SEED}, ${CASES} cases (replay: DEEPNODE_FUZZ_SEED=${SEED} DEEPNODE_FUZZ_CASES=${CASES})`);
    const r = rng(SEED);
    const names = Object.keys(SPECS).sort();
    const fns = native as unknown as Record<string, (...a: unknown[]) => unknown>;
    const problems: string[] = [];
    const stats = { threw: 0, ok: 0, checked: 0, mutated: 0 };
    const perFn: Record<string, number> = {};
    const t0 = performance.now();
    for (let c = 0; c < CASES && problems.length < 8; c++) {
      const name = names[c % names.length]!; // round robin: every function gets CASES / names.length cases
      perFn[name] = (perFn[name] ?? 0) + 1;
      const spec = SPECS[name]!;
      const arena = new Arena();
      const args = spec.gen(r, arena);
      const mutations = r() < 0.2 ? 0 : r() < 0.8 ? 1 : 2 + Math.floor(r() * 2);
      const muts: Mutated[] = [];
      for (let k = 0; k < mutations; k++) muts.push(mutate(spec, args, r, arena));
      if (mutations > 0) stats.mutated++;
      const expect1: Expect = muts.length === 1 ? muts[0]!.expect : muts.length === 0 ? 'none' : null;
      const where = () => `case ${c} ${name}(${args.map(show).join(', ')}) [${muts.map((m) => m.log).join('; ') || 'valid call'}]`;
      const before = snapshot(args);
      let ret: unknown;
      let err: unknown;
      let threw = false;
      const tc = performance.now();
      try {
        ret = fns[name]!(...args);
      } catch (e) {
        threw = true;
        err = e;
      }
      // Inputs are tiny, so no call has a reason to take long (an empty row loop of 2^31 would).
      const took = performance.now() - tc;
      if (took > SLOW_MS) problems.push(`${where()}: took ${took.toFixed(0)} ms`);
      if (name === 'setNumThreads') native.setNumThreads(savedThreads);
      if (threw) {
        stats.threw++;
        const code = (err as { code?: unknown }).code;
        if (!(err instanceof Error) || typeof code !== 'string' || !CODES.has(code)) problems.push(`${where()}: threw ${String(err)} with code ${String(code)}`);
        else if (expect1 === 'none') problems.push(`${where()}: a valid call threw ${code}: ${err.message}`);
        else if (expect1 !== null && expect1 !== 'any-error' && code !== expect1) problems.push(`${where()}: expected ${expect1}, got ${code}: ${err.message}`);
      } else {
        stats.ok++;
        if (expect1 !== null && expect1 !== 'none') problems.push(`${where()}: expected ${expect1}, but the call returned ${show(ret)}`);
        else if (spec.check && (mutations === 0 || spec.always)) {
          stats.checked++;
          if (name === 'setNumThreads') native.setNumThreads(before[0] as number);
          let msg: string | undefined;
          try {
            msg = spec.check(ret, args, before);
          } catch (e) {
            msg = `the reference check threw ${String(e)}`;
          }
          if (name === 'setNumThreads') native.setNumThreads(savedThreads);
          if (msg) problems.push(`${where()}: wrong result: ${msg}`);
        }
      }
      if (!arena.guardsIntact()) problems.push(`${where()}: wrote outside its arrays`);
    }
    native.setNumThreads(savedThreads);
    const ms = performance.now() - t0;
    console.info(`native fuzz: ${CASES} cases in ${ms.toFixed(0)} ms; ${stats.mutated} mutated, ${stats.threw} threw a coded error, ${stats.ok} returned (${stats.checked} checked against a reference)`);
    expect(problems, `seed ${SEED}`).toEqual([]);
    if (CASES >= 5000) {
      expect(Object.keys(perFn).length).toBe(names.length);
      expect(Math.min(...Object.values(perFn))).toBeGreaterThanOrEqual(Math.floor(CASES / names.length));
      expect(stats.threw).toBeGreaterThan(CASES / 3);
      expect(stats.checked).toBeGreaterThan(CASES / 10);
    }
    // The addon still computes.
    const C = f32(1);
    native.gemm(false, false, 1, 1, 2, 1, Float32Array.of(1, 2), 2, Float32Array.of(3, 4), 1, 0, C, 1, null);
    expect(C[0]).toBe(11);
  });
});
