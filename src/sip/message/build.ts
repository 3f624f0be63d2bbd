/**
 * Writes SIP messages. Every line is checked before it is written: header names must be
 * tokens, values and the start line must hold no CR, LF, NUL or other control character. A
 * violation is a bug upstream (bot input is filtered long before), so it throws a VoxError
 * instead of writing a line nobody asked for. Content-Length is always computed here.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { isSafeHeaderValue } from '../../domain/hangup-headers.ts';
import { TOKEN } from './header-values.ts';
import type { SipRequest } from './message.ts';

/** Header lines in order: [name, value]. */
export type HeaderList = Array<readonly [string, string]>;

/** Reason phrases for the statuses this stack sends (RFC 3261 §21 and extensions). */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 408: 'Request Timeout', 410: 'Gone', 413: 'Request Entity Too Large',
  415: 'Unsupported Media Type', 416: 'Unsupported URI Scheme', 420: 'Bad Extension', 480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops', 484: 'Address Incomplete',
  486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here', 491: 'Request Pending',
  500: 'Server Internal Error', 501: 'Not Implemented', 503: 'Service Unavailable', 504: 'Server Time-out',
  505: 'Version Not Supported', 513: 'Message Too Large',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};

export function reasonPhraseFor(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Progress' : status < 300 ? 'OK' : status < 400 ? 'Redirect' : status < 500 ? 'Client Error' : status < 600 ? 'Server Error' : 'Global Failure');
}

/** A reason phrase made safe for a status line: control characters dropped, length capped. */
export function safeReasonPhrase(text: string | undefined, status: number): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = (text ?? '').replace(/[\x00-\x1f\x7f]/g, ' ').trim().slice(0, 128);
  return cleaned || reasonPhraseFor(status);
}

function reject(message: string, details: Record<string, unknown>): never {
  throw new VoxError(ErrorCodes.SIP_HEADER_REJECTED, message, details);
}

function headerBlock(headers: HeaderList, body: Buffer): string {
  let s = '';
  for (const [name, value] of headers) {
    if (!TOKEN.test(name)) reject('header name is not a SIP token', { name: name.slice(0, 64) });
    if (name.toLowerCase() === 'content-length' || name.toLowerCase() === 'l') reject('Content-Length is computed by the builder', { name });
    if (!isSafeHeaderValue(value)) reject('header value holds a control character', { name });
    s += `${name}: ${value}\r\n`;
  }
  return `${s}Content-Length: ${body.length}\r\n\r\n`;
}

function toBuffer(body: string | Buffer | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

export function serializeRequest(method: string, uri: string, headers: HeaderList, body?: string | Buffer): Buffer {
  if (!TOKEN.test(method)) reject('method is not a SIP token', { method: method.slice(0, 32) });
  if (!/^[A-Za-z][A-Za-z0-9+\-.]*:[^\s\x00-\x1f\x7f]+$/.test(uri)) reject('Request-URI is not a URI', { uri: uri.slice(0, 128) });
  const b = toBuffer(body);
  return Buffer.concat([Buffer.from(`${method} ${uri} SIP/2.0\r\n${headerBlock(headers, b)}`, 'utf8'), b]);
}

export function serializeResponse(status: number, reason: string, headers: HeaderList, body?: string | Buffer): Buffer {
  if (!Number.isInteger(status) || status < 100 || status > 699) reject('status out of range', { status });
  const b = toBuffer(body);
  return Buffer.concat([Buffer.from(`SIP/2.0 ${status} ${safeReasonPhrase(reason, status)}\r\n${headerBlock(headers, b)}`, 'utf8'), b]);
}

/**
 * The headers a response copies from its request (§8.2.6.2): every Via in order (the top one
 * given, possibly with received/rport added), From, To (with `toTag` added when the request had
 * none and the response is above 100), Call-ID and CSeq.
 */
export function responseHeaders(request: SipRequest, status: number, opts: { topVia: string; toTag?: string }): HeaderList {
  const list: HeaderList = [];
  const vias = request.core.vias;
  list.push(['Via', opts.topVia]);
  for (let i = 1; i < vias.length; i++) list.push(['Via', vias[i]!.raw]);
  list.push(['From', request.headers.get('from')!]);
  let to = request.headers.get('to')!;
  if (status > 100 && !request.core.to.tag && opts.toTag) to = `${to};tag=${opts.toTag}`;
  list.push(['To', to]);
  list.push(['Call-ID', request.core.callId]);
  list.push(['CSeq', `${request.core.cseq.seq} ${request.core.cseq.method}`]);
  return list;
}
