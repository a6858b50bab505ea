// Runs after prebuildify (`npm run prebuild`): copies the OpenMP runtime (libgomp.so.1) that each
// Linux prebuild links against into its folder, where the addon's RUNPATH $ORIGIN finds it on
// machines without libgomp, then checks the result: RUNPATH $ORIGIN, libgomp resolving to the
// bundled copy, no shared library outside ALLOWED_LIBS, and the glibc/libstdc++ versions needed.
// Debian's libgomp.a cannot go into a shared object (TPOFF32 relocations), hence the copy.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Libraries a prebuild may load: glibc, the C++ runtime (node itself links it) and libgomp. */
export const ALLOWED_LIBS = [
  'linux-vdso.so.1', 'libc.so.6', 'libm.so.6', 'libstdc++.so.6', 'libgcc_s.so.1',
  'ld-linux-x86-64.so.2', 'libgomp.so.1', 'libpthread.so.0', 'libdl.so.2',
];
const RUNTIME = 'libgomp.so.1';

function tool(cmd, args, env = process.env) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`bundle-runtime: \`${cmd} ${args.join(' ')}\` failed: ${e.stderr || e.message}`);
  }
}

/** The environment without LD_LIBRARY_PATH/LD_PRELOAD, so ldd shows what a user's machine does. */
function cleanEnv() {
  const env = { ...process.env };
  delete env.LD_LIBRARY_PATH;
  delete env.LD_PRELOAD;
  return env;
}

