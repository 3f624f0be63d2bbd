/**
 * Strict SIP message parser (RFC 3261 §7, §18.3, §25).
 *
 * Why our own parser and not a package's: we read the two candidates.
 * - drachtio-srf's `lib/sip-parser/parser.js` is written for messages drachtio-server has
 *   already validated. On hostile input it throws (`parseCSeq`/`parseVia` dereference a failed
 *   regex match), it keeps a folded header's CRLF inside the value (split on `\r\n(?![ \t])`),
 *   it cuts the body by Content-Length counted in characters, not bytes, it maps compact `e` to
 *   a non-existent `contact-encoding`, and it has no size or header-count limits.
 * - npm `sip` (kirm/sip.js, 0.0.6, unmaintained since 2019, not installed here) parses with
 *   similar regexes, also throws on malformed Via/CSeq and bundles its own transaction layer
 *   and transports, which would fight ours.
 * Neither gives a "can we still answer 400?" result, which hostile input needs. So: a small
 * parser that never throws, unfolds headers, expands compact forms, keeps multiple headers in
 * order, matches names case-insensitively, takes Content-Length in bytes (a datagram without
 * one runs to its end; one that claims more than it holds is rejected), checks the mandatory
 * headers, and enforces limits on message size, header section size, header count and line
 * length. A failure says whether a response is possible and carries what was parsed so far.
 */
import { SipHeaders, canonicalHeaderName, type HeaderField } from './headers.ts';
import { TOKEN, parseCSeq, parseNameAddr, parseVia, type Via } from './header-values.ts';
import type { MessageCore, SipMessage } from './message.ts';
import { parseSipUri } from './uri.ts';

export interface SipParseLimits {
  /** Largest message (datagram or framed stream message) accepted, bytes. */
  maxMessageBytes: number;
  /** Largest header section (start line through the blank line), bytes. */
  maxHeaderBytes: number;
  /** Most header lines accepted. */
  maxHeaders: number;
  /** Longest single (unfolded) header line, characters. */
  maxHeaderLineChars: number;
}

export const DEFAULT_SIP_LIMITS: Readonly<SipParseLimits> = {
  maxMessageBytes: 32_768,
  maxHeaderBytes: 24_576,
  maxHeaders: 200,
  maxHeaderLineChars: 8_192,
};

/** What was understood of a request that failed to parse; enough to answer it if Via parsed. */
export interface PartialRequest {
  method: string;
  uri: string;
  headers: SipHeaders;
}

export type ParseOutcome =
  | { ok: true; message: SipMessage }
  | {
      ok: false;
      /** Status to answer with (400, 416, 505, 513), or 0 when no response is possible/allowed. */
      status: number;
      reason: string;
      /** A CRLF keep-alive, not an error. */
      keepalive?: boolean;
      partial?: PartialRequest;
    };

const REQUEST_LINE = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP\/(\d+\.\d+)$/;
const STATUS_LINE = /^SIP\/(\d+\.\d+) ([1-6]\d\d) ([^\x00-\x08\x0a-\x1f\x7f]*)$/;
/** Control characters a header line may not hold (HTAB is fine). */
// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[\x00-\x08\x0a-\x1f\x7f]/;

function fail(status: number, reason: string, partial?: PartialRequest): ParseOutcome {
  return partial ? { ok: false, status, reason, partial } : { ok: false, status, reason };
}

/**
 * Parses one message. `framing` is `datagram` for UDP (Content-Length optional, body must not
 * be shorter than it claims) or `stream` for TCP (the framer has already cut the message to
 * head + Content-Length bytes).
 */
