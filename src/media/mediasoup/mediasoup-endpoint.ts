/**
 * One call's media on the mediasoup engine: a peer-facing PlainTransport (comedia: the peer's
 * address is learned from its first packet, so NAT works) and an inner PlainTransport towards
 * voxledger's own RTP leg (see call-legs.ts). Audio, DTMF, hold and playback are the inner leg's.
 * Released on every ending: transports closed (their producers and consumers with them), the
 * inner leg released. Idempotent; never throws.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { Logger } from '../../log/logger.ts';
import type { AudioCodec, AudioFrame, DtmfEvent, MediaEndpoint, MediaInfo, MediaStats, Playback, PlayOptions } from '../port.ts';
import { answerOffer, readAnswer, type NegotiatedAudio } from '../sdp/index.ts';
import { closeQuietly, connectLegs, innerSdp, sessionIdOf, type CallLegs, type LegContext } from './call-legs.ts';
import { mediasoupError } from './media-errors.ts';
import { sdpSsrc, withRtcpPort } from './rtp-mapping.ts';
import type { PlainTransportLike } from './worker-api.ts';

export interface EndpointContext extends LegContext {
  codecs: readonly AudioCodec[];
  /** Address written in our SDP for the peer. */
  publicAddress: string;
  portRange: { rtcMinPort: number; rtcMaxPort: number };
  onReleased(endpoint: MediasoupEndpoint): void;
}

const NOOP = () => undefined;

export class MediasoupEndpoint implements MediaEndpoint {
  localSdp = '';
  info: MediaInfo | undefined;
  private legs: CallLegs | undefined;
  private released = false;
  private version = 1;
  private readonly log: Logger;

  constructor(
    readonly callId: string,
    private readonly transports: { peer: PlainTransportLike; inner: PlainTransportLike },
    private readonly ctx: EndpointContext,
  ) {
    this.log = ctx.log.child({ callId });
  }

  /** Inbound: answers the peer's offer and wires the legs. */
  async answerOffer(offerSdp: string): Promise<void> {
    const { sdp, negotiated } = answerOffer(offerSdp, this.ctx.codecs, this.local());
    await this.wire(negotiated, sdpSsrc(offerSdp));
    this.localSdp = withRtcpPort(sdp, this.transports.peer.rtcpTuple?.localPort);
  }

  /** Outbound: our offer, every configured codec. */
  makeOffer(sdp: string): void {
    this.localSdp = withRtcpPort(sdp, this.transports.peer.rtcpTuple?.localPort);
  }

  async acceptAnswer(answerSdp: string): Promise<void> {
    this.mustLive();
    if (this.legs) throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the call already has an answer', { callId: this.callId });
    await this.wire(readAnswer(answerSdp, this.ctx.codecs), sdpSsrc(answerSdp));
  }

  /** A re-INVITE/UPDATE offer: same codec (mediasoup does not transcode), direction to the inner leg, our audio paused while on hold. */
  async update(offerSdp: string): Promise<string> {
    this.mustLive();
    const legs = this.legs;
    if (!legs || !this.info) throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'a re-offer before the call has media', { callId: this.callId });
    this.version++;
    const { sdp, negotiated } = answerOffer(offerSdp, [this.info.codec], this.local());
    if (negotiated.payloadType !== this.info.payloadType) {
      throw new VoxError(ErrorCodes.MEDIA_NO_CODEC, `a re-offer changing the payload type (${this.info.payloadType} -> ${negotiated.payloadType}) is not supported on mediasoup`, { callId: this.callId });
    }
    legs.innerVersion++;
    await legs.inner.update(innerSdp(this.transports.inner, legs.innerLeg, negotiated.peerDirection, this.callId, legs.innerVersion));
    if (negotiated.onHold && !legs.toPeer.paused) await legs.toPeer.pause();
    if (!negotiated.onHold && legs.toPeer.paused) await legs.toPeer.resume();
    this.info = this.infoOf(negotiated);
    this.localSdp = withRtcpPort(sdp, this.transports.peer.rtcpTuple?.localPort);
    return this.localSdp;
  }

  get onHold(): boolean {
    return this.legs?.inner.onHold ?? false;
  }
  onAudio(listener: (frame: AudioFrame) => void): () => void {
    return this.legs?.inner.onAudio(listener) ?? NOOP;
  }
  onDtmf(listener: (event: DtmfEvent) => void): () => void {
    return this.legs?.inner.onDtmf(listener) ?? NOOP;
  }
  onHoldChange(listener: (onHold: boolean) => void): () => void {
    return this.legs?.inner.onHoldChange(listener) ?? NOOP;
  }
  play(pcm: Int16Array, options?: PlayOptions): Playback {
    if (!this.legs) return { id: options?.id ?? 'unplayed', done: Promise.resolve('cancelled'), cancel: NOOP };
    return this.legs.inner.play(pcm, options);
  }
  cancelPlayback(): void {
    this.legs?.inner.cancelPlayback();
  }
  async sendDtmf(digits: string): Promise<void> {
    await this.legs?.inner.sendDtmf(digits);
  }
  stats(): MediaStats {
    return this.legs?.inner.stats() ?? { packetsReceived: 0, packetsSent: 0, packetsLost: 0, jitterMs: 0, packetsDropped: 0 };
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.ctx.onReleased(this);
    closeQuietly(this.transports.peer);
    closeQuietly(this.transports.inner);
    await this.legs?.inner.release().catch((err: unknown) => this.log.warn('inner media leg release failed', { error: err }));
  }

  /** The port the peer sends RTP to (our SDP's m= port). */
  get peerPort(): number {
    return this.transports.peer.tuple.localPort;
  }

  get isReleased(): boolean {
    return this.released;
  }

  private async wire(peer: NegotiatedAudio, ssrc: number | undefined): Promise<void> {
    try {
      this.legs = await connectLegs(this.ctx, this.callId, this.transports, peer, ssrc);
    } catch (err) {
      throw mediasoupError(err, { callId: this.callId }, this.ctx.portRange);
    }
    if (this.released) {
      await this.legs.inner.release();
      throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the media endpoint was released', { callId: this.callId });
    }
    this.info = this.infoOf(peer);
  }

  private local() {
    return { address: this.ctx.publicAddress, port: this.transports.peer.tuple.localPort, sessionId: sessionIdOf(this.callId), version: String(this.version) };
  }

  private infoOf(n: NegotiatedAudio): MediaInfo {
    return {
      engine: 'mediasoup',
      codec: n.codec,
      payloadType: n.payloadType,
      ...(n.dtmfPayloadType !== undefined ? { dtmfPayloadType: n.dtmfPayloadType } : {}),
      local: { address: this.ctx.publicAddress, port: this.transports.peer.tuple.localPort },
      remote: n.remote,
      direction: n.direction,
    };
  }

  private mustLive(): void {
    if (this.released) throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the media endpoint was released', { callId: this.callId });
  }
}
