/**
 * The event catalogue. Every fact about a call is one of these, appended to `call-<callId>`
 * (BotNotified goes to `notify-<callId>`, so that CallEnded stays the last event of the call's
 * stream while deliveries to a slow bot go on). Names are past tense. `validateEvent` is the
 * boundary check used on append and on read.
 */
import { VoxError, ErrorCodes } from './errors.ts';
import type { Direction, ReasonCode, SessionParams, SipHeader, TerminatedBy } from './types.ts';
import type { SipDialogState } from './sip-dialog.ts';
import { REASON_CODES } from './types.ts';

export const SCHEMA_VERSION = 1;

export interface CallEventDataMap {
  /** A call was offered (inbound INVITE) or placed (outbound dial). */
  CallOffered: {
    direction: Direction;
    from: string;
    to: string;
    sipCallId: string;
    botId: string;
    /** Selected headers of the INVITE (inbound) or the dial request (outbound). */
    headers?: Record<string, string>;
    /** Outbound: how long to ring before giving up (CANCEL → no-answer). */
    ringTimeoutMs?: number;
    /** Outbound, from the dial request: where call-status webhooks go, and which statuses. */
    statusCallback?: { url: string; events?: string[] };
    /** Inbound: 'after-bot' when the INVITE is answered only once the bot conversation exists (config `answer`). */
    answer?: 'after-bot';
  };
  CallAnswered: {
    sipStatus: number;
    /**
     * The SIP dialog as the answering node's adapter holds it, when the adapter can hand dialogs
     * over: another node that takes the call over adopts it to send the BYE (SignalingAdapter.adopt).
     */
    dialog?: SipDialogState;
  };
  /**
   * The media leg's negotiation settled (src/media/port.ts MediaInfo): on answer (inbound), on
   * the callee's answer (outbound), and on every re-INVITE/UPDATE that changed it (hold, resume,
   * a new address). A takeover node and an auditor read the codec and addresses from here.
   */
  MediaNegotiated: {
    engine: string;
    codec: string;
    payloadType: number;
    dtmfPayloadType?: number;
    local: { address: string; port: number };
    remote: { address: string; port: number };
    /** Our direction as written in our SDP. */
    direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
    /** What led to it: the initial offer/answer or an in-dialog update. */
    trigger: 'answer' | 'update';
    /** The caller holds the call (playback and recognition paused). */
    onHold: boolean;
    /** Media anchored on rtpengine: the session a takeover node re-attaches to (MediaInfo.anchor). */
    anchor?: { engine: 'rtpengine'; control: string; sessionId: string; peerTag: string; ourTag: string; offerer: 'peer' | 'us'; peerSdp: string };
  };
  /** Outbound: the callee rings (first 18x provisional response). */
  CallRinging: { sipStatus: number };
  /** Outbound call ended before answer with a final SIP status (0: no response at all). */
  OutboundCallFailed: { sipStatus: number; reasonCode: ReasonCode; reason: string };
  /** Decision: the ring timeout passed; the runtime CANCELs the INVITE. */
  RingTimeoutReached: { ringTimeoutMs: number };
  /** The caller CANCELled an inbound call before answer. */
  CancelReceived: Record<string, never>;
  BotConversationStarted: { provider: string; conversationId: string; ref: Record<string, unknown> };
  /** `conversationId` and `ref` when the conversation was created before the start failed: the bot is still told how the call ended. */
  BotStartFailed: { provider: string; code: string; message: string; conversationId?: string; ref?: Record<string, unknown>; sipStatus?: number };
  /** Parameters set by the bot's config (`source: config`), the dial request (`request`) or the bot (`bot`, with the `activityId` it came from). */
  SessionParamsUpdated: { params: SessionParams; source: 'config' | 'request' | 'bot'; activityId?: string };
  /** The bot asked to end the call. Values are the effective ones at request time. */
  BotHangupRequested: {
    hangupReason?: string;
    hangupSipHeaders: SipHeader[];
    delayMs: number;
    /** Absolute time (ISO) after which the BYE goes out even without an STT final. */
    deadline: string;
    activityId?: string;
    /**
     * Calls that speak: the latest time (ISO) a prompt still playing (a goodbye) may hold the BYE
     * (request time + speech goodbyeMaxMs). Absent: the BYE never waits for playback.
     */
    playbackDeadline?: string;
  };
  /** An operator asked over the HTTP API to end the call (reasonCode operator-disconnected, terminatedBy system). */
  OperatorHangupRequested: { reason: string; operator: string };
  /** Something the bot sent was dropped (bad header, out-of-range value, oversize data). */
  BotInputRejected: { field: string; reason: string; excerpt?: string; activityId?: string };
  SttStarted: Record<string, never>;
  /** The recognizer's final for an utterance (`text` empty when it heard no words). */
  SttFinalReceived: { text: string; confidence?: number };
  /**
   * The recognizer failed (process died or hung, credentials refused, timeout): an STT wait ends now.
   * `restartAttempt`/`restartInMs`: recognition restarts (the n-th restart of the call, after that
   * backoff); absent: the call goes on without recognition.
   */
  SttFailed: { code: string; message: string; restartAttempt?: number; restartInMs?: number };
  /** A bot message was queued for the caller (synthesis, then playback), as `text` after sanitizing. */
  PlaybackStarted: { playbackId: string; text: string; activityId?: string };
  /** That prompt was played to the end, cancelled (barge-in, leg gone) or failed (synthesizer error). */
  PlaybackFinished: { playbackId: string; outcome: 'played' | 'cancelled' | 'failed'; error?: string; activityId?: string };
  /** The caller pressed a key (RFC 4733 telephone-event), passed to the bot. */
  DtmfReceived: { digit: string; durationMs: number };
  /**
   * The bot asked to transfer the call (blind transfer by SIP REFER). `target` is the checked
   * sip:/sips:/tel: URI, `headers` the accepted transferSipHeaders, `deadline` (absolute ISO
   * time) when a transfer with no final outcome counts as failed.
   */
  TransferRequested: {
    target: string;
    headers: SipHeader[];
    referredBy?: string;
    handoverReason?: string;
    timeoutMs: number;
    deadline: string;
    activityId?: string;
  };
  /**
   * Decision, then effect: the REFER, recorded once it is on the wire (like ByeSent): Refer-To
   * `<target>`, Referred-By `<referredBy>` when given, `headers` as put on the REFER. `error`
   * only when it could not be sent (the failure then follows as TransferProgressed sipStatus 0).
   */
  ReferSent: { target: string; referredBy?: string; headers: SipHeader[]; error?: string };
  /**
   * What the SIP side said about the transfer: `refer-response` is the final response to our
   * REFER (202 accepted; >= 300 refused; 0: no response, or it could not be sent), `notify` the
   * status line of a NOTIFY's message/sipfrag body (1xx progress, 2xx transferred, >= 300 failed).
   */
  TransferProgressed: { source: 'refer-response' | 'notify'; sipStatus: number; reason?: string };
  /**
   * Decision: the transfer failed (REFER refused or unanswered, a NOTIFY with a failure, or the
   * deadline passed); the bot is told (`transferStatus` in its dialect) and the call goes on.
   */
  TransferFailed: { sipStatus: number; reasonCode: ReasonCode; reason: string; cause: 'refer-failed' | 'notify-failure' | 'timeout' };
  /**
   * Answering-machine detection (outbound calls with session param machineDetection): what the
   * audio analyzer measured after answer (ms from answer; src/domain/amd.ts AmdObservation).
   */
  AmdObserved: {
    initialSilenceMs: number;
    greetingMs: number;
    silenceAfterMs: number;
    endedBy: 'silence-after-greeting' | 'long-greeting' | 'initial-silence' | 'beep' | 'timeout';
    beepWaitMs: number;
  };
  /** The analyzer heard a beep: a steady tone of `freqHz` from `atMs` after answer, `durationMs` long. */
  AmdBeepDetected: { atMs: number; freqHz: number; durationMs: number };
  /**
   * Decision: the detector's verdict, from AmdObserved, AmdBeepDetected and the words recognised
   * meanwhile. `action`: tell-bot (a `machineDetection` event) or disconnect (a machine under
   * policy disconnect: BYE, CallEnded machine-detected).
   */
  AmdVerdictReached: {
    result: 'human' | 'machine' | 'silence';
    reason: string;
    words: number;
    greetingMs: number;
    beep: boolean;
    policy: 'detect' | 'disconnect' | 'detect-beep';
    action: 'tell-bot' | 'disconnect';
  };
  /** Decision, then effect: the BYE the runtime sends, with headers exactly as they go on the wire. */
  ByeSent: {
    reasonHeader: string | null;
    headers: SipHeader[];
    /** stt-failed: the recognizer failed during the STT wait; playback-finished: the goodbye prompt ended. */
    trigger: 'immediate' | 'stt-final' | 'stt-failed' | 'playback-finished' | 'deadline' | 'error' | 'transferred' | 'machine-detected';
    /** How long the BYE waited for the STT final (0 when it did not wait). */
    sttWaitMs: number;
    /** Set when the BYE could not be put on the wire (the call ends all the same). */
    error?: string;
  };
  /** The peer's BYE (answered 200 OK by the SIP adapter). */
  ByeReceived: { reasonHeader?: string };
  /** Something failed inside the runtime or a port (media, SIP transport). */
  CallErrored: {
    code: string;
    message: string;
    /** Inbound before answer: the final SIP status the INVITE is refused with (488 no codec, 503 no media port). */
    sipStatus?: number;
  };
  /** Decision: the call is over. Always the last event of its stream. */
  CallEnded: {
    reasonCode: ReasonCode;
    reason: string;
    terminatedBy: TerminatedBy;
    durationMs: number;
    sipStatus?: number;
  };
}

