/**
 * The call index: one small summary per call (state, parties, bot, times, ending), newest last,
 * for listing and filtering calls over HTTP, counting calls by state and CDRs by reasonCode
 * (metrics), and the end-of-call notices still owed to bots. It folds call and notify streams.
 * Memory is bounded: past `maxEndedCalls` the oldest ended calls are dropped from the index
 * (they stay in the store: a call's own route reads its stream, the CDR export reads the log).
 */
import type { DomainEvent } from '../src/domain/events.ts';
import type { Direction, ReasonCode, TerminatedBy } from '../src/domain/types.ts';
import type { EventPosition, Projection } from './projection.ts';

/** A coarse call state for lists (a call's own route gives the machine's exact state). */
export type CallListState = 'offered' | 'dialing' | 'connecting' | 'active' | 'hangup-requested' | 'ending' | 'ended';
export const CALL_LIST_STATES: readonly CallListState[] = ['offered', 'dialing', 'connecting', 'active', 'hangup-requested', 'ending', 'ended'];

export interface CallSummary {
  callId: string;
  /** Global position of CallOffered: the list's order and paging cursor. */
  seq: number;
  state: CallListState;
  direction: Direction;
  from: string;
  to: string;
  botId: string;
  offeredAt: number;
  answeredAt?: number;
  endedAt?: number;
  reasonCode?: ReasonCode;
  reason?: string;
  terminatedBy?: TerminatedBy;
  durationMs?: number;
  sipStatus?: number;
  botOperationResult?: string;
}

export interface CallIndexObservers {
  /** CallAnswered → BotConversationStarted, ms. */
  botStart?(ms: number): void;
  /** BotHangupRequested → ByeSent, ms (includes the STT wait). */
  hangupToBye?(ms: number): void;
  callEnded?(summary: CallSummary): void;
  /** A BYE that waited for the caller's last words: the wait, ms. */
  sttWait?(ms: number, trigger: string): void;
  sttFinal?(): void;
}

export interface CallIndexState {
  byId: Map<string, CallSummary>;
  /** Summaries in seq order; entries before `head` were dropped by retention (`undefined` until compaction). */
  order: Array<CallSummary | undefined>;
  head: number;
  byState: Map<CallListState, number>;
  /** CDRs (ended calls) by reasonCode, over the whole history folded. */
  endedByReason: Map<string, number>;
  /** Ended calls whose bot has not yet been told (no delivered/skipped notice, attempts left). */
  awaitingNotice: Set<string>;
  /** BotHangupRequested time per live call (for hangupToBye). */
  hangupAt: Map<string, number>;
  droppedEnded: number;
}

export interface CallIndexOptions {
  maxEndedCalls?: number;
  /** Notice attempts after which a failed notice is given up (as the notifier does). */
  notifierAttempts?: number;
  observers?: CallIndexObservers;
}

function bump(m: Map<string, number>, k: string, d: number): void {
  m.set(k, (m.get(k) ?? 0) + d);
}

