/**
 * Adagrad, RMSprop and Nadam: the hand-written AVX2 loops (native/optimizers.cc, chosen when the CPU
 * has AVX2 and DEEPNODE_ISA is not "generic") against the scalar loops they replace, bit for bit:
 * - the default path in this process, the portable path (child process, DEEPNODE_ISA=generic) and
 *   the default path split over 2 threads (child process) give the same bits;
 * - on x64 all of them equal the formulas evaluated in float32 in JS, one Math.fround per operation
 *   in the C++ order: the x86-64-v2 scalar loops round every multiply and add on its own, so a
 *   fused multiply-add or a reassociation in the vector code would show here.
 * Inputs have every lane tail (n = 1..17), a threaded size with a ragged end, denormals, signed
 * zeros, huge values whose squares overflow, infinities, NaNs and negative accumulators (square
 * roots of negative numbers), and several epsilons. NaNs compare as NaN: which of two NaN operands
 * a commutative operation returns follows the compiler's operand order, not the source.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { addonPath, native } from '../src/backend/native';
import { rng } from './support/reference';

type Arg = string | number | null; // a string names one of the case's buffers
interface Case {
  name: string;
  inputs: number; // index into the input sets: a case starts from copies of those buffers
  calls: [method: string, args: Arg[]][];
}
type Buffers = Record<string, Float32Array>;

const { encode, decode, mapBuffers, runCases } = createRequire(import.meta.url)('./support/optimizer_cases.cjs') as {
  encode: (a: Float32Array) => string;
  decode: (s: string) => Float32Array;
  mapBuffers: <A, B>(o: Record<string, A>, fn: (x: A) => B) => Record<string, B>;
  runCases: (n: typeof native, sets: Buffers[], cases: Case[]) => Buffers[];
};
const CHILD = path.join(__dirname, 'support', 'optimizer_cases.cjs');

/** runCases in a child process (test/support/optimizer_cases.cjs). */
function runChild(sets: Buffers[], cases: Case[], threads: number, env: Record<string, string>) {
  const res = spawnSync(process.execPath, [CHILD, addonPath(), String(threads)], {
    input: JSON.stringify({ sets: sets.map((b) => mapBuffers(b, encode)), cases }),
    env: { ...process.env, DEEPNODE_PARALLEL_BACKOFF: '0', ...env },
    encoding: 'utf8',
    timeout: 60000,
    maxBuffer: 256 << 20,
  });
  expect(res.status, res.stderr).toBe(0);
  const parsed = JSON.parse(res.stdout) as { isa: string; out: Record<string, string>[] };
  return { isa: parsed.isa, out: parsed.out.map((b) => mapBuffers(b, decode)) };
}

// --- Inputs --------------------------------------------------------------------------------------
const SPECIAL = [0, -0, 1e-39, -3e-42, 1e-20, 3e38, -1e19, Infinity, -Infinity, NaN];

/** n floats: mostly uniform in [-1, 1), a quarter special values; nonNegative keeps 7 in 8 >= 0. */
function adversarial(r: () => number, n: number, nonNegative = false): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let x = r() < 0.75 ? 2 * r() - 1 : SPECIAL[Math.floor(r() * SPECIAL.length)]!;
    if (nonNegative && r() < 0.875) x = Math.abs(x);
    out[i] = x;
  }
  return out;
}

const SIZES = [...Array.from({ length: 17 }, (_, i) => i + 1), 1000, 65_536 + 13];
const EPSILONS = [1e-7, 0, 1e-3, 1e-40, 1];

function makeCases(): { sets: Buffers[]; cases: Case[] } {
  const sets: Buffers[] = [], cases: Case[] = [];
  for (const n of SIZES)
    for (const eps of n > 1000 ? [1e-40] : EPSILONS)
      for (const decay of n > 1000 ? [0.004] : [0, 0.004]) {
        const r = rng(sets.length + 1), inputs = sets.length;
        sets.push({
          w: adversarial(r, n), g1: adversarial(r, n), g2: adversarial(r, n), g3: adversarial(r, n),
          s1: adversarial(r, n, true), s2: adversarial(r, n), s3: adversarial(r, n),
        });
        const steps = (fn: (g: string, step: number) => [string, Arg[]]) => [1, 2, 3].map((t) => fn(`g${t}`, t));
        const tag = `n=${n} eps=${eps} decay=${decay}`;
        cases.push({ name: `adagrad ${tag}`, inputs, calls: steps((g, t) => ['adagradUpdate', ['w', g, 's1', 0.01 * t, eps, decay]]) });
        for (const [centered, momentum] of [[false, false], [true, false], [false, true], [true, true]])
          cases.push({
            name: `rmsprop centered=${centered} momentum=${momentum} ${tag}`,
            inputs,
            calls: steps((g, t) => ['rmspropUpdate', ['w', g, 's1', momentum ? 's2' : null, centered ? 's3' : null, 0.01 * t, 0.9, 0.5, eps, decay]]),
          });
        cases.push({
          name: `nadam ${tag}`,
          inputs,
          calls: steps((g, t) => ['nadamUpdate', ['w', g, 's2', 's1', 0.01, 0.9, 0.999, eps, 5 + t, 0.5 / t, 1000 / t, decay]]),
        });
      }
  return { sets, cases };
}

// --- Float32 emulation of the C++ loops (x86-64-v2: every operation rounded on its own) ----------
const f = Math.fround;