export interface NotifyEventDataMap {
  /** One delivery attempt of the end-of-call notice to the bot. */
  BotNotified: {
    reasonCode: ReasonCode;
    reason: string;
    provider: string;
    attempt: number;
    outcome: 'delivered' | 'failed' | 'skipped';
    error?: string;
    /** The CallEnded event id: the delivery's idempotency key. */
    deliveryId: string;
  };
  /** One call-status webhook delivery attempt (stream `status-<callId>`). */
  StatusWebhookAttempted: {
    /** The id of the call event the status comes from: the webhook's idempotency key. */
    deliveryId: string;
    status: string;
    /** The URL without its query string (which may carry a receiver's secret). */
    url: string;
    attempt: number;
    /** delivered: a 2xx; failed: retried later; gave-up: no attempts left (or a 4xx other than 408/429). */
    outcome: 'delivered' | 'failed' | 'gave-up';
    httpStatus?: number;
    error?: string;
    durationMs: number;
  };
}

export type EventDataMap = CallEventDataMap & NotifyEventDataMap;
export type CallEventType = keyof CallEventDataMap;
export type EventType = keyof EventDataMap;

/** A typed event as the machine and projections see it. */
export type DomainEvent<T extends EventType = EventType> = T extends EventType
  ? { type: T; data: EventDataMap[T]; callId: string; at: number }
  : never;
