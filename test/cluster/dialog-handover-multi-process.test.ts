/**
 * The HA promise made real on the wire: three node processes, each with its own embedded SIP
 * adapter on its own ephemeral port on 127.0.0.1, sharing one SQLite file. sipp calls node A;
 * the scripted bot hangs up with delayBotDisconnectMs while speech recognition is in progress,
 * so the BYE waits for its deadline; A is killed with SIGKILL before the deadline. Another node
 * takes the call over, adopts the SIP dialog A recorded on CallAnswered, and at the deadline
 * puts the BYE — same Reason, same X- headers — on the original dialog from its own address;
 * sipp checks both with ereg and answers 200 OK to the new node's Via.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sippAvailable } from '../sip/sipp.ts';
import { assertHandedOverBye, runSipHandover } from './support/sip-handover.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';
const LEASE_MS = 1500;
const DELAY_MS = 3500;

describe('dialog handover across real node processes with real SIP (sipp ↔ embedded SIP adapters, one SQLite file)', () => {
  it('kill -9 of the node that answered, between the bot hangup and its deadline: another node adopts the dialog and puts the BYE on the wire on time, once, with the same Reason and X- headers', { skip, timeout: 60_000 }, async (t) => {
    const run = await runSipHandover(t, { nodeIds: ['a', 'b', 'c'], leaseMs: LEASE_MS, delayMs: DELAY_MS });
    assertHandedOverBye(run);
    assert.ok(run.took.at < run.deadline, `taken over ${run.deadline - run.took.at} ms before the deadline`);
    const lateness = run.bye.at - run.deadline;
    assert.ok(lateness >= -5 && lateness <= 1000, `BYE ${lateness} ms after its deadline`);
    console.log(
      `# dialog handover (deadline after the takeover): claimed ${run.took.at - run.killedAt} ms after kill -9 (lease ${LEASE_MS} ms); ` +
        `dialog adopted ${run.adopted.at - run.took.at} ms after the claim; BYE on the wire ${lateness} ms after its deadline; bot told ${run.notice.at - run.killedAt} ms after the kill`,
    );
  });
});
