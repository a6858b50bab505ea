// Which kernels OpenBLAS runs here, and a fair choice when it does not know the CPU.
//
// Debian's OpenBLAS (0.3.21) is built with DYNAMIC_ARCH: it picks its kernels from the CPU's family
// and model at load time. A model it does not know falls back to the oldest kernels, not to the
// best ones the CPU's flags allow: on an Emerald Rapids Xeon (family 6 model 207, AVX-512) it picked
// "Prescott" (SSE3), and sgemm 1024³ ran at 33 GFLOPS against 142 for deepnode, while PyTorch,
// which takes its BLAS from the same library, trained W4 in 19.7 s per epoch instead of ~5.7.
// Beating a peer that runs SSE3 kernels on an AVX-512 machine proves nothing, so when OpenBLAS's own
// pick lacks the vector width the CPU has, the benchmark sets OPENBLAS_CORETYPE (read by DYNAMIC_ARCH
// builds) for every process it starts (the GEMM benchmark that links OpenBLAS, PyTorch) to the
// kernels a newer OpenBLAS would choose for the CPU, and the machine table says so. A core type the
// user set stays as set.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

const PYTHON = '/usr/bin/python3';
const PROBE = [
  'import ctypes, ctypes.util',
  "name = ctypes.util.find_library('openblas')",
  'lib = ctypes.CDLL(name) if name else None',
  "if lib: lib.openblas_get_corename.restype = ctypes.c_char_p; lib.openblas_get_config.restype = ctypes.c_char_p",
  "print(lib.openblas_get_corename().decode() + '\\t' + lib.openblas_get_config().decode() if lib else '')",
].join('\n');

/** { core, config } of the OpenBLAS that -lopenblas and PyTorch load, under `env`; null when absent. */
function probe(env) {
  if (!fs.existsSync(PYTHON)) return null;
  const r = spawnSync(PYTHON, ['-c', PROBE], { encoding: 'utf8', env, timeout: 30_000 });
  const line = r.status === 0 ? r.stdout.trim() : '';
  if (!line) return null;
  const [core, config] = line.split('\t');
  return { core, config };
}

const has = (flags, names) => names.every((f) => flags.has(f));

/**
 * The kernels that use the CPU's full vector width: { wide: Set of core names that do,
 * preferred: the one to force } or null when the CPU has neither AVX-512 nor AVX2 with FMA.
 */
export function wideCores(flags, vendor) {
  const avx512 = ['SkylakeX', 'Cooperlake', 'SapphireRapids'];
  if (has(flags, ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq']))
    return { wide: new Set(avx512), preferred: flags.has('avx512_bf16') ? 'Cooperlake' : 'SkylakeX' };
  if (has(flags, ['avx2', 'fma']))
    return { wide: new Set(['Haswell', 'Zen', ...avx512]), preferred: vendor === 'AuthenticAMD' ? 'Zen' : 'Haswell' };
  return null;
}

/**
 * Probes OpenBLAS and, when its own choice of kernels is narrower than the CPU, sets
 * process.env.OPENBLAS_CORETYPE so that the processes the benchmark starts run the wide ones.
 * Returns { detected, used, forced, userSet, config } (core names), or null without OpenBLAS.
 */
export function configureOpenBLAS({ flags, vendor }) {
  const userSet = process.env.OPENBLAS_CORETYPE ?? null;
  const ownEnv = { ...process.env };
  delete ownEnv.OPENBLAS_CORETYPE;
  const own = probe(ownEnv);
  if (!own) return null;
  let forced = null;
  const wide = wideCores(flags, vendor);
  if (!userSet && wide && !wide.wide.has(own.core)) {
    process.env.OPENBLAS_CORETYPE = wide.preferred;
    forced = wide.preferred;
  }
  const used = userSet || forced ? probe(process.env)?.core ?? null : own.core;
  return { detected: own.core, used, forced, userSet, config: own.config };
}

/** One line for the machine table. */
export function describeOpenBLAS(blas) {
  if (!blas) return 'not found (apt-get install -y libopenblas-dev python3 for the comparisons)';
  const version = blas.config.match(/OpenBLAS\s+([\d.]+)/)?.[1] ?? '?';
  if (blas.userSet) return `${version}: kernels ${blas.used} (OPENBLAS_CORETYPE=${blas.userSet} set by the user; its own pick: ${blas.detected})`;
  if (blas.forced)
    return `${version}: kernels ${blas.used}, forced with OPENBLAS_CORETYPE=${blas.forced} for the GEMM comparison and PyTorch: ` +
      `its own pick for this CPU model was ${blas.detected}, narrower than the CPU's vectors (bench/lib/openblas.mjs)`;
  return `${version}: kernels ${blas.used} (its own pick for this CPU)`;
}
