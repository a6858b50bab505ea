// `npm run bench`: the performance proof of issue 5 in one run, printed as markdown tables (stdout;
// progress goes to stderr) and saved as JSON (bench/results/latest.json) so README figures trace back.
//   1. Machine: CPU, vCPUs, deepnode's kernel ISA, theoretical fp32 peak and how it is computed.
//   2. GEMM: deepnode vs OpenBLAS GFLOPS per shape at 1 and 2 threads (bench/gemm_bench.sh).
//   3. Training: W1-W4 seconds per epoch, deepnode and the peers (bench/peers/run.mjs), ratios, goals.
//   4. Contention: 2-thread training while another process keeps a core busy.
//   5. Profile: µs per training step by native function, and the time outside native code.
// Medians throughout: the machines we measure on are shared and noisy.
//
//   node bench/run.mjs [--only gemm,train,contention,profile] [--quick] [--threads 1,2] [--epochs N]
//        [--samples N] [--workloads W1,W2,W3,W4] [--no-peers] [--peers pytorch,tfjs-cpu,tfjs-wasm]
//        [--max-seconds S] [--trials N] [--contention-workload W1] [--json PATH]
// Environment: DEEPNODE_BENCH_PEERS=<module> replaces bench/peers/run.mjs (tests use a stub).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchGemm, deepnode, firstSamples, native, timeWorkload, w1Data, workloadSession, WORKLOADS } from '../bin/benchmarks.mjs';
import { FAIL, PASS, fmt, fmtPct, fmtRatio, fmtSeconds, markdownTable, median } from './lib/format.mjs';
import { cpuIdentity, machineFacts } from './lib/machine.mjs';
import { configureOpenBLAS, describeOpenBLAS } from './lib/openblas.mjs';
import { gemmGoal, parseGemmBench, runGemmBench } from './lib/gemm.mjs';
import { profileSteps } from './lib/profile.mjs';
import { startBusyCore } from './lib/contention.mjs';
import { capacityProbe, measureCapacity } from './lib/capacity.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const SECTIONS = ['gemm', 'train', 'contention', 'profile'];
const PEERS = ['pytorch', 'tfjs-cpu', 'tfjs-wasm'];
const EPOCH_IMAGES = 55000;
const WARMUP_SAMPLES = 2048; // one untimed epoch on these before each timed cell
const USAGE = `Usage: node bench/run.mjs [options]   (npm run bench)
  --only LIST              sections, comma-separated: ${SECTIONS.join(', ')} (default all; the machine always)
  --quick                  smoke-test sizes: few samples, 1 trial/epoch, seconds per section
  --threads LIST           thread counts, e.g. 1,2 (default 1,2)
  --epochs N               timed epochs per training cell, median reported (default 3; --quick 1)
  --samples N              images per training epoch (default 55000; fewer are scaled to 55,000)
  --workloads LIST         subset of W1,W2,W3,W4 (default all)
  --no-peers               skip PyTorch and TensorFlow.js
  --peers LIST             subset of ${PEERS.join(',')} (default all)
  --max-seconds S          stop a deepnode cell's epochs after S s (default 120); bound for a peer epoch
  --trials N               GEMM trials per cell (default 7; --quick 1)
  --contention-workload W  workload for the contention test (default W1)
  --json PATH              where to write the JSON (default bench/results/latest.json)`;

