/**
 * Element-wise, row-wise, loss, reduction, metric and optimizer kernels against float64 TypeScript
 * references written from the published formulas (Keras 3 / the original papers), not from
 * native/kernels.cc.
 */
import { describe, expect, it } from 'vitest';
import { native, ActId } from '../src/backend/native';
import { caught, expectClose, randArray, rng } from './support/reference';

// ---------------------------------------------------------------------------------------------
// References (float64).

/** erf to ~1e-15: Maclaurin series for |x| < 3, Lentz continued fraction of erfc beyond. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x, sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated backwards.
  let f = ax;
  for (let k = 80; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const SELU_SCALE = 1.0507009873554804934193349852946; // Klambauer et al. 2017
const SELU_ALPHA = 1.6732632423543772848170429916717;
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const phi = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
const PHI = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
const C = Math.sqrt(2 / Math.PI);

interface ActRef {
  f(x: number, a: number): number;
  df(x: number, a: number): number;
}

const ACT: Record<ActId, ActRef> = {
  [ActId.Linear]: { f: (x) => x, df: () => 1 },
  [ActId.Relu]: { f: (x) => Math.max(x, 0), df: (x) => (x > 0 ? 1 : 0) },
  [ActId.LeakyRelu]: { f: (x, a) => (x > 0 ? x : a * x), df: (x, a) => (x > 0 ? 1 : a) },
  [ActId.Elu]: { f: (x, a) => (x > 0 ? x : a * Math.expm1(x)), df: (x, a) => (x > 0 ? 1 : a * Math.exp(x)) },
  [ActId.Selu]: {
    f: (x) => SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x)),
    df: (x) => SELU_SCALE * (x > 0 ? 1 : SELU_ALPHA * Math.exp(x)),
  },
  [ActId.Sigmoid]: { f: sig, df: (x) => sig(x) * (1 - sig(x)) },
  [ActId.Tanh]: { f: Math.tanh, df: (x) => 1 - Math.tanh(x) ** 2 },
  [ActId.Softplus]: { f: softplus, df: sig },
  // Swish / SiLU with beta (Ramachandran et al.): x sigmoid(beta x).
  [ActId.Swish]: {
    f: (x, b) => x * sig(b * x),
    df: (x, b) => sig(b * x) + b * x * sig(b * x) * (1 - sig(b * x)),
  },
  // Hendrycks & Gimpel: exact x Phi(x) and the tanh approximation.
  [ActId.GeluExact]: { f: (x) => x * PHI(x), df: (x) => PHI(x) + x * phi(x) },
  [ActId.GeluTanh]: {
    f: (x) => 0.5 * x * (1 + Math.tanh(C * (x + 0.044715 * x ** 3))),
    df: (x) => {
      const t = Math.tanh(C * (x + 0.044715 * x ** 3));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C * (1 + 3 * 0.044715 * x * x);
    },
  },
  // Keras 3: hard_sigmoid(x) = relu6(x + 3) / 6.
  [ActId.HardSigmoid]: { f: (x) => Math.min(Math.max(x + 3, 0), 6) / 6, df: (x) => (x > -3 && x < 3 ? 1 / 6 : 0) },
  [ActId.Softsign]: { f: (x) => x / (1 + Math.abs(x)), df: (x) => 1 / (1 + Math.abs(x)) ** 2 },
  [ActId.Exponential]: { f: Math.exp, df: Math.exp },
  [ActId.Relu6]: { f: (x) => Math.min(Math.max(x, 0), 6), df: (x) => (x > 0 && x < 6 ? 1 : 0) },
};

/** Inputs: a grid over [-8, 8] that avoids the kinks at 0, ±3, 6, random values, and extremes. */
function actInputs(id: ActId): Float32Array {
  const r = rng(1000 + id);
  const xs: number[] = [];
  for (let i = 0; i <= 320; i++) xs.push(-8 + i * 0.05 + 0.0123);
  for (let i = 0; i < 200; i++) xs.push(-5 + 10 * r());
  if (id !== ActId.Exponential) xs.push(-60, -30, 30, 60);
  // ELU/SELU use our own vectorised exp(x) - 1: its clamp at -87, the float32 underflow region,
  // and tiny negatives where exp(x) - 1 cancels.
  if (id === ActId.Elu || id === ActId.Selu) xs.push(-200, -104, -88, -87.5, -86.9, -20, -1e-3, -1e-5, -1e-7, -1e-30, 0);
  return Float32Array.from(xs);
}

