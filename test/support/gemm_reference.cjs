'use strict';
/**
 * A double-precision GEMM reference and a randomised check of native.gemm against it. Plain
 * CommonJS so that it runs both inside vitest and in a child `node` process started with
 * DEEPNODE_ISA=generic|avx2|avx512 (the kernel is chosen once, at load, so each ISA needs its own
 * process).
 */

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * C = alpha * op(A) op(B) + beta * C (+ bias per column), in float64, plus for each element the sum
 * of |terms| that bounds float32 rounding. beta == 0 ignores C entirely (BLAS convention).
 */
function referenceGemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias, rowStep = 1) {
  const out = new Float64Array(m * n);
  const bound = new Float64Array(m * n);
  for (let i = 0; i < m; i += rowStep) {
    for (let j = 0; j < n; j++) {
      let s = 0, abs = 0;
      for (let p = 0; p < k; p++) {
        const a = ta ? A[p * lda + i] : A[i * lda + p];
        const b = tb ? B[j * ldb + p] : B[p * ldb + j];
        s += a * b;
        abs += Math.abs(a * b);
      }
      let v = alpha * s;
      let av = Math.abs(alpha) * abs;
      if (beta !== 0) {
        v += beta * C[i * ldc + j];
        av += Math.abs(beta * C[i * ldc + j]);
      }
      if (bias) {
        v += bias[j];
        av += Math.abs(bias[j]);
      }
      out[i * n + j] = v;
      bound[i * n + j] = av;
    }
  }
  return { out, bound };
}

/** Uniform floats in [-1, 1) placed at an offset inside a larger buffer (a subarray view). */
function matrix(r, rows, ld, pad) {
  const need = rows === 0 ? 0 : rows * ld;
  const buf = new Float32Array(pad + need + pad);
  for (let i = 0; i < buf.length; i++) buf[i] = 2 * r() - 1;
  return buf.subarray(pad, pad + need);
}

/**
 * The operands of one case: A, B and C with their leading dimensions (c.extraLd floats of padding
 * after each row, filled with a marker), C all NaN under c.nanC, and a bias when c.withBias.
 */
function operands(r, c) {
  const { ta, tb, m, n, k, withBias, extraLd, nanC } = c;
  const arows = ta ? k : m, acols = ta ? m : k;
  const brows = tb ? n : k, bcols = tb ? k : n;
  const lda = Math.max(acols, 1) + extraLd, ldb = Math.max(bcols, 1) + extraLd, ldc = Math.max(n, 1) + extraLd;
  const A = matrix(r, arows, lda, extraLd ? 3 : 0);
  const B = matrix(r, brows, ldb, extraLd ? 5 : 0);
  const C = matrix(r, m, ldc, extraLd ? 7 : 0);
  if (nanC) C.fill(NaN);
  const bias = withBias ? Float32Array.from({ length: n }, () => 2 * r() - 1) : null;
  return { A, lda, B, ldb, C, ldc, bias };
}

/**
 * One random case (`c.rowStep` > 1 checks only every rowStep-th row, for big shapes): returns null when native matches the reference (within the float32 rounding
 * bound (k + 3) * 2^-23 * sum|terms|) and leaves the padding of C untouched, else a description.
 */
function checkCase(native, r, c) {
  const { ta, tb, m, n, k, alpha, beta } = c;
  const { A, lda, B, ldb, C, ldc, bias } = operands(r, c);
  const before = Float32Array.from(C);
  const rowStep = c.rowStep || 1;
  const ref = referenceGemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, before, ldc, bias, rowStep);
  native.gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias);
  const eps = 1.1920929e-7;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < ldc; j++) {
      if (i % rowStep !== 0 && j < n) continue;
      const got = C[i * ldc + j];
      if (j >= n) {
        // Padding between rows of C must not be written.
        if (!Object.is(got, before[i * ldc + j])) return `${JSON.stringify(c)}: padding C[${i},${j}] changed`;
        continue;
      }
      const want = ref.out[i * n + j];
      const tol = (k + 3) * eps * ref.bound[i * n + j] + 1e-30;
      if (!(Math.abs(got - want) <= tol)) {
        return `${JSON.stringify(c)}: C[${i},${j}] = ${got}, expected ${want} (tol ${tol})`;
      }
    }
  }
  return null;
}

/**
 * The activation epilogue (gemm with trailing act, actAlpha, Y) against the unfused pair it
 * replaces: gemm, then activationForward over the same C. Both C and Y must be the same bits (the
 * same activation function runs on the same Z, row by row), and Y's padding between rows must stay
 * untouched.
 * c as for checkCase, plus c.act, c.actAlpha and c.inPlace (Y is C itself). Returns null or a
 * description of the first difference.
 */
