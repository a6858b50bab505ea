// TensorFlow.js peer for deepnode's training benchmark (issue 5): workloads W1-W4 on Fashion-MNIST
// with the layers API (tf.sequential + compile + trainOnBatch), backends 'cpu' and 'wasm'.
//   node bench/peers/tfjs_workloads.mjs --workloads W1,W2,W3,W4 --backends cpu,wasm --threads 1,2
//        --epochs K --max-seconds S [--warmup-steps 50] [--warmup-seconds W] [--data DIR] [--n 55000] [--seed 0]
// Reads the data written by bench/peers/export-data.mjs (deepnode's own loader): <DIR>/train-x-<n>.f32
// (float32 [n, 784] in [0, 1]) and <DIR>/train-y-<n>.u8.
//
// TensorFlow.js is imported from the scratch install bench/.peers/node_modules (npm run bench:peers),
// falling back to the repository's own @tensorflow/tfjs devDependency (cpu backend only) when the
// scratch install is missing.
//
// For each (backend, threads, workload): a warm-up of --warmup-steps steps (stopped early after
// --warmup-seconds, default min(10, S/2)), then K timed epochs over fresh seeded permutations. An
// epoch longer than --max-seconds (default 20) is cut after S seconds and its time scaled to the
// full epoch (ceil(n / batch) steps: 1719 at batch 32, 215 at batch 256), with extrapolated=true.
// Every (backend, threads) pair runs in its own child process (the wasm thread count must be set
// before the backend starts).
//
// Threads: the cpu backend is plain single-threaded JavaScript, and tfjs-backend-wasm 4.22 disables
// its multi-threaded build under Node (WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to false when
// IS_NODE; tensorflow/tfjs#3830), so both always compute on one thread. Rows are still printed for
// every requested thread count (what a user with that many cores gets), with "threadsUsed": 1 as an
// extra field and a note on stderr.
//
// Output protocol: one JSON object per line on stdout and nothing else (console output of tfjs is
// redirected to stderr):
//   {"peer":"tfjs-cpu"|"tfjs-wasm","workload":"W1","threads":1,"sPerEpoch":..,"samples":[..],
//    "extrapolated":..,"stepsMeasured":..,"finalLoss":..,"version":"4.22.0","threadsUsed":1}
// ("stepsMeasured" counts the timed steps over all K epochs; "finalLoss" is the mean training loss
// over the last timed epoch's measured steps.)
//
// Keras semantics: He normal / LeCun normal (tfjs: truncated normal, as Keras), Glorot uniform by
// default (W2, W4), zero biases; LeakyReLU slope 0.2 as a layer after a linear Dense (tfjs has no
// 'leakyRelu' activation string); BatchNormalization momentum 0.99, epsilon 1e-3; softmax output with
// sparse categorical cross-entropy; tf.train.sgd(1e-3); tf.train.adam(1e-3, 0.9, 0.999, 1e-7).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const HERE = path.dirname(SELF);
const REPO = path.resolve(HERE, '..', '..');
export const SCRATCH = path.join(REPO, 'bench', '.peers');
const DEFAULT_DATA = path.join(SCRATCH, 'data');
const PIXELS = 784;
const WORKLOADS = ['W1', 'W2', 'W3', 'W4'];
const BACKENDS = ['cpu', 'wasm'];

const log = (...a) => process.stderr.write(a.join(' ') + '\n');

