/**
 * What the runtime does for a transfer (README, The rules: Transfer), beside the pure machine:
 * - puts the decided REFER on the wire before ReferSent is recorded (like the BYE);
 * - turns the adapter's reports (REFER response, NOTIFY sipfrag) into TransferProgressed inputs;
 * - tells the bot about a failed transfer with a `transferStatus` event in its dialect.
 * (A REFER that could not be sent becomes TransferProgressed sipStatus 0: effect-performer.ts.)
 */
import type { CallEventDataMap } from '../domain/events.ts';
import { ErrorCodes, toVoxError } from '../domain/errors.ts';
import { sanitizeReasonText } from '../domain/hangup-headers.ts';
import type { SignalingAdapter, TransferReport } from '../sip/port.ts';
import type { BotSession } from '../bots/port.ts';
import type { Logger } from '../log/logger.ts';
import type { CallInput } from './bot-activity.ts';
import type { EffectOutcome } from './effects.ts';

/** Sends the REFER a ReferSent stands for; never rejects (a failure comes back as `{ error }`). */
export async function sendRefer(signaling: SignalingAdapter, callId: string, refer: CallEventDataMap['ReferSent'], log: Logger): Promise<EffectOutcome> {
  if (!signaling.refer) return { error: `${ErrorCodes.SIP_NO_DIALOG}: the ${signaling.kind} SIP adapter cannot send REFER` };
  try {
    const req = { target: refer.target, headers: refer.headers, ...(refer.referredBy !== undefined ? { referredBy: refer.referredBy } : {}) };
    return await signaling.refer(callId, req);
  } catch (err) {
    log.error('REFER could not be sent', { err });
    const e = toVoxError(err, ErrorCodes.SIP_TRANSPORT);
    return { error: `${e.code}: ${e.message}` };
  }
}

/** The input for an adapter's transfer report (status made an integer, reason made safe and short). */
export function transferProgressInput(report: TransferReport): CallInput {
  const sipStatus = Number.isInteger(report.sipStatus) && report.sipStatus >= 0 && report.sipStatus < 700 ? report.sipStatus : 0;
  const data: CallEventDataMap['TransferProgressed'] = { source: report.source === 'notify' ? 'notify' : 'refer-response', sipStatus };
  if (typeof report.reason === 'string' && report.reason !== '') data.reason = sanitizeReasonText(report.reason).slice(0, 200);
  return { type: 'TransferProgressed', data };
}

/**
 * An event for the bot in its dialect (`transferStatus` after a failed transfer, `machineDetection`
 * with the detector's verdict). No session on this node (after a takeover, or before the bot's
 * conversation is up): only recorded, logged.
 */
export function tellBot(session: BotSession | undefined, name: string, value: Record<string, unknown>, log: Logger): void {
  if (!session) {
    log.warn(`no bot session on this node to send ${name} to`, { event: name });
    return;
  }
  session.sendEvent(name, value).catch((err: unknown) => log.warn(`could not send ${name} to the bot`, { err }));
}
