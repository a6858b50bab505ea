// Chapter 11, "Batch Normalization": the chapter's BN network (BN after Flatten and after each
// hidden Dense), then the variant with BN before the activation (Dense without bias -> BN ->
// Activation). Prints model.summary() (4 parameters per input of each BN layer: gamma and beta are
// trainable, the moving mean and variance are not) and both validation accuracies. The chapter
// trains 10 epochs with SGD(learning_rate=1e-3); we use SGD(1e-2, momentum 0.9) and fewer epochs.
//   node examples/11-batchnorm.mjs              EPOCHS=2 by default
import { Sequential, layers, optimizers } from 'deepnode';
import { envInt, seed, loadData, train, report, finalValAccuracy, table } from './common.mjs';

const EPOCHS = envInt('EPOCHS', 2);
const data = await loadData();

const compile = (model) =>
  model.compile({
    loss: 'sparseCategoricalCrossentropy',
    optimizer: optimizers.sgd({ learningRate: 1e-2, momentum: 0.9 }),
    metrics: ['accuracy'],
  });

const results = [];

// BN after the activation (the chapter's first model).
seed();
const after = new Sequential([
  layers.flatten({ inputShape: [28, 28] }),
  layers.batchNormalization(),
  layers.dense({ units: 300, activation: 'relu', kernelInitializer: 'heNormal' }),
  layers.batchNormalization(),
  layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
  layers.batchNormalization(),
  layers.dense({ units: 10, activation: 'softmax' }),
]);
console.log('\n== BN after each hidden layer');
after.summary();
const bn1 = after.layers[1];
console.log(`\n${bn1.name} variables: ${JSON.stringify(bn1.weights.map((v) => [v.name, v.trainable]))}`);
compile(after);
let history = await train(after, data, { epochs: EPOCHS });
report('BN after activation', history);
results.push({ model: 'BN after activation', val_accuracy: finalValAccuracy(history), seconds: history.seconds.toFixed(1) });

// BN before the activation: the Dense layers need no bias, BN's beta plays its part.
seed();
const before = new Sequential([
  layers.flatten({ inputShape: [28, 28] }),
  layers.batchNormalization(),
  layers.dense({ units: 300, kernelInitializer: 'heNormal', useBias: false }),
  layers.batchNormalization(),
  layers.activation({ activation: 'relu' }),
  layers.dense({ units: 100, kernelInitializer: 'heNormal', useBias: false }),
  layers.batchNormalization(),
  layers.activation({ activation: 'relu' }),
  layers.dense({ units: 10, activation: 'softmax' }),
]);
console.log('\n== BN before the activation');
before.summary();
compile(before);
history = await train(before, data, { epochs: EPOCHS });
report('BN before activation', history);
results.push({ model: 'BN before activation', val_accuracy: finalValAccuracy(history), seconds: history.seconds.toFixed(1) });

console.log();
table(results);
