import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness } from '../support/harness.ts';
import { ConversationStartError } from '../../src/bots/port.ts';
import { ErrorCodes, VoxError } from '../../src/domain/errors.ts';

/** Inbound calls with `answer: 'after-bot'`: the bot conversation exists before the INVITE is answered. */
describe('bot first (answer after-bot; in-process signaling, scripted bot, simulated clock)', () => {
  it('the INVITE is answered once BotConversationStarted is recorded; a hangup the bot sent before answer applies to the answered call', async () => {
    const h = await makeHarness({ answer: 'after-bot', script: [{ afterMs: 0, hangup: { hangupReason: 'done' } }] });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(200);
    const types = await h.types(callId);
    assert.deepEqual(types.slice(0, 3), ['CallOffered', 'BotConversationStarted', 'CallAnswered']);
    assert.equal(((await h.events(callId))[0]!.data as { answer?: string }).answer, 'after-bot');
    assert.deepEqual(types.slice(3), ['BotHangupRequested', 'ByeSent', 'CallEnded']);
    assert.equal(h.sip.byes[0]!.reasonHeader, 'Q.850;cause=16;text="done"', 'the bot hangs up the answered call');
    assert.equal(h.sip.rejects.length, 0);
    await h.notifier.drain();
    assert.equal(h.bot.notices.get(`scripted-${callId}`)?.length, 1);
  });

  it('a bot that cannot start: the INVITE is refused 480 (no 200, no BYE), one CallEnded error with sipStatus 480', async () => {
    const h = await makeHarness({ answer: 'after-bot', failStart: true });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(50);
    const ev = await h.events(callId);
    assert.deepEqual(ev.map((e) => e.type), ['CallOffered', 'BotStartFailed', 'CallEnded']);
    assert.equal((ev[1]!.data as { sipStatus?: number }).sipStatus, 480);
    assert.deepEqual(h.sip.rejects, [{ callId, status: 480 }]);
    assert.equal(h.sip.byes.length, 0);
    const ended = ev.at(-1)!.data as { reasonCode: string; sipStatus?: number; durationMs: number };
    assert.deepEqual([ended.reasonCode, ended.sipStatus, ended.durationMs], ['error', 480, 0]);
  });

  it('the refusal status is configurable (503)', async () => {
    const h = await makeHarness({ answer: 'after-bot', failStart: true, botUnavailableStatus: 503 });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(50);
    assert.deepEqual(h.sip.rejects, [{ callId, status: 503 }]);
  });

  it('a conversation created before the start failed: the INVITE is refused and the bot is told (reasonCode error)', async () => {
    const h = await makeHarness({ answer: 'after-bot' });
    h.bot.start = async (call) => {
      throw new ConversationStartError(new VoxError(ErrorCodes.BOT_PROTOCOL, 'send start event: not JSON'), `scripted-${call.callId}`, { conversationId: `scripted-${call.callId}` });
    };
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(50);
    await h.notifier.drain();
    assert.deepEqual(await h.types(callId), ['CallOffered', 'BotStartFailed', 'CallEnded']);
    assert.deepEqual(h.sip.rejects, [{ callId, status: 480 }]);
    assert.deepEqual(h.bot.notices.get(`scripted-${callId}`)?.map((n) => n.reasonCode), ['error']);
  });

  it('the caller CANCELs while the bot is starting: ends cleanly, and the conversation created meanwhile is told once', async () => {
    const h = await makeHarness({ answer: 'after-bot', script: [] });
    const start = h.bot.start.bind(h.bot);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.bot.start = async (call, sink) => {
      await gate;
      return start(call, sink);
    };
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(50);
    h.sip.peer.cancel(callId);
    await h.advance(50);
    assert.deepEqual(await h.types(callId), ['CallOffered', 'CancelReceived', 'CallEnded']);
    release();
    for (let i = 0; i < 50 && !h.bot.notices.get(`scripted-${callId}`); i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(h.bot.notices.get(`scripted-${callId}`)?.map((n) => n.reasonCode), ['client-disconnected']);
    assert.equal(h.sip.byes.length, 0);
  });

  it('the caller CANCELs after the conversation exists, before answer: the bot is told by the notifier', async () => {
    const h = await makeHarness({ answer: 'after-bot', script: [] });
    const sip = h.sip as unknown as { answer(callId: string): Promise<void> };
    sip.answer = async () => undefined; // the answer never reaches the caller (a slow 200)
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(50);
    h.sip.peer.cancel(callId);
    await h.advance(50);
    await h.notifier.drain();
    assert.deepEqual(await h.types(callId), ['CallOffered', 'BotConversationStarted', 'CancelReceived', 'CallEnded']);
    assert.deepEqual(h.bot.notices.get(`scripted-${callId}`)?.map((n) => n.reasonCode), ['client-disconnected']);
  });

  it("'immediately' keeps the old order: answer first, then the bot", async () => {
    const h = await makeHarness({ answer: 'immediately', script: [{ afterMs: 10, hangup: {} }] });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(100);
    assert.deepEqual((await h.types(callId)).slice(0, 3), ['CallOffered', 'CallAnswered', 'BotConversationStarted']);
  });
});
