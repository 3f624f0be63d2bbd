/**
 * Offer/answer (RFC 3264) for one audio stream, shared by every media engine:
 * - codecs: PCMU and PCMA at 8 kHz, in the configured preference order (`media.codecs`), and
 *   telephone-event/8000 (RFC 4733) when the peer has it;
 * - the first usable audio stream (RTP/AVP or RTP/AVPF, port ≠ 0) is taken; every other stream
 *   is declined with port 0 in its place (same number and order of m-lines, §6);
 * - directions answered per §6.1: sendonly → recvonly, recvonly → sendonly, inactive → inactive,
 *   sendrecv → sendrecv. The peer holds us when it offers sendonly or inactive, or the old
 *   RFC 2543 way with c=0.0.0.0;
 * - no usable audio codec (not SDP, no audio stream, only SRTP, only codecs we lack such as
 *   G.729) is VoxError VOX_MEDIA_NO_CODEC, naming what was offered (the SIP adapter answers 488).
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { AudioCodec, MediaDirection } from '../port.ts';
import { encodingOf, parseSdp, type SdpMedia, type SdpSession } from './parse.ts';
import { audioLines, DEFAULT_DTMF_PT, sdpText, STATIC_PT, type LocalMedia } from './write.ts';

export const SUPPORTED_CODECS: readonly AudioCodec[] = ['PCMU', 'PCMA'];

export interface NegotiatedAudio {
  codec: AudioCodec;
  payloadType: number;
  /** telephone-event/8000 payload type, when both sides have it. */
  dtmfPayloadType?: number;
  /** Where the peer receives RTP (its SDP). */
  remote: { address: string; port: number };
  /** Our direction (as in our answer; for an answer we read, the complement of the peer's). */
  direction: MediaDirection;
  /** The peer's direction as it wrote it. */
  peerDirection: MediaDirection;
  /** The peer put us on hold: it does not want our audio (sendonly, inactive, or c=0.0.0.0). */
  onHold: boolean;
}

const RTP_PROTO = /^RTP\/AVPF?$/i;

export function complementOf(d: MediaDirection): MediaDirection {
  return d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d;
}

function noCodec(message: string, details: Record<string, unknown> = {}): VoxError {
  return new VoxError(ErrorCodes.MEDIA_NO_CODEC, message, details);
}

function describeOffered(media: SdpMedia[]): string {
  const parts = media.map((m) => `${m.type} ${m.proto} [${m.formats.map((pt) => encodingOf(m, pt) ?? pt).join(', ')}]${m.port === 0 ? ' (port 0)' : ''}`);
  return parts.join('; ').slice(0, 300) || 'nothing';
}

function pickDtmf(media: SdpMedia, among: readonly string[] = media.formats): { pt: number; fmtp: string } | undefined {
  const pt = among.find((p) => encodingOf(media, p) === 'telephone-event/8000');
  return pt === undefined ? undefined : { pt: Number(pt), fmtp: media.fmtp.get(pt) ?? '0-16' };
}

function usableAudio(m: SdpMedia): boolean {
  return m.type === 'audio' && m.port !== 0 && RTP_PROTO.test(m.proto);
}

function parseOrFail(text: string, what: string): SdpSession {
  const sdp = parseSdp(text);
  if (!sdp) throw noCodec(`the ${what} is not SDP`);
  if (sdp.media.length === 0) throw noCodec(`the ${what} has no media stream`);
  return sdp;
}

function negotiated(session: SdpSession, media: SdpMedia, codec: AudioCodec, pt: number, dtmf: number | undefined, ourDirection: MediaDirection): NegotiatedAudio {
  const address = media.connection ?? session.connection ?? '0.0.0.0';
  const peerDirection = media.direction ?? session.direction ?? 'sendrecv';
  const out: NegotiatedAudio = {
    codec,
    payloadType: pt,
    remote: { address, port: media.port },
    direction: ourDirection,
    peerDirection,
    onHold: peerDirection === 'sendonly' || peerDirection === 'inactive' || address === '0.0.0.0' || address === '::',
  };
  if (dtmf !== undefined) out.dtmfPayloadType = dtmf;
  return out;
}

