// How far 2-thread training is from what this machine allows. Each round times, one after the other:
//   alone        one 1-thread process training the workload, pinned to CPU 0;
//   independent  two such processes at once, pinned to CPUs 0 and 1: nothing is shared between
//                them but the machine (caches, memory, the host's clocks), so their summed speed
//                over `alone` is the ceiling for two cores' worth of this work here;
//   2 threads    one process training on 2 threads.
// A process trains a fresh seeded model: one untimed epoch, then --epochs timed epochs of
// --samples Fashion-MNIST images, and reports the median epoch's images per second.
// 2 threads well below the independent pair is lost to the split itself (waits, wake-ups, shared
// data); both low together is the machine. Pinning uses taskset (util-linux) when it is there.
//
//   node bench/scaling-ceiling.mjs [--workload W4] [--rounds 5] [--epochs 3] [--samples 8192]
import { parseArgs } from 'node:util';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deepnode, EXTRA_WORKLOADS, firstSamples, w1Data, WORKLOADS } from '../bin/benchmarks.mjs';
import { median } from './lib/format.mjs';

const SELF = fileURLToPath(import.meta.url);
const KNOWN = { ...WORKLOADS, ...EXTRA_WORKLOADS };

const { values: v } = parseArgs({
  options: {
    workload: { type: 'string', default: 'W4' },
    rounds: { type: 'string', default: '5' },
    epochs: { type: 'string', default: '3' },
    samples: { type: 'string', default: '8192' },
    child: { type: 'string' }, // internal: thread count of a timing process
  },
});
const workload = v.workload.toUpperCase();
const rounds = Number(v.rounds), epochs = Number(v.epochs), samples = Number(v.samples);
const fail = (m) => {
  process.stderr.write(`scaling-ceiling: ${m}\n`);
  process.exit(2);
};
if (!KNOWN[workload]) fail(`unknown workload "${v.workload}" (expected ${Object.keys(KNOWN).join(', ')})`);
for (const [name, n] of [['rounds', rounds], ['epochs', epochs], ['samples', samples]])
  if (!Number.isInteger(n) || n < 1) fail(`--${name}: a positive integer, received ${v[name]}`);

if (v.child !== undefined) {
  // A timing process: prints the median epoch's images per second.
  const { x, y } = await w1Data(samples);
  const data = firstSamples(x, y, Math.min(samples, y.shape[0]));
  const { batchSize, model: build } = KNOWN[workload];
  deepnode.setNumThreads(Number(v.child));
  deepnode.setSeed(1);
  const model = build();
  const times = [];
  for (let e = 0; e <= epochs; e++) {
    const t0 = performance.now();
    await model.fit(data.x, data.y, { epochs: 1, batchSize, verbose: 0 });
    if (e > 0) times.push((performance.now() - t0) / 1000);
  }
  process.stdout.write(`${data.y.shape[0] / median(times)}\n`);
  process.exit(0);
}

const haveTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
/** Starts a timing process (on `cpu` when taskset is available); resolves to its images/s. */
function timing(threads, cpu) {
  const args = [SELF, '--child', String(threads), '--workload', workload, '--epochs', String(epochs), '--samples', String(samples)];
  const [cmd, argv] = haveTaskset && cpu !== undefined ? ['taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`timing process exited with ${code}`))));
  });
}

console.log(`${workload} (${KNOWN[workload].what}): images/s, median of ${epochs} epochs of ${samples} images per process${haveTaskset ? '' : ' (taskset not found: processes unpinned)'}`);
console.log('');
console.log('| round | alone (1 thread) | independent pair | pair / alone | 2 threads | 2 threads / alone |');
console.log('|---|---:|---:|---:|---:|---:|');
const pairRatios = [];
const twoRatios = [];
for (let r = 1; r <= rounds; r++) {
  const alone = await timing(1, 0);
  const [a, b] = await Promise.all([timing(1, 0), timing(1, 1)]);
  const two = await timing(2);
  pairRatios.push((a + b) / alone);
  twoRatios.push(two / alone);
  console.log(`| ${r} | ${alone.toFixed(0)} | ${a.toFixed(0)} + ${b.toFixed(0)} | ${((a + b) / alone).toFixed(2)}× | ${two.toFixed(0)} | ${(two / alone).toFixed(2)}× |`);
}
console.log('');
console.log(`Medians over ${rounds} round${rounds === 1 ? '' : 's'}: independent pair ${median(pairRatios).toFixed(2)}× one process alone (the machine's ceiling), 2 threads ${median(twoRatios).toFixed(2)}×.`);
