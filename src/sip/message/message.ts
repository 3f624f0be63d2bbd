/**
 * Parsed SIP messages. The parser has already checked the headers every message must carry
 * (Via, From, To, Call-ID, CSeq), so they come pre-parsed in `core`.
 */
import type { SipHeaders } from './headers.ts';
import type { CSeq, NameAddr, Via } from './header-values.ts';

export interface MessageCore {
  callId: string;
  cseq: CSeq;
  from: NameAddr;
  to: NameAddr;
  /** Every Via element, top first. */
  vias: Via[];
}

export interface SipRequest {
  readonly type: 'request';
  method: string;
  uri: string;
  headers: SipHeaders;
  body: Buffer;
  core: MessageCore;
}

export interface SipResponse {
  readonly type: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: Buffer;
  core: MessageCore;
}

export type SipMessage = SipRequest | SipResponse;

export function topVia(m: SipMessage): Via {
  return m.core.vias[0]!;
}

/** The body as text when it is SDP (or absent: undefined). */
export function sdpBody(m: SipMessage): string | undefined {
  if (m.body.length === 0) return undefined;
  const type = (m.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/sdp') return undefined;
  return m.body.toString('utf8');
}
