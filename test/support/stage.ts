/**
 * A staging copy of the package for tests that run its command-line scripts in a child process
 * (test/94 the CLI, test/95 the benchmark): package.json, bin/, dist/cjs and whatever `extra`
 * copies, in a temporary folder, so a concurrent rebuild of the repo's dist/ cannot break them.
 * dist/cjs is copied when it is newer than src/, else compiled into the stage with tsc.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const root = path.resolve(__dirname, '..', '..');

/** The child-process result: exit code (1 when killed), stdout, stderr. */
export interface Run { code: number; stdout: string; stderr: string }

/** Runs cmd with args (no shell), never rejecting: failures come back as a non-zero code. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = root): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 16 << 20, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
  });
}

function newest(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...fs.readdirSync(p).map((f) => newest(path.join(p, f))));
}

/** Makes the staging folder (prefix names it in the temp dir); the caller removes it. */
export async function stagePackage(prefix: string, extra: (stage: string) => void = () => {}): Promise<string> {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.copyFileSync(path.join(root, 'package.json'), path.join(stage, 'package.json'));
  fs.cpSync(path.join(root, 'bin'), path.join(stage, 'bin'), { recursive: true });
  extra(stage);
  const distCjs = path.join(root, 'dist', 'cjs');
  let copied = false;
  if (fs.existsSync(path.join(distCjs, 'index.js')) && newest(distCjs) >= newest(path.join(root, 'src'))) {
    try {
      fs.cpSync(distCjs, path.join(stage, 'dist', 'cjs'), { recursive: true });
      copied = fs.existsSync(path.join(stage, 'dist', 'cjs', 'index.js'));
    } catch {
      // another engineer's build-ts.mjs deleted dist/ meanwhile: compile our own below
    }
  }
  if (!copied) {
    const tsc = require.resolve('typescript/bin/tsc');
    const r = await run(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json'), '--outDir', path.join(stage, 'dist', 'cjs')]);
    if (r.code !== 0) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
  }
  return stage;
}
