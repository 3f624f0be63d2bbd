/** Shared helpers for the EventStoreDB adapter tests. */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { EventData } from '../../src/store/port.ts';

export function event(type = 'Tested', data: unknown = { n: 1 }, id: string = randomUUID()): EventData {
  return { id, type, data, metadata: { callId: 'c-1', at: '2026-01-01T00:00:00.000Z', nodeId: 'node-a', schemaVersion: 1 } };
}

export function events(n: number, type?: string): EventData[] {
  return Array.from({ length: n }, (_, i) => event(type, { i }));
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never says a word (a hung node). */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A log sink that keeps every line as text (to check what was logged, and what never is). */
export function captureLog(): { lines: string[]; log: (level: string, msg: string, fields?: Record<string, unknown>) => void } {
  const lines: string[] = [];
  return { lines, log: (level, msg, fields) => lines.push(JSON.stringify({ level, msg, ...fields })) };
}