export type CallEvent = DomainEvent<CallEventType>;

/** Events the outside world causes (replayed by `--verify`); the rest are the machine's decisions. */
export const INPUT_EVENTS: ReadonlySet<CallEventType> = new Set<CallEventType>([
  'CallOffered', 'CallRinging', 'CallAnswered', 'OutboundCallFailed', 'CancelReceived', 'BotConversationStarted', 'BotStartFailed',
  'SessionParamsUpdated', 'BotHangupRequested', 'OperatorHangupRequested', 'BotInputRejected', 'SttStarted', 'SttFinalReceived', 'ByeReceived', 'CallErrored',
  'MediaNegotiated', 'SttFailed', 'PlaybackStarted', 'PlaybackFinished', 'DtmfReceived',
  'TransferRequested', 'TransferProgressed', 'AmdObserved', 'AmdBeepDetected',
]);
/** Delivery records, kept beside the call's stream (`notify-`, `status-`), never in it. */
export const DELIVERY_EVENTS: ReadonlySet<EventType> = new Set<EventType>(['BotNotified', 'StatusWebhookAttempted']);
export const DECISION_EVENTS: ReadonlySet<CallEventType> = new Set<CallEventType>(['RingTimeoutReached', 'ByeSent', 'CallEnded', 'ReferSent', 'TransferFailed', 'AmdVerdictReached']);

// ---------------------------------------------------------------------------------------------
// Validation at the boundary. Small hand-written checks: each returns a list of problems.

