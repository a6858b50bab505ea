// Figure: the learning rate of each schedule of the chapter ("Learning Rate Scheduling") over a
// 25-epoch run of 1,719 steps an epoch (55,000 Fashion-MNIST images in batches of 32). The
// schedule objects are evaluated directly at every step, as the optimizer does before each update.
//   node examples/figures/lr-schedules.mjs          -> examples/figures/out/lr-schedules.png
import { optimizers, plot } from 'deepnode';
import { outFile } from './common.mjs';

const { schedules } = optimizers;
const epochs = 25;
const stepsPerEpoch = 1719;
const totalSteps = epochs * stepsPerEpoch;
const lr0 = 0.01;

const lines = [
  // Exponential: lr0 * 0.1^(epoch / 20), as the chapter's exponential_decay_fn (s = 20 epochs).
  ['exponential (ExponentialDecay)', schedules.exponentialDecay({ initialLearningRate: lr0, decaySteps: 20 * stepsPerEpoch, decayRate: 0.1 })],
  // Power with c = 1: lr0 / (1 + step / s), s = 10,000 steps (the chapter's InverseTimeDecay).
  ['power (InverseTimeDecay)', schedules.inverseTimeDecay({ initialLearningRate: lr0, decaySteps: 10000, decayRate: 1 })],
  // Piecewise constant: 0.01 for 5 epochs, 0.005 for 10, then 0.001 (the chapter's piecewise_constant_fn).
  ['piecewise (PiecewiseConstantDecay)', schedules.piecewiseConstantDecay({ boundaries: [5 * stepsPerEpoch, 15 * stepsPerEpoch], values: [0.01, 0.005, 0.001] })],
  ['cosine (CosineDecay)', schedules.cosineDecay({ initialLearningRate: lr0, decaySteps: totalSteps })],
  // 1cycle: up from 0.001 to 0.01 over 45% of the run, down again, then annihilated.
  ['1cycle (OneCycle)', schedules.oneCycle({ maxLearningRate: lr0, totalSteps })],
];

const rows = [];
const every = 20; // steps between plotted points (1,719 steps an epoch)
for (const [name, schedule] of lines) {
  for (let step = 0; step < totalSteps; step += every) rows.push({ schedule: name, epoch: step / stepsPerEpoch, lr: schedule.call(step) });
  rows.push({ schedule: name, epoch: totalSteps / stepsPerEpoch, lr: schedule.call(totalSteps - 1) });
}

const names = lines.map((l) => l[0]);
const spec = {
  title: { text: `Learning-rate schedules over ${epochs} epochs (1,719 steps an epoch)`, anchor: 'start', fontSize: 15 },
  width: 620,
  height: 340,
  data: { values: rows },
  mark: { type: 'line', strokeWidth: 2.5, interpolate: 'linear' },
  encoding: {
    x: { field: 'epoch', type: 'quantitative', title: 'Epoch', scale: { domain: [0, epochs], nice: false }, axis: { tickMinStep: 1 } },
    y: { field: 'lr', type: 'quantitative', title: 'Learning rate', scale: { domain: [0, 0.0105], nice: false }, axis: { format: '.3~f' } },
    color: { field: 'schedule', type: 'nominal', title: null, sort: names, scale: { domain: names, range: ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'] } },
  },
  config: { axis: { grid: true, labelFontSize: 12, titleFontSize: 13 }, legend: { orient: 'right', labelFontSize: 12, labelLimit: 320, symbolType: 'stroke', symbolStrokeWidth: 3, symbolSize: 500 } },
};

await plot.render(spec, outFile('lr-schedules.png'));
console.log(`wrote ${outFile('lr-schedules.png')}`);
