/**
 * The ng control protocol's wire format (rtpengine docs/ng_control_protocol.md): one UDP datagram
 * is `<cookie> <bencoded dictionary>`. The cookie matches a reply to its request; rtpengine keeps
 * its replies by cookie for a while and answers a repeated cookie from that cache (whatever the
 * request now says), so a retry reuses its cookie and a new request never does.
 *
 * Decoding never throws: a datagram that is not `<cookie> <dict>` with a string `result` comes
 * back as `{ error }`. Byte strings are read as UTF-8 (SDP, reasons, tags); numbers stay numbers.
 */
import bencode from 'bencode';

export type NgValue = string | number | NgValue[] | NgDict;
export interface NgDict {
  [key: string]: NgValue;
}

/** Cookies are `[A-Za-z0-9_.-]`, at most this long. */
const MAX_COOKIE = 64;
const COOKIE_RE = /^[A-Za-z0-9_.-]+$/;

export function encodeNg(cookie: string, dict: NgDict): Buffer {
  if (cookie.length === 0 || cookie.length > MAX_COOKIE || !COOKIE_RE.test(cookie)) throw new TypeError(`bad ng cookie ${JSON.stringify(cookie)}`);
  const body = bencode.encode(dict);
  const out = Buffer.allocUnsafe(cookie.length + 1 + body.length);
  out.write(cookie, 0, 'latin1');
  out[cookie.length] = 0x20;
  out.set(body, cookie.length + 1);
  return out;
}

export type DecodedNg = { cookie: string; dict: NgDict } | { cookie?: string; error: string };

export function decodeNg(datagram: Buffer): DecodedNg {
  const sp = datagram.indexOf(0x20);
  if (sp <= 0 || sp > MAX_COOKIE) return { error: 'no cookie' };
  const cookie = datagram.toString('latin1', 0, sp);
  if (!COOKIE_RE.test(cookie)) return { error: 'bad cookie' };
  const body = datagram.subarray(sp + 1);
  if (body.length === 0 || body[0] !== 0x64 /* d */) return { cookie, error: 'body is not a bencoded dictionary' };
  let raw: unknown;
  try {
    raw = bencode.decode(body);
  } catch (err) {
    return { cookie, error: `bencode: ${(err as Error).message}` };
  }
  const dict = toNg(raw, 0);
  if (dict === undefined || typeof dict !== 'object' || Array.isArray(dict)) return { cookie, error: 'body is not a bencoded dictionary' };
  if (typeof dict.result !== 'string') return { cookie, error: 'reply has no result' };
  return { cookie, dict };
}

const decoder = new TextDecoder('utf-8');

/** Plain values only: Uint8Array -> string, dictionaries without a prototype, depth-limited. */
function toNg(v: unknown, depth: number): NgValue | undefined {
  if (depth > 32) return undefined;
  if (typeof v === 'number') return v;
  if (v instanceof Uint8Array) return decoder.decode(v);
  if (Array.isArray(v)) {
    const out: NgValue[] = [];
    for (const x of v) {
      const y = toNg(x, depth + 1);
      if (y === undefined) return undefined;
      out.push(y);
    }
    return out;
  }
  if (v !== null && typeof v === 'object') {
    const out: NgDict = Object.create(null) as NgDict;
    for (const k of Object.keys(v)) {
      const y = toNg((v as Record<string, unknown>)[k], depth + 1);
      if (y === undefined) return undefined;
      out[k] = y;
    }
    return out;
  }
  return undefined;
}
