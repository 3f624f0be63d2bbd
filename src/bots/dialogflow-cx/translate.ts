/**
 * A CX DetectIntentResponse as normalized activities, in the order of
 * `queryResult.responseMessages`:
 *   text.text[]                 → `message` activities (one per non-empty variant)
 *   outputAudioText.text        → a `message` activity
 *   payload (Struct)            → its `sessionParams` then its `activities` (payload.ts)
 *   telephonyTransferCall       → a `transfer` event to `tel:<phoneNumber>` (or its `sipUri`)
 *   endInteraction, or the current page is END_SESSION → a `hangup` event, placed last (not
 *                                 when the response asks for a transfer)
 * Other message kinds (conversationSuccess, liveAgentHandoff, playAudio, …) are logged at debug
 * level and ignored. Never throws, whatever the response holds.
 */
import type { BotActivity } from '../port.ts';
import { isPlainObject } from '../dialogflow-common/struct.ts';
import { payloadToActivities, telephonyTransferActivity, textsOf, withEndOfSession, type Log } from '../dialogflow-common/payload.ts';

/** The page a CX session is on once it has ended (End Session, or End Flow of the start flow). */
export const CX_END_SESSION_PAGE = /\/pages\/END_SESSION$/;

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** True when the response says the session is over. */
export function cxSessionEnded(queryResult: Record<string, unknown>): boolean {
  const messages = Array.isArray(queryResult.responseMessages) ? queryResult.responseMessages : [];
  if (messages.some((m) => isPlainObject(m) && (m.message === 'endInteraction' || present(m.endInteraction)))) return true;
  const page = queryResult.currentPage;
  return isPlainObject(page) && typeof page.name === 'string' && CX_END_SESSION_PAGE.test(page.name);
}

export function cxResponseToActivities(response: unknown, log: Log): BotActivity[] {
  if (!isPlainObject(response) || !isPlainObject(response.queryResult)) {
    log('warn', 'dialogflow-cx response without queryResult ignored', {});
    return [];
  }
  const qr = response.queryResult;
  const out: BotActivity[] = [];
  const messages = Array.isArray(qr.responseMessages) ? qr.responseMessages : [];
  messages.forEach((m, i) => {
    const where = `responseMessages[${i}]`;
    if (!isPlainObject(m)) {
      log('warn', 'dialogflow-cx response message skipped: not an object', { where });
      return;
    }
    if (present(m.text)) {
      for (const text of textsOf(m.text)) out.push({ type: 'message', text });
    } else if (present(m.outputAudioText)) {
      const oat = m.outputAudioText;
      if (isPlainObject(oat) && typeof oat.text === 'string' && oat.text.trim() !== '') out.push({ type: 'message', text: oat.text });
      else log('debug', 'dialogflow-cx outputAudioText without plain text ignored (SSML is not spoken as text)', { where });
    } else if (present(m.payload)) {
      out.push(...payloadToActivities(m.payload, `${where}.payload`, log));
    } else if (present(m.telephonyTransferCall)) {
      const t = telephonyTransferActivity(m.telephonyTransferCall, `${where}.telephonyTransferCall`, log);
      if (t) out.push(t);
    } else if (!(m.message === 'endInteraction' || present(m.endInteraction))) {
      log('debug', 'dialogflow-cx response message kind ignored', { where, kind: typeof m.message === 'string' ? m.message : Object.keys(m).slice(0, 5) });
    }
  });
  return withEndOfSession(out, cxSessionEnded(qr));
}
