import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from '../../src/domain/clock.ts';
import { createLogger } from '../../src/log/logger.ts';
import { MemoryEventStore } from '../../src/store/memory-store.ts';
import type { EventData, RecordedEvent } from '../../src/store/port.ts';
import { ResilientStore, type UnrecordedReport } from '../../src/cluster/resilient-store.ts';
import { FlakyStore } from './support/flaky-store.ts';
import { makeCluster } from './support/cluster-harness.ts';

function ev(type = 'Thing', n = 0): EventData {
  return { id: crypto.randomUUID(), type, data: { n }, metadata: { callId: 'x', at: new Date(0).toISOString(), nodeId: 't', schemaVersion: 1 } };
}

function setup(opts: { retryBudgetMs?: number } = { retryBudgetMs: 250 }) {
  const clock = new SimulatedClock();
  const flaky = new FlakyStore();
  const logs: Array<Record<string, unknown>> = [];
  const unrecorded: UnrecordedReport[] = [];
  const log = createLogger({ level: 'debug', now: () => clock.now(), sink: (l) => logs.push(JSON.parse(l) as Record<string, unknown>) });
  const store = new ResilientStore(flaky, { clock, log, onUnrecorded: (r) => unrecorded.push(r), ...opts });
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  const advance = async (ms: number, step = 5) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(step);
      await settle();
    }
  };
  return { clock, flaky, store, logs, unrecorded, settle, advance };
}

describe('ResilientStore (against a flaky store double, SimulatedClock)', () => {
  it('retries a failed append with the same event ids; a landed append whose answer was lost is not written twice', async () => {
    const t = setup();
    t.flaky.loseAcks = 1;
    const events = [ev('A'), ev('B')];
    const p = t.store.append('call-1', events, { expectedRevision: 'no_stream' });
    await t.advance(100);
    const r = await p;
    assert.equal(r.nextExpectedRevision, 1);
    const stored = await t.flaky.inner.readStream('call-1');
    assert.deepEqual(stored.map((e) => e.id), events.map((e) => e.id), 'written once, same ids');
    assert.ok(t.flaky.attempts >= 2);
  });

  it('passes conflicts and other refusals through at once (no retry)', async () => {
    const t = setup();
    await t.store.append('s', [ev()], { expectedRevision: 'no_stream' });
    const before = t.flaky.attempts;
    await assert.rejects(t.store.append('s', [ev()], { expectedRevision: 'no_stream' }), { code: 'VOX_STORE_WRONG_EXPECTED_REVISION' });
    assert.equal(t.flaky.attempts, before + 1);
  });

  it('reads are retried within the budget, then fail with STORE_UNAVAILABLE', async () => {
    const t = setup({ retryBudgetMs: 200 });
    t.flaky.goDown();
    const p = t.store.readStream('s');
    p.catch(() => undefined);
    await t.advance(300);
    await assert.rejects(p, { code: 'VOX_STORE_UNAVAILABLE' });
    t.flaky.comeBack();
    await t.store.append('s', [ev()]);
    const q = t.store.readStream('s');
    await t.settle();
    assert.equal((await q).length, 1);
  });

  it('holds call appends while the store is down, acknowledges them, and writes them in order when it returns', async () => {
    const t = setup();
    await t.store.append('call-9', [ev('CallOffered')], { expectedRevision: 'no_stream' });
    t.flaky.goDown();
    const a = t.store.append('call-9', [ev('ByeSent')], { expectedRevision: 0 });
    await t.advance(300);
    assert.deepEqual(await a, { nextExpectedRevision: 1, position: -1 }, 'acknowledged after the retry budget');
    const b = await t.store.append('call-9', [ev('CallEnded')], { expectedRevision: 1 });
    assert.equal(b.nextExpectedRevision, 2, 'held at once behind the first');
    assert.equal(t.store.heldEvents, 2);
    assert.ok(t.logs.some((l) => l.level === 'error' && String(l.msg).includes('NOT YET DURABLE')));
    const other = t.store.append('notify-9', [ev()], { expectedRevision: 'any' });
    other.catch(() => undefined);
    await t.advance(300);
    await assert.rejects(other, { code: 'VOX_STORE_UNAVAILABLE' }, 'an `any` append on another stream is retried, never held');
    t.flaky.comeBack();
    await t.advance(3000, 50);
    assert.equal(t.store.heldEvents, 0);
    assert.deepEqual((await t.flaky.inner.readStream('call-9')).map((e) => e.type), ['CallOffered', 'ByeSent', 'CallEnded']);
    assert.equal(t.unrecorded.length, 0);
  });

  it('logs loudly what it could not record: another writer moved the stream while it was held', async () => {
    const t = setup();
    await t.store.append('call-7', [ev('CallOffered')], { expectedRevision: 'no_stream' });
    t.flaky.goDown();
    const held = ev('ByeSent');
    void t.store.append('call-7', [held], { expectedRevision: 0 });
    await t.advance(300);
    await t.store.append('call-7', [ev('CallEnded')], { expectedRevision: 1 });
    await t.flaky.inner.append('call-7', [ev('SomeoneElse')], { expectedRevision: 0 });
    t.flaky.comeBack();
    await t.advance(3000, 50);
    assert.equal(t.unrecorded.length, 1);
    assert.equal(t.unrecorded[0]!.code, 'VOX_STORE_WRONG_EXPECTED_REVISION');
    assert.deepEqual(t.unrecorded[0]!.events.map((e) => e.type), ['ByeSent', 'CallEnded']);
    const loud = t.logs.find((l) => l.level === 'error' && String(l.msg).startsWith('EVENTS NOT RECORDED'))!;
    assert.ok(loud);
    assert.deepEqual((loud.events as Array<{ id: string }>)[0]!.id, held.id, 'the log carries the events in full');
    assert.equal(t.store.heldEvents, 0);
  });

  it('closing while the store is still down reports every held event loudly', async () => {
    const t = setup();
    await t.store.append('call-3', [ev('CallOffered')], { expectedRevision: 'no_stream' });
    t.flaky.goDown();
    void t.store.append('call-3', [ev('ByeSent')], { expectedRevision: 0 });
    await t.advance(300);
    const closing = t.store.close();
    await t.advance(6000, 100);
    await closing;
    assert.deepEqual(t.unrecorded.map((u) => u.events.map((e) => e.type)), [['ByeSent']]);
    assert.ok(t.logs.some((l) => String(l.msg).startsWith('EVENTS NOT RECORDED')));
  });

  it('a subscription stopped by a store failure resumes after the last delivered event, with no gap and no repeat', async () => {
    const t = setup();
    const seen: RecordedEvent[] = [];
    const sub = t.store.subscribeToAll({}, (r) => void seen.push(r));
    await t.store.append('s', [ev('A', 1)]);
    await t.settle();
    t.flaky.goDown();
    await t.settle();
    await t.flaky.inner.append('s', [ev('B', 2)]);
    await t.advance(100);
    t.flaky.comeBack();
    await t.advance(3000, 50);
    await t.flaky.inner.append('s', [ev('C', 3)]);
    await t.advance(100);
    assert.deepEqual(seen.map((e) => e.type), ['A', 'B', 'C']);
    await sub.close();
    await sub.done;
  });

  it('non-call streams are never held (a claim or a heartbeat must be real)', async () => {
    const t = setup();
    t.flaky.goDown();
    const p = t.store.append('owner-1', [ev('CallClaimed')], { expectedRevision: 'no_stream' });
    p.catch(() => undefined);
    await t.advance(300);
    await assert.rejects(p, { code: 'VOX_STORE_UNAVAILABLE' });
    assert.equal(t.store.heldEvents, 0);
  });
});

