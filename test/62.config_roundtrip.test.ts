/**
 * Config round-trips: every layer class getConfig -> (JSON) -> layerFromConfig gives the same
 * config and, after copying the weights, the same outputs; every initializer (each
 * VarianceScaling mode and distribution), regularizer and constraint getConfig ->
 * get*({ class_name, config }) gives the same object. Configs written by Keras itself (Keras 3
 * with module/registered_name keys, Keras 2's LeakyReLU alpha) are read too.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor';
import {
  Activation, Dense, ELU, Flatten, Layer, LeakyReLU, PReLU, ReLU, RReLU, Softmax,
  layerFromConfig, registerLayer, registeredLayers, serializeLayer,
} from '../src/layers';
import {
  Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, Initializer, LecunNormal, LecunUniform, Ones,
  Orthogonal, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, Zeros, getInitializer, serializeInitializer,
} from '../src/initializers';
import { L1, L1L2, L2, getRegularizer, serializeRegularizer } from '../src/regularizers';
import { MaxNorm, MinMaxNorm, NonNeg, UnitNorm, getConstraint, serializeConstraint } from '../src/constraints';
import { caught, randArray, rng } from './support/reference';

const r = rng(62);

/** [layer, input shape with batch] for every layer class we know, with non-default options. */
function layers(): [Layer, number[]][] {
  return [
    [new Dense({ units: 3, activation: 'tanh', inputShape: [4] }), [5, 4]],
    [
      new Dense({
        units: 2, activation: 'gelu_approximate', useBias: true,
        kernelInitializer: { class_name: 'VarianceScaling', config: { scale: 2, mode: 'fan_out', distribution: 'uniform', seed: 3 } },
        biasInitializer: 'ones',
        kernelRegularizer: new L1L2({ l1: 0.001, l2: 0.002 }), biasRegularizer: 'l2', activityRegularizer: new L1(0.5),
        kernelConstraint: new MaxNorm({ maxValue: 3, axis: [0] }), biasConstraint: 'non_neg',
      }),
      [5, 4],
    ],
    [new Dense({ units: 2, useBias: false, kernelInitializer: 'orthogonal', name: 'no_bias', trainable: false }), [3, 6]],
    [new Flatten({ batchInputShape: [null, 2, 3] }), [4, 2, 3]],
    [new Activation({ activation: 'mish' }), [3, 5]],
    [new Activation({ activation: 'softmax' }), [3, 5]],
    [new LeakyReLU({ negativeSlope: 0.15 }), [3, 5]],
    [new PReLU(), [3, 5]],
    [
      new PReLU({
        sharedAxes: [1], alphaInitializer: new RandomUniform({ minval: 0, maxval: 0.5, seed: 4 }),
        alphaRegularizer: new L2(0.1), alphaConstraint: new MinMaxNorm({ minValue: 0.1, maxValue: 0.4, rate: 0.5 }),
      }),
      [2, 3, 4],
    ],
    [new RReLU({ lower: 0.05, upper: 0.2, seed: 9 }), [3, 5]],
    [new ELU({ alpha: 0.4 }), [3, 5]],
    [new ReLU({ maxValue: 1.5, negativeSlope: 0.1, threshold: 0.2 }), [3, 5]],
    [new ReLU(), [3, 5]],
    [new Softmax({ axis: 1 }), [2, 3, 4]],
    [new Softmax({ axis: [1, 2] }), [2, 3, 4]],
  ];
}

