/**
 * One call's audio leg on the embedded engine: an RTP/RTCP port pair and the negotiated codec;
 * the caller's packets go through the receiver (rtp-receiver.ts), ours out through the sender
 * (rtp-sender.ts) on the engine's shared pacer. While the caller holds us (sendonly/inactive/
 * c=0.0.0.0) frames are not delivered and playback waits (queued, not lost). A re-INVITE moving
 * the media sends to the new address and latches again on its packets.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../domain/clock.ts';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { Logger } from '../../log/logger.ts';
import type { AudioCodec, AudioFrame, DtmfEvent, MediaEndpoint, MediaInfo, MediaStats, Playback, PlayOptions } from '../port.ts';
import { answerOffer, createOffer, readAnswer, type LocalMedia, type NegotiatedAudio } from '../sdp/index.ts';
import { isDtmfDigit } from './dtmf.ts';
import type { Pacer, PacedSender } from './pacer.ts';
import type { PortPair } from './port-pool.ts';
import { buildReport, ntpNow, readReport } from './rtcp.ts';
import { RtpReceiver } from './rtp-receiver.ts';
import { RtpSender, type SendTarget } from './rtp-sender.ts';

export interface EndpointContext {
  pacer: Pacer;
  clock: Clock;
  log: Logger;
  codecs: readonly AudioCodec[];
  publicAddress: string;
  rateLimitPps: number;
  /** `media.jitterBufferMs` (0: off). */
  jitterBufferMs: number;
  onReleased(endpoint: EmbeddedEndpoint): void;
}

interface Listener<T> {
  (value: T): void;
}

export class EmbeddedEndpoint implements MediaEndpoint, PacedSender {
  localSdp = '';
  info: MediaInfo | undefined;
  private negotiated: NegotiatedAudio | undefined;
  private readonly sessionId = String(Date.now());
  private version = 0;
  private readonly sender: RtpSender;
  private readonly receiver: RtpReceiver;
  private rtcpLatched: SendTarget | undefined;
  private lastSr: { middle: number; at: number } | undefined;
  private peerReport: MediaStats['peerReport'];
  private readonly audioListeners = new Set<Listener<AudioFrame>>();
  private readonly dtmfListeners = new Set<Listener<DtmfEvent>>();
  private readonly holdListeners = new Set<Listener<boolean>>();
  private released = false;
  private readonly log: Logger;
  /** Ticks the receiver's jitter buffer on the pacer while it holds packets behind a gap. */
  private readonly playout: PacedSender = { onTick: () => !this.released && this.receiver.onTick() };

  constructor(
    readonly callId: string,
    private readonly pair: PortPair,
    private readonly ctx: EndpointContext,
  ) {
    this.log = ctx.log.child({ callId, rtpPort: pair.port });
    this.sender = new RtpSender(pair.rtp, ctx.pacer.currentTick());
    this.receiver = new RtpReceiver(ctx.rateLimitPps, {
      negotiated: () => this.negotiated,
      wantsAudio: () => this.audioListeners.size > 0 && this.canReceive,
      latched: (source) => {
        this.log.info('RTP latched to the peer\'s source', { source: `${source.address}:${source.port}` });
        this.wake();
      },
      frame: (frame) => {
        for (const l of this.audioListeners) this.call(l, frame); // no closure per frame
      },
      digit: (d) => {
        const event: DtmfEvent = { digit: d.digit, durationMs: d.durationMs, at: ctx.clock.now() };
        this.log.debug('DTMF received', { digit: d.digit });
        for (const l of this.dtmfListeners) this.call(l, event);
      },
      rtcp: (buf, address, port) => this.readRtcp(buf, address, port),
      ssrcChanged: (from, to, logIt) => logIt && this.log.info('peer SSRC changed', { from, to }),
      now: () => ctx.clock.now(),
      needsTicks: () => ctx.pacer.add(this.playout),
    }, ctx.jitterBufferMs);
    pair.rtp.on('message', (buf, rinfo) => {
      if (!this.released) this.receiver.onPacket(buf, rinfo.address, rinfo.port);
    });
    pair.rtcp.on('message', (buf, rinfo) => {
      if (!this.released && this.receiver.admit()) this.readRtcp(buf, rinfo.address, rinfo.port);
    });
    const onError = (err: Error) => this.log.warn('RTP socket error', { err });
    pair.rtp.on('error', onError);
    pair.rtcp.on('error', onError);
  }

