/**
 * The AudioCodes Bot API dialect, as pure functions: what the runtime sends (the opening `start`
 * event, the caller's words, the disconnect body) and how a bot's activity becomes a BotActivity.
 * In this dialect parameters sit on the activity itself (`activityParams`, `sessionParams`).
 */
import type { BotActivity, BotCallInfo, EndNotice } from '../port.ts';
import type { Normalized } from '../connector-deps.ts';
import { isRecord } from '../../domain/json.ts';

/** An activity as the runtime sends it to an AudioCodes Bot API bot. */
export interface AcOutgoingActivity {
  id: string;
  timestamp: string;
  type: 'message' | 'event';
  name?: string;
  text?: string;
  parameters?: Record<string, unknown>;
  value?: Record<string, unknown> | string;
}

export const MAX_ACTIVITY_ID_CHARS = 256;
export const MAX_ACTIVITY_TEXT_CHARS = 100_000;

/** The opening event: the bot learns who calls whom. */
export function acStartActivity(call: BotCallInfo, id: string, timestamp: string): AcOutgoingActivity {
  return {
    id,
    timestamp,
    type: 'event',
    name: 'start',
    parameters: {
      callId: call.callId,
      caller: call.caller,
      callee: call.callee,
      direction: call.direction,
      sipHeaders: call.sipHeaders,
    },
  };
}

/** The caller's words (a final speech-to-text result). */
export function acMessageActivity(text: string, id: string, timestamp: string): AcOutgoingActivity {
  return { id, timestamp, type: 'message', text };
}

/** An event for the bot, its fields in `value` (e.g. `transferStatus` after a failed transfer). */
export function acEventActivity(name: string, value: Record<string, unknown> | string, id: string, timestamp: string): AcOutgoingActivity {
  return { id, timestamp, type: 'event', name, value };
}

/** The body POSTed to `disconnectURL` when the call ended (spec: call disconnect notification). */
export function acDisconnectBody(conversation: string, notice: EndNotice): { conversation: string; reason: string; reasonCode: string } {
  return { conversation, reason: notice.reason, reasonCode: notice.reasonCode };
}

/**
 * One activity of a bot's reply, normalized. `message` needs a string `text` (or none); `event`
 * needs a non-empty `name`. Parameters are passed on raw: the runtime validates them.
 */
export function normalizeAcActivity(raw: unknown): Normalized<BotActivity> {
  if (!isRecord(raw)) return { ok: false, ignored: false, reason: 'activity is not a JSON object' };
  const { type, id, text, name } = raw;
  if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > MAX_ACTIVITY_ID_CHARS)) {
    return { ok: false, ignored: false, reason: `id must be a string of 1 to ${MAX_ACTIVITY_ID_CHARS} characters` };
  }
  if (text !== undefined && text !== null && (typeof text !== 'string' || text.length > MAX_ACTIVITY_TEXT_CHARS)) {
    return { ok: false, ignored: false, reason: `text must be a string of at most ${MAX_ACTIVITY_TEXT_CHARS} characters` };
  }
  const out: BotActivity = { type: 'message' };
  if (type === 'message') {
    if (typeof text === 'string') out.text = text;
  } else if (type === 'event') {
    if (typeof name !== 'string' || name.length === 0 || name.length > 256) return { ok: false, ignored: false, reason: 'event without a name' };
    out.type = 'event';
    out.name = name;
    if (typeof text === 'string') out.text = text;
  } else {
    return { ok: false, ignored: false, reason: `unknown activity type ${JSON.stringify(String(type)).slice(0, 40)}` };
  }
  if (typeof id === 'string') out.id = id;
  if (raw.activityParams !== undefined) out.activityParams = raw.activityParams;
  if (raw.sessionParams !== undefined) out.sessionParams = raw.sessionParams;
  return { ok: true, activity: out };
}
