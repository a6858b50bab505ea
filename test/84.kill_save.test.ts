/**
 * A save survives SIGKILL at any moment. A child process saves a model into one directory in a tight
 * loop, each save with different weights (version v fills every weight from v), and appends v to a
 * side file after each `save()` resolves. The test kills it at random moments; after every kill
 * `loadModel` must succeed and give exactly the weights of the last completed version or of the one
 * in flight (its renames may have finished before the append). The directory is reused across
 * kills, so the leftovers of a killed save (a temp file, an unreferenced weights file) must be
 * cleaned up by the next save instead of piling up.
 *
 * The child runs the current sources: esbuild (vitest's own transformer) bundles them into
 * node_modules/.cache, below the package root, so the addon is found as usual.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { build } from 'esbuild';
import { loadModel } from '../src/saving';
import { TEMP_PREFIX } from '../src/saving/atomic';

const KILLS = 20;
const repo = path.resolve(__dirname, '..');
const seed = Number(process.env.DEEPNODE_KILL_SEED ?? Date.now() % 100000);
let state = seed >>> 0 || 1;
/** xorshift32, so a failing run can be replayed with DEEPNODE_KILL_SEED. */
function rand(): number {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 2 ** 32;
}

/** The value of element i of weight k at version v: exact in float32, different for every v. */
function valueAt(v: number, k: number, i: number): number {
  return Math.fround(v + (((i * 7 + k * 13) % 1024) - 512) / 1024);
}

// The child: builds a ~70k-parameter model with Adam state (about 0.8 MB per save), saves version 0,
// says "ready", then saves versions 1, 2, ... until killed.
const childSource = `
import * as fs from 'node:fs';
import { Sequential } from ${JSON.stringify(path.join(repo, 'src/models/sequential'))};
import { Dense } from ${JSON.stringify(path.join(repo, 'src/layers'))};
import { Tensor } from ${JSON.stringify(path.join(repo, 'src/tensor'))};
const [dir, log] = process.argv.slice(2);
${valueAt.toString()}
const model = new Sequential([
  new Dense({ units: 128, activation: 'relu', inputShape: [256], name: 'd1' }),
  new Dense({ units: 256, activation: 'relu', name: 'd2' }),
  new Dense({ units: 10, name: 'd3' }),
]);
model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
const shapes = model.getWeights().map((w) => w.shape);
function setVersion(v) {
  model.setWeights(shapes.map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = valueAt(v, k, i);
    return new Tensor(data, shape);
  }));
}
(async () => {
  let v = Number(fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\\n').pop() : -1) + 1;
  for (;;) {
    setVersion(v);
    await model.save(dir);
    fs.appendFileSync(log, v + '\\n');
    if (process.send) process.send({ saved: v });
    v++;
  }
})().catch((e) => { console.error(e); process.exit(1); });
`;

let work = '';
let childJs = '';

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-84-'));
  const cache = path.join(repo, 'node_modules/.cache/deepnode-84');
  fs.mkdirSync(cache, { recursive: true });
  const entry = path.join(cache, `child-${process.pid}.ts`);
  childJs = path.join(cache, `child-${process.pid}.cjs`);
  fs.writeFileSync(entry, childSource);
  await build({
    entryPoints: [entry],
    outfile: childJs,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    logLevel: 'silent',
  });
  fs.rmSync(entry);
});

afterAll(() => {
  if (childJs) fs.rmSync(childJs, { force: true });
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function completed(log: string): number[] {
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((s) => s !== '').map(Number) : [];
}

/** Start the child; resolve once its first save has completed. */
function startChild(dir: string, log: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childJs, dir, log], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('message', () => resolve(child));
    child.once('exit', (code, signal) => reject(new Error(`child exited early (${code ?? signal}): ${stderr}`)));
    child.once('error', reject);
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('SIGKILL during save', () => {
  it(`${KILLS} kills at random moments: the directory always loads, with a completed or the in-flight version (seed printed)`, async () => {
    console.log(`84.kill_save: seed ${seed} (replay with DEEPNODE_KILL_SEED=${seed})`);
    const dir = path.join(work, 'model');
    const log = path.join(work, 'versions.log');
    const outcomes: { delay: number; lastCompleted: number; loaded: number }[] = [];
    let maxTemp = 0;
    let maxWeightFiles = 0;
    for (let k = 0; k < KILLS; k++) {
      const child = await startChild(dir, log);
      const delay = 5 + Math.floor(rand() * 196);
      await new Promise((r) => setTimeout(r, delay));
      await kill(child);
      const done = completed(log);
      const lastCompleted = done[done.length - 1]!;

      const model = await loadModel(dir);
      const weights = model.getWeights();
      const loaded = Math.round(weights[0]!.data[0]! - valueAt(0, 0, 0));
      // Every element of every weight must belong to that one version: no torn or mixed files.
      weights.forEach((w, wi) => {
        for (let i = 0; i < w.data.length; i++) {
          if (w.data[i] !== valueAt(loaded, wi, i)) {
            throw new Error(`kill ${k}: weight ${w.name}[${i}] = ${w.data[i]}, expected ${valueAt(loaded, wi, i)} of version ${loaded}`);
          }
        }
      });
      expect([lastCompleted, lastCompleted + 1], `kill ${k} after ${delay} ms`).toContain(loaded);
      outcomes.push({ delay, lastCompleted, loaded });

      const names = fs.readdirSync(dir);
      maxTemp = Math.max(maxTemp, names.filter((n) => n.startsWith(TEMP_PREFIX)).length);
      maxWeightFiles = Math.max(maxWeightFiles, names.filter((n) => /^weights\..*\.bin$/.test(n)).length);
      // A killed save leaves at most its own temp file and one unreferenced weights file.
      expect(names.filter((n) => n.startsWith(TEMP_PREFIX)).length, `kill ${k}: ${names}`).toBeLessThanOrEqual(1);
      expect(names.filter((n) => /^weights\..*\.bin$/.test(n)).length, `kill ${k}: ${names}`).toBeLessThanOrEqual(2);
      expect(names.filter((n) => !n.startsWith(TEMP_PREFIX) && !/^weights\..*\.bin$/.test(n))).toEqual(['model.json']);
    }
    const saves = completed(log).length;
    const inFlight = outcomes.filter((o) => o.loaded === o.lastCompleted + 1).length;
    console.log(
      `84.kill_save: ${KILLS} kills, ${saves} completed saves, ${KILLS} successful loads ` +
        `(${inFlight} gave the in-flight save), at most ${maxTemp} temp and ${maxWeightFiles} weights files at once`,
    );
    // The kills must land while saves are running, not all before the first loop save.
    expect(saves).toBeGreaterThan(KILLS * 2);
  }, 60_000);
});
