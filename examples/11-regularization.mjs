// Chapter 11, "Avoiding Overfitting Through Regularization": the chapter's 300-100 network with
// l2(0.01) kernel regularizers (ELU, He init), then with max-norm(1) kernel constraints (SELU,
// LeCun init), both with Nadam on standardised inputs for 2 epochs as in the chapter, beside the
// same ELU network without regularization. Last, early stopping (chapter 10's EarlyStopping with
// restore_best_weights=True): a 300-100 ReLU network on only ES_TRAIN_SIZE images overfits within
// a few epochs; training stops once val_loss has not improved for 3 epochs and the best epoch's
// weights are put back.
//   node examples/11-regularization.mjs         EPOCHS=2 ES_EPOCHS=30 ES_TRAIN_SIZE=5000 by default
import { Sequential, layers, optimizers, regularizers, constraints, callbacks } from 'deepnode';
import { envInt, seed, loadData, train, report, finalValAccuracy, table } from './common.mjs';

const EPOCHS = envInt('EPOCHS', 2);
const ES_EPOCHS = envInt('ES_EPOCHS', 30);
const ES_TRAIN_SIZE = envInt('ES_TRAIN_SIZE', 5000);
const data = await loadData({ standardize: true });

const results = [];
async function run(name, hidden, trainData = data, fitArgs = { epochs: EPOCHS }) {
  seed();
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 300, ...hidden }),
    layers.dense({ units: 100, ...hidden }),
    layers.dense({ units: 10, activation: 'softmax', kernelRegularizer: hidden.kernelRegularizer }),
  ]);
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.nadam(), metrics: ['accuracy'] });
  console.log(`\n== ${name}`);
  const history = await train(model, trainData, fitArgs);
  if (!fitArgs.callbacks) report(name, history);
  const row = { model: name, val_accuracy: finalValAccuracy(history), val_loss: history.history.val_loss.at(-1), epochs: history.history.val_loss.length, seconds: history.seconds.toFixed(1) };
  results.push(row);
  return { model, history, row };
}

await run('elu/heNormal, no regularization', { activation: 'elu', kernelInitializer: 'heNormal' });
// The chapter also regularizes the output layer's kernel with l2(0.01).
await run('elu/heNormal + l2(0.01)', { activation: 'elu', kernelInitializer: 'heNormal', kernelRegularizer: regularizers.l2(0.01) });
const maxNorm = await run('selu/lecunNormal + maxNorm(1)', {
  activation: 'selu', kernelInitializer: 'lecunNormal', kernelConstraint: constraints.maxNorm({ maxValue: 1 }),
});
// Max-norm bounds the norm of each unit's incoming weight vector (Keras axis 0 of a Dense kernel).
const [kernel] = maxNorm.model.layers[1].weights;
const [fanIn, units] = kernel.shape;
let largest = 0;
for (let j = 0; j < units; j++) {
  let sq = 0;
  for (let i = 0; i < fanIn; i++) sq += kernel.data[i * units + j] ** 2;
  largest = Math.max(largest, Math.sqrt(sq));
}
console.log(`largest incoming-weight norm in ${maxNorm.model.layers[1].name}: ${largest.toFixed(4)} (max-norm 1)`);

// Early stopping: a small training set so that validation loss turns up within a few epochs.
const small = { ...data, xTrain: sliceRows(data.xTrain, ES_TRAIN_SIZE), yTrain: sliceRows(data.yTrain, ES_TRAIN_SIZE) };
const stopper = callbacks.earlyStopping({ monitor: 'val_loss', patience: 3, restoreBestWeights: true, verbose: 1 });
const es = await run(`relu/heNormal, ${ES_TRAIN_SIZE} images, earlyStopping(patience 3, restoreBestWeights)`,
  { activation: 'relu', kernelInitializer: 'heNormal' }, small, { epochs: ES_EPOCHS, callbacks: [stopper] });
const restored = es.model.evaluate(data.xValid, data.yValid);
const h = es.history.history;
const best = h.val_loss.indexOf(Math.min(...h.val_loss));
console.log(`stopped after epoch ${h.val_loss.length} of ${ES_EPOCHS}; best val_loss ${h.val_loss[best].toFixed(4)} at epoch ${best + 1} ` +
  `(val_accuracy ${h.val_accuracy[best].toFixed(4)}); last epoch val_loss ${h.val_loss.at(-1).toFixed(4)}`);
console.log(`after restoring the best weights: val_loss ${restored.loss.toFixed(4)}, val_accuracy ${restored.accuracy.toFixed(4)}`);
report(`${es.row.model}, best weights restored`, es.history, restored.accuracy);
es.row.model += ' (restored)';
es.row.val_accuracy = restored.accuracy;
es.row.val_loss = restored.loss;

console.log();
table(results);

function sliceRows(t, n) {
  const per = t.size / t.shape[0];
  return new t.constructor(t.data.slice(0, n * per), [n, ...t.shape.slice(1)]);
}
