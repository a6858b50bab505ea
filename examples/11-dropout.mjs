// Chapter 11, "Dropout" and "Monte Carlo (MC) Dropout": a 100-100 ReLU network with Dropout(0.2)
// before every Dense layer, trained with SGD(1e-2, momentum 0.9); then MC Dropout -- keep dropout on
// at inference and average 100 predictions -- printing, as the chapter does, the first test images'
// class probabilities with and without MC, the spread of the MC samples, and both accuracies.
// Last, the self-normalising variant: AlphaDropout(0.2) + SELU + LeCun init on standardised inputs.
// MC prediction costs 100 forward passes per image, so it runs on the first MC_TEST test images.
//   node examples/11-dropout.mjs                EPOCHS=2 MC_TEST=10000 by default
import { Sequential, layers, optimizers, mcPredict, Tensor, datasets } from 'deepnode';
import { envInt, seed, loadData, train, report, finalValAccuracy, table } from './common.mjs';

const EPOCHS = envInt('EPOCHS', 2);
const MC_TEST = Math.min(envInt('MC_TEST', 10000), 10000);
const { CLASS_NAMES } = datasets.fashionMnist;

const firstRows = (t, n) => new Tensor(t.data.slice(0, n * (t.size / t.shape[0])), [n, ...t.shape.slice(1)]);
const probs = (t, row) => Array.from(t.data.subarray(row * 10, row * 10 + 10), (v) => v.toFixed(2)).join(' ');
function accuracy(p, y) {
  let hits = 0;
  for (let i = 0; i < y.size; i++) {
    const row = p.data.subarray(i * 10, i * 10 + 10);
    if (row.indexOf(Math.max(...row)) === y.data[i]) hits++;
  }
  return hits / y.size;
}

async function dropoutRun(name, data, noiseLayer, hidden) {
  seed();
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    noiseLayer(),
    ...hidden(100),
    noiseLayer(),
    ...hidden(100),
    noiseLayer(),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({
    loss: 'sparseCategoricalCrossentropy',
    optimizer: optimizers.sgd({ learningRate: 1e-2, momentum: 0.9, nesterov: noiseLayer === alpha }),
    metrics: ['accuracy'],
  });
  console.log(`\n== ${name}`);
  const history = await train(model, data, { epochs: EPOCHS });
  report(name, history);
  console.log(`training-set accuracy with dropout off: ${model.evaluate(data.xTrain, data.yTrain).accuracy.toFixed(4)} ` +
    `(the logged training accuracy, ${history.history.accuracy.at(-1).toFixed(4)}, was measured with dropout on)`);

  const xTest = firstRows(data.xTest, MC_TEST), yTest = firstRows(data.yTest, MC_TEST);
  const t0 = performance.now();
  const mc = mcPredict(model, xTest, { samples: 100, batchSize: 500 });
  const mcSeconds = (performance.now() - t0) / 1000;
  const plain = model.predict(xTest);
  console.log(`MC Dropout: 100 samples over the first ${MC_TEST} test images in ${mcSeconds.toFixed(1)} s`);
  console.log(`classes:              ${CLASS_NAMES.map((c, i) => `${i}=${c}`).join(', ')}`);
  for (let i = 0; i < 3; i++) {
    console.log(`test image ${i} (label ${yTest.data[i]} ${CLASS_NAMES[yTest.data[i]]}):`);
    console.log(`  predict (dropout off): ${probs(plain, i)}`);
    console.log(`  MC mean of 100:        ${probs(mc.mean, i)}`);
    console.log(`  MC std:                ${probs(mc.std, i)}`);
  }
  const row = { model: name, val_accuracy: finalValAccuracy(history), test_acc_plain: accuracy(plain, yTest), test_acc_mc: accuracy(mc.mean, yTest), seconds: history.seconds.toFixed(1) };
  console.log(`test accuracy on ${MC_TEST} images: plain ${row.test_acc_plain.toFixed(4)}, MC Dropout ${row.test_acc_mc.toFixed(4)}`);
  return row;
}

const alpha = () => layers.alphaDropout({ rate: 0.2 });
const results = [];
const raw = await loadData();
results.push(await dropoutRun('Dropout(0.2) + relu/heNormal', raw, () => layers.dropout({ rate: 0.2 }),
  (units) => [layers.dense({ units, activation: 'relu', kernelInitializer: 'heNormal' })]));
const scaled = await loadData({ standardize: true });
results.push(await dropoutRun('AlphaDropout(0.2) + selu/lecunNormal', scaled, alpha,
  (units) => [layers.dense({ units, activation: 'selu', kernelInitializer: 'lecunNormal' })]));

console.log();
table(results);
