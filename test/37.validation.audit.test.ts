/**
 * Validation audit of the whole public API (issue 6 part 7): one table, at least one row per public
 * factory, class or function exported from src/index.ts, each giving a bad input and the error it
 * must produce: the DeepnodeError subclass, its stable `code`, and message fragments that name the
 * layer/option and echo the received value. Rows cover misspelt option names (Keras raises on
 * unknown keyword arguments), wrong types, NaN/Infinity/negative values and unknown enum strings.
 *
 * Rows marked `pending` are Sequential's and fail today; they run as `it.fails` so the file turns red
 * the day they are fixed, telling whoever fixes them to drop the mark.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DeepnodeError, ShapeError, StateError, ValueError, IOError, Tensor, Sequential, setNumThreads, setSeed, mcPredict,
  cloneModel, loadModel, layers, optimizers, losses, metrics, initializers, regularizers, constraints, activations,
  callbacks, datasets, ops, inference, saving,
} from '../src/index';

type ErrorClass = typeof ShapeError | typeof StateError | typeof ValueError | typeof IOError;

interface Row {
  /** The entry point, as a user would write it. */
  entry: string;
  /** What is wrong with the input. */
  bad: string;
  call: () => unknown;
  cls: ErrorClass;
  code: string;
  /** Fragments the message must contain (the place, the option, the received value). */
  message: string[];
  /** Known gap in a file owned by someone else (Sequential): expected to fail until fixed. */
  pending?: boolean;
}

let work = '';
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-37-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const x4 = () => new Tensor(new Float32Array(8), [2, 4]);
const y3 = () => new Tensor(Float32Array.of(0, 1), [2]);
function model(): Sequential {
  const m = new Sequential([
    layers.dense({ units: 5, activation: 'relu', inputShape: [4], name: 'audit_hidden' }),
    layers.batchNormalization({ name: 'audit_bn' }),
    layers.dropout({ rate: 0.5, name: 'audit_drop' }),
    layers.dense({ units: 3, activation: 'softmax', name: 'audit_out' }),
  ]);
  return m;
}
function compiled(): Sequential {
  const m = model();
  m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  return m;
}
const bad = <T>(v: unknown) => v as T;
const V = ValueError;
const S = ShapeError;
const ST = StateError;

