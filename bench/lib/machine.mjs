// The machine section: CPU model, vCPUs, the ISA kernel deepnode chose, and the theoretical fp32
// peak, computed as  clock x FMA units per core x fp32 lanes per FMA unit x 2 (an FMA is 2 flops).
// The clock and FMA-unit count are the weakest inputs: the clock is the highest one the OS reports
// (cpufreq max, else the "@ x.xxGHz" of the model name, else /proc/cpuinfo "cpu MHz", which under a
// hypervisor is usually the nominal base clock, not the boost), and FMA units come from a small table
// of micro-architectures. Both are stated in the output.
import * as fs from 'node:fs';
import * as os from 'node:os';

const read = (p) => {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
};

/** Fields of the first processor in /proc/cpuinfo, plus the highest "cpu MHz" over all of them. */
function cpuinfo() {
  const text = read('/proc/cpuinfo') ?? '';
  const first = text.split(/\n\s*\n/)[0] ?? '';
  const field = (name) => first.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
  const mhz = [...text.matchAll(/^cpu MHz\s*:\s*([\d.]+)/gm)].map((m) => Number(m[1]));
  return {
    modelName: field('model name') ?? os.cpus()[0]?.model ?? 'unknown',
    vendor: field('vendor_id') ?? 'unknown',
    family: field('cpu family') === undefined ? null : Number(field('cpu family')),
    model: field('model') === undefined ? null : Number(field('model')),
    flags: new Set((field('flags') ?? '').split(/\s+/).filter(Boolean)),
    maxCpuMHz: mhz.length ? Math.max(...mhz) : null,
  };
}

/** { ghz, source } — the highest clock the system tells us, and where it came from. */
function clock(info) {
  const khz = Number(read('/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq'));
  if (Number.isFinite(khz) && khz > 0) return { ghz: khz / 1e6, source: '/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq' };
  const named = info.modelName.match(/@\s*([\d.]+)\s*GHz/i);
  if (named) return { ghz: Number(named[1]), source: `the model name ("@ ${named[1]}GHz", nominal)` };
  if (info.maxCpuMHz) return { ghz: info.maxCpuMHz / 1000, source: '/proc/cpuinfo "cpu MHz" (no cpufreq here: the nominal clock, boost not counted)' };
  const m = os.cpus()[0]?.speed;
  return { ghz: m ? m / 1000 : null, source: 'os.cpus() speed' };
}

/**
 * FMA units per core and fp32 lanes per unit, from the micro-architecture.
 * Returns { uarch, fmaUnits, lanes, assumption }.
 */
