// How much CPU the machine gives two threads at the moment, as a multiple of what it gives one.
// On a dedicated 2-core machine the answer is 2.0. The VMs we measure on share their host: at times
// the second vCPU runs at a fraction of the first's speed (seen here: two threads doing 1.1-1.5x the
// work of one, with no steal time reported), and then no 2-thread figure can reach 2x. The thread
// scaling table prints this next to its speed-ups, so a speed-up can be read against what the
// machine allowed while it was measured.
//
// Each probe runs a dependency chain of float multiply-adds (compute only, no memory traffic) on
// one worker thread alone, then on `threads` worker threads at once, for the same wall time, and
// divides the work done. The workers are started once and kept: thread start-up is not timed.
import { Worker } from 'node:worker_threads';
import { median } from './format.mjs';

const SPIN = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (until) => {
  let x = 1.0001, rounds = 0;
  while (Date.now() < until) {
    for (let i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
    rounds++;
  }
  parentPort.postMessage({ rounds, x });
});`;

/** A set of spinning workers. probe() resolves with the capacity ratio; close() ends the workers. */
export async function capacityProbe(threads = 2, ms = 250) {
  const workers = Array.from({ length: threads }, () => new Worker(SPIN, { eval: true }));
  await Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    w.once('online', resolve);
    w.once('error', reject);
  })));
  const spin = (ws) => {
    const until = Date.now() + ms;
    return Promise.all(ws.map((w) => new Promise((resolve) => {
      w.once('message', (m) => resolve(m.rounds));
      w.postMessage(until);
    })));
  };
  return {
    /** Work of `threads` workers at once over the work of one alone (alone first, then together). */
    async probe() {
      const [alone] = await spin(workers.slice(0, 1));
      const together = (await spin(workers)).reduce((a, b) => a + b, 0);
      return alone > 0 ? together / alone : null;
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/** The median of `probes` probes of a fresh set of workers (about 0.5 s per probe). */
export async function measureCapacity(threads = 2, probes = 3) {
  const probe = await capacityProbe(threads);
  try {
    const values = [];
    for (let i = 0; i < probes; i++) values.push(await probe.probe());
    return median(values.filter((v) => v !== null));
  } finally {
    await probe.close();
  }
}
