import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { main } from '../../src/cli/main.ts';

function capture() {
  let out = '';
  let err = '';
  return { io: { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } }, out: () => out, err: () => err };
}

describe('voxledger CLI on a sqlite store filled by simulate', () => {
  let dir: string;
  let cfg: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'voxledger-cli-'));
    cfg = join(dir, 'voxledger.config.json');
    writeFileSync(cfg, JSON.stringify({ store: { kind: 'sqlite', path: join(dir, 'data', 'calls.db') }, log: { level: 'error' } }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('simulate → calls → replay --verify → cdr → project', async () => {
    let c = capture();
    assert.equal(await main(['simulate', '--calls', '300', '--seed', '3', '--config', cfg], c.io), 0, c.err());
    assert.match(c.out(), /simulated 300 calls \(seed 3\) into sqlite/);

    c = capture();
    assert.equal(await main(['calls', '--limit', '1000', '--config', cfg], c.io), 0);
    const ids = c.out().trim().split('\n');
    assert.equal(ids.length, 300);

    c = capture();
    assert.equal(await main(['replay', ids[0]!, '--verify', '--config', cfg], c.io), 0, c.out());
    assert.match(c.out(), /CallOffered/);
    assert.match(c.out(), /verify: OK/);

    c = capture();
    assert.equal(await main(['replay', '--verify', '--all', '--config', cfg], c.io), 0, c.out());
    assert.match(c.out(), /verify: 300 calls, 0 with differences/);

    c = capture();
    assert.equal(await main(['cdr', '--format', 'csv', '--config', cfg], c.io), 0);
    const lines = c.out().trim().split('\n');
    assert.equal(lines.length, 301);
    assert.match(lines[0]!, /^callId,direction,from,to,botId/);

    const out = join(dir, 'cdr.jsonl');
    assert.equal(await main(['cdr', '--out', out, '--config', cfg], capture().io), 0);
    const cdrs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(cdrs.length, 300);
    for (const cdr of cdrs) assert.ok(cdr.reasonCode, `every call ended: ${JSON.stringify(cdr)}`);
    const codes = new Set(cdrs.map((x) => x.reasonCode));
    for (const code of ['bot-disconnected', 'client-disconnected', 'error', 'busy', 'declined', 'no-answer']) assert.ok(codes.has(code), code);

    c = capture();
    assert.equal(await main(['project', 'projections/examples/hangup-reasons-per-bot-per-hour.ts', '--json', '--config', cfg], c.io), 0, c.err());
    const rows = JSON.parse(c.out()) as Array<{ calls: number }>;
    assert.equal(rows.reduce((n, r) => n + r.calls, 0), 300);
  });

  it('--verify reports a tampered decision and exits 3', async () => {
    let c = capture();
    await main(['calls', '--limit', '1000', '--config', cfg], c.io);
    const db = new Database(join(dir, 'data', 'calls.db'));
    const row = db
      .prepare(`SELECT e.position, s.stream_id, e.data FROM events e JOIN streams s ON s.stream_key = e.stream_key WHERE e.type = 'ByeSent' LIMIT 1`)
      .get() as { position: number; stream_id: string; data: string };
    const data = JSON.parse(row.data);
    data.reasonHeader = 'Q.850;cause=16;text="tampered"';
    db.prepare('UPDATE events SET data = ? WHERE position = ?').run(JSON.stringify(data), row.position);
    db.close();
    c = capture();
    assert.equal(await main(['replay', row.stream_id.slice('call-'.length), '--verify', '--config', cfg], c.io), 3);
    assert.match(c.out(), /different: recorded ByeSent differs/);
  });

  it('clear errors: unknown call, bad usage, bad config', async () => {
    let c = capture();
    assert.equal(await main(['replay', 'no-such-call', '--config', cfg], c.io), 1);
    assert.match(c.err(), /VOX_CALL_NOT_FOUND/);
    c = capture();
    assert.equal(await main(['frobnicate', '--config', cfg], c.io), 2);
    assert.match(c.err(), /VOX_CLI_USAGE/);
    const badCfg = join(dir, 'bad.json');
    writeFileSync(badCfg, JSON.stringify({ sip: { transport: 'carrier-pigeon' } }));
    c = capture();
    assert.equal(await main(['calls', '--config', badCfg], c.io), 2);
    assert.match(c.err(), /VOX_CONFIG_INVALID: .*sip\.transport/);
    c = capture();
    assert.equal(await main(['calls', '--config', join(dir, 'missing.json')], c.io), 2);
    assert.match(c.err(), /VOX_CONFIG_NOT_FOUND/);
  });
});
