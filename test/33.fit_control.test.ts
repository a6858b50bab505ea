// Control over a running fit: cancellation with an AbortSignal leaves a usable model, and the
// addon works inside a worker_threads Worker (it is context-aware).
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Sequential, Tensor, layers, optimizers, setSeed } from '../src';

function data(n: number): { x: Tensor; y: Tensor } {
  const x = new Float32Array(n * 10);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    for (let j = 0; j < 10; j++) x[i * 10 + j] = (j % 3 === i % 3 ? 1 : 0) + Math.sin(i * 7 + j) * 0.3;
  }
  return { x: new Tensor(x, [n, 10]), y: new Tensor(y, [n]) };
}

describe('AbortSignal', () => {
  it('rejects with AbortError between batches, keeps the model usable, and a later fit trains again', async () => {
    setSeed(1);
    const { x, y } = data(3000);
    const model = new Sequential([layers.dense({ units: 32, activation: 'relu', inputShape: [10] }), layers.dense({ units: 3, activation: 'softmax' })]);
    model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 0.05 }), metrics: ['accuracy'] });
    const controller = new AbortController();
    let batches = 0;
    const run = model.fit(x, y, {
      epochs: 50,
      batchSize: 8,
      verbose: 0,
      signal: controller.signal,
      callbacks: [
        new (class extends (await import('../src/callbacks')).Callback {
          override onBatchEnd(): void {
            if (++batches === 100) controller.abort(new Error('user pressed stop'));
          }
        })(),
      ],
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await run.catch((e: Error) => expect(e.message).toMatch(/epoch 1, batch 101: user pressed stop/));
    expect(batches).toBe(100);
    const p = model.predict(x.reshape([3000, 10]));
    expect(p.data.every(Number.isFinite)).toBe(true);
    const h = await model.fit(x, y, { epochs: 2, batchSize: 32, verbose: 0 });
    expect(h.history.loss!.length).toBe(2);
    expect(model.evaluate(x, y).accuracy).toBeGreaterThan(0.9);
  });

  it('an already aborted signal stops before the first batch', async () => {
    const { x, y } = data(64);
    const model = new Sequential([layers.dense({ units: 3, activation: 'softmax', inputShape: [10] })]);
    model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: 'sgd' });
    const before = model.getWeights().map((w) => Array.from(w.data));
    await expect(model.fit(x, y, { verbose: 0, signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(model.getWeights().map((w) => Array.from(w.data))).toEqual(before);
  });
});

describe('worker_threads', () => {
  const dist = path.resolve(__dirname, '../dist/cjs/index.js');
  it.runIf(fs.existsSync(dist))('trains a model inside a Worker and in the main thread at the same time', async () => {
    const code = `
      const { parentPort } = require('node:worker_threads');
      const dn = require(${JSON.stringify(dist)});
      (async () => {
        dn.setSeed(2);
        const n = 600, x = new Float32Array(n * 4), y = new Float32Array(n);
        for (let i = 0; i < n; i++) { y[i] = i % 2; for (let j = 0; j < 4; j++) x[i * 4 + j] = (i % 2 ? 1 : -1) + Math.sin(i + j) * 0.5; }
        const m = new dn.Sequential([dn.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }), dn.layers.dense({ units: 1, activation: 'sigmoid' })]);
        m.compile({ loss: 'binaryCrossentropy', optimizer: dn.optimizers.sgd({ learningRate: 0.1 }), metrics: ['accuracy'] });
        await m.fit(new dn.Tensor(x, [n, 4]), new dn.Tensor(y, [n, 1]), { epochs: 5, verbose: 0 });
        parentPort.postMessage(m.evaluate(new dn.Tensor(x, [n, 4]), new dn.Tensor(y, [n, 1])));
      })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
    const worker = new Worker(code, { eval: true });
    const result = new Promise<Record<string, number | string>>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const { x, y } = data(600);
    const model = new Sequential([layers.dense({ units: 3, activation: 'softmax', inputShape: [10] })]);
    model.compile({ loss: 'sparseCategoricalCrossentropy', optimizer: optimizers.sgd({ learningRate: 0.1 }) });
    await model.fit(x, y, { epochs: 3, verbose: 0 });
    const r = await result;
    await worker.terminate();
    expect(r.error).toBeUndefined();
    expect(r.accuracy).toBeGreaterThan(0.95);
  });
});
