/**
 * The one table that maps a failed outbound call's final SIP status to a reasonCode
 * (README, The rules: End of call). jambonz had two code paths that disagreed (603 as busy in one, 480 as failed in
 * the other); every caller here goes through `reasonCodeForSipFailure`.
 */
import type { ReasonCode } from './types.ts';

export const SIP_FAILURE_TABLE: ReadonlyArray<{ status: number; reasonCode: ReasonCode; reason: string }> = [
  { status: 408, reasonCode: 'no-answer', reason: 'Request Timeout' },
  { status: 480, reasonCode: 'no-answer', reason: 'Temporarily Unavailable' },
  { status: 487, reasonCode: 'no-answer', reason: 'Ring timeout' },
  { status: 486, reasonCode: 'busy', reason: 'Busy Here' },
  { status: 600, reasonCode: 'busy', reason: 'Busy Everywhere' },
  { status: 603, reasonCode: 'declined', reason: 'Decline' },
];

/** reasonCode and a human reason for an outbound call that ended before answer with `status`. */
export function reasonCodeForSipFailure(status: number): { reasonCode: ReasonCode; reason: string } {
  const row = SIP_FAILURE_TABLE.find((r) => r.status === status);
  if (row) return { reasonCode: row.reasonCode, reason: row.reason };
  return { reasonCode: 'error', reason: status > 0 ? `SIP ${status}` : 'No response' };
}

/** The free-text reason the spec shows for a caller hangup. */
export const CLIENT_SIDE_REASON = 'Client Side';
/** Reason for a bot hangup that gave no hangupReason. */
export const BOT_SIDE_REASON = 'Bot Side';
