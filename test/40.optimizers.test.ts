/**
 * Optimizers: golden trajectories against PyTorch / hand-written Keras 3 rules
 * (test/fixtures/optimizers.json, made by make_optimizers.py), the native kernels against the plain
 * TypeScript reference on buffers large enough to run threaded, clipping and weight decay, option
 * checks, schedules, slot state across a change of trainable weights, configs, and training.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../src/backend/native';
import {
  Adagrad, Adam, AdamW, Adamax, Nadam, Optimizer, RMSprop, SGD, getOptimizer, optimizerFromConfig,
} from '../src/optimizers';
import * as optimizers from '../src/optimizers';
import type { Segment } from '../src/optimizers';
import * as ref from '../src/optimizers/reference';
import { LearningRateSchedule } from '../src/optimizers/schedules/schedule';
import { Sequential } from '../src/models/sequential';
import * as layers from '../src/layers';
import { Tensor } from '../src/tensor';
import { setSeed } from '../src/random';
import { caught, expectClose, randArray, rng } from './support/reference';

interface GoldenCase {
  name: string;
  optimizer: string;
  args: Record<string, unknown>;
  reference: string;
  p0: number[];
  grads: number[][];
  expected: number[][];
  lrSchedule?: number[];
  momentumSchedule?: number[];
  excludeFromWeightDecay?: string[];
}

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'optimizers.json'), 'utf8')) as {
  segments: Segment[];
  cases: GoldenCase[];
};

/** A schedule given as a list of per-step values (and optionally per-step momentum). */
class ListSchedule extends LearningRateSchedule {
  constructor(private readonly lrs: number[], private readonly moms?: number[]) {
    super();
  }
  call(step: number): number {
    return this.lrs[step]!;
  }
  override momentumAt(step: number): number | undefined {
    return this.moms?.[step];
  }
  getConfig(): Record<string, unknown> {
    return { lrs: this.lrs };
  }
}

const CLASSES: Record<string, new (args: Record<string, unknown>) => Optimizer> = {
  SGD, Adam, AdamW, Adagrad, RMSprop, Adamax, Nadam,
};

describe('golden trajectories (Keras 3 rules; PyTorch or hand-written float64 reference)', () => {
  it('the fixture covers every optimizer', () => {
    const covered = new Set(fixture.cases.map((c) => c.optimizer));
    expect([...covered].sort()).toEqual(Object.keys(CLASSES).sort());
  });

  for (const c of fixture.cases) {
    it(`${c.name} (${c.reference})`, () => {
      const args = { ...c.args };
      if (c.lrSchedule) args.learningRate = new ListSchedule(c.lrSchedule, c.momentumSchedule);
      const opt = new CLASSES[c.optimizer]!(args);
      if (c.excludeFromWeightDecay) opt.excludeFromWeightDecay({ varNames: c.excludeFromWeightDecay });
      const params = Float32Array.from(c.p0);
      c.grads.forEach((g, step) => {
        opt.apply(params, Float32Array.from(g), fixture.segments);
        expectClose(params, c.expected[step]!, 1e-5, 1e-6, `${c.name} step ${step + 1}`);
      });
      expect(opt.iterations).toBe(c.grads.length);
    });
  }
});

