/** Launches a real node (SQLite file, embedded SIP on loopback, HTTP API on an ephemeral port) for the HTTP tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.ts';
import { launchNode, type RunningNode } from '../../src/cli/start.ts';

export const OPERATOR = 'operator-token-0123456789abcdef';
export const READER = 'reader-token-0123456789abcdef00';

export interface HttpNode extends RunningNode {
  url: string;
  dir: string;
  sipAddr: string;
  api(path: string, init?: RequestInit & { token?: string | null; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export async function httpNode(extra: Record<string, unknown> = {}, options: { dir?: string; keepDir?: boolean } = {}): Promise<HttpNode> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'voxledger-http-'));
  const { http: httpExtra, ...rest } = extra as { http?: Record<string, unknown> };
  const config = parseConfig({
    store: { kind: 'sqlite', path: join(dir, 'calls.db') },
    sip: { host: '127.0.0.1', port: 0 }, // default T1 (500 ms): a loaded machine's late 180 does not make us resend the INVITE
    log: { level: 'error' },
    notifier: { attempts: 3, backoffMs: 100, maxBackoffMs: 200 },
    http: {
      port: 0,
      tokens: [{ name: 'ops', token: OPERATOR, role: 'operator' }, { name: 'auditor', token: READER, role: 'read-only' }],
      ...httpExtra,
    },
    webhooks: { secretFile: join(dir, 'webhook-secret') },
    ...rest,
  });
  const node = await launchNode(config);
  const url = node.operator.http!.url;
  const a = node.signaling.address()!;
  return Object.assign(node, {
    url,
    dir,
    sipAddr: `${a.host}:${a.port}`,
    api(path: string, init: RequestInit & { token?: string | null; json?: unknown } = {}) {
      const { token = OPERATOR, json, ...rest2 } = init;
      const headers = new Headers(rest2.headers);
      if (token !== null) headers.set('authorization', `Bearer ${token}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(url + path, { ...rest2, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
    },
    async close() {
      await node.stop();
      if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, ms = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