function refSoftmaxRow(z: ArrayLike<number>): number[] {
  const mx = Math.max(...Array.from(z));
  const e = Array.from(z, (v) => Math.exp(v - mx));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function refLse(z: ArrayLike<number>): number {
  const mx = Math.max(...Array.from(z));
  return mx + Math.log(Array.from(z).reduce((a, v) => a + Math.exp(v - mx), 0));
}

function rowsOf(x: Float32Array, rows: number, cols: number): Float32Array[] {
  return Array.from({ length: rows }, (_, r) => x.subarray(r * cols, (r + 1) * cols));
}

// ---------------------------------------------------------------------------------------------

describe('reference self-check', () => {
  it('erf reproduces tabulated values (Abramowitz & Stegun 7.1)', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(2)).toBeCloseTo(0.9953222650189527, 14);
    expect(1 - erf(3)).toBeCloseTo(2.209049699858544e-5, 15);
    expect(1 - erf(4)).toBeCloseTo(1.541725790028002e-8, 15);
    expect(erf(-1.5)).toBeCloseTo(-0.9661051464753108, 14);
  });
});

describe('activations', () => {
  const cases: [string, ActId, number][] = [
    ['linear', ActId.Linear, 0],
    ['relu', ActId.Relu, 0],
    ['leaky_relu alpha 0.2', ActId.LeakyRelu, 0.2],
    ['leaky_relu alpha 0.01', ActId.LeakyRelu, 0.01],
    ['elu alpha 1', ActId.Elu, 1],
    ['elu alpha 0.5', ActId.Elu, 0.5],
    ['selu', ActId.Selu, 0],
    ['sigmoid', ActId.Sigmoid, 0],
    ['tanh', ActId.Tanh, 0],
    ['softplus', ActId.Softplus, 0],
    ['swish beta 1 (silu)', ActId.Swish, 1],
    ['swish beta 1.5', ActId.Swish, 1.5],
    ['gelu exact', ActId.GeluExact, 0],
    ['gelu tanh', ActId.GeluTanh, 0],
    ['hard_sigmoid (Keras 3)', ActId.HardSigmoid, 0],
    ['softsign', ActId.Softsign, 0],
    ['exponential', ActId.Exponential, 0],
    ['relu6', ActId.Relu6, 0],
  ];

  it('every ActId is covered', () => {
    const ids = Object.values(ActId).filter((v) => typeof v === 'number');
    expect(new Set(cases.map((c) => c[1]))).toEqual(new Set(ids));
  });

  it.each(cases)('%s: forward and backward match the published formula', (_name, id, alpha) => {
    const x = actInputs(id);
    const n = x.length;
    const y = new Float32Array(n);
    native.activationForward(id, x, y, alpha);
    const want = Array.from(x, (v) => ACT[id].f(v, alpha));
    expectClose(y, want, 2e-6, 1e-6, 'forward');
    expect(y.every(Number.isFinite)).toBe(true);

    const dy = randArray(rng(7 + id), n, -2, 2);
    const dx = new Float32Array(n);
    native.activationBackward(id, x, y, dy, dx, alpha);
    const wantDx = Array.from(x, (v, i) => dy[i]! * ACT[id].df(v, alpha));
    expectClose(dx, wantDx, 2e-5, 1e-6, 'backward');

    // In place: y may be x, dx may be dy.
    const xi = Float32Array.from(x);
    native.activationForward(id, xi, xi, alpha);
    expect(Array.from(xi)).toEqual(Array.from(y));
    const dyi = Float32Array.from(dy);
    native.activationBackward(id, x, y, dyi, dyi, alpha);
    expect(Array.from(dyi)).toEqual(Array.from(dx));
  });

  it('ELU and SELU pass NaN through (their exp(x) - 1 never converts a NaN to an integer: UBSan runs this)', () => {
    const x = Float32Array.from([NaN, -1, NaN, 2, -NaN, -Infinity, 0, -0]);
    for (const id of [ActId.Elu, ActId.Selu]) {
      const y = new Float32Array(x.length);
      native.activationForward(id, x, y, 1);
      [0, 2, 4].forEach((i) => expect(y[i], `${ActId[id]} of NaN`).toBeNaN());
      expect(y[5]).toBeCloseTo(id === ActId.Elu ? -1 : -1.7580993408473766, 6);
      expect(Number.isFinite(y[1]!) && Number.isFinite(y[3]!)).toBe(true);
    }
  });

  it('hand-checked values: SELU(1) = 1.0507..., SELU(-1), hard_sigmoid(1) = 2/3, gelu(1) = 0.8413...', () => {
    const x = Float32Array.from([1, -1]);
    const y = new Float32Array(2);
    native.activationForward(ActId.Selu, x, y, 0);
    expect(y[0]).toBeCloseTo(1.0507009873554805, 6);
    expect(y[1]).toBeCloseTo(-1.1113307378125625, 6); // -scale*alpha*(1 - 1/e)
    native.activationForward(ActId.HardSigmoid, x, y, 0);
    expect(y[0]).toBeCloseTo(4 / 6, 6);
    expect(y[1]).toBeCloseTo(2 / 6, 6);
    native.activationForward(ActId.GeluExact, x, y, 0);
    expect(y[0]).toBeCloseTo(0.8413447460685429, 6);
    native.activationForward(ActId.GeluTanh, x, y, 0);
    expect(y[0]).toBeCloseTo(0.8411919906082768, 6);
  });

  it('rejects an unknown activation id', () => {
    const e = caught(() => native.activationForward(15 as ActId, new Float32Array(1), new Float32Array(1), 0));
    expect(e.code).toBe('ERR_NATIVE_VALUE');
  });
});