describe('native kernels match the TypeScript reference', () => {
  // Above the 2^16 threshold the kernels split across the GEMM's pool (forced to 4 threads here,
  // whatever the machine); below it on one thread.
  let threads = 1;
  beforeAll(() => {
    threads = native.getNumThreads();
    native.setNumThreads(4);
  });
  afterAll(() => native.setNumThreads(threads));
  for (const n of [1000, 200_003]) {
    const r = rng(n);
    const w0 = randArray(r, n, -1, 1);
    const grads = [randArray(r, n, -2, 2), randArray(r, n, -0.5, 0.5), randArray(r, n, -1, 1)];
    type Stepper = (w: Float32Array, g: Float32Array, s: Float32Array[], k: number) => void;
    const kernels: [string, number, Stepper, Stepper][] = [
      ['sgd nesterov', 1,
        (w, g, s) => native.sgdUpdate(w, g, s[0]!, 0.1, 0.9, true, 0.01),
        (w, g, s) => ref.sgdUpdate(w, g, s[0]!, 0.1, 0.9, true, 0.01)],
      ['adagrad', 1,
        (w, g, s) => native.adagradUpdate(w, g, s[0]!, 0.1, 1e-3, 0.01),
        (w, g, s) => ref.adagradUpdate(w, g, s[0]!, 0.1, 1e-3, 0.01)],
      ['rmsprop centered momentum', 3,
        (w, g, s) => native.rmspropUpdate(w, g, s[0]!, s[1]!, s[2]!, 0.01, 0.9, 0.5, 1e-2, 0.01),
        (w, g, s) => ref.rmspropUpdate(w, g, s[0]!, s[1]!, s[2]!, 0.01, 0.9, 0.5, 1e-2, 0.01)],
      ['adam amsgrad', 3,
        (w, g, s, k) => native.adamUpdate(w, g, s[0]!, s[1]!, s[2]!, 0.01 * k, 0.9, 0.999, 1e-3, 0.01),
        (w, g, s, k) => ref.adamUpdate(w, g, s[0]!, s[1]!, s[2]!, 0.01 * k, 0.9, 0.999, 1e-3, 0.01)],
      ['adamax', 2,
        (w, g, s, k) => native.adamaxUpdate(w, g, s[0]!, s[1]!, 0.01 * k, 0.9, 0.999, 1e-3, 0.01),
        (w, g, s, k) => ref.adamaxUpdate(w, g, s[0]!, s[1]!, 0.01 * k, 0.9, 0.999, 1e-3, 0.01)],
      ['nadam', 2,
        (w, g, s, k) => native.nadamUpdate(w, g, s[0]!, s[1]!, 0.01, 0.9, 0.999, 1e-3, 0.5 * k, 0.3, 10 / k, 0.01),
        (w, g, s, k) => ref.nadamUpdate(w, g, s[0]!, s[1]!, 0.01, 0.9, 0.999, 1e-3, 0.5 * k, 0.3, 10 / k, 0.01)],
    ];
    for (const [name, slots, fast, slow] of kernels) {
      it(`${name}, n=${n}`, () => {
        const wa = w0.slice(), wb = w0.slice();
        const sa = Array.from({ length: slots }, () => new Float32Array(n));
        const sb = Array.from({ length: slots }, () => new Float32Array(n));
        grads.forEach((g, k) => {
          fast(wa, g, sa, k + 1);
          slow(wb, g, sb, k + 1);
        });
        expectClose(wa, wb, 1e-5, 1e-6, `${name} weights`);
        sa.forEach((s, i) => expectClose(s, sb[i]!, 1e-5, 1e-6, `${name} slot ${i}`));
      });
    }
    it(`clipByValue and clipByNorm, n=${n}`, () => {
      const a = grads[0]!.slice(), b = grads[0]!.slice();
      native.clipByValue(a, 0.7);
      ref.clipByValue(b, 0.7);
      expect(a).toEqual(b);
      const c = grads[1]!.slice(), d = grads[1]!.slice();
      const norm = native.clipByNorm(c, 3);
      expect(norm).toBeCloseTo(ref.clipByNorm(d, 3), 6);
      expect(norm).toBeGreaterThan(3);
      expectClose(c, d, 1e-5, 1e-7, 'clipByNorm');
    });
  }

  it('the binding rejects slots that alias the parameters or are too short', () => {
    const w = new Float32Array(8), g = new Float32Array(8);
    expect(caught(() => native.adamUpdate(w, g, w, new Float32Array(8), null, 0.1, 0.9, 0.9, 1e-7, 0)).code)
      .toBe('ERR_NATIVE_OVERLAP');
    expect(caught(() => native.adagradUpdate(w, g, new Float32Array(4), 0.1, 1e-7, 0)).code).toBe('ERR_NATIVE_SIZE');
    expect(caught(() => native.sgdUpdate(w, g, null, Number.NaN, 0, false, 0)).code).toBe('ERR_NATIVE_VALUE');
  });
});

