/**
 * The `deepnode` command line (bin/deepnode.mjs): info, bench, help, exit codes, and that npm ships
 * what it needs. The CLI runs from a staging copy of the package (package.json, bin/, dist/), as an
 * installed package would, so a concurrent rebuild of the repo's dist/ cannot break it; the addon
 * is the one this test process loaded (DEEPNODE_ADDON).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addonPath, native } from '../src/backend/native';
import { root, run, stagePackage } from './support/stage';

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  version: string; bin: Record<string, string>; files: string[];
};

let stage = '';
const addon = { DEEPNODE_ADDON: process.env.DEEPNODE_ADDON ?? addonPath() };
const cli = (args: string[], env: NodeJS.ProcessEnv = addon) => run(process.execPath, [path.join(stage, 'bin', 'deepnode.mjs'), ...args], env);


beforeAll(async () => {
  stage = await stagePackage('deepnode-cli-');
}, 120_000);

afterAll(() => {
  if (stage) fs.rmSync(stage, { recursive: true, force: true });
});

describe('deepnode CLI', () => {
  it('info prints the version, the chosen kernel, threads, the build kind and the addon path', async () => {
    const r = await cli(['info']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^deepnode\\s+${pkg.version.replace(/\./g, '\\.')}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^CPU kernel\\s+${native.info().isa}\\b`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^threads\\s+${native.getNumThreads()}\\b`, 'm'));
    expect(r.stdout).toMatch(/^build\s+(prebuild|source build)$/m);
    expect(r.stdout).toContain(addon.DEEPNODE_ADDON);
    expect(r.stdout).toContain(`Node supports ${process.versions.napi}`);
    expect(r.stdout).toContain(process.version);
  });

  it('info --json gives the same facts as data; OMP_NUM_THREADS and DEEPNODE_ISA are honoured', async () => {
    const r = await cli(['info', '--json'], { ...addon, OMP_NUM_THREADS: '1', DEEPNODE_ISA: 'generic' });
    expect(r.code, r.stderr).toBe(0);
    const facts = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(facts).toMatchObject({
      version: pkg.version, isa: 'generic', threads: 1,
      build: addon.DEEPNODE_ADDON.split(path.sep).includes('prebuilds') ? 'prebuild' : 'source build',
      addon: addon.DEEPNODE_ADDON, node: process.version, nodeNapiVersion: Number(process.versions.napi),
      platform: `${process.platform}-${process.arch}`,
    });
    expect(facts.addonNapiVersion).toBe(native.info().napiVersion);
  });

  it('info explains a failed load (platform, libc, Node, N-API) and exits 1', async () => {
    const r = await cli(['info'], { DEEPNODE_ADDON: path.join(stage, 'missing.node') });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('could not be loaded');
    expect(r.stderr).toContain(`${process.platform}-${process.arch}`);
    expect(r.stderr).toContain(`Node ${process.version}, N-API ${process.versions.napi}`);
    expect(r.stderr).toContain('missing.node');
  });

  it('--help and help print the usage and exit 0; --version prints the version', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toContain('deepnode info');
      expect(r.stdout).toContain('deepnode bench [gemm|train|all]');
      expect(r.stdout).toContain('--threads N');
    }
    const v = await cli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
  });

  it('bad usage exits 2 with the usage on stderr', async () => {
    const cases: [string[], RegExp][] = [
      [[], /missing command/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['bench', 'conv'], /unknown benchmark "conv"/],
      [['bench', '--threads', '0'], /--threads must be a positive integer, received "0"/],
      [['bench', '--trials', 'x'], /--trials must be a positive integer, received "x"/],
      [['info', '--bogus'], /Unknown option '--bogus'/],
      [['info', 'extra'], /info takes no arguments/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr, args.join(' ')).toContain('Usage:');
    }
  });

  it('bench gemm --quick --trials 1 prints a GFLOPS table for the thread counts asked', async () => {
    const r = await cli(['bench', 'gemm', '--quick', '--trials', '1', '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`kernel ${native.info().isa}`);
    expect(r.stdout).toContain('| shape (m x n x k) | 1 thread |');
    const rows = [...r.stdout.matchAll(/^\| (fwd 32x100x300|dW 300x100x32 \(A\^T\)) \| ([0-9.]+) \|$/gm)];
    expect(rows.map((m) => m[1])).toEqual(['fwd 32x100x300', 'dW 300x100x32 (A^T)']);
    for (const m of rows) expect(Number(m[2])).toBeGreaterThan(0.1); // GFLOPS: a working kernel, not 0 or NaN
  });

  it('the npm package ships the CLI and the benchmark code it imports, and declares the bin', async () => {
    expect(pkg.bin).toEqual({ deepnode: 'bin/deepnode.mjs' });
    const r = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { npm_config_loglevel: 'silent' });
    expect(r.code, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0].files;
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(['bin/deepnode.mjs', 'bin/benchmarks.mjs']));
    // the CLI and bin/benchmarks.mjs load ../dist/cjs, which the "files" list ships
    expect(pkg.files).toContain('dist/');
    expect(fs.readFileSync(path.join(root, 'bin', 'deepnode.mjs'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});
