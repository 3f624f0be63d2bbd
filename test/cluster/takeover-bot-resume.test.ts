import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeCluster } from './support/cluster-harness.ts';
import { ScriptedBotConnector } from '../../src/bots/scripted/scripted-connector.ts';
import type { SimulatedClock } from '../../src/domain/clock.ts';

/** A scripted bot whose dialect cannot re-attach a conversation on another node (no `resume`). */
class ScriptedWithoutResume extends ScriptedBotConnector {
  constructor(clock: SimulatedClock) {
    super({ script: [{ afterMs: 20_000, hangup: { hangupReason: 'never heard' } }] }, clock);
    Object.defineProperty(this, 'resume', { value: undefined });
  }
}

describe('cluster takeover of an answered call with no hangup pending: the bot is re-attached or the call ended (SimulatedClock, shared SIP server double)', () => {
  it('scripted bot with resume: the survivor passes the caller\'s words to the bot, and the bot\'s later hangup leaves with its reason, once', async () => {
    const c = await makeCluster(['a', 'b'], { script: [{ afterMs: 8000, hangup: { hangupReason: 'done after "takeover"' } }] });
    const a = c.node('a');
    const b = c.node('b');
    const callId = c.sip.offer('a');
    await c.settle();
    await c.advance(300);
    assert.ok((await c.types(callId)).includes('BotConversationStarted'), 'bot conversation started on a');
    await a.crash();
    await c.advanceUntil(() => b.notices.some((n) => n.kind === 'took-over'), 10_000, 5);
    await c.settle();
    assert.equal(c.sip.byes.length, 0, 'the call stays up after the takeover');
    assert.ok(!(await c.types(callId)).includes('CallErrored'));

    b.runtime.sttFinal(callId, 'still there?');
    await c.settle();
    assert.deepEqual(c.bot.heard.get(`scripted-${callId}`), ['still there?'], 'the caller\'s words reach the bot from the survivor');

    await c.advanceUntil(() => c.sip.byes.length > 0, 10_000, 10);
    assert.equal(c.sip.byes.length, 1);
    const bye = c.sip.byes[0]!;
    assert.equal(bye.nodeId, 'b');
    assert.equal(bye.reasonHeader, 'Q.850;cause=16;text="done after \\"takeover\\""');
    await c.advance(2000, 50);
    assert.equal(c.sip.byes.length, 1, 'exactly one BYE');
    const types = await c.types(callId);
    assert.equal(types.filter((t) => t === 'CallEnded').length, 1);
    assert.equal(types.filter((t) => t === 'BotHangupRequested').length, 1, 'the hangup recorded once');
    assert.deepEqual(c.bot.notices.get(`scripted-${callId}`), [{ reasonCode: 'bot-disconnected', reason: 'done after "takeover"' }], 'bot told once');
    await c.close();
  });

  it('a connector without resume: the survivor ends the call at once with cause=41 "bot unavailable", one CallEnded, the bot told once', async () => {
    const c = await makeCluster(['a', 'b'], { bot: (clock) => new ScriptedWithoutResume(clock) });
    const a = c.node('a');
    const b = c.node('b');
    const callId = c.sip.offer('a');
    await c.settle();
    await c.advance(300);
    assert.ok((await c.types(callId)).includes('BotConversationStarted'));
    await a.crash();
    await c.advanceUntil(() => c.sip.byes.length > 0, 10_000, 5);
    const takeover = b.notices.find((n) => n.kind === 'took-over')!;
    assert.ok(takeover, 'b took the call over');
    assert.equal(c.sip.byes.length, 1);
    const bye = c.sip.byes[0]!;
    assert.equal(bye.nodeId, 'b');
    assert.ok(bye.at - takeover.at <= 5, `BYE at the takeover (${bye.at - takeover.at} ms after)`);
    assert.equal(bye.reasonHeader, 'Q.850;cause=41;text="bot unavailable"');
    await c.advance(2000, 50);
    assert.equal(c.sip.byes.length, 1, 'exactly one BYE');
    const ev = await c.events(callId);
    const errored = ev.filter((e) => e.type === 'CallErrored');
    assert.equal(errored.length, 1);
    assert.equal((errored[0]!.data as { code: string }).code, 'VOX_BOT_UNREACHABLE');
    assert.equal(ev.filter((e) => e.type === 'CallEnded').length, 1);
    assert.equal(ev.at(-1)!.type, 'CallEnded');
    const notices = c.bot.notices.get(`scripted-${callId}`);
    assert.equal(notices?.length, 1, 'bot told once');
    assert.equal(notices[0]!.reasonCode, 'error');
    await c.close();
  });
});
