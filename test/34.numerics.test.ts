// Numerical health: non-finite data is rejected with its index; a loss that goes non-finite in fit
// names the first layer whose output or gradient did, and leaves the weights as before the batch;
// softmax / cross-entropy / log-sum-exp stay finite for logits of ±1e4; gradientStats reports
// per-layer gradient and activation norms and dead ReLU fractions, checked against a float64
// forward/backward written out here, and shows the chapter's vanishing-gradient and dead-ReLU cases.
import { describe, expect, it } from 'vitest';
import { Sequential, Tensor, callbacks, initializers, layers, losses, optimizers, setSeed } from '../src';
import type { LayerStats } from '../src/callbacks';

function blobs(n: number, features: number, classes: number, seed = 1): { x: Tensor; y: Tensor } {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  const x = new Float32Array(n * features);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let j = 0; j < features; j++) x[i * features + j] = (j % classes === i % classes ? 1 : 0) + rnd();
  }
  return { x: new Tensor(x, [n, features]), y: new Tensor(y, [n]) };
}

const snapshot = (m: Sequential) => m.getWeights().map((w) => Float32Array.from(w.data));

describe('non-finite inputs and labels', () => {
  const model = () => {
    const m = new Sequential([layers.dense({ units: 3, activation: 'softmax', inputShape: [4] })]);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    return m;
  };

  it('fit names the first bad value by flat index, sample and element', async () => {
    const x = new Float32Array(40).fill(0.5);
    x[13] = NaN;
    x[30] = Infinity;
    const y = new Float32Array(10);
    await expect(model().fit(new Tensor(x, [10, 4]), new Tensor(y, [10]), { verbose: 0 })).rejects.toMatchObject({
      code: 'ERR_NON_FINITE',
      message: 'fit x: value NaN at flat index 13 (sample 3, element 1); inputs and labels must be finite',
    });
  });

  it('labels, evaluate and predict are checked too', async () => {
    const x = new Tensor(new Float32Array(40).fill(0.5), [10, 4]);
    const y = new Float32Array(10);
    y[7] = -Infinity;
    await expect(model().fit(x, new Tensor(y, [10]), { verbose: 0 })).rejects.toThrow(
      'fit y: value -Infinity at flat index 7 (sample 7, element 0)',
    );
    expect(() => model().evaluate(x, new Tensor(y, [10]))).toThrow('evaluate y: value -Infinity at flat index 7');
    const bad = new Float32Array(40);
    bad[39] = NaN;
    expect(() => model().predict(new Tensor(bad, [10, 4]))).toThrow('predict x: value NaN at flat index 39 (sample 9, element 3)');
  });
});

