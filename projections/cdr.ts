/**
 * Call detail records: one row per call, derived only from its events. The bot's hangup reason,
 * the headers that really went on the BYE and the last botOperationResult/Data reach the CDR
 * whoever ended the call.
 */
import type { DomainEvent } from '../src/domain/events.ts';
import type { Direction, ReasonCode, SipHeader, TerminatedBy } from '../src/domain/types.ts';
import type { Projection } from './projection.ts';
import { iso } from '../src/domain/clock.ts';

export interface Cdr {
  callId: string;
  direction?: Direction;
  from?: string;
  to?: string;
  botId?: string;
  sipCallId?: string;
  offeredAt?: string;
  answeredAt?: string;
  endedAt?: string;
  /** From answer to end, ms (0 when never answered). */
  durationMs?: number;
  reasonCode?: ReasonCode;
  reason?: string;
  terminatedBy?: TerminatedBy;
  /** The bot's hangupReason (also on the BYE's Reason header). */
  hangupReason?: string;
  /** The headers the BYE carried, exactly as sent. */
  hangupSipHeaders?: SipHeader[];
  byeReasonHeader?: string | null;
  /** The caller's Reason header when the caller hung up. */
  peerReasonHeader?: string;
  botOperationResult?: string;
  botOperationData?: unknown;
  /** Final SIP status of a failed outbound call. */
  sipStatus?: number;
  /** How long the BYE waited for the STT final, ms. */
  sttWaitMs?: number;
  /** Bot inputs dropped by the rules (see BotInputRejected events). */
  rejectedBotInputs: number;
  /** Outcome of the end-of-call notice to the bot (from `notify-` streams). */
  botNotified?: 'delivered' | 'failed' | 'skipped';
  botNotifyAttempts?: number;
  /** The bot's last transfer: its target (sip:/tel: URI as put in Refer-To). */
  transferTarget?: string;
  /** `requested` (no outcome yet when the call ended), `transferred`, `failed`. */
  transferOutcome?: 'requested' | 'transferred' | 'failed';
  /** The last transfer's final SIP status (REFER refusal or NOTIFY sipfrag; 0: none, e.g. timeout). */
  transferSipStatus?: number;
  /** Transfers the bot asked for and the call took (TransferRequested). */
  transferAttempts?: number;
  /** Answering-machine detection's verdict (human, machine, silence) and why. */
  machineDetection?: 'human' | 'machine' | 'silence';
  machineDetectionReason?: string;
}


/** Folds one event into a CDR (exported for the call-status projection and tests). */
export function applyToCdr(cdr: Cdr, e: DomainEvent): void {
  switch (e.type) {
    case 'CallOffered':
      Object.assign(cdr, { direction: e.data.direction, from: e.data.from, to: e.data.to, botId: e.data.botId, sipCallId: e.data.sipCallId, offeredAt: iso(e.at) });
      break;
    case 'CallAnswered':
      cdr.answeredAt = iso(e.at);
      break;
    case 'OutboundCallFailed':
      cdr.sipStatus = e.data.sipStatus;
      break;
    case 'SessionParamsUpdated':
      if (e.data.params.botOperationResult !== undefined) cdr.botOperationResult = e.data.params.botOperationResult;
      if (e.data.params.botOperationData !== undefined) cdr.botOperationData = e.data.params.botOperationData;
      break;
    case 'BotHangupRequested':
      if (e.data.hangupReason !== undefined) cdr.hangupReason = e.data.hangupReason;
      break;
    case 'BotInputRejected':
      cdr.rejectedBotInputs++;
      break;
    case 'TransferRequested':
      cdr.transferTarget = e.data.target;
      cdr.transferOutcome = 'requested';
      cdr.transferAttempts = (cdr.transferAttempts ?? 0) + 1;
      delete cdr.transferSipStatus;
      break;
    case 'TransferProgressed':
      if (e.data.sipStatus >= 200 || e.data.sipStatus === 0) cdr.transferSipStatus = e.data.sipStatus;
      if (e.data.source === 'notify' && e.data.sipStatus >= 200 && e.data.sipStatus < 300) cdr.transferOutcome = 'transferred';
      break;
    case 'TransferFailed':
      cdr.transferOutcome = 'failed';
      cdr.transferSipStatus = e.data.sipStatus;
      break;
    case 'AmdVerdictReached':
      cdr.machineDetection = e.data.result;
      cdr.machineDetectionReason = e.data.reason;
      break;
    case 'ByeSent':
      cdr.hangupSipHeaders = e.data.headers;
      cdr.byeReasonHeader = e.data.reasonHeader;
      cdr.sttWaitMs = e.data.sttWaitMs;
      break;
    case 'ByeReceived':
      if (e.data.reasonHeader !== undefined) cdr.peerReasonHeader = e.data.reasonHeader;
      break;
    case 'CallEnded':
      Object.assign(cdr, { endedAt: iso(e.at), durationMs: e.data.durationMs, reasonCode: e.data.reasonCode, reason: e.data.reason, terminatedBy: e.data.terminatedBy });
      if (e.data.sipStatus !== undefined) cdr.sipStatus = e.data.sipStatus;
      break;
    case 'BotNotified':
      cdr.botNotifyAttempts = (cdr.botNotifyAttempts ?? 0) + 1;
      if (cdr.botNotified !== 'delivered') cdr.botNotified = e.data.outcome;
      break;
    default:
      break;
  }
}

export const cdrProjection: Projection<Map<string, Cdr>, Cdr[]> = {
  name: 'cdr',
  streams: ['call-', 'notify-'],
  init: () => new Map(),
  apply(state, e) {
    let cdr = state.get(e.callId);
    if (!cdr) state.set(e.callId, (cdr = { callId: e.callId, rejectedBotInputs: 0 }));
    applyToCdr(cdr, e);
  },
  output: (state) => [...state.values()],
};

export const CDR_COLUMNS: Array<keyof Cdr> = [
  'callId', 'direction', 'from', 'to', 'botId', 'sipCallId', 'offeredAt', 'answeredAt', 'endedAt', 'durationMs', 'reasonCode', 'reason',
  'terminatedBy', 'hangupReason', 'hangupSipHeaders', 'byeReasonHeader', 'peerReasonHeader', 'botOperationResult', 'botOperationData',
  'sipStatus', 'sttWaitMs', 'rejectedBotInputs', 'botNotified', 'botNotifyAttempts',
  'transferTarget', 'transferOutcome', 'transferSipStatus', 'transferAttempts', 'machineDetection', 'machineDetectionReason',
];

/** RFC 4180 CSV: objects as JSON, quotes doubled, every field quoted when needed. */
export function cdrToCsvRow(cdr: Cdr): string {
  return CDR_COLUMNS.map((k) => {
    const v = cdr[k];
    if (v === undefined || v === null) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }).join(',');
}
