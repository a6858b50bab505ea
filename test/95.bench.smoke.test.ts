/**
 * `npm run bench` (bench/run.mjs), smoke-tested on its seconds-long path: the machine section and
 * the per-step profile with --quick. Checks the report's structure, that every figure is a finite
 * positive number and that the JSON agrees with the tables — never a speed. Runs from a staging copy
 * (package.json, bin/, bench/run.mjs + bench/lib/, dist/cjs) so a concurrent rebuild of dist/ cannot
 * break it; the addon is the one this test process loaded (DEEPNODE_ADDON).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addonPath, native } from '../src/backend/native';
import { Run, root, run as runCmd, stagePackage } from './support/stage';


function run(args: string[]): Promise<Run> {
  // cwd = the repo, so the fashion-mnist devDependency resolves from the working directory.
  return runCmd(process.execPath, [path.join(stage, 'bench', 'run.mjs'), ...args], { DEEPNODE_ADDON: process.env.DEEPNODE_ADDON ?? addonPath() }, root);
}

let stage = '';
beforeAll(async () => {
  stage = await stagePackage('deepnode-bench-', (dir) => {
    fs.mkdirSync(path.join(dir, 'bench'));
    fs.copyFileSync(path.join(root, 'bench', 'run.mjs'), path.join(dir, 'bench', 'run.mjs'));
    fs.copyFileSync(path.join(root, 'bench', 'chapter11.mjs'), path.join(dir, 'bench', 'chapter11.mjs'));
    fs.copyFileSync(path.join(root, 'bench', 'scaling-ceiling.mjs'), path.join(dir, 'bench', 'scaling-ceiling.mjs'));
    fs.cpSync(path.join(root, 'bench', 'lib'), path.join(dir, 'bench', 'lib'), { recursive: true });
    fs.cpSync(path.join(root, 'bench', 'peers'), path.join(dir, 'bench', 'peers'), { recursive: true });
  });
}, 120_000);

afterAll(() => {
  if (stage) fs.rmSync(stage, { recursive: true, force: true });
});

/** The rows of the markdown table that follows the line `header` in `text`, as arrays of cells. */
function tableAfter(text: string, header: string): string[][] {
  const lines = text.split('\n');
  const i = lines.indexOf(header);
  expect(i, `table header ${header}`).toBeGreaterThanOrEqual(0);
  expect(lines[i + 1]).toMatch(/^\|(-{3}:?\|)+$/);
  const rows: string[][] = [];
  for (let j = i + 2; j < lines.length && lines[j].startsWith('|'); j++) rows.push(lines[j].slice(2, -2).split(' | '));
  return rows;
}

interface ProfileRow { fn: string; usPerStep: number; callsPerStep: number; usPerCall: number }
interface Profile {
  workload: string; steps: number; wallUs: number; wallUnwrappedUs: number; nativeUs: number; outsideUs: number;
  callsPerStep: number; rows: ProfileRow[]; calibration: { innerNs: number; wholeNs: number };
  /** The same workload through the per-op autograd path. */
  perOp?: Profile;
}

