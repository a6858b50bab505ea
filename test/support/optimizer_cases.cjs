'use strict';
// The optimizer-step cases of test/15.optimizer_simd, run in the test process and in child
// processes (other DEEPNODE_ISA, other thread counts) by the same code. A case starts from copies
// of one input set (named Float32Array buffers) and makes native calls whose string arguments name
// those buffers. Buffers cross the process boundary as base64 of their bytes, so NaN payloads and
// -0 travel unchanged.
//
// As a child: node optimizer_cases.cjs ADDON THREADS < {sets (encoded), cases}
//   prints {isa, out: [encoded buffers per case]}.

const encode = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const decode = (s) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
};
const mapBuffers = (o, fn) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, fn(v)]));

/** Runs each case on copies of its input set; returns the buffers after each case's calls. */
function runCases(native, sets, cases) {
  return cases.map((c) => {
    const b = mapBuffers(sets[c.inputs], (v) => Float32Array.from(v));
    for (const [method, args] of c.calls) native[method](...args.map((a) => (typeof a === 'string' ? b[a] : a)));
    return b;
  });
}

if (require.main === module) {
  const native = require(process.argv[2]);
  native.setNumThreads(Number(process.argv[3]));
  let input = '';
  process.stdin.on('data', (d) => (input += d)).on('end', () => {
    const { sets, cases } = JSON.parse(input);
    const out = runCases(native, sets.map((s) => mapBuffers(s, decode)), cases);
    process.stdout.write(JSON.stringify({ isa: native.info().isa, out: out.map((b) => mapBuffers(b, encode)) }));
  });
}

module.exports = { encode, decode, mapBuffers, runCases };
