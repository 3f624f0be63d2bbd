/**
 * The transfer part of the call machine, pure (README, The rules: Transfer). A transfer lives in
 * the call context while the call stays `active` (the bot may still hang up meanwhile):
 *
 *   TransferRequested ─▶ requested ─ReferSent─▶ referred ─TransferProgressed 202/1xx─▶ accepted
 *   referred|accepted ─TransferProgressed notify 2xx─▶ succeeded (state byeDue: our BYE, then CallEnded transferred)
 *   referred|accepted ─TransferProgressed >= 300 or 0─▶ failing ─TransferFailed─▶ failed
 *   referred|accepted ─deadline passed─TransferFailed (timeout)─▶ failed
 *
 * A new transfer may be requested once the last one failed, never while one is under way or
 * after it succeeded. Nothing here reads a clock: the deadline comes from TransferRequested.
 */
import type { CallEvent, CallEventDataMap } from '../src/domain/events.ts';
import type { SipHeader } from '../src/domain/types.ts';
import { transferFailureCode, TRANSFERRED_REASON } from '../src/domain/transfer.ts';

export type TransferPhase = 'requested' | 'referred' | 'accepted' | 'failing' | 'failed' | 'succeeded';

export interface TransferState {
  phase: TransferPhase;
  target: string;
  headers: SipHeader[];
  referredBy?: string;
  handoverReason?: string;
  deadline: number;
  /** The last SIP status seen (REFER response or NOTIFY sipfrag). */
  sipStatus?: number;
  /** Set in `failing`: what TransferFailed will say. */
  failure?: CallEventDataMap['TransferFailed'];
}

export type TransferDecision =
  | { type: 'ReferSent'; data: CallEventDataMap['ReferSent'] }
  | { type: 'TransferFailed'; data: CallEventDataMap['TransferFailed'] };

/** Why a transfer cannot be requested now, or undefined when it can (state: the call machine's). */
export function transferRefusal(state: string, transfer: TransferState | undefined): string | undefined {
  if (state !== 'active') return state === 'connecting' ? 'the bot conversation has not started' : 'the call is ending';
  if (!transfer || transfer.phase === 'failed') return undefined;
  if (transfer.phase === 'succeeded') return 'the call was already transferred';
  return 'a transfer is already in progress';
}

export function isTransferAwaiting(t: TransferState | undefined): boolean {
  return t?.phase === 'referred' || t?.phase === 'accepted';
}

export function transferFromRequest(event: CallEvent): TransferState | undefined {
  if (event.type !== 'TransferRequested') return undefined;
  const d = event.data;
  const t: TransferState = { phase: 'requested', target: d.target, headers: d.headers, deadline: Date.parse(d.deadline) };
  if (d.referredBy !== undefined) t.referredBy = d.referredBy;
  if (d.handoverReason !== undefined) t.handoverReason = d.handoverReason;
  return t;
}

/** True when this TransferProgressed is the final 2xx NOTIFY of the transfer under way. */
export function isTransferSuccess(t: TransferState | undefined, event: CallEvent): boolean {
  return isTransferAwaiting(t) && event.type === 'TransferProgressed' && event.data.source === 'notify' && event.data.sipStatus >= 200 && event.data.sipStatus < 300;
}

/** Folds a TransferProgressed into the transfer under way. */
export function transferOnProgress(t: TransferState | undefined, event: CallEvent): TransferState | undefined {
  if (!t || event.type !== 'TransferProgressed') return t;
  const { source, sipStatus } = event.data;
  if (isTransferSuccess(t, event)) return { ...t, phase: 'succeeded', sipStatus };
  if (sipStatus === 0 || sipStatus >= 300) {
    const { reasonCode, reason } = transferFailureCode(sipStatus);
    const cause = source === 'notify' ? 'notify-failure' : 'refer-failed';
    return { ...t, phase: 'failing', sipStatus, failure: { sipStatus, reasonCode, reason: event.data.reason ?? reason, cause } };
  }
  // 1xx in a NOTIFY, or the REFER's 2xx (202 Accepted).
  return { ...t, phase: 'accepted', sipStatus };
}

/** The transfer decision due at `now` while the call is active, if any. */
export function decideTransfer(t: TransferState | undefined, now: number): TransferDecision | undefined {
  if (!t) return undefined;
  if (t.phase === 'requested') {
    const data: CallEventDataMap['ReferSent'] = { target: t.target, headers: t.headers };
    if (t.referredBy !== undefined) data.referredBy = t.referredBy;
    return { type: 'ReferSent', data };
  }
  if (t.phase === 'failing' && t.failure) return { type: 'TransferFailed', data: t.failure };
  if (isTransferAwaiting(t) && now >= t.deadline) {
    const { reasonCode, reason } = transferFailureCode(0, true);
    return { type: 'TransferFailed', data: { sipStatus: 0, reasonCode, reason, cause: 'timeout' } };
  }
  return undefined;
}

/** When the transfer's deadline must be checked (only while a REFER awaits its outcome). */
export function transferWakeUp(t: TransferState | undefined): number | undefined {
  return isTransferAwaiting(t) ? t!.deadline : undefined;
}

/** The CallEnded reason after a transfer. */
export function transferredReason(t: TransferState | undefined): string {
  return t?.handoverReason || TRANSFERRED_REASON;
}
