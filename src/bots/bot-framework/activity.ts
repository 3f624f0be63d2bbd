/**
 * The Microsoft activity dialects (Bot Framework, Direct Line, Copilot Studio and its legacy
 * form), as pure functions. They differ only in where a bot puts the call parameters:
 * - Bot Framework, Direct Line bots, Copilot Studio legacy: `channelData.activityParams` /
 *   `channelData.sessionParams`;
 * - Copilot Studio: the event's `value.activityParams` / `value.sessionParams`.
 * A bot's `endOfConversation` (what Copilot Studio's "End conversation" node sends) ends the
 * call like a `hangup` event. `typing`, `trace` and other activity types are ignored.
 */
import type { BotActivity, EndNotice } from '../port.ts';
import type { Normalized } from '../connector-deps.ts';
import { isRecord } from '../../domain/json.ts';

export type ParamsLocation = 'channelData' | 'value';

export const MAX_ACTIVITY_ID_CHARS = 256;
export const MAX_ACTIVITY_TEXT_CHARS = 100_000;

/** Types a bot may legitimately send that carry nothing for a call. */
const IGNORED_TYPES = new Set(['typing', 'trace', 'conversationUpdate', 'contactRelationUpdate', 'installationUpdate', 'messageReaction', 'messageUpdate', 'messageDelete', 'suggestion', 'handoff', 'invokeResponse', 'delay']);

/**
 * Where the parameters are: an object, or (leniently) a JSON text of an object, which is what a
 * Copilot Studio author gets when the value box holds JSON text instead of a record.
 */
function paramsHolder(v: unknown): Record<string, unknown> | undefined {
  if (isRecord(v)) return v;
  if (typeof v === 'string' && v.trimStart().startsWith('{') && v.length <= 1_000_000) {
    try {
      const parsed: unknown = JSON.parse(v);
      if (isRecord(parsed)) return parsed;
    } catch {
      /* not JSON: no parameters */
    }
  }
  return undefined;
}

/** Normalizes one activity a Microsoft-dialect bot sent. */
export function normalizeMicrosoftActivity(raw: unknown, where: ParamsLocation): Normalized<BotActivity> {
  if (!isRecord(raw)) return { ok: false, ignored: false, reason: 'activity is not a JSON object' };
  const { type, id, text, name } = raw;
  if (typeof type !== 'string' || type.length === 0) return { ok: false, ignored: false, reason: 'activity without a type' };
  if (id !== undefined && id !== null && (typeof id !== 'string' || id.length > MAX_ACTIVITY_ID_CHARS)) {
    return { ok: false, ignored: false, reason: `id must be a string of at most ${MAX_ACTIVITY_ID_CHARS} characters` };
  }
  if (text !== undefined && text !== null && (typeof text !== 'string' || text.length > MAX_ACTIVITY_TEXT_CHARS)) {
    return { ok: false, ignored: false, reason: `text must be a string of at most ${MAX_ACTIVITY_TEXT_CHARS} characters` };
  }
  let out: BotActivity;
  if (type === 'message') {
    out = { type: 'message' };
    if (typeof text === 'string') out.text = text;
  } else if (type === 'event') {
    if (typeof name !== 'string' || name.length === 0 || name.length > 256) return { ok: false, ignored: false, reason: 'event without a name' };
    out = { type: 'event', name };
    if (typeof text === 'string') out.text = text;
  } else if (type === 'endOfConversation') {
    out = { type: 'event', name: 'hangup' };
  } else if (IGNORED_TYPES.has(type)) {
    return { ok: false, ignored: true, reason: `activity type ${type} carries nothing for a call` };
  } else {
    return { ok: false, ignored: false, reason: `unknown activity type ${JSON.stringify(type).slice(0, 40)}` };
  }
  if (typeof id === 'string' && id.length > 0) out.id = id;
  const holder = paramsHolder(raw[where]);
  if (holder) {
    if (holder.activityParams !== undefined) out.activityParams = holder.activityParams;
    if (holder.sessionParams !== undefined) out.sessionParams = holder.sessionParams;
  }
  return { ok: true, activity: out };
}

/** The end-of-call notice in the Microsoft dialects (spec: call disconnect notification). */
export interface EndOfConversationBody {
  type: 'endOfConversation';
  text: string;
  channelData: { reason: string; reasonCode: string };
}

export function endOfConversationBody(notice: EndNotice): EndOfConversationBody {
  return { type: 'endOfConversation', text: notice.reason, channelData: { reason: notice.reason, reasonCode: notice.reasonCode } };
}
