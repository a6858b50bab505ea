/**
 * Learning-rate schedules against golden numbers (test/fixtures/schedules/schedules.json, made by
 * make_schedules.py beside it): Keras 3's published formulas worked in float64 Python and
 * cross-checked against PyTorch's closed-form schedulers, and PyTorch 1.13's OneCycleLR for 1cycle.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as schedules from '../src/optimizers/schedules';
import { LearningRateSchedule } from '../src/optimizers/schedules';
import { ValueError } from '../src/errors';
import { Sequential } from '../src/models/sequential';
import { Tensor } from '../src/tensor';
import * as layers from '../src/layers';
import * as optimizers from '../src/optimizers';
import { setSeed } from '../src/random';

interface Case {
  kind: 'exponentialDecay' | 'inverseTimeDecay' | 'piecewiseConstantDecay' | 'polynomialDecay' | 'cosineDecay' | 'oneCycle';
  args: Record<string, unknown>;
  steps: number[];
  lr: number[];
  momentum?: number[];
}

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures/schedules/schedules.json'), 'utf8')) as { cases: Case[] };

function make(kind: Case['kind'], args: Record<string, unknown>): LearningRateSchedule {
  return (schedules[kind] as (a: unknown) => LearningRateSchedule)(args);
}

function expectClose(actual: number, expected: number, what: string): void {
  const tol = 1e-12 * Math.max(1e-3, Math.abs(expected));
  if (!(Math.abs(actual - expected) <= tol)) throw new Error(`${what}: expected ${expected}, received ${actual}`);
}

describe('schedules match the reference values', () => {
  for (const [i, c] of fixture.cases.entries()) {
    it(`${c.kind} #${i} ${JSON.stringify(c.args)}`, () => {
      const s = make(c.kind, c.args);
      c.steps.forEach((step, j) => expectClose(s.call(step), c.lr[j]!, `lr at step ${step}`));
      if (c.momentum) c.steps.forEach((step, j) => expectClose(s.momentumAt(step)!, c.momentum![j]!, `momentum at step ${step}`));
      else expect(s.momentumAt(0)).toBeUndefined();
    });
  }
});

describe('hand-worked values', () => {
  it('exponentialDecay: 0.1 * 0.96^(step/100000), staircase holds until a whole period', () => {
    const smooth = schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 100000, decayRate: 0.96 });
    expect(smooth.call(50000)).toBeCloseTo(0.1 * Math.sqrt(0.96), 15);
    const stairs = schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 100000, decayRate: 0.96, staircase: true });
    expect(stairs.call(99999)).toBe(0.1);
    expect(stairs.call(100000)).toBeCloseTo(0.096, 15);
  });

  it('inverseTimeDecay (power scheduling): halves after decaySteps/decayRate steps', () => {
    const s = schedules.inverseTimeDecay({ initialLearningRate: 0.01, decaySteps: 10000, decayRate: 1 });
    expect(s.call(0)).toBe(0.01);
    expect(s.call(10000)).toBeCloseTo(0.005, 15);
    expect(s.call(30000)).toBeCloseTo(0.0025, 15);
  });

  it('piecewiseConstantDecay switches just after each boundary (Keras: step > boundary)', () => {
    const s = schedules.piecewiseConstantDecay({ boundaries: [100000, 110000], values: [1.0, 0.5, 0.1] });
    expect([0, 100000, 100001, 110000, 110001, 1e9].map((t) => s.call(t))).toEqual([1, 1, 0.5, 0.5, 0.1, 0.1]);
  });

  it('polynomialDecay reaches endLearningRate and stays there without cycle', () => {
    const s = schedules.polynomialDecay({ initialLearningRate: 0.1, decaySteps: 10000, endLearningRate: 0.01, power: 0.5 });
    expect(s.call(2500)).toBeCloseTo(0.09 * Math.sqrt(0.75) + 0.01, 15);
    expect(s.call(10000)).toBeCloseTo(0.01, 15);
    expect(s.call(50000)).toBeCloseTo(0.01, 15);
  });

  it('cosineDecay: half-way is the midpoint between the start and alpha * start', () => {
    const s = schedules.cosineDecay({ initialLearningRate: 0.2, decaySteps: 100, alpha: 0.1 });
    expect(s.call(50)).toBeCloseTo(0.2 * (0.9 * 0.5 + 0.1), 15);
    expect(s.call(100)).toBeCloseTo(0.02, 15);
    expect(s.call(1000)).toBeCloseTo(0.02, 15);
    const warm = schedules.cosineDecay({ initialLearningRate: 0, decaySteps: 100, warmupTarget: 0.1, warmupSteps: 10 });
    expect(warm.call(5)).toBeCloseTo(0.05, 15);
    expect(warm.call(10)).toBeCloseTo(0.1, 15);
    expect(warm.call(60)).toBeCloseTo(0.05, 15);
  });

  it('oneCycle (Géron defaults): start max/10, peak at 45%, back at 90%, ends 1000x below the start', () => {
    const s = schedules.oneCycle({ maxLearningRate: 0.05, totalSteps: 1000 });
    expect(s.startLearningRate).toBeCloseTo(0.005, 15);
    expect(s.endLearningRate).toBeCloseTo(5e-6, 18);
    expect(s.call(0)).toBeCloseTo(0.005, 15);
    expect(s.call(449)).toBeCloseTo(0.05, 15); // phase ends at phasePct*T - 1
    expect(s.call(898)).toBeCloseTo(0.005, 15);
    expect(s.call(999)).toBeCloseTo(5e-6, 18);
    expect(s.call(5000)).toBeCloseTo(5e-6, 18); // past the end: keeps the end rate
    expect(s.momentumAt(0)).toBeCloseTo(0.95, 15);
    expect(s.momentumAt(449)).toBeCloseTo(0.85, 15);
    expect(s.momentumAt(898)).toBeCloseTo(0.95, 15);
    expect(s.momentumAt(999)).toBeCloseTo(0.95, 15);
    // Rises monotonically, then falls monotonically.
    const lrs = Array.from({ length: 1000 }, (_, t) => s.call(t));
    for (let t = 1; t < 1000; t++) expect(Math.sign(lrs[t]! - lrs[t - 1]!)).toBe(t <= 449 ? 1 : -1);
    expect(schedules.oneCycle({ maxLearningRate: 0.05, totalSteps: 1000, cycleMomentum: false }).momentumAt(100)).toBeUndefined();
  });
});

describe('config round-trip', () => {
  for (const c of fixture.cases) {
    it(`${c.kind} ${JSON.stringify(c.args)}`, () => {
      const s = make(c.kind, c.args);
      const ser = schedules.serialize(s);
      const json = JSON.parse(JSON.stringify(ser)) as schedules.SerializedSchedule;
      const back = schedules.deserialize(json);
      expect(back.className).toBe(s.className);
      expect(back.getConfig()).toEqual(s.getConfig());
      for (const step of c.steps) expect(back.call(step)).toBe(s.call(step));
    });
  }

  it('uses Keras config keys', () => {
    expect(schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 }).getConfig()).toEqual({
      initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5, staircase: false, name: 'ExponentialDecay',
    });
    expect(schedules.cosineDecay({ initialLearningRate: 0.1, decaySteps: 10 }).getConfig()).toEqual({
      initial_learning_rate: 0.1, decay_steps: 10, alpha: 0, name: 'CosineDecay', warmup_target: null, warmup_steps: 0,
    });
    expect(schedules.polynomialDecay({ initialLearningRate: 0.1, decaySteps: 10 }).getConfig()).toMatchObject({ end_learning_rate: 1e-4, power: 1, cycle: false });
  });

  it('rejects an unknown class_name', () => {
    expect(() => schedules.deserialize({ class_name: 'Nope' as never, config: {} })).toThrow(/received "Nope"/);
  });
});

describe('argument validation echoes the value', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['no options', () => schedules.exponentialDecay(undefined as never), /ExponentialDecay: expected an options object .* received undefined/],
    ['decaySteps 0', () => schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.5 }), /ExponentialDecay: decaySteps must be a finite number > 0, received decaySteps=0/],
    ['decayRate -1', () => schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: -1 }), /decayRate=-1/],
    ['staircase string', () => schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, staircase: 'yes' as never }), /staircase must be a boolean, received staircase="yes"/],
    ['lr NaN', () => schedules.inverseTimeDecay({ initialLearningRate: NaN, decaySteps: 10, decayRate: 0.5 }), /InverseTimeDecay: initialLearningRate .* received initialLearningRate=NaN/],
    ['inverse decayRate -0.1', () => schedules.inverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: -0.1 }), /decayRate must be a finite number >= 0, received decayRate=-0.1/],
    ['lengths', () => schedules.piecewiseConstantDecay({ boundaries: [10, 20], values: [1, 0.5] }), /one more entry than boundaries, received boundaries=\[10, 20\] \(length 2\) and values=\[1, 0.5\] \(length 2\)/],
    ['not increasing', () => schedules.piecewiseConstantDecay({ boundaries: [10, 10], values: [1, 0.5, 0.1] }), /strictly increasing, received boundaries=\[10, 10\]/],
    ['empty boundaries', () => schedules.piecewiseConstantDecay({ boundaries: [], values: [1] }), /non-empty array .* received boundaries=\[\]/],
    ['negative value', () => schedules.piecewiseConstantDecay({ boundaries: [1], values: [1, -2] }), /received values=\[1, -2\]/],
    ['power 0', () => schedules.polynomialDecay({ initialLearningRate: 0.1, decaySteps: 10, power: 0 }), /PolynomialDecay: power must be a finite number > 0, received power=0/],
    ['alpha 2', () => schedules.cosineDecay({ initialLearningRate: 0.1, decaySteps: 10, alpha: 2 }), /CosineDecay: alpha must be in \[0, 1\], received alpha=2/],
    ['warmup without target', () => schedules.cosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmupSteps: 5 }), /warmupSteps=5 needs a warmupTarget/],
    ['warmupSteps 1.5', () => schedules.cosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmupTarget: 1, warmupSteps: 1.5 }), /warmupSteps must be an integer >= 0, received warmupSteps=1.5/],
    ['max 0', () => schedules.oneCycle({ maxLearningRate: 0, totalSteps: 100 }), /OneCycle: maxLearningRate must be a finite number > 0, received maxLearningRate=0/],
    ['totalSteps 10.5', () => schedules.oneCycle({ maxLearningRate: 0.1, totalSteps: 10.5 }), /totalSteps must be an integer >= 2, received totalSteps=10.5/],
    ['phasePct 0.6', () => schedules.oneCycle({ maxLearningRate: 0.1, totalSteps: 100, phasePct: 0.6 }), /phasePct must be in \(0, 0.5\], received phasePct=0.6/],
    ['too few steps', () => schedules.oneCycle({ maxLearningRate: 0.1, totalSteps: 2 }), /phasePct \* totalSteps must be > 1 .* received phasePct=0.45, totalSteps=2/],
    ['start above max', () => schedules.oneCycle({ maxLearningRate: 0.1, totalSteps: 100, startLearningRate: 0.2 }), /startLearningRate must be in \[0, 0.1\], received startLearningRate=0.2/],
    ['momenta swapped', () => schedules.oneCycle({ maxLearningRate: 0.1, totalSteps: 100, maxMomentum: 0.8, minMomentum: 0.9 }), /minMomentum must be <= maxMomentum, received minMomentum=0.9, maxMomentum=0.8/],
    ['negative step', () => schedules.cosineDecay({ initialLearningRate: 0.1, decaySteps: 10 }).call(-1), /CosineDecay: step must be a finite number >= 0, received step=-1/],
  ];
  for (const [name, fn, re] of cases) {
    it(name, () => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ValueError);
      expect((err as ValueError).code).toBe('ERR_VALUE');
      expect((err as Error).message).toMatch(re);
    });
  }
});

describe('with an optimizer in Sequential.fit', () => {
  it('the logged learning_rate is the schedule at the step counter (1cycle over 3 epochs of 4 batches)', async () => {
    setSeed(3);
    const x = new Tensor(Float32Array.from({ length: 32 * 2 }, (_, i) => Math.cos(i)), [32, 2]);
    const y = new Tensor(Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)), [32, 1]);
    const schedule = schedules.oneCycle({ maxLearningRate: 0.05, totalSteps: 12 });
    const model = new Sequential([layers.dense({ units: 1, inputShape: [2] })]);
    model.compile({ optimizer: optimizers.sgd({ learningRate: schedule }), loss: 'mse' });
    const history = await model.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0 });
    // After epoch e the optimizer has taken 4(e+1) steps; the rate it would use next is logged.
    // Reference: 1cycle by hand with phase ends 0.45*12 - 1 = 4.4, 2*0.45*12 - 2 = 8.8 and 11.
    const byHand = (t: number) => (t <= 4.4 ? 0.005 + (0.045 * t) / 4.4 : t <= 8.8 ? 0.05 - (0.045 * (t - 4.4)) / 4.4 : 0.005 + ((5e-6 - 0.005) * (t - 8.8)) / 2.2);
    [4, 8, 12].forEach((t, e) => expect(history.history.learning_rate![e]).toBeCloseTo(byHand(Math.min(t, 11)), 12));
  });
});