describe('softmax family', () => {
  const rows = 9, cols = 13;
  const r = rng(3);
  const x = randArray(r, rows * cols, -6, 6);
  // One row of huge logits: must stay finite.
  for (let j = 0; j < cols; j++) x[4 * cols + j] = j % 2 ? 1e4 : -1e4;

  it('softmax and logSoftmax match the float64 reference, even for logits of ±1e4', () => {
    const y = new Float32Array(rows * cols), ly = new Float32Array(rows * cols);
    native.softmax(x, y, rows, cols);
    native.logSoftmax(x, ly, rows, cols);
    const want = rowsOf(x, rows, cols).flatMap(refSoftmaxRow);
    const wantLog = rowsOf(x, rows, cols).flatMap((row) => Array.from(row, (v) => v - refLse(row)));
    expectClose(y, want, 1e-5, 1e-7, 'softmax');
    expectClose(ly, wantLog, 1e-5, 1e-5, 'logSoftmax');
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += y[i * cols + j]!;
      expect(s).toBeCloseTo(1, 5);
    }
  });

  it('softmaxBackward is the Jacobian-vector product y * (dy - <dy, y>)', () => {
    const y = new Float32Array(rows * cols);
    native.softmax(x, y, rows, cols);
    const dy = randArray(rng(4), rows * cols);
    const dx = new Float32Array(rows * cols);
    native.softmaxBackward(y, dy, dx, rows, cols);
    const want: number[] = [];
    for (let i = 0; i < rows; i++) {
      const s = refSoftmaxRow(x.subarray(i * cols, (i + 1) * cols));
      // J[j][k] = s_j (delta_jk - s_k); dx_k = sum_j dy_j J[j][k].
      for (let k = 0; k < cols; k++) {
        let v = 0;
        for (let j = 0; j < cols; j++) v += dy[i * cols + j]! * s[j]! * ((j === k ? 1 : 0) - s[k]!);
        want.push(v);
      }
    }
    expectClose(dx, want, 1e-4, 1e-6, 'softmaxBackward');
  });

  it('sparseSoftmaxXent: loss sum, per-row loss and gradient (softmax - onehot) * scale', () => {
    const labels = Float32Array.from({ length: rows }, (_, i) => (i * 5) % cols);
    const grad = new Float32Array(rows * cols), rowLoss = new Float32Array(rows);
    const scale = 1 / rows;
    const total = native.sparseSoftmaxXent(x, labels, rows, cols, grad, scale, rowLoss);
    const wantRow = rowsOf(x, rows, cols).map((row, i) => refLse(row) - row[labels[i]!]!);
    expectClose(rowLoss, wantRow, 1e-5, 1e-4, 'rowLoss');
    expect(total).toBeCloseTo(wantRow.reduce((a, b) => a + b, 0), 0);
    expect(Math.abs(total - wantRow.reduce((a, b) => a + b, 0)) / Math.abs(total)).toBeLessThan(1e-5);
    const wantGrad = rowsOf(x, rows, cols).flatMap((row, i) =>
      refSoftmaxRow(row).map((p, j) => (p - (j === labels[i] ? 1 : 0)) * scale),
    );
    expectClose(grad, wantGrad, 1e-5, 1e-7, 'grad');
    expect(grad.every(Number.isFinite) && rowLoss.every(Number.isFinite)).toBe(true);
    // The ±1e4 row (six logits of +1e4): label 7 sits on one of them, so the loss is log 6; moved
    // to a -1e4 logit, it is 2e4 + log 6.
    expect(labels[4]).toBe(7);
    expect(rowLoss[4]).toBeCloseTo(Math.log(6), 6);
    const one = new Float32Array(1);
    native.sparseSoftmaxXent(x.subarray(4 * cols, 5 * cols), Float32Array.of(0), 1, cols, null, 1, one);
    expect(one[0]).toBe(Math.fround(2e4 + Math.log(6)));
    // Without grad / rowLoss: the same total.
    expect(native.sparseSoftmaxXent(x, labels, rows, cols, null, scale, null)).toBe(total);
  });

  it.each([
    ['-1', -1],
    ['cols', cols],
    ['1.5', 1.5],
    ['NaN', NaN],
    ['Infinity', Infinity],
  ])('sparseSoftmaxXent: label %s throws ERR_LABEL naming the index', (_n, bad) => {
    const labels = new Float32Array(rows);
    labels[6] = bad;
    const e = caught(() => native.sparseSoftmaxXent(x, labels, rows, cols, new Float32Array(rows * cols), 1, null));
    expect(e.code).toBe('ERR_LABEL');
    expect(e.message).toContain('index 6');
  });

  it('softmaxXent against soft (unnormalised) targets', () => {
    const t = randArray(rng(5), rows * cols, 0, 1);
    const grad = new Float32Array(rows * cols), rowLoss = new Float32Array(rows);
    const total = native.softmaxXent(x, t, rows, cols, grad, 0.5, rowLoss);
    const wantRow: number[] = [], wantGrad: number[] = [];
    rowsOf(x, rows, cols).forEach((row, i) => {
      const ti = t.subarray(i * cols, (i + 1) * cols);
      const lse = refLse(row), s = refSoftmaxRow(row);
      const tsum = ti.reduce((a, b) => a + b, 0);
      // -sum t log softmax(z)
      wantRow.push(Array.from(ti).reduce((a, tv, j) => a - tv * (row[j]! - lse), 0));
      for (let j = 0; j < cols; j++) wantGrad.push((s[j]! * tsum - ti[j]!) * 0.5);
    });
    expectClose(rowLoss, wantRow, 1e-4, 1e-2, 'rowLoss');
    expect(Math.abs(total - wantRow.reduce((a, b) => a + b)) / Math.abs(total)).toBeLessThan(1e-5);
    expectClose(grad, wantGrad, 1e-4, 1e-6, 'grad');
  });
});

