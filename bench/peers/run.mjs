// Run the benchmark peers (PyTorch, TensorFlow.js cpu/wasm) on workloads W1-W4 and collect their
// results (the peer protocol of issue 5). Used by bench/run.mjs; also a CLI:
//   node bench/peers/run.mjs [--workloads W1,W2,W3,W4] [--threads 1,2] [--epochs K]
//        [--max-seconds S | --max-seconds pytorch=60,tfjs=20] [--peers pytorch,tfjs-cpu,tfjs-wasm]
// prints one JSON object per line on stdout (protocol rows, and {"skipped":true,...} rows), progress
// on stderr. Install the peers first with `npm run bench:peers` (bench/peers/install.sh).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exportData, haveData, DEFAULT_DATA_DIR, DEFAULT_N } from './export-data.mjs';
import { locateTfjs } from './tfjs_workloads.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The interpreter with Debian's python3-torch (override with DEEPNODE_BENCH_PYTHON). */
export const PYTHON = process.env.DEEPNODE_BENCH_PYTHON || '/usr/bin/python3';
export const ALL_PEERS = ['pytorch', 'tfjs-cpu', 'tfjs-wasm'];
export const ALL_WORKLOADS = ['W1', 'W2', 'W3', 'W4'];
/** What torch_workloads.py builds: issue 5's workloads and bench/chapter11.mjs's two. */
export const TORCH_WORKLOADS = [...ALL_WORKLOADS, 'W1R', 'W2A'];
/** Default per-peer bound on the timed part of one epoch, seconds (longer epochs are extrapolated). */
export const DEFAULT_MAX_SECONDS = { pytorch: 60, tfjs: 20 };

/** Why PyTorch cannot run here, or null: Debian's interpreter must import torch and numpy. Probed once per process. */
let torchProbe;
function torchUnavailable() {
  if (torchProbe === undefined) {
    const probe = fs.existsSync(PYTHON) ? spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' }) : null;
    torchProbe = probe && probe.status === 0 ? null : `${PYTHON} cannot import torch and numpy (apt-get install -y python3-torch, or npm run bench:peers)`;
  }
  return torchProbe;
}

/** Exports the benchmark data through deepnode's loader unless it is there; null, or why it failed. */
async function exportDataIfMissing(log) {
  if (haveData(DEFAULT_DATA_DIR, DEFAULT_N)) return null;
  try {
    await exportData({ log });
    return null;
  } catch (e) {
    return `cannot export the benchmark data: ${e instanceof Error ? e.message : e}`;
  }
}

/**
 * Run the requested peers and return their results.
 *
 * @param {object} [o]
 * @param {string[]} [o.workloads]    subset of ['W1','W2','W3','W4'] (default all)
 * @param {number[]} [o.threadCounts] default [1, 2]
 * @param {number}   [o.epochs]       timed epochs per (peer, workload, threads), median reported (default 1)
 * @param {number|{pytorch?:number, tfjs?:number}} [o.maxSeconds] bound on one timed epoch; longer
 *        epochs are timed on the steps that fit and extrapolated (default {pytorch: 60, tfjs: 20})
 * @param {string[]} [o.peers]        subset of ['pytorch','tfjs-cpu','tfjs-wasm'] (default all)
 * @param {(line: string) => void} [o.log] progress and the peers' stderr, line by line (default: stderr)
 * @returns {Promise<object[]>} one entry per (peer, workload, threads) requested, in peer order:
 *   a protocol row {peer, workload, threads, sPerEpoch, samples, extrapolated, stepsMeasured,
 *   finalLoss, version[, threadsUsed]} or {peer, workload, threads, skipped: true, reason, sPerEpoch: null}.
 */
