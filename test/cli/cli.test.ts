import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { main } from '../../src/cli/main.ts';
import { holdStore } from '../../src/store/store-holders.ts';

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
    const lines0 = c.out().trim().split('\n');
    assert.match(lines0[0]!, /^callId\s+started\s+state\s+caller\s+callee\s+bot\s+reasonCode$/);
    assert.equal(lines0.at(-1), '(300 calls)');
    const ids = lines0.slice(1, -1).map((l) => l.split(/\s+/)[0]!);
    assert.equal(ids.length, 300);
    for (const l of lines0.slice(1, -1)) assert.match(l, /^\S+\s+\d{4}-\d\d-\d\dT\S+Z\s+(ended)\s+\S+\s+\S+\s+\S+\s+(bot-disconnected|client-disconnected|error|busy|declined|no-answer|transferred|machine-detected)$/);

    c = capture();
    assert.equal(await main(['calls', '--config', cfg], c.io), 0);
    const cut = c.out().trim().split('\n');
    assert.equal(cut.length, 52, 'header, 50 calls, the note');
    assert.equal(cut.at(-1), '(the last 50 of 300 calls; --limit 300 lists them all)');
    assert.deepEqual(cut.slice(1, -1).map((l) => l.split(/\s+/)[0]), ids.slice(-50), 'the newest 50, oldest first');

    c = capture();
    assert.equal(await main(['calls', '--limit', '2', '--json', '--config', cfg], c.io), 0);
    const js = c.out().trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(js.map((r) => r.callId), ids.slice(-2));
    assert.deepEqual(Object.keys(js[0]), ['callId', 'started', 'state', 'caller', 'callee', 'bot', 'reasonCode']);
    assert.match(c.err(), /the last 2 of 300 calls/);

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
    for (const code of ['bot-disconnected', 'client-disconnected', 'error', 'busy', 'declined', 'no-answer', 'transferred', 'machine-detected']) assert.ok(codes.has(code), code);

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

  it('simulate twice with the same seed: no call id collides, both runs finish', async () => {
    const own = join(dir, 'twice.db');
    for (let run = 1; run <= 2; run++) {
      const c = capture();
      assert.equal(await main(['simulate', '--calls', '40', '--seed', '1', '--store', own, '--config', cfg], c.io), 0, c.err());
    }
    const c = capture();
    assert.equal(await main(['replay', '--verify', '--all', '--config', cfg, '--store', own], c.io), 0, c.out());
    assert.match(c.out(), /verify: 80 calls, 0 with differences/);
    const db = new Database(own, { readonly: true });
    const calls = (db.prepare(`SELECT count(*) AS n FROM events WHERE type = 'CallOffered'`).get() as { n: number }).n;
    const ended = (db.prepare(`SELECT count(*) AS n FROM events WHERE type = 'CallEnded'`).get() as { n: number }).n;
    db.close();
    assert.equal(calls, 80);
    assert.equal(ended, 80);
  });

  it('simulate refuses a store a live node holds (VOX_STORE_IN_USE), and writes to --store FILE instead', async () => {
    const holding = holdStore(join(dir, 'data', 'calls.db'), 'node-under-test');
    try {
      let c = capture();
      assert.equal(await main(['simulate', '--calls', '5', '--config', cfg], c.io), 1);
      assert.match(c.err(), /VOX_STORE_IN_USE: .*calls\.db is held by a running node: node-under-test \(pid \d+/);
      c = capture();
      assert.equal(await main(['simulate', '--calls', '5', '--store', join(dir, 'elsewhere.db'), '--config', cfg], c.io), 0, c.err());
    } finally {
      holding.release();
    }
  });

  it('store.path under a file or under /proc is a VOX_CONFIG_INVALID naming store.path, at once', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    for (const path of [join(file, 'data', 'x.db'), '/proc/voxledger-test/x.db']) {
      const bad = join(dir, 'bad-store.json');
      writeFileSync(bad, JSON.stringify({ store: { path } }));
      const c = capture();
      const t0 = Date.now();
      assert.equal(await main(['calls', '--config', bad], c.io), 2, c.err());
      assert.match(c.err(), /^voxledger: VOX_CONFIG_INVALID: store\.path "/);
      assert.doesNotMatch(c.err(), /\n\s+at /, 'no stack');
      assert.ok(Date.now() - t0 < 5_000);
    }
  });

  it('a bad bot key is refused by every command (not only start); a missing projection module is VOX_PROJECTION_NOT_FOUND', async () => {
    const bad = join(dir, 'bad-bot.json');
    writeFileSync(bad, JSON.stringify({ store: { kind: 'memory' }, bots: [{ id: 'ac', provider: 'ac-bot-api', botUrl: 'https://bot.example.com', tokn: 'typo' }] }));
    let c = capture();
    assert.equal(await main(['calls', '--config', bad], c.io), 2);
    assert.match(c.err(), /VOX_CONFIG_INVALID: .*bots\[0\]\.tokn is not a ac-bot-api setting/);
    c = capture();
    assert.equal(await main(['project', join(dir, 'no-such-projection.ts'), '--config', cfg], c.io), 1);
    assert.match(c.err(), /^voxledger: VOX_PROJECTION_NOT_FOUND: projection module .*no-such-projection\.ts does not exist\n$/);
  });
});