describe('clipping and weight decay', () => {
  const segs: Segment[] = [{ name: 'a', offset: 0, size: 2 }, { name: 'b', offset: 2, size: 2 }];

  it('clipnorm clips each weight, globalClipnorm all together, clipvalue each element', () => {
    // SGD with lr 1: the step is the clipped gradient.
    const step = (args: Record<string, unknown>, g: number[]) => {
      const w = new Float32Array(4);
      new SGD({ learningRate: 1, ...args }).apply(w, Float32Array.from(g), segs);
      return Array.from(w, (v) => -v);
    };
    // |a| = 5 clipped to 1, |b| = 0.5 kept.
    expectClose(step({ clipnorm: 1 }, [3, 4, 0.3, 0.4]), [0.6, 0.8, 0.3, 0.4], 1e-6, 1e-7, 'clipnorm');
    // Global norm sqrt(25 + 0.25) = 5.0249 scaled to 2.
    const s = 2 / Math.sqrt(25.25);
    expectClose(step({ globalClipnorm: 2 }, [3, 4, 0.3, 0.4]), [3 * s, 4 * s, 0.3 * s, 0.4 * s], 1e-6, 1e-7, 'global');
    expectClose(step({ globalClipnorm: 10 }, [3, 4, 0.3, 0.4]), [3, 4, 0.3, 0.4], 1e-6, 1e-7, 'global below');
    expectClose(step({ clipvalue: 0.35 }, [3, -4, 0.3, -0.4]), [0.35, -0.35, 0.3, -0.35], 1e-6, 1e-7, 'clipvalue');
  });

  it('a non-finite gradient norm gives NaN weights instead of a silent clip', () => {
    const w = new Float32Array(4);
    new SGD({ globalClipnorm: 1 }).apply(w, Float32Array.from([Infinity, 0, 0, 0]), segs);
    expect(Array.from(w).every(Number.isNaN)).toBe(true);
  });

  it('weightDecay shrinks weights by w * wd * lr before the update, on any optimizer', () => {
    // Zero gradients isolate the decay: Adam's step is then 0 (m = 0).
    for (const opt of [new SGD({ learningRate: 0.1, weightDecay: 0.5 }), new Adam({ learningRate: 0.1, weightDecay: 0.5 })]) {
      const w = Float32Array.from([1, -2, 3, 4]);
      opt.apply(w, new Float32Array(4), segs);
      expectClose(w, [0.95, -1.9, 2.85, 3.8], 1e-6, 1e-7, opt.className);
    }
    const w = Float32Array.from([1, -2, 3, 4]);
    const opt = new SGD({ learningRate: 0.1, weightDecay: 0.5 });
    opt.excludeFromWeightDecay({ varNames: ['b'] });
    opt.apply(w, new Float32Array(4), segs);
    expectClose(w, [0.95, -1.9, 3, 4], 1e-6, 1e-7, 'excluded');
  });

  it('AdamW is Adam with weightDecay 0.004 by default', () => {
    expect(new AdamW().weightDecay).toBe(0.004);
    expect(new Adam().weightDecay).toBeNull();
    const a = Float32Array.from([1, 2, 3, 4]), b = a.slice();
    const g = Float32Array.from([0.1, -0.2, 0.3, 0.4]);
    new AdamW({ learningRate: 0.1 }).apply(a, g.slice(), segs);
    new Adam({ learningRate: 0.1, weightDecay: 0.004 }).apply(b, g.slice(), segs);
    expect(a).toEqual(b);
  });
});