export async function runPeers(o = {}) {
  const workloads = (o.workloads ?? ALL_WORKLOADS).map((w) => String(w).toUpperCase());
  const threadCounts = o.threadCounts ?? [1, 2];
  const epochs = o.epochs ?? 1;
  const peers = o.peers ?? ALL_PEERS;
  const log = o.log ?? ((line) => process.stderr.write(line + '\n'));
  const maxFor = (peer) => {
    const m = o.maxSeconds;
    const key = peer === 'pytorch' ? 'pytorch' : 'tfjs';
    if (typeof m === 'number') return m;
    return (m && (m[peer] ?? m[key])) ?? DEFAULT_MAX_SECONDS[key];
  };
  for (const w of workloads) if (!ALL_WORKLOADS.includes(w)) throw new Error(`runPeers: unknown workload '${w}' (expected W1..W4)`);
  for (const p of peers) if (!ALL_PEERS.includes(p)) throw new Error(`runPeers: unknown peer '${p}' (expected ${ALL_PEERS.join(', ')})`);
  for (const t of threadCounts) if (!(Number.isInteger(t) && t >= 1)) throw new Error(`runPeers: threadCounts must be positive integers, received ${t}`);
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error(`runPeers: epochs must be a positive integer, received ${epochs}`);

  const results = [];
  const skipAll = (peer, reason) => {
    log(`peers: ${peer} skipped: ${reason}`);
    for (const workload of workloads) for (const threads of threadCounts) results.push({ peer, workload, threads, skipped: true, reason, sPerEpoch: null });
  };
  // Fill in the combinations a peer process did not report (crash, kill) as skipped.
  const fillMissing = (peer, rows, reason) => {
    for (const workload of workloads) {
      for (const threads of threadCounts) {
        const row = rows.find((r) => r.peer === peer && r.workload === workload && r.threads === threads);
        results.push(row ?? { peer, workload, threads, skipped: true, reason, sPerEpoch: null });
      }
    }
  };

  // The data, exported once through deepnode's loader.
  const noData = await exportDataIfMissing(log);
  if (noData) {
    for (const p of peers) skipAll(p, noData);
    return results;
  }
  const common = ['--workloads', workloads.join(','), '--threads', threadCounts.join(','), '--epochs', String(epochs)];

  if (peers.includes('pytorch')) {
    const noTorch = torchUnavailable();
    if (noTorch) {
      skipAll('pytorch', noTorch);
    } else {
      const max = maxFor('pytorch');
      const args = [path.join(HERE, 'torch_workloads.py'), ...common, ...(Number.isFinite(max) ? ['--max-seconds', String(max)] : [])];
      const { rows, code, lastErr } = await runProtocol(PYTHON, args, log);
      fillMissing('pytorch', rows, `the PyTorch peer exited with code ${code}${lastErr ? `: ${lastErr}` : ''}`);
    }
  }

  const tfjsPeers = peers.filter((p) => p.startsWith('tfjs-'));
  if (tfjsPeers.length) {
    const loc = locateTfjs();
    const backends = [];
    for (const p of tfjsPeers) {
      const backend = p.slice('tfjs-'.length);
      if (!loc) skipAll(p, '@tensorflow/tfjs is not installed (npm run bench:peers)');
      else if (backend === 'wasm' && !loc.wasmPath) skipAll(p, '@tensorflow/tfjs-backend-wasm is not installed in bench/.peers (npm run bench:peers)');
      else backends.push(backend);
    }
    for (const backend of backends) {
      const peer = `tfjs-${backend}`;
      const args = [path.join(HERE, 'tfjs_workloads.mjs'), ...common, '--backends', backend, '--max-seconds', String(maxFor(peer))];
      const { rows, code, lastErr } = await runProtocol(process.execPath, args, log);
      fillMissing(peer, rows, `the ${peer} peer exited with code ${code}${lastErr ? `: ${lastErr}` : ''}`);
    }
  }
  // Peer order as requested (skipped peers were recorded first); the sort is stable within a peer.
  return results.sort((a, b) => peers.indexOf(a.peer) - peers.indexOf(b.peer));
}

/**
 * A PyTorch model kept alive for epochs on request (torch_workloads.py --serve), so that the caller
 * can alternate them with its own: on a shared host whose speed drifts over minutes, two timings
 * taken side by side, pair after pair, compare the libraries; two runs of epochs taken one after
 * the other compare the host at two moments as well.
 *
 * Resolves, once the model is built and warmed up, to
 *   { version, epoch(): Promise<{ sample, steps, extrapolated, loss }>, close(): Promise<void> }
 * or to { skipped: reason } when the peer cannot run. `epoch` rejects if the peer dies.
 * @param {{ workload: string, threads: number, maxSeconds?: number, log?: (line: string) => void }} o
 */