function usageError(message) {
  process.stderr.write(`bench/run.mjs: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean' },
      threads: { type: 'string' },
      epochs: { type: 'string' },
      samples: { type: 'string' },
      workloads: { type: 'string' },
      'no-peers': { type: 'boolean' },
      peers: { type: 'string' },
      'max-seconds': { type: 'string' },
      trials: { type: 'string' },
      'contention-workload': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (e) {
  usageError(e.message);
}
const { values: v, positionals } = parsed;
if (v.help) {
  console.log(USAGE);
  process.exit(0);
}
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const posInt = (name, s, dflt) => {
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) usageError(`--${name} must be a positive integer, received "${s}"`);
  return n;
};
// `node bench/run.mjs gemm` (the old form) still works: a positional names the section.
const only = v.only ? list(v.only) : positionals.length && positionals[0] !== 'all' ? positionals : SECTIONS;
for (const s of only) if (!SECTIONS.includes(s)) usageError(`unknown section "${s}" (expected ${SECTIONS.join(', ')})`);
const quick = v.quick === true;
const threadCounts = v.threads ? list(v.threads).map((t) => posInt('threads', t)) : [1, 2];
const epochs = posInt('epochs', v.epochs, quick ? 1 : 3);
const trials = posInt('trials', v.trials, quick ? 1 : 7);
const samples = posInt('samples', v.samples, quick ? 1024 : EPOCH_IMAGES);
const maxSeconds = v['max-seconds'] === undefined ? (quick ? 5 : 120) : Number(v['max-seconds']);
if (!(maxSeconds > 0)) usageError(`--max-seconds must be a positive number, received "${v['max-seconds']}"`);
const peerMaxSeconds = v['max-seconds'] !== undefined || quick ? maxSeconds : undefined; // else the peers' defaults
const workloads = v.workloads ? list(v.workloads).map((w) => w.toUpperCase()) : Object.keys(WORKLOADS);
for (const w of workloads) if (!WORKLOADS[w]) usageError(`unknown workload "${w}" (expected ${Object.keys(WORKLOADS).join(', ')})`);
const peers = v['no-peers'] ? [] : v.peers ? list(v.peers) : PEERS;
for (const p of peers) if (!PEERS.includes(p)) usageError(`unknown peer "${p}" (expected ${PEERS.join(', ')})`);
const contentionWorkload = (v['contention-workload'] ?? 'W1').toUpperCase();
if (!WORKLOADS[contentionWorkload]) usageError(`unknown --contention-workload "${contentionWorkload}"`);
const jsonPath = path.resolve(v.json ?? path.join(root, 'bench/results/latest.json'));

const log = (s) => process.stderr.write(`[bench] ${s}\n`);
const print = (s) => process.stdout.write(`${s}\n`);
const threadLabel = (t) => `${t} thread${t === 1 ? '' : 's'}`;

const result = {
  date: new Date().toISOString(),
  command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  options: { only, quick, threadCounts, epochs, trials, samples, maxSeconds, workloads, peers, contentionWorkload },
};
let failed = false;
async function section(name, fn) {
  const t0 = performance.now();
  const load = os.loadavg();
  (result.loadAverageBefore ??= {})[name] = load;
  try {
    await fn();
    // Others' work on a shared machine moves every figure: say how busy it was.
    print(`\n_Load average before this section: ${load.map((x) => x.toFixed(2)).join(', ')} (${os.cpus().length} vCPUs)._`);
  } catch (e) {
    failed = true;
    result[name] = { error: String(e?.stack ?? e) };
    print(`\n**${name}: failed** — ${String(e?.message ?? e)}`);
    log(`${name} failed: ${e?.stack ?? e}`);
  } finally {
    log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

// ---------------------------------------------------------------------------------------------- 1
const machine = machineFacts(deepnode);
{
  const peakThreads = [...new Set([1, 2, ...threadCounts])].sort((a, b) => a - b);
  result.machine = { ...machine, peakGflops: Object.fromEntries(peakThreads.map((t) => [t, machine.peakGflops(t)])) };
  const rows = [
    ['CPU', `${machine.cpu} (${machine.vendor} family ${machine.family} model ${machine.model}: ${machine.uarch})`],
    ['vCPUs', `${machine.vcpus}`],
    ['SIMD', machine.simd.join(', ') || 'none of avx512f/avx2/fma'],
    ['deepnode kernel', `${machine.isa} (deepnode ${machine.deepnodeVersion}, ${machine.addon})`],
    ['clock', `${fmt(machine.clockGHz, 3)} GHz, from ${machine.clockSource}`],
    ['FMA units × fp32 lanes', `${machine.fmaUnits} × ${machine.lanes} — assumption: ${machine.fmaAssumption}`],
    ['fp32 peak per core', `${fmt(machine.peakGflopsPerCore, 1)} GFLOPS = ${fmt(machine.clockGHz, 3)} GHz × ${machine.fmaUnits} FMA units × ${machine.lanes} lanes × 2 flops/FMA`],
    ...peakThreads.filter((t) => t > 1).map((t) => [`fp32 peak, ${t} cores`, `${fmt(machine.peakGflops(t), 1)} GFLOPS`]),
  ];
  if (machine.kernelPeakGflopsPerCore !== null && machine.kernelPeakGflopsPerCore < machine.peakGflopsPerCore)
    rows.push(['peak with the chosen kernel', `${fmt(machine.kernelPeakGflopsPerCore, 1)} GFLOPS per core (the ${machine.isa} kernel's lanes)`]);
  // Before any peer starts: it may set OPENBLAS_CORETYPE for them (bench/lib/openblas.mjs).
  const blas = configureOpenBLAS(cpuIdentity());
  result.machine.openblas = blas;
  rows.push(['OpenBLAS (GEMM peer, PyTorch\'s BLAS)', describeOpenBLAS(blas)]);
  rows.push(['Node', process.version], ['load average at start', machine.loadAverage.map((x) => x.toFixed(2)).join(', ')]);
  if (machine.vcpus >= 2) {
    const capacity = await measureCapacity(2);
    result.machine.capacityAtStart = capacity;
    rows.push(['2-thread capacity at start', `${fmt(capacity, 2)}× one thread: the work two threads of plain arithmetic get done next to one (2.0 on two free cores; bench/lib/capacity.mjs)`]);
  }
  print(`## Machine\n\n${markdownTable(['machine', ''], rows)}`);
}
const peak = (t) => machine.peakGflops(t);

// ---------------------------------------------------------------------------------------------- 2
if (only.includes('gemm'))
  await section('gemm', async () => {
    let parsedBench = null;
    let benchError = null;
    // The 2-thread cells depend on what the host gives the second vCPU: probe it on either side.
    const capacity = async () => (machine.vcpus < 2 ? null : measureCapacity(2));
    const capacityBefore = await capacity();
    try {
      parsedBench = parseGemmBench(await runGemmBench(root, trials, log));
    } catch (e) {
      benchError = e;
      log(`gemm: ${e.message}`);
    }
    const out = [`## GEMM (GFLOPS, medians; with OpenBLAS the two alternate trial by trial and each ratio is the median of the paired ratios: ${3 * trials} pairs at 1 thread, ${2 * trials + 1} at 2 threads with a 150 ms pause before each trial so that neither library's idle workers spin into the other's)`, ''];
    if (parsedBench?.openblas) {
      const ts = threadCounts.filter((t) => parsedBench.rows[0].ours[t] !== undefined);
      const header = ['shape', 'm×n×k'];
      for (const t of ts) header.push(`deepnode ${t}T`, `OpenBLAS ${t}T`, `ratio ${t}T`, `deepnode % peak ${t}T`);
      header.push('goal', 'result');
      const rows = [];
      result.gemm = { source: 'bench/gemm_bench.sh', isa: parsedBench.isa, openblas: true, rows: [] };
      for (const r of parsedBench.rows) {
        const goal = gemmGoal(r);
        const cells = [r.shape, `${r.m}×${r.n}×${r.k}`];
        const jr = { shape: r.shape, m: r.m, n: r.n, k: r.k, threads: {} };
        let ok = true;
        for (const t of ts) {
          const ours = r.ours[t];
          const ob = r.openblas[t];
          const ratio = r.ratio[t] ?? ours / ob; // the median of paired trials' ratios (bench/gemm_bench.cc)
          cells.push(fmt(ours, 1), fmt(ob, 1), fmtRatio(ratio), fmtPct(ours / peak(t)));
          jr.threads[t] = { deepnode: ours, openblas: ob, ratio, fractionOfPeak: ours / peak(t), openblasFractionOfPeak: ob / peak(t) };
          if (goal && !goal.ok(ratio)) ok = false;
        }
        cells.push(goal ? goal.text : '', goal ? (ok ? PASS : FAIL) : '');
        jr.goal = goal?.text ?? null;
        jr.pass = goal ? ok : null;
        result.gemm.rows.push(jr);
        rows.push(cells);
      }
      out.push(markdownTable(header, rows, header.map((_, i) => (i < 2 || i >= header.length - 2 ? 'l' : 'r'))));
      out.push('', `deepnode kernel ${parsedBench.isa}; OpenBLAS (Debian libopenblas${parsedBench.openblasCore ? `, ${parsedBench.openblasCore} kernels` : ''}) linked only in bench/gemm_bench.cc; % peak against the theoretical peak above for that many cores.`);
      if (capacityBefore !== null) {
        const capacityAfter = await capacity();
        result.gemm.capacity = { before: capacityBefore, after: capacityAfter };
        out.push('', `Machine 2-thread capacity (bench/lib/capacity.mjs; 2.0 on two free cores) before this section ${fmt(capacityBefore, 2)}×, after it ${fmt(capacityAfter, 2)}×.`);
      }
    } else {
      const why = benchError
        ? `bench/gemm_bench.sh failed (${benchError.message})`
        : 'OpenBLAS is not installed (apt-get install -y libopenblas-dev), so there is nothing to compare with';
      out.push(`${why}; deepnode's GEMM through the addon (benchGemm):`, '');
      const g = benchGemm({ trials, threadCounts, quick, log: null });
      const header = ['shape (m x n x k)', ...threadCounts.flatMap((t) => [`deepnode ${t}T`, `% peak ${t}T`])];
      const rows = g.rows.map(([label, ...vals]) => [label, ...vals.flatMap((x, i) => [x, fmtPct(Number(x) / peak(threadCounts[i]))])]);
      out.push(markdownTable(header, rows));
      result.gemm = {
        source: 'benchGemm (addon)',
        openblas: false,
        reason: why,
        gemmBench: parsedBench,
        rows: g.rows.map(([label, ...vals]) => ({ shape: label, threads: Object.fromEntries(threadCounts.map((t, i) => [t, { deepnode: Number(vals[i]), fractionOfPeak: Number(vals[i]) / peak(t) }])) })),
      };
    }
    print(`\n${out.join('\n')}`);
  });

// ---------------------------------------------------------------------------------------------- peers
async function loadRunPeers() {
  const file = process.env.DEEPNODE_BENCH_PEERS ? path.resolve(process.env.DEEPNODE_BENCH_PEERS) : path.join(root, 'bench/peers/run.mjs');
  if (!fs.existsSync(file)) return { error: `${path.relative(root, file)} not found` };
  try {
    const mod = await import(pathToFileURL(file).href);
    if (typeof mod.runPeers !== 'function') return { error: `${path.relative(root, file)} exports no runPeers` };
    return { runPeers: mod.runPeers, startTorchSession: typeof mod.startTorchSession === 'function' ? mod.startTorchSession : null };
  } catch (e) {
    return { error: `loading ${path.relative(root, file)} failed: ${e.message}` };
  }
}
const skipReason = (r) => (typeof r.skipped === 'string' ? r.skipped : r.reason ?? 'skipped');
const peerOk = (r) => r && !r.skipped && Number.isFinite(r.sPerEpoch) && r.sPerEpoch > 0;

/** Runs the peers; never throws: failures come back as skipped rows. */
async function measurePeers({ workloads: ws, threadCounts: ts, peers: ps, maxSeconds: ms, epochs: ep }) {
  const all = ps.flatMap((peer) => ws.flatMap((workload) => ts.map((threads) => ({ peer, workload, threads }))));
  if (ps.length === 0) return [];
  const loaded = await loadRunPeers();
  if (loaded.error) return all.map((c) => ({ ...c, skipped: loaded.error }));
  try {
    // PyTorch gets the median of `ep` epochs; tfjs, 20-300x slower and timed on a bounded part of an
    // epoch anyway, one epoch (the goals against it are 20x, far above the noise).
    const rows = [];
    for (const group of [ps.filter((p) => p === 'pytorch'), ps.filter((p) => p !== 'pytorch')]) {
      if (group.length === 0) continue;
      const epochsFor = group.includes('pytorch') ? ep : 1;
      rows.push(...(await loaded.runPeers({ workloads: ws, threadCounts: ts, epochs: epochsFor, maxSeconds: ms, peers: group, log: (line) => log(`peers: ${line}`) })));
    }
    // Any cell the peer script did not answer is reported as such, not silently dropped.
    return all.map((c) => rows.find((r) => r.peer === c.peer && r.workload === c.workload && r.threads === c.threads) ?? { ...c, skipped: 'no result from bench/peers/run.mjs' });
  } catch (e) {
    return all.map((c) => ({ ...c, skipped: `runPeers failed: ${e.message}` }));
  }
}
const fewerThreads = (r) => peerOk(r) && Number.isFinite(r.threadsUsed) && r.threadsUsed < r.threads;
const peerCell = (r) => (peerOk(r) ? `${fmtSeconds(r.sPerEpoch)}${r.extrapolated ? '*' : ''}${fewerThreads(r) ? '†' : ''}` : 'n/a');
const FEWER_THREADS_NOTE = '† the peer ran on fewer threads than the row asks (its own limit; threadsUsed in the JSON).';

/** Rows "peer | workloads | threads | why not measured" for the skipped peer cells, grouped. */
function skippedTable(peerRows) {
  const groups = new Map();
  for (const r of peerRows.filter((x) => !peerOk(x))) {
    const reason = r.skipped ? skipReason(r) : `no time reported (${JSON.stringify(r.sPerEpoch)})`;
    const key = `${r.peer}|${reason}`;
    const g = groups.get(key) ?? { peer: r.peer, reason, workloads: new Set(), threads: new Set() };
    g.workloads.add(r.workload);
    g.threads.add(r.threads);
    groups.set(key, g);
  }
  if (groups.size === 0) return '';
  const rows = [...groups.values()].map((g) => [
    g.peer,
    [...g.workloads].join(', '),
    [...g.threads].join(', '),
    /--no-peers/.test(g.reason) ? g.reason : `${g.reason} — run \`npm run bench:peers\` first`,
  ]);
  return `\n\nPeers not measured:\n\n${markdownTable(['peer', 'workloads', 'threads', 'why'], rows)}`;
}

// ---------------------------------------------------------------------------------------------- 3
const stepsPerEpoch = (n, batch) => Math.ceil(n / batch);
/** deepnode seconds per 55,000-image epoch; fewer samples are timed and scaled by the step count. */
async function deepnodeEpoch(workload, x, y, threads, ep) {
  deepnode.setNumThreads(threads);
  const { batchSize } = WORKLOADS[workload];
  const n = y.shape[0];
  const r = await timeWorkload(workload, x, y, { epochs: ep, maxSeconds, warmupSamples: WARMUP_SAMPLES });
  const scale = stepsPerEpoch(EPOCH_IMAGES, batchSize) / stepsPerEpoch(n, batchSize);
  return deepnodeRow(workload, threads, r.times.map((s) => s * scale), n, r.loss);
}

/** A training cell's row: epochs already scaled to 55,000 images, timed on n. */
function deepnodeRow(workload, threads, times, n, finalLoss) {
  return { workload, threads, sPerEpoch: median(times), samples: times, extrapolated: n !== EPOCH_IMAGES, imagesMeasured: n, finalLoss };
}

// A training cell with PyTorch beside it: one deepnode model and one PyTorch model (a peer process
// kept alive, bench/peers/run.mjs startTorchSession), their epochs alternating, the order flipping
// pair by pair (deepnode first, then PyTorch first, ...). This host's speed drifts by 10% and more
// over minutes: W4's 1-thread epoch read 3.72-4.21 s over the fifteenth and sixteenth sessions'
// runs, and its ratio to PyTorch 1.30-1.53x with PyTorch timed right after deepnode's epochs. Each
// pair is timed within seconds; the ratio the goal is judged on is the median of the pairs'.
// Returns { ours, torch, ratio, ratios }: ours as deepnodeEpoch's, torch a peer protocol row (or a
// skipped one), ratio null when PyTorch did not run.
const PAIR_PAUSE_MS = 200; // before each epoch: the other library's idle workers fall asleep first
async function pairedWithTorch(workload, x, y, threads, ep, startTorchSession) {
  const { batchSize } = WORKLOADS[workload];
  const n = y.shape[0];
  const scale = stepsPerEpoch(EPOCH_IMAGES, batchSize) / stepsPerEpoch(n, batchSize);
  const cell = { peer: 'pytorch', workload, threads };
  let torch = null;
  let torchRow = null;
  const started = await startTorchSession({ workload, threads, maxSeconds: peerMaxSeconds, log: (line) => log(line) });
  if (started.skipped) torchRow = { ...cell, skipped: started.skipped, sPerEpoch: null };
  else torch = started;
  deepnode.setNumThreads(threads);
  const session = await workloadSession(workload, x, y, { warmupSamples: WARMUP_SAMPLES });
  const times = [];
  const torchEpochs = [];
  const ratios = [];
  let loss = NaN;
  const pause = () => new Promise((resolve) => setTimeout(resolve, torch ? PAIR_PAUSE_MS : 0));
  const start = performance.now();
  try {
    for (let i = 0; i < ep; i++) {
      let ours = null;
      let theirs = null;
      for (const who of i % 2 ? ['pytorch', 'deepnode'] : ['deepnode', 'pytorch']) {
        await pause();
        if (who === 'deepnode') {
          const r = await session.epoch();
          ours = r.seconds * scale;
          loss = r.loss;
        } else if (torch) {
          try {
            theirs = await torch.epoch();
          } catch (e) {
            torchRow = { ...cell, skipped: e.message, sPerEpoch: null };
            torch = null;
          }
        }
      }
      times.push(ours);
      if (theirs) {
        torchEpochs.push(theirs);
        ratios.push(theirs.sample / ours);
      }
      if ((performance.now() - start) / 1000 > maxSeconds) break;
    }
  } finally {
    await torch?.close();
  }
  const ours = deepnodeRow(workload, threads, times, n, loss);
  if (!torchRow) {
    const samples = torchEpochs.map((e) => e.sample);
    torchRow = {
      ...cell, sPerEpoch: median(samples), samples, extrapolated: torchEpochs.some((e) => e.extrapolated),
      stepsMeasured: torchEpochs.reduce((a, e) => a + e.steps, 0), finalLoss: torchEpochs.at(-1).loss,
      version: started.version, pairedWithDeepnode: true,
    };
  }
  // A peer that died part-way is not measured: its finished epochs are no median of the cell.
  return { ours, torch: torchRow, ratio: peerOk(torchRow) ? median(ratios) : null, ratios };
}

// Speed-up of 2 threads over 1 on one model: `pairs` pairs of epochs of `images` images, the
// thread count alternating (1-2, 2-1, ...), each pair followed by a capacity probe.
async function scalingPairs(workload, x, y, images, pairs, probe) {
  const data = firstSamples(x, y, images);
  const { batchSize } = WORKLOADS[workload];
  deepnode.setSeed(1);
  const model = WORKLOADS[workload].model();
  // A few untimed batches at the new thread count first: the switch itself (the GEMM's helper
  // thread asleep through a 1-thread epoch, then waking) is an artifact of alternating, not a cost
  // that training at a fixed count pays every epoch.
  const warm = firstSamples(x, y, Math.min(images, 4 * batchSize));
  const epoch = async (threads) => {
    deepnode.setNumThreads(threads);
    await model.fit(warm.x, warm.y, { epochs: 1, batchSize, verbose: 0 });
    const t0 = performance.now();
    await model.fit(data.x, data.y, { epochs: 1, batchSize, verbose: 0 });
    return performance.now() - t0;
  };
  await epoch(2); // warm-up
  const ratios = [];
  const capacities = [];
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 ? [2, 1] : [1, 2];
    const ms = {};
    for (const t of order) ms[t] = await epoch(t);
    ratios.push(ms[1] / ms[2]);
    capacities.push(await probe.probe());
  }
  return { pairs, images, speedup: median(ratios), speedups: ratios, capacity: median(capacities.filter((c) => c !== null)), capacities };
}

const GOALS = {
  W1: [['pytorch', 2], ['tfjs', 20]],
  W2: [['pytorch', 2], ['tfjs', 20]],
  W3: [['pytorch', 2], ['tfjs', 20]],
  W4: [['pytorch', 1.3]],
};
const goalText = (w) => GOALS[w].map(([p, r]) => `≥ ${r}× ${p === 'tfjs' ? 'best tfjs' : 'PyTorch'}`).join(', ');

if (only.includes('train'))
  await section('train', async () => {
    const initialThreads = deepnode.getNumThreads();
    const { x, y } = await w1Data(samples);
    const ours = [];
    const peerRows = [];
    const pairedRatios = new Map(); // `${w}/${t}` -> { ratio, ratios } of the paired epochs
    const peerEpochs = quick ? 1 : Math.min(epochs, 3);
    // PyTorch's epochs alternate with deepnode's when the peers module can keep a PyTorch model
    // alive (pairedWithTorch); a peers module without it (DEEPNODE_BENCH_PEERS) runs PyTorch's
    // epochs right after deepnode's, cell by cell.
    const loaded = peers.includes('pytorch') ? await loadRunPeers() : null;
    const startTorchSession = loaded?.startTorchSession ?? null;
    try {
      for (const w of workloads)
        for (const t of threadCounts) {
          const paired = startTorchSession !== null;
          log(`train: deepnode ${w} ${threadLabel(t)}, ${epochs} epoch(s) of ${y.shape[0]} images${paired ? ', alternating with PyTorch' : ''}`);
          let r;
          if (paired) {
            const p = await pairedWithTorch(w, x, y, t, epochs, startTorchSession);
            r = p.ours;
            peerRows.push(p.torch);
            if (p.ratio !== null) pairedRatios.set(`${w}/${t}`, { ratio: p.ratio, ratios: p.ratios });
            log(`train: PyTorch ${w} ${t}T ${peerOk(p.torch) ? `${p.torch.samples.map((s) => s.toFixed(2)).join(', ')} s/epoch, paired ratios ${p.ratios.map((q) => q.toFixed(2)).join(', ')}` : `skipped: ${skipReason(p.torch)}`}`);
          } else {
            r = await deepnodeEpoch(w, x, y, t, epochs);
          }
          log(`train: deepnode ${w} ${t}T ${r.samples.map((s) => s.toFixed(2)).join(', ')} s/epoch`);
          ours.push(r);
          if (peers.includes('pytorch') && !paired)
            peerRows.push(...(await measurePeers({ workloads: [w], threadCounts: [t], peers: ['pytorch'], maxSeconds: peerMaxSeconds, epochs: peerEpochs })));
        }
    } finally {
      deepnode.setNumThreads(initialThreads);
    }
    // tfjs, 20-300x slower (its goals are 20x, far above the drift), after all of them.
    const tfjsPeers = peers.filter((p) => p.startsWith('tfjs'));
    peerRows.push(...(await measurePeers({ workloads, threadCounts, peers: tfjsPeers, maxSeconds: peerMaxSeconds, epochs: peerEpochs })));
    const find = (peer, w, t) => peerRows.find((r) => r.peer === peer && r.workload === w && r.threads === t);

    const header = ['workload', 'threads', 'deepnode s/epoch'];
    if (peers.includes('pytorch')) header.push('PyTorch s/epoch', 'PyTorch / deepnode');
    for (const p of tfjsPeers) header.push(`${p} s/epoch`);
    if (tfjsPeers.length) header.push('best tfjs / deepnode');
    header.push('goal', 'result');
    const rows = [];
    const training = [];
    for (const r of ours) {
      const cells = [r.workload, r.threads, `${fmtSeconds(r.sPerEpoch)}${r.extrapolated ? '*' : ''}`];
      const pt = find('pytorch', r.workload, r.threads);
      const pairedRatio = pairedRatios.get(`${r.workload}/${r.threads}`) ?? null;
      const ptRatio = pairedRatio ? pairedRatio.ratio : peerOk(pt) ? pt.sPerEpoch / r.sPerEpoch : null;
      if (peers.includes('pytorch')) cells.push(peerCell(pt), fmtRatio(ptRatio));
      const tf = tfjsPeers.map((p) => find(p, r.workload, r.threads)).filter(peerOk);
      for (const p of tfjsPeers) cells.push(peerCell(find(p, r.workload, r.threads)));
      const bestTf = tf.length ? Math.min(...tf.map((q) => q.sPerEpoch)) : null;
      const tfRatio = bestTf === null ? null : bestTf / r.sPerEpoch;
      if (tfjsPeers.length) cells.push(fmtRatio(tfRatio));
      // The goal holds when every ratio it names is met; unmeasured peers leave it open.
      const checks = GOALS[r.workload].map(([p, min]) => ({ peer: p, min, ratio: p === 'pytorch' ? ptRatio : tfRatio }));
      const missing = checks.filter((c) => c.ratio === null);
      const failedChecks = checks.filter((c) => c.ratio !== null && c.ratio < c.min);
      const verdict = failedChecks.length ? FAIL : missing.length ? `? (${missing.map((c) => (c.peer === 'tfjs' ? 'tfjs' : 'PyTorch')).join(', ')} not measured)` : PASS;
      cells.push(goalText(r.workload), verdict);
      rows.push(cells);
      training.push({ ...r, pytorch: pt ?? null, tfjs: Object.fromEntries(tfjsPeers.map((p) => [p, find(p, r.workload, r.threads) ?? null])), ratioPytorch: ptRatio, ratioPytorchPairs: pairedRatio?.ratios ?? null, ratioBestTfjs: tfRatio, goal: goalText(r.workload), result: verdict });
    }
    const pairedText = pairedRatios.size
      ? `PyTorch's epochs alternate with deepnode's on each row, one model each, the order flipping pair by pair, and its ratio is the median of the per-pair ratios`
      : 'PyTorch timed right after deepnode on each row';
    const out = [`## Training (seconds per 55,000-image epoch, median of ${epochs} epoch${epochs === 1 ? '' : 's'}; ratio = peer time / deepnode time at the same thread count; ${pairedText})`, ''];
    out.push(markdownTable(header, rows, header.map((_, i) => (i < 2 || i >= header.length - 2 ? 'l' : 'r'))));
    const notes = [];
    if (ours.some((r) => r.extrapolated)) notes.push(`deepnode timed on ${y.shape[0]} images per epoch and scaled to 55,000 by the step count`);
    if (peerRows.some((r) => peerOk(r) && r.extrapolated)) notes.push('peer epochs bounded in time: measured on fewer steps and extrapolated');
    if (notes.length) out.push('', `\\* ${notes.join('; ')}.`);
    if (pairedRatios.size)
      out.push('', `PyTorch / deepnode per pair: ${[...pairedRatios].map(([key, q]) => `${key.replace('/', ' ')}T ${q.ratios.map((v) => v.toFixed(2)).join(', ')}`).join('; ')}.`);
    if (peerRows.some(fewerThreads)) out.push('', FEWER_THREADS_NOTE);
    out.push('', ...workloads.map((w) => `- ${w}: ${WORKLOADS[w].what}`));

    // Thread scaling: the issue asks W4 on 2 threads for ≥ 1.8× its 1-thread speed. The cells above
    // time 1 and 2 threads minutes apart, and on a shared VM the machine itself changes in between;
    // so the speed-up that the goal is judged on comes from alternating 1- and 2-thread epochs of one
    // model in pairs (median of the per-pair ratios), each pair next to a probe of how much CPU the
    // machine gave two threads at that moment (bench/lib/capacity.mjs).
    const scaling = [];
    if (threadCounts.includes(1) && threadCounts.includes(2)) {
      // Per-pair speed-ups on this host spread over 1.1-2.1 (the second vCPU's share changes from
      // second to second): more pairs than epochs, so that the median the goal is judged on moves less.
      const pairs = quick ? 1 : Math.max(9, 2 * epochs + 3);
      const pairImages = Math.min(y.shape[0], quick ? 512 : 8192);
      const probe = await capacityProbe(2);
      const srows = [];
      try {
        for (const w of workloads) {
          const one = ours.find((r) => r.workload === w && r.threads === 1);
          const two = ours.find((r) => r.workload === w && r.threads === 2);
          log(`train: ${w} thread scaling, ${pairs} alternating 1T/2T pairs of ${pairImages} images`);
          const p = await scalingPairs(w, x, y, pairImages, pairs, probe);
          const goal = w === 'W4' ? '≥ 1.8×' : '';
          const verdict = w === 'W4' ? (p.speedup >= 1.8 ? PASS : FAIL) : '';
          srows.push([w, fmtSeconds(one.sPerEpoch), fmtSeconds(two.sPerEpoch), fmtRatio(one.sPerEpoch / two.sPerEpoch), fmtRatio(p.speedup), fmtRatio(p.capacity), goal, verdict]);
          scaling.push({ workload: w, s1: one.sPerEpoch, s2: two.sPerEpoch, speedupCells: one.sPerEpoch / two.sPerEpoch, ...p, goal: goal || null, result: verdict || null });
        }
      } finally {
        await probe.close();
        deepnode.setNumThreads(initialThreads);
      }
      out.push('', '### Thread scaling (deepnode)', '',
        `"paired" alternates 1- and 2-thread epochs of ${pairImages} images on one model, ${pairs} pair${pairs === 1 ? "" : "s"}, and takes the median of the per-pair speed-ups (the goal is judged on it); ` +
        '"capacity" is the median, over the same pairs, of how much work two threads of plain arithmetic got done next to one (2.0 on two free cores; less when the host shares them).',
        '',
        markdownTable(['workload', '1 thread s/epoch', '2 threads s/epoch', 'speed-up (cells above)', 'speed-up (paired)', 'machine 2-thread capacity', 'goal', 'result'], srows));
    }
    out.push(skippedTable(peerRows));
    result.train = { epochImages: EPOCH_IMAGES, imagesMeasured: y.shape[0], rows: training, scaling, peers: peerRows };
    print(`\n${out.join('\n')}`);
  });

// ---------------------------------------------------------------------------------------------- 4
if (only.includes('contention'))
  await section('contention', async () => {
    const w = contentionWorkload;
    const initialThreads = deepnode.getNumThreads();
    const contentionSamples = quick ? 2048 : samples;
    const { x, y } = await w1Data(contentionSamples);
    const ep = quick ? 1 : epochs;
    const busyPairsCount = quick ? 1 : Math.max(9, 2 * epochs + 3);
    const busyPairImages = Math.min(contentionSamples, quick ? 512 : 8192);
    const cells = {};
    try {
      log(`contention: deepnode ${w} quiet, 1 and 2 threads`);
      cells.quiet1 = await deepnodeEpoch(w, x, y, 1, ep);
      cells.quiet2 = await deepnodeEpoch(w, x, y, 2, ep);
      const busy = await startBusyCore(log);
      const probe = await capacityProbe(2);
      try {
        cells.busy2 = await deepnodeEpoch(w, x, y, 2, ep);
        // The goal's comparison in one condition: 1- and 2-thread epochs alternating while the core
        // stays busy (the cells above are timed a minute apart, and this host drifts by ±5% in that time).
        log(`contention: ${w} ${busyPairsCount} alternating 1T/2T pairs of ${busyPairImages} images, core busy`);
        cells.busyPairs = await scalingPairs(w, x, y, busyPairImages, busyPairsCount, probe);
      } finally {
        await probe.close();
        await busy.stop();
      }
    } finally {
      deepnode.setNumThreads(initialThreads);
    }
    // PyTorch, bounded: it can spin-wait its way to minutes per epoch when a core is taken.
    const torchMax = peerMaxSeconds ?? 20;
    const torch = {};
    if (peers.includes('pytorch')) {
      const quiet = await measurePeers({ workloads: [w], threadCounts: [1, 2], peers: ['pytorch'], maxSeconds: torchMax, epochs: 1 });
      torch.quiet1 = quiet.find((r) => r.threads === 1);
      torch.quiet2 = quiet.find((r) => r.threads === 2);
      if (peerOk(torch.quiet2)) {
        const busy = await startBusyCore(log);
        try {
          [torch.busy2] = await measurePeers({ workloads: [w], threadCounts: [2], peers: ['pytorch'], maxSeconds: torchMax, epochs: 1 });
        } finally {
          await busy.stop();
        }
      }
    }
    const row = (name, c, goal) => {
      const ratio = c.busy2 && c.quiet1 && peerOk(c.busy2) && peerOk(c.quiet1) ? c.quiet1.sPerEpoch / c.busy2.sPerEpoch : null;
      const paired = c.busyPairs?.speedup ?? null;
      const verdict = goal ? (paired === null ? '?' : paired >= 1 ? PASS : FAIL) : '';
      return { cells: [name, peerCell(c.quiet1), peerCell(c.quiet2), peerCell(c.busy2), fmtRatio(ratio), paired === null ? '—' : fmtRatio(paired), goal ? '≥ 1× (paired)' : '', verdict], ratio, paired, verdict };
    };
    const dn = row('deepnode', cells, true);
    const rows = [dn.cells];
    let pt = null;
    if (peers.includes('pytorch')) {
      pt = peerOk(torch.quiet1) ? row('PyTorch', torch, false) : null;
      rows.push(pt ? pt.cells : ['PyTorch', 'n/a', 'n/a', 'n/a', '—', '—', '', '']);
    }
    const out = [
      `## Contention (${w}, seconds per 55,000-image epoch; "busy" = another process (\`node -e 'for(;;){}'\`) keeps one core busy)`,
      '',
      markdownTable(['', '1 thread, quiet', '2 threads, quiet', '2 threads, 1 core busy', 'speed busy 2T / quiet 1T', 'speed 2T / 1T, core busy (paired)', 'goal', 'result'], rows),
    ];
    if (cells.busyPairs)
      out.push('', `"paired": ${cells.busyPairs.pairs} alternating 1- and 2-thread epochs of ${cells.busyPairs.images} images on one model while the core stays busy, median of the per-pair speed-ups (the goal is judged on it: 2 threads not below 1 thread in the same condition); ` +
        `per pair ${cells.busyPairs.speedups.map((r) => r.toFixed(2)).join(', ')}; machine 2-thread capacity meanwhile ${fmtRatio(cells.busyPairs.capacity)} (about 1 with a core taken). ` +
        '"busy 2T / quiet 1T" compares with a 1-thread epoch on the quiet machine, timed a minute earlier: the stricter reading, shown for reference.');
    const notes = [];
    if (cells.quiet1.extrapolated) notes.push(`deepnode timed on ${contentionSamples} images and scaled to 55,000`);
    if (Object.values(torch).some((r) => peerOk(r) && r.extrapolated)) notes.push(`PyTorch bounded to ~${torchMax} s per cell, measured on fewer steps and extrapolated`);
    if (notes.length) out.push('', `\\* ${notes.join('; ')}.`);
    if (peers.includes('pytorch')) out.push(skippedTable(Object.values(torch).filter(Boolean)));
    result.contention = { workload: w, deepnode: cells, pytorch: torch, ratio: dn.ratio, paired: dn.paired, result: dn.verdict, pytorchRatio: pt?.ratio ?? null };
    print(`\n${out.join('\n')}`);
  });

// ---------------------------------------------------------------------------------------------- 5
if (only.includes('profile'))
  await section('profile', async () => {
    const threads = threadCounts[0];
    const initialThreads = deepnode.getNumThreads();
    const plan = [
      ['W1', quick ? 1024 : 11008],
      ['W3', quick ? 320 : 3200],
      ['W4', quick ? 1024 : 8192],
    ].filter(([w]) => workloads.includes(w) || !v.workloads);
    const profiles = [];
    const out = [`## Per-step profile (${threadLabel(threads)}; µs per training step by native function; "outside native" = wall − native)`];
    try {
      deepnode.setNumThreads(threads);
      const table = (p) => {
        const share = (us) => fmtPct(us / p.wallUs);
        const calls = (c) => (c >= 1 ? fmt(c, 1) : c.toPrecision(2)); // a once-per-epoch check shows as 0.0029, not 0.0
        const rows = p.rows.map((r) => [r.fn, fmt(r.usPerStep, 1), calls(r.callsPerStep), fmt(r.usPerCall, 2), share(r.usPerStep)]);
        rows.push(
          ['**native total**', fmt(p.nativeUs, 1), fmt(p.callsPerStep, 1), '', share(p.nativeUs)],
          ['**outside native (JS)**', fmt(p.outsideUs, 1), '', '', share(p.outsideUs)],
          ['wall per step (profiled run, wrapper cost removed)', fmt(p.wallUs, 1), '', '', ''],
          ['wall per step (unprofiled run, check)', fmt(p.wallUnwrappedUs, 1), '', '', ''],
        );
        return markdownTable(['native function', 'µs/step', 'calls/step', 'µs/call', 'share of wall'], rows, ['l', 'r', 'r', 'r', 'r']);
      };
      for (const [w, n] of plan) {
        log(`profile: ${w}, ${n} images per epoch`);
        const { x, y } = await w1Data(n);
        const profileWith = async (onePlan) => {
          const prev = deepnode.setTrainPlanEnabled(onePlan);
          try {
            deepnode.setSeed(1);
            return await profileSteps(native, WORKLOADS[w].model(), x, y, { batchSize: WORKLOADS[w].batchSize, epochs: quick ? 1 : 2 });
          } finally {
            deepnode.setTrainPlanEnabled(prev);
          }
        };
        // How fit runs it (the whole step in one native call), then the same step op by op through
        // autograd, whose table shows which kernels the one call spends its time in.
        const p = await profileWith(true);
        const perOp = await profileWith(false);
        profiles.push({ workload: w, ...p, perOp });
        out.push('', `### ${w}: ${WORKLOADS[w].what}; ${p.steps} steps (${p.epochs} epoch${p.epochs === 1 ? '' : 's'} of ${p.samples} images)`, '');
        out.push(
          'As `fit` runs it: with no callback watching single batches, about 8 ms of batches per native call (`trainPlanRun`; ' +
            'plain SGD fused into it, other optimizers\' updates inside it after each batch); "outside native" includes fit\'s per-epoch set-up ' +
            '(checking and indexing the data) and its event-loop yields:',
          '',
          table(p),
        );
        if (w === 'W1') {
          p.goal = '≤ 20 µs/step outside native';
          p.result = p.outsideUs <= 20 ? PASS : FAIL;
          out.push('', `Goal (issue 5): outside native ≤ 20 µs/step on W1 — ${fmt(p.outsideUs, 1)} µs/step: **${p.result}**.`);
        }
        out.push('', 'The same steps op by op through autograd (`setTrainPlanEnabled(false)`), showing the kernels the plan runs:', '', table(perOp));
        out.push('', `Wrapper cost calibrated on a wrapped no-op and subtracted: ${fmt(p.calibration.innerNs, 0)} ns per call inside the timed region, ${fmt(p.calibration.wholeNs, 0)} ns per call in all.`);
      }
    } finally {
      deepnode.setNumThreads(initialThreads);
    }
    result.profile = { threads, workloads: profiles };
    print(`\n${out.join('\n')}`);
  });

// ---------------------------------------------------------------------------------------------- JSON
result.loadAverageAtEnd = os.loadavg();
print(`\nLoad average at end: ${result.loadAverageAtEnd.map((x) => x.toFixed(2)).join(', ')} (the machine is shared; figures are medians).`);
fs.mkdirSync(path.dirname(jsonPath), { recursive: true });
fs.writeFileSync(jsonPath, `${JSON.stringify(result, (k, val) => (typeof val === 'function' ? undefined : val), 2)}\n`);
log(`results written to ${jsonPath}`);
process.exit(failed ? 1 : 0);
