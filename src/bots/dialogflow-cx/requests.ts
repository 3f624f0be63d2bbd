/**
 * CX DetectIntentRequests (google.cloud.dialogflow.cx.v3). CX event inputs carry no parameters,
 * so parameters travel as session parameters (`queryParams.parameters`).
 */
import type { BotCallInfo, EndNotice } from '../port.ts';
import { jsonToStruct } from '../dialogflow-common/struct.ts';
import { CONVERSATION_END_EVENT } from '../dialogflow-common/config.ts';
import { callInfoParameters } from '../dialogflow-common/dialect.ts';

/** The session parameter that also carries the end-of-call notice (`$session.params.event-conversationEnd.reasonCode`). */
export const CX_CONVERSATION_END_PARAM = `event-${CONVERSATION_END_EVENT}`;

export function cxEventRequest(session: string, languageCode: string, event: string, parameters?: Record<string, unknown>): Record<string, unknown> {
  return {
    session,
    queryInput: { event: { event }, languageCode },
    ...(parameters ? { queryParams: { parameters: jsonToStruct(parameters) } } : {}),
  };
}

export function cxWelcomeRequest(session: string, languageCode: string, event: string, call: BotCallInfo | undefined): Record<string, unknown> {
  return cxEventRequest(session, languageCode, event, call ? callInfoParameters(call) : undefined);
}

export function cxTextRequest(session: string, languageCode: string, text: string): Record<string, unknown> {
  return { session, queryInput: { text: { text }, languageCode } };
}

/** `conversationEnd` event; `{reason, reasonCode}` as session parameter `event-conversationEnd`. */
export function cxConversationEndRequest(session: string, languageCode: string, notice: EndNotice): Record<string, unknown> {
  return cxEventRequest(session, languageCode, CONVERSATION_END_EVENT, {
    [CX_CONVERSATION_END_PARAM]: { reason: notice.reason, reasonCode: notice.reasonCode },
  });
}