describe('hyperparameter checks', () => {
  const bad: [string, () => unknown, RegExp][] = [
    ['negative learning rate', () => new Adam({ learningRate: -0.1 }), /Adam: learningRate must be .*received -0\.1/],
    ['NaN learning rate', () => new SGD({ learningRate: Number.NaN }), /SGD: learningRate .*received NaN/],
    ['beta1 = 1', () => new Adam({ beta1: 1 }), /Adam: beta1 must be in \[0, 1\), received 1/],
    ['beta2 < 0', () => new Nadam({ beta2: -0.5 }), /Nadam: beta2 must be in \[0, 1\), received -0\.5/],
    ['Adamax beta1', () => new Adamax({ beta1: 1.5 }), /Adamax: beta1 .*received 1\.5/],
    ['AdamW beta2', () => new AdamW({ beta2: 1 }), /AdamW: beta2 .*received 1/],
    ['momentum > 1', () => new SGD({ momentum: 1.2 }), /SGD: momentum must be in \[0, 1\], received 1\.2/],
    ['RMSprop momentum', () => new RMSprop({ momentum: -1 }), /RMSprop: momentum .*received -1/],
    ['rho = 1', () => new RMSprop({ rho: 1 }), /RMSprop: rho must be in \[0, 1\), received 1/],
    ['epsilon 0', () => new Adam({ epsilon: 0 }), /Adam: epsilon must be a positive number, received 0/],
    ['epsilon < 0', () => new Adagrad({ epsilon: -1e-7 }), /Adagrad: epsilon .*received -1e-7/],
    ['accumulator < 0', () => new Adagrad({ initialAccumulatorValue: -1 }), /initialAccumulatorValue .*received -1/],
    ['weightDecay < 0', () => new SGD({ weightDecay: -0.1 }), /SGD: weightDecay .*received -0\.1/],
    ['clipnorm 0', () => new SGD({ clipnorm: 0 }), /SGD: clipnorm must be a positive number .*received 0/],
    ['two clips', () => new Adam({ clipnorm: 1, clipvalue: 0.5 }), /only one of clipnorm, clipvalue and globalClipnorm.*clipnorm=1, clipvalue=0\.5/],
    ['nesterov string', () => new SGD({ nesterov: 'yes' as unknown as boolean }), /SGD: nesterov must be a boolean, received "yes"/],
    ['amsgrad number', () => new Adam({ amsgrad: 1 as unknown as boolean }), /Adam: amsgrad must be a boolean, received 1/],
    ['unknown option', () => new Adam({ beta_1: 0.8 } as never), /Adam: unknown option\(s\) 'beta_1'/],
    ['AdamW null decay', () => new AdamW({ weightDecay: null as unknown as number }), /AdamW: weightDecay must be a number, received null/],
  ];
  for (const [what, make, message] of bad) {
    it(what, () => {
      const e = caught(make);
      expect(e.code).toBe('ERR_VALUE');
      expect(e.message).toMatch(message);
    });
  }

  it('apply() checks lengths and segments', () => {
    const opt = new Adam();
    expect(caught(() => opt.apply(new Float32Array(3), new Float32Array(2), [])).message).toMatch(/3 parameters but 2 gradients/);
    expect(caught(() => opt.apply(new Float32Array(3), new Float32Array(3), [{ name: 'k', offset: 0, size: 2 }])).message)
      .toMatch(/segments cover 2 parameters, but the buffer has 3/);
    expect(caught(() => opt.apply(new Float32Array(3), new Float32Array(3), [{ name: 'k', offset: 1, size: 2 }])).message)
      .toMatch(/segment "k" has offset 1 .*expected offset 0/);
    expect(opt.iterations).toBe(0);
  });
});

