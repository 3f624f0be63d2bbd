/**
 * Recovery at start (issue: no call left open after a crash). A node that stopped without ending
 * its calls (kill -9, a crash, a power cut) left them open in the store: their SIP dialogs are
 * recorded on CallAnswered, their bot conversations on BotConversationStarted. At start, before
 * taking new calls, the node rebuilds each one (`runtime.resume`: the recorded dialog is adopted,
 * so the caller's later BYE is answered and recorded, and our BYE leaves on it) and ends it:
 *
 * - a hangup already decided (a bot's hangup waiting for its STT deadline, a BYE due) goes out as
 *   recorded, with its Reason and headers, when it is due;
 * - any other call gets a BYE with `Q.850;cause=41;text="service restarted"` (CallErrored with
 *   code VOX_CALL_RECOVERED), or, before answer, just its CallEnded (the INVITE transaction died
 *   with the process);
 * - one CallEnded each; the bot is told once by the notifier, which follows CallEnded.
 *
 * Resuming the bot conversation itself is not attempted (no provider here can re-attach the
 * media the caller was hearing); see README, Known limits.
 */
import { ErrorCodes } from '../domain/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { EventStore } from '../store/port.ts';
import { findOpenCalls } from './open-calls.ts';

/** Generic text on the wire; the details are in the events and the log. */
export const RECOVERED_REASON = 'service restarted';

export interface RecoveryTarget {
  resume(callId: string, options?: { end?: { code: string; message: string } }): Promise<{ state: string; ended: boolean }>;
}

export interface RecoveryReport {
  open: number;
  ended: number;
  pending: number;
  failed: number;
}

/**
 * Ends every open call in the store that `owned` accepts (single node: all of them). Resolves once
 * each has been resumed and its ending started; the CallEnded of a call waiting for a deadline
 * comes later, on time.
 */
export async function recoverOpenCalls(o: { store: EventStore; runtime: RecoveryTarget; log: Logger; owned?: (call: { callId: string; nodeId: string }) => boolean }): Promise<RecoveryReport> {
  const open = (await findOpenCalls(o.store)).filter((c) => o.owned?.(c) ?? true);
  const report: RecoveryReport = { open: open.length, ended: 0, pending: 0, failed: 0 };
  if (open.length === 0) return report;
  o.log.warn('open calls found at start (the node stopped without ending them): ending them', { calls: open.length });
  for (const call of open) {
    const log = o.log.child({ callId: call.callId });
    try {
      const actor = await o.runtime.resume(call.callId, { end: { code: ErrorCodes.CALL_RECOVERED, message: RECOVERED_REASON } });
      if (actor.ended) report.ended++;
      else report.pending++;
      log.warn('recovered an open call', { lastEvent: call.lastType, previousNode: call.nodeId, state: actor.state });
    } catch (err) {
      report.failed++;
      log.error('could not recover an open call; it stays open in the store', { err });
    }
  }
  o.log.warn('recovery at start done', { ...report });
  return report;
}