type Check = (v: unknown, path: string, out: string[]) => void;
const str: Check = (v, p, o) => void (typeof v !== 'string' && o.push(`${p} must be a string`));
const optStr: Check = (v, p, o) => void (v !== undefined && str(v, p, o));
const int: Check = (v, p, o) => void (!(typeof v === 'number' && Number.isInteger(v)) && o.push(`${p} must be an integer`));
const nonNegInt: Check = (v, p, o) => void (!(typeof v === 'number' && Number.isInteger(v) && v >= 0) && o.push(`${p} must be a non-negative integer`));
const optNum: Check = (v, p, o) => void (v !== undefined && typeof v !== 'number' && o.push(`${p} must be a number`));
const isoTime: Check = (v, p, o) => void (!(typeof v === 'string' && !Number.isNaN(Date.parse(v))) && o.push(`${p} must be an ISO time`));
const oneOf = (values: readonly string[]): Check => (v, p, o) => void (!values.includes(v as string) && o.push(`${p} must be one of ${values.join(', ')}`));
const obj: Check = (v, p, o) => void (!(typeof v === 'object' && v !== null && !Array.isArray(v)) && o.push(`${p} must be an object`));
/** Runs `check` with a short path and prefixes `prefix` to its problems only if there are any (no allocation when valid: this runs on every read). */
const under = (prefix: string, check: Check, v: unknown, name: string, o: string[]) => {
  const before = o.length;
  check(v, name, o);
  for (let i = before; i < o.length; i++) o[i] = `${prefix}${o[i]}`;
};
const headers: Check = (v, p, o) => {
  if (!Array.isArray(v)) return void o.push(`${p} must be an array`);
  for (let i = 0; i < v.length; i++) {
    const h = v[i] as SipHeader | undefined;
    if (typeof h?.name !== 'string') o.push(`${p}[${i}].name must be a string`);
    if (typeof h?.value !== 'string') o.push(`${p}[${i}].value must be a string`);
  }
};
const shape = (fields: Record<string, Check>): Check => {
  const entries = Object.entries(fields); // once, not per event
  return (v, p, o) => {
    obj(v, p, o);
    if (typeof v !== 'object' || v === null) return;
    for (const [k, c] of entries) under(`${p}.`, c, (v as Record<string, unknown>)[k], k, o);
  };
};
const mediaAnchor = shape({ engine: oneOf(['rtpengine']), control: str, sessionId: str, peerTag: str, ourTag: str, offerer: oneOf(['peer', 'us']), peerSdp: str });
const reasonCode = oneOf(REASON_CODES);

