/**
 * Graceful drain (issue 13, Build 2) on a real `voxledger start` process with a real sipp caller
 * and an AudioCodes Bot API bot (this test's HTTP bot) that never hangs up: SIGTERM refuses new
 * calls with 503 + Retry-After, waits `shutdown.drainMs`, then ends the live call with a recorded
 * reason (BYE `Q.850;cause=16;text="service shutting down"`, one CallEnded, the bot told once) and
 * exits 0. A second SIGINT cuts a long drain short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AC_TOKEN, defaultScript, startAcScriptedBot } from '../bots/fixtures/ac-bot-api-scripted-bot.ts';
import { freePort, headerValues, sippAvailable, sippRequests, startSipp } from '../sip/sipp.ts';
import { RawPeer, header, inviteFrom } from '../sip/helpers.ts';
import { startNodeCli } from './support/node-cli-process.ts';
import { CALLER_AWAITING_BYE } from './support/caller-scenario.ts';
import { sleep, until } from './support/until.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';

function rows(db: string): Array<{ stream: string; type: string; data: Record<string, unknown> }> {
  const d = new Database(db, { readonly: true });
  try {
    return (d.prepare('SELECT s.stream_id AS stream, e.type AS type, e.data AS data FROM events e JOIN streams s ON s.stream_key = e.stream_key ORDER BY e.position').all() as Array<{ stream: string; type: string; data: string }>).map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }));
  } finally {
    d.close();
  }
}

async function setup(drainMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-drain-'));
  const db = join(dir, 'calls.db');
  const script = defaultScript();
  const bot = await startAcScriptedBot({ ...script, activities: () => ({ activities: [] }) }); // a bot that never hangs up
  const sipPort = await freePort('127.0.0.1');
  const config = {
    nodeId: 'drain-node',
    log: { level: 'info' },
    store: { kind: 'sqlite', path: db },
    sip: { host: '127.0.0.1', port: sipPort, transport: 'udp' },
    bots: [{ id: 'ac', provider: 'ac-bot-api', botUrl: bot.url, token: AC_TOKEN }],
    routes: [{ match: '*', botId: 'ac' }],
    shutdown: { drainMs },
    admission: { retryAfterS: 11 },
    http: { enabled: false },
  };
  const node = await startNodeCli(dir, config);
  const sipp = await startSipp({ scenario: CALLER_AWAITING_BYE, remote: `127.0.0.1:${sipPort}`, timeoutMs: 60_000 });
  return { dir, db, bot, sipPort, node, sipp, cleanup: async () => {
    node.kill();
    sipp.kill();
    await bot.close();
    rmSync(dir, { recursive: true, force: true });
  } };
}

test('SIGTERM: new calls get 503 + Retry-After, the live call is ended after shutdown.drainMs with a recorded reason, the bot is told, exit 0', { skip, timeout: 120_000 }, async () => {
  const s = await setup(1500);
  try {
    await until(() => rows(s.db).some((r) => r.type === 'BotConversationStarted'), 15_000, 'the call to be up with its bot');
    const t0 = Date.now();
    s.node.signal('SIGTERM');
    await sleep(300);
    const peer = await RawPeer.open();
    await peer.send(inviteFrom(peer, s.sipPort, { callId: 'during-drain@test' }), s.sipPort);
    const [refused] = await peer.waitFor(/^SIP\/2\.0 503/);
    assert.equal(header(refused!, 'Retry-After'), '11');
    await peer.close();
    const exit = await s.node.exited;
    assert.equal(exit.code, 0, JSON.stringify(s.node.logs.slice(-5)));
    assert.ok(Date.now() - t0 >= 1400, 'waited the drain time first');
    const result = await s.sipp.done;
    const byes = sippRequests(result.messages, 'received', 'BYE');
    assert.equal(byes.length, 1, result.diagnostics);
    assert.equal(headerValues(byes[0]!, 'Reason')[0], 'Q.850;cause=16;text="service shutting down"');
    const r = rows(s.db);
    const ended = r.filter((x) => x.type === 'CallEnded');
    assert.equal(ended.length, 1, 'the refused INVITE left nothing in the store');
    assert.equal(ended[0]!.data.reasonCode, 'operator-disconnected');
    assert.ok(r.some((x) => x.type === 'OperatorHangupRequested' && x.data.reason === 'service shutting down'));
    assert.deepEqual(r.filter((x) => x.type === 'BotNotified').map((x) => x.data.outcome), ['delivered']);
    assert.equal(s.bot.requests.filter((x) => x.route === 'disconnect').length, 1, 'the bot told once');
    assert.ok(s.node.logs.some((l) => l.msg === 'new call refused with 503: node at its limit' && l.why === 'draining'));
  } finally {
    await s.cleanup();
  }
});

test('a second SIGINT ends the remaining calls at once (still recorded) instead of waiting out a long drain', { skip, timeout: 120_000 }, async () => {
  const s = await setup(600_000);
  try {
    await until(() => rows(s.db).some((r) => r.type === 'BotConversationStarted'), 15_000, 'the call to be up with its bot');
    s.node.signal('SIGINT');
    await sleep(500);
    const t0 = Date.now();
    s.node.signal('SIGINT');
    const exit = await s.node.exited;
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - t0 < 15_000, 'did not wait out the drain time');
    const result = await s.sipp.done;
    assert.equal(sippRequests(result.messages, 'received', 'BYE').length, 1, result.diagnostics);
    const r = rows(s.db);
    assert.equal(r.filter((x) => x.type === 'CallEnded').length, 1);
    assert.ok(s.node.logs.some((l) => l.msg === 'second signal: ending the remaining calls now'));
  } finally {
    await s.cleanup();
  }
});
