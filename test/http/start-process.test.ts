/**
 * `voxledger start` as a real process (what `npm start` runs): the HTTP API comes up with a
 * generated operator token in its file, a call placed over HTTP reaches sipp, and the node logs
 * JSON lines through pino with one `call ended` line per call — never the token or the secret.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sippAvailable, startSipp } from '../sip/sipp.ts';

const BIN = new URL('../../bin/voxledger.mjs', import.meta.url).pathname;

describe('voxledger start (a real process)', { skip: !sippAvailable() && 'sipp not installed (Debian package sip-tester)' }, () => {
  it('serves the API with a generated token, places a call, logs one line per ended call, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'voxledger-start-'));
    const cfg = join(dir, 'voxledger.config.json');
    writeFileSync(cfg, JSON.stringify({
      nodeId: 'proc-1',
      store: { kind: 'sqlite', path: join(dir, 'calls.db') },
      sip: { host: '127.0.0.1', port: 0 },
      http: { port: 0, tokenFile: join(dir, 'http-token') },
      webhooks: { secretFile: join(dir, 'webhook-secret') },
      bots: [{ id: 'quick', provider: 'scripted', script: [{ afterMs: 200, hangup: { hangupReason: 'bye now' } }] }],
    }));
    const child = spawn(process.execPath, [BIN, 'start', '--config', cfg], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = () => stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const waitFor = async (pred: (l: Record<string, unknown>) => boolean, what: string) => {
      for (let i = 0; i < 200; i++) {
        const hit = lines().find(pred);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no log line for ${what}:\n${stderr}`);
    };
    try {
      const listening = await waitFor((l) => l.msg === 'HTTP API listening', 'the HTTP API');
      const url = String(listening.url);
      const token = readFileSync(join(dir, 'http-token'), 'utf8').trim();
      assert.equal(statSync(join(dir, 'http-token')).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir, 'webhook-secret')).mode & 0o777, 0o600);
      const sipp = await startSipp({ scenario: 'uas-answer.xml' });
      await sipp.ready;
      const r = await fetch(`${url}/v1/calls`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: `sip:callee@${sipp.localHost}:${sipp.localPort}`, botId: 'quick' }) });
      assert.equal(r.status, 202);
      const { callId } = (await r.json()) as { callId: string };
      const done = await sipp.done;
      assert.equal(done.code, 0, done.diagnostics);
      const ended = await waitFor((l) => l.msg === 'call ended' && l.callId === callId, 'the call ended line');
      assert.equal(ended.level, 'info');
      assert.equal(ended.nodeId, 'proc-1');
      assert.equal(ended.reasonCode, 'bot-disconnected');
      assert.equal(ended.terminatedBy, 'bot');
      assert.equal(typeof ended.durationMs, 'number');
      assert.match(String(ended.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      await fetch(`${url}/v1/calls`, { headers: { authorization: 'Bearer wrong-token-0123456789' } });
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
      assert.equal(code, 0, stderr);
      assert.ok(lines().some((l) => l.msg === 'voxledger stopped'));
      assert.ok(!stderr.includes(token), 'the token is never logged');
      assert.ok(!stderr.includes(readFileSync(join(dir, 'webhook-secret'), 'utf8').trim()), 'the webhook secret is never logged');
      assert.ok(lines().every((l) => typeof l.level === 'string' && typeof l.time === 'string' && typeof l.msg === 'string'));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
