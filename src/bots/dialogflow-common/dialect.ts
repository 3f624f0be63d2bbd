/**
 * What differs between Dialogflow CX and ES, as seen by the shared connector
 * (`connector-core.ts`): resource paths, request shapes and how a response becomes activities.
 */
import type { BotActivity, BotCallInfo, EndNotice } from '../port.ts';
import type { Log } from './payload.ts';
import type { ClientPackage } from './sessions-client.ts';

export interface DialogflowDialect {
  readonly provider: 'dialogflow-cx' | 'dialogflow-es';
  readonly clientPackage: ClientPackage;
  /** The full session resource name for a session id. */
  sessionPath(sessionId: string): string;
  /** True when `path` is a session of this connector's agent (used to check a stored ref). */
  ownsSessionPath(path: string): boolean;
  welcomeRequest(session: string, call: BotCallInfo): Record<string, unknown>;
  /*
   * The requests below take the session's language: the configured one for a session started
   * here, the recorded one (`ref.languageCode`) for a session resumed or notified from its ref.
   */
  textRequest(session: string, text: string, languageCode: string): Record<string, unknown>;
  conversationEndRequest(session: string, notice: EndNotice, languageCode: string): Record<string, unknown>;
  /** An event input for the bot (e.g. `transferStatus`): ES event parameters, CX session parameter `event-<name>`. */
  eventRequest(session: string, name: string, value: Record<string, unknown>, languageCode: string): Record<string, unknown>;
  /** A DTMF input (CX `queryInput.dtmf`); absent where the API has none (ES: the runtime sends a `DTMF` event instead). */
  dtmfRequest?(session: string, digits: string, languageCode: string): Record<string, unknown>;
  /** A DetectIntentResponse as normalized activities, in order; never throws. */
  toActivities(response: unknown, log: Log): BotActivity[];
}

/** The call facts sent with the welcome event when `sendCallInfo` is on. */
export function callInfoParameters(call: BotCallInfo): Record<string, string> {
  return { callId: call.callId, caller: call.caller, callee: call.callee, direction: call.direction };
}

/** Dialogflow rejects text queries longer than this (both CX and ES). */
export const MAX_TEXT_QUERY_CHARS = 256;

/** Escapes a string for use inside a RegExp. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
