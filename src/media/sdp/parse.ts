/**
 * Reading SDP (RFC 4566): the parts offer/answer needs — media lines, connection addresses,
 * rtpmap/fmtp, direction attributes. Tolerant (unknown lines are skipped, CRLF or LF), bounded
 * (at most MAX_SDP_LINES lines and MAX_MEDIA m-lines), and it never throws: text that is not SDP
 * gives `undefined`.
 */
import type { MediaDirection } from '../port.ts';

export interface SdpMedia {
  type: string;
  port: number;
  proto: string;
  formats: string[];
  /** payload type → `encoding/clock[/channels]` from a=rtpmap. */
  rtpmap: Map<string, string>;
  fmtp: Map<string, string>;
  direction?: MediaDirection;
  connection?: string;
  ptime?: number;
}

export interface SdpSession {
  /** o= session id and version, when the o= line parses. */
  origin?: { sessionId: string; version: string };
  connection?: string;
  direction?: MediaDirection;
  media: SdpMedia[];
}

export const MAX_SDP_LINES = 400;
export const MAX_MEDIA = 16;

/** Static payload types we know (RFC 3551). */
const STATIC: Record<string, string> = { '0': 'pcmu/8000', '8': 'pcma/8000', '18': 'g729/8000', '9': 'g722/8000', '3': 'gsm/8000' };

/** Reads the parts of an SDP body we use; `undefined` when it is not SDP at all. */
export function parseSdp(text: string): SdpSession | undefined {
  if (typeof text !== 'string') return undefined;
  const lines = text.split(/\r?\n/, MAX_SDP_LINES + 1).map((l) => l.trim()).filter(Boolean);
  if (lines.length > MAX_SDP_LINES || !lines[0]?.startsWith('v=')) return undefined;
  const session: SdpSession = { media: [] };
  let current: SdpMedia | undefined;
  for (const line of lines) {
    if (line.indexOf('=') !== 1) continue;
    const key = line[0];
    const value = line.slice(2);
    if (key === 'm') {
      const m = /^(\S+) (\d{1,5})(?:\/\d+)? (\S+)(?: (.*))?$/.exec(value);
      if (!m || session.media.length >= MAX_MEDIA) return undefined;
      const port = Number(m[2]);
      if (port > 65535) return undefined;
      current = { type: m[1]!.toLowerCase(), port, proto: m[3]!, formats: (m[4] ?? '').split(' ').filter(Boolean), rtpmap: new Map(), fmtp: new Map() };
      session.media.push(current);
    } else if (key === 'o') {
      const o = /^\S+ (\S+) (\S+) /.exec(value);
      if (o) session.origin = { sessionId: o[1]!, version: o[2]! };
    } else if (key === 'c') {
      const addr = /^IN IP[46] ([^\s/]+)/.exec(value)?.[1];
      if (addr) {
        if (current) current.connection = addr;
        else session.connection = addr;
      }
    } else if (key === 'a') {
      const dir = /^(sendrecv|sendonly|recvonly|inactive)$/.exec(value)?.[1] as MediaDirection | undefined;
      if (dir) {
        if (current) current.direction = dir;
        else session.direction = dir;
        continue;
      }
      if (!current) continue;
      const rtpmap = /^rtpmap:(\d{1,3}) (\S+)$/.exec(value);
      if (rtpmap) current.rtpmap.set(rtpmap[1]!, rtpmap[2]!);
      const fmtp = /^fmtp:(\d{1,3}) (.+)$/.exec(value);
      if (fmtp) current.fmtp.set(fmtp[1]!, fmtp[2]!);
      const ptime = /^ptime:(\d{1,4})$/.exec(value);
      if (ptime) current.ptime = Number(ptime[1]);
    }
  }
  return session;
}

/** `encoding/clock[/channels]` of a payload type in a media section, lower case. */
export function encodingOf(media: SdpMedia, pt: string): string | undefined {
  return (media.rtpmap.get(pt) ?? STATIC[pt])?.toLowerCase();
}
