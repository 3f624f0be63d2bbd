/**
 * Which file an open SQLite store is writing. A database file that is unlinked (`rm -rf data/`)
 * or replaced (renamed over, restored from a backup) while open goes on accepting writes into the
 * old inode, which nobody will ever open again: acknowledged events would be lost at the next
 * start. The store takes the file's identity (device and inode) at open and compares it before
 * every commit; a mismatch fails the commit with STORE_UNAVAILABLE, so the events are held (and
 * logged loudly) by the layer above, exactly as for a file that cannot be written.
 *
 * SQLite finds a database's WAL by name (`<path>-wal`). When the file was replaced, the old
 * connection's WAL may still stand at that name and would be replayed into the NEW file at the
 * next open (its pages written over the new database). So, once the store is closed, a WAL or
 * shared-memory file that is still the one this store had open is renamed aside
 * (`<path>-wal.orphaned-<time>`): nothing is deleted, the new file is not touched.
 */
import { renameSync, statSync } from 'node:fs';
import { ErrorCodes, VoxError } from '../domain/errors.ts';

export interface FileIdentity {
  dev: number;
  ino: number;
}

/** The file's identity, or undefined for an in-memory database or a path that cannot be stat'ed. */
export function fileIdentity(path: string): FileIdentity | undefined {
  if (path === ':memory:' || path === '') return undefined;
  try {
    const s = statSync(path);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}

/** Undefined while `path` is still the file opened as `opened`; otherwise the STORE_UNAVAILABLE error saying what happened. */
export function fileLost(path: string, opened: FileIdentity): VoxError | undefined {
  let now: FileIdentity | undefined;
  try {
    const s = statSync(path);
    now = { dev: s.dev, ino: s.ino };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    return new VoxError(
      ErrorCodes.STORE_UNAVAILABLE,
      `event store ${path} was deleted while open (${code}): nothing more is written to the unlinked file; restore it or restart the node`,
      { path, reason: 'file-deleted' },
    );
  }
  if (now.dev === opened.dev && now.ino === opened.ino) return undefined;
  return new VoxError(
    ErrorCodes.STORE_UNAVAILABLE,
    `event store ${path} was replaced by another file while open (inode ${opened.ino} → ${now.ino}): nothing more is written to either; restart the node to open the new file`,
    { path, reason: 'file-replaced' },
  );
}

/** Renames `<path>-wal` / `<path>-shm` aside when they are still the files this store had open. */
export function setAsideStaleWal(path: string, ours: { wal?: FileIdentity; shm?: FileIdentity }, now = Date.now()): string[] {
  const moved: string[] = [];
  for (const [suffix, id] of [['-wal', ours.wal], ['-shm', ours.shm]] as const) {
    if (id === undefined) continue;
    const side = `${path}${suffix}`;
    const current = fileIdentity(side);
    if (current === undefined || current.dev !== id.dev || current.ino !== id.ino) continue;
    try {
      renameSync(side, `${side}.orphaned-${now}`);
      moved.push(`${side}.orphaned-${now}`);
    } catch {
      // Gone meanwhile, or the folder is not writable: nothing more can be done here.
    }
  }
  return moved;
}

/** Watches one open store file: its identity at open, and its WAL/shm while they are still its own. */
export class StoreFileWatch {
  private readonly opened: FileIdentity;
  private readonly side: { wal?: FileIdentity; shm?: FileIdentity } = {};
  /** The first loss seen (the file stays lost for this store). */
  lost: VoxError | undefined;

  private constructor(private readonly path: string, opened: FileIdentity) {
    this.opened = opened;
    this.noteSideFiles();
  }

  /** A watch for a file store, or undefined (':memory:', or a path that cannot be stat'ed). */
  static of(path: string): StoreFileWatch | undefined {
    const id = fileIdentity(path);
    return id ? new StoreFileWatch(path, id) : undefined;
  }

  /** The loss error when the file was deleted or replaced (told to `onLost` the first time), else undefined. */
  check(onLost?: (error: VoxError) => void): VoxError | undefined {
    const lost = fileLost(this.path, this.opened);
    if (lost === undefined) {
      if (this.side.wal === undefined || this.side.shm === undefined) this.noteSideFiles();
      return undefined;
    }
    if (this.lost === undefined) {
      this.lost = lost;
      onLost?.(lost);
    }
    return lost;
  }

  /** After close: our WAL/shm, if still at their names beside a lost file, are renamed aside. */
  setAsideIfLost(): void {
    if (this.lost !== undefined) setAsideStaleWal(this.path, this.side);
  }

  private noteSideFiles(): void {
    this.side.wal ??= fileIdentity(`${this.path}-wal`);
    this.side.shm ??= fileIdentity(`${this.path}-shm`);
  }
}