describe('binary and regression losses', () => {
  const n = 200;
  const r = rng(11);
  const z = randArray(r, n, -8, 8);
  z[0] = 1e4;
  z[1] = -1e4;
  const t = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? r() : i % 2));

  it('sigmoidBce = softplus(z) - t z, grad (sigmoid(z) - t) * scale, finite for |z| = 1e4', () => {
    const grad = new Float32Array(n);
    const total = native.sigmoidBce(z, t, grad, 0.25);
    const want = Array.from(z).reduce((a, zv, i) => a + softplus(zv) - t[i]! * zv, 0);
    expect(Math.abs(total - want) / want).toBeLessThan(1e-5);
    expectClose(grad, Array.from(z, (zv, i) => (sig(zv) - t[i]!) * 0.25), 1e-5, 1e-7, 'grad');
    expect(Number.isFinite(total)).toBe(true);
  });

  it('bce clips probabilities to [1e-7, 1 - 1e-7] (Keras 3) and zeroes the gradient outside', () => {
    const eps = 1e-7;
    const p = randArray(rng(12), n, 0.001, 0.999);
    p[0] = 0;
    p[1] = 1;
    p[2] = 1e-9;
    const tt = Float32Array.from(t);
    tt[0] = 1; // -log(clip(0)) = -log(1e-7) = 16.118...
    tt[1] = 1;
    const grad = new Float32Array(n);
    const total = native.bce(p, tt, eps, grad, 1);
    let want = 0;
    const wantGrad: number[] = [];
    for (let i = 0; i < n; i++) {
      const e32 = Math.fround(eps);
      const pc = Math.min(Math.max(p[i]!, e32), Math.fround(1 - e32));
      want -= tt[i]! * Math.log(pc) + (1 - tt[i]!) * Math.log(1 - pc);
      const inside = p[i]! > e32 && p[i]! < Math.fround(1 - e32);
      wantGrad.push(inside ? (pc - tt[i]!) / (pc * (1 - pc)) : 0);
    }
    expect(Math.abs(total - want) / want).toBeLessThan(1e-5);
    expectClose(grad, wantGrad, 1e-4, 1e-6, 'grad');
    expect([grad[0], grad[1], grad[2]]).toEqual([0, 0, 0]);
    const one = new Float32Array(1);
    expect(native.bce(Float32Array.of(0), Float32Array.of(1), eps, one, 1)).toBeCloseTo(-Math.log(1e-7), 4);
  });

  it('categoricalXent normalises p by its row sum, then clips (Keras 3)', () => {
    const rows = 6, cols = 5, eps = 1e-7;
    const p = randArray(rng(13), rows * cols, 0.01, 2); // unnormalised on purpose
    p[0] = 0; // clipped entry
    const tt = randArray(rng(14), rows * cols, 0, 1);
    const grad = new Float32Array(rows * cols);
    const total = native.categoricalXent(p, tt, rows, cols, eps, grad, 0.5);
    let want = 0;
    const wantGrad: number[] = [];
    for (let i = 0; i < rows; i++) {
      const pr = Array.from(p.subarray(i * cols, (i + 1) * cols)), tr = Array.from(tt.subarray(i * cols, (i + 1) * cols));
      const s = pr.reduce((a, b) => a + b, 0);
      const q = pr.map((v) => v / s);
      const inside = q.map((v) => v > eps && v < 1 - eps);
      want -= tr.reduce((a, tv, j) => a + tv * Math.log(Math.min(Math.max(q[j]!, eps), 1 - eps)), 0);
      // d/dp_j -sum_k t_k log(p_k / s) over unclipped k = -t_j / p_j [j unclipped] + sum_{k unclipped} t_k / s.
      const tin = tr.reduce((a, tv, k) => a + (inside[k] ? tv : 0), 0);
      for (let j = 0; j < cols; j++) wantGrad.push(((inside[j] ? -tr[j]! / pr[j]! : 0) + tin / s) * 0.5);
    }
    expect(Math.abs(total - want) / want).toBeLessThan(1e-5);
    expectClose(grad, wantGrad, 1e-4, 1e-6, 'grad');
  });

  it('categoricalXent loss by hand: p = [1, 2, 1] / 4, t = [0, 1, 0] gives -log(0.5)', () => {
    expect(native.categoricalXent(Float32Array.of(1, 2, 1), Float32Array.of(0, 1, 0), 1, 3, 1e-7, null, 1)).toBeCloseTo(
      Math.LN2,
      6,
    );
  });

  it('squaredError = sum (p - t)^2, grad 2 (p - t) * scale', () => {
    const p = randArray(rng(15), n, -3, 3);
    const grad = new Float32Array(n);
    const total = native.squaredError(p, t, grad, 0.1);
    const want = Array.from(p).reduce((a, v, i) => a + (v - t[i]!) ** 2, 0);
    expect(Math.abs(total - want) / want).toBeLessThan(1e-6);
    expectClose(grad, Array.from(p, (v, i) => 2 * (v - t[i]!) * 0.1), 1e-6, 1e-7, 'grad');
  });
});

