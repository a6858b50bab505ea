// Chapter 11, "Learning Rate Scheduling": the chapter's 300-100 SELU network (LeCun init,
// standardised inputs) trained with SGD under power scheduling (InverseTimeDecay), exponential
// scheduling (ExponentialDecay), piecewise constant scheduling (PiecewiseConstantDecay),
// performance scheduling (the ReduceLROnPlateau callback) and 1cycle (OneCycle, batch size 128).
// For each, prints the learning rate at step 0 and after every epoch (history.history.learning_rate)
// and the validation accuracy. The chapter runs 25 epochs; here the schedules that the chapter ties
// to its run length are scaled to ours: exponential decays 10x over 80% of the run (the chapter's
// 20 of 25 epochs), the piecewise boundaries sit at 20% and 60% (its epochs 5 and 15), and
// ReduceLROnPlateau waits 1 epoch instead of 5. Power scheduling keeps the chapter's decay of 1e-4
// per step.
//   node examples/11-schedules.mjs              EPOCHS=3 by default
import { Sequential, layers, optimizers, callbacks } from 'deepnode';
import { envInt, seed, loadData, train, report, finalValAccuracy, table } from './common.mjs';

const EPOCHS = envInt('EPOCHS', 3);
const data = await loadData({ standardize: true });
const { schedules } = optimizers;
const stepsPerEpoch = (batchSize) => Math.ceil(data.xTrain.shape[0] / batchSize);
const totalSteps = (batchSize) => EPOCHS * stepsPerEpoch(batchSize);

const runs = [
  {
    name: 'power: InverseTimeDecay(0.01, 10000, 1)',
    optimizer: () => optimizers.sgd({ learningRate: schedules.inverseTimeDecay({ initialLearningRate: 0.01, decaySteps: 10000, decayRate: 1 }) }),
  },
  {
    name: 'exponential: ExponentialDecay(0.01, 0.8T, 0.1)',
    optimizer: () => optimizers.sgd({
      learningRate: schedules.exponentialDecay({ initialLearningRate: 0.01, decaySteps: Math.round(0.8 * totalSteps(32)), decayRate: 0.1 }),
    }),
  },
  {
    name: 'piecewise: 0.01 / 0.005 / 0.001 at 0.2T, 0.6T',
    optimizer: () => optimizers.sgd({
      learningRate: schedules.piecewiseConstantDecay({
        boundaries: [Math.round(0.2 * totalSteps(32)), Math.round(0.6 * totalSteps(32))],
        values: [0.01, 0.005, 0.001],
      }),
    }),
  },
  {
    name: 'performance: ReduceLROnPlateau(0.5, patience 1)',
    // The chapter: SGD(learning_rate=0.02, momentum=0.9) with ReduceLROnPlateau(factor=0.5, patience=5).
    optimizer: () => optimizers.sgd({ learningRate: 0.02, momentum: 0.9 }),
    callbacks: () => [callbacks.reduceLROnPlateau({ factor: 0.5, patience: 1, verbose: 1 })],
  },
  {
    name: '1cycle: OneCycle(max 0.05), batch 128',
    batchSize: 128,
    // The chapter's 1cycle run: max rate 0.05, batch size 128; momentum cycles 0.95 -> 0.85 -> 0.95.
    optimizer: () => optimizers.sgd({ learningRate: schedules.oneCycle({ maxLearningRate: 0.05, totalSteps: totalSteps(128) }) }),
  },
];

const fmt = (lr) => lr.toExponential(2);
const results = [];
for (const run of runs) {
  seed();
  const model = new Sequential([
    layers.flatten({ inputShape: [28, 28] }),
    layers.dense({ units: 300, activation: 'selu', kernelInitializer: 'lecunNormal' }),
    layers.dense({ units: 100, activation: 'selu', kernelInitializer: 'lecunNormal' }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  const optimizer = run.optimizer();
  model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer, metrics: ['accuracy'] });
  console.log(`\n== ${run.name}`);
  const lr0 = optimizer.currentLearningRate();
  const history = await train(model, data, { epochs: EPOCHS, batchSize: run.batchSize ?? 32, callbacks: run.callbacks?.() ?? [] });
  const lrs = history.history.learning_rate;
  console.log(`learning rate: step 0 ${fmt(lr0)}; after each epoch ${lrs.map(fmt).join(', ')}`);
  report(run.name, history);
  results.push({
    schedule: run.name,
    lr_start: fmt(lr0),
    lr_middle: fmt(lrs[Math.floor((lrs.length - 1) / 2)]),
    lr_end: fmt(lrs[lrs.length - 1]),
    lr_next: fmt(optimizer.currentLearningRate()),
    val_accuracy: finalValAccuracy(history),
    seconds: history.seconds.toFixed(1),
  });
}
console.log(`\n(lr_start: the rate of the first step; lr_middle, lr_end: history.history.learning_rate of epoch ${Math.floor((EPOCHS - 1) / 2) + 1} and ${EPOCHS}; ` +
  `lr_next: optimizer.currentLearningRate() after training, which shows a reduction ReduceLROnPlateau made at the last epoch)`);
table(results);
