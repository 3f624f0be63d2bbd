/** ES DetectIntentRequests (google.cloud.dialogflow.v2): events carry their own parameters. */
import type { BotCallInfo, EndNotice } from '../port.ts';
import { jsonToStruct } from '../dialogflow-common/struct.ts';
import { CONVERSATION_END_EVENT } from '../dialogflow-common/config.ts';
import { callInfoParameters } from '../dialogflow-common/dialect.ts';

export function esEventRequest(session: string, languageCode: string, name: string, parameters?: Record<string, unknown>): Record<string, unknown> {
  return {
    session,
    queryInput: { event: { name, languageCode, ...(parameters ? { parameters: jsonToStruct(parameters) } : {}) } },
  };
}

export function esWelcomeRequest(session: string, languageCode: string, event: string, call: BotCallInfo | undefined): Record<string, unknown> {
  return esEventRequest(session, languageCode, event, call ? callInfoParameters(call) : undefined);
}

export function esTextRequest(session: string, languageCode: string, text: string): Record<string, unknown> {
  return { session, queryInput: { text: { text, languageCode } } };
}

/** `conversationEnd` event with parameters `{reason, reasonCode}`. */
export function esConversationEndRequest(session: string, languageCode: string, notice: EndNotice): Record<string, unknown> {
  return esEventRequest(session, languageCode, CONVERSATION_END_EVENT, { reason: notice.reason, reasonCode: notice.reasonCode });
}
