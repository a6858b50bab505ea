/**
 * Public API error cases: each throws the right DeepnodeError subclass with its stable `code`, and
 * a message that says where, what was expected and what was received. Also checks that Keras's
 * snake_case ids are accepted wherever camelCase ones are.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '../src/tensor';
import { Sequential } from '../src/models/sequential';
import { Dense, Activation } from '../src/layers';
import { SGD, getOptimizer } from '../src/optimizers';
import { getLoss, SparseCategoricalCrossentropy } from '../src/losses';
import { getMetric } from '../src/metrics';
import { getInitializer, HeNormal, GlorotUniform } from '../src/initializers';
import { getActivation } from '../src/activations';
import { softmax } from '../src/ops';
import { ActId } from '../src/backend/native';
import { DeepnodeError, ShapeError, StateError, ValueError } from '../src/errors';

type ErrorClass = typeof ShapeError | typeof StateError | typeof ValueError;

/** Expect fn to throw (or reject with) `cls` with `code`, the message containing every part. */
async function expectError(fn: () => unknown, cls: ErrorClass, code: string, ...parts: (string | RegExp)[]): Promise<void> {
  let err: unknown = null;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').not.toBeNull();
  expect(err).toBeInstanceOf(cls);
  expect(err).toBeInstanceOf(DeepnodeError);
  const e = err as DeepnodeError;
  expect(e.code).toBe(code);
  expect(e.name).toBe(cls.name);
  for (const p of parts) expect(e.message).toMatch(typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
}

function compiled(units = 3, inputDim = 4): Sequential {
  const m = new Sequential([
    new Dense({ units: 5, activation: 'relu', inputShape: [inputDim], name: `hidden_${units}_${inputDim}` }),
    new Dense({ units, activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

const x4 = (n: number) => new Tensor(Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(i)), [n, 4]);
const labels = (...v: number[]) => new Tensor(Float32Array.from(v), [v.length]);

describe('shapes', () => {
  it('Dense called on the wrong input names the layer, the expected and the received shape', async () => {
    const layer = new Dense({ units: 3, name: 'dense_shape_check' });
    layer.build([null, 300]);
    await expectError(
      () => layer.call(new Tensor(new Float32Array(32 * 784), [32, 784]), { training: false }),
      ShapeError,
      'ERR_SHAPE',
      'Dense "dense_shape_check": expected input with last dimension 300, received shape [32, 784]',
    );
  });

  it('a model given inputs of the wrong shape names its first layer and both shapes', async () => {
    const m = compiled();
    await expectError(() => m.predict(new Tensor(new Float32Array(10), [2, 5])), ShapeError, 'ERR_SHAPE', 'Dense "hidden_3_4"', '(None, 4)', '[2, 5]');
    await expectError(() => m.fit(new Tensor(new Float32Array(10), [2, 5]), labels(0, 1), { verbose: 0 }), ShapeError, 'ERR_SHAPE', '(None, 4)', '[2, 5]');
  });

  it('x and y with different sample counts', async () => {
    const m = compiled();
    await expectError(() => m.fit(x4(6), labels(0, 1, 2), { verbose: 0 }), ShapeError, 'ERR_SHAPE', 'x has 6 samples', 'y has shape [3]');
    await expectError(() => m.evaluate(x4(2), labels(0, 1, 2)), ShapeError, 'ERR_SHAPE', 'x has 2 samples');
  });

  it('a loss given predictions and targets of different sizes', async () => {
    await expectError(
      () => getLoss('mse').compute(new Tensor(new Float32Array(6), [2, 3]), new Tensor(new Float32Array(4), [2, 2])),
      ShapeError,
      'ERR_SHAPE',
      '[2,3]',
      '[2,2]',
    );
  });
});

describe('labels and values', () => {
  it('fit with a sparse label out of range names the label value and its index', async () => {
    const m = compiled(3);
    await expectError(() => m.fit(x4(6), labels(0, 1, 2, 0, 1, 3), { verbose: 0 }), ValueError, 'ERR_VALUE', 'label 3 at index 5', '[0, 3)');
    await expectError(() => m.fit(x4(2), labels(0, -1), { verbose: 0 }), ValueError, 'ERR_VALUE', 'label -1 at index 1');
    await expectError(() => m.fit(x4(2), labels(0.5, 1), { verbose: 0 }), ValueError, 'ERR_VALUE', 'label 0.5 at index 0');
    await expectError(() => m.evaluate(x4(2), labels(0, 7)), ValueError, 'ERR_VALUE', 'label 7 at index 1');
  });

  it('the sparse CE loss itself rejects bad labels the same way on the fused and the plain path', async () => {
    const z = new Tensor(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const loss = new SparseCategoricalCrossentropy();
    await expectError(() => loss.compute(softmax(z), labels(0, 3)), ValueError, 'ERR_VALUE', 'label at index 1 is 3');
    await expectError(() => new SparseCategoricalCrossentropy(true).compute(z, labels(-2, 0)), ValueError, 'ERR_VALUE', 'label at index 0 is -2');
    const p = new Tensor(Float32Array.from([0.2, 0.3, 0.5, 0.1, 0.1, 0.8]), [2, 3]);
    await expectError(() => loss.compute(p, labels(0, 3)), ValueError, 'ERR_VALUE', 'label at index 1 is 3');
  });

  it('NaN or Inf in x or y names the flat index and the sample', async () => {
    const m = compiled();
    const x = x4(5);
    x.data[13] = NaN;
    await expectError(() => m.fit(x, labels(0, 1, 2, 0, 1), { verbose: 0 }), ValueError, 'ERR_NON_FINITE', 'fit x', 'NaN', 'flat index 13', 'sample 3');
    const y = labels(0, 1, 2, Infinity, 1);
    await expectError(() => m.fit(x4(5), y, { verbose: 0 }), ValueError, 'ERR_NON_FINITE', 'fit y', 'Infinity', 'index 3');
    const xp = x4(2);
    xp.data[2] = -Infinity;
    await expectError(() => m.predict(xp), ValueError, 'ERR_NON_FINITE', 'predict x', 'flat index 2');
  });

  it('non-float data is ERR_DTYPE: Int32Array, Float64Array, strings in nested arrays', async () => {
    const m = compiled();
    await expectError(() => m.fit(new Int32Array(8) as unknown as Float32Array, labels(0, 1), { verbose: 0 }), ValueError, 'ERR_DTYPE', 'Int32Array(8)', 'Float32Array.from');
    await expectError(() => m.predict(new Float64Array(8) as unknown as Float32Array), ValueError, 'ERR_DTYPE', 'Float64Array');
    await expectError(() => m.predict([[1, 2, 3, '4']] as unknown as number[][]), ValueError, 'ERR_DTYPE', 'element [0][3]', '"4"');
    await expectError(() => new Tensor(new Int32Array(4) as unknown as Float32Array, [4]), ValueError, 'ERR_DTYPE', 'Int32Array(4)');
  });

  it('empty data', async () => {
    const m = compiled();
    await expectError(() => m.fit(new Tensor(new Float32Array(0), [0, 4]), labels(), { verbose: 0 }), ValueError, 'ERR_VALUE', 'x is empty');
    await expectError(() => m.evaluate([], []), ValueError, 'ERR_VALUE', 'empty');
  });
});

describe('state', () => {
  it('fit and evaluate before compile throw StateError', async () => {
    const m = new Sequential([new Dense({ units: 2, inputShape: [4] })]);
    await expectError(() => m.fit(x4(2), labels(0, 1), { verbose: 0 }), StateError, 'ERR_STATE', 'fit() called before compile()');
    await expectError(() => m.evaluate(x4(2), labels(0, 1)), StateError, 'ERR_STATE', 'evaluate() called before compile()');
  });

  it('a layer called before it is built', async () => {
    await expectError(() => new Dense({ units: 2, name: 'unbuilt' }).call(x4(1), { training: false }), StateError, 'ERR_STATE', 'Dense "unbuilt"', 'before it was built');
  });
});

describe('unknown string ids list the valid ones', () => {
  it.each([
    ['activation', () => new Dense({ units: 2, activation: 'relux' as never }), 'relux', ["'relu'", "'softmax'", "'leakyRelu'"]],
    ['Activation layer', () => new Activation({ activation: 'swishy' as never }), 'swishy', ["'silu'"]],
    ['initializer', () => new Dense({ units: 2, kernelInitializer: 'he_normalx' as never }), 'he_normalx', ["'heNormal'", "'glorotUniform'"]],
    ['loss', () => getLoss('hinge_loss'), 'hinge_loss', ["'sparseCategoricalCrossentropy'", "'meanSquaredError'"]],
    ['metric', () => getMetric('f1', 'mean_squared_error'), 'f1', ["'accuracy'", "'binaryAccuracy'"]],
    ['optimizer', () => getOptimizer('not_an_optimizer'), 'not_an_optimizer', ["'sgd'"]],
    ['compile optimizer', () => new Sequential().compile({ optimizer: 'sgdx' as never, loss: 'mse' }), 'sgdx', ["'sgd'"]],
  ] as const)('%s', async (_what, fn, received, valid) => {
    await expectError(fn, ValueError, 'ERR_UNKNOWN_ID', `received "${received}"`, 'Valid values:', ...valid);
  });
});

describe('option ranges', () => {
  it('Dense units must be a positive integer (Keras: "Received: units=0")', async () => {
    await expectError(() => new Dense({ units: 0 }), ValueError, 'ERR_VALUE', 'units=0');
    await expectError(() => new Dense({ units: 2.5 }), ValueError, 'ERR_VALUE', 'units=2.5');
    await expectError(() => new Dense({ units: -3 }), ValueError, 'ERR_VALUE', 'units=-3');
  });

  it('batchSize = 0, epochs = -1, validationSplit = 1.5 or -0.1, verbose = 3', async () => {
    const m = compiled();
    const x = x4(4), y = labels(0, 1, 2, 0);
    await expectError(() => m.fit(x, y, { batchSize: 0, verbose: 0 }), ValueError, 'ERR_VALUE', 'batchSize', 'received 0');
    await expectError(() => m.fit(x, y, { epochs: -1, verbose: 0 }), ValueError, 'ERR_VALUE', 'epochs', 'received -1');
    await expectError(() => m.fit(x, y, { validationSplit: 1.5, verbose: 0 }), ValueError, 'ERR_VALUE', 'validationSplit must be in [0, 1)', 'received 1.5');
    await expectError(() => m.fit(x, y, { validationSplit: -0.1, verbose: 0 }), ValueError, 'ERR_VALUE', 'validationSplit');
    await expectError(() => m.fit(x, y, { verbose: 3 as never }), ValueError, 'ERR_VALUE', 'verbose');
    await expectError(() => m.evaluate(x, y, { batchSize: 0 }), ValueError, 'ERR_VALUE', 'batchSize');
    await expectError(() => m.predict(x, { batchSize: 1.5 }), ValueError, 'ERR_VALUE', 'batchSize');
  });

  it('SGD learning rate and momentum ranges', async () => {
    await expectError(() => new SGD({ learningRate: -1 }), ValueError, 'ERR_VALUE', 'learningRate', '-1');
    await expectError(() => new SGD({ learningRate: NaN }), ValueError, 'ERR_VALUE', 'learningRate');
    await expectError(() => new SGD({ momentum: 1.5 }), ValueError, 'ERR_VALUE', 'momentum', '1.5');
  });

  it('initializer options', async () => {
    await expectError(() => new HeNormal({ seed: NaN }), ValueError, 'ERR_VALUE', 'seed');
  });
});

describe('Keras snake_case ids are accepted', () => {
  it('initializers, activations, losses, metrics', () => {
    expect(getInitializer('he_normal')).toBeInstanceOf(HeNormal);
    expect(getInitializer('glorot_uniform')).toBeInstanceOf(GlorotUniform);
    expect(getInitializer('HeNormal')).toBeInstanceOf(HeNormal);
    expect(getActivation('leaky_relu').id).toBe(ActId.LeakyRelu);
    expect(getActivation('hard_sigmoid').id).toBe(ActId.HardSigmoid);
    expect(getLoss('sparse_categorical_crossentropy').name).toBe('sparse_categorical_crossentropy');
    expect(getLoss('categorical_crossentropy').name).toBe('categorical_crossentropy');
    expect(getLoss('mse').name).toBe('mean_squared_error');
    expect(getMetric('sparse_categorical_accuracy', 'mse').name).toBe('sparse_categorical_accuracy');
    expect(getOptimizer('SGD')).toBeInstanceOf(SGD);
  });

  it('a model compiled and built entirely from snake_case ids trains', async () => {
    const m = new Sequential([
      new Dense({ units: 4, activation: 'leaky_relu', kernelInitializer: 'he_normal', biasInitializer: 'zeros', inputShape: [4] }),
      new Dense({ units: 3, activation: 'softmax', kernelInitializer: 'glorot_uniform' }),
    ]);
    m.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy', metrics: ['sparse_categorical_accuracy'] });
    const h = await m.fit(x4(6), labels(0, 1, 2, 0, 1, 2), { epochs: 2, verbose: 0 });
    expect(h.history.sparse_categorical_accuracy).toHaveLength(2);
    expect(h.history.loss!.every(Number.isFinite)).toBe(true);
  });
});