function parseArgs(argv) {
  const get = (name, dflt) => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0) return argv[i + 1];
    const eq = argv.find((a) => a.startsWith(`--${name}=`));
    return eq ? eq.slice(name.length + 3) : dflt;
  };
  const list = (s) => String(s).split(',').map((x) => x.trim()).filter(Boolean);
  const num = (name, dflt, ok) => {
    const v = Number(get(name, dflt));
    if (!ok(v)) throw new Error(`tfjs_workloads: --${name} is invalid, received ${get(name, dflt)}`);
    return v;
  };
  const maxSeconds = num('max-seconds', 20, (v) => v > 0);
  const a = {
    workloads: list(get('workloads', WORKLOADS.join(','))).map((w) => w.toUpperCase()),
    backends: list(get('backends', BACKENDS.join(','))).map((b) => b.toLowerCase()),
    threads: list(get('threads', '1,2')).map(Number),
    epochs: num('epochs', 1, (v) => Number.isInteger(v) && v >= 1),
    maxSeconds,
    warmupSteps: num('warmup-steps', 50, (v) => Number.isInteger(v) && v >= 0),
    warmupSeconds: num('warmup-seconds', Math.min(10, maxSeconds / 2), (v) => v >= 0),
    data: path.resolve(get('data', DEFAULT_DATA)),
    n: num('n', 55000, (v) => Number.isInteger(v) && v >= 1),
    seed: num('seed', 0, (v) => Number.isInteger(v)),
    child: argv.includes('--child'),
  };
  for (const w of a.workloads) if (!WORKLOADS.includes(w)) throw new Error(`tfjs_workloads: unknown workload '${w}' (expected W1..W4)`);
  for (const b of a.backends) if (!BACKENDS.includes(b)) throw new Error(`tfjs_workloads: unknown backend '${b}' (expected cpu, wasm)`);
  for (const t of a.threads) if (!(Number.isInteger(t) && t >= 1)) throw new Error(`tfjs_workloads: --threads must be positive integers, received ${get('threads')}`);
  return a;
}

/**
 * Resolve TensorFlow.js: the scratch install bench/.peers/node_modules first, then the repository's
 * devDependency (cpu only). Returns { tfPath, wasmPath, from: 'scratch'|'repo', require } or null.
 */
export function locateTfjs() {
  const inside = (file, dir) => path.relative(dir, file).split(path.sep)[0] !== '..';
  const scratchModules = path.join(SCRATCH, 'node_modules');
  const scratchReq = createRequire(path.join(SCRATCH, 'package.json'));
  // require.resolve also walks up to the repository's node_modules: accept only files inside the scratch folder.
  const resolveIn = (req, id, dir) => {
    try {
      const p = req.resolve(id);
      return inside(p, dir) ? p : null;
    } catch {
      return null;
    }
  };
  const tfPath = resolveIn(scratchReq, '@tensorflow/tfjs', scratchModules);
  if (tfPath) {
    return { tfPath, wasmPath: resolveIn(scratchReq, '@tensorflow/tfjs-backend-wasm', scratchModules), from: 'scratch', require: scratchReq };
  }
  const repoReq = createRequire(path.join(REPO, 'package.json'));
  const repoTf = resolveIn(repoReq, '@tensorflow/tfjs', path.join(REPO, 'node_modules'));
  return repoTf ? { tfPath: repoTf, wasmPath: null, from: 'repo', require: repoReq } : null;
}

function loadData(dir, n) {
  const xf = path.join(dir, `train-x-${n}.f32`);
  const yf = path.join(dir, `train-y-${n}.u8`);
  for (const [f, size] of [[xf, n * PIXELS * 4], [yf, n]]) {
    let s = -1;
    try {
      s = fs.statSync(f).size;
    } catch {}
    if (s !== size) throw new Error(`tfjs_workloads: ${f} is missing or has the wrong size (expected ${size} bytes); run node bench/peers/export-data.mjs --n ${n}`);
  }
  const xb = fs.readFileSync(xf);
  const x = new Float32Array(xb.buffer.slice(xb.byteOffset, xb.byteOffset + xb.byteLength));
  const y = new Uint8Array(fs.readFileSync(yf));
  return { x, y };
}

