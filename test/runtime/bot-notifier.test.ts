import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness } from '../support/harness.ts';
import { BotNotifier } from '../../src/runtime/bot-notifier.ts';
import { BotDirectory } from '../../src/bots/directory.ts';
import { silentLogger } from '../../src/log/logger.ts';
import { ConversationStartError } from '../../src/bots/port.ts';
import { ErrorCodes, VoxError } from '../../src/domain/errors.ts';

describe('bot notifier (end-of-call notice; simulated clock, memory store)', () => {
  it('a notifier started after calls ended (catch-up) tells each bot once; a restart from its checkpoint tells nobody twice', async () => {
    const h = await makeHarness({ script: [{ afterMs: 10, hangup: { hangupReason: 'done' } }] });
    await h.notifier.close(); // no live notifier: the calls end unnoticed
    const ids = [h.sip.peer.offer({ to: '1' }), h.sip.peer.offer({ to: '1' }), h.sip.peer.offer({ to: '1' })];
    await h.advance(100);
    for (const id of ids) assert.equal((await h.types(id)).at(-1), 'CallEnded');
    assert.equal(h.bot.notices.size, 0);

    const bots = new BotDirectory([{ id: 'demo', provider: 'scripted', connector: h.bot, defaults: {} }]);
    const late = new BotNotifier({ store: h.store, bots, clock: h.clock, log: silentLogger, nodeId: 'n2' });
    await late.start();
    await late.drain();
    for (const id of ids) assert.deepEqual(h.bot.notices.get(`scripted-${id}`), [{ reasonCode: 'bot-disconnected', reason: 'done' }]);
    await late.close();

    const again = new BotNotifier({ store: h.store, bots, clock: h.clock, log: silentLogger, nodeId: 'n3' });
    await again.start();
    await again.drain();
    await again.close();
    for (const id of ids) assert.equal(h.bot.notices.get(`scripted-${id}`)?.length, 1, 'not told twice');
  });

  it('a bot whose conversation never started is recorded as skipped', async () => {
    const h = await makeHarness({ failStart: true });
    const id = h.sip.peer.offer({ to: '1' });
    await h.advance(50);
    await h.notifier.drain();
    const n = await h.store.readStream(`notify-${id}`);
    assert.deepEqual(n.map((e) => (e.data as { outcome: string }).outcome), ['skipped']);
  });

  it('a bot whose conversation was created before its start failed is told how the call ended (the ref rides on BotStartFailed)', async () => {
    const h = await makeHarness({ script: [] });
    h.bot.start = async (call) => {
      throw new ConversationStartError(new VoxError(ErrorCodes.BOT_PROTOCOL, 'send start event: http://127.0.0.1:9/x answered something that is not JSON'), `scripted-${call.callId}`, { conversationId: `scripted-${call.callId}` });
    };
    const id = h.sip.peer.offer({ to: '1' });
    await h.advance(50);
    await h.notifier.drain();
    const ev = await h.events(id);
    assert.deepEqual(ev.map((e) => e.type), ['CallOffered', 'CallAnswered', 'BotStartFailed', 'ByeSent', 'CallEnded']);
    assert.deepEqual((ev[2]!.data as { ref?: unknown }).ref, { conversationId: `scripted-${id}` }, 'the created conversation is recorded with the failure');
    assert.equal(h.sip.byes[0]!.reasonHeader, 'Q.850;cause=41;text="bot unavailable"', 'no URL on the wire');
    const told = h.bot.notices.get(`scripted-${id}`) ?? [];
    assert.equal(told.length, 1, 'told once');
    assert.equal(told[0]!.reasonCode, 'error');
    const n = await h.store.readStream(`notify-${id}`);
    assert.deepEqual(n.map((e) => (e.data as { outcome: string }).outcome), ['delivered']);
  });

  it('a bot whose conversation started and then failed is told the call ended in error', async () => {
    const h = await makeHarness({ script: [] });
    const start = h.bot.start.bind(h.bot);
    let fail!: (e: { code: string; message: string }) => void;
    h.bot.start = async (call, sink) => {
      fail = sink.failed;
      return start(call, sink);
    };
    const id = h.sip.peer.offer({ to: '1' });
    await h.advance(50);
    fail({ code: ErrorCodes.BOT_UNREACHABLE, message: 'refresh: http://127.0.0.1:9/r refused' });
    await h.advance(50);
    await h.notifier.drain();
    assert.deepEqual(await h.types(id), ['CallOffered', 'CallAnswered', 'BotConversationStarted', 'CallErrored', 'ByeSent', 'CallEnded']);
    assert.equal(h.sip.byes[0]!.reasonHeader, 'Q.850;cause=41;text="bot unavailable"');
    assert.deepEqual(h.bot.notices.get(`scripted-${id}`)?.map((x) => x.reasonCode), ['error']);
  });

  it('gives up after the configured attempts, each recorded', async () => {
    const h = await makeHarness({ failNotices: 99, script: [{ afterMs: 10, hangup: {} }] });
    const id = h.sip.peer.offer({ to: '1' });
    await h.advance(5_000, 50);
    await h.notifier.drain();
    const n = await h.store.readStream(`notify-${id}`);
    assert.equal(n.length, 5);
    assert.ok(n.every((e) => (e.data as { outcome: string }).outcome === 'failed'));
    assert.deepEqual(n.map((e) => (e.data as { attempt: number }).attempt), [1, 2, 3, 4, 5]);
  });
});
