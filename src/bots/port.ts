/**
 * The bot port. One connector per provider (src/bots/<provider>/). A connector speaks its
 * dialect and hands the runtime normalized activities; everything dialect-specific about
 * hangup, params and the end-of-call notice stays inside the connector.
 */
import type { ReasonCode } from '../domain/types.ts';
import { ErrorCodes, toVoxError, VoxError } from '../domain/errors.ts';

/**
 * A start that failed after the bot's conversation was created (its start event refused, say):
 * the error carries the conversation and its `ref`, so that BotStartFailed records them and the
 * bot is told how the call ended like any other (README, What happens when a bot misbehaves).
 */
export class ConversationStartError extends VoxError {
  readonly conversationId: string;
  readonly ref: Record<string, unknown>;
  constructor(cause: unknown, conversationId: string, ref: Record<string, unknown>) {
    const e = toVoxError(cause, ErrorCodes.BOT_UNREACHABLE);
    super(e.code, e.message, e.details, { cause });
    this.conversationId = conversationId;
    this.ref = ref;
  }
}

/**
 * An activity from the bot, normalized out of its dialect:
 * - AudioCodes Bot API: the activity itself (`activityParams`, `sessionParams`);
 * - Bot Framework: `channelData.activityParams` / `channelData.sessionParams`;
 * - Copilot Studio: the event's `value.activityParams` / `value.sessionParams`; legacy: `channelData`;
 * - Dialogflow CX/ES: custom payload `activities` and `sessionParams`, End Session / End Flow /
 *   end-of-conversation intent become a `hangup` event.
 * Params are passed raw (unvalidated): the runtime validates them and records rejections.
 */
export interface BotActivity {
  id?: string;
  type: 'message' | 'event';
  name?: string;
  text?: string;
  /** Raw parameters applying to this activity only. */
  activityParams?: unknown;
  /** Raw parameters applying to the rest of the call. */
  sessionParams?: unknown;
}

export interface BotCallInfo {
  callId: string;
  botId: string;
  direction: 'inbound' | 'outbound';
  caller: string;
  callee: string;
  sipHeaders: Record<string, string>;
  /**
   * `resume` only: the id of the last bot activity the call applied (recorded on one of its
   * inputs), if any. A connector that reads the conversation again from its start skips up to
   * and including it (ids compared for equality only).
   */
  lastActivityId?: string;
}

/** How a connector hands the bot's output to the runtime. */
export interface BotSink {
  activities(activities: BotActivity[]): void;
  /** The bot connection failed mid-call (the runtime ends the call with reasonCode error). */
  failed(error: { code: string; message: string }): void;
}

export interface BotSession {
  /** What is needed to deliver the end-of-call notice later, from any node (JSON). */
  readonly ref: Record<string, unknown>;
  readonly conversationId: string;
  /** A final speech-to-text result (the caller's words). */
  sendText(text: string): Promise<void>;
  /**
   * An event for the bot in its dialect, e.g. `transferStatus` `{status: 'failed', reasonCode,
   * reason}` after a failed transfer: an event activity with `value` (AudioCodes, Microsoft
   * dialects), an event input with parameters (Dialogflow). Rejects on failure.
   */
  sendEvent(name: string, value: Record<string, unknown>): Promise<void>;
  /**
   * A key the caller pressed (0-9 * # A-D), in the dialect's form: AudioCodes Bot API, Bot
   * Framework, Direct Line and Copilot Studio an event activity named `DTMF` with `value` the digit.
   * Dialogflow CX a `dtmf` query input, ES an event `DTMF`. Absent (scripted): the runtime sends `sendEvent('DTMF', {digit})` instead.
   */
  sendDtmf?(digit: string): Promise<void>;
  /** Stops refresh timers and sockets. Does not notify the bot (see `notifyEnded`). */
  close(): Promise<void>;
}

export interface EndNotice {
  reasonCode: ReasonCode;
  reason: string;
}

export interface BotConnector {
  readonly provider: string;
  /** Starts the conversation. Rejects with a VoxError (BOT_UNREACHABLE, BOT_TIMEOUT, BOT_AUTH, BOT_PROTOCOL). */
  start(call: BotCallInfo, sink: BotSink): Promise<BotSession>;
  /**
   * Tells the bot how the call ended, in its dialect, using the `ref` recorded at start. Must be
   * safe to call on any node and more than once (deliveries are at-least-once). Rejects on failure.
   * Resolves 'skipped' when the dialect does not want it (e.g. Dialogflow without sendEventsToBot).
   */
  notifyEnded(ref: Record<string, unknown>, notice: EndNotice): Promise<'delivered' | 'skipped'>;
  /**
   * Optional: rebuilds the session of a conversation started on another node (cluster takeover),
   * from the `ref` recorded on BotConversationStarted; the bot's later output goes to `sink`.
   * Rejects with a VoxError when the conversation cannot be re-attached (the runtime then ends
   * the call with VOX_BOT_UNREACHABLE). Absent: the dialect cannot re-attach; the call is ended.
   */
  resume?(ref: Record<string, unknown>, call: BotCallInfo, sink: BotSink): Promise<BotSession>;
  close(): Promise<void>;
}