/** mulberry32: a small seeded PRNG for the epoch permutations. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function permutation(n, rand) {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

function build(tf, workload, seed) {
  const L = tf.layers;
  const m = tf.sequential();
  let s = seed;
  const he = () => tf.initializers.heNormal({ seed: s++ });
  const lecun = () => tf.initializers.leCunNormal({ seed: s++ });
  const glorot = () => tf.initializers.glorotUniform({ seed: s++ });
  let optimizer = tf.train.sgd(1e-3);
  let batch = 32;
  if (workload === 'W1') {
    m.add(L.dense({ inputShape: [PIXELS], units: 300, kernelInitializer: he() }));
    m.add(L.leakyReLU({ alpha: 0.2 }));
    m.add(L.dense({ units: 100, kernelInitializer: he() }));
    m.add(L.leakyReLU({ alpha: 0.2 }));
    m.add(L.dense({ units: 10, activation: 'softmax', kernelInitializer: he() }));
  } else if (workload === 'W2') {
    const bn = (extra = {}) => L.batchNormalization({ momentum: 0.99, epsilon: 1e-3, ...extra });
    m.add(bn({ inputShape: [PIXELS] }));
    m.add(L.dense({ units: 300, activation: 'relu', kernelInitializer: glorot() }));
    m.add(bn());
    m.add(L.dense({ units: 100, activation: 'relu', kernelInitializer: glorot() }));
    m.add(bn());
    m.add(L.dense({ units: 10, activation: 'softmax', kernelInitializer: glorot() }));
  } else if (workload === 'W3') {
    m.add(L.dense({ inputShape: [PIXELS], units: 300, activation: 'selu', kernelInitializer: lecun() }));
    for (let i = 0; i < 99; i++) m.add(L.dense({ units: 100, activation: 'selu', kernelInitializer: lecun() }));
    m.add(L.dense({ units: 10, activation: 'softmax', kernelInitializer: lecun() }));
  } else {
    m.add(L.dense({ inputShape: [PIXELS], units: 1024, activation: 'relu', kernelInitializer: glorot() }));
    m.add(L.dense({ units: 1024, activation: 'relu', kernelInitializer: glorot() }));
    m.add(L.dense({ units: 10, activation: 'softmax', kernelInitializer: glorot() }));
    optimizer = tf.train.adam(1e-3, 0.9, 0.999, 1e-7);
    batch = 256;
  }
  m.compile({ optimizer, loss: 'sparseCategoricalCrossentropy' });
  return { model: m, batch };
}

async function runWorkload(tf, backend, threads, threadsUsed, workload, data, a) {
  const { model, batch } = build(tf, workload, a.seed);
  const n = a.n;
  const stepsPerEpoch = Math.ceil(n / batch);
  const rand = rng(a.seed + 1);
  const step = async (perm, s) => {
    const start = s * batch;
    const b = Math.min(batch, n - start);
    const xb = new Float32Array(b * PIXELS);
    const yb = new Float32Array(b);
    for (let i = 0; i < b; i++) {
      const r = perm[start + i];
      xb.set(data.x.subarray(r * PIXELS, (r + 1) * PIXELS), i * PIXELS);
      yb[i] = data.y[r];
    }
    const xs = tf.tensor2d(xb, [b, PIXELS]);
    const ys = tf.tensor1d(yb);
    const loss = await model.trainOnBatch(xs, ys);
    xs.dispose();
    ys.dispose();
    return { loss: Array.isArray(loss) ? loss[0] : loss, b };
  };

  // Untimed warm-up.
  {
    const perm = permutation(n, rand);
    const t0 = performance.now();
    for (let s = 0; s < Math.min(a.warmupSteps, stepsPerEpoch); s++) {
      await step(perm, s);
      if ((performance.now() - t0) / 1000 > a.warmupSeconds) break;
    }
  }
  const tensorsBefore = tf.memory().numTensors;
  const samples = [];
  let stepsMeasured = 0;
  let extrapolated = false;
  let finalLoss = NaN;
  for (let e = 0; e < a.epochs; e++) {
    const perm = permutation(n, rand);
    let lossSum = 0;
    let seen = 0;
    let done = 0;
    let elapsed = 0;
    const t0 = performance.now();
    for (let s = 0; s < stepsPerEpoch; s++) {
      const r = await step(perm, s);
      lossSum += r.loss * r.b;
      seen += r.b;
      done++;
      elapsed = (performance.now() - t0) / 1000;
      if (elapsed > a.maxSeconds && done < stepsPerEpoch) break;
    }
    const partial = done < stepsPerEpoch;
    if (partial) extrapolated = true;
    const sample = partial ? (elapsed / done) * stepsPerEpoch : elapsed;
    samples.push(sample);
    stepsMeasured += done;
    finalLoss = lossSum / seen;
    log(`tfjs-${backend} ${workload} threads=${threads} epoch ${e + 1}/${a.epochs}: ${sample.toFixed(3)} s/epoch ` +
      `(${done}/${stepsPerEpoch} steps in ${elapsed.toFixed(3)} s${partial ? ', extrapolated' : ''}), loss ${finalLoss.toFixed(4)}`);
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked !== 0) log(`tfjs-${backend} ${workload}: warning: ${leaked} tensors leaked during timing`);
  model.dispose();
  const sorted = [...samples].sort((p, q) => p - q);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return {
    peer: `tfjs-${backend}`, workload, threads, sPerEpoch: median, samples, extrapolated, stepsMeasured,
    finalLoss: Number.isFinite(finalLoss) ? finalLoss : null, version: tf.version.tfjs, threadsUsed,
  };
}

async function child(a) {
  // Keep stdout for the protocol: tfjs's console messages go to stderr.
  for (const k of ['log', 'info', 'warn', 'debug']) console[k] = (...x) => process.stderr.write(x.join(' ') + '\n');
  const loc = locateTfjs();
  if (!loc) throw new Error('tfjs_workloads: @tensorflow/tfjs is not installed (run npm run bench:peers)');
  const backend = a.backends[0];
  const threads = a.threads[0];
  const tf = loc.require(loc.tfPath);
  let threadsUsed = 1;
  if (backend === 'wasm') {
    if (!loc.wasmPath) throw new Error('tfjs_workloads: @tensorflow/tfjs-backend-wasm is not installed in bench/.peers (run npm run bench:peers)');
    const wasm = loc.require(loc.wasmPath);
    wasm.setThreadsCount(threads);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs_workloads: the wasm backend failed to initialise');
    await tf.ready();
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    threadsUsed = mt ? wasm.getThreadsCount() : 1;
    log(`tfjs-wasm: simd=${simd}, multithread=${mt}, threads used ${threadsUsed}` +
      (mt ? '' : ` (tfjs-backend-wasm disables threads under Node; ${threads} requested)`));
  } else {
    if (!(await tf.setBackend('cpu'))) throw new Error('tfjs_workloads: the cpu backend failed to initialise');
    await tf.ready();
    if (threads > 1) log(`tfjs-cpu: the cpu backend is single-threaded JavaScript; ${threads} threads requested, 1 used`);
  }
  log(`tfjs ${tf.version.tfjs} (${loc.from} install: ${path.dirname(loc.tfPath)}), backend ${tf.getBackend()}`);
  const data = loadData(a.data, a.n);
  for (const w of a.workloads) {
    const row = await runWorkload(tf, backend, threads, threadsUsed, w, data, a);
    process.stdout.write(JSON.stringify(row) + '\n');
  }
}

async function main(argv) {
  const a = parseArgs(argv);
  if (a.child) return child(a);
  // Parent: one child process per (backend, threads).
  const fwd = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--backends' || argv[i] === '--threads') i++;
    else if (!/^--(backends|threads)=/.test(argv[i])) fwd.push(argv[i]);
  }
  let status = 0;
  for (const b of a.backends) {
    for (const t of a.threads) {
      const r = spawnSync(process.execPath, [SELF, ...fwd, '--backends', b, '--threads', String(t), '--child'], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      if (r.status !== 0) status = r.status ?? 1;
    }
  }
  return status;
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code ?? 0),
    (e) => {
      log(e instanceof Error ? e.message : String(e));
      process.exit(2);
    },
  );
}
