// The chapter's transfer-learning experiment (Hands-On ML, ch. 11, "Reusing Pretrained Layers").
// Task A: Fashion-MNIST without sandals (5) and shirts (6), 8 classes. Task B: shirt vs sandal,
// with only 200 training images. Train A; train B from scratch; train B on A's reused lower layers
// (frozen for 4 epochs, then unfrozen for 16), and compare test accuracies on task B.
//   node examples/11-transfer.mjs        (EPOCHS_A=20 by default)
import { Sequential, layers, optimizers, datasets, cloneModel, setSeed, Tensor } from 'deepnode';

const EPOCHS_A = Number(process.env.EPOCHS_A ?? 20);
setSeed(42);
const { train, test } = await datasets.fashionMnist.load();

// Rows of (x, y) matching a label predicate, with labels mapped by `relabel`.
function subset({ x, y }, keep, relabel, limit = Infinity) {
  const idx = [];
  for (let i = 0; i < y.size && idx.length < limit; i++) if (keep(y.data[i])) idx.push(i);
  const xs = new Float32Array(idx.length * 784);
  const ys = new Float32Array(idx.length);
  idx.forEach((i, r) => {
    xs.set(x.data.subarray(i * 784, (i + 1) * 784), r * 784);
    ys[r] = relabel(y.data[i]);
  });
  return { x: new Tensor(xs, [idx.length, 28, 28]), y: new Tensor(ys, [idx.length, 1]) };
}
const isB = (c) => c === 5 || c === 6;
const toA = (c) => (c < 5 ? c : c - 2); // 0..4 stay, 7..9 become 5..7
const toB = (c) => (c === 6 ? 1 : 0); // shirt = 1, sandal = 0

const trainA = subset(train, (c) => !isB(c), toA);
trainA.y = trainA.y.reshape([trainA.y.size]);
const testA = subset(test, (c) => !isB(c), toA);
testA.y = testA.y.reshape([testA.y.size]);
// Task B: the first 200 shirts/sandals of the training set to train on, the next 1,000 to validate.
const firstB = subset(train, isB, toB, 1200);
const rows = ({ x, y }, from, to) => ({
  x: new Tensor(x.data.subarray(from * 784, to * 784), [to - from, 28, 28]),
  y: new Tensor(y.data.subarray(from, to), [to - from, 1]),
});
const trainB = rows(firstB, 0, 200);
const validB = rows(firstB, 200, 1200);
const testB = subset(test, isB, toB);
console.log(`task A: ${trainA.y.size} train / ${testA.y.size} test; task B: ${trainB.y.size} train / ${validB.y.size} valid / ${testB.y.size} test`);

const hidden = () => [
  layers.flatten({ inputShape: [28, 28] }),
  layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
  layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
  layers.dense({ units: 100, activation: 'relu', kernelInitializer: 'heNormal' }),
];

// Model A.
const modelA = new Sequential([...hidden(), layers.dense({ units: 8, activation: 'softmax' })]);
modelA.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-3 }), metrics: ['accuracy'] });
await modelA.fit(trainA.x, trainA.y, { epochs: EPOCHS_A, verbose: 0 });
console.log(`model A: test accuracy on task A ${modelA.evaluate(testA.x, testA.y).accuracy.toFixed(4)}`);

// Model B from scratch.
const modelB = new Sequential([...hidden(), layers.dense({ units: 1, activation: 'sigmoid' })]);
modelB.compile({ loss: 'binaryCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-3 }), metrics: ['accuracy'] });
await modelB.fit(trainB.x, trainB.y, { epochs: 20, validationData: [validB.x, validB.y], verbose: 0 });
const scratch = modelB.evaluate(testB.x, testB.y).accuracy;

// Model B on A: A's layers are shared, so clone A first to keep it intact (as the chapter does).
const cloneA = cloneModel(modelA);
cloneA.setWeights(modelA.getWeights());
const modelBonA = new Sequential([...cloneA.layers.slice(0, -1), layers.dense({ units: 1, activation: 'sigmoid', name: 'dense_b_out' })]);
for (const layer of modelBonA.layers.slice(0, -1)) layer.trainable = false;
modelBonA.compile({ loss: 'binaryCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-3 }), metrics: ['accuracy'] });
await modelBonA.fit(trainB.x, trainB.y, { epochs: 4, validationData: [validB.x, validB.y], verbose: 0 });
for (const layer of modelBonA.layers) layer.trainable = true;
modelBonA.compile({ loss: 'binaryCrossentropy', optimizer: optimizers.sgd({ learningRate: 1e-3 }), metrics: ['accuracy'] });
await modelBonA.fit(trainB.x, trainB.y, { epochs: 16, validationData: [validB.x, validB.y], verbose: 0 });
const transfer = modelBonA.evaluate(testB.x, testB.y).accuracy;

console.log(`task B test accuracy: from scratch ${scratch.toFixed(4)}, with transfer ${transfer.toFixed(4)} ` +
  `(error rate ${((1 - scratch) * 100).toFixed(2)}% -> ${((1 - transfer) * 100).toFixed(2)}%)`);
