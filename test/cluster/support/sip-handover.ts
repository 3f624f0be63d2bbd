/**
 * One dialog handover across real node processes with real SIP, for the dialog-handover tests:
 * node processes (test/cluster/node-process.ts with the embedded SIP adapter, each on its own
 * ephemeral port on 127.0.0.1) share one store: a fresh SQLite file, or the EventStoreDB that
 * `esdb` names (reached by every node, and by the final read, through `@eventstore/db-client`);
 * sipp calls the first node; the scripted bot hangs up with `delayMs` (delayBotDisconnectMs)
 * while speech recognition is in progress; the first node is killed with SIGKILL right after
 * the hangup is recorded. `runSipHandover` returns what happened (reports, sipp's result, the
 * streams); `assertHandedOverBye` checks what every handover must show, on the wire and in the
 * store. Timing is left to each test.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '../../../src/store/sqlite-store.ts';
import { EsdbEventStore } from '../../../src/store/esdb-store.ts';
import { fromRecorded } from '../../../src/store/envelope.ts';
import type { DomainEvent } from '../../../src/domain/events.ts';
import type { EventStore, RecordedEvent } from '../../../src/store/port.ts';
import { BYE_CSEQ_OFFSET } from '../../../src/sip/embedded/dialog.ts';
import type { SipDialogState } from '../../../src/domain/sip-dialog.ts';
import { fillScenario, headerValues, sippRequests, startSipp, type SippMessage, type SippResult } from '../../sip/sipp.ts';
import { NodeProcess, waitAny, type Report } from './node-processes.ts';

export const HANGUP = {
  hangupReason: 'agent "transfer" done',
  hangupSipHeaders: [{ name: 'X-Case-Id', value: 'C-42' }, { name: 'X-Queue', value: 'billing desk' }, { name: 'Contact', value: '<sip:evil>' }],
};
export const REASON = 'Q.850;cause=16;text="agent \\"transfer\\" done"';

export interface HandoverOptions {
  nodeIds: string[];
  leaseMs: number;
  /** delayBotDisconnectMs the bot's config sets. */
  delayMs: number;
  /** An EventStoreDB connection string the nodes share instead of a fresh SQLite file. */
  esdb?: string;
}

export interface HandoverRun {
  callId: string;
  /** Node id → its SIP port. */
  sipPorts: Map<string, number>;
  killedAt: number;
  /** The BYE's deadline as recorded on BotHangupRequested (ms). */
  deadline: number;
  took: Report;
  adopted: Report;
  bye: Report;
  notice: Report;
  /** Every report of every node. */
  reports: Report[];
  sipp: SippResult;
  /** The BYE sipp received. */
  wire: SippMessage;
  events: DomainEvent[];
  owner: RecordedEvent[];
  notify: RecordedEvent[];
}

export async function runSipHandover(t: TestContext, o: HandoverOptions): Promise<HandoverRun> {
  const dir = mkdtempSync(join(tmpdir(), 'voxledger-handover-'));
  const dbPath = join(dir, 'cluster.db');
  if (o.esdb === undefined) await new SqliteEventStore({ path: dbPath }).close(); // create the schema once, before the nodes race to
  const shared = o.esdb === undefined ? { dbPath } : { esdb: o.esdb };
  const nodes: NodeProcess[] = [];
  let sippKill: (() => void) | undefined;
  t.after(async () => {
    sippKill?.();
    await Promise.allSettled(nodes.map((n) => n.stop(3000)));
    rmSync(dir, { recursive: true, force: true });
  });
  for (const nodeId of o.nodeIds) {
    nodes.push(new NodeProcess({ nodeId, ...shared, leaseMs: o.leaseMs, sip: { t1Ms: 100 }, script: [{ afterMs: 300, hangup: HANGUP }], defaults: { delayBotDisconnectMs: o.delayMs } }));
  }
  const ready = await Promise.all(nodes.map((n) => n.waitFor((r) => r.ev === 'ready', 20_000)));
  const sipPorts = new Map(ready.map((r) => [r.nodeId, r.sipPort as number]));
  assert.equal(new Set(sipPorts.values()).size, nodes.length, 'each node is its own SIP endpoint');
  const [first, ...others] = nodes as [NodeProcess, ...NodeProcess[]];

  const sipp = await startSipp({
    scenario: fillScenario('uac-expect-handed-over-bye.xml', {
      // sipp's XML reader decodes neither &#34; nor backslashes faithfully: match them with '.'.
      reason_re: '^ *Q[.]850;cause=16;text=.agent ..transfer.. done. *$',
      h1_name: 'X-Case-Id',
      h1_re: '^ *C-42 *$',
      h2_name: 'X-Queue',
      h2_re: '^ *billing desk *$',
      bye_timeout_ms: 30_000,
    }),
    remote: `127.0.0.1:${sipPorts.get(first.id)}`,
    timeoutMs: 45_000,
  });
  sippKill = sipp.kill;
  const answered = await first.waitFor((r) => r.ev === 'answered', 10_000);
  const callId = answered.callId as string;
  assert.equal(answered.dialog, true, 'the node that answered recorded the dialog');
  first.send({ cmd: 'stt-started', callId });
  const requested = await waitAny(nodes, (r) => r.ev === 'hangup-requested' && r.callId === callId, 5_000);
  first.kill9();
  const killedAt = Date.now();
  await first.exited;
  assert.equal(first.reports.filter((r) => r.ev === 'bye').length, 0, 'the killed node sent no BYE');

  const took = await waitAny(others, (r) => r.ev === 'took-over' && r.callId === callId, o.leaseMs * 4);
  const owner = others.find((n) => n.id === took.nodeId)!;
  const adopted = await owner.waitFor((r) => r.ev === 'adopted' && r.callId === callId, 5_000);
  const bye = await owner.waitFor((r) => r.ev === 'bye' && r.callId === callId, o.delayMs + 5_000);
  const result = await sipp.done;
  assert.equal(result.code, 0, `sipp: ${result.diagnostics}`);
  const notice = await waitAny(others, (x) => x.ev === 'notice', 10_000);
  await new Promise((res) => setTimeout(res, 1000)); // anything duplicated would show by now
  await Promise.all(others.map((n) => n.stop()));

  const store: EventStore = o.esdb === undefined ? new SqliteEventStore({ path: dbPath }) : await EsdbEventStore.connect({ connectionString: o.esdb });
  try {
    const byes = sippRequests(result.messages, 'received', 'BYE');
    assert.equal(byes.length, 1, `sipp received one BYE: ${result.diagnostics}`);
    return {
      callId,
      sipPorts,
      killedAt,
      deadline: requested.deadline as number,
      took,
      adopted,
      bye,
      notice,
      reports: nodes.flatMap((n) => n.reports),
      sipp: result,
      wire: byes[0]!,
      events: (await store.readStream(`call-${callId}`)).map(fromRecorded),
      owner: await store.readStream(`owner-${callId}`),
      notify: await store.readStream(`notify-${callId}`),
    };
  } finally {
    await store.close();
  }
}

