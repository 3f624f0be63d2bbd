/**
 * Call-status notifications: what each status change of a call tells a dialer, with the bot
 * operation result as it stands (outbound campaigns read it). Statuses:
 *   initiated  outbound call placed (CallOffered, outbound)
 *   ringing    inbound INVITE offered (CallOffered, inbound); outbound: the callee's first 18x
 *              (CallRinging, from either SIP adapter)
 *   answered   CallAnswered
 *   completed  CallEnded after answer
 *   failed     CallEnded before answer: reasonCode no-answer, busy, declined, error (and
 *              client-disconnected for an inbound call cancelled, operator-disconnected)
 * Each notification's id is the id of the event it comes from: the webhook's idempotency key.
 * The state keeps only live calls' memos; `emitted` collects the notifications (a rebuild keeps
 * them all; the live webhook dispatcher drains it after each event, so its memory stays bounded
 * by live calls).
 */
import type { DomainEvent } from '../src/domain/events.ts';
import type { Direction, ReasonCode, TerminatedBy } from '../src/domain/types.ts';
import type { EventPosition, Projection } from './projection.ts';
import { iso } from '../src/domain/clock.ts';

import { STATUS_NAMES, type CallStatus } from '../src/domain/call-statuses.ts';

export { STATUS_NAMES, type CallStatus };

export interface CallStatusNotification {
  /** The source event's id: unique per notification, the webhook's idempotency key. */
  notificationId: string;
  callId: string;
  status: CallStatus;
  at: string;
  direction: Direction;
  from: string;
  to: string;
  botId: string;
  reasonCode?: ReasonCode;
  reason?: string;
  terminatedBy?: TerminatedBy;
  durationMs?: number;
  sipStatus?: number;
  botOperationResult?: string;
  botOperationData?: unknown;
  /** On `completed` with reasonCode `transferred`: where the call went. */
  transferTarget?: string;
}

export interface CallMemo {
  direction: Direction;
  from: string;
  to: string;
  botId: string;
  answered: boolean;
  rang?: boolean;
  botOperationResult?: string;
  botOperationData?: unknown;
  /** From the dial request (CallOffered.statusCallback). */
  statusCallback?: { url: string; events?: string[] };
  /** The bot's last transfer target. */
  transferTarget?: string;
}

export interface CallStatusState {
  calls: Map<string, CallMemo>;
  /** Notifications not yet taken (with the call's memo, for routing); a consumer may drain it. */
  emitted: Array<{ notification: CallStatusNotification; memo: CallMemo }>;
}

function notification(e: DomainEvent, at: EventPosition, status: CallStatus, m: CallMemo, extra: Partial<CallStatusNotification> = {}): CallStatusNotification {
  const n: CallStatusNotification = { notificationId: at.eventId, callId: e.callId, status, at: iso(e.at), direction: m.direction, from: m.from, to: m.to, botId: m.botId, ...extra };
  if (m.botOperationResult !== undefined) n.botOperationResult = m.botOperationResult;
  if (m.botOperationData !== undefined) n.botOperationData = m.botOperationData;
  return n;
}

export const callStatusProjection: Projection<CallStatusState, CallStatusNotification[]> = {
  name: 'call-status',
  init: () => ({ calls: new Map(), emitted: [] }),
  apply(state, e, at) {
    if (e.type === 'CallOffered') {
      if (state.calls.has(e.callId)) return;
      const d = e.data;
      const m: CallMemo = { direction: d.direction, from: d.from, to: d.to, botId: d.botId, answered: false, ...(d.statusCallback ? { statusCallback: d.statusCallback } : {}) };
      state.calls.set(e.callId, m);
      state.emitted.push({ notification: notification(e, at, d.direction === 'outbound' ? 'initiated' : 'ringing', m), memo: m });
      return;
    }
    const m = state.calls.get(e.callId);
    if (!m) return;
    switch (e.type) {
      case 'CallRinging':
        if (!m.rang && !m.answered) {
          m.rang = true;
          state.emitted.push({ notification: notification(e, at, 'ringing', m, { sipStatus: e.data.sipStatus }), memo: m });
        }
        break;
      case 'CallAnswered':
        m.answered = true;
        state.emitted.push({ notification: notification(e, at, 'answered', m), memo: m });
        break;
      case 'TransferRequested':
        m.transferTarget = e.data.target;
        break;
      case 'SessionParamsUpdated':
        if (e.data.params.botOperationResult !== undefined) m.botOperationResult = e.data.params.botOperationResult;
        if (e.data.params.botOperationData !== undefined) m.botOperationData = e.data.params.botOperationData;
        break;
      case 'CallEnded': {
        const d = e.data;
        const extra: Partial<CallStatusNotification> = { reasonCode: d.reasonCode, reason: d.reason, terminatedBy: d.terminatedBy, durationMs: d.durationMs };
        if (d.sipStatus !== undefined) extra.sipStatus = d.sipStatus;
        if (d.reasonCode === 'transferred' && m.transferTarget !== undefined) extra.transferTarget = m.transferTarget;
        state.emitted.push({ notification: notification(e, at, m.answered ? 'completed' : 'failed', m, extra), memo: m });
        state.calls.delete(e.callId); // bounded by live calls
        break;
      }
      default:
        break;
    }
  },
  output: (state) => state.emitted.map((x) => x.notification),
};
