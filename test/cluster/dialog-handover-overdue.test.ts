/**
 * Dialog handover when the BYE is already overdue at takeover: delayBotDisconnectMs is shorter
 * than the lease, so the deadline passes while the call has no live owner (node A was killed
 * with SIGKILL right after the bot's hangup was recorded). The node that takes the call over
 * adopts A's recorded SIP dialog and sends the BYE as soon as it resumes the call: this is the
 * claim-to-BYE latency of a takeover. Two node processes, real SIP, sipp as the caller.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sippAvailable } from '../sip/sipp.ts';
import { assertHandedOverBye, runSipHandover } from './support/sip-handover.ts';

const skip = sippAvailable() ? false : 'sipp is not installed';
const LEASE_MS = 1500;
const DELAY_MS = 700;

describe('dialog handover with the BYE overdue at takeover (real node processes, real SIP)', () => {
  it('the node that takes the call over adopts the dialog and sends the overdue BYE at once, with the same Reason and X- headers', { skip, timeout: 60_000 }, async (t) => {
    const run = await runSipHandover(t, { nodeIds: ['a', 'b'], leaseMs: LEASE_MS, delayMs: DELAY_MS });
    assert.ok(run.killedAt < run.deadline, `killed ${run.deadline - run.killedAt} ms before the deadline`);
    assertHandedOverBye(run);
    assert.ok(run.took.at > run.deadline, 'the deadline passed before the takeover');
    const claimToBye = run.bye.at - run.took.at;
    assert.ok(claimToBye >= 0 && claimToBye <= 1000, `BYE ${claimToBye} ms after the claim`);
    console.log(
      `# dialog handover (BYE overdue at takeover): claimed ${run.took.at - run.killedAt} ms after kill -9 (lease ${LEASE_MS} ms); ` +
        `dialog adopted ${run.adopted.at - run.took.at} ms and BYE on the wire ${claimToBye} ms after the claim (${run.bye.at - run.deadline} ms after its deadline)`,
    );
  });
});
