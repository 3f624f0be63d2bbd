/**
 * The HA promise over EventStoreDB, across real processes: node processes
 * (test/cluster/node-process.ts with `esdb`) each connect through the real
 * `@eventstore/db-client` (EsdbEventStore) to one EventStoreDB gRPC test double that this test
 * process serves (no EventStoreDB server can run here), and each runs its own embedded SIP
 * adapter on its own ephemeral port on 127.0.0.1. sipp calls node A; the scripted bot hangs up
 * with delayBotDisconnectMs while speech recognition is in progress; A is killed with SIGKILL
 * right after the hangup is recorded. Another node claims the call (expected revision on its
 * owner stream, decided by the double), adopts the SIP dialog A recorded on CallAnswered and
 * sends the BYE (same Reason, same X- headers; sipp checks both with ereg) at its deadline, or at
 * once when the deadline passed while nobody owned the call. The streams are read back through
 * the client and checked against the double's own log.
 *
 * Figures printed: kill → claim, claim → dialog adopted, claim → BYE on the wire, BYE vs. its
 * deadline, kill → bot told, and how many claims the double refused on the owner stream.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sippAvailable } from '../sip/sipp.ts';
import { EsdbGrpcDouble } from '../store-esdb/esdb-grpc-double.ts';
import { assertHandedOverBye, runSipHandover, type HandoverRun } from './support/sip-handover.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';
const LEASE_MS = 1500;

/** Every double started here; stopped after the nodes (their `t.after` hooks run first). */
const doubles: EsdbGrpcDouble[] = [];
after(async () => {
  await Promise.all(doubles.map((d) => d.stop()));
});

async function startDouble(): Promise<EsdbGrpcDouble> {
  const server = await EsdbGrpcDouble.start();
  doubles.push(server);
  return server;
}

/** The double's own log agrees with what the client read, and every node wrote through it. */
function assertDoubleLog(server: EsdbGrpcDouble, run: HandoverRun): { refusedClaims: number } {
  const records = server.db.stream(`call-${run.callId}`) ?? [];
  assert.deepEqual(
    records.map((r) => r.type),
    run.events.map((e) => e.type),
    'the stream read through @eventstore/db-client is the double’s log',
  );
  assert.equal(records.filter((r) => r.type === 'CallEnded').length, 1);
  assert.equal(records.at(-1)?.type, 'CallEnded', 'CallEnded is the last event in the double’s log');
  const writers = new Set(records.map((r) => (JSON.parse(Buffer.from(r.metadata).toString('utf8')) as { nodeId?: string }).nodeId));
  assert.ok(writers.has('a') && writers.has(run.took.nodeId), `the dead node and the new owner both wrote the call through the double: ${[...writers].join(', ')}`);
  const ownerWrites = server.db.writes.filter((w) => w.streamId === `owner-${run.callId}`);
  assert.ok(ownerWrites.some((w) => w.outcome === 'success'));
  return { refusedClaims: ownerWrites.filter((w) => w.outcome === 'wrong_expected_version').length };
}

/**
 * The claim comes once the dead node's lease runs out: at most a lease after its last heartbeat
 * (sent before the kill), plus a survivor's renewal tick and takeover spread (leaseMs / 3 each);
 * twice the lease leaves room for a loaded machine.
 */
function assertClaimedInTime(run: HandoverRun): number {
  const killToClaim = run.took.at - run.killedAt;
  assert.ok(killToClaim > 0 && killToClaim <= LEASE_MS * 2, `claimed ${killToClaim} ms after kill -9 (lease ${LEASE_MS} ms)`);
  return killToClaim;
}

describe('dialog handover across real node processes over the EventStoreDB gRPC double (sipp ↔ embedded SIP adapters, @eventstore/db-client in every node)', () => {
  it('kill -9 of the owner between the bot hangup and its deadline (three node processes over the EventStoreDB gRPC double): another node adopts the dialog and sends the BYE on time, once, same Reason and X- headers; the bot is told once; one CallEnded, last', { skip, timeout: 60_000 }, async (t) => {
    const DELAY_MS = 3500;
    const server = await startDouble();
    const run = await runSipHandover(t, { nodeIds: ['a', 'b', 'c'], leaseMs: LEASE_MS, delayMs: DELAY_MS, esdb: server.connectionString });
    assertHandedOverBye(run);
    const { refusedClaims } = assertDoubleLog(server, run);
    const killToClaim = assertClaimedInTime(run);
    assert.ok(run.took.at < run.deadline, `taken over ${run.deadline - run.took.at} ms before the deadline`);
    const lateness = run.bye.at - run.deadline;
    assert.ok(lateness >= -5 && lateness <= 1000, `BYE ${lateness} ms after its deadline`);
    console.log(
      `# esdb dialog handover (3 processes, deadline after the takeover): claimed ${killToClaim} ms after kill -9 (lease ${LEASE_MS} ms); ` +
        `dialog adopted ${run.adopted.at - run.took.at} ms after the claim; BYE on the wire ${run.bye.at - run.killedAt} ms after the kill, ${lateness} ms after its deadline; ` +
        `bot told ${run.notice.at - run.killedAt} ms after the kill; claims refused by expected revision: ${refusedClaims}`,
    );
  });

  it('BYE overdue at takeover (two node processes over the EventStoreDB gRPC double): the new owner adopts the dialog and sends the BYE as soon as it resumes the call', { skip, timeout: 60_000 }, async (t) => {
    const DELAY_MS = 700;
    const server = await startDouble();
    const run = await runSipHandover(t, { nodeIds: ['a', 'b'], leaseMs: LEASE_MS, delayMs: DELAY_MS, esdb: server.connectionString });
    assert.ok(run.killedAt < run.deadline, `killed ${run.deadline - run.killedAt} ms before the deadline`);
    assertHandedOverBye(run);
    assertDoubleLog(server, run);
    const killToClaim = assertClaimedInTime(run);
    assert.ok(run.took.at > run.deadline, 'the deadline passed before the takeover');
    const claimToBye = run.bye.at - run.took.at;
    assert.ok(claimToBye >= 0 && claimToBye <= 1000, `BYE ${claimToBye} ms after the claim`);
    console.log(
      `# esdb dialog handover (2 processes, BYE overdue at takeover): claimed ${killToClaim} ms after kill -9 (lease ${LEASE_MS} ms); ` +
        `dialog adopted ${run.adopted.at - run.took.at} ms and BYE on the wire ${claimToBye} ms after the claim (${run.bye.at - run.killedAt} ms after the kill, ${run.bye.at - run.deadline} ms after its deadline)`,
    );
  });
});
