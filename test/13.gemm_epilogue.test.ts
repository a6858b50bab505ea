/**
 * The GEMM's activation epilogue: native.gemm(..., act, actAlpha, Y) writes Z = alpha op(A) op(B)
 * + beta C + bias into C and Y = act(Z), applied by the GEMM to each finished block of C. It must
 * give the same bits as the unfused pair (gemm, then activationForward on the same Z) for every
 * activation id, transpose, bias, beta, stride and thread count, including products that cross the
 * threading threshold, several row blocks (m > 144), several column groups (n > 128) and several
 * k slices (k > 320). The unfused pieces are held against float64 references in test/10 and
 * test/11; one case here also checks ReLU(Z) against the float64 product directly.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native, ActId } from '../src/backend/native';
import { dense } from '../src/ops/linalg';
import { Tensor } from '../src/tensor';

type Case = {
  ta: boolean; tb: boolean; m: number; n: number; k: number; alpha: number; beta: number;
  withBias: boolean; extraLd: number; nanC: boolean; act: number; actAlpha: number; inPlace: boolean;
};
interface GemmRef {
  rng(seed: number): () => number;
  checkActCase(n: typeof native, r: () => number, c: Case): string | null;
  actCases(seed: number, count: number, actCount: number): Case[];
  referenceGemm(
    ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number, A: Float32Array, lda: number,
    B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number, bias: Float32Array | null,
  ): { out: Float64Array; bound: Float64Array };
  matrix(r: () => number, rows: number, ld: number, pad: number): Float32Array;
}
const ref = createRequire(import.meta.url)(path.join(__dirname, 'support', 'gemm_reference.cjs')) as GemmRef;

const ACT_IDS = Object.values(ActId).filter((v): v is number => typeof v === 'number');
const ALPHA: Record<number, number> = { [ActId.LeakyRelu]: 0.3, [ActId.Elu]: 1.3, [ActId.Swish]: 1.5 };

let savedThreads = 1;
beforeAll(() => {
  savedThreads = native.getNumThreads();
});
afterAll(() => native.setNumThreads(savedThreads));

describe.each([1, 2])('gemm activation epilogue, %i thread(s)', (threads) => {
  beforeAll(() => native.setNumThreads(threads));

  it('every activation id, on each transpose with and without bias, equals gemm + activationForward bit for bit', () => {
    expect(ACT_IDS.length).toBe(15);
    const r = ref.rng(100 + threads);
    const failures: string[] = [];
    for (const act of ACT_IDS) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          for (const withBias of [false, true]) {
            // Odd sizes: partial register tiles at the bottom and right edges, 3 column groups.
            const f = ref.checkActCase(native, r, {
              ta, tb, m: 37, n: 291, k: 45, alpha: 1, beta: 0, withBias, extraLd: 1, nanC: true, act, actAlpha: ALPHA[act] ?? 0.3, inPlace: false,
            });
            if (f) failures.push(f);
          }
        }
      }
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });

  it('random odd shapes with alpha, beta and strides (90 cases, every id)', () => {
    const r = ref.rng(200 + threads);
    const failures: string[] = [];
    for (const c of ref.actCases(300 + threads, 90, ACT_IDS.length)) {
      const f = ref.checkActCase(native, r, c);
      if (f) failures.push(f);
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });

  it('large products: threads share the blocks, several row blocks, column groups and k slices', () => {
    const r = ref.rng(400 + threads);
    const failures: string[] = [];
    const shapes: [boolean, boolean, number, number, number][] = [
      [false, false, 32, 300, 784], // the W1 first layer: B read in place, 3 k slices
      [false, false, 200, 130, 330], // two row blocks
      [true, true, 67, 1030, 100], // columns past one group on both threads
      [false, true, 256, 257, 64],
      [false, false, 150, 120, 50], // a contiguous 144 x 120 region, activated in two calls
    ];
    for (const [ta, tb, m, n, k] of shapes) {
      for (const act of [ActId.Selu, ActId.LeakyRelu, ActId.GeluTanh]) {
        const f = ref.checkActCase(native, r, {
          ta, tb, m, n, k, alpha: 1, beta: ta ? 0.5 : 0, withBias: true, extraLd: tb ? 3 : 0, nanC: !ta, act, actAlpha: ALPHA[act] ?? 0.3, inPlace: false,
        });
        if (f) failures.push(f);
      }
    }
    expect(failures).toEqual([]);
  });

  it('Y may be C itself (ldy = ldc), and k = 0 or alpha = 0 still applies the activation', () => {
    const r = ref.rng(500 + threads);
    const failures: string[] = [];
    const base = { ta: false, tb: true, alpha: 1, beta: 0.5, withBias: true, extraLd: 2, nanC: false, act: ActId.Tanh, actAlpha: 0 };
    for (const c of [
      { ...base, m: 70, n: 150, k: 200, inPlace: true },
      { ...base, m: 5, n: 9, k: 0, inPlace: false },
      { ...base, m: 5, n: 9, k: 3, alpha: 0, inPlace: false },
      { ...base, m: 5, n: 9, k: 0, inPlace: true },
    ]) {
      const f = ref.checkActCase(native, r, c);
      if (f) failures.push(f);
    }
    expect(failures).toEqual([]);
  });
});

describe('gemm activation epilogue against float64', () => {
  it('ReLU(Z) matches max(0, the float64 product + bias) within float32 rounding', () => {
    const r = ref.rng(77);
    const m = 33, n = 200, k = 310;
    const A = ref.matrix(r, m, k, 0), B = ref.matrix(r, k, n, 0);
    const bias = Float32Array.from({ length: n }, () => r() - 0.5);
    const z = new Float32Array(m * n), y = new Float32Array(m * n);
    native.gemm(false, false, m, n, k, 1, A, k, B, n, 0, z, n, bias, ActId.Relu, 0, y);
    const want = ref.referenceGemm(false, false, m, n, k, 1, A, k, B, n, 0, new Float32Array(m * n), n, bias);
    let worst = 0;
    let positives = 0;
    for (let i = 0; i < m * n; i++) {
      const tol = (k + 3) * 1.1920929e-7 * want.bound[i]! + 1e-30;
      worst = Math.max(worst, Math.abs(y[i]! - Math.max(0, want.out[i]!)) / tol);
      if (y[i]! > 0) positives++;
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(positives).toBeGreaterThan(m * n * 0.3); // both sides of the kink are exercised
    expect(positives).toBeLessThan(m * n * 0.7);
  });
});

describe('gemm activation arguments', () => {
  const A = new Float32Array(6), B = new Float32Array(6), C = new Float32Array(4);
  const call = (...rest: unknown[]) => () =>
    (native.gemm as (...a: unknown[]) => void)(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2, null, ...rest);

  it('takes 14 or 17 arguments', () => {
    expect(call(ActId.Relu)).toThrow(expect.objectContaining({ code: 'ERR_NATIVE_ARGS' }));
    expect(call(ActId.Relu, 0)).toThrow(/expected 17 arguments, received 16/);
  });

  it('rejects an unknown activation id, a short Y, and a Y that overlaps an operand', () => {
    expect(call(99, 0, new Float32Array(4))).toThrow(expect.objectContaining({ code: 'ERR_NATIVE_VALUE' }));
    expect(call(ActId.Relu, 0, new Float32Array(3))).toThrow(expect.objectContaining({ code: 'ERR_NATIVE_SIZE' }));
    const buf = new Float32Array(8);
    const c = buf.subarray(0, 4);
    expect(() => native.gemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, c, 2, null, ActId.Relu, 0, buf.subarray(2, 6))).toThrow(
      expect.objectContaining({ code: 'ERR_NATIVE_OVERLAP' }),
    );
    expect(() => native.gemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2, null, ActId.Relu, 0, A)).toThrow(
      expect.objectContaining({ code: 'ERR_NATIVE_OVERLAP' }),
    );
  });
});

describe('dense op', () => {
  it('forwards through the epilogue: y = act(x W + b) with z kept, as gemm then activationForward', () => {
    const r = ref.rng(9);
    const m = 32, k = 100, n = 75;
    const x = new Tensor(ref.matrix(r, m, k, 0).slice(), [m, k]);
    const W = new Tensor(ref.matrix(r, k, n, 0).slice(), [k, n]);
    const b = new Tensor(Float32Array.from({ length: n }, () => r() - 0.5), [n]);
    const y = dense(x, W, b, ActId.Selu, 0);
    const z = new Float32Array(m * n), want = new Float32Array(m * n);
    native.gemm(false, false, m, n, k, 1, x.data, k, W.data, n, 0, z, n, b.data);
    native.activationForward(ActId.Selu, z, want, 0);
    expect(Array.from(y.data)).toEqual(Array.from(want));
  });
});
