/** examples/webhook-receiver.mjs (the README's receiver) accepts voxledger's signature and refuses forged or stale ones. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { signPayload } from '../../src/webhooks/signature.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

describe('examples/webhook-receiver.mjs', () => {
  it('verifies signatures as documented', async () => {
    const secret = 'example-secret-0123456789abcdef';
    const port = await freePort();
    const child = spawn(process.execPath, ['examples/webhook-receiver.mjs', String(port)], { env: { ...process.env, VOXLEDGER_WEBHOOK_SECRET: secret }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      for (let i = 0; i < 100 && !out.includes('webhook receiver on'); i++) await new Promise((r) => setTimeout(r, 50));
      const body = JSON.stringify({ id: 'e1', callId: 'c1', status: 'completed', at: new Date().toISOString(), reasonCode: 'bot-disconnected', reason: 'done' });
      const now = Math.floor(Date.now() / 1000);
      const post = (sig: string, b = body) => fetch(`http://127.0.0.1:${port}/status`, { method: 'POST', body: b, headers: { 'content-type': 'application/json', 'idempotency-key': 'e1', 'x-voxledger-signature': sig } });
      assert.equal((await post(signPayload(secret, now, body))).status, 200);
      assert.equal((await post(signPayload(secret, now, body))).status, 200, 'a repeat is acknowledged');
      assert.equal((await post(signPayload('wrong-secret-0123456789abcdef', now, body))).status, 401);
      assert.equal((await post(signPayload(secret, now - 3600, body))).status, 401, 'stale');
      assert.equal((await post(signPayload(secret, now, body), body.replace('done', 'undone'))).status, 401, 'tampered');
      assert.equal((await post('garbage')).status, 401);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(out.match(/c1 completed bot-disconnected/g)?.length, 1, out);
    } finally {
      child.kill();
    }
  });
});
