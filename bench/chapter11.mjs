// The chapter's training patterns on deepnode's one-call training step (src/models/train_plan.ts),
// against the per-op autograd path they ran on before the step covered them, and PyTorch:
//   - W1:  issue 5's W1, for reference;
//   - W1R: W1 regularized as Hands-On ML ch. 11 does it: Dropout(0.2) after each hidden layer and
//          l2(1e-4) on every kernel (PyTorch: nn.Dropout, and weight_decay=2e-4 on the kernels,
//          the same SGD update as the l2 penalty);
//   - W2A: BatchNormalization before the activation: BN on the input, then twice Dense without
//          bias -> BN -> Activation('elu').
// Each (workload, threads) row keeps three models, one per contender: the one-call step, the per-op
// path (setTrainPlanEnabled(false)) and PyTorch (a bench/peers/torch_workloads.py --serve process)
// when python3-torch is installed (`npm run bench:peers`; --no-peers skips it). They train epoch
// by epoch in turn, the order rotating round by round, each epoch after a 200 ms pause when
// PyTorch runs (its idle OpenBLAS workers fall asleep first); each speed-up is the median of the
// rounds' ratios, each time the median of --epochs epochs of --samples images (scaled to 55,000),
// after an untimed warm-up.
//
//   node bench/chapter11.mjs [--workloads W1,W1R,W2A] [--threads 1,2] [--epochs 3] [--samples 55000] [--no-peers]
import { parseArgs } from 'node:util';
import { deepnode, EXTRA_WORKLOADS, median, w1Data, workloadSession, WORKLOADS } from '../bin/benchmarks.mjs';
import { markdownTable } from '../bin/format.mjs';
import { startTorchSession } from './peers/run.mjs';
import { cpuIdentity } from './lib/machine.mjs';
import { configureOpenBLAS, describeOpenBLAS } from './lib/openblas.mjs';

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

/** A deepnode model of `workload` trained with the one-call step on or off: { epoch(): seconds }. */
async function deepnodeModel(workload, plan) {
  const before = deepnode.setTrainPlanEnabled(plan);
  try {
    const session = await workloadSession(workload, x, y, { warmupSamples: 2048 });
    return {
      async epoch() {
        const was = deepnode.setTrainPlanEnabled(plan);
        try {
          return (await session.epoch()).seconds * scale;
        } finally {
          deepnode.setTrainPlanEnabled(was);
        }
      },
    };
  } finally {
    deepnode.setTrainPlanEnabled(before);
  }
}

let blas;  // configureOpenBLAS's result, once PyTorch is about to run
/** A PyTorch model of `workload` at `threads` ({ version, epoch(): seconds, close() }), or why not. */
async function torchModel(workload, threads) {
  if (v['no-peers']) return { skipped: '--no-peers' };
  // As in bench/run.mjs: PyTorch's OpenBLAS on its widest kernels when its own pick is narrower
  // than the CPU (Debian's 0.3.21 runs SSE3 kernels on Emerald Rapids: W1 2.71 s per epoch
  // against 1.21).
  if (blas === undefined) blas = configureOpenBLAS(cpuIdentity());
  const s = await startTorchSession({ workload, threads, maxSeconds: 60, log });
  if (s.skipped) return s;
  return { version: s.version, close: () => s.close(), epoch: async () => (await s.epoch()).sample };
}

const initialThreads = deepnode.getNumThreads();
const rows = [];
let torchNote = '';
try {
  for (const w of workloads) {
    for (const t of threadCounts) {
      deepnode.setNumThreads(t);
      const torch = await torchModel(w, t);
      const contenders = [['plan', await deepnodeModel(w, true)], ['perOp', await deepnodeModel(w, false)]];
      if (!torch.skipped) contenders.push(['torch', torch]);
      const times = { plan: [], perOp: [], torch: [] };
      let torchError = null;
      try {
        for (let round = 0; round < epochs; round++) {
          for (let i = 0; i < contenders.length; i++) {
            const [name, model] = contenders[(round + i) % contenders.length];
            if (name === 'torch' && torchError) continue;
            if (!torch.skipped) await new Promise((resolve) => setTimeout(resolve, 200));
            try {
              times[name].push(await model.epoch());
            } catch (e) {
              torchError = e.message;  // only PyTorch's epochs can fail here
            }
          }
        }
      } finally {
        if (!torch.skipped) await torch.close();
      }
      const fmtTimes = (a) => a.map((s) => s.toFixed(3)).join(', ');
      log(`${w} threads=${t}, s/epoch: one-call step ${fmtTimes(times.plan)}; per-op path ${fmtTimes(times.perOp)}; PyTorch ${times.torch.length ? fmtTimes(times.torch) : 'not timed'}`);
      const ratios = (a) => (a.length === times.plan.length ? median(a.map((s, i) => s / times.plan[i])) : null);
      const perOpRatio = ratios(times.perOp);
      const torchRatio = torch.skipped || torchError ? null : ratios(times.torch);
      const why = torch.skipped ?? torchError;
      torchNote = why ? `PyTorch not timed: ${why}.` : `PyTorch ${torch.version}; OpenBLAS ${describeOpenBLAS(blas)}.`;
      rows.push([
        w, t, median(times.plan).toFixed(3), median(times.perOp).toFixed(3), torchRatio ? median(times.torch).toFixed(3) : '—',
        `${perOpRatio.toFixed(2)}×`, torchRatio ? `${torchRatio.toFixed(2)}×` : '—',
      ]);
    }
  }
} finally {
  deepnode.setNumThreads(initialThreads);
}

const scaled = samples < EPOCH ? `, timed on ${samples} images and scaled` : '';
console.log(
  [
    `## The chapter's models (seconds per 55,000-image epoch, median of ${epochs}${scaled}; the three contenders' epochs alternate on each row, and each speed-up is the median of the rounds' ratios)`,
    '',
    markdownTable(['workload', 'threads', 'one-call step', 'per-op path', 'PyTorch', 'one-call speed-up', 'vs PyTorch'], rows),
    '',
    ...workloads.map((w) => `- ${w}: ${KNOWN[w].what}${w === 'W1R' ? '; PyTorch: nn.Dropout and weight_decay=2e-4 on the kernels (the same SGD update)' : ''}`),
    `- ${torchNote} Command: node bench/chapter11.mjs --workloads ${workloads.join(',')} --threads ${threadCounts.join(',')} --epochs ${epochs}${samples < EPOCH ? ` --samples ${samples}` : ''}`,
  ].join('\n'),
);
