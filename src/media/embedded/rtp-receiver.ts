/**
 * The receiving half of an embedded endpoint. Per packet, without allocating: rate limit (a
 * flood on one port is dropped, never queued) → RTCP multiplexed on the RTP port (handed back)
 * → RTP header check → payload type (the codec, telephone-event, comfort noise; anything else
 * dropped) → source (the first valid packet latches the peer's real address — symmetric RTP for
 * NAT; later packets from anywhere else are dropped until `unlatch`, except that a packet from
 * exactly the address the peer's SDP gave moves the latch there once and for good, so a stray or
 * spoofed packet that arrived first cannot keep the real peer out) → sequence/jitter
 * statistics (duplicates and late packets counted, not played; an SSRC change starts a new
 * source) → a DTMF digit, or G.711 decoded into 20 ms frames (any ptime in). Bad packets are
 * counted by reason, never thrown.
 */
import { performance } from 'node:perf_hooks';
import { FRAME_SAMPLES, type AudioCodec, type AudioFrame } from '../port.ts';
import { DEFAULT_DTMF_PT, STATIC_PT, type NegotiatedAudio } from '../sdp/index.ts';
import { DtmfReceiver, type ReceivedDigit } from './dtmf.ts';
import { decodeG711 } from './g711.ts';
import { looksLikeRtcp, newRtpView, readRtp } from './rtp-header.ts';
import { ReceiveStats } from './receive-stats.ts';
import type { SendTarget } from './rtp-sender.ts';

const COMFORT_NOISE_PT = 13;
/** SSRC changes logged per leg (a peer cycling SSRCs must not flood the log). */
const SSRC_CHANGES_LOGGED = 5;

export interface ReceiverHooks {
  /** What was negotiated; undefined before an answer (our offer's static types and 101 are taken). */
  negotiated(): NegotiatedAudio | undefined;
  /** Whether audio frames are wanted now (listeners, not on hold). */
  wantsAudio(): boolean;
  latched(source: SendTarget): void;
  frame(frame: AudioFrame): void;
  digit(digit: ReceivedDigit): void;
  rtcp(buf: Buffer, address: string, port: number): void;
  ssrcChanged(from: number, to: number, logIt: boolean): void;
  /** The injected clock (frame arrival times). */
  now(): number;
}

export class RtpReceiver {
  readonly stats = new ReceiveStats();
  readonly drops = { malformed: 0, unknownPayloadType: 0, foreignSource: 0, rateLimited: 0 };
  ssrcChanges = 0;
  /** The peer's real source once latched. */
  source: SendTarget | undefined;
  private readonly view = newRtpView();
  private readonly dtmf = new DtmfReceiver();
  private readonly frame: AudioFrame = { pcm: new Int16Array(FRAME_SAMPLES), at: 0, seq: 0 };
  private frameFill = 0;
  private tokens: number;
  private lastRefill = performance.now();

  constructor(
    private readonly rateLimitPps: number,
    private readonly hooks: ReceiverHooks,
  ) {
    this.tokens = rateLimitPps;
  }

  get dropped(): number {
    const d = this.drops;
    return d.malformed + d.unknownPayloadType + d.foreignSource + d.rateLimited;
  }

  /** Token bucket shared by the leg's RTP and RTCP ports. */
  admit(): boolean {
    const now = performance.now();
    const rate = this.rateLimitPps;
    this.tokens = Math.min(rate, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
    if (this.tokens < 1) {
      this.drops.rateLimited++;
      return false;
    }
    this.tokens -= 1;
    return true;
  }

  /** The media moved (re-INVITE): latch again on the next valid packet. */
  unlatch(): void {
    this.source = undefined;
  }

  onPacket(buf: Buffer, address: string, port: number): void {
    if (!this.admit()) return;
    if (looksLikeRtcp(buf)) return this.hooks.rtcp(buf, address, port);
    const v = this.view;
    if (!readRtp(buf, v)) {
      this.drops.malformed++;
      return;
    }
    const n = this.hooks.negotiated();
    const pt = v.payloadType;
    const codec: AudioCodec | undefined = n ? (pt === n.payloadType ? n.codec : undefined) : pt === STATIC_PT.PCMU ? 'PCMU' : pt === STATIC_PT.PCMA ? 'PCMA' : undefined;
    const dtmfPt = n ? n.dtmfPayloadType : DEFAULT_DTMF_PT;
    if (codec === undefined && pt !== dtmfPt && pt !== COMFORT_NOISE_PT) {
      this.drops.unknownPayloadType++;
      return;
    }
    if (this.source) {
      if (this.source.address !== address || this.source.port !== port) {
        const declared = n?.remote;
        if (!declared || declared.address !== address || declared.port !== port) {
          this.drops.foreignSource++;
          return;
        }
        this.source = { address, port }; // the SDP's own address outranks whatever latched first
        this.hooks.latched(this.source);
      }
    } else {
      this.source = { address, port };
      this.hooks.latched(this.source);
    }
    const s = this.stats;
    if (s.ssrc !== undefined && s.ssrc !== v.ssrc) {
      this.ssrcChanges++;
      this.frameFill = 0;
      this.hooks.ssrcChanged(s.ssrc, v.ssrc, this.ssrcChanges <= SSRC_CHANGES_LOGGED);
    }
    if (!s.onPacket(v.ssrc, v.sequence, v.timestamp, this.lastRefill * 8)) return; // arrival: the time admit() read
    if (pt === dtmfPt) {
      const digit = this.dtmf.onPacket(buf, v.payloadOffset, v.payloadLength, v.timestamp);
      if (digit) this.hooks.digit(digit);
      return;
    }
    if (codec !== undefined && this.hooks.wantsAudio()) this.decode(codec, buf, v.payloadOffset, v.payloadLength, v.sequence);
  }

  private decode(codec: AudioCodec, buf: Buffer, offset: number, length: number, seq: number): void {
    const f = this.frame;
    while (length > 0) {
      const n = Math.min(length, FRAME_SAMPLES - this.frameFill);
      decodeG711(codec, buf, offset, n, f.pcm, this.frameFill);
      this.frameFill += n;
      offset += n;
      length -= n;
      if (this.frameFill === FRAME_SAMPLES) {
        this.frameFill = 0;
        f.at = this.hooks.now();
        f.seq = seq;
        this.hooks.frame(f);
      }
    }
  }
}