  get port(): number {
    return this.pair.port;
  }

  get portPair(): PortPair {
    return this.pair;
  }

  private local(): LocalMedia {
    return { address: this.ctx.publicAddress, port: this.pair.port, sessionId: this.sessionId, version: String(Number(this.sessionId) + this.version++) };
  }

  /** Inbound: answers `offerSdp` (throws VOX_MEDIA_NO_CODEC). */
  answerOffer(offerSdp: string): void {
    const { sdp, negotiated } = answerOffer(offerSdp, this.ctx.codecs, this.local());
    this.localSdp = sdp;
    this.apply(negotiated);
  }

  /** Outbound: our offer with every configured codec. */
  makeOffer(): void {
    this.localSdp = createOffer(this.local(), this.ctx.codecs);
  }

  /** Re-attach (reattach.ts): the leg as it was negotiated, our SDP rebuilt with this endpoint's session id. */
  restore(n: NegotiatedAudio, sdp: (local: LocalMedia) => string): void {
    this.localSdp = sdp(this.local());
    this.apply(n);
  }

  async acceptAnswer(answerSdp: string): Promise<void> {
    this.apply(readAnswer(answerSdp, this.ctx.codecs));
  }

  async update(offerSdp: string): Promise<string> {
    if (this.released) throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the media endpoint was released', { callId: this.callId });
    const { sdp, negotiated } = answerOffer(offerSdp, this.ctx.codecs, this.local());
    this.localSdp = sdp;
    this.apply(negotiated);
    return sdp;
  }

  private apply(n: NegotiatedAudio): void {
    const before = this.negotiated;
    const wasOnHold = this.onHold;
    this.negotiated = n;
    this.info = {
      engine: 'embedded',
      codec: n.codec,
      payloadType: n.payloadType,
      ...(n.dtmfPayloadType !== undefined ? { dtmfPayloadType: n.dtmfPayloadType } : {}),
      local: { address: this.ctx.publicAddress, port: this.pair.port },
      remote: n.remote,
      direction: n.direction,
    };
    if (before && (before.remote.address !== n.remote.address || before.remote.port !== n.remote.port) && !n.onHold) {
      // The media moved (re-INVITE): send to the new place and latch again on its packets.
      this.receiver.unlatch();
      this.rtcpLatched = undefined;
      this.log.info('media moved; latching again', { remote: `${n.remote.address}:${n.remote.port}` });
    }
    if (this.onHold !== wasOnHold) {
      this.receiver.flush(); // play-out starts afresh after hold and after resume
      this.log.info(this.onHold ? 'caller put the call on hold' : 'caller resumed the call', { peerDirection: n.peerDirection });
      for (const l of this.holdListeners) this.call(l, this.onHold);
    }
    this.wake();
  }

  get onHold(): boolean {
    return this.negotiated?.onHold ?? false;
  }

  private get canSend(): boolean {
    const n = this.negotiated;
    return !!n && !n.onHold && (n.direction === 'sendrecv' || n.direction === 'sendonly');
  }

  private get canReceive(): boolean {
    const n = this.negotiated;
    return !n || (!n.onHold && (n.direction === 'sendrecv' || n.direction === 'recvonly'));
  }

  private target(): SendTarget | undefined {
    if (this.receiver.source) return this.receiver.source;
    const r = this.negotiated?.remote;
    return r && r.port > 0 && r.address !== '0.0.0.0' && r.address !== '::' ? r : undefined;
  }

  // ------------------------------------------------------------------ sending

  onTick(tick: number): boolean {
    const target = this.target();
    const n = this.negotiated;
    if (this.released || !n || !target || !this.canSend) {
      this.sender.endTalkspurt();
      return false; // woken again by apply/latch
    }
    return this.sender.tick(tick, target, { codec: n.codec, pt: n.payloadType }, n.dtmfPayloadType);
  }

  private wake(): void {
    if (!this.released && this.sender.hasWork && this.canSend && this.target()) this.ctx.pacer.add(this);
  }

  play(pcm: Int16Array, options?: PlayOptions): Playback {
    if (this.released) {
      return { id: options?.id ?? 'released', done: Promise.resolve('cancelled'), cancel: () => undefined };
    }
    const playback = this.sender.playback.add(pcm, options?.id);
    this.wake();
    return playback;
  }

  cancelPlayback(): void {
    this.sender.playback.cancelAll();
  }

