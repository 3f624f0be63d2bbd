/**
 * Reads an inbound INVITE (as drachtio-srf hands it over) into the port's `InboundOffer`.
 * Headers come from the raw message text so that "first value of each" holds even for headers
 * drachtio-srf would join with commas; compact names (f, t, i, m, …) are expanded.
 */
import type { InboundOffer } from '../port.ts';
import { Srf, type SrfRequest } from './srf-api.ts';

/** RFC 3261 §7.3.3 compact forms and the registered ones drachtio-srf also knows. */
const COMPACT: Record<string, string> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', o: 'event', r: 'refer-to',
  b: 'referred-by', x: 'session-expires', u: 'allow-events',
};

/** Upper bounds so that a hostile INVITE cannot make the offer (and the CallOffered event) huge. */
export const MAX_OFFER_HEADERS = 200;
export const MAX_OFFER_HEADER_VALUE_CHARS = 4_096;

/**
 * All headers of a SIP message head: lower-case (expanded) names, the first value of each,
 * folded continuation lines joined with a space. Lines that are not `name: value` are skipped.
 */
export function firstHeaderValues(raw: string): Record<string, string> {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const lines = head.split(/\r\n(?![ \t])/).slice(1); // drop the start line; keep folded lines together
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let count = 0;
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const rawName = line.slice(0, colon).trim().toLowerCase();
    if (!/^[a-z0-9\-.!%*_+`'~]+$/.test(rawName)) continue;
    const name = COMPACT[rawName] ?? rawName;
    if (name in out) continue;
    if (++count > MAX_OFFER_HEADERS) break;
    out[name] = line.slice(colon + 1).replace(/\r\n[ \t]+/g, ' ').trim().slice(0, MAX_OFFER_HEADER_VALUE_CHARS);
  }
  return { ...out };
}

/** The URI inside a name-addr (`"Alice" <sip:alice@host>;tag=1` → `sip:alice@host`), or the value itself. */
export function uriOfNameAddr(value: string): string {
  const angle = /<([^>]*)>/.exec(value);
  if (angle?.[1] !== undefined) return angle[1].trim();
  return value.split(';')[0]?.trim() ?? '';
}

/** The user part of a SIP URI, '' when it has none. */
export function userOfUri(uri: string): string {
  try {
    const parsed = Srf.parseUri(uri);
    if (parsed?.user !== undefined) return decodeURIComponentSafe(parsed.user);
  } catch {
    // fall through to the plain reading below
  }
  const m = /^sips?:([^@;>]+)@/i.exec(uri.trim());
  return m?.[1] !== undefined ? decodeURIComponentSafe(m[1]) : '';
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function buildInboundOffer(callId: string, req: SrfRequest): InboundOffer {
  const headers = firstHeaderValues(req.raw ?? '');
  const offer: InboundOffer = {
    callId,
    sipCallId: req.get('Call-ID') ?? headers['call-id'] ?? '',
    to: userOfUri(req.uri),
    from: uriOfNameAddr(headers['from'] ?? req.get('From') ?? ''),
    requestUri: req.uri,
    headers,
  };
  if (typeof req.body === 'string' && req.body.length > 0) offer.sdp = req.body;
  return offer;
}
