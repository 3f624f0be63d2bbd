/**
 * fast-check: the transfer's ordering rules under any interleaving of the bot (transfers to good
 * and hostile targets, hangups), the SIP side (REFER answers, NOTIFYs, the caller's BYE), speech
 * and time, through the real runtime (in-process signaling, simulated clock):
 * - exactly one CallEnded, last; never both transferred and bot-disconnected (one reasonCode);
 * - `transferred` only after a REFER went out and a 2xx NOTIFY came back, with terminatedBy bot;
 * - one transfer at a time: no TransferRequested while another awaits its outcome;
 * - every TransferRequested is followed by its ReferSent at once; REFERs on the wire = ReferSent;
 * - at most one BYE, never after the caller's; every TransferFailed told to the bot once;
 * - `replay --verify` finds no difference.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeHarness } from '../support/harness.ts';
import { verifyCall } from '../../src/audit/verify.ts';
import type { CallEvent } from '../../src/domain/events.ts';
import { fcParams } from './support/fc-params.ts';

type Step =
  | { kind: 'transfer'; target: string }
  | { kind: 'hangup'; delayMs: number }
  | { kind: 'referResponse'; status: number }
  | { kind: 'notify'; status: number }
  | { kind: 'peerBye' }
  | { kind: 'stt'; final: boolean }
  | { kind: 'wait'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('sip:agent@pbx', 'tel:+14155550123', 'sip:a@b\r\nVia: x', 'mailto:x@y').map((target) => ({ kind: 'transfer' as const, target })) },
  { weight: 1, arbitrary: fc.constantFrom(0, 500).map((delayMs) => ({ kind: 'hangup' as const, delayMs })) },
  { weight: 3, arbitrary: fc.constantFrom(202, 603, 405, 0).map((status) => ({ kind: 'referResponse' as const, status })) },
  { weight: 4, arbitrary: fc.constantFrom(100, 180, 200, 200, 486, 503).map((status) => ({ kind: 'notify' as const, status })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'peerBye' as const }) },
  { weight: 1, arbitrary: fc.boolean().map((final) => ({ kind: 'stt' as const, final })) },
  { weight: 3, arbitrary: fc.constantFrom(1, 50, 400, 1_100).map((ms) => ({ kind: 'wait' as const, ms })) },
);

describe('transfer ordering (fast-check, runtime with in-process signaling)', () => {
  it('one CallEnded, transferred only after a 2xx NOTIFY, one transfer at a time, the auditor agrees (400 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 12 }), async (steps) => {
        const h = await makeHarness({ transferTimeoutMs: 1_000, defaults: { delayBotDisconnectMs: 300 } });
        const callId = h.sip.peer.offer({ to: '1000' });
        await h.advance(20);
        let n = 0;
        for (const s of steps) {
          switch (s.kind) {
            case 'transfer':
              h.runtime.botActivities(callId, [{ id: `a${++n}`, type: 'event', name: 'transfer', activityParams: { transferTarget: s.target } }]);
              break;
            case 'hangup':
              h.runtime.botActivities(callId, [{ id: `a${++n}`, type: 'event', name: 'hangup', activityParams: { delayBotDisconnectMs: s.delayMs } }]);
              break;
            case 'referResponse':
              h.sip.peer.referResponse(callId, s.status);
              break;
            case 'notify':
              h.sip.peer.notify(callId, s.status);
              break;
            case 'peerBye':
              h.sip.peer.bye(callId);
              break;
            case 'stt':
              if (s.final) h.runtime.sttFinal(callId, 'words');
              else h.runtime.sttStarted(callId);
              break;
            case 'wait':
              await h.advance(s.ms, Math.min(s.ms, 50));
              break;
          }
          await h.settle();
        }
        // Let every deadline pass, then end the call if it is still up.
        await h.advance(2_000, 100);
        if (h.sip.peer.state(callId) === 'confirmed') h.sip.peer.bye(callId);
        await h.advance(100);

        const events = (await h.events(callId)) as CallEvent[];
        const types = events.map((e) => e.type);
        assert.equal(types.filter((t) => t === 'CallEnded').length, 1, 'exactly one CallEnded');
        assert.equal(types.at(-1), 'CallEnded', 'CallEnded last');
        const ended = events.at(-1) as Extract<CallEvent, { type: 'CallEnded' }>;
        if (ended.data.reasonCode === 'transferred') {
          assert.equal(ended.data.terminatedBy, 'bot');
          const lastRefer = types.lastIndexOf('ReferSent');
          assert.ok(lastRefer >= 0, 'a REFER went out');
          assert.ok(events.slice(lastRefer).some((e) => e.type === 'TransferProgressed' && e.data.source === 'notify' && e.data.sipStatus >= 200 && e.data.sipStatus < 300), 'a 2xx NOTIFY came back');
        }
        // One transfer at a time; each request followed at once by its REFER.
        let inFlight = false;
        events.forEach((e, i) => {
          if (e.type === 'TransferRequested') {
            assert.equal(inFlight, false, 'no second transfer while one awaits its outcome');
            assert.equal(events[i + 1]?.type, 'ReferSent', 'ReferSent right after TransferRequested');
            inFlight = true;
          } else if (e.type === 'TransferFailed') inFlight = false;
        });
        assert.equal(h.sip.refers.length, events.filter((e) => e.type === 'ReferSent' && e.data.error === undefined).length, 'the REFERs on the wire are the recorded ones');
        assert.ok(h.sip.byes.length <= 1, 'at most one BYE');
        const byeReceived = types.indexOf('ByeReceived');
        if (byeReceived >= 0) assert.ok(!types.slice(byeReceived).includes('ByeSent'), 'no BYE after the caller\'s');
        await h.settle();
        const told = h.bot.events.get(`scripted-${callId}`) ?? [];
        assert.equal(told.length, types.filter((t) => t === 'TransferFailed').length, 'every failed transfer told to the bot once');
        assert.deepEqual(verifyCall(events).differences, [], 'replay --verify agrees');
      }),
      fcParams(400),
    );
  });
});
