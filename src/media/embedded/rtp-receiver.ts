/**
 * The receiving half of an embedded endpoint. Per packet, without allocating: rate limit (a
 * flood on one port is dropped, never queued) → RTCP multiplexed on the RTP port (handed back)
 * → RTP header check → payload type (the codec, telephone-event, comfort noise; anything else
 * dropped) → source (the first valid packet latches the peer's real address — symmetric RTP for
 * NAT; later packets from anywhere else are dropped until `unlatch`, except that a packet from
 * exactly the address the peer's SDP gave moves the latch there once and for good, so a stray or
 * spoofed packet that arrived first cannot keep the real peer out) → sequence/jitter
 * statistics (an SSRC change starts a new source) → a DTMF digit, reported on arrival → the
 * jitter buffer (jitter-buffer.ts: sequence order, losses filled with silence, late packets
 * dropped; `jitterBufferMs` 0 turns it off: packets then play in arrival order and duplicates
 * and packets behind the highest sequence are skipped) → G.711 decoded into 20 ms frames (any
 * ptime in). Bad packets are counted by reason, never thrown.
 */
import { performance } from 'node:perf_hooks';
import { FRAME_SAMPLES, type AudioCodec, type AudioFrame } from '../port.ts';
import { DEFAULT_DTMF_PT, STATIC_PT, type NegotiatedAudio } from '../sdp/index.ts';
import { DtmfReceiver, type ReceivedDigit } from './dtmf.ts';
import { decodeG711 } from './g711.ts';
import { looksLikeRtcp, newRtpView, readRtp } from './rtp-header.ts';
import { JitterBuffer, type PlayoutSink } from './jitter-buffer.ts';
import { ReceiveStats, SEQ_DUPLICATE, SEQ_NEW } from './receive-stats.ts';
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
  /** The jitter buffer holds packets behind a gap: call `onTick` every 20 ms until it returns false. */
  needsTicks(): void;
}

export class RtpReceiver implements PlayoutSink {
  readonly stats = new ReceiveStats();
  readonly drops = { malformed: 0, unknownPayloadType: 0, foreignSource: 0, rateLimited: 0 };
  ssrcChanges = 0;
  /** The peer's real source once latched. */
  source: SendTarget | undefined;
  private readonly view = newRtpView();
  private readonly dtmf = new DtmfReceiver();
  private readonly frame: AudioFrame = { pcm: new Int16Array(FRAME_SAMPLES), at: 0, seq: 0, concealed: false };
  private frameFill = 0;
  private tokens: number;
  private lastRefill: number;
  /** Undefined when `jitterBufferMs` is 0. */
  readonly jitter: JitterBuffer | undefined;

  constructor(
    private readonly rateLimitPps: number,
    private readonly hooks: ReceiverHooks,
    jitterBufferMs = 0,
    /** Monotonic ms (rate limit, jitter buffer deadlines); injectable for simulated-clock tests. */
    private readonly mono: () => number = () => performance.now(),
  ) {
    this.tokens = rateLimitPps;
    this.lastRefill = mono();
    this.jitter = jitterBufferMs > 0 ? new JitterBuffer(jitterBufferMs, this) : undefined;
  }

  get dropped(): number {
    const d = this.drops;
    return d.malformed + d.unknownPayloadType + d.foreignSource + d.rateLimited;
  }

  /** Token bucket shared by the leg's RTP and RTCP ports. */
  admit(): boolean {
    const now = this.mono();
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
    this.flush();
  }

  /** Plays what the jitter buffer holds and starts play-out afresh (a new source, hold or resume). */
  flush(): void {
    this.jitter?.flush();
  }

  /** The pacer's 20 ms tick while the jitter buffer holds packets; false when it holds none. */
  onTick(): boolean {
    return this.jitter ? this.jitter.tick(this.mono()) : false;
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
      this.flush(); // the old source's held packets play first
      this.frameFill = 0;
      this.dtmf.reset();
      this.hooks.ssrcChanged(s.ssrc, v.ssrc, this.ssrcChanges <= SSRC_CHANGES_LOGGED);
    }
    const seen = s.onPacket(v.ssrc, v.sequence, v.timestamp, this.lastRefill * 8); // arrival: the time admit() read
    const jb = this.jitter;
    if (jb ? seen === SEQ_DUPLICATE : seen !== SEQ_NEW) {
      if (jb) jb.stats.duplicates++;
      return;
    }
    if (pt === dtmfPt) {
      const digit = this.dtmf.onPacket(buf, v.payloadOffset, v.payloadLength, v.timestamp);
      if (digit) this.hooks.digit(digit);
    }
    if (jb) {
      if (jb.push(v.sequence, buf, v.payloadOffset, v.payloadLength, codec, this.hooks.now(), this.lastRefill)) this.hooks.needsTicks();
    } else if (codec !== undefined) {
      this.packet(buf, v.payloadOffset, v.payloadLength, codec, v.sequence, this.hooks.now());
    }
  }

  /** PlayoutSink: a packet's turn (from the jitter buffer, or on arrival without one). */
  packet(buf: Buffer, offset: number, length: number, codec: AudioCodec | undefined, seq: number, at: number): void {
    if (codec === undefined || !this.hooks.wantsAudio()) return;
    const f = this.frame;
    while (length > 0) {
      const n = Math.min(length, FRAME_SAMPLES - this.frameFill);
      decodeG711(codec, buf, offset, n, f.pcm, this.frameFill);
      this.frameFill += n;
      offset += n;
      length -= n;
      if (this.frameFill === FRAME_SAMPLES) this.emit(seq, at);
    }
  }

  /** PlayoutSink: a lost packet's time, filled with silence. */
  conceal(samples: number, seq: number): void {
    if (samples <= 0 || !this.hooks.wantsAudio()) return;
    const f = this.frame;
    while (samples > 0) {
      f.concealed = true;
      const n = Math.min(samples, FRAME_SAMPLES - this.frameFill);
      f.pcm.fill(0, this.frameFill, this.frameFill + n);
      this.frameFill += n;
      samples -= n;
      if (this.frameFill === FRAME_SAMPLES) this.emit(seq, this.hooks.now());
    }
  }

  private emit(seq: number, at: number): void {
    const f = this.frame;
    this.frameFill = 0;
    f.at = at;
    f.seq = seq;
    this.hooks.frame(f);
    f.concealed = false;
  }
}
