// The chapter's regularizers on the training fast path. W1R is W1 regularized as Hands-On ML
// ch. 11 does it: Dropout(0.2) after each hidden layer and l2(1e-4) on every kernel. Each row, at
// one thread count, times in this order, seconds apart:
//   - W1 on deepnode's one-call training step (what the regularizers cost on top of it);
//   - W1R on the one-call step (src/models/train_plan.ts runs Dropout and the L1/L2 penalties);
//   - W1R on deepnode's per-op autograd path (setTrainPlanEnabled(false): where such models ran
//     before the plan covered them);
//   - W1R on PyTorch (bench/peers/torch_workloads.py: nn.Dropout, weight_decay=2e-4 on the
//     kernels, the same SGD update as the l2 penalty), when python3-torch is installed
//     (`npm run bench:peers`); --no-peers skips it.
// Medians of --epochs epochs of --samples images (extrapolated to 55,000), after an untimed warm-up.
//
//   node bench/regularized.mjs [--threads 1,2] [--epochs 3] [--samples 55000] [--no-peers]
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deepnode, EXTRA_WORKLOADS, timeWorkload, w1Data, WORKLOADS } from '../bin/benchmarks.mjs';
import { markdownTable } from '../bin/format.mjs';
import { PYTHON } from './peers/run.mjs';
import { DEFAULT_DATA_DIR, DEFAULT_N, exportData, haveData } from './peers/export-data.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EPOCH = 55000;

const { values: v } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    epochs: { type: 'string', default: '3' },
    samples: { type: 'string', default: String(EPOCH) },
    'no-peers': { type: 'boolean', default: false },
  },
});
const threadCounts = v.threads.split(',').map(Number);
const epochs = Number(v.epochs);
const samples = Number(v.samples);
if (threadCounts.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`--threads: positive integers, received ${v.threads}`);
if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`--epochs: a positive integer, received ${v.epochs}`);
if (!Number.isInteger(samples) || samples < 256 || samples > EPOCH) throw new Error(`--samples: an integer in [256, ${EPOCH}], received ${v.samples}`);

const log = (s) => process.stderr.write(`${s}\n`);
const { x, y } = await w1Data(samples);
const scale = EPOCH / samples;

/** deepnode seconds per 55,000-image epoch (median), with the plan on or off. */
async function deepnodeEpoch(workload, plan) {
  const before = deepnode.setTrainPlanEnabled(plan);
  try {
    const r = await timeWorkload(workload, x, y, { epochs, warmupSamples: 2048 });
    log(`deepnode ${workload} ${plan ? 'one-call step' : 'per-op path'} threads=${deepnode.getNumThreads()}: ${r.times.map((s) => (s * scale).toFixed(3)).join(', ')} s/epoch`);
    return r.median * scale;
  } finally {
    deepnode.setTrainPlanEnabled(before);
  }
}

/** PyTorch's W1R seconds per epoch at `threads`, or a reason it was not timed. */
async function torchEpoch(threads) {
  if (v['no-peers']) return { skipped: '--no-peers' };
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return { skipped: `${PYTHON} cannot import torch (npm run bench:peers installs it)` };
  if (!haveData(DEFAULT_DATA_DIR, DEFAULT_N)) await exportData({ log });
  const r = spawnSync(
    PYTHON,
    [path.join(HERE, 'peers', 'torch_workloads.py'), '--workloads', 'W1R', '--threads', String(threads), '--epochs', String(epochs), '--max-seconds', '60'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const row = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((o) => o.workload === 'W1R');
  return row ? { s: row.sPerEpoch, version: row.version } : { skipped: `torch_workloads.py exited with status ${r.status}` };
}

const initialThreads = deepnode.getNumThreads();
const rows = [];
let torchNote = '';
try {
  for (const t of threadCounts) {
    deepnode.setNumThreads(t);
    const w1 = await deepnodeEpoch('W1', true);
    const plan = await deepnodeEpoch('W1R', true);
    const perOp = await deepnodeEpoch('W1R', false);
    const torch = await torchEpoch(t);
    if (torch.skipped) torchNote = `PyTorch not timed: ${torch.skipped}.`;
    else torchNote = `PyTorch ${torch.version}.`;
    rows.push([
      t, w1.toFixed(3), plan.toFixed(3), perOp.toFixed(3), torch.s ? torch.s.toFixed(3) : '—',
      `${(perOp / plan).toFixed(2)}×`, torch.s ? `${(torch.s / plan).toFixed(2)}×` : '—',
    ]);
  }
} finally {
  deepnode.setNumThreads(initialThreads);
}

console.log(
  [
    `## Regularized training (seconds per 55,000-image epoch, median of ${epochs}${samples < EPOCH ? `, timed on ${samples} images and scaled` : ''})`,
    '',
    markdownTable(
      ['threads', 'W1, one-call step', 'W1R, one-call step', 'W1R, per-op path', 'W1R, PyTorch', 'one-call speed-up', 'vs PyTorch'],
      rows,
    ),
    '',
    `- W1: ${WORKLOADS.W1.what}`,
    `- W1R: ${EXTRA_WORKLOADS.W1R.what}; PyTorch: nn.Dropout and weight_decay=2e-4 on the kernels (the same SGD update)`,
    `- ${torchNote} Command: node bench/regularized.mjs --threads ${threadCounts.join(',')} --epochs ${epochs}${samples < EPOCH ? ` --samples ${samples}` : ''}`,
  ].join('\n'),
);