describe('layers: getConfig -> layerFromConfig', () => {
  it('covers every class it registers', () => {
    const covered = new Set(layers().map(([l]) => l.className));
    for (const name of ['Dense', 'Flatten', 'Activation', 'LeakyReLU', 'PReLU', 'RReLU', 'ELU', 'ReLU', 'Softmax']) {
      expect(registeredLayers()).toContain(name);
      expect(covered.has(name), name).toBe(true);
    }
  });

  for (const [index, [original, shape]] of layers().entries()) {
    it(`${original.className} #${index}: same config, same outputs after copying weights`, () => {
      const config = original.getConfig();
      const json = JSON.parse(JSON.stringify(serializeLayer(original))) as { class_name: string; config: Record<string, unknown> };
      expect(json.class_name).toBe(original.className);
      const copy = layerFromConfig(json);
      expect(copy.constructor).toBe(original.constructor);
      expect(copy.getConfig()).toEqual(config);
      expect(copy.trainable).toBe(original.trainable);

      original.build([null, ...shape.slice(1)]);
      copy.build([null, ...shape.slice(1)]);
      expect(copy.weights.map((w) => w.shape)).toEqual(original.weights.map((w) => w.shape));
      // Perturb the originals so the comparison does not rest on equal initial values.
      const values = original.getWeights().map((w) => new Tensor(randArray(r, w.size, -1, 1), w.shape));
      original.setWeights(values);
      copy.setWeights(original.getWeights());
      const x = new Tensor(randArray(r, shape.reduce((p, q) => p * q, 1), -3, 3), shape);
      const a = original.call(x, { training: false });
      const b = copy.call(x, { training: false });
      expect(Array.from(b.data)).toEqual(Array.from(a.data));
      // Regularizers and constraints came back too.
      expect(copy.regularizationLosses().map((t) => t.data[0])).toEqual(original.regularizationLosses().map((t) => t.data[0]));
    });
  }

  it('RReLU: a copy with the same seed draws the same training slopes', () => {
    const a = new RReLU({ seed: 21 });
    const b = layerFromConfig(serializeLayer(a));
    const x = new Tensor(randArray(r, 50, -2, 0), [5, 10]);
    expect(Array.from(b.call(x, { training: true }).data)).toEqual(Array.from(a.call(x, { training: true }).data));
  });

  it('reads configs written by Keras 3 (module / registered_name / dtype keys)', () => {
    const keras3 = {
      class_name: 'Dense',
      config: {
        name: 'dense_7', trainable: true,
        dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null },
        units: 4, activation: 'relu', use_bias: true,
        kernel_initializer: { module: 'keras.initializers', class_name: 'HeNormal', config: { seed: 12 }, registered_name: null },
        bias_initializer: { module: 'keras.initializers', class_name: 'Zeros', config: {}, registered_name: null },
        kernel_regularizer: { module: 'keras.regularizers', class_name: 'L2', config: { l2: 0.01 }, registered_name: null },
        bias_regularizer: null,
        kernel_constraint: { module: 'keras.constraints', class_name: 'MaxNorm', config: { max_value: 2, axis: 0 }, registered_name: null },
        bias_constraint: null,
      },
    };
    const d = layerFromConfig(keras3) as Dense;
    expect(d.name).toBe('dense_7');
    expect(d.units).toBe(4);
    expect(d.activation.name).toBe('relu');
    expect(d.kernelInitializer).toBeInstanceOf(HeNormal);
    expect(d.kernelInitializer.getConfig()).toEqual({ seed: 12 });
    expect(d.kernelRegularizer).toBeInstanceOf(L2);
    expect(d.kernelConstraint).toBeInstanceOf(MaxNorm);
    expect(d.biasRegularizer).toBeNull();
    expect(d.biasConstraint).toBeNull();
    const prelu = layerFromConfig({
      class_name: 'PReLU',
      config: {
        name: 'p', trainable: true,
        alpha_initializer: { module: 'keras.initializers', class_name: 'Constant', config: { value: 0.25 }, registered_name: null },
        alpha_regularizer: null, alpha_constraint: null, shared_axes: [1, 2],
      },
    }) as PReLU;
    prelu.build([null, 4, 4, 3]);
    expect(prelu.alpha!.shape).toEqual([1, 1, 3]);
    expect(Array.from(prelu.alpha!.data)).toEqual([0.25, 0.25, 0.25]);
  });

  it("reads Keras 2's LeakyReLU config (alpha) and batch_input_shape", () => {
    const l = layerFromConfig({
      class_name: 'LeakyReLU',
      config: { name: 'leaky_re_lu', trainable: true, dtype: 'float32', alpha: 0.2, batch_input_shape: [null, 7] },
    }) as LeakyReLU;
    expect(l.negativeSlope).toBe(0.2);
    expect(l.batchInputShape).toEqual([null, 7]);
    expect(l.getConfig()).toEqual({ name: 'leaky_re_lu', trainable: true, batch_input_shape: [null, 7], negative_slope: 0.2 });
  });

  it('unknown class names list the registered ones; the registry is open', () => {
    const e = caught(() => layerFromConfig({ class_name: 'Conv9D', config: {} }));
    expect(e.code).toBe('ERR_UNKNOWN_ID');
    expect(e.message).toContain('Conv9D');
    expect(e.message).toContain("'Dense'");
    expect(caught(() => registerLayer('Dense', (c) => new Dense({ units: c.units as number }))).code).toBe('ERR_VALUE');
    class Twice extends Layer {
      override get className(): string {
        return 'Twice';
      }
      call(x: Tensor): Tensor {
        return new Tensor(x.data.map((v) => 2 * v), x.shape);
      }
      computeOutputShape(s: readonly (number | null)[]) {
        return s;
      }
    }
    registerLayer('Twice', (c) => new Twice({ name: c.name as string }));
    const t = layerFromConfig({ class_name: 'Twice', config: { name: 'tw' } });
    expect(t).toBeInstanceOf(Twice);
    expect(t.name).toBe('tw');
    expect(caught(() => layerFromConfig({ class_name: 'Dense', config: { units: 0 } })).message).toContain('units=0');
  });
});