const rows: Row[] = [
  // --- Tensor and globals
  { entry: 'new Tensor', bad: 'data not a Float32Array', call: () => new Tensor(bad([1, 2]), [2]), cls: V, code: 'ERR_DTYPE', message: ['Tensor', 'Float32Array', 'received [1, 2]'] },
  { entry: 'new Tensor', bad: 'shape does not fit data', call: () => new Tensor(new Float32Array(6), [2, 2]), cls: S, code: 'ERR_SHAPE', message: ['Tensor', '[2, 2]', 'length 6'] },
  { entry: 'new Tensor', bad: 'negative dimension', call: () => new Tensor(new Float32Array(0), [-1, 0]), cls: S, code: 'ERR_SHAPE', message: ['Tensor', '[-1, 0]'] },
  { entry: 'new Tensor', bad: 'shape not an array', call: () => new Tensor(new Float32Array(4), bad(4)), cls: S, code: 'ERR_SHAPE', message: ['Tensor', 'shape', 'received 4'] },
  { entry: 'setNumThreads', bad: '0', call: () => setNumThreads(0), cls: V, code: 'ERR_VALUE', message: ['setNumThreads', 'an integer from 1 to 1024', 'received 0'] },
  { entry: 'setNumThreads', bad: 'string', call: () => setNumThreads(bad('4')), cls: V, code: 'ERR_VALUE', message: ['setNumThreads', 'received "4"'] },
  { entry: 'setSeed', bad: 'NaN', call: () => setSeed(NaN), cls: V, code: 'ERR_VALUE', message: ['seed must be an integer', 'NaN'] },

  // --- layers: every factory, misspelt options first
  { entry: 'layers.dense', bad: 'misspelt units', call: () => layers.dense(bad({ unit: 10 })), cls: V, code: 'ERR_VALUE', message: ["Dense: unknown option(s) 'unit'", 'unit=10', "did you mean 'units'"] },
  { entry: 'layers.dense', bad: 'units 0', call: () => layers.dense({ units: 0, name: 'd0' }), cls: V, code: 'ERR_VALUE', message: ['Dense "d0"', 'units must be a positive integer', 'units=0'] },
  { entry: 'layers.dense', bad: 'units string', call: () => layers.dense({ units: bad('10') }), cls: V, code: 'ERR_VALUE', message: ['Dense', 'units="10"'] },
  { entry: 'layers.dense', bad: 'units Infinity', call: () => layers.dense({ units: Infinity }), cls: V, code: 'ERR_VALUE', message: ['units=Infinity'] },
  { entry: 'layers.dense', bad: 'unknown activation', call: () => layers.dense({ units: 2, activation: bad('relux') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"relux"', "'relu'"] },
  { entry: 'layers.dense', bad: 'unknown initializer', call: () => layers.dense({ units: 2, kernelInitializer: bad('glorot') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"glorot"', "'glorotUniform'"] },
  { entry: 'layers.dense', bad: 'unknown regularizer', call: () => layers.dense({ units: 2, kernelRegularizer: bad('l3') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"l3"', "'l2'"] },
  { entry: 'layers.dense', bad: 'unknown constraint', call: () => layers.dense({ units: 2, kernelConstraint: bad('maxnorm2') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"maxnorm2"'] },
  { entry: 'layers.dense', bad: 'useBias not boolean', call: () => layers.dense({ units: 2, useBias: bad('no') }), cls: V, code: 'ERR_VALUE', message: ['Dense', 'useBias', '"no"'] },
  { entry: 'layers.dense', bad: 'inputShape with 0', call: () => layers.dense({ units: 2, inputShape: [0] }), cls: V, code: 'ERR_VALUE', message: ['Dense', 'inputShape', '[0]'] },
  { entry: 'layers.dense', bad: 'batchInputShape not an array', call: () => layers.dense({ units: 2, batchInputShape: bad(5) }), cls: V, code: 'ERR_VALUE', message: ['Dense', 'batchInputShape', 'received 5'] },
  { entry: 'layers.dense', bad: 'trainable not boolean', call: () => layers.dense({ units: 2, trainable: bad(1) }), cls: V, code: 'ERR_VALUE', message: ['Dense', 'trainable', 'trainable=1'] },
  { entry: 'layers.dense', bad: 'empty name', call: () => layers.dense({ units: 2, name: '' }), cls: V, code: 'ERR_VALUE', message: ['Dense', 'name', '""'] },
  { entry: 'layers.dense', bad: 'options not an object', call: () => layers.dense(bad(10)), cls: V, code: 'ERR_VALUE', message: ['Dense', 'received 10'] },
  { entry: 'layers.flatten', bad: 'misspelt name', call: () => layers.flatten(bad({ nmae: 'f' })), cls: V, code: 'ERR_VALUE', message: ["Flatten: unknown option(s) 'nmae'", "did you mean 'name'"] },
  { entry: 'layers.activation', bad: 'unknown activation', call: () => layers.activation({ activation: bad('sigmod') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"sigmod"', "'sigmoid'"] },
  { entry: 'layers.activation', bad: 'misspelt option', call: () => layers.activation(bad({ activaton: 'relu' })), cls: V, code: 'ERR_VALUE', message: ["Activation: unknown option(s) 'activaton'", "did you mean 'activation'"] },
  { entry: 'layers.batchNormalization', bad: 'momentum 1.5', call: () => layers.batchNormalization({ momentum: 1.5 }), cls: V, code: 'ERR_VALUE', message: ['BatchNormalization', 'momentum', '1.5'] },
  { entry: 'layers.batchNormalization', bad: 'epsilon negative', call: () => layers.batchNormalization({ epsilon: -1 }), cls: V, code: 'ERR_VALUE', message: ['BatchNormalization', 'epsilon', '-1'] },
  { entry: 'layers.batchNormalization', bad: 'epsilon NaN', call: () => layers.batchNormalization({ epsilon: NaN }), cls: V, code: 'ERR_VALUE', message: ['epsilon', 'NaN'] },
  { entry: 'layers.batchNormalization', bad: 'misspelt momentum', call: () => layers.batchNormalization(bad({ momentom: 0.9 })), cls: V, code: 'ERR_VALUE', message: ["BatchNormalization: unknown option(s) 'momentom'", 'momentom=0.9', "did you mean 'momentum'"] },
  { entry: 'layers.batchNormalization', bad: 'axis not integer', call: () => layers.batchNormalization({ axis: 0.5 }), cls: V, code: 'ERR_VALUE', message: ['axis', '0.5'] },
  { entry: 'layers.batchNormalization', bad: 'center not boolean', call: () => layers.batchNormalization({ center: bad('yes') }), cls: V, code: 'ERR_VALUE', message: ['BatchNormalization', 'center', '"yes"'] },
  { entry: 'layers.dropout', bad: 'rate 1', call: () => layers.dropout({ rate: 1 }), cls: V, code: 'ERR_VALUE', message: ['Dropout', 'rate', '1'] },
  { entry: 'layers.dropout', bad: 'rate NaN', call: () => layers.dropout({ rate: NaN }), cls: V, code: 'ERR_VALUE', message: ['Dropout', 'rate', 'NaN'] },
  { entry: 'layers.dropout', bad: 'misspelt rate', call: () => layers.dropout(bad({ rat: 0.5 })), cls: V, code: 'ERR_VALUE', message: ["Dropout: unknown option(s) 'rat'", "did you mean 'rate'"] },
  { entry: 'layers.dropout', bad: 'seed Infinity', call: () => layers.dropout({ rate: 0.5, seed: Infinity }), cls: V, code: 'ERR_VALUE', message: ['seed', 'Infinity'] },
  { entry: 'layers.alphaDropout', bad: 'rate negative', call: () => layers.alphaDropout({ rate: -0.1 }), cls: V, code: 'ERR_VALUE', message: ['AlphaDropout', 'rate', '-0.1'] },
  { entry: 'layers.gaussianDropout', bad: 'rate string', call: () => layers.gaussianDropout({ rate: bad('0.1') }), cls: V, code: 'ERR_VALUE', message: ['GaussianDropout', 'rate', '"0.1"'] },
  { entry: 'layers.gaussianNoise', bad: 'stddev 2', call: () => layers.gaussianNoise({ stddev: 2 }), cls: V, code: 'ERR_VALUE', message: ['GaussianNoise', 'stddev', '2'] },
  { entry: 'layers.gaussianNoise', bad: 'misspelt stddev', call: () => layers.gaussianNoise(bad({ stdev: 0.1 })), cls: V, code: 'ERR_VALUE', message: ["GaussianNoise: unknown option(s) 'stdev'", "did you mean 'stddev'"] },
  { entry: 'layers.leakyRelu', bad: 'negative slope', call: () => layers.leakyRelu({ negativeSlope: -1 }), cls: V, code: 'ERR_VALUE', message: ['LeakyReLU', 'negativeSlope=-1'] },
  { entry: 'layers.leakyRelu', bad: 'misspelt option', call: () => layers.leakyRelu(bad({ slope: 0.1 })), cls: V, code: 'ERR_VALUE', message: ["LeakyReLU: unknown option(s) 'slope'", 'slope=0.1'] },
  { entry: 'layers.prelu', bad: 'sharedAxes not integers', call: () => layers.prelu({ sharedAxes: bad(['a']) }), cls: V, code: 'ERR_VALUE', message: ['PReLU', 'sharedAxes', '"a"'] },
  { entry: 'layers.prelu', bad: 'unknown initializer', call: () => layers.prelu({ alphaInitializer: bad('glorot') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"glorot"', "'zeros'"] },
  { entry: 'layers.rrelu', bad: 'lower > upper', call: () => layers.rrelu({ lower: 0.5, upper: 0.1 }), cls: V, code: 'ERR_VALUE', message: ['RReLU', 'lower', '0.5', '0.1'] },
  { entry: 'layers.elu', bad: 'alpha NaN', call: () => layers.elu({ alpha: NaN }), cls: V, code: 'ERR_VALUE', message: ['ELU', 'alpha', 'NaN'] },
  { entry: 'layers.relu', bad: 'maxValue negative', call: () => layers.relu({ maxValue: -1 }), cls: V, code: 'ERR_VALUE', message: ['ReLU', 'maxValue', '-1'] },
  { entry: 'layers.relu', bad: 'misspelt option', call: () => layers.relu(bad({ max_value: 6 })), cls: V, code: 'ERR_VALUE', message: ["ReLU: unknown option(s) 'max_value'", "did you mean 'maxValue'"] },
  { entry: 'layers.softmax', bad: 'axis string', call: () => layers.softmax({ axis: bad('last') }), cls: V, code: 'ERR_VALUE', message: ['Softmax', 'axis', '"last"'] },
  { entry: 'layers.layerFromConfig', bad: 'unknown class', call: () => layers.layerFromConfig({ class_name: 'Conv2D', config: {} }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"Conv2D"', "'Dense'"] },
  { entry: 'inference.QuantizedDense', bad: 'unknown dtype', call: () => new inference.QuantizedDense({ units: 2, dtype: bad('int4') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"int4"', "'int8'"] },
  { entry: 'inference.QuantizedDense', bad: 'misspelt option', call: () => new inference.QuantizedDense(bad({ units: 2, dtype: 'int8', unit: 2 })), cls: V, code: 'ERR_VALUE', message: ["QuantizedDense: unknown option(s) 'unit'"] },

  // --- activations
  { entry: 'activations.getActivation', bad: 'unknown id', call: () => activations.getActivation(bad('tanhh')), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"tanhh"', "'tanh'"] },
  { entry: 'activations.gelu', bad: 'approximate not boolean', call: () => activations.gelu({ approximate: bad('yes') }), cls: V, code: 'ERR_VALUE', message: ['gelu', 'approximate', '"yes"'] },

  // --- initializers
  { entry: 'initializers.getInitializer', bad: 'unknown id', call: () => initializers.getInitializer(bad('heNormall')), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"heNormall"', "'heNormal'"] },
  { entry: 'initializers.varianceScaling', bad: 'unknown mode', call: () => initializers.varianceScaling({ mode: bad('fan_inn') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"fan_inn"', "'fanIn'"] },
  { entry: 'initializers.varianceScaling', bad: 'scale negative', call: () => initializers.varianceScaling({ scale: -1 }), cls: V, code: 'ERR_VALUE', message: ['VarianceScaling', 'scale', '-1'] },
  { entry: 'initializers.varianceScaling', bad: 'misspelt option', call: () => initializers.varianceScaling(bad({ distrbution: 'uniform' })), cls: V, code: 'ERR_VALUE', message: ["VarianceScaling: unknown option(s) 'distrbution'", "did you mean 'distribution'"] },
  { entry: 'initializers.heNormal', bad: 'misspelt seed', call: () => initializers.heNormal(bad({ sead: 1 })), cls: V, code: 'ERR_VALUE', message: ["HeNormal: unknown option(s) 'sead'", "did you mean 'seed'"] },
  { entry: 'initializers.glorotUniform', bad: 'seed NaN', call: () => initializers.glorotUniform({ seed: NaN }), cls: V, code: 'ERR_VALUE', message: ['GlorotUniform', 'seed', 'NaN'] },
  { entry: 'initializers.randomNormal', bad: 'stddev 0', call: () => initializers.randomNormal({ stddev: 0 }), cls: V, code: 'ERR_VALUE', message: ['RandomNormal', 'stddev', '0'] },
  { entry: 'initializers.truncatedNormal', bad: 'mean Infinity', call: () => initializers.truncatedNormal({ mean: Infinity }), cls: V, code: 'ERR_VALUE', message: ['TruncatedNormal', 'mean', 'Infinity'] },
  { entry: 'initializers.randomUniform', bad: 'maxval < minval', call: () => initializers.randomUniform({ minval: 1, maxval: 0 }), cls: V, code: 'ERR_VALUE', message: ['RandomUniform', 'minval=1', 'maxval=0'] },
  { entry: 'initializers.constant', bad: 'value NaN', call: () => initializers.constant({ value: NaN }), cls: V, code: 'ERR_VALUE', message: ['Constant', 'value', 'NaN'] },
  { entry: 'initializers.orthogonal', bad: 'gain Infinity', call: () => initializers.orthogonal({ gain: Infinity }), cls: V, code: 'ERR_VALUE', message: ['Orthogonal', 'gain', 'Infinity'] },
  { entry: 'initializers.identity', bad: 'misspelt gain', call: () => initializers.identity(bad({ gian: 2 })), cls: V, code: 'ERR_VALUE', message: ["Identity: unknown option(s) 'gian'", "did you mean 'gain'"] },

  // --- regularizers and constraints
  { entry: 'regularizers.l2', bad: 'negative factor', call: () => regularizers.l2(-1), cls: V, code: 'ERR_VALUE', message: ['L2', '-1'] },
  { entry: 'regularizers.l1', bad: 'NaN factor', call: () => regularizers.l1(NaN), cls: V, code: 'ERR_VALUE', message: ['L1', 'NaN'] },
  { entry: 'regularizers.l1l2', bad: 'misspelt option', call: () => regularizers.l1l2(bad({ l3: 0.1 })), cls: V, code: 'ERR_VALUE', message: ["L1L2: unknown option(s) 'l3'"] },
  { entry: 'regularizers.getRegularizer', bad: 'unknown id', call: () => regularizers.getRegularizer(bad('l3')), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"l3"', "'l1'"] },
  { entry: 'constraints.maxNorm', bad: 'maxValue negative', call: () => constraints.maxNorm({ maxValue: -1 }), cls: V, code: 'ERR_VALUE', message: ['MaxNorm', 'maxValue', '-1'] },
  { entry: 'constraints.maxNorm', bad: 'misspelt option', call: () => constraints.maxNorm(bad({ max_value: 2 })), cls: V, code: 'ERR_VALUE', message: ["MaxNorm: unknown option(s) 'max_value'", "did you mean 'maxValue'"] },
  { entry: 'constraints.minMaxNorm', bad: 'max < min', call: () => constraints.minMaxNorm({ minValue: 2, maxValue: 1 }), cls: V, code: 'ERR_VALUE', message: ['MinMaxNorm', 'minValue=2', 'maxValue=1'] },
  { entry: 'constraints.unitNorm', bad: 'axis 1.5', call: () => constraints.unitNorm({ axis: 1.5 }), cls: V, code: 'ERR_VALUE', message: ['UnitNorm', 'axis', '1.5'] },
  { entry: 'constraints.getConstraint', bad: 'unknown id', call: () => constraints.getConstraint(bad('nonNegative')), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"nonNegative"', "'non_neg'"] },

  // --- losses and metrics
  { entry: 'losses.getLoss', bad: 'unknown id', call: () => losses.getLoss('mse2'), cls: V, code: 'ERR_UNKNOWN_ID', message: ['loss', '"mse2"', "'meanSquaredError'"] },
  { entry: 'losses.sparseCategoricalCrossentropy', bad: 'fromLogits not boolean', call: () => losses.sparseCategoricalCrossentropy({ fromLogits: bad('yes') }), cls: V, code: 'ERR_VALUE', message: ['SparseCategoricalCrossentropy', 'fromLogits', '"yes"'] },
  { entry: 'losses.categoricalCrossentropy', bad: 'misspelt option', call: () => losses.categoricalCrossentropy(bad({ from_logits: true })), cls: V, code: 'ERR_VALUE', message: ["CategoricalCrossentropy: unknown option(s) 'from_logits'", "did you mean 'fromLogits'"] },
  { entry: 'losses.binaryCrossentropy', bad: 'fromLogits number', call: () => losses.binaryCrossentropy({ fromLogits: bad(1) }), cls: V, code: 'ERR_VALUE', message: ['BinaryCrossentropy', 'fromLogits', '1'] },
  { entry: 'losses.compute', bad: 'labels of another shape', call: () => losses.meanSquaredError().compute(new Tensor(new Float32Array(4), [2, 2]), new Tensor(new Float32Array(3), [3])), cls: S, code: 'ERR_SHAPE', message: ['meanSquaredError', '[2,2]', '[3]'] },
  { entry: 'metrics.getMetric', bad: 'unknown id', call: () => metrics.getMetric('acc2', 'mean_squared_error'), cls: V, code: 'ERR_UNKNOWN_ID', message: ['metric', '"acc2"', "'accuracy'"] },

  // --- optimizers: every factory
  { entry: 'optimizers.sgd', bad: 'misspelt learningRate', call: () => optimizers.sgd(bad({ learningrate: 0.1 })), cls: V, code: 'ERR_VALUE', message: ["SGD: unknown option(s) 'learningrate'", 'learningrate=0.1', "did you mean 'learningRate'"] },
  { entry: 'optimizers.sgd', bad: 'momentum negative', call: () => optimizers.sgd({ momentum: -0.1 }), cls: V, code: 'ERR_VALUE', message: ['SGD', 'momentum', '-0.1'] },
  { entry: 'optimizers.sgd', bad: 'two clipping options', call: () => optimizers.sgd({ clipnorm: 1, clipvalue: 1 }), cls: V, code: 'ERR_VALUE', message: ['SGD', 'clipnorm=1', 'clipvalue=1'] },
  { entry: 'optimizers.adam', bad: 'learningRate negative', call: () => optimizers.adam({ learningRate: -1 }), cls: V, code: 'ERR_VALUE', message: ['Adam', 'learning', '-1'] },
  { entry: 'optimizers.adam', bad: 'beta1 1.5', call: () => optimizers.adam({ beta1: 1.5 }), cls: V, code: 'ERR_VALUE', message: ['Adam', 'beta1', '1.5'] },
  { entry: 'optimizers.adam', bad: 'Keras snake_case key', call: () => optimizers.adam(bad({ beta_1: 0.8 })), cls: V, code: 'ERR_VALUE', message: ["Adam: unknown option(s) 'beta_1'", "did you mean 'beta1'"] },
  { entry: 'optimizers.adamw', bad: 'weightDecay negative', call: () => optimizers.adamw({ weightDecay: -1 }), cls: V, code: 'ERR_VALUE', message: ['AdamW', 'weightDecay', '-1'] },
  { entry: 'optimizers.adagrad', bad: 'initialAccumulatorValue negative', call: () => optimizers.adagrad({ initialAccumulatorValue: -1 }), cls: V, code: 'ERR_VALUE', message: ['Adagrad', 'initialAccumulatorValue', '-1'] },
  { entry: 'optimizers.rmsprop', bad: 'rho NaN', call: () => optimizers.rmsprop({ rho: NaN }), cls: V, code: 'ERR_VALUE', message: ['RMSprop', 'rho', 'NaN'] },
  { entry: 'optimizers.adamax', bad: 'epsilon string', call: () => optimizers.adamax({ epsilon: bad('1e-7') }), cls: V, code: 'ERR_VALUE', message: ['Adamax', 'epsilon', '"1e-7"'] },
  { entry: 'optimizers.nadam', bad: 'beta2 Infinity', call: () => optimizers.nadam({ beta2: Infinity }), cls: V, code: 'ERR_VALUE', message: ['Nadam', 'beta2', 'Infinity'] },
  { entry: 'optimizers.getOptimizer', bad: 'unknown id', call: () => optimizers.getOptimizer('adamm'), cls: V, code: 'ERR_UNKNOWN_ID', message: ['optimizer', '"adamm"', "'adam'"] },
  { entry: 'optimizers.optimizerFromConfig', bad: 'unknown config key', call: () => optimizers.optimizerFromConfig('Adam', { beta_3: 1 }), cls: V, code: 'ERR_VALUE', message: ['"Adam"', '"beta_3"'] },
  { entry: 'Optimizer.learningRate setter', bad: 'NaN', call: () => { optimizers.sgd().learningRate = NaN; }, cls: V, code: 'ERR_VALUE', message: ['SGD', 'NaN'] },

  // --- schedules: every factory
  { entry: 'schedules.exponentialDecay', bad: 'decaySteps 0', call: () => optimizers.schedules.exponentialDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.9 }), cls: V, code: 'ERR_VALUE', message: ['ExponentialDecay', 'decaySteps=0'] },
  { entry: 'schedules.exponentialDecay', bad: 'misspelt option', call: () => optimizers.schedules.exponentialDecay(bad({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.9, stairCase: true })), cls: V, code: 'ERR_VALUE', message: ["ExponentialDecay: unknown option(s) 'stairCase'", "did you mean 'staircase'"] },
  { entry: 'schedules.inverseTimeDecay', bad: 'decayRate negative', call: () => optimizers.schedules.inverseTimeDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: -1 }), cls: V, code: 'ERR_VALUE', message: ['InverseTimeDecay', 'decayRate=-1'] },
  { entry: 'schedules.piecewiseConstantDecay', bad: 'values length', call: () => optimizers.schedules.piecewiseConstantDecay({ boundaries: [10], values: [0.1] }), cls: V, code: 'ERR_VALUE', message: ['PiecewiseConstantDecay', 'values'] },
  { entry: 'schedules.polynomialDecay', bad: 'power NaN', call: () => optimizers.schedules.polynomialDecay({ initialLearningRate: 0.1, decaySteps: 10, power: NaN }), cls: V, code: 'ERR_VALUE', message: ['PolynomialDecay', 'power=NaN'] },
  { entry: 'schedules.cosineDecay', bad: 'alpha 2', call: () => optimizers.schedules.cosineDecay({ initialLearningRate: 0.1, decaySteps: 10, alpha: 2 }), cls: V, code: 'ERR_VALUE', message: ['CosineDecay', 'alpha=2'] },
  { entry: 'schedules.oneCycle', bad: 'maxLearningRate string', call: () => optimizers.schedules.oneCycle(bad({ maxLearningRate: '0.1', totalSteps: 100 })), cls: V, code: 'ERR_VALUE', message: ['OneCycle', 'maxLearningRate', '"0.1"'] },
  { entry: 'schedules.deserialize', bad: 'unknown class', call: () => optimizers.schedules.deserialize(bad({ class_name: 'StepDecay', config: {} })), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"StepDecay"', "'ExponentialDecay'"] },

  // --- callbacks: every factory
  { entry: 'callbacks.earlyStopping', bad: 'misspelt patience', call: () => callbacks.earlyStopping(bad({ patiance: 3 })), cls: V, code: 'ERR_VALUE', message: ["EarlyStopping: unknown option(s) 'patiance'", 'patiance=3', "did you mean 'patience'"] },
  { entry: 'callbacks.earlyStopping', bad: 'unknown mode', call: () => callbacks.earlyStopping({ mode: bad('up') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"up"', "'min'", "'max'"] },
  { entry: 'callbacks.earlyStopping', bad: 'patience negative', call: () => callbacks.earlyStopping({ patience: -1 }), cls: V, code: 'ERR_VALUE', message: ['EarlyStopping', 'patience', '-1'] },
  { entry: 'callbacks.reduceLROnPlateau', bad: 'factor 2', call: () => callbacks.reduceLROnPlateau({ factor: 2 }), cls: V, code: 'ERR_VALUE', message: ['ReduceLROnPlateau', 'factor=2'] },
  { entry: 'callbacks.reduceLROnPlateau', bad: 'misspelt minLr', call: () => callbacks.reduceLROnPlateau(bad({ minLR: 0.001 })), cls: V, code: 'ERR_VALUE', message: ["ReduceLROnPlateau: unknown option(s) 'minLR'", "did you mean 'minLr'"] },
  { entry: 'callbacks.csvLogger', bad: 'empty filename', call: () => callbacks.csvLogger(''), cls: V, code: 'ERR_VALUE', message: ['CSVLogger', 'filename', '""'] },
  { entry: 'callbacks.csvLogger', bad: 'separator 2 chars', call: () => callbacks.csvLogger('x.csv', { separator: ';;' }), cls: V, code: 'ERR_VALUE', message: ['CSVLogger', 'separator=";;"'] },
  { entry: 'callbacks.csvLogger', bad: 'misspelt append', call: () => callbacks.csvLogger('x.csv', bad({ apend: true })), cls: V, code: 'ERR_VALUE', message: ["CSVLogger: unknown option(s) 'apend'", "did you mean 'append'"] },
  { entry: 'callbacks.modelCheckpoint', bad: 'empty filepath', call: () => callbacks.modelCheckpoint(''), cls: V, code: 'ERR_VALUE', message: ['ModelCheckpoint', 'filepath', '""'] },
  { entry: 'callbacks.modelCheckpoint', bad: 'saveFreq 0', call: () => callbacks.modelCheckpoint('ck', { saveFreq: 0 }), cls: V, code: 'ERR_VALUE', message: ['ModelCheckpoint', 'saveFreq', '0'] },
  { entry: 'callbacks.modelCheckpoint', bad: 'misspelt option', call: () => callbacks.modelCheckpoint('ck', bad({ saveBestonly: true })), cls: V, code: 'ERR_VALUE', message: ["ModelCheckpoint: unknown option(s) 'saveBestonly'", "did you mean 'saveBestOnly'"] },
  { entry: 'callbacks.terminateOnNaN', bad: 'raiseError string', call: () => callbacks.terminateOnNaN({ raiseError: bad('yes') }), cls: V, code: 'ERR_VALUE', message: ['TerminateOnNaN', 'raiseError', '"yes"'] },
  { entry: 'callbacks.learningRateScheduler', bad: 'schedule not a function', call: () => callbacks.learningRateScheduler(bad(0.1)), cls: V, code: 'ERR_VALUE', message: ['LearningRateScheduler', 'schedule', '0.1'] },
  { entry: 'callbacks.learningRateScheduler', bad: 'misspelt verbose', call: () => callbacks.learningRateScheduler((_e, lr) => lr, bad({ verbos: 1 })), cls: V, code: 'ERR_VALUE', message: ["LearningRateScheduler: unknown option(s) 'verbos'", "did you mean 'verbose'"] },
  { entry: 'callbacks.lambda', bad: 'misspelt hook', call: () => callbacks.lambda(bad({ onEpochEnds: () => undefined })), cls: V, code: 'ERR_VALUE', message: ["LambdaCallback: unknown option(s) 'onEpochEnds'", "did you mean 'onEpochEnd'"] },
  { entry: 'callbacks.lambda', bad: 'hook not a function', call: () => callbacks.lambda(bad({ onEpochEnd: 5 })), cls: V, code: 'ERR_VALUE', message: ['LambdaCallback', 'onEpochEnd=5'] },

  // --- datasets
  { entry: 'datasets.fashionMnist.load', bad: 'misspelt option', call: () => datasets.fashionMnist.load(bad({ cachedir: '/x' })), cls: V, code: 'ERR_VALUE', message: ['fashionMnist.load', 'cachedir', "'cacheDir'"] },
  { entry: 'datasets.fashionMnist.load', bad: 'unknown source', call: () => datasets.fashionMnist.load({ source: bad('ftp') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"ftp"', "'download'"] },
  { entry: 'datasets.decodeIdx', bad: 'not an IDX file', call: () => datasets.decodeIdx(new Uint8Array(3), 'x.idx'), cls: IOError, code: 'ERR_IO', message: ['x.idx'] },
  { entry: 'datasets.encodeIdx', bad: 'shape does not fit data', call: () => datasets.encodeIdx(new Uint8Array(3), [2, 2]), cls: V, code: 'ERR_VALUE', message: ['encodeIdx', '[2, 2]', '3'] },

  // --- ops
  { entry: 'ops.matmul', bad: 'inner dimensions differ', call: () => ops.matmul(x4(), x4()), cls: S, code: 'ERR_SHAPE', message: ['matmul', '[2,4]'] },
  { entry: 'ops.add', bad: 'shapes differ', call: () => ops.add(x4(), y3()), cls: S, code: 'ERR_SHAPE', message: ['add', '[2,4]', '[2]'] },
  { entry: 'ops.reshape', bad: 'element count differs', call: () => ops.reshape(x4(), [3, 3]), cls: S, code: 'ERR_SHAPE', message: ['reshape', '[2,4]', '[3,3]'] },
  { entry: 'ops.mulScalar', bad: 'NaN scalar', call: () => ops.mulScalar(x4(), NaN), cls: V, code: 'ERR_NON_FINITE', message: ['mulScalar', 'NaN'] },
  { entry: 'ops.softmaxAlong', bad: 'axis out of range', call: () => ops.softmaxAlong(x4(), 5), cls: S, code: 'ERR_SHAPE', message: ['softmax', 'axis 5'] },

  // --- saving
  { entry: 'loadModel', bad: 'path not a string', call: () => loadModel(bad(42)), cls: V, code: 'ERR_VALUE', message: ['loadModel', 'received 42'] },
  { entry: 'loadModel', bad: 'missing directory', call: () => loadModel(path.join(work, 'nope')), cls: IOError, code: 'ERR_IO', message: ['nope', 'no such file'] },
  { entry: 'loadModel', bad: 'misspelt option', call: () => loadModel(path.join(work, 'nope'), bad({ compiled: false })), cls: V, code: 'ERR_VALUE', message: ["loadModel: unknown option(s) 'compiled'", "did you mean 'compile'"] },
  { entry: 'loadModel', bad: 'compile not boolean', call: () => loadModel(path.join(work, 'nope'), { compile: bad('no') }), cls: V, code: 'ERR_VALUE', message: ['loadModel', 'compile', '"no"'] },
  { entry: 'saving.saveModel', bad: 'not a model', call: () => saving.saveModel(bad({}), work), cls: V, code: 'ERR_VALUE', message: ['save', 'Sequential', 'received Object'] },
  { entry: 'saving.saveModel', bad: 'misspelt option', call: () => saving.saveModel(model(), path.join(work, 's1'), bad({ includeOptimiser: false })), cls: V, code: 'ERR_VALUE', message: ["unknown option(s) 'includeOptimiser'", "did you mean 'includeOptimizer'"] },
  { entry: 'saving.saveModel', bad: 'empty path', call: () => saving.saveModel(model(), ''), cls: V, code: 'ERR_VALUE', message: ['save', 'directory', '""'] },
  { entry: 'saving.saveWeights', bad: 'unbuilt model', call: () => saving.saveWeights(new Sequential([layers.dense({ units: 2 })]), work), cls: ST, code: 'ERR_STATE', message: ['saveWeights', 'built'] },
  { entry: 'saving.loadWeights', bad: 'not a model', call: () => saving.loadWeights(bad(null), work), cls: V, code: 'ERR_VALUE', message: ['loadWeights', 'Sequential', 'null'] },

  // --- inference
  { entry: 'foldBatchNorm', bad: 'not a model', call: () => inference.foldBatchNorm(bad({})), cls: V, code: 'ERR_VALUE', message: ['foldBatchNorm', 'Sequential', 'Object'] },
  { entry: 'quantize', bad: 'unknown dtype', call: () => inference.quantize(model(), { dtype: bad('int4') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"int4"', "'float16'", "'int8'"] },
  { entry: 'quantize', bad: 'misspelt option', call: () => inference.quantize(model(), bad({ dtype: 'int8', dtyp: 'int8' })), cls: V, code: 'ERR_VALUE', message: ["quantize: unknown option(s) 'dtyp'"] },
  { entry: 'quantize', bad: 'options missing', call: () => inference.quantize(model(), bad(undefined)), cls: V, code: 'ERR_VALUE', message: ['quantize', 'undefined'] },
  { entry: 'prune', bad: 'fraction 1.5', call: () => inference.prune(model(), { fraction: 1.5 }), cls: V, code: 'ERR_VALUE', message: ['prune', 'fraction', '1.5'] },
  { entry: 'prune', bad: 'threshold negative', call: () => inference.prune(model(), { threshold: -1 }), cls: V, code: 'ERR_VALUE', message: ['prune', 'threshold', '-1'] },
  { entry: 'prune', bad: 'both threshold and fraction', call: () => inference.prune(model(), bad({ threshold: 0.1, fraction: 0.5 })), cls: V, code: 'ERR_VALUE', message: ['prune', 'threshold', 'fraction'] },
  { entry: 'prune', bad: 'misspelt option', call: () => inference.prune(model(), bad({ fration: 0.5 })), cls: V, code: 'ERR_VALUE', message: ["prune: unknown option(s) 'fration'", "did you mean 'fraction'"] },
  { entry: 'sparsity', bad: 'not a model', call: () => inference.sparsity(bad('m')), cls: V, code: 'ERR_VALUE', message: ['sparsity', 'Sequential', '"m"'] },
  { entry: 'mcPredict', bad: 'samples 0', call: () => mcPredict(model(), x4(), { samples: 0 }), cls: V, code: 'ERR_VALUE', message: ['mcPredict', 'samples', '0'] },
  { entry: 'mcPredict', bad: 'misspelt option', call: () => mcPredict(model(), x4(), bad({ sample: 10 })), cls: V, code: 'ERR_VALUE', message: ["mcPredict: unknown option(s) 'sample'", "did you mean 'samples'"] },
  { entry: 'cloneModel', bad: 'not a model', call: () => cloneModel(bad('m')), cls: V, code: 'ERR_VALUE', message: ['cloneModel', 'Sequential', '"m"'] },

  // --- Sequential (src/models/sequential.ts; rows marked pending are gaps to fix there)
  { entry: 'new Sequential', bad: 'layers not an array', call: () => new Sequential(bad('dense')), cls: V, code: 'ERR_VALUE', message: ['Sequential', 'received "dense"'] },
  { entry: 'new Sequential', bad: 'a non-layer in the list', call: () => new Sequential(bad([{ units: 3 }])), cls: V, code: 'ERR_VALUE', message: ['Sequential', 'Object'] },
  { entry: 'Sequential.compile', bad: 'unknown optimizer', call: () => model().compile({ optimizer: bad('adamm'), loss: 'mse' }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"adamm"'] },
  { entry: 'Sequential.compile', bad: 'unknown loss', call: () => model().compile({ optimizer: 'sgd', loss: bad('mse2') }), cls: V, code: 'ERR_UNKNOWN_ID', message: ['"mse2"'] },
  { entry: 'Sequential.compile', bad: 'misspelt option', call: () => model().compile(bad({ optimizer: 'sgd', loss: 'mse', metric: ['accuracy'] })), cls: V, code: 'ERR_VALUE', message: ["compile", "'metric'", "did you mean 'metrics'"] },
  { entry: 'Sequential.fit', bad: 'before compile', call: () => model().fit(x4(), y3()), cls: ST, code: 'ERR_STATE', message: ['compile'] },
  { entry: 'Sequential.fit', bad: 'misspelt option', call: () => compiled().fit(x4(), y3(), bad({ epoch: 3, verbose: 0 })), cls: V, code: 'ERR_VALUE', message: ["fit", "'epoch'", "did you mean 'epochs'"] },
  { entry: 'Sequential.fit', bad: 'batchSize 0', call: () => compiled().fit(x4(), y3(), { batchSize: 0, verbose: 0 }), cls: V, code: 'ERR_VALUE', message: ['batchSize', '0'] },
  { entry: 'Sequential.fit', bad: 'epochs NaN', call: () => compiled().fit(x4(), y3(), { epochs: NaN, verbose: 0 }), cls: V, code: 'ERR_VALUE', message: ['epochs', 'NaN'] },
  { entry: 'Sequential.fit', bad: 'validationSplit 1', call: () => compiled().fit(x4(), y3(), { validationSplit: 1, verbose: 0 }), cls: V, code: 'ERR_VALUE', message: ['validationSplit', '1'] },
  { entry: 'Sequential.fit', bad: 'NaN in x', call: () => compiled().fit(new Tensor(Float32Array.of(0, 0, 0, 0, 0, NaN, 0, 0), [2, 4]), y3(), { verbose: 0 }), cls: V, code: 'ERR_NON_FINITE', message: ['NaN', '5'] },
  { entry: 'Sequential.fit', bad: 'x of the wrong width', call: () => compiled().fit(new Tensor(new Float32Array(6), [2, 3]), y3(), { verbose: 0 }), cls: S, code: 'ERR_SHAPE', message: ['[2, 3]'] },
  { entry: 'Sequential.evaluate', bad: 'batchSize negative', call: () => compiled().evaluate(x4(), y3(), { batchSize: -1 }), cls: V, code: 'ERR_VALUE', message: ['batchSize', '-1'] },
  { entry: 'Sequential.predict', bad: 'x of the wrong width', call: () => model().predict(new Tensor(new Float32Array(6), [2, 3])), cls: S, code: 'ERR_SHAPE', message: ['[2, 3]'] },
  { entry: 'Sequential.predict', bad: 'misspelt option', call: () => model().predict(x4(), bad({ batch_size: 2 })), cls: V, code: 'ERR_VALUE', message: ["predict", "'batch_size'", "did you mean 'batchSize'"] },
  { entry: 'Sequential.setWeights', bad: 'wrong count', call: () => model().setWeights([]), cls: S, code: 'ERR_SHAPE', message: ['setWeights', 'received 0'] },
];

async function outcome(row: Row): Promise<unknown> {
  try {
    await row.call();
  } catch (e) {
    return e;
  }
  return null;
}

function check(row: Row, err: unknown): void {
  expect(err, `${row.entry} with ${row.bad}: expected a throw`).not.toBeNull();
  expect(err, `${row.entry} with ${row.bad}: ${String(err)}`).toBeInstanceOf(DeepnodeError);
  const e = err as DeepnodeError;
  expect(e, `${row.entry} with ${row.bad}: ${e.name}: ${e.message}`).toBeInstanceOf(row.cls);
  expect(e.code, `${row.entry} with ${row.bad}: ${e.message}`).toBe(row.code);
  expect(e.name).toBe(row.cls.name);
  for (const fragment of row.message) expect(e.message, `${row.entry} with ${row.bad}`).toContain(fragment);
}

describe('validation audit: bad input to every public entry point gives a typed error with a stable code', () => {
  for (const row of rows) {
    const title = `${row.entry}: ${row.bad}`;
    if (row.pending) {
      it.fails(`${title} (pending in sequential.ts)`, async () => check(row, await outcome(row)));
    } else {
      it(title, async () => check(row, await outcome(row)));
    }
  }

  it('covers every layer, optimizer, schedule and callback factory and every exported namespace', () => {
    const entries = new Set(rows.map((r) => r.entry));
    const want = [
      ...Object.keys(layers).filter((k) => /^[a-z]/.test(k) && typeof (layers as Record<string, unknown>)[k] === 'function' && !['registerLayer', 'registeredLayers', 'serializeLayer', 'layerArgsFromConfig', 'formatShape'].includes(k)).map((k) => `layers.${k}`),
      ...['sgd', 'adam', 'adamw', 'adagrad', 'rmsprop', 'adamax', 'nadam', 'getOptimizer'].map((k) => `optimizers.${k}`),
      ...['exponentialDecay', 'inverseTimeDecay', 'piecewiseConstantDecay', 'polynomialDecay', 'cosineDecay', 'oneCycle'].map((k) => `schedules.${k}`),
      ...['earlyStopping', 'reduceLROnPlateau', 'csvLogger', 'modelCheckpoint', 'terminateOnNaN', 'learningRateScheduler', 'lambda'].map((k) => `callbacks.${k}`),
      'new Tensor', 'setNumThreads', 'loadModel', 'saving.saveModel', 'saving.saveWeights', 'saving.loadWeights', 'foldBatchNorm', 'quantize',
      'prune', 'sparsity', 'mcPredict', 'cloneModel', 'new Sequential', 'Sequential.compile', 'Sequential.fit', 'Sequential.evaluate',
      'Sequential.predict', 'datasets.fashionMnist.load', 'losses.getLoss', 'metrics.getMetric', 'initializers.getInitializer',
      'regularizers.getRegularizer', 'constraints.getConstraint', 'activations.getActivation',
    ];
    expect(want.filter((w) => !entries.has(w))).toEqual([]);
    expect(rows.length).toBeGreaterThanOrEqual(100);
  });
});
