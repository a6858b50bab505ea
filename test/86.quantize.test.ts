/**
 * Post-training quantization (src/inference/quantize.ts, native/quantized.*):
 *  - float16 conversion against an independent float64 implementation of IEEE 754 binary16
 *    round-to-nearest-even (written here from the standard's definition, not from our C++), on
 *    random bit patterns, exact ties and the special values; both the F16C and the portable path;
 *  - int8 per-channel quantization against its definition (scale_j = max|W[:, j]| / 127, error
 *    per element <= scale_j / 2);
 *  - the native quantized products (every path) against a float64 product on odd sizes;
 *  - the QuantizedDense model against a float32 model holding the dequantized weights, sizes in
 *    bytes, and the error cases.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { native, addonPath } from '../src/backend/native';
import { Tensor } from '../src/tensor';
import { Sequential, layers, StateError } from '../src/index';
import { quantize, weightBytes, QuantizedDense } from '../src/inference';
import { caught, randArray, rng } from './support/reference';

// ---------------------------------------------------------------------------------------------
// Independent binary16 reference: exact float64 arithmetic on the value, not on bit fields.

/** binary16 bits of the float32 value x, round to nearest, ties to even. NaN: -1 (checked apart). */
function f16Bits(x: number): number {
  if (Number.isNaN(x)) return -1;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const ec = Math.max(e, -14); // below 2^-14 the spacing stays 2^-24 (subnormals)
  const ulp = 2 ** (ec - 10);
  const m = a / ulp; // exact: a power-of-two division
  let r = Math.floor(m);
  const frac = m - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  const v = r * ulp;
  if (v > 65504) return sign | 0x7c00;
  if (v < 2 ** -14) return sign | r; // subnormal: r units of 2^-24
  let e2 = ec;
  if (r >= 2048) {
    e2++;
    r /= 2;
  }
  return sign | ((e2 + 15) << 10) | (r - 1024);
}

/** The value of binary16 bits, in float64. */
function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1024 + m) * 2 ** (e - 25);
}

/** float32 test values: random bit patterns, exact half-way points, specials. */
function conversionInputs(): Float32Array {
  const r = rng(86);
  const bits = new Uint32Array(20000);
  for (let i = 0; i < bits.length; i++) bits[i] = Math.floor(r() * 2 ** 32) >>> 0;
  const values: number[] = [...new Float32Array(bits.buffer)];
  // Halfway between neighbouring binary16 values (and one float32 ulp either side): the ties.
  for (let i = 0; i < 3000; i++) {
    const h = Math.floor(r() * 0x7bff);
    const mid = (f16Value(h) + f16Value(h + 1)) / 2;
    const f = new Float32Array([mid]);
    const u = new Uint32Array(f.buffer);
    values.push(f[0]!, -f[0]!);
    u[0] = u[0]! + 1;
    values.push(f[0]!);
    u[0] = u[0]! - 2;
    values.push(f[0]!);
  }
  values.push(0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e6, Infinity, -Infinity, NaN, 2 ** -14, 2 ** -24,
    2 ** -25, 2 ** -25 * 1.0000001, 3 * 2 ** -26, 2 ** -26, 1e-45, 6.1e-5, 0.1, 1 / 3);
  return Float32Array.from(values);
}

function checkBits(x: Float32Array, h: Uint16Array, label: string): void {
  let bad = 0;
  for (let i = 0; i < x.length; i++) {
    const want = f16Bits(x[i]!);
    const ok = want === -1 ? (h[i]! & 0x7c00) === 0x7c00 && (h[i]! & 0x3ff) !== 0 : h[i] === want;
    if (!ok && bad++ < 5) expect.fail(`${label}: x=${x[i]} gave 0x${h[i]!.toString(16)}, expected 0x${want.toString(16)}`);
  }
  expect(bad).toBe(0);
}

