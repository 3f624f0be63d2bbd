import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeHarness } from '../support/harness.ts';
import { verifyCall } from '../../src/audit/verify.ts';
import { decideAll, fold } from '../../machines/decide.ts';
import type { CallEvent } from '../../src/domain/events.ts';

describe('call runtime lifecycle (in-process signaling, scripted bot, simulated clock)', () => {
  it('bot hangup: BYE with Reason and headers, CallEnded bot-disconnected last, bot told once', async () => {
    const h = await makeHarness({
      script: [
        { afterMs: 100, sessionParams: { botOperationResult: 'failure' } },
        { afterMs: 200, sessionParams: { botOperationResult: 'success', botOperationData: { feedback: 'ok' } } },
        { afterMs: 300, hangup: { hangupReason: 'completed "successfully"', hangupSipHeaders: [{ name: 'X-My-Header', value: 'my_value' }, { name: 'Via', value: 'evil' }] } },
      ],
    });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.settle();
    await h.advance(400);
    const types = await h.types(callId);
    assert.deepEqual(types, [
      'CallOffered', 'CallAnswered', 'BotConversationStarted', 'SessionParamsUpdated', 'SessionParamsUpdated',
      'BotInputRejected', 'BotHangupRequested', 'ByeSent', 'CallEnded',
    ]);
    assert.equal(h.sip.byes.length, 1);
    assert.equal(h.sip.byes[0]!.reasonHeader, 'Q.850;cause=16;text="completed \\"successfully\\""');
    assert.deepEqual(h.sip.byes[0]!.headers, [{ name: 'X-My-Header', value: 'my_value' }]);
    const ended = (await h.events(callId)).at(-1)!;
    assert.equal(ended.type, 'CallEnded');
    assert.equal((ended.data as { reasonCode: string }).reasonCode, 'bot-disconnected');
    assert.equal((ended.data as { reason: string }).reason, 'completed "successfully"');
    await h.settle();
    assert.deepEqual(h.bot.notices.get(`scripted-${callId}`), [{ reasonCode: 'bot-disconnected', reason: 'completed "successfully"' }]);
  });

  it('the bot\'s hangup request is in the store before its BYE goes on the wire (a node killed in between finds it at restart and sends the same BYE)', async () => {
    const h = await makeHarness({ script: [{ afterMs: 100, hangup: { hangupReason: 'done' } }] });
    const send = h.sip.hangup.bind(h.sip);
    const storedAtBye: string[][] = [];
    h.sip.hangup = async (id, req) => {
      storedAtBye.push(await h.types(id));
      return send(id, req);
    };
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.settle();
    await h.advance(200);
    assert.deepEqual(storedAtBye, [['CallOffered', 'CallAnswered', 'BotConversationStarted', 'BotHangupRequested']]);
    assert.deepEqual((await h.types(callId)).slice(-3), ['BotHangupRequested', 'ByeSent', 'CallEnded']);
    assert.deepEqual(verifyCall((await h.events(callId)) as CallEvent[]).differences, []);
  });

  it('the caller\'s BYE landing after the hangup request was stored but before ours was sent: no BYE of ours, client-disconnected, the auditor agrees', async () => {
    const h = await makeHarness({ script: [{ afterMs: 100, hangup: { hangupReason: 'done' } }] });
    const send = h.sip.hangup.bind(h.sip);
    h.sip.hangup = async (id, req) => {
      h.sip.peer.bye(id); // the caller's BYE gets there first
      return send(id, req);
    };
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.settle();
    await h.advance(300);
    assert.equal(h.sip.byes.length, 0);
    const events = await h.events(callId);
    assert.deepEqual(events.map((e) => e.type).slice(-3), ['BotHangupRequested', 'ByeReceived', 'CallEnded']);
    assert.equal((events.at(-1)!.data as { reasonCode: string }).reasonCode, 'client-disconnected');
    assert.deepEqual(verifyCall(events as CallEvent[]).differences, []);
  });

  it('the auditor takes a decision recorded later than it fell due (a node that stopped in between) at its recorded time, and still catches one that differs', async () => {
    const h = await makeHarness({ script: [{ afterMs: 100, hangup: { hangupReason: 'done' } }] });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.settle();
    await h.advance(200);
    const events = (await h.events(callId)) as CallEvent[];
    const cut = events.findIndex((e) => e.type === 'BotHangupRequested') + 1;
    const before = events.slice(0, cut);
    // The node died after recording the hangup request; a restart decided the BYE 5 s later.
    const later = before.at(-1)!.at + 5000;
    const decided = decideAll(fold(before), later, callId).decisions.map((d) => ({ ...d, callId, at: later }) as CallEvent);
    assert.deepEqual(decided.map((e) => e.type), ['ByeSent', 'CallEnded']);
    assert.deepEqual(verifyCall([...before, ...decided]).differences, []);
    // The same decisions stamped late but carrying what was due at the request (its duration): caught.
    const stale = [...before, ...events.slice(cut).map((e) => ({ ...e, at: later }) as CallEvent)];
    const diffs = verifyCall(stale).differences;
    assert.deepEqual(diffs.map((d) => [d.kind, d.recorded?.type]), [['different', 'CallEnded']]);
  });

  it('end-of-call notice is retried with backoff, each attempt recorded, delivered once', async () => {
    const h = await makeHarness({ failNotices: 2, script: [{ afterMs: 10, hangup: { hangupReason: 'r' } }] });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(1000, 20);
    const notified = await h.store.readStream(`notify-${callId}`);
    assert.deepEqual(notified.map((e) => (e.data as { outcome: string }).outcome), ['failed', 'failed', 'delivered']);
    assert.equal(h.bot.notices.get(`scripted-${callId}`)?.length, 1);
    assert.equal((await h.events(callId)).at(-1)!.type, 'CallEnded', 'deliveries never land in the call stream');
  });

  it('caller hangup: no BYE from us, client-disconnected', async () => {
    const h = await makeHarness({ script: [{ afterMs: 5000, hangup: {} }] });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(100);
    h.sip.peer.bye(callId);
    await h.advance(6000, 500);
    assert.equal(h.sip.byes.length, 0);
    const ev = await h.events(callId);
    assert.equal(ev.at(-1)!.type, 'CallEnded');
    assert.equal((ev.at(-1)!.data as { reasonCode: string }).reasonCode, 'client-disconnected');
    assert.deepEqual(h.bot.notices.get(`scripted-${callId}`), [{ reasonCode: 'client-disconnected', reason: 'Client Side' }]);
  });

  it('STT delay: BYE waits for the final result, but no longer than delayBotDisconnectMs', async () => {
    const h = await makeHarness({ defaults: { delayBotDisconnectMs: 2000 }, script: [{ afterMs: 100, hangup: { hangupReason: 'bye' } }] });
    const a = h.sip.peer.offer({ to: '1000' });
    await h.settle();
    h.runtime.sttStarted(a);
    await h.advance(600);
    assert.equal(h.sip.byes.length, 0, 'waits for the STT final');
    h.runtime.sttFinal(a, 'one more thing');
    await h.settle();
    assert.equal(h.sip.byes.length, 1);
    const bye = (await h.events(a)).find((e) => e.type === 'ByeSent')!;
    assert.equal((bye.data as { trigger: string }).trigger, 'stt-final');
    assert.deepEqual(h.bot.heard.get(`scripted-${a}`), ['one more thing']);

    const b = h.sip.peer.offer({ to: '1000' });
    await h.settle();
    h.runtime.sttStarted(b);
    await h.advance(2099, 1);
    assert.equal(h.sip.byes.length, 1, 'not before the deadline');
    await h.advance(2, 1);
    assert.equal(h.sip.byes.length, 2, 'at the deadline');
    const bye2 = (await h.events(b)).find((e) => e.type === 'ByeSent')!;
    assert.equal((bye2.data as { trigger: string; sttWaitMs: number }).trigger, 'deadline');
    assert.equal((bye2.data as { sttWaitMs: number }).sttWaitMs, 2000);
  });

  it('bot unreachable at start: BYE with an error reason, CallEnded error', async () => {
    const h = await makeHarness({ failStart: true });
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(50);
    const ev = await h.events(callId);
    assert.deepEqual(ev.map((e) => e.type), ['CallOffered', 'CallAnswered', 'BotStartFailed', 'ByeSent', 'CallEnded']);
    assert.equal(h.sip.byes[0]!.reasonHeader, 'Q.850;cause=41;text="bot unavailable"', 'generic text on the wire');
    assert.equal((ev.at(-1)!.data as { reasonCode: string }).reasonCode, 'error');
  });

  it('outbound: busy, declined, no-answer by status, and ring timeout → CANCEL → no-answer', async () => {
    const h = await makeHarness();
    const outcome: Record<string, number | 'ring'> = {};
    h.sip.onDial = (req) => {
      const o = outcome[req.target];
      if (typeof o === 'number') queueMicrotask(() => h.sip.peer.fail(req.callId, o));
    };
    const cases: Array<[string, number | 'ring', string]> = [
      ['sip:busy@x', 486, 'busy'], ['sip:decline@x', 603, 'declined'], ['sip:away@x', 480, 'no-answer'],
      ['sip:everywhere@x', 600, 'busy'], ['sip:odd@x', 404, 'error'], ['sip:ring@x', 'ring', 'no-answer'],
    ];
    const ids: string[] = [];
    for (const [to, o] of cases) {
      outcome[to] = o;
      ids.push(await h.runtime.placeCall({ botId: 'demo', to, ringTimeoutMs: 1000 }));
    }
    await h.advance(1500, 100);
    for (let i = 0; i < cases.length; i++) {
      const ev = await h.events(ids[i]!);
      const end = ev.at(-1)!;
      assert.equal(end.type, 'CallEnded', cases[i]![0]);
      assert.equal((end.data as { reasonCode: string }).reasonCode, cases[i]![2], cases[i]![0]);
    }
    assert.deepEqual(h.sip.cancels, [ids[5]]);
    assert.ok((await h.types(ids[5]!)).includes('RingTimeoutReached'));
  });

  it('unknown number is rejected with 404 and records nothing', async () => {
    const h = await makeHarness();
    const callId = h.sip.peer.offer({ to: 'nobody' });
    await h.settle();
    assert.deepEqual(h.sip.rejects, [{ callId, status: 404 }]);
    await assert.rejects(h.store.readStream(`call-${callId}`), { code: 'VOX_STORE_STREAM_NOT_FOUND' });
  });
});

describe('a bot conversation created after its call ended', () => {
  it('is still told how the call ended (once), though the stream ended without it', async () => {
    const h = await makeHarness({ script: [] });
    const start = h.bot.start.bind(h.bot);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.bot.start = async (call, sink) => {
      await gate; // the bot answers slowly
      return start(call, sink);
    };
    const callId = h.sip.peer.offer({ to: '1000' });
    await h.advance(50);
    h.sip.peer.bye(callId, 'Q.850;cause=16');
    await h.advance(50);
    assert.equal((await h.types(callId)).at(-1), 'CallEnded');
    release();
    for (let i = 0; i < 50 && !h.bot.notices.get(`scripted-${callId}`); i++) await new Promise((r) => setTimeout(r, 10));
    const told = h.bot.notices.get(`scripted-${callId}`) ?? [];
    assert.equal(told.length, 1, 'told once');
    assert.equal(told[0]!.reasonCode, 'client-disconnected');
    assert.ok(!(await h.types(callId)).includes('BotConversationStarted'));
  });
});
