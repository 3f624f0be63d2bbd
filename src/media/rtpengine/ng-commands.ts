/**
 * The ng commands voxledger uses, typed (rtpengine docs/ng_control_protocol.md):
 * `ping`, `offer`, `answer`, `delete`, `query`, `play media`, `stop media`, `play DTMF`.
 * Replies are checked for what the caller needs (an `offer`/`answer` reply must carry `sdp`);
 * anything missing is a VoxError VOX_MEDIA_ENGINE like every other ng failure.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import { str, type NgClient } from './ng-client.ts';
import type { NgDict, NgValue } from './ng-codec.ts';

export interface SdpExchange {
  callId: string;
  fromTag: string;
  /** Required for `answer`, and for an `offer` inside an established dialog (re-INVITE). */
  toTag?: string;
  sdp: string;
  /** ng flags, e.g. `port latching`, `trust address`. */
  flags?: string[];
  /** `replace` list, e.g. `origin`, `session-connection`. */
  replace?: string[];
  /** Interface names [from side, to side] for a daemon with several interfaces (`direction`). */
  direction?: [string, string];
  /** Any other ng keys, passed as they are. */
  extra?: NgDict;
}

function exchangeDict(p: SdpExchange): NgDict {
  const d: NgDict = { 'call-id': p.callId, 'from-tag': p.fromTag, sdp: p.sdp };
  if (p.toTag !== undefined) d['to-tag'] = p.toTag;
  if (p.flags?.length) d.flags = p.flags;
  if (p.replace?.length) d.replace = p.replace;
  if (p.direction) d.direction = p.direction;
  return p.extra ? { ...p.extra, ...d } : d;
}

function sdpOf(reply: NgDict, command: string, callId: string): string {
  const sdp = str(reply.sdp);
  if (sdp === undefined || sdp.length === 0) throw new VoxError(ErrorCodes.MEDIA_ENGINE, `rtpengine ${command} failed: reply without sdp`, { command, callId, reason: 'reply without sdp' });
  return sdp;
}

export async function ngPing(c: NgClient): Promise<void> {
  await c.request('ping');
}

/** `offer`: returns the SDP rewritten for the other side (media anchored on rtpengine). */
export async function ngOffer(c: NgClient, p: SdpExchange): Promise<string> {
  return sdpOf(await c.request('offer', exchangeDict(p)), 'offer', p.callId);
}

/**
 * `answer`: returns the answer SDP rewritten for the offerer. `direction` is left out: rtpengine
 * keeps the interfaces the offer chose, and reads a `direction` on an answer from the answerer's
 * side, which would swap them.
 */
export async function ngAnswer(c: NgClient, p: SdpExchange & { toTag: string }): Promise<string> {
  const { direction: _ignored, ...rest } = p;
  return sdpOf(await c.request('answer', exchangeDict(rest)), 'answer', p.callId);
}

export interface DeleteParams {
  callId: string;
  fromTag: string;
  toTag?: string;
  /** Seconds rtpengine keeps the deleted call (0: at once; default: the daemon's --delete-delay). */
  deleteDelaySec?: number;
  /** Unknown call-id etc. as an error instead of a warning. */
  fatal?: boolean;
}

export async function ngDelete(c: NgClient, p: DeleteParams): Promise<void> {
  const d: NgDict = { 'call-id': p.callId, 'from-tag': p.fromTag };
  if (p.toTag !== undefined) d['to-tag'] = p.toTag;
  if (p.deleteDelaySec !== undefined) d['delete delay'] = p.deleteDelaySec;
  const flags = ['fast', ...(p.fatal ? ['fatal'] : [])];
  d.flags = flags;
  await c.request('delete', d);
}

export interface QueriedStream {
  localAddress: string | undefined;
  localPort: number | undefined;
  /** Where rtpengine sends this side's media (learned or from SDP). */
  endpoint: { address: string; port: number } | undefined;
  packets: number;
  rtcp: boolean;
}

export interface QueriedTag {
  tag: string;
  media: { type: string; protocol: string | undefined; streams: QueriedStream[] }[];
}

export interface QueryResult {
  created: number | undefined;
  tags: QueriedTag[];
  totals: { rtpPackets: number; rtcpPackets: number };
}

/** `query`: the call's tags and, per side, the ports rtpengine holds and where it sends. */
export async function ngQuery(c: NgClient, p: { callId: string; fromTag?: string }): Promise<QueryResult> {
  const d: NgDict = { 'call-id': p.callId };
  if (p.fromTag !== undefined) d['from-tag'] = p.fromTag;
  const r = await c.request('query', d);
  const tags: QueriedTag[] = [];
  for (const [key, v] of Object.entries(dictOr(r.tags))) {
    const t = dictOr(v);
    tags.push({
      tag: str(t.tag) ?? key,
      media: listOr(t.medias).map((m) => {
        const md = dictOr(m);
        return {
          type: str(md.type) ?? '',
          protocol: str(md.protocol),
          streams: listOr(md.streams).map((s) => {
            const sd = dictOr(s);
            const ep = dictOr(sd.endpoint);
            const address = str(ep.address);
            const port = num(ep.port);
            return {
              localAddress: str(sd['local address']),
              localPort: num(sd['local port']),
              endpoint: address !== undefined && port !== undefined ? { address, port } : undefined,
              packets: num(dictOr(sd.stats).packets) ?? 0,
              rtcp: listOr(sd.flags).includes('RTCP'),
            };
          }),
        };
      }),
    });
  }
  const totals = dictOr(r.totals);
  return {
    created: num(r.created),
    tags,
    totals: { rtpPackets: num(dictOr(totals.RTP).packets) ?? 0, rtcpPackets: num(dictOr(totals.RTCP).packets) ?? 0 },
  };
}

export interface PlayMediaParams {
  callId: string;
  /** The participant that hears it (rtpengine selects by tag). */
  tag: string;
  /** A file on the daemon's machine, or the media itself base64-encoded (short clips only: one UDP datagram). */
  source: { file: string } | { blob64: string };
  repeatTimes?: number;
}

/** `play media` (needs rtpengine built with transcoding): resolves with the duration in ms when rtpengine knows it. */
export async function ngPlayMedia(c: NgClient, p: PlayMediaParams): Promise<number | undefined> {
  const d: NgDict = { 'call-id': p.callId, 'from-tag': p.tag, ...p.source };
  if (p.repeatTimes !== undefined) d['repeat-times'] = p.repeatTimes;
  return num((await c.request('play media', d)).duration);
}

export async function ngStopMedia(c: NgClient, p: { callId: string; tag: string }): Promise<void> {
  await c.request('stop media', { 'call-id': p.callId, 'from-tag': p.tag });
}

/**
 * `play DTMF`: injects a DTMF event as if participant `tag` sent it (telephone-event when the
 * receiving side negotiated it, else a tone). The call must have been offered and answered with
 * the `inject DTMF` flag.
 */
export async function ngPlayDtmf(c: NgClient, p: { callId: string; tag: string; digit: string; durationMs?: number }): Promise<void> {
  const d: NgDict = { 'call-id': p.callId, 'from-tag': p.tag, code: p.digit };
  if (p.durationMs !== undefined) d.duration = p.durationMs;
  await c.request('play DTMF', d);
}

function dictOr(v: NgValue | undefined): NgDict {
  return v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : {};
}
function listOr(v: NgValue | undefined): NgValue[] {
  return Array.isArray(v) ? v : [];
}
function num(v: NgValue | undefined): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
