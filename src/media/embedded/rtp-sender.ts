/**
 * The sending half of an embedded endpoint: SSRC, sequence and timestamp (random starts, RFC
 * 3550 §5.1), the marker bit on the first packet of every talkspurt, and the packets the pacer
 * asks for each 20 ms — DTMF first, then the playback queue. Packets are written into a small
 * ring of preallocated buffers (a datagram may still be queued in the kernel when the next is
 * written), so sending audio allocates nothing.
 */
import { randomInt } from 'node:crypto';
import type dgram from 'node:dgram';
import { FRAME_SAMPLES, type AudioCodec } from '../port.ts';
import { DtmfSender, writeDtmfPayload, type DtmfPacket } from './dtmf.ts';
import { encodeG711 } from './g711.ts';
import { PlaybackQueue } from './playback-queue.ts';
import { writeRtpHeader } from './rtp-header.ts';

const RING = 4;

export interface SendTarget {
  address: string;
  port: number;
}

export class RtpSender {
  readonly ssrc = randomInt(1, 0xffffffff);
  private sequence = randomInt(0, 0x10000);
  private readonly timestampBase = randomInt(0, 0xffffffff);
  private readonly buffers: Buffer[] = [];
  private ring = 0;
  private readonly frame = new Int16Array(FRAME_SAMPLES);
  private readonly dtmfPacket: DtmfPacket = { event: 0, end: false, duration: 0, marker: false, startTick: 0, copies: 1 };
  private lastSentTick = Number.NEGATIVE_INFINITY;
  readonly playback = new PlaybackQueue();
  readonly dtmf = new DtmfSender();
  packets = 0;
  octets = 0;
  /** RTP timestamp of the last packet sent (for sender reports). */
  lastTimestamp = 0;

  constructor(
    private readonly socket: dgram.Socket,
    private readonly startTick: number,
  ) {
    for (let i = 0; i < RING; i++) this.buffers.push(Buffer.alloc(12 + FRAME_SAMPLES));
  }

  timestampAt(tick: number): number {
    return (this.timestampBase + (tick - this.startTick) * FRAME_SAMPLES) >>> 0;
  }

  get hasWork(): boolean {
    return this.playback.size > 0 || this.dtmf.busy;
  }

  /** Sends what is due at `tick` to `target`; returns whether more is queued. */
  tick(tick: number, target: SendTarget, codec: { codec: AudioCodec; pt: number }, dtmfPt: number | undefined): boolean {
    if (this.dtmf.busy && dtmfPt !== undefined) {
      if (this.dtmf.next(tick, this.dtmfPacket)) this.sendDtmf(tick, target, dtmfPt);
      return this.hasWork;
    }
    if (this.dtmf.busy) this.dtmf.cancelAll(); // no telephone-event negotiated (any more)
    const next = this.playback.nextFrame(this.frame);
    if (!next) return false;
    const buf = this.buffers[this.ring]!;
    this.ring = (this.ring + 1) % RING;
    const ts = this.timestampAt(tick);
    writeRtpHeader(buf, this.lastSentTick !== tick - 1, codec.pt, this.sequence, ts, this.ssrc);
    encodeG711(codec.codec, this.frame, FRAME_SAMPLES, buf, 12);
    this.put(buf, buf.length, target, tick, ts);
    PlaybackQueue.played(next.finished);
    return this.hasWork;
  }

  private sendDtmf(tick: number, target: SendTarget, pt: number): void {
    const p = this.dtmfPacket;
    const ts = this.timestampAt(p.startTick);
    for (let i = 0; i < p.copies; i++) {
      const buf = this.buffers[this.ring]!;
      this.ring = (this.ring + 1) % RING;
      // RFC 4733 §2.5.1.4: retransmitted end packets keep the sequence number incrementing.
      writeRtpHeader(buf, p.marker && i === 0, pt, this.sequence, ts, this.ssrc);
      writeDtmfPayload(buf, 12, p);
      this.put(buf, 16, target, tick, ts);
    }
  }

  private put(buf: Buffer, length: number, target: SendTarget, tick: number, ts: number): void {
    this.socket.send(buf, 0, length, target.port, target.address);
    this.sequence = (this.sequence + 1) & 0xffff;
    this.packets++;
    this.octets += length - 12;
    this.lastSentTick = tick;
    this.lastTimestamp = ts;
  }

  stop(): void {
    this.playback.cancelAll();
    this.dtmf.cancelAll();
  }
}