describe('reductions and BLAS-1', () => {
  it('columnSum writes or accumulates the per-column sums', () => {
    const rows = 17, cols = 9;
    const dy = randArray(rng(21), rows * cols);
    const want = Array.from({ length: cols }, (_, j) => {
      let s = 0;
      for (let i = 0; i < rows; i++) s += dy[i * cols + j]!;
      return s;
    });
    const db = new Float32Array(cols).fill(NaN);
    native.columnSum(dy, rows, cols, db, false);
    expectClose(db, want, 1e-5, 1e-6, 'write');
    native.columnSum(dy, rows, cols, db, true);
    expectClose(db, want.map((v) => 2 * v), 1e-5, 1e-6, 'accumulate');
  });

  it('sum and sumSquares accumulate in double (1e6 x 0.1f)', () => {
    const x = new Float32Array(1_000_000).fill(0.1);
    const f = Math.fround(0.1);
    expect(Math.abs(native.sum(x) - 1e6 * f)).toBeLessThan(1e-6);
    expect(Math.abs(native.sumSquares(x) - 1e6 * f * f) / (1e6 * f * f)).toBeLessThan(1e-9); // float accumulation would be off by ~1e-3
    const y = randArray(rng(22), 1001, -5, 5);
    const s = Array.from(y).reduce((a, b) => a + b, 0), ss = Array.from(y).reduce((a, b) => a + b * b, 0);
    expect(native.sum(y)).toBeCloseTo(s, 9);
    expect(native.sumSquares(y)).toBeCloseTo(ss, 8);
    expect(native.sum(new Float32Array(0))).toBe(0);
  });

  it('sum, sumSquares and sumAbs at every length around the 16-float blocks, with a tail; repeatable bit for bit', () => {
    const r = rng(23);
    for (const n of [0, 1, 3, 15, 16, 17, 31, 32, 33, 47, 100, 1001]) {
      const x = randArray(r, n, -3, 3);
      const s = Array.from(x).reduce((a, b) => a + b, 0);
      const ss = Array.from(x).reduce((a, b) => a + b * b, 0);
      const sa = Array.from(x).reduce((a, b) => a + Math.abs(b), 0);
      expect(Math.abs(native.sum(x) - s), `sum n=${n}`).toBeLessThan(1e-12 * (1 + sa));
      expect(Math.abs(native.sumSquares(x) - ss), `sumSquares n=${n}`).toBeLessThan(1e-12 * (1 + ss));
      expect(Math.abs(native.sumAbs(x) - sa), `sumAbs n=${n}`).toBeLessThan(1e-12 * (1 + sa));
      expect(native.sumSquares(x.slice())).toBe(native.sumSquares(x));
    }
    // The last element alone in the tail, and alone in a block: each counts once.
    const one = new Float32Array(33);
    one[32] = -2;
    expect([native.sum(one), native.sumSquares(one), native.sumAbs(one)]).toEqual([-2, 4, 2]);
    one[32] = 0;
    one[5] = -2;
    expect([native.sum(one), native.sumSquares(one), native.sumAbs(one)]).toEqual([-2, 4, 2]);
  });

  it('addSign adds g where x > 0, subtracts it where x < 0, and leaves y (even a -0) where x is 0 or NaN', () => {
    const x = Float32Array.from([1, -2, 0, -0, NaN, 3e-38, -Infinity, ...Array.from({ length: 20 }, (_, i) => i - 10)]);
    const y = Float32Array.from({ length: x.length }, (_, i) => (i === 2 ? -0 : i * 0.25));
    const want = Array.from(y, (v, i) => (x[i]! > 0 ? Math.fround(v + 0.5) : x[i]! < 0 ? Math.fround(v - 0.5) : v));
    native.addSign(0.5, x, y);
    expect(Array.from(y)).toEqual(want);
    expect(Object.is(y[2], -0)).toBe(true);
  });

  it('firstNonFinite finds the first NaN / ±Inf or returns -1', () => {
    const x = new Float32Array(100);
    expect(native.firstNonFinite(x)).toBe(-1);
    x[70] = -Infinity;
    expect(native.firstNonFinite(x)).toBe(70);
    x[42] = NaN;
    expect(native.firstNonFinite(x)).toBe(42);
    x[3] = Infinity;
    expect(native.firstNonFinite(x)).toBe(3);
    expect(native.firstNonFinite(new Float32Array(0))).toBe(-1);
    expect(native.firstNonFinite(Float32Array.of(3.4e38))).toBe(-1);
  });

  it('gatherRows copies the indexed rows (repeats allowed), or the first rows when index is null', () => {
    const rows = 50, per = 37; // rows longer than a cache line, an odd length
    const src = Float32Array.from({ length: rows * per }, (_, i) => i * 0.5 - 3);
    const index = Int32Array.from([49, 0, 7, 7, 23, 1, 48, 12, 30]);
    const out = new Float32Array(index.length * per).fill(NaN);
    native.gatherRows(src, rows, per, index, index.length, out);
    for (let r = 0; r < index.length; r++) {
      expect(Array.from(out.subarray(r * per, (r + 1) * per))).toEqual(Array.from(src.subarray(index[r]! * per, (index[r]! + 1) * per)));
    }
    const head = new Float32Array(3 * per);
    native.gatherRows(src, rows, per, null, 3, head);
    expect(Array.from(head)).toEqual(Array.from(src.subarray(0, 3 * per)));
    expect(caught(() => native.gatherRows(src, rows, per, Int32Array.from([0, 50]), 2, new Float32Array(2 * per)))).toMatchObject({ code: 'ERR_NATIVE_VALUE' });
  });

  it('activationBackwardBias equals activationBackward plus scaled column sums, narrow and wide rows', () => {
    for (const [rows, cols] of [[32, 100], [5, 700], [3, 1]] as const) {
      const r = rng(rows * 1000 + cols), n = rows * cols;
      const x = randArray(r, n, -3, 3), y = new Float32Array(n), dy = randArray(r, n, -1, 1);
      native.activationForward(ActId.Selu, x, y, 0);
      const want = new Float32Array(n);
      native.activationBackward(ActId.Selu, x, y, dy, want, 0);
      const dx = new Float32Array(n), db = randArray(r, cols, -1, 1), db0 = Float32Array.from(db);
      native.activationBackwardBias(ActId.Selu, x, y, dy, dx, 0, rows, cols, db, -0.5);
      expect(Array.from(dx)).toEqual(Array.from(want));
      const wantDb = Array.from(db0, (v, j) => {
        let sum = 0;
        for (let i = 0; i < rows; i++) sum += want[i * cols + j]!;
        return v - 0.5 * sum;
      });
      expectClose(db, wantDb, 1e-5, 1e-6, `db ${rows}x${cols}`);
    }
  });

  it('axpy y += a x and scale x *= a', () => {
    const x = randArray(rng(23), 37), y = randArray(rng(24), 37);
    const want = Array.from(y, (v, i) => v + -1.5 * x[i]!);
    native.axpy(-1.5, x, y);
    expectClose(y, want, 1e-6, 1e-7, 'axpy');
    const want2 = Array.from(x, (v) => v * 3);
    native.scale(3, x);
    expectClose(x, want2, 1e-7, 0, 'scale');
    // In place: y += 2 y.
    const z = Float32Array.of(1, 2);
    native.axpy(2, z, z);
    expect(Array.from(z)).toEqual([3, 6]);
  });
});