describe('npm run bench (bench/run.mjs)', () => {
  it('--quick --no-peers --only profile prints the machine and a per-step profile of W1, W3 and W4, and saves them as JSON', async () => {
    const json = path.join(stage, 'latest.json');
    const r = await run(['--quick', '--no-peers', '--only', 'profile', '--json', json]);
    expect(r.code, r.stderr).toBe(0);

    // 1. Machine: the kernel this addon chose, a vCPU count, and a peak with its formula.
    const machine = new Map(tableAfter(r.stdout, '| machine |  |').map(([k, val]) => [k, val]));
    expect(machine.get('deepnode kernel')).toMatch(new RegExp(`^${native.info().isa} `));
    expect(Number(machine.get('vCPUs'))).toBeGreaterThanOrEqual(1);
    const peak = machine.get('fp32 peak per core')!.match(/^([\d.]+) GFLOPS = ([\d.]+) GHz × (\d+) FMA units × (\d+) lanes × 2 flops\/FMA$/);
    expect(peak, machine.get('fp32 peak per core')).not.toBeNull();
    const [gflops, ghz, units, lanes] = peak!.slice(1).map(Number);
    expect(ghz).toBeGreaterThan(0);
    expect(gflops).toBeCloseTo(ghz * units * lanes * 2, 0);
    expect(machine.get('FMA units × fp32 lanes')).toContain('assumption:');

    // 5. Profile: one table per workload, finite non-negative figures, totals positive.
    expect(r.stdout).toContain('## Per-step profile (1 thread;');
    const header = '| native function | µs/step | calls/step | µs/call | share of wall |';
    const sections = r.stdout.split('\n### ').slice(1);
    expect(sections.map((s) => s.slice(0, 3))).toEqual(['W1:', 'W3:', 'W4:']);
    for (const s of sections) {
      // Two tables per workload: fit's one-call step, then the per-op path's kernels.
      const [planText, perOpText] = s.split('The same steps op by op through autograd');
      expect(perOpText, 'per-op table').toBeDefined();
      // Batches per native call: plain SGD (W1, W3) fused, Adam (W4) its update inside the call.
      const planFns = tableAfter(planText!, header).map((row) => row[0]);
      expect(planFns).toContain('trainPlanRun');
      expect(planFns).not.toContain('trainPlanStep');
      expect(planFns).not.toContain('adamUpdate');
      expect(tableAfter(perOpText!, header).map((row) => row[0])).toContain('gemm');
      for (const text of [planText!, perOpText!]) {
      const rows = tableAfter(text, header);
      const byName = new Map(rows.map((row) => [row[0], row]));
      for (const row of rows.filter((x) => !x[0].startsWith('**') && !x[0].startsWith('wall'))) {
        expect(Number(row[1]), row.join('|')).toBeGreaterThanOrEqual(0);
        expect(Number(row[2]), row.join('|')).toBeGreaterThan(0); // a listed function was called
        expect(row[4], row.join('|')).toMatch(/^\d+%$/);
      }
      for (const name of ['**native total**', '**outside native (JS)**', 'wall per step (profiled run, wrapper cost removed)', 'wall per step (unprofiled run, check)']) {
        const v = Number(byName.get(name)?.[1]);
        expect(Number.isFinite(v) && v > 0, `${name}: ${byName.get(name)?.join('|')}`).toBe(true);
      }
      }
    }
    expect(r.stdout).toMatch(/Goal \(issue 5\): outside native ≤ 20 µs\/step on W1 — [\d.]+ µs\/step: \*\*(pass|FAIL)\*\*\./);

    // The JSON holds the same figures: native + outside = wall, and the printed W1 outside figure.
    const saved = JSON.parse(fs.readFileSync(json, 'utf8')) as { machine: { isa: string; vcpus: number }; profile: { workloads: Profile[] } };
    expect(saved.machine.isa).toBe(native.info().isa);
    expect(saved.profile.workloads.map((p) => p.workload)).toEqual(['W1', 'W3', 'W4']);
    for (const p of saved.profile.workloads.flatMap((w) => [w, w.perOp!])) {
      expect(p.steps).toBeGreaterThan(0);
      expect(p.nativeUs + p.outsideUs).toBeCloseTo(p.wallUs, 6);
      expect(p.rows.reduce((a, x) => a + x.usPerStep, 0)).toBeCloseTo(p.nativeUs, 6);
      expect(p.calibration.innerNs).toBeGreaterThan(0);
      expect(p.calibration.wholeNs).toBeGreaterThanOrEqual(p.calibration.innerNs);
    }
    const w1Outside = Number(sections[0].split('\n').find((l) => l.startsWith('| **outside native (JS)** |'))!.split(' | ')[1]);
    expect(w1Outside).toBeCloseTo(saved.profile.workloads[0].outsideUs, 1);
  }, 120_000);

  it('bench/chapter11.mjs times each workload on the one-call step and the per-op path (--no-peers), and refuses an unknown workload', async () => {
    const script = path.join(stage, 'bench', 'chapter11.mjs');
    const env = { DEEPNODE_ADDON: process.env.DEEPNODE_ADDON ?? addonPath() };
    const r = await runCmd(process.execPath, [script, '--threads', '1', '--epochs', '1', '--samples', '512', '--no-peers'], env, root);
    expect(r.code, r.stderr).toBe(0);
    const rows = tableAfter(r.stdout, '| workload | threads | one-call step | per-op path | PyTorch | one-call speed-up | vs PyTorch |');
    expect(rows.map((row) => row[0])).toEqual(['W1', 'W1R', 'W2A']);
    for (const [, threads, plan, perOp, torch, speedUp, vsTorch] of rows) {
      expect(threads).toBe('1');
      for (const s of [plan, perOp]) expect(Number(s) > 0 && Number.isFinite(Number(s)), s).toBe(true);
      expect(speedUp).toMatch(/^\d+\.\d\d×$/);
      expect(Math.abs(parseFloat(speedUp!) - Number(perOp) / Number(plan))).toBeLessThan(0.01 + 0.002 / Number(plan));
      expect([torch, vsTorch]).toEqual(['—', '—']);
    }
    expect(r.stdout).toContain('PyTorch not timed: --no-peers.');
    // Each round timed both paths (and no PyTorch: --no-peers).
    expect(r.stderr).toMatch(/W2A threads=1, s\/epoch: one-call step \d+\.\d{3}; per-op path \d+\.\d{3}; PyTorch not timed/);
    const bad = await runCmd(process.execPath, [script, '--workloads', 'W9'], env, root);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown workload "W9" \(expected W1, W1R, W2A\)/);
  }, 120_000);

  it('bench/scaling-ceiling.mjs times one process alone, an independent pair and 2 threads per round, and refuses an unknown workload', async () => {
    const script = path.join(stage, 'bench', 'scaling-ceiling.mjs');
    const env = { DEEPNODE_ADDON: process.env.DEEPNODE_ADDON ?? addonPath() };
    const r = await runCmd(process.execPath, [script, '--workload', 'w1', '--rounds', '1', '--epochs', '1', '--samples', '256'], env, root);
    expect(r.code, r.stderr).toBe(0);
    const rows = tableAfter(r.stdout, '| round | alone (1 thread) | independent pair | pair / alone | 2 threads | 2 threads / alone |');
    expect(rows).toHaveLength(1);
    const [round, alone, pair, pairRatio, two, twoRatio] = rows[0]!;
    expect(round).toBe('1');
    const [a, b] = pair!.split(' + ').map(Number);
    for (const v of [Number(alone), a!, b!, Number(two)]) expect(Number.isFinite(v) && v > 0, String(v)).toBe(true);
    // The ratios are of the unrounded speeds: within 0.01 of the printed ones.
    expect(Math.abs(parseFloat(pairRatio!) - (a! + b!) / Number(alone))).toBeLessThan(0.01);
    expect(Math.abs(parseFloat(twoRatio!) - Number(two) / Number(alone))).toBeLessThan(0.01);
    expect(r.stdout).toMatch(/^Medians over 1 round: independent pair \d+\.\d\d× one process alone \(the machine's ceiling\), 2 threads \d+\.\d\d×\.$/m);
    const bad = await runCmd(process.execPath, [script, '--workload', 'W9'], env, root);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown workload "W9"/);
  }, 120_000);

  // The training section with PyTorch alternating: a stand-in peers module (DEEPNODE_BENCH_PEERS)
  // whose PyTorch "model" reports 2, 3 and 4 s per epoch, or dies at its second epoch.
  const fakePeers = (dieAt: number) => {
    const file = path.join(stage, `fake-peers-${dieAt}.mjs`);
    fs.writeFileSync(file, `
      export async function runPeers() { return []; }
      export async function startTorchSession({ workload, threads }) {
        let n = 0;
        return {
          version: 'fake',
          async epoch() {
            n += 1;
            if (n === ${dieAt}) throw new Error('the PyTorch peer exited with code 5: fake peer died');
            return { sample: 1 + n, steps: 1719, extrapolated: false, loss: 0.5 };
          },
          async close() {},
        };
      }`);
    return file;
  };
  const trainWithFake = async (dieAt: number) => {
    const json = path.join(stage, `train-${dieAt}.json`);
    const r = await runCmd(process.execPath, [path.join(stage, 'bench', 'run.mjs'), '--quick', '--only', 'train', '--workloads', 'W1', '--threads', '1', '--peers', 'pytorch', '--epochs', '3', '--samples', '256', '--json', json],
      { DEEPNODE_ADDON: process.env.DEEPNODE_ADDON ?? addonPath(), DEEPNODE_BENCH_PEERS: fakePeers(dieAt) }, root);
    expect(r.code, r.stderr).toBe(0);
    return { r, row: JSON.parse(fs.readFileSync(json, 'utf8')).train.rows[0] };
  };

  it('alternates PyTorch epochs with deepnode epochs and judges the ratio on the pairs (a stand-in peer)', async () => {
    const { r, row } = await trainWithFake(0);
    expect(r.stdout).toContain("PyTorch's epochs alternate with deepnode's on each row");
    expect(row.samples).toHaveLength(3);
    expect(row.pytorch).toMatchObject({ peer: 'pytorch', workload: 'W1', threads: 1, samples: [2, 3, 4], sPerEpoch: 3, pairedWithDeepnode: true, version: 'fake', stepsMeasured: 3 * 1719 });
    // Pair i: PyTorch's i-th epoch over deepnode's i-th, and the verdict's ratio their median
    // (not the ratio of the two medians).
    const pairs = row.samples.map((s: number, i: number) => (2 + i) / s);
    expect(row.ratioPytorchPairs).toHaveLength(3);
    row.ratioPytorchPairs.forEach((q: number, i: number) => expect(q).toBeCloseTo(pairs[i], 9));
    expect(row.ratioPytorch).toBeCloseTo([...pairs].sort((a, b) => a - b)[1], 9);
    const [cells] = tableAfter(r.stdout, '| workload | threads | deepnode s/epoch | PyTorch s/epoch | PyTorch / deepnode | goal | result |');
    expect(cells.slice(0, 2)).toEqual(['W1', '1']);
    expect(cells[3]).toBe('3.00');
    expect(cells[4]).toBe(`${row.ratioPytorch.toFixed(2)}×`);
    expect(r.stdout).toContain(`PyTorch / deepnode per pair: W1 1T ${pairs.map((q: number) => q.toFixed(2)).join(', ')}.`);
  }, 120_000);

  it('reports a PyTorch peer that dies mid-cell as not measured, and still times deepnode', async () => {
    const { r, row } = await trainWithFake(2);
    expect(row.samples).toHaveLength(3);
    expect(row.pytorch).toMatchObject({ peer: 'pytorch', workload: 'W1', threads: 1, sPerEpoch: null });
    expect(row.pytorch.skipped).toContain('fake peer died');
    expect(row.ratioPytorch).toBeNull();
    expect(row.result).toMatch(/^\? \(PyTorch/);
    expect(r.stdout).toContain('fake peer died');
  }, 120_000);

  it('rejects an unknown section with exit code 2 and the usage', async () => {
    const r = await run(['--only', 'conv']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown section "conv"/);
    expect(r.stderr).toContain('--only LIST');
  });

  it('parses gemm_bench output with and without OpenBLAS (bench/lib/gemm.mjs)', async () => {
    const { parseGemmBench, gemmGoal } = (await import(pathToFileURL(path.join(root, 'bench', 'lib', 'gemm.mjs')).href)) as {
      parseGemmBench: (t: string) => { isa: string; openblas: boolean; openblasCore: string | null; rows: { shape: string; m: number; n: number; k: number; ours: Record<number, number>; openblas: Record<number, number> }[] };
      gemmGoal: (r: { m: number; n: number; k: number }) => { text: string; ok: (ratio: number) => boolean } | null;
    };
    const withBlas = [
      'deepnode sgemm (kernel: avx2), median of 5 runs, GFLOPS',
      'OpenBLAS kernels: Cooperlake, OPENBLAS_CORETYPE=Cooperlake',
      'shape                     m x n x k   ours 1T  oblas 1T   ratio   ours 2T  oblas 2T   ratio',
      'square               1024x1024x1024      48.4      69.9    0.69      39.3      74.4    0.53',
      'dW 784x300 (tA)          784x300x32      35.2      48.5    0.73      12.6      43.6    0.29',
      'batch 256, 784         256x1024x784      43.7      70.3    0.62      43.3      65.1    0.67',
    ].join('\n');
    const a = parseGemmBench(withBlas);
    expect(a.isa).toBe('avx2');
    expect(a.openblas).toBe(true);
    expect(a.openblasCore).toBe('Cooperlake');
    expect(a.rows).toEqual([
      { shape: 'square', m: 1024, n: 1024, k: 1024, ours: { 1: 48.4, 2: 39.3 }, openblas: { 1: 69.9, 2: 74.4 }, ratio: { 1: 0.69, 2: 0.53 } },
      { shape: 'dW 784x300 (tA)', m: 784, n: 300, k: 32, ours: { 1: 35.2, 2: 12.6 }, openblas: { 1: 48.5, 2: 43.6 }, ratio: { 1: 0.73, 2: 0.29 } },
      { shape: 'batch 256, 784', m: 256, n: 1024, k: 784, ours: { 1: 43.7, 2: 43.3 }, openblas: { 1: 70.3, 2: 65.1 }, ratio: { 1: 0.62, 2: 0.67 } },
    ]);
    expect(gemmGoal(a.rows[0])!.ok(0.91)).toBe(true);
    expect(gemmGoal(a.rows[0])!.ok(0.89)).toBe(false);
    expect(gemmGoal(a.rows[1])!.ok(1.01)).toBe(true); // a batch-32 MLP product: must beat OpenBLAS
    expect(gemmGoal(a.rows[1])!.ok(0.99)).toBe(false);
    expect(gemmGoal(a.rows[2])).toBeNull();

    const without = [
      '(OpenBLAS not found: apt-get install -y libopenblas-dev to compare)',
      'deepnode sgemm (kernel: avx512), median of 3 runs, GFLOPS',
      'shape                     m x n x k   ours 1T   ours 2T',
      'fwd 784->300             32x300x784      57.4       1.3',
    ].join('\n');
    const b = parseGemmBench(without);
    expect(b).toEqual({ isa: 'avx512', openblas: false, openblasCore: null, rows: [{ shape: 'fwd 784->300', m: 32, n: 300, k: 784, ours: { 1: 57.4, 2: 1.3 }, openblas: {}, ratio: {} }] });
    expect(() => parseGemmBench('nothing here')).toThrow(/header/);
  });

  it('picks OpenBLAS kernels as wide as the CPU when its own pick is narrower (bench/lib/openblas.mjs)', async () => {
    const { wideCores } = (await import(pathToFileURL(path.join(root, 'bench', 'lib', 'openblas.mjs')).href)) as {
      wideCores: (flags: Set<string>, vendor: string) => { wide: Set<string>; preferred: string } | null;
    };
    const avx512 = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq'];
    // Emerald Rapids (family 6 model 207), where Debian's OpenBLAS 0.3.21 picked Prescott.
    const emr = wideCores(new Set([...avx512, 'avx512_bf16']), 'GenuineIntel')!;
    expect(emr.preferred).toBe('Cooperlake');
    expect(emr.wide.has('Prescott')).toBe(false);
    expect(emr.wide.has('SkylakeX')).toBe(true);
    expect(emr.wide.has('Haswell')).toBe(false); // 256-bit kernels on a 512-bit machine
    expect(wideCores(new Set(avx512), 'GenuineIntel')!.preferred).toBe('SkylakeX');
    const zen3 = wideCores(new Set(['avx2', 'fma']), 'AuthenticAMD')!;
    expect(zen3.preferred).toBe('Zen');
    expect(zen3.wide.has('Haswell')).toBe(true);
    expect(wideCores(new Set(['avx2', 'fma']), 'GenuineIntel')!.preferred).toBe('Haswell');
    expect(wideCores(new Set(['sse4_2', 'avx']), 'GenuineIntel')).toBeNull(); // nothing to force
  });
});
