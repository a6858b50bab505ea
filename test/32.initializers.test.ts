/**
 * Initializers against their Keras 3 definitions: sample variance of a large draw vs scale / fan for
 * every VarianceScaling mode x distribution and every preset, uniform bounds, the 2-sigma truncation,
 * seeds, and Keras's defaults. Tolerances are statistical: with 240,000 draws the relative standard
 * error of a sample variance is under 0.3%, so a 2% band is > 6 standard errors wide yet far
 * narrower than any wrong formula (a wrong fan or a missing truncation correction is >= 13% off).
 */
import { describe, expect, it } from 'vitest';
import {
  Constant,
  GlorotNormal,
  GlorotUniform,
  HeNormal,
  HeUniform,
  LecunNormal,
  LecunUniform,
  Ones,
  RandomNormal,
  RandomUniform,
  TruncatedNormal,
  VarianceScaling,
  Zeros,
  computeFans,
  getInitializer,
} from '../src/initializers';
import type { Initializer } from '../src/initializers';
import { setSeed } from '../src/random';
import { Dense } from '../src/layers';

const SHAPE = [400, 600];
const FAN = { fanIn: 400, fanOut: 600, fanAvg: 500 };
const N = 400 * 600;

function stats(a: Float32Array): { mean: number; variance: number; min: number; max: number } {
  let s = 0, min = Infinity, max = -Infinity;
  for (const v of a) {
    s += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = s / a.length;
  let ss = 0;
  for (const v of a) ss += (v - mean) ** 2;
  return { mean, variance: ss / (a.length - 1), min, max };
}

/** Standard deviation of N(0, 1) truncated to [-2, 2], from the closed form (not from our code). */
function truncatedStd(): number {
  const phi2 = Math.exp(-2) / Math.sqrt(2 * Math.PI);
  // Phi(2) - Phi(-2) = erf(sqrt 2), tabulated: 0.9544997361036416.
  const mass = 0.9544997361036416;
  return Math.sqrt(1 - (2 * 2 * phi2) / mass);
}

function checkDistribution(values: Float32Array, variance: number, distribution: 'uniform' | 'truncatedNormal' | 'untruncatedNormal'): void {
  const st = stats(values);
  const sd = Math.sqrt(variance);
  expect(values.length).toBe(N);
  expect(Math.abs(st.mean)).toBeLessThan((6 * sd) / Math.sqrt(N));
  expect(st.variance / variance).toBeGreaterThan(0.98);
  expect(st.variance / variance).toBeLessThan(1.02);
  if (distribution === 'uniform') {
    const limit = Math.sqrt(3 * variance);
    expect(st.max).toBeLessThanOrEqual(limit);
    expect(st.min).toBeGreaterThanOrEqual(-limit);
    expect(st.max).toBeGreaterThan(0.999 * limit);
    expect(st.min).toBeLessThan(-0.999 * limit);
  } else if (distribution === 'truncatedNormal') {
    // sigma' = sqrt(variance) / 0.8796...; every value within 2 sigma', and the tails reach close to it.
    const sigma = sd / truncatedStd();
    expect(st.max).toBeLessThanOrEqual(2 * sigma * (1 + 1e-6));
    expect(st.min).toBeGreaterThanOrEqual(-2 * sigma * (1 + 1e-6));
    expect(st.max).toBeGreaterThan(1.98 * sigma);
  } else {
    // About 4.55% of a normal lies beyond 2 sigma.
    let beyond = 0;
    for (const v of values) if (Math.abs(v) > 2 * sd) beyond++;
    expect(beyond / N).toBeGreaterThan(0.0455 - 0.003);
    expect(beyond / N).toBeLessThan(0.0455 + 0.003);
  }
}

describe('VarianceScaling', () => {
  it('the truncation constant is the std of a 2-sigma truncated normal (Keras: .87962566103423978)', () => {
    expect(truncatedStd()).toBeCloseTo(0.87962566103423978, 12);
  });

  it('computeFans follows Keras: [in, out], and receptive field x channels for conv kernels', () => {
    expect(computeFans([400, 600])).toEqual({ fanIn: 400, fanOut: 600 });
    expect(computeFans([3, 3, 16, 32])).toEqual({ fanIn: 144, fanOut: 288 });
    expect(computeFans([7])).toEqual({ fanIn: 7, fanOut: 7 });
  });

  const modes = ['fanIn', 'fanOut', 'fanAvg'] as const;
  const distributions = ['uniform', 'truncatedNormal', 'untruncatedNormal'] as const;
  it.each(modes.flatMap((m) => distributions.map((d) => [m, d] as const)))('mode %s, distribution %s: variance = scale / fan', (mode, distribution) => {
    const scale = 2.5;
    const init = new VarianceScaling({ scale, mode, distribution, seed: 11 });
    checkDistribution(init.generate(SHAPE), scale / FAN[mode], distribution);
  });

  it('accepts Keras snake_case options and the "normal" alias of truncated normal', () => {
    const a = new VarianceScaling({ mode: 'fan_avg', distribution: 'truncated_normal', seed: 3 });
    expect(a.mode).toBe('fanAvg');
    expect(a.distribution).toBe('truncatedNormal');
    expect(new VarianceScaling({ distribution: 'normal' }).distribution).toBe('truncatedNormal');
    expect(a.getConfig()).toEqual({ scale: 1, mode: 'fan_avg', distribution: 'truncated_normal', seed: 3 });
  });

  it('Keras defaults: scale 1, fan_in, truncated normal', () => {
    const d = new VarianceScaling();
    expect([d.scale, d.mode, d.distribution]).toEqual([1, 'fanIn', 'truncatedNormal']);
  });
});

describe('presets (Glorot, He, LeCun)', () => {
  const presets: [string, new (o?: { seed?: number }) => Initializer, number, 'uniform' | 'truncatedNormal'][] = [
    // Glorot & Bengio 2010: Var = 2 / (fan_in + fan_out)
    ['GlorotUniform', GlorotUniform, 2 / (400 + 600), 'uniform'],
    ['GlorotNormal', GlorotNormal, 2 / (400 + 600), 'truncatedNormal'],
    // He et al. 2015: Var = 2 / fan_in
    ['HeUniform', HeUniform, 2 / 400, 'uniform'],
    ['HeNormal', HeNormal, 2 / 400, 'truncatedNormal'],
    // LeCun 1998 / Klambauer et al. 2017: Var = 1 / fan_in
    ['LecunUniform', LecunUniform, 1 / 400, 'uniform'],
    ['LecunNormal', LecunNormal, 1 / 400, 'truncatedNormal'],
  ];
  it.each(presets)('%s', (name, Cls, variance, distribution) => {
    const init = new Cls({ seed: 5 });
    expect(init.className).toBe(name);
    expect(init.getConfig()).toEqual({ seed: 5 });
    checkDistribution(init.generate(SHAPE), variance, distribution);
  });

  it('GlorotUniform bound by hand: sqrt(6 / (fan_in + fan_out))', () => {
    const v = new GlorotUniform({ seed: 1 }).generate([3, 5]);
    for (const x of v) expect(Math.abs(x)).toBeLessThanOrEqual(Math.sqrt(6 / 8));
  });
});

describe('seeds', () => {
  it('a seeded initializer gives the same values on every call and across instances (Keras 3)', () => {
    const a = new HeNormal({ seed: 42 });
    const first = a.generate([20, 30]);
    expect(Array.from(a.generate([20, 30]))).toEqual(Array.from(first));
    expect(Array.from(new HeNormal({ seed: 42 }).generate([20, 30]))).toEqual(Array.from(first));
    expect(Array.from(new HeNormal({ seed: 43 }).generate([20, 30]))).not.toEqual(Array.from(first));
    const u = new RandomUniform({ seed: 9 });
    expect(Array.from(u.generate([50]))).toEqual(Array.from(u.generate([50])));
  });

  it('unseeded initializers follow setSeed (keras.utils.set_random_seed)', () => {
    setSeed(2024);
    const a = new GlorotUniform().generate([10, 10]);
    const b = new GlorotUniform().generate([10, 10]);
    setSeed(2024);
    expect(Array.from(new GlorotUniform().generate([10, 10]))).toEqual(Array.from(a));
    expect(Array.from(new GlorotUniform().generate([10, 10]))).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  it('Dense layers built after the same setSeed get the same kernels', () => {
    const kernel = () => {
      setSeed(77);
      const d = new Dense({ units: 8 });
      d.build([null, 5]);
      return Array.from(d.kernel!.data);
    };
    expect(kernel()).toEqual(kernel());
  });
});

describe('Keras defaults of the simple initializers', () => {
  it('RandomNormal: mean 0, stddev 0.05', () => {
    const r = new RandomNormal({ seed: 1 });
    expect([r.mean, r.stddev]).toEqual([0, 0.05]);
    const st = stats(r.generate(SHAPE));
    expect(Math.sqrt(st.variance) / 0.05).toBeCloseTo(1, 1);
    expect(Math.abs(Math.sqrt(st.variance) / 0.05 - 1)).toBeLessThan(0.01);
  });

  it('RandomNormal with mean 3, stddev 2', () => {
    const st = stats(new RandomNormal({ mean: 3, stddev: 2, seed: 2 }).generate(SHAPE));
    expect(Math.abs(st.mean - 3)).toBeLessThan(0.02);
    expect(Math.abs(st.variance / 4 - 1)).toBeLessThan(0.02);
  });

  it('TruncatedNormal: stddev 0.05, redraws beyond 2 stddev (its std is 0.05 x 0.8796)', () => {
    const r = new TruncatedNormal({ seed: 3 });
    expect([r.mean, r.stddev]).toEqual([0, 0.05]);
    const st = stats(r.generate(SHAPE));
    expect(st.max).toBeLessThanOrEqual(0.1 + 1e-7);
    expect(st.min).toBeGreaterThanOrEqual(-0.1 - 1e-7);
    expect(Math.abs(Math.sqrt(st.variance) / (0.05 * truncatedStd()) - 1)).toBeLessThan(0.01);
  });

  it('RandomUniform: [-0.05, 0.05), variance (b - a)^2 / 12', () => {
    const r = new RandomUniform({ seed: 4 });
    expect([r.minval, r.maxval]).toEqual([-0.05, 0.05]);
    const st = stats(r.generate(SHAPE));
    expect(st.min).toBeGreaterThanOrEqual(-0.05);
    expect(st.max).toBeLessThan(0.05);
    expect(Math.abs(st.variance / (0.1 ** 2 / 12) - 1)).toBeLessThan(0.02);
  });

  it('Zeros, Ones, Constant (default value 0)', () => {
    expect(Array.from(new Zeros().generate([2, 2]))).toEqual([0, 0, 0, 0]);
    expect(Array.from(new Ones().generate([3]))).toEqual([1, 1, 1]);
    expect(Array.from(new Constant(0.25).generate([2]))).toEqual([0.25, 0.25]);
    expect(new Constant().value).toBe(0);
  });

  it('Dense defaults: glorot_uniform kernel, zeros bias', () => {
    const d = new Dense({ units: 4 });
    expect(d.kernelInitializer.className).toBe('GlorotUniform');
    expect(d.biasInitializer.className).toBe('Zeros');
    expect(getInitializer('truncated_normal').className).toBe('TruncatedNormal');
  });
});
