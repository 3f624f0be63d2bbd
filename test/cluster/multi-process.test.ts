import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '../../src/store/sqlite-store.ts';
import { NodeProcess, waitAny } from './support/node-processes.ts';

const HANGUP = { hangupReason: 'agent "transfer" done', hangupSipHeaders: [{ name: 'X-Case-Id', value: 'C-42' }, { name: 'X-Queue', value: 'billing' }, { name: 'Contact', value: '<sip:evil>' }] };
const REASON = 'Q.850;cause=16;text="agent \\"transfer\\" done"';
const LEASE_MS = 1500;
const DELAY_MS = 3000;

describe('cluster of real node processes sharing one SQLite file (shared SIP server played by the test)', () => {
  it('kill -9 of the owner between the bot hangup and its deadline: another process sends the BYE on time, once; the bot is told once; one CallEnded', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'voxledger-cluster-'));
    const dbPath = join(dir, 'cluster.db');
    await new SqliteEventStore({ path: dbPath }).close(); // create the schema once, before the nodes race to
    const nodes: NodeProcess[] = [];
    t.after(async () => {
      await Promise.allSettled(nodes.map((n) => n.stop(3000)));
      rmSync(dir, { recursive: true, force: true });
    });
    const cfg = (nodeId: string) => ({ nodeId, dbPath, leaseMs: LEASE_MS, script: [{ afterMs: 300, hangup: HANGUP }], defaults: { delayBotDisconnectMs: DELAY_MS } });
    const a = new NodeProcess(cfg('a'));
    nodes.push(a);
    await a.waitFor((r) => r.ev === 'ready', 20_000);
    const b = new NodeProcess(cfg('b'));
    const c = new NodeProcess(cfg('c'));
    nodes.push(b, c);
    await Promise.all([b.waitFor((r) => r.ev === 'ready', 20_000), c.waitFor((r) => r.ev === 'ready', 20_000)]);
    assert.ok(a.reports.some((r) => r.ev === 'leader'), 'the first node leads (so its death also moves the notifier)');

    const callId = `mp-${Date.now()}`;
    a.send({ cmd: 'offer', callId, to: '1000' });
    await a.waitFor((r) => r.ev === 'answer' && r.callId === callId, 5000);
    a.send({ cmd: 'stt-started', callId });
    const requested = await waitAny(nodes, (r) => r.ev === 'hangup-requested' && r.callId === callId, 5000);
    const deadline = requested.deadline as number;
    a.kill9();
    const killedAt = Date.now();
    await a.exited;

    const took = await waitAny([b, c], (r) => r.ev === 'took-over' && r.callId === callId, LEASE_MS * 4);
    const bye = await waitAny([b, c], (r) => r.ev === 'bye' && r.callId === callId, DELAY_MS + 5000);
    const notice = await waitAny([b, c], (r) => r.ev === 'notice', 10_000);
    await new Promise((r) => setTimeout(r, 1000)); // anything duplicated would show by now

    const byes = nodes.flatMap((n) => n.reports.filter((r) => r.ev === 'bye' && r.callId === callId));
    assert.equal(byes.length, 1, 'exactly one BYE in the cluster');
    assert.equal(bye.nodeId, took.nodeId, 'sent by the node that took the call over');
    assert.equal(bye.reasonHeader, REASON);
    assert.deepEqual(bye.headers, [{ name: 'X-Case-Id', value: 'C-42' }, { name: 'X-Queue', value: 'billing' }]);
    const lateness = bye.at - deadline;
    assert.ok(lateness >= -5 && lateness <= 1000, `BYE ${lateness} ms after its deadline`);
    const notices = nodes.flatMap((n) => n.reports.filter((r) => r.ev === 'notice'));
    assert.equal(notices.length, 1, 'the bot is told once');
    assert.deepEqual(notice.notice, { reasonCode: 'bot-disconnected', reason: 'agent "transfer" done' });

    await Promise.all([b.stop(), c.stop()]);
    const store = new SqliteEventStore({ path: dbPath });
    try {
      const types = (await store.readStream(`call-${callId}`)).map((e) => e.type);
      assert.equal(types.filter((x) => x === 'CallEnded').length, 1);
      assert.equal(types.at(-1), 'CallEnded');
      assert.equal(types.filter((x) => x === 'ByeSent').length, 1);
      const owner = (await store.readStream(`owner-${callId}`)).map((e) => [e.type, (e.data as { nodeId: string }).nodeId]);
      assert.deepEqual(owner, [['CallClaimed', 'a'], ['CallClaimed', took.nodeId], ['CallReleased', took.nodeId]]);
      const delivered = (await store.readStream(`notify-${callId}`)).filter((e) => (e.data as { outcome: string }).outcome === 'delivered');
      assert.equal(delivered.length, 1);
    } finally {
      await store.close();
    }
    console.log(`# multi-process takeover: claimed ${took.at - killedAt} ms after kill -9 (lease ${LEASE_MS} ms); BYE ${lateness} ms after its deadline; bot told ${notice.at - killedAt} ms after the kill`);
  });
});
