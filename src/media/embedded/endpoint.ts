/**
 * One call's audio leg on the embedded engine: an RTP/RTCP port pair, the negotiated codec,
 * symmetric RTP and everything the caller's packets go through on the way to the speech pipeline.
 *
 * Receiving, per packet and without allocating: rate limit (a flood on one port is dropped, never
 * queued) → RTCP multiplexed on the RTP port → RTP header check → payload type (codec,
 * telephone-event, comfort noise; anything else dropped) → source (the first valid packet
 * latches the peer's real address — symmetric RTP for NAT; later packets from anywhere else are
 * dropped until a re-INVITE moves the media) → sequence/jitter statistics (duplicates and late
 * packets counted, not played) → DTMF or G.711 decoding into 20 ms frames for the listeners.
 * While the caller holds us (sendonly/inactive/c=0.0.0.0) frames are not delivered and playback
 * waits (queued, not lost). Bad packets are counted in `stats().drops`, never thrown.
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../domain/clock.ts';
import { ErrorCodes, VoxError } from '../../domain/errors.ts';
import type { Logger } from '../../log/logger.ts';
import { FRAME_SAMPLES, type AudioCodec, type AudioFrame, type DtmfEvent, type MediaEndpoint, type MediaInfo, type MediaStats, type Playback, type PlayOptions } from '../port.ts';
import { answerOffer, createOffer, readAnswer, STATIC_PT, DEFAULT_DTMF_PT, type NegotiatedAudio } from '../sdp/index.ts';
import { DtmfReceiver, isDtmfDigit } from './dtmf.ts';
import { decodeG711 } from './g711.ts';
import type { Pacer, PacedSender } from './pacer.ts';
import type { PortPair } from './port-pool.ts';
import { buildReport, ntpNow, readReport } from './rtcp.ts';
import { newRtpView, readRtp, looksLikeRtcp } from './rtp-header.ts';
import { ReceiveStats } from './receive-stats.ts';
import { RtpSender, type SendTarget } from './rtp-sender.ts';

const COMFORT_NOISE_PT = 13;

export interface EndpointContext {
  pacer: Pacer;
  clock: Clock;
  log: Logger;
  codecs: readonly AudioCodec[];
  publicAddress: string;
  rateLimitPps: number;
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
  private readonly view = newRtpView();
  private readonly rx = new ReceiveStats();
  private readonly dtmfRx = new DtmfReceiver();
  private readonly frame: AudioFrame = { pcm: new Int16Array(FRAME_SAMPLES), at: 0, seq: 0 };
  private frameFill = 0;
  private latched: SendTarget | undefined;
  private rtcpLatched: SendTarget | undefined;
  private readonly drops = { malformed: 0, unknownPayloadType: 0, foreignSource: 0, rateLimited: 0 };
  private ssrcChanges = 0;
  private tokens: number;
  private lastRefill = performance.now();
  private lastSr: { middle: number; at: number } | undefined;
  private peerReport: MediaStats['peerReport'];
  private readonly audioListeners = new Set<Listener<AudioFrame>>();
  private readonly dtmfListeners = new Set<Listener<DtmfEvent>>();
  private readonly holdListeners = new Set<Listener<boolean>>();
  private released = false;
  private readonly log: Logger;

  constructor(
    readonly callId: string,
    private readonly pair: PortPair,
    private readonly ctx: EndpointContext,
  ) {
    this.log = ctx.log.child({ callId, rtpPort: pair.port });
    this.tokens = ctx.rateLimitPps;
    this.sender = new RtpSender(pair.rtp, ctx.pacer.currentTick());
    pair.rtp.on('message', (buf, rinfo) => this.onRtp(buf, rinfo.address, rinfo.port));
    pair.rtcp.on('message', (buf, rinfo) => this.onRtcp(buf, rinfo.address, rinfo.port));
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

  private local() {
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
      this.latched = undefined;
      this.rtcpLatched = undefined;
      this.log.info('media moved; latching again', { remote: `${n.remote.address}:${n.remote.port}` });
    }
    if (this.onHold !== wasOnHold) {
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
    if (this.latched) return this.latched;
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

  private admit(): boolean {
    const now = performance.now();
    const rate = this.ctx.rateLimitPps;
    this.tokens = Math.min(rate, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
    if (this.tokens < 1) {
      this.drops.rateLimited++;
      return false;
    }
    this.tokens -= 1;
    return true;
  }

  private onRtp(buf: Buffer, address: string, port: number): void {
    if (this.released || !this.admit()) return;
    if (looksLikeRtcp(buf)) return this.readRtcp(buf, address, port);
    const v = this.view;
    if (!readRtp(buf, v)) {
      this.drops.malformed++;
      return;
    }
    const n = this.negotiated;
    const pt = v.payloadType;
    const codec = n ? (pt === n.payloadType ? n.codec : undefined) : pt === STATIC_PT.PCMU ? 'PCMU' : pt === STATIC_PT.PCMA ? 'PCMA' : undefined;
    const dtmfPt = n ? n.dtmfPayloadType : DEFAULT_DTMF_PT;
    if (codec === undefined && pt !== dtmfPt && pt !== COMFORT_NOISE_PT) {
      this.drops.unknownPayloadType++;
      return;
    }
    if (this.latched) {
      if (this.latched.address !== address || this.latched.port !== port) {
        this.drops.foreignSource++;
        return;
      }
    } else {
      this.latched = { address, port };
      this.log.info('RTP latched to the peer\'s source', { source: `${address}:${port}` });
      this.wake();
    }
    if (this.rx.ssrc !== undefined && this.rx.ssrc !== v.ssrc) {
      this.ssrcChanges++;
      this.frameFill = 0;
      this.log.info('peer SSRC changed', { from: this.rx.ssrc, to: v.ssrc });
    }
    if (!this.rx.onPacket(v.ssrc, v.sequence, v.timestamp, this.lastRefill * 8)) return; // arrival: the time admit() read
    if (pt === dtmfPt) {
      const digit = this.dtmfRx.onPacket(buf, v.payloadOffset, v.payloadLength, v.timestamp);
      if (digit) {
        const event: DtmfEvent = { digit: digit.digit, durationMs: digit.durationMs, at: this.ctx.clock.now() };
        this.log.debug('DTMF received', { digit: digit.digit });
        for (const l of this.dtmfListeners) this.call(l, event);
      }
      return;
    }
    if (codec === undefined || this.audioListeners.size === 0 || !this.canReceive) return;
    this.deliver(codec, buf, v.payloadOffset, v.payloadLength, v.sequence);
  }

  /** Decodes a payload of any ptime into 20 ms frames. */
  private deliver(codec: AudioCodec, buf: Buffer, offset: number, length: number, seq: number): void {
    const f = this.frame;
    while (length > 0) {
      const n = Math.min(length, FRAME_SAMPLES - this.frameFill);
      decodeG711(codec, buf, offset, n, f.pcm, this.frameFill);
      this.frameFill += n;
      offset += n;
      length -= n;
      if (this.frameFill === FRAME_SAMPLES) {
        this.frameFill = 0;
        f.at = this.ctx.clock.now();
        f.seq = seq;
        for (const l of this.audioListeners) this.call(l, f); // no closure per frame
      }
    }
  }

  private onRtcp(buf: Buffer, address: string, port: number): void {
    if (this.released || !this.admit()) return;
    this.readRtcp(buf, address, port);
  }

  private readRtcp(buf: Buffer, address: string, port: number): void {
    const report = readReport(buf, this.sender.ssrc);
    if (!report) {
      this.drops.malformed++;
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
    const received = this.rx.ssrc === undefined ? undefined : {
      ssrc: this.rx.ssrc,
      fractionLost: this.rx.fractionLostSinceLastReport(),
      cumulativeLost: this.rx.lost,
      extendedMaxSeq: this.rx.extendedMaxSeq,
      jitter: this.rx.jitter,
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
    const d = this.drops;
    const out: MediaStats = {
      packetsReceived: this.rx.received,
      packetsSent: this.sender.packets,
      packetsLost: this.rx.lost,
      jitterMs: this.rx.jitter / 8,
      packetsDropped: d.malformed + d.unknownPayloadType + d.foreignSource + d.rateLimited,
      drops: { ...d },
      ssrcChanges: this.ssrcChanges,
    };
    if (this.peerReport) out.peerReport = this.peerReport;
    return out;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.ctx.pacer.delete(this);
    this.sender.stop();
    this.audioListeners.clear();
    this.dtmfListeners.clear();
    this.holdListeners.clear();
    this.log.info('media released', { ...this.stats(), drops: undefined, ...this.drops });
    this.ctx.onReleased(this);
  }

  get isReleased(): boolean {
    return this.released;
  }
}