export async function startTorchSession({ workload, threads, maxSeconds = DEFAULT_MAX_SECONDS.pytorch, log = (line) => process.stderr.write(line + '\n') }) {
  if (!TORCH_WORKLOADS.includes(workload)) throw new Error(`startTorchSession: unknown workload '${workload}' (expected ${TORCH_WORKLOADS.join(', ')})`);
  if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`startTorchSession: threads must be a positive integer, received ${threads}`);
  const cannot = torchUnavailable() ?? (await exportDataIfMissing(log));
  if (cannot) return { skipped: cannot };
  const args = [path.join(HERE, 'torch_workloads.py'), '--serve', '--workloads', workload, '--threads', String(threads),
    ...(Number.isFinite(maxSeconds) ? ['--max-seconds', String(maxSeconds)] : [])];
  const child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let lastErr = '';
  let exited = null;
  const waiting = [];  // resolvers of the replies not yet received, in order
  const fail = (why) => {
    exited = why;
    while (waiting.length) waiting.shift().reject(new Error(why));
  };
  eachLine(child.stdout, (line) => {
    if (!line.trim()) return;
    let reply;
    try {
      reply = JSON.parse(line);
    } catch {
      log(`peers: ignoring non-JSON output: ${line}`);
      return;
    }
    waiting.shift()?.resolve(reply);
  });
  eachLine(child.stderr, (line) => {
    if (line.trim()) lastErr = line.trim();
    log(`peers: ${line}`);
  });
  child.stdin.on('error', () => {});  // a dead peer: reported through 'close'
  child.on('error', (e) => fail(`the PyTorch peer did not start: ${e.message}`));
  child.on('close', (code, signal) => fail(`the PyTorch peer exited with code ${code ?? signal}${lastErr ? `: ${lastErr}` : ''}`));
  const reply = () => (exited ? Promise.reject(new Error(exited)) : new Promise((resolve, reject) => waiting.push({ resolve, reject })));
  let ready;
  try {
    ready = await reply();
  } catch (e) {
    return { skipped: e.message };
  }
  if (!ready?.ready) {
    child.kill();
    return { skipped: `the PyTorch peer answered ${JSON.stringify(ready)} instead of ready` };
  }
  return {
    version: ready.version,
    epoch() {
      const r = reply();
      if (!exited) child.stdin.write('epoch\n');
      return r;
    },
    close() {
      if (exited) return Promise.resolve();
      return new Promise((resolve) => {
        child.once('close', () => resolve());
        child.stdin.end('quit\n');
      });
    },
  };
}

/** Calls onLine with each line of a child's output stream, the last one too if unterminated. */
function eachLine(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  stream.on('end', () => buf && onLine(buf));
}

/** Spawn a peer script; parse its stdout JSON lines, pass its stderr lines to log. */
function runProtocol(cmd, args, log) {
  return new Promise((resolve) => {
    const rows = [];
    let lastErr = '';
    let child;
    try {
      child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ rows, code: -1, lastErr: e instanceof Error ? e.message : String(e) });
      return;
    }
    eachLine(child.stdout, (line) => {
      if (!line.trim()) return;
      try {
        const row = JSON.parse(line);
        if (row && typeof row.peer === 'string' && typeof row.workload === 'string') rows.push(row);
        else log(`peers: ignoring unexpected output: ${line}`);
      } catch {
        log(`peers: ignoring non-JSON output: ${line}`);
      }
    });
    eachLine(child.stderr, (line) => {
      if (line.trim()) lastErr = line.trim();
      log(line);
    });
    child.on('error', (e) => {
      lastErr = e.message;
    });
    child.on('close', (code, signal) => resolve({ rows, code: code ?? signal, lastErr }));
  });
}

// CLI
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const get = (name) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = (s) => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));
  let maxSeconds;
  const ms = get('max-seconds');
  if (ms !== undefined) {
    maxSeconds = ms.includes('=') ? Object.fromEntries(ms.split(',').map((kv) => { const [k, v] = kv.split('='); return [k.trim(), Number(v)]; })) : Number(ms);
  }
  try {
    const rows = await runPeers({
      workloads: list(get('workloads')),
      threadCounts: list(get('threads'))?.map(Number),
      epochs: get('epochs') === undefined ? undefined : Number(get('epochs')),
      maxSeconds,
      peers: list(get('peers')),
    });
    for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
    process.stderr.write('\npeer        workload threads  s/epoch  samples\n');
    for (const r of rows) {
      const s = r.skipped ? `skipped: ${r.reason}` : `${r.sPerEpoch.toFixed(2).padStart(8)}  ${r.samples.map((x) => x.toFixed(2)).join(' ')}${r.extrapolated ? ` (extrapolated from ${r.stepsMeasured} steps)` : ''}  loss ${r.finalLoss?.toFixed(4)}`;
      process.stderr.write(`${r.peer.padEnd(11)} ${r.workload.padEnd(8)} ${String(r.threads).padStart(7)} ${s}\n`);
    }
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
    process.exit(2);
  }
}