describe('learning-rate schedules', () => {
  class Halving extends LearningRateSchedule {
    call(step: number): number {
      return 0.1 / 2 ** step;
    }
    getConfig(): Record<string, unknown> {
      return {};
    }
  }

  it('the schedule is read at the step counter, for the update and in currentLearningRate()', () => {
    const opt = new SGD({ learningRate: new Halving() });
    const w = new Float32Array(1);
    const expected = [0, -0.1, -0.15, -0.175];
    for (let k = 0; k < 3; k++) {
      expect(opt.currentLearningRate()).toBeCloseTo(0.1 / 2 ** k, 12);
      opt.apply(w, Float32Array.from([1]), []);
      expect(w[0]).toBeCloseTo(expected[k + 1]!, 6);
    }
    expect(opt.learningRateSchedule).toBeInstanceOf(Halving);
    expect(opt.getConfig().learning_rate).toEqual({ class_name: 'Halving', config: {} });
  });

  it('a number learning rate can be reassigned; a scheduled one cannot', () => {
    const opt = new Adam({ learningRate: 0.01 });
    opt.learningRate = 0.005;
    expect(opt.currentLearningRate()).toBe(0.005);
    expect(caught(() => { opt.learningRate = -1; }).message).toMatch(/received -1/);
    const e = caught(() => { new Adam({ learningRate: new Halving() }).learningRate = 0.1; });
    expect(e.code).toBe('ERR_STATE');
    expect(e.message).toMatch(/Halving schedule/);
  });

  it('a schedule returning a bad value is reported with the step', () => {
    class Broken extends LearningRateSchedule {
      call(step: number): number {
        return step < 1 ? 0.1 : -1;
      }
      getConfig() {
        return {};
      }
    }
    const opt = new RMSprop({ learningRate: new Broken() });
    opt.apply(new Float32Array(2), new Float32Array(2), []);
    expect(caught(() => opt.apply(new Float32Array(2), new Float32Array(2), [])).message)
      .toMatch(/Broken returned learning rate -1 at step 1/);
  });
});

describe('slot state when the trainable weights change (tfjs #4290)', () => {
  const r = rng(7);
  const grad = (n: number) => randArray(r, n, -1, 1);

  it('a weight that stays keeps its state; a new one starts fresh; a resized one restarts', () => {
    // Layout 1: a(3), b(2), c(2). Layout 2: b(2), d(4), c(3): a frozen, d new, c resized.
    const l1: Segment[] = [{ name: 'a', offset: 0, size: 3 }, { name: 'b', offset: 3, size: 2 }, { name: 'c', offset: 5, size: 2 }];
    const l2: Segment[] = [{ name: 'b', offset: 0, size: 2 }, { name: 'd', offset: 2, size: 4 }, { name: 'c', offset: 6, size: 3 }];
    const opt = new Adagrad({ learningRate: 0.1, initialAccumulatorValue: 0.25 });
    // A twin trained on b alone throughout: b's trajectory must not notice the change of layout.
    const twin = new Adagrad({ learningRate: 0.1, initialAccumulatorValue: 0.25 });
    const w1 = randArray(r, 7), bTwin = w1.slice(3, 5);
    for (let k = 0; k < 3; k++) {
      const g = grad(7);
      opt.apply(w1, g, l1);
      twin.apply(bTwin, g.slice(3, 5), [{ name: 'b', offset: 0, size: 2 }]);
    }
    const accBefore = opt.slots.get('accumulator')!.slice();
    const w2 = new Float32Array(9);
    w2.set(w1.subarray(3, 5), 0);
    const g = grad(9);
    opt.apply(w2, g, l2);
    twin.apply(bTwin, g.slice(0, 2), [{ name: 'b', offset: 0, size: 2 }]);
    expectClose(w2.subarray(0, 2), bTwin, 1e-6, 1e-7, 'b after the change');
    const acc = opt.slots.get('accumulator')!;
    // d (new) and c (resized): initial value plus this step's g^2.
    for (let i = 2; i < 9; i++) expect(acc[i]).toBeCloseTo(0.25 + g[i]! * g[i]!, 6);
    expect(acc[0]).toBeCloseTo(accBefore[3]! + g[0]! * g[0]!, 6);
  });

  it('slots are allocated once and reused while the layout is unchanged; reset() clears them', () => {
    const opt = new Adam();
    const segs: Segment[] = [{ name: 'k', offset: 0, size: 4 }];
    opt.apply(new Float32Array(4), grad(4), segs);
    const m = opt.slots.get('momentum');
    opt.apply(new Float32Array(4), grad(4), segs.map((s) => ({ ...s })));
    expect(opt.slots.get('momentum')).toBe(m);
    opt.reset();
    expect(opt.slots.size).toBe(0);
    expect(opt.iterations).toBe(2);
  });

  it('SGD keeps a momentum slot only when it uses momentum', () => {
    const plain = new SGD();
    plain.apply(new Float32Array(2), grad(2), []);
    expect([...plain.slots.keys()]).toEqual([]);
    const heavy = new SGD({ momentum: 0.9 });
    heavy.apply(new Float32Array(2), grad(2), []);
    expect([...heavy.slots.keys()]).toEqual(['momentum']);
    const rms = new RMSprop({ momentum: 0.5, centered: true });
    rms.apply(new Float32Array(2), grad(2), []);
    expect([...rms.slots.keys()]).toEqual(['velocity', 'momentum', 'average_gradient']);
  });
});

