/** Helpers for the store conformance suite. Only the port is used, so any adapter can run it. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isVoxError, type ErrorCode } from '../../../src/domain/errors.ts';
import type { EventData, EventStore } from '../../../src/store/port.ts';

export interface StoreHandle {
  store: EventStore;
  cleanup(): Promise<void>;
}

export type StoreFactory = () => Promise<StoreHandle>;

export interface ConformanceOptions {
  /**
   * The adapter refuses an event id already stored in another stream (INVALID_APPEND), as the
   * embedded adapters do. Default true; an adapter that follows EventStoreDB here sets false.
   */
  uniqueEventIds?: boolean;
}

/** Runs `fn` against a fresh store from `factory`, always cleaning up. */
export async function withStore(factory: StoreFactory, fn: (store: EventStore) => Promise<void>): Promise<void> {
  const { store, cleanup } = await factory();
  try {
    await fn(store);
  } finally {
    await cleanup();
  }
}

/** A stream-name prefix unique to one test, so tests never see each other's streams. */
export function uniquePrefix(): string {
  return `conf${randomUUID().slice(0, 8)}-`;
}

let seq = 0;

/** An event with a fresh id; `data` defaults to a small object carrying a sequence number. */
export function ev(type = 'Tested', data?: unknown): EventData {
  const n = seq++;
  return {
    id: randomUUID(),
    type,
    data: data ?? { n, nested: { list: [1, 'two', null, true], text: 'é"\\\n' } },
    metadata: { callId: `call-${n}`, at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, n % 1000)).toISOString(), nodeId: 'node-a', schemaVersion: 1 },
  };
}

export function evs(count: number, type?: string): EventData[] {
  return Array.from({ length: count }, () => ev(type));
}

/** Asserts that `p` rejects with a VoxError of `code`; returns the error for further checks. */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<Error> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(isVoxError(caught, code), `expected a VoxError ${code}, got ${String((caught as { code?: unknown })?.code)}: ${String(caught)}`);
  return caught as Error;
}

/** Waits until `check` is true (polling), failing after `timeoutMs`. */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Only the id, stream, revision and position: enough to compare orderings. */
export function shape(e: { id: string; streamId: string; revision: number; position: number }) {
  return { id: e.id, streamId: e.streamId, revision: e.revision, position: e.position };
}
