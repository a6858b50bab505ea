// Shared by the figure scripts: where the pictures go.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** examples/figures/out/<name>, the directory created on first use (OUT_DIR overrides it). */
export function outFile(name) {
  const dir = process.env.OUT_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), 'out');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