describe('ids and configs', () => {
  const defaults: [string, new () => Optimizer, Record<string, unknown>][] = [
    ['sgd', SGD, { name: 'SGD', learning_rate: 0.01, momentum: 0, nesterov: false }],
    ['adam', Adam, { name: 'adam', learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false }],
    ['adamw', AdamW, { name: 'adamw', learning_rate: 0.001, weight_decay: 0.004, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }],
    ['adagrad', Adagrad, { name: 'adagrad', learning_rate: 0.001, initial_accumulator_value: 0.1, epsilon: 1e-7 }],
    ['rmsprop', RMSprop, { name: 'rmsprop', learning_rate: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false }],
    ['adamax', Adamax, { name: 'adamax', learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }],
    ['nadam', Nadam, { name: 'nadam', learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }],
  ];
  for (const [id, cls, config] of defaults) {
    it(`'${id}' and its Keras class name resolve to Keras defaults`, () => {
      const opt = getOptimizer(id);
      expect(opt).toBeInstanceOf(cls);
      expect(getOptimizer(opt.className)).toBeInstanceOf(cls);
      expect(opt.getConfig()).toMatchObject({ clipnorm: null, clipvalue: null, global_clipnorm: null, ...config });
    });
  }

  it('unknown ids list the valid ones', () => {
    const e = caught(() => getOptimizer('adadelta'));
    expect(e.code).toBe('ERR_UNKNOWN_ID');
    expect(e.message).toMatch(/received "adadelta".*'adam'/);
  });

  it('getConfig round-trips through optimizerFromConfig', () => {
    const made = [
      new SGD({ learningRate: 0.2, momentum: 0.5, nesterov: true, clipvalue: 1 }),
      new RMSprop({ rho: 0.8, centered: true, globalClipnorm: 2, weightDecay: 0.01, name: 'my_rms' }),
      new Adam({ amsgrad: true, beta1: 0.8, clipnorm: 1 }),
      new AdamW({ weightDecay: 0.1 }),
      new Adagrad({ initialAccumulatorValue: 0.5 }),
      new Adamax({ epsilon: 1e-3 }),
      new Nadam({ beta2: 0.99 }),
      new SGD({ learningRate: optimizers.schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 }) }),
    ];
    for (const opt of made) {
      const again = optimizerFromConfig(opt.className, opt.getConfig());
      expect(again.constructor).toBe(opt.constructor);
      expect(again.getConfig()).toEqual(opt.getConfig());
    }
    expect(caught(() => optimizerFromConfig('Adam', { beta_3: 1 })).message).toMatch(/unsupported config key "beta_3"/);
  });

  it('reads a Keras 3 Adam config; options we lack are accepted only when off', () => {
    const keras = {
      name: 'adam', learning_rate: 0.002, weight_decay: null, clipnorm: null, global_clipnorm: null, clipvalue: 0.5,
      use_ema: false, ema_momentum: 0.99, ema_overwrite_frequency: null, loss_scale_factor: null,
      gradient_accumulation_steps: null, beta_1: 0.8, beta_2: 0.99, epsilon: 1e-7, amsgrad: false,
    };
    const opt = optimizerFromConfig('Adam', keras) as Adam;
    expect([opt.learningRate, opt.clipvalue, opt.beta1, opt.beta2]).toEqual([0.002, 0.5, 0.8, 0.99]);
    expect(caught(() => optimizerFromConfig('Adam', { ...keras, use_ema: true })).message).toMatch(/use_ema" = true/);
  });

  it('factories build each optimizer', () => {
    expect(optimizers.adam({ learningRate: 0.01 })).toBeInstanceOf(Adam);
    expect(optimizers.adamw()).toBeInstanceOf(AdamW);
    expect(optimizers.adagrad()).toBeInstanceOf(Adagrad);
    expect(optimizers.rmsprop()).toBeInstanceOf(RMSprop);
    expect(optimizers.adamax()).toBeInstanceOf(Adamax);
    expect(optimizers.nadam()).toBeInstanceOf(Nadam);
    expect(optimizers.sgd()).toBeInstanceOf(SGD);
  });
});

