// Figure: learning curves of the chapter's optimizers ("Faster Optimizers") on one chart. The same
// small MLP (784-100-10, He init, ReLU) starts from the same weights for each optimizer and trains
// for a few epochs on the first TRAIN_SIZE (default 10,000) Fashion-MNIST training images, with the
// chapter's last 5,000 training images as validation set. Also writes the Adam run's own curves
// with plotHistory (out/learning-curves-adam.png).
//   node examples/figures/optimizer-curves.mjs      EPOCHS=4 TRAIN_SIZE=10000 by default (~30 s on 2 cores)
import { Sequential, layers, optimizers, plot, plotHistory } from 'deepnode';
import { envInt, seed, loadData } from '../common.mjs';
import { outFile } from './common.mjs';

const EPOCHS = envInt('EPOCHS', 4);
const data = await loadData({ trainSize: envInt('TRAIN_SIZE', 10000) });

// The chapter's settings (learning_rate=0.001 everywhere except where it names another).
const runs = [
  ['SGD', () => optimizers.sgd({ learningRate: 0.01 })],
  ['momentum', () => optimizers.sgd({ learningRate: 0.01, momentum: 0.9 })],
  ['Nesterov', () => optimizers.sgd({ learningRate: 0.01, momentum: 0.9, nesterov: true })],
  ['AdaGrad', () => optimizers.adagrad({ learningRate: 0.001 })],
  ['RMSProp', () => optimizers.rmsprop({ learningRate: 0.001, rho: 0.9 })],
  ['Adam', () => optimizers.adam({ learningRate: 0.001, beta1: 0.9, beta2: 0.999 })],
  ['AdaMax', () => optimizers.adamax({ learningRate: 0.001 })],
  ['Nadam', () => optimizers.nadam({ learningRate: 0.001 })],
  ['AdamW', () => optimizers.adamw({ learningRate: 0.001, weightDecay: 1e-5 })],
];

const rows = [];
let initial = null;
for (const [name, makeOptimizer] of runs) {
  seed();
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: makeOptimizer(), metrics: ['accuracy'] });
  model.build([null, 28, 28]);
  // Same starting point for every optimizer.
  if (initial === null) initial = model.getWeights();
  else model.setWeights(initial);
  const start = performance.now();
  const history = await model.fit(data.xTrain, data.yTrain, { epochs: EPOCHS, batchSize: 32, validationData: [data.xValid, data.yValid], verbose: 0 });
  const h = history.history;
  console.log(`${name.padEnd(9)} loss ${h.loss.at(-1).toFixed(4)}  val_loss ${h.val_loss.at(-1).toFixed(4)}  val_accuracy ${h.val_accuracy.at(-1).toFixed(4)}  (${((performance.now() - start) / 1000).toFixed(1)} s)`);
  h.loss.forEach((v, e) => rows.push({ optimizer: name, epoch: e + 1, split: 'training loss', value: v }));
  h.val_loss.forEach((v, e) => rows.push({ optimizer: name, epoch: e + 1, split: 'validation loss', value: v }));
  if (name === 'Adam') await plotHistory(history, outFile('learning-curves-adam.png'), { title: `Adam on Fashion-MNIST (${data.xTrain.shape[0].toLocaleString('en')} training images)` });
}

const names = runs.map((r) => r[0]);
const spec = {
  title: { text: `Optimizers on Fashion-MNIST: 784-100-10 MLP, ${data.xTrain.shape[0].toLocaleString('en')} training images, batch 32`, anchor: 'start', fontSize: 15 },
  data: { values: rows },
  facet: { field: 'split', type: 'nominal', title: null, header: { labelFontSize: 13, labelFontWeight: 'bold' } },
  spec: {
    width: 400,
    height: 320,
    mark: { type: 'line', strokeWidth: 2, point: { filled: true, size: 30 } },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'Epoch', scale: { domain: [1, EPOCHS], nice: false }, axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'value', type: 'quantitative', title: 'Sparse categorical cross-entropy', scale: { zero: false } },
      color: { field: 'optimizer', type: 'nominal', title: null, sort: names, scale: { domain: names, scheme: 'tableau10' } },
      strokeDash: {
        field: 'optimizer', type: 'nominal', title: null, sort: names,
        // Plain SGD family dashed, adaptive methods solid, AdamW dotted (with weightDecay 1e-5 it
        // stays on top of Adam for these few epochs).
        scale: { domain: names, range: [[6, 3], [6, 3], [6, 3], [1, 0], [1, 0], [1, 0], [1, 0], [1, 0], [2, 2]] },
      },
    },
  },
  config: { axis: { grid: true, labelFontSize: 12, titleFontSize: 13 }, legend: { labelFontSize: 13, symbolType: 'stroke', symbolStrokeWidth: 3, symbolSize: 500 } },
};

await plot.render(spec, outFile('optimizer-curves.png'));
console.log(`wrote ${outFile('optimizer-curves.png')} and ${outFile('learning-curves-adam.png')}`);