/**
 * Our answer to `offerText`: the first codec of `preference` the offer has, on its first usable
 * audio stream. Throws VOX_MEDIA_NO_CODEC when there is none.
 */
export function answerOffer(offerText: string, preference: readonly AudioCodec[], local: LocalMedia): { sdp: string; negotiated: NegotiatedAudio } {
  const offer = parseOrFail(offerText, 'SDP offer');
  let result: NegotiatedAudio | undefined;
  const mediaLines: string[] = [];
  for (const media of offer.media) {
    let chosen: { codec: AudioCodec; pt: string } | undefined;
    if (!result && usableAudio(media)) {
      for (const codec of preference) {
        const pt = media.formats.find((p) => encodingOf(media, p) === `${codec.toLowerCase()}/8000`);
        if (pt !== undefined) {
          chosen = { codec, pt };
          break;
        }
      }
    }
    if (chosen) {
      const dtmf = pickDtmf(media);
      const peer = media.direction ?? offer.direction ?? 'sendrecv';
      const direction = complementOf(peer);
      result = negotiated(offer, media, chosen.codec, Number(chosen.pt), dtmf?.pt, direction);
      mediaLines.push(...audioLines({ port: local.port, proto: media.proto, codecs: [{ codec: chosen.codec, pt: Number(chosen.pt) }], ...(dtmf ? { dtmf } : {}), direction }));
    } else {
      mediaLines.push(`m=${media.type} 0 ${media.proto} ${media.formats.join(' ') || '0'}`);
    }
  }
  if (!result) {
    throw noCodec(`no usable audio codec in the SDP offer (we take ${preference.join(', ')} over RTP/AVP); offered: ${describeOffered(offer.media)}`, { offered: describeOffered(offer.media) });
  }
  return { sdp: sdpText(local, mediaLines), negotiated: result };
}

/** Our offer: every codec of `preference` (static payload types) and telephone-event. */
export function createOffer(local: LocalMedia, preference: readonly AudioCodec[], direction: MediaDirection = 'sendrecv'): string {
  return sdpText(local, audioLines({
    port: local.port,
    proto: 'RTP/AVP',
    codecs: preference.map((codec) => ({ codec, pt: STATIC_PT[codec] })),
    dtmf: { pt: DEFAULT_DTMF_PT, fmtp: '0-16' },
    direction,
  }));
}

/**
 * Reads the peer's answer to our offer (`offered`: the codecs we offered). The answerer's first
 * listed codec among ours wins. Throws VOX_MEDIA_NO_CODEC when the answer takes none of them.
 */
export function readAnswer(answerText: string, offered: readonly AudioCodec[]): NegotiatedAudio {
  const answer = parseOrFail(answerText, 'SDP answer');
  const media = answer.media.find(usableAudio);
  if (!media) throw noCodec(`the SDP answer declines our audio stream; answered: ${describeOffered(answer.media)}`);
  for (const pt of media.formats) {
    const enc = encodingOf(media, pt);
    const codec = offered.find((c) => `${c.toLowerCase()}/8000` === enc);
    if (codec) {
      const peer = media.direction ?? answer.direction ?? 'sendrecv';
      return negotiated(answer, media, codec, Number(pt), pickDtmf(media)?.pt, complementOf(peer));
    }
  }
  throw noCodec(`the SDP answer has none of the codecs we offered (${offered.join(', ')}); answered: ${describeOffered(answer.media)}`);
}

/** Reads a codec preference list (config `media.codecs`): known names, no repeats, at least one. */
export function isAudioCodec(v: unknown): v is AudioCodec {
  return typeof v === 'string' && (SUPPORTED_CODECS as readonly string[]).includes(v);
}