describe('training a Sequential', () => {
  // y = x W + b + small noise: a linear regression every optimizer should make progress on.
  function problem(): [Tensor, Tensor] {
    const r = rng(11);
    const n = 128, d = 4;
    const W = [0.5, -1, 2, 0.25], b = 0.3;
    const x = randArray(r, n * d, -1, 1);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let s = b;
      for (let j = 0; j < d; j++) s += x[i * d + j]! * W[j]!;
      y[i] = s + 0.01 * (r() - 0.5);
    }
    return [new Tensor(x, [n, d]), new Tensor(y, [n, 1])];
  }
  const [x, y] = problem();
  const cases: [string, () => Optimizer][] = [
    ['sgd', () => new SGD({ learningRate: 0.05, momentum: 0.9 })],
    ['adam', () => new Adam({ learningRate: 0.01 })],
    ['adamw', () => new AdamW({ learningRate: 0.01 })],
    ['adagrad', () => new Adagrad({ learningRate: 0.1 })],
    ['rmsprop', () => new RMSprop({ learningRate: 0.01 })],
    ['adamax', () => new Adamax({ learningRate: 0.02 })],
    ['nadam', () => new Nadam({ learningRate: 0.01 })],
  ];
  for (const [id, make] of cases) {
    it(`${id}: loss decreases`, async () => {
      setSeed(3);
      const model = new Sequential([layers.dense({ units: 8, activation: 'tanh', inputShape: [4] }), layers.dense({ units: 1 })]);
      model.compile({ optimizer: make(), loss: 'meanSquaredError' });
      const before = model.evaluate(x, y).loss!;
      const history = await model.fit(x, y, { epochs: 15, batchSize: 16, verbose: 0 });
      const after = model.evaluate(x, y).loss!;
      expect(after).toBeLessThan(0.5 * before);
      const losses = history.history.loss as number[];
      expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    });
  }

  it('compile() accepts every optimizer id', () => {
    for (const id of ['adam', 'AdamW', 'rmsprop', 'adagrad', 'adamax', 'nadam', 'sgd'] as const) {
      const model = new Sequential([layers.dense({ units: 1, inputShape: [4] })]);
      model.compile({ optimizer: id, loss: 'meanSquaredError' });
      expect(model.optimizer!.className.toLowerCase()).toBe(id.toLowerCase());
    }
  });
});
