// Chapter 11, "Faster Optimizers": the same 100-100-100 ReLU/He network trained with each optimizer
// at the chapter's learning rate of 1e-3 (Keras defaults otherwise; RMSprop with rho=0.9 and AdamW
// with weight_decay=1e-5 as in the chapter), from the same initial weights; prints a table of the
// final losses and validation accuracies. The chapter trains each for 10 epochs on 55,000 images.
//   node examples/11-optimizers.mjs             EPOCHS=2 by default
import { Sequential, layers, optimizers } from 'deepnode';
import { envInt, seed, loadData, train, report, finalValAccuracy, table } from './common.mjs';

const EPOCHS = envInt('EPOCHS', 2);
const data = await loadData();

const lr = 1e-3;
const candidates = [
  ['SGD', () => optimizers.sgd({ learningRate: lr })],
  ['SGD momentum 0.9', () => optimizers.sgd({ learningRate: lr, momentum: 0.9 })],
  ['Nesterov', () => optimizers.sgd({ learningRate: lr, momentum: 0.9, nesterov: true })],
  ['Adagrad', () => optimizers.adagrad({ learningRate: lr })],
  ['RMSprop rho 0.9', () => optimizers.rmsprop({ learningRate: lr, rho: 0.9 })],
  ['Adam', () => optimizers.adam({ learningRate: lr, beta1: 0.9, beta2: 0.999 })],
  ['Adamax', () => optimizers.adamax({ learningRate: lr, beta1: 0.9, beta2: 0.999 })],
  ['Nadam', () => optimizers.nadam({ learningRate: lr, beta1: 0.9, beta2: 0.999 })],
  ['AdamW wd 1e-5', () => optimizers.adamw({ learningRate: lr, weightDecay: 1e-5 })],
];

const results = [];
for (const [name, makeOptimizer] of candidates) {
  seed(); // same initial weights and batch order for every optimizer
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
    layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
    layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: makeOptimizer(), metrics: ['accuracy'] });
  console.log(`\n== ${name}`);
  const history = await train(model, data, { epochs: EPOCHS });
  report(name, history);
  const h = history.history;
  results.push({ optimizer: name, loss: h.loss.at(-1), val_loss: h.val_loss.at(-1), val_accuracy: finalValAccuracy(history), seconds: history.seconds.toFixed(1) });
}
console.log();
table(results);