describe('a loss that becomes non-finite during fit', () => {
  it('names the layer whose output overflowed, and restores weights and BatchNormalization statistics', async () => {
    setSeed(3);
    const { x, y } = blobs(64, 6, 3);
    const model = new Sequential([
      layers.dense({ units: 8, activation: 'relu', inputShape: [6], name: 'first' }),
      layers.batchNormalization({ name: 'bn' }),
      layers.dense({ units: 8, name: 'blows_up' }),
      layers.dense({ units: 3, activation: 'softmax', name: 'head' }),
    ]);
    model.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    // 1e38 is finite in float32, but a sum of eight such products is not.
    const blow = model.layers[2]!;
    blow.setWeights([new Tensor(new Float32Array(64).fill(1e38), [8, 8]), new Tensor(new Float32Array(8), [8])]);
    const before = snapshot(model);
    const err = await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_NON_FINITE' });
    expect((err as Error).message).toMatch(
      /^Sequential "[^"]+": the loss became NaN at epoch 1, batch 1; the first non-finite value appeared in the output of Dense "blows_up" \(layer 3 of 4\): (-?Infinity|NaN) at flat index \d+; its input and weights were finite \(max \|input\| [\d.e+-]+, max \|weight\| 1\.00e\+38\)\. The weights were left as they were before this batch\./,
    );
    // Every weight, including the moving mean/variance the forward pass had already updated.
    expect(snapshot(model)).toEqual(before);
  });

  it('reports weights that an earlier update made non-finite (a huge learning rate)', async () => {
    setSeed(4);
    const { x, y } = blobs(256, 6, 3);
    const model = new Sequential([
      layers.dense({ units: 16, activation: 'relu', inputShape: [6], name: 'h1' }),
      layers.dense({ units: 16, activation: 'relu', name: 'h2' }),
      layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
    ]);
    model.compile({ optimizer: optimizers.sgd({ learningRate: 1e30 }), loss: 'sparseCategoricalCrossentropy' });
    let lastGood: Float32Array[] = [];
    const keep = callbacks.lambda({ onBatchBegin: () => void (lastGood = snapshot(model)) });
    const err = (await model.fit(x, y, { epochs: 5, batchSize: 16, verbose: 0, callbacks: [keep] }).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'ERR_NON_FINITE' });
    expect(err.message).toMatch(/the loss became NaN at epoch \d+, batch \d+; the first non-finite value appeared in the output of Dense "h\d"/);
    // Either the update already overflowed the weights, or they grew huge: the message says which.
    const m = /its weights were already non-finite \(h\d\/(kernel|bias)\[\d+\] = (-?Infinity|NaN)\), so an earlier update overflowed|its input and weights were finite \(max \|input\| [^,]+, max \|weight\| ([^)]+)\)/.exec(err.message);
    expect(m).not.toBeNull();
    if (m![3] !== undefined) expect(Number(m![3])).toBeGreaterThan(1e20);
    expect(snapshot(model)).toEqual(lastGood);
  });

  it('names the layer whose weight gradient overflowed when every output was finite', async () => {
    // out1 = 1e19, out2 = 10 * out1 = 1e20 (finite), MSE = 1e40 = Inf in float32;
    // dL/dout2 = 2e20 is finite, dL/dkernel2 = out1 * 2e20 = 2e39 is not.
    const model = new Sequential([
      layers.dense({ units: 1, inputShape: [1], name: 'l1', kernelInitializer: initializers.constant({ value: 1e19 }) }),
      layers.dense({ units: 1, name: 'l2', kernelInitializer: initializers.constant({ value: 10 }) }),
    ]);
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const before = snapshot(model);
    const err = (await model.fit([[1]], [[0]], { verbose: 0 }).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(
      'the loss became Infinity at epoch 1, batch 1; the first non-finite value appeared in the gradient of Dense "l2" (layer 2 of 2) for its weight "l2/kernel"',
    );
    expect(snapshot(model)).toEqual(before);
  });

  it('terminateOnNaN still stops quietly', async () => {
    const model = new Sequential([layers.dense({ units: 1, inputShape: [1], kernelInitializer: initializers.constant({ value: 1e30 }) })]);
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const before = snapshot(model);
    const h = await model.fit([[1], [2]], [[0], [0]], { epochs: 3, batchSize: 1, verbose: 0, callbacks: [callbacks.terminateOnNaN()] });
    // As in Keras, the epoch in which training stopped is still logged, with the bad loss.
    expect(h.history.loss).toEqual([Infinity]);
    expect(snapshot(model)).toEqual(before);
  });
});

