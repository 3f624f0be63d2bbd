/**
 * One call's media on rtpengine: two legs of one rtpengine session.
 *
 *   peer ──RTP──▶ rtpengine (peer-facing port, in our SDP to the peer) ──▶ inner leg (voxledger's
 *   own RTP socket: the embedded engine's endpoint, which decodes, plays, does DTMF)
 *
 * Every SDP exchange with the peer is relayed through rtpengine: the peer's SDP goes in as an
 * ng `offer`/`answer` from the peer's tag, rtpengine's rewrite goes to the inner leg, and the inner
 * leg's SDP goes back through rtpengine to the peer. Audio, DTMF, hold and playback are the inner
 * leg's. `info.anchor` records the session (call-id, tags, the peer's last SDP) so a node taking
 * the call over can re-attach a new inner leg while the caller's media keeps its rtpengine port.
 */
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { Logger } from '../../log/logger.ts';
import type { AudioFrame, DtmfEvent, MediaAnchor, MediaEndpoint, MediaInfo, MediaStats, Playback, PlayOptions } from '../port.ts';
import { parseSdp } from '../sdp/index.ts';
import type { NgClient } from './ng-client.ts';
import { ngAnswer, ngDelete, ngOffer, type SdpExchange } from './ng-commands.ts';

/** What an endpoint needs from its engine. */
export interface RtpengineContext {
  ng: NgClient;
  log: Logger;
  /** ng flags on every offer/answer (always includes `port latching`). */
  flags: string[];
  /** rtpengine interface names for the two sides (`direction`), when the daemon has several. */
  interfaces?: { peer: string; inner: string };
  /** Seconds rtpengine keeps a deleted session (`delete delay`). */
  deleteDelaySec: number;
  onReleased(endpoint: RtpengineEndpoint): void;
}

export class RtpengineEndpoint implements MediaEndpoint {
  localSdp: string;
  info: MediaInfo | undefined;
  private released = false;
  /** ng exchanges run one at a time (an update racing a release would resurrect the session). */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;

  constructor(
    readonly callId: string,
    private readonly inner: MediaEndpoint,
    private readonly ctx: RtpengineContext,
    private anchor: MediaAnchor,
    /** The SDP rtpengine wrote for the peer (our answer or our offer). */
    peerFacingSdp: string,
  ) {
    this.log = ctx.log.child({ callId, rtpengineCallId: anchor.sessionId });
    this.localSdp = peerFacingSdp;
    this.info = inner.info ? this.infoFrom(inner.info) : undefined;
  }

  get onHold(): boolean {
    return this.inner.onHold;
  }

  /** Outbound: the callee's answer goes through rtpengine, its rewrite to the inner leg. */
  acceptAnswer(answerSdp: string): Promise<void> {
    return this.serial(async () => {
      const toInner = await ngAnswer(this.ctx.ng, this.exchange('us', answerSdp));
      await this.inner.acceptAnswer(toInner);
      this.anchor = { ...this.anchor, peerSdp: answerSdp };
      this.info = this.inner.info ? this.infoFrom(this.inner.info) : undefined;
    });
  }

  /** A re-INVITE/UPDATE offer from the peer (new address, hold, resume). */
  update(offerSdp: string): Promise<string> {
    return this.serial(async () => {
      const toInner = await ngOffer(this.ctx.ng, this.exchange('peer', offerSdp));
      const innerAnswer = await this.inner.update(toInner);
      const toPeer = await ngAnswer(this.ctx.ng, this.exchange('peer', innerAnswer));
      this.anchor = { ...this.anchor, peerSdp: offerSdp };
      this.localSdp = toPeer;
      this.info = this.inner.info ? this.infoFrom(this.inner.info) : undefined;
      return toPeer;
    });
  }

