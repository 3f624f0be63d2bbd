/**
 * Recovery at start (issue 13: recovery on every start). A node that stopped without ending its
 * calls (kill -9, a crash, a power cut) left them open in the store: their SIP dialogs are
 * recorded on CallAnswered, their bot conversations on BotConversationStarted, their media on
 * MediaNegotiated. At start, before taking new calls, a single node rebuilds each one through
 * the same path as a cluster takeover (`runtime.resume`, resume-call.ts) and either resumes it
 * or ends it cleanly:
 *
 * - a hangup already decided (a bot's hangup waiting for its STT deadline, a BYE due) goes out as
 *   recorded, with its Reason and headers, when it is due;
 * - an answered call with no ending decided is resumed: its bot conversation re-attached where
 *   the connector can `resume` it (README, The bot after a takeover), its media leg when the engine can
 *   (`reattach`: rtpengine's session, or the embedded engine's recorded port bound again); a
 *   call answered whose bot had not started yet gets its bot started;
 * - a call whose bot cannot be re-attached (no `resume`, or it failed), and a call not answered
 *   yet (the INVITE transaction died with the process), ends: `CallErrored` with code
 *   VOX_CALL_RECOVERED — a BYE with `Q.850;cause=41;text="service restarted"`, or before answer
 *   just its CallEnded;
 * - with `recovery.resume: false` every call with no ending decided ends so (the behaviour before
 *   resuming existed).
 *
 * One CallEnded each, whenever it comes; the bot is told once by the notifier, which follows
 * CallEnded.
 */
import { ErrorCodes } from '../domain/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { EventStore } from '../store/port.ts';
import { findOpenCalls } from './open-calls.ts';
import type { ResumeOptions } from './resume-call.ts';

/** Generic text on the wire; the details are in the events and the log. */
export const RECOVERED_REASON = 'service restarted';
/** Calls rebuilt at once (each may wait for its bot's re-attach, bounded by the connector's timeout). */
const RECOVERY_CONCURRENCY = 16;

export interface RecoveryTarget {
  resume(callId: string, options?: ResumeOptions): Promise<{ state: string; ended: boolean }>;
}

export interface RecoveryReport {
  open: number;
  /** Ended at once (their CallEnded recorded). */
  ended: number;
  /** Resumed: answered, talking to their bot again (or their bot starting). */
  resumed: number;
  /** Ending, on a recorded deadline (CallEnded later, on time). */
  pending: number;
  failed: number;
}

const TALKING = new Set(['active', 'connecting']);

/**
 * Resumes or ends every open call in the store that `owned` accepts (single node: all of them).
 * Resolves once each has been rebuilt, its bot re-attached or its ending started.
 */
export async function recoverOpenCalls(o: { store: EventStore; runtime: RecoveryTarget; log: Logger; resume?: boolean; owned?: (call: { callId: string; nodeId: string }) => boolean }): Promise<RecoveryReport> {
  const open = (await findOpenCalls(o.store)).filter((c) => o.owned?.(c) ?? true);
  const report: RecoveryReport = { open: open.length, ended: 0, resumed: 0, pending: 0, failed: 0 };
  if (open.length === 0) return report;
  const resume = o.resume ?? true;
  const error = { code: ErrorCodes.CALL_RECOVERED, message: RECOVERED_REASON };
  const options: ResumeOptions = resume ? { restart: error } : { end: error };
  o.log.warn(resume ? 'open calls found at start (the node stopped without ending them): resuming or ending them' : 'open calls found at start (the node stopped without ending them): ending them (recovery.resume is false)', { calls: open.length });
  const queue = [...open];
  const worker = async () => {
    for (let call = queue.shift(); call; call = queue.shift()) {
      const log = o.log.child({ callId: call.callId });
      try {
        const actor = await o.runtime.resume(call.callId, options);
        if (actor.ended) report.ended++;
        else if (TALKING.has(actor.state)) report.resumed++;
        else report.pending++;
        log.warn(actor.ended || !TALKING.has(actor.state) ? 'recovered an open call: ended or ending' : 'recovered an open call: resumed', { lastEvent: call.lastType, previousNode: call.nodeId, state: actor.state });
      } catch (err) {
        report.failed++;
        log.error('could not recover an open call; it stays open in the store', { err });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(RECOVERY_CONCURRENCY, open.length) }, worker));
  o.log.warn('recovery at start done', { ...report });
  return report;
}
