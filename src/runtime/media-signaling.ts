/**
 * Calls get their media legs here: a signaling adapter wrapped with a media engine, so every
 * adapter (embedded, drachtio) negotiates through the same code.
 *
 * - Inbound: `answer` opens an endpoint on the INVITE's offer (an INVITE without SDP gets our
 *   offer in the 200 and the ACK's answer through `sessionAnswered`), records MediaNegotiated,
 *   then answers with the endpoint's SDP. No usable codec (VOX_MEDIA_NO_CODEC) or no free port
 *   (VOX_MEDIA_PORTS_EXHAUSTED) rejects, and the runtime records CallErrored with the SIP status
 *   the INVITE is then refused with (`refusalStatus`: 488, 503).
 * - Outbound: `dial` puts the endpoint's offer in the INVITE; the 2xx's answer is accepted in
 *   `answered` (recorded as MediaNegotiated, or CallErrored when it takes none of our codecs).
 * - In the dialog: re-INVITE/UPDATE offers reach the endpoint (`sessionOffered`: hold, resume, a
 *   new address), each change recorded as MediaNegotiated with trigger `update`.
 * - `release` frees the leg; the runtime calls it on every ending (and on handing a call to
 *   another node); `stop` releases them all.
 * Listeners of `onEndpoint` (the speech pipeline) hear of each leg when it opens and when it goes.
 */
import { ErrorCodes, VoxError } from '../domain/errors.ts';
import type { SipDialogState } from '../domain/sip-dialog.ts';
import type { CallEvent } from '../domain/events.ts';
import type { Logger } from '../log/logger.ts';
import type { MediaEndpoint, MediaEngine, MediaInfo } from '../media/port.ts';
import type { DialRequest, HangupOutcome, HangupRequest, ReferRequest, SignalingAdapter, SignalingEvents } from '../sip/port.ts';
import type { CallInput } from './bot-activity.ts';

export type MediaListener = (callId: string, endpoint: MediaEndpoint | undefined) => void;

/** The final SIP status an inbound INVITE is refused with when its media leg cannot be opened. */
export function refusalStatus(code: string): number | undefined {
  if (code === ErrorCodes.MEDIA_NO_CODEC) return 488;
  if (code === ErrorCodes.MEDIA_PORTS_EXHAUSTED || code === ErrorCodes.MEDIA_ENGINE) return 503;
  return undefined;
}

function negotiated(endpoint: MediaEndpoint, trigger: 'answer' | 'update'): CallInput | undefined {
  const i = endpoint.info;
  if (!i) return undefined;
  return {
    type: 'MediaNegotiated',
    data: {
      engine: i.engine, codec: i.codec, payloadType: i.payloadType, ...(i.dtmfPayloadType !== undefined ? { dtmfPayloadType: i.dtmfPayloadType } : {}),
      local: { ...i.local }, remote: { ...i.remote }, direction: i.direction, trigger, onHold: endpoint.onHold,
      ...(i.anchor ? { anchor: { ...i.anchor } } : {}),
    },
  };
}

export class MediaSignaling implements SignalingAdapter {
  readonly kind: string;
  adopt?: (callId: string, dialog: SipDialogState) => void;
  refer?: (callId: string, request: ReferRequest) => Promise<HangupOutcome>;
  private readonly endpoints = new Map<string, MediaEndpoint>();
  private readonly offers = new Map<string, string | undefined>();
  /** Calls whose endpoint is being opened, and those of them released meanwhile. */
  private readonly opening = new Set<string>();
  private readonly gone = new Set<string>();
  /** Inbound legs opened before the answer (bot first: `prepare`), not yet answered. */
  private readonly prepared = new Set<string>();
  private readonly listeners = new Set<MediaListener>();

  constructor(
    private readonly inner: SignalingAdapter,
    private readonly engine: MediaEngine,
    private readonly record: (callId: string, input: CallInput) => void,
    private readonly log: Logger,
  ) {
    this.kind = inner.kind;
    if (inner.adopt) this.adopt = (callId, dialog) => inner.adopt!(callId, dialog);
    if (inner.refer) this.refer = (callId, request) => inner.refer!(callId, request);
  }

