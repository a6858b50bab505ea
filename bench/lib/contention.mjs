// A process that keeps one core busy while the contention benchmark runs, and is always killed.
import { spawn } from 'node:child_process';

const live = new Set();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
// Ctrl-C or kill during a measurement: exit through the handler above, not around it.
for (const signal of ['SIGINT', 'SIGTERM'])
  process.once(signal, () => {
    for (const c of live) c.kill('SIGKILL');
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });

/** Starts `node -e 'for(;;){}'`; resolves once it runs. Returns { pid, stop() }. */
export async function startBusyCore(log) {
  const child = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  live.add(child);
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  await new Promise((r) => setTimeout(r, 300)); // let it reach its loop
  log?.(`contention: busy process pid ${child.pid} started`);
  return {
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      live.delete(child);
      log?.(`contention: busy process pid ${child.pid} stopped`);
    },
  };
}
