/**
 * Call-status webhooks end to end: a real node (SQLite file, embedded SIP, sipp as the callee)
 * POSTs signed notifications to a real HTTP receiver on loopback. Statuses and their data, the
 * signature a receiver checks, retries recorded as events, receivers that fail, hang or are not
 * there (the call is never held up), per-bot URLs, and a restart that loses none and repeats none
 * that was acknowledged.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { httpNode, eventually, type HttpNode } from '../http/support.ts';
import { fillScenario, sippAvailable, startSipp } from '../sip/sipp.ts';
import { verifySignature } from '../../src/webhooks/signature.ts';
import { Receiver } from './receiver.ts';

const SECRET = 'test-webhook-secret-0123456789';
const quickBot = {
  id: 'quick', provider: 'scripted',
  script: [{ afterMs: 100, sessionParams: { botOperationResult: 'success', botOperationData: { order: 7 } } }, { afterMs: 300, hangup: { hangupReason: 'all done' } }],
};
const webhooks = (extra: Record<string, unknown> = {}) => ({ secret: SECRET, attempts: 3, backoffMs: 50, maxBackoffMs: 100, timeoutMs: 400, ...extra });

async function dial(n: HttpNode, scenario: string, body: Record<string, unknown>): Promise<{ callId: string; done: Promise<unknown> }> {
  const sipp = await startSipp({ scenario });
  await sipp.ready;
  const r = await n.api('/v1/calls', { method: 'POST', json: { to: `sip:callee@${sipp.localHost}:${sipp.localPort}`, ...body } });
  assert.equal(r.status, 202, await r.clone().text());
  const { callId } = (await r.json()) as { callId: string };
  return { callId, done: sipp.done };
}

async function attempts(n: HttpNode, callId: string): Promise<Array<{ status: string; attempt: number; outcome: string; httpStatus?: number; deliveryId: string }>> {
  const d = (await (await n.api(`/v1/calls/${callId}`)).json()) as { webhookDeliveries: Array<{ status: string; attempt: number; outcome: string; httpStatus?: number; deliveryId: string }> };
  return d.webhookDeliveries;
}

describe('call-status webhooks (real receiver, real node, sipp)', { skip: !sippAvailable() && 'sipp not installed (Debian package sip-tester)' }, () => {
  let rx: Receiver;
  let n: HttpNode;
  before(async () => {
    rx = await new Receiver().start();
    rx.on('/flaky', (_r, nth) => (nth <= 2 ? 500 : 200));
    rx.on('/slow', () => 'hang');
    rx.on('/bad', () => 400);
    n = await httpNode({ bots: [quickBot, { ...quickBot, id: 'perbot' }], webhooks: webhooks({ bots: { perbot: { url: `${rx.url}/perbot`, events: ['completed', 'failed'] } } }) });
  });
  after(async () => {
    await n.close();
    await rx.close();
  });

  it('answered outbound call: initiated, ringing, answered, completed, in order, signed, each keyed by its event id, with the bot\'s result', async () => {
    const { callId, done } = await dial(n, 'uas-answer.xml', { botId: 'quick', statusCallback: { url: `${rx.url}/ok?k=receiver-secret` } });
    await done;
    const got = await eventually(() => (rx.for('/ok?k=receiver-secret').filter((r) => r.json.callId === callId).length === 4 ? rx.for('/ok?k=receiver-secret').filter((r) => r.json.callId === callId) : undefined), 10_000, 'four webhooks');
    assert.deepEqual(got.map((r) => r.json.status), ['initiated', 'ringing', 'answered', 'completed']);
    assert.equal(got[1]!.json.sipStatus, 180);
    for (const r of got) {
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['idempotency-key'], r.json.id);
      assert.equal(r.headers['x-voxledger-event'], r.json.status);
      const sig = r.headers['x-voxledger-signature'] as string;
      assert.ok(verifySignature(SECRET, sig, r.body, Math.floor(Date.now() / 1000)), 'signature verifies');
      assert.ok(!verifySignature(SECRET, sig, r.body.replace('"callId"', '"callid"'), Math.floor(Date.now() / 1000)), 'a changed body does not verify');
      assert.ok(!verifySignature('another-secret-0123456789', sig, r.body, Math.floor(Date.now() / 1000)), 'another secret does not verify');
      assert.ok(!verifySignature(SECRET, sig, r.body, Math.floor(Date.now() / 1000) + 3600), 'an old signature is refused');
    }
    assert.equal(new Set(got.map((r) => r.json.id)).size, 4, 'one idempotency key per status');
    const completed = got[3]!.json;
    assert.equal(completed.reasonCode, 'bot-disconnected');
    assert.equal(completed.reason, 'all done');
    assert.equal(completed.terminatedBy, 'bot');
    assert.equal(completed.botOperationResult, 'success');
    assert.deepEqual(completed.botOperationData, { order: 7 });
    assert.equal(completed.direction, 'outbound');
    const events = await n.api(`/v1/calls/${callId}/events`).then((r) => r.json() as Promise<{ events: Array<{ id: string; type: string }> }>);
    assert.deepEqual(got.map((r) => r.json.id), ['CallOffered', 'CallRinging', 'CallAnswered', 'CallEnded'].map((t) => events.events.find((e) => e.type === t)!.id));
    const recorded = await eventually(async () => {
      const a = await attempts(n, callId);
      return a.length === 4 ? a : undefined;
    });
    assert.deepEqual(recorded.map((a) => [a.status, a.outcome, a.httpStatus]), [['initiated', 'delivered', 200], ['ringing', 'delivered', 200], ['answered', 'delivered', 200], ['completed', 'delivered', 200]]);
    assert.ok(recorded.every((a) => !JSON.stringify(a).includes('receiver-secret')), 'the query string is not recorded');
  });

  it('busy callee: failed with reasonCode busy and sipStatus 486; only the statuses asked for', async () => {
    const { callId, done } = await dial(n, fillScenario('uas-final.xml', { status: 486, reason: 'Busy Here' }), { botId: 'quick', statusCallback: { url: `${rx.url}/busy`, events: ['failed', 'completed'] } });
    await done;
    const got = await eventually(() => { const g = rx.for('/busy').filter((r) => r.json.callId === callId); return g.length ? g : undefined; });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(rx.for('/busy').filter((r) => r.json.callId === callId).map((r) => r.json.status), ['failed']);
    assert.equal(got[0]!.json.reasonCode, 'busy');
    assert.equal(got[0]!.json.sipStatus, 486);
  });

  it('a receiver answering 500 is retried with the same key until it takes it; every attempt is recorded', async () => {
    const { callId, done } = await dial(n, 'uas-answer.xml', { botId: 'quick', statusCallback: { url: `${rx.url}/flaky`, events: ['initiated'] } });
    await done;
    const got = await eventually(() => { const g = rx.for('/flaky').filter((r) => r.json.callId === callId); return g.length === 3 ? g : undefined; });
    assert.deepEqual(got.map((r) => r.headers['x-voxledger-attempt']), ['1', '2', '3']);
    assert.equal(new Set(got.map((r) => r.headers['idempotency-key'])).size, 1);
    const recorded = await eventually(async () => { const a = await attempts(n, callId); return a.length === 3 ? a : undefined; });
    assert.deepEqual(recorded.map((a) => [a.attempt, a.outcome, a.httpStatus]), [[1, 'failed', 500], [2, 'failed', 500], [3, 'delivered', 200]]);
  });

  it('hanging, refusing and absent receivers never hold up a call; a 400 is not retried; attempts run out as gave-up', async () => {
    const dead = 'http://127.0.0.1:9'; // discard port: nothing listens
    const calls = await Promise.all([
      dial(n, 'uas-answer.xml', { botId: 'quick', statusCallback: { url: `${rx.url}/slow` } }),
      dial(n, 'uas-answer.xml', { botId: 'quick', statusCallback: { url: `${dead}/down` } }),
      dial(n, 'uas-answer.xml', { botId: 'quick', statusCallback: { url: `${rx.url}/bad`, events: ['initiated'] } }),
    ]);
    const t0 = Date.now();
    await Promise.all(calls.map((c) => c.done));
    for (const c of calls) {
      const d = (await (await n.api(`/v1/calls/${c.callId}`)).json()) as { state: string; cdr: { reasonCode: string; durationMs: number } };
      assert.equal(d.state, 'ended');
      assert.equal(d.cdr.reasonCode, 'bot-disconnected');
      assert.ok(d.cdr.durationMs < 2_000, `call held ${d.cdr.durationMs} ms`);
    }
    assert.ok(Date.now() - t0 < 5_000);
    const slow = await eventually(async () => { const a = await attempts(n, calls[0]!.callId); return a.filter((x) => x.status === 'initiated').length === 3 ? a : undefined; }, 15_000, 'slow receiver attempts');
    assert.deepEqual(slow.filter((x) => x.status === 'initiated').map((x) => x.outcome), ['failed', 'failed', 'gave-up']);
    const down = await eventually(async () => { const a = await attempts(n, calls[1]!.callId); return a.filter((x) => x.status === 'completed').length === 3 ? a : undefined; }, 15_000, 'absent receiver attempts');
    assert.deepEqual(down.filter((x) => x.status === 'completed').map((x) => x.outcome), ['failed', 'failed', 'gave-up']);
    const bad = await eventually(async () => { const a = await attempts(n, calls[2]!.callId); return a.length ? a : undefined; });
    assert.deepEqual(bad.map((x) => [x.attempt, x.outcome, x.httpStatus]), [[1, 'gave-up', 400]]);
    await eventually(() => (n.webhooks!.backlog() === 0 ? true : undefined), 15_000, 'the backlog to drain');
  });

  it('per-bot URL from the config when the dial request names none', async () => {
    const { callId, done } = await dial(n, 'uas-answer.xml', { botId: 'perbot' });
    await done;
    const got = await eventually(() => { const g = rx.for('/perbot').filter((r) => r.json.callId === callId); return g.length ? g : undefined; });
    assert.deepEqual(got.map((r) => r.json.status), ['completed']);
  });
});

describe('call-status webhooks across a restart', { skip: !sippAvailable() && 'sipp not installed (Debian package sip-tester)' }, () => {
  it('a webhook still failing when the node stops is delivered after the restart; acknowledged ones are not sent again', async () => {
    const rx = await new Receiver().start();
    let accept = false;
    rx.on('/r', (r) => (r.json.status === 'completed' && !accept ? 503 : 200));
    const cfg = { bots: [quickBot], webhooks: webhooks({ attempts: 50, backoffMs: 100, maxBackoffMs: 200 }) };
    const a = await httpNode(cfg, { keepDir: true });
    const dir = a.dir;
    let b: HttpNode | undefined;
    try {
      const { callId, done } = await dial(a, 'uas-answer.xml', { botId: 'quick', statusCallback: { url: `${rx.url}/r` } });
      await done;
      await eventually(() => (rx.for('/r').filter((r) => r.json.status === 'completed').length >= 2 ? true : undefined), 10_000, 'completed refused twice');
      await a.close();
      const before = rx.received.length;
      accept = true;
      b = await httpNode(cfg, { dir });
      const completed = await eventually(() => { const g = rx.for('/r').filter((r) => r.json.status === 'completed' && r.headers['x-voxledger-attempt'] !== undefined && rx.received.indexOf(r) >= before); return g.length ? g : undefined; }, 10_000, 'completed after the restart');
      assert.equal(completed.length, 1);
      await b.webhooks!.drain();
      const byStatus = (s: string) => rx.for('/r').filter((r) => r.json.callId === callId && r.json.status === s);
      assert.equal(byStatus('initiated').length, 1, 'initiated acknowledged once, not repeated');
      assert.equal(byStatus('ringing').length, 1, 'ringing acknowledged once, not repeated');
      assert.equal(byStatus('answered').length, 1, 'answered acknowledged once, not repeated');
      assert.ok(Number(completed[0]!.headers['x-voxledger-attempt']) >= 3, 'the attempt count carries over');
      assert.equal(new Set(byStatus('completed').map((r) => r.headers['idempotency-key'])).size, 1);
      const recorded = await attempts(b, callId);
      assert.equal(recorded.filter((x) => x.outcome === 'delivered').length, 4);
    } finally {
      await b?.close();
      await rx.close();
    }
  });
});

describe('call-status webhooks enabled on a store with history', { skip: !sippAvailable() && 'sipp not installed (Debian package sip-tester)' }, () => {
  it('begin with the calls after the first start: no flood of old calls\' statuses', async () => {
    const rx = await new Receiver().start();
    const a = await httpNode({ bots: [quickBot] }, { keepDir: true });
    let b: HttpNode | undefined;
    try {
      const old = await dial(a, 'uas-answer.xml', { botId: 'quick' });
      await old.done;
      await eventually(async () => ((await (await a.api(`/v1/calls/${old.callId}`)).json()) as { state: string }).state === 'ended' || undefined);
      await a.close();
      // Same store, now with a per-bot URL: the old call is history.
      b = await httpNode({ bots: [quickBot], webhooks: webhooks({ bots: { quick: { url: `${rx.url}/hist` } } }) }, { dir: a.dir });
      const fresh = await dial(b, 'uas-answer.xml', { botId: 'quick' });
      await fresh.done;
      await eventually(() => (rx.for('/hist').some((r) => r.json.callId === fresh.callId && r.json.status === 'completed') ? true : undefined), 10_000, 'the new call\'s webhooks');
      await b.webhooks!.drain();
      assert.equal(rx.for('/hist').filter((r) => r.json.callId === old.callId).length, 0, 'nothing for the call before webhooks were enabled');
    } finally {
      await b?.close();
      await rx.close();
    }
  });
});
