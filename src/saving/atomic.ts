/**
 * Crash-safe file replacement: write a temporary file in the same directory, fsync it, rename it
 * over the target (atomic on POSIX file systems and NTFS), then fsync the directory so the rename
 * itself survives a power cut. A reader sees the old file or the new one, never a mixture.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { IOError } from '../errors';

/** Prefix of our temporary files; a save removes the ones a crashed save left behind. */
export const TEMP_PREFIX = '.deepnode-tmp-';

/**
 * Test hook: called at each step of a save with the step's name; throwing from it simulates a
 * crash at that point. Not part of the public API.
 */
export let faultHook: ((step: string) => void) | null = null;
export function setFaultHook(hook: ((step: string) => void) | null): void {
  faultHook = hook;
}
export function fault(step: string): void {
  if (faultHook) faultHook(step);
}

/** Replace `dir/name` with `data` atomically and durably. */
export async function writeFileAtomic(dir: string, name: string, data: Uint8Array): Promise<void> {
  const target = path.join(dir, name);
  const temp = path.join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}-${name}`);
  let handle: fs.promises.FileHandle | null = null;
  try {
    handle = await fs.promises.open(temp, 'wx', 0o644);
    await handle.writeFile(data);
    fault(`write:${name}`);
    await handle.sync();
    await handle.close();
    handle = null;
    fault(`rename:${name}`);
    await fs.promises.rename(temp, target);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.promises.rm(temp, { force: true }).catch(() => undefined);
    throw wrapIO(e, `writing ${target}`);
  }
  await syncDir(dir);
}

/** fsync a directory so renames and unlinks in it are durable (not possible on Windows: skipped). */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  let handle: fs.promises.FileHandle | null = null;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic there.
  } finally {
    if (handle) await handle.close().catch(() => undefined);
  }
}

/** An IOError for a failed file operation, keeping the system's reason (ENOENT, EACCES, ...). */
export function wrapIO(e: unknown, doing: string): Error {
  if (e instanceof IOError) return e;
  const err = e as NodeJS.ErrnoException;
  return new IOError(`${doing} failed: ${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`);
}

/**
 * Append `bytes` to `file` with whole-or-nothing semantics for a log: one open, writes until done,
 * and on a failed write the file is cut back to its previous length, so it never ends in a partial
 * record or line. `owner` names the caller in errors ('CSVLogger', 'TensorBoard').
 */
export function appendWhole(owner: string, file: string, bytes: Uint8Array, flag: 'a' | 'wx' = 'a'): void {
  let fd: number;
  try {
    fd = fs.openSync(file, flag);
  } catch (e) {
    throw new IOError(`${owner}: cannot open ${JSON.stringify(file)}: ${(e as Error).message}`);
  }
  const size = fs.fstatSync(fd).size;
  try {
    for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off);
  } catch (e) {
    try {
      fs.ftruncateSync(fd, size);
    } catch {
      // keep the original error
    }
    throw new IOError(`${owner}: writing ${JSON.stringify(file)} failed: ${(e as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}
