// The GEMM section: deepnode's sgemm against OpenBLAS per shape and thread count, from
// bench/gemm_bench.sh (a C++ harness that links OpenBLAS only for the benchmark). When that script
// cannot run, or OpenBLAS is missing, the addon's own GEMM figures (benchGemm) stand in.
import { spawn } from 'node:child_process';
import * as path from 'node:path';

/**
 * Parses gemm_bench's text output. Its table is
 *   <shape words>  <m>x<n>x<k>  <one number per column named in the header>
 * with a header naming the columns "ours 1T", "oblas 1T", "ratio", ... (or only "ours 1T", "ours 2T"
 * without OpenBLAS). Returns { isa, openblas, openblasCore (its kernels' name), rows: [{ shape, m, n, k, ours: {t: gflops}, openblas: {t: gflops},
 * ratio: {t: ours/OpenBLAS} }] }; ratio is the harness's own (the median of paired trials' ratios), not
 * the ratio of the two medians.
 */
export function parseGemmBench(text) {
  const lines = text.split('\n');
  const isa = text.match(/kernel:\s*([\w-]+)/)?.[1] ?? null;
  const openblasCore = text.match(/OpenBLAS kernels:\s*(\w+)/)?.[1] ?? null;
  const headerLine = lines.find((l) => /m x n x k/.test(l));
  if (!headerLine) throw new Error('gemm_bench output has no header line with "m x n x k"');
  const columns = [...headerLine.slice(headerLine.indexOf('m x n x k') + 9).matchAll(/(ours|oblas)\s+(\d+)T|ratio/g)].map((m) =>
    m[1] ? { lib: m[1], threads: Number(m[2]) } : { lib: 'ratio' },
  );
  if (columns.length === 0) throw new Error(`gemm_bench header has no "ours NT" columns: ${headerLine.trim()}`);
  const rows = [];
  for (const line of lines) {
    const m = line.match(/^(\S.*?)\s+(\d+)x(\d+)x(\d+)\s+([-+\w.\s]+)$/); // numbers, or nan/inf
    if (!m) continue;
    const nums = m[5].trim().split(/\s+/).map(Number);
    if (nums.length !== columns.length) throw new Error(`gemm_bench row has ${nums.length} numbers, header ${columns.length}: ${line}`);
    const row = { shape: m[1].trim(), m: Number(m[2]), n: Number(m[3]), k: Number(m[4]), ours: {}, openblas: {}, ratio: {} };
    columns.forEach((c, i) => {
      if (c.lib === 'ours') row.ours[c.threads] = nums[i];
      if (c.lib === 'oblas') row.openblas[c.threads] = nums[i];
      // A ratio column belongs to the thread count of the column before it.
      if (c.lib === 'ratio' && i > 0 && columns[i - 1].threads) row.ratio[columns[i - 1].threads] = nums[i];
    });
    rows.push(row);
  }
  if (rows.length === 0) throw new Error('gemm_bench printed no result rows');
  return { isa, openblas: columns.some((c) => c.lib === 'oblas'), openblasCore, rows };
}

/** Runs bench/gemm_bench.sh `trials` (it compiles, then times) and resolves with its stdout+stderr. */
export function runGemmBench(root, trials, log) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(root, 'bench/gemm_bench.sh'), String(trials)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out + (err ? `\n${err}` : ''));
      else reject(new Error(`bench/gemm_bench.sh exited with ${code}: ${(err || out).trim().split('\n').slice(-5).join(' / ')}`));
    });
    log?.(`gemm: bash bench/gemm_bench.sh ${trials} (pid ${child.pid})`);
  });
}

const sorted = (xs) => [...xs].sort((a, b) => a - b).join(',');
/** The batch-32 MLP products the issue wants faster than OpenBLAS: 32x784x300, 32x300x100 and their transposes. */
export const isBatch32Mlp = (r) => ['32,300,784', '32,100,300'].includes(sorted([r.m, r.n, r.k]));
export const isSquare1024 = (r) => r.m === 1024 && r.n === 1024 && r.k === 1024;

/** The GEMM goal for a row, or null when the row has none: { text, ok(ratio) }. */
export function gemmGoal(r) {
  if (isSquare1024(r)) return { text: '≥ 0.90× OpenBLAS', ok: (ratio) => ratio >= 0.9 };
  if (isBatch32Mlp(r)) return { text: '> 1× OpenBLAS', ok: (ratio) => ratio > 1 };
  return null;
}
