// The per-step overhead profile: where one training step's time goes, split by native function,
// and what is left outside native code (the JavaScript side: autograd, pooling, the fit loop).
//
// Every function of the addon object (`native` from dist/cjs/backend/native.js, which the library
// reads at each call, `native.gemm(...)`) is wrapped with an hrtime accumulator for the profiled
// epochs and restored afterwards. The wrapper's own cost is calibrated on a wrapped no-op:
//   inner = time the clock reads add inside the timed region (counted as "native" by mistake),
//   whole = everything the wrapper adds to a call (inner + the wrapper's JS around it).
// Then, in the same wrapped run:   native(f) = measured(f) - calls(f) * inner
//                                   wall     = wall(wrapped run) - calls * whole
//                                   outside  = wall - sum native(f)
// and the wall of an unwrapped run of the same epochs is printed beside it as a check.
// "Outside" includes the per-epoch work of fit (shuffling, the history), amortised per step.
import { median } from './format.mjs';

const now = () => process.hrtime.bigint();

function wrapAll(native, acc) {
  const originals = {};
  for (const key of Object.keys(native)) {
    const f = native[key];
    if (typeof f !== 'function') continue;
    originals[key] = f;
    const e = (acc[key] = { ns: 0, calls: 0 });
    native[key] = function (...args) {
      const t0 = now();
      try {
        return f.apply(this, args);
      } finally {
        e.ns += Number(now() - t0);
        e.calls++;
      }
    };
  }
  return () => Object.assign(native, originals);
}

/** { innerNs, wholeNs } per wrapped call, medians of `trials` loops of `n` calls. */
export function calibrateWrapper(trials = 7, n = 200000) {
  const inner = [];
  const whole = [];
  for (let t = 0; t < trials; t++) {
    const holder = { noop: (a, b) => a }; // a real function with arguments, like the native calls
    const acc = {};
    let sink = 0;
    let t0 = now();
    for (let i = 0; i < n; i++) sink += holder.noop(i, 1) ?? 0;
    const bare = Number(now() - t0);
    const restore = wrapAll(holder, acc);
    t0 = now();
    for (let i = 0; i < n; i++) sink += holder.noop(i, 1) ?? 0;
    const wrapped = Number(now() - t0);
    restore();
    if (sink === -1) console.log(''); // keep the loops alive
    inner.push(acc.noop.ns / n);
    whole.push((wrapped - bare) / n);
  }
  return { innerNs: median(inner), wholeNs: Math.max(median(whole), median(inner)) };
}

/**
 * Profiles `epochs` epochs of `model` on x/y at the current thread count, after one warm-up epoch.
 * Returns { steps, wallUs, wallUnwrappedUs, nativeUs, outsideUs, rows: [{ fn, usPerStep, callsPerStep, usPerCall }], calibration }
 * (all per step, µs).
 */
export async function profileSteps(native, model, x, y, { batchSize, epochs = 2 }) {
  const n = y.shape[0];
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const fit = () => model.fit(x, y, { epochs: 1, batchSize, verbose: 0 });
  await fit(); // warm-up: the buffer pool, JIT, first-touch pages

  const unwrapped = [];
  for (let e = 0; e < epochs; e++) {
    const t0 = now();
    await fit();
    unwrapped.push(Number(now() - t0));
  }

  const calibration = calibrateWrapper();
  const acc = {};
  const restore = wrapAll(native, acc);
  let wrappedNs = 0;
  try {
    for (let e = 0; e < epochs; e++) {
      const t0 = now();
      await fit();
      wrappedNs += Number(now() - t0);
    }
  } finally {
    restore();
  }
  const steps = stepsPerEpoch * epochs;
  let calls = 0;
  let nativeNs = 0;
  const rows = [];
  for (const [fn, { ns, calls: c }] of Object.entries(acc)) {
    if (c === 0) continue;
    const corrected = Math.max(0, ns - c * calibration.innerNs);
    calls += c;
    nativeNs += corrected;
    rows.push({ fn, usPerStep: corrected / 1e3 / steps, callsPerStep: c / steps, usPerCall: corrected / 1e3 / c });
  }
  rows.sort((a, b) => b.usPerStep - a.usPerStep);
  const wallNs = wrappedNs - calls * calibration.wholeNs;
  return {
    steps,
    stepsPerEpoch,
    epochs,
    samples: n,
    batchSize,
    wallUs: wallNs / 1e3 / steps,
    wallUnwrappedUs: median(unwrapped) / 1e3 / stepsPerEpoch,
    wallWrappedRawUs: wrappedNs / 1e3 / steps,
    nativeUs: nativeNs / 1e3 / steps,
    outsideUs: (wallNs - nativeNs) / 1e3 / steps,
    callsPerStep: calls / steps,
    rows,
    calibration,
  };
}
