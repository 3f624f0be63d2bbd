/**
 * One call through a mediasoup router, once the peer's codec is known:
 *
 *   peer ──RTP──▶ peer PlainTransport (comedia, rtcpMux off) ─ caller Producer ─▶ Consumer on the inner
 *   PlainTransport ──RTP──▶ inner leg (voxledger's RTP socket: decode for speech, play, DTMF)
 *   inner leg ──RTP──▶ inner PlainTransport ─ bot Producer ─▶ Consumer on the peer transport ──▶ peer
 *
 * `connectLegs` builds the producers, consumers and the inner leg for a negotiated peer codec;
 * on any failure it closes what it made and rethrows. The transports are the caller's to close.
 */
import type { Logger } from '../../log/logger.ts';
import type { MediaDirection, MediaEndpoint, MediaEngine } from '../port.ts';
import { DEFAULT_DTMF_PT, readAnswer, type NegotiatedAudio } from '../sdp/index.ts';
import { consumerRtpCapabilities, legCodecOf, legCodecOfConsumer, producerRtpParameters, transportSdp, type LegCodec } from './rtp-mapping.ts';
import type { ConsumerLike, PlainTransportLike, ProducerLike } from './worker-api.ts';

export interface CallLegs {
  callerProducer: ProducerLike;
  toInner: ConsumerLike;
  botProducer: ProducerLike;
  toPeer: ConsumerLike;
  inner: MediaEndpoint;
  /** The codec and payload types on the inner leg (as the consumer towards it sends them). */
  innerLeg: LegCodec;
  /** o= version of the SDP we give the inner leg. */
  innerVersion: number;
}

export interface LegContext {
  innerEngine: MediaEngine;
  log: Logger;
}

export async function connectLegs(
  ctx: LegContext,
  callId: string,
  transports: { peer: PlainTransportLike; inner: PlainTransportLike },
  peer: NegotiatedAudio,
  peerSsrc: number | undefined,
): Promise<CallLegs> {
  const made: { close(): void }[] = [];
  let inner: MediaEndpoint | undefined;
  try {
    const peerLeg = legCodecOf(peer);
    const callerProducer = await transports.peer.produce({ kind: 'audio', rtpParameters: producerRtpParameters(peerLeg, peerSsrc) });
    made.push(callerProducer);
    const toInner = await transports.inner.consume({ producerId: callerProducer.id, rtpCapabilities: consumerRtpCapabilities(peerLeg) });
    made.push(toInner);
    const innerLeg = legCodecOfConsumer(toInner.rtpParameters);
    const innerOffer = innerSdp(transports.inner, innerLeg, peer.peerDirection, callId, 1);
    inner = await ctx.innerEngine.answer(callId, innerOffer);
    const innerAnswer = readAnswer(inner.localSdp, [innerLeg.codec]);
    await transports.inner.connect({ ip: innerAnswer.remote.address, port: innerAnswer.remote.port, rtcpPort: innerAnswer.remote.port + 1 });
    const botProducer = await transports.inner.produce({ kind: 'audio', rtpParameters: producerRtpParameters(legCodecOf(innerAnswer)) });
    made.push(botProducer);
    // The consumer towards the peer sends the router's payload types: telephone-event only when the peer uses ours.
    const dtmfToPeer = peer.dtmfPayloadType === DEFAULT_DTMF_PT && innerAnswer.dtmfPayloadType !== undefined;
    if (peer.dtmfPayloadType !== undefined && !dtmfToPeer) {
      ctx.log.warn('DTMF towards the peer is not forwarded: it uses another telephone-event payload type than the router', { callId, peerDtmfPt: peer.dtmfPayloadType, routerDtmfPt: DEFAULT_DTMF_PT });
    }
    const toPeer = await transports.peer.consume({
      producerId: botProducer.id,
      rtpCapabilities: consumerRtpCapabilities({ codec: peer.codec, ...(dtmfToPeer ? { dtmfPayloadType: DEFAULT_DTMF_PT } : {}) }),
    });
    made.push(toPeer);
    if (peer.onHold) await toPeer.pause();
    return { callerProducer, toInner, botProducer, toPeer, inner, innerLeg, innerVersion: 1 };
  } catch (err) {
    for (const m of made.reverse()) closeQuietly(m);
    if (inner) await inner.release().catch(() => undefined);
    throw err;
  }
}

/** The SDP the inner leg gets: the inner transport's address with the peer's direction (hold reaches the inner leg). */
export function innerSdp(t: PlainTransportLike, leg: LegCodec, peerDirection: MediaDirection, callId: string, version: number): string {
  return transportSdp(
    { address: t.tuple.localAddress ?? t.tuple.localIp, port: t.tuple.localPort, ...(t.rtcpTuple ? { rtcpPort: t.rtcpTuple.localPort } : {}), sessionId: sessionIdOf(callId), version },
    leg,
    peerDirection,
  );
}

/** A numeric o= session id derived from the call id (stable across re-offers). */
export function sessionIdOf(callId: string): string {
  let h = 2166136261;
  for (let i = 0; i < callId.length; i++) h = Math.imul(h ^ callId.charCodeAt(i), 16777619) >>> 0;
  return String(h);
}

export function closeQuietly(x: { close(): void } | undefined): void {
  try {
    x?.close();
  } catch {
    /* already closed */
  }
}
