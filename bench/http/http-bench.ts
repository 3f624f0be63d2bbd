/**
 * The operator surface under load, figures only (nothing passes or fails):
 * - CDR export from SQLite: rows/s over HTTP (`GET /v1/cdrs`, JSON lines and CSV, streamed)
 *   against `voxledger cdr` (jsonl and csv) on the same file in the same run (best of three each);
 * - API latency p50/p99 and requests/s with autocannon (concurrent connections, loopback):
 *   the call list and one call's detail;
 * - call-status webhook delivery: deliveries/s to a local receiver, catching up a backlog
 *   (signed, each attempt recorded as an event, at least once).
 */
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { parseConfig } from '../../src/config/config.ts';
import { launchNode } from '../../src/cli/start.ts';
import { openStore } from '../../src/store/open-store.ts';
import { simulate } from '../../src/cli/simulate.ts';
import { createLogger } from '../../src/log/logger.ts';
import { systemClock } from '../../src/domain/clock.ts';
import { StatusWebhooks } from '../../src/webhooks/status-webhooks.ts';
import { parseWebhookConfig } from '../../src/config/webhook-config.ts';

type AutocannonResult = { latency: { p50: number; p99: number }; requests: { average: number }; non2xx: number; errors: number };
const autocannon = createRequire(import.meta.url)('autocannon') as (o: Record<string, unknown>) => Promise<AutocannonResult>;
const TOKEN = 'bench-token-0123456789abcdef';
const silent = createLogger({ level: 'silent' });
const nullOut = { write: () => true };

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

/** Best of three runs (warm caches and JIT for every contender alike). */
async function best(fn: () => Promise<unknown>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < 3; i++) min = Math.min(min, await timed(fn));
  return min;
}

async function drainBody(url: string): Promise<number> {
  const r = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  let lines = 0;
  const reader = r.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return lines;
    for (const b of value) if (b === 10) lines++;
  }
}

export async function runHttpBench(o: { quick?: boolean } = {}): Promise<Record<string, number>> {
  const calls = o.quick ? 3_000 : 20_000;
  const seconds = o.quick ? 3 : 8;
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-http-bench-'));
  const db = join(dir, 'calls.db');
  const cfgFile = join(dir, 'config.json');
  const rawConfig = { store: { kind: 'sqlite', path: db }, log: { level: 'error' } };
  (await import('node:fs')).writeFileSync(cfgFile, JSON.stringify(rawConfig));
  const out: Record<string, number> = {};
  try {
    const store = await openStore({ kind: 'sqlite', path: db });
    await simulate({ store, calls, seed: 7, log: silent });
    await store.close();
    out['calls in the store'] = calls;
    out['store file MB'] = statSync(db).size / 1e6;

    // `voxledger cdr` on the same file (rebuilds every CDR, then writes them).
    const cliJson = await best(() => main(['cdr', '--format', 'jsonl', '--config', cfgFile], { out: nullOut, err: process.stderr }));
    const cliCsv = await best(() => main(['cdr', '--format', 'csv', '--config', cfgFile], { out: nullOut, err: process.stderr }));
    out['voxledger cdr jsonl rows/s'] = calls / cliJson;
    out['voxledger cdr csv rows/s'] = calls / cliCsv;

    const node = await launchNode(parseConfig({
      ...rawConfig, sip: { host: '127.0.0.1', port: 0 }, http: { port: 0, tokens: [{ name: 'bench', token: TOKEN, role: 'operator' }] },
      webhooks: { secretFile: join(dir, 'webhook-secret') },
    }));
    try {
      const url = node.operator.http!.url;
      while (!node.operator.index.caughtUp) await new Promise((r) => setTimeout(r, 20));
      let rows = 0;
      const httpJson = await best(async () => (rows = await drainBody(`${url}/v1/cdrs`)));
      out['GET /v1/cdrs JSON lines rows/s'] = rows / httpJson;
      out['  ratio to voxledger cdr jsonl'] = rows / httpJson / out['voxledger cdr jsonl rows/s']!;
      const httpCsv = await best(async () => (rows = (await drainBody(`${url}/v1/cdrs?format=csv`)) - 1));
      out['GET /v1/cdrs CSV rows/s'] = rows / httpCsv;
      out['  ratio to voxledger cdr csv'] = rows / httpCsv / out['voxledger cdr csv rows/s']!;
      out['CDR rows exported (ended calls)'] = rows;

      const oneCall = node.operator.index.state.order.at(-1)!.callId;
      for (const [name, path] of [['GET /v1/calls?limit=50', '/v1/calls?limit=50'], [`GET /v1/calls/{id}`, `/v1/calls/${oneCall}`]] as const) {
        const r = await autocannon({ url: url + path, connections: 20, duration: seconds, headers: { authorization: `Bearer ${TOKEN}` } });
        out[`${name} p50 ms (20 connections)`] = r.latency.p50;
        out[`${name} p99 ms`] = r.latency.p99;
        out[`${name} requests/s`] = r.requests.average;
        out[`${name} non-2xx + errors`] = r.non2xx + r.errors;
      }
    } finally {
      await node.stop();
    }

    // Webhooks: a store filled first, then a sender started on it delivers the whole backlog
    // (the catch-up path after a restart or a leader change: each delivery first reads the
    // call's earlier attempts), signed, each attempt recorded as an event.
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const rx = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/status`;
    const store2 = await openStore({ kind: 'sqlite', path: join(dir, 'webhooks.db') });
    await simulate({ store: store2, calls: o.quick ? 1_000 : 5_000, seed: 9, log: silent });
    const config = parseWebhookConfig({ secret: 'bench-secret-0123456789', concurrency: 32, bots: { 'sim-bot': { url: rx }, 'sim-bot-2': { url: rx } } }, new Set(['sim-bot', 'sim-bot-2']));
    const sender = new StatusWebhooks({ store: store2, clock: systemClock, log: silent, nodeId: 'bench', config, secret: () => 'bench-secret-0123456789', backfill: true });
    const t = await timed(async () => {
      await sender.start();
      await sender.drain();
    });
    out['webhooks delivered (signed, each attempt recorded)'] = sender.attemptsMade;
    out['webhook deliveries/s (backlog catch-up, 32 in flight)'] = sender.attemptsMade / t;
    await sender.close();
    await store2.close();
    receiver.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import('../runtime-bench.ts');
  printTable('HTTP operator surface', await runHttpBench({ quick: process.argv.includes('--quick') }));
}
