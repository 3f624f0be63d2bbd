/**
 * Just enough SDP (RFC 4566) and offer/answer (RFC 3264) for a signaling adapter that has no
 * media engine yet: read an offer's media lines, answer PCMU/8000 (plus telephone-event when
 * offered), or write a PCMU offer. A media engine replaces this by passing its own SDP.
 */

export interface SdpMedia {
  type: string;
  port: number;
  proto: string;
  formats: string[];
  /** payload type → `encoding/clock[/channels]` from a=rtpmap. */
  rtpmap: Map<string, string>;
  fmtp: Map<string, string>;
  direction?: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  connection?: string;
}

export interface SdpSession {
  connection?: string;
  direction?: SdpMedia['direction'];
  media: SdpMedia[];
}

/** Static payload types this stack knows (RFC 3551). */
const STATIC: Record<string, string> = { '0': 'pcmu/8000', '8': 'pcma/8000' };

/** Reads the parts of an SDP body we use; `undefined` when it is not SDP at all. */
export function parseSdp(text: string): SdpSession | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (!lines[0]?.startsWith('v=')) return undefined;
  const session: SdpSession = { media: [] };
  let current: SdpMedia | undefined;
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq !== 1) continue;
    const key = line[0];
    const value = line.slice(2);
    if (key === 'm') {
      const m = /^(\S+) (\d+)(?:\/\d+)? (\S+)(?: (.*))?$/.exec(value);
      if (!m) return undefined;
      current = { type: m[1]!, port: Number(m[2]), proto: m[3]!, formats: (m[4] ?? '').split(' ').filter(Boolean), rtpmap: new Map(), fmtp: new Map() };
      session.media.push(current);
    } else if (key === 'c') {
      const addr = /^IN IP[46] (\S+)$/.exec(value)?.[1];
      if (addr) {
        if (current) current.connection = addr;
        else session.connection = addr;
      }
    } else if (key === 'a') {
      const dir = /^(sendrecv|sendonly|recvonly|inactive)$/.exec(value)?.[1] as SdpMedia['direction'] | undefined;
      if (dir) {
        if (current) current.direction = dir;
        else session.direction = dir;
      }
      const rtpmap = /^rtpmap:(\d+) (\S+)$/.exec(value);
      if (rtpmap && current) current.rtpmap.set(rtpmap[1]!, rtpmap[2]!);
      const fmtp = /^fmtp:(\d+) (.+)$/.exec(value);
      if (fmtp && current) current.fmtp.set(fmtp[1]!, fmtp[2]!);
    }
  }
  return session;
}

function encodingOf(media: SdpMedia, pt: string): string | undefined {
  return (media.rtpmap.get(pt) ?? STATIC[pt])?.toLowerCase();
}

function addressLine(address: string): string {
  return address.includes(':') ? `IN IP6 ${address}` : `IN IP4 ${address}`;
}

function answerDirection(offered: SdpMedia['direction']): string {
  switch (offered) {
    case 'sendonly': return 'recvonly';
    case 'recvonly': return 'sendonly';
    case 'inactive': return 'inactive';
    default: return 'sendrecv';
  }
}

export interface LocalMedia {
  /** Address written in c= and o=. */
  address: string;
  /** RTP port written in m=. */
  port: number;
  /** o= session id (digits). */
  sessionId: string;
}

/**
 * An answer to `offerText` accepting PCMU/8000 (and telephone-event/8000 if offered) on the
 * first RTP/AVP audio stream; every other stream is declined with port 0, as RFC 3264 §6
 * requires (same number and order of m-lines). `undefined` when no audio stream can be taken.
 */
export function buildPcmuAnswer(offerText: string, local: LocalMedia): string | undefined {
  const offer = parseSdp(offerText);
  if (!offer || offer.media.length === 0) return undefined;
  let accepted = false;
  const mediaLines: string[] = [];
  for (const media of offer.media) {
    const pcmu = media.formats.find((pt) => encodingOf(media, pt) === 'pcmu/8000');
    if (!accepted && media.type === 'audio' && media.port !== 0 && /^RTP\/AVP$/i.test(media.proto) && pcmu !== undefined) {
      accepted = true;
      const dtmf = media.formats.find((pt) => encodingOf(media, pt) === 'telephone-event/8000');
      const formats = dtmf !== undefined ? [pcmu, dtmf] : [pcmu];
      mediaLines.push(`m=audio ${local.port} RTP/AVP ${formats.join(' ')}`);
      mediaLines.push(`a=rtpmap:${pcmu} PCMU/8000`);
      if (dtmf !== undefined) {
        mediaLines.push(`a=rtpmap:${dtmf} telephone-event/8000`);
        mediaLines.push(`a=fmtp:${dtmf} ${media.fmtp.get(dtmf) ?? '0-16'}`);
      }
      mediaLines.push('a=ptime:20');
      mediaLines.push(`a=${answerDirection(media.direction ?? offer.direction)}`);
    } else {
      mediaLines.push(`m=${media.type} 0 ${media.proto} ${media.formats.join(' ') || '0'}`);
    }
  }
  if (!accepted) return undefined;
  return sdpText(local, mediaLines);
}

/** A PCMU/8000 + telephone-event offer. */
export function buildPcmuOffer(local: LocalMedia): string {
  return sdpText(local, [
    `m=audio ${local.port} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendrecv',
  ]);
}

function sdpText(local: LocalMedia, mediaLines: string[]): string {
  return [
    'v=0',
    `o=voxledger ${local.sessionId} ${local.sessionId} ${addressLine(local.address)}`,
    's=voxledger',
    `c=${addressLine(local.address)}`,
    't=0 0',
    ...mediaLines,
    '',
  ].join('\r\n');
}