describe('accuracy counters', () => {
  it('sparseArgmaxMatches: ties resolve to the first maximum', () => {
    const pred = Float32Array.of(0.1, 0.7, 0.2, /**/ 0.5, 0.5, 0, /**/ 0, 0, 1, /**/ 0.3, 0.3, 0.3);
    expect(native.sparseArgmaxMatches(pred, Float32Array.of(1, 0, 2, 0), 4, 3)).toBe(4);
    expect(native.sparseArgmaxMatches(pred, Float32Array.of(1, 1, 2, 2), 4, 3)).toBe(2);
  });

  it('argmaxMatches compares argmax of predictions and one-hot targets', () => {
    const pred = Float32Array.of(0.1, 0.7, 0.2, /**/ 0.6, 0.3, 0.1);
    expect(native.argmaxMatches(pred, Float32Array.of(0, 1, 0, 0, 0, 1), 2, 3)).toBe(1);
    expect(native.argmaxMatches(pred, Float32Array.of(0, 1, 0, 1, 0, 0), 2, 3)).toBe(2);
  });

  it('binaryMatches: (pred > threshold) == (target > 0.5)', () => {
    const pred = Float32Array.of(0.2, 0.6, 0.5, 0.9);
    const t = Float32Array.of(0, 1, 1, 0);
    expect(native.binaryMatches(pred, t, 0.5)).toBe(2); // 0.5 is not > 0.5; 0.9 wrong
    expect(native.binaryMatches(pred, t, 0.4)).toBe(3);
  });

  it('random argmax counts agree with a TS count', () => {
    const r = rng(31);
    const rows = 300, cols = 7;
    const pred = randArray(r, rows * cols);
    const labels = Float32Array.from({ length: rows }, () => Math.floor(r() * cols));
    let want = 0;
    for (let i = 0; i < rows; i++) {
      let best = 0;
      for (let j = 1; j < cols; j++) if (pred[i * cols + j]! > pred[i * cols + best]!) best = j;
      if (best === labels[i]) want++;
    }
    expect(native.sparseArgmaxMatches(pred, labels, rows, cols)).toBe(want);
  });
});

