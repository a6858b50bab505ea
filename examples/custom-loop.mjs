// A training loop of one's own (Keras's tf.GradientTape loop): valueAndGrads computes the loss and
// its gradients, optimizer.applyGradients takes the step, model.losses adds the weight penalties.
// The same model trained by fit on the same batches (shuffle off) ends with the same weights; fit is
// faster, since it runs each batch as one native call while a loop of one's own goes op by op.
import { Sequential, layers, losses, ops, optimizers, regularizers, valueAndGrads, Tensor } from 'deepnode';
import { envInt, loadData, seed, table } from './common.mjs';

const epochs = envInt('EPOCHS', 2);
const batchSize = 32;
const data = await loadData({ trainSize: envInt('TRAIN_SIZE', 55000) });

function build() {
  seed();
  return new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 300, activation: 'relu', kernelInitializer: 'heNormal', kernelRegularizer: regularizers.l2(1e-4) }),
    layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
}

const rows = (t, start, end) => {
  const per = t.size / t.shape[0];
  return new Tensor(t.data.subarray(start * per, end * per), [end - start, ...t.shape.slice(1)]);
};

// 1. fit, without shuffling, so that both runs see the same batches in the same order.
const viaFit = build();
viaFit.compile({ optimizer: optimizers.sgd({ learningRate: 1e-2, momentum: 0.9 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
let t0 = performance.now();
await viaFit.fit(data.xTrain, data.yTrain, { epochs, batchSize, shuffle: false, verbose: 0 });
const fitSeconds = (performance.now() - t0) / 1000;

// 2. The loop of one's own.
const model = build();
const optimizer = optimizers.sgd({ learningRate: 1e-2, momentum: 0.9 });
const lossFn = losses.sparseCategoricalCrossentropy();
const vars = model.trainableWeights;
const n = data.xTrain.shape[0];
t0 = performance.now();
for (let epoch = 0; epoch < epochs; epoch++) {
  let sum = 0;
  let steps = 0;
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const x = rows(data.xTrain, start, end);
    const y = rows(data.yTrain, start, end);
    const { value, grads } = valueAndGrads(() => {
      const loss = lossFn.compute(model.call(x, true), y); // prediction first, then labels
      return model.losses.reduce((total, penalty) => ops.add(total, penalty), loss);
    }, vars);
    optimizer.applyGradients(grads.map((g, i) => [g, vars[i]]));
    sum += value;
    steps++;
  }
  console.log(`custom loop: epoch ${epoch + 1}/${epochs} mean loss ${(sum / steps).toFixed(4)}`);
}
const loopSeconds = (performance.now() - t0) / 1000;

// Compare: evaluate both on the validation set, and the largest weight difference.
model.compile({ optimizer, loss: lossFn, metrics: ['accuracy'] });
let worst = 0;
viaFit.getWeights().forEach((w, i) => {
  const v = model.getWeights()[i];
  for (let j = 0; j < w.size; j++) worst = Math.max(worst, Math.abs(w.data[j] - v.data[j]));
});
const a = viaFit.evaluate(data.xValid, data.yValid);
const b = model.evaluate(data.xValid, data.yValid);
table([
  { run: 'fit', val_accuracy: a.accuracy, val_loss: a.loss, 's/epoch': fitSeconds / epochs },
  { run: 'custom loop', val_accuracy: b.accuracy, val_loss: b.loss, 's/epoch': loopSeconds / epochs },
]);
console.log(`largest weight difference between the two: ${worst.toExponential(2)}`);
console.log(`RESULT custom-loop | fit ${a.accuracy.toFixed(4)} vs loop ${b.accuracy.toFixed(4)} | max |dw| ${worst.toExponential(1)} | loop ${(loopSeconds / fitSeconds).toFixed(2)}x fit's time`);