describe('float16 conversion', () => {
  const x = conversionInputs();

  it('matches IEEE round-to-nearest-even bit for bit (kernel chosen at load)', () => {
    const h = new Uint16Array(x.length);
    native.f32ToF16(x, h);
    checkBits(x, h, native.quantizedIsa());
    // Back to float32 is exact.
    const back = new Float32Array(x.length);
    native.f16ToF32(h, back);
    for (let i = 0; i < x.length; i++) {
      const v = f16Value(h[i]!);
      if (Number.isNaN(v)) expect(Number.isNaN(back[i]!)).toBe(true);
      else expect(Object.is(back[i], v) || back[i] === v).toBe(true);
    }
  });

  it('the portable path (DEEPNODE_ISA=generic) gives the same bits', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dn-f16-'));
    const inFile = path.join(dir, 'x.bin'), outFile = path.join(dir, 'h.bin'), backFile = path.join(dir, 'b.bin');
    fs.writeFileSync(inFile, Buffer.from(x.buffer));
    const script = `
      const fs = require('fs');
      const b = require(${JSON.stringify(addonPath())});
      if (b.quantizedIsa() !== 'generic') throw new Error('not generic: ' + b.quantizedIsa());
      const raw = fs.readFileSync(${JSON.stringify(inFile)});
      const x = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
      const h = new Uint16Array(x.length);
      b.f32ToF16(Float32Array.from(x), h);
      fs.writeFileSync(${JSON.stringify(outFile)}, Buffer.from(h.buffer));
      const back = new Float32Array(x.length);
      b.f16ToF32(h, back);
      fs.writeFileSync(${JSON.stringify(backFile)}, Buffer.from(back.buffer));`;
    execFileSync(process.execPath, ['-e', script], { env: { ...process.env, DEEPNODE_ISA: 'generic' } });
    const raw = fs.readFileSync(outFile);
    const h = new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    checkBits(x, h, 'generic');
    const rawBack = fs.readFileSync(backFile);
    const back = new Float32Array(rawBack.buffer.slice(rawBack.byteOffset, rawBack.byteOffset + rawBack.length));
    for (let i = 0; i < x.length; i++) {
      const v = f16Value(h[i]!);
      if (Number.isNaN(v)) expect(Number.isNaN(back[i]!)).toBe(true);
      else expect(back[i]).toBe(v);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('relative error per weight <= 2^-11 in the normal range', () => {
    const r = rng(7);
    const w = new Float32Array(50000);
    for (let i = 0; i < w.length; i++) w[i] = (r() - 0.5) * 2 ** (Math.floor(r() * 28) - 14);
    const h = new Uint16Array(w.length);
    native.f32ToF16(w, h);
    let worst = 0;
    for (let i = 0; i < w.length; i++) {
      if (Math.abs(w[i]!) < 2 ** -14) continue;
      worst = Math.max(worst, Math.abs(f16Value(h[i]!) - w[i]!) / Math.abs(w[i]!));
    }
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(2 ** -11);
  });
});

// ---------------------------------------------------------------------------------------------

describe('int8 per-channel quantization', () => {
  it('scale_j = max|W[:, j]| / 127 and |W - q * scale| <= scale / 2', () => {
    const r = rng(8);
    const k = 33, n = 7;
    const W = randArray(r, k * n, -2, 2);
    for (let p = 0; p < k; p++) W[p * n + 3] = 0; // an all-zero column
    for (let p = 0; p < k; p++) W[p * n + 5] *= 1e-3; // a small one
    const q = new Int8Array(k * n), s = new Float32Array(n);
    native.quantizeInt8(W, k, n, q, s);
    for (let j = 0; j < n; j++) {
      let amax = 0;
      for (let p = 0; p < k; p++) amax = Math.max(amax, Math.abs(W[p * n + j]!));
      expect(s[j]).toBe(Math.fround(amax / 127));
      let hits127 = false;
      for (let p = 0; p < k; p++) {
        const v = q[p * n + j]!;
        expect(v).toBeGreaterThanOrEqual(-127);
        expect(v).toBeLessThanOrEqual(127);
        if (Math.abs(v) === 127) hits127 = true;
        expect(Math.abs(W[p * n + j]! - v * s[j]!)).toBeLessThanOrEqual((s[j]! / 2) * (1 + 1e-9));
      }
      if (j === 3) {
        expect(s[j]).toBe(0);
        for (let p = 0; p < k; p++) expect(q[p * n + j]).toBe(0);
      } else {
        expect(hits127).toBe(true);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Native products against float64 on odd sizes, every path.

const PATHS = [
  [0, 'auto'],
  [1, 'direct portable'],
  [2, 'direct SIMD'],
  [3, 'float32 panels + sgemm'],
] as const;

/** Y = X W + bias in float64, and sum |X||W| for the error bound. */
function refProduct(m: number, n: number, k: number, X: Float32Array, W: ArrayLike<number>, bias: Float32Array | null) {
  const y = new Float64Array(m * n), mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0, a = bias ? Math.abs(bias[j]!) : 0;
      for (let p = 0; p < k; p++) {
        const t = X[i * k + p]! * W[p * n + j]!;
        s += t;
        a += Math.abs(t);
      }
      y[i * n + j] = s;
      mag[i * n + j] = a;
    }
  }
  return { y, mag };
}

function expectProduct(got: Float32Array, ref: { y: Float64Array; mag: Float64Array }, label: string): void {
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - ref.y[i]!);
    if (!(err <= 2e-6 * ref.mag[i]! + 1e-30)) expect.fail(`${label}: element ${i} = ${got[i]}, float64 ${ref.y[i]} (|err| ${err})`);
  }
}

describe('native quantized products vs float64', () => {
  const sizes: [number, number, number][] = [
    [1, 1, 1], [1, 7, 33], [7, 33, 257], [33, 257, 7], [257, 7, 33], [1, 257, 257], [4, 33, 257], [9, 257, 33], [3, 1, 7], [2, 257, 1],
  ];
  for (const [m, n, k] of sizes) {
    it(`m=${m} n=${n} k=${k}`, () => {
      const r = rng(m * 1000003 + n * 1009 + k);
      const X = randArray(r, m * k);
      const W = randArray(r, k * n, -0.5, 0.5);
      const bias = randArray(r, n);
      const h = new Uint16Array(k * n);
      native.f32ToF16(W, h);
      const wh = Array.from(h, f16Value);
      const q = new Int8Array(k * n), s = new Float32Array(n);
      native.quantizeInt8(W, k, n, q, s);
      const wq = Array.from(q, (v, i) => v * s[i % n]!);
      for (const withBias of [true, false]) {
        const b = withBias ? bias : null;
        const refH = refProduct(m, n, k, X, wh, b), refQ = refProduct(m, n, k, X, wq, b);
        for (const [p, name] of PATHS) {
          const Y = new Float32Array(m * n).fill(NaN);
          native.gemmF16(m, n, k, X, h, b, Y, p);
          expectProduct(Y, refH, `float16 ${name}${withBias ? ' + bias' : ''}`);
          Y.fill(NaN);
          native.gemmI8(m, n, k, X, q, s, b, Y, p);
          expectProduct(Y, refQ, `int8 ${name}${withBias ? ' + bias' : ''}`);
        }
      }
    });
  }

  it('k = 0 gives the bias; m = 0 or n = 0 does nothing', () => {
    const Y = new Float32Array(6).fill(NaN);
    native.gemmF16(2, 3, 0, new Float32Array(0), new Uint16Array(0), new Float32Array([1, 2, 3]), Y, 0);
    expect([...Y]).toEqual([1, 2, 3, 1, 2, 3]);
    Y.fill(NaN);
    native.gemmI8(2, 3, 0, new Float32Array(0), new Int8Array(0), new Float32Array(3), null, Y, 3);
    expect([...Y]).toEqual([0, 0, 0, 0, 0, 0]);
    const Z = new Float32Array(1).fill(7);
    native.gemmI8(0, 1, 4, new Float32Array(0), new Int8Array(4), new Float32Array(1), null, Z, 0);
    expect(Z[0]).toBe(7);
  });

  it('rejects wrong types, short arrays, overlaps and bad paths with a code', () => {
    const X = new Float32Array(6), Y = new Float32Array(6);
    expect(caught(() => native.gemmF16(2, 3, 3, X, new Int8Array(9) as never, null, Y, 0)).code).toBe('ERR_NATIVE_TYPE');
    expect(caught(() => native.gemmF16(2, 3, 3, X, new Uint16Array(8), null, Y, 0)).code).toBe('ERR_NATIVE_SIZE');
    expect(caught(() => native.gemmI8(2, 3, 3, X, new Int8Array(9), new Float32Array(2), null, Y, 0)).code).toBe('ERR_NATIVE_SIZE');
    expect(caught(() => native.gemmI8(2, 3, 3, X, new Int8Array(9), new Float32Array(3), null, X, 0)).code).toBe('ERR_NATIVE_OVERLAP');
    const buf = new ArrayBuffer(64);
    expect(caught(() => native.gemmF16(1, 4, 4, new Float32Array(4), new Uint16Array(buf, 0, 16), null, new Float32Array(buf, 16, 4), 0)).code)
      .toBe('ERR_NATIVE_OVERLAP');
    expect(caught(() => native.gemmF16(2, 3, 3, X, new Uint16Array(9), null, Y, 4)).code).toBe('ERR_NATIVE_VALUE');
    expect(caught(() => native.f32ToF16(new Float32Array(4), new Uint16Array(3))).code).toBe('ERR_NATIVE_SIZE');
    expect(caught(() => native.quantizeInt8(new Float32Array(6), 2, 3, new Int8Array(6), new Float32Array(2))).code).toBe('ERR_NATIVE_SIZE');
  });
});

// ---------------------------------------------------------------------------------------------

function mlp(seed: number): Sequential {
  const model = new Sequential([
    layers.dense({ units: 37, activation: 'relu', inputShape: [29] }),
    layers.batchNormalization(),
    layers.dense({ units: 13, activation: 'tanh', useBias: false }),
    layers.dropout({ rate: 0.3 }),
    layers.dense({ units: 5, activation: 'softmax' }),
  ]);
  const r = rng(seed);
  model.setWeights(model.getWeights().map((w) => new Tensor(randArray(r, w.size, 0.2, 1.2), w.shape)));
  return model;
}

describe('quantize(model)', () => {
  const r = rng(3);
  const x = new Tensor(randArray(r, 50 * 29), [50, 29]);

  for (const dtype of ['float16', 'int8'] as const) {
    it(`${dtype}: equals a float32 model holding the dequantized weights, and is close to the original`, () => {
      const model = mlp(11);
      const before = model.getWeights().map((w) => Float32Array.from(w.data));
      const q = quantize(model, { dtype });
      expect(q.layers.map((l) => l.className)).toEqual(['QuantizedDense', 'BatchNormalization', 'QuantizedDense', 'Dropout', 'QuantizedDense']);
      // The input model is untouched.
      model.getWeights().forEach((w, i) => expect(w.data).toEqual(before[i]));
      // Reference: the same architecture in float32 with the dequantized kernels.
      const ref = mlp(12);
      const weights = model.getWeights();
      const qd = q.layers.filter((l): l is QuantizedDense => l instanceof QuantizedDense);
      weights[0] = qd[0]!.dequantizedKernel();
      weights[6] = qd[1]!.dequantizedKernel();
      weights[7] = qd[2]!.dequantizedKernel();
      ref.setWeights(weights);
      const yq = q.predict(x).data, yr = ref.predict(x).data, y0 = model.predict(x).data;
      let toRef = 0, toOrig = 0;
      for (let i = 0; i < yq.length; i++) {
        toRef = Math.max(toRef, Math.abs(yq[i]! - yr[i]!));
        toOrig = Math.max(toOrig, Math.abs(yq[i]! - y0[i]!));
      }
      expect(toRef).toBeLessThan(1e-5);
      expect(toOrig).toBeLessThan(dtype === 'float16' ? 2e-3 : 5e-2);
      expect(toOrig).toBeGreaterThan(0);
    });
  }

  it('reports the weight storage in bytes', () => {
    const model = mlp(1);
    const kernels = 29 * 37 + 37 * 13 + 13 * 5, biases = 37 + 5, bn = 4 * 37;
    expect(weightBytes(model)).toBe(4 * (kernels + biases + bn));
    expect(weightBytes(quantize(model, { dtype: 'float16' }))).toBe(2 * kernels + 4 * (biases + bn));
    expect(weightBytes(quantize(model, { dtype: 'int8' }))).toBe(kernels + 4 * (37 + 13 + 5) + 4 * (biases + bn));
  });

  it('is inference-only: fit and training-mode calls throw StateError', async () => {
    const q = quantize(mlp(2), { dtype: 'int8' });
    q.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    await expect(q.fit(x, new Tensor(new Float32Array(50), [50]), { verbose: 0 })).rejects.toThrow(StateError);
    await expect(q.fit(x, new Tensor(new Float32Array(50), [50]), { verbose: 0 })).rejects.toThrow(/inference only/);
    expect(() => q.predict(x, { training: true })).toThrow(/inference-only/);
    expect(q.evaluate(x, new Tensor(new Float32Array(50), [50])).loss).toBeGreaterThan(0);
  });

  it('errors: unbuilt model, unknown dtype, not a model', () => {
    const unbuilt = new Sequential([layers.dense({ units: 3 })]);
    const e1 = caught(() => quantize(unbuilt, { dtype: 'int8' }));
    expect(e1).toBeInstanceOf(StateError);
    expect(e1.message).toMatch(/not built/);
    const e2 = caught(() => quantize(mlp(3), { dtype: 'int4' as never }));
    expect(e2.code).toBe('ERR_UNKNOWN_ID');
    expect(e2.message).toMatch(/"int4".*'float16', 'int8'/);
    expect(caught(() => quantize({} as never, { dtype: 'int8' })).code).toBe('ERR_VALUE');
    expect(caught(() => quantize(mlp(3), null as never)).code).toBe('ERR_VALUE');
  });

  it('QuantizedDense round-trips its config and quantizes what setKernel receives', () => {
    const l = new QuantizedDense({ units: 4, dtype: 'int8', activation: 'relu', name: 'qd' });
    l.build([null, 3]);
    const k = new Float32Array([1, -2, 3, 0.5, 0, 0, 0, 0, -1, 1, 1, 1]);
    l.setKernel(k);
    expect(Array.from(l.scales!)).toEqual(Array.from(new Float32Array([1 / 127, 2 / 127, 3 / 127, 1 / 127])));
    expect(Array.from(l.kernelInt8!)).toEqual([127, -127, 127, 64, 0, 0, 0, 0, -127, 64, 42, 127]);
    expect(l.getConfig()).toMatchObject({ name: 'qd', units: 4, dtype: 'int8', activation: 'relu', use_bias: true });
    expect(caught(() => l.setKernel(new Float32Array(5))).code).toBe('ERR_SHAPE');
  });

  it('getWeights gives the dequantized kernel and the bias; setWeights quantizes them again', () => {
    const model = mlp(9);
    for (const dtype of ['float16', 'int8'] as const) {
      const q = quantize(model, { dtype });
      const ws = q.getWeights();
      expect(ws.map((w) => w.shape)).toEqual(model.getWeights().map((w) => w.shape));
      expect(ws[1]!.data).toEqual(model.getWeights()[1]!.data); // bias stays float32
      const copy = quantize(mlp(10), { dtype });
      copy.setWeights(ws);
      const a = q.layers[0] as QuantizedDense, b = copy.layers[0] as QuantizedDense;
      if (dtype === 'float16') expect(b.kernelFloat16).toEqual(a.kernelFloat16);
      else {
        let diff = 0;
        a.kernelInt8!.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - b.kernelInt8![i]!))));
        expect(diff).toBeLessThanOrEqual(1);
      }
      expect(caught(() => a.setWeights([ws[1]!, ws[1]!])).code).toBe('ERR_SHAPE');
    }
  });
});
