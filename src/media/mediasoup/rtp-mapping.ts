/**
 * SDP (what SIP speaks) <-> mediasoup RtpParameters / RtpCapabilities (what a router speaks),
 * for one G.711 audio stream with optional telephone-event. Pure functions.
 *
 * - The router is created with PCMU (PT 0), PCMA (PT 8) and telephone-event/8000 (PT 101, our
 *   DEFAULT_DTMF_PT) so consumers forward with the payload types our SDP uses.
 * - A Producer for audio coming from SIP gets one encoding; its SSRC when the SDP says it
 *   (`a=ssrc:`), none otherwise (mediasoup then takes the single stream whatever its SSRC).
 * - A Consumer is asked for exactly the negotiated codec (and telephone-event when negotiated).
 * - mediasoup does not transcode: the codec on every leg of a call is the one negotiated with the peer.
 */
import type { types } from 'mediasoup';
import type { AudioCodec, MediaDirection } from '../port.ts';
import { DEFAULT_DTMF_PT, STATIC_PT, sdpText, type NegotiatedAudio } from '../sdp/index.ts';

export const ROUTER_MEDIA_CODECS: types.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000, preferredPayloadType: STATIC_PT.PCMU, channels: 1 },
  { kind: 'audio', mimeType: 'audio/PCMA', clockRate: 8000, preferredPayloadType: STATIC_PT.PCMA, channels: 1 },
  { kind: 'audio', mimeType: 'audio/telephone-event', clockRate: 8000, preferredPayloadType: DEFAULT_DTMF_PT, channels: 1 },
];

/** What a leg negotiated: the codec with the payload types its side uses. */
export interface LegCodec {
  codec: AudioCodec;
  payloadType: number;
  dtmfPayloadType?: number;
}

export function legCodecOf(n: NegotiatedAudio): LegCodec {
  return { codec: n.codec, payloadType: n.payloadType, ...(n.dtmfPayloadType !== undefined ? { dtmfPayloadType: n.dtmfPayloadType } : {}) };
}

/** RtpParameters for a Producer of the audio a SIP side sends (payload types as that side writes them). */
export function producerRtpParameters(leg: LegCodec, ssrc?: number): types.RtpParameters {
  const codecs: types.RtpCodecParameters[] = [
    { mimeType: `audio/${leg.codec}`, payloadType: leg.payloadType, clockRate: 8000, channels: 1, parameters: {}, rtcpFeedback: [] },
  ];
  if (leg.dtmfPayloadType !== undefined) {
    codecs.push({ mimeType: 'audio/telephone-event', payloadType: leg.dtmfPayloadType, clockRate: 8000, channels: 1, parameters: {}, rtcpFeedback: [] });
  }
  return { codecs, headerExtensions: [], encodings: [ssrc !== undefined ? { ssrc } : {}], rtcp: { reducedSize: false } };
}

/** RtpCapabilities a Consumer is created with: the negotiated codec and, when negotiated, telephone-event. */
export function consumerRtpCapabilities(leg: Pick<LegCodec, 'codec' | 'dtmfPayloadType'>): types.RtpCapabilities {
  const codecs: types.RtpCodecCapability[] = [
    { kind: 'audio', mimeType: `audio/${leg.codec}`, clockRate: 8000, channels: 1, preferredPayloadType: STATIC_PT[leg.codec], rtcpFeedback: [] },
  ];
  if (leg.dtmfPayloadType !== undefined) codecs.push({ kind: 'audio', mimeType: 'audio/telephone-event', clockRate: 8000, channels: 1, preferredPayloadType: DEFAULT_DTMF_PT, rtcpFeedback: [] });
  return { codecs, headerExtensions: [] };
}

/** The codec and payload types a Consumer will send with (what the receiving side's SDP must say). */
export function legCodecOfConsumer(rtp: types.RtpParameters): LegCodec {
  const media = rtp.codecs.find((c) => /^audio\/(PCMU|PCMA)$/i.test(c.mimeType));
  if (!media) throw new Error(`consumer has no G.711 codec (${rtp.codecs.map((c) => c.mimeType).join(', ')})`);
  const dtmf = rtp.codecs.find((c) => c.mimeType.toLowerCase() === 'audio/telephone-event');
  return { codec: media.mimeType.slice(6).toUpperCase() as AudioCodec, payloadType: media.payloadType, ...(dtmf ? { dtmfPayloadType: dtmf.payloadType } : {}) };
}

/** The SSRC an SDP media section announces (`a=ssrc:<n> …`), if any. */
export function sdpSsrc(sdp: string): number | undefined {
  const m = /^a=ssrc:(\d{1,10})(?:\s|$)/m.exec(sdp);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n > 0 && n <= 0xffffffff ? n : undefined;
}

/**
 * An SDP describing a mediasoup PlainTransport's side of a leg (`address`, RTP `port`, RTCP
 * `rtcpPort` written as `a=rtcp:` since mediasoup's RTCP port is not RTP+1).
 */
export function transportSdp(t: { address: string; port: number; rtcpPort?: number; sessionId: string; version?: number }, leg: LegCodec, direction: MediaDirection): string {
  const pts = [leg.payloadType, ...(leg.dtmfPayloadType !== undefined ? [leg.dtmfPayloadType] : [])];
  const lines = [`m=audio ${t.port} RTP/AVP ${pts.join(' ')}`, `a=rtpmap:${leg.payloadType} ${leg.codec}/8000`];
  if (leg.dtmfPayloadType !== undefined) lines.push(`a=rtpmap:${leg.dtmfPayloadType} telephone-event/8000`, `a=fmtp:${leg.dtmfPayloadType} 0-16`);
  if (t.rtcpPort !== undefined) lines.push(`a=rtcp:${t.rtcpPort}`);
  lines.push('a=ptime:20', `a=${direction}`);
  return sdpText({ address: t.address, port: t.port, sessionId: t.sessionId, version: String(t.version ?? t.sessionId) }, lines);
}

/** Adds `a=rtcp:<port>` to the first audio section of an SDP written by src/media/sdp. */
export function withRtcpPort(sdp: string, rtcpPort: number | undefined): string {
  if (rtcpPort === undefined) return sdp;
  return sdp.replace(/(\r\nm=audio [^\r\n]*)/, `$1\r\na=rtcp:${rtcpPort}`);
}
