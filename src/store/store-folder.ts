/**
 * Makes the SQLite file's folder, one level at a time. `mkdirSync(…, { recursive: true })` is not
 * used: under a path that exists but refuses new entries (`/proc`) it loops forever in Node 20, and
 * under a regular file it fails with a bare ENOTDIR. Every failure here is a CONFIG_INVALID naming
 * `store.path` and the folder at fault.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, parse, resolve, sep } from 'node:path';
import { ErrorCodes, VoxError } from '../domain/errors.ts';

function bad(path: string, what: string, details: Record<string, unknown> = {}): VoxError {
  return new VoxError(ErrorCodes.CONFIG_INVALID, `store.path "${path}": ${what}`, { key: 'store.path', path, ...details });
}

/** Ensures the folder that will hold the database file `path` exists (creating what is missing). */
export function ensureStoreFolder(path: string): void {
  const folder = dirname(resolve(path));
  const { root } = parse(folder);
  const parts = folder.slice(root.length).split(sep).filter(Boolean);
  let current = root;
  for (const part of parts) {
    current = current.endsWith(sep) ? current + part : current + sep + part;
    let isDir: boolean | undefined;
    try {
      isDir = statSync(current).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw bad(path, `cannot look at ${current} (${code})`, { folder: current });
    }
    if (isDir === false) throw bad(path, `${current} is a file, not a folder`, { folder: current });
    if (isDir === true) continue;
    try {
      mkdirSync(current);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(current, { throwIfNoEntry: false })?.isDirectory()) continue;
      throw bad(path, `cannot create the folder ${current} (${code}${code === 'ENOENT' || code === 'EPERM' ? ': not a writable file system' : ''})`, { folder: current });
    }
  }
}
