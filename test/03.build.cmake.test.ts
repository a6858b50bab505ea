/**
 * The cmake-js build (build-cmake/Release/deepnode.node, `npm run build:cmake`) is the same addon
 * as node-gyp's: same exports, same kernel choice, same gemm results, C++ exceptions mapped to JS
 * errors (node_addon_api_except_all), hidden visibility, RUNPATH $ORIGIN and the same libraries.
 * Skipped when build-cmake is absent, unless DEEPNODE_REQUIRE_CMAKE=1 (set by .ci/run).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NativeBinding } from '../src/backend/native';

const root = path.resolve(__dirname, '..');
const CMAKE_ADDON = path.join(root, 'build-cmake', 'Release', 'deepnode.node');
const GYP_ADDON = path.join(root, 'build', 'Release', 'deepnode.node');
const required = process.env.DEEPNODE_REQUIRE_CMAKE === '1';
const requireAddon = createRequire(__filename);

/** Why the cmake build cannot be tested here ('' when it can): absent, or older than native/. */
function unavailable(): string {
  if (!fs.existsSync(CMAKE_ADDON)) return 'is absent';
  const built = fs.statSync(CMAKE_ADDON).mtimeMs;
  const dir = path.join(root, 'native');
  const stale = fs.readdirSync(dir).filter((f) => fs.statSync(path.join(dir, f)).isFile() && fs.statSync(path.join(dir, f)).mtimeMs > built);
  return stale.length ? `is older than native/${stale[0]}` : '';
}
const why = unavailable();
const present = why === '';
if (!present && !required) {
  console.warn(`03.build.cmake: skipped: ${path.relative(root, CMAKE_ADDON)} ${why} (run \`npm run build:cmake\`)`);
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 * 2 - 1;
  };
}

/** C = alpha op(A) op(B) + beta C + bias, in float64 (row-major, dense leading dimensions). */
function naiveGemm(ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number, A: Float32Array,
  B: Float32Array, beta: number, C: Float32Array, bias: Float32Array | null): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += A[ta ? p * m + i : i * k + p] * B[tb ? j * k + p : p * n + j];
      out[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * C[i * n + j]) + (bias ? bias[j] : 0);
    }
  }
  return out;
}

function dynamicLibs(file: string): { needed: string[] } {
  const out = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  const needed = [...out.matchAll(/\(NEEDED\)[^[]*\[([^\]]*)\]/g)].map((m) => m[1]).sort();
  return { needed };
}

describe.skipIf(!present && !required)('cmake-js build (build-cmake/Release/deepnode.node)', () => {
  const load = (file: string) => requireAddon(file) as NativeBinding;

  it('exists (CI builds it with npm run build:cmake)', () => {
    expect(why, `${CMAKE_ADDON}: run npm run build:cmake`).toBe('');
  });

  it('exports the same functions and build facts as the node-gyp build', () => {
    const cm = load(CMAKE_ADDON);
    expect(cm.info().napiVersion).toBe(8);
    expect(['generic', 'avx2', 'avx512']).toContain(cm.info().isa);
    if (!fs.existsSync(GYP_ADDON)) return;  // e.g. right after `npm run prebuild`, which moves it
    const gyp = load(GYP_ADDON);
    expect(Object.keys(cm).sort()).toEqual(Object.keys(gyp).sort());
    expect({ ...cm.info(), threads: 0 }).toEqual({ ...gyp.info(), threads: 0 });
  });

  it('computes gemm like a float64 reference and like the node-gyp build', () => {
    const cm = load(CMAKE_ADDON);
    const gyp = fs.existsSync(GYP_ADDON) ? load(GYP_ADDON) : null;
    const r = rng(3);
    const shapes: [boolean, boolean, number, number, number][] = [
      [false, false, 37, 29, 53], [true, false, 16, 33, 7], [false, true, 64, 48, 96], [true, true, 5, 130, 31],
    ];
    for (const [ta, tb, m, n, k] of shapes) {
      const A = Float32Array.from({ length: m * k }, r);
      const B = Float32Array.from({ length: k * n }, r);
      const C0 = Float32Array.from({ length: m * n }, r);
      const bias = Float32Array.from({ length: n }, r);
      const [alpha, beta] = [0.75, 0.5];
      const want = naiveGemm(ta, tb, m, n, k, alpha, A, B, beta, C0, bias);
      const run = (addon: NativeBinding) => {
        const C = C0.slice();
        addon.gemm(ta, tb, m, n, k, alpha, A, ta ? m : k, B, tb ? k : n, beta, C, n, bias);
        return C;
      };
      const got = run(cm);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
      expect(worst, `gemm ta=${ta} tb=${tb} ${m}x${n}x${k}`).toBeLessThan(1e-4);
      if (gyp) expect(Array.from(got)).toEqual(Array.from(run(gyp)));  // same kernel, same bits
    }
  });

  it('turns C++ exceptions into JS errors with a code (node_addon_api_except_all)', () => {
    const cm = load(CMAKE_ADDON);
    const a = new Float32Array(4);
    let caught: (Error & { code?: string }) | null = null;
    try {
      cm.gemm(false, false, 2, 2, 2, 1, a, 2, a.subarray(0, 1), 2, 0, new Float32Array(4), 2, null);
    } catch (e) {
      caught = e as Error & { code?: string };
    }
    expect(caught).toBeInstanceOf(RangeError);
    expect(caught?.code).toBe('ERR_NATIVE_SIZE');
    expect(caught?.message).toContain('gemm: B has 1 elements, needs 4');
  });

  it('links like the node-gyp build: same libraries (no OpenMP runtime), only the N-API entry points exported', () => {
    const cm = dynamicLibs(CMAKE_ADDON);
    expect(cm.needed).toContain('libc.so.6');
    expect(cm.needed.filter((l) => /gomp|omp/.test(l))).toEqual([]);
    if (fs.existsSync(GYP_ADDON)) expect(cm.needed).toEqual(dynamicLibs(GYP_ADDON).needed);
    const exported = execFileSync('nm', ['-D', '--defined-only', CMAKE_ADDON], { encoding: 'utf8' })
      .split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f[1] === 'T').map((f) => f[2]).sort();
    expect(exported).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  });
});