describe('float32 softmax / cross-entropy / log-sum-exp at logits of ±1e4', () => {
  // A Dense with identity kernel and zero bias passes x through as the logits.
  const logitsModel = (activation: 'softmax' | 'linear' | 'sigmoid', units: number) => {
    const eye = new Float32Array(units * units);
    for (let i = 0; i < units; i++) eye[i * units + i] = 1;
    const m = new Sequential([layers.dense({ units, activation, inputShape: [units] })]);
    m.layers[0]!.setWeights([new Tensor(eye, [units, units]), new Tensor(new Float32Array(units), [units])]);
    return m;
  };
  // float64 reference: -log softmax(z)[k] = logsumexp(z) - z[k], logsumexp = max + log(sum exp(z - max)).
  const nll = (z: number[], k: number) => {
    const m = Math.max(...z);
    return m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0)) - z[k]!;
  };
  const z = [
    [1e4, -1e4, 0],
    [-1e4, 1e4, 9999],
    [0, 0, -1e4],
  ];
  const labels = [1, 2, 0];
  const expected = labels.reduce((s, k, i) => s + nll(z[i]!, k), 0) / 3;

  it('softmax output + sparse categorical cross-entropy (fused through the logits)', () => {
    const m = logitsModel('softmax', 3);
    m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const { loss } = m.evaluate(z, labels);
    expect(loss).toBeCloseTo(expected, 0);
    expect(Math.abs(loss! - expected) / expected).toBeLessThan(1e-6);
    const p = m.predict(z).data;
    expect(Array.from(p).every(Number.isFinite)).toBe(true);
    for (let i = 0; i < 3; i++) expect(p[i * 3]! + p[i * 3 + 1]! + p[i * 3 + 2]!).toBeCloseTo(1, 6);
  });

  it('linear logits + categorical cross-entropy fromLogits', () => {
    const m = logitsModel('linear', 3);
    m.compile({ optimizer: 'sgd', loss: losses.categoricalCrossentropy({ fromLogits: true }) });
    const oneHot = labels.map((k) => [0, 1, 2].map((c) => (c === k ? 1 : 0)));
    const { loss } = m.evaluate(z, oneHot);
    expect(Math.abs(loss! - expected) / expected).toBeLessThan(1e-6);
  });

  it('sigmoid output + binary cross-entropy: log(1 + exp(-|z|)) form', () => {
    const m = logitsModel('sigmoid', 2);
    m.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy' });
    // Per element: max(z, 0) - z*y + log(1 + exp(-|z|)).
    const zz = [[1e4, -1e4], [-1e4, 1e4]];
    const yy = [[0, 0], [0, 1]];
    let ref = 0;
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) ref += Math.max(zz[i]![j]!, 0) - zz[i]![j]! * yy[i]![j]! + Math.log1p(Math.exp(-Math.abs(zz[i]![j]!)));
    ref /= 4;
    const { loss } = m.evaluate(zz, yy);
    expect(Number.isFinite(loss)).toBe(true);
    expect(Math.abs(loss! - ref) / ref).toBeLessThan(1e-6);
  });

  it('training on such logits keeps finite gradients', async () => {
    const m = logitsModel('softmax', 3);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 1e-6 }), loss: 'sparseCategoricalCrossentropy' });
    await m.fit(z, labels, { verbose: 0, epochs: 2 });
    expect(m.getWeights().every((w) => Array.from(w.data).every(Number.isFinite))).toBe(true);
  });
});

// ---- gradientStats --------------------------------------------------------------------------

