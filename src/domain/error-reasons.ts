/**
 * The generic text an error BYE carries on the wire (README, The rules: Reason header).
 * The details (a bot's URL, a port's message) stay in the recorded event (CallErrored,
 * BotStartFailed) and the log; the caller only learns the class of the failure.
 * The text depends on the recorded error code alone, so `replay --verify` re-derives it exactly.
 */
import { ErrorCodes } from './errors.ts';

export const GENERIC_ERROR_REASON = 'internal error';

/** Code prefix (or exact code) -> wire text. First match wins; anything else is GENERIC_ERROR_REASON. */
export const ERROR_REASON_TABLE: ReadonlyArray<{ code: string; text: string }> = [
  { code: ErrorCodes.CALL_RECOVERED, text: 'service restarted' },
  { code: 'VOX_BOT_', text: 'bot unavailable' },
  { code: 'VOX_MEDIA_', text: 'media unavailable' },
  { code: 'VOX_SPEECH_', text: 'speech unavailable' },
  { code: 'VOX_SIP_', text: 'signaling error' },
  { code: 'VOX_STORE_', text: 'service unavailable' },
  { code: 'VOX_CLUSTER_', text: 'service unavailable' },
];

/** The wire text for an error with this recorded code. */
export function genericErrorReason(code: string | undefined): string {
  if (code === undefined) return GENERIC_ERROR_REASON;
  const row = ERROR_REASON_TABLE.find((r) => (r.code.endsWith('_') ? code.startsWith(r.code) : code === r.code));
  return row ? row.text : GENERIC_ERROR_REASON;
}
