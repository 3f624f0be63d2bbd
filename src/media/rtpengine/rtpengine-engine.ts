/**
 * The rtpengine media engine (`media.engine: "rtpengine"`): Sipwise rtpengine anchors every
 * call's media; voxledger's own side of the audio is an inner leg on another engine (the embedded
 * one: a local RTP socket that decodes the caller's audio for the speech pipeline and plays the
 * bot's), which rtpengine forwards to and from. See rtpengine-endpoint.ts for one call.
 *
 * - Inbound: the peer's offer -> ng `offer` (from the peer's tag) -> rtpengine's rewrite is
 *   answered by the inner leg -> ng `answer` -> rtpengine's rewrite is our 200 OK's SDP.
 * - Outbound: the inner leg's offer -> ng `offer` (from our tag) -> the INVITE's SDP; the callee's
 *   answer -> ng `answer` -> the inner leg.
 * - An offer with no usable codec is refused (VOX_MEDIA_NO_CODEC) before rtpengine is asked.
 *   rtpengine unreachable, answering an error or garbage: VOX_MEDIA_ENGINE, nothing left behind
 *   (the inner leg is released and the half-made session deleted).
 * - Takeover (`reattach`): the new node replays the recorded negotiation with a new inner leg;
 *   ng `port latching` keeps the port the peer sends to, so the caller notices nothing.
 */
import { ErrorCodes, VoxError, isVoxError } from '../../domain/errors.ts';
import { silentLogger, type Logger } from '../../log/logger.ts';
import type { AudioCodec, MediaAnchor, MediaEndpoint, MediaEngine, MediaInfo } from '../port.ts';
import { answerOffer } from '../sdp/index.ts';
import { NgClient } from './ng-client.ts';
import { ngAnswer, ngDelete, ngOffer, ngPing, ngQuery } from './ng-commands.ts';
import { RtpengineEndpoint, audioAddress, ngExchange, type RtpengineContext } from './rtpengine-endpoint.ts';
import type { RtpengineConfig } from './rtpengine-config.ts';
import { CallEndpoints } from '../call-endpoints.ts';

export const PEER_TAG = 'peer';
export const OUR_TAG = 'voxledger';

export interface RtpengineEngineOptions {
  config: RtpengineConfig;
  /** voxledger's own audio leg, which rtpengine forwards to (the embedded engine). Started and stopped with this engine. */
  inner: MediaEngine;
  /** Codec preference, for refusing an unusable offer before rtpengine is asked. */
  codecs?: readonly AudioCodec[];
  log?: Logger;
  /** A client to use instead of one built from `config` (tests). */
  ng?: NgClient;
}

export class RtpengineMediaEngine implements MediaEngine {
  readonly kind = 'rtpengine' as const;
  readonly ng: NgClient;
  private readonly inner: MediaEngine;
  private readonly codecs: readonly AudioCodec[];
  private readonly log: Logger;
  private readonly ctx: RtpengineContext;
  private readonly endpoints: CallEndpoints<RtpengineEndpoint>;
  private running = false;

  constructor(options: RtpengineEngineOptions) {
    const c = options.config;
    this.ng = options.ng ?? new NgClient({ address: c.ngAddress, port: c.ngPort, timeoutMs: c.timeoutMs, retries: c.retries, ...(options.log ? { logger: options.log } : {}) });
    this.inner = options.inner;
    this.codecs = options.codecs ?? ['PCMU', 'PCMA'];
    this.log = (options.log ?? silentLogger).child({ engine: 'rtpengine' });
    this.endpoints = new CallEndpoints(this.log);
    this.ctx = {
      ng: this.ng,
      log: this.log,
      flags: [...new Set(['port latching', ...c.flags])],
      ...(c.interfaces ? { interfaces: c.interfaces } : {}),
      deleteDelaySec: c.deleteDelaySec,
      onReleased: (e) => this.endpoints.forget(e),
    };
  }

  get activeCount(): number {
    return this.endpoints.size;
  }

  /** Starts the inner engine and pings rtpengine; a relay that is down is logged, not fatal (calls fail one by one until it is back). */
  async start(): Promise<void> {
    await this.inner.start();
    this.running = true;
    try {
      await ngPing(this.ng);
      this.log.info('rtpengine reachable', { rtpengine: this.ng.target });
    } catch (err) {
      this.log.error('rtpengine does not answer ping; calls fail with VOX_MEDIA_ENGINE until it does', { rtpengine: this.ng.target, error: err });
    }
  }

  /** Releases every endpoint (deleting its rtpengine session), stops the inner engine, closes the ng socket. */
  async stop(): Promise<void> {
    this.running = false;
    await this.endpoints.releaseAll();
    await this.inner.stop();
    this.ng.close();
  }

  async answer(callId: string, offerSdp: string): Promise<MediaEndpoint> {
    this.mustRun(callId);
    // An offer we cannot take never reaches rtpengine (the SIP adapter answers 488).
    answerOffer(offerSdp, this.codecs, { address: '127.0.0.1', port: 9, sessionId: '0' });
    await this.dropExisting(callId);
    const anchor = this.newAnchor(callId, 'peer', offerSdp);
    return this.build(callId, anchor, () => this.peerOffered(callId, anchor, offerSdp));
  }

  async offer(callId: string): Promise<MediaEndpoint> {
    this.mustRun(callId);
    await this.dropExisting(callId);
    const anchor = this.newAnchor(callId, 'us', '');
    return this.build(callId, anchor, async () => {
      const inner = await this.inner.offer(callId);
      return withInner(inner, async () => ({ inner, peerFacing: await ngOffer(this.ng, this.exchange(anchor, 'us', inner.localSdp)) }));
    });
  }

