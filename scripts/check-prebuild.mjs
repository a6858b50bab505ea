// Runs after prebuildify (`npm run prebuild`): checks each Linux prebuild as a user's machine would
// load it. The addon must need no shared library outside ALLOWED_LIBS (glibc and the C++ runtime
// that node itself links: the kernels' threads are the GEMM's own pool, std::thread, so there is no
// OpenMP runtime to ship), nothing but .node files may sit beside it, and it prints the glibc and
// libstdc++ symbol versions the prebuild needs.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Libraries a prebuild may load: glibc and the C++ runtime (node itself links it). */
export const ALLOWED_LIBS = [
  'linux-vdso.so.1', 'libc.so.6', 'libm.so.6', 'libstdc++.so.6', 'libgcc_s.so.1',
  'ld-linux-x86-64.so.2', 'libpthread.so.0', 'libdl.so.2',
];

function tool(cmd, args, env = process.env) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`check-prebuild: \`${cmd} ${args.join(' ')}\` failed: ${e.stderr || e.message}`);
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

/** The highest version of each symbol-version family (GLIBC, GLIBCXX, CXXABI) a file needs. */
export function maxSymbolVersions(file) {
  const out = tool('objdump', ['-T', file]);
  const max = {};
  for (const m of out.matchAll(/\((GLIBC|GLIBCXX|CXXABI)_([0-9][0-9.]*)\)/g)) {
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

/** Files in a prebuild folder that are not addons (a runtime copy left from an older build). */
export function strayFiles(dir) {
  return fs.readdirSync(dir).filter((f) => !f.endsWith('.node')).map((f) => `${path.join(dir, f)}: not an addon`);
}

/**
 * Every problem with an addon binary as installed: a library outside the allowlist or not found,
 * and (with `dir`, its prebuild folder) a file beside it that is not an addon.
 */
export function addonProblems(file, dir = null) {
  const problems = [];
  for (const lib of lddLibs(file)) {
    if (lib.path === null) problems.push(`${file}: ${lib.name} not found`);
    else if (!ALLOWED_LIBS.includes(lib.name)) problems.push(`${file}: links ${lib.name} (${lib.path}), not in the allowlist`);
  }
  if (dir) problems.push(...strayFiles(dir));
  return problems;
}

function main() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const prebuilds = path.join(root, 'prebuilds');
  if (process.platform !== 'linux') {
    console.log(`check-prebuild: ${process.platform}: nothing to check`);
    return;
  }
  const dirs = fs.existsSync(prebuilds)
    ? fs.readdirSync(prebuilds).filter((d) => d.startsWith('linux-')).map((d) => path.join(prebuilds, d))
    : [];
  const addons = dirs.flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith('.node')).map((f) => path.join(d, f)));
  if (addons.length === 0) throw new Error(`check-prebuild: no prebuilds/linux-*/*.node under ${root}: run prebuildify first`);

  const problems = [];
  for (const dir of dirs) problems.push(...strayFiles(dir));
  for (const addon of addons) {
    const rel = (p) => path.relative(root, p);
    problems.push(...addonProblems(addon));
    const v = maxSymbolVersions(addon);
    console.log(`check-prebuild: ${rel(addon)} requires glibc >= ${v.GLIBC ?? '?'}, libstdc++ GLIBCXX_${v.GLIBCXX ?? '-'} / CXXABI_${v.CXXABI ?? '-'}`);
    console.log(`check-prebuild: ldd ${rel(addon)}:\n${lddLibs(addon).map((l) => `  ${l.name} => ${l.path}`).join('\n')}`);
  }
  if (problems.length) {
    console.error(`check-prebuild: FAILED\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log('check-prebuild: ok');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
