/**
 * The rules for a bot's call transfer (README, The rules: Transfer): what a transfer target may
 * be, which headers may ride on the REFER, what a failed transfer is called, and the Reason on
 * the BYE that ends a transferred call. Used where the bot's input enters (runtime) and again by
 * every SIP adapter just before the wire. Nothing a bot sends can put a line into a SIP message.
 */
import { checkHangupHeaders, isSafeHeaderValue, sanitizeReasonText, type HeaderCheck } from './hangup-headers.ts';
import { reasonCodeForSipFailure } from './reason-codes.ts';
import type { ReasonCode, SipHeader } from './types.ts';

/** Event activity names that ask for a transfer (AudioCodes: `handover` is a synonym). */
export const TRANSFER_ACTIVITY_NAMES: ReadonlySet<string> = new Set(['transfer', 'handover']);

export const MAX_TRANSFER_TARGET_CHARS = 1_024;
/** Default time from the request to a final outcome (REFER answer and final NOTIFY), ms. */
export const DEFAULT_TRANSFER_TIMEOUT_MS = 60_000;
export const MAX_TRANSFER_TIMEOUT_MS = 600_000;

/** The free-text reason on CallEnded after a transfer when the bot gave no handoverReason. */
export const TRANSFERRED_REASON = 'Call transferred';
/** The Reason on the BYE we send after the final 2xx NOTIFY: normal clearing (Q.850 cause 16). */
export const TRANSFER_BYE_CAUSE = 16;

/**
 * The event the bot gets when its transfer failed (AudioCodes VoiceAI Connect `transferStatus`):
 * `{status: 'failed', reasonCode, reason}`, in the bot's dialect.
 */
export const TRANSFER_STATUS_EVENT = 'transferStatus';

/**
 * Characters a target URI may hold: RFC 3986 unreserved, reserved and `%` escapes (which is all
 * RFC 3261 §25 allows in a SIP/tel URI). No space, quote, angle bracket, backslash or control
 * character, so the URI can never leave the `<…>` of a Refer-To / Referred-By header.
 */
const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;
const SIP_TARGET = /^sips?:(?:[^@;?]+@)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:[;?].*)?$/i;
/** RFC 3966: global (`+` and digits, visual separators) or local number with parameters. */
const TEL_TARGET = /^tel:\+?[0-9A-Fa-f*#\-.()]+(?:;.*)?$/i;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

/** Why `uri` is no acceptable transfer target or Referred-By URI, or undefined when it is one. */
export function transferUriProblem(uri: unknown): string | undefined {
  if (typeof uri !== 'string') return 'must be a string (a sip:, sips: or tel: URI)';
  if (uri.length === 0) return 'must not be empty';
  if (uri.length > MAX_TRANSFER_TARGET_CHARS) return `longer than ${MAX_TRANSFER_TARGET_CHARS} characters`;
  if (!isSafeHeaderValue(uri) || !URI_CHARS.test(uri)) return 'holds characters a URI may not carry (space, quote, angle bracket, control character, non-ASCII)';
  if (BAD_ESCAPE.test(uri)) return 'holds a "%" that is not a %XX escape';
  if (!SIP_TARGET.test(uri) && !TEL_TARGET.test(uri)) return 'is not a sip:, sips: or tel: URI';
  return undefined;
}

/** Headers a REFER carries that only the runtime writes (besides the BYE rules' list). */
const REFER_OWNED = new Set(['refer-to', 'r', 'referred-by', 'b', 'event', 'o', 'subscription-state', 'refer-sub', 'target-dialog', 'replaces']);

/**
 * Filters a bot's `transferSipHeaders` by the same rules as `hangupSipHeaders` (token names, no
 * runtime-owned header, no control characters, at most 100 / 12,000 characters), and refuses the
 * headers a REFER's meaning depends on (Refer-To, Referred-By, Event, Refer-Sub, Target-Dialog, Replaces).
 */
export function checkTransferHeaders(input: unknown): HeaderCheck {
  const base = checkHangupHeaders(input);
  const accepted: SipHeader[] = [];
  const rejected = [...base.rejected];
  const list = Array.isArray(input) ? (input as unknown[]) : [];
  for (const h of base.accepted) {
    if (REFER_OWNED.has(h.name.toLowerCase())) {
      const index = list.findIndex((e) => (e as SipHeader | undefined)?.name === h.name);
      rejected.push({ index, name: h.name, reason: 'header is set by the runtime on a REFER, never by a bot' });
    } else accepted.push(h);
  }
  rejected.sort((a, b) => a.index - b.index);
  return { accepted, rejected };
}

/** The last check before the wire, for SIP adapters (the domain has filtered already). */
export function wireSafeTransferHeaders(headers: readonly SipHeader[]): SipHeader[] {
  return checkTransferHeaders(headers).accepted;
}

/** A handoverReason made safe (control characters become spaces, capped). */
export function sanitizeHandoverReason(reason: string): string {
  return sanitizeReasonText(reason);
}

/**
 * How a failed transfer is named for the bot (AudioCodes `transferStatus` reasonCodes), from the
 * final SIP status the transfer got: 408/480/487 no-answer, 486/600 busy, 603 declined, the rest
 * error (the outbound table, src/domain/reason-codes.ts). A timeout without a final status is no-answer.
 */
export function transferFailureCode(sipStatus: number, timedOut = false): { reasonCode: ReasonCode; reason: string } {
  if (timedOut) return { reasonCode: 'no-answer', reason: 'Transfer timed out' };
  return reasonCodeForSipFailure(sipStatus);
}

/** Status line of a message/sipfrag body (RFC 3420): `SIP/2.0 200 OK` → 200; never throws. */
export function parseSipfragStatus(body: string | undefined): { sipStatus: number; reasonPhrase: string } | undefined {
  if (typeof body !== 'string') return undefined;
  const m = /^\s*SIP\/2\.0[ \t]+([1-6]\d\d)(?:[ \t]+([^\r\n]*))?/.exec(body.slice(0, 1_024));
  if (!m) return undefined;
  return { sipStatus: Number(m[1]), reasonPhrase: sanitizeReasonText((m[2] ?? '').trim()).slice(0, 200) };
}
