// The chapter's training patterns on deepnode's one-call training step (src/models/train_plan.ts),
// against the per-op autograd path they ran on before the step covered them, and PyTorch:
//   - W1:  issue 5's W1, for reference;
//   - W1R: W1 regularized as Hands-On ML ch. 11 does it: Dropout(0.2) after each hidden layer and
//          l2(1e-4) on every kernel (PyTorch: nn.Dropout, and weight_decay=2e-4 on the kernels,
//          the same SGD update as the l2 penalty);
//   - W2A: BatchNormalization before the activation: BN on the input, then twice Dense without
//          bias -> BN -> Activation('elu').
// Each (workload, threads) row times, seconds apart: the one-call step, the per-op path
// (setTrainPlanEnabled(false)), then PyTorch (bench/peers/torch_workloads.py) when python3-torch
// is installed (`npm run bench:peers`; --no-peers skips it). Medians of --epochs epochs of
// --samples images (scaled to 55,000), after an untimed warm-up.
//
//   node bench/chapter11.mjs [--workloads W1,W1R,W2A] [--threads 1,2] [--epochs 3] [--samples 55000] [--no-peers]
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deepnode, EXTRA_WORKLOADS, timeWorkload, w1Data, WORKLOADS } from '../bin/benchmarks.mjs';
import { markdownTable } from '../bin/format.mjs';
import { PYTHON } from './peers/run.mjs';
import { cpuIdentity } from './lib/machine.mjs';
import { configureOpenBLAS, describeOpenBLAS } from './lib/openblas.mjs';
import { DEFAULT_DATA_DIR, DEFAULT_N, exportData, haveData } from './peers/export-data.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EPOCH = 55000;
const KNOWN = { W1: WORKLOADS.W1, ...EXTRA_WORKLOADS };

function usage(message) {
  process.stderr.write(`chapter11: ${message}\nusage: node bench/chapter11.mjs [--workloads ${Object.keys(KNOWN).join(',')}] [--threads 1,2] [--epochs 3] [--samples 55000] [--no-peers]\n`);
  process.exit(2);
}

let v;
try {
  ({ values: v } = parseArgs({
    options: {
      workloads: { type: 'string', default: Object.keys(KNOWN).join(',') },
      threads: { type: 'string', default: '1,2' },
      epochs: { type: 'string', default: '3' },
      samples: { type: 'string', default: String(EPOCH) },
      'no-peers': { type: 'boolean', default: false },
    },
  }));
} catch (e) {
  usage(e.message);
}
const workloads = v.workloads.split(',').map((w) => w.trim().toUpperCase());
const threadCounts = v.threads.split(',').map(Number);
const epochs = Number(v.epochs);
const samples = Number(v.samples);
for (const w of workloads) if (!KNOWN[w]) usage(`unknown workload "${w}" (expected ${Object.keys(KNOWN).join(', ')})`);
if (threadCounts.some((t) => !Number.isInteger(t) || t < 1)) usage(`--threads: positive integers, received ${v.threads}`);
if (!Number.isInteger(epochs) || epochs < 1) usage(`--epochs: a positive integer, received ${v.epochs}`);
if (!Number.isInteger(samples) || samples < 256 || samples > EPOCH) usage(`--samples: an integer in [256, ${EPOCH}], received ${v.samples}`);

const log = (s) => process.stderr.write(`${s}\n`);
const { x, y } = await w1Data(samples);
const scale = EPOCH / samples;

/** deepnode seconds per 55,000-image epoch (median), with the one-call step on or off. */
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

let torchReady = null;
let blas;  // configureOpenBLAS's result, once PyTorch is about to run
/** PyTorch's seconds per epoch of `workload` at `threads`, or why it was not timed. */
async function torchEpoch(workload, threads) {
  if (v['no-peers']) return { skipped: '--no-peers' };
  if (torchReady === null) {
    const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
    torchReady = probe.status === 0;
    if (torchReady && !haveData(DEFAULT_DATA_DIR, DEFAULT_N)) await exportData({ log });
  }
  if (!torchReady) return { skipped: `${PYTHON} cannot import torch (npm run bench:peers installs it)` };
  // As in bench/run.mjs: PyTorch's OpenBLAS on its widest kernels when its own pick is narrower
  // than the CPU (Debian's 0.3.21 runs SSE3 kernels on Emerald Rapids: W1 2.71 s per epoch
  // against 1.21).
  if (blas === undefined) blas = configureOpenBLAS(cpuIdentity());
  const r = spawnSync(
    PYTHON,
    [path.join(HERE, 'peers', 'torch_workloads.py'), '--workloads', workload, '--threads', String(threads), '--epochs', String(epochs), '--max-seconds', '60'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const row = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((o) => o.workload === workload);
  return row ? { s: row.sPerEpoch, version: row.version } : { skipped: `torch_workloads.py exited with status ${r.status}` };
}

const initialThreads = deepnode.getNumThreads();
const rows = [];
let torchNote = '';
try {
  for (const w of workloads) {
    for (const t of threadCounts) {
      deepnode.setNumThreads(t);
      const plan = await deepnodeEpoch(w, true);
      const perOp = await deepnodeEpoch(w, false);
      const torch = await torchEpoch(w, t);
      torchNote = torch.skipped ? `PyTorch not timed: ${torch.skipped}.` : `PyTorch ${torch.version}; OpenBLAS ${describeOpenBLAS(blas)}.`;
      rows.push([
        w, t, plan.toFixed(3), perOp.toFixed(3), torch.s ? torch.s.toFixed(3) : '—',
        `${(perOp / plan).toFixed(2)}×`, torch.s ? `${(torch.s / plan).toFixed(2)}×` : '—',
      ]);
    }
  }
} finally {
  deepnode.setNumThreads(initialThreads);
}

const scaled = samples < EPOCH ? `, timed on ${samples} images and scaled` : '';
console.log(
  [
    `## The chapter's models (seconds per 55,000-image epoch, median of ${epochs}${scaled}; PyTorch timed right after deepnode on each row)`,
    '',
    markdownTable(['workload', 'threads', 'one-call step', 'per-op path', 'PyTorch', 'one-call speed-up', 'vs PyTorch'], rows),
    '',
    ...workloads.map((w) => `- ${w}: ${KNOWN[w].what}${w === 'W1R' ? '; PyTorch: nn.Dropout and weight_decay=2e-4 on the kernels (the same SGD update)' : ''}`),
    `- ${torchNote} Command: node bench/chapter11.mjs --workloads ${workloads.join(',')} --threads ${threadCounts.join(',')} --epochs ${epochs}${samples < EPOCH ? ` --samples ${samples}` : ''}`,
  ].join('\n'),
);