function emulate(start: Buffers, c: Case): Buffers {
  const b = mapBuffers(start, (v) => Float32Array.from(v));
  const buf = (a: Arg) => (typeof a === 'string' ? b[a]! : null);
  for (const [method, args] of c.calls) {
    const w = b.w!, g = buf(args[1]!)!, n = w.length;
    if (method === 'adagradUpdate') {
      const [, , , lr, eps, decay] = args.map((a) => (typeof a === 'number' ? f(a) : 0));
      const acc = buf(args[2]!)!;
      for (let i = 0; i < n; i++) {
        const wi = f(w[i]! - f(w[i]! * decay!));
        const a = f(acc[i]! + f(g[i]! * g[i]!));
        acc[i] = a;
        w[i] = f(wi - f(f(lr! * g[i]!) / f(Math.sqrt(f(a + eps!)))));
      }
    } else if (method === 'rmspropUpdate') {
      const v = buf(args[2]!)!, mom = buf(args[3]!), avg = buf(args[4]!);
      const [lr, rho, momentum, eps, decay] = (args.slice(5) as number[]);
      const rhoF = f(rho!), omr = f(1 - rho!), lrF = f(lr!), mF = f(momentum!), e = f(eps!), d = f(decay!);
      for (let i = 0; i < n; i++) {
        const wi = f(w[i]! - f(w[i]! * d)), gi = g[i]!;
        const vi = f(f(rhoF * v[i]!) + f(f(omr * gi) * gi));
        v[i] = vi;
        let denom = f(vi + e);
        if (avg) {
          const ai = f(f(rhoF * avg[i]!) + f(omr * gi));
          avg[i] = ai;
          denom = f(f(vi - f(ai * ai)) + e);
        }
        const inc = f(f(lrF * gi) / f(Math.sqrt(denom)));
        if (mom) {
          const mi = f(f(mF * mom[i]!) + inc);
          mom[i] = mi;
          w[i] = f(wi - mi);
        } else {
          w[i] = f(wi - inc);
        }
      }
    } else if (method === 'nadamUpdate') {
      const m = buf(args[2]!)!, v = buf(args[3]!)!;
      const [lr, beta1, beta2, eps, cm, cg, cv, decay] = (args.slice(4) as number[]);
      const c1 = f(1 - beta1!), c2 = f(1 - beta2!), lrF = f(lr!), e = f(eps!), d = f(decay!);
      const cmF = f(cm!), cgF = f(cg!), cvF = f(cv!);
      for (let i = 0; i < n; i++) {
        const wi = f(w[i]! - f(w[i]! * d)), gi = g[i]!;
        const mi = f(m[i]! + f(f(gi - m[i]!) * c1));
        const vi = f(v[i]! + f(f(f(gi * gi) - v[i]!) * c2));
        m[i] = mi;
        v[i] = vi;
        const mHat = f(f(cmF * mi) + f(cgF * gi));
        w[i] = f(wi - f(f(mHat * lrF) / f(f(Math.sqrt(f(vi * cvF))) + e)));
      }
    } else {
      throw new Error(`emulate: no emulation of ${method}`);
    }
  }
  return b;
}

/** Bit patterns, every NaN as one (see the header). */
function bits(a: Float32Array): Uint32Array {
  const u = new Uint32Array(Float32Array.from(a).buffer);
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i])) u[i] = 0x7fc00000;
  return u;
}

function expectSameBits(got: Buffers, want: Buffers, what: string) {
  for (const k of Object.keys(want)) {
    const a = bits(got[k]!), b = bits(want[k]!);
    const i = a.findIndex((x, j) => x !== b[j]);
    if (i >= 0) expect.fail(`${what}: buffer ${k}[${i}] is ${got[k]![i]} (0x${a[i]!.toString(16)}), expected ${want[k]![i]} (0x${b[i]!.toString(16)})`);
  }
}

describe('Adagrad, RMSprop, Nadam: AVX2 loops vs the scalar loops, bit for bit', () => {
  const { sets, cases } = makeCases();
  let here: Buffers[] = [];
  beforeAll(() => {
    const threads = native.getNumThreads();
    native.setNumThreads(1);
    try {
      here = runCases(native, sets, cases);
    } finally {
      native.setNumThreads(threads);
    }
  });

  it('the default path (AVX2 where supported) equals DEEPNODE_ISA=generic (portable loops) and a 2-thread split', () => {
    const generic = runChild(sets, cases, 1, { DEEPNODE_ISA: 'generic' });
    expect(generic.isa).toBe('generic');
    const split = runChild(sets, cases, 2, {});
    expect(split.isa).toBe(native.info().isa);
    cases.forEach((c, i) => {
      expectSameBits(here[i]!, generic.out[i]!, `${c.name}: default vs generic`);
      expectSameBits(split.out[i]!, here[i]!, `${c.name}: 2 threads vs 1`);
    });
  });

  it.runIf(process.arch === 'x64')('equals the formulas in float32, one rounding per operation, in the C++ order', () => {
    cases.forEach((c, i) => expectSameBits(here[i]!, emulate(sets[c.inputs]!, c), c.name));
  });

  it('the inputs reach the special cases (the comparisons above are not vacuous)', () => {
    // Some weights end NaN (square roots of negative sums, Inf/Inf), some denormal, most finite;
    // some accumulators overflow to Inf.
    const w = here.flatMap((b) => Array.from(b.w!)), acc = here.flatMap((b) => Array.from(b.s1!));
    expect(w.some(Number.isNaN)).toBe(true);
    expect(w.some((x) => x !== 0 && Math.abs(x) < 1.1754943508222875e-38)).toBe(true);
    expect(w.filter(Number.isFinite).length).toBeGreaterThan(w.length / 2);
    expect(acc.some((x) => x === Infinity)).toBe(true);
  });
});