describe('initializers, regularizers, constraints: { class_name, config } round trips', () => {
  const initializers: Initializer[] = [
    new GlorotUniform({ seed: 1 }), new GlorotNormal({ seed: 2 }), new HeUniform({ seed: 3 }), new HeNormal({ seed: 4 }),
    new LecunUniform({ seed: 5 }), new LecunNormal({ seed: 6 }), new Zeros(), new Ones(), new Constant(0.7),
    new RandomNormal({ mean: 1, stddev: 0.2, seed: 7 }), new RandomUniform({ minval: -2, maxval: 3, seed: 8 }),
    new TruncatedNormal({ mean: -1, stddev: 0.3, seed: 9 }), new Orthogonal({ gain: 1.3, seed: 10 }), new Identity({ gain: 0.5 }),
    new GlorotUniform(),
  ];
  for (const mode of ['fanIn', 'fanOut', 'fanAvg'] as const) {
    for (const distribution of ['truncatedNormal', 'untruncatedNormal', 'uniform'] as const) {
      initializers.push(new VarianceScaling({ scale: 1.7, mode, distribution, seed: 11 }));
    }
  }

  for (const init of initializers) {
    it(`${init.className} ${JSON.stringify(init.getConfig())}`, () => {
      const json = JSON.parse(JSON.stringify(serializeInitializer(init))) as { class_name: string; config: Record<string, unknown> };
      const back = getInitializer(json);
      expect(back.className).toBe(init.className);
      expect(back.constructor).toBe(init.constructor);
      expect(back.getConfig()).toEqual(init.getConfig());
      // Seeded (or deterministic) ones generate the same values.
      const seed = init.getConfig().seed;
      if (seed !== null) expect(Array.from(back.generate([4, 3]))).toEqual(Array.from(init.generate([4, 3])));
    });
  }

  it('VarianceScaling configs use Keras spellings', () => {
    expect(new VarianceScaling({ mode: 'fanAvg', distribution: 'untruncatedNormal' }).getConfig()).toEqual({
      scale: 1, mode: 'fan_avg', distribution: 'untruncated_normal', seed: null,
    });
    expect(getInitializer({ class_name: 'variance_scaling', config: { mode: 'fan_out' } })).toBeInstanceOf(VarianceScaling);
    const e = caught(() => getInitializer({ class_name: 'Xavier', config: {} }));
    expect(e.code).toBe('ERR_UNKNOWN_ID');
    expect(e.message).toContain("'Orthogonal'");
  });

  it('regularizers and constraints', () => {
    for (const reg of [new L1(0.3), new L2(0.02), new L1L2({ l1: 0.1, l2: 0.2 })]) {
      const back = getRegularizer(JSON.parse(JSON.stringify(serializeRegularizer(reg))))!;
      expect(back.constructor).toBe(reg.constructor);
      expect(back.getConfig()).toEqual(reg.getConfig());
    }
    for (const c of [new MaxNorm({ maxValue: 3, axis: 1 }), new NonNeg(), new UnitNorm({ axis: [0, 1] }), new MinMaxNorm({ minValue: 0.5, maxValue: 2, rate: 0.3, axis: -1 })]) {
      const back = getConstraint(JSON.parse(JSON.stringify(serializeConstraint(c))))!;
      expect(back.constructor).toBe(c.constructor);
      expect(back.getConfig()).toEqual(c.getConfig());
    }
  });
});
