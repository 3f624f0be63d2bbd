/**
 * An ES DetectIntentResponse as normalized activities, in the order of
 * `queryResult.fulfillmentMessages` (default platform only; messages for other platforms such as
 * FACEBOOK or TELEPHONY are for those integrations and are ignored):
 *   text.text[]        → `message` activities (one per non-empty string)
 *   payload (Struct)   → its `sessionParams` then its `activities` (payload.ts)
 *   telephonyTransferCall (TELEPHONY platform; v2beta1 responses carry it) → a `transfer` event to `tel:<phoneNumber>`
 * With no fulfillmentMessages, a non-empty `fulfillmentText` becomes one `message` activity.
 * An intent set as end of conversation (`queryResult.diagnosticInfo.end_conversation == true`)
 * adds a `hangup` event, placed last. Never throws, whatever the response holds.
 */
import type { BotActivity } from '../port.ts';
import { isPlainObject, structToJson } from '../dialogflow-common/struct.ts';
import { payloadToActivities, telephonyTransferActivity, textsOf, withEndOfSession, type Log } from '../dialogflow-common/payload.ts';

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function isDefaultPlatform(p: unknown): boolean {
  return p === undefined || p === null || p === '' || p === 0 || p === 'PLATFORM_UNSPECIFIED';
}

/** True when the matched intent is marked "end of conversation". */
export function esConversationEnded(queryResult: Record<string, unknown>): boolean {
  const info = structToJson(queryResult.diagnosticInfo);
  return info !== undefined && info.end_conversation === true;
}

export function esResponseToActivities(response: unknown, log: Log): BotActivity[] {
  if (!isPlainObject(response) || !isPlainObject(response.queryResult)) {
    log('warn', 'dialogflow-es response without queryResult ignored', {});
    return [];
  }
  const qr = response.queryResult;
  const out: BotActivity[] = [];
  const messages = Array.isArray(qr.fulfillmentMessages) ? qr.fulfillmentMessages : [];
  messages.forEach((m, i) => {
    const where = `fulfillmentMessages[${i}]`;
    if (!isPlainObject(m)) {
      log('warn', 'dialogflow-es fulfillment message skipped: not an object', { where });
      return;
    }
    if (present(m.telephonyTransferCall) && (isDefaultPlatform(m.platform) || m.platform === 'TELEPHONY' || m.platform === 10)) {
      const t = telephonyTransferActivity(m.telephonyTransferCall, `${where}.telephonyTransferCall`, log);
      if (t) out.push(t);
      return;
    }
    if (!isDefaultPlatform(m.platform)) {
      log('debug', 'dialogflow-es fulfillment message for another platform ignored', { where, platform: String(m.platform).slice(0, 40) });
      return;
    }
    if (present(m.text)) {
      for (const text of textsOf(m.text)) out.push({ type: 'message', text });
    } else if (present(m.payload)) {
      out.push(...payloadToActivities(m.payload, `${where}.payload`, log));
    } else {
      log('debug', 'dialogflow-es fulfillment message kind ignored', { where, kind: typeof m.message === 'string' ? m.message : Object.keys(m).slice(0, 5) });
    }
  });
  if (messages.length === 0 && typeof qr.fulfillmentText === 'string' && qr.fulfillmentText.trim() !== '') {
    out.push({ type: 'message', text: qr.fulfillmentText });
  }
  return withEndOfSession(out, esConversationEnded(qr));
}