const SCHEMAS: Record<EventType, Check> = {
  CallOffered: shape({
    direction: oneOf(['inbound', 'outbound']), from: str, to: str, sipCallId: str, botId: str,
    ringTimeoutMs: (v, p, o) => void (v !== undefined && nonNegInt(v, p, o)),
    statusCallback: (v, p, o) => void (v !== undefined && shape({ url: str })(v, p, o)),
    answer: (v, p, o) => void (v !== undefined && oneOf(['after-bot'])(v, p, o)),
  }),
  CallAnswered: shape({ sipStatus: int, dialog: (v, p, o) => void (v !== undefined && obj(v, p, o)) }),
  CallRinging: shape({ sipStatus: int }),
  OutboundCallFailed: shape({ sipStatus: nonNegInt, reasonCode, reason: str }),
  RingTimeoutReached: shape({ ringTimeoutMs: nonNegInt }),
  CancelReceived: obj,
  BotConversationStarted: shape({ provider: str, conversationId: str, ref: obj }),
  BotStartFailed: shape({ provider: str, code: str, message: str, conversationId: optStr, ref: (v, p, o) => void (v !== undefined && obj(v, p, o)), sipStatus: (v, p, o) => void (v !== undefined && int(v, p, o)) }),
  SessionParamsUpdated: shape({ params: obj, source: oneOf(['config', 'request', 'bot']), activityId: optStr }),
  OperatorHangupRequested: shape({ reason: str, operator: str }),
  BotHangupRequested: shape({
    hangupReason: optStr, hangupSipHeaders: headers, delayMs: nonNegInt, deadline: isoTime, activityId: optStr,
    playbackDeadline: (v, p, o) => void (v !== undefined && isoTime(v, p, o)),
  }),
  BotInputRejected: shape({ field: str, reason: str, excerpt: optStr, activityId: optStr }),
  SttStarted: obj,
  SttFinalReceived: shape({ text: str, confidence: optNum }),
  TransferRequested: shape({ target: str, headers, referredBy: optStr, handoverReason: optStr, timeoutMs: nonNegInt, deadline: isoTime, activityId: optStr }),
  ReferSent: shape({ target: str, referredBy: optStr, headers, error: optStr }),
  TransferProgressed: shape({ source: oneOf(['refer-response', 'notify']), sipStatus: nonNegInt, reason: optStr }),
  TransferFailed: shape({ sipStatus: nonNegInt, reasonCode, reason: str, cause: oneOf(['refer-failed', 'notify-failure', 'timeout']) }),
  AmdObserved: shape({ initialSilenceMs: nonNegInt, greetingMs: nonNegInt, silenceAfterMs: nonNegInt, endedBy: oneOf(['silence-after-greeting', 'long-greeting', 'initial-silence', 'beep', 'timeout']), beepWaitMs: nonNegInt }),
  AmdBeepDetected: shape({ atMs: nonNegInt, freqHz: nonNegInt, durationMs: nonNegInt }),
  AmdVerdictReached: shape({ result: oneOf(['human', 'machine', 'silence']), reason: str, words: nonNegInt, greetingMs: nonNegInt, beep: (v, p, o) => void (typeof v !== 'boolean' && o.push(`${p} must be a boolean`)), policy: oneOf(['detect', 'disconnect', 'detect-beep']), action: oneOf(['tell-bot', 'disconnect']) }),
  SttFailed: shape({ code: str, message: str, restartAttempt: (v, p, o) => void (v !== undefined && nonNegInt(v, p, o)), restartInMs: (v, p, o) => void (v !== undefined && nonNegInt(v, p, o)) }),
  PlaybackStarted: shape({ playbackId: str, text: str, activityId: optStr }),
  PlaybackFinished: shape({ playbackId: str, outcome: oneOf(['played', 'cancelled', 'failed']), error: optStr, activityId: optStr }),
  DtmfReceived: shape({ digit: (v, p, o) => void (!(typeof v === 'string' && /^[0-9*#A-D]$/.test(v)) && o.push(`${p} must be one of 0-9 * # A-D`)), durationMs: nonNegInt }),
  ByeSent: shape({ reasonHeader: (v, p, o) => void (v !== null && str(v, p, o)), headers, trigger: oneOf(['immediate', 'stt-final', 'stt-failed', 'playback-finished', 'deadline', 'error', 'transferred', 'machine-detected']), sttWaitMs: nonNegInt, error: optStr }),
  ByeReceived: shape({ reasonHeader: optStr }),
  CallErrored: shape({ code: str, message: str, sipStatus: (v, p, o) => void (v !== undefined && int(v, p, o)) }),
  MediaNegotiated: shape({
    engine: str,
    codec: str,
    payloadType: nonNegInt,
    dtmfPayloadType: (v, p, o) => void (v !== undefined && nonNegInt(v, p, o)),
    local: shape({ address: str, port: nonNegInt }),
    remote: shape({ address: str, port: nonNegInt }),
    direction: oneOf(['sendrecv', 'sendonly', 'recvonly', 'inactive']),
    trigger: oneOf(['answer', 'update']),
    onHold: (v, p, o) => void (typeof v !== 'boolean' && o.push(`${p} must be a boolean`)),
    anchor: (v, p, o) => void (v !== undefined && mediaAnchor(v, p, o)),
  }),
  CallEnded: shape({ reasonCode, reason: str, terminatedBy: oneOf(['bot', 'client', 'system']), durationMs: nonNegInt, sipStatus: (v, p, o) => void (v !== undefined && int(v, p, o)) }),
  BotNotified: shape({ reasonCode, reason: str, provider: str, attempt: nonNegInt, outcome: oneOf(['delivered', 'failed', 'skipped']), error: optStr, deliveryId: str }),
  StatusWebhookAttempted: shape({
    deliveryId: str, status: str, url: str, attempt: nonNegInt, outcome: oneOf(['delivered', 'failed', 'gave-up']),
    httpStatus: (v, p, o) => void (v !== undefined && int(v, p, o)), error: optStr, durationMs: nonNegInt,
  }),
};

export const EVENT_TYPES: readonly EventType[] = Object.keys(SCHEMAS) as EventType[];

export function isKnownEventType(type: string): type is EventType {
  return Object.prototype.hasOwnProperty.call(SCHEMAS, type);
}

/**
 * Checks an event's type, schema version and data. Throws VoxError EVENT_UNKNOWN_TYPE (e.g. an
 * event written by a newer voxledger), EVENT_SCHEMA_TOO_NEW or EVENT_INVALID, naming each problem.
 */
export function validateEvent(type: string, data: unknown, schemaVersion = SCHEMA_VERSION): void {
  if (!isKnownEventType(type)) {
    throw new VoxError(ErrorCodes.EVENT_UNKNOWN_TYPE, `unknown event type "${type}" (written by a newer voxledger?)`, { type });
  }
  if (schemaVersion > SCHEMA_VERSION) {
    throw new VoxError(ErrorCodes.EVENT_SCHEMA_TOO_NEW, `${type} has schema version ${schemaVersion}; this voxledger reads up to ${SCHEMA_VERSION}`, { type, schemaVersion });
  }
  const problems: string[] = [];
  SCHEMAS[type](data, 'data', problems);
  if (problems.length) throw new VoxError(ErrorCodes.EVENT_INVALID, `${type} is invalid: ${problems.join('; ')}`, { type, problems });
}

export function notifyStreamId(callId: string): string {
  return `notify-${callId}`;
}