  endpoint(callId: string): MediaEndpoint | undefined {
    return this.endpoints.get(callId);
  }

  onEndpoint(listener: MediaListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(callId: string, endpoint: MediaEndpoint | undefined): void {
    for (const l of this.listeners) {
      try {
        l(callId, endpoint);
      } catch (err) {
        this.log.error('media listener threw', { callId, err });
      }
    }
  }

  async start(events: SignalingEvents): Promise<void> {
    await this.engine.start();
    const wrapped: SignalingEvents = {
      offered: (offer) => {
        this.offers.set(offer.callId, offer.sdp);
        events.offered(offer);
      },
      answered: (callId, info) => {
        events.answered(callId, info);
        const ep = this.endpoints.get(callId);
        if (ep && !ep.info && info.sdp !== undefined && !this.offers.has(callId)) this.accept(callId, ep, info.sdp);
      },
      dialFailed: (callId, info) => events.dialFailed(callId, info),
      ringing: (callId, info) => events.ringing?.(callId, info),
      peerHungUp: (callId, info) => events.peerHungUp(callId, info),
      peerCancelled: (callId) => events.peerCancelled(callId),
      failed: (callId, info) => events.failed(callId, info),
      transferProgress: (callId, report) => events.transferProgress?.(callId, report),
      sessionOffered: (callId, sdp) => this.sessionOffered(callId, sdp),
      sessionAnswered: (callId, sdp) => {
        const ep = this.endpoints.get(callId);
        if (ep && !ep.info) this.accept(callId, ep, sdp);
      },
    };
    try {
      await this.inner.start(wrapped);
    } catch (err) {
      await this.engine.stop().catch(() => undefined);
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.inner.stop();
    for (const callId of [...this.endpoints.keys()]) await this.release(callId);
    await this.engine.stop();
  }

  /**
   * Bot first: opens the leg on the INVITE's offer before the bot is started, so an offer we
   * cannot take (488, 503) is refused without starting a conversation; `answer` then uses it.
   */
  async prepare(callId: string): Promise<void> {
    if (this.endpoints.has(callId) || this.prepared.has(callId)) return;
    const offer = this.offers.get(callId);
    const ep = await this.open(callId, () => (offer !== undefined ? this.engine.answer(callId, offer) : this.engine.offer(callId)));
    this.prepared.add(callId);
    const input = negotiated(ep, 'answer');
    if (input) this.record(callId, input);
  }

  /** Opens the leg on the INVITE's offer (or offers, for an INVITE without SDP), then answers with its SDP. */
  async answer(callId: string, options?: { sdp?: string }): Promise<void> {
    const prepared = this.endpoints.get(callId);
    if (options?.sdp === undefined && prepared && this.prepared.delete(callId)) return this.inner.answer(callId, { sdp: prepared.localSdp });
    if (options?.sdp !== undefined || this.endpoints.has(callId)) return this.inner.answer(callId, options);
    const offer = this.offers.get(callId);
    const ep = await this.open(callId, () => (offer !== undefined ? this.engine.answer(callId, offer) : this.engine.offer(callId)));
    const input = negotiated(ep, 'answer');
    if (input) this.record(callId, input);
    await this.inner.answer(callId, { sdp: ep.localSdp });
  }

  async dial(request: DialRequest): Promise<void> {
    if (request.sdp !== undefined) return this.inner.dial(request);
    const ep = await this.open(request.callId, () => this.engine.offer(request.callId));
    await this.inner.dial({ ...request, sdp: ep.localSdp });
  }

  private async open(callId: string, make: () => Promise<MediaEndpoint>): Promise<MediaEndpoint> {
    this.gone.delete(callId);
    this.opening.add(callId);
    let ep: MediaEndpoint;
    try {
      ep = await make();
    } finally {
      this.opening.delete(callId);
    }
    if (this.gone.delete(callId)) {
      await ep.release();
      throw new VoxError(ErrorCodes.CALL_ALREADY_ENDED, 'the call ended while its media leg was being opened', { callId });
    }
    this.endpoints.set(callId, ep);
    this.notify(callId, ep);
    return ep;
  }

  private accept(callId: string, ep: MediaEndpoint, sdp: string): void {
    ep.acceptAnswer(sdp).then(
      () => {
        const input = negotiated(ep, 'answer');
        if (input) this.record(callId, input);
      },
      (err: unknown) => {
        const e = err instanceof VoxError ? err : new VoxError(ErrorCodes.MEDIA_ENGINE, String(err));
        this.log.warn('the SDP answer could not be taken; ending the call', { callId, err: e });
        this.record(callId, { type: 'CallErrored', data: { code: e.code, message: e.message } });
      },
    );
  }

  private async sessionOffered(callId: string, sdp: string): Promise<string | undefined> {
    const ep = this.endpoints.get(callId);
    if (!ep) return undefined;
    const before = JSON.stringify([ep.info, ep.onHold]);
    const answer = await ep.update(sdp);
    const input = negotiated(ep, 'update');
    if (input && JSON.stringify([ep.info, ep.onHold]) !== before) this.record(callId, input);
    return answer;
  }

  /**
   * Takeover and restart: re-attaches the call's media from its last MediaNegotiated when the
   * engine can (`reattach`): a relay session (rtpengine `anchor`), or a leg of this engine's own
   * kind (embedded: the recorded port bound again). Failures are logged; the call goes on without
   * audio here. Resolves with whether the leg is up.
   */
  async resume(callId: string, events: readonly CallEvent[]): Promise<boolean> {
    if (!this.engine.reattach || this.endpoints.has(callId)) return false;
    const last = [...events].reverse().find((e) => e.type === 'MediaNegotiated');
    const d = last?.type === 'MediaNegotiated' ? last.data : undefined;
    if (!d || (!d.anchor && d.engine !== this.engine.kind)) return false;
    const info: MediaInfo = {
      engine: d.engine, codec: d.codec as MediaInfo['codec'], payloadType: d.payloadType, ...(d.dtmfPayloadType !== undefined ? { dtmfPayloadType: d.dtmfPayloadType } : {}),
      local: { ...d.local }, remote: { ...d.remote }, direction: d.direction, ...(d.anchor ? { anchor: { ...d.anchor } } : {}),
    };
    try {
      await this.open(callId, () => this.engine.reattach!(callId, info));
      this.log.info('media re-attached', { callId, engine: d.engine });
      return true;
    } catch (err) {
      this.log.error('media could not be re-attached; the call goes on without audio here', { callId, err });
      return false;
    }
  }

  /** Handover to another node: frees this node's part, leaving media anchored on a relay running (idempotent). */
  async handOver(callId: string): Promise<void> {
    const ep = this.endpoints.get(callId);
    if (!ep?.detach) return this.release(callId);
    this.offers.delete(callId);
    this.endpoints.delete(callId);
    await ep.detach().catch((err: unknown) => this.log.warn('media detach failed', { callId, err }));
    this.notify(callId, undefined);
  }

  /** Frees the call's media leg (idempotent). */
  async release(callId: string): Promise<void> {
    this.offers.delete(callId);
    const ep = this.endpoints.get(callId);
    if (!ep) {
      if (this.opening.has(callId)) this.gone.add(callId);
      return;
    }
    this.endpoints.delete(callId);
    this.prepared.delete(callId);
    this.gone.delete(callId);
    await ep.release().catch((err: unknown) => this.log.warn('media release failed', { callId, err }));
    this.notify(callId, undefined);
  }

  reject(callId: string, status: number, reasonPhrase?: string): Promise<void> {
    this.offers.delete(callId); // a call refused before it had an actor (no route) ends here
    return this.inner.reject(callId, status, reasonPhrase);
  }

  hangup(callId: string, request: HangupRequest): Promise<HangupOutcome> {
    return this.inner.hangup(callId, request);
  }

  cancel(callId: string): Promise<void> {
    return this.inner.cancel(callId);
  }

  address(): { host: string; port: number; transport: string } | undefined {
    return this.inner.address();
  }
}