describe('store lost mid-call, cluster mode (ResilientStore on each node, SimulatedClock)', () => {
  it('the store goes away between the bot hangup and its deadline: the BYE still leaves at the deadline, the ledger is completed when the store returns, nobody takes over', async () => {
    const flaky = new FlakyStore();
    const c = await makeCluster(['a', 'b'], {
      store: flaky,
      defaults: { delayBotDisconnectMs: 4000 },
      script: [{ afterMs: 100, hangup: { hangupReason: 'store test', hangupSipHeaders: [{ name: 'X-Id', value: '1' }] } }],
      wrapStore: (link, { clock, log }) => new ResilientStore(link, { clock, log }),
    });
    const a = c.node('a');
    const callId = c.sip.offer('a');
    await c.settle();
    a.runtime.sttStarted(callId);
    await c.advance(150);
    const deadline = Date.parse(((await c.events(callId)).find((e) => e.type === 'BotHangupRequested')!.data as { deadline: string }).deadline);
    flaky.goDown();
    await c.advanceUntil(() => c.sip.byes.length > 0, deadline - c.clock.now() + 500, 1);
    assert.equal(c.sip.byes.length, 1);
    assert.equal(c.sip.byes[0]!.at, deadline, 'BYE at the deadline while the store is down');
    assert.equal(c.sip.byes[0]!.nodeId, 'a');
    assert.equal(c.sip.byes[0]!.reasonHeader, 'Q.850;cause=16;text="store test"');
    assert.ok(a.logs.some((l) => l.level === 'error' && String(l.msg).includes('NOT YET DURABLE')), 'held events logged loudly');
    await c.advance(5000, 50);
    flaky.comeBack();
    await c.advance(6000, 50);
    const types = await c.types(callId);
    assert.deepEqual(types.slice(-2), ['ByeSent', 'CallEnded']);
    assert.equal(types.filter((t) => t === 'CallEnded').length, 1);
    assert.equal(c.sip.byes.length, 1, 'still one BYE: nobody took the call over');
    assert.ok(!c.node('b').notices.some((n) => n.kind === 'took-over'));
    assert.equal(c.bot.notices.get(`scripted-${callId}`)?.length, 1, 'the bot is told once the store is back');
    assert.equal(c.leaders().length, 1);
    const owner = await c.raw(`owner-${callId}`);
    assert.equal(owner.filter((e) => e.type === 'CallClaimed' && (e.data as { nodeId: string }).nodeId !== 'a').length, 0);
    await c.close();
  });
});

void MemoryEventStore;
