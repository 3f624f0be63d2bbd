/** Writing SDP: our offers and answers (one audio stream; declined streams keep their place). */
import type { AudioCodec, MediaDirection } from '../port.ts';

export interface LocalMedia {
  /** Address written in c= and o= (media.publicAddress). */
  address: string;
  /** RTP port written in m=. */
  port: number;
  /** o= session id (digits). */
  sessionId: string;
  /** o= session version (digits); incremented for every changed description (RFC 3264 §8). Defaults to sessionId. */
  version?: string;
}

/** RFC 3551 static payload types. */
export const STATIC_PT: Record<AudioCodec, number> = { PCMU: 0, PCMA: 8 };
/** The telephone-event payload type we offer. */
export const DEFAULT_DTMF_PT = 101;

export function addressLine(address: string): string {
  return address.includes(':') ? `IN IP6 ${address}` : `IN IP4 ${address}`;
}

export interface AudioLine {
  port: number;
  proto: string;
  codecs: { codec: AudioCodec; pt: number }[];
  dtmf?: { pt: number; fmtp: string };
  direction: MediaDirection;
}

export function audioLines(a: AudioLine): string[] {
  const pts = a.codecs.map((c) => c.pt);
  if (a.dtmf) pts.push(a.dtmf.pt);
  const out = [`m=audio ${a.port} ${a.proto} ${pts.join(' ')}`];
  for (const c of a.codecs) out.push(`a=rtpmap:${c.pt} ${c.codec}/8000`);
  if (a.dtmf) out.push(`a=rtpmap:${a.dtmf.pt} telephone-event/8000`, `a=fmtp:${a.dtmf.pt} ${a.dtmf.fmtp}`);
  out.push('a=ptime:20', `a=${a.direction}`);
  return out;
}

export function sdpText(local: LocalMedia, mediaLines: string[]): string {
  return [
    'v=0',
    `o=voxledger ${local.sessionId} ${local.version ?? local.sessionId} ${addressLine(local.address)}`,
    's=voxledger',
    `c=${addressLine(local.address)}`,
    't=0 0',
    ...mediaLines,
    '',
  ].join('\r\n');
}
