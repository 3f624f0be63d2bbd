/** Shared domain vocabulary. */
export type Direction = 'inbound' | 'outbound';

export interface SipHeader {
  name: string;
  value: string;
}

/** End-of-call reason codes (spec: call disconnect notification). */
export type ReasonCode =
  | 'bot-disconnected'
  | 'client-disconnected'
  | 'transferred'
  | 'machine-detected'
  | 'error'
  | 'no-answer'
  | 'busy'
  | 'declined'
  /** Not in the bot platforms' list: an operator ended the call over the HTTP API. */
  | 'operator-disconnected';

export const REASON_CODES: readonly ReasonCode[] = [
  'bot-disconnected',
  'client-disconnected',
  'transferred',
  'machine-detected',
  'error',
  'no-answer',
  'busy',
  'declined',
  'operator-disconnected',
];

/** Who ended the call. */
export type TerminatedBy = 'bot' | 'client' | 'system';

export type BotOperationResult = 'success' | 'failure';

/** Parameters a bot (or the bot's config) may set for the rest of the call. */
export interface SessionParams {
  botOperationResult?: BotOperationResult;
  botOperationData?: unknown;
  delayBotDisconnectMs?: number;
  hangupReason?: string;
  hangupSipHeaders?: SipHeader[];
  /** Outbound calls: answering-machine detection policy (src/domain/amd.ts). */
  machineDetection?: 'detect' | 'disconnect' | 'detect-beep';
}

