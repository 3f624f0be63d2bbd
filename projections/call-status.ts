/**
 * Call-status notifications: the notification each status change of a call produces, with the
 * bot operation result as it stands (outbound dialers read it). Delivery over HTTP is a consumer
 * of this projection's output.
 */
import type { DomainEvent } from '../src/domain/events.ts';
import type { ReasonCode } from '../src/domain/types.ts';
import type { Projection } from './projection.ts';
import { iso } from '../src/domain/clock.ts';

export type CallStatus = 'offered' | 'dialing' | 'answered' | 'bot-started' | 'ended';

export interface CallStatusNotification {
  callId: string;
  status: CallStatus;
  at: string;
  direction?: 'inbound' | 'outbound';
  botId?: string;
  reasonCode?: ReasonCode;
  reason?: string;
  sipStatus?: number;
  botOperationResult?: string;
  botOperationData?: unknown;
  /** Unique per notification: `<callId>:<status>` (webhook idempotency key). */
  notificationId: string;
}

interface CallMemo {
  direction?: 'inbound' | 'outbound';
  botId?: string;
  botOperationResult?: string;
  botOperationData?: unknown;
}

export interface CallStatusState {
  calls: Map<string, CallMemo>;
  notifications: CallStatusNotification[];
}

function notification(callId: string, status: CallStatus, e: DomainEvent, m: CallMemo, extra: Partial<CallStatusNotification> = {}): CallStatusNotification {
  const n: CallStatusNotification = { callId, status, at: iso(e.at), notificationId: `${callId}:${status}`, ...extra };
  if (m.direction) n.direction = m.direction;
  if (m.botId) n.botId = m.botId;
  if (m.botOperationResult !== undefined) n.botOperationResult = m.botOperationResult;
  if (m.botOperationData !== undefined) n.botOperationData = m.botOperationData;
  return n;
}

export const callStatusProjection: Projection<CallStatusState, CallStatusNotification[]> = {
  name: 'call-status',
  init: () => ({ calls: new Map(), notifications: [] }),
  apply(state, e) {
    let m = state.calls.get(e.callId);
    if (!m) state.calls.set(e.callId, (m = {}));
    switch (e.type) {
      case 'CallOffered':
        m.direction = e.data.direction;
        m.botId = e.data.botId;
        state.notifications.push(notification(e.callId, e.data.direction === 'outbound' ? 'dialing' : 'offered', e, m));
        break;
      case 'CallAnswered':
        state.notifications.push(notification(e.callId, 'answered', e, m));
        break;
      case 'BotConversationStarted':
        state.notifications.push(notification(e.callId, 'bot-started', e, m));
        break;
      case 'SessionParamsUpdated':
        if (e.data.params.botOperationResult !== undefined) m.botOperationResult = e.data.params.botOperationResult;
        if (e.data.params.botOperationData !== undefined) m.botOperationData = e.data.params.botOperationData;
        break;
      case 'CallEnded': {
        const extra: Partial<CallStatusNotification> = { reasonCode: e.data.reasonCode, reason: e.data.reason };
        if (e.data.sipStatus !== undefined) extra.sipStatus = e.data.sipStatus;
        state.notifications.push(notification(e.callId, 'ended', e, m, extra));
        state.calls.delete(e.callId); // keeps the state bounded by live calls
        break;
      }
      case 'OutboundCallFailed':
        break;
      default:
        break;
    }
  },
  output: (state) => state.notifications,
};