/** What every handover shows: one BYE on A's dialog from the new owner's address, recorded once, without error; one CallEnded; the bot told once. */
export function assertHandedOverBye(run: HandoverRun): void {
  const { bye, wire, took } = run;
  assert.equal(bye.outcome, 'sent', JSON.stringify(bye));
  assert.equal(bye.reasonHeader, REASON);
  assert.equal(run.adopted.recordedBy, `127.0.0.1:${run.sipPorts.get('a')}`, 'the dialog A recorded');
  // On the wire.
  assert.match(headerValues(wire, 'Via')[0]!, new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${run.sipPorts.get(took.nodeId)};`), 'sent by the node that took the call over');
  assert.deepEqual(headerValues(wire, 'Reason'), [REASON]);
  assert.deepEqual(headerValues(wire, 'X-Case-Id'), ['C-42']);
  assert.deepEqual(headerValues(wire, 'X-Queue'), ['billing desk']);
  assert.deepEqual(headerValues(wire, 'Contact'), [], 'a dialog-defining header from the bot never reaches the wire');
  const okFromSipp = (run.sipp.messages ?? []).filter((m) => m.direction === 'sent' && m.startLine === 'SIP/2.0 200 OK' && headerValues(m, 'CSeq')[0]!.endsWith(' BYE'));
  assert.equal(okFromSipp.length, 1, 'sipp answered the BYE once');
  // Across the cluster.
  assert.equal(run.reports.filter((x) => x.ev === 'bye').length, 1, 'exactly one BYE in the cluster');
  assert.equal(run.reports.filter((x) => x.ev === 'notice').length, 1, 'the bot is told once');
  assert.deepEqual(run.notice.notice, { reasonCode: 'bot-disconnected', reason: 'agent "transfer" done' });
  // In the store.
  const types = run.events.map((e) => e.type);
  assert.equal(types.filter((x) => x === 'CallEnded').length, 1);
  assert.equal(types.at(-1), 'CallEnded');
  const byeSent = run.events.filter((e) => e.type === 'ByeSent');
  assert.equal(byeSent.length, 1);
  assert.equal((byeSent[0]!.data as { error?: string }).error, undefined, 'the BYE went out (no VOX_SIP_NO_DIALOG)');
  assert.equal((byeSent[0]!.data as { trigger: string }).trigger, 'deadline');
  const ended = run.events.at(-1)!.data as { reasonCode: string; terminatedBy: string };
  assert.deepEqual([ended.reasonCode, ended.terminatedBy], ['bot-disconnected', 'bot']);
  const dialog = (run.events.find((e) => e.type === 'CallAnswered')!.data as { dialog?: SipDialogState }).dialog!;
  assert.deepEqual(headerValues(wire, 'Call-ID'), [dialog.sipCallId]);
  assert.deepEqual(headerValues(wire, 'CSeq'), [`${dialog.localCSeq + BYE_CSEQ_OFFSET} BYE`], 'the dialog\'s fixed BYE CSeq, above anything the dead node used');
  assert.deepEqual(
    run.owner.map((e) => [e.type, (e.data as { nodeId: string }).nodeId]),
    [['CallClaimed', 'a'], ['CallClaimed', took.nodeId], ['CallReleased', took.nodeId]],
  );
  assert.equal(run.notify.filter((e) => (e.data as { outcome: string }).outcome === 'delivered').length, 1);
}