/** `ldd` as a list of { name, path } (path null when "not found"; vdso has none). */
export function lddLibs(file) {
  const libs = [];
  for (const line of tool('ldd', [file], cleanEnv()).split('\n')) {
    const t = line.trim();
    if (!t) continue;
    let m = /^(\S+) => (not found|\S+)/.exec(t);
    if (m) {
      libs.push({ name: m[1], path: m[2] === 'not found' ? null : m[2] });
      continue;
    }
    m = /^(\S+) \(0x/.exec(t);  // vdso, or the loader given by absolute path
    if (m) libs.push({ name: path.basename(m[1]), path: m[1].includes('/') ? m[1] : '' });
  }
  return libs;
}

/** The highest version of each symbol-version family (GLIBC, GLIBCXX, CXXABI, GOMP) a file needs. */
export function maxSymbolVersions(file) {
  const out = tool('objdump', ['-T', file]);
  const max = {};
  for (const m of out.matchAll(/\((GLIBC|GLIBCXX|CXXABI|GOMP)_([0-9][0-9.]*)\)/g)) {
    const [family, version] = [m[1], m[2]];
    if (!max[family] || compareVersions(version, max[family]) > 0) max[family] = version;
  }
  return max;
}

export function compareVersions(a, b) {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** NEEDED, RUNPATH and RPATH from the dynamic section. */
export function dynamicSection(file) {
  const out = tool('readelf', ['-d', file]);
  const pick = (tag) => [...out.matchAll(new RegExp(`\\(${tag}\\)\\s+[^\\[]*\\[([^\\]]*)\\]`, 'g'))].map((m) => m[1]);
  return { needed: pick('NEEDED'), runpath: pick('RUNPATH').join(':'), rpath: pick('RPATH').join(':') };
}

/**
 * Every problem with an addon binary as installed: no RUNPATH $ORIGIN, a library outside the
 * allowlist or not found, or (with `bundledDir`) libgomp loaded from anywhere but that folder.
 */
export function addonProblems(file, bundledDir = null) {
  const problems = [];
  const dyn = dynamicSection(file);
  if (!dyn.runpath.split(':').includes('$ORIGIN')) {
    problems.push(`${file}: RUNPATH is "${dyn.runpath}" (RPATH "${dyn.rpath}"), expected $ORIGIN`);
  }
  for (const lib of lddLibs(file)) {
    if (lib.path === null) problems.push(`${file}: ${lib.name} not found`);
    else if (!ALLOWED_LIBS.includes(lib.name)) problems.push(`${file}: links ${lib.name} (${lib.path}), not in the allowlist`);
    if (bundledDir && lib.name === RUNTIME) {
      const want = fs.realpathSync(path.join(bundledDir, RUNTIME));
      const got = lib.path ? fs.realpathSync(lib.path) : '(not found)';
      if (got !== want) problems.push(`${file}: ${RUNTIME} resolves to ${got}, expected the bundled ${want}`);
    }
  }
  return problems;
}

/** The libgomp the addon links against on this machine: ldd first, then the compiler's. */
function findRuntime(addon) {
  const viaLdd = lddLibs(addon).find((l) => l.name === RUNTIME && l.path);
  let candidate = viaLdd?.path;
  // When it already resolves into this folder (a re-run), ask the compiler instead.
  if (!candidate || path.dirname(path.resolve(candidate)) === path.dirname(path.resolve(addon))) {
    for (const cc of [process.env.CXX, 'g++', 'gcc'].filter(Boolean)) {
      try {
        const p = tool(cc, [`-print-file-name=${RUNTIME}`]).trim();
        if (path.isAbsolute(p) && fs.existsSync(p)) {
          candidate = p;
          break;
        }
      } catch {
        // try the next compiler
      }
    }
  }
  if (!candidate) throw new Error(`bundle-runtime: cannot locate ${RUNTIME} (ldd ${addon}; g++ -print-file-name)`);
  return fs.realpathSync(candidate);  // the real file, not the libgomp.so.1 symlink
}

function main() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const prebuilds = path.join(root, 'prebuilds');
  if (process.platform !== 'linux') {
    console.log(`bundle-runtime: ${process.platform}: nothing to bundle`);
    return;
  }
  const dirs = fs.existsSync(prebuilds)
    ? fs.readdirSync(prebuilds).filter((d) => d.startsWith('linux-')).map((d) => path.join(prebuilds, d))
    : [];
  const addons = dirs.flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith('.node')).map((f) => path.join(d, f)));
  if (addons.length === 0) throw new Error(`bundle-runtime: no prebuilds/linux-*/*.node under ${root}: run prebuildify first`);

  const problems = [];
  for (const addon of addons) {
    const dir = path.dirname(addon);
    const rel = (p) => path.relative(root, p);
    if (!dynamicSection(addon).needed.includes(RUNTIME)) {
      console.log(`bundle-runtime: ${rel(addon)} does not link ${RUNTIME}; nothing to bundle`);
    } else {
      const source = findRuntime(addon);
      const dest = path.join(dir, RUNTIME);
      fs.rmSync(dest, { force: true });
      fs.copyFileSync(source, dest);
      fs.chmodSync(dest, 0o644);
      console.log(`bundle-runtime: ${source} -> ${rel(dest)} (${fs.statSync(dest).size} bytes)`);
    }
    const bundled = fs.existsSync(path.join(dir, RUNTIME)) ? dir : null;
    problems.push(...addonProblems(addon, bundled));

    // What the package needs from the system: the addon's and the bundled runtime's maximum.
    const files = [addon, ...(bundled ? [path.join(dir, RUNTIME)] : [])];
    const need = {};
    for (const f of files) {
      const v = maxSymbolVersions(f);
      console.log(`bundle-runtime: ${rel(f)} needs ${Object.entries(v).map(([k, x]) => `${k}_${x}`).join(', ')}`);
      for (const [k, x] of Object.entries(v)) if (!need[k] || compareVersions(x, need[k]) > 0) need[k] = x;
    }
    console.log(`bundle-runtime: ${rel(dir)} requires glibc >= ${need.GLIBC ?? '?'}, libstdc++ GLIBCXX_${need.GLIBCXX ?? '-'} / CXXABI_${need.CXXABI ?? '-'}`);
    console.log(`bundle-runtime: ldd ${rel(addon)}:\n${lddLibs(addon).map((l) => `  ${l.name} => ${l.path}`).join('\n')}`);
  }
  if (problems.length) {
    console.error(`bundle-runtime: FAILED\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log('bundle-runtime: ok');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
