/**
 * A Dialogflow custom payload (CX `responseMessages[].payload`, ES `fulfillmentMessages[].payload`)
 * in AudioCodes form, turned into normalized bot activities:
 *
 *   { "sessionParams": { … } }                       → one event activity carrying sessionParams
 *   { "activities": [ { "type": "event", … }, … ] }   → each activity as-is (normalized)
 *
 * When a payload holds both, the sessionParams activity comes first, so a `hangupReason` set in
 * the same payload as a hangup applies to it. Params stay raw: the runtime validates them.
 * Garbage (a payload that is not an object, `activities` that is not an array, an activity that
 * is not an object or has no valid type) is skipped with a log line; nothing here throws.
 */
import type { BotActivity } from '../port.ts';
import type { LogLevel } from '../connector-deps.ts';
import { isPlainObject, structToJson } from './struct.ts';
import { excerpt } from '../../domain/bot-params.ts';
import { TRANSFER_ACTIVITY_NAMES } from '../../domain/transfer.ts';

export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** More activities than this in one payload are dropped (logged). */
export const MAX_ACTIVITIES_PER_PAYLOAD = 100;

/** Name of the event activity that carries a payload's top-level `sessionParams`. */
export const SESSION_PARAMS_EVENT = 'config';

/** The activity the runtime recognizes as a hangup request. */
export function hangupActivity(): BotActivity {
  return { type: 'event', name: 'hangup' };
}

export function isHangup(a: BotActivity): boolean {
  return a.type === 'event' && a.name === 'hangup';
}

/**
 * One activity from a payload's `activities` array, or `undefined` (logged) when it is unusable.
 * Kept: id, type, name, text, activityParams, sessionParams; other fields are ignored.
 */
export function normalizeActivity(raw: unknown, where: string, log: Log): BotActivity | undefined {
  if (!isPlainObject(raw)) {
    log('warn', 'dialogflow payload activity skipped: not an object', { where, excerpt: excerpt(raw) });
    return undefined;
  }
  const type = raw.type;
  if (type !== 'message' && type !== 'event') {
    log('warn', 'dialogflow payload activity skipped: type must be "message" or "event"', { where, excerpt: excerpt(raw) });
    return undefined;
  }
  for (const key of ['id', 'name', 'text'] as const) {
    if (raw[key] !== undefined && raw[key] !== null && typeof raw[key] !== 'string') {
      log('warn', `dialogflow payload activity skipped: ${key} must be a string`, { where, excerpt: excerpt(raw) });
      return undefined;
    }
  }
  const a: BotActivity = { type };
  if (typeof raw.id === 'string') a.id = raw.id;
  if (typeof raw.name === 'string') a.name = raw.name;
  if (typeof raw.text === 'string') a.text = raw.text;
  if (raw.activityParams !== undefined) a.activityParams = raw.activityParams;
  if (raw.sessionParams !== undefined) a.sessionParams = raw.sessionParams;
  return a;
}

/**
 * The activities one custom payload stands for, in order: its `sessionParams` (if any), then its
 * `activities`. `payload` may be a Struct message or plain JSON.
 */
export function payloadToActivities(payload: unknown, where: string, log: Log): BotActivity[] {
  const json = structToJson(payload);
  if (json === undefined) {
    log('warn', 'dialogflow custom payload skipped: not a JSON object', { where, excerpt: excerpt(payload) });
    return [];
  }
  const out: BotActivity[] = [];
  if (json.sessionParams !== undefined) {
    if (isPlainObject(json.sessionParams)) out.push({ type: 'event', name: SESSION_PARAMS_EVENT, sessionParams: json.sessionParams });
    else log('warn', 'dialogflow custom payload sessionParams skipped: not a JSON object', { where, excerpt: excerpt(json.sessionParams) });
  }
  if (json.activities !== undefined) {
    if (!Array.isArray(json.activities)) {
      log('warn', 'dialogflow custom payload activities skipped: not an array', { where, excerpt: excerpt(json.activities) });
    } else {
      const list = json.activities;
      if (list.length > MAX_ACTIVITIES_PER_PAYLOAD) {
        log('warn', `dialogflow custom payload: only the first ${MAX_ACTIVITIES_PER_PAYLOAD} activities are used`, { where, count: list.length });
      }
      list.slice(0, MAX_ACTIVITIES_PER_PAYLOAD).forEach((raw, i) => {
        const a = normalizeActivity(raw, `${where}.activities[${i}]`, log);
        if (a) out.push(a);
      });
    }
  }
  if (json.sessionParams === undefined && json.activities === undefined) {
    log('debug', 'dialogflow custom payload without activities or sessionParams ignored', { where, keys: Object.keys(json).slice(0, 20) });
  }
  return out;
}

export function isTransfer(a: BotActivity): boolean {
  return a.type === 'event' && a.name !== undefined && TRANSFER_ACTIVITY_NAMES.has(a.name);
}

/**
 * The telephony transfer-call response message (CX `telephonyTransferCall`, ES v2beta1's
 * TELEPHONY-platform `telephonyTransferCall`) as a `transfer` event: `phoneNumber` (E.164)
 * becomes the target `tel:<phoneNumber>`, `sipUri` (when present) is taken as it is. The target
 * is not checked here: the runtime checks it and records a rejection.
 */
export function telephonyTransferActivity(message: unknown, where: string, log: Log): BotActivity | undefined {
  const m = structToJson(message) ?? (isPlainObject(message) ? message : undefined);
  const target = typeof m?.sipUri === 'string' && m.sipUri !== '' ? m.sipUri : typeof m?.phoneNumber === 'string' && m.phoneNumber !== '' ? `tel:${m.phoneNumber}` : undefined;
  if (target === undefined) {
    log('warn', 'dialogflow telephony transfer without phoneNumber or sipUri skipped', { where, excerpt: excerpt(message) });
    return undefined;
  }
  return { type: 'event', name: 'transfer', activityParams: { transferTarget: target } };
}

/**
 * Appends the hangup an agent signalled by other means (CX End Session, ES end-of-conversation
 * intent) after everything else in the response, unless the response already asked for one, or
 * asked for a transfer (the transfer ends the call when it succeeds; when it fails the bot goes on).
 * Putting it last lets sessionParams from any payload of the same response apply first.
 */
export function withEndOfSession(activities: BotActivity[], ended: boolean): BotActivity[] {
  if (!ended || activities.some(isHangup) || activities.some(isTransfer)) return activities;
  return [...activities, hangupActivity()];
}

/** Text fragments from a `text: {text: [...]}` message, non-empty strings only. */
export function textsOf(textMessage: unknown): string[] {
  if (!isPlainObject(textMessage) || !Array.isArray(textMessage.text)) return [];
  return textMessage.text.filter((t): t is string => typeof t === 'string' && t.trim() !== '');
}