function fmaConfig(info) {
  const { vendor, family: f, model: m, flags } = info;
  const avx512 = flags.has('avx512f');
  const avx2 = flags.has('avx2') && flags.has('fma');
  const inRanges = (x, ranges) => ranges.some(([a, b]) => x >= a && x <= b);
  if (vendor === 'AuthenticAMD' && f === 0x19) {
    if (inRanges(m, [[0x10, 0x1f], [0x60, 0x7f], [0xa0, 0xaf]]))
      return { uarch: 'Zen4', fmaUnits: 2, lanes: 8, assumption: 'Zen4: 2 x 256-bit FMA pipes per core (a 512-bit FMA occupies both)' };
    return { uarch: 'Zen3', fmaUnits: 2, lanes: 8, assumption: 'Zen3: 2 x 256-bit FMA units per core' };
  }
  if (vendor === 'AuthenticAMD' && f === 0x17) {
    if (m >= 0x30) return { uarch: 'Zen2', fmaUnits: 2, lanes: 8, assumption: 'Zen2: 2 x 256-bit FMA units per core' };
    return { uarch: 'Zen/Zen+', fmaUnits: 2, lanes: 4, assumption: 'Zen1: 2 x 128-bit FMA units per core (256-bit ops split)' };
  }
  if (vendor === 'AuthenticAMD' && f === 0x1a && avx512)
    return { uarch: 'Zen5', fmaUnits: 2, lanes: 16, assumption: 'Zen5: 2 x 512-bit FMA units per core (server/desktop parts)' };
  if (vendor === 'GenuineIntel' && f === 6) {
    const server512 = { 0x8f: 'Sapphire Rapids', 0xcf: 'Emerald Rapids', 0xad: 'Granite Rapids', 0xae: 'Granite Rapids', 0x6a: 'Ice Lake server', 0x6c: 'Ice Lake server', 0x55: 'Skylake/Cascade Lake server' };
    if (server512[m] && avx512)
      return { uarch: server512[m], fmaUnits: 2, lanes: 16, assumption: `${server512[m]} with AVX-512: 2 x 512-bit FMA units per core (Xeon Gold/Platinum; some lower SKUs have 1)` };
    // A hypervisor may report another model (KVM showed model 167, a desktop Rocket Lake, on a
    // Sapphire Rapids Xeon here); AMX and AVX512-FP16 exist only from Sapphire Rapids on.
    if (avx512 && flags.has('amx_tile') && flags.has('avx512_fp16'))
      return { uarch: 'Sapphire Rapids or later (AMX)', fmaUnits: 2, lanes: 16, assumption: 'Xeon with AMX and AVX512-FP16 (Sapphire Rapids or later): 2 x 512-bit FMA units per core' };
  }
  if (avx512) return { uarch: 'unknown AVX-512 CPU', fmaUnits: 2, lanes: 16, assumption: 'unknown AVX-512 CPU: assumed 2 x 512-bit FMA units per core' };
  if (avx2) return { uarch: 'unknown AVX2 CPU', fmaUnits: 2, lanes: 8, assumption: 'unknown AVX2/FMA CPU: assumed 2 x 256-bit FMA units per core' };
  return { uarch: 'unknown CPU', fmaUnits: 2, lanes: 4, assumption: 'no FMA/AVX2 flags: assumed 2 x 128-bit multiply-add pipes per core' };
}

/** Lanes of the kernel deepnode runs (its ISA may be narrower than the CPU's widest). */
const KERNEL_LANES = { avx512: 16, avx2: 8 };

/** The CPU's vendor and /proc/cpuinfo flags (a Set). */
export function cpuIdentity() {
  const { vendor, flags } = cpuinfo();
  return { vendor, flags };
}

/** Everything the machine section prints, as plain data. */
export function machineFacts(deepnode) {
  const info = cpuinfo();
  const clk = clock(info);
  const fma = fmaConfig(info);
  const dn = deepnode.info();
  const vcpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const flopsPerCycle = fma.fmaUnits * fma.lanes * 2;
  const peakPerCore = clk.ghz ? clk.ghz * flopsPerCycle : null; // GFLOPS
  const kernelLanes = KERNEL_LANES[dn.isa] ?? 4;
  const kernelPeakPerCore = clk.ghz ? clk.ghz * fma.fmaUnits * Math.min(kernelLanes, fma.lanes) * 2 : null;
  return {
    cpu: info.modelName,
    vendor: info.vendor,
    family: info.family,
    model: info.model,
    uarch: fma.uarch,
    vcpus,
    simd: ['avx512f', 'avx2', 'fma'].filter((x) => info.flags.has(x)),
    isa: dn.isa,
    deepnodeVersion: dn.version,
    addon: dn.addon,
    node: process.version,
    clockGHz: clk.ghz,
    clockSource: clk.source,
    fmaUnits: fma.fmaUnits,
    lanes: fma.lanes,
    fmaAssumption: fma.assumption,
    flopsPerCycle,
    peakGflopsPerCore: peakPerCore,
    peakGflops: (threads) => (peakPerCore === null ? null : peakPerCore * threads),
    kernelPeakGflopsPerCore: kernelPeakPerCore,
    loadAverage: os.loadavg(),
  };
}