  async sendDtmf(digits: string): Promise<void> {
    if (this.released) throw new VoxError(ErrorCodes.MEDIA_ENGINE, 'the media endpoint was released', { callId: this.callId });
    if (!digits || ![...digits].every(isDtmfDigit)) throw new VoxError(ErrorCodes.MEDIA_ENGINE, `not DTMF digits: ${JSON.stringify(digits.slice(0, 32))} (0-9, *, #, A-D)`, { callId: this.callId });
    if (this.negotiated?.dtmfPayloadType === undefined) throw new VoxError(ErrorCodes.MEDIA_NO_CODEC, 'telephone-event was not negotiated with the peer; DTMF cannot be sent', { callId: this.callId });
    const done = this.sender.dtmf.enqueue(digits);
    this.wake();
    return done;
  }

  // ------------------------------------------------------------------ receiving

  private readRtcp(buf: Buffer, address: string, port: number): void {
    const report = readReport(buf, this.sender.ssrc);
    if (!report) {
      this.receiver.drops.malformed++;
      return;
    }
    this.rtcpLatched ??= { address, port };
    if (report.srNtpMiddle !== undefined) this.lastSr = { middle: report.srNtpMiddle, at: performance.now() };
    if (report.aboutUs) this.peerReport = { ...report.aboutUs, at: this.ctx.clock.now() };
  }

  /** Sends one RTCP compound packet (SR or RR + SDES); called by the engine every report interval. */
  sendReport(): void {
    const rtp = this.target();
    if (this.released || !rtp) return;
    const dest = this.rtcpLatched ?? { address: rtp.address, port: rtp.port + 1 };
    const s = this.sender;
    const rx = this.receiver.stats;
    const received = rx.ssrc === undefined ? undefined : {
      ssrc: rx.ssrc,
      fractionLost: rx.fractionLostSinceLastReport(),
      cumulativeLost: rx.lost,
      extendedMaxSeq: rx.extendedMaxSeq,
      jitter: rx.jitter,
      lsr: this.lastSr?.middle ?? 0,
      dlsr: this.lastSr ? Math.round(((performance.now() - this.lastSr.at) / 1000) * 65536) : 0,
    };
    const packet = buildReport({
      ssrc: s.ssrc,
      cname: `voxledger-${this.callId}`.slice(0, 64),
      ...(s.packets > 0 ? { sent: { ntp: ntpNow(Date.now()), rtpTimestamp: s.timestampAt(this.ctx.pacer.currentTick()), packets: s.packets, octets: s.octets } } : {}),
      ...(received ? { received } : {}),
    });
    this.pair.rtcp.send(packet, dest.port, dest.address);
  }

  // ------------------------------------------------------------------ listeners, stats, release

  private call<T>(listener: Listener<T>, value: T): void {
    try {
      listener(value);
    } catch (err) {
      this.log.error('media listener threw', { err });
    }
  }

  onAudio(listener: (frame: AudioFrame) => void): () => void {
    this.audioListeners.add(listener);
    return () => this.audioListeners.delete(listener);
  }

  onDtmf(listener: (event: DtmfEvent) => void): () => void {
    this.dtmfListeners.add(listener);
    return () => this.dtmfListeners.delete(listener);
  }

  onHoldChange(listener: (onHold: boolean) => void): () => void {
    this.holdListeners.add(listener);
    return () => this.holdListeners.delete(listener);
  }

  stats(): MediaStats {
    const r = this.receiver;
    const out: MediaStats = {
      packetsReceived: r.stats.received,
      packetsSent: this.sender.packets,
      packetsLost: r.stats.lost,
      jitterMs: r.stats.jitter / 8,
      packetsDropped: r.dropped,
      drops: { ...r.drops },
      ssrcChanges: r.ssrcChanges,
    };
    if (r.jitter) {
      const j = r.jitter.stats;
      out.jitterBuffer = { reordered: j.reordered, concealed: j.concealed, lateDropped: j.lateDropped, duplicates: j.duplicates };
    }
    if (this.peerReport) out.peerReport = this.peerReport;
    return out;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.ctx.pacer.delete(this);
    this.ctx.pacer.delete(this.playout);
    this.receiver.jitter?.reset();
    this.sender.stop();
    this.audioListeners.clear();
    this.dtmfListeners.clear();
    this.holdListeners.clear();
    this.log.info('media released', { ...this.stats(), drops: undefined, ...this.receiver.drops });
    this.ctx.onReleased(this);
  }

  get isReleased(): boolean {
    return this.released;
  }
}
