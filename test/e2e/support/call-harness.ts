/**
 * What the end-to-end tests need around a voxledger node: launch one (embedded SIP on an
 * ephemeral loopback port, SQLite file store, quick notifier retries) with one bot, read a
 * call's events, wait for them, cue a sipp caller, and clean up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../../src/config/config.ts';
import { launchNode, type RunningNode } from '../../../src/cli/start.ts';
import { fromRecorded, isCallEvent } from '../../../src/store/envelope.ts';
import { verifyCall } from '../../../src/audit/verify.ts';
import { notifyStreamId, type DomainEvent } from '../../../src/domain/events.ts';
import type { SippProcess } from '../../sip/sipp.ts';

/** This folder (scenario files live beside this module). */
export const SUPPORT_DIR = dirname(fileURLToPath(import.meta.url));

export interface E2eNode extends RunningNode {
  /** host:port of its SIP socket (UDP). */
  sipAddr: string;
  /** Stops the node and removes its store. */
  dispose(): Promise<void>;
}

/** Launches a node whose only bot (`id` "bot", routed for every number) is `bot`; `extra` adds top-level config sections (e.g. `speech`). */
export async function launchE2eNode(bot: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<E2eNode> {
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-e2e-bots-'));
  const config = parseConfig({
    store: { kind: 'sqlite', path: join(dir, 'calls.db') },
    sip: { host: '127.0.0.1', port: 0, t1Ms: 100 },
    http: { enabled: false },
    log: { level: 'error' },
    notifier: { attempts: 3, backoffMs: 100, maxBackoffMs: 200 },
    bots: [{ id: 'bot', ...bot }],
    ...extra,
  });
  let n: RunningNode;
  try {
    n = await launchNode(config);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const a = n.signaling.address()!;
  let disposed = false;
  return Object.assign(n, {
    sipAddr: `${a.host}:${a.port}`,
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        await n.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  });
}

/** The id of the next call the node starts (read it once the call is under way). */
export function nextCall(n: RunningNode): () => string | undefined {
  let id: string | undefined;
  const off = n.runtime.onCallStarted((c) => {
    id ??= c;
    off();
  });
  return () => id;
}

/** A call's events so far (empty when the stream does not exist yet). */
export async function callEvents(n: RunningNode, callId: string): Promise<DomainEvent[]> {
  return n.store.readStream(`call-${callId}`).then((r) => r.map(fromRecorded)).catch(() => []);
}

/** The end-of-call delivery attempts recorded for a call (`notify-<callId>`). */
export async function notifyEvents(n: RunningNode, callId: string): Promise<DomainEvent[]> {
  return n.store.readStream(notifyStreamId(callId)).then((r) => r.map(fromRecorded)).catch(() => []);
}

/** Polls `check` until it holds; fails with `what` after `ms`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until the call's events satisfy `check`; resolves with them. */
export async function waitForEvents(n: RunningNode, callId: () => string | undefined, check: (events: DomainEvent[]) => boolean, what: string, ms = 10_000): Promise<DomainEvent[]> {
  let events: DomainEvent[] = [];
  await waitUntil(async () => {
    const id = callId();
    if (!id) return false;
    events = await callEvents(n, id);
    return check(events);
  }, what, ms);
  return events;
}

/** Waits until the call's stream ends with CallEnded. */
export async function ended(n: RunningNode, callId: () => string | undefined, ms = 15_000): Promise<DomainEvent[]> {
  const events = await waitForEvents(n, callId, (e) => e.at(-1)?.type === 'CallEnded', 'the call to end', ms);
  // Every real-time history must pass the auditor's check.
  assert.deepEqual(verifyCall(events.filter(isCallEvent)).differences, [], `replay --verify of ${callId()}`);
  return events;
}

/**
 * Cues a sipp caller running test/e2e/support/uac-hangup-on-cue.xml: sends it an INFO on the
 * call's SIP Call-ID (sipp routes messages to calls by Call-ID), after which it hangs up. Sent
 * from a throwaway loopback socket; no answer is expected.
 */
export async function cueCaller(sipp: { localHost: string; localPort: number }, sipCallId: string): Promise<void> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  try {
    const { port } = sock.address();
    const msg = [
      `INFO sip:caller@${sipp.localHost}:${sipp.localPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-cue-${randomUUID()}`,
      `From: <sip:test-harness@127.0.0.1:${port}>;tag=cue`,
      `To: <sip:caller@${sipp.localHost}:${sipp.localPort}>`,
      `Call-ID: ${sipCallId}`,
      'CSeq: 1 INFO',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    await new Promise<void>((resolve, reject) => sock.send(msg, sipp.localPort, sipp.localHost, (err) => (err ? reject(err) : resolve())));
  } finally {
    sock.close();
  }
}

/**
 * Resolves with `work` while sipp runs. Fails at once, with sipp's diagnostics, when sipp ends
 * first (its call failed) or when `work` fails (then sipp is stopped).
 */
export async function whileSippRuns<T>(sipp: SippProcess, work: Promise<T>): Promise<T> {
  let settled = false;
  work.catch(() => undefined); // a late failure after sipp ended is reported through the race
  const exited = sipp.done.then((r): never => {
    throw new Error(settled ? 'unreachable' : `sipp ended before the test was done with it (exit ${r.code})\n${r.diagnostics}`);
  });
  exited.catch(() => undefined);
  try {
    return await Promise.race([work, exited]);
  } catch (err) {
    sipp.kill();
    const r = await sipp.done;
    const msg = (err as Error).message;
    throw new Error(msg.includes(r.diagnostics) ? msg : `${msg}\n${r.diagnostics}`);
  } finally {
    settled = true;
  }
}
