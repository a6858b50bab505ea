// Chapter 11, "Better Activation Functions": the same 300-100 MLP trained with ReLU, LeakyReLU,
// PReLU, ELU, SELU (LeCun init + standardised inputs), GELU and Swish; prints each one's
// validation accuracy. The chapter trains each for 10 epochs with SGD(learning_rate=1e-3); to
// converge in a couple of epochs we use SGD(1e-2, momentum 0.9).
//   node examples/11-activations.mjs            EPOCHS=2 by default
import { Sequential, layers, optimizers } from 'deepnode';
import { envInt, seed, loadData, train, report, finalValAccuracy, table } from './common.mjs';

const EPOCHS = envInt('EPOCHS', 2);
const raw = await loadData();
const scaled = await loadData({ standardize: true });

// Each entry builds the two hidden blocks; the output layer is always Dense(10, softmax).
const variants = [
  ['relu (baseline)', raw, (units) => [layers.dense({ units, activation: 'relu', kernelInitializer: 'heNormal' })]],
  // The chapter: Dense(he_normal) followed by a LeakyReLU(alpha=0.2) layer.
  ['LeakyReLU(0.2)', raw, (units) => [layers.dense({ units, kernelInitializer: 'heNormal' }), layers.leakyRelu({ negativeSlope: 0.2 })]],
  ['PReLU', raw, (units) => [layers.dense({ units, kernelInitializer: 'heNormal' }), layers.prelu()]],
  ['elu', raw, (units) => [layers.dense({ units, activation: 'elu', kernelInitializer: 'heNormal' })]],
  ['selu + lecunNormal, standardised', scaled, (units) => [layers.dense({ units, activation: 'selu', kernelInitializer: 'lecunNormal' })]],
  ['gelu', raw, (units) => [layers.dense({ units, activation: 'gelu', kernelInitializer: 'heNormal' })]],
  ['swish', raw, (units) => [layers.dense({ units, activation: 'swish', kernelInitializer: 'heNormal' })]],
];

const results = [];
for (const [name, data, block] of variants) {
  seed();
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    ...block(300),
    ...block(100),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({
    loss: 'sparseCategoricalCrossentropy',
    optimizer: optimizers.sgd({ learningRate: 1e-2, momentum: 0.9 }),
    metrics: ['accuracy'],
  });
  console.log(`\n== ${name}`);
  const history = await train(model, data, { epochs: EPOCHS });
  report(name, history);
  results.push({ activation: name, val_accuracy: finalValAccuracy(history), seconds: history.seconds.toFixed(1) });
}
console.log();
table(results);