  onAudio(listener: (frame: AudioFrame) => void): () => void {
    return this.inner.onAudio(listener);
  }
  onDtmf(listener: (event: DtmfEvent) => void): () => void {
    return this.inner.onDtmf(listener);
  }
  onHoldChange(listener: (onHold: boolean) => void): () => void {
    return this.inner.onHoldChange(listener);
  }
  play(pcm: Int16Array, options?: PlayOptions): Playback {
    return this.inner.play(pcm, options);
  }
  cancelPlayback(): void {
    this.inner.cancelPlayback();
  }
  sendDtmf(digits: string): Promise<void> {
    return this.inner.sendDtmf(digits);
  }
  stats(): MediaStats {
    return this.inner.stats();
  }

  /** Frees the inner leg, then deletes the rtpengine session. Idempotent; never throws. */
  async release(): Promise<void> {
    if (!(await this.freeInner())) return;
    try {
      await ngDelete(this.ctx.ng, { callId: this.anchor.sessionId, fromTag: this.offererTag(), deleteDelaySec: this.ctx.deleteDelaySec });
    } catch (err) {
      this.log.warn('rtpengine delete failed; rtpengine ends the session on its own media timeout', { error: err });
    }
  }

  /** Handover: frees the inner leg only; the rtpengine session (and the caller's media) stays for the next owner. */
  async detach(): Promise<void> {
    if (await this.freeInner()) this.log.info('media leg detached; the rtpengine session stays for the node taking the call over');
  }

  /** False when already released or detached. */
  private async freeInner(): Promise<boolean> {
    if (this.released) return false;
    this.released = true;
    this.ctx.onReleased(this);
    await this.inner.release().catch((err: unknown) => this.log.warn('inner media leg release failed', { error: err }));
    await this.chain.catch(() => undefined);
    return true;
  }

  get isReleased(): boolean {
    return this.released;
  }

  private exchange(offerer: 'peer' | 'us', sdp: string): SdpExchange & { toTag: string } {
    return ngExchange(this.ctx, this.anchor, offerer, sdp);
  }

  private offererTag(): string {
    return this.anchor.offerer === 'peer' ? this.anchor.peerTag : this.anchor.ourTag;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => {
      if (this.released) throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the media endpoint was released', { callId: this.callId });
      return fn();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The inner leg's codec and DTMF, with the addresses the peer sees and the anchor. */
  private infoFrom(inner: MediaInfo): MediaInfo {
    const ours = audioAddress(this.localSdp);
    const peer = audioAddress(this.anchor.peerSdp);
    return {
      ...inner,
      engine: 'rtpengine',
      local: ours ? { address: ours.address, port: ours.port } : inner.local,
      remote: peer ? { address: peer.address, port: peer.port } : inner.remote,
      direction: ours?.direction ?? inner.direction,
      anchor: this.anchor,
    };
  }
}

/** The ng offer/answer body for an exchange the `offerer` side started in the session `anchor`. */
export function ngExchange(ctx: Pick<RtpengineContext, 'flags' | 'interfaces'>, anchor: MediaAnchor, offerer: 'peer' | 'us', sdp: string): SdpExchange & { toTag: string } {
  const [fromTag, toTag] = offerer === 'peer' ? [anchor.peerTag, anchor.ourTag] : [anchor.ourTag, anchor.peerTag];
  const i = ctx.interfaces;
  const out: SdpExchange & { toTag: string } = { callId: anchor.sessionId, fromTag, toTag, sdp, flags: ctx.flags };
  if (i) out.direction = offerer === 'peer' ? [i.peer, i.inner] : [i.inner, i.peer];
  return out;
}

/** Address, port and direction of the first audio stream of an SDP body. */
export function audioAddress(sdp: string): { address: string; port: number; direction: MediaInfo['direction'] | undefined } | undefined {
  const s = parseSdp(sdp);
  const m = s?.media.find((x) => x.type === 'audio');
  if (!s || !m) return undefined;
  const address = m.connection ?? s.connection;
  if (!address) return undefined;
  return { address, port: m.port, direction: m.direction ?? s.direction };
}
