// Chapter 11, "SELU": a 100-hidden-layer network (Dense 300, then 99 x Dense 100) trained with SELU
// + LeCun-normal init on standardised inputs, against the same depth with ReLU + He init. SELU
// self-normalises and trains; ReLU without Batch Normalization suffers from vanishing/exploding
// gradients and trains poorly. Like the chapter we use plain SGD(learning_rate=1e-3): with momentum
// 0.9 this 100-layer SELU net barely learns or, with this seed, diverges to a NaN loss (PyTorch 1.13
// does the same: 0.10-0.27 val accuracy after 2 epochs). The chapter trains 5 epochs on 55,000
// images; we train on a slice of them so both runs take about a minute. Before training: the
// chapter's self-normalisation check, activation mean and std at several depths.
//   node examples/11-deep-selu.mjs              EPOCHS=2 TRAIN_SIZE=15000 by default
import { Sequential, layers, optimizers, noGrad, Tensor } from 'deepnode';
import { envInt, seed, loadData, train, report, finalValAccuracy, table } from './common.mjs';

const EPOCHS = envInt('EPOCHS', 2);
const TRAIN_SIZE = envInt('TRAIN_SIZE', 15000);
const data = await loadData({ trainSize: TRAIN_SIZE, standardize: true });

function deepModel(activation, kernelInitializer) {
  const model = new Sequential([layers.flatten({ inputShape: [28, 28] })]);
  model.add(layers.dense({ units: 300, activation, kernelInitializer }));
  for (let i = 0; i < 99; i++) model.add(layers.dense({ units: 100, activation, kernelInitializer }));
  model.add(layers.dense({ units: 10, activation: 'softmax' }));
  model.compile({
    loss: 'sparseCategoricalCrossentropy',
    optimizer: optimizers.sgd({ learningRate: 1e-3 }),
    metrics: ['accuracy'],
  });
  return model;
}

// The chapter's self-normalisation check: push 500 standardised images through the untrained net
// and print the mean and standard deviation of the activations at a few depths.
function activationStats(model, x) {
  const out = [];
  noGrad(() => {
    let y = x;
    model.layers.forEach((layer, i) => {
      y = layer.call(y, { training: false });
      if ([1, 10, 25, 50, 75, 100].includes(i)) {
        let sum = 0, sq = 0;
        for (const v of y.data) { sum += v; sq += v * v; }
        const mean = sum / y.size;
        out.push(`layer ${String(i).padStart(3)}: mean ${mean.toFixed(2)}, std ${Math.sqrt(sq / y.size - mean * mean).toFixed(2)}`);
      }
    });
  });
  return out;
}

const results = [];
for (const [name, activation, init] of [['selu + lecunNormal', 'selu', 'lecunNormal'], ['relu + heNormal', 'relu', 'heNormal']]) {
  seed();
  const model = deepModel(activation, init);
  console.log(`\n== ${name}: ${model.layers.length - 1} Dense layers; activations before training:`);
  for (const line of activationStats(model, new Tensor(data.xValid.data.slice(0, 500 * 784), [500, 28, 28]))) console.log('  ' + line);
  const history = await train(model, data, { epochs: EPOCHS });
  report(`100 layers, ${name}`, history);
  results.push({ network: `100 layers, ${name}`, val_accuracy: finalValAccuracy(history), val_loss: history.history.val_loss.at(-1), seconds: history.seconds.toFixed(1) });
}
console.log();
table(results);
