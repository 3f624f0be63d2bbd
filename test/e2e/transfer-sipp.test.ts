/**
 * Blind transfer on the wire: real sipp callers ↔ a voxledger node (embedded SIP adapter on an
 * ephemeral loopback port, SQLite store, scripted bot that transfers, then hangs up later if it
 * still can). REFER accepted (202, NOTIFY 100 then 200 → our BYE, transferred), refused (603 →
 * the bot told, the call goes on), failed (202, NOTIFY 486), a peer that never sends NOTIFY
 * (deadline → failure), and a hostile target (no REFER at all, no injection).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.ts';
import { launchNode, type RunningNode } from '../../src/cli/start.ts';
import { fromRecorded, isCallEvent } from '../../src/store/envelope.ts';
import type { CallEvent, DomainEvent } from '../../src/domain/events.ts';
import type { ScriptedBotConnector } from '../../src/bots/scripted/scripted-connector.ts';
import { verifyCall } from '../../src/audit/verify.ts';
import { rebuild } from '../../projections/runner.ts';
import { cdrProjection } from '../../projections/cdr.ts';
import { headerValues, runSipp, sippAvailable, sippRequests } from '../sip/sipp.ts';
import { transferScenario } from './support/transfer-scenario.ts';

const dirs: string[] = [];
const TARGET = 'sip:agent@pbx.example.com';

async function node(transfer: Record<string, unknown>): Promise<RunningNode & { sipAddr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-transfer-'));
  dirs.push(dir);
  const n = await launchNode(
    parseConfig({
      store: { kind: 'sqlite', path: join(dir, 'calls.db') },
      sip: { host: '127.0.0.1', port: 0, t1Ms: 100 },
      http: { enabled: false },
      log: { level: 'error' },
      transferTimeoutMs: 1_000,
      bots: [{ id: 'demo', provider: 'scripted', script: [{ afterMs: 300, transfer }, { afterMs: 3_000, hangup: { hangupReason: 'after the transfer' } }] }],
    }),
  );
  const a = n.signaling.address()!;
  return Object.assign(n, { sipAddr: `${a.host}:${a.port}` });
}

function onlyCall(n: RunningNode): () => string | undefined {
  let id: string | undefined;
  n.runtime.onCallStarted((c) => (id ??= c));
  return () => id;
}

async function ended(n: RunningNode, callId: () => string | undefined, ms = 15_000): Promise<CallEvent[]> {
  const t0 = Date.now();
  for (;;) {
    const id = callId();
    if (id) {
      const events: DomainEvent[] = await n.store.readStream(`call-${id}`).then((r) => r.map(fromRecorded)).catch(() => []);
      if (events.at(-1)?.type === 'CallEnded') {
        const calls = events.filter(isCallEvent);
        assert.deepEqual(verifyCall(calls).differences, [], `replay --verify of ${id}`);
        return calls;
      }
    }
    if (Date.now() - t0 > ms) throw new Error(`call ${id ?? '?'} did not end within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const of = <T extends CallEvent['type']>(events: CallEvent[], type: T) => events.filter((e): e is Extract<CallEvent, { type: T }> => e.type === type);
const scripted = (n: RunningNode) => n.bots.get('demo')!.connector as ScriptedBotConnector;

describe('transfer on the wire (sipp ↔ voxledger, embedded adapter)', { skip: !sippAvailable() && 'sipp not installed (Debian package sip-tester): these tests need it' }, () => {
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  describe('a bot that transfers to a SIP URI with an X- header and Referred-By', () => {
    let n: RunningNode & { sipAddr: string };
    before(async () => {
      n = await node({ transferTarget: TARGET, transferSipHeaders: [{ name: 'X-Case', value: 'c-42' }], transferReferredByURL: 'sip:bot@voxledger.example', handoverReason: 'to a human' });
    });
    after(() => n.stop());

    it('REFER accepted: 202, NOTIFY 100 then 200 (each answered 200) → our BYE with Q.850 16, CallEnded transferred', async () => {
      const callId = onlyCall(n);
      const r = await runSipp({
        scenario: transferScenario({ refer: true, // sipp's XML reader decodes no character references: the angle brackets are matched with '.'.
        referToRe: '^ *.sip:agent@pbx[.]example[.]com. *$', xCaseRe: '^ *c-42 *$', notifies: ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK'] }),
        remote: n.sipAddr,
      });
      assert.equal(r.code, 0, r.diagnostics);
      const events = await ended(n, callId);
      const [refer] = sippRequests(r.messages, 'received', 'REFER');
      assert.deepEqual(headerValues(refer!, 'Referred-By'), ['<sip:bot@voxledger.example>']);
      assert.deepEqual(headerValues(refer!, 'Refer-To'), ['<sip:agent@pbx.example.com>']);
      assert.deepEqual(headerValues(refer!, 'X-Case'), ['c-42']);
      const [bye] = sippRequests(r.messages, 'received', 'BYE');
      assert.deepEqual(headerValues(bye!, 'Reason'), ['Q.850;cause=16;text="to a human"']);
      assert.deepEqual(of(events, 'TransferProgressed').map((e) => [e.data.source, e.data.sipStatus]), [['refer-response', 202], ['notify', 100], ['notify', 200]]);
      const end = events.at(-1) as Extract<CallEvent, { type: 'CallEnded' }>;
      assert.deepEqual([end.data.reasonCode, end.data.reason, end.data.terminatedBy], ['transferred', 'to a human', 'bot']);
      await n.notifier!.drain();
      assert.deepEqual(scripted(n).notices.get(`scripted-${callId()}`), [{ reasonCode: 'transferred', reason: 'to a human' }]);
      const { state } = await rebuild(n.store, cdrProjection);
      const cdr = state.get(callId()!)!;
      assert.deepEqual([cdr.transferTarget, cdr.transferOutcome, cdr.transferSipStatus, cdr.reasonCode], [TARGET, 'transferred', 200, 'transferred']);
    });

    it('REFER refused with 603: TransferFailed declined, the bot gets transferStatus, the call goes on until the bot hangs up', async () => {
      const callId = onlyCall(n);
      const r = await runSipp({ scenario: transferScenario({ refer: true, referStatus: '603 Decline' }), remote: n.sipAddr });
      assert.equal(r.code, 0, r.diagnostics);
      const events = await ended(n, callId);
      assert.deepEqual(of(events, 'TransferFailed').map((e) => e.data), [{ sipStatus: 603, reasonCode: 'declined', reason: 'Decline', cause: 'refer-failed' }]);
      assert.deepEqual(scripted(n).events.get(`scripted-${callId()}`), [{ name: 'transferStatus', value: { status: 'failed', reasonCode: 'declined', reason: 'Decline', sipStatus: 603 } }]);
      const end = events.at(-1) as Extract<CallEvent, { type: 'CallEnded' }>;
      assert.deepEqual([end.data.reasonCode, end.data.reason], ['bot-disconnected', 'after the transfer']);
      const [bye] = sippRequests(r.messages, 'received', 'BYE');
      assert.deepEqual(headerValues(bye!, 'Reason'), ['Q.850;cause=16;text="after the transfer"']);
    });

    it('REFER accepted, then NOTIFY 486: TransferFailed busy (notify-failure), the call goes on', async () => {
      const callId = onlyCall(n);
      const r = await runSipp({ scenario: transferScenario({ refer: true, notifies: ['SIP/2.0 100 Trying', 'SIP/2.0 486 Busy Here'] }), remote: n.sipAddr });
      assert.equal(r.code, 0, r.diagnostics);
      const events = await ended(n, callId);
      assert.deepEqual(of(events, 'TransferFailed').map((e) => e.data), [{ sipStatus: 486, reasonCode: 'busy', reason: 'Busy Here', cause: 'notify-failure' }]);
      assert.equal((events.at(-1) as Extract<CallEvent, { type: 'CallEnded' }>).data.reasonCode, 'bot-disconnected');
    });

    it('a peer that answers 202 and never sends NOTIFY: TransferFailed at the stored deadline (timeout), the call goes on', async () => {
      const callId = onlyCall(n);
      const r = await runSipp({ scenario: transferScenario({ refer: true }), remote: n.sipAddr });
      assert.equal(r.code, 0, r.diagnostics);
      const events = await ended(n, callId);
      const [failed] = of(events, 'TransferFailed');
      assert.deepEqual(failed?.data, { sipStatus: 0, reasonCode: 'no-answer', reason: 'Transfer timed out', cause: 'timeout' });
      const [req] = of(events, 'TransferRequested');
      assert.ok(failed!.at >= Date.parse(req!.data.deadline), 'not before its deadline');
      assert.equal((events.at(-1) as Extract<CallEvent, { type: 'CallEnded' }>).data.reasonCode, 'bot-disconnected');
    });
  });

  describe('a bot that asks for a transfer to a hostile target', () => {
    let n: RunningNode & { sipAddr: string };
    before(async () => {
      n = await node({ transferTarget: 'sip:agent@pbx>\r\nVia: SIP/2.0/UDP 6.6.6.6\r\nX-Injected: yes', transferSipHeaders: [{ name: 'X-Evil', value: 'a\r\nVia: b' }] });
    });
    after(() => n.stop());

    it('no REFER at all (sipp fails on any), the rejection recorded, the call goes on to the bot\'s hangup', async () => {
      const callId = onlyCall(n);
      const r = await runSipp({ scenario: transferScenario({ refer: false }), remote: n.sipAddr });
      assert.equal(r.code, 0, r.diagnostics);
      const events = await ended(n, callId);
      assert.deepEqual(of(events, 'BotInputRejected').map((e) => e.data.field), ['activityParams.transferTarget']);
      assert.equal(of(events, 'TransferRequested').length, 0);
      assert.equal(sippRequests(r.messages, 'received', 'REFER').length, 0);
      assert.ok(!r.messages!.some((m) => m.direction === 'received' && /6\.6\.6\.6|X-Injected/.test(m.text)), 'nothing of the target reached the wire');
    });
  });
});
