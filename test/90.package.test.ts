/**
 * The published package, as a user gets it: packs deepnode (prebuilds included), installs the
 * tarball into an empty project with a PATH holding only `node`, `npm` and `npx` (no compiler, make,
 * python or cmake, and no nodedir), then trains a model through require() and import, type-checks
 * a TypeScript consumer (nodenext ESM, nodenext CJS, classic node10) and checks the installed
 * binary's shared libraries. Everything happens in a temporary folder: the repo's build/, dist/
 * and prebuilds/ are read, never written, so other test files can run at the same time.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without declarations
import { ALLOWED_LIBS, addonProblems } from '../scripts/check-prebuild.mjs';

const root = path.resolve(__dirname, '..');
const SETUP_TIMEOUT = 300_000;
const RUN_TIMEOUT = 120_000;  // consumers start in beforeAll; a test waits for its own
const KEEP = process.env.DEEPNODE_KEEP_PACKAGE_TEST === '1';  // leave the temp folder for debugging

interface Run { code: number | null; out: string }

/**
 * Run a command; resolve to its stdout, or reject with its output. Asynchronous on purpose: a
 * worker blocked for a minute in spawnSync misses vitest's RPC deadline ("Timeout calling onTaskUpdate").
 */
function must(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { ...opts, encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`\`${cmd} ${args.join(' ')}\` in ${opts.cwd} failed (${err.message.split('\n')[0]}):\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Run a command asynchronously; never rejects, so runs can be started early and awaited later. */
function start(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

/** Newest modification time of the files under `p` (a file or folder), skipping `skip` names. */
function newest(p: string, skip: string[] = []): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const e of fs.readdirSync(p)) if (!skip.includes(e)) t = Math.max(t, newest(path.join(p, e), skip));
  return t;
}

/** The repo's prebuilds/<platform>-<arch>, when newer than every native input. */
function freshPrebuilds(): string | null {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!fs.existsSync(dir)) return null;
  const nodes = fs.readdirSync(dir).filter((f) => f.endsWith('.node'));
  if (nodes.length === 0) return null;
  const built = Math.min(...nodes.map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
  const inputs = Math.max(newest(path.join(root, 'native'), ['tests']), newest(path.join(root, 'binding.gyp')));
  return built >= inputs ? path.join(root, 'prebuilds') : null;
}

/** The repo's dist/, when newer than every source file. */
function freshDist(): boolean {
  const esm = path.join(root, 'dist', 'esm', 'index.mjs');
  if (!fs.existsSync(esm) || !fs.existsSync(path.join(root, 'dist', 'cjs', 'index.d.ts'))) return false;
  return fs.statSync(esm).mtimeMs >= Math.max(newest(path.join(root, 'src')), newest(path.join(root, 'tsconfig.json')));
}

/** The training script, CommonJS or ESM: 3 Gaussian blobs, Dense relu -> Dense softmax, SGD. */
function trainScript(kind: 'cjs' | 'esm'): string {
  const head = kind === 'cjs'
    ? `const { Sequential, Tensor, layers, optimizers, setSeed, info } = require('deepnode');\n`
    : `import { Sequential, Tensor, layers, optimizers, setSeed, info } from 'deepnode';\n`;
  return head + `
function blobs(n) {
  let s = 12345;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const centers = [[0, 3], [3, -2], [-3, -2]];
  const x = new Float32Array(n * 2), y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    x[2 * i] = centers[c][0] + 0.8 * gauss();
    x[2 * i + 1] = centers[c][1] + 0.8 * gauss();
    y[i] = c;
  }
  return [new Tensor(x, [n, 2]), new Tensor(y, [n])];
}
async function main() {
  setSeed(1);
  const [x, y] = blobs(300);
  const model = new Sequential([
    layers.dense({ units: 16, activation: 'relu', inputShape: [2] }),
    layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({
    loss: 'sparseCategoricalCrossentropy',
    optimizer: optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }),
    metrics: ['accuracy'],
  });
  await model.fit(x, y, { epochs: 8, batchSize: 32, verbose: 0 });
  const { loss, accuracy } = model.evaluate(x, y);
  console.log(JSON.stringify({ loss, accuracy, info: info() }));
}
main().catch((e) => { console.error(e); process.exit(1); });
`;
}

/** A typed consumer: exercises the declarations, and fails to compile if they degrade to `any`. */
function tsConsumer(importLine: string): string {
  return `${importLine}
import type { CompileArgs } from 'deepnode';

const model = new Sequential([
  layers.dense({ units: 8, activation: 'relu', inputShape: [2] }),
  layers.dense({ units: 3, activation: 'softmax' }),
]);
const args: CompileArgs = {
  loss: 'sparseCategoricalCrossentropy',
  optimizer: optimizers.sgd({ learningRate: 0.1, momentum: 0.9 }),
  metrics: ['accuracy'],
};
model.compile(args);
const x: Tensor = new Tensor(new Float32Array(4), [2, 2]);
const y = new Tensor(new Float32Array([0, 1]), [2]);
export const trained: Promise<unknown> = model.fit(x, y, { epochs: 1, batchSize: 2, verbose: 0 });
export const scores: Record<string, number> = model.evaluate(x, y);
export const prebuilt: boolean = info().prebuilt;
// @ts-expect-error units is a number
layers.dense({ units: 'eight' });
// @ts-expect-error verbose is 0 | 1 | 2
void model.fit(x, y, { verbose: 3 });
`;
}

describe('npm package: pack, install without a compiler, use from JS and TypeScript', () => {
  let work = '';
  let project = '';
  let packedFiles: string[] = [];
  let installLog = '';
  let userEnv: NodeJS.ProcessEnv = {};
  const runs: Record<string, Promise<Run>> = {};

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'deepnode-package-'));
    let t = Date.now();
    const timings: string[] = [];
    const lap = (what: string) => {
      timings.push(`${what} ${((Date.now() - t) / 1000).toFixed(1)} s`);
      t = Date.now();
    };

    // 1. A staging copy of the package; dist/ and prebuilds/ reused from the repo when fresh.
    const stage = path.join(work, 'stage');
    fs.mkdirSync(stage);
    for (const f of ['package.json', 'binding.gyp', 'CMakeLists.txt', 'README.md', 'LICENSE', 'tsconfig.json']) {
      if (fs.existsSync(path.join(root, f))) fs.copyFileSync(path.join(root, f), path.join(stage, f));
    }
    for (const d of ['native', 'scripts']) fs.cpSync(path.join(root, d), path.join(stage, d), { recursive: true });
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
    if (freshDist()) {
      fs.cpSync(path.join(root, 'dist'), path.join(stage, 'dist'), { recursive: true });
    } else {
      fs.cpSync(path.join(root, 'src'), path.join(stage, 'src'), { recursive: true });
      await must(process.execPath, ['scripts/build-ts.mjs'], { cwd: stage });
    }
    lap(freshDist() ? 'dist reused' : 'dist built');
    const prebuilds = freshPrebuilds();
    if (prebuilds) {
      fs.cpSync(prebuilds, path.join(stage, 'prebuilds'), { recursive: true });
    } else {
      await must('npm', ['run', 'prebuild'], { cwd: stage });  // prebuildify + scripts/check-prebuild.mjs
    }
    lap(prebuilds ? 'prebuilds reused' : 'prebuilds built');

    // 2. npm pack (no lifecycle scripts: dist/ is already built).
    const packed = JSON.parse(await must('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: stage })) as
      { filename: string; files: { path: string }[] }[];
    packedFiles = packed[0].files.map((f) => f.path).sort();
    const tarball = path.join(work, packed[0].filename);
    lap('npm pack');

    // 3. A user's machine: PATH is node, npm and npx only; no ~/.npmrc (so no nodedir), no CC/CXX.
    const bin = path.join(work, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    const npmCli = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)
      ? process.env.npm_execpath
      : fs.realpathSync((await must('sh', ['-c', 'command -v npm'], { cwd: work })).trim());
    fs.symlinkSync(npmCli, path.join(bin, 'npm'));
    fs.symlinkSync(path.join(path.dirname(npmCli), 'npx-cli.js'), path.join(bin, 'npx'));
    fs.writeFileSync(path.join(work, 'npmrc'), '');
    userEnv = {
      HOME: os.homedir(),  // the npm cache lives there
      PATH: bin,
      LANG: 'C.UTF-8',
      npm_config_userconfig: path.join(work, 'npmrc'),
      npm_config_script_shell: '/bin/sh',  // npm spawns "sh" by name otherwise
      npm_config_update_notifier: 'false',
      // The machine's trust settings and proxy, so npm reaches the registry the way the user's npm
      // does (a sandbox with its own CA failed here on Node 22 without them); nothing that could
      // put a compiler on PATH.
      ...Object.fromEntries(
        ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy']
          .filter((k) => process.env[k] !== undefined)
          .map((k) => [k, process.env[k]]),
      ),
    };
    project = path.join(work, 'project');
    fs.mkdirSync(project);
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    const install = await start(path.join(bin, 'npm'),
      ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], project, userEnv);
    installLog = install.out;  // stdout and stderr: the install script's output included
    if (install.code !== 0) throw new Error(`npm install of the tarball failed (${install.code}):\n${install.out}`);
    lap('npm install');
    console.log(`90.package: ${timings.join(', ')}`);

    // 4. Start every consumer at once; each test awaits its own.
    const node = path.join(bin, 'node');
    fs.writeFileSync(path.join(project, 'train.cjs'), trainScript('cjs'));
    fs.writeFileSync(path.join(project, 'train.mjs'), trainScript('esm'));
    runs.cjs = start(node, ['train.cjs'], project, userEnv);
    runs.esm = start(node, ['train.mjs'], project, userEnv);

    const named = '{ Sequential, Tensor, layers, optimizers, info }';
    const imports = `import ${named} from 'deepnode';`;
    fs.writeFileSync(path.join(project, 'esm.mts'), tsConsumer(
      `${imports}\nimport deepnode from 'deepnode';\nexport const S: typeof Sequential = deepnode.Sequential;`));
    fs.writeFileSync(path.join(project, 'cjs.cts'), tsConsumer(
      `${imports}\nimport deepnode = require('deepnode');\nexport const S: typeof Sequential = deepnode.Sequential;`));
    fs.writeFileSync(path.join(project, 'node10.ts'), tsConsumer(imports));
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    // deepnode's .d.ts use Node types (Buffer), as any Node project has them: @types/node from the repo.
    const base = {
      strict: true, noEmit: true, skipLibCheck: true, target: 'ES2022', lib: ['ES2022'],
      types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')],
    };
    const configs: Record<string, object> = {
      // This one also checks the declaration files themselves (the .d.mts re-exports the .d.ts).
      'tsc nodenext ESM': {
        compilerOptions: { ...base, skipLibCheck: false, module: 'nodenext', moduleResolution: 'nodenext' },
        files: ['esm.mts'],
      },
      'tsc nodenext CJS': { compilerOptions: { ...base, module: 'nodenext', moduleResolution: 'nodenext' }, files: ['cjs.cts'] },
      'tsc commonjs/node10': {
        compilerOptions: { ...base, module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true },
        files: ['node10.ts'],
      },
    };
    for (const [name, config] of Object.entries(configs)) {
      const file = `tsconfig.${name.replace(/\W+/g, '-')}.json`;
      fs.writeFileSync(path.join(project, file), JSON.stringify(config, null, 2));
      runs[name] = start(node, [tsc, '-p', file], project, userEnv);
    }
  }, SETUP_TIMEOUT);

  afterAll(async () => {
    await Promise.all(Object.values(runs));
    if (work && !KEEP) fs.rmSync(work, { recursive: true, force: true });
  });

  it('ships dist, the prebuild (addons only: no runtime beside them), and the sources for a rebuild; no tests', () => {
    for (const f of [
      'package.json', 'binding.gyp', 'CMakeLists.txt', 'native/sources.gypi', 'native/binding.cc',
      'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/index.d.mts',
    ]) expect(packedFiles, f).toContain(f);
    const prebuilt = packedFiles.filter((f) => f.startsWith(`prebuilds/${process.platform}-${process.arch}/`));
    expect(prebuilt.length).toBeGreaterThan(0);
    expect(prebuilt.filter((f) => !f.endsWith('.node'))).toEqual([]);
    const unwanted = packedFiles.filter((f) => /^(test|src|build|build-cmake|node_modules|native\/tests|\.ci|bench|examples)\//.test(f) || /\.test\.[cm]?[jt]s$/.test(f));
    expect(unwanted).toEqual([]);
  });

  it('installs without compiling anything', () => {
    const pkg = path.join(project, 'node_modules', 'deepnode');
    expect(fs.existsSync(path.join(pkg, 'package.json'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'build')), 'node-gyp ran during install').toBe(false);
    expect(installLog).not.toMatch(/gyp (info|ERR)|CXX\(target\)/);
  });

  it('trains from CommonJS (require) on the prebuilt addon', async () => {
    const r = await runs.cjs;
    expect(r.code, r.out).toBe(0);
    const res = JSON.parse(r.out.trim().split('\n').pop()!) as { accuracy: number; info: { prebuilt: boolean; addon: string; isa: string } };
    expect(res.accuracy).toBeGreaterThan(0.9);
    expect(res.info.prebuilt).toBe(true);
    expect(res.info.addon.startsWith(path.join(project, 'node_modules', 'deepnode', 'prebuilds'))).toBe(true);
  }, RUN_TIMEOUT);

  it('trains from ESM (import) on the prebuilt addon', async () => {
    const r = await runs.esm;
    expect(r.code, r.out).toBe(0);
    const res = JSON.parse(r.out.trim().split('\n').pop()!) as { accuracy: number; info: { prebuilt: boolean } };
    expect(res.accuracy).toBeGreaterThan(0.9);
    expect(res.info.prebuilt).toBe(true);
  }, RUN_TIMEOUT);

  for (const name of ['tsc nodenext ESM', 'tsc nodenext CJS', 'tsc commonjs/node10']) {
    it(`type-checks a consumer: ${name}`, async () => {
      const r = await runs[name];
      expect(r.out).toBe('');
      expect(r.code).toBe(0);
    }, RUN_TIMEOUT);
  }

  // The addon needs no OpenMP runtime (its threads are the GEMM's pool); earlier builds shipped libgomp.
  it.skipIf(process.platform !== 'linux')('trains with the system libgomp hidden (needs a mount namespace, else skipped)', async (ctx) => {
    const system = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib/aarch64-linux-gnu']
      .map((d) => path.join(d, 'libgomp.so.1')).find((f) => fs.existsSync(f));
    if (!system || spawnSync('unshare', ['-m', 'true']).status !== 0) return ctx.skip();
    await runs.cjs;  // not while the first run still reads it
    // Bind /dev/null over the real file in a private mount namespace: dlopen of it would fail.
    const r = await start('unshare', ['-m', 'sh', '-c', `mount --bind /dev/null "${fs.realpathSync(system)}" && exec "$0" train.cjs`,
      path.join(work, 'bin', 'node')], project, { ...userEnv, PATH: process.env.PATH });
    expect(r.code, r.out).toBe(0);
    expect((JSON.parse(r.out.trim().split('\n').pop()!) as { accuracy: number }).accuracy).toBeGreaterThan(0.9);
  }, RUN_TIMEOUT);

  it.skipIf(process.platform !== 'linux')('loads only allowlisted libraries (glibc, the C++ runtime; no OpenMP runtime)', () => {
    const dir = path.join(project, 'node_modules', 'deepnode', 'prebuilds', `${process.platform}-${process.arch}`);
    const addon = fs.readdirSync(dir).find((f) => f.endsWith('.node'))!;
    expect((ALLOWED_LIBS as string[]).filter((l) => /gomp|omp/.test(l))).toEqual([]);
    expect(addonProblems(path.join(dir, addon), dir) as string[]).toEqual([]);
  });
});
