import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EsdbEventStore } from '../../src/store/esdb-store.ts';
import type { EventStore } from '../../src/store/port.ts';
import { EsdbGrpcDouble } from '../store-esdb/esdb-grpc-double.ts';
import { makeCluster } from './support/cluster-harness.ts';

const HANGUP = { hangupReason: 'esdb "takeover"', hangupSipHeaders: [{ name: 'X-Case', value: 'E-1' }] };

/** Lets gRPC round trips to the double finish between simulated clock steps. */
async function ioSettle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 2));
    for (let j = 0; j < 10; j++) await new Promise((r) => setImmediate(r));
  }
}

describe('cluster takeover over the esdb adapter (against the EventStoreDB gRPC double; SimulatedClock)', () => {
  it('owner dies between the bot hangup and its deadline: the survivor sends the BYE at the deadline, once; bot told once; one CallEnded', async (t) => {
    const server = await EsdbGrpcDouble.start();
    const stores: EventStore[] = [];
    const connect = async () => {
      const s = await EsdbEventStore.connect({ connectionString: server.connectionString });
      stores.push(s);
      return s;
    };
    const reader = await connect();
    t.after(async () => {
      await Promise.allSettled(stores.map((s) => s.close()));
      await server.stop();
    });
    const c = await makeCluster(['a', 'b'], {
      store: reader,
      nodeStore: () => connect(),
      settle: ioSettle,
      defaults: { delayBotDisconnectMs: 5000 },
      script: [{ afterMs: 100, hangup: HANGUP }],
    });
    const a = c.node('a');
    const b = c.node('b');
    assert.deepEqual(c.leaders(), ['a']);
    const callId = c.sip.offer('a');
    await c.settle();
    a.runtime.sttStarted(callId);
    await c.advanceUntil(() => false, 300, 20);
    const requested = (await c.events(callId)).find((e) => e.type === 'BotHangupRequested');
    assert.ok(requested);
    const deadline = Date.parse((requested.data as { deadline: string }).deadline);
    const lastHeartbeat = a.cluster.leaseEnd - 3000;
    await a.crash();
    await c.advanceUntil(() => b.notices.some((n) => n.kind === 'took-over'), 6000, 10);
    const took = b.notices.find((n) => n.kind === 'took-over')!;
    assert.ok(took.at - lastHeartbeat <= 3000 + 30, `taken over ${took.at - lastHeartbeat} ms after a's last heartbeat`);
    await c.advanceUntil(() => c.sip.byes.length > 0, deadline - c.clock.now() - 100, 50);
    assert.equal(c.sip.byes.length, 0, 'no BYE before the deadline');
    await c.advanceUntil(() => c.sip.byes.length > 0, deadline - c.clock.now() + 200, 2);
    assert.equal(c.sip.byes.length, 1);
    const bye = c.sip.byes[0]!;
    assert.equal(bye.nodeId, 'b');
    assert.ok(bye.at >= deadline && bye.at <= deadline + 10, `BYE ${bye.at - deadline} simulated ms after the deadline`);
    assert.equal(bye.reasonHeader, 'Q.850;cause=16;text="esdb \\"takeover\\""');
    assert.deepEqual(bye.headers, [{ name: 'X-Case', value: 'E-1' }]);
    await c.advanceUntil(() => (c.bot.notices.get(`scripted-${callId}`)?.length ?? 0) > 0, 3000, 20);
    await c.advanceUntil(() => false, 500, 50);
    assert.equal(c.sip.byes.length, 1);
    const types = await c.types(callId);
    assert.equal(types.filter((x) => x === 'CallEnded').length, 1);
    assert.equal(types.at(-1), 'CallEnded');
    assert.equal(c.bot.notices.get(`scripted-${callId}`)?.length, 1);
    assert.deepEqual(c.leaders(), ['b']);
    const owner = (await c.raw(`owner-${callId}`)).map((e) => [e.type, (e.data as { nodeId: string }).nodeId]);
    assert.deepEqual(owner, [['CallClaimed', 'a'], ['CallClaimed', 'b'], ['CallReleased', 'b']]);
    await c.close();
  });

  it('race over esdb: two survivors claim at once; the expected revision lets exactly one win', async (t) => {
    const server = await EsdbGrpcDouble.start();
    const stores: EventStore[] = [];
    const connect = async () => {
      const s = await EsdbEventStore.connect({ connectionString: server.connectionString });
      stores.push(s);
      return s;
    };
    const reader = await connect();
    t.after(async () => {
      await Promise.allSettled(stores.map((s) => s.close()));
      await server.stop();
    });
    const c = await makeCluster(['a', 'b', 'c'], { store: reader, nodeStore: () => connect(), settle: ioSettle, takeoverSpreadMs: 0, script: [] });
    const callId = c.sip.offer('a');
    await c.advanceUntil(() => false, 100, 20);
    await c.node('a').crash();
    await c.advanceUntil(() => ['b', 'c'].some((n) => c.node(n).runtime.liveCalls().includes(callId)), 6000, 20);
    await c.advanceUntil(() => false, 200, 20);
    const tries = ['b', 'c'].flatMap((n) => c.node(n).link.appends.filter((x) => x.streamId === `owner-${callId}` && x.types[0] === 'CallClaimed'));
    assert.equal(tries.length, 2);
    assert.deepEqual(tries.map((x) => x.outcome).sort(), ['VOX_STORE_WRONG_EXPECTED_REVISION', 'ok']);
    assert.equal(['b', 'c'].filter((n) => c.node(n).runtime.liveCalls().includes(callId)).length, 1);
    await c.close();
  });
});
