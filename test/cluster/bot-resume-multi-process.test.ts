/**
 * The bot re-attached across real node processes: two nodes share one SQLite file, each runs the
 * real Direct Line connector (WebSocket) against the Direct Line 3.0 test double served by this
 * process. Node a answers and starts the conversation and is killed with SIGKILL mid-call; b takes
 * the call over, reconnects to the conversation, and the caller's next words reach the bot from
 * b; the bot's hangup leaves b with its Reason and X- header; the bot is told once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '../../src/store/sqlite-store.ts';
import { fromRecorded } from '../../src/store/envelope.ts';
import { NodeProcess } from './support/node-processes.ts';
import { DL_SECRET, startDirectLineDouble, type ScriptedBot } from '../bots/fixtures/direct-line-double.ts';
import { SPEC_HANGUP_PARAMS } from '../bots/fixtures/bot-framework-sink.ts';

const LEASE_MS = 1500;

const bot: ScriptedBot = (a, say) => {
  if (a.type === 'event' && a.name === 'startConversation') say({ type: 'message', text: 'Welcome', channelData: { sessionParams: { botOperationResult: 'welcomed' } } });
  if (a.type === 'message') say({ type: 'event', name: 'hangup', channelData: SPEC_HANGUP_PARAMS });
};

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('bot re-attach across real node processes (one SQLite file, the Direct Line 3.0 test double)', () => {
  it('kill -9 of the node running the conversation: the survivor reconnects to it, the caller\'s words reach the bot, and the bot\'s hangup leaves with its Reason, once', { timeout: 60_000 }, async (t) => {
    const dl = await startDirectLineDouble({ bot });
    const dir = mkdtempSync(join(tmpdir(), 'voxledger-bot-resume-'));
    const dbPath = join(dir, 'cluster.db');
    await new SqliteEventStore({ path: dbPath }).close();
    const nodes: NodeProcess[] = [];
    t.after(async () => {
      await Promise.allSettled(nodes.map((n) => n.stop(3000)));
      await dl.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const cfg = (nodeId: string) => ({
      nodeId, dbPath, leaseMs: LEASE_MS, script: [], defaults: {},
      bot: { provider: 'direct-line', secret: DL_SECRET, directLineUrl: dl.url, receive: 'websocket' },
    });
    const a = new NodeProcess(cfg('a'));
    nodes.push(a);
    await a.waitFor((r) => r.ev === 'ready', 20_000);
    const b = new NodeProcess(cfg('b'));
    nodes.push(b);
    await b.waitFor((r) => r.ev === 'ready', 20_000);

    const callId = `br-${Date.now()}`;
    a.send({ cmd: 'offer', callId, to: '1000' });
    await a.waitFor((r) => r.ev === 'answer' && r.callId === callId, 5000);
    await until('the welcome', () => [...dl.conversations.values()].some((c) => c.activities.some((x) => x.type === 'message' && x.text === 'Welcome')), 10_000);
    const conv = [...dl.conversations.values()].find((c) => c.activities.some((x) => x.type === 'message' && x.text === 'Welcome'))!;
    await new Promise((r) => setTimeout(r, 300)); // the welcome's session parameter: recorded by a (or, had a died first, by b after its catch-up: once either way)
    a.kill9();
    const killedAt = Date.now();
    await a.exited;

    const took = await b.waitFor((r) => r.ev === 'took-over' && r.callId === callId, LEASE_MS * 4);
    await until('b reconnecting to the conversation', () => dl.requests.some((r) => r.method === 'GET' && r.path === `/v3/directline/conversations/${conv.id}`), 10_000);
    await until('b\'s stream', () => conv.sockets.size > 0, 10_000);
    b.send({ cmd: 'stt-final', callId, text: 'goodbye' });
    const bye = await b.waitFor((r) => r.ev === 'bye' && r.callId === callId, 10_000);
    assert.equal(bye.reasonHeader, 'Q.850;cause=16;text="completed successfully"');
    assert.deepEqual(bye.headers, [{ name: 'X-My-Header', value: 'my_value' }]);
    await until('the end-of-call notice', () => conv.activities.some((x) => x.type === 'endOfConversation'), 10_000);
    await new Promise((r) => setTimeout(r, 1000)); // anything duplicated would show by now

    assert.equal(b.reports.filter((r) => r.ev === 'bye' && r.callId === callId).length, 1, 'exactly one BYE');
    assert.equal(conv.activities.filter((x) => x.type === 'endOfConversation').length, 1, 'the bot told once');
    assert.equal(conv.activities.filter((x) => x.type === 'event' && x.name === 'startConversation').length, 1, 'no second start event');
    const said = conv.activities.filter((x) => x.type === 'message' && x.from.id !== 'scripted-bot').map((x) => x.text);
    assert.deepEqual(said, ['goodbye'], 'the caller\'s words, sent once, from b');
    const store = new SqliteEventStore({ path: dbPath });
    try {
      const events = (await store.readStream(`call-${callId}`)).map(fromRecorded);
      const types = events.map((e) => e.type);
      assert.equal(types.filter((x) => x === 'BotConversationStarted').length, 1);
      assert.equal(types.filter((x) => x === 'BotHangupRequested').length, 1);
      assert.equal(types.filter((x) => x === 'CallEnded').length, 1);
      assert.ok(!types.includes('CallErrored'));
      assert.equal(events.filter((e) => e.type === 'SessionParamsUpdated' && (e.data as { source: string }).source === 'bot').length, 1, 'the welcome applied once');
    } finally {
      await store.close();
    }
    console.log(`# bot re-attach across processes: claimed ${took.at - killedAt} ms after kill -9 (lease ${LEASE_MS} ms); BYE ${bye.at - killedAt} ms after the kill`);
  });
});