export function parseSipMessage(buf: Buffer, framing: 'datagram' | 'stream', limits: SipParseLimits = DEFAULT_SIP_LIMITS): ParseOutcome {
  let start = 0;
  while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
  if (start >= buf.length || buf.subarray(start).every((b) => b === 0x0d || b === 0x0a || b === 0x20 || b === 0x09)) {
    return { ok: false, status: 0, reason: 'keep-alive', keepalive: true };
  }
  const headEnd = buf.indexOf('\r\n\r\n', start, 'latin1');
  const headBytes = headEnd < 0 ? buf.length - start : headEnd - start;
  const tooBig = buf.length > limits.maxMessageBytes;
  const headTooBig = headBytes > limits.maxHeaderBytes;
  const headText = buf.toString('utf8', start, start + Math.min(headBytes, limits.maxHeaderBytes));
  const lines = headText.split('\r\n');
  const startLine = lines[0] ?? '';

  // Start line.
  let method: string | undefined;
  let uri = '';
  let status = 0;
  let reasonPhrase = '';
  const rq = REQUEST_LINE.exec(startLine);
  if (rq) {
    method = rq[1]!;
    uri = rq[2]!;
  } else {
    const rs = STATUS_LINE.exec(startLine);
    if (!rs) return fail(0, 'malformed start line');
    if (rs[1] !== '2.0') return fail(0, `unsupported SIP version ${rs[1]} in response`);
    status = Number(rs[2]);
    reasonPhrase = rs[3]!;
  }
  const isRequest = method !== undefined;
  // From here on a request may be answerable: collect what parses, remember the first error.
  let error: { status: number; reason: string } | undefined;
  const setError = (s: number, r: string) => {
    if (!error) error = { status: s, reason: r };
  };
  if (rq && rq[3] !== '2.0') setError(505, `SIP version ${rq[3]} not supported`);

  const fields: HeaderField[] = [];
  let lastGood = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (BAD_CHARS.test(line)) {
      setError(400, 'control character (CR, LF, NUL, …) in header section');
      lastGood = false;
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      const prev = fields[fields.length - 1];
      if (!prev || !lastGood) {
        setError(400, 'continuation line without a header');
        continue;
      }
      const value = `${prev.value} ${line.trim()}`.trim();
      if (value.length > limits.maxHeaderLineChars) {
        setError(400, `header ${prev.name} longer than ${limits.maxHeaderLineChars} characters`);
        fields.pop();
        lastGood = false;
        continue;
      }
      fields[fields.length - 1] = { ...prev, value };
      continue;
    }
    const m = /^([^:\s]+)[ \t]*:[ \t]*(.*)$/s.exec(line);
    if (!m || !TOKEN.test(m[1]!)) {
      setError(400, 'malformed header line');
      lastGood = false;
      continue;
    }
    if (fields.length >= limits.maxHeaders) {
      setError(400, `more than ${limits.maxHeaders} header lines`);
      lastGood = false;
      continue;
    }
    const value = m[2]!.trim();
    if (value.length > limits.maxHeaderLineChars) {
      setError(400, `header ${m[1]} longer than ${limits.maxHeaderLineChars} characters`);
      lastGood = false;
      continue;
    }
    fields.push({ name: m[1]!, key: canonicalHeaderName(m[1]!), value });
    lastGood = true;
  }
  const headers = new SipHeaders(fields);
  const partial: PartialRequest | undefined = isRequest ? { method: method!, uri, headers } : undefined;
  const failWith = (s: number, r: string): ParseOutcome => fail(isRequest ? s : 0, r, partial);

  if (tooBig) return failWith(513, `message larger than ${limits.maxMessageBytes} bytes`);
  if (headTooBig) return failWith(513, `header section larger than ${limits.maxHeaderBytes} bytes`);
  if (headEnd < 0) return failWith(400, 'no blank line after the header section');
  if (error) return failWith(error.status, error.reason);

  // Mandatory headers (§8.1.1, §20).
  const viaValues = headers.values('via');
  if (viaValues.length === 0) return failWith(400, 'missing Via');
  const vias: Via[] = [];
  for (const v of viaValues) {
    const via = parseVia(v);
    if (!via) return failWith(400, 'malformed Via');
    vias.push(via);
  }
  const single = (name: string): string | { error: string } => {
    const ls = headers.lines(name);
    if (ls.length === 0) return { error: `missing ${name}` };
    if (ls.length > 1) return { error: `more than one ${name}` };
    return ls[0]!;
  };
  const callId = single('Call-ID');
  if (typeof callId !== 'string') return failWith(400, callId.error);
  if (!/^[^\s]+$/.test(callId) || callId.length > 256) return failWith(400, 'malformed Call-ID');
  const cseqText = single('CSeq');
  if (typeof cseqText !== 'string') return failWith(400, cseqText.error);
  const cseq = parseCSeq(cseqText);
  if (!cseq) return failWith(400, 'malformed CSeq');
  if (isRequest && cseq.method !== method) return failWith(400, 'CSeq method does not match the request method');
  const fromText = single('From');
  if (typeof fromText !== 'string') return failWith(400, fromText.error);
  const from = parseNameAddr(fromText);
  if (!from) return failWith(400, 'malformed From');
  const toText = single('To');
  if (typeof toText !== 'string') return failWith(400, toText.error);
  const to = parseNameAddr(toText);
  if (!to) return failWith(400, 'malformed To');
  const maxForwards = headers.lines('max-forwards');
  if (maxForwards.length > 1 || (maxForwards.length === 1 && !/^\d{1,3}$/.test(maxForwards[0]!))) {
    return failWith(400, 'malformed Max-Forwards');
  }
  if (isRequest) {
    const scheme = /^([A-Za-z][A-Za-z0-9+\-.]*):/.exec(uri)?.[1]?.toLowerCase();
    if (scheme === 'sip' || scheme === 'sips') {
      if (!parseSipUri(uri)) return failWith(400, 'malformed Request-URI');
    } else if (scheme !== 'tel') return failWith(416, 'Unsupported URI Scheme');
  }

  // Body (§18.3, §20.14).
  const clLines = headers.lines('content-length');
  let contentLength: number | undefined;
  for (const l of clLines) {
    if (!/^\d{1,9}$/.test(l)) return failWith(400, 'malformed Content-Length');
    const n = Number(l);
    if (contentLength !== undefined && contentLength !== n) return failWith(400, 'conflicting Content-Length headers');
    contentLength = n;
  }
  const bodyStart = headEnd + 4;
  const available = buf.length - bodyStart;
  let bodyLength: number;
  if (contentLength === undefined) {
    bodyLength = framing === 'datagram' ? available : 0;
  } else {
    if (contentLength > available) return failWith(400, 'Content-Length larger than the body received');
    bodyLength = contentLength;
  }
  const body = Buffer.from(buf.subarray(bodyStart, bodyStart + bodyLength));
  const core: MessageCore = { callId, cseq, from, to, vias };
  if (isRequest) return { ok: true, message: { type: 'request', method: method!, uri, headers, body, core } };
  return { ok: true, message: { type: 'response', status, reason: reasonPhrase, headers, body, core } };
}