  /**
   * Takeover: re-attach a new inner leg to the rtpengine session another node ran. The recorded
   * negotiation is replayed (the peer's last SDP from `info.anchor`); the peer's port is kept.
   */
  async reattach(callId: string, info: MediaInfo): Promise<MediaEndpoint> {
    this.mustRun(callId);
    const recorded = info.anchor;
    if (!recorded || recorded.engine !== 'rtpengine') {
      throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'cannot re-attach: the call\'s media was not anchored on rtpengine', { callId, engine: info.engine });
    }
    if (recorded.control !== this.ng.target) this.log.warn('re-attaching a session recorded on another rtpengine address', { callId, recorded: recorded.control, ours: this.ng.target });
    try {
      await ngQuery(this.ng, { callId: recorded.sessionId });
    } catch (err) {
      throw new VoxError(ErrorCodes.MEDIA_ENGINE, `cannot re-attach: rtpengine no longer holds the session (${(err as Error).message})`, { callId, sessionId: recorded.sessionId }, { cause: err });
    }
    await this.dropExisting(callId);
    const anchor: MediaAnchor = { ...recorded, control: this.ng.target };
    const endpoint = await this.build(callId, anchor, async () => {
      if (anchor.offerer === 'peer') return this.peerOffered(callId, anchor, anchor.peerSdp);
      const inner = await this.inner.offer(callId);
      return withInner(inner, async () => {
        const peerFacing = await ngOffer(this.ng, this.exchange(anchor, 'us', inner.localSdp));
        await inner.acceptAnswer(await ngAnswer(this.ng, this.exchange(anchor, 'us', anchor.peerSdp)));
        return { inner, peerFacing };
      });
    }, { keepSessionOnFailure: true });
    const was = info.local.port;
    const now = audioAddress(endpoint.localSdp)?.port;
    if (now !== undefined && now !== was) this.log.warn('rtpengine moved the peer-facing port on re-attach; the peer needs a re-INVITE', { callId, was, now });
    this.log.info('media re-attached to rtpengine session', { callId, sessionId: anchor.sessionId });
    return endpoint;
  }

  /** The endpoint of a call, if held here. */
  endpoint(callId: string): RtpengineEndpoint | undefined {
    return this.endpoints.get(callId);
  }

  private newAnchor(callId: string, offerer: MediaAnchor['offerer'], peerSdp: string): MediaAnchor {
    return { engine: 'rtpengine', control: this.ng.target, sessionId: callId, peerTag: PEER_TAG, ourTag: OUR_TAG, offerer, peerSdp };
  }

  /**
   * Runs `negotiate` and wraps its inner leg. On failure nothing is left: the inner leg is
   * released by `negotiate`, the half-made rtpengine session deleted (not on a failed re-attach:
   * the caller's media is still flowing through it).
   */
  private async build(
    callId: string,
    anchor: MediaAnchor,
    negotiate: () => Promise<{ inner: MediaEndpoint; peerFacing: string }>,
    options: { keepSessionOnFailure?: boolean } = {},
  ): Promise<RtpengineEndpoint> {
    let result: { inner: MediaEndpoint; peerFacing: string };
    try {
      result = await negotiate();
    } catch (err) {
      if (!options.keepSessionOnFailure) {
        await ngDelete(this.ng, { callId: anchor.sessionId, fromTag: anchor.offerer === 'peer' ? anchor.peerTag : anchor.ourTag, deleteDelaySec: this.ctx.deleteDelaySec })
          .catch((e: unknown) => this.log.debug('rtpengine delete after a failed negotiation', { callId, error: e }));
      }
      this.log.warn('rtpengine media setup failed', { callId, error: err });
      if (isVoxError(err)) throw err;
      throw new VoxError(ErrorCodes.MEDIA_ENGINE, `rtpengine media setup failed: ${(err as Error).message}`, { callId }, { cause: err });
    }
    const endpoint = new RtpengineEndpoint(callId, result.inner, this.ctx, anchor, result.peerFacing);
    if (!this.running) {
      await endpoint.release();
      throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the rtpengine media engine stopped', { callId });
    }
    this.endpoints.set(endpoint);
    return endpoint;
  }

  /** The peer offered `peerSdp`: ng offer -> the inner leg answers rtpengine's rewrite -> ng answer (our side to the peer). */
  private async peerOffered(callId: string, anchor: MediaAnchor, peerSdp: string): Promise<{ inner: MediaEndpoint; peerFacing: string }> {
    const toInner = await ngOffer(this.ng, this.exchange(anchor, 'peer', peerSdp));
    const inner = await this.inner.answer(callId, toInner);
    return withInner(inner, async () => ({ inner, peerFacing: await ngAnswer(this.ng, this.exchange(anchor, 'peer', inner.localSdp)) }));
  }

  private exchange(anchor: MediaAnchor, offerer: 'peer' | 'us', sdp: string) {
    return ngExchange(this.ctx, anchor, offerer, sdp);
  }

  private mustRun(callId: string): void {
    if (!this.running) throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the rtpengine media engine is not started', { callId });
  }

  private dropExisting(callId: string): Promise<void> {
    return this.endpoints.dropExisting(callId);
  }
}

/** Runs `step` with a freshly made inner leg; if it fails the leg is released before the error goes on. */
async function withInner<T>(inner: MediaEndpoint, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    await inner.release();
    throw err;
  }
}
