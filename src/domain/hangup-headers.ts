/**
 * The rules for SIP headers a bot asks to put on its BYE (README, The rules: Reason header, hangupSipHeaders), and the Reason header.
 * Used where the bot's input enters (bot connectors) and again by every SIP adapter just before
 * the wire (defence in depth). Nothing a bot sends can put a line into a SIP message.
 */
import type { SipHeader } from './types.ts';

export const MAX_HANGUP_HEADERS = 100;
export const MAX_HANGUP_HEADERS_CHARS = 12_000;
export const MAX_HANGUP_REASON_CHARS = 1_000;

/** RFC 3261 token characters: alphanum and -.!%*_+`'~ */
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

/**
 * Headers that define or route the dialog, or that the runtime itself writes; never from a bot.
 * Compact forms included (RFC 3261 §7.3.3 and registered ones).
 */
const FORBIDDEN = new Set(
  [
    'via', 'v', 'from', 'f', 'to', 't', 'call-id', 'i', 'cseq', 'contact', 'm', 'route', 'record-route',
    'max-forwards', 'content-length', 'l', 'content-type', 'c', 'content-encoding', 'e',
    'reason', 'authorization', 'proxy-authorization', 'proxy-require', 'require', 'expires',
  ],
);

export type HeaderRejection = { index: number; name: string; reason: string };

export interface HeaderCheck {
  accepted: SipHeader[];
  rejected: HeaderRejection[];
}

/**
 * Characters no header value or Reason text may carry: C0 controls but HTAB, DEL, the C1 controls
 * (U+0080–U+009F, NEL U+0085 among them) and the Unicode line and paragraph separators U+2028 /
 * U+2029 — a peer or a log reader may take any of them for a line break.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARS = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/;
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARS_ALL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/g;
/** A UTF-16 surrogate without its pair (no UTF-8 form). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_ALL = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * True when `value` holds only characters a SIP header value may carry: no control character
 * (C0 but HTAB, DEL, C1), no U+2028/U+2029, and well-formed UTF-16 (no lone surrogate, which
 * has no UTF-8 form on the wire).
 */
export function isSafeHeaderValue(value: string): boolean {
  return !UNSAFE_CHARS.test(value) && !LONE_SURROGATE.test(value);
}

export function isSipToken(name: string): boolean {
  return TOKEN.test(name);
}

export function isForbiddenHeader(name: string): boolean {
  return FORBIDDEN.has(name.toLowerCase());
}

/**
 * Filters a bot's `hangupSipHeaders` by the rules; the order of accepted entries is kept.
 * An entry that breaks a rule is dropped and reported; the rest still go out.
 */
export function checkHangupHeaders(input: unknown): HeaderCheck {
  const accepted: SipHeader[] = [];
  const rejected: HeaderRejection[] = [];
  if (!Array.isArray(input)) {
    rejected.push({ index: -1, name: '', reason: 'hangupSipHeaders must be an array of {name, value}' });
    return { accepted, rejected };
  }
  let chars = 0;
  input.forEach((entry: unknown, index) => {
    // The name exactly as given: " X-Space" is not a SIP token (never trimmed into one).
    const name = typeof (entry as SipHeader)?.name === 'string' ? (entry as SipHeader).name : undefined;
    const rawValue = (entry as SipHeader)?.value;
    const value = typeof rawValue === 'string' ? rawValue : undefined;
    const label = name ?? '';
    if (name === undefined || value === undefined) {
      rejected.push({ index, name: label.slice(0, 64), reason: 'entry needs a string name and a string value' });
    } else if (!isSipToken(name)) {
      rejected.push({ index, name: name.slice(0, 64), reason: 'name is not a SIP token' });
    } else if (isForbiddenHeader(name)) {
      rejected.push({ index, name, reason: 'header is set by the runtime, never by a bot' });
    } else if (!isSafeHeaderValue(value)) {
      rejected.push({ index, name, reason: 'value holds CR, LF, NUL, another control character, U+2028/U+2029 or a lone surrogate' });
    } else if (accepted.length >= MAX_HANGUP_HEADERS) {
      rejected.push({ index, name, reason: `more than ${MAX_HANGUP_HEADERS} headers` });
    } else if (chars + name.length + value.trim().length > MAX_HANGUP_HEADERS_CHARS) {
      rejected.push({ index, name, reason: `headers exceed ${MAX_HANGUP_HEADERS_CHARS} characters in total` });
    } else {
      chars += name.length + value.trim().length;
      accepted.push({ name, value: value.trim() });
    }
  });
  return { accepted, rejected };
}

/**
 * Makes a hangupReason safe for a quoted string: control characters (C0 incl. HTAB, DEL, C1),
 * U+2028/U+2029 and lone surrogates become spaces; the length is capped.
 */
export function sanitizeReasonText(reason: string): string {
  return reason.replace(/\t/g, ' ').replace(UNSAFE_CHARS_ALL, ' ').replace(LONE_SURROGATE_ALL, ' ').slice(0, MAX_HANGUP_REASON_CHARS);
}

/**
 * `Q.850;cause=16;text="…"` with `"` and `\` escaped (RFC 3326 quoted-string). Cause 16 is
 * normal call clearing; the runtime uses 41 (temporary failure) when it ends a call on an error.
 */
export function buildReasonHeader(reason: string | undefined, cause = 16): string {
  if (reason === undefined) return `Q.850;cause=${cause}`;
  const text = sanitizeReasonText(reason).replace(/[\\"]/g, (c) => `\\${c}`);
  return `Q.850;cause=${cause};text="${text}"`;
}

/** The longest Reason header value an adapter writes (a built one is far shorter). */
export const MAX_REASON_HEADER_CHARS = 2_048;

/**
 * The last check of a Reason header value before the wire, one policy for every SIP adapter: a
 * value holding a character no header may carry (`isSafeHeaderValue`), or longer than
 * MAX_REASON_HEADER_CHARS, is dropped — only a bug can produce one, since the runtime builds
 * Reasons with `buildReasonHeader`, and nothing suspicious goes on the wire; the rest is
 * trimmed. `undefined` when there is none; `dropped` tells the adapter to log it.
 */
export function wireReasonHeader(value: string | null | undefined): { value: string | undefined; dropped: boolean } {
  if (value === null || value === undefined) return { value: undefined, dropped: false };
  const out = value.trim();
  if (!out) return { value: undefined, dropped: false };
  if (!isSafeHeaderValue(out) || out.length > MAX_REASON_HEADER_CHARS) return { value: undefined, dropped: true };
  return { value: out, dropped: false };
}

/**
 * The last check before the wire, for SIP adapters: returns the headers that may be written,
 * dropping any entry that breaks a rule (the domain has filtered already; this catches bugs).
 */
export function wireSafeHeaders(headers: readonly SipHeader[]): SipHeader[] {
  return checkHangupHeaders(headers).accepted;
}
