/**
 * Turns domain headers into the `headers` object drachtio-srf writes into the request it hands
 * to drachtio-server, with the last safety check before the wire (README, The rules: hangupSipHeaders — defence in depth).
 *
 * drachtio-srf writes request headers as `<key>: <value>` lines in insertion order, keys verbatim
 * (lib/sip-parser/parser.js `stringify`). An object cannot hold two entries under one key, so a
 * repeated name is written as one entry whose value continues with `\r\n<name>: <value>` for each
 * further occurrence: each part was checked (token name, no CR/LF/NUL in values), so the only line
 * breaks in the result are the ones built here, and drachtio-server splits them back into one
 * header per line (drachtio-server src/drachtio.cpp `makeTags`/`splitLines`), as on the wire.
 */
import type { SipHeader } from '../../domain/types.ts';
import { MAX_HANGUP_REASON_CHARS, wireReasonHeader, wireSafeHeaders } from '../../domain/hangup-headers.ts';
import type { HangupRequest } from '../port.ts';

/** Headers in wire order, as an srf `headers` object; `sent` lists exactly what will go out. */
export interface SrfHeaders {
  headers: Record<string, string>;
  sent: SipHeader[];
}

/** Replaces control characters (CR, LF, NUL, …; HTAB stays) with spaces and caps the length. */
export function sanitizeHeaderValue(value: string, maxChars = MAX_HANGUP_REASON_CHARS + 64): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' ').trim().slice(0, maxChars);
}

/**
 * The headers for a BYE: `Reason` first (when given), then every header that passes
 * `wireSafeHeaders`, in the caller's order; the Reason passes `wireReasonHeader` (the same
 * policy as the embedded adapter's).
 */
export function byeHeaders(request: HangupRequest, log?: (msg: string) => void): SrfHeaders {
  const list: SipHeader[] = [];
  const reason = wireReasonHeader(request.reasonHeader);
  if (reason.dropped) log?.('Reason header dropped: too long or holding control characters');
  if (reason.value !== undefined) list.push({ name: 'Reason', value: reason.value });
  list.push(...wireSafeHeaders(request.headers ?? []));
  return toSrfHeaders(list);
}

/** Extra headers for an outbound INVITE: only what passes `wireSafeHeaders`. */
export function inviteHeaders(headers: readonly SipHeader[] | undefined): SrfHeaders {
  return toSrfHeaders(wireSafeHeaders(headers ?? []));
}

/**
 * Builds the srf headers object from already-checked headers (names are SIP tokens, values hold
 * no control characters), keeping the exact order of `list` on the wire. A header starts a new
 * key only when that is safe; otherwise it continues the last key's value on a new line:
 * - a name already used (compared case-insensitively, as SIP does);
 * - an all-digit name (`0`, `12`): JavaScript iterates integer-like keys first, which would move
 *   the header to the front; only the very first header may use one, since it is first anyway;
 * - `__proto__`: assigning it sets the object's prototype and the header would vanish. As the very
 *   first header (no Reason, first bot header) it cannot be written at all and is left out of `sent`.
 */
export function toSrfHeaders(list: readonly SipHeader[]): SrfHeaders {
  const headers: Record<string, string> = {};
  const used = new Set<string>();
  const sent: SipHeader[] = [];
  let lastKey: string | undefined;
  for (const { name, value } of list) {
    const lower = name.toLowerCase();
    const canOpen = name !== '__proto__' && !used.has(lower) && (!/^\d+$/.test(name) || lastKey === undefined);
    if (canOpen) {
      headers[name] = value;
      used.add(lower);
      lastKey = name;
    } else if (lastKey !== undefined) {
      headers[lastKey] = `${headers[lastKey]}\r\n${name}: ${value}`;
    } else {
      continue;
    }
    sent.push({ name, value });
  }
  return { headers, sent };
}
