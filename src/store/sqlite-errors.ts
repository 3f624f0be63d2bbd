/** Maps SQLite failures to the store's VoxError codes, always naming the database file. */
import { ErrorCodes, VoxError } from '../domain/errors.ts';

function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/**
 * Wraps `e` as a VoxError: STORE_LOCKED (busy / locked by another connection), STORE_CORRUPT
 * (malformed or not a database), otherwise STORE_UNAVAILABLE. VoxErrors pass through unchanged.
 * @param doing what the store was doing, for the message ("opening", "writing 12 appends", …)
 */
export function storeError(e: unknown, path: string, doing: string): VoxError {
  if (e instanceof VoxError) return e;
  const code = sqliteCode(e);
  const reason = e instanceof Error ? e.message : String(e);
  const details = { path, ...(code ? { sqliteCode: code } : {}) };
  if (code?.startsWith('SQLITE_BUSY') || code?.startsWith('SQLITE_LOCKED')) {
    return new VoxError(ErrorCodes.STORE_LOCKED, `event store ${path} is locked by another writer (${doing}): ${reason}`, details, { cause: e });
  }
  if (code?.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new VoxError(ErrorCodes.STORE_CORRUPT, `event store ${path} is corrupt or not an SQLite database (${doing}): ${reason}`, details, {
      cause: e,
    });
  }
  return new VoxError(ErrorCodes.STORE_UNAVAILABLE, `event store ${path} failed (${doing}): ${reason}`, details, { cause: e });
}

/** True for the UNIQUE violation on events.id, i.e. an event id that is already stored. */
export function isDuplicateEventId(e: unknown): boolean {
  return sqliteCode(e) === 'SQLITE_CONSTRAINT_UNIQUE' && (e as Error).message.includes('events.id');
}
