/**
 * Which node processes hold a SQLite store file right now. A running node writes
 * `<store>.holders/<nodeId>.<pid>.json` ({nodeId, pid, host, startedAt}) and removes it when it
 * stops; after a `kill -9` the file stays but its pid is dead, so it no longer counts. Several
 * holders are normal in a cluster (several nodes on one file).
 *
 * Used by commands that would otherwise write behind a live node's back (`simulate` refuses such
 * a store) and by `calls` / `replay --verify --all` to tell an open call that a live node is
 * running from one that nobody will ever end.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export interface StoreHolder {
  nodeId: string;
  pid: number;
  host: string;
  startedAt: string;
}

function holdersDir(storePath: string): string {
  return `${resolve(storePath)}.holders`;
}

/** True when the process is running on this host (a holder on another host is assumed alive). */
function alive(h: StoreHolder): boolean {
  if (h.host !== hostname()) return true;
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Records this process as a holder of the store; `release` removes the record. */
export function holdStore(storePath: string, nodeId: string, now = new Date()): { release(): void } {
  const dir = holdersDir(storePath);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${encodeURIComponent(nodeId)}.${process.pid}.json`);
  const holder: StoreHolder = { nodeId, pid: process.pid, host: hostname(), startedAt: now.toISOString() };
  writeFileSync(file, JSON.stringify(holder) + '\n');
  // Dead holders' records are noise from earlier crashes: sweep them.
  for (const h of readHolders(storePath)) if (!h.live) rmSync(h.file, { force: true });
  return { release: () => rmSync(file, { force: true }) };
}

function readHolders(storePath: string): Array<StoreHolder & { file: string; live: boolean }> {
  const dir = holdersDir(storePath);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Array<StoreHolder & { file: string; live: boolean }> = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const file = join(dir, name);
    try {
      const h = JSON.parse(readFileSync(file, 'utf8')) as StoreHolder;
      if (typeof h.pid === 'number' && typeof h.nodeId === 'string') out.push({ ...h, file, live: alive(h) });
    } catch {
      // Half-written or foreign: not a holder.
    }
  }
  return out;
}

/** The node processes holding the store now (dead ones left by a crash are not counted). */
export function liveHolders(storePath: string): StoreHolder[] {
  return readHolders(storePath)
    .filter((h) => h.live)
    .map(({ nodeId, pid, host, startedAt }) => ({ nodeId, pid, host, startedAt }));
}