export function callIndexProjection(options: CallIndexOptions = {}): Projection<CallIndexState> {
  const maxEnded = options.maxEndedCalls ?? 100_000;
  const attempts = options.notifierAttempts ?? 5;
  const obs = options.observers ?? {};
  const setState = (s: CallIndexState, c: CallSummary, next: CallListState) => {
    bump(s.byState as Map<string, number>, c.state, -1);
    c.state = next;
    bump(s.byState as Map<string, number>, next, 1);
  };
  const trim = (s: CallIndexState) => {
    let ended = s.byState.get('ended') ?? 0;
    while (ended > maxEnded && s.head < s.order.length) {
      const c = s.order[s.head];
      if (c && c.state === 'ended') {
        s.order[s.head] = undefined;
        s.byId.delete(c.callId);
        bump(s.byState as Map<string, number>, 'ended', -1);
        s.droppedEnded++;
        ended--;
      } else if (c) break; // a live call at the front: trim again once it ends
      s.head++;
    }
    if (s.head > 4096 && s.head > s.order.length / 2) {
      s.order = s.order.slice(s.head);
      s.head = 0;
    }
  };
  return {
    name: 'call-index',
    streams: ['call-', 'notify-'],
    init: () => ({ byId: new Map(), order: [], head: 0, byState: new Map(), endedByReason: new Map(), awaitingNotice: new Set(), hangupAt: new Map(), droppedEnded: 0 }),
    apply(s, e: DomainEvent, at: EventPosition) {
      if (e.type === 'CallOffered') {
        if (s.byId.has(e.callId)) return;
        const d = e.data;
        const c: CallSummary = { callId: e.callId, seq: at.position, state: d.direction === 'outbound' ? 'dialing' : 'offered', direction: d.direction, from: d.from, to: d.to, botId: d.botId, offeredAt: e.at };
        s.byId.set(e.callId, c);
        s.order.push(c);
        bump(s.byState as Map<string, number>, c.state, 1);
        return;
      }
      if (e.type === 'BotNotified') {
        if (e.data.outcome !== 'failed' || e.data.attempt >= attempts) s.awaitingNotice.delete(e.callId);
        return;
      }
      const c = s.byId.get(e.callId);
      if (!c || c.state === 'ended') return;
      switch (e.type) {
        case 'CallAnswered':
          c.answeredAt = e.at;
          setState(s, c, 'connecting');
          break;
        case 'BotConversationStarted':
          if (c.state === 'connecting') setState(s, c, 'active');
          if (c.answeredAt !== undefined) obs.botStart?.(Math.max(0, e.at - c.answeredAt));
          break;
        case 'BotHangupRequested':
        case 'OperatorHangupRequested':
          if (c.state !== 'ending') setState(s, c, 'hangup-requested');
          s.hangupAt.set(e.callId, e.at);
          break;
        case 'SessionParamsUpdated':
          if (e.data.params.botOperationResult !== undefined) c.botOperationResult = e.data.params.botOperationResult;
          break;
        case 'OutboundCallFailed':
          c.sipStatus = e.data.sipStatus;
          setState(s, c, 'ending');
          break;
        case 'SttFinalReceived':
          obs.sttFinal?.();
          break;
        case 'ByeSent': {
          const h = s.hangupAt.get(e.callId);
          if (h !== undefined) obs.hangupToBye?.(Math.max(0, e.at - h));
          if (e.data.trigger === 'stt-final' || e.data.trigger === 'deadline') obs.sttWait?.(e.data.sttWaitMs, e.data.trigger);
          setState(s, c, 'ending');
          break;
        }
        case 'ByeReceived':
        case 'CancelReceived':
          setState(s, c, 'ending');
          break;
        case 'CallEnded':
          Object.assign(c, { endedAt: e.at, reasonCode: e.data.reasonCode, reason: e.data.reason, terminatedBy: e.data.terminatedBy, durationMs: e.data.durationMs });
          if (e.data.sipStatus !== undefined) c.sipStatus = e.data.sipStatus;
          setState(s, c, 'ended');
          bump(s.endedByReason, e.data.reasonCode, 1);
          s.awaitingNotice.add(e.callId);
          s.hangupAt.delete(e.callId);
          obs.callEnded?.(c);
          trim(s);
          break;
        default:
          break;
      }
    },
  };
}

export interface CallQuery {
  state?: CallListState;
  botId?: string;
  reasonCode?: string;
  /** offeredAt >= from (ms) */
  from?: number;
  /** offeredAt < to (ms) */
  to?: number;
  /** Only calls with seq < before (paging, newest first). */
  before?: number;
  limit: number;
}

/** Newest first. `next` is the cursor for the following page (`before`), when there may be more. */
export function queryCalls(s: CallIndexState, q: CallQuery): { calls: CallSummary[]; next?: number } {
  const out: CallSummary[] = [];
  let i = s.order.length - 1;
  if (q.before !== undefined) {
    // Entries from `head` on are all present (retention only drops at the front), in seq order.
    let lo = s.head;
    let hi = s.order.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s.order[mid]!.seq >= q.before) hi = mid - 1;
      else lo = mid + 1;
    }
    i = hi;
  }
  for (; i >= s.head; i--) {
    const c = s.order[i];
    if (!c || (q.before !== undefined && c.seq >= q.before)) continue;
    if (q.state && c.state !== q.state) continue;
    if (q.botId && c.botId !== q.botId) continue;
    if (q.reasonCode && c.reasonCode !== q.reasonCode) continue;
    if (q.from !== undefined && c.offeredAt < q.from) continue;
    if (q.to !== undefined && c.offeredAt >= q.to) continue;
    if (out.length === q.limit) return { calls: out, next: out[out.length - 1]!.seq };
    out.push(c);
  }
  return { calls: out };
}