function checkActCase(native, r, c) {
  const { ta, tb, m, n, k, alpha, beta, act, actAlpha, inPlace } = c;
  const { A, lda, B, ldb, C, ldc, bias } = operands(r, c);
  const zWant = Float32Array.from(C);
  native.gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, zWant, ldc, bias);
  // Row by row, so that the padding between rows (NaN under nanC) never goes through an activation.
  const yWant = new Float32Array(zWant.length);
  for (let i = 0; i < m; i++) {
    native.activationForward(act, zWant.subarray(i * ldc, i * ldc + n), yWant.subarray(i * ldc, i * ldc + n), actAlpha);
  }
  const z = Float32Array.from(C);
  const y = inPlace ? z : new Float32Array(C.length).fill(-12345.5);
  native.gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, z, ldc, bias, act, actAlpha, y);
  const name = () => JSON.stringify(c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < ldc; j++) {
      const at = i * ldc + j;
      if (j >= n) {
        if (!inPlace && y[at] !== -12345.5) return `${name()}: padding Y[${i},${j}] written`;
        continue;
      }
      if (!inPlace && !Object.is(z[at], zWant[at])) return `${name()}: Z[${i},${j}] = ${z[at]}, unfused ${zWant[at]}`;
      if (!Object.is(y[at], yWant[at])) return `${name()}: Y[${i},${j}] = ${y[at]}, unfused ${yWant[at]}`;
    }
  }
  return null;
}

/** Cases for checkActCase: every activation id over odd shapes, transposes, bias, beta, strides. */
function actCases(seed, count, actCount) {
  return randomCases(seed, count).map((c, i) => ({ ...c, act: i % actCount, actAlpha: [0.3, 1, 1.7][i % 3], inPlace: false }));
}

const SIZES = [1, 2, 7, 16, 33, 64, 257];

/** `count` random cases over odd sizes, transposes, alpha/beta, bias, strides. */
function randomCases(seed, count) {
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const cases = [];
  for (let i = 0; i < count; i++) {
    let m = pick(SIZES), n = pick(SIZES), k = pick(SIZES);
    // Keep the double-loop reference cheap: at most ~1.2M multiply-adds per case.
    while (m * n * k > 1.2e6) {
      if (m >= n && m >= k) m = pick(SIZES.slice(0, 4));
      else if (n >= k) n = pick(SIZES.slice(0, 4));
      else k = pick(SIZES.slice(0, 4));
    }
    const beta = pick([0, 0, 1, 0.5, -2]);
    cases.push({
      ta: r() < 0.5,
      tb: r() < 0.5,
      m,
      n,
      k,
      alpha: pick([1, 1, -0.75, 2.5]),
      beta,
      withBias: r() < 0.5,
      extraLd: pick([0, 0, 1, 5]),
      nanC: beta === 0 && r() < 0.5,
    });
  }
  return cases;
}

/** The ISA self-check run in a child process: prints one JSON line. */
function childMain() {
  const path = require('node:path');
  const root = path.resolve(__dirname, '..', '..');
  // The same addon as the parent test: DEEPNODE_ADDON (a private cmake-js build) when set.
  const native = process.env.DEEPNODE_ADDON ? require(process.env.DEEPNODE_ADDON) : require('node-gyp-build')(root);
  const failures = [];
  const r = rng(4242);
  for (const threads of [1, 2]) {
    native.setNumThreads(threads);
    for (const c of randomCases(99 + threads, 40)) {
      const f = checkCase(native, r, c);
      if (f) failures.push(`threads=${threads} ${f}`);
    }
    // Above the threading threshold, every transpose.
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const f = checkCase(native, r, { ta, tb, m: 67, n: 130, k: 300, alpha: 1, beta: 0.5, withBias: true, extraLd: 3, nanC: false });
        if (f) failures.push(`threads=${threads} ${f}`);
      }
    }
  }
  // The activation epilogue on this kernel (its column groups follow the kernel's panel width).
  for (const threads of [1, 2]) {
    native.setNumThreads(threads);
    for (const c of actCases(7 + threads, 30, 15)) {
      const f = checkActCase(native, r, c);
      if (f) failures.push(`act threads=${threads} ${f}`);
    }
    for (const [ta, tb] of [[false, false], [true, true]]) {
      const f = checkActCase(native, r, { ta, tb, m: 150, n: 300, k: 330, alpha: 1, beta: 0, withBias: true, extraLd: 2, nanC: true, act: 4, actAlpha: 0, inPlace: false });
      if (f) failures.push(`act threads=${threads} ${f}`);
    }
  }
  process.stdout.write(JSON.stringify({ isa: native.info().isa, failures }) + '\n');
}

module.exports = { rng, referenceGemm, checkCase, checkActCase, actCases, randomCases, matrix };

if (require.main === module) childMain();