/** float64 forward/backward of Dense(relu) -> Dense(softmax) with mean sparse cross-entropy. */
function referenceStats(
  x: number[][], y: number[], W1: number[][], b1: number[], W2: number[][], b2: number[],
): { grad: [number, number]; act: [number, number]; dead: number } {
  const n = x.length;
  const h = x.map((r) => b1.map((b, j) => Math.max(0, b + r.reduce((s, v, k) => s + v * W1[k]![j]!, 0))));
  const z = h.map((r) => b2.map((b, j) => b + r.reduce((s, v, k) => s + v * W2[k]![j]!, 0)));
  const p = z.map((r) => {
    const m = Math.max(...r);
    const e = r.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
  const dz = p.map((r, i) => r.map((v, j) => (v - (j === y[i] ? 1 : 0)) / n));
  const dW2 = W2.map((row, k) => row.map((_, j) => h.reduce((s, hr, i) => s + hr[k]! * dz[i]![j]!, 0)));
  const db2 = b2.map((_, j) => dz.reduce((s, r) => s + r[j]!, 0));
  const dh = h.map((hr, i) => hr.map((hv, k) => (hv > 0 ? W2[k]!.reduce((s, w, j) => s + w * dz[i]![j]!, 0) : 0)));
  const dW1 = W1.map((row, k) => row.map((_, j) => x.reduce((s, xr, i) => s + xr[k]! * dh[i]![j]!, 0)));
  const db1 = b1.map((_, j) => dh.reduce((s, r) => s + r[j]!, 0));
  const sq = (a: number[] | number[][]) => (a as number[]).flat().reduce((s: number, v: number) => s + v * v, 0);
  const dead = b1.filter((_, j) => h.every((r) => r[j] === 0)).length / b1.length;
  return {
    grad: [Math.sqrt(sq(dW1) + sq(db1)), Math.sqrt(sq(dW2) + sq(db2))],
    act: [Math.sqrt(sq(h) / n), Math.sqrt(sq(p) / n)],
    dead,
  };
}

describe('callbacks.gradientStats', () => {
  it('matches a float64 forward/backward written out by hand', async () => {
    setSeed(11);
    const { x, y } = blobs(40, 5, 3);
    const model = new Sequential([
      layers.dense({ units: 7, activation: 'relu', inputShape: [5], name: 'hid' }),
      layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
    ]);
    // Two hidden units that can never fire, so the dead fraction is at least 2/7.
    const [k1, b1] = model.layers[0]!.getWeights();
    b1!.data[2] = -50;
    b1!.data[5] = -50;
    model.layers[0]!.setWeights([k1!, b1!]);
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'sparseCategoricalCrossentropy' });
    const sx = x.data.subarray(0, 12 * 5);
    const sample = new Tensor(Float32Array.from(sx), [12, 5]);
    const sampleY = new Tensor(Float32Array.from(y.data.subarray(0, 12)), [12]);
    let seen: { stats: LayerStats[]; ref: ReturnType<typeof referenceStats> } | null = null;
    const rows = (t: Tensor, c: number) => Array.from({ length: t.shape[0]! }, (_, i) => Array.from(t.data.subarray(i * c, (i + 1) * c)));
    // The reference reads the weights as they are when the statistics are computed (end of epoch 2).
    const probe = callbacks.gradientStats({
      sample: [sample, sampleY],
      onStats: (stats) => {
        const [W1, B1, W2, B2] = model.getWeights();
        seen = {
          stats,
          ref: referenceStats(rows(sample, 5), Array.from(sampleY.data), rows(W1!, 7), Array.from(B1!.data), rows(W2!, 3), Array.from(B2!.data)),
        };
      },
    });
    const h = await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, callbacks: [probe] });
    const { stats, ref } = seen!;
    expect(stats.map((s) => s.layer)).toEqual(['hid', 'out']);
    for (let l = 0; l < 2; l++) {
      expect(Math.abs(stats[l]!.gradNorm! - ref.grad[l]!) / ref.grad[l]!).toBeLessThan(1e-4);
      expect(Math.abs(stats[l]!.actNorm - ref.act[l]!) / ref.act[l]!).toBeLessThan(1e-5);
    }
    expect(ref.dead).toBeGreaterThanOrEqual(2 / 7);
    expect(stats[0]!.deadFraction).toBeCloseTo(ref.dead, 10);
    expect(stats[1]!.deadFraction).toBeNull(); // softmax is not ReLU-family
    // Stored in the logs, so History has one value per epoch.
    expect(h.history['grad_norm/hid']).toHaveLength(2);
    expect(h.history['grad_norm/out']![1]).toBeCloseTo(stats[1]!.gradNorm!, 6);
    expect(h.history['dead_relu/hid']![1]).toBe(stats[0]!.deadFraction);
    expect(h.history['act_norm/out']).toHaveLength(2);
  });

  it('a deep sigmoid net with a too-small init shows gradients vanishing toward the first layers', async () => {
    setSeed(5);
    const { x, y } = blobs(128, 16, 4);
    const depth = 7;
    const model = new Sequential([
      ...Array.from({ length: depth }, (_, i) =>
        layers.dense({
          units: 32, activation: 'sigmoid', name: `sig${i + 1}`, ...(i === 0 ? { inputShape: [16] } : {}),
          kernelInitializer: initializers.randomNormal({ stddev: 0.05 }),
        }),
      ),
      layers.dense({ units: 4, activation: 'softmax', name: 'out' }),
    ]);
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    let stats: LayerStats[] = [];
    await model.fit(x, y, { batchSize: 32, verbose: 0, callbacks: [callbacks.gradientStats({ onStats: (s) => (stats = s) })] });
    const norms = stats.slice(0, depth).map((s) => s.gradNorm!);
    // Each sigmoid layer multiplies the back-propagated signal by about sigma' * |W| ~ 0.25 * 0.05 * sqrt(32) ~ 0.07.
    for (let i = 1; i < depth; i++) expect(norms[i - 1]!).toBeLessThan(norms[i]! * 0.5);
    expect(norms[0]! / norms[depth - 1]!).toBeLessThan(1e-5);
  });

  it('a ReLU layer with a hugely negative bias is reported dead; a He-initialised one is not', async () => {
    setSeed(6);
    const { x, y } = blobs(96, 10, 3);
    const model = new Sequential([
      layers.dense({ units: 32, activation: 'relu', inputShape: [10], name: 'alive', kernelInitializer: 'heNormal' }),
      layers.dense({ units: 32, name: 'dead', biasInitializer: initializers.constant({ value: -1000 }) }),
      layers.relu({ name: 'dead_relu_layer' }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ]);
    model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
    const h = await model.fit(x, y, { batchSize: 32, verbose: 0, callbacks: [callbacks.gradientStats({ every: 1 })] });
    expect(h.history['dead_relu/dead_relu_layer']![0]).toBe(1);
    expect(h.history['dead_relu/alive']![0]).toBeLessThan(0.2);
    expect(h.history['dead_relu/dead']).toBeUndefined(); // a linear Dense is not ReLU-family
    // Nothing flows back through a dead layer: the layers below it get a zero gradient.
    expect(h.history['grad_norm/alive']![0]).toBe(0);
    expect(h.history['grad_norm/dead']![0]).toBe(0);
  });

  it('does not disturb training: weights, BatchNormalization statistics and the random stream are unchanged', async () => {
    const run = async (withStats: boolean) => {
      setSeed(21);
      const { x, y } = blobs(200, 8, 3);
      const model = new Sequential([
        layers.dense({ units: 16, activation: 'relu', inputShape: [8] }),
        layers.batchNormalization(),
        layers.dropout({ rate: 0.3 }),
        layers.dense({ units: 3, activation: 'softmax' }),
      ]);
      model.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
      const cbs = withStats ? [callbacks.gradientStats({ every: 2 })] : [];
      const h = await model.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, callbacks: cbs });
      return { w: snapshot(model), h };
    };
    const a = await run(false);
    const b = await run(true);
    expect(b.w).toEqual(a.w);
    expect(b.h.history.loss).toEqual(a.h.history.loss);
    expect(Object.keys(b.h.history).filter((k) => k.startsWith('grad_norm/')).length).toBe(3); // dense, BN, dense
  });

  it('validates its options', () => {
    expect(() => callbacks.gradientStats({ every: 0 })).toThrow("GradientStats: every must be 'epoch' or a positive integer, received 0");
    expect(() => callbacks.gradientStats({ every: 'batch' as never })).toThrow('received "batch"');
    expect(() => callbacks.gradientStats({ sample: [[1]] as never })).toThrow('GradientStats: sample must be [x, y]');
  });
});
