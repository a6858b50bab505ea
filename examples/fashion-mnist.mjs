// Trains the chapter's MLP on Fashion-MNIST (60,000 training images, 10% held out for validation)
// and reports the test accuracy and the seconds per epoch. Run with `npm run demo`.
import { Sequential, layers, optimizers, datasets, callbacks, setSeed, info } from 'deepnode';

const epochs = Number(process.env.EPOCHS ?? 5);
setSeed(42);
console.log('deepnode', JSON.stringify(info()));

const t0 = performance.now();
const { train, test } = await datasets.fashionMnist.load({ verbose: true });
console.log(`loaded Fashion-MNIST in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
  `train ${train.x.shape.join('x')}, test ${test.x.shape.join('x')}`);

const model = new Sequential([
  layers.flatten({ inputShape: [28, 28] }),
  layers.dense({ units: 300, activation: 'relu', kernelInitializer: 'heNormal' }),
  layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
  layers.dense({ units: 10, activation: 'softmax' }),
]);
model.compile({
  loss: 'sparseCategoricalCrossentropy',
  optimizer: optimizers.sgd({ learningRate: 1e-2, momentum: 0.9 }),
  metrics: ['accuracy'],
});
model.summary();

const epochSeconds = [];
let epochStart = 0;
const timer = callbacks.lambda({
  onEpochBegin: () => { epochStart = performance.now(); },
  onEpochEnd: () => { epochSeconds.push((performance.now() - epochStart) / 1000); },
});
await model.fit(train.x, train.y, { epochs, batchSize: 32, validationSplit: 0.1, callbacks: [timer] });

const result = model.evaluate(test.x, test.y);
const sorted = [...epochSeconds].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(`test loss ${result.loss.toFixed(4)}, test accuracy ${result.accuracy.toFixed(4)}`);
console.log(`seconds per epoch (incl. validation): median ${median.toFixed(2)}, all [${epochSeconds.map((s) => s.toFixed(2)).join(', ')}]`);
