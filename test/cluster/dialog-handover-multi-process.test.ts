/**
 * The HA promise made real on the wire: real node processes, each with its own embedded SIP
 * adapter on its own ephemeral port on 127.0.0.1, sharing one SQLite file. sipp calls node A;
 * the scripted bot hangs up with delayBotDisconnectMs while speech recognition is in progress,
 * so the BYE waits for its deadline; A is killed with SIGKILL before the deadline. Another node
 * takes the call over, adopts the SIP dialog A recorded on CallAnswered, and at the deadline
 * puts the BYE — same Reason, same X- headers — on the original dialog from its own address;
 * sipp checks both with ereg and answers 200 OK to the new node's Via.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '../../src/store/sqlite-store.ts';
import { fromRecorded } from '../../src/runtime/envelope.ts';
import { ADOPTED_CSEQ_MARGIN } from '../../src/sip/embedded/dialog-state.ts';
import type { SipDialogState } from '../../src/sip/port.ts';
import { fillScenario, headerValues, sippAvailable, sippRequests, startSipp } from '../sip/sipp.ts';
import { NodeProcess, waitAny } from './support/node-processes.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';

const HANGUP = { hangupReason: 'agent "transfer" done', hangupSipHeaders: [{ name: 'X-Case-Id', value: 'C-42' }, { name: 'X-Queue', value: 'billing desk' }, { name: 'Contact', value: '<sip:evil>' }] };
const REASON = 'Q.850;cause=16;text="agent \\"transfer\\" done"';
const LEASE_MS = 1500;
const DELAY_MS = 3500;

describe('dialog handover across real node processes with real SIP (sipp ↔ embedded SIP adapters, one SQLite file)', () => {
  it('kill -9 of the node that answered, between the bot hangup and its deadline: another node adopts the dialog and puts the BYE on the wire on time, once, with the same Reason and X- headers', { skip, timeout: 60_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'voxledger-handover-'));
    const dbPath = join(dir, 'cluster.db');
    await new SqliteEventStore({ path: dbPath }).close(); // create the schema once, before the nodes race to
    const nodes: NodeProcess[] = [];
    let sippKill: (() => void) | undefined;
    t.after(async () => {
      sippKill?.();
      await Promise.allSettled(nodes.map((n) => n.stop(3000)));
      rmSync(dir, { recursive: true, force: true });
    });
    const cfg = (nodeId: string) => ({ nodeId, dbPath, leaseMs: LEASE_MS, sip: { t1Ms: 100 }, script: [{ afterMs: 300, hangup: HANGUP }], defaults: { delayBotDisconnectMs: DELAY_MS } });
    const a = new NodeProcess(cfg('a'));
    const b = new NodeProcess(cfg('b'));
    const c = new NodeProcess(cfg('c'));
    nodes.push(a, b, c);
    const [readyA, readyB, readyC] = await Promise.all(nodes.map((n) => n.waitFor((r) => r.ev === 'ready', 20_000)));
    const sipPorts = new Map([['a', readyA!.sipPort as number], ['b', readyB!.sipPort as number], ['c', readyC!.sipPort as number]]);
    assert.equal(new Set(sipPorts.values()).size, 3, 'each node is its own SIP endpoint');

    const sipp = await startSipp({
      scenario: fillScenario('uac-expect-handed-over-bye.xml', {
        reason_re: '^ *Q[.]850;cause=16;text=.agent ..transfer.. done. *$',
        h1_name: 'X-Case-Id',
        h1_re: '^ *C-42 *$',
        h2_name: 'X-Queue',
        h2_re: '^ *billing desk *$',
        bye_timeout_ms: 30_000,
      }),
      remote: `127.0.0.1:${sipPorts.get('a')}`,
      timeoutMs: 45_000,
    });
    sippKill = sipp.kill;
    const answered = await a.waitFor((r) => r.ev === 'answered', 10_000);
    const callId = answered.callId as string;
    assert.equal(answered.dialog, true, 'A recorded the dialog');
    a.send({ cmd: 'stt-started', callId });
    const requested = await waitAny(nodes, (r) => r.ev === 'hangup-requested' && r.callId === callId, 5_000);
    const deadline = requested.deadline as number;
    a.kill9();
    const killedAt = Date.now();
    await a.exited;
    assert.ok(killedAt < deadline - 1000, `killed ${deadline - killedAt} ms before the deadline`);
    assert.equal(a.reports.filter((r) => r.ev === 'bye').length, 0, 'A sent no BYE');

    const took = await waitAny([b, c], (r) => r.ev === 'took-over' && r.callId === callId, LEASE_MS * 4);
    const newOwner = took.nodeId === 'b' ? b : c;
    const adopted = await newOwner.waitFor((r) => r.ev === 'adopted' && r.callId === callId, 5_000);
    assert.equal(adopted.recordedBy, `127.0.0.1:${sipPorts.get('a')}`);
    const bye = await newOwner.waitFor((r) => r.ev === 'bye' && r.callId === callId, DELAY_MS + 5_000);
    const r = await sipp.done;
    assert.equal(r.code, 0, `sipp: ${r.diagnostics}`);
    const notice = await waitAny([b, c], (x) => x.ev === 'notice', 10_000);
    await new Promise((res) => setTimeout(res, 1000)); // anything duplicated would show by now

    // On the wire: one BYE, from the new owner's address, on A's dialog, CSeq above anything A used.
    assert.equal(bye.outcome, 'sent', JSON.stringify(bye));
    assert.equal(bye.reasonHeader, REASON);
    const byes = sippRequests(r.messages, 'received', 'BYE');
    assert.equal(byes.length, 1, r.diagnostics);
    const wire = byes[0]!;
    assert.match(headerValues(wire, 'Via')[0]!, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${sipPorts.get(took.nodeId)};`), 'sent by the node that took the call over');
    assert.deepEqual(headerValues(wire, 'Reason'), [REASON]);
    assert.deepEqual(headerValues(wire, 'X-Case-Id'), ['C-42']);
    assert.deepEqual(headerValues(wire, 'X-Queue'), ['billing desk']);
    assert.deepEqual(headerValues(wire, 'Contact'), [], 'a dialog-defining header from the bot never reaches the wire');
    const okFromSipp = (r.messages ?? []).filter((m) => m.direction === 'sent' && m.startLine === 'SIP/2.0 200 OK' && headerValues(m, 'CSeq')[0]!.endsWith(' BYE'));
    assert.equal(okFromSipp.length, 1);
    const lateness = bye.at - deadline;
    assert.ok(lateness >= -5 && lateness <= 1000, `BYE ${lateness} ms after its deadline`);
    assert.equal(nodes.flatMap((n) => n.reports.filter((x) => x.ev === 'bye')).length, 1, 'exactly one BYE in the cluster');
    assert.equal(nodes.flatMap((n) => n.reports.filter((x) => x.ev === 'notice')).length, 1, 'the bot is told once');
    assert.deepEqual(notice.notice, { reasonCode: 'bot-disconnected', reason: 'agent "transfer" done' });

    await Promise.all([b.stop(), c.stop()]);
    const store = new SqliteEventStore({ path: dbPath });
    try {
      const events = (await store.readStream(`call-${callId}`)).map(fromRecorded);
      const types = events.map((e) => e.type);
      assert.equal(types.filter((x) => x === 'CallEnded').length, 1);
      assert.equal(types.at(-1), 'CallEnded');
      const byeSent = events.filter((e) => e.type === 'ByeSent');
      assert.equal(byeSent.length, 1);
      assert.equal((byeSent[0]!.data as { error?: string }).error, undefined, 'the BYE went out (no VOX_SIP_NO_DIALOG)');
      assert.equal((byeSent[0]!.data as { trigger: string }).trigger, 'deadline');
      const ended = events.at(-1)!.data as { reasonCode: string; terminatedBy: string };
      assert.deepEqual([ended.reasonCode, ended.terminatedBy], ['bot-disconnected', 'bot']);
      const dialog = (events.find((e) => e.type === 'CallAnswered')!.data as { dialog?: SipDialogState }).dialog!;
      assert.deepEqual(headerValues(wire, 'CSeq'), [`${dialog.localCSeq + ADOPTED_CSEQ_MARGIN + 1} BYE`]);
      assert.deepEqual(headerValues(wire, 'Call-ID'), [dialog.sipCallId]);
      const owner = (await store.readStream(`owner-${callId}`)).map((e) => [e.type, (e.data as { nodeId: string }).nodeId]);
      assert.deepEqual(owner, [['CallClaimed', 'a'], ['CallClaimed', took.nodeId], ['CallReleased', took.nodeId]]);
      const delivered = (await store.readStream(`notify-${callId}`)).filter((e) => (e.data as { outcome: string }).outcome === 'delivered');
      assert.equal(delivered.length, 1);
    } finally {
      await store.close();
    }
    console.log(
      `# dialog handover: claimed ${took.at - killedAt} ms after kill -9 (lease ${LEASE_MS} ms); dialog adopted ${adopted.at - took.at} ms after the claim; ` +
        `BYE on the wire ${bye.at - took.at} ms after the claim, ${lateness} ms after its deadline; bot told ${notice.at - killedAt} ms after the kill`,
    );
  });
});
