// deepnode benchmarks: GEMM GFLOPS through the addon (1 and 2 threads, the MLP's shapes and 1024^3)
// and the W1 training epoch (Dense 784-300-100-10, LeakyReLU, He init, SGD(1e-3), batch 32,
// 55,000 Fashion-MNIST images). Medians of repeated runs; these machines are shared and noisy.
// The benchmark code lives in bin/benchmarks.mjs, shared with `npx deepnode bench`.
//   node bench/run.mjs [gemm|train|all] [--trials N] [--epochs N] [--threads N] [--quick]
import { benchGemm, benchTrain, deepnode } from '../bin/benchmarks.mjs';

const args = process.argv.slice(2);
const what = args.find((a, i) => !a.startsWith('--') && !(i > 0 && /^--(trials|epochs|threads)$/.test(args[i - 1]))) ?? 'all';
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const threads = opt('threads', undefined);
const threadCounts = threads === undefined ? [1, 2] : [threads];
const quick = args.includes('--quick');

console.log(`deepnode ${JSON.stringify(deepnode.info())}`);
if (what === 'gemm' || what === 'all') benchGemm({ trials: opt('trials', 7), threadCounts, quick });
if (what === 'train' || what === 'all') await benchTrain({ epochs: opt('epochs', 3), threadCounts });