describe('sgdStep (Keras 3 formulas)', () => {
  const n = 50, steps = 5, lr = 0.05, m = 0.9;
  const r = rng(41);
  const p0 = randArray(r, n);
  const grads = Array.from({ length: steps }, () => randArray(r, n));

  function reference(momentum: number, nesterov: boolean): Float64Array {
    const p = Float64Array.from(p0), v = new Float64Array(n);
    for (const g of grads) {
      for (let i = 0; i < n; i++) {
        if (momentum === 0) {
          p[i]! -= lr * g[i]!;
          continue;
        }
        v[i] = momentum * v[i]! - lr * g[i]!;
        p[i]! += nesterov ? momentum * v[i]! - lr * g[i]! : v[i]!;
      }
    }
    return p;
  }

  it.each([
    ['plain (momentum 0)', 0, false],
    ['momentum 0.9', m, false],
    ['nesterov 0.9', m, true],
  ])('%s over 5 steps', (_name, momentum, nesterov) => {
    const p = Float32Array.from(p0);
    const v = momentum ? new Float32Array(n) : null;
    for (const g of grads) native.sgdStep(p, g, v, lr, momentum, nesterov);
    expectClose(p, reference(momentum, nesterov), 1e-5, 1e-6, 'params');
  });

  it('one momentum step by hand: v = -lr g, then v = m v - lr g', () => {
    const p = Float32Array.of(1), v = Float32Array.of(0), g = Float32Array.of(2);
    native.sgdStep(p, g, v, 0.1, 0.5, false);
    expect(v[0]).toBeCloseTo(-0.2, 7);
    expect(p[0]).toBeCloseTo(0.8, 7);
    native.sgdStep(p, g, v, 0.1, 0.5, false);
    expect(v[0]).toBeCloseTo(-0.3, 7);
    expect(p[0]).toBeCloseTo(0.5, 7);
    const q = Float32Array.of(1), w = Float32Array.of(0);
    native.sgdStep(q, g, w, 0.1, 0.5, true); // v = -0.2; p += 0.5 * -0.2 - 0.2 = -0.3
    expect(q[0]).toBeCloseTo(0.7, 7);
  });
});
