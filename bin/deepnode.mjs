#!/usr/bin/env node
// The deepnode command line: a quick check of the installation and the microbenchmarks.
//   npx deepnode info [--json]
//   npx deepnode bench [gemm|train|all] [--threads N] [--trials N] [--epochs N] [--samples N] [--quick]
// Exit codes: 0 success, 1 the addon or a benchmark failed, 2 bad usage.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const require = createRequire(import.meta.url);

const USAGE = `deepnode ${pkg.version}: deep-learning training for Node.js

Usage:
  deepnode info [--json]
      Version, CPU kernel chosen at load time, threads, prebuild or source build,
      addon path, Node and N-API versions.
  deepnode bench [gemm|train|all] [options]
      gemm:  GFLOPS of the native GEMM on the 784-300-100-10 MLP's shapes and 1024^3.
      train: seconds per epoch training that MLP on Fashion-MNIST (SGD, batch 32).
      all:   both (the default).
    --threads N   measure with N threads only (default: 1 and 2)
    --trials N    GEMM trials per shape, the median is shown (default 7)
    --epochs N    training epochs, the median is shown (default 3)
    --samples N   training images per epoch (default 55000)
    --quick       a smoke test: two small GEMM shapes, 5000 training images, 1 epoch
  deepnode help | --help | -h
  deepnode --version | -v

Environment: OMP_NUM_THREADS (default thread count), DEEPNODE_ISA=generic|avx2|avx512
(force a GEMM kernel), DEEPNODE_ADDON (load a specific .node file).`;

function usageError(message) {
  process.stderr.write(`deepnode: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function libc() {
  if (process.platform !== 'linux') return process.platform;
  const glibc = process.report?.getReport()?.header?.glibcVersionRuntime;
  return glibc ? `glibc ${glibc}` : 'musl (or unknown libc)';
}

function positiveInt(name, value, dflt) {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) usageError(`--${name} must be a positive integer, received ${JSON.stringify(value)}`);
  return n;
}

/** Loads the CommonJS build (it loads the addon); on failure prints the diagnosis and exits 1. */
function loadDeepnode() {
  try {
    return require(path.join(root, 'dist/cjs/index.js'));
  } catch (e) {
    process.stderr.write(
      `deepnode ${pkg.version}: the library could not be loaded.\n` +
        `  platform: ${process.platform}-${process.arch}, ${libc()}, Node ${process.version}, N-API ${process.versions.napi}\n` +
        `  ${String(e?.message ?? e).split('\n').join('\n  ')}\n`,
    );
    process.exit(1);
  }
}

function info(json) {
  const dn = loadDeepnode();
  const i = dn.info();
  const facts = {
    version: i.version,
    isa: i.isa,
    threads: i.threads,
    build: i.prebuilt ? 'prebuild' : 'source build',
    addon: i.addon,
    addonNapiVersion: i.napiVersion,
    node: process.version,
    nodeNapiVersion: Number(process.versions.napi),
    platform: `${process.platform}-${process.arch}`,
    libc: libc(),
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? os.cpus().length,
  };
  if (json) {
    console.log(JSON.stringify(facts, null, 2));
    return;
  }
  const rows = [
    ['deepnode', facts.version],
    ['CPU kernel', `${facts.isa}${process.env.DEEPNODE_ISA ? ` (DEEPNODE_ISA=${process.env.DEEPNODE_ISA})` : ''}`],
    ['threads', `${facts.threads}${process.env.OMP_NUM_THREADS ? ` (OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS})` : ''}`],
    ['build', facts.build],
    ['addon', facts.addon],
    ['N-API', `addon built for ${facts.addonNapiVersion}, Node supports ${facts.nodeNapiVersion}`],
    ['Node', facts.node],
    ['platform', `${facts.platform}, ${facts.libc}`],
    ['CPU', `${facts.cpu}, ${facts.cores} logical cores`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

async function bench(positionals, values) {
  if (positionals.length > 1) usageError(`bench takes one benchmark name, received ${positionals.join(' ')}`);
  const what = positionals[0] ?? 'all';
  if (!['gemm', 'train', 'all'].includes(what)) usageError(`unknown benchmark "${what}" (expected gemm, train or all)`);
  const quick = values.quick === true;
  const threads = positiveInt('threads', values.threads, undefined);
  const trials = positiveInt('trials', values.trials, 7);
  const epochs = positiveInt('epochs', values.epochs, quick ? 1 : 3);
  const samples = positiveInt('samples', values.samples, quick ? 5000 : 55000);
  loadDeepnode(); // a readable diagnosis if the addon does not load
  const { benchGemm, benchTrain, deepnode } = await import(pathToFileURL(path.join(root, 'bin/benchmarks.mjs')).href);
  const threadCounts = threads === undefined ? [1, 2] : [threads];
  const i = deepnode.info();
  console.log(`deepnode ${i.version}, kernel ${i.isa}, ${i.prebuilt ? 'prebuild' : 'source build'}, Node ${process.version}`);
  if (what === 'gemm' || what === 'all') benchGemm({ trials, threadCounts, quick });
  if (what === 'train' || what === 'all') await benchTrain({ epochs, threadCounts, samples });
}

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        json: { type: 'boolean' },
        quick: { type: 'boolean' },
        threads: { type: 'string' },
        trials: { type: 'string' },
        epochs: { type: 'string' },
        samples: { type: 'string' },
      },
    });
  } catch (e) {
    usageError(e.message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    console.log(USAGE);
    return;
  }
  if (values.version) {
    console.log(pkg.version);
    return;
  }
  switch (command) {
    case 'info':
      if (rest.length) usageError(`info takes no arguments, received ${rest.join(' ')}`);
      info(values.json === true);
      return;
    case 'bench':
      await bench(rest, values);
      return;
    case undefined:
      usageError('missing command');
      return;
    default:
      usageError(`unknown command "${command}"`);
  }
}

await main(process.argv.slice(2));
